//! The livestock registers (migration `livestock`): slaughter points and their inspections, sheep
//! vaccination campaigns and vaccinations, and rodent surveys.

use chrono::Datelike;
use geo::{Distance, Haversine};

use super::draw::{
    Stream, between, binomial, chance, days, int, near, near_inside, pick, unit, weighted, ymd,
};
use super::plan::Area;
use super::{Generator, LINK, Out};
use crate::GeodataError;
use crate::gazetteer::h3_cells;
use crate::names::{self, Ethnicity};

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
pub(super) struct PointRec {
    id: u64,
    kind: Slaughter,
    facility: &'static str,
    infection: f64,
    origins: Vec<usize>,
}

impl<'g> Generator<'g> {
    pub(super) fn slaughter<E: From<GeodataError>>(
        &mut self,
        out: &mut Out<'_, E>,
    ) -> Result<(), E> {
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

    pub(super) fn vaccinations<E: From<GeodataError>>(
        &mut self,
        out: &mut Out<'_, E>,
    ) -> Result<(), E> {
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

    pub(super) fn rodents<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
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
}
