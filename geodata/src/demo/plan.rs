//! Village plans: what each village gets before any row is written (population, households and
//! their dogs, ethnic mix, rates, case patients), and the families drawn for its households.

use chrono::NaiveDate;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::draw::{Stream, age_on, chance, days, int, pick, rng_for, unit, weighted};
use super::{HOTSPOTS, PEOPLE_PER_COUNTY};
use crate::gazetteer::{Gazetteer, Village};
use crate::names::{self, Ethnicity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Area {
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
pub(super) struct HouseholdPlan {
    pub(super) size: u8,
    pub(super) pastoral: bool,
    pub(super) dogs: u8,
}

#[derive(Debug)]
pub(super) struct VillagePlan {
    pub(super) county: usize,
    pub(super) township: usize,
    pub(super) area: Area,
    pub(super) urban: bool,
    pub(super) hotspot: Option<usize>,
    pub(super) population: u32,
    pub(super) households: Vec<HouseholdPlan>,
    pub(super) first_household_id: u64,
    pub(super) mix: [f64; 6],
    pub(super) coverage: f64,
    pub(super) dog_positivity: f64,
    pub(super) human_prevalence: f64,
    pub(super) ae_share: f64,
    pub(super) case_persons: u32,
    /// Year-end sheep, goats, cattle, horses, camels of the current year.
    pub(super) livestock: [u32; 5],
    pub(super) registration_rate: f64,
    pub(super) vet: String,
    pub(super) doctor: String,
}

impl VillagePlan {
    pub(super) fn dogs(&self) -> u32 {
        self.households.iter().map(|h| u32::from(h.dogs)).sum()
    }
}

pub(super) fn plan_village(
    seed: u64,
    vi: usize,
    v: &Village,
    county: usize,
    township: usize,
) -> VillagePlan {
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
pub(super) fn normalise_populations(seed: u64, gaz: &Gazetteer, plans: &mut [VillagePlan]) {
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
pub(super) fn allocate_cases(seed: u64, gaz: &Gazetteer, plans: &mut [VillagePlan]) {
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
pub(super) struct Family {
    pub(super) ethnicity: Ethnicity,
    pub(super) head_male: bool,
    pub(super) head_birth: NaiveDate,
    pub(super) head_name: String,
    /// What children carry: the surname, or the father's given name for transliterated names.
    pub(super) child_family: String,
}

pub(super) fn family(rng: &mut ChaCha8Rng, mix: &[f64; 6], today: NaiveDate) -> Family {
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
pub(super) fn member(
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

pub(super) fn occupation(
    rng: &mut ChaCha8Rng,
    age: u32,
    pastoral: bool,
    urban: bool,
) -> &'static str {
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
