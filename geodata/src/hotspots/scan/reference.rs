//! Today's scan (before the replications were batched), kept verbatim for the tests: the fast
//! scan must give the same clusters, members, LLRs (bit for bit) and p-values for a seed.

use geo::{Distance, Haversine, Point};
use rand::RngExt;
use rayon::prelude::*;

use super::super::{HotspotError, SCAN_STREAMS, rng_stream};
use super::{Cluster, Location, Model, ScanOptions, check};

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
