//! Kulldorff's retrospective space-time scan statistic (SaTScan's "retrospective space-time
//! analysis", high rates only) on point locations × whole months: cylinders whose base is a
//! circle exactly like the purely spatial scan's ([`super::scan`]: centred on a location, grown by
//! nearest locations, equidistant ones together, up to a fraction of the total weight and within
//! an optional radius) and whose height is any run of whole months up to a fraction of the study
//! period. Three probability models: Poisson (Kulldorff et al. 1998, 2001), Bernoulli, and the
//! space-time permutation model (Kulldorff et al. 2005, cases only). The most likely cluster and
//! secondary clusters sharing no location with one already reported, with Monte Carlo p-values
//! from seeded replications (each its own ChaCha8 stream, so independent of the thread count).
//!
//! Speed: for each centre the base grows one distance group at a time, keeping per-month case
//! counts and denominators; a step that adds no case inside an interval cannot improve that
//! interval (its expected count grows, its observed count does not), so only intervals containing
//! a month where cases were added are evaluated. The base grows by blocks; before a block, an
//! interval is kept only if an upper bound (its cases after the whole block against its expected
//! count now) can beat the best LLR so far, and a block with none kept is added at once. The exact
//! LLR is computed only when the Pearson χ² bound (KL ≤ χ² divergence) can beat the best. A
//! replication's maximum is sought only from just under the smallest reported LLR: below it, it
//! changes no p-value. Definitions: `docs/ANALYSIS.md`.

use std::collections::HashSet;

use geo::{Distance, Haversine, Point};
use rand::RngExt;
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::{Field, HotspotError, check_lon_lat, check_non_negative, rng_stream};

/// The probability model of the space-time scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StModel {
    /// Cases ~ Poisson(expected ∝ person-months at risk).
    Poisson,
    /// Trials and successes per location and month (dogs tested and positive, animals inspected
    /// and infected).
    Bernoulli,
    /// Cases only: expected counts from the location and month margins (Kulldorff 2005), so a
    /// cluster is an interaction of space and time, whatever the populations at risk.
    Permutation,
}

impl StModel {
    /// The model's name in URLs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            StModel::Poisson => "poisson",
            StModel::Bernoulli => "bernoulli",
            StModel::Permutation => "space_time_permutation",
        }
    }

    /// The model named `s` (as [`StModel::as_str`] writes it), `None` for another name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "poisson" => Some(StModel::Poisson),
            "bernoulli" => Some(StModel::Bernoulli),
            "space_time_permutation" => Some(StModel::Permutation),
            _ => None,
        }
    }
}

/// The input: `n` locations × `months` whole months.
#[derive(Debug, Clone, PartialEq)]
pub struct StData {
    /// One id per location, unique.
    pub ids: Vec<String>,
    /// Longitudes, degrees (WGS84).
    pub lon: Vec<f64>,
    /// Latitudes, degrees (WGS84).
    pub lat: Vec<f64>,
    /// T, the number of months of the study period (≥ 1).
    pub months: usize,
    /// n × months, location-major: cases[i * months + t]; whole numbers ≥ 0.
    pub cases: Vec<f64>,
    /// n × months: Poisson population (person-months at risk), Bernoulli trials (whole numbers
    /// ≥ the cases); ignored by Permutation (may be empty; when given, only reported).
    pub population: Vec<f64>,
}

/// Parameters of [`scan`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StOptions {
    pub model: StModel,
    /// The largest base, as a fraction in (0, 1] of the total weight: the mean population
    /// (Poisson), the trials (Bernoulli) or the cases (Permutation).
    pub max_population_fraction: f64,
    /// The largest base's radius, km; `None`: no limit but the weight's.
    pub max_radius_km: Option<f64>,
    /// The longest interval, as a fraction in (0, 1] of the months (at least one month).
    pub max_time_fraction: f64,
    /// R, the Monte Carlo replications (0: no p-values).
    pub replications: u32,
    pub seed: u64,
    /// How many clusters to report at most (the most likely one and secondary ones).
    pub max_clusters: usize,
}

impl Default for StOptions {
    fn default() -> Self {
        Self {
            model: StModel::Poisson,
            max_population_fraction: 0.5,
            max_radius_km: None,
            max_time_fraction: 0.5,
            replications: 999,
            seed: 2024,
            max_clusters: 5,
        }
    }
}

/// One reported space-time cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct StCluster {
    /// 1 for the most likely cluster, then 2, 3… for secondary ones.
    pub rank: usize,
    /// Index of the centre location in the input.
    pub center: usize,
    /// Haversine distance from the centre to the farthest member, km.
    pub radius_km: f64,
    /// Indices of the member locations, nearest first.
    pub members: Vec<usize>,
    /// First month of the cluster (index into the months, inclusive).
    pub start: usize,
    /// Last month of the cluster (inclusive).
    pub end: usize,
    /// Person-months (Poisson) or trials (Bernoulli) in the cylinder; for Permutation the sum
    /// of `population` over the cylinder when given, else 0.
    pub population: f64,
    pub observed: f64,
    /// μ: C·P(cylinder)/P (Poisson), C·n(cylinder)/N (Bernoulli), Σ C_z·C_d/C (Permutation).
    pub expected: f64,
    /// (c / μ) / ((C − c) / (C − μ)); infinite when every case is inside.
    pub relative_risk: f64,
    pub llr: f64,
    /// rank / (R + 1) of the LLR among the replicate maxima; `None` when R = 0.
    pub p_value: Option<f64>,
}

/// Stream numbers of the space-time replications, apart from the spatial scan's
/// (`SCAN_STREAMS` = 2⁶³), the global Moran's (2⁶²) and the per-cell streams.
const SPACE_TIME_STREAMS: u64 = (1 << 63) | (1 << 62);

/// Marks the last location of a group of equidistant locations in a base order.
const GROUP_END: u32 = 1 << 31;

/// Relative slack on the upper bounds, so that rounding never prunes a better cylinder.
const BOUND_SLACK: f64 = 1e-9;

/// For each centre, the locations by increasing distance (ties by index) up to the largest
/// base, as a CSR index; the last location of each distance group carries [`GROUP_END`].
struct Windows {
    offsets: Vec<usize>,
    order: Vec<u32>,
}

impl Windows {
    fn build(
        points: &[Point<f64>],
        weights: &[f64],
        limit: f64,
        max_radius_m: Option<f64>,
    ) -> Self {
        let n = points.len();
        let lists: Vec<Vec<u32>> = (0..n)
            .into_par_iter()
            .map(|c| {
                let mut by_distance: Vec<(f64, u32)> = points
                    .iter()
                    .enumerate()
                    .map(|(j, p)| (Haversine.distance(points[c], *p), j as u32))
                    .collect();
                by_distance
                    .sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
                let mut list = Vec::new();
                let mut cum = 0.0;
                let mut start = 0;
                while start < n {
                    let d = by_distance[start].0;
                    let end = by_distance[start..]
                        .iter()
                        .position(|e| e.0 != d)
                        .map_or(n, |p| start + p);
                    let group = &by_distance[start..end];
                    let group_w: f64 = group.iter().map(|e| weights[e.1 as usize]).sum();
                    if cum + group_w > limit || max_radius_m.is_some_and(|r| d > r) {
                        break;
                    }
                    cum += group_w;
                    list.extend(group.iter().map(|e| e.1));
                    if let Some(last) = list.last_mut() {
                        *last |= GROUP_END;
                    }
                    start = end;
                }
                list
            })
            .collect();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut order = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        for l in lists {
            order.extend_from_slice(&l);
            offsets.push(order.len());
        }
        Self { offsets, order }
    }

    fn of(&self, centre: usize) -> &[u32] {
        &self.order[self.offsets[centre]..self.offsets[centre + 1]]
    }
}

/// x ln(x / y), 0 when x = 0.
fn xlog(x: f64, y: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x * (x / y).ln() }
}

/// The best cylinder of one centre: its LLR, number of locations and interval.
#[derive(Debug, Clone, Copy)]
struct Best {
    llr: f64,
    len: usize,
    start: usize,
    end: usize,
}

/// Per-thread work buffers of [`Scanner::best_of`] (one allocation per replication, not per
/// centre): per-month sums of the base (`cz`, `dz`) and of the next block (`bc`, `bd`), and
/// prefix sums over the months (`cp`, `dp`, `bp`, `ap`).
struct Scratch {
    cz: Vec<f64>,
    dz: Vec<f64>,
    bc: Vec<f64>,
    bd: Vec<f64>,
    added: Vec<bool>,
    cp: Vec<f64>,
    dp: Vec<f64>,
    bp: Vec<f64>,
    ap: Vec<u32>,
    alive: Vec<u32>,
    flags: Vec<bool>,
}

impl Scratch {
    fn new(months: usize) -> Self {
        Self {
            cz: vec![0.0; months],
            dz: vec![0.0; months],
            bc: vec![0.0; months],
            bd: vec![0.0; months],
            added: vec![false; months],
            cp: vec![0.0; months + 1],
            dp: vec![0.0; months + 1],
            bp: vec![0.0; months + 1],
            ap: vec![0; months + 1],
            alive: Vec::new(),
            flags: vec![false; months],
        }
    }
}

/// Prefix sums of `v` into `p` (p[0] = 0).
fn prefix(v: &[f64], p: &mut [f64]) {
    for (t, x) in v.iter().enumerate() {
        p[t + 1] = p[t] + x;
    }
}

struct Scanner<'a> {
    model: StModel,
    months: usize,
    windows: &'a Windows,
    /// n × months: population (Poisson) or trials (Bernoulli); unused by Permutation.
    denom: &'a [f64],
    /// C_i, the cases of each location (Permutation).
    loc_cases: &'a [f64],
    /// Prefix sums of C_t, the cases of each month (Permutation), months + 1 long.
    month_prefix: &'a [f64],
    /// Every interval (start, end) of at most the longest length, by start then end.
    intervals: &'a [(u32, u32)],
    /// The index in `intervals` of the first interval starting at each month.
    interval_start: &'a [u32],
    /// The longest interval, months.
    max_len: usize,
    total_c: f64,
    total_n: f64,
    /// C / N (Poisson) and 1 / C (Permutation), for the bounds.
    c_per_n: f64,
    inv_c: f64,
}

impl Scanner<'_> {
    /// The model's second argument of the cylinder with `c_loc` location cases (Permutation)
    /// and denominator prefix `dp` over months t1..=t2: μ for Poisson and Permutation, the trials
    /// n for Bernoulli.
    fn x_of(&self, dp: &[f64], c_loc: f64, t1: usize, t2: usize) -> f64 {
        match self.model {
            StModel::Poisson => self.total_c * (dp[t2 + 1] - dp[t1]) / self.total_n,
            StModel::Bernoulli => dp[t2 + 1] - dp[t1],
            StModel::Permutation => {
                c_loc * (self.month_prefix[t2 + 1] - self.month_prefix[t1]) / self.total_c
            }
        }
    }

    /// Whether `c` cases against `x` (μ or n) is a high rate, the only ones scanned for.
    fn high(&self, c: f64, x: f64) -> bool {
        match self.model {
            StModel::Bernoulli => c * (self.total_n - x) > (self.total_c - c) * x,
            _ => c > x,
        }
    }

    /// The exact LLR of a high-rate cylinder.
    fn llr(&self, c: f64, x: f64) -> f64 {
        let (tc, tn) = (self.total_c, self.total_n);
        match self.model {
            StModel::Bernoulli => {
                let (out_c, out_n) = (tc - c, tn - x);
                xlog(c, x) + xlog(x - c, x) + xlog(out_c, out_n) + xlog(out_n - out_c, out_n)
                    - xlog(tc, tn)
                    - xlog(tn - tc, tn)
            }
            _ => xlog(c, x) + xlog(tc - c, tc - x),
        }
    }

    /// The model's second argument like [`Scanner::x_of`], by multiplications only (for the
    /// bounds, which allow for rounding).
    fn x_approx(&self, dp: &[f64], c_loc: f64, t1: usize, t2: usize) -> f64 {
        match self.model {
            StModel::Poisson => self.c_per_n * (dp[t2 + 1] - dp[t1]),
            StModel::Bernoulli => dp[t2 + 1] - dp[t1],
            StModel::Permutation => {
                c_loc * (self.month_prefix[t2 + 1] - self.month_prefix[t1]) * self.inv_c
            }
        }
    }

    /// Whether a cylinder with `c` cases against `x` (μ or n) might have an LLR above `b`: its
    /// Pearson χ² against the rest, an upper bound of the LLR (KL divergence ≤ χ² divergence),
    /// is above `b` (compared without divisions, with a margin for rounding).
    fn could_beat(&self, c: f64, x: f64, b: f64) -> bool {
        let (tc, tn) = (self.total_c, self.total_n);
        let (num, den) = match self.model {
            StModel::Bernoulli => {
                let d = c * tn - x * tc;
                (tn * d * d, x * (tn - x) * tc * (tn - tc))
            }
            _ => {
                let d = c - x;
                (d * d * tc, x * (tc - x))
            }
        };
        num * (1.0 + BOUND_SLACK) + BOUND_SLACK * den.abs() + BOUND_SLACK > b * den
    }

    /// Whether some larger base might give the interval an LLR above `b`: at most `c_hi` cases
    /// against at least `x_lo` (μ or n now); the LLR grows with the cases and falls with μ or n
    /// while the rate inside is the higher.
    fn bound_ahead(&self, c_hi: f64, x_lo: f64, b: f64) -> bool {
        if self.model == StModel::Bernoulli && c_hi > x_lo {
            return true;
        }
        let margin = 1.0 + BOUND_SLACK;
        let high = match self.model {
            StModel::Bernoulli => {
                c_hi * (self.total_n - x_lo) * margin > (self.total_c - c_hi) * x_lo
            }
            _ => c_hi * margin > x_lo,
        };
        // The χ² bound is cheap but loose for small counts: the LLR itself, only when needed.
        high && self.could_beat(c_hi, x_lo, b) && self.llr(c_hi, x_lo) * margin + BOUND_SLACK > b
    }

    /// Fills `s.alive` with the intervals (indices into `intervals`, in their order) the next
    /// block may improve: the block adds cases in them and [`Scanner::bound_ahead`] holds for
    /// (their cases now + the block's) against (their μ or trials now). The cheap χ² test runs
    /// by interval length over contiguous slices (vectorised); the LLR only on what passes.
    fn keep_intervals(&self, c_loc: f64, b: f64, s: &mut Scratch) {
        let t_n = self.months;
        let (q, scale) = match self.model {
            StModel::Poisson => (&s.dp[..], self.c_per_n),
            StModel::Bernoulli => (&s.dp[..], 1.0),
            StModel::Permutation => (self.month_prefix, c_loc * self.inv_c),
        };
        let (tc, tn) = (self.total_c, self.total_n);
        let bernoulli = self.model == StModel::Bernoulli;
        let margin = 1.0 + BOUND_SLACK;
        s.alive.clear();
        for len in 1..=self.max_len {
            let n = t_n + 1 - len;
            let flags = &mut s.flags[..n];
            let (cp0, cp1) = (&s.cp[..n], &s.cp[len..len + n]);
            let (bp0, bp1) = (&s.bp[..n], &s.bp[len..len + n]);
            let (q0, q1) = (&q[..n], &q[len..len + n]);
            for t in 0..n {
                let added = bp1[t] - bp0[t];
                let c = cp1[t] - cp0[t] + added;
                let x = scale * (q1[t] - q0[t]);
                let pass = if bernoulli {
                    let d = c * tn - x * tc;
                    let (num, den) = (tn * d * d, x * (tn - x) * tc * (tn - tc));
                    (c > x)
                        | ((c * (tn - x) * margin > (tc - c) * x)
                            & (num * margin + BOUND_SLACK * den.abs() + BOUND_SLACK > b * den))
                } else {
                    let d = c - x;
                    let (num, den) = (d * d * tc, x * (tc - x));
                    (c * margin > x)
                        & (num * margin + BOUND_SLACK * den.abs() + BOUND_SLACK > b * den)
                };
                flags[t] = (added > 0.0) & pass;
            }
            for t in 0..n {
                if flags[t] {
                    let c = cp1[t] - cp0[t] + (bp1[t] - bp0[t]);
                    let x = scale * (q1[t] - q0[t]);
                    if self.bound_ahead(c, x, b) {
                        s.alive.push(self.interval_start[t] + (len - 1) as u32);
                    }
                }
            }
        }
        s.alive.sort_unstable();
    }

    /// The best cylinder of `centre` with an LLR above `floor`, stopping the base before the
    /// first blocked location. Cylinders are met by base size, then start, then end; a later
    /// one replaces the best only with a strictly higher LLR, so ties go to fewer locations,
    /// then the earlier start, then the shorter interval.
    ///
    /// The base grows by blocks of about an eighth of its size (whole distance groups): before
    /// a block, an interval is kept only if the block adds cases in it and the cases it would
    /// hold after the whole block, against its expected count (or trials) now, could beat the
    /// best so far ([`Scanner::bound_ahead`]); a block with no interval kept is added at once.
    fn best_of(
        &self,
        centre: usize,
        cases: &[f64],
        blocked: Option<&[bool]>,
        floor: f64,
        s: &mut Scratch,
    ) -> Option<Best> {
        let t_n = self.months;
        let mut list = self.windows.of(centre);
        if let Some(b) = blocked
            && let Some(stop) = list.iter().position(|e| b[(e & !GROUP_END) as usize])
        {
            list = &list[..stop];
        }
        let perm = self.model == StModel::Permutation;
        s.cz.iter_mut().for_each(|v| *v = 0.0);
        s.dz.iter_mut().for_each(|v| *v = 0.0);
        s.dp[0] = 0.0;
        let mut c_loc = 0.0;
        let mut best: Option<Best> = None;
        let mut b = floor;
        let mut pos = 0;
        while pos < list.len() {
            let mut end = (pos + (pos / 8).max(8)).min(list.len());
            while end < list.len() && list[end - 1] & GROUP_END == 0 {
                end += 1;
            }
            let block = &list[pos..end];
            // The block's cases and denominators per month.
            s.bc.iter_mut().for_each(|v| *v = 0.0);
            s.bd.iter_mut().for_each(|v| *v = 0.0);
            let mut block_loc = 0.0;
            for &e in block {
                let j = (e & !GROUP_END) as usize;
                for (bc, &v) in s.bc.iter_mut().zip(&cases[j * t_n..(j + 1) * t_n]) {
                    *bc += v;
                }
                if perm {
                    block_loc += self.loc_cases[j];
                } else {
                    for (bd, &v) in s.bd.iter_mut().zip(&self.denom[j * t_n..(j + 1) * t_n]) {
                        *bd += v;
                    }
                }
            }
            prefix(&s.cz, &mut s.cp);
            prefix(&s.dz, &mut s.dp);
            prefix(&s.bc, &mut s.bp);
            s.alive.clear();
            if s.bp[t_n] > 0.0 {
                self.keep_intervals(c_loc, b, s);
            }
            if s.alive.is_empty() {
                for (cz, bc) in s.cz.iter_mut().zip(&s.bc) {
                    *cz += bc;
                }
                for (dz, bd) in s.dz.iter_mut().zip(&s.bd) {
                    *dz += bd;
                }
                c_loc += block_loc;
                pos = end;
                continue;
            }
            s.added.iter_mut().for_each(|v| *v = false);
            let mut any_added = false;
            for (off, &e) in block.iter().enumerate() {
                let j = (e & !GROUP_END) as usize;
                let row = j * t_n..(j + 1) * t_n;
                for ((cz, added), &v) in s.cz.iter_mut().zip(&mut s.added).zip(&cases[row.clone()])
                {
                    if v > 0.0 {
                        *cz += v;
                        *added = true;
                        any_added = true;
                    }
                }
                if perm {
                    c_loc += self.loc_cases[j];
                } else {
                    for (dz, &v) in s.dz.iter_mut().zip(&self.denom[row]) {
                        *dz += v;
                    }
                }
                if e & GROUP_END == 0 || !any_added {
                    continue;
                }
                prefix(&s.dz, &mut s.dp);
                prefix(&s.cz, &mut s.cp);
                for t in 0..t_n {
                    s.ap[t + 1] = s.ap[t] + u32::from(s.added[t]);
                }
                for &k in &s.alive {
                    let (t1, t2) = self.intervals[k as usize];
                    let (t1, t2) = (t1 as usize, t2 as usize);
                    if s.ap[t2 + 1] == s.ap[t1] {
                        continue;
                    }
                    let c = s.cp[t2 + 1] - s.cp[t1];
                    if !self.could_beat(c, self.x_approx(&s.dp, c_loc, t1, t2), b) {
                        continue;
                    }
                    let x = self.x_of(&s.dp, c_loc, t1, t2);
                    if !self.high(c, x) {
                        continue;
                    }
                    let l = self.llr(c, x);
                    if l > b {
                        b = l;
                        best = Some(Best {
                            llr: l,
                            len: pos + off + 1,
                            start: t1,
                            end: t2,
                        });
                    }
                }
                s.added.iter_mut().for_each(|v| *v = false);
                any_added = false;
            }
            pos = end;
        }
        best
    }

    /// The highest LLR over every cylinder, for a replication, or `floor` when none is above
    /// it.
    fn max_llr(&self, cases: &[f64], floor: f64, s: &mut Scratch) -> f64 {
        let mut m = floor;
        for c in 0..self.windows.offsets.len() - 1 {
            if let Some(b) = self.best_of(c, cases, None, m, s) {
                m = b.llr;
            }
        }
        m
    }

    /// The best unblocked cylinder: (centre, best), ties to the lower centre.
    fn most_likely(&self, cases: &[f64], blocked: &[bool]) -> Option<(usize, Best)> {
        (0..self.windows.offsets.len() - 1)
            .into_par_iter()
            .map_init(
                || Scratch::new(self.months),
                |s, c| {
                    self.best_of(c, cases, Some(blocked), 0.0, s)
                        .map(|b| (c, b))
                },
            )
            .flatten()
            .max_by(|a, b| a.1.llr.total_cmp(&b.1.llr).then_with(|| b.0.cmp(&a.0)))
    }
}

fn is_integer(v: f64) -> bool {
    v.fract() == 0.0
}

/// Checks the shapes and values of `data` for `model`; the points of the locations.
fn check(data: &StData, model: StModel) -> Result<Vec<Point<f64>>, HotspotError> {
    let n = data.ids.len();
    if n == 0 {
        return Err(HotspotError::Empty);
    }
    let t_n = data.months;
    let shape =
        |option: &'static str, problem: String| HotspotError::InvalidOption { option, problem };
    if t_n == 0 {
        return Err(shape("months", "the study period has no month".into()));
    }
    if data.lon.len() != n || data.lat.len() != n {
        return Err(shape(
            "lon/lat",
            format!(
                "{} ids but {} longitudes and {} latitudes",
                n,
                data.lon.len(),
                data.lat.len()
            ),
        ));
    }
    if data.cases.len() != n * t_n {
        return Err(shape(
            "cases",
            format!(
                "{} values, not {n} locations × {t_n} months",
                data.cases.len()
            ),
        ));
    }
    let with_population = model != StModel::Permutation || !data.population.is_empty();
    if with_population && data.population.len() != n * t_n {
        return Err(shape(
            "population",
            format!(
                "{} values, not {n} locations × {t_n} months",
                data.population.len()
            ),
        ));
    }
    let mut ids = HashSet::new();
    let mut points = Vec::with_capacity(n);
    for i in 0..n {
        let row = i + 1;
        let bad = |field, problem: String| HotspotError::InvalidValue {
            row,
            field,
            problem,
        };
        if !ids.insert(data.ids[i].as_str()) {
            return Err(bad(
                Field::Id,
                format!("the id {:?} appears twice", data.ids[i]),
            ));
        }
        check_lon_lat(row, data.lon[i], data.lat[i])?;
        for t in 0..t_n {
            let c = data.cases[i * t_n + t];
            check_non_negative(row, Field::Count, c)?;
            if !is_integer(c) {
                return Err(bad(
                    Field::Count,
                    format!("month {}: {c} is not a whole number of cases", t + 1),
                ));
            }
            if !with_population {
                continue;
            }
            let p = data.population[i * t_n + t];
            check_non_negative(row, Field::Population, p)?;
            if model == StModel::Permutation {
                continue;
            }
            if c > 0.0 && p == 0.0 {
                return Err(bad(
                    Field::Population,
                    format!("month {}: {c} cases with a population of 0", t + 1),
                ));
            }
            if model == StModel::Bernoulli {
                if !is_integer(p) {
                    return Err(bad(
                        Field::Population,
                        format!(
                            "month {}: {p} is not a whole number of trials (Bernoulli)",
                            t + 1
                        ),
                    ));
                }
                if c > p {
                    return Err(bad(
                        Field::Count,
                        format!(
                            "month {}: {c} cases exceed the {p} trials (Bernoulli)",
                            t + 1
                        ),
                    ));
                }
            }
        }
        points.push(Point::new(data.lon[i], data.lat[i]));
    }
    Ok(points)
}

fn check_options(opts: &StOptions) -> Result<(), HotspotError> {
    let f = opts.max_population_fraction;
    if !(f > 0.0 && f <= 1.0) {
        return Err(HotspotError::InvalidOption {
            option: "max-population-fraction",
            problem: format!("{f} is not in (0, 1]"),
        });
    }
    let f = opts.max_time_fraction;
    if !(f > 0.0 && f <= 1.0) {
        return Err(HotspotError::InvalidOption {
            option: "max-time-fraction",
            problem: format!("{f} is not in (0, 1]"),
        });
    }
    if let Some(r) = opts.max_radius_km
        && !(r > 0.0 && r.is_finite())
    {
        return Err(HotspotError::InvalidOption {
            option: "max-radius-km",
            problem: format!("{r} is not a positive number of km"),
        });
    }
    Ok(())
}

/// How the null hypothesis draws the cases of one replication.
enum Null {
    /// C cases multinomially over the location × month cells by population-months.
    Poisson { cum: Vec<f64> },
    /// C cases without replacement among all the trials (cumulative trials per cell).
    Bernoulli { cum: Vec<f64> },
    /// The cases' cells (location × months + month); their months are permuted.
    Permutation {
        locations: Vec<u32>,
        months: Vec<u32>,
    },
}

impl Null {
    fn replicate<R: RngExt>(&self, rng: &mut R, total_c: u64, t_n: usize, cases: &mut [f64]) {
        cases.iter_mut().for_each(|c| *c = 0.0);
        let n = cases.len();
        match self {
            Null::Poisson { cum } => {
                let total = cum[n - 1];
                for _ in 0..total_c {
                    let u = rng.random::<f64>() * total;
                    cases[cum.partition_point(|c| *c <= u).min(n - 1)] += 1.0;
                }
            }
            Null::Bernoulli { cum } => {
                let total = cum[n - 1];
                for t in rand::seq::index::sample(rng, total as usize, total_c as usize) {
                    let u = t as f64;
                    cases[cum.partition_point(|c| *c <= u).min(n - 1)] += 1.0;
                }
            }
            Null::Permutation { locations, months } => {
                let mut shuffled = months.clone();
                shuffled.shuffle(rng);
                for (l, t) in locations.iter().zip(&shuffled) {
                    cases[*l as usize * t_n + *t as usize] += 1.0;
                }
            }
        }
    }
}

/// Kulldorff's retrospective space-time scan: the most likely cluster and up to
/// `max_clusters − 1` secondary clusters (no location shared with an earlier one), by decreasing
/// LLR, each with its Monte Carlo p-value.
pub fn scan(data: &StData, opts: &StOptions) -> Result<Vec<StCluster>, HotspotError> {
    check_options(opts)?;
    let points = check(data, opts.model)?;
    let (n, t_n) = (data.ids.len(), data.months);
    let model = opts.model;
    let cases = &data.cases;
    let total_c: f64 = cases.iter().sum();
    let loc_cases: Vec<f64> = (0..n)
        .map(|i| cases[i * t_n..(i + 1) * t_n].iter().sum())
        .collect();
    let mut month_prefix = vec![0.0; t_n + 1];
    for t in 0..t_n {
        month_prefix[t + 1] = month_prefix[t] + (0..n).map(|i| cases[i * t_n + t]).sum::<f64>();
    }
    // The base's weight per location: mean population, trials or cases.
    let weights: Vec<f64> = match model {
        StModel::Poisson => (0..n)
            .map(|i| data.population[i * t_n..(i + 1) * t_n].iter().sum::<f64>() / t_n as f64)
            .collect(),
        StModel::Bernoulli => (0..n)
            .map(|i| data.population[i * t_n..(i + 1) * t_n].iter().sum::<f64>())
            .collect(),
        StModel::Permutation => loc_cases.clone(),
    };
    let total_w: f64 = weights.iter().sum();
    let total_n: f64 = if model == StModel::Permutation {
        total_c
    } else {
        data.population.iter().sum()
    };
    if model != StModel::Permutation && total_n <= 0.0 {
        return Err(HotspotError::InvalidOption {
            option: "population",
            problem: "the total population is 0".into(),
        });
    }
    if total_c == 0.0 {
        return Ok(Vec::new());
    }
    let windows = Windows::build(
        &points,
        &weights,
        opts.max_population_fraction * total_w,
        opts.max_radius_km.map(|r| r * 1000.0),
    );
    let max_len = ((opts.max_time_fraction * t_n as f64 + 1e-9).floor() as usize).clamp(1, t_n);
    let mut intervals = Vec::new();
    let mut interval_start = Vec::with_capacity(t_n);
    for t1 in 0..t_n {
        interval_start.push(intervals.len() as u32);
        for t2 in t1..(t1 + max_len).min(t_n) {
            intervals.push((t1 as u32, t2 as u32));
        }
    }
    let empty: [f64; 0] = [];
    let scanner = Scanner {
        model,
        months: t_n,
        windows: &windows,
        denom: if model == StModel::Permutation {
            &empty
        } else {
            &data.population
        },
        loc_cases: &loc_cases,
        month_prefix: &month_prefix,
        intervals: &intervals,
        interval_start: &interval_start,
        max_len,
        total_c,
        total_n,
        c_per_n: total_c / total_n,
        inv_c: 1.0 / total_c,
    };

    let mut blocked = vec![false; n];
    let mut clusters: Vec<StCluster> = Vec::new();
    while clusters.len() < opts.max_clusters {
        let Some((centre, best)) = scanner.most_likely(cases, &blocked) else {
            break;
        };
        let members: Vec<usize> = windows.of(centre)[..best.len]
            .iter()
            .map(|e| (e & !GROUP_END) as usize)
            .collect();
        let sum = |v: &[f64]| -> f64 {
            if v.is_empty() {
                return 0.0;
            }
            members
                .iter()
                .map(|i| {
                    v[i * t_n + best.start..=i * t_n + best.end]
                        .iter()
                        .sum::<f64>()
                })
                .sum()
        };
        let observed = sum(cases);
        let population = sum(&data.population);
        let expected = match model {
            StModel::Poisson | StModel::Bernoulli => total_c * population / total_n,
            StModel::Permutation => {
                let c_loc: f64 = members.iter().map(|i| loc_cases[*i]).sum();
                c_loc * (month_prefix[best.end + 1] - month_prefix[best.start]) / total_c
            }
        };
        let radius_km = members.last().map_or(0.0, |j| {
            Haversine.distance(points[centre], points[*j]) / 1000.0
        });
        for j in &members {
            blocked[*j] = true;
        }
        clusters.push(StCluster {
            rank: clusters.len() + 1,
            center: centre,
            radius_km,
            members,
            start: best.start,
            end: best.end,
            population,
            observed,
            expected,
            relative_risk: (observed / expected) / ((total_c - observed) / (total_c - expected)),
            llr: best.llr,
            p_value: None,
        });
    }

    if opts.replications > 0 && !clusters.is_empty() {
        let null = match model {
            StModel::Poisson | StModel::Bernoulli => {
                let mut cum = data.population.clone();
                for i in 1..cum.len() {
                    cum[i] += cum[i - 1];
                }
                if model == StModel::Poisson {
                    Null::Poisson { cum }
                } else {
                    Null::Bernoulli { cum }
                }
            }
            StModel::Permutation => {
                let (mut locations, mut months) = (Vec::new(), Vec::new());
                for i in 0..n {
                    for t in 0..t_n {
                        for _ in 0..cases[i * t_n + t] as u64 {
                            locations.push(i as u32);
                            months.push(t as u32);
                        }
                    }
                }
                Null::Permutation { locations, months }
            }
        };
        // A replication's maximum only matters if it reaches a reported LLR: it is sought
        // above (just under) the smallest one, which prunes from the first centre on.
        let floor = clusters.iter().map(|c| c.llr).fold(f64::INFINITY, f64::min) * (1.0 - 1e-12);
        let maxima: Vec<f64> = (0..u64::from(opts.replications))
            .into_par_iter()
            .map_init(
                || (vec![0.0; n * t_n], Scratch::new(t_n)),
                |(sim, s), r| {
                    let mut rng = rng_stream(opts.seed, SPACE_TIME_STREAMS + r);
                    null.replicate(&mut rng, total_c as u64, t_n, sim);
                    scanner.max_llr(sim, floor, s)
                },
            )
            .collect();
        for c in &mut clusters {
            let at_least = maxima.iter().filter(|m| **m >= c.llr).count();
            c.p_value = Some((at_least + 1) as f64 / (f64::from(opts.replications) + 1.0));
        }
    }
    Ok(clusters)
}

#[cfg(test)]
mod tests;
