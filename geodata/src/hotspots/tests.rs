use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

fn nb(lists: &[&[usize]]) -> Neighbours {
    let lists: Vec<Vec<usize>> = lists.iter().map(|l| l.to_vec()).collect();
    Neighbours::from_lists(&lists).unwrap()
}

/// A place at the centre of `cell`.
fn place_in(cell: CellIndex, count: f64, population: f64) -> Place {
    let ll = LatLng::from(cell);
    Place {
        lon: ll.lng(),
        lat: ll.lat(),
        count,
        population,
    }
}

fn res(r: u8) -> Resolution {
    resolution(r).unwrap()
}

#[test]
fn aggregation_adds_up_the_places_of_a_cell_and_orders_cells_by_index() {
    let a = LatLng::new(43.8, 81.1).unwrap().to_cell(res(7));
    let b = LatLng::new(43.5, 80.7).unwrap().to_cell(res(7));
    let places = [
        place_in(b, 1.0, 10.0),
        place_in(a, 2.0, 20.0),
        place_in(b, 3.0, 30.0),
    ];
    let cells = aggregate(&places, res(7)).unwrap();
    assert_eq!(cells.len(), 2);
    assert!(cells[0].cell < cells[1].cell);
    let cb = cells.iter().find(|c| c.cell == b).unwrap();
    assert_eq!((cb.n_points, cb.count, cb.population), (2, 4.0, 40.0));
    assert_eq!(cell_hex(a), format!("{:x}", u64::from(a)));
    assert!(cell_hex(a).chars().all(|c| !c.is_ascii_uppercase()));
}

#[test]
fn a_negative_population_is_an_error_naming_its_row_and_field() {
    let places = [
        Place {
            lon: 81.0,
            lat: 43.7,
            count: 0.0,
            population: 5.0,
        },
        Place {
            lon: 81.0,
            lat: 43.7,
            count: 0.0,
            population: -5.0,
        },
    ];
    let err = aggregate(&places, res(7)).unwrap_err();
    assert!(matches!(
        err,
        HotspotError::InvalidValue {
            row: 2,
            field: Field::Population,
            ..
        }
    ));
    assert_eq!(err.to_string(), "row 2, population: -5 is negative");
}

#[test]
fn coordinates_out_of_range_and_non_finite_values_are_errors_naming_the_row() {
    let good = Place {
        lon: 81.0,
        lat: 43.7,
        count: 1.0,
        population: 5.0,
    };
    let err = aggregate(&[good, Place { lat: 95.0, ..good }], res(7)).unwrap_err();
    assert!(matches!(
        err,
        HotspotError::InvalidValue {
            row: 2,
            field: Field::Lat,
            ..
        }
    ));
    let err = aggregate(&[Place { lon: 200.0, ..good }], res(7)).unwrap_err();
    assert!(matches!(
        err,
        HotspotError::InvalidValue {
            row: 1,
            field: Field::Lon,
            ..
        }
    ));
    let err = aggregate(
        &[Place {
            count: f64::NAN,
            ..good
        }],
        res(7),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        HotspotError::InvalidValue {
            field: Field::Count,
            ..
        }
    ));
}

#[test]
fn an_empty_input_a_bad_resolution_and_a_cell_without_population_are_errors() {
    assert!(matches!(aggregate(&[], res(7)), Err(HotspotError::Empty)));
    assert!(matches!(
        resolution(16),
        Err(HotspotError::InvalidResolution(16))
    ));
    let p = Place {
        lon: 81.0,
        lat: 43.7,
        count: 0.0,
        population: 0.0,
    };
    assert!(matches!(
        aggregate(&[p], res(7)),
        Err(HotspotError::ZeroPopulationCell { row: 1, .. })
    ));
}

#[test]
fn neighbours_are_the_other_occupied_cells_of_the_grid_disk() {
    let centre = LatLng::new(43.7, 81.0).unwrap().to_cell(res(8));
    let ring1: Vec<CellIndex> = centre.grid_ring_fast(1).flatten().collect();
    let ring2: Vec<CellIndex> = centre.grid_ring_fast(2).flatten().collect();
    let far = LatLng::new(43.4, 80.6).unwrap().to_cell(res(8));
    let mut cells = vec![centre, ring1[0], ring1[3], ring2[0], far];
    cells.sort_unstable();
    let pos = |c: CellIndex| cells.iter().position(|x| *x == c).unwrap();
    let k1 = Neighbours::from_grid(&cells, 1);
    assert_eq!(k1.count(pos(centre)), 2);
    assert_eq!(k1.count(pos(far)), 0);
    assert!(!k1.of(pos(centre)).contains(&(pos(centre) as u32)));
    let k2 = Neighbours::from_grid(&cells, 2);
    assert_eq!(k2.count(pos(centre)), 3);
    // Symmetric, ascending.
    for i in 0..cells.len() {
        assert!(k2.of(i).windows(2).all(|w| w[0] < w[1]));
        for j in k2.of(i) {
            assert!(k2.of(*j as usize).contains(&(i as u32)));
        }
    }
}

#[test]
fn neighbour_lists_that_point_outside_or_at_themselves_are_refused() {
    assert!(Neighbours::from_lists(&[vec![1], vec![2]]).is_err());
    assert!(Neighbours::from_lists(&[vec![0]]).is_err());
    assert!(Neighbours::from_lists(&[vec![1, 1], vec![0]]).is_err());
}

#[test]
fn global_eb_shrinks_rates_by_the_between_cell_variance_as_computed_by_hand() {
    // m = 10/200 = 0.05; rates 0 and 0.1; A = (100·0.0025·2)/200 − 0.05/100 = 0.002;
    // shrinkage A / (A + m/pop) = 0.002 / 0.0025 = 0.8.
    let (prior, eb) = global_eb(&[0.0, 10.0], &[100.0, 100.0]);
    assert!(close(prior.m, 0.05));
    assert!(close(prior.a, 0.002));
    assert!(close(eb[0], 0.01));
    assert!(close(eb[1], 0.09));
}

#[test]
fn a_negative_between_cell_variance_is_clamped_and_every_rate_becomes_the_mean() {
    // m = 0.15; Σpop(r − m)²/Σpop = 0.0075 < m/mean pop = 0.01125.
    let (prior, eb) = global_eb(&[0.0, 2.0, 4.0], &[10.0, 10.0, 20.0]);
    assert_eq!(prior.a, 0.0);
    assert!(eb.iter().all(|v| close(*v, 0.15)));
}

#[test]
fn spatial_eb_uses_the_closed_neighbourhood_and_gives_zero_where_there_are_no_cases() {
    let counts = [0.0, 10.0, 0.0, 0.0];
    let pops = [100.0, 100.0, 50.0, 50.0];
    // 0–1 neighbours; 2–3 neighbours, without cases.
    let n = nb(&[&[1], &[0], &[3], &[2]]);
    let seb = spatial_eb(&counts, &pops, &n);
    assert!(close(seb[0], 0.01));
    assert!(close(seb[1], 0.09));
    assert_eq!(seb[2], 0.0);
    assert_eq!(seb[3], 0.0);
    // An island is its own neighbourhood: A = 0 − r/pop < 0, clamped, so its rate stays.
    let seb = spatial_eb(&[3.0], &[30.0], &nb(&[&[]]));
    assert!(close(seb[0], 0.1));
}

/// Path 0 – 1 – 2 with x = [1, 2, 6]: x̄ = 3, S² = 14/3.
fn path3() -> (Vec<f64>, Neighbours) {
    (vec![1.0, 2.0, 6.0], nb(&[&[1], &[0, 2], &[1]]))
}

#[test]
fn gi_star_follows_the_ord_getis_formula_on_a_hand_computed_path() {
    let (x, n) = path3();
    let z = gi_star(&x, &n);
    let s = (14.0f64 / 3.0).sqrt();
    // Cell 0: W = 2, Σ = 3, (3 − 6) / (S √((6 − 4)/2)).
    assert!(close(z[0].unwrap(), -3.0 / s));
    // Cell 1: W = 3 = n: the variance (nW − W²) is 0, z undefined.
    assert_eq!(z[1], None);
    // Cell 2: W = 2, Σ = 8, (8 − 6) / S.
    assert!(close(z[2].unwrap(), 2.0 / s));
}

#[test]
fn local_moran_follows_anselin_with_row_standardised_weights_on_a_hand_computed_path() {
    let (x, n) = path3();
    let l = local_moran(&x, &n);
    // Σz² = n = 3; z1 = −1/S, lag1 = (z0 + z2)/2 = 0.5/S; I1 = 2 · z1 · lag1 / 3 = −1/(3S²).
    let (i1, q1) = l[1].unwrap();
    assert!(close(i1, -1.0 / 14.0));
    assert_eq!(q1, Quadrant::LH);
    // z0 = −2/S, lag0 = z1 = −1/S: I0 = 2 · 2/S² / 3 = 4/14 · 2/3… positive, LL.
    let (i0, q0) = l[0].unwrap();
    assert!(close(i0, 2.0 * 2.0 / (14.0 / 3.0) / 3.0));
    assert_eq!(q0, Quadrant::LL);
    let (_, q2) = l[2].unwrap();
    assert_eq!(q2, Quadrant::HL);
}

#[test]
fn quadrants_put_zero_values_and_zero_lags_on_the_low_side() {
    assert_eq!(local::Quadrant::of(1.0, 1.0), Quadrant::HH);
    assert_eq!(local::Quadrant::of(0.0, 1.0), Quadrant::LH);
    assert_eq!(local::Quadrant::of(0.0, 0.0), Quadrant::LL);
    assert_eq!(local::Quadrant::of(-1.0, -1.0), Quadrant::LL);
    assert_eq!(local::Quadrant::of(1.0, 0.0), Quadrant::HL);
    assert_eq!(local::Quadrant::of(1.0, -2.0), Quadrant::HL);
}

#[test]
fn global_moran_matches_the_hand_computed_path_and_its_randomisation_variance() {
    let x = [1.0, 2.0, 3.0, 4.0];
    let n = nb(&[&[1], &[0, 2], &[1, 3], &[2]]);
    let g = global_moran(&x, &n, 0, 1);
    assert!(close(g.i.unwrap(), 0.4));
    assert!(close(g.expected.unwrap(), -1.0 / 3.0));
    // S0 = 4, S1 = 5.5, S2 = 17, kurtosis 1.64: ((74 − 42.64)/96) − 1/9 = 97/450 (esda agrees).
    assert!(close(g.variance.unwrap(), 97.0 / 450.0));
    assert!(close(
        g.z.unwrap(),
        (0.4 + 1.0 / 3.0) / (97.0f64 / 450.0).sqrt()
    ));
    assert_eq!(g.p_sim, None);
}

#[test]
fn the_two_sided_normal_p_value_is_right_at_known_quantiles() {
    assert!((local::two_sided_normal_p(1.959963984540054) - 0.05).abs() < 1e-12);
    assert!((local::two_sided_normal_p(-2.5758293035489) - 0.01).abs() < 1e-12);
    assert_eq!(local::two_sided_normal_p(0.0), 1.0);
}

#[test]
fn ties_with_the_observed_sum_count_as_at_least_as_extreme() {
    // Cell 0 (x = 5) has one neighbour; every other cell holds 1, so every draw ties.
    let x = [5.0, 1.0, 1.0, 1.0, 1.0];
    let n = nb(&[&[1], &[0], &[], &[], &[]]);
    let p = conditional_randomisation(&x, &n, 99, 7);
    assert_eq!(p[0].gi_star, Some(1.0 / 100.0));
    assert_eq!(p[0].lisa, Some(1.0 / 100.0));
    // Islands are not testable.
    assert_eq!(
        p[2],
        PseudoP {
            gi_star: None,
            lisa: None
        }
    );
}

/// P(sum of k values drawn without replacement from `others` ≥ observed), by enumeration.
fn exact_upper_tail(others: &[f64], k: usize, observed: f64) -> f64 {
    let n = others.len();
    let (mut hits, mut total) = (0u32, 0u32);
    for mask in 0u32..(1 << n) {
        if mask.count_ones() as usize != k {
            continue;
        }
        let s: f64 = (0..n)
            .filter(|j| mask & (1 << j) != 0)
            .map(|j| others[j])
            .sum();
        total += 1;
        hits += u32::from(s >= observed);
    }
    f64::from(hits) / f64::from(total)
}

#[test]
fn the_draws_without_replacement_follow_the_exact_conditional_distribution() {
    // 9 cells; cell 0 neighbours 1 and 2 (rejection sampling, k ≤ (n−1)/2), cell 8 neighbours
    // 1…6 (partial Fisher–Yates, k > (n−1)/2).
    let x = [4.0, 3.0, 9.0, 1.0, 7.0, 2.0, 8.0, 5.0, 6.0];
    let n = nb(&[
        &[1, 2],
        &[0],
        &[0],
        &[],
        &[8],
        &[8],
        &[8],
        &[8],
        &[1, 2, 3, 4, 5, 6],
    ]);
    let r = 40_000u32;
    let p = conditional_randomisation(&x, &n, r, 11);
    for (cell, k) in [(0usize, 2usize), (8, 6)] {
        let others: Vec<f64> = (0..9).filter(|j| *j != cell).map(|j| x[j]).collect();
        let observed: f64 = n.of(cell).iter().map(|j| x[*j as usize]).sum();
        let q = exact_upper_tail(&others, k, observed);
        let expected = (f64::min(q, 1.0 - q) * f64::from(r) + 1.0) / (f64::from(r) + 1.0);
        let sd = (q * (1.0 - q) / f64::from(r)).sqrt();
        let got = p[cell].gi_star.unwrap();
        assert!(
            (got - expected).abs() < 5.0 * sd + 2.0 / f64::from(r),
            "cell {cell}: {got} vs exact {expected}"
        );
    }
}

#[test]
fn one_sweep_gives_every_cell_the_sum_of_its_own_draws() {
    // The sweep against the definition: cell i takes the first k_i positions of the row, u
    // standing for cell u when u < i and for cell u + 1 otherwise.
    use rand::RngExt;
    let mut rng = super::rng_stream(3, 0);
    for n in [2usize, 3, 7, 50, 400] {
        let values: Vec<i64> = (0..n).map(|_| rng.random_range(-50..50)).collect();
        let k_max = (n - 1).min(6);
        let k: Vec<usize> = (0..n).map(|_| rng.random_range(0..=k_max)).collect();
        let observed: Vec<i64> = (0..n).map(|_| rng.random_range(-100..100)).collect();
        let (mut row, mut pool) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            local::draw_row(&mut rng, (n - 1) as u32, k_max, &mut row, &mut pool);
            let mut distinct = row.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), k_max);
            assert!(row.iter().all(|u| (*u as usize) < n - 1));
            let (mut ge, mut le) = (vec![0u32; n], vec![0u32; n]);
            local::sweep(&values, &k, &observed, &row, &mut ge, &mut le);
            for i in 0..n {
                let sum: i64 = row[..k[i]]
                    .iter()
                    .map(|u| *u as usize)
                    .map(|u| if u < i { values[u] } else { values[u + 1] })
                    .sum();
                assert_eq!(ge[i], u32::from(sum >= observed[i]), "n {n} cell {i}");
                assert_eq!(le[i], u32::from(sum <= observed[i]), "n {n} cell {i}");
            }
        }
    }
}

/// Places on a deterministic pseudo-random scatter over the Qapqal area.
fn scattered_places(n: usize) -> Vec<Place> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    (0..n)
        .map(|_| {
            let lon = rng.random_range(80.5..81.7);
            let lat = rng.random_range(43.3..43.95);
            let population = f64::from(rng.random_range(50u32..2000));
            let hot = (lon - 81.0f64).hypot(lat - 43.75) < 0.08;
            let rate = if hot { 0.01 } else { 0.002 };
            let count = (population * rate * rng.random_range(0.0..2.0)).round();
            Place {
                lon,
                lat,
                count,
                population,
            }
        })
        .collect()
}

#[test]
fn pseudo_p_values_are_the_same_for_a_seed_whatever_the_number_of_threads() {
    let places = scattered_places(3000);
    let opts = HotspotOptions {
        permutations: 199,
        seed: 42,
        ..HotspotOptions::default()
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| analyse(&places, res(8), 2, &opts).unwrap())
    };
    let one = run(1);
    let four = run(4);
    assert_eq!(one, four);
    assert!(one.cells.iter().any(|c| c.gi_star_p_sim.is_some()));
    assert!(one.summary.moran.p_sim.is_some());
    // Another seed gives other draws.
    let other = analyse(&places, res(8), 2, &HotspotOptions { seed: 43, ..opts }).unwrap();
    assert_ne!(one.cells, other.cells);
}

#[test]
fn the_planted_cluster_comes_out_as_hot_spots_and_high_high_cells() {
    let places = scattered_places(3000);
    let h = analyse(&places, res(7), 2, &HotspotOptions::default()).unwrap();
    let hot: Vec<&CellStats> = h.cells.iter().filter(|c| c.gi_star_bin == 3).collect();
    assert!(!hot.is_empty());
    for c in &hot {
        let ll = LatLng::from(c.cell);
        assert!((ll.lng() - 81.0).hypot(ll.lat() - 43.75) < 0.2, "{c:?}");
    }
    assert!(h.summary.significant.lisa_hh > 0);
    assert!(h.summary.moran.i.unwrap() > 0.0);
    assert!(h.summary.moran.p_sim.unwrap() <= 0.01);
    assert_eq!(h.summary.n, h.cells.len());
}

#[test]
fn all_zero_counts_give_zero_rates_and_no_statistic() {
    let places: Vec<Place> = scattered_places(200)
        .into_iter()
        .map(|p| Place { count: 0.0, ..p })
        .collect();
    let h = analyse(&places, res(7), 1, &HotspotOptions::default()).unwrap();
    assert_eq!(h.summary.eb_prior, EbPrior { m: 0.0, a: 0.0 });
    for c in &h.cells {
        assert_eq!((c.rate, c.eb_rate, c.spatial_eb_rate), (0.0, 0.0, 0.0));
        assert_eq!(
            (c.gi_star_z, c.gi_star_p, c.gi_star_p_sim),
            (None, None, None)
        );
        assert_eq!((c.lisa_i, c.lisa_p_sim), (None, None));
        assert_eq!(
            (c.gi_star_bin, c.lisa_cluster),
            (0, LisaCluster::NotSignificant)
        );
    }
    assert_eq!(h.summary.moran.i, None);
}

#[test]
fn a_single_cell_is_not_testable_and_keeps_its_rate() {
    let p = Place {
        lon: 81.0,
        lat: 43.7,
        count: 3.0,
        population: 300.0,
    };
    let h = analyse(&[p, p], res(7), 1, &HotspotOptions::default()).unwrap();
    assert_eq!(h.cells.len(), 1);
    let c = &h.cells[0];
    assert_eq!((c.n_points, c.count, c.population), (2, 6.0, 600.0));
    assert!(close(c.rate, 0.01));
    assert!(close(c.eb_rate, 0.01));
    assert!(close(c.spatial_eb_rate, 0.01));
    assert_eq!(c.neighbors, 0);
    assert_eq!(
        (c.gi_star_z, c.gi_star_p_sim, c.lisa_p_sim),
        (None, None, None)
    );
    assert_eq!(h.summary.testable, 0);
    assert_eq!(h.summary.islands, 1);
}

#[test]
fn an_island_keeps_its_gi_star_z_but_gets_no_p_value_and_is_never_significant() {
    let mut places = scattered_places(400);
    // Far from everything, with a huge rate.
    places.push(Place {
        lon: 81.69,
        lat: 43.31,
        count: 500.0,
        population: 1000.0,
    });
    let h = analyse(&places, res(9), 1, &HotspotOptions::default()).unwrap();
    let island = h.cells.iter().find(|c| c.count == 500.0).unwrap();
    assert_eq!(island.neighbors, 0);
    assert!(island.gi_star_z.unwrap() > 3.0);
    assert_eq!(
        (island.gi_star_p, island.gi_star_p_sim, island.lisa_p_sim),
        (None, None, None)
    );
    assert_eq!(island.gi_star_bin, 0);
    assert_eq!(island.lisa_cluster, LisaCluster::NotSignificant);
}

#[test]
fn benjamini_hochberg_steps_up_and_bonferroni_divides_alpha_by_m() {
    let p = [
        Some(0.001),
        Some(0.012),
        Some(0.014),
        Some(0.04),
        Some(0.045),
        Some(0.3),
        None,
    ];
    // m = 6 (None does not count): BH thresholds k·0.05/6; the third smallest is the last
    // one under its threshold.
    assert_eq!(
        significant(&p, 0.05, Correction::Fdr),
        [true, true, true, false, false, false, false]
    );
    assert_eq!(
        significant(&p, 0.05, Correction::Bonferroni),
        [true, false, false, false, false, false, false]
    );
    assert_eq!(
        significant(&p, 0.05, Correction::None),
        [true, true, true, true, true, false, false]
    );
    // Step-up: the smallest p fails its own threshold but passes through a larger rank.
    assert_eq!(
        significant(
            &[Some(0.02), Some(0.021), Some(0.022)],
            0.05,
            Correction::Fdr
        ),
        [true, true, true]
    );
    assert_eq!(
        significant(&[Some(0.03), Some(0.5)], 0.05, Correction::Fdr),
        [false, false]
    );
}

#[test]
fn gi_star_bins_are_the_arcgis_confidence_levels_signed_by_z() {
    let z = [
        Some(3.0),
        Some(-2.2),
        Some(1.8),
        Some(1.0),
        Some(-3.0),
        None,
    ];
    let p = [
        Some(0.005),
        Some(0.03),
        Some(0.07),
        Some(0.3),
        Some(0.009),
        None,
    ];
    assert_eq!(gi_star_bins(&z, &p, Correction::None), [3, -2, 1, 0, -3, 0]);
    // Bonferroni over m = 5: 99 % needs p ≤ 0.002, 95 % p ≤ 0.01, 90 % p ≤ 0.02.
    assert_eq!(
        gi_star_bins(&z, &p, Correction::Bonferroni),
        [2, 0, 0, 0, -2, 0]
    );
}

#[test]
fn lisa_clusters_are_the_quadrants_of_significant_cells() {
    let q = [
        Some(Quadrant::HH),
        Some(Quadrant::LL),
        Some(Quadrant::HL),
        Some(Quadrant::LH),
        None,
    ];
    let p = [Some(0.001), Some(0.5), Some(0.01), Some(0.04), None];
    assert_eq!(
        lisa_clusters(&q, &p, 0.05, Correction::None),
        [
            LisaCluster::HH,
            LisaCluster::NotSignificant,
            LisaCluster::HL,
            LisaCluster::LH,
            LisaCluster::NotSignificant
        ]
    );
}

#[test]
fn alpha_outside_zero_one_is_refused() {
    let places = scattered_places(10);
    let opts = HotspotOptions {
        alpha: 1.5,
        ..HotspotOptions::default()
    };
    assert!(matches!(
        analyse(&places, res(7), 1, &opts),
        Err(HotspotError::InvalidOption {
            option: "alpha",
            ..
        })
    ));
}
