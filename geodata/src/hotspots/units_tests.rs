//! `analyse_units` on hand-made villages: the same statistics as the H3 path, islands never
//! tested, and k-nearest-neighbour weights that find a planted cluster.

use super::weights::{distance_band, knn, min_band_km};
use super::*;

/// A 6 × 6 lattice of villages 0.05° apart around (81.0, 43.5); a village's count is 30 in
/// the 3 × 3 corner block (rows and columns 0–2) and 2 elsewhere, 1000 people each.
fn lattice() -> (Vec<(f64, f64)>, Vec<UnitData>) {
    let mut points = Vec::new();
    let mut units = Vec::new();
    for r in 0..6 {
        for c in 0..6 {
            points.push((81.0 + 0.05 * c as f64, 43.5 + 0.05 * r as f64));
            let hot = r < 3 && c < 3;
            units.push(UnitData {
                count: if hot { 30.0 } else { 2.0 },
                population: 1000.0,
            });
        }
    }
    (points, units)
}

#[test]
fn units_with_knn_weights_find_the_planted_block() {
    let (points, units) = lattice();
    let nb = knn(&points, 4).unwrap();
    let r = analyse_units(&units, &nb, &HotspotOptions::default()).unwrap();
    assert_eq!(r.units.len(), 36);
    assert_eq!(
        (r.summary.n, r.summary.testable, r.summary.islands),
        (36, 36, 0)
    );
    // The corner village of the block and its centre are hot spots at 95 % or more.
    for i in [0, 7] {
        assert!(r.units[i].gi_star_bin >= 2, "village {i}: {:?}", r.units[i]);
        assert_eq!(r.units[i].lisa_cluster, LisaCluster::HH, "village {i}");
    }
    // The far corner is not hot.
    assert!(r.units[35].gi_star_bin <= 0);
    assert!(r.summary.moran.i.unwrap() > 0.5);
    assert_eq!(r.units[0].rate, 0.03);
}

#[test]
fn analyse_cells_and_analyse_units_agree_apart_from_the_cell() {
    let (points, units) = lattice();
    let nb = knn(&points, 4).unwrap();
    let cells: Vec<CellData> = points
        .iter()
        .zip(&units)
        .map(|(&(lon, lat), u)| CellData {
            cell: LatLng::new(lat, lon)
                .unwrap()
                .to_cell(resolution(9).unwrap()),
            n_points: 1,
            population: u.population,
            count: u.count,
        })
        .collect();
    let opts = HotspotOptions::default();
    let h = analyse_cells(&cells, &nb, &opts).unwrap();
    let r = analyse_units(&units, &nb, &opts).unwrap();
    assert_eq!(h.summary, r.summary);
    for (c, u) in h.cells.iter().zip(&r.units) {
        assert_eq!(
            (
                c.gi_star_z,
                c.gi_star_p_sim,
                c.lisa_i,
                c.lisa_cluster,
                c.eb_rate
            ),
            (
                u.gi_star_z,
                u.gi_star_p_sim,
                u.lisa_i,
                u.lisa_cluster,
                u.eb_rate
            )
        );
    }
}

#[test]
fn an_island_village_is_never_tested() {
    let (mut points, mut units) = lattice();
    // Far away, with a huge rate.
    points.push((82.5, 44.5));
    units.push(UnitData {
        count: 500.0,
        population: 1000.0,
    });
    // The band of the lattice (0.05° of longitude or latitude) leaves the far village alone.
    let band = min_band_km(&points[..36]);
    assert!(band > 3.9 && band < 5.6, "{band}");
    let nb = distance_band(&points, band);
    let r = analyse_units(&units, &nb, &HotspotOptions::default()).unwrap();
    let island = &r.units[36];
    assert!(island.island());
    assert_eq!(island.neighbors, 0);
    assert_eq!(
        (
            island.gi_star_z,
            island.gi_star_p,
            island.gi_star_p_sim,
            island.lisa_i,
            island.lisa_quadrant,
            island.lisa_p_sim
        ),
        (None, None, None, None, None, None)
    );
    assert_eq!(island.gi_star_bin, 0);
    assert_eq!(island.lisa_cluster, LisaCluster::NotSignificant);
    assert_eq!((r.summary.testable, r.summary.islands), (36, 1));
    // The others still have their statistics.
    assert!(r.units[0].gi_star_z.is_some() && r.units[0].gi_star_p_sim.is_some());
}

#[test]
fn bad_units_name_their_row_and_field() {
    let (points, mut units) = lattice();
    let nb = knn(&points, 3).unwrap();
    units[4].population = 0.0;
    assert!(matches!(
        analyse_units(&units, &nb, &HotspotOptions::default()),
        Err(HotspotError::InvalidValue {
            row: 5,
            field: Field::Population,
            ..
        })
    ));
    units[4].population = 10.0;
    units[2].count = -1.0;
    assert!(matches!(
        analyse_units(&units, &nb, &HotspotOptions::default()),
        Err(HotspotError::InvalidValue {
            row: 3,
            field: Field::Count,
            ..
        })
    ));
    assert!(matches!(
        analyse_units(&units[..5], &nb, &HotspotOptions::default()),
        Err(HotspotError::InvalidNeighbours { .. })
    ));
    assert!(matches!(
        analyse_units(&[], &nb, &HotspotOptions::default()),
        Err(HotspotError::Empty)
    ));
}
