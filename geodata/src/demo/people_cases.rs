//! People and their cases (migration `people_cases`): the residents, the echinococcosis cases,
//! their imaging, treatments and follow-ups.

use chrono::{Datelike, NaiveDate};

use super::draw::{Stream, age_on, between, chance, days, int, months, pick, unit, weighted};
use super::plan::{family, member, occupation};
use super::{Generator, LINK, Out};
use crate::GeodataError;
use crate::copy::{Decimal1, Decimal2};
use crate::idcard::IdAllocator;
use crate::names::{self, Ethnicity};

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

#[derive(Debug, Clone, Copy)]
pub(super) struct CasePerson {
    pub(super) person_id: u64,
    pub(super) village: usize,
    pub(super) birth: NaiveDate,
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

impl<'g> Generator<'g> {
    pub(super) fn people<E: From<GeodataError>>(&mut self, out: &mut Out<'_, E>) -> Result<(), E> {
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

    pub(super) fn cases<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
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
}
