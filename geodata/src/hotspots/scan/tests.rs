use std::collections::BTreeSet;

use rand::{RngExt, SeedableRng};

use super::*;

/// Locations scattered over the Qapqal area with whole populations; cases at a base rate,
/// and at `hot_rate` within 0.1° of (81.0, 43.75).
fn fixture(n: usize, hot_rate: f64, seed: u64) -> Vec<Location> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let lon = rng.random_range(80.5..81.7);
            let lat = rng.random_range(43.3..43.95);
            let population = f64::from(rng.random_range(20u32..400));
            let hot = (lon - 81.0f64).hypot(lat - 43.75) < 0.1;
            let rate = if hot { hot_rate } else { 0.01 };
            // Binomial(population, rate), by Bernoulli trials.
            let count = (0..population as u32)
                .filter(|_| rng.random::<f64>() < rate)
                .count() as f64;
            Location {
                id: format!("v{i:03}"),
                lon,
                lat,
                count,
                population,
            }
        })
        .collect()
}

/// The same scan, written the obvious way: every circle centred on a location with a radius
/// equal to the distance to some location, every window under the population limit, the LLR
/// by the textbook formulas, and the non-overlapping selection by brute force.
struct BruteCluster {
    centre: usize,
    members: BTreeSet<usize>,
    observed: f64,
    expected: f64,
    llr: f64,
}

fn brute_force(locs: &[Location], model: Model, fraction: f64, max: usize) -> Vec<BruteCluster> {
    let n = locs.len();
    let big_n: f64 = locs.iter().map(|l| l.population).sum();
    let big_c: f64 = locs.iter().map(|l| l.count).sum();
    let xlnx = |a: f64, b: f64| if a > 0.0 { a * (a / b).ln() } else { 0.0 };
    let llr = |c: f64, p: f64| -> f64 {
        match model {
            Model::Poisson => {
                let e = big_c * p / big_n;
                if c > e {
                    c * (c / e).ln()
                        + if big_c > c {
                            (big_c - c) * ((big_c - c) / (big_c - e)).ln()
                        } else {
                            0.0
                        }
                } else {
                    0.0
                }
            }
            Model::Bernoulli => {
                if c / p > (big_c - c) / (big_n - p) {
                    let l1 = xlnx(c, p)
                        + xlnx(p - c, p)
                        + xlnx(big_c - c, big_n - p)
                        + xlnx(big_n - p - (big_c - c), big_n - p);
                    let l0 = xlnx(big_c, big_n) + xlnx(big_n - big_c, big_n);
                    l1 - l0
                } else {
                    0.0
                }
            }
        }
    };
    let pt = |l: &Location| Point::new(l.lon, l.lat);
    // (llr, centre, size, members)
    let mut windows: Vec<(f64, usize, usize, BTreeSet<usize>, f64, f64)> = Vec::new();
    for i in 0..n {
        let d: Vec<f64> = locs
            .iter()
            .map(|l| Haversine.distance(pt(&locs[i]), pt(l)))
            .collect();
        let mut radii = d.clone();
        radii.sort_by(f64::total_cmp);
        radii.dedup();
        for r in radii {
            let members: BTreeSet<usize> = (0..n).filter(|j| d[*j] <= r).collect();
            let p: f64 = members.iter().map(|j| locs[*j].population).sum();
            if p > fraction * big_n {
                break;
            }
            let c: f64 = members.iter().map(|j| locs[*j].count).sum();
            let l = llr(c, p);
            if l > 0.0 {
                windows.push((l, i, members.len(), members, c, big_c * p / big_n));
            }
        }
    }
    let mut reported: Vec<BruteCluster> = Vec::new();
    while reported.len() < max {
        let best = windows
            .iter()
            .filter(|w| reported.iter().all(|r| r.members.is_disjoint(&w.3)))
            .max_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then_with(|| b.1.cmp(&a.1))
                    .then_with(|| b.2.cmp(&a.2))
            });
        let Some(w) = best else { break };
        reported.push(BruteCluster {
            centre: w.1,
            members: w.3.clone(),
            observed: w.4,
            expected: w.5,
            llr: w.0,
        });
    }
    reported
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn compare_with_brute_force(locs: &[Location], model: Model) {
    let opts = ScanOptions {
        model,
        replications: 99,
        max_clusters: 5,
        ..ScanOptions::default()
    };
    let ours = scan(locs, &opts).unwrap();
    let brute = brute_force(locs, model, opts.max_population_fraction, opts.max_clusters);
    assert_eq!(ours.len(), brute.len(), "{model:?}: number of clusters");
    for (o, b) in ours.iter().zip(&brute) {
        assert_eq!(o.center, b.centre, "{model:?} cluster {}", o.rank);
        let members: BTreeSet<usize> = o.members.iter().copied().collect();
        assert_eq!(members, b.members, "{model:?} cluster {}", o.rank);
        assert_eq!(o.observed, b.observed);
        assert!(close(o.expected, b.expected));
        assert!(close(o.llr, b.llr), "{} vs {}", o.llr, b.llr);
    }
}

#[test]
fn the_poisson_scan_finds_the_same_clusters_as_a_brute_force_search() {
    compare_with_brute_force(&fixture(120, 0.06, 1), Model::Poisson);
}

#[test]
fn the_bernoulli_scan_finds_the_same_clusters_as_a_brute_force_search() {
    compare_with_brute_force(&fixture(120, 0.06, 2), Model::Bernoulli);
}

#[test]
fn the_planted_cluster_is_the_most_likely_one_and_significant() {
    let locs = fixture(150, 0.08, 3);
    let clusters = scan(&locs, &ScanOptions::default()).unwrap();
    let first = &clusters[0];
    assert_eq!(first.rank, 1);
    let c = &locs[first.center];
    assert!((c.lon - 81.0).hypot(c.lat - 43.75) < 0.15);
    assert!(first.relative_risk > 3.0);
    assert!(first.p_value.unwrap() <= 0.01);
    // p = rank / (R + 1): a multiple of 1/1000.
    let p = first.p_value.unwrap() * 1000.0;
    assert!((p - p.round()).abs() < 1e-9);
    // Secondary clusters share no location with an earlier one, and rank down by LLR.
    for (a, b) in clusters.iter().zip(clusters.iter().skip(1)) {
        assert!(a.llr >= b.llr);
    }
    let mut seen = BTreeSet::new();
    for c in &clusters {
        for m in &c.members {
            assert!(seen.insert(*m));
        }
    }
}

#[test]
fn relative_risk_and_radius_follow_their_definitions() {
    let locs = fixture(80, 0.08, 4);
    let total_c: f64 = locs.iter().map(|l| l.count).sum();
    for c in scan(&locs, &ScanOptions::default()).unwrap() {
        let rr = (c.observed / c.expected) / ((total_c - c.observed) / (total_c - c.expected));
        assert!(close(c.relative_risk, rr));
        let centre = Point::new(locs[c.center].lon, locs[c.center].lat);
        let far = c
            .members
            .iter()
            .map(|j| Haversine.distance(centre, Point::new(locs[*j].lon, locs[*j].lat)))
            .fold(0.0, f64::max);
        assert!(close(c.radius_km, far / 1000.0) || far == 0.0);
        assert_eq!(c.members[0], c.center);
    }
}

#[test]
fn monte_carlo_p_values_are_the_same_for_a_seed_whatever_the_number_of_threads() {
    let locs = fixture(100, 0.04, 5);
    for model in [Model::Poisson, Model::Bernoulli] {
        let opts = ScanOptions {
            model,
            replications: 199,
            ..ScanOptions::default()
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| scan(&locs, &opts).unwrap())
        };
        assert_eq!(run(1), run(4));
    }
}

#[test]
fn co_located_locations_enter_a_window_together() {
    let at = |id: &str, lon: f64, count: f64| Location {
        id: id.into(),
        lon,
        lat: 43.7,
        count,
        population: 100.0,
    };
    // Two locations at the same point; the first alone would be the best window.
    let mut locs = vec![at("a", 81.0, 20.0), at("b", 81.0, 0.0)];
    locs.extend((0..10).map(|i| at(&format!("o{i}"), 81.1 + 0.01 * f64::from(i), 1.0)));
    let clusters = scan(
        &locs,
        &ScanOptions {
            replications: 0,
            ..ScanOptions::default()
        },
    )
    .unwrap();
    let members: BTreeSet<usize> = clusters[0].members.iter().copied().collect();
    assert!(members.contains(&0) && members.contains(&1));
    assert_eq!(clusters[0].radius_km, 0.0);
    assert_eq!(clusters[0].p_value, None);
}

#[test]
fn bad_locations_are_errors_naming_the_row_and_field() {
    let good = Location {
        id: "a".into(),
        lon: 81.0,
        lat: 43.7,
        count: 5.0,
        population: 10.0,
    };
    let opts = ScanOptions {
        model: Model::Bernoulli,
        ..ScanOptions::default()
    };
    let over = Location {
        id: "b".into(),
        count: 11.0,
        ..good.clone()
    };
    assert!(matches!(
        scan(&[good.clone(), over], &opts),
        Err(HotspotError::InvalidValue {
            row: 2,
            field: Field::Count,
            ..
        })
    ));
    assert!(matches!(
        scan(&[good.clone(), good.clone()], &opts),
        Err(HotspotError::InvalidValue {
            row: 2,
            field: Field::Id,
            ..
        })
    ));
    let half = Location {
        count: 1.5,
        ..good.clone()
    };
    assert!(matches!(
        scan(&[half], &ScanOptions::default()),
        Err(HotspotError::InvalidValue {
            row: 1,
            field: Field::Count,
            ..
        })
    ));
    assert!(matches!(scan(&[], &opts), Err(HotspotError::Empty)));
    let wide = ScanOptions {
        max_population_fraction: 1.5,
        ..ScanOptions::default()
    };
    assert!(scan(&[good], &wide).is_err());
}

#[test]
fn no_cases_means_no_cluster() {
    let locs: Vec<Location> = fixture(30, 0.0, 6)
        .into_iter()
        .map(|l| Location { count: 0.0, ..l })
        .collect();
    assert!(scan(&locs, &ScanOptions::default()).unwrap().is_empty());
}

#[test]
fn the_poisson_llr_is_the_textbook_formula() {
    // C = 20, N = 1000; a window of population 100 with 8 cases: E = 2.
    let l = llr(Model::Poisson, 8.0, 100.0, 20.0, 1000.0);
    let expected = 8.0 * (8.0f64 / 2.0).ln() + 12.0 * (12.0f64 / 18.0).ln();
    assert!(close(l, expected));
    assert_eq!(llr(Model::Poisson, 2.0, 100.0, 20.0, 1000.0), 0.0);
}

/// Random locations with ties: every fifth one at the position of an earlier one (equidistant
/// groups), about one in twelve with a population of 0 (and so no case), whole populations
/// (Bernoulli trials), and cases at a base rate with a hot spot at `hot_rate`; `lattice` puts
/// the locations on a 0.01° grid instead (many equal distances between distinct points).
fn tied_fixture(n: usize, hot_rate: f64, seed: u64, lattice: bool) -> Vec<Location> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut locs: Vec<Location> = Vec::with_capacity(n);
    for i in 0..n {
        let (lon, lat) = if lattice {
            let side = (n as f64).sqrt().ceil() as usize;
            (
                80.9 + 0.01 * (i % side) as f64,
                43.6 + 0.01 * (i / side) as f64,
            )
        } else if i > 0 && i % 5 == 0 {
            let k = rng.random_range(0..i);
            (locs[k].lon, locs[k].lat)
        } else {
            (rng.random_range(80.5..81.7), rng.random_range(43.3..43.95))
        };
        let population = if rng.random_range(0..12) == 0 {
            0.0
        } else {
            f64::from(rng.random_range(1u32..300))
        };
        let hot = (lon - 81.0f64).hypot(lat - 43.75) < 0.12;
        let rate = if hot { hot_rate } else { 0.01 };
        let count = (0..population as u32)
            .filter(|_| rng.random::<f64>() < rate)
            .count() as f64;
        locs.push(Location {
            id: format!("t{i}"),
            lon,
            lat,
            count,
            population,
        });
    }
    locs
}

/// Equal clusters, every f64 equal bit for bit.
fn assert_identical(ours: &[Cluster], reference: &[Cluster], what: &str) {
    assert_eq!(ours, reference, "{what}");
    for (a, b) in ours.iter().zip(reference) {
        for (x, y) in [
            (a.radius_km, b.radius_km),
            (a.population, b.population),
            (a.observed, b.observed),
            (a.expected, b.expected),
            (a.relative_risk, b.relative_risk),
            (a.llr, b.llr),
            (a.p_value.unwrap_or(-1.0), b.p_value.unwrap_or(-1.0)),
        ] {
            assert_eq!(x.to_bits(), y.to_bits(), "{what}: {x} vs {y}");
        }
    }
}

fn assert_same_as_reference(locs: &[Location], opts: &ScanOptions, what: &str) {
    let ours = scan(locs, opts).unwrap();
    let reference = reference::scan(locs, opts).unwrap();
    assert_identical(&ours, &reference, what);
}

#[test]
fn the_scan_gives_the_same_clusters_as_the_reference_on_the_fixtures() {
    for (n, hot, seed) in [
        (120, 0.06, 1),
        (150, 0.08, 3),
        (80, 0.08, 4),
        (100, 0.04, 5),
    ] {
        let locs = fixture(n, hot, seed);
        for model in [Model::Poisson, Model::Bernoulli] {
            for radius in [None, Some(8.0)] {
                let opts = ScanOptions {
                    model,
                    max_radius_km: radius,
                    replications: 99,
                    seed,
                    ..ScanOptions::default()
                };
                assert_same_as_reference(&locs, &opts, &format!("fixture {seed} {opts:?}"));
            }
        }
    }
}

#[test]
fn the_scan_gives_the_same_clusters_as_the_reference_with_ties_and_options() {
    let mut runs = 0;
    for seed in 0..6u64 {
        let n = [40, 90, 150, 61, 200, 33][seed as usize];
        let hot = [0.01, 0.03, 0.08, 0.2, 0.05, 0.5][seed as usize];
        let locs = tied_fixture(n, hot, 100 + seed, seed % 3 == 2);
        assert!(locs.iter().any(|l| l.population == 0.0), "seed {seed}");
        for model in [Model::Poisson, Model::Bernoulli] {
            for fraction in [0.1, 0.25, 0.5, 0.75, 1.0] {
                for radius in [None, Some(3.0), Some(25.0)] {
                    let opts = ScanOptions {
                        model,
                        max_population_fraction: fraction,
                        max_radius_km: radius,
                        // Not a multiple of the batch: the last batch is partial.
                        replications: 37,
                        seed: 7 + seed,
                        max_clusters: 5,
                    };
                    assert_same_as_reference(&locs, &opts, &format!("seed {seed} {opts:?}"));
                    runs += 1;
                }
            }
        }
    }
    assert_eq!(runs, 6 * 2 * 5 * 3);
}

#[test]
fn the_scan_gives_the_same_answer_as_the_reference_in_corner_cases() {
    let poisson = ScanOptions {
        replications: 19,
        ..ScanOptions::default()
    };
    let one = |count: f64, population: f64| Location {
        id: "a".into(),
        lon: 81.0,
        lat: 43.7,
        count,
        population,
    };
    // No case at all, a single location, every case in one location, all at one point.
    let mut no_cases = tied_fixture(50, 0.1, 3, false);
    no_cases.iter_mut().for_each(|l| l.count = 0.0);
    let mut one_hot = tied_fixture(60, 0.0, 4, false);
    one_hot.iter_mut().for_each(|l| l.count = 0.0);
    one_hot[7].population = 50.0;
    one_hot[7].count = 30.0;
    let mut one_point = tied_fixture(30, 0.2, 5, false);
    one_point
        .iter_mut()
        .for_each(|l| (l.lon, l.lat) = (81.0, 43.7));
    for (name, locs) in [
        ("no cases", no_cases),
        ("one location", vec![one(3.0, 10.0)]),
        ("one hot location", one_hot),
        ("one point", one_point),
    ] {
        for model in [Model::Poisson, Model::Bernoulli] {
            for fraction in [0.5, 1.0] {
                let opts = ScanOptions {
                    model,
                    max_population_fraction: fraction,
                    ..poisson
                };
                assert_same_as_reference(&locs, &opts, &format!("{name} {opts:?}"));
            }
        }
    }
}

/// The replications' maxima themselves, bit for bit: each batch lane against the
/// one-replication search on the same simulated counts, dense (many cases) and sparse.
#[test]
fn batched_replication_maxima_are_the_one_replication_maxima() {
    for (locs, model, fraction, radius) in [
        (fixture(150, 0.08, 3), Model::Poisson, 0.5, None),
        (
            tied_fixture(120, 0.05, 9, false),
            Model::Bernoulli,
            0.5,
            None,
        ),
        (
            tied_fixture(100, 0.3, 10, true),
            Model::Poisson,
            1.0,
            Some(4.0),
        ),
        (
            tied_fixture(140, 0.02, 11, false),
            Model::Bernoulli,
            0.9,
            Some(30.0),
        ),
    ] {
        let points: Vec<Point<f64>> = locs.iter().map(|l| Point::new(l.lon, l.lat)).collect();
        let populations: Vec<f64> = locs.iter().map(|l| l.population).collect();
        let total_n: f64 = populations.iter().sum();
        let total_c: f64 = locs.iter().map(|l| l.count).sum();
        let windows = Windows::build(
            &points,
            &populations,
            fraction * total_n,
            radius.map(|r: f64| r * 1000.0),
        );
        let scanner = Scanner {
            model,
            windows: &windows,
            populations: &populations,
            total_c,
            total_n,
        };
        let mut cum = populations.clone();
        for i in 1..cum.len() {
            cum[i] += cum[i - 1];
        }
        let mut sim = vec![0.0; locs.len()];
        for lanes in [BATCH, 5] {
            let mut counts = vec![[0u32; BATCH]; locs.len()];
            let mut expected = Vec::new();
            for k in 0..lanes {
                let mut rng = rng_stream(42, SCAN_STREAMS + k as u64);
                replicate(&mut rng, model, total_c as u64, &cum, &mut sim);
                for (row, s) in counts.iter_mut().zip(&sim) {
                    row[k] = *s as u32;
                }
                expected.push(scanner.max_llr(&sim));
            }
            let got = scanner.max_llr_batch(&counts, lanes);
            for k in 0..lanes {
                assert_eq!(
                    got[k].to_bits(),
                    expected[k].to_bits(),
                    "{model:?} lane {k}"
                );
            }
            assert!(expected.iter().all(|m| *m > 0.0));
        }
    }
}

#[test]
fn the_sphere_distances_are_geos_haversine_distances_bit_for_bit() {
    let mut locs = tied_fixture(300, 0.05, 12, false);
    locs.extend(tied_fixture(50, 0.05, 13, true));
    locs.push(Location {
        id: "far".into(),
        lon: -179.9,
        lat: -89.5,
        count: 0.0,
        population: 1.0,
    });
    let points: Vec<Point<f64>> = locs.iter().map(|l| Point::new(l.lon, l.lat)).collect();
    let sphere = Sphere::new(&points);
    for a in 0..points.len() {
        for b in 0..points.len() {
            let d = sphere.distance(a, b);
            assert_eq!(
                d.to_bits(),
                Haversine.distance(points[a], points[b]).to_bits()
            );
            assert!(d.is_sign_positive() && !d.is_nan());
        }
    }
}

/// The benchmark input (bench/scan.sh) against the reference, 999 replications: run by hand,
/// `ECHINOMAP_SCAN_CSV=locations_N.csv cargo test --release -p echinomap-geodata --lib --
/// --ignored scan_matches_the_reference_on_a_csv --nocapture` (the reference takes minutes
/// at 10,000 locations). Prints both times for docs/BENCHMARKS.md; asserts only equality.
#[test]
#[ignore = "by hand: needs ECHINOMAP_SCAN_CSV, minutes of CPU"]
fn scan_matches_the_reference_on_a_csv() {
    let path = std::env::var("ECHINOMAP_SCAN_CSV").expect("ECHINOMAP_SCAN_CSV");
    let mut locs = Vec::new();
    for row in csv::Reader::from_path(&path).unwrap().records() {
        let row = row.unwrap();
        let f = |i: usize| row[i].parse::<f64>().unwrap();
        locs.push(Location {
            id: row[0].to_string(),
            lon: f(1),
            lat: f(2),
            population: f(3),
            count: f(4),
        });
    }
    let opts = ScanOptions {
        seed: 1,
        ..ScanOptions::default()
    };
    let t = std::time::Instant::now();
    let ours = scan(&locs, &opts).unwrap();
    let ours_s = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let reference = reference::scan(&locs, &opts).unwrap();
    let reference_s = t.elapsed().as_secs_f64();
    println!(
        "n={} clusters={} ours_s={ours_s:.2} reference_s={reference_s:.2}",
        locs.len(),
        ours.len()
    );
    assert_identical(&ours, &reference, &path);
}
