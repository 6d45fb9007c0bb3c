//! The dog registers (migration `dogs`): households, dogs, dewormings, faecal tests and stray-dog
//! events.

use chrono::{Datelike, NaiveDate};

use super::draw::{
    Stream, between, chance, days, int, near, near_inside, pick, poisson, quarter, unit,
};
use super::plan::family;
use super::{Generator, LINK, Out};
use crate::GeodataError;
use crate::copy::Decimal1;
use crate::gazetteer::h3_cells;

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

#[derive(Debug, Clone, Copy)]
pub(super) struct DogRec {
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

impl<'g> Generator<'g> {
    pub(super) fn households<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
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

    pub(super) fn dogs<E: From<GeodataError>>(&mut self, out: &mut Out<'_, E>) -> Result<(), E> {
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

    /// The dogs of each village present around each register month's deworming days (as
    /// `dewormings` counts them): the stock demo sizes the tablets a village gets from them.
    pub(super) fn live_dogs_per_month(&self) -> Vec<Vec<u32>> {
        let ranges = self.dogs_by_village();
        let month_list = self.register_months();
        ranges
            .into_iter()
            .map(|r| {
                month_list
                    .iter()
                    .map(|m| {
                        self.dogs[r.clone()]
                            .iter()
                            .filter(|d| d.present(days(*m, 11), days(*m, 17)))
                            .count() as u32
                    })
                    .collect()
            })
            .collect()
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

    pub(super) fn dewormings<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
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

    pub(super) fn faecal_tests<E: From<GeodataError>>(
        &self,
        out: &mut Out<'_, E>,
    ) -> Result<(), E> {
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

    pub(super) fn stray_dogs<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
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
}
