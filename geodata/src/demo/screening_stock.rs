//! Screening, health education and stock (migration `screening_stock`): ultrasound and serology
//! screening campaigns, education activities, and the receipts and issues of drugs, vaccine and
//! test kits.

use std::collections::HashMap;

use chrono::Datelike;
use rand::RngExt;

use super::draw::{
    Stream, between, binomial, chance, days, int, pick, quarter, splitmix, unit, ymd,
};
use super::plan::Area;
use super::{Generator, LINK, Out};
use crate::GeodataError;

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

impl<'g> Generator<'g> {
    pub(super) fn screening<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
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

    pub(super) fn health_education<E: From<GeodataError>>(
        &self,
        out: &mut Out<'_, E>,
    ) -> Result<(), E> {
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

    pub(super) fn stock<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
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
