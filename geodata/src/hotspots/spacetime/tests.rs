use std::collections::BTreeSet;

use rand::{RngExt, SeedableRng};

use super::*;

/// `n` locations over the Qapqal area × `months` months with whole populations (constant over
/// the months, as the service's denominators are, plus a little noise so that months differ);
/// cases at a base rate, and at `hot_rate` within 0.15° of (81.0, 43.75) in months `hot`.
fn fixture(
    n: usize,
    months: usize,
    hot_rate: f64,
    hot: std::ops::RangeInclusive<usize>,
    seed: u64,
) -> StData {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut data = StData {
        ids: Vec::new(),
        lon: Vec::new(),
        lat: Vec::new(),
        months,
        cases: Vec::new(),
        population: Vec::new(),
    };
    for i in 0..n {
        let lon = rng.random_range(80.5..81.7);
        let lat = rng.random_range(43.3..43.95);
        let base = rng.random_range(20u32..200);
        let near = (lon - 81.0f64).hypot(lat - 43.75) < 0.15;
        data.ids.push(format!("v{i:03}"));
        data.lon.push(lon);
        data.lat.push(lat);
        for t in 0..months {
            let population = f64::from(base + rng.random_range(0u32..10));
            let rate = if near && hot.contains(&t) {
                hot_rate
            } else {
                0.01
            };
            let count = (0..population as u32)
                .filter(|_| rng.random::<f64>() < rate)
                .count() as f64;
            data.cases.push(count);
            data.population.push(population);
        }
    }
    data
}

/// A brute-force cylinder: LLR, centre, members, start, end, observed, expected.
#[derive(Debug, Clone)]
struct Brute {
    llr: f64,
    centre: usize,
    members: BTreeSet<usize>,
    start: usize,
    end: usize,
    observed: f64,
    expected: f64,
}

/// The same scan, written the obvious way: every circle centred on a location with a radius
/// equal to the distance to some location, every interval of at most the longest length, the
/// LLR by the textbook formulas, and the non-overlapping selection by brute force.
fn brute_force(d: &StData, opts: &StOptions) -> Vec<Brute> {
    let (n, t_n) = (d.ids.len(), d.months);
    let cell = |v: &[f64], i: usize, t: usize| v[i * t_n + t];
    let big_c: f64 = d.cases.iter().sum();
    let big_n: f64 = d.population.iter().sum();
    let loc_c = |i: usize| (0..t_n).map(|t| cell(&d.cases, i, t)).sum::<f64>();
    let month_c = |t: usize| (0..n).map(|i| cell(&d.cases, i, t)).sum::<f64>();
    let weight = |i: usize| match opts.model {
        StModel::Poisson => (0..t_n).map(|t| cell(&d.population, i, t)).sum::<f64>() / t_n as f64,
        StModel::Bernoulli => (0..t_n).map(|t| cell(&d.population, i, t)).sum::<f64>(),
        StModel::Permutation => loc_c(i),
    };
    let limit = opts.max_population_fraction * (0..n).map(weight).sum::<f64>();
    let max_len = ((opts.max_time_fraction * t_n as f64).floor() as usize).clamp(1, t_n);
    let xlnx = |a: f64, b: f64| if a > 0.0 { a * (a / b).ln() } else { 0.0 };
    let pt = |i: usize| Point::new(d.lon[i], d.lat[i]);
    let mut all: Vec<Brute> = Vec::new();
    for i in 0..n {
        let dist: Vec<f64> = (0..n).map(|j| Haversine.distance(pt(i), pt(j))).collect();
        let mut radii = dist.clone();
        radii.sort_by(f64::total_cmp);
        radii.dedup();
        for r in radii {
            let members: BTreeSet<usize> = (0..n).filter(|j| dist[*j] <= r).collect();
            if members.iter().map(|j| weight(*j)).sum::<f64>() > limit {
                break;
            }
            for start in 0..t_n {
                for end in start..(start + max_len).min(t_n) {
                    let sum = |v: &[f64]| -> f64 {
                        members
                            .iter()
                            .map(|j| (start..=end).map(|t| cell(v, *j, t)).sum::<f64>())
                            .sum()
                    };
                    let c = sum(&d.cases);
                    let (mu, llr) = match opts.model {
                        StModel::Poisson | StModel::Permutation => {
                            let mu = if opts.model == StModel::Poisson {
                                big_c * sum(&d.population) / big_n
                            } else {
                                // Σ over the cells of C_z · C_d, then / C.
                                members
                                    .iter()
                                    .map(|j| {
                                        (start..=end).map(|t| loc_c(*j) * month_c(t)).sum::<f64>()
                                    })
                                    .sum::<f64>()
                                    / big_c
                            };
                            let llr = if c > mu {
                                c * (c / mu).ln()
                                    + if big_c > c {
                                        (big_c - c) * ((big_c - c) / (big_c - mu)).ln()
                                    } else {
                                        0.0
                                    }
                            } else {
                                0.0
                            };
                            (mu, llr)
                        }
                        StModel::Bernoulli => {
                            let p = sum(&d.population);
                            let llr = if c / p > (big_c - c) / (big_n - p) {
                                xlnx(c, p)
                                    + xlnx(p - c, p)
                                    + xlnx(big_c - c, big_n - p)
                                    + xlnx(big_n - p - (big_c - c), big_n - p)
                                    - xlnx(big_c, big_n)
                                    - xlnx(big_n - big_c, big_n)
                            } else {
                                0.0
                            };
                            (big_c * p / big_n, llr)
                        }
                    };
                    if llr > 0.0 {
                        all.push(Brute {
                            llr,
                            centre: i,
                            members: members.clone(),
                            start,
                            end,
                            observed: c,
                            expected: mu,
                        });
                    }
                }
            }
        }
    }
    let mut reported: Vec<Brute> = Vec::new();
    while reported.len() < opts.max_clusters {
        let best = all
            .iter()
            .filter(|w| reported.iter().all(|r| r.members.is_disjoint(&w.members)))
            .max_by(|a, b| {
                a.llr
                    .total_cmp(&b.llr)
                    .then_with(|| b.centre.cmp(&a.centre))
                    .then_with(|| b.members.len().cmp(&a.members.len()))
                    .then_with(|| b.start.cmp(&a.start))
                    .then_with(|| b.end.cmp(&a.end))
            });
        let Some(w) = best else { break };
        reported.push(w.clone());
    }
    reported
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Whole trials with successes ≤ trials for Bernoulli: the fixture already is.
fn compare_with_brute_force(data: &StData, model: StModel) {
    let opts = StOptions {
        model,
        replications: 19,
        max_clusters: 5,
        ..StOptions::default()
    };
    let ours = scan(data, &opts).unwrap();
    let brute = brute_force(data, &opts);
    assert!(!brute.is_empty());
    assert_eq!(ours.len(), brute.len(), "{model:?}: number of clusters");
    for (o, b) in ours.iter().zip(&brute) {
        let what = format!("{model:?} cluster {}", o.rank);
        assert_eq!(o.center, b.centre, "{what}");
        let members: BTreeSet<usize> = o.members.iter().copied().collect();
        assert_eq!(members, b.members, "{what}");
        assert_eq!((o.start, o.end), (b.start, b.end), "{what}");
        assert_eq!(o.observed, b.observed, "{what}");
        assert!(
            close(o.expected, b.expected),
            "{what}: {} vs {}",
            o.expected,
            b.expected
        );
        assert!(close(o.llr, b.llr), "{what}: {} vs {}", o.llr, b.llr);
    }
}

#[test]
fn the_poisson_space_time_scan_finds_the_same_clusters_as_a_brute_force_search() {
    compare_with_brute_force(&fixture(12, 6, 0.05, 2..=3, 1), StModel::Poisson);
    compare_with_brute_force(&fixture(40, 12, 0.04, 5..=7, 11), StModel::Poisson);
}

#[test]
fn the_bernoulli_space_time_scan_finds_the_same_clusters_as_a_brute_force_search() {
    compare_with_brute_force(&fixture(12, 6, 0.05, 2..=3, 2), StModel::Bernoulli);
    compare_with_brute_force(&fixture(40, 12, 0.04, 5..=7, 12), StModel::Bernoulli);
}

#[test]
fn the_permutation_space_time_scan_finds_the_same_clusters_as_a_brute_force_search() {
    compare_with_brute_force(&fixture(12, 6, 0.05, 2..=3, 3), StModel::Permutation);
    compare_with_brute_force(&fixture(40, 12, 0.04, 5..=7, 13), StModel::Permutation);
}

#[test]
fn a_planted_space_time_cluster_is_the_most_likely_one_and_significant() {
    let data = fixture(60, 12, 0.06, 6..=8, 4);
    for model in [StModel::Poisson, StModel::Bernoulli, StModel::Permutation] {
        let opts = StOptions {
            model,
            replications: 199,
            ..StOptions::default()
        };
        let clusters = scan(&data, &opts).unwrap();
        let first = &clusters[0];
        assert_eq!(first.rank, 1);
        let c = first.center;
        assert!(
            (data.lon[c] - 81.0).hypot(data.lat[c] - 43.75) < 0.2,
            "{model:?}: centre {c}"
        );
        assert!(first.start >= 5 && first.end <= 9, "{model:?}: {first:?}");
        assert!(first.relative_risk > 2.0, "{model:?}: {first:?}");
        assert!(first.p_value.unwrap() <= 0.01, "{model:?}: {first:?}");
        // p = rank / (R + 1): a multiple of 1/200.
        let p = first.p_value.unwrap() * 200.0;
        assert!((p - p.round()).abs() < 1e-9);
        // Secondary clusters share no location with an earlier one and rank down by LLR.
        let mut seen = BTreeSet::new();
        for (k, c) in clusters.iter().enumerate() {
            assert_eq!(c.rank, k + 1);
            assert!(k == 0 || clusters[k - 1].llr >= c.llr);
            assert!(c.end - c.start < 6, "at most half of the 12 months");
            for m in &c.members {
                assert!(seen.insert(*m));
            }
            let total_c: f64 = data.cases.iter().sum();
            let rr = (c.observed / c.expected) / ((total_c - c.observed) / (total_c - c.expected));
            assert!(close(c.relative_risk, rr));
            assert_eq!(c.members[0], c.center);
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_p_values_and_a_radius_limit_holds() {
    let data = fixture(50, 8, 0.05, 3..=4, 5);
    let opts = StOptions {
        replications: 99,
        max_radius_km: Some(8.0),
        ..StOptions::default()
    };
    let a = scan(&data, &opts).unwrap();
    let b = scan(&data, &opts).unwrap();
    assert_eq!(a, b);
    assert!(!a.is_empty());
    for c in &a {
        assert!(c.radius_km <= 8.0, "{c:?}");
    }
}

#[test]
fn bad_inputs_and_options_are_refused_with_what_is_wrong() {
    let mut data = fixture(5, 4, 0.05, 0..=1, 6);
    let opts = StOptions::default();
    let too_long = StOptions {
        max_time_fraction: 1.5,
        ..opts
    };
    let e = scan(&data, &too_long).unwrap_err().to_string();
    assert_eq!(e, "max-time-fraction: 1.5 is not in (0, 1]");
    data.cases[2] = 1.5;
    let e = scan(&data, &opts).unwrap_err().to_string();
    assert_eq!(
        e,
        "row 1, count: month 3: 1.5 is not a whole number of cases"
    );
    data.cases[2] = 300.0;
    let bernoulli = StOptions {
        model: StModel::Bernoulli,
        ..opts
    };
    let e = scan(&data, &bernoulli).unwrap_err().to_string();
    assert!(
        e.starts_with("row 1, count: month 3: 300 cases exceed the"),
        "{e}"
    );
    data.population.pop();
    let e = scan(&data, &opts).unwrap_err().to_string();
    assert_eq!(e, "population: 19 values, not 5 locations × 4 months");
    // The permutation model needs no population.
    data.population.clear();
    let perm = StOptions {
        model: StModel::Permutation,
        replications: 9,
        ..opts
    };
    let clusters = scan(&data, &perm).unwrap();
    assert!(clusters.iter().all(|c| c.population == 0.0));
}

#[test]
fn p_values_count_the_replications_whose_brute_force_maximum_is_as_high() {
    // The replications' maxima (found with every bound and pruning) against the brute-force
    // maxima of the same simulated data sets (same streams), for each model.
    for (k, model) in [StModel::Poisson, StModel::Bernoulli, StModel::Permutation]
        .into_iter()
        .enumerate()
    {
        let data = fixture(30, 10, 0.04, 4..=5, 20 + k as u64);
        let opts = StOptions {
            model,
            replications: 19,
            max_clusters: 3,
            ..StOptions::default()
        };
        let ours = scan(&data, &opts).unwrap();
        let (n, t_n) = (data.ids.len(), data.months);
        let total_c: f64 = data.cases.iter().sum();
        let null = match model {
            StModel::Permutation => {
                let (mut locations, mut months) = (Vec::new(), Vec::new());
                for i in 0..n {
                    for t in 0..t_n {
                        for _ in 0..data.cases[i * t_n + t] as u64 {
                            locations.push(i as u32);
                            months.push(t as u32);
                        }
                    }
                }
                Null::Permutation { locations, months }
            }
            _ => {
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
        };
        let maxima: Vec<f64> = (0..19u64)
            .map(|r| {
                let mut sim = data.clone();
                let mut rng = rng_stream(opts.seed, SPACE_TIME_STREAMS + r);
                null.replicate(&mut rng, total_c as u64, t_n, &mut sim.cases);
                if model == StModel::Permutation {
                    // The margins are kept.
                    let months =
                        |d: &StData, t: usize| (0..n).map(|i| d.cases[i * t_n + t]).sum::<f64>();
                    assert!((0..t_n).all(|t| months(&sim, t) == months(&data, t)));
                }
                assert_eq!(sim.cases.iter().sum::<f64>(), total_c);
                let one = StOptions {
                    max_clusters: 1,
                    ..opts
                };
                brute_force(&sim, &one).first().map_or(0.0, |b| b.llr)
            })
            .collect();
        for c in &ours {
            let at_least = maxima
                .iter()
                .filter(|m| **m >= c.llr * (1.0 - 1e-12))
                .count();
            assert_eq!(
                c.p_value,
                Some((at_least + 1) as f64 / 20.0),
                "{model:?} cluster {}",
                c.rank
            );
        }
    }
}
