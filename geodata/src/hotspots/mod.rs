//! Hotspot statistics on H3 grids, as pure functions (no database, no HTTP): what
//! `echinomap hotspots`, `echinomap scan` and the service compute. The definitions, formulas and
//! references are in `docs/ANALYSIS.md`; the tests hold the code to them.
//!
//! The pipeline of [`analyse`]: [`Place`]s (lon, lat, count, population) → [`aggregate`] into the
//! occupied H3 cells ([`CellData`]) → [`Neighbours`] (the other occupied cells of
//! `grid_disk(cell, K)`, a CSR index) → crude, global and spatial empirical-Bayes rates
//! ([`rates`]) → Getis–Ord Gi* and local Moran ([`local`]) with conditional-randomisation pseudo
//! p-values from a seeded RNG, reproducible whatever the number of threads → multiple-testing
//! correction, Gi* bins and LISA clusters ([`multiple`]) → global Moran's I ([`global`]).
//! [`analyse_cells`] starts from cells and neighbour lists already made; [`analyse_units`] from
//! any units (villages, townships) with neighbours from [`weights`] (k nearest, distance band,
//! contiguity), and [`why::diagnose`] says why nothing is significant.
//!
//! [`scan`] is Kulldorff's spatial scan statistic (Poisson and Bernoulli) on point locations.

pub mod global;
pub mod local;
pub mod multiple;
pub mod rates;
pub mod scan;
pub mod spacetime;
pub mod weights;
pub mod why;

use std::collections::HashMap;
use std::fmt;

use h3o::{CellIndex, LatLng, Resolution};
use rayon::prelude::*;
use serde::Serialize;

pub use global::{GlobalMoran, global_moran};
pub use local::{PseudoP, Quadrant, conditional_randomisation, gi_star, local_moran};
pub use multiple::{Correction, LisaCluster, gi_star_bins, lisa_clusters, significant};
pub use rates::{EbPrior, crude_rates, global_eb, spatial_eb};
pub use weights::{WeightsInfo, WeightsKind};
pub use why::{Analysed, Diagnosis, Suggestion, UnitKind, Why, diagnose, significant_units};

/// One input place (a village, a household, a case address…).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    /// Longitude, degrees (WGS84).
    pub lon: f64,
    /// Latitude, degrees (WGS84).
    pub lat: f64,
    /// Cases (or positives) at the place; ≥ 0.
    pub count: f64,
    /// The denominator (people, dogs tested, animals inspected); ≥ 0.
    pub population: f64,
}

/// Which input field a bad value came from; the CLI maps it to its column name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    Lon,
    Lat,
    Count,
    Population,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Id => "id",
            Field::Lon => "lon",
            Field::Lat => "lat",
            Field::Count => "count",
            Field::Population => "population",
        })
    }
}

/// What can go wrong in the hotspot and scan statistics. Rows are 1-based positions in the
/// input slice (the first place is row 1).
#[derive(Debug, thiserror::Error)]
pub enum HotspotError {
    /// No input rows at all.
    #[error("no input rows: nothing to analyse")]
    Empty,
    /// A value that cannot be used, with its row and field.
    #[error("row {row}, {field}: {problem}")]
    InvalidValue {
        row: usize,
        field: Field,
        problem: String,
    },
    /// An H3 resolution outside 0–15.
    #[error("H3 resolution {0} is outside 0–15")]
    InvalidResolution(u8),
    /// A cell whose places add up to no population: its rate is undefined.
    #[error(
        "row {row}, population: the H3 cell {cell} (first place: row {row}) has a total population of 0; rates need a positive population"
    )]
    ZeroPopulationCell { row: usize, cell: String },
    /// A neighbour list that refers to a cell that does not exist, to itself, or twice.
    #[error("neighbour list of cell {cell}: {problem}")]
    InvalidNeighbours { cell: usize, problem: String },
    /// An option outside its range.
    #[error("{option}: {problem}")]
    InvalidOption {
        option: &'static str,
        problem: String,
    },
}

fn invalid(row: usize, field: Field, problem: impl Into<String>) -> HotspotError {
    HotspotError::InvalidValue {
        row,
        field,
        problem: problem.into(),
    }
}

/// Checks a coordinate pair; `row` is 1-based.
pub(crate) fn check_lon_lat(row: usize, lon: f64, lat: f64) -> Result<LatLng, HotspotError> {
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(
            row,
            Field::Lon,
            format!("longitude {lon} is outside −180…180"),
        ));
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(invalid(
            row,
            Field::Lat,
            format!("latitude {lat} is outside −90…90"),
        ));
    }
    LatLng::new(lat, lon).map_err(|e| invalid(row, Field::Lat, e.to_string()))
}

/// Checks that a value is a finite number ≥ 0.
pub(crate) fn check_non_negative(row: usize, field: Field, v: f64) -> Result<(), HotspotError> {
    if !v.is_finite() {
        return Err(invalid(row, field, format!("{v} is not a finite number")));
    }
    if v < 0.0 {
        return Err(invalid(row, field, format!("{v} is negative")));
    }
    Ok(())
}

/// An H3 resolution from a number, or [`HotspotError::InvalidResolution`].
pub fn resolution(r: u8) -> Result<Resolution, HotspotError> {
    Resolution::try_from(r).map_err(|_| HotspotError::InvalidResolution(r))
}

/// One occupied cell: the places that fall in it, added up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellData {
    pub cell: CellIndex,
    /// How many input places fall in the cell (≥ 1).
    pub n_points: u32,
    pub population: f64,
    pub count: f64,
}

/// Assigns each place to its H3 cell at `resolution` and adds them up: one [`CellData`] per
/// occupied cell, ordered by cell index. Errors name the row of the bad place; a cell whose
/// places add up to population 0 is an error (its rate is undefined).
pub fn aggregate(places: &[Place], resolution: Resolution) -> Result<Vec<CellData>, HotspotError> {
    if places.is_empty() {
        return Err(HotspotError::Empty);
    }
    // (cell data, first row) per cell.
    let mut by_cell: HashMap<CellIndex, (CellData, usize)> = HashMap::new();
    for (i, p) in places.iter().enumerate() {
        let row = i + 1;
        let ll = check_lon_lat(row, p.lon, p.lat)?;
        check_non_negative(row, Field::Count, p.count)?;
        check_non_negative(row, Field::Population, p.population)?;
        let cell = ll.to_cell(resolution);
        let entry = by_cell.entry(cell).or_insert((
            CellData {
                cell,
                n_points: 0,
                population: 0.0,
                count: 0.0,
            },
            row,
        ));
        entry.0.n_points += 1;
        entry.0.population += p.population;
        entry.0.count += p.count;
    }
    let mut cells: Vec<(CellData, usize)> = by_cell.into_values().collect();
    cells.sort_unstable_by_key(|(c, _)| c.cell);
    if let Some((c, row)) = cells.iter().find(|(c, _)| c.population <= 0.0) {
        return Err(HotspotError::ZeroPopulationCell {
            row: *row,
            cell: cell_hex(c.cell),
        });
    }
    Ok(cells.into_iter().map(|(c, _)| c).collect())
}

/// A ChaCha8 generator for one stream of a seed: each cell, permutation or replication draws
/// from its own stream, so results do not depend on how the work is split among threads.
pub(crate) fn rng_stream(seed: u64, stream: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Stream numbers of the global permutations and of the scan replications, apart from the
/// per-cell streams 0…n − 1.
pub(crate) const GLOBAL_MORAN_STREAMS: u64 = 1 << 62;
pub(crate) const SCAN_STREAMS: u64 = 1 << 63;

/// The cell index as lowercase hexadecimal, as H3 tools print it.
pub fn cell_hex(cell: CellIndex) -> String {
    format!("{:x}", u64::from(cell))
}

/// The centre of the cell as (longitude, latitude), degrees.
pub fn cell_centre(cell: CellIndex) -> (f64, f64) {
    let ll = LatLng::from(cell);
    (ll.lng(), ll.lat())
}

/// Who neighbours whom, as a compressed sparse row index: the neighbours of cell `i` are
/// `indices[offsets[i]..offsets[i + 1]]`, ascending, never `i` itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbours {
    offsets: Vec<usize>,
    indices: Vec<u32>,
}

impl Neighbours {
    /// The other occupied cells of `grid_disk(cell, ring)` for each cell of `cells` (given in
    /// analysis order).
    pub fn from_grid(cells: &[CellIndex], ring: u32) -> Self {
        let position: HashMap<CellIndex, u32> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i as u32))
            .collect();
        let lists: Vec<Vec<u32>> = cells
            .par_iter()
            .map(|cell| {
                let disk: Vec<CellIndex> = cell.grid_disk(ring);
                let mut list: Vec<u32> = disk
                    .iter()
                    .filter(|c| *c != cell)
                    .filter_map(|c| position.get(c).copied())
                    .collect();
                list.sort_unstable();
                list.dedup();
                list
            })
            .collect();
        Self::from_sorted(lists)
    }

    /// Neighbour lists given by index (for example read from a file). Each list is sorted;
    /// an index out of range, a cell listed as its own neighbour or listed twice is an error.
    pub fn from_lists(lists: &[Vec<usize>]) -> Result<Self, HotspotError> {
        let n = lists.len();
        let mut sorted = Vec::with_capacity(n);
        for (i, list) in lists.iter().enumerate() {
            let mut l = Vec::with_capacity(list.len());
            for &j in list {
                if j >= n {
                    return Err(HotspotError::InvalidNeighbours {
                        cell: i,
                        problem: format!("index {j} is out of range (there are {n} cells)"),
                    });
                }
                if j == i {
                    return Err(HotspotError::InvalidNeighbours {
                        cell: i,
                        problem: "a cell cannot be its own neighbour".into(),
                    });
                }
                l.push(j as u32);
            }
            l.sort_unstable();
            if l.windows(2).any(|w| w[0] == w[1]) {
                return Err(HotspotError::InvalidNeighbours {
                    cell: i,
                    problem: "a neighbour is listed twice".into(),
                });
            }
            sorted.push(l);
        }
        Ok(Self::from_sorted(sorted))
    }

    pub(crate) fn from_sorted(lists: Vec<Vec<u32>>) -> Self {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        offsets.push(0);
        let mut indices = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        for l in lists {
            indices.extend_from_slice(&l);
            offsets.push(indices.len());
        }
        Self { offsets, indices }
    }

    /// The number of cells.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The neighbours of cell `i`, ascending.
    pub fn of(&self, i: usize) -> &[u32] {
        &self.indices[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The number of neighbours of cell `i` (its `neighbors` column).
    pub fn count(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }
}

/// The series that Gi* and local Moran analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Variable {
    /// The cell's count.
    Count,
    /// The crude rate, count / population.
    Rate,
    /// The global empirical-Bayes rate.
    EbRate,
}

impl Variable {
    pub fn as_str(self) -> &'static str {
        match self {
            Variable::Count => "count",
            Variable::Rate => "rate",
            Variable::EbRate => "eb_rate",
        }
    }
}

impl std::str::FromStr for Variable {
    type Err = String;

    /// `count`, `rate` or `eb_rate`; the error says which names exist.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Variable::Count, Variable::Rate, Variable::EbRate]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown variable {s:?}: use count, rate or eb_rate"))
    }
}

/// The parameters of [`analyse`] beyond the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HotspotOptions {
    pub variable: Variable,
    /// R, the number of conditional randomisations (0: no pseudo p-values).
    pub permutations: u32,
    pub seed: u64,
    /// The level at which `lisa_cluster` calls a cell significant, in (0, 1).
    pub alpha: f64,
    pub correction: Correction,
}

impl Default for HotspotOptions {
    fn default() -> Self {
        Self {
            variable: Variable::EbRate,
            permutations: 999,
            seed: 2024,
            alpha: 0.05,
            correction: Correction::Fdr,
        }
    }
}

/// Every statistic of one occupied cell: one row of `echinomap hotspots`. `None` is an
/// undefined value (a constant series, a cell that is not testable), written empty.
#[derive(Debug, Clone, PartialEq)]
pub struct CellStats {
    pub cell: CellIndex,
    pub n_points: u32,
    pub population: f64,
    pub count: f64,
    pub rate: f64,
    pub eb_rate: f64,
    pub spatial_eb_rate: f64,
    pub neighbors: usize,
    pub gi_star_z: Option<f64>,
    pub gi_star_p: Option<f64>,
    pub gi_star_p_sim: Option<f64>,
    pub gi_star_bin: i8,
    pub lisa_i: Option<f64>,
    pub lisa_quadrant: Option<Quadrant>,
    pub lisa_p_sim: Option<f64>,
    pub lisa_cluster: LisaCluster,
}

/// The numbers of significant cells per class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SignificantCounts {
    /// Gi* bins −3…3 (index 0 is bin −3), as `{"-3": n, …, "3": n}` in JSON.
    #[serde(serialize_with = "serialize_bins")]
    pub gi_star_bins: [usize; 7],
    pub lisa_hh: usize,
    pub lisa_ll: usize,
    pub lisa_hl: usize,
    pub lisa_lh: usize,
    pub lisa_ns: usize,
}

fn serialize_bins<S: serde::Serializer>(bins: &[usize; 7], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(7))?;
    for (i, n) in bins.iter().enumerate() {
        map.serialize_entry(&(i as i32 - 3).to_string(), n)?;
    }
    map.end()
}

/// The whole-map numbers: what `--summary` writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The number of occupied cells.
    pub n: usize,
    /// Cells with at least one neighbour (the ones that get pseudo p-values).
    pub testable: usize,
    /// Cells without a neighbour.
    pub islands: usize,
    pub eb_prior: EbPrior,
    pub moran: GlobalMoran,
    pub significant: SignificantCounts,
}

/// The result of [`analyse`]: one [`CellStats`] per occupied cell, in cell-index order, and
/// the [`Summary`].
#[derive(Debug, Clone, PartialEq)]
pub struct Hotspots {
    pub cells: Vec<CellStats>,
    pub summary: Summary,
}

fn check_options(opts: &HotspotOptions) -> Result<(), HotspotError> {
    if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
        return Err(HotspotError::InvalidOption {
            option: "alpha",
            problem: format!("{} is not in (0, 1)", opts.alpha),
        });
    }
    Ok(())
}

/// Places → H3 cells at `resolution` → neighbours within `ring` → every statistic.
pub fn analyse(
    places: &[Place],
    resolution: Resolution,
    ring: u32,
    opts: &HotspotOptions,
) -> Result<Hotspots, HotspotError> {
    check_options(opts)?;
    let cells = aggregate(places, resolution)?;
    let ids: Vec<CellIndex> = cells.iter().map(|c| c.cell).collect();
    let neighbours = Neighbours::from_grid(&ids, ring);
    analyse_cells(&cells, &neighbours, opts)
}

/// One unit of [`analyse_units`] (a village, a township…): its count and denominator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitData {
    /// Cases (or positives); ≥ 0.
    pub count: f64,
    /// The denominator; > 0 (a unit without one carries no information: leave it out).
    pub population: f64,
}

/// Every statistic of one unit: [`CellStats`] without the cell. An island (no neighbour) is
/// never tested: no Gi* z, no local Moran, no p-value, bin 0, `lisa_cluster` ns.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitStats {
    pub population: f64,
    pub count: f64,
    pub rate: f64,
    pub eb_rate: f64,
    pub spatial_eb_rate: f64,
    pub neighbors: usize,
    pub gi_star_z: Option<f64>,
    pub gi_star_p: Option<f64>,
    pub gi_star_p_sim: Option<f64>,
    pub gi_star_bin: i8,
    pub lisa_i: Option<f64>,
    pub lisa_quadrant: Option<Quadrant>,
    pub lisa_p_sim: Option<f64>,
    pub lisa_cluster: LisaCluster,
}

impl UnitStats {
    /// True when the unit has no neighbour (not tested).
    pub fn island(&self) -> bool {
        self.neighbors == 0
    }
}

/// The result of [`analyse_units`]: one [`UnitStats`] per unit, in input order, and the
/// [`Summary`].
#[derive(Debug, Clone, PartialEq)]
pub struct UnitsResult {
    pub units: Vec<UnitStats>,
    pub summary: Summary,
}

fn check_neighbours_len(n: usize, neighbours: &Neighbours) -> Result<(), HotspotError> {
    if n == 0 {
        return Err(HotspotError::Empty);
    }
    if neighbours.len() != n {
        return Err(HotspotError::InvalidNeighbours {
            cell: neighbours.len().min(n),
            problem: format!("{} neighbour lists for {} units", neighbours.len(), n),
        });
    }
    Ok(())
}

/// Every statistic for units (villages, townships…) and their neighbour lists (the same
/// order; [`weights`] makes them). Rows of errors are 1-based positions in `units`. Islands
/// get no statistic at all (see [`UnitStats`]).
pub fn analyse_units(
    units: &[UnitData],
    neighbours: &Neighbours,
    opts: &HotspotOptions,
) -> Result<UnitsResult, HotspotError> {
    check_options(opts)?;
    check_neighbours_len(units.len(), neighbours)?;
    for (i, u) in units.iter().enumerate() {
        check_non_negative(i + 1, Field::Count, u.count)?;
        check_non_negative(i + 1, Field::Population, u.population)?;
        if u.population <= 0.0 {
            return Err(invalid(
                i + 1,
                Field::Population,
                "the population is 0; rates need a positive population",
            ));
        }
    }
    let mut result = analyse_series(units, neighbours, opts);
    for u in result.units.iter_mut().filter(|u| u.island()) {
        u.gi_star_z = None;
        u.lisa_i = None;
        u.lisa_quadrant = None;
    }
    Ok(result)
}

/// Every statistic for cells and neighbour lists already made (the same order). Unlike
/// [`analyse_units`], an island cell keeps its Gi* z and local Moran value (as esda and
/// earlier results give them); it still gets no p-value and is never significant.
pub fn analyse_cells(
    cells: &[CellData],
    neighbours: &Neighbours,
    opts: &HotspotOptions,
) -> Result<Hotspots, HotspotError> {
    check_options(opts)?;
    check_neighbours_len(cells.len(), neighbours)?;
    for (i, c) in cells.iter().enumerate() {
        check_non_negative(i + 1, Field::Count, c.count)?;
        check_non_negative(i + 1, Field::Population, c.population)?;
        if c.population <= 0.0 {
            return Err(HotspotError::ZeroPopulationCell {
                row: i + 1,
                cell: cell_hex(c.cell),
            });
        }
    }
    let units: Vec<UnitData> = cells
        .iter()
        .map(|c| UnitData {
            count: c.count,
            population: c.population,
        })
        .collect();
    let result = analyse_series(&units, neighbours, opts);
    let stats = result
        .units
        .into_iter()
        .zip(cells)
        .map(|(u, c)| CellStats {
            cell: c.cell,
            n_points: c.n_points,
            population: u.population,
            count: u.count,
            rate: u.rate,
            eb_rate: u.eb_rate,
            spatial_eb_rate: u.spatial_eb_rate,
            neighbors: u.neighbors,
            gi_star_z: u.gi_star_z,
            gi_star_p: u.gi_star_p,
            gi_star_p_sim: u.gi_star_p_sim,
            gi_star_bin: u.gi_star_bin,
            lisa_i: u.lisa_i,
            lisa_quadrant: u.lisa_quadrant,
            lisa_p_sim: u.lisa_p_sim,
            lisa_cluster: u.lisa_cluster,
        })
        .collect();
    Ok(Hotspots {
        cells: stats,
        summary: result.summary,
    })
}

/// The statistics of checked units (positive populations, one neighbour list each).
fn analyse_series(
    units: &[UnitData],
    neighbours: &Neighbours,
    opts: &HotspotOptions,
) -> UnitsResult {
    let n = units.len();
    let counts: Vec<f64> = units.iter().map(|c| c.count).collect();
    let pops: Vec<f64> = units.iter().map(|c| c.population).collect();
    let rate = crude_rates(&counts, &pops);
    let (prior, eb) = global_eb(&counts, &pops);
    let seb = spatial_eb(&counts, &pops, neighbours);
    let x: &[f64] = match opts.variable {
        Variable::Count => &counts,
        Variable::Rate => &rate,
        Variable::EbRate => &eb,
    };
    let gi = gi_star(x, neighbours);
    let lisa = local_moran(x, neighbours);
    let p_sim = conditional_randomisation(x, neighbours, opts.permutations, opts.seed);
    let testable: Vec<bool> = (0..n).map(|i| neighbours.count(i) > 0).collect();
    // A unit without a neighbour is not testable: no p-value of any kind.
    let gi_p: Vec<Option<f64>> = gi
        .iter()
        .zip(&testable)
        .map(|(z, t)| z.filter(|_| *t).map(local::two_sided_normal_p))
        .collect();
    let bins = gi_star_bins(&gi, &gi_p, opts.correction);
    let quadrants: Vec<Option<Quadrant>> = lisa.iter().map(|l| l.map(|l| l.1)).collect();
    let lisa_p: Vec<Option<f64>> = p_sim.iter().map(|p| p.lisa).collect();
    let clusters = lisa_clusters(&quadrants, &lisa_p, opts.alpha, opts.correction);
    let moran = global_moran(x, neighbours, opts.permutations, opts.seed);

    let mut significant = SignificantCounts::default();
    for (b, c) in bins.iter().zip(&clusters) {
        significant.gi_star_bins[(*b + 3) as usize] += 1;
        match c {
            LisaCluster::HH => significant.lisa_hh += 1,
            LisaCluster::LL => significant.lisa_ll += 1,
            LisaCluster::HL => significant.lisa_hl += 1,
            LisaCluster::LH => significant.lisa_lh += 1,
            LisaCluster::NotSignificant => significant.lisa_ns += 1,
        }
    }
    let n_testable = testable.iter().filter(|t| **t).count();
    let stats = (0..n)
        .map(|i| UnitStats {
            population: units[i].population,
            count: units[i].count,
            rate: rate[i],
            eb_rate: eb[i],
            spatial_eb_rate: seb[i],
            neighbors: neighbours.count(i),
            gi_star_z: gi[i],
            gi_star_p: gi_p[i],
            gi_star_p_sim: p_sim[i].gi_star,
            gi_star_bin: bins[i],
            lisa_i: lisa[i].map(|l| l.0),
            lisa_quadrant: quadrants[i],
            lisa_p_sim: p_sim[i].lisa,
            lisa_cluster: clusters[i],
        })
        .collect();
    UnitsResult {
        units: stats,
        summary: Summary {
            n,
            testable: n_testable,
            islands: n - n_testable,
            eb_prior: prior,
            moran,
            significant,
        },
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod units_tests;
