//! Tests of the demo generator: determinism, table order and batch sizes, dense ids, and the
//! checks of the migrations on every register.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::draw::days;
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
    let (mut tested, mut positive, mut planted_tested, mut planted_positive) = (0.0, 0.0, 0.0, 0.0);
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
    let types: HashMap<&str, &str> = cases.values("id").zip(cases.values("case_type")).collect();
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
    // The ledger as the database's trigger replays it: never below zero, no expired lot
    // issued or used, every transfer out of one store.
    let m = table("stock_movements");
    let lots = table("stock_lots");
    let expiry: HashMap<&str, NaiveDate> = lots
        .rows
        .iter()
        .map(|r| (r[lots.col("id")].as_str(), date(&r[lots.col("expires_on")])))
        .collect();
    let mut balance: HashMap<(&str, &str), i64> = HashMap::new();
    let mut kinds = HashSet::new();
    for row in &m.rows {
        let (store, lot) = (
            row[m.col("store_id")].as_str(),
            row[m.col("lot_id")].as_str(),
        );
        let kind = row[m.col("kind")].as_str();
        let on = date(&row[m.col("moved_on")]);
        if matches!(kind, "transfer_out" | "use") {
            assert!(expiry[lot] >= on, "lot {lot} issued after its expiry");
        }
        if kind == "use" {
            assert!(!null(&row[m.col("village_id")]));
        }
        let b = balance.entry((store, lot)).or_insert(0);
        *b += row[m.col("quantity")].parse::<i64>().unwrap();
        assert!(*b >= 0, "store {store} lot {lot} below zero");
        kinds.insert(kind);
    }
    for k in [
        "receipt",
        "transfer_out",
        "transfer_in",
        "use",
        "adjustment",
    ] {
        assert!(kinds.contains(k), "no {k} in the demo ledger");
    }
    let soon = lots
        .values("expires_on")
        .map(date)
        .filter(|d| *d >= today() && (*d - today()).num_days() <= 90)
        .count();
    let expired_left = balance
        .iter()
        .filter(|((_, lot), b)| **b > 0 && expiry[lot] < today())
        .count();
    assert!(soon > 0 && expired_left > 0, "{soon} {expired_left}");
    assert_eq!(table("stock_counts").rows.len(), 1);
    let sent = table("stock_transfers").rows.len();
    assert_eq!(
        table("stock_transfer_receipts").rows.len() + 1,
        sent,
        "one in transit"
    );
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
