//! SQL injection as a hostile insider (issue 17, "Figures to keep"): township staff of
//! 654022100 and a county epidemiologist send classic injection payloads into every query
//! parameter and path parameter of every GET route of the route table, into text fields (and
//! field names) of the writes of the households, dogs and people registers, into the
//! parameters of an import, into the cells and headers of imported CSV files, and into the
//! login form.
//!
//! An attempt succeeds when its answer is a 5xx; when it takes more than [`SLOW`] longer than
//! the same request with a harmless value (a `pg_sleep` ran); when it carries more rows than
//! that harmless request (a filter was widened); when it shows a whole ID number (18
//! characters with a valid check character); when a login is accepted; when a stored text
//! reads back different from what was sent; or when a table's row count changes other than by
//! the records the writes created. The test counts attempts, prints
//! `figures: N injection attempts, 0 succeeded` and fails on any success.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use echinomap_domain::IdNumber;
use echinomap_domain::spreadsheet::csv_text;
use echinomap_programme::auth::Role;
use echinomap_programme::auth::sessions::Throttle;
use echinomap_programme::records::spec::SPECS;
use echinomap_server::http::routes;
use echinomap_server::settings::LoginSettings;
use echinomap_tests::{ApiClient, Result, TEST_ADMIN_PASSWORD, TestApp, TestDb};
use reqwest::Method;
use serde_json::{Value, json};

const OWN_TOWNSHIP: &str = "654022100";
/// The attacker of the routes no insider may reach.
const ADMIN: &str = "admin";
const VILLAGE: &str = "654022100200";

/// The classic payloads: quotes that close a literal, comments, stacked statements, UNIONs,
/// `pg_sleep`, placeholders, casts, escape strings, dollar quoting, look-alike quotes, a
/// backslash mix, numbers out of range, and valid values with an injection behind them.
const PAYLOADS: [&str; 27] = [
    "' OR '1'='1",
    "' OR 1=1--",
    "1; DROP TABLE dogs;--",
    "') OR 1=1--",
    "')) OR (('1'='1",
    "' UNION SELECT id_number FROM people--",
    "' UNION SELECT NULL, id_number, NULL FROM people--",
    "%' OR '%'='",
    "'; SELECT pg_sleep(5);--",
    "' || pg_sleep(5) || '",
    "1 OR 1=1",
    "$1",
    "\\'",
    "'::text",
    "E'\\x27",
    "$$; DROP TABLE people; $$",
    "${jndi:ldap://127.0.0.1/a}",
    "\u{FF07} OR \u{FF07}1\u{FF07}=\u{FF07}1",
    "\u{2019}; DELETE FROM dogs;--",
    "1/**/OR/**/1=1/*",
    "--",
    "\\\\' \\\" \\\\\\n \\x27 \\",
    "99999999999999999999",
    "-1",
    "654022100' OR '1'='1",
    "2025' OR '1'='1",
    "\"; DROP TABLE users; --",
];

/// The value a payload is compared with: invalid or matching nothing wherever it goes.
const HARMLESS: &str = "harmless";

/// How much longer than the harmless request an attempt may take (the payloads sleep 5 s).
const SLOW: Duration = Duration::from_secs(3);

/// Requests in flight at once (the machine has two cores).
const IN_FLIGHT: usize = 4;

/// Tables that reads, logins and imports write by design (the audit trail, stored analyses,
/// the deworming rollup filled on first read and marked dirty by writes, the import history,
/// login failures): their row counts are not judged.
const WRITTEN_BY_DESIGN: [&str; 11] = [
    "audit_log",
    "deworming_rollup",
    "deworming_rollup_months",
    "deworming_rollup_dirty",
    "hotspot_results",
    "hotspot_cells",
    "scan_results",
    "scan_clusters",
    "imports",
    "login_failures",
    "sessions",
];

/// GET routes that read nothing from the request but its credentials.
const NO_INPUT: [&str; 21] = [
    "/healthz",
    "/metrics",
    "/",
    "/field",
    "/api/auth/me",
    "/api/auth/session",
    "/api/summary",
    "/api/reports",
    "/tiles",
    "/api/users",
    "/api/imports",
    "/api/openapi.json",
    "/api/docs",
    "/ogc",
    "/ogc/conformance",
    "/ogc/api",
    "/ogc/collections",
    "/api/duplicates",
    "/api/registers",
    "/api/stock/items",
    "/api/stock/stores",
];

/// The parameters the issue names: the walk must reach each.
const NAMED: [&str; 15] = [
    "q",
    "township",
    "village",
    "unit",
    "status",
    "from",
    "to",
    "period",
    "layer",
    "kind",
    "cursor",
    "limit",
    "variable",
    "resolution",
    "format",
];

/// The parameters of an import.
const IMPORT_PARAMS: [&str; 6] = ["kind", "format", "crs", "mode", "sheet", "filename"];

/// One GET route as attacked: valid values of its path parameters and a query that make it
/// answer, and the query parameters its handler reads.
#[derive(Debug, Clone)]
struct Target {
    route: String,
    path: Vec<(&'static str, String)>,
    query: Vec<(&'static str, String)>,
    params: Vec<&'static str>,
    /// OGC items take any parameter (QGIS adds its own): payloads go into names too.
    any_names: bool,
    /// The valid request names nothing that exists (an unknown import, a register without a
    /// record the township may read): 404.
    missing: bool,
}

impl Target {
    fn new(
        route: &str,
        path: &[(&'static str, &str)],
        query: &str,
        params: &[&'static str],
    ) -> Self {
        let query = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| {
                let k = params
                    .iter()
                    .find(|p| **p == k)
                    .copied()
                    .unwrap_or_else(|| panic!("{route}: base parameter {k} is not declared"));
                (k, v.to_owned())
            })
            .collect();
        Self {
            route: route.to_owned(),
            path: path.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            query,
            params: params.to_vec(),
            any_names: false,
            missing: false,
        }
    }

    /// Every place a payload goes.
    fn slots(&self) -> Vec<Slot> {
        let mut slots: Vec<Slot> = self.path.iter().map(|(k, _)| Slot::Path(k)).collect();
        slots.extend(self.params.iter().map(|p| Slot::Query(p)));
        if self.any_names {
            slots.push(Slot::Name);
        }
        slots
    }

    /// The request with the valid values, or with `value` in `slot` instead.
    fn request(&self, c: &ApiClient, attempt: Option<(Slot, &str)>) -> reqwest::RequestBuilder {
        let mut path = self.route.clone();
        for (k, v) in &self.path {
            let v = match attempt {
                Some((Slot::Path(p), x)) if p == *k => encode_segment(x),
                _ => v.clone(),
            };
            path = path.replace(&format!("{{{k}}}"), &v);
        }
        let mut query: Vec<(String, String)> = self
            .query
            .iter()
            .filter(|(k, _)| !matches!(attempt, Some((Slot::Query(p), _)) if p == *k))
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        match attempt {
            Some((Slot::Query(p), x)) => query.push((p.to_owned(), x.to_owned())),
            Some((Slot::Name, x)) => query.push((x.to_owned(), "1".to_owned())),
            _ => {}
        }
        with_query(c, Method::GET, &path, &query)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Path(&'static str),
    Query(&'static str),
    /// A query parameter's name.
    Name,
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Slot::Path(p) => write!(f, "path {{{p}}}"),
            Slot::Query(p) => write!(f, "?{p}="),
            Slot::Name => write!(f, "a parameter name"),
        }
    }
}

/// A request of `c` to `path` with `query` form-encoded (as a browser sends it), and a timeout
/// long past any payload's sleep.
fn with_query<K: AsRef<str>, V: AsRef<str>>(
    c: &ApiClient,
    method: Method,
    path: &str,
    query: &[(K, V)],
) -> reqwest::RequestBuilder {
    let url = reqwest::Url::parse_with_params(
        &format!("{}{path}", c.base),
        query.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
    )
    .unwrap_or_else(|e| panic!("{path}: {e}"));
    c.client
        .request(method, url)
        .bearer_auth(&c.token)
        .timeout(Duration::from_secs(60))
}

/// A path segment with everything but unreserved characters percent-encoded.
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every GET route with input, as the attackers call it. `ids` gives a record of each
/// register (for its detail route) and a case.
fn targets(ids: &BTreeMap<&'static str, i64>) -> Vec<Target> {
    let t = Target::new;
    let gone = |mut t: Target| {
        t.missing = true;
        t
    };
    // A register's detail route, with a record the township staff may read if there is one.
    let detail = |register: &str| {
        let route = format!("/api/{register}/{{id}}");
        match ids.get(register) {
            Some(id) => t(&route, &[("id", &id.to_string())], "", &[]),
            None => gone(t(&route, &[("id", "0")], "", &[])),
        }
    };
    let mut all = vec![
        gone(t("/assets/{file}", &[("file", "missing.js")], "", &[])),
        t("/field/{file}", &[("file", "sw.js")], "", &[]),
        t("/field/core/{file}", &[("file", "outbox.js")], "", &[]),
        t("/api/villages", &[], "", &["township", "q"]),
        t(
            "/api/villages/locate",
            &[],
            "lon=81.19&lat=43.77&n=5",
            &["lon", "lat", "crs", "n"],
        ),
        t("/api/villages/{code}", &[("code", VILLAGE)], "", &[]),
        t(
            "/api/villages/{code}/contacts",
            &[("code", VILLAGE)],
            "",
            &[],
        ),
        t("/api/villages/{code}/risk", &[("code", VILLAGE)], "", &[]),
        t("/api/risk", &[], "", &["township", "sort", "order", "tier"]),
        t(
            "/api/indicators",
            &[],
            "period=2025",
            &["unit", "period", "indicator"],
        ),
        t(
            "/api/indicators/matrix",
            &[],
            "indicator=new_cases&units=village&from=2025-01&to=2025-06",
            &["indicator", "units", "unit", "from", "to", "step"],
        ),
        t(
            "/api/indicators/matrix",
            &[],
            "indicator=new_cases&units=township&periods=2022..2026,last_12_months",
            &["indicator", "units", "periods"],
        ),
        t(
            "/api/worklists/{kind}",
            &[("kind", "followups")],
            "",
            &["unit"],
        ),
        t("/api/stage", &[], "year=2025", &["unit", "year"]),
        t(
            "/api/reports/{file}",
            &[("file", "cases_annual.xlsx")],
            "period=2025",
            &["period", "unit"],
        ),
        t(
            "/api/registers/{name}/export",
            &[("name", "dogs")],
            "format=csv&q=654022100200-D000",
            &[
                "format", "q", "township", "village", "from", "to", "status", "sort", "order",
                "lang",
            ],
        ),
        t(
            "/api/dewormings/round",
            &[],
            &format!("village={VILLAGE}&month=2026-10"),
            &["village", "month"],
        ),
        t(
            "/api/worklists/{kind}",
            &[("kind", "followups")],
            "include=upcoming&days=30",
            &["unit", "include", "days"],
        ),
        t(
            "/api/cases",
            &[],
            "limit=5",
            &["unit", "overdue", "person_id", "q", "limit", "cursor"],
        ),
        detail("cases"),
        t(
            "/api/hotspots",
            &[],
            "layer=human_cases&unit=h3&resolution=7&from=2024-01-01&to=2026-11-15",
            &[
                "layer",
                "unit",
                "resolution",
                "from",
                "to",
                "township",
                "variable",
                "ring",
                "weights",
                "k",
                "band_km",
                "alpha",
                "correction",
            ],
        ),
        t(
            "/api/scan",
            &[],
            "layer=dog_positivity&from=2025-01-01&to=2026-11-15",
            &[
                "layer",
                "from",
                "to",
                "township",
                "max_population_percent",
                "max_radius_km",
                "alpha",
                "show",
            ],
        ),
        t(
            "/api/scan/space-time",
            &[],
            "layer=dog_positivity&from=2025-01-01&to=2026-11-30",
            &[
                "layer",
                "from",
                "to",
                "township",
                "model",
                "max_population_percent",
                "max_radius_km",
                "max_time_percent",
                "alpha",
                "show",
            ],
        ),
        t(
            "/tiles/{file}",
            &[("file", "villages.json")],
            "",
            &["period", "source", "resolution"],
        ),
        t(
            "/tiles/{layer}/{z}/{x}/{y}",
            &[
                ("layer", "case_density"),
                ("z", "9"),
                ("x", "371"),
                ("y", "186.mvt"),
            ],
            "",
            &["period", "source", "resolution"],
        ),
        t(
            "/api/audit",
            &[],
            "limit=5",
            &[
                "user",
                "q",
                "table",
                "record_id",
                "action",
                "from",
                "to",
                "limit",
                "cursor",
            ],
        ),
        gone(t(
            "/api/imports/{id}",
            &[("id", "0000000000000000")],
            "",
            &[],
        )),
        gone(t(
            "/api/imports/{id}/errors.xlsx",
            &[("id", "0000000000000000")],
            "",
            &[],
        )),
        t(
            "/api/imports/templates/{file}",
            &[("file", "dewormings.xlsx")],
            "",
            &[],
        ),
        t(
            "/api/quality",
            &[],
            "limit=5",
            &["max_distance_m", "check", "limit", "reviewed"],
        ),
        gone(t("/api/users/{id}/tokens", &[("id", "0")], "", &[])),
        t("/api/wechat/bindings", &[], "", &["user_id"]),
        t(
            "/api/export/{file}",
            &[("file", "villages.geojson")],
            "period=2025",
            &["period", "township", "lang", "audience"],
        ),
        t("/ogc/collections/{id}", &[("id", "villages")], "", &[]),
        t(
            "/ogc/collections/{id}/items/{fid}",
            &[("id", "villages"), ("fid", VILLAGE)],
            "",
            &[],
        ),
    ];
    let mut items = t(
        "/ogc/collections/{id}/items",
        &[("id", "villages")],
        "limit=5",
        &["bbox", "limit", "offset", "datetime"],
    );
    items.any_names = true;
    all.push(items);
    // The stock ledger has no generic routes (`/api/stock/*`).
    for spec in SPECS.iter().filter(|s| s.name != "cases" && s.generic_api) {
        all.push(t(
            &format!("/api/{}", spec.name),
            &[],
            "limit=5",
            &[
                "township", "village", "from", "to", "status", "q", "cursor", "limit",
            ],
        ));
        all.push(detail(spec.name));
    }
    // The stock pages' reads (`/api/stock/*`), with every parameter they take.
    all.extend([
        t("/api/stock/lots", &[], "", &["item"]),
        t("/api/stock/on-hand", &[], "", &["store", "item", "status"]),
        t(
            "/api/stock/movements",
            &[],
            "limit=5",
            &["store", "item", "kind", "from", "to", "limit", "before"],
        ),
        t(
            "/api/stock/fefo",
            &[],
            "store=1&item=1&quantity=1",
            &["store", "item", "quantity", "on"],
        ),
        t("/api/stock/transfers", &[], "", &["store", "state"]),
        t("/api/stock/counts", &[], "", &["store", "state"]),
        t(
            "/api/stock/reconciliation",
            &[],
            "period=2026",
            &["unit", "period", "by"],
        ),
        t(
            "/api/stock/reconciliation.xlsx",
            &[],
            "period=2026",
            &["unit", "period", "by"],
        ),
        gone(t("/api/stock/counts/{id}", &[("id", "0")], "", &[])),
    ]);
    all
}

/// What one request answered, as the judge needs it.
#[derive(Debug)]
struct Answer {
    status: u16,
    took: Duration,
    /// Rows in a successful answer: elements of JSON arrays at any depth, CSV lines, tile
    /// features, non-empty workbook cells; 0 for errors.
    rows: usize,
    /// Whole, valid ID numbers in a text answer.
    id_numbers: usize,
    /// The start of the body, for messages.
    head: String,
}

async fn answer(req: reqwest::RequestBuilder) -> Result<Answer> {
    let started = Instant::now();
    let r = match req.send().await {
        Ok(r) => r,
        // Over the client's timeout: a statement slept.
        Err(e) if e.is_timeout() => {
            return Ok(Answer {
                status: 0,
                took: started.elapsed(),
                rows: 0,
                id_numbers: 0,
                head: "timed out".to_owned(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = r.bytes().await?;
    let took = started.elapsed();
    let textual = ["json", "csv", "text/", "javascript", "xml"]
        .iter()
        .any(|t| content_type.contains(t));
    let text = if textual {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        String::new()
    };
    Ok(Answer {
        status,
        took,
        rows: if (200..300).contains(&status) {
            rows(&content_type, &body)
        } else {
            0
        },
        id_numbers: id_numbers(&text),
        head: text.chars().take(300).collect(),
    })
}

fn rows(content_type: &str, body: &[u8]) -> usize {
    fn elements(v: &Value) -> usize {
        match v {
            Value::Array(xs) => xs.len() + xs.iter().map(elements).sum::<usize>(),
            Value::Object(m) => m.values().map(elements).sum(),
            _ => 0,
        }
    }
    if content_type.contains("json") {
        serde_json::from_slice::<Value>(body).map_or(0, |v| elements(&v))
    } else if content_type.contains("csv") {
        body.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    } else if content_type.contains("vector-tile") {
        let Ok(reader) = mvt_reader::Reader::new(body.to_vec()) else {
            return 0;
        };
        let layers = reader.get_layer_names().map_or(0, |n| n.len());
        (0..layers)
            .map(|i| reader.get_features(i).map_or(0, |f| f.len()))
            .sum()
    } else if content_type.contains("spreadsheetml") {
        use calamine::Reader as _;
        let Ok(mut book) = calamine::Xlsx::new(std::io::Cursor::new(body.to_vec())) else {
            return 0;
        };
        book.worksheets()
            .iter()
            .map(|(_, range)| range.used_cells().count())
            .sum()
    } else {
        0
    }
}

/// Whole ID numbers in `text`: runs of exactly 18 digits (the last may be `X`) that pass the
/// checksum and date checks.
fn id_numbers(text: &str) -> usize {
    let mut found = 0;
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || c == 'X' || c == 'x' {
            run.push(c);
            continue;
        }
        if run.len() == 18 && IdNumber::parse(&run.to_ascii_uppercase()).is_ok() {
            found += 1;
        }
        run.clear();
    }
    found
}

/// Why an attempt succeeded, compared with the same request with a harmless value; `None`
/// when it did not. A payload that is a number (`-1`) may be a valid value where the harmless
/// text is not (a cursor): its rows are not compared.
fn judged(payload: &str, harmless: &Answer, got: &Answer) -> Option<String> {
    let mut why = Vec::new();
    if got.status >= 500 || got.status == 0 {
        why.push(format!("status {}", got.status));
    }
    if got.took > harmless.took + SLOW {
        why.push(format!(
            "took {:?} (harmless {:?})",
            got.took, harmless.took
        ));
    }
    if got.rows > harmless.rows && payload.parse::<f64>().is_err() {
        why.push(format!("{} rows (harmless {})", got.rows, harmless.rows));
    }
    if got.id_numbers > 0 {
        why.push(format!("{} whole ID numbers", got.id_numbers));
    }
    (!why.is_empty()).then(|| format!("{}: {}", why.join(", "), got.head))
}

#[derive(Debug, Default)]
struct Tally {
    attempts: usize,
    succeeded: Vec<String>,
    /// Attempts per class of answer (`2xx`, `4xx` …): how many reached a handler's answer.
    answers: BTreeMap<String, usize>,
    /// Routes attacked per attacker.
    routes: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn add(&mut self, what: String, verdict: Option<String>) {
        self.attempts += 1;
        if let Some(why) = verdict {
            self.succeeded.push(format!("{what}: {why}"));
        }
    }

    fn answered(&mut self, status: u16) {
        *self
            .answers
            .entry(format!("{}xx", status / 100))
            .or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        self.attempts += other.attempts;
        self.succeeded.extend(other.succeeded);
        for (class, n) in other.answers {
            *self.answers.entry(class).or_default() += n;
        }
        for (who, n) in other.routes {
            *self.routes.entry(who).or_default() += n;
        }
    }
}

/// Every payload into one slot of one route.
async fn attack(c: ApiClient, as_who: &'static str, t: Target, slot: Slot) -> Result<Tally> {
    let mut tally = Tally::default();
    let harmless = answer(t.request(&c, Some((slot, HARMLESS)))).await?;
    if harmless.status >= 500 {
        tally.succeeded.push(format!(
            "GET {} {slot} = {HARMLESS}: {}",
            t.route, harmless.head
        ));
    }
    for p in PAYLOADS {
        let got = answer(t.request(&c, Some((slot, p)))).await?;
        tally.answered(got.status);
        tally.add(
            format!(
                "GET {} {slot} = {p:?} as {as_who} ({})",
                t.route, got.status
            ),
            judged(p, &harmless, &got),
        );
    }
    Ok(tally)
}

/// The row count of every table but those [`WRITTEN_BY_DESIGN`].
async fn table_counts(pool: &sqlx::PgPool) -> Result<BTreeMap<String, i64>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    let mut counts = BTreeMap::new();
    for name in names {
        if WRITTEN_BY_DESIGN.contains(&name.as_str()) || name.starts_with("_sqlx") {
            continue;
        }
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{name}\""
        )))
        .fetch_one(pool)
        .await?;
        counts.insert(name, n);
    }
    Ok(counts)
}

/// The tables whose counts differ from `expected`, as messages.
fn count_changes(expected: &BTreeMap<String, i64>, now: &BTreeMap<String, i64>) -> Vec<String> {
    let names: BTreeSet<&String> = expected.keys().chain(now.keys()).collect();
    names
        .into_iter()
        .filter(|n| expected.get(*n) != now.get(*n))
        .map(|n| {
            format!(
                "table {n}: {:?} rows, expected {:?}",
                now.get(n),
                expected.get(n)
            )
        })
        .collect()
}

/// A record of each register that the township staff may read (for the detail routes): in
/// the township, or of the whole county for registers without a village.
async fn record_ids(app: &TestApp) -> Result<BTreeMap<&'static str, i64>> {
    let mut ids = BTreeMap::new();
    for spec in SPECS.iter().filter(|s| s.generic_api) {
        let live = if spec.soft_delete {
            "t.deleted_at IS NULL"
        } else {
            "true"
        };
        let sql = match spec.village_id_sql() {
            Some(v) => format!(
                "SELECT t.id FROM {} t JOIN villages v ON v.id = {v}
                 WHERE {live} AND v.code LIKE $1 || '%' ORDER BY t.id LIMIT 1",
                spec.table
            ),
            None => format!(
                "SELECT t.id FROM {} t WHERE {live} AND $1 <> '' ORDER BY t.id LIMIT 1",
                spec.table
            ),
        };
        let id: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(OWN_TOWNSHIP)
            .fetch_optional(&app.db.pool)
            .await?;
        if let Some(id) = id {
            ids.insert(spec.name, id);
        }
    }
    Ok(ids)
}

/// The GET walk: every target, every slot, every payload, as the first attacker that may reach
/// the route.
async fn attack_every_get_route(
    app: &TestApp,
    attackers: &[(&'static str, ApiClient)],
) -> Result<Tally> {
    let ids = record_ids(app).await?;
    let targets = targets(&ids);
    // Every GET route of the server is attacked or reads nothing.
    let known: BTreeSet<&str> = targets
        .iter()
        .map(|t| t.route.as_str())
        .chain(NO_INPUT)
        .collect();
    for spec in routes() {
        if spec.method == Method::GET {
            assert!(
                known.contains(spec.path),
                "GET {} is not attacked: add it to `targets` (or NO_INPUT if it reads no input)",
                spec.path
            );
        }
    }
    let reached: BTreeSet<&str> = targets
        .iter()
        .flat_map(|t| t.params.iter().copied())
        .chain(IMPORT_PARAMS)
        .collect();
    for name in NAMED {
        assert!(
            reached.contains(name),
            "no route is attacked through ?{name}="
        );
    }
    let mut tally = Tally::default();
    let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut jobs = tokio::task::JoinSet::new();
    for t in targets {
        // Every insider the route lets in, or else the administrator (the audit log); the
        // valid request must answer.
        let mut let_in = Vec::new();
        for (who, c) in attackers {
            if *who == ADMIN && !let_in.is_empty() {
                break;
            }
            let base = answer(t.request(c, None)).await?;
            if matches!(base.status, 401 | 403) {
                continue;
            }
            assert!(
                (200..300).contains(&base.status) || t.missing && base.status == 404,
                "GET {} as {who}: the valid request answers {}: {}",
                t.route,
                base.status,
                base.head
            );
            let_in.push((*who, c.clone()));
        }
        assert!(
            !let_in.is_empty(),
            "GET {}: every attacker refused",
            t.route
        );
        for (who, c) in let_in {
            *tally.routes.entry(who).or_default() += 1;
            for slot in t.slots() {
                let (c, t, gate) = (c.clone(), t.clone(), gate.clone());
                jobs.spawn(async move {
                    let _permit = gate.acquire_owned().await?;
                    attack(c, who, t, slot).await
                });
            }
        }
    }
    while let Some(done) = jobs.join_next().await {
        tally.merge(done??);
    }
    Ok(tally)
}

/// A write's answer: status and JSON body (or the text as a string).
async fn send(c: &ApiClient, method: Method, path: &str, body: &Value) -> Result<(u16, Value)> {
    let r = c.request(method, path).json(body).send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// A record read back must hold every text exactly as sent.
async fn read_back(
    c: &ApiClient,
    register: &str,
    id: i64,
    sent: &[(&str, &str)],
) -> Result<Option<String>> {
    let got = c.get_json(&format!("/api/{register}/{id}"), 200).await?;
    let differ: Vec<String> = sent
        .iter()
        .filter(|(k, v)| got[*k].as_str() != Some(*v))
        .map(|(k, v)| format!("{k} sent {v:?}, stored {}", got[*k]))
        .collect();
    Ok((!differ.is_empty()).then(|| differ.join("; ")))
}

/// Payloads as the texts of new households, dogs and people (each dog and person in the
/// household whose number is the same payload), as a field name, and as the change of a dog;
/// every record read back. Returns the records created per table.
async fn attack_writes(
    pool: &sqlx::PgPool,
    c: &ApiClient,
    tally: &mut Tally,
) -> Result<BTreeMap<String, i64>> {
    let mut created: BTreeMap<String, i64> = BTreeMap::new();
    // A slow write is judged against a harmless one.
    let started = Instant::now();
    let (s, harmless) = send(c, Method::POST, "/api/dogs", &json!({"dog_tag": HARMLESS, "dog_kind": "herding", "registered_on": "2025-01-05", "village_code": VILLAGE})).await?;
    let harmless_took = started.elapsed();
    assert_eq!(s, 201, "the harmless dog: {harmless}");
    *created.entry("dogs".into()).or_default() += 1;
    let mut judge = |what: String, status: u16, took: Duration, stored: Option<String>| {
        let mut why = Vec::new();
        if status >= 500 {
            why.push(format!("status {status}"));
        }
        if took > harmless_took + SLOW {
            why.push(format!("took {took:?}"));
        }
        why.extend(stored);
        tally.add(what, (!why.is_empty()).then(|| why.join(", ")));
    };
    for (i, p) in PAYLOADS.iter().copied().enumerate() {
        let next = PAYLOADS[(i + 1) % PAYLOADS.len()];
        let household =
            json!({"household_no": p, "head_name": p, "address": p, "village_code": VILLAGE});
        let dog = json!({"dog_tag": p, "collar_id": p, "household_no": p, "dog_kind": "herding", "registered_on": "2025-01-05", "village_code": VILLAGE});
        let person = json!({"name": p, "ethnicity": p, "occupation": p, "household_no": p, "sex": "female", "birth_date": "1980-02-03", "village_code": VILLAGE});
        let writes: [(&str, Value, &[&str]); 3] = [
            (
                "households",
                household,
                &["household_no", "head_name", "address"],
            ),
            ("dogs", dog, &["dog_tag", "collar_id", "household_no"]),
            ("people", person, &["name", "ethnicity", "occupation"]),
        ];
        for (register, body, texts) in writes {
            let started = Instant::now();
            let (status, got) = send(c, Method::POST, &format!("/api/{register}"), &body).await?;
            let took = started.elapsed();
            let stored = if status == 201 {
                *created.entry(register.into()).or_default() += 1;
                let id = got["id"]
                    .as_i64()
                    .ok_or_else(|| anyhow::anyhow!("{register}: no id in {got}"))?;
                let sent: Vec<(&str, &str)> = texts.iter().map(|k| (*k, p)).collect();
                let mut stored = read_back(c, register, id, &sent).await?;
                if register == "dogs" {
                    // The change of a text, read back.
                    let started = Instant::now();
                    let (status, changed) = send(
                        c,
                        Method::PATCH,
                        &format!("/api/dogs/{id}"),
                        &json!({"collar_id": next}),
                    )
                    .await?;
                    let stored = if status == 200 {
                        read_back(c, "dogs", id, &[("collar_id", next)]).await?
                    } else {
                        Some(format!("the change was refused: {status} {changed}"))
                    };
                    judge(
                        format!("PATCH /api/dogs/{id} collar_id = {next:?} ({status})"),
                        status,
                        started.elapsed(),
                        stored,
                    );
                }
                if register == "people" {
                    // Linked to the household whose number is the payload, not another.
                    let linked: Option<String> = sqlx::query_scalar(
                        "SELECT h.household_no FROM people x
                         LEFT JOIN households h ON h.id = x.household_id WHERE x.id = $1",
                    )
                    .bind(id)
                    .fetch_one(pool)
                    .await?;
                    if linked.as_deref() != Some(p) {
                        let wrong = format!("linked to household {linked:?}");
                        stored = Some(stored.map_or(wrong.clone(), |s| format!("{s}; {wrong}")));
                    }
                }
                stored
            } else {
                // Refused: nothing stored (the row counts say so); not an injection, but the
                // payload did not reach the database.
                eprintln!("note: POST /api/{register} with texts {p:?} refused: {status} {got}");
                None
            };
            judge(
                format!("POST /api/{register} with texts {p:?} ({status})"),
                status,
                took,
                stored,
            );
        }
        // A payload as a field's name.
        let mut body = json!({"dog_tag": format!("named-{i}"), "dog_kind": "herding", "registered_on": "2025-01-05", "village_code": VILLAGE});
        body[p] = json!("x");
        let started = Instant::now();
        let (status, got) = send(c, Method::POST, "/api/dogs", &body).await?;
        if status == 201 {
            *created.entry("dogs".into()).or_default() += 1;
        }
        judge(
            format!("POST /api/dogs with a field named {p:?} ({status}: {got})"),
            status,
            started.elapsed(),
            None,
        );
    }
    Ok(created)
}

/// A CSV as written by a careful client: cells that a spreadsheet would evaluate carry the
/// quote the import takes off, so the text that arrives is the payload.
fn csv_of(rows: &[Vec<String>]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(r.iter().map(|c| csv_text(c).into_owned()))?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

async fn import(c: &ApiClient, query: &[(&str, &str)], csv: String) -> Result<Answer> {
    answer(with_query(c, Method::POST, "/api/imports", query).body(csv)).await
}

/// Payloads in the cells of imported households and dogs (read back from the database), in
/// the header of a column, and in every parameter of the import.
async fn attack_imports(
    app: &TestApp,
    c: &ApiClient,
    tally: &mut Tally,
) -> Result<BTreeMap<String, i64>> {
    let mut created: BTreeMap<String, i64> = BTreeMap::new();
    let key = |i: usize, p: &str| format!("csv{i} {p}");
    let mut households = vec![
        ["household_no", "head_name", "address", "village_code"]
            .map(str::to_owned)
            .to_vec(),
    ];
    let mut dogs = vec![
        [
            "dog_tag",
            "collar_id",
            "household_no",
            "dog_kind",
            "registered_on",
            "village_code",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for (i, p) in PAYLOADS.iter().enumerate() {
        households.push(vec![
            key(i, p),
            p.to_string(),
            p.to_string(),
            VILLAGE.into(),
        ]);
        dogs.push(vec![
            key(i, p),
            p.to_string(),
            key(i, p),
            "herding".into(),
            "2025-01-05".into(),
            VILLAGE.into(),
        ]);
    }
    for (kind, rows) in [("households", &households), ("dogs", &dogs)] {
        let got = import(c, &[("kind", kind), ("format", "csv")], csv_of(rows)?).await?;
        let inserted = serde_json::from_str::<Value>(&got.head)
            .ok()
            .and_then(|v| v["inserted"].as_i64());
        assert_eq!(
            (got.status, inserted),
            (200, Some(PAYLOADS.len() as i64)),
            "the {kind} import: {}",
            got.head
        );
        *created.entry(kind.into()).or_default() += PAYLOADS.len() as i64;
    }
    for (i, p) in PAYLOADS.iter().enumerate() {
        let k = key(i, p);
        let household: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT head_name, address FROM households WHERE household_no = $1")
                .bind(&k)
                .fetch_optional(&app.db.pool)
                .await?;
        let dog: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT d.collar_id, h.household_no FROM dogs d
             LEFT JOIN households h ON h.id = d.household_id WHERE d.tag = $1",
        )
        .bind(&k)
        .fetch_optional(&app.db.pool)
        .await?;
        let ok_household = household == Some((p.to_string(), Some(p.to_string())));
        let ok_dog = dog == Some((Some(p.to_string()), Some(k.clone())));
        tally.add(
            format!("an imported household's cells {p:?}"),
            (!ok_household).then(|| format!("stored {household:?}")),
        );
        tally.add(
            format!("an imported dog's cells {p:?}"),
            (!ok_dog).then(|| format!("stored {dog:?}")),
        );
    }
    // A payload as a column's header, and in each parameter of the import (dry runs).
    let one_row = |header: &str| {
        csv_of(&[
            [
                "dog_tag",
                "dog_kind",
                "registered_on",
                "village_code",
                header,
            ]
            .map(str::to_owned)
            .to_vec(),
            ["dry-1", "herding", "2025-01-05", VILLAGE, "x"]
                .map(str::to_owned)
                .to_vec(),
        ])
    };
    let base = [
        ("kind", "dogs"),
        ("format", "csv"),
        ("dry_run", "true"),
        ("filename", "dogs.csv"),
    ];
    let harmless = import(c, &base, one_row("note")?).await?;
    assert!(
        harmless.status < 500,
        "the harmless dry run: {}",
        harmless.head
    );
    for p in PAYLOADS {
        let got = import(c, &base, one_row(p)?).await?;
        tally.add(
            format!("a CSV header {p:?} ({})", got.status),
            judged(p, &harmless, &got),
        );
        for param in IMPORT_PARAMS {
            let mut query: Vec<(&str, &str)> =
                base.iter().copied().filter(|(k, _)| *k != param).collect();
            query.push((param, p));
            let got = import(c, &query, one_row("note")?).await?;
            tally.add(
                format!("POST /api/imports ?{param}={p:?} ({})", got.status),
                judged(p, &harmless, &got),
            );
        }
    }
    Ok(created)
}

/// Payloads as the name and the password of a login: never a session, never a 5xx.
async fn attack_login(app: &TestApp, tally: &mut Tally) -> Result<()> {
    let login = |username: &str, password: &str| {
        app.client
            .post(app.url("/api/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .timeout(Duration::from_secs(60))
    };
    let harmless = answer(login(HARMLESS, "wrong-password")).await?;
    assert_eq!(harmless.status, 401, "{}", harmless.head);
    for p in PAYLOADS {
        for (username, password) in [(p, p), ("admin", p), (p, TEST_ADMIN_PASSWORD)] {
            let got = answer(login(username, password)).await?;
            let mut verdict = judged(p, &harmless, &got);
            if (200..300).contains(&got.status) {
                verdict = Some(format!("logged in: {}", got.head));
            }
            tally.add(
                format!("login {username:?} / {password:?} ({})", got.status),
                verdict,
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_injection_payload_in_any_parameter_field_or_cell_changes_what_a_query_does()
-> Result<()> {
    let started = Instant::now();
    // Logins that fail by the dozen must not wait: the throttle is not what is tested here.
    let app = TestApp::spawn_with(TestDb::demo().await?, None, |s| {
        s.login = LoginSettings {
            throttle: Throttle {
                per_address_per_minute: 1_000_000,
                free_failures: 1_000_000,
                ..Throttle::DEFAULT
            },
            ..LoginSettings::default()
        };
    })
    .await?;
    let staff = app.user(Role::TownshipStaff, OWN_TOWNSHIP).await?;
    let attackers = [
        ("township staff", staff.clone()),
        ("epidemiologist", app.epi().await?),
        (ADMIN, app.user(Role::Admin, "654022").await?),
    ];
    let before = table_counts(&app.db.pool).await?;

    let mut tally = attack_every_get_route(&app, &attackers).await?;
    let after_reads = table_counts(&app.db.pool).await?;
    for change in count_changes(&before, &after_reads) {
        tally
            .succeeded
            .push(format!("after the GET walk: {change}"));
    }
    let reads = tally.attempts;
    let read_answers = std::mem::take(&mut tally.answers);

    let mut created = attack_writes(&app.db.pool, &staff, &mut tally).await?;
    for (table, n) in attack_imports(&app, &staff, &mut tally).await? {
        *created.entry(table).or_default() += n;
    }
    attack_login(&app, &mut tally).await?;
    let mut expected = after_reads.clone();
    for (table, n) in &created {
        *expected.entry(table.clone()).or_default() += n;
    }
    for change in count_changes(&expected, &table_counts(&app.db.pool).await?) {
        tally.succeeded.push(format!("after the writes: {change}"));
    }

    eprintln!(
        "figures: {} injection attempts, {} succeeded ({reads} into GET parameters, answered \
         {read_answers:?}, on routes per attacker {:?}; {} into writes, imports and logins; {:?})",
        tally.attempts,
        tally.succeeded.len(),
        tally.routes,
        tally.attempts - reads,
        started.elapsed()
    );
    assert!(
        reads > 5_000,
        "{reads} attempts on GET routes: the route table was walked"
    );
    assert!(
        tally.succeeded.is_empty(),
        "{} of {} injection attempts succeeded:\n{}",
        tally.succeeded.len(),
        tally.attempts,
        tally.succeeded.join("\n")
    );
    Ok(())
}

/// `GET /pasted?q=`: a list that pastes `q` into its SQL, the hole the walk looks for (with a
/// statement timeout, so that a sleeping payload ends).
async fn pasted(
    axum::extract::State(pool): axum::extract::State<sqlx::PgPool>,
    axum::extract::Query(query): axum::extract::Query<BTreeMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    use sqlx::Row as _;
    let q = query.get("q").cloned().unwrap_or_default();
    let sql = format!(
        "SET statement_timeout = '8s'; \
         SELECT tag FROM dogs WHERE tag LIKE '{q}%' ORDER BY 1 LIMIT 5"
    );
    match sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_all(&pool)
        .await
    {
        Ok(rows) => {
            let items: Vec<String> = rows.iter().filter_map(|r| r.try_get(0).ok()).collect();
            axum::Json(json!({ "items": items })).into_response()
        }
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judge_catches_a_route_that_pastes_a_parameter_into_its_sql() -> Result<()> {
    let db = TestDb::demo().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = axum::Router::new()
        .route("/pasted", axum::routing::get(pasted))
        .with_state(db.pool.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = ApiClient {
        base,
        username: "anyone".into(),
        token: "none".into(),
        token_id: 0,
        client: reqwest::Client::new(),
    };
    let target = Target::new("/pasted", &[], "", &["q"]);
    let tally = attack(client, "anyone", target, Slot::Query("q")).await?;
    let caught = |why: &str| tally.succeeded.iter().any(|s| s.contains(why));
    for why in [
        "rows (harmless 0)",
        "whole ID numbers",
        "took",
        "status 500",
    ] {
        assert!(
            caught(why),
            "the judge missed {why:?}: {:#?}",
            tally.succeeded
        );
    }
    assert!(
        tally.succeeded.len() < tally.attempts,
        "not every payload breaks the pasted SQL: {:#?}",
        tally.succeeded
    );
    Ok(())
}
