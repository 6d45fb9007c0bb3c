//! Spatial weights for units that are not H3 cells (villages, townships): k nearest neighbours
//! and distance bands on great-circle (haversine) distances, and contiguity from pairs that the
//! database computed (`ST_Intersects` of polygons: queen contiguity). They give the
//! [`Neighbours`] that [`super::analyse_units`] analyses; Gi* keeps binary weights with the
//! unit itself, local Moran row-standardises them (docs/ANALYSIS.md, "Units and weights").

use geo::{Distance, Haversine, Point};
use serde::Serialize;

use super::{HotspotError, Neighbours, check_lon_lat};

/// How the neighbours of a unit are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WeightsKind {
    /// The k nearest other units (asymmetric: j may be among i's k nearest and not the reverse).
    Knn { k: usize },
    /// Every other unit within `km` (symmetric); `None`: the smallest band that leaves no unit
    /// without a neighbour ([`min_band_km`], GeoDa's default threshold).
    DistanceBand { km: Option<f64> },
    /// Units whose polygons touch (queen: a shared point is enough).
    Contiguity,
    /// The other occupied H3 cells within `ring` steps.
    H3Ring { ring: u32 },
}

/// What weights an analysis used, as the API and the CLI show them: the kind, its parameter,
/// and how many neighbours the units got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsInfo {
    /// `knn`, `distance`, `contiguity` or `ring`.
    pub kind: &'static str,
    /// k of `knn` as used: the k asked for, at most n − 1 (the other units).
    pub k: Option<usize>,
    /// The band actually used by `distance`, km (also when it was chosen automatically).
    pub band_km: Option<f64>,
    /// The ring of `ring`.
    pub ring: Option<u32>,
    pub min_neighbors: usize,
    pub max_neighbors: usize,
    pub mean_neighbors: f64,
}

impl WeightsInfo {
    /// The description of `neighbours` made with `kind`; `band_km` is the band actually used
    /// (the kind's own, or the automatic one).
    pub fn of(kind: WeightsKind, band_km: Option<f64>, neighbours: &Neighbours) -> Self {
        let n = neighbours.len();
        let counts = (0..n).map(|i| neighbours.count(i));
        let (kind, k, band_km, ring) = match kind {
            // The k actually used: knn clamps it to the n − 1 other units.
            WeightsKind::Knn { k } => ("knn", Some(k.min(n.saturating_sub(1))), None, None),
            WeightsKind::DistanceBand { km } => ("distance", None, km.or(band_km), None),
            WeightsKind::Contiguity => ("contiguity", None, None, None),
            WeightsKind::H3Ring { ring } => ("ring", None, None, Some(ring)),
        };
        Self {
            kind,
            k,
            band_km,
            ring,
            min_neighbors: counts.clone().min().unwrap_or(0),
            max_neighbors: counts.clone().max().unwrap_or(0),
            mean_neighbors: if n == 0 {
                0.0
            } else {
                counts.sum::<usize>() as f64 / n as f64
            },
        }
    }
}

/// The great-circle distance between two (lon, lat) points, km.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1)) / 1000.0
}

fn check_points(points: &[(f64, f64)]) -> Result<(), HotspotError> {
    if points.is_empty() {
        return Err(HotspotError::Empty);
    }
    for (i, &(lon, lat)) in points.iter().enumerate() {
        check_lon_lat(i + 1, lon, lat)?;
    }
    Ok(())
}

/// The k nearest other points of each point by haversine distance; equal distances are broken
/// by the lower index. `k` must be ≥ 1; with k ≥ n − 1 every other point is a neighbour (a
/// single point is an island).
pub fn knn(points: &[(f64, f64)], k: usize) -> Result<Neighbours, HotspotError> {
    check_points(points)?;
    let n = points.len();
    if k == 0 {
        return Err(HotspotError::InvalidOption {
            option: "k",
            problem: "k must be at least 1".into(),
        });
    }
    let k = k.min(n - 1);
    let lists: Vec<Vec<u32>> = (0..n)
        .map(|i| {
            let mut d: Vec<(f64, u32)> = (0..n)
                .filter(|j| *j != i)
                .map(|j| (distance_km(points[i], points[j]), j as u32))
                .collect();
            d.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut list: Vec<u32> = d[..k].iter().map(|(_, j)| *j).collect();
            list.sort_unstable();
            list
        })
        .collect();
    Ok(Neighbours::from_sorted(lists))
}

/// GeoDa's default distance threshold: the largest of the nearest-neighbour distances, km, the
/// smallest band that leaves no point without a neighbour. 0 for fewer than two points.
pub fn min_band_km(points: &[(f64, f64)]) -> f64 {
    (0..points.len())
        .filter_map(|i| {
            (0..points.len())
                .filter(|j| *j != i)
                .map(|j| distance_km(points[i], points[j]))
                .min_by(f64::total_cmp)
        })
        .fold(0.0, f64::max)
}

/// Every other point within `km` of each point (d ≤ km, with a relative tolerance of 1e-9 so
/// that the band of [`min_band_km`] keeps the pair that defined it).
pub fn distance_band(points: &[(f64, f64)], km: f64) -> Neighbours {
    let limit = km * (1.0 + 1e-9);
    let lists: Vec<Vec<u32>> = (0..points.len())
        .map(|i| {
            (0..points.len())
                .filter(|j| *j != i && distance_km(points[i], points[*j]) <= limit)
                .map(|j| j as u32)
                .collect()
        })
        .collect();
    Neighbours::from_sorted(lists)
}

/// The most neighbour entries (ordered pairs i → j) a weights matrix may hold: a wide band over
/// many units (a province, or an automatic band stretched by one remote unit) would otherwise
/// hold nearly n² of them and exhaust the memory of the service.
pub const MAX_NEIGHBOUR_ENTRIES: usize = 2_000_000;

/// [`distance_band`], refused with [`HotspotError::InvalidOption`] (`band_km`) as soon as the
/// lists hold more than `max_entries` neighbour entries in all, before they grow further.
pub fn distance_band_capped(
    points: &[(f64, f64)],
    km: f64,
    max_entries: usize,
) -> Result<Neighbours, HotspotError> {
    let limit = km * (1.0 + 1e-9);
    let mut entries = 0usize;
    let mut lists: Vec<Vec<u32>> = Vec::with_capacity(points.len());
    for i in 0..points.len() {
        let list: Vec<u32> = (0..points.len())
            .filter(|j| *j != i && distance_km(points[i], points[*j]) <= limit)
            .map(|j| j as u32)
            .collect();
        entries += list.len();
        if entries > max_entries {
            return Err(HotspotError::InvalidOption {
                option: "band_km",
                problem: format!(
                    "a distance band of {km:.1} km over {} units gives more than {max_entries} \
                     neighbour pairs (already {entries} for the first {} units): use a smaller \
                     band_km, a smaller area or weights=knn",
                    points.len(),
                    i + 1
                ),
            });
        }
        lists.push(list);
    }
    Ok(Neighbours::from_sorted(lists))
}

/// Contiguity from unordered pairs of units that touch (each pair once or twice, in any order):
/// symmetric neighbour lists. A pair naming a unit out of range or a unit with itself is an
/// error.
pub fn from_pairs(n: usize, pairs: &[(usize, usize)]) -> Result<Neighbours, HotspotError> {
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); n];
    for &(a, b) in pairs {
        if a >= n || b >= n {
            return Err(HotspotError::InvalidNeighbours {
                cell: a.min(b),
                problem: format!("pair ({a}, {b}) is out of range (there are {n} units)"),
            });
        }
        if a == b {
            return Err(HotspotError::InvalidNeighbours {
                cell: a,
                problem: "a unit cannot be its own neighbour".into(),
            });
        }
        lists[a].push(b as u32);
        lists[b].push(a as u32);
    }
    for l in &mut lists {
        l.sort_unstable();
        l.dedup();
    }
    Ok(Neighbours::from_sorted(lists))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on the equator 1°, 2°, 4° and 8° east: distances are multiples of one degree of
    /// arc (111.19 km on geo's mean radius 6371.0088 km).
    fn line() -> Vec<(f64, f64)> {
        vec![(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (4.0, 0.0), (8.0, 0.0)]
    }

    fn lists(nb: &Neighbours) -> Vec<Vec<u32>> {
        (0..nb.len()).map(|i| nb.of(i).to_vec()).collect()
    }

    #[test]
    fn knn_takes_the_nearest_and_breaks_ties_by_index() {
        let nb = knn(&line(), 1).unwrap();
        // 1 is equidistant from 0 and 2: the lower index wins.
        assert_eq!(
            lists(&nb),
            vec![vec![1], vec![0], vec![1], vec![2], vec![3]]
        );
        let nb = knn(&line(), 2).unwrap();
        assert_eq!(
            lists(&nb),
            vec![vec![1, 2], vec![0, 2], vec![0, 1], vec![1, 2], vec![2, 3]]
        );
        // k ≥ n − 1: all others.
        for k in [4, 5, 30] {
            let nb = knn(&line(), k).unwrap();
            assert_eq!(nb.of(4), &[0, 1, 2, 3]);
            assert_eq!(nb.of(0), &[1, 2, 3, 4]);
        }
        assert_eq!(knn(&[(1.0, 2.0)], 5).unwrap().count(0), 0);
        assert!(matches!(
            knn(&line(), 0),
            Err(HotspotError::InvalidOption { option: "k", .. })
        ));
        assert!(matches!(
            knn(&[(0.0, 0.0), (200.0, 0.0)], 1),
            Err(HotspotError::InvalidValue { row: 2, .. })
        ));
    }

    #[test]
    fn the_minimum_band_is_the_largest_nearest_neighbour_distance() {
        let deg = distance_km((0.0, 0.0), (1.0, 0.0));
        assert!((deg - 111.195).abs() < 0.01, "{deg}");
        // Nearest-neighbour distances 1, 1, 1, 2, 4 degrees: the band is 4 degrees.
        let band = min_band_km(&line());
        assert!((band - 4.0 * deg).abs() < 1e-6, "{band}");
        let nb = distance_band(&line(), band);
        assert_eq!(
            lists(&nb),
            vec![
                vec![1, 2, 3],
                vec![0, 2, 3],
                vec![0, 1, 3],
                vec![0, 1, 2, 4],
                vec![3]
            ]
        );
        // A smaller band leaves the last point an island.
        let nb = distance_band(&line(), 1.5 * deg);
        assert_eq!(
            lists(&nb),
            vec![vec![1], vec![0, 2], vec![1], vec![], vec![]]
        );
        assert_eq!(min_band_km(&[(0.0, 0.0)]), 0.0);
    }

    #[test]
    fn a_band_with_too_many_neighbour_pairs_is_refused() {
        let deg = distance_km((0.0, 0.0), (1.0, 0.0));
        // A band of 4.5 degrees: every point has every other but one (8 ↔ 0..2 are farther):
        // 3 + 3 + 3 + 4 + 1 = 14 entries.
        let nb = distance_band_capped(&line(), 4.5 * deg, 14).unwrap();
        assert_eq!(lists(&nb), lists(&distance_band(&line(), 4.5 * deg)));
        let err = distance_band_capped(&line(), 4.5 * deg, 13).unwrap_err();
        match err {
            HotspotError::InvalidOption { option, problem } => {
                assert_eq!(option, "band_km");
                assert!(
                    problem.contains("more than 13 neighbour pairs"),
                    "{problem}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pairs_make_symmetric_lists() {
        let nb = from_pairs(4, &[(0, 1), (2, 1), (1, 0)]).unwrap();
        assert_eq!(lists(&nb), vec![vec![1], vec![0, 2], vec![1], vec![]]);
        assert!(from_pairs(2, &[(0, 2)]).is_err());
        assert!(from_pairs(2, &[(1, 1)]).is_err());
    }

    #[test]
    fn the_info_counts_the_neighbours() {
        let nb = from_pairs(4, &[(0, 1), (2, 1)]).unwrap();
        let info = WeightsInfo::of(WeightsKind::Contiguity, None, &nb);
        assert_eq!(
            (info.kind, info.min_neighbors, info.max_neighbors),
            ("contiguity", 0, 2)
        );
        assert_eq!(info.mean_neighbors, 1.0);
        let info = WeightsInfo::of(WeightsKind::DistanceBand { km: None }, Some(12.5), &nb);
        assert_eq!((info.kind, info.band_km), ("distance", Some(12.5)));
        let info = WeightsInfo::of(WeightsKind::Knn { k: 3 }, None, &nb);
        assert_eq!((info.kind, info.k, info.band_km), ("knn", Some(3), None));
        // k = 30 among 5 points is k = 4: the info says what was used.
        let nb = knn(&line(), 30).unwrap();
        let info = WeightsInfo::of(WeightsKind::Knn { k: 30 }, None, &nb);
        assert_eq!(
            (info.k, info.min_neighbors, info.max_neighbors),
            (Some(4), 4, 4)
        );
    }
}
