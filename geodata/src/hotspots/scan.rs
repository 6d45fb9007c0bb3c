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

/// Marks the last location of a group of equidistant locations in a window order.
const GROUP_END: u32 = 1 << 31;

/// For each centre, the locations by increasing distance (ties by index) up to the largest
/// window, as a CSR index; the last location of each distance group carries [`GROUP_END`].
struct Windows {
    offsets: Vec<usize>,
    order: Vec<u32>,
}

impl Windows {
    fn build(
        points: &[Point<f64>],
        populations: &[f64],
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

    /// The highest LLR over every window, for a replication.
    fn max_llr(&self, cases: &[f64]) -> f64 {
        (0..self.populations.len())
            .map(|c| self.best_of(c, cases, None).0)
            .fold(0.0, f64::max)
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
        let maxima: Vec<f64> = (0..u64::from(opts.replications))
            .into_par_iter()
            .map_init(
                || vec![0.0; locations.len()],
                |sim, r| {
                    let mut rng = rng_stream(opts.seed, SCAN_STREAMS + r);
                    replicate(&mut rng, opts.model, total_c as u64, &cum, sim);
                    scanner.max_llr(sim)
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
