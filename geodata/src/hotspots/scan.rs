//! Kulldorff's spatial scan statistic (Kulldorff 1997) on point locations, for high rates:
//! circular windows centred on each location, grown by nearest locations (haversine distance;
//! locations at the same distance enter together) while the window's population stays ≤ a
//! fraction of the total; Poisson or Bernoulli likelihood ratio; the most likely cluster and the
//! next best windows sharing no location with one already reported; Monte Carlo p-values from R
//! seeded replications (each from its own ChaCha8 stream, so independent of the thread count).

use std::collections::HashSet;

use geo::{Distance, Haversine, Point};
use rand::RngExt;
use rayon::prelude::*;

use super::{Field, HotspotError, SCAN_STREAMS, check_lon_lat, check_non_negative, rng_stream};

/// One input location.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    /// Cases, a non-negative integer.
    pub count: f64,
    /// Population (Poisson) or trials (Bernoulli, an integer ≥ count).
    pub population: f64,
}

/// The probability model of the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Cases ~ Poisson(expected ∝ population).
    Poisson,
    /// Population as trials, cases as successes.
    Bernoulli,
}

impl Model {
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Poisson => "poisson",
            Model::Bernoulli => "bernoulli",
        }
    }
}

/// Parameters of [`scan`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanOptions {
    pub model: Model,
    /// The largest window, as a fraction of the total population, in (0, 1].
    pub max_population_fraction: f64,
    /// The largest window's radius, km: a location farther from the centre never enters its
    /// windows. `None`: no limit but the population's.
    pub max_radius_km: Option<f64>,
    /// R, the Monte Carlo replications (0: no p-values).
    pub replications: u32,
    pub seed: u64,
    /// How many clusters to report at most (the most likely one and secondary ones).
    pub max_clusters: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            model: Model::Poisson,
            max_population_fraction: 0.5,
            max_radius_km: None,
            replications: 999,
            seed: 2024,
            max_clusters: 5,
        }
    }
}

/// One reported cluster: one row of `echinomap scan`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// 1 for the most likely cluster, then 2, 3… for secondary ones.
    pub rank: usize,
    /// Index of the centre location in the input.
    pub center: usize,
    /// Haversine distance from the centre to the farthest member, km.
    pub radius_km: f64,
    /// Indices of the member locations, nearest first.
    pub members: Vec<usize>,
    pub population: f64,
    pub observed: f64,
    /// E = C · population / N.
    pub expected: f64,
    /// (c / E) / ((C − c) / (C − E)); infinite when every case is inside.
    pub relative_risk: f64,
    pub llr: f64,
    /// rank / (R + 1) of the LLR among the replicate maxima; `None` when R = 0.
    pub p_value: Option<f64>,
}

/// Replications evaluated together in one pass over the window lists: the lists are read once
/// per batch instead of once per replication, and the lanes' case counts add as one vector.
const BATCH: usize = 16;

/// Marks the last location of a group of equidistant locations in a window order.
const GROUP_END: u32 = 1 << 31;

/// Haversine distances between the input points, computed as geo's `Haversine.distance`
/// computes them (the same operations in the same order, so the same bits), with each
/// latitude's cosine computed once instead of once per pair.
struct Sphere<'a> {
    points: &'a [Point<f64>],
    cos_lat: Vec<f64>,
}

impl<'a> Sphere<'a> {
    fn new(points: &'a [Point<f64>]) -> Self {
        let cos_lat = points.iter().map(|p| p.y().to_radians().cos()).collect();
        Self { points, cos_lat }
    }

    /// The distance in metres from point `a` to point `b`.
    fn distance(&self, a: usize, b: usize) -> f64 {
        let (origin, destination) = (self.points[a], self.points[b]);
        let two = 1.0 + 1.0;
        let delta_theta = (destination.y() - origin.y()).to_radians();
        let delta_lambda = (destination.x() - origin.x()).to_radians();
        let h = (delta_theta / two).sin().powi(2)
            + self.cos_lat[a] * self.cos_lat[b] * (delta_lambda / two).sin().powi(2);
        let c = two * h.sqrt().asin();
        Haversine.radius() * c
    }
}

/// For each centre, the locations by increasing distance (ties by index) up to the largest
/// window, as a CSR index; the last location of each distance group carries [`GROUP_END`].
struct Windows {
    offsets: Vec<usize>,
    order: Vec<u32>,
    /// The centres in Z order of their positions: consecutive centres have nearly the same
    /// windows, so the replications' counts they read stay in the cache.
    visit: Vec<u32>,
}

/// The Z-order (Morton) key of a point in a bounding box: 16 bits of longitude and latitude,
/// interleaved.
fn z_key(p: Point<f64>, min: (f64, f64), span: (f64, f64)) -> u32 {
    let scale = |v: f64, lo: f64, w: f64| {
        if w > 0.0 {
            ((v - lo) / w * 65535.0).clamp(0.0, 65535.0) as u32
        } else {
            0
        }
    };
    let (x, y) = (scale(p.x(), min.0, span.0), scale(p.y(), min.1, span.1));
    (0..16).fold(0, |k, b| {
        k | (((x >> b) & 1) << (2 * b)) | (((y >> b) & 1) << (2 * b + 1))
    })
}

impl Windows {
    fn build(
        points: &[Point<f64>],
        populations: &[f64],
        limit: f64,
        max_radius_m: Option<f64>,
    ) -> Self {
        let n = points.len();
        let sphere = Sphere::new(points);
        let lists: Vec<Vec<u32>> = (0..n)
            .into_par_iter()
            .map(|c| {
                let mut by_distance: Vec<(f64, u32)> =
                    (0..n).map(|j| (sphere.distance(c, j), j as u32)).collect();
                // Distances are ≥ +0 (never −0 or NaN), so their bits sort as `total_cmp`
                // does; integer keys compare faster.
                by_distance.sort_unstable_by_key(|e| (e.0.to_bits(), e.1));
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
                    let group_pop: f64 = group.iter().map(|e| populations[e.1 as usize]).sum();
                    if cum + group_pop > limit || max_radius_m.is_some_and(|r| d > r) {
                        break;
                    }
                    cum += group_pop;
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
        let lo = points.iter().fold((f64::INFINITY, f64::INFINITY), |m, p| {
            (m.0.min(p.x()), m.1.min(p.y()))
        });
        let hi = points
            .iter()
            .fold((f64::NEG_INFINITY, f64::NEG_INFINITY), |m, p| {
                (m.0.max(p.x()), m.1.max(p.y()))
            });
        let span = (hi.0 - lo.0, hi.1 - lo.1);
        let mut visit: Vec<u32> = (0..n as u32).collect();
        visit.sort_unstable_by_key(|&c| (z_key(points[c as usize], lo, span), c));
        Self {
            offsets,
            order,
            visit,
        }
    }

    fn of(&self, centre: usize) -> &[u32] {
        &self.order[self.offsets[centre]..self.offsets[centre + 1]]
    }
}

/// x ln(x / y), 0 when x = 0.
fn xlog(x: f64, y: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x * (x / y).ln() }
}

/// The log-likelihood ratio of a window with `c` cases and population `p`, for high rates
/// only (0 when the window's rate is not above the outside rate).
fn llr(model: Model, c: f64, p: f64, total_c: f64, total_n: f64) -> f64 {
    match model {
        Model::Poisson => {
            let e = total_c * p / total_n;
            if c <= e {
                return 0.0;
            }
            xlog(c, e) + xlog(total_c - c, total_c - e)
        }
        Model::Bernoulli => {
            let (out_c, out_n) = (total_c - c, total_n - p);
            if c * out_n <= out_c * p {
                return 0.0;
            }
            xlog(c, p) + xlog(p - c, p) + xlog(out_c, out_n) + xlog(out_n - out_c, out_n)
                - xlog(total_c, total_n)
                - xlog(total_n - total_c, total_n)
        }
    }
}

struct Scanner<'a> {
    model: Model,
    windows: &'a Windows,
    populations: &'a [f64],
    total_c: f64,
    total_n: f64,
}

/// The best window of a centre: (LLR, number of locations).
type Best = (f64, usize);

impl Scanner<'_> {
    /// The best window of `centre` for `cases`, stopping before the first blocked location.
    /// A window whose last group adds no case is never better than the window before it (its
    /// expected count grows, its observed count does not), so only windows ending on a group
    /// that adds cases are evaluated; ties go to the smaller window.
    fn best_of(&self, centre: usize, cases: &[f64], blocked: Option<&[bool]>) -> Best {
        let mut best = (0.0, 0);
        let (mut c, mut p, mut added) = (0.0, 0.0, false);
        for (pos, &e) in self.windows.of(centre).iter().enumerate() {
            let j = (e & !GROUP_END) as usize;
            if blocked.is_some_and(|b| b[j]) {
                break;
            }
            c += cases[j];
            p += self.populations[j];
            added |= cases[j] > 0.0;
            if e & GROUP_END != 0 {
                if added {
                    let l = llr(self.model, c, p, self.total_c, self.total_n);
                    if l > best.0 {
                        best = (l, pos + 1);
                    }
                }
                added = false;
            }
        }
        best
    }

    /// The highest LLR over every window, for a replication (the replications' path when the
    /// case counts do not fit the batches' `u32`).
    fn max_llr(&self, cases: &[f64]) -> f64 {
        (0..self.populations.len())
            .map(|c| self.best_of(c, cases, None).0)
            .fold(0.0, f64::max)
    }

    /// Whether a window with `c` cases and population `p` may have an LLR above `floor`: false
    /// only when its LLR is certainly not above it. The first test is the LLR's own "not a
    /// high rate" test, computed the same way (so it is exact); the second an upper bound of
    /// the LLR, with a margin far above the rounding errors of either side. Poisson: with
    /// f(x) = x ln x − x + 1, LLR = E f(c/E) + (C − E) f((C − c)/(C − E)), and f(x) ≤ (x − 1)²/2
    /// for x ≥ 1, f(y) ≤ (1 − y)²/(2y) for 0 < y ≤ 1 (f″(t) = 1/t), so
    /// LLR ≤ (c − E)² (1/E + 1/(C − c)) / 2. Bernoulli: Pearson's X² of the 2 × 2 table,
    /// N (cN − pC)² / (p (N − p) C (N − C)) (Σ O ln(O/E) ≤ Σ O (O/E − 1), ln x ≤ x − 1).
    /// Both tests only grow with `c`.
    fn may_beat(&self, c: f64, p: f64, floor: f64) -> bool {
        let (total_c, total_n) = (self.total_c, self.total_n);
        let (lhs, rhs) = match self.model {
            Model::Poisson => {
                let e = total_c * p / total_n;
                if c <= e {
                    return false;
                }
                let d = c - e;
                (d * d * (total_c - c + e), 2.0 * e * (total_c - c))
            }
            Model::Bernoulli => {
                let (out_c, out_n) = (total_c - c, total_n - p);
                if c * out_n <= out_c * p {
                    return false;
                }
                let d = c * total_n - p * total_c;
                (total_n * d * d, p * out_n * (total_c * (total_n - total_c)))
            }
        };
        // Skip only when bound · (1 + 1e-9) + 1e-9 (1 + C) < floor.
        let margin = 1e-9 * (1.0 + total_c);
        !(rhs > 0.0 && lhs * (1.0 + 1e-9) < (floor - margin) * rhs)
    }

    /// How far above its expected count E = C p / N a window of population ≥ `p` must be to
    /// have its bound (see [`Self::may_beat`]) above `best` less the margin: (E, g, limit)
    /// with the bound ≤ that value for every count c ≤ E + g. The bound only falls as the
    /// population grows (c fixed), so no later window of the centre with a count below
    /// E + g can beat `best`; and while a later window's expected count stays ≤ `limit`, no
    /// later window with c < E(p') + g can either (Poisson: the bound at c = E + g,
    /// g² (1/E + 1/(C − E − g)) / 2, falls as E grows while 2E + g < C; Bernoulli: Pearson's
    /// variance p (N − p) grows up to half the population). `None` when nothing can be said.
    fn reach(&self, p: f64, best: f64) -> Option<(f64, f64, f64)> {
        let (total_c, total_n) = (self.total_c, self.total_n);
        let b = (best - 1e-9 * (1.0 + total_c + best)) / (1.0 + 1e-9);
        if b.is_nan() || b <= 0.0 {
            return None;
        }
        let e = total_c * p / total_n;
        let (g, limit) = match self.model {
            Model::Poisson => {
                // (c − E)² (1/E + 1/(C − c)) / 2 ≤ b for c − E ≤ g, from g0 = √(2bE) ≥ g.
                let g0 = (2.0 * b * e).sqrt();
                let room = total_c - e - g0;
                if room.is_nan() || room <= 0.0 {
                    return None;
                }
                let g = (2.0 * b / (1.0 / e + 1.0 / room)).sqrt();
                (g, (total_c - g0) / 2.0)
            }
            Model::Bernoulli => {
                // Pearson's X² = N³ (c − E)² / (p (N − p) C (N − C)) ≤ b for c − E ≤ g.
                let var = p * (total_n - p) * total_c * (total_n - total_c)
                    / (total_n * total_n * total_n);
                ((b * var).sqrt(), total_c / 2.0)
            }
        };
        let g = g * (1.0 - 1e-9) - 1e-9;
        let limit = limit * (1.0 - 1e-9) - 1e-9;
        (e >= 0.0 && g.is_finite() && e.is_finite() && limit.is_finite()).then_some((
            e,
            g.max(0.0),
            limit,
        ))
    }

    /// The highest LLR of each of `lanes` replications at once (`counts[j][k]`: the cases of
    /// location j in replication k), in one pass over the window lists. The same windows are
    /// evaluated with the same sums as in [`Self::best_of`] (a window ending on a group that
    /// adds no case to a lane is not evaluated for it), except those that cannot raise the
    /// lane's maximum so far: each lane keeps a count, and a count above the window's expected
    /// count, below which no later window of the centre can (see [`Self::reach`]), so most
    /// windows cost a vector add and compare. The maxima are the same, bit for bit.
    fn max_llr_batch(&self, counts: &[[u32; BATCH]], lanes: usize) -> [f64; BATCH] {
        let mut best = [0.0f64; BATCH];
        // Below and above E(p) = C p / N.
        let ratio = self.total_c / self.total_n * (1.0 - 1e-12);
        let ratio_up = self.total_c / self.total_n * (1.0 + 1e-12);
        for &centre in &self.windows.visit {
            let centre = centre as usize;
            let mut c = [0u32; BATCH];
            let mut last = [0u32; BATCH];
            // Lanes past `lanes` (the last batch's unused ones) never fire.
            let mut until = [u32::MAX; BATCH];
            until[..lanes].fill(1);
            let mut above = [0u32; BATCH];
            // `above` holds while E(p) ≤ limit; past it, only `until` does.
            let mut limit = f64::INFINITY;
            let mut half = false;
            let mut p = 0.0;
            for &e in self.windows.of(centre) {
                let j = (e & !GROUP_END) as usize;
                let row = &counts[j];
                for k in 0..BATCH {
                    c[k] += row[k];
                }
                p += self.populations[j];
                if e & GROUP_END == 0 {
                    continue;
                }
                if !half && p * ratio_up > limit {
                    half = true;
                    above = [0; BATCH];
                }
                let base = if half { 0 } else { (p * ratio) as u32 };
                let mut hit = false;
                for k in 0..BATCH {
                    hit |= (c[k] >= until[k]) & (c[k] >= base + above[k]);
                }
                if hit {
                    for k in 0..lanes {
                        if c[k] < until[k] || c[k] < base + above[k] {
                            continue;
                        }
                        let ck = f64::from(c[k]);
                        if c[k] != last[k] && self.may_beat(ck, p, best[k]) {
                            let l = llr(self.model, ck, p, self.total_c, self.total_n);
                            if l > best[k] {
                                best[k] = l;
                            }
                        }
                        // A later window is evaluated only when it adds cases, so c + 1 is
                        // a threshold too.
                        until[k] = c[k] + 1;
                        above[k] = 0;
                        if let Some((e, g, reach_limit)) = self.reach(p, best[k]) {
                            let t = (e + g) * (1.0 - 1e-12);
                            if t > f64::from(until[k]) {
                                until[k] = t as u32;
                            }
                            if !half && p * ratio_up <= reach_limit {
                                above[k] = g as u32;
                                limit = limit.min(reach_limit);
                            }
                        }
                    }
                }
                last = c;
            }
        }
        best
    }

    /// The best unblocked window: (LLR, centre, length), ties to the lower centre, then the
    /// smaller window.
    fn most_likely(&self, cases: &[f64], blocked: &[bool]) -> Option<(f64, usize, usize)> {
        (0..self.populations.len())
            .into_par_iter()
            .map(|c| {
                let (l, len) = self.best_of(c, cases, Some(blocked));
                (l, c, len)
            })
            .filter(|b| b.0 > 0.0)
            .max_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then_with(|| b.1.cmp(&a.1))
                    .then_with(|| b.2.cmp(&a.2))
            })
    }
}

fn is_integer(v: f64) -> bool {
    v.fract() == 0.0
}

fn check(locations: &[Location], model: Model) -> Result<Vec<Point<f64>>, HotspotError> {
    if locations.is_empty() {
        return Err(HotspotError::Empty);
    }
    let mut ids = HashSet::new();
    let mut points = Vec::with_capacity(locations.len());
    for (i, l) in locations.iter().enumerate() {
        let row = i + 1;
        if !ids.insert(l.id.as_str()) {
            return Err(HotspotError::InvalidValue {
                row,
                field: Field::Id,
                problem: format!("the id {:?} appears twice", l.id),
            });
        }
        check_lon_lat(row, l.lon, l.lat)?;
        check_non_negative(row, Field::Count, l.count)?;
        check_non_negative(row, Field::Population, l.population)?;
        let bad = |field, problem: String| HotspotError::InvalidValue {
            row,
            field,
            problem,
        };
        if !is_integer(l.count) {
            return Err(bad(
                Field::Count,
                format!("{} is not a whole number of cases", l.count),
            ));
        }
        if l.count > 0.0 && l.population == 0.0 {
            return Err(bad(
                Field::Population,
                format!("{} cases with a population of 0", l.count),
            ));
        }
        if model == Model::Bernoulli {
            if !is_integer(l.population) {
                return Err(bad(
                    Field::Population,
                    format!(
                        "{} is not a whole number of trials (Bernoulli)",
                        l.population
                    ),
                ));
            }
            if l.count > l.population {
                return Err(bad(
                    Field::Count,
                    format!(
                        "{} cases exceed the population of {} (Bernoulli)",
                        l.count, l.population
                    ),
                ));
            }
        }
        points.push(Point::new(l.lon, l.lat));
    }
    Ok(points)
}

/// Simulated case counts for one replication under the null hypothesis.
fn replicate<R: RngExt>(
    rng: &mut R,
    model: Model,
    total_c: u64,
    cum_population: &[f64],
    cases: &mut [f64],
) {
    cases.iter_mut().for_each(|c| *c = 0.0);
    let n = cases.len();
    let total_n = cum_population[n - 1];
    let mut add = |u: f64| {
        let j = cum_population.partition_point(|c| *c <= u).min(n - 1);
        cases[j] += 1.0;
    };
    match model {
        // C cases spread multinomially by population.
        Model::Poisson => {
            for _ in 0..total_c {
                add(rng.random::<f64>() * total_n);
            }
        }
        // C cases drawn without replacement among the trials.
        Model::Bernoulli => {
            for t in rand::seq::index::sample(rng, total_n as usize, total_c as usize) {
                add(t as f64);
            }
        }
    }
}

/// Kulldorff's spatial scan: the most likely cluster and up to `max_clusters − 1` secondary
/// clusters, by decreasing LLR, each with its Monte Carlo p-value.
pub fn scan(locations: &[Location], opts: &ScanOptions) -> Result<Vec<Cluster>, HotspotError> {
    let f = opts.max_population_fraction;
    if !(f > 0.0 && f <= 1.0) {
        return Err(HotspotError::InvalidOption {
            option: "max-population-fraction",
            problem: format!("{f} is not in (0, 1]"),
        });
    }
    let points = check(locations, opts.model)?;
    let populations: Vec<f64> = locations.iter().map(|l| l.population).collect();
    let cases: Vec<f64> = locations.iter().map(|l| l.count).collect();
    let total_n: f64 = populations.iter().sum();
    let total_c: f64 = cases.iter().sum();
    if total_n <= 0.0 {
        return Err(HotspotError::InvalidOption {
            option: "population",
            problem: "the total population is 0".into(),
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
    let windows = Windows::build(
        &points,
        &populations,
        f * total_n,
        opts.max_radius_km.map(|r| r * 1000.0),
    );
    let scanner = Scanner {
        model: opts.model,
        windows: &windows,
        populations: &populations,
        total_c,
        total_n,
    };

    let mut blocked = vec![false; locations.len()];
    let mut clusters = Vec::new();
    while clusters.len() < opts.max_clusters {
        let Some((l, centre, len)) = scanner.most_likely(&cases, &blocked) else {
            break;
        };
        let members: Vec<usize> = windows.of(centre)[..len]
            .iter()
            .map(|e| (e & !GROUP_END) as usize)
            .collect();
        let population: f64 = members.iter().map(|j| populations[*j]).sum();
        let observed: f64 = members.iter().map(|j| cases[*j]).sum();
        let expected = total_c * population / total_n;
        let radius_km = members.last().map_or(0.0, |j| {
            Haversine.distance(points[centre], points[*j]) / 1000.0
        });
        for j in &members {
            blocked[*j] = true;
        }
        clusters.push(Cluster {
            rank: clusters.len() + 1,
            center: centre,
            radius_km,
            members,
            population,
            observed,
            expected,
            relative_risk: (observed / expected) / ((total_c - observed) / (total_c - expected)),
            llr: l,
            p_value: None,
        });
    }

    if opts.replications > 0 && !clusters.is_empty() {
        let mut cum = populations.clone();
        for i in 1..cum.len() {
            cum[i] += cum[i - 1];
        }
        let replications = u64::from(opts.replications);
        let maxima: Vec<f64> = if total_c < f64::from(1u32 << 31) {
            // Batches of BATCH replications, each replication from its own stream.
            let batches = replications.div_ceil(BATCH as u64);
            (0..batches)
                .into_par_iter()
                .map_init(
                    || {
                        (
                            vec![0.0; locations.len()],
                            vec![[0u32; BATCH]; locations.len()],
                        )
                    },
                    |(sim, counts), b| {
                        let first = b * BATCH as u64;
                        let lanes = (replications - first).min(BATCH as u64) as usize;
                        for (k, r) in (first..first + lanes as u64).enumerate() {
                            let mut rng = rng_stream(opts.seed, SCAN_STREAMS + r);
                            replicate(&mut rng, opts.model, total_c as u64, &cum, sim);
                            for (row, s) in counts.iter_mut().zip(sim.iter()) {
                                row[k] = *s as u32;
                            }
                        }
                        let best = scanner.max_llr_batch(counts, lanes);
                        best[..lanes].to_vec()
                    },
                )
                .flatten_iter()
                .collect()
        } else {
            (0..replications)
                .into_par_iter()
                .map_init(
                    || vec![0.0; locations.len()],
                    |sim, r| {
                        let mut rng = rng_stream(opts.seed, SCAN_STREAMS + r);
                        replicate(&mut rng, opts.model, total_c as u64, &cum, sim);
                        scanner.max_llr(sim)
                    },
                )
                .collect()
        };
        for c in &mut clusters {
            let at_least = maxima.iter().filter(|m| **m >= c.llr).count();
            c.p_value = Some((at_least + 1) as f64 / (f64::from(opts.replications) + 1.0));
        }
    }
    Ok(clusters)
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
