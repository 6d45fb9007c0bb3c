//! Deterministic demo data: every register of `migrations/` for the villages of a [`Gazetteer`],
//! as PostgreSQL `COPY` batches.
//!
//! The same gazetteer and [`DemoOptions`] always give byte-identical output: each kind of record
//! draws from its own ChaCha8 stream, seeded from the options' seed, the record kind and the
//! village (or county) index, so nothing depends on the order in which tables are written or on
//! the batch size.
//!
//! Memory stays bounded at scale 100 because rows go out in batches of about [`BATCH_BYTES`]
//! and only what later tables need is kept: a plan per village (population, households, rates),
//! and compact records for dogs, slaughter points and cases.
//!
//! The tables are written by one module per migration of the same name (`places`, `dogs`,
//! `livestock`, `people_cases`, `screening_stock`), each an `impl` block of the one `Generator`
//! that this module drives in [`TABLE_ORDER`]; `plan` draws what each village gets before any
//! row is written, `draw` holds the seeded random draws and date arithmetic.

mod dogs;
mod draw;
mod livestock;
mod people_cases;
mod places;
mod plan;
mod screening_stock;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use geo::MultiPolygon;
use rand_chacha::ChaCha8Rng;

use crate::GeodataError;
use crate::copy::CopyTable;
use crate::gazetteer::{Gazetteer, Village};

use self::dogs::DogRec;
use self::draw::{Stream, month_start, months, rng_for};
use self::livestock::PointRec;
use self::people_cases::CasePerson;
use self::plan::{VillagePlan, allocate_cases, normalise_populations, plan_village};

/// A batch is handed to the sink once it holds about this many bytes.
pub const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Residents per county (real or synthetic copy), as in DOMAIN.md §4.
pub const PEOPLE_PER_COUNTY: u32 = 180_000;
/// Months of deworming, faecal tests, slaughter inspections and stray-dog events up to today.
pub const REGISTER_MONTHS: u32 = 24;

/// Every table the generator writes, in the order the sink receives them (parents before
/// children, so the foreign keys hold after each batch).
pub const TABLE_ORDER: &[&str] = &[
    "counties",
    "neighbour_counties",
    "rivers",
    "townships",
    "villages",
    "village_denominators",
    "households",
    "people",
    "dogs",
    "dewormings",
    "faecal_tests",
    "stray_dog_events",
    "slaughter_points",
    "slaughter_inspections",
    "vaccination_campaigns",
    "vaccinations",
    "rodent_surveys",
    "cases",
    "imaging_exams",
    "treatments",
    "followups",
    "screening_campaigns",
    "health_education",
    "stock_items",
    "stock_stores",
    "stock_lots",
    "stock_barcodes",
    "stock_transfers",
    "stock_transfer_receipts",
    "stock_counts",
    "stock_count_lines",
    "stock_movements",
];

/// Tables whose `id` identity column is written explicitly (1-based, dense): after loading,
/// the caller moves each sequence past the largest id, e.g.
/// `SELECT setval(pg_get_serial_sequence('dogs', 'id'), max(id)) FROM dogs`.
pub const TABLES_WITH_ID: &[&str] = &[
    "rivers",
    "villages",
    "households",
    "people",
    "dogs",
    "dewormings",
    "faecal_tests",
    "stray_dog_events",
    "slaughter_points",
    "slaughter_inspections",
    "vaccination_campaigns",
    "vaccinations",
    "rodent_surveys",
    "cases",
    "imaging_exams",
    "treatments",
    "followups",
    "screening_campaigns",
    "health_education",
    "stock_items",
    "stock_stores",
    "stock_lots",
    "stock_barcodes",
    "stock_transfers",
    "stock_counts",
    "stock_movements",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    pub seed: u64,
    /// The number of counties in the gazetteer (the caller passes `gaz.scaled(scale)`); kept for
    /// the caller's bookkeeping, the generator works on whatever counties the gazetteer has.
    pub scale: u32,
    /// No generated event is dated after this day (expiry dates of stock are the only future
    /// dates).
    pub today: NaiveDate,
}

/// Rows written per table, in [`TABLE_ORDER`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoStats {
    pub rows: Vec<(&'static str, u64)>,
    pub batches: u64,
    pub bytes: u64,
}

impl DemoStats {
    /// Rows written to `table` (0 if none).
    pub fn rows_of(&self, table: &str) -> u64 {
        self.rows
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .sum()
    }

    fn add(&mut self, t: &CopyTable) {
        match self.rows.iter_mut().find(|(name, _)| *name == t.table) {
            Some((_, n)) => *n += t.rows,
            None => self.rows.push((t.table, t.rows)),
        }
        self.batches += 1;
        self.bytes += t.data.len() as u64;
    }
}

/// A high-risk area planted in the demo data for the hotspot tools to find.
///
/// Two are planted (in every county copy, at the villages with the same last six code digits):
///
/// 1. **Southern pastoral AE/CE cluster** — four villages of 加尕斯台镇 and the 山区林场 unit in the
///    Wusun mountains: about ten times the county's human case rate with nearly half AE, dog
///    faecal positivity 10–15%, deworming coverage only 50–58%, and the highest rodent infection.
/// 2. **Eastern CE cluster** — four villages of 坎乡 and 阔洪奇乡: six times the case rate, almost all
///    CE, dog positivity 7–10%, coverage 60–68%, and an informal slaughter point at 琼塔木村 with
///    no disposal facility where infected offal is never destroyed.
#[derive(Debug, Clone, PartialEq)]
pub struct PlantedHotspot {
    pub name: &'static str,
    /// Real 12-digit codes from villages.csv.
    pub village_codes: &'static [&'static str],
    /// Human case rate relative to an ordinary rural village.
    pub case_rate_ratio: f64,
    /// Share of the human cases that are AE.
    pub ae_share: f64,
    /// Range of dog faecal positivity drawn per village.
    pub dog_positivity: (f64, f64),
    /// Range of monthly deworming coverage drawn per village.
    pub deworming_coverage: (f64, f64),
    /// Ultrasound prevalence in screening.
    pub human_prevalence: f64,
}

static HOTSPOTS: [PlantedHotspot; 2] = [
    PlantedHotspot {
        name: "南部牧区包虫病聚集区 (southern pastoral AE/CE cluster)",
        village_codes: &[
            "654022104202",
            "654022104204",
            "654022104205",
            "654022104206",
            "654022404598",
        ],
        case_rate_ratio: 10.0,
        ae_share: 0.45,
        dog_positivity: (0.10, 0.15),
        deworming_coverage: (0.50, 0.58),
        human_prevalence: 0.025,
    },
    PlantedHotspot {
        name: "东部坎乡—阔洪奇乡囊型包虫病聚集区 (eastern CE cluster)",
        village_codes: &[
            "654022206203",
            "654022206205",
            "654022207202",
            "654022207204",
        ],
        case_rate_ratio: 6.0,
        ae_share: 0.04,
        dog_positivity: (0.07, 0.10),
        deworming_coverage: (0.60, 0.68),
        human_prevalence: 0.015,
    },
];

/// The planted high-risk areas (see [`PlantedHotspot`]).
pub fn planted_hotspots() -> &'static [PlantedHotspot] {
    &HOTSPOTS
}

/// Writes the demo registers of `gaz` to `sink`, table by table in [`TABLE_ORDER`], each table
/// in one or more consecutive batches. The caller runs `batch.copy_statement()` for each.
///
/// Village ids are the villages' indexes in `gaz.villages` + 1; every other id is 1-based and
/// dense per table ([`TABLES_WITH_ID`]). Errors of the sink are returned as they are.
pub fn generate<E: From<GeodataError>>(
    gaz: &Gazetteer,
    opts: &DemoOptions,
    sink: &mut dyn FnMut(CopyTable) -> Result<(), E>,
) -> Result<DemoStats, E> {
    let mut g = Generator::new(gaz, opts)?;
    let mut out = Out::new(sink);
    g.places(&mut out)?;
    g.denominators(&mut out)?;
    g.households(&mut out)?;
    g.people(&mut out)?;
    g.dogs(&mut out)?;
    g.dewormings(&mut out)?;
    g.faecal_tests(&mut out)?;
    g.stray_dogs(&mut out)?;
    g.slaughter(&mut out)?;
    g.vaccinations(&mut out)?;
    g.rodents(&mut out)?;
    g.cases(&mut out)?;
    g.screening(&mut out)?;
    g.health_education(&mut out)?;
    g.stock(&mut out)?;
    out.send()?;
    Ok(out.stats)
}

/// Writes only the places (counties, neighbours, rivers, townships, villages) of `gaz`: the
/// reference geography a database needs before any register row, without demo records.
pub fn gazetteer_tables<E: From<GeodataError>>(
    gaz: &Gazetteer,
    sink: &mut dyn FnMut(CopyTable) -> Result<(), E>,
) -> Result<DemoStats, E> {
    // Places depend on neither the seed nor the date.
    let opts = DemoOptions {
        seed: 0,
        scale: 1,
        today: NaiveDate::default(),
    };
    let g = Generator::new(gaz, &opts)?;
    let mut out = Out::new(sink);
    g.places(&mut out)?;
    out.send()?;
    Ok(out.stats)
}

/// Every generated register row is attached to its village by code.
const LINK: &str = "code";

// ---------------------------------------------------------------------------------------------
// Output

struct Out<'a, E> {
    sink: &'a mut dyn FnMut(CopyTable) -> Result<(), E>,
    cur: CopyTable,
    stats: DemoStats,
}

impl<'a, E> Out<'a, E> {
    /// A sink whose first `begin` starts the first table.
    fn new(sink: &'a mut dyn FnMut(CopyTable) -> Result<(), E>) -> Self {
        Self {
            sink,
            cur: CopyTable::new("counties", places::COUNTIES),
            stats: DemoStats::default(),
        }
    }

    /// Sends what is pending and starts the next table.
    fn begin(&mut self, table: &'static str, columns: &'static [&'static str]) -> Result<(), E> {
        self.send()?;
        self.cur = CopyTable::new(table, columns);
        Ok(())
    }

    fn t(&mut self) -> &mut CopyTable {
        &mut self.cur
    }

    /// Called after each row: sends the batch once it is full.
    fn done(&mut self) -> Result<(), E> {
        if self.cur.data.len() >= BATCH_BYTES {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), E> {
        if self.cur.rows == 0 {
            return Ok(());
        }
        let next = CopyTable::new(self.cur.table, self.cur.columns);
        let full = std::mem::replace(&mut self.cur, next);
        self.stats.add(&full);
        (self.sink)(full)
    }
}

// ---------------------------------------------------------------------------------------------
// Generator

/// What one run knows: the plans of the villages, and the records that later tables need from
/// earlier ones. Its table writers live in the register modules.
struct Generator<'g> {
    gaz: &'g Gazetteer,
    seed: u64,
    today: NaiveDate,
    /// First day of the first month of the registers.
    window_start: NaiveDate,
    plans: Vec<VillagePlan>,
    dogs: Vec<DogRec>,
    case_persons: Vec<CasePerson>,
    points: Vec<PointRec>,
    campaigns: Vec<(u64, i32, NaiveDate, NaiveDate)>,
}

impl<'g> Generator<'g> {
    fn new(gaz: &'g Gazetteer, opts: &DemoOptions) -> Result<Self, GeodataError> {
        let township_index: HashMap<&str, usize> = gaz
            .townships
            .iter()
            .enumerate()
            .map(|(i, t)| (t.code.as_str(), i))
            .collect();
        let county_index: HashMap<&str, usize> = gaz
            .counties
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.as_str(), i))
            .collect();
        let mut plans = Vec::with_capacity(gaz.villages.len());
        for (vi, v) in gaz.villages.iter().enumerate() {
            let township = *township_index
                .get(v.township_code.as_str())
                .ok_or_else(|| GeodataError::UnknownTownship {
                    code: v.code.clone(),
                    township_code: v.township_code.clone(),
                })?;
            let county = county_index.get(v.county_code()).copied().unwrap_or(0);
            plans.push(plan_village(opts.seed, vi, v, county, township));
        }
        normalise_populations(opts.seed, gaz, &mut plans);
        allocate_cases(opts.seed, gaz, &mut plans);
        let mut next_household = 1;
        for p in &mut plans {
            p.first_household_id = next_household;
            next_household += p.households.len() as u64;
        }
        Ok(Self {
            gaz,
            seed: opts.seed,
            today: opts.today,
            window_start: months(month_start(opts.today), -(REGISTER_MONTHS as i32 - 1)),
            plans,
            dogs: Vec::new(),
            case_persons: Vec::new(),
            points: Vec::new(),
            campaigns: Vec::new(),
        })
    }

    fn rng(&self, stream: Stream, index: usize) -> ChaCha8Rng {
        rng_for(self.seed, stream, index)
    }

    fn village(&self, vi: usize) -> &'g Village {
        &self.gaz.villages[vi]
    }

    fn county_geom(&self, vi: usize) -> &'g MultiPolygon<f64> {
        let c = self.plans[vi].county;
        &self.gaz.counties[c].geom
    }

    fn county_name(&self, vi: usize) -> &'g str {
        &self.gaz.counties[self.plans[vi].county].name
    }

    fn years(&self) -> std::ops::RangeInclusive<i32> {
        self.today.year() - 2..=self.today.year()
    }

    fn register_months(&self) -> Vec<NaiveDate> {
        (0..REGISTER_MONTHS as i32)
            .map(|k| months(self.window_start, k))
            .collect()
    }
}
