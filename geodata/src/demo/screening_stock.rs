//! Screening, health education and stock (migrations `screening_stock` and `stock_ledger`):
//! ultrasound and serology screening campaigns, education activities, and the stock of drugs,
//! vaccine and test kits: the catalogue with its barcodes, the stores of every county (CDC,
//! veterinary station, township centres, village clinics in the hotspots), lots, transfers, a
//! count, and a ledger written in an order that never takes a lot below zero and never issues
//! an expired lot.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
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
}

// ---------------------------------------------------------------------------------------------
// Stock (migration `stock_ledger`): the catalogue, the stores, and a ledger that never goes
// below zero and never issues an expired lot (the database's trigger checks every COPY row).

const STOCK_ITEMS: &[&str] = &[
    "id",
    "code",
    "name",
    "kind",
    "unit",
    "pack_size",
    "units_per_dose",
];
const STOCK_STORES: &[&str] = &["id", "code", "name", "kind", "place_code"];
const STOCK_LOTS: &[&str] = &["id", "item_id", "batch", "expires_on"];
const STOCK_BARCODES: &[&str] = &["id", "kind", "code", "item_id", "pack_quantity", "lot_id"];
const STOCK_TRANSFERS: &[&str] = &[
    "id",
    "from_store_id",
    "to_store_id",
    "issued_on",
    "reference",
    "note",
];
const STOCK_TRANSFER_RECEIPTS: &[&str] = &["transfer_id", "received_on", "note"];
const STOCK_COUNTS: &[&str] = &[
    "id",
    "store_id",
    "blind",
    "note",
    "opened_by",
    "opened_at",
    "finalised_by",
    "finalised_at",
];
const STOCK_COUNT_LINES: &[&str] = &[
    "count_id",
    "lot_id",
    "book_quantity",
    "counted",
    "reason",
    "counted_by",
    "counted_at",
];
const STOCK_MOVES: &[&str] = &[
    "id",
    "item_id",
    "moved_on",
    "kind",
    "quantity",
    "batch",
    "expires_on",
    "village_id",
    "store_id",
    "lot_id",
    "transfer_id",
    "count_id",
    "reason",
    "supplier",
    "reference",
    "note",
];

/// An item of the catalogue (ids are the index + 1).
struct ItemDef {
    code: &'static str,
    name: &'static str,
    kind: &'static str,
    unit: &'static str,
    pack: u32,
    per_dose: Option<u32>,
    shelf_months: i32,
    supplier: &'static str,
}

const PZQ: usize = 0;
const PZQB: usize = 1;
const ABZ: usize = 2;
const EG95: usize = 3;
const ELISA: usize = 4;
const SELISA: usize = 5;

const ITEMS: [ItemDef; 6] = [
    ItemDef {
        code: "PZQ",
        name: "吡喹酮片 50mg",
        kind: "praziquantel",
        unit: "片",
        pack: 100,
        per_dose: Some(2),
        shelf_months: 36,
        supplier: "自治区疾病预防控制中心",
    },
    ItemDef {
        code: "PZQB",
        name: "吡喹酮饵剂",
        kind: "praziquantel",
        unit: "块",
        pack: 50,
        per_dose: Some(1),
        shelf_months: 24,
        supplier: "自治区动物疾病预防控制中心",
    },
    ItemDef {
        code: "ABZ",
        name: "阿苯达唑片 0.2g",
        kind: "albendazole",
        unit: "片",
        pack: 100,
        per_dose: None,
        shelf_months: 36,
        supplier: "自治区疾病预防控制中心",
    },
    ItemDef {
        code: "EG95",
        name: "羊棘球蚴病基因工程亚单位疫苗",
        kind: "vaccine",
        unit: "头份",
        pack: 20,
        per_dose: None,
        shelf_months: 18,
        supplier: "自治区动物疾病预防控制中心",
    },
    ItemDef {
        code: "ELISA",
        name: "犬粪抗原ELISA检测试剂盒 96孔",
        kind: "elisa_kit",
        unit: "盒",
        pack: 1,
        per_dose: None,
        shelf_months: 12,
        supplier: "自治区动物疾病预防控制中心",
    },
    ItemDef {
        code: "SELISA",
        name: "包虫病血清抗体ELISA检测试剂盒 96人份",
        kind: "elisa_kit",
        unit: "盒",
        pack: 1,
        per_dose: None,
        shelf_months: 12,
        supplier: "自治区疾病预防控制中心",
    },
];

/// A GTIN-14 from its first 13 digits and the GS1 check digit (weights 3, 1, … from the right).
fn gtin14(body: &str) -> String {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// The codes on the items' packs: an EAN-13 (as GTIN-14) per item's pack, a case GTIN of ten
/// PZQ packs, and the 7-digit product prefix of the albendazole's drug traceability codes.
fn item_barcodes() -> Vec<(&'static str, String, usize, u32)> {
    let mut out: Vec<(&'static str, String, usize, u32)> = ITEMS
        .iter()
        .enumerate()
        .map(|(i, it)| {
            (
                "gtin",
                gtin14(&format!("06923456{:05}", 101 + i)),
                i,
                it.pack,
            )
        })
        .collect();
    out.push((
        "gtin",
        gtin14(&format!("16923456{:05}", 101 + PZQ)),
        PZQ,
        ITEMS[PZQ].pack * 10,
    ));
    out.push(("cn_drug", "8190412".to_owned(), ABZ, ITEMS[ABZ].pack));
    out
}

/// Ids used so far per table (the next is one more).
#[derive(Debug, Clone, Copy, Default)]
struct Ids {
    store: u64,
    lot: u64,
    transfer: u64,
    count: u64,
    movement: u64,
}

struct LotRow {
    id: u64,
    item: usize,
    batch: String,
    expires: NaiveDate,
}

struct MoveRow {
    id: u64,
    item: usize,
    on: NaiveDate,
    kind: &'static str,
    quantity: i64,
    lot: u64,
    store: u64,
    village: Option<usize>,
    transfer: Option<u64>,
    count: Option<u64>,
    reason: Option<&'static str>,
    supplier: Option<&'static str>,
    reference: Option<String>,
    note: Option<String>,
}

struct CountRow {
    id: u64,
    store: u64,
    on: NaiveDate,
    /// (lot, book, counted, reason)
    lines: Vec<(u64, i64, i64, Option<&'static str>)>,
}

/// What one county's stock writes. The first pass keeps everything but the ledger rows, the
/// second only the ledger rows (so that memory holds one county's ledger at a time).
#[derive(Default)]
struct StockRows {
    stores: Vec<(u64, String, String, &'static str, String)>,
    lots: Vec<LotRow>,
    vet_codes: Vec<(String, usize, u64)>,
    transfers: Vec<(u64, u64, u64, NaiveDate, String, Option<String>)>,
    receipts: Vec<(u64, NaiveDate, Option<String>)>,
    counts: Vec<CountRow>,
    moves: Vec<MoveRow>,
}

/// How a transfer arrives.
enum Arrival {
    /// Confirmed on that day, `short` units fewer than sent, with the note that says why.
    Received {
        on: NaiveDate,
        short: i64,
        note: Option<String>,
    },
    InTransit,
}

/// One county's ledger as it is written, with the balance of every store × lot.
struct Sim {
    today: NaiveDate,
    ids: Ids,
    keep_moves: bool,
    balance: HashMap<(u64, u64), i64>,
    rows: StockRows,
}

impl Sim {
    fn lot(&mut self, item: usize, batch: String, expires: NaiveDate) -> u64 {
        self.ids.lot += 1;
        let id = self.ids.lot;
        self.rows.lots.push(LotRow {
            id,
            item,
            batch,
            expires,
        });
        id
    }

    fn lot_row(&self, id: u64) -> &LotRow {
        let first = self.rows.lots.first().map_or(0, |l| l.id);
        &self.rows.lots[(id - first) as usize]
    }

    /// Appends a ledger row (`id` and `item` are filled in here).
    fn push(&mut self, mut row: MoveRow) {
        let b = self.balance.entry((row.store, row.lot)).or_insert(0);
        *b += row.quantity;
        debug_assert!(*b >= 0, "the demo ledger went below zero");
        self.ids.movement += 1;
        row.id = self.ids.movement;
        row.item = self.lot_row(row.lot).item;
        if self.keep_moves {
            self.rows.moves.push(row);
        }
    }

    fn row(
        &self,
        store: u64,
        lot: u64,
        on: NaiveDate,
        kind: &'static str,
        quantity: i64,
    ) -> MoveRow {
        MoveRow {
            id: 0,
            item: 0,
            on,
            kind,
            quantity,
            lot,
            store,
            village: None,
            transfer: None,
            count: None,
            reason: None,
            supplier: None,
            reference: None,
            note: None,
        }
    }

    /// What `store` can issue of `item` on `on`: lots not expired, earliest expiry first.
    fn fefo(&self, store: u64, item: usize, on: NaiveDate) -> Vec<(u64, i64)> {
        let mut lots: Vec<(NaiveDate, u64, i64)> = self
            .rows
            .lots
            .iter()
            .filter(|l| l.item == item && l.expires >= on)
            .filter_map(|l| {
                let b = self.balance.get(&(store, l.id)).copied().unwrap_or(0);
                (b > 0).then_some((l.expires, l.id, b))
            })
            .collect();
        lots.sort();
        lots.into_iter().map(|(_, id, b)| (id, b)).collect()
    }

    fn available(&self, store: u64, item: usize, on: NaiveDate) -> i64 {
        self.fefo(store, item, on).iter().map(|x| x.1).sum()
    }

    /// Up to `want` units of `item` from `store`, by FEFO.
    fn take(&self, store: u64, item: usize, on: NaiveDate, want: i64) -> Vec<(u64, i64)> {
        let mut left = want;
        let mut out = Vec::new();
        for (lot, b) in self.fefo(store, item, on) {
            if left <= 0 {
                break;
            }
            let q = b.min(left);
            out.push((lot, q));
            left -= q;
        }
        out
    }

    fn receipt(
        &mut self,
        store: u64,
        lot: u64,
        on: NaiveDate,
        quantity: i64,
        supplier: &'static str,
        reference: String,
    ) {
        let mut r = self.row(store, lot, on, "receipt", quantity);
        r.supplier = Some(supplier);
        r.reference = Some(reference);
        self.push(r);
    }

    /// A transfer of `lines` (item, units) from `from` to `to` issued on `on`, each line split
    /// over lots by FEFO and cut to what is there. Returns the units sent.
    fn transfer(
        &mut self,
        from: u64,
        to: u64,
        on: NaiveDate,
        lines: &[(usize, i64)],
        arrival: Arrival,
    ) -> i64 {
        let mut parts = Vec::new();
        for &(item, want) in lines {
            parts.extend(self.take(from, item, on, want));
        }
        let sent: i64 = parts.iter().map(|p| p.1).sum();
        if sent <= 0 {
            return 0;
        }
        self.ids.transfer += 1;
        let id = self.ids.transfer;
        let reference = format!("DB{}{:05}", on.format("%Y%m"), id % 100_000);
        self.rows
            .transfers
            .push((id, from, to, on, reference.clone(), None));
        for &(lot, q) in &parts {
            let mut r = self.row(from, lot, on, "transfer_out", -q);
            r.transfer = Some(id);
            r.reference = Some(reference.clone());
            self.push(r);
        }
        if let Arrival::Received { on, short, note } = arrival {
            let received_on = on.min(self.today);
            self.rows.receipts.push((id, received_on, note));
            let last = parts.len() - 1;
            for (i, &(lot, q)) in parts.iter().enumerate() {
                let got = if i == last { (q - short).max(0) } else { q };
                let mut r = self.row(to, lot, received_on, "transfer_in", got);
                r.transfer = Some(id);
                r.reference = Some(reference.clone());
                self.push(r);
            }
        }
        sent
    }

    /// Tablets (or doses) handed to a village from `store`, cut to what is there.
    fn use_(&mut self, store: u64, item: usize, on: NaiveDate, village: usize, want: i64) {
        for (lot, q) in self.take(store, item, on, want) {
            let mut r = self.row(store, lot, on, "use", -q);
            r.village = Some(village);
            self.push(r);
        }
    }

    /// An adjustment of `quantity` with its reason and note.
    fn adjust(
        &mut self,
        store: u64,
        lot: u64,
        on: NaiveDate,
        quantity: i64,
        (reason, note): (&'static str, &'static str),
        count: Option<u64>,
    ) {
        if quantity == 0 {
            return;
        }
        let mut r = self.row(store, lot, on, "adjustment", quantity);
        r.reason = Some(reason);
        r.note = Some(note.to_owned());
        r.count = count;
        self.push(r);
    }

    fn store(&mut self, code: String, name: String, kind: &'static str, place: &str) -> u64 {
        self.ids.store += 1;
        self.rows
            .stores
            .push((self.ids.store, code, name, kind, place.to_owned()));
        self.ids.store
    }
}

impl<'g> Generator<'g> {
    pub(super) fn stock<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("stock_items", STOCK_ITEMS)?;
        for (i, it) in ITEMS.iter().enumerate() {
            out.t()
                .row()
                .field(i + 1)
                .field(it.code)
                .field(it.name)
                .field(it.kind)
                .field(it.unit)
                .field(it.pack)
                .field(it.per_dose)
                .end();
            out.done()?;
        }
        let live = self.live_dogs_per_month();
        // First pass: everything but the ledger rows, and where each county's ids start.
        let mut all = StockRows::default();
        let mut starts = Vec::with_capacity(self.gaz.counties.len());
        let mut ids = Ids::default();
        for ci in 0..self.gaz.counties.len() {
            starts.push(ids);
            let sim = self.county_stock(ci, &live, ids, false);
            ids = sim.ids;
            let r = sim.rows;
            all.stores.extend(r.stores);
            all.lots.extend(r.lots);
            all.vet_codes.extend(r.vet_codes);
            all.transfers.extend(r.transfers);
            all.receipts.extend(r.receipts);
            all.counts.extend(r.counts);
        }
        out.begin("stock_stores", STOCK_STORES)?;
        for (id, code, name, kind, place) in &all.stores {
            out.t()
                .row()
                .field(id)
                .field(code)
                .field(name)
                .field(*kind)
                .field(place)
                .end();
            out.done()?;
        }
        out.begin("stock_lots", STOCK_LOTS)?;
        for l in &all.lots {
            out.t()
                .row()
                .field(l.id)
                .field(l.item + 1)
                .field(&l.batch)
                .field(l.expires)
                .end();
            out.done()?;
        }
        out.begin("stock_barcodes", STOCK_BARCODES)?;
        let mut barcode: u64 = 0;
        for (kind, code, item, pack) in item_barcodes() {
            barcode += 1;
            out.t()
                .row()
                .field(barcode)
                .field(kind)
                .field(code)
                .field(item + 1)
                .field(pack)
                .null()
                .end();
            out.done()?;
        }
        for (code, item, lot) in &all.vet_codes {
            barcode += 1;
            out.t()
                .row()
                .field(barcode)
                .field("vet_drug")
                .field(code)
                .field(item + 1)
                .field(ITEMS[*item].pack)
                .field(lot)
                .end();
            out.done()?;
        }
        out.begin("stock_transfers", STOCK_TRANSFERS)?;
        for (id, from, to, on, reference, note) in &all.transfers {
            out.t()
                .row()
                .field(id)
                .field(from)
                .field(to)
                .field(*on)
                .field(reference)
                .field(note)
                .end();
            out.done()?;
        }
        out.begin("stock_transfer_receipts", STOCK_TRANSFER_RECEIPTS)?;
        for (id, on, note) in &all.receipts {
            out.t().row().field(id).field(*on).field(note).end();
            out.done()?;
        }
        out.begin("stock_counts", STOCK_COUNTS)?;
        for c in &all.counts {
            let at = |h: u32| format!("{} {h:02}:00:00+08", c.on);
            out.t()
                .row()
                .field(c.id)
                .field(c.store)
                .field(false)
                .field("季度盘点")
                .field("keeper")
                .field(at(9))
                .field("keeper")
                .field(at(16))
                .end();
            out.done()?;
        }
        out.begin("stock_count_lines", STOCK_COUNT_LINES)?;
        for c in &all.counts {
            for (lot, book, counted, reason) in &c.lines {
                out.t()
                    .row()
                    .field(c.id)
                    .field(lot)
                    .field(book)
                    .field(counted)
                    .field(*reason)
                    .field("keeper")
                    .field(format!("{} 11:00:00+08", c.on))
                    .end();
                out.done()?;
            }
        }
        drop(all);
        // Second pass: the ledger, one county at a time, in the order it was simulated.
        out.begin("stock_movements", STOCK_MOVES)?;
        for (ci, start) in starts.into_iter().enumerate() {
            let sim = self.county_stock(ci, &live, start, true);
            let lots: HashMap<u64, &LotRow> = sim.rows.lots.iter().map(|l| (l.id, l)).collect();
            for m in &sim.rows.moves {
                let lot = lots.get(&m.lot);
                out.t()
                    .row()
                    .field(m.id)
                    .field(m.item + 1)
                    .field(m.on)
                    .field(m.kind)
                    .field(m.quantity)
                    .field(lot.map(|l| l.batch.as_str()))
                    .field(lot.map(|l| l.expires))
                    .field(m.village.map(|v| v + 1))
                    .field(m.store)
                    .field(m.lot)
                    .field(m.transfer)
                    .field(m.count)
                    .field(m.reason)
                    .field(m.supplier)
                    .field(&m.reference)
                    .field(&m.note)
                    .end();
                out.done()?;
            }
        }
        Ok(())
    }

    /// The stock of county `ci`: its stores, lots and ledger, from its own random stream.
    /// Deterministic: both passes of [`Self::stock`] get the same rows.
    fn county_stock(&self, ci: usize, live: &[Vec<u32>], ids: Ids, keep_moves: bool) -> Sim {
        let mut rng = self.rng(Stream::Stock, ci);
        let county = &self.gaz.counties[ci];
        let mut sim = Sim {
            today: self.today,
            ids,
            keep_moves,
            balance: HashMap::new(),
            rows: StockRows::default(),
        };
        let cdc = sim.store(
            format!("CDC-{}", county.code),
            format!("{}疾病预防控制中心", county.name),
            "county_cdc",
            &county.code,
        );
        let vet = sim.store(
            format!("VET-{}", county.code),
            format!("{}畜牧兽医站", county.name),
            "vet_station",
            &county.code,
        );
        let villages: Vec<usize> = (0..self.plans.len())
            .filter(|&vi| self.plans[vi].county == ci)
            .collect();
        let mut thc: HashMap<usize, u64> = HashMap::new();
        for (ti, t) in self.gaz.townships.iter().enumerate() {
            if t.county_code() == county.code
                && villages.iter().any(|&v| self.plans[v].township == ti)
            {
                let id = sim.store(
                    format!("THC-{}", t.code),
                    format!("{}卫生院", t.name),
                    "township_centre",
                    &t.code,
                );
                thc.insert(ti, id);
            }
        }
        let townships: Vec<usize> = {
            let mut t: Vec<usize> = thc.keys().copied().collect();
            t.sort_unstable();
            t
        };
        // Village clinics in the planted hotspots: they get their tablets from the township.
        let mut clinic: HashMap<usize, u64> = HashMap::new();
        for &vi in &villages {
            if self.plans[vi].hotspot.is_some() {
                let v = self.village(vi);
                let id = sim.store(
                    format!("VC-{}", v.code),
                    format!("{}村卫生室", v.name),
                    "village_clinic",
                    &v.code,
                );
                clinic.insert(vi, id);
            }
        }
        // Villages the reconciliation flags: one doses its dogs without being issued tablets
        // (the last year), a few are issued far more than they record (the last six months).
        let ordinary: Vec<usize> = villages
            .iter()
            .copied()
            .filter(|vi| !clinic.contains_key(vi) && self.plans[*vi].dogs() > 20)
            .collect();
        let pick_one = |rng: &mut rand_chacha::ChaCha8Rng| {
            (!ordinary.is_empty()).then(|| ordinary[rng.random_range(0..ordinary.len())])
        };
        let dry = pick_one(&mut rng);
        let over: Vec<usize> = (0..3)
            .filter_map(|_| pick_one(&mut rng))
            .filter(|v| Some(*v) != dry)
            .collect();
        // Tablets handed to each village per register month.
        let n_months = live.first().map_or(0, Vec::len);
        let mut tablets: HashMap<usize, Vec<i64>> = HashMap::new();
        for &vi in &villages {
            let p = &self.plans[vi];
            let per_dose = f64::from(ITEMS[PZQ].per_dose.unwrap_or(1));
            let row = (0..n_months)
                .map(|k| {
                    let slack = unit(&mut rng, 1.0, 1.08);
                    let mut q = f64::from(live[vi][k]) * p.coverage * per_dose * slack;
                    if over.contains(&vi) && k + 6 >= n_months {
                        q *= 2.5;
                    }
                    if dry == Some(vi) && k + 12 >= n_months {
                        q = 0.0;
                    }
                    q.ceil() as i64
                })
                .collect();
            tablets.insert(vi, row);
        }
        let month_need = |vs: &mut dyn Iterator<Item = usize>, k: usize| -> i64 {
            vs.map(|v| tablets.get(&v).and_then(|r| r.get(k)).copied().unwrap_or(0))
                .sum()
        };
        let patients: HashMap<usize, u32> = townships
            .iter()
            .map(|&ti| {
                let n = villages
                    .iter()
                    .filter(|&&v| self.plans[v].township == ti)
                    .map(|&v| self.plans[v].case_persons)
                    .sum();
                (ti, n)
            })
            .collect();
        let sheep: Vec<(usize, i64)> = villages
            .iter()
            .map(|&v| {
                (
                    v,
                    (f64::from(self.plans[v].livestock[0]) * 0.45).round() as i64,
                )
            })
            .filter(|x| x.1 > 0)
            .collect();
        let round_up = |q: f64, pack: u32| -> i64 {
            let pack = f64::from(pack.max(1));
            ((q / pack).ceil() * pack) as i64
        };
        // Month 0 is the month before the registers start (the opening receipts).
        let months: Vec<NaiveDate> = (0..=n_months as i32)
            .map(|j| super::draw::months(self.window_start, j - 1))
            .collect();
        let last = months.len() - 1;
        let quarter_start = |j: usize| j == 0 || months[j].month() % 3 == 1;
        let mut references = 0u32;
        let mut reference = |on: NaiveDate| {
            references += 1;
            format!("RK{}{:03}", on.format("%Y%m"), references % 1000)
        };
        for j in 0..months.len() {
            let m = months[j];
            if m > self.today {
                break;
            }
            let k = j.checked_sub(1);
            let on = |d: i64| days(m, d);
            // Receipts at the county CDC: a new lot of each item every quarter.
            if quarter_start(j) {
                let next = (j + 1..months.len())
                    .find(|&x| quarter_start(x))
                    .unwrap_or(months.len());
                let pzq_need: i64 = (j.max(1)..next)
                    .map(|x| month_need(&mut villages.iter().copied(), x - 1))
                    .sum();
                let ts: u32 = patients.values().sum();
                let amounts = [
                    (
                        PZQ,
                        f64::from(ITEMS[PZQ].pack) * 10.0 + pzq_need as f64 * 1.12 + 1000.0,
                    ),
                    (PZQB, 300.0 * unit(&mut rng, 1.0, 1.3)),
                    (ABZ, f64::from(ts) * 90.0 * 1.2 + 100.0),
                    (ELISA, f64::from(int(&mut rng, 4, 8) as u32)),
                    (SELISA, f64::from(int(&mut rng, 2, 5) as u32)),
                ];
                let day = on(int(&mut rng, 0, 2));
                for (item, q) in amounts {
                    if day > self.today {
                        break;
                    }
                    let it = &ITEMS[item];
                    let batch = format!("{}-{}-{}Q{}", it.code, county.code, m.year(), quarter(m));
                    let expires = super::draw::months(month_start_of(day), it.shelf_months);
                    let lot = sim.lot(item, batch, expires);
                    if item == PZQB {
                        for n in 0..2u64 {
                            let x = splitmix(self.seed ^ (lot << 8) ^ n);
                            sim.rows.vet_codes.push((format!("2100{x:020}"), item, lot));
                        }
                    }
                    let r = reference(day);
                    sim.receipt(cdc, lot, day, round_up(q, it.pack), it.supplier, r);
                }
            }
            // Sheep vaccine: received in February and August, all of it to the vet station.
            if matches!(m.month(), 2 | 8) && on(2) <= self.today {
                let it = &ITEMS[EG95];
                let total: i64 = sheep.iter().map(|s| s.1).sum();
                let day = on(1);
                let half = if m.month() == 2 { 1 } else { 2 };
                let batch = format!("{}-{}-{}H{half}", it.code, county.code, m.year());
                let expires = super::draw::months(month_start_of(day), it.shelf_months);
                let lot = sim.lot(EG95, batch, expires);
                let r = reference(day);
                sim.receipt(
                    cdc,
                    lot,
                    day,
                    round_up(total as f64 * 0.55, it.pack),
                    it.supplier,
                    r,
                );
                sim.transfer(
                    cdc,
                    vet,
                    on(2),
                    &[(EG95, total)],
                    Arrival::Received {
                        on: on(3),
                        short: 0,
                        note: None,
                    },
                );
            }
            let Some(k) = k else {
                continue;
            };
            // Tablets to each township centre for the month's round.
            for (n, &ti) in townships.iter().enumerate() {
                let store = thc[&ti];
                let need = month_need(
                    &mut villages
                        .iter()
                        .copied()
                        .filter(|&v| self.plans[v].township == ti),
                    k,
                );
                let day = on(3 + int(&mut rng, 0, 1));
                if day > self.today || need == 0 {
                    continue;
                }
                let have = sim.available(store, PZQ, day);
                let want = (need as f64 * 1.05).ceil() as i64 - have;
                if want <= 0 {
                    continue;
                }
                let mut lines = vec![(PZQ, round_up(want as f64, 10))];
                if quarter_start(j) && patients.get(&ti).copied().unwrap_or(0) > 0 {
                    lines.push((ABZ, i64::from(patients[&ti]) * 90));
                }
                let arrival = if j + 2 == last && n == 1 {
                    Arrival::Received {
                        on: days(day, 2),
                        short: 10,
                        note: Some("运输途中破损10片，已拍照留存".to_owned()),
                    }
                } else {
                    Arrival::Received {
                        on: days(day, int(&mut rng, 1, 3)),
                        short: 0,
                        note: None,
                    }
                };
                sim.transfer(cdc, store, day, &lines, arrival);
            }
            // The vet station's quarter: tablets, bait and coproantigen kits.
            if quarter_start(j) {
                let day = on(4);
                if day <= self.today {
                    sim.transfer(
                        cdc,
                        vet,
                        day,
                        &[(PZQ, 1000), (PZQB, 250), (ELISA, 2)],
                        Arrival::Received {
                            on: on(5),
                            short: 0,
                            note: None,
                        },
                    );
                }
            }
            // Village clinics get their month's tablets from the township.
            for (vi, store) in sorted(&clinic) {
                let day = on(7);
                let need = tablets[&vi][k];
                if day > self.today || need == 0 {
                    continue;
                }
                let from = thc[&self.plans[vi].township];
                let want = need - sim.available(store, PZQ, day);
                if want > 0 {
                    sim.transfer(
                        from,
                        store,
                        day,
                        &[(PZQ, want)],
                        Arrival::Received {
                            on: day,
                            short: 0,
                            note: None,
                        },
                    );
                }
            }
            // The round: tablets handed to each village doctor a few days before it.
            for &vi in &villages {
                let day = on(9 + int(&mut rng, 0, 3));
                let q = tablets[&vi][k];
                if day > self.today || q == 0 {
                    continue;
                }
                let store = clinic
                    .get(&vi)
                    .copied()
                    .unwrap_or_else(|| thc[&self.plans[vi].township]);
                sim.use_(store, PZQ, day, vi, q);
            }
            // Sheep vaccinated in March and September.
            if matches!(m.month(), 3 | 9) {
                for &(vi, n) in &sheep {
                    let day = on(10 + int(&mut rng, 0, 10));
                    if day <= self.today {
                        sim.use_(vet, EG95, day, vi, n / 2);
                    }
                }
            }
            // Tablets damaged at a township centre once a year.
            if m.month() == 6
                && let Some(&ti) = townships.get(rng.random_range(0..townships.len().max(1)))
            {
                let day = on(20);
                let store = thc[&ti];
                if day <= self.today
                    && let Some(&(lot, b)) = sim.fefo(store, PZQ, day).first()
                {
                    sim.adjust(store, lot, day, -b.min(20), ("damaged", "受潮损坏"), None);
                }
            }
            // Kits and vaccine written off 45 days after they expired (the serum kits are left:
            // the stock page shows expired lots in red).
            let day = on(25);
            if day <= self.today {
                for store in [cdc, vet] {
                    let expired: Vec<(u64, i64)> = sim
                        .rows
                        .lots
                        .iter()
                        .filter(|l| matches!(l.item, ELISA | EG95) && days(l.expires, 45) < day)
                        .filter_map(|l| {
                            let b = sim.balance.get(&(store, l.id)).copied().unwrap_or(0);
                            (b > 0).then_some((l.id, b))
                        })
                        .collect();
                    for (lot, b) in expired {
                        sim.adjust(store, lot, day, -b, ("expired", "过期报废"), None);
                    }
                }
            }
            // Last month's count at the first township centre: two lines differ.
            if j + 1 == last
                && let Some(&ti) = townships.first()
            {
                let day = on(20);
                let store = thc[&ti];
                sim.ids.count += 1;
                let id = sim.ids.count;
                let mut lots: Vec<(u64, i64)> = sim
                    .balance
                    .iter()
                    .filter(|((s, _), b)| *s == store && **b > 0)
                    .map(|((_, l), b)| (*l, *b))
                    .collect();
                lots.sort_unstable();
                let mut lines = Vec::new();
                for (n, (lot, book)) in lots.into_iter().enumerate() {
                    let (counted, reason) = match n {
                        0 => ((book - 4).max(0), Some("count_correction")),
                        1 => (book + 2, Some("count_correction")),
                        _ => (book, None),
                    };
                    if counted != book {
                        sim.adjust(
                            store,
                            lot,
                            day,
                            counted - book,
                            ("count_correction", "盘点差异"),
                            Some(id),
                        );
                    }
                    lines.push((lot, book, counted, reason.filter(|_| counted != book)));
                }
                sim.rows.counts.push(CountRow {
                    id,
                    store,
                    on: day,
                    lines,
                });
            }
        }
        // One transfer still on its way: issued two days ago.
        if let Some(&ti) = townships.last() {
            let day = days(self.today, -2);
            sim.transfer(cdc, thc[&ti], day, &[(PZQ, 500)], Arrival::InTransit);
        }
        sim
    }
}

fn month_start_of(d: NaiveDate) -> NaiveDate {
    super::draw::month_start(d)
}

/// A map's entries in key order (the output must not depend on hashing).
fn sorted<K: Ord + Copy, V: Copy>(map: &HashMap<K, V>) -> Vec<(K, V)> {
    let mut v: Vec<(K, V)> = map.iter().map(|(k, v)| (*k, *v)).collect();
    v.sort_by_key(|x| x.0);
    v
}
