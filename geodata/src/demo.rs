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

use std::collections::HashMap;

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use geo::{Contains, Distance, Haversine, MultiPolygon, Point};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::GeodataError;
use crate::copy::{CopyTable, Decimal1, Decimal2};
use crate::gazetteer::{Gazetteer, Village, h3_cells};
use crate::idcard::IdAllocator;
use crate::names::{self, Ethnicity};

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
    let mut out = Out {
        sink,
        cur: CopyTable::new("counties", COUNTIES),
        stats: DemoStats::default(),
    };
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
    let mut out = Out {
        sink,
        cur: CopyTable::new("counties", COUNTIES),
        stats: DemoStats::default(),
    };
    g.places(&mut out)?;
    out.send()?;
    Ok(out.stats)
}

// ---------------------------------------------------------------------------------------------
// Columns

const COUNTIES: &[&str] = &["code", "name", "name_en", "geom", "source"];
const NEIGHBOURS: &[&str] = &["code", "name", "geom"];
const RIVERS: &[&str] = &["id", "name", "level", "geom"];
const TOWNSHIPS: &[&str] = &[
    "code",
    "county_code",
    "name",
    "kind",
    "seat",
    "seat_synthetic",
    "seat_confidence",
    "geom",
    "synthetic",
];
const VILLAGES: &[&str] = &[
    "id",
    "code",
    "township_code",
    "name",
    "kind",
    "geom",
    "boundary",
    "synthetic",
    "remote",
    "h3_r7",
    "h3_r8",
    "h3_r9",
];
const DENOMINATORS: &[&str] = &[
    "village_id",
    "year",
    "population",
    "households",
    "dogs_estimated",
    "sheep",
    "goats",
    "cattle",
    "horses",
    "camels",
    "synthetic",
];
const HOUSEHOLDS: &[&str] = &[
    "id",
    "village_id",
    "household_no",
    "head_name",
    "address",
    "pastoral",
    "geom",
    "h3_r7",
    "h3_r8",
    "h3_r9",
    "link_method",
];
const PEOPLE: &[&str] = &[
    "id",
    "household_id",
    "village_id",
    "name",
    "id_number",
    "sex",
    "birth_date",
    "ethnicity",
    "occupation",
    "phone",
    "link_method",
];
const DOGS: &[&str] = &[
    "id",
    "tag",
    "collar_id",
    "household_id",
    "village_id",
    "kind",
    "sex",
    "birth_year",
    "status",
    "status_on",
    "registered_on",
    "link_method",
];
const DEWORMINGS: &[&str] = &[
    "id",
    "dog_id",
    "village_id",
    "dosed_on",
    "drug",
    "batch",
    "dose_mg",
    "method",
    "given_by",
];
const FAECAL: &[&str] = &[
    "id",
    "sample_id",
    "dog_id",
    "household_id",
    "village_id",
    "sampled_on",
    "tested_on",
    "method",
    "result",
    "lab",
    "link_method",
];
const STRAYS: &[&str] = &[
    "id",
    "occurred_on",
    "village_id",
    "geom",
    "h3_r7",
    "h3_r8",
    "h3_r9",
    "n_dogs",
    "action",
    "reported_by",
    "link_method",
];
const SLAUGHTER_POINTS: &[&str] = &[
    "id",
    "code",
    "name",
    "kind",
    "village_id",
    "geom",
    "h3_r7",
    "h3_r8",
    "h3_r9",
    "licence",
    "disposal_facility",
    "link_method",
];
const INSPECTIONS: &[&str] = &[
    "id",
    "point_id",
    "inspected_on",
    "species",
    "age_class",
    "slaughtered",
    "infected",
    "organ",
    "origin_village_id",
    "disposal_method",
    "disposal_done",
    "inspector",
    "link_method",
];
const CAMPAIGNS: &[&str] = &[
    "id",
    "name",
    "year",
    "vaccine",
    "species",
    "starts_on",
    "ends_on",
];
const VACCINATIONS: &[&str] = &[
    "id",
    "campaign_id",
    "village_id",
    "vaccinated_on",
    "target",
    "immunised",
    "doses",
    "batch",
    "link_method",
];
const RODENTS: &[&str] = &[
    "id",
    "surveyed_on",
    "village_id",
    "site",
    "geom",
    "h3_r7",
    "h3_r8",
    "h3_r9",
    "trapped",
    "dissected",
    "infected",
    "species",
    "link_method",
];
const CASES: &[&str] = &[
    "id",
    "person_id",
    "village_id",
    "case_type",
    "diagnosis_class",
    "organ",
    "discovery_route",
    "onset_on",
    "diagnosed_on",
    "reported_on",
    "nndrs_id",
    "reporting_unit",
    "is_revisit",
    "status",
];
const EXAMS: &[&str] = &[
    "id",
    "case_id",
    "examined_on",
    "modality",
    "ce_stage",
    "pnm_p",
    "pnm_n",
    "pnm_m",
    "largest_cyst_mm",
    "examiner",
];
const TREATMENTS: &[&str] = &[
    "id",
    "case_id",
    "kind",
    "started_on",
    "ended_on",
    "dose_mg_per_kg",
    "adherence_pct",
    "adverse_events",
    "hospital",
    "procedure",
    "subsidy_yuan",
];
const FOLLOWUPS: &[&str] = &[
    "id",
    "case_id",
    "due_on",
    "visited_on",
    "outcome",
    "ultrasound_done",
    "visited_by",
];
const SCREENING: &[&str] = &[
    "id",
    "village_id",
    "screened_on",
    "method",
    "target_group",
    "min_age",
    "max_age",
    "screened",
    "positives",
    "team",
    "link_method",
];
const EDUCATION: &[&str] = &[
    "id",
    "village_id",
    "held_on",
    "activity",
    "participants",
    "respondents",
    "aware",
];
const STOCK_ITEMS: &[&str] = &["id", "code", "name", "kind", "unit"];
const STOCK_MOVES: &[&str] = &[
    "id",
    "item_id",
    "moved_on",
    "kind",
    "quantity",
    "batch",
    "expires_on",
    "township_code",
    "village_id",
    "scanned_barcode",
    "note",
];

/// Every generated register row is attached to its village by code.
const LINK: &str = "code";

// ---------------------------------------------------------------------------------------------
// Output

struct Out<'a, E> {
    sink: &'a mut dyn FnMut(CopyTable) -> Result<(), E>,
    cur: CopyTable,
    stats: DemoStats,
}

impl<E> Out<'_, E> {
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
// Random helpers

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Record kinds, each with its own random stream per village (or county).
#[derive(Clone, Copy)]
enum Stream {
    Plan = 1,
    CasePlan,
    Family,
    Household,
    People,
    Dogs,
    Deworm,
    Faecal,
    Stray,
    Slaughter,
    Vaccination,
    Rodent,
    Cases,
    Screening,
    Education,
    Stock,
}

fn rng_for(seed: u64, stream: Stream, index: usize) -> ChaCha8Rng {
    let s = splitmix(seed ^ splitmix(((stream as u64) << 40) ^ index as u64));
    ChaCha8Rng::seed_from_u64(s)
}

fn unit(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

fn int(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> i64 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.random_bool(p.clamp(0.0, 1.0))
}

/// Index drawn with probability proportional to `weights`.
fn weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    let mut r = rng.random_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i;
        }
        r -= w;
    }
    weights.len().saturating_sub(1)
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let w: Vec<f64> = items.iter().map(|(_, w)| *w).collect();
    items[weighted(rng, &w)].0
}

fn binomial(rng: &mut ChaCha8Rng, n: u32, p: f64) -> u32 {
    let p = p.clamp(0.0, 1.0);
    if n <= 300 {
        return (0..n).filter(|_| rng.random_bool(p)).count() as u32;
    }
    // Normal approximation with a continuity correction for large n.
    let mean = f64::from(n) * p;
    let sd = (mean * (1.0 - p)).sqrt();
    let z = normal(rng);
    (mean + sd * z).round().clamp(0.0, f64::from(n)) as u32
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    let l = (-lambda).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random_range(0.0..1.0);
        if p <= l || k > 1000 {
            return k;
        }
        k += 1;
    }
}

/// A point `r` km from `p` (uniform over the ring between `lo` and `hi` km).
fn near(rng: &mut ChaCha8Rng, p: Point<f64>, lo: f64, hi: f64) -> Point<f64> {
    let angle = rng.random_range(0.0..std::f64::consts::TAU);
    let r = unit(rng, lo * lo, hi * hi).sqrt();
    let km_lat = 111.32;
    let km_lon = km_lat * p.y().to_radians().cos();
    Point::new(
        p.x() + r * angle.cos() / km_lon,
        p.y() + r * angle.sin() / km_lat,
    )
}

fn near_inside(
    rng: &mut ChaCha8Rng,
    p: Point<f64>,
    lo: f64,
    hi: f64,
    area: &MultiPolygon<f64>,
) -> Point<f64> {
    for _ in 0..10 {
        let q = near(rng, p, lo, hi);
        if area.contains(&q) {
            return q;
        }
    }
    p
}

// ---------------------------------------------------------------------------------------------
// Date helpers

fn days(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_signed(TimeDelta::days(n)).unwrap_or(d)
}

fn months(d: NaiveDate, n: i32) -> NaiveDate {
    let m = Months::new(n.unsigned_abs());
    if n >= 0 {
        d.checked_add_months(m)
    } else {
        d.checked_sub_months(m)
    }
    .unwrap_or(d)
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn between(rng: &mut ChaCha8Rng, a: NaiveDate, b: NaiveDate) -> NaiveDate {
    let span = (b - a).num_days();
    if span <= 0 {
        a
    } else {
        days(a, rng.random_range(0..=span))
    }
}

fn quarter(d: NaiveDate) -> u32 {
    (d.month() - 1) / 3 + 1
}

fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    on.years_since(birth).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Plans

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Seat,
    Niru,
    Hui,
    East,
    Pastoral,
    Farm,
}

fn area_of(township_code: &str) -> Area {
    match township_code.get(6..).unwrap_or("") {
        "100" => Area::Seat,
        "101" | "102" | "200" | "203" | "204" => Area::Niru,
        "205" => Area::Hui,
        "103" | "106" | "206" | "207" => Area::East,
        "104" | "105" | "404" => Area::Pastoral,
        _ => Area::Farm,
    }
}

/// Ethnic shares in the order of [`Ethnicity::ALL`]: Han, Uyghur, Kazakh, Xibe, Hui, Mongol.
fn ethnic_mix(area: Area) -> [f64; 6] {
    match area {
        Area::Seat => [0.35, 0.20, 0.08, 0.25, 0.10, 0.02],
        Area::Niru => [0.30, 0.25, 0.08, 0.30, 0.05, 0.02],
        Area::Hui => [0.20, 0.25, 0.03, 0.02, 0.50, 0.00],
        Area::East => [0.20, 0.50, 0.15, 0.05, 0.08, 0.02],
        Area::Pastoral => [0.15, 0.15, 0.55, 0.04, 0.05, 0.06],
        Area::Farm => [0.60, 0.15, 0.15, 0.03, 0.07, 0.00],
    }
}

#[derive(Debug, Clone, Copy)]
struct HouseholdPlan {
    size: u8,
    pastoral: bool,
    dogs: u8,
}

#[derive(Debug)]
struct VillagePlan {
    county: usize,
    township: usize,
    area: Area,
    urban: bool,
    hotspot: Option<usize>,
    population: u32,
    households: Vec<HouseholdPlan>,
    first_household_id: u64,
    mix: [f64; 6],
    coverage: f64,
    dog_positivity: f64,
    human_prevalence: f64,
    ae_share: f64,
    case_persons: u32,
    /// Year-end sheep, goats, cattle, horses, camels of the current year.
    livestock: [u32; 5],
    registration_rate: f64,
    vet: String,
    doctor: String,
}

impl VillagePlan {
    fn dogs(&self) -> u32 {
        self.households.iter().map(|h| u32::from(h.dogs)).sum()
    }
}

#[derive(Debug, Clone, Copy)]
struct DogRec {
    id: u64,
    village: usize,
    household: Option<u64>,
    registered: NaiveDate,
    /// The day it died, moved or was culled.
    end: Option<NaiveDate>,
    weight_kg: u8,
}

impl DogRec {
    fn present(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.registered <= from && self.end.is_none_or(|e| e > to)
    }
}

#[derive(Debug, Clone, Copy)]
struct CasePerson {
    person_id: u64,
    village: usize,
    birth: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slaughter {
    Designated,
    Informal,
}

/// Slaughter sites by the last six digits of their village's code: designated slaughterhouses in
/// the towns, informal home-slaughter sites in the pastoral areas (one at each hotspot).
const SLAUGHTER_SITES: &[(&str, Slaughter, &str)] = &[
    ("100200", Slaughter::Designated, "incinerator"),
    ("102201", Slaughter::Designated, "incinerator"),
    ("104201", Slaughter::Designated, "pit"),
    ("105200", Slaughter::Designated, "pit"),
    ("106200", Slaughter::Designated, "incinerator"),
    ("206200", Slaughter::Designated, "pit"),
    ("200200", Slaughter::Designated, "pit"),
    ("204200", Slaughter::Designated, "incinerator"),
    ("104204", Slaughter::Informal, "none"),
    ("104205", Slaughter::Informal, "pit"),
    ("105202", Slaughter::Informal, "none"),
    ("404598", Slaughter::Informal, "none"),
    ("207204", Slaughter::Informal, "none"),
    ("207200", Slaughter::Informal, "pit"),
    ("401203", Slaughter::Informal, "pit"),
];

#[derive(Debug)]
struct PointRec {
    id: u64,
    kind: Slaughter,
    facility: &'static str,
    infection: f64,
    origins: Vec<usize>,
}

#[derive(Debug, Clone)]
struct CaseRec {
    id: u64,
    person: u64,
    village: usize,
    ae: bool,
    diagnosed: NaiveDate,
    reported: NaiveDate,
    revisit: bool,
    status: &'static str,
    ce_stage: usize,
}

const CE_STAGES: [&str; 7] = ["CL", "CE1", "CE2", "CE3a", "CE3b", "CE4", "CE5"];

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

    // -- places ---------------------------------------------------------------------------------

    fn places<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("counties", COUNTIES)?;
        for c in &self.gaz.counties {
            out.t()
                .row()
                .field(&c.code)
                .field(&c.name)
                .field(&c.name_en)
                .field(&c.geom)
                .field(&c.source)
                .end();
            out.done()?;
        }
        out.begin("neighbour_counties", NEIGHBOURS)?;
        for n in &self.gaz.neighbours {
            out.t()
                .row()
                .field(&n.code)
                .field(&n.name)
                .field(&n.geom)
                .end();
            out.done()?;
        }
        out.begin("rivers", RIVERS)?;
        for (i, r) in self.gaz.rivers.iter().enumerate() {
            out.t()
                .row()
                .field(i + 1)
                .field(&r.name)
                .field(r.level)
                .field(&r.geom)
                .end();
            out.done()?;
        }
        out.begin("townships", TOWNSHIPS)?;
        for t in &self.gaz.townships {
            out.t()
                .row()
                .field(&t.code)
                .field(t.county_code())
                .field(&t.name)
                .field(t.kind)
                .field(t.seat)
                .field(t.seat_synthetic)
                .field(&t.seat_confidence)
                .field(&t.geom)
                .field(t.synthetic)
                .end();
            out.done()?;
        }
        out.begin("villages", VILLAGES)?;
        for (i, v) in self.gaz.villages.iter().enumerate() {
            let [r7, r8, r9] = h3_cells(v.position)?;
            out.t()
                .row()
                .field(i + 1)
                .field(&v.code)
                .field(&v.township_code)
                .field(&v.name)
                .field(v.kind)
                .field(v.position)
                .null()
                .field(v.synthetic)
                .field(v.remote)
                .field(r7 as i64)
                .field(r8 as i64)
                .field(r9 as i64)
                .end();
            out.done()?;
        }
        Ok(())
    }

    fn denominators<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("village_denominators", DENOMINATORS)?;
        let this_year = self.today.year();
        for (vi, p) in self.plans.iter().enumerate() {
            for year in self.years() {
                // Earlier years: about 0.8% fewer people a year back, livestock varying ±6%.
                let back = f64::from(this_year - year);
                let jitter = 1.0
                    + 0.06 * ((splitmix(vi as u64 * 31 + year as u64) % 200) as f64 / 100.0 - 1.0);
                let pop = (f64::from(p.population) * (1.0 - 0.008 * back)).round() as u32;
                let hh = (p.households.len() as f64 * (1.0 - 0.006 * back)).round() as u32;
                let dogs = (f64::from(p.dogs()) / p.registration_rate * (1.0 - 0.03 * back)).round()
                    as u32;
                let stock = |k: usize| {
                    (f64::from(p.livestock[k]) * if back > 0.0 { jitter } else { 1.0 }).round()
                        as u32
                };
                out.t()
                    .row()
                    .field(vi + 1)
                    .field(year)
                    .field(pop)
                    .field(hh)
                    .field(dogs)
                    .field(stock(0))
                    .field(stock(1))
                    .field(stock(2))
                    .field(stock(3))
                    .field(stock(4))
                    .field(true)
                    .end();
                out.done()?;
            }
        }
        Ok(())
    }

    // -- households and people --------------------------------------------------------------------

    fn households<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("households", HOUSEHOLDS)?;
        for (vi, p) in self.plans.iter().enumerate() {
            let v = self.village(vi);
            let area = self.county_geom(vi);
            let mut fam_rng = self.rng(Stream::Family, vi);
            let mut rng = self.rng(Stream::Household, vi);
            for (hi, h) in p.households.iter().enumerate() {
                let fam = family(&mut fam_rng, &p.mix, self.today);
                let (lo, hi_km) = if h.pastoral { (0.5, 5.0) } else { (0.0, 0.8) };
                let pos = near_inside(&mut rng, v.position, lo, hi_km, area);
                let [r7, r8, r9] = h3_cells(pos)?;
                out.t()
                    .row()
                    .field(p.first_household_id + hi as u64)
                    .field(vi + 1)
                    .field(format!("{}-{:04}", v.code, hi + 1))
                    .field(&fam.head_name)
                    .field(format!("{}{}号", v.name, hi + 1))
                    .field(h.pastoral)
                    .field(pos)
                    .field(r7 as i64)
                    .field(r8 as i64)
                    .field(r9 as i64)
                    .field(LINK)
                    .end();
                out.done()?;
            }
        }
        Ok(())
    }

    fn people<E: From<GeodataError>>(&mut self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("people", PEOPLE)?;
        let mut ids = IdAllocator::default();
        let mut next_id: u64 = 1;
        let mut chosen = Vec::new();
        for (vi, p) in self.plans.iter().enumerate() {
            let mut fam_rng = self.rng(Stream::Family, vi);
            let mut rng = self.rng(Stream::People, vi);
            let mut candidates: Vec<(u64, NaiveDate, f64)> =
                Vec::with_capacity(p.population as usize);
            for (hi, h) in p.households.iter().enumerate() {
                let fam = family(&mut fam_rng, &p.mix, self.today);
                for m in 0..h.size {
                    let (name, male, birth) = if m == 0 {
                        (fam.head_name.clone(), fam.head_male, fam.head_birth)
                    } else {
                        member(&mut rng, &fam, m, self.today)
                    };
                    let age = age_on(birth, self.today);
                    let id_number = ids.next(birth, male);
                    let phone = (18..=70).contains(&age) && chance(&mut rng, 0.55);
                    let phone = phone.then(|| {
                        format!(
                            "1{}{:09}",
                            int(&mut rng, 3, 9),
                            int(&mut rng, 0, 999_999_999)
                        )
                    });
                    let occupation = occupation(&mut rng, age, h.pastoral, p.urban);
                    out.t()
                        .row()
                        .field(next_id)
                        .field(p.first_household_id + hi as u64)
                        .field(vi + 1)
                        .field(&name)
                        .field(id_number)
                        .field(if male { "male" } else { "female" })
                        .field(birth)
                        .field(fam.ethnicity.label())
                        .field(occupation)
                        .field(phone)
                        .field(LINK)
                        .end();
                    out.done()?;
                    // Cases are mostly older adults; a few children (new child cases matter).
                    let w = match age {
                        0..=5 => 0.05,
                        6..=14 => 0.3,
                        15..=39 => 1.0,
                        40..=59 => 2.0,
                        _ => 2.5,
                    };
                    candidates.push((next_id, birth, w));
                    next_id += 1;
                }
            }
            let mut picked = Vec::new();
            let weights: Vec<f64> = candidates.iter().map(|c| c.2).collect();
            let mut tries = 0;
            while picked.len() < p.case_persons as usize && tries < 10_000 {
                tries += 1;
                let i = weighted(&mut rng, &weights);
                if !picked.contains(&i) {
                    picked.push(i);
                }
            }
            for i in picked {
                let (person_id, birth, _) = candidates[i];
                chosen.push(CasePerson {
                    person_id,
                    village: vi,
                    birth,
                });
            }
        }
        self.case_persons = chosen;
        Ok(())
    }

    // -- dogs -------------------------------------------------------------------------------------

    fn dogs<E: From<GeodataError>>(&mut self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("dogs", DOGS)?;
        let mut recs = Vec::new();
        let mut next_id: u64 = 1;
        let old = days(self.window_start, -6 * 365);
        for (vi, p) in self.plans.iter().enumerate() {
            let v = self.village(vi);
            let mut rng = self.rng(Stream::Dogs, vi);
            let strays = if !p.urban && chance(&mut rng, 0.3) {
                int(&mut rng, 1, 2)
            } else {
                0
            };
            let owned = p.households.iter().enumerate().flat_map(|(hi, h)| {
                std::iter::repeat_n(
                    (Some(p.first_household_id + hi as u64), h.pastoral),
                    usize::from(h.dogs),
                )
            });
            let all: Vec<(Option<u64>, bool)> = owned
                .chain(std::iter::repeat_n((None, false), strays as usize))
                .collect();
            for (seq, (household, pastoral)) in all.into_iter().enumerate() {
                let kind = if household.is_none() {
                    "stray"
                } else if pastoral {
                    pick(
                        &mut rng,
                        &[
                            ("herding", 0.65),
                            ("domestic_tethered", 0.25),
                            ("domestic_semi", 0.10),
                        ],
                    )
                } else {
                    pick(
                        &mut rng,
                        &[("domestic_tethered", 0.65), ("domestic_semi", 0.35)],
                    )
                };
                let sex = pick(
                    &mut rng,
                    &[("male", 0.6), ("female", 0.38), ("unknown", 0.02)],
                );
                let registered = if chance(&mut rng, 0.75) {
                    between(&mut rng, old, days(self.window_start, -1))
                } else {
                    between(&mut rng, self.window_start, days(self.today, -7))
                };
                let status = pick(
                    &mut rng,
                    &[
                        ("alive", 0.86),
                        ("dead", 0.08),
                        ("moved", 0.035),
                        ("culled", 0.025),
                    ],
                );
                let end = (status != "alive").then(|| {
                    let from = registered.max(days(self.window_start, -180));
                    between(&mut rng, from, self.today)
                });
                let birth_year = registered.year() - int(&mut rng, 0, 4) as i32;
                let weight = if kind == "herding" {
                    int(&mut rng, 20, 40)
                } else {
                    int(&mut rng, 8, 30)
                };
                let collar = chance(&mut rng, 0.08).then(|| format!("CL{next_id:09}"));
                out.t()
                    .row()
                    .field(next_id)
                    .field(format!("{}-D{:04}", v.code, seq + 1))
                    .field(collar)
                    .field(household)
                    .field(vi + 1)
                    .field(kind)
                    .field(sex)
                    .field(birth_year)
                    .field(status)
                    .field(end)
                    .field(registered)
                    .field(LINK)
                    .end();
                out.done()?;
                recs.push(DogRec {
                    id: next_id,
                    village: vi,
                    household,
                    registered,
                    end,
                    weight_kg: u8::try_from(weight).unwrap_or(20),
                });
                next_id += 1;
            }
        }
        self.dogs = recs;
        Ok(())
    }

    /// The dogs of each village, as a range of `self.dogs` (they were written village by village).
    fn dogs_by_village(&self) -> Vec<std::ops::Range<usize>> {
        let mut ranges = vec![0..0; self.plans.len()];
        let mut start = 0;
        while start < self.dogs.len() {
            let vi = self.dogs[start].village;
            let mut end = start;
            while end < self.dogs.len() && self.dogs[end].village == vi {
                end += 1;
            }
            ranges[vi] = start..end;
            start = end;
        }
        ranges
    }

    fn register_months(&self) -> Vec<NaiveDate> {
        (0..REGISTER_MONTHS as i32)
            .map(|k| months(self.window_start, k))
            .collect()
    }

    fn dewormings<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("dewormings", DEWORMINGS)?;
        let ranges = self.dogs_by_village();
        let month_list = self.register_months();
        let mut next_id: u64 = 1;
        for (vi, p) in self.plans.iter().enumerate() {
            let mut rng = self.rng(Stream::Deworm, vi);
            let county = &self.gaz.counties[p.county].code;
            // The village's deworming day each month (the county's 15th ± 3) and coverage.
            let rounds: Vec<(i64, f64, String)> = month_list
                .iter()
                .map(|m| {
                    let offset = int(&mut rng, -3, 3);
                    let c = (p.coverage + unit(&mut rng, -0.04, 0.04)).clamp(0.45, 0.99);
                    (
                        offset,
                        c,
                        format!("PZQ-{county}-{}Q{}", m.year(), quarter(*m)),
                    )
                })
                .collect();
            for dog in &self.dogs[ranges[vi].clone()] {
                for (m, (offset, coverage, batch)) in month_list.iter().zip(&rounds) {
                    if !dog.present(days(*m, 11), days(*m, 17)) {
                        continue;
                    }
                    let mut day = 14 + offset;
                    if day < 17 && chance(&mut rng, 0.15) {
                        day += 1;
                    }
                    let on = days(*m, day);
                    if on > self.today || !chance(&mut rng, *coverage) {
                        continue;
                    }
                    let method = pick(
                        &mut rng,
                        &[("tablet", 0.9), ("bait", 0.08), ("injection", 0.02)],
                    );
                    out.t()
                        .row()
                        .field(next_id)
                        .field(dog.id)
                        .field(vi + 1)
                        .field(on)
                        .field("praziquantel")
                        .field(batch)
                        .field(Decimal1(5.0 * f64::from(dog.weight_kg)))
                        .field(method)
                        .field(&p.vet)
                        .end();
                    out.done()?;
                    next_id += 1;
                }
            }
        }
        Ok(())
    }

    fn faecal_tests<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("faecal_tests", FAECAL)?;
        let ranges = self.dogs_by_village();
        let mut next_id: u64 = 1;
        for (vi, p) in self.plans.iter().enumerate() {
            let v = self.village(vi);
            let mut rng = self.rng(Stream::Faecal, vi);
            let lab = format!("{}动物疫病预防控制中心", self.county_name(vi));
            for m in self
                .register_months()
                .into_iter()
                .filter(|m| m.month() % 3 == 0)
            {
                let on = days(m, int(&mut rng, 4, 24));
                if on > self.today {
                    continue;
                }
                let mut seq = 0;
                for dog in &self.dogs[ranges[vi].clone()] {
                    if !dog.present(on, on) || !chance(&mut rng, 0.3) {
                        continue;
                    }
                    seq += 1;
                    let result = if chance(&mut rng, p.dog_positivity) {
                        "positive"
                    } else if chance(&mut rng, 0.005) {
                        "inconclusive"
                    } else {
                        "negative"
                    };
                    let tested = Some(days(on, int(&mut rng, 1, 10))).filter(|d| *d <= self.today);
                    let method = if chance(&mut rng, 0.92) {
                        "copro_elisa"
                    } else {
                        "copro_pcr"
                    };
                    out.t()
                        .row()
                        .field(next_id)
                        .field(format!(
                            "{}-F{}{:02}{seq:04}",
                            v.code,
                            on.year(),
                            on.month()
                        ))
                        .field(dog.id)
                        .field(dog.household)
                        .field(vi + 1)
                        .field(on)
                        .field(tested)
                        .field(method)
                        .field(result)
                        .field(&lab)
                        .field(LINK)
                        .end();
                    out.done()?;
                    next_id += 1;
                }
            }
        }
        Ok(())
    }

    fn stray_dogs<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("stray_dog_events", STRAYS)?;
        let mut next_id: u64 = 1;
        for (vi, p) in self.plans.iter().enumerate() {
            let v = self.village(vi);
            let mut rng = self.rng(Stream::Stray, vi);
            let lambda = match (p.hotspot.is_some(), p.urban) {
                (true, _) => 7.0,
                (false, true) => 1.5,
                _ => 3.0,
            };
            let mut events: Vec<NaiveDate> = (0..poisson(&mut rng, lambda))
                .map(|_| between(&mut rng, self.window_start, self.today))
                .collect();
            events.sort();
            for on in events {
                let pos = near(&mut rng, v.position, 0.2, 2.0);
                let [r7, r8, r9] = h3_cells(pos)?;
                let action = pick(
                    &mut rng,
                    &[
                        ("observed", 0.35),
                        ("captured", 0.3),
                        ("sheltered", 0.15),
                        ("euthanised", 0.12),
                        ("adopted", 0.08),
                    ],
                );
                out.t()
                    .row()
                    .field(next_id)
                    .field(on)
                    .field(vi + 1)
                    .field(pos)
                    .field(r7 as i64)
                    .field(r8 as i64)
                    .field(r9 as i64)
                    .field(1 + poisson(&mut rng, 1.0).min(7))
                    .field(action)
                    .field(&p.vet)
                    .field(LINK)
                    .end();
                out.done()?;
                next_id += 1;
            }
        }
        Ok(())
    }

    // -- livestock --------------------------------------------------------------------------------

    fn slaughter<E: From<GeodataError>>(&mut self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("slaughter_points", SLAUGHTER_POINTS)?;
        let mut points = Vec::new();
        let mut next_id: u64 = 1;
        for (ci, county) in self.gaz.counties.iter().enumerate() {
            let mut rng = self.rng(Stream::Slaughter, ci);
            let in_county: Vec<usize> = (0..self.plans.len())
                .filter(|&i| self.plans[i].county == ci)
                .collect();
            for (n, (local, kind, facility)) in SLAUGHTER_SITES.iter().enumerate() {
                let Some(&vi) = in_county
                    .iter()
                    .find(|&&i| self.village(i).local_code() == *local)
                else {
                    continue;
                };
                let v = self.village(vi);
                let pos = near_inside(&mut rng, v.position, 0.3, 1.5, &county.geom);
                let [r7, r8, r9] = h3_cells(pos)?;
                let (name, licence) = match kind {
                    Slaughter::Designated => (
                        format!("{}定点屠宰场", v.name),
                        Some(format!(
                            "动物防疫条件合格证 伊动防合字第{}{:03}号",
                            &county.code[2..],
                            n + 1
                        )),
                    ),
                    Slaughter::Informal => (format!("{}牧民自宰点", v.name), None),
                };
                let mut by_distance: Vec<(f64, usize)> = in_county
                    .iter()
                    .map(|&i| (Haversine.distance(v.position, self.village(i).position), i))
                    .collect();
                by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
                let hotspot = self.plans[vi].hotspot.is_some();
                let infection = if hotspot {
                    unit(&mut rng, 0.10, 0.12)
                } else {
                    unit(&mut rng, 0.02, 0.09)
                };
                out.t()
                    .row()
                    .field(next_id)
                    .field(format!("SP{}-{:02}", county.code, n + 1))
                    .field(name)
                    .field(match kind {
                        Slaughter::Designated => "designated",
                        Slaughter::Informal => "informal",
                    })
                    .field(vi + 1)
                    .field(pos)
                    .field(r7 as i64)
                    .field(r8 as i64)
                    .field(r9 as i64)
                    .field(licence)
                    .field(*facility)
                    .field(LINK)
                    .end();
                out.done()?;
                points.push(PointRec {
                    id: next_id,
                    kind: *kind,
                    facility,
                    infection,
                    origins: by_distance.iter().take(4).map(|x| x.1).collect(),
                });
                next_id += 1;
            }
        }
        out.begin("slaughter_inspections", INSPECTIONS)?;
        let mut next_id: u64 = 1;
        // Mondays from the first register month to today.
        let first_monday = days(
            self.window_start,
            i64::from((7 - self.window_start.weekday().num_days_from_monday()) % 7),
        );
        for (pi, pt) in points.iter().enumerate() {
            let mut rng = self.rng(Stream::Slaughter, 1_000_000 + pi);
            let inspector = names::person_name(&mut rng, Ethnicity::Han, true, "李");
            let species: &[(&str, u32, u32)] = match pt.kind {
                Slaughter::Designated => &[("sheep", 10, 60), ("goat", 2, 20), ("cattle", 1, 8)],
                Slaughter::Informal => &[("sheep", 2, 15), ("goat", 1, 8)],
            };
            let mut week = first_monday;
            while week <= self.today {
                let held = chance(
                    &mut rng,
                    if pt.kind == Slaughter::Designated {
                        0.85
                    } else {
                        0.6
                    },
                );
                let on = days(week, int(&mut rng, 0, 4));
                week = days(week, 7);
                if !held || on > self.today {
                    continue;
                }
                for &(sp, lo, hi) in species {
                    if !chance(&mut rng, if sp == "sheep" { 0.95 } else { 0.6 }) {
                        continue;
                    }
                    for (age, factor) in [("under_2y", 0.5), ("over_2y", 1.4)] {
                        let slaughtered = int(&mut rng, i64::from(lo), i64::from(hi)) as u32;
                        let infected = binomial(&mut rng, slaughtered, pt.infection * factor);
                        let organ = if infected == 0 {
                            "none"
                        } else {
                            pick(
                                &mut rng,
                                &[
                                    ("liver", 0.55),
                                    ("lung", 0.25),
                                    ("liver_and_lung", 0.15),
                                    ("other", 0.05),
                                ],
                            )
                        };
                        let origin = pt
                            .origins
                            .get(weighted(&mut rng, &[3.0, 1.0, 1.0, 1.0]))
                            .copied();
                        let (method, done) = match pt.facility {
                            "incinerator" => ("incineration", chance(&mut rng, 0.97)),
                            "pit" => (
                                if chance(&mut rng, 0.7) {
                                    "pit"
                                } else {
                                    "deep_burial"
                                },
                                chance(&mut rng, 0.9),
                            ),
                            _ => ("none", false),
                        };
                        out.t()
                            .row()
                            .field(next_id)
                            .field(pt.id)
                            .field(on)
                            .field(sp)
                            .field(age)
                            .field(slaughtered)
                            .field(infected)
                            .field(organ)
                            .field(origin.map(|o| o + 1))
                            .field(method)
                            .field(done)
                            .field(&inspector)
                            .field(origin.map(|_| LINK))
                            .end();
                        out.done()?;
                        next_id += 1;
                    }
                }
            }
        }
        self.points = points;
        Ok(())
    }

    fn vaccinations<E: From<GeodataError>>(&mut self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("vaccination_campaigns", CAMPAIGNS)?;
        let mut campaigns = Vec::new();
        for year in self.years() {
            let (Some(starts), Some(planned_end)) = (ymd(year, 3, 20), ymd(year, 5, 31)) else {
                continue;
            };
            if starts > self.today {
                continue;
            }
            let id = campaigns.len() as u64 + 1;
            let ends = planned_end.min(self.today);
            out.t()
                .row()
                .field(id)
                .field(format!("{year}年春季羊包虫病基因工程疫苗免疫"))
                .field(year)
                .field("羊棘球蚴病基因工程亚单位疫苗（EG95）")
                .field("sheep")
                .field(starts)
                .field(ends)
                .end();
            out.done()?;
            campaigns.push((id, year, starts, ends));
        }
        out.begin("vaccinations", VACCINATIONS)?;
        let mut next_id: u64 = 1;
        for (vi, p) in self.plans.iter().enumerate() {
            let mut rng = self.rng(Stream::Vaccination, vi);
            for &(cid, year, starts, ends) in &campaigns {
                // Lambs and young sheep of the year: about 45% of the flock.
                let target = (f64::from(p.livestock[0]) * 0.45).round() as u32;
                if target == 0 {
                    continue;
                }
                let rate = if chance(&mut rng, 0.05) {
                    unit(&mut rng, 1.01, 1.08)
                } else {
                    unit(&mut rng, 0.85, 1.0)
                };
                let immunised = (f64::from(target) * rate).round() as u32;
                out.t()
                    .row()
                    .field(next_id)
                    .field(cid)
                    .field(vi + 1)
                    .field(between(&mut rng, starts, ends))
                    .field(target)
                    .field(immunised)
                    .field(immunised)
                    .field(format!("EG95-{year}-{:02}", int(&mut rng, 1, 6)))
                    .field(LINK)
                    .end();
                out.done()?;
                next_id += 1;
            }
        }
        self.campaigns = campaigns;
        Ok(())
    }

    fn rodents<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("rodent_surveys", RODENTS)?;
        let mut next_id: u64 = 1;
        for (vi, p) in self.plans.iter().enumerate() {
            if p.area != Area::Pastoral {
                continue;
            }
            let v = self.village(vi);
            let mut rng = self.rng(Stream::Rodent, vi);
            let rate = if p.hotspot.is_some() {
                unit(&mut rng, 0.06, 0.10)
            } else {
                unit(&mut rng, 0.02, 0.06)
            };
            for year in self.years() {
                let (Some(a), Some(b)) = (ymd(year, 6, 1), ymd(year, 9, 15)) else {
                    continue;
                };
                for n in 1..=int(&mut rng, 1, 2) {
                    let on = between(&mut rng, a, b);
                    if on > self.today {
                        continue;
                    }
                    let pos = near(&mut rng, v.position, 3.0, 8.0);
                    let [r7, r8, r9] = h3_cells(pos)?;
                    let trapped = int(&mut rng, 20, 120) as u32;
                    let dissected = (f64::from(trapped) * unit(&mut rng, 0.7, 1.0)).round() as u32;
                    let species = pick(
                        &mut rng,
                        &[
                            ("根田鼠 Microtus oeconomus", 0.4),
                            ("灰仓鼠 Cricetulus migratorius", 0.25),
                            ("长尾黄鼠 Spermophilus undulatus", 0.25),
                            ("小家鼠 Mus musculus", 0.1),
                        ],
                    );
                    out.t()
                        .row()
                        .field(next_id)
                        .field(on)
                        .field(vi + 1)
                        .field(format!("{}夏牧场样地{n}", v.name))
                        .field(pos)
                        .field(r7 as i64)
                        .field(r8 as i64)
                        .field(r9 as i64)
                        .field(trapped)
                        .field(dissected)
                        .field(binomial(&mut rng, dissected, rate))
                        .field(species)
                        .field(LINK)
                        .end();
                    out.done()?;
                    next_id += 1;
                }
            }
        }
        Ok(())
    }

    // -- people's health --------------------------------------------------------------------------

    fn cases<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        let mut cases: Vec<CaseRec> = Vec::new();
        let mut next_nndrs: u64 = 1;
        out.begin("cases", CASES)?;
        let five_years_ago = days(self.today, -5 * 365);
        for ci in 0..self.gaz.counties.len() {
            let mut rng = self.rng(Stream::Cases, ci);
            let persons: Vec<&CasePerson> = self
                .case_persons
                .iter()
                .filter(|c| self.plans[c.village].county == ci)
                .collect();
            let revisit_share = unit(&mut rng, 0.15, 0.2);
            for cp in persons {
                let p = &self.plans[cp.village];
                let ae = chance(&mut rng, p.ae_share);
                let earliest = five_years_ago.max(days(cp.birth, 365));
                let reported = between(&mut rng, earliest, self.today);
                let diagnosed = days(reported, -int(&mut rng, 0, 7)).max(cp.birth);
                let ce_stage = weighted(&mut rng, &[0.05, 0.2, 0.15, 0.15, 0.15, 0.2, 0.1]);
                let status = if ae {
                    pick(
                        &mut rng,
                        &[
                            ("under_treatment", 0.8),
                            ("lost_to_follow_up", 0.12),
                            ("died", 0.08),
                        ],
                    )
                } else if ce_stage >= 5 {
                    "watch_and_wait"
                } else if (self.today - reported).num_days() > 730 && chance(&mut rng, 0.4) {
                    "cured"
                } else {
                    pick(
                        &mut rng,
                        &[
                            ("under_treatment", 0.85),
                            ("lost_to_follow_up", 0.12),
                            ("died", 0.03),
                        ],
                    )
                };
                let first = CaseRec {
                    id: cases.len() as u64 + 1,
                    person: cp.person_id,
                    village: cp.village,
                    ae,
                    diagnosed,
                    reported,
                    revisit: false,
                    status,
                    ce_stage,
                };
                // About 89% of reports are old enough for a revisit: scale so that the share of
                // revisit rows among all rows is about `revisit_share`.
                let revisit_on = (self.today - reported).num_days() > 200
                    && chance(&mut rng, revisit_share / 0.89);
                cases.push(first.clone());
                if revisit_on {
                    let span = (self.today - reported).num_days().min(720);
                    let again = days(reported, int(&mut rng, 180, span));
                    cases.push(CaseRec {
                        id: cases.len() as u64 + 1,
                        diagnosed: again,
                        reported: again,
                        revisit: true,
                        ..first
                    });
                }
            }
        }
        for c in &cases {
            let mut rng = self.rng(Stream::Cases, 10_000_000 + c.id as usize);
            let p = &self.plans[c.village];
            let township = &self.gaz.townships[p.township];
            let class = pick(
                &mut rng,
                &[("confirmed", 0.55), ("clinical", 0.35), ("suspected", 0.10)],
            );
            let organ = if c.ae {
                pick(&mut rng, &[("liver", 0.95), ("multiple", 0.05)])
            } else {
                pick(
                    &mut rng,
                    &[
                        ("liver", 0.8),
                        ("lung", 0.1),
                        ("multiple", 0.04),
                        ("spleen", 0.02),
                        ("kidney", 0.01),
                        ("brain", 0.01),
                        ("bone", 0.01),
                        ("other", 0.01),
                    ],
                )
            };
            let route = if c.revisit {
                "follow_up"
            } else {
                pick(
                    &mut rng,
                    &[("screening", 0.5), ("hospital_report", 0.4), ("other", 0.1)],
                )
            };
            let onset = (!c.revisit && chance(&mut rng, 0.5))
                .then(|| days(c.diagnosed, -int(&mut rng, 30, 700)));
            let unit_name = match route {
                "screening" => format!("{}疾病预防控制中心", self.county_name(c.village)),
                "hospital_report" => (pick(
                    &mut rng,
                    &[("伊犁州友谊医院", 0.5), ("察布查尔县人民医院", 0.5)],
                ))
                .to_owned(),
                _ => format!("{}卫生院", township.name),
            };
            out.t()
                .row()
                .field(c.id)
                .field(c.person)
                .field(c.village + 1)
                .field(if c.ae { "AE" } else { "CE" })
                .field(class)
                .field(organ)
                .field(route)
                .field(onset)
                .field(c.diagnosed)
                .field(c.reported)
                .field(format!("NNDRS{}{next_nndrs:08}", c.reported.year()))
                .field(unit_name)
                .field(c.revisit)
                .field(c.status)
                .end();
            out.done()?;
            next_nndrs += 1;
        }
        self.exams(out, &cases)?;
        self.treatments_and_followups(out, &cases)?;
        Ok(())
    }

    fn exams<E: From<GeodataError>>(
        &self,
        out: &mut Out<'_, E>,
        cases: &[CaseRec],
    ) -> Result<(), E> {
        out.begin("imaging_exams", EXAMS)?;
        let mut next_id: u64 = 1;
        for c in cases {
            let mut rng = self.rng(Stream::Cases, 20_000_000 + c.id as usize);
            let male = chance(&mut rng, 0.5);
            let examiner = names::person_name(&mut rng, Ethnicity::Han, male, "王");
            let mut on = c.diagnosed;
            let mut stage = c.ce_stage;
            let mut p_stage = int(&mut rng, 1, 3) as usize;
            let mut size = int(&mut rng, 25, 140);
            let n_exams = if c.revisit { 1 } else { int(&mut rng, 1, 5) };
            for k in 0..n_exams {
                if on > self.today {
                    break;
                }
                let mut modalities = vec!["ultrasound"];
                if k == 0 && c.ae && chance(&mut rng, 0.4) {
                    modalities.push("ct");
                }
                for modality in modalities {
                    let row = out
                        .t()
                        .row()
                        .field(next_id)
                        .field(c.id)
                        .field(on)
                        .field(modality);
                    let row = if c.ae {
                        let p = ["P0", "P1", "P2", "P3", "P4", "Px"][p_stage.min(4)];
                        row.null()
                            .field(p)
                            .field(if p_stage >= 3 && chance(&mut rng, 0.5) {
                                "N1"
                            } else {
                                "N0"
                            })
                            .field(if p_stage == 4 && chance(&mut rng, 0.3) {
                                "M1"
                            } else {
                                "M0"
                            })
                    } else {
                        row.field(CE_STAGES[stage]).null().null().null()
                    };
                    row.field(size).field(&examiner).end();
                    out.done()?;
                    next_id += 1;
                }
                on = days(on, int(&mut rng, 150, 210));
                // Cysts mostly involute under treatment (towards CE4/CE5); AE slowly progresses.
                if c.ae {
                    if chance(&mut rng, 0.15) && p_stage < 4 {
                        p_stage += 1;
                    }
                } else if chance(&mut rng, 0.3) {
                    stage = match stage {
                        0 => 1,
                        1 => 2,
                        2 => 3,
                        3 | 4 => 5,
                        5 => 6,
                        s => s,
                    };
                    size = (size * 9 / 10).max(10);
                }
            }
        }
        Ok(())
    }

    fn treatments_and_followups<E: From<GeodataError>>(
        &self,
        out: &mut Out<'_, E>,
        cases: &[CaseRec],
    ) -> Result<(), E> {
        out.begin("treatments", TREATMENTS)?;
        let mut next_id: u64 = 1;
        // Anchor of each case's follow-up schedule: the start of albendazole, or the diagnosis.
        let mut anchors: Vec<Option<NaiveDate>> = Vec::with_capacity(cases.len());
        for c in cases {
            let mut rng = self.rng(Stream::Cases, 30_000_000 + c.id as usize);
            if c.revisit {
                anchors.push(None);
                continue;
            }
            let mut anchor = c.diagnosed;
            if c.status != "watch_and_wait" && chance(&mut rng, 0.85) {
                let start = days(c.diagnosed, int(&mut rng, 0, 21)).min(self.today);
                let end = Some(days(start, int(&mut rng, 90, 365))).filter(|d| *d <= self.today);
                let adverse = chance(&mut rng, 0.1).then(|| {
                    pick(
                        &mut rng,
                        &[
                            ("转氨酶升高", 0.5),
                            ("轻度胃肠道反应", 0.35),
                            ("脱发", 0.15),
                        ],
                    )
                });
                out.t()
                    .row()
                    .field(next_id)
                    .field(c.id)
                    .field("albendazole")
                    .field(start)
                    .field(end)
                    .field(Decimal1(f64::from(int(&mut rng, 100, 150) as u32) / 10.0))
                    .field(int(&mut rng, 50, 100))
                    .field(adverse)
                    .null()
                    .null()
                    .null()
                    .end();
                out.done()?;
                next_id += 1;
                anchor = start;
            }
            let surgical = if c.ae {
                chance(&mut rng, 0.25)
            } else {
                (1..=4).contains(&c.ce_stage) && chance(&mut rng, 0.3)
            };
            let percutaneous =
                !c.ae && !surgical && matches!(c.ce_stage, 1 | 3) && chance(&mut rng, 0.1);
            if surgical || percutaneous {
                let start = days(c.diagnosed, int(&mut rng, 10, 90));
                if start <= self.today {
                    let end = Some(days(start, int(&mut rng, 7, 21))).filter(|d| *d <= self.today);
                    let hospital = pick(
                        &mut rng,
                        &[("伊犁州友谊医院", 0.6), ("新疆医科大学第一附属医院", 0.4)],
                    );
                    let (kind, procedure) = if percutaneous {
                        ("percutaneous", "经皮穿刺抽吸注射再抽吸 (PAIR)")
                    } else if c.ae {
                        ("surgery", "根治性肝切除术")
                    } else {
                        (
                            "surgery",
                            pick(
                                &mut rng,
                                &[
                                    ("肝包虫内囊摘除术", 0.6),
                                    ("肝包虫外囊完整剥除术", 0.3),
                                    ("肝部分切除术", 0.1),
                                ],
                            ),
                        )
                    };
                    out.t()
                        .row()
                        .field(next_id)
                        .field(c.id)
                        .field(kind)
                        .field(start)
                        .field(end)
                        .null()
                        .null()
                        .null()
                        .field(hospital)
                        .field(procedure)
                        .field(Decimal2(f64::from(int(&mut rng, 500, 3000) as u32) * 10.0))
                        .end();
                    out.done()?;
                    next_id += 1;
                }
            }
            anchors.push(Some(anchor));
        }
        out.begin("followups", FOLLOWUPS)?;
        let mut next_id: u64 = 1;
        for (c, anchor) in cases.iter().zip(anchors) {
            let Some(anchor) = anchor else { continue };
            let mut rng = self.rng(Stream::Cases, 40_000_000 + c.id as usize);
            let p = &self.plans[c.village];
            let step: i64 = if self.village(c.village).remote { 6 } else { 3 };
            // Lost patients stop being seen after a while: their later visits stay overdue.
            let lost_after = (c.status == "lost_to_follow_up").then(|| int(&mut rng, 1, 4));
            let mut due = months(anchor, 1);
            let mut k: i64 = 0;
            while due <= self.today {
                let recent = (self.today - due).num_days() < 30;
                let visited = match lost_after {
                    Some(n) if k >= n => false,
                    _ => chance(&mut rng, if recent { 0.5 } else { 0.92 }),
                };
                let last = months(due, step as i32) > self.today;
                let visited_on = visited.then(|| days(due, int(&mut rng, -5, 15)).min(self.today));
                let outcome = visited.then(|| {
                    if c.status == "died" && last {
                        "died"
                    } else if c.status == "cured" && last {
                        "cured"
                    } else {
                        pick(
                            &mut rng,
                            &[
                                ("stable", 0.45),
                                ("improved", 0.35),
                                ("progressed", 0.1),
                                ("not_found", 0.1),
                            ],
                        )
                    }
                });
                out.t()
                    .row()
                    .field(next_id)
                    .field(c.id)
                    .field(due)
                    .field(visited_on)
                    .field(outcome)
                    .field(visited && chance(&mut rng, 0.7))
                    .field(visited.then_some(p.doctor.as_str()))
                    .end();
                out.done()?;
                next_id += 1;
                k += 1;
                due = months(anchor, (1 + step * k) as i32);
            }
        }
        Ok(())
    }

    fn screening<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("screening_campaigns", SCREENING)?;
        let mut next_id: u64 = 1;
        for (vi, p) in self.plans.iter().enumerate() {
            let mut rng = self.rng(Stream::Screening, vi);
            let high = p.hotspot.is_some() || p.area == Area::Pastoral;
            let team = format!("{}疾控中心B超筛查队", self.county_name(vi));
            for year in self.today.year() - 4..=self.today.year() {
                let (Some(a), Some(b)) = (ymd(year, 4, 10), ymd(year, 10, 20)) else {
                    continue;
                };
                if chance(&mut rng, if high { 0.8 } else { 0.55 }) {
                    let on = between(&mut rng, a, b);
                    let screened =
                        (f64::from(p.population) * unit(&mut rng, 0.25, 0.6)).round() as u32;
                    let positives = binomial(&mut rng, screened, p.human_prevalence);
                    if on <= self.today {
                        out.t()
                            .row()
                            .field(next_id)
                            .field(vi + 1)
                            .field(on)
                            .field("ultrasound")
                            .field("general")
                            .field(3)
                            .null()
                            .field(screened)
                            .field(positives)
                            .field(&team)
                            .field(LINK)
                            .end();
                        out.done()?;
                        next_id += 1;
                    }
                }
                if !p.urban && chance(&mut rng, if high { 0.6 } else { 0.3 }) {
                    let on = between(&mut rng, a, b);
                    let children =
                        (f64::from(p.population) * 0.09 * unit(&mut rng, 0.7, 0.95)).round() as u32;
                    let rate = if p.hotspot.is_some() {
                        0.05
                    } else if high {
                        0.03
                    } else {
                        0.01
                    };
                    let positives = binomial(&mut rng, children, rate);
                    if on <= self.today {
                        out.t()
                            .row()
                            .field(next_id)
                            .field(vi + 1)
                            .field(on)
                            .field("serology_elisa")
                            .field("school_children")
                            .field(6)
                            .field(12)
                            .field(children)
                            .field(positives)
                            .field(&team)
                            .field(LINK)
                            .end();
                        out.done()?;
                        next_id += 1;
                    }
                }
            }
        }
        Ok(())
    }

    fn health_education<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("health_education", EDUCATION)?;
        const ACTIVITIES: &[(&str, f64)] = &[
            ("包虫病防治知识宣讲进村入户", 0.3),
            ("中小学生包虫病健康教育课", 0.25),
            ("犬只登记与驱虫宣传", 0.2),
            ("屠宰点病害脏器无害化处理培训", 0.1),
            ("牧民转场前包虫病防治宣传", 0.15),
        ];
        let mut next_id: u64 = 1;
        for ti in 0..self.gaz.townships.len() {
            let villages: Vec<usize> = (0..self.plans.len())
                .filter(|&i| self.plans[i].township == ti)
                .collect();
            if villages.is_empty() {
                continue;
            }
            let mut rng = self.rng(Stream::Education, ti);
            for year in self.years() {
                let (Some(a), Some(b)) = (ymd(year, 1, 1), ymd(year, 12, 31)) else {
                    continue;
                };
                for _ in 0..int(&mut rng, 2, 4) {
                    let vi = villages[rng.random_range(0..villages.len())];
                    let on = between(&mut rng, a, b);
                    let participants = int(&mut rng, 30, 300) as u32;
                    let respondents = (int(&mut rng, 20, 60) as u32).min(participants);
                    let aware = (f64::from(respondents) * unit(&mut rng, 0.7, 0.92)).round() as u32;
                    let activity = pick(&mut rng, ACTIVITIES);
                    if on > self.today {
                        continue;
                    }
                    out.t()
                        .row()
                        .field(next_id)
                        .field(vi + 1)
                        .field(on)
                        .field(activity)
                        .field(participants)
                        .field(respondents)
                        .field(aware)
                        .end();
                    out.done()?;
                    next_id += 1;
                }
            }
        }
        Ok(())
    }

    fn stock<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("stock_items", STOCK_ITEMS)?;
        const ITEMS: &[(&str, &str, &str, &str, i64)] = &[
            ("PZQ", "吡喹酮片 0.2g", "praziquantel", "片", 3),
            ("ABZ", "阿苯达唑片 0.2g", "albendazole", "片", 3),
            ("EG95", "羊棘球蚴病基因工程亚单位疫苗", "vaccine", "头份", 1),
            (
                "ELISA",
                "犬粪抗原ELISA检测试剂盒 96孔",
                "elisa_kit",
                "盒",
                1,
            ),
        ];
        for (i, (code, name, kind, unit_name, _)) in ITEMS.iter().enumerate() {
            out.t()
                .row()
                .field(i + 1)
                .field(*code)
                .field(*name)
                .field(*kind)
                .field(*unit_name)
                .end();
            out.done()?;
        }
        out.begin("stock_movements", STOCK_MOVES)?;
        let mut next_id: u64 = 1;
        // Per township: registered dogs, case patients, sheep to vaccinate.
        let mut per_township: HashMap<usize, (u32, u32, u32)> = HashMap::new();
        for p in &self.plans {
            let e = per_township.entry(p.township).or_insert((0, 0, 0));
            e.0 += p.dogs();
            e.2 += (f64::from(p.livestock[0]) * 0.45).round() as u32;
        }
        for cp in &self.case_persons {
            if let Some(e) = per_township.get_mut(&self.plans[cp.village].township) {
                e.1 += 1;
            }
        }
        let month_list = self.register_months();
        for (ci, county) in self.gaz.counties.iter().enumerate() {
            let mut rng = self.rng(Stream::Stock, ci);
            let townships: Vec<usize> = (0..self.gaz.townships.len())
                .filter(|&t| self.gaz.townships[t].county_code() == county.code)
                .collect();
            for quarter_months in month_list.chunks(3) {
                let Some(&q0) = quarter_months.first() else {
                    continue;
                };
                for (item, (code, _, _, _, shelf_years)) in ITEMS.iter().enumerate() {
                    let batch = format!("{code}-{}-{}Q{}", county.code, q0.year(), quarter(q0));
                    // Issues of the quarter first, to size the receipt that covers them.
                    let mut issues = Vec::new();
                    for &m in quarter_months {
                        for &t in &townships {
                            let (dogs, patients, sheep) =
                                per_township.get(&t).copied().unwrap_or_default();
                            let qty = match item {
                                0 => (f64::from(dogs) * 2.1).ceil() as u32,
                                1 => patients * 45,
                                2 if m.month() == 3 => sheep,
                                3 if m.month() % 3 == 0 => {
                                    (f64::from(dogs) * 0.3 / 90.0).ceil() as u32
                                }
                                _ => 0,
                            };
                            let on = days(m, int(&mut rng, 2, 8));
                            if qty > 0 && on <= self.today {
                                issues.push((on, t, qty));
                            }
                        }
                    }
                    let total: u32 = issues.iter().map(|i| i.2).sum();
                    let received_on = days(q0, -int(&mut rng, 3, 10));
                    if total == 0 || received_on > self.today {
                        continue;
                    }
                    let received =
                        (f64::from(total) * unit(&mut rng, 1.05, 1.2) / 100.0).ceil() as u32 * 100;
                    let expires = ymd(
                        received_on.year() + *shelf_years as i32 + 1,
                        received_on.month(),
                        1,
                    );
                    out.t()
                        .row()
                        .field(next_id)
                        .field(item + 1)
                        .field(received_on)
                        .field("receipt")
                        .field(received)
                        .field(&batch)
                        .field(expires)
                        .null()
                        .null()
                        .field(format!(
                            "69{:011}",
                            splitmix(next_id ^ self.seed) % 100_000_000_000
                        ))
                        .field("自治区疾控中心调拨")
                        .end();
                    out.done()?;
                    next_id += 1;
                    for (on, t, qty) in issues {
                        out.t()
                            .row()
                            .field(next_id)
                            .field(item + 1)
                            .field(on)
                            .field("issue")
                            .field(qty)
                            .field(&batch)
                            .field(expires)
                            .field(&self.gaz.townships[t].code)
                            .null()
                            .null()
                            .field(format!("发放至{}", self.gaz.townships[t].name))
                            .end();
                        out.done()?;
                        next_id += 1;
                    }
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Planning

fn plan_village(seed: u64, vi: usize, v: &Village, county: usize, township: usize) -> VillagePlan {
    let mut rng = rng_for(seed, Stream::Plan, vi);
    let area = area_of(&v.township_code);
    let urban = v.kind == "residents_committee";
    let hotspot = HOTSPOTS.iter().position(|h| {
        h.village_codes
            .iter()
            .any(|c| c.get(6..) == Some(v.local_code()))
    });
    let virtual_unit = v.name.contains("虚拟");
    let population_weight = if urban {
        unit(&mut rng, 2500.0, 5000.0)
    } else if virtual_unit {
        unit(&mut rng, 150.0, 400.0)
    } else if v.kind == "farm_unit" {
        unit(&mut rng, 400.0, 1200.0)
    } else if area == Area::Pastoral {
        unit(&mut rng, 1000.0, 2200.0)
    } else {
        unit(&mut rng, 1500.0, 3200.0)
    };
    let pastoral_share = match (area, urban) {
        (_, true) => 0.0,
        (Area::Pastoral, _) => 0.6,
        _ if v.name.contains("牧") => 0.6,
        _ => 0.05,
    };
    let (coverage, dog_positivity, human_prevalence, ae_share) =
        match hotspot.and_then(|h| HOTSPOTS.get(h)) {
            Some(h) => (
                unit(&mut rng, h.deworming_coverage.0, h.deworming_coverage.1),
                unit(&mut rng, h.dog_positivity.0, h.dog_positivity.1),
                h.human_prevalence,
                h.ae_share,
            ),
            None => (
                unit(&mut rng, 0.6, 0.97),
                unit(&mut rng, 0.01, 0.08),
                match (area, urban) {
                    (_, true) => 0.001,
                    (Area::Pastoral, _) => 0.01,
                    _ => 0.003,
                },
                if area == Area::Pastoral { 0.25 } else { 0.02 },
            ),
        };
    let livestock = if urban {
        [int(&mut rng, 0, 60), 0, int(&mut rng, 0, 10), 0, 0]
    } else if area == Area::Pastoral || pastoral_share > 0.5 {
        [
            int(&mut rng, 4000, 12000),
            int(&mut rng, 1000, 3000),
            int(&mut rng, 500, 1500),
            int(&mut rng, 100, 400),
            int(&mut rng, 0, 40),
        ]
    } else {
        [
            int(&mut rng, 500, 3000),
            int(&mut rng, 100, 800),
            int(&mut rng, 100, 600),
            int(&mut rng, 10, 80),
            int(&mut rng, 0, 5),
        ]
    }
    .map(|x| x as u32);
    let vet = names::person_name(&mut rng, Ethnicity::Han, true, "张");
    let doctor = names::person_name(&mut rng, Ethnicity::Han, false, "刘");
    VillagePlan {
        county,
        township,
        area,
        urban,
        hotspot,
        population: population_weight.round() as u32,
        households: Vec::new(),
        first_household_id: 0,
        mix: ethnic_mix(area),
        coverage,
        dog_positivity,
        human_prevalence,
        ae_share,
        case_persons: 0,
        livestock,
        registration_rate: unit(&mut rng, 0.88, 1.0),
        vet: format!("{vet}（防疫员）"),
        doctor: format!("{doctor}（村医）"),
    }
}

/// Scales the village populations of each county to [`PEOPLE_PER_COUNTY`] (±1%), then splits
/// them into households of 3.5–4 people on average, with their dogs.
fn normalise_populations(seed: u64, gaz: &Gazetteer, plans: &mut [VillagePlan]) {
    for ci in 0..gaz.counties.len() {
        let mut rng = rng_for(seed, Stream::Plan, 1_000_000_000 + ci);
        let target = f64::from(PEOPLE_PER_COUNTY) * unit(&mut rng, 0.99, 1.01);
        let total: f64 = plans
            .iter()
            .filter(|p| p.county == ci)
            .map(|p| f64::from(p.population))
            .sum();
        if total <= 0.0 {
            continue;
        }
        for p in plans.iter_mut().filter(|p| p.county == ci) {
            p.population = (f64::from(p.population) * target / total).round().max(1.0) as u32;
        }
    }
    for (vi, p) in plans.iter_mut().enumerate() {
        let mut rng = rng_for(seed, Stream::Plan, 2_000_000_000 + vi);
        let n = ((f64::from(p.population) / unit(&mut rng, 3.5, 4.0)).round() as u32)
            .clamp(1, p.population);
        let mut sizes = vec![1_u8; n as usize];
        for _ in 0..p.population - n {
            // Extra members go to households with fewer than 9 people.
            for _ in 0..8 {
                let i = rng.random_range(0..sizes.len());
                if sizes[i] < 9 {
                    sizes[i] += 1;
                    break;
                }
            }
        }
        let pastoral_share = match (p.area, p.urban) {
            (_, true) => 0.0,
            (Area::Pastoral, _) => 0.6,
            _ => 0.05,
        };
        p.population = sizes.iter().map(|s| u32::from(*s)).sum();
        p.households = sizes
            .into_iter()
            .map(|size| {
                let pastoral = chance(&mut rng, pastoral_share);
                let dogs = if p.urban {
                    u8::from(chance(&mut rng, 0.03))
                } else if pastoral {
                    // Herders keep more dogs, but most households still have none: overall
                    // about one dog per 4–5 rural households (DOMAIN.md, Foundation issue).
                    if chance(&mut rng, 0.38) {
                        int(&mut rng, 1, 2) as u8
                    } else {
                        0
                    }
                } else if chance(&mut rng, 0.19) {
                    1 + u8::from(chance(&mut rng, 0.1))
                } else {
                    0
                };
                HouseholdPlan {
                    size,
                    pastoral,
                    dogs,
                }
            })
            .collect();
    }
}

/// Distributes 160–200 case patients per county (15–20% of them also get a revisit row later,
/// so 180–250 case rows) over its villages in proportion to population × relative risk.
fn allocate_cases(seed: u64, gaz: &Gazetteer, plans: &mut [VillagePlan]) {
    for ci in 0..gaz.counties.len() {
        let mut rng = rng_for(seed, Stream::CasePlan, ci);
        let idx: Vec<usize> = (0..plans.len())
            .filter(|&i| plans[i].county == ci)
            .collect();
        let weights: Vec<f64> = idx
            .iter()
            .map(|&i| {
                let p = &plans[i];
                let risk = match (p.hotspot.and_then(|h| HOTSPOTS.get(h)), p.urban, p.area) {
                    (Some(h), _, _) => h.case_rate_ratio,
                    (None, true, _) => 0.4,
                    (None, false, Area::Pastoral) => 3.0,
                    _ => 1.0,
                };
                f64::from(p.population) * risk
            })
            .collect();
        let persons = int(&mut rng, 160, 200);
        for _ in 0..persons {
            let i = idx[weighted(&mut rng, &weights)];
            if plans[i].case_persons < plans[i].population / 5 {
                plans[i].case_persons += 1;
            }
        }
    }
}

/// What a household's members share, drawn from the village's family stream in the same order
/// by the households and the people pass (so the head's name agrees in both tables).
struct Family {
    ethnicity: Ethnicity,
    head_male: bool,
    head_birth: NaiveDate,
    head_name: String,
    /// What children carry: the surname, or the father's given name for transliterated names.
    child_family: String,
}

fn family(rng: &mut ChaCha8Rng, mix: &[f64; 6], today: NaiveDate) -> Family {
    let ethnicity = Ethnicity::ALL[weighted(rng, mix)];
    let family = names::family_name(rng, ethnicity);
    let head_male = chance(rng, 0.8);
    let age = 24.0 + (unit(rng, 0.0, 1.0) + unit(rng, 0.0, 1.0)) / 2.0 * 56.0;
    let head_birth = birth_for_age(rng, age as u32, today);
    let head_name = names::person_name(rng, ethnicity, head_male, family);
    let child_family = match head_name.split_once('·') {
        Some((given, _)) if head_male => given.to_owned(),
        _ => family.to_owned(),
    };
    Family {
        ethnicity,
        head_male,
        head_birth,
        head_name,
        child_family,
    }
}

fn birth_for_age(rng: &mut ChaCha8Rng, age: u32, today: NaiveDate) -> NaiveDate {
    let back = i64::from(age) * 365 + i64::from(age / 4) + int(rng, 0, 364);
    days(today, -back)
}

/// Member `m` (≥ 1) of a household: the spouse, then children or an elderly parent.
fn member(
    rng: &mut ChaCha8Rng,
    fam: &Family,
    m: u8,
    today: NaiveDate,
) -> (String, bool, NaiveDate) {
    let head_age = age_on(fam.head_birth, today);
    let (male, age, family): (bool, u32, &str) = if m == 1 && head_age >= 20 {
        let age = (i64::from(head_age) + int(rng, -6, 3)).clamp(18, 95) as u32;
        // The spouse keeps her or his own family name.
        (!fam.head_male, age, names::family_name(rng, fam.ethnicity))
    } else if head_age < 60 && chance(rng, 0.12) {
        let age = (head_age + int(rng, 22, 32) as u32).min(95);
        (
            chance(rng, 0.4),
            age,
            names::family_name(rng, fam.ethnicity),
        )
    } else {
        let max = head_age.saturating_sub(20).min(35);
        (
            chance(rng, 0.5),
            int(rng, 0, i64::from(max)) as u32,
            fam.child_family.as_str(),
        )
    };
    let birth = birth_for_age(rng, age, today);
    (
        names::person_name(rng, fam.ethnicity, male, family),
        male,
        birth,
    )
}

fn occupation(rng: &mut ChaCha8Rng, age: u32, pastoral: bool, urban: bool) -> &'static str {
    match age {
        0..=2 => "散居儿童",
        3..=6 => "幼托儿童",
        7..=18 => "学生",
        19..=60 if pastoral => pick(rng, &[("牧民", 0.8), ("农民", 0.15), ("家务及待业", 0.05)]),
        19..=60 if urban => pick(
            rng,
            &[
                ("工人", 0.25),
                ("干部职员", 0.2),
                ("商业服务", 0.25),
                ("教师", 0.08),
                ("医务人员", 0.05),
                ("家务及待业", 0.17),
            ],
        ),
        19..=60 => pick(
            rng,
            &[
                ("农民", 0.8),
                ("商业服务", 0.05),
                ("工人", 0.05),
                ("家务及待业", 0.1),
            ],
        ),
        _ if urban => "离退休人员",
        _ => pick(
            rng,
            &[
                ("农民", 0.5),
                ("牧民", if pastoral { 0.3 } else { 0.0 }),
                ("家务及待业", 0.3),
                ("离退休人员", 0.1),
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::OnceLock;

    use super::*;
    use crate::gazetteer::{GazetteerOptions, qapqal};

    /// The rows of one table, as fields by column name.
    struct Table {
        columns: Vec<&'static str>,
        rows: Vec<Vec<String>>,
    }

    impl Table {
        fn col(&self, name: &str) -> usize {
            self.columns.iter().position(|c| *c == name).unwrap()
        }
        fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
            let i = self.col(name);
            self.rows.iter().map(move |r| r[i].as_str())
        }
    }

    struct Output {
        bytes: Vec<u8>,
        order: Vec<&'static str>,
        largest_batch: usize,
        tables: HashMap<&'static str, Table>,
        stats: DemoStats,
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 10).unwrap()
    }

    fn run(gaz: &Gazetteer, seed: u64) -> Output {
        let opts = DemoOptions {
            seed,
            scale: 1,
            today: today(),
        };
        let mut out = Output {
            bytes: Vec::new(),
            order: Vec::new(),
            largest_batch: 0,
            tables: HashMap::new(),
            stats: DemoStats::default(),
        };
        let stats = generate::<GeodataError>(gaz, &opts, &mut |batch| {
            out.bytes.extend_from_slice(batch.table.as_bytes());
            out.bytes.extend_from_slice(&batch.data);
            if out.order.last() != Some(&batch.table) {
                out.order.push(batch.table);
            }
            out.largest_batch = out.largest_batch.max(batch.data.len());
            let t = out.tables.entry(batch.table).or_insert_with(|| Table {
                columns: batch.columns.to_vec(),
                rows: Vec::new(),
            });
            let text = String::from_utf8(batch.data).unwrap();
            for line in text.lines() {
                let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
                assert_eq!(fields.len(), batch.columns.len(), "{}: {line}", batch.table);
                t.rows.push(fields);
            }
            Ok(())
        })
        .unwrap();
        out.stats = stats;
        out
    }

    fn gaz() -> &'static Gazetteer {
        static G: OnceLock<Gazetteer> = OnceLock::new();
        G.get_or_init(|| qapqal(&GazetteerOptions::default()).unwrap())
    }

    fn seed7() -> &'static Output {
        static O: OnceLock<Output> = OnceLock::new();
        O.get_or_init(|| run(gaz(), 7))
    }

    fn table(name: &str) -> &'static Table {
        seed7().tables.get(name).unwrap()
    }

    fn null(v: &str) -> bool {
        v == "\\N"
    }

    fn date(v: &str) -> NaiveDate {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").unwrap()
    }

    fn planted_village_ids() -> HashSet<String> {
        let codes: HashSet<&str> = planted_hotspots()
            .iter()
            .flat_map(|h| h.village_codes.iter().copied())
            .collect();
        gaz()
            .villages
            .iter()
            .enumerate()
            .filter(|(_, v)| codes.contains(v.code.as_str()))
            .map(|(i, _)| (i + 1).to_string())
            .collect()
    }

    #[test]
    fn the_same_seed_gives_identical_bytes_and_another_seed_does_not() {
        let again = run(gaz(), 7);
        assert!(again.bytes == seed7().bytes, "same seed, different output");
        assert_eq!(again.stats, seed7().stats);
        let other = run(gaz(), 8);
        assert!(other.bytes != seed7().bytes);
    }

    #[test]
    fn tables_arrive_once_each_in_foreign_key_order_in_bounded_batches() {
        let o = seed7();
        assert_eq!(o.order, TABLE_ORDER.to_vec());
        assert!(o.largest_batch < BATCH_BYTES + 64 * 1024);
        for (t, n) in &o.stats.rows {
            assert_eq!(*n as usize, o.tables[t].rows.len(), "{t}");
        }
    }

    #[test]
    fn ids_are_dense_and_one_based() {
        for t in TABLES_WITH_ID {
            let ids: Vec<u64> = table(t).values("id").map(|v| v.parse().unwrap()).collect();
            assert!(!ids.is_empty(), "{t} is empty");
            assert!(
                ids.iter().enumerate().all(|(i, id)| *id == i as u64 + 1),
                "{t}"
            );
        }
    }

    #[test]
    fn the_population_is_about_180_thousand_and_matches_the_denominators() {
        let people = table("people").rows.len();
        assert!((170_000..=190_000).contains(&people), "{people}");
        let d = table("village_denominators");
        let (y, pop) = (d.col("year"), d.col("population"));
        let latest: usize = d
            .rows
            .iter()
            .filter(|r| r[y] == today().year().to_string())
            .map(|r| r[pop].parse::<usize>().unwrap())
            .sum();
        assert_eq!(latest, people);
        let households = table("households").rows.len() as f64;
        assert!((3.4..=4.1).contains(&(people as f64 / households)));
    }

    #[test]
    fn every_id_number_is_valid_unique_and_agrees_with_sex_and_birth_date() {
        let p = table("people");
        let (id, sex, birth) = (p.col("id_number"), p.col("sex"), p.col("birth_date"));
        let mut seen = HashSet::new();
        for r in &p.rows {
            let n = &r[id];
            assert!(crate::idcard::is_valid(n), "{n}");
            assert!(seen.insert(n.clone()), "duplicate {n}");
            assert_eq!(&n[6..14], r[birth].replace('-', ""));
            let odd = (n.as_bytes()[16] - b'0') % 2 == 1;
            assert_eq!(odd, r[sex] == "male");
        }
    }

    #[test]
    fn no_date_is_after_today() {
        for (name, t) in &seed7().tables {
            for (i, c) in t.columns.iter().enumerate() {
                // Stock expiry dates are the one column meant to lie in the future.
                if *c == "expires_on" {
                    continue;
                }
                for r in &t.rows {
                    let v = &r[i];
                    if v.len() == 10
                        && let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    {
                        assert!(d <= today(), "{name}.{c} = {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn deworming_coverage_per_village_is_between_45_and_100_percent() {
        let dogs = table("dogs");
        let (id, reg, status_on, village) = (
            dogs.col("id"),
            dogs.col("registered_on"),
            dogs.col("status_on"),
            dogs.col("village_id"),
        );
        let first = months(month_start(today()), -(REGISTER_MONTHS as i32 - 1));
        let complete: Vec<NaiveDate> = (0..REGISTER_MONTHS as i32 - 1)
            .map(|k| months(first, k))
            .collect();
        let mut eligible: HashMap<&str, f64> = HashMap::new();
        let mut dog_village: HashMap<&str, &str> = HashMap::new();
        for r in &dogs.rows {
            dog_village.insert(&r[id], &r[village]);
            let registered = date(&r[reg]);
            let end = (!null(&r[status_on])).then(|| date(&r[status_on]));
            let n = complete
                .iter()
                .filter(|m| registered <= days(**m, 11) && end.is_none_or(|e| e > days(**m, 17)))
                .count();
            *eligible.entry(&r[village]).or_default() += n as f64;
        }
        let dw = table("dewormings");
        let (dog, on) = (dw.col("dog_id"), dw.col("dosed_on"));
        let mut doses: HashMap<&str, f64> = HashMap::new();
        let mut per_dog_month = HashSet::new();
        for r in &dw.rows {
            let d = date(&r[on]);
            assert!((12..=18).contains(&d.day()), "dosed on {d}");
            assert!(per_dog_month.insert((r[dog].clone(), d.year(), d.month())));
            if d < month_start(today()) {
                *doses.entry(dog_village[r[dog].as_str()]).or_default() += 1.0;
            }
        }
        for (v, n) in &eligible {
            if *n < 50.0 {
                continue;
            }
            let c = doses.get(v).copied().unwrap_or(0.0) / n;
            assert!((0.45..=1.0).contains(&c), "village {v}: coverage {c}");
        }
    }

    #[test]
    fn dogs_are_never_dosed_before_registration_or_after_they_left() {
        let dogs = table("dogs");
        let (id, reg, status_on, status) = (
            dogs.col("id"),
            dogs.col("registered_on"),
            dogs.col("status_on"),
            dogs.col("status"),
        );
        let mut life = HashMap::new();
        for r in &dogs.rows {
            assert_eq!(r[status] == "alive", null(&r[status_on]));
            let end = (!null(&r[status_on])).then(|| date(&r[status_on]));
            if let Some(e) = end {
                assert!(e >= date(&r[reg]));
            }
            life.insert(r[id].clone(), (date(&r[reg]), end));
        }
        let dw = table("dewormings");
        let (dog, on) = (dw.col("dog_id"), dw.col("dosed_on"));
        for r in &dw.rows {
            let (registered, end) = life[&r[dog]];
            let d = date(&r[on]);
            assert!(d >= registered && end.is_none_or(|e| d < e));
        }
        let n_dogs = dogs.rows.len() as f64;
        let households = table("households").rows.len() as f64;
        assert!(
            (0.15..0.45).contains(&(n_dogs / households)),
            "{n_dogs} dogs"
        );
    }

    #[test]
    fn faecal_positivity_outside_the_planted_areas_is_between_1_and_8_percent() {
        let planted = planted_village_ids();
        let t = table("faecal_tests");
        let (v, result) = (t.col("village_id"), t.col("result"));
        let (mut tested, mut positive, mut planted_tested, mut planted_positive) =
            (0.0, 0.0, 0.0, 0.0);
        for r in &t.rows {
            let pos = f64::from(u8::from(r[result] == "positive"));
            if planted.contains(&r[v]) {
                planted_tested += 1.0;
                planted_positive += pos;
            } else {
                tested += 1.0;
                positive += pos;
            }
        }
        let rate = positive / tested;
        assert!((0.01..=0.08).contains(&rate), "{rate}");
        assert!(planted_positive / planted_tested > rate);
        let ids: HashSet<&str> = t.values("sample_id").collect();
        assert_eq!(ids.len(), t.rows.len());
    }

    #[test]
    fn there_are_150_to_300_cases_concentrated_in_the_planted_areas() {
        let t = table("cases");
        assert!((150..=300).contains(&t.rows.len()), "{}", t.rows.len());
        let planted = planted_village_ids();
        let in_planted = t
            .values("village_id")
            .filter(|v| planted.contains(*v))
            .count();
        assert!(
            in_planted * 5 > t.rows.len(),
            "{in_planted} of {}",
            t.rows.len()
        );
        let nndrs: HashSet<&str> = t.values("nndrs_id").collect();
        assert_eq!(nndrs.len(), t.rows.len());
        assert!(t.values("is_revisit").any(|v| v == "t"));
        assert!(t.values("case_type").any(|v| v == "AE"));
    }

    #[test]
    fn imaging_uses_the_staging_system_of_the_case_type() {
        let cases = table("cases");
        let types: HashMap<&str, &str> =
            cases.values("id").zip(cases.values("case_type")).collect();
        let e = table("imaging_exams");
        let (case, ce, p, n, m) = (
            e.col("case_id"),
            e.col("ce_stage"),
            e.col("pnm_p"),
            e.col("pnm_n"),
            e.col("pnm_m"),
        );
        let mut keys = HashSet::new();
        for r in &e.rows {
            match types[r[case].as_str()] {
                "CE" => assert!(!null(&r[ce]) && null(&r[p]) && null(&r[n]) && null(&r[m])),
                _ => assert!(null(&r[ce]) && !null(&r[p]) && !null(&r[n]) && !null(&r[m])),
            }
            assert!(keys.insert((
                r[case].clone(),
                r[e.col("examined_on")].clone(),
                r[e.col("modality")].clone()
            )));
        }
    }

    #[test]
    fn treatments_and_followups_respect_their_checks() {
        let t = table("treatments");
        let (kind, dose, hospital) = (t.col("kind"), t.col("dose_mg_per_kg"), t.col("hospital"));
        for r in &t.rows {
            if r[kind] == "albendazole" {
                let d: f64 = r[dose].parse().unwrap();
                assert!((10.0..=15.0).contains(&d));
            } else {
                assert!(!null(&r[hospital]));
            }
            if !null(&r[t.col("ended_on")]) {
                assert!(r[t.col("ended_on")] >= r[t.col("started_on")]);
            }
        }
        let f = table("followups");
        let (visited, outcome) = (f.col("visited_on"), f.col("outcome"));
        let mut overdue = 0;
        let mut keys = HashSet::new();
        for r in &f.rows {
            assert_eq!(null(&r[visited]), null(&r[outcome]));
            overdue += usize::from(null(&r[visited]));
            assert!(keys.insert((r[f.col("case_id")].clone(), r[f.col("due_on")].clone())));
        }
        assert!(
            overdue > 0 && overdue * 3 < f.rows.len(),
            "{overdue} overdue"
        );
    }

    #[test]
    fn slaughter_inspections_respect_their_checks() {
        let points = table("slaughter_points");
        assert!((12..=15).contains(&points.rows.len()));
        let facility: HashMap<&str, &str> = points
            .values("id")
            .zip(points.values("disposal_facility"))
            .collect();
        let t = table("slaughter_inspections");
        let (pt, infected, slaughtered, organ, method, done) = (
            t.col("point_id"),
            t.col("infected"),
            t.col("slaughtered"),
            t.col("organ"),
            t.col("disposal_method"),
            t.col("disposal_done"),
        );
        let mut keys = HashSet::new();
        let (mut all, mut inf) = (0.0, 0.0);
        for r in &t.rows {
            let i: u32 = r[infected].parse().unwrap();
            let s: u32 = r[slaughtered].parse().unwrap();
            assert!(s > 0 && i <= s);
            assert_eq!(i == 0, r[organ] == "none");
            if facility[r[pt].as_str()] == "none" {
                assert_eq!((r[method].as_str(), r[done].as_str()), ("none", "f"));
            }
            assert_eq!(
                null(&r[t.col("origin_village_id")]),
                null(&r[t.col("link_method")])
            );
            assert!(keys.insert((
                r[pt].clone(),
                r[t.col("inspected_on")].clone(),
                r[t.col("species")].clone(),
                r[t.col("age_class")].clone()
            )));
            all += f64::from(s);
            inf += f64::from(i);
        }
        assert!((0.02..=0.12).contains(&(inf / all)));
    }

    #[test]
    fn screening_vaccination_rodents_education_and_stock_respect_their_checks() {
        let s = table("screening_campaigns");
        for r in &s.rows {
            let (screened, positives): (u32, u32) = (
                r[s.col("screened")].parse().unwrap(),
                r[s.col("positives")].parse().unwrap(),
            );
            assert!(positives <= screened);
            if r[s.col("target_group")] == "school_children" {
                assert_eq!(
                    (r[s.col("min_age")].as_str(), r[s.col("max_age")].as_str()),
                    ("6", "12")
                );
            }
        }
        let r = table("rodent_surveys");
        for row in &r.rows {
            let n = |c: &str| row[r.col(c)].parse::<u32>().unwrap();
            assert!(n("infected") <= n("dissected") && n("dissected") <= n("trapped"));
        }
        let h = table("health_education");
        for row in &h.rows {
            let n = |c: &str| row[h.col(c)].parse::<u32>().unwrap();
            let share = f64::from(n("aware")) / f64::from(n("respondents"));
            assert!((0.65..=0.95).contains(&share));
        }
        let v = table("vaccinations");
        assert!(
            v.rows
                .iter()
                .any(|row| row[v.col("immunised")].parse::<u32>().unwrap()
                    > row[v.col("target")].parse::<u32>().unwrap())
        );
        let m = table("stock_movements");
        for row in &m.rows {
            if row[m.col("kind")] == "issue" {
                assert!(!null(&row[m.col("township_code")]));
            }
        }
        assert!(!table("stray_dog_events").rows.is_empty());
    }

    #[test]
    fn the_planted_hotspots_name_real_villages() {
        let all = qapqal(&GazetteerOptions::default()).unwrap();
        for h in planted_hotspots() {
            for c in h.village_codes {
                assert!(all.villages.iter().any(|v| v.code == *c), "{c}");
            }
        }
    }

    #[test]
    fn a_scaled_gazetteer_keeps_id_numbers_unique_across_copies() {
        let g = gaz().scaled(2);
        let o = run(&g, 3);
        let people = &o.tables["people"];
        assert!((340_000..=380_000).contains(&people.rows.len()));
        let ids: HashSet<&str> = people.values("id_number").collect();
        assert_eq!(ids.len(), people.rows.len());
        let counties: HashSet<&str> = o.tables["counties"].values("code").collect();
        assert_eq!(counties.len(), 2);
        let cases = o.tables["cases"].rows.len();
        assert!((300..=600).contains(&cases));
    }
}
