//! Accounts, roles, jurisdictions and audit, against the real server and database.
//!
//! The authorization test walks the server's own route table: every route × every role × a
//! county (parent), own-township, sibling-township and village jurisdiction. A route that is
//! not described in [`expectations`] fails the test. Every place code in every answer, and in
//! every feature of the decoded vector tiles over the county, must lie inside the caller's
//! jurisdiction (or name a unit that contains it), and each caller must have had codes checked.

use std::collections::HashMap;

use echinomap_programme::audit::Actor;
use echinomap_programme::auth::sessions::Throttle;
use echinomap_programme::auth::{Perm, Role, store};
use echinomap_programme::records::spec::{SPECS, Village};
use echinomap_server::http::routes;
use echinomap_server::http::session::Access;
use echinomap_server::settings::LoginSettings;
use echinomap_tests::{
    ApiClient, Result, TEST_ADMIN_PASSWORD, TEST_USER_PASSWORD, TestApp, TestDb,
};
use mvt_reader::Reader;
use mvt_reader::feature::Value as MvtValue;
use reqwest::Method;
use serde_json::{Value, json};
use tiles::TileCoord;
use tiles::layers::LAYERS;

const COUNTY: &str = "654022";
const OWN_TOWNSHIP: &str = "654022100";
const SIBLING_TOWNSHIP: &str = "654022101";
const VILLAGE: &str = "654022100200";

/// How to call one route in the authorization test, and what to check in its answer.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    /// The statuses allowed for a role that passes the route's access rule, when not the usual
    /// 2xx (writes with an empty body: 422; unknown ids: 404).
    expect: Option<Vec<u16>>,
}

/// A case inside `prefix` and one outside it (if the demo has them).
struct Fixture {
    case_in: HashMap<&'static str, i64>,
    case_in_sibling: i64,
    /// Per register: a record (in `VILLAGE` when the demo has one), and the code of its village
    /// (`None` for registers without a village).
    record: HashMap<&'static str, (i64, Option<String>)>,
}

/// Every route of the server, as the test calls it. Adding a route to the server without a line
/// here fails `every_route_answers_every_role_within_its_jurisdiction_only`.
fn expectations(
    role: Role,
    jurisdiction: &'static str,
    fx: &Fixture,
    n: usize,
) -> HashMap<(Method, &'static str), Call> {
    let get = |path: &str| Call {
        method: Method::GET,
        path: path.to_owned(),
        body: None,
        expect: None,
    };
    let call = |method: Method, path: &str, body: Option<Value>, expect: &[u16]| Call {
        method,
        path: path.to_owned(),
        body,
        expect: Some(expect.to_vec()),
    };
    let case = fx
        .case_in
        .get(jurisdiction)
        .copied()
        .unwrap_or(fx.case_in_sibling);
    let mut m = HashMap::new();
    m.insert((Method::GET, "/healthz"), get("/healthz"));
    // Every client of this test is on this machine (a loopback peer): local, so every role reads
    // the metrics; a remote caller needs Admin (tests/tests/metrics.rs).
    m.insert(
        (Method::GET, "/metrics"),
        call(Method::GET, "/metrics", None, &[200]),
    );
    m.insert((Method::GET, "/"), get("/"));
    m.insert((Method::GET, "/assets/{file}"), get("/assets/missing.js"));
    m.insert((Method::GET, "/field"), get("/field"));
    m.insert((Method::GET, "/field/{file}"), get("/field/sw.js"));
    m.insert(
        (Method::GET, "/field/core/{file}"),
        get("/field/core/outbox.js"),
    );
    m.insert(
        (Method::POST, "/api/auth/login"),
        Call {
            method: Method::POST,
            path: "/api/auth/login".into(),
            body: Some(json!({ "username": format!("nobody{n}"), "password": "wrong-password" })),
            expect: None,
        },
    );
    m.insert((Method::POST, "/api/auth/password"), Call {
        method: Method::POST,
        path: "/api/auth/password".into(),
        body: Some(json!({ "username": format!("nobody{n}"), "old_password": "wrong-password", "new_password": "Another-Passw0rd" })),
        expect: None,
    });
    m.insert(
        (Method::POST, "/api/auth/logout"),
        Call {
            method: Method::POST,
            path: "/api/auth/logout".into(),
            body: Some(json!({})),
            expect: None,
        },
    );
    m.insert((Method::GET, "/api/auth/me"), get("/api/auth/me"));
    // WeChat sign-in is not configured here (tests/tests/wechat.rs configures it): the two
    // public POSTs and the binding code answer 503 to everyone; a logout with an API token is
    // not a mini-program session's; every role lists its own (no) bindings.
    m.insert(
        (Method::POST, "/api/auth/wechat"),
        call(
            Method::POST,
            "/api/auth/wechat",
            Some(json!({ "code": "a-login-code" })),
            &[503],
        ),
    );
    m.insert(
        (Method::POST, "/api/auth/wechat/bind"),
        call(
            Method::POST,
            "/api/auth/wechat/bind",
            Some(json!({ "code": "a-login-code", "username": "nobody", "binding_code": "123456" })),
            &[503],
        ),
    );
    m.insert(
        (Method::POST, "/api/auth/wechat/binding-code"),
        call(
            Method::POST,
            "/api/auth/wechat/binding-code",
            Some(json!({})),
            &[503],
        ),
    );
    m.insert(
        (Method::POST, "/api/auth/wechat/logout"),
        call(
            Method::POST,
            "/api/auth/wechat/logout",
            Some(json!({})),
            &[400],
        ),
    );
    m.insert(
        (Method::GET, "/api/wechat/bindings"),
        get("/api/wechat/bindings"),
    );
    m.insert(
        (Method::DELETE, "/api/wechat/bindings/{id}"),
        call(Method::DELETE, "/api/wechat/bindings/0", None, &[404]),
    );
    m.insert((Method::GET, "/api/auth/session"), get("/api/auth/session"));
    m.insert((Method::GET, "/api/summary"), get("/api/summary"));
    m.insert((Method::GET, "/api/villages"), get("/api/villages"));
    m.insert(
        (Method::GET, "/api/villages/locate"),
        get("/api/villages/locate?lon=81.19&lat=43.77&n=20"),
    );
    m.insert(
        (Method::GET, "/api/villages/{code}"),
        get(&format!("/api/villages/{VILLAGE}")),
    );
    m.insert(
        (Method::GET, "/api/villages/{code}/contacts"),
        get(&format!("/api/villages/{VILLAGE}/contacts")),
    );
    m.insert(
        (Method::GET, "/api/villages/{code}/risk"),
        get(&format!("/api/villages/{VILLAGE}/risk")),
    );
    m.insert((Method::GET, "/api/risk"), get("/api/risk"));
    m.insert(
        (Method::GET, "/api/indicators"),
        get("/api/indicators?period=2025"),
    );
    m.insert(
        (Method::GET, "/api/indicators/matrix"),
        get("/api/indicators/matrix?indicator=new_cases&units=village&from=2025-01&to=2025-06"),
    );
    m.insert(
        (Method::GET, "/api/worklists/{kind}"),
        get("/api/worklists/followups"),
    );
    m.insert((Method::GET, "/api/stage"), get("/api/stage?year=2025"));
    m.insert((Method::GET, "/api/reports"), get("/api/reports"));
    m.insert(
        (Method::GET, "/api/reports/{file}"),
        get("/api/reports/cases_annual.xlsx?period=2025"),
    );
    m.insert((Method::GET, "/api/cases"), get("/api/cases?limit=500"));
    m.insert(
        (Method::GET, "/api/cases/{id}"),
        get(&format!("/api/cases/{case}")),
    );
    m.insert(
        (Method::GET, "/api/hotspots"),
        get("/api/hotspots?layer=human_cases&unit=h3&resolution=7&from=2024-01-01&to=2026-11-15"),
    );
    m.insert(
        (Method::GET, "/api/scan"),
        get("/api/scan?layer=dog_positivity&from=2025-01-01&to=2026-11-15"),
    );
    m.insert(
        (Method::GET, "/api/scan/space-time"),
        get("/api/scan/space-time?layer=dog_positivity&from=2025-01-01&to=2026-10-31"),
    );
    m.insert((Method::GET, "/tiles"), get("/tiles"));
    m.insert((Method::GET, "/tiles/{file}"), get("/tiles/villages.json"));
    m.insert(
        (Method::GET, "/tiles/{layer}/{z}/{x}/{y}"),
        get("/tiles/case_density/9/371/186.mvt"),
    );
    m.insert((Method::GET, "/api/audit"), get("/api/audit?limit=5"));
    m.insert((Method::GET, "/api/users"), get("/api/users"));
    m.insert(
        (Method::POST, "/api/users"),
        Call {
            method: Method::POST,
            path: "/api/users".into(),
            body: Some(json!({
                "username": format!("made_by_{}_{n}", role.as_str()),
                "role": "viewer",
                "jurisdiction": OWN_TOWNSHIP,
                "password": TEST_USER_PASSWORD,
            })),
            expect: None,
        },
    );
    // Accounts and tokens: unknown ids are 404 to admins.
    m.insert(
        (Method::PATCH, "/api/users/{id}"),
        call(
            Method::PATCH,
            "/api/users/0",
            Some(json!({ "display_name": "无人" })),
            &[404],
        ),
    );
    m.insert(
        (Method::POST, "/api/users/{id}/password"),
        call(
            Method::POST,
            "/api/users/0/password",
            Some(json!({})),
            &[404],
        ),
    );
    m.insert(
        (Method::GET, "/api/users/{id}/tokens"),
        call(Method::GET, "/api/users/0/tokens", None, &[404]),
    );
    m.insert(
        (Method::POST, "/api/users/{id}/tokens"),
        call(
            Method::POST,
            "/api/users/0/tokens",
            Some(json!({ "name": "script" })),
            &[404],
        ),
    );
    m.insert(
        (Method::DELETE, "/api/tokens/{id}"),
        call(Method::DELETE, "/api/tokens/0", None, &[404]),
    );
    // Quality reviews: an unknown finding is 404 to the reviewers (epidemiologists and
    // admins), and the other roles that reach the route are refused.
    let reviewer = matches!(role, Role::Admin | Role::Epidemiologist);
    let review_refusal: &[u16] = if reviewer { &[404] } else { &[403] };
    m.insert(
        (Method::POST, "/api/quality/reviews"),
        call(
            Method::POST,
            "/api/quality/reviews",
            Some(json!({ "key": "future_date:dogs:0" })),
            review_refusal,
        ),
    );
    m.insert(
        (Method::DELETE, "/api/quality/reviews/{key}"),
        call(
            Method::DELETE,
            "/api/quality/reviews/future_date:dogs:0",
            None,
            review_refusal,
        ),
    );
    // Imports: an empty JSON body is not a sheet (422) for roles that may import dogs.
    m.insert(
        (Method::POST, "/api/imports"),
        call(
            Method::POST,
            "/api/imports?kind=dogs&dry_run=true",
            Some(json!({})),
            if role.can(Perm::AnimalRows) {
                &[422]
            } else {
                &[403]
            },
        ),
    );
    m.insert((Method::GET, "/api/imports"), get("/api/imports"));
    m.insert(
        (Method::GET, "/api/imports/{id}"),
        call(Method::GET, "/api/imports/0000000000000000", None, &[404]),
    );
    m.insert(
        (Method::GET, "/api/imports/{id}/errors.xlsx"),
        call(
            Method::GET,
            "/api/imports/0000000000000000/errors.xlsx",
            None,
            &[404],
        ),
    );
    m.insert(
        (Method::GET, "/api/imports/templates/{file}"),
        get("/api/imports/templates/dewormings.xlsx"),
    );
    m.insert((Method::GET, "/api/openapi.json"), get("/api/openapi.json"));
    m.insert((Method::GET, "/api/docs"), get("/api/docs"));
    m.insert((Method::GET, "/api/quality"), get("/api/quality?limit=50"));
    m.insert(
        (Method::GET, "/api/export/{file}"),
        get("/api/export/villages.geojson?period=2025"),
    );
    m.insert((Method::GET, "/ogc"), get("/ogc"));
    m.insert((Method::GET, "/ogc/conformance"), get("/ogc/conformance"));
    m.insert((Method::GET, "/ogc/api"), get("/ogc/api"));
    m.insert((Method::GET, "/ogc/collections"), get("/ogc/collections"));
    m.insert(
        (Method::GET, "/ogc/collections/{id}"),
        get("/ogc/collections/villages"),
    );
    m.insert(
        (Method::GET, "/ogc/collections/{id}/items"),
        get("/ogc/collections/villages/items?limit=100"),
    );
    m.insert(
        (Method::GET, "/ogc/collections/{id}/items/{fid}"),
        call(
            Method::GET,
            &format!("/ogc/collections/villages/items/{VILLAGE}"),
            None,
            if VILLAGE.starts_with(jurisdiction) {
                &[200]
            } else {
                &[404]
            },
        ),
    );
    // The county's review of possible duplicates: unknown pairs are 404 to everyone who may
    // reach the route.
    m.insert((Method::GET, "/api/duplicates"), get("/api/duplicates"));
    m.insert(
        (Method::POST, "/api/duplicates/{id}/merge"),
        call(
            Method::POST,
            "/api/duplicates/0/merge",
            Some(json!({ "keep": 0 })),
            &[404],
        ),
    );
    m.insert(
        (Method::POST, "/api/duplicates/{id}/distinct"),
        call(
            Method::POST,
            "/api/duplicates/0/distinct",
            Some(json!({})),
            &[404],
        ),
    );
    // The desk: the register declaration, a list as a file (also the register's own
    // permission), the deworming round of a village (unknown outside the jurisdiction; a round
    // without dogs is refused).
    m.insert((Method::GET, "/api/registers"), get("/api/registers"));
    m.insert(
        (Method::GET, "/api/registers/{name}/export"),
        call(
            Method::GET,
            "/api/registers/dogs/export?format=csv",
            None,
            if role.can(Perm::AnimalRows) {
                &[200]
            } else {
                &[403]
            },
        ),
    );
    let round_village: &[u16] = if VILLAGE.starts_with(jurisdiction) {
        &[200]
    } else {
        &[404]
    };
    m.insert(
        (Method::GET, "/api/dewormings/round"),
        call(
            Method::GET,
            &format!("/api/dewormings/round?village={VILLAGE}&month=2026-10"),
            None,
            round_village,
        ),
    );
    m.insert(
        (Method::POST, "/api/dewormings/round"),
        call(
            Method::POST,
            "/api/dewormings/round",
            Some(json!({ "village_code": VILLAGE, "dosed_on": "2026-10-05", "dog_tags": [] })),
            if VILLAGE.starts_with(jurisdiction) {
                &[422]
            } else {
                &[404]
            },
        ),
    );
    // Every register: list, one record (404 outside the jurisdiction), and writes whose empty
    // or unknown targets are refused after the access check. (The stock ledger has no generic
    // routes: `/api/stock/*`.)
    for spec in SPECS.iter().filter(|s| s.generic_api) {
        let list: &'static str = Box::leak(format!("/api/{}", spec.name).into_boxed_str());
        let one: &'static str = Box::leak(format!("/api/{}/{{id}}", spec.name).into_boxed_str());
        if spec.name != "cases" {
            m.insert((Method::GET, list), get(&format!("{list}?limit=50")));
            let path = match fx.record.get(spec.name) {
                Some((id, _)) => format!("/api/{}/{id}", spec.name),
                None => format!("/api/{}/0", spec.name),
            };
            let visible = match fx.record.get(spec.name) {
                Some((_, Some(village))) => village.starts_with(jurisdiction),
                Some((_, None)) => true,
                None => false,
            };
            m.insert(
                (Method::GET, one),
                call(
                    Method::GET,
                    &path,
                    None,
                    if visible { &[200] } else { &[404] },
                ),
            );
        }
        // A register of the whole county (no village) is written by county accounts only.
        let county_only = matches!(spec.village, Village::None) && jurisdiction != COUNTY;
        let or_refused = |s: &'static [u16]| if county_only { &[403][..] } else { s };
        m.insert(
            (Method::POST, list),
            call(Method::POST, list, Some(json!({})), or_refused(&[422])),
        );
        let missing = format!("/api/{}/0", spec.name);
        m.insert(
            (Method::PATCH, one),
            // An unknown id may be answered as unknown before the register's rule.
            call(
                Method::PATCH,
                &missing,
                Some(json!({})),
                if county_only { &[403, 404] } else { &[404] },
            ),
        );
        m.insert(
            (Method::DELETE, one),
            call(Method::DELETE, &missing, None, or_refused(&[404])),
        );
    }
    // Stock (server/src/http/stock*.rs): reads answer 2xx to the roles with Stock, in their
    // jurisdiction; unknown ids (0) are 404 after the access check; a malformed body is 422.
    for path in [
        "/api/stock/items",
        "/api/stock/stores",
        "/api/stock/lots",
        "/api/stock/on-hand",
        "/api/stock/movements",
        "/api/stock/transfers",
        "/api/stock/counts",
        "/api/stock/reconciliation",
        "/api/stock/reconciliation.xlsx",
    ] {
        m.insert((Method::GET, path), get(path));
    }
    let refused = &[400, 404, 422];
    for (method, route, path, body) in [
        (
            Method::GET,
            "/api/stock/fefo",
            "/api/stock/fefo?store=0&item=0&quantity=1",
            None,
        ),
        (
            Method::GET,
            "/api/stock/counts/{id}",
            "/api/stock/counts/0",
            None,
        ),
        (
            Method::POST,
            "/api/stock/items",
            "/api/stock/items",
            Some(json!({})),
        ),
        (
            Method::PATCH,
            "/api/stock/items/{id}",
            "/api/stock/items/0",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/stock/barcodes",
            "/api/stock/barcodes",
            Some(json!({})),
        ),
        (
            Method::DELETE,
            "/api/stock/barcodes/{id}",
            "/api/stock/barcodes/0",
            None,
        ),
        (
            Method::POST,
            "/api/stock/scan",
            "/api/stock/scan",
            Some(json!({ "code": "40063813339" })),
        ),
        (
            Method::POST,
            "/api/stock/stores",
            "/api/stock/stores",
            Some(json!({})),
        ),
        (
            Method::PATCH,
            "/api/stock/stores/{id}",
            "/api/stock/stores/0",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/stock/receipts",
            "/api/stock/receipts",
            Some(
                json!({ "store_id": 0, "received_on": "2026-10-05", "supplier": "x", "lines": [] }),
            ),
        ),
        (
            Method::POST,
            "/api/stock/transfers",
            "/api/stock/transfers",
            Some(
                json!({ "from_store_id": 0, "to_store_id": 1, "issued_on": "2026-10-05",
                         "lines": [{ "item_id": 0, "quantity": 1 }] }),
            ),
        ),
        (
            Method::POST,
            "/api/stock/transfers/{id}/receive",
            "/api/stock/transfers/0/receive",
            Some(json!({ "received_on": "2026-10-05" })),
        ),
        (
            Method::POST,
            "/api/stock/uses",
            "/api/stock/uses",
            Some(
                json!({ "store_id": 0, "used_on": "2026-10-05", "village_code": VILLAGE,
                         "lines": [{ "item_id": 0, "quantity": 1 }] }),
            ),
        ),
        (
            Method::POST,
            "/api/stock/adjustments",
            "/api/stock/adjustments",
            Some(
                json!({ "store_id": 0, "adjusted_on": "2026-10-05", "reason": "lost",
                         "lines": [{ "lot_id": 0, "quantity": -1 }] }),
            ),
        ),
        (
            Method::POST,
            "/api/stock/counts",
            "/api/stock/counts",
            Some(json!({ "store_id": 0 })),
        ),
        (
            Method::POST,
            "/api/stock/counts/{id}/entries",
            "/api/stock/counts/0/entries",
            Some(json!({ "entries": [] })),
        ),
        (
            Method::POST,
            "/api/stock/counts/{id}/lines/{lot_id}",
            "/api/stock/counts/0/lines/0",
            Some(json!({ "reason": "lost" })),
        ),
        (
            Method::POST,
            "/api/stock/counts/{id}/finalise",
            "/api/stock/counts/0/finalise",
            None,
        ),
        (
            Method::POST,
            "/api/stock/counts/{id}/cancel",
            "/api/stock/counts/0/cancel",
            None,
        ),
    ] {
        m.insert((method.clone(), route), call(method, path, body, refused));
    }
    m
}

async fn fixture(app: &TestApp) -> Result<Fixture> {
    let mut case_in = HashMap::new();
    for prefix in [COUNTY, OWN_TOWNSHIP, SIBLING_TOWNSHIP, VILLAGE] {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT c.id FROM cases c JOIN villages v ON v.id = c.village_id WHERE v.code LIKE $1 || '%' ORDER BY c.id LIMIT 1",
        )
        .bind(prefix)
        .fetch_optional(&app.db.pool)
        .await?;
        if let Some(id) = id {
            case_in.insert(prefix, id);
        }
    }
    let case_in_sibling = *case_in
        .get(SIBLING_TOWNSHIP)
        .ok_or_else(|| anyhow::anyhow!("the demo has no case in {SIBLING_TOWNSHIP}"))?;
    assert!(
        case_in.contains_key(VILLAGE),
        "the demo village {VILLAGE} needs a case for this test"
    );
    let mut record = HashMap::new();
    for spec in SPECS.iter().filter(|s| s.generic_api) {
        let live = if spec.soft_delete {
            "t.deleted_at IS NULL"
        } else {
            "true"
        };
        // A record in `VILLAGE` if there is one, else in its township, else anywhere; with the
        // code of its place (if the register has one), which decides who may see it. A stock
        // movement may have no village: it is its township's, or the county store's.
        let place = if spec.table == "stock_movements" {
            "coalesce(v.code::text, t.township_code::text, $3)"
        } else {
            "v.code::text"
        };
        let found: Option<(i64, Option<String>)> = match spec.village_id_sql() {
            Some(v) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT t.id, {place} FROM {} t LEFT JOIN villages v ON v.id = {v}
                     WHERE {live} AND {place} IS NOT NULL
                     ORDER BY {place} = $1 DESC, {place} LIKE $2 || '%' DESC, t.id LIMIT 1",
                    spec.table
                )))
                .bind(VILLAGE)
                .bind(OWN_TOWNSHIP)
                .bind(COUNTY)
                .fetch_optional(&app.db.pool)
                .await?
            }
            None => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT id, NULL::text FROM {} t WHERE {live} ORDER BY id LIMIT 1",
                    spec.table
                )))
                .fetch_optional(&app.db.pool)
                .await?
            }
        };
        let found = found.unwrap_or_else(|| {
            panic!(
                "the demo has no {} record: its detail route would be tried only with an unknown id",
                spec.name
            )
        });
        record.insert(spec.name, found);
    }
    Ok(Fixture {
        case_in,
        case_in_sibling,
        record,
    })
}

/// Whether a JSON or tile key names a place code (a county, township or village) that places
/// the row: `code`, any `…_code` or `…_codes` (`village_code`, `township_code`, `county_code`,
/// `centre_code`, `member_codes`), and any key about a village, township, county, unit,
/// jurisdiction, scope, or a scan's centre and members (`village`, `township`,
/// `failing_townships`, `unit`, `center_id`, `member_ids`). Values that are not codes (names,
/// counts, tags) are left out by [`codes_in`].
///
/// Not judged: `origin_village_code` of a slaughter inspection, which says where the animals
/// came from; the record belongs to its slaughter point's place, which is in the jurisdiction
/// (docs/DATA.md, `slaughter_inspections`).
fn names_a_place(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    // Quantities in base units (the stock's `issued_units`, `stock_left_units`) are numbers,
    // not places.
    if k.starts_with("origin_") || k.ends_with("_units") {
        return false;
    }
    k == "code"
        || k.ends_with("_code")
        || k.ends_with("_codes")
        || [
            "village",
            "township",
            "county",
            "unit",
            "jurisdiction",
            "scope",
            "member",
            "center",
            "centre",
        ]
        .iter()
        .any(|w| k.contains(w))
}

/// The place codes in one value of a place key: codes of 6, 9 or 12 digits, alone or in a
/// space- or comma-separated list (`member_codes`).
fn codes_in(text: &str, out: &mut Vec<String>) {
    for token in text.split(|c: char| c.is_whitespace() || c == ',') {
        if matches!(token.len(), 6 | 9 | 12) && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push(token.to_owned());
        }
    }
}

/// Every place code of a JSON answer, at any depth, with the key that holds it: strings,
/// numbers and arrays of them under a key that names a place.
fn place_codes(v: &Value, out: &mut Vec<(String, String)>) {
    fn under(key: &str, v: &Value, out: &mut Vec<(String, String)>) {
        let mut codes = Vec::new();
        match v {
            Value::String(s) => codes_in(s, &mut codes),
            Value::Number(n) => codes_in(&n.to_string(), &mut codes),
            Value::Array(xs) => xs.iter().for_each(|x| under(key, x, out)),
            _ => {}
        }
        out.extend(codes.into_iter().map(|c| (key.to_owned(), c)));
    }
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if names_a_place(k) {
                    under(k, x, out);
                }
                place_codes(x, out);
            }
        }
        Value::Array(xs) => xs.iter().for_each(|x| place_codes(x, out)),
        _ => {}
    }
}

/// A code is inside a jurisdiction when it is the jurisdiction, one of its parts (a code that
/// starts with it), or a unit that contains it (the county or township of a village user).
fn within(code: &str, jurisdiction: &str) -> bool {
    code.starts_with(jurisdiction) || jurisdiction.starts_with(code)
}

/// The tiles at zoom `z` that hold a village of the county: the whole county, so that a tile
/// holds villages of every township and a row from outside a jurisdiction would show.
async fn county_tiles(app: &TestApp, z: u8) -> Result<Vec<TileCoord>> {
    let points: Vec<(f64, f64)> =
        sqlx::query_as("SELECT ST_X(geom), ST_Y(geom) FROM villages WHERE code LIKE $1 || '%'")
            .bind(COUNTY)
            .fetch_all(&app.db.pool)
            .await?;
    let mut tiles: Vec<TileCoord> = points
        .into_iter()
        .filter_map(|(lon, lat)| TileCoord::containing(lon, lat, z).ok())
        .collect();
    tiles.sort_by_key(|t| (t.x(), t.y()));
    tiles.dedup();
    Ok(tiles)
}

/// The tile layers that are the same for everybody: the county's boundaries and rivers. Every
/// other layer of the catalogue is judged (the tiles crate's own `scoped` flag is not trusted:
/// a layer wrongly marked unscoped is exactly the leak to find).
const UNSCOPED_TILE_LAYERS: [&str; 2] = ["boundaries", "rivers"];

/// The place codes of every feature of every layer in every scoped tile source of the
/// catalogue, in `tiles`, as `client` gets them, decoded with an independent reader:
/// (source.key at z/x/y, code).
async fn tile_place_codes(
    client: &ApiClient,
    tiles: &[TileCoord],
) -> Result<Vec<(String, String)>> {
    let catalog = client.get_json("/tiles", 200).await?;
    let ids: Vec<&str> = catalog["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["id"].as_str())
        .filter(|id| !UNSCOPED_TILE_LAYERS.contains(id))
        .collect();
    assert!(ids.len() >= 5, "the tile catalogue: {catalog}");
    let mut out = Vec::new();
    for id in ids {
        let layer = LAYERS
            .iter()
            .find(|l| l.id == id)
            .ok_or_else(|| anyhow::anyhow!("the catalogue's layer {id} is not in LAYERS"))?;
        let query = if layer.uses_source {
            "?source=human_cases&resolution=7"
        } else if layer.uses_period {
            "?period=2025"
        } else {
            ""
        };
        for t in tiles {
            let path = format!(
                "/tiles/{}/{}/{}/{}.mvt{query}",
                layer.id,
                t.z(),
                t.x(),
                t.y()
            );
            let r = client.get(&path).await?;
            let bytes = match r.status().as_u16() {
                204 => continue,
                200 => r.bytes().await?.to_vec(),
                s => anyhow::bail!("{path}: status {s}: {}", r.text().await?),
            };
            let reader = Reader::new(bytes)
                .map_err(|e| anyhow::anyhow!("{path}: not a vector tile: {e:?}"))?;
            let names = reader
                .get_layer_names()
                .map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?;
            let mut features = Vec::new();
            for index in 0..names.len() {
                features.extend(
                    reader
                        .get_features(index)
                        .map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?,
                );
            }
            for f in &features {
                for (key, value) in f.properties.iter().flatten() {
                    if !names_a_place(key) {
                        continue;
                    }
                    let text = match value {
                        MvtValue::String(s) => s.clone(),
                        MvtValue::Int(i) | MvtValue::SInt(i) => i.to_string(),
                        MvtValue::UInt(u) => u.to_string(),
                        _ => continue,
                    };
                    let mut codes = Vec::new();
                    codes_in(&text, &mut codes);
                    let at = format!("{}.{key} in {}/{}/{}", layer.id, t.z(), t.x(), t.y());
                    out.extend(codes.into_iter().map(|c| (at.clone(), c)));
                }
            }
        }
    }
    Ok(out)
}

#[tokio::test]
async fn every_route_answers_every_role_within_its_jurisdiction_only() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let fx = fixture(&app).await?;
    let table = routes();
    let tile_access = table
        .iter()
        .find(|s| s.path == "/tiles/{layer}/{z}/{x}/{y}")
        .map(|s| s.access)
        .expect("the tile route");
    let tiles = county_tiles(&app, 9).await?;
    assert!(
        tiles.len() > 1,
        "the county spans {} tiles at z9",
        tiles.len()
    );
    // The role policy, written here rather than read from the route table or `Role::permissions`
    // (a route declared with the wrong access would pass a test that reads it back).
    for spec in &table {
        if takes_data_away(spec.path) {
            assert_eq!(
                spec.access,
                Access::Needs(Perm::Export),
                "{} {} must need Export",
                spec.method,
                spec.path
            );
        }
    }
    #[derive(Default)]
    struct Figures {
        requests: usize,
        codes: usize,
        tile_codes: usize,
    }
    let mut figures = Figures::default();
    let scans_before: i64 = sqlx::query_scalar("SELECT count(*) FROM scan_results")
        .fetch_one(&app.db.pool)
        .await?;
    // Scans answered to roles that publish exports, and to the others.
    let (mut published, mut looked) = (0i64, 0i64);
    // What the vet's household lists showed.
    let mut vet_household_rows = Vec::new();
    let mut n = 0usize;
    for role in Role::ALL {
        for jurisdiction in [COUNTY, OWN_TOWNSHIP, SIBLING_TOWNSHIP, VILLAGE] {
            let client = app.user(role, jurisdiction).await?;
            n += 1;
            let calls = expectations(role, jurisdiction, &fx, n);
            // Place codes judged in the JSON answers of this caller.
            let mut checked = 0usize;
            for spec in &table {
                let call = calls
                    .get(&(spec.method.clone(), spec.path))
                    .unwrap_or_else(|| {
                        panic!(
                            "route {} {} is not in the authorization test's expectations",
                            spec.method, spec.path
                        )
                    });
                // Logout would end nothing for a token, but run it last so it cannot matter.
                let mut req = client.request(call.method.clone(), &call.path);
                if let Some(body) = &call.body {
                    req = req.json(body);
                }
                let r = req.send().await?;
                figures.requests += 1;
                let status = r.status().as_u16();
                let text = r.text().await?;
                let what = format!(
                    "{} {} as {} of {jurisdiction}",
                    spec.method,
                    call.path,
                    role.as_str()
                );
                if takes_data_away(spec.path) {
                    assert_eq!(
                        status == 403,
                        !EXPORTERS.contains(&role),
                        "{what}: {status}: exports and OGC are for {EXPORTERS:?} only: {text}"
                    );
                }
                if spec.method == Method::GET && (200..300).contains(&status) {
                    if spec.path == "/api/scan" {
                        if EXPORTERS.contains(&role) {
                            published += 1;
                        } else {
                            looked += 1;
                        }
                    }
                    if spec.path == "/api/households" && role == Role::Vet {
                        let body: Value = serde_json::from_str(&text)?;
                        vet_household_rows
                            .extend(body["items"].as_array().cloned().unwrap_or_default());
                    }
                }
                if let Some(expect) = &call.expect {
                    if let Access::Needs(perm) = spec.access
                        && !role.can(perm)
                    {
                        assert_eq!(status, 403, "{what} must be refused: {text}");
                    } else {
                        assert!(
                            expect.contains(&status),
                            "{what}: {status} (expected {expect:?}) {text}"
                        );
                    }
                } else {
                    match spec.access {
                        Access::Public | Access::PublicNoCookie => {
                            assert!(status != 403 && status < 500, "{what}: {status} {text}")
                        }
                        Access::LoggedIn => {
                            assert!((200..300).contains(&status), "{what}: {status} {text}")
                        }
                        Access::LocalOr(_) => {
                            assert!((200..300).contains(&status), "{what}: {status} {text}")
                        }
                        Access::Needs(perm) => {
                            if !role.can(perm) {
                                assert_eq!(status, 403, "{what} must be refused: {text}");
                                continue;
                            }
                            let detail_outside = matches!(
                                spec.path,
                                "/api/villages/{code}"
                                    | "/api/villages/{code}/contacts"
                                    | "/api/villages/{code}/risk"
                            ) && !VILLAGE.starts_with(jurisdiction)
                                || spec.path == "/api/cases/{id}"
                                    && !fx.case_in.contains_key(jurisdiction);
                            if detail_outside {
                                assert_eq!(
                                    status, 404,
                                    "{what}: a record outside the jurisdiction must not be shown: {text}"
                                );
                            } else {
                                assert!((200..300).contains(&status), "{what}: {status} {text}");
                            }
                            if perm == Perm::Aggregates
                                && spec.path == "/api/summary"
                                && !role.can(Perm::Unsuppressed)
                            {
                                let body: Value = serde_json::from_str(&text)?;
                                for t in [
                                    "people",
                                    "cases",
                                    "imaging_exams",
                                    "treatments",
                                    "followups",
                                ] {
                                    let c = &body["registers"][t];
                                    assert!(
                                        c.is_null() || c.as_i64().is_some_and(|x| x == 0 || x > 4),
                                        "{what}: {t} = {c}"
                                    );
                                }
                            }
                        }
                    }
                }
                // No row from outside the jurisdiction, in any answer: every place code (a
                // village, township or county code under any key that names one) is inside it
                // or one of the units that contain it. Admin pages are the county's.
                if !(200..300).contains(&status) {
                    continue;
                }
                let Ok(body) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let scope = if spec.access == Access::Needs(Perm::Admin) {
                    COUNTY
                } else {
                    jurisdiction
                };
                let mut codes = Vec::new();
                place_codes(&body, &mut codes);
                for (key, code) in codes {
                    assert!(
                        within(&code, scope),
                        "{what}: {key} {code} is outside {scope}"
                    );
                    checked += 1;
                }
            }
            figures.codes += checked;
            assert!(
                checked > 0,
                "{} of {jurisdiction}: no place code was checked in any answer",
                role.as_str()
            );
            // The same in the vector tiles, decoded: every feature of every jurisdiction-scoped
            // layer over the whole county.
            if let Access::Needs(perm) = tile_access
                && !role.can(perm)
            {
                continue;
            }
            let mut in_tiles = 0usize;
            for (at, code) in tile_place_codes(&client, &tiles).await? {
                assert!(
                    within(&code, jurisdiction),
                    "tile {at} as {} of {jurisdiction}: {code} is outside it",
                    role.as_str()
                );
                in_tiles += 1;
            }
            figures.tile_codes += in_tiles;
            assert!(
                in_tiles > 0,
                "{} of {jurisdiction}: no place code was checked in the tiles",
                role.as_str()
            );
        }
    }
    // The figures of docs/SECURITY.md (`--nocapture` prints them).
    eprintln!(
        "figures: {} requests by {} callers, {} place codes in answers and {} in tiles checked, 0 outside the caller's jurisdiction",
        figures.requests,
        Role::ALL.len() * 4,
        figures.codes,
        figures.tile_codes
    );
    // Only the scans of the roles that publish exports were kept: a viewer's, a vet's or a
    // village doctor's scan changes nothing the county exports.
    let scans_after: i64 = sqlx::query_scalar("SELECT count(*) FROM scan_results")
        .fetch_one(&app.db.pool)
        .await?;
    assert!(
        looked > 0 && published > 0,
        "scans: {looked} looked, {published} published"
    );
    assert_eq!(
        scans_after - scans_before,
        published,
        "{looked} scans by roles without Export were answered; none may be kept"
    );
    let anon = reqwest::Client::new();
    for spec in &table {
        if matches!(spec.access, Access::Public | Access::PublicNoCookie) {
            continue;
        }
        if let Access::LocalOr(_) = spec.access {
            // Anonymous, but on this machine: answered (tests/tests/metrics.rs refuses a remote
            // anonymous caller).
            let r = anon.get(app.url(spec.path)).send().await?;
            assert_eq!(r.status().as_u16(), 200, "anonymous local {}", spec.path);
            continue;
        }
        let path = spec.path.replace("{code}", VILLAGE).replace("{id}", "1");
        let r = anon
            .request(spec.method.clone(), app.url(&path))
            .json(&json!({}))
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 401, "anonymous {} {path}", spec.method);
        let body: Value = r.json().await?;
        assert_eq!(body["error"]["code"], "login_required");
    }
    // Last, so that it hides no other finding: the vet works with dogs, not with the people of a
    // household (names, addresses, exact positions are for roles with case rows).
    assert_vet_household_rows_are_anonymous(&vet_household_rows);
    Ok(())
}

/// The roles that take data away (`/api/export`, `/ogc`), as docs/API.md states the policy.
const EXPORTERS: [Role; 3] = [Role::Admin, Role::Epidemiologist, Role::Planner];

/// The routes that take data away: the export files and the OGC API.
fn takes_data_away(path: &str) -> bool {
    path.starts_with("/api/export/") || path == "/ogc" || path.starts_with("/ogc/")
}

/// What only roles with case rows see of a household.
const HOUSEHOLD_PERSONAL_KEYS: [&str; 4] = ["head_name", "address", "lon", "lat"];

fn assert_vet_household_rows_are_anonymous(rows: &[Value]) {
    assert!(!rows.is_empty(), "the vet's household lists were empty");
    for row in rows {
        let object = row.as_object().expect("a household row is an object");
        for key in HOUSEHOLD_PERSONAL_KEYS {
            assert!(
                !object.contains_key(key),
                "a vet's list row of /api/households has `{key}`: {row}"
            );
        }
    }
}

#[tokio::test]
async fn a_township_user_sees_only_the_cases_and_villages_of_the_township() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let ts = app.user(Role::TownshipStaff, OWN_TOWNSHIP).await?;
    let villages = ts.get_json("/api/villages", 200).await?;
    let items = villages["items"].as_array().expect("items");
    assert_eq!(items.len(), 10);
    assert!(items.iter().all(|v| v["township_code"] == OWN_TOWNSHIP));
    let mut cursor: Option<i64> = None;
    let mut seen = 0;
    loop {
        let path = match cursor {
            Some(c) => format!("/api/cases?limit=20&cursor={c}"),
            None => "/api/cases?limit=20".to_owned(),
        };
        let page = ts.get_json(&path, 200).await?;
        for c in page["items"].as_array().expect("items") {
            assert!(
                c["village_code"]
                    .as_str()
                    .is_some_and(|v| v.starts_with(OWN_TOWNSHIP))
            );
            seen += 1;
        }
        match page["next_cursor"].as_i64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM cases c JOIN villages v ON v.id = c.village_id WHERE v.township_code = $1",
    )
    .bind(OWN_TOWNSHIP)
    .fetch_one(&app.db.pool)
    .await?;
    assert!(expected > 0, "the demo township {OWN_TOWNSHIP} needs cases");
    assert_eq!(seen, expected);
    let summary = ts.get_json("/api/summary", 200).await?;
    assert_eq!(summary["registers"]["villages"], 10);
    assert_eq!(summary["registers"]["cases"], expected);
    let body = ts.get_json("/api/cases?unit=654022101", 403).await?;
    assert_eq!(body["error"]["code"], "forbidden");
    Ok(())
}

#[tokio::test]
async fn identifiers_are_masked_in_lists_and_whole_in_an_audited_detail() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let list = epi.get_json("/api/cases?limit=50", 200).await?;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 50, "a full page of cases");
    let text = serde_json::to_string(&list)?;
    // Every item, against the whole values in the database: the ID number keeps its first six
    // and last four characters, the phone its first three and last four; the rest is stars.
    let (mut ids_checked, mut phones_checked) = (0, 0);
    for item in items {
        let case = item["id"].as_i64().expect("id");
        let (full_id, full_phone): (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT p.id_number::text, p.phone::text FROM cases c JOIN people p ON p.id = c.person_id WHERE c.id = $1",
        )
        .bind(case)
        .fetch_one(&app.db.pool)
        .await?;
        for (what, full, shown, head, tail) in [
            ("ID number", full_id, &item["person"]["id_number"], 6, 4),
            ("phone", full_phone, &item["person"]["phone"], 3, 4),
        ] {
            let Some(full) = full else {
                assert!(
                    shown.is_null(),
                    "case {case}: a {what} from nowhere: {shown}"
                );
                continue;
            };
            let masked = shown
                .as_str()
                .unwrap_or_else(|| panic!("case {case}: the {what} is missing: {item}"));
            let n = full.chars().count();
            assert!(
                n > head + tail,
                "case {case}: a {what} too short to mask: {full}"
            );
            assert_eq!(masked.chars().count(), n, "case {case}: {masked}");
            assert!(
                masked.starts_with(&full[..head]) && masked.ends_with(&full[n - tail..]),
                "case {case}: {masked}"
            );
            assert!(
                masked
                    .chars()
                    .skip(head)
                    .take(n - head - tail)
                    .all(|c| c == '*'),
                "case {case}: the {what} is not masked: {masked}"
            );
            assert!(
                !text.contains(&full),
                "case {case}: a whole {what} in a list"
            );
            if what == "phone" {
                phones_checked += 1;
            } else {
                ids_checked += 1;
            }
        }
    }
    assert!(ids_checked > 0, "no ID number in the page of cases");
    assert!(phones_checked > 0, "no phone number in the page of cases");
    let id = items[0]["id"].as_i64().expect("id");
    let full_in_db: String = sqlx::query_scalar(
        "SELECT p.id_number::text FROM cases c JOIN people p ON p.id = c.person_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await?;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'read' AND table_name = 'cases' AND row_id = $1")
        .bind(id.to_string())
        .fetch_one(&app.db.pool)
        .await?;
    let detail = epi.get_json(&format!("/api/cases/{id}"), 200).await?;
    assert_eq!(detail["person"]["id_number"], full_in_db.as_str());
    assert!(detail["imaging"].as_array().is_some_and(|a| !a.is_empty()));
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'read' AND table_name = 'cases' AND row_id = $1 AND username = $2")
        .bind(id.to_string())
        .bind(&epi.username)
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(after, before + 1, "the read of a patient record is audited");
    // Planners and vets never get case rows.
    for role in [Role::Planner, Role::Vet, Role::Viewer] {
        let c = app.user(role, COUNTY).await?;
        c.get_json("/api/cases", 403).await?;
        c.get_json(&format!("/api/cases/{id}"), 403).await?;
        let summary = c.get_json("/api/summary", 200).await?;
        assert!(!serde_json::to_string(&summary)?.contains(&full_in_db));
    }
    Ok(())
}

async fn login(
    app: &TestApp,
    client: &reqwest::Client,
    username: &str,
    password: &str,
) -> Result<reqwest::Response> {
    Ok(client
        .post(app.url("/api/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await?)
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_session_logs_in_sees_who_it_is_and_logs_out() -> Result<()> {
    let app = TestApp::empty().await?;
    let user = app.user(Role::TownshipStaff, OWN_TOWNSHIP).await?;
    let b = browser();
    let r = login(&app, &b, &user.username, TEST_USER_PASSWORD).await?;
    assert_eq!(r.status().as_u16(), 200);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag");
    let body: Value = r.json().await?;
    let csrf = body["csrf_token"].as_str().expect("csrf").to_owned();
    let anonymous: Value = app
        .client
        .get(app.url("/api/auth/session"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(anonymous["authenticated"], false);
    let session: Value = b
        .get(app.url("/api/auth/session"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(session["authenticated"], true);
    assert_eq!(session["user"]["username"], user.username.as_str());
    let me: Value = b.get(app.url("/api/auth/me")).send().await?.json().await?;
    assert_eq!(me["username"], user.username.as_str());
    assert_eq!(me["role"], "township_staff");
    assert_eq!(me["jurisdiction"], OWN_TOWNSHIP);
    assert_eq!(me["jurisdiction_name"], "察布查尔镇");
    // A write with the cookie but neither the CSRF token nor a same-origin Origin is refused.
    let r = b.post(app.url("/api/auth/logout")).send().await?;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.json::<Value>().await?["error"]["code"], "csrf");
    let r = b
        .post(app.url("/api/auth/logout"))
        .header("Origin", "http://evil.example")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    let r = b
        .post(app.url("/api/auth/logout"))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let r = b.get(app.url("/api/auth/me")).send().await?;
    assert_eq!(r.status().as_u16(), 401);
    // Behind a TLS proxy the cookie is Secure.
    let r = app
        .client
        .post(app.url("/api/auth/login"))
        .header("X-Forwarded-Proto", "https")
        .json(&json!({ "username": user.username, "password": TEST_USER_PASSWORD }))
        .send()
        .await?;
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(cookie.contains("Secure"), "{cookie}");
    // A login form posted from another site is refused.
    let r = app
        .client
        .post(app.url("/api/auth/login"))
        .header("Origin", "http://evil.example")
        .json(&json!({ "username": user.username, "password": TEST_USER_PASSWORD }))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    Ok(())
}

#[tokio::test]
async fn tampered_cookies_and_bad_tokens_get_401_in_the_json_shape() -> Result<()> {
    let app = TestApp::empty().await?;
    for (header, value) in [
        ("Cookie", "echinomap_session=forged-value"),
        ("Authorization", "Bearer emt_not-a-real-token"),
        ("Authorization", "Basic YWRtaW46YWRtaW4="),
    ] {
        let r = app
            .client
            .get(app.url("/api/summary"))
            .header(header, value)
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 401, "{header}: {value}");
        let body: Value = r.json().await?;
        assert_eq!(body["error"]["code"], "invalid_credentials");
    }
    Ok(())
}

#[tokio::test]
async fn five_failed_logins_make_known_and_unknown_names_wait_alike() -> Result<()> {
    let db = TestDb::empty().await?;
    let app = TestApp::spawn_with(db, None, |s| s.login.throttle.first_delay_secs = 60).await?;
    let user = app.user(Role::Viewer, COUNTY).await?;
    let c = reqwest::Client::new();
    for name in [user.username.as_str(), "no-such-user"] {
        let mut messages = Vec::new();
        for _ in 0..5 {
            let r = login(&app, &c, name, "wrong-password!").await?;
            assert_eq!(r.status().as_u16(), 401);
            messages.push(r.json::<Value>().await?["error"].clone());
        }
        assert!(messages.windows(2).all(|w| w[0] == w[1]));
        // Waiting: even the right password is refused now from this address, with the same
        // answer for both names.
        let r = login(&app, &c, name, TEST_USER_PASSWORD).await?;
        assert_eq!(r.status().as_u16(), 429, "{name}");
        let (wait, code) = retry_after(r).await?;
        assert_eq!(code, "locked");
        assert!((55..=60).contains(&wait), "{name}: {wait}");
    }
    let unknown_wrong = login(&app, &c, "another-unknown", "x")
        .await?
        .json::<Value>()
        .await?;
    let known_wrong = {
        let other = app.user(Role::Viewer, COUNTY).await?;
        login(&app, &c, &other.username, "x")
            .await?
            .json::<Value>()
            .await?
    };
    assert_eq!(
        unknown_wrong, known_wrong,
        "the answer must not tell whether the user exists"
    );
    // An admin's new password lifts the wait at once.
    store::set_password(
        &app.db.pool,
        &user.username,
        "Fresh-Passw0rd",
        Default::default(),
        &Actor::cli(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let r = login(&app, &c, &user.username, "Fresh-Passw0rd").await?;
    assert_eq!(r.status().as_u16(), 200);
    // Failed attempts wrote audit rows and nothing else.
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'no-such-user'")
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(sessions, 0);
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE username = 'no-such-user' AND action = 'login_failed'")
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(failed, 6);
    Ok(())
}

#[tokio::test]
async fn a_revoked_token_stops_working_at_once() -> Result<()> {
    let app = TestApp::empty().await?;
    let user = app.user(Role::Epidemiologist, COUNTY).await?;
    user.get_json("/api/summary", 200).await?;
    store::revoke_token(&app.db.pool, user.token_id, &Actor::cli())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = user.get_json("/api/summary", 401).await?;
    assert_eq!(body["error"]["code"], "invalid_credentials");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'token_revoke' AND row_id = $1",
    )
    .bind(user.token_id.to_string())
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(audited, 1);
    // A disabled account's tokens stop too.
    let other = app.user(Role::Epidemiologist, COUNTY).await?;
    store::set_disabled(&app.db.pool, &other.username, true, &Actor::cli())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    other.get_json("/api/summary", 401).await?;
    Ok(())
}

async fn audit_count(app: &TestApp) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&app.db.pool)
        .await?)
}

#[tokio::test]
async fn a_write_and_its_audit_row_commit_together_or_not_at_all() -> Result<()> {
    let app = TestApp::empty().await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let before = audit_count(&app).await?;
    let body = json!({ "username": "new.epi", "role": "epidemiologist", "jurisdiction": COUNTY, "password": "Long-enough-1" });
    let created = admin.post_json("/api/users", &body, 201).await?;
    assert_eq!(created["username"], "new.epi");
    assert!(created.get("password_hash").is_none());
    let row: (String, Value) = sqlx::query_as(
        "SELECT username, after FROM audit_log WHERE action = 'user_create' AND row_id = (SELECT id::text FROM users WHERE username = 'new.epi')",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(row.0, admin.username);
    assert!(
        !row.1.to_string().contains("argon2"),
        "no hash in the audit"
    );
    assert_eq!(audit_count(&app).await?, before + 1);
    // Failing writes leave neither the row nor an audit row.
    for (bad, status, field) in [
        (
            json!({ "username": "new.epi", "role": "viewer", "jurisdiction": COUNTY, "password": "Long-enough-1" }),
            409,
            None,
        ),
        (
            json!({ "username": "x2", "role": "viewer", "jurisdiction": "654022999", "password": "Long-enough-1" }),
            422,
            Some("jurisdiction"),
        ),
        (
            json!({ "username": "x3", "role": "boss", "jurisdiction": COUNTY, "password": "Long-enough-1" }),
            422,
            Some("role"),
        ),
        (
            json!({ "username": "x4", "role": "viewer", "jurisdiction": COUNTY, "password": "short" }),
            422,
            Some("password"),
        ),
        (
            json!({ "username": "Bad Name", "role": "viewer", "jurisdiction": COUNTY, "password": "Long-enough-1" }),
            422,
            Some("username"),
        ),
    ] {
        let err = admin.post_json("/api/users", &bad, status).await?;
        if let Some(field) = field {
            assert_eq!(err["error"]["details"]["field"], field, "{err}");
        }
    }
    assert_eq!(audit_count(&app).await?, before + 1);
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE username IN ('x2', 'x3', 'x4')")
            .fetch_one(&app.db.pool)
            .await?;
    assert_eq!(users, 0);
    // The log itself refuses to be changed.
    let tampered = sqlx::query("UPDATE audit_log SET username = 'someone-else'")
        .execute(&app.db.pool)
        .await;
    assert!(tampered.is_err());
    assert!(
        sqlx::query("DELETE FROM audit_log")
            .execute(&app.db.pool)
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn admins_page_through_the_audit_log_with_filters() -> Result<()> {
    let app = TestApp::empty().await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let c = reqwest::Client::new();
    // The logins happen between these two instants, whatever day it is in whichever time zone.
    let before = chrono::Utc::now().date_naive();
    for _ in 0..3 {
        login(&app, &c, "typo-name", "nope").await?;
    }
    let after = chrono::Utc::now().date_naive();
    let page = admin
        .get_json("/api/audit?user=typo-name&limit=2", 200)
        .await?;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["action"] == "login_failed"));
    let cursor = page["next_cursor"].as_i64().expect("a next page");
    let rest = admin
        .get_json(
            &format!("/api/audit?user=typo-name&limit=2&cursor={cursor}"),
            200,
        )
        .await?;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["next_cursor"], Value::Null);
    let by_table = admin.get_json("/api/audit?table=api_tokens", 200).await?;
    let rows = by_table["items"].as_array().expect("items");
    // The admin's own token was created (and audited) by `TestApp::user`.
    assert!(!rows.is_empty(), "{by_table}");
    assert!(
        rows.iter()
            .all(|i| i["table_name"] == "api_tokens" && i["action"] == "token_create"),
        "{by_table}"
    );
    // Dates are days in the database's time zone, which need not be UTC (a cluster in China is
    // 8 hours ahead): the logins fall within a day of the UTC dates around them, and each on
    // exactly one day. Asking day by day, every row comes back once, and never outside.
    let dated = |from: chrono::NaiveDate, to: chrono::NaiveDate| {
        let admin = &admin;
        async move {
            let page = admin
                .get_json(
                    &format!("/api/audit?from={from}&to={to}&user=typo-name&action=login_failed"),
                    200,
                )
                .await?;
            let ids: Vec<i64> = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["id"].as_i64().expect("id"))
                .collect();
            anyhow::Ok(ids)
        }
    };
    let day = chrono::Days::new(1);
    let (first, last) = (before - day, after + day);
    let mut by_day = Vec::new();
    let mut d = first;
    while d <= last {
        by_day.extend(dated(d, d).await?);
        d = d + day;
    }
    by_day.sort_unstable();
    let all = dated(first, last).await?;
    assert_eq!(all.len(), 3, "{all:?}");
    let mut all_sorted = all.clone();
    all_sorted.sort_unstable();
    assert_eq!(by_day, all_sorted, "each failed login on exactly one day");
    assert_eq!(dated(first - day, first - day).await?, Vec::<i64>::new());
    assert_eq!(dated(last + day, last + day).await?, Vec::<i64>::new());
    admin.get_json("/api/audit?from=2026-13-01", 400).await?;
    admin.get_json("/api/audit?limit=0", 400).await?;
    Ok(())
}

#[tokio::test]
async fn the_mlps_policy_wants_strong_passwords_and_expires_them() -> Result<()> {
    use echinomap_programme::auth::password::PasswordPolicy;
    let db = TestDb::empty().await?;
    let app = TestApp::spawn_with(db, None, |s| s.password_policy = PasswordPolicy::Mlps).await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let err = admin
        .post_json("/api/users", &json!({ "username": "weak", "role": "viewer", "jurisdiction": COUNTY, "password": "alllowercase" }), 422)
        .await?;
    assert_eq!(err["error"]["details"]["field"], "password");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("upper-case"))
    );
    admin
        .post_json("/api/users", &json!({ "username": "strong", "role": "viewer", "jurisdiction": COUNTY, "password": "Str0ng-Passw0rd" }), 201)
        .await?;
    sqlx::query("UPDATE users SET password_changed_at = now() - interval '91 days' WHERE username = 'strong'")
        .execute(&app.db.pool)
        .await?;
    let c = reqwest::Client::new();
    let r = login(&app, &c, "strong", "Str0ng-Passw0rd").await?;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        r.json::<Value>().await?["error"]["code"],
        "password_expired"
    );
    let r = c
        .post(app.url("/api/auth/password"))
        .json(&json!({ "username": "strong", "old_password": "Str0ng-Passw0rd", "new_password": "N3w-Str0ng-Passw0rd" }))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        login(&app, &c, "strong", "N3w-Str0ng-Passw0rd")
            .await?
            .status()
            .as_u16(),
        200
    );
    Ok(())
}

#[tokio::test]
async fn demo_accounts_exist_only_while_the_service_runs_with_demo() -> Result<()> {
    let db = TestDb::demo().await?;
    let name = db.name.clone();
    let app = TestApp::spawn(db, Some(echinomap_tests::demo_settings())).await?;
    let c = reqwest::Client::new();
    for (user, _, _) in store::demo_accounts() {
        let r = login(&app, &c, &user, store::DEMO_PASSWORD).await?;
        assert_eq!(r.status().as_u16(), 200, "{user}");
    }
    let vd = format!("vd_{}", store::DEMO_VILLAGE);
    let r = login(&app, &c, &vd, store::DEMO_PASSWORD).await?;
    let me = r.json::<Value>().await?;
    assert_eq!(me["user"]["role"], "village_doctor");
    assert_eq!(me["user"]["jurisdiction"], store::DEMO_VILLAGE);
    drop(app);
    // The same database served without --demo: the published password opens nothing.
    let again = TestApp::spawn(TestDb::reopen(&name).await?, None).await?;
    let r = login(&again, &c, "epi", store::DEMO_PASSWORD).await?;
    assert_eq!(r.status().as_u16(), 401);
    Ok(())
}

#[tokio::test]
async fn a_scan_by_a_role_that_does_not_export_leaves_the_scan_export_as_it_was() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    // The county's epidemiologist publishes a year of human cases.
    epi.get_json(
        "/api/scan?layer=human_cases&from=2025-01-01&to=2025-12-31",
        200,
    )
    .await?;
    let export = |query: &'static str| {
        let planner = planner.clone();
        async move {
            let doc = planner
                .get_json(&format!("/api/export/scan_clusters.geojson{query}"), 200)
                .await?;
            anyhow::Ok(doc["features"].as_array().cloned().unwrap_or_default())
        }
    };
    let county_before = export("").await?;
    assert!(!county_before.is_empty(), "the year's scan found clusters");
    assert!(county_before.iter().all(|f| {
        f["properties"]["layer"] == "human_cases" && f["properties"]["period_from"] == "2025-01-01"
    }));
    let township_before = export("?township=654022100").await?;
    // Others scan an odd layer and period, for the county and for a township: they get their
    // answer, and the exports do not move.
    for (role, jurisdiction) in [
        (Role::Viewer, COUNTY),
        (Role::Vet, COUNTY),
        (Role::TownshipStaff, OWN_TOWNSHIP),
        (Role::Viewer, OWN_TOWNSHIP),
    ] {
        let c = app.user(role, jurisdiction).await?;
        let odd = c
            .get_json(
                "/api/scan?layer=dog_positivity&from=2025-03-01&to=2025-05-31&show=all",
                200,
            )
            .await?;
        assert!(
            odd["features"].as_array().is_some_and(|f| !f.is_empty()),
            "{} of {jurisdiction} gets its scan: {odd}",
            role.as_str()
        );
    }
    assert_eq!(
        export("").await?,
        county_before,
        "the county's export moved"
    );
    assert_eq!(
        export("?township=654022100").await?,
        township_before,
        "the township's export moved"
    );
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM scan_results")
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(kept, 1, "only the epidemiologist's scan is kept");
    Ok(())
}

#[tokio::test]
async fn a_hotspot_grid_of_a_role_that_does_not_export_leaves_the_hotspots_export_as_it_was()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    epi.get_json(
        "/api/hotspots?layer=human_cases&from=2022-01-01&to=2026-12-31&unit=h3&resolution=7",
        200,
    )
    .await?;
    let export = || async {
        let doc = planner
            .get_json("/api/export/hotspots.geojson", 200)
            .await?;
        anyhow::Ok(doc["features"].as_array().cloned().unwrap_or_default())
    };
    let before = export().await?;
    assert!(!before.is_empty(), "the published grid is exported");
    // A viewer and a vet look at odd grids (another layer, resolution and period): answered,
    // and the export does not move.
    for role in [Role::Viewer, Role::Vet] {
        let c = app.user(role, COUNTY).await?;
        let odd = c
            .get_json(
                "/api/hotspots?layer=human_cases&from=2025-03-01&to=2025-05-31&unit=h3&resolution=8",
                200,
            )
            .await?;
        assert!(odd["features"].is_array(), "{odd}");
    }
    assert!(export().await? == before, "the hotspots export moved");
    Ok(())
}

#[tokio::test]
async fn exports_and_ogc_are_for_the_roles_that_take_data_away() -> Result<()> {
    let app = TestApp::with_demo().await?;
    for role in Role::ALL {
        let c = app.user(role, COUNTY).await?;
        for path in [
            "/api/export/villages.csv?period=2025",
            "/api/export/case_counts.geojson?period=2025",
            "/ogc",
            "/ogc/collections",
            "/ogc/collections/villages/items?limit=5",
        ] {
            let r = c.get(path).await?;
            let status = r.status().as_u16();
            let body = r.text().await?;
            if EXPORTERS.contains(&role) {
                assert_eq!(status, 200, "{path} as {}: {body}", role.as_str());
            } else {
                assert_eq!(status, 403, "{path} as {}: {body}", role.as_str());
                let err: Value = serde_json::from_str(&body)?;
                assert_eq!(err["error"]["code"], "forbidden", "{body}");
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_vet_lists_households_without_names_addresses_or_positions() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let vet = app.user(Role::Vet, COUNTY).await?;
    let page = vet.get_json("/api/households?limit=100", 200).await?;
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    assert_vet_household_rows_are_anonymous(&rows);
    // The keys are the ones the register has: roles with case rows see them.
    let epi = app.epi().await?;
    let page = epi.get_json("/api/households?limit=100", 200).await?;
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    assert!(
        rows.iter().any(|r| r.get("head_name").is_some()),
        "the epidemiologist sees the head of household: {page}"
    );
    Ok(())
}

#[tokio::test]
async fn common_and_trivial_passwords_are_refused_in_chinese_and_english() -> Result<()> {
    let app = TestApp::empty().await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let cjk = |m: &str| m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    for (password, says) in [
        ("aaaaaaaaaa", "kinds of characters"),
        ("password12", "commonly used"),
        ("Password12", "commonly used"),
        ("P@ssw0rd2024", "commonly used"),
        ("Woaini1314!", "commonly used"),
        ("Bcdefgh12345", "run of"),
        ("2wsx3edc4RFV", "run of"),
        ("Aaaaaaaaa1", "mostly one character"),
        ("Weak.user-1", "username"),
    ] {
        let err = admin
            .post_json(
                "/api/users",
                &json!({ "username": "weak.user-1", "role": "viewer", "jurisdiction": COUNTY, "password": password }),
                422,
            )
            .await?;
        assert_eq!(err["error"]["details"]["field"], "password", "{err}");
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(says) && cjk(message),
            "{password}: {message}"
        );
    }
    admin
        .post_json(
            "/api/users",
            &json!({ "username": "weak.user-1", "role": "viewer", "jurisdiction": COUNTY, "password": "Tamarisk river 19" }),
            201,
        )
        .await?;
    // A new password passes the same policy.
    let r = app
        .client
        .post(app.url("/api/auth/password"))
        .json(&json!({ "username": "weak.user-1", "old_password": "Tamarisk river 19", "new_password": "password12" }))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 422);
    let err: Value = r.json().await?;
    assert_eq!(err["error"]["details"]["field"], "new_password", "{err}");
    Ok(())
}

/// A service behind a reverse proxy at 127.0.0.1 (the test itself), so that `X-Forwarded-For`
/// stands for the client's address, with logins throttled by `throttle`.
async fn behind_a_proxy(throttle: Throttle) -> Result<TestApp> {
    let db = TestDb::empty().await?;
    TestApp::spawn_with(db, None, |s| {
        s.login = LoginSettings {
            throttle,
            trusted_proxies: vec!["127.0.0.1/32".parse().expect("a CIDR range")],
        };
    })
    .await
}

/// A login as a client at `address`, through the proxy: the client wrote an address of its own
/// choosing into `X-Forwarded-For`, and the proxy appended the one it saw.
async fn login_from(
    app: &TestApp,
    address: &str,
    username: &str,
    password: &str,
) -> Result<reqwest::Response> {
    Ok(app
        .client
        .post(app.url("/api/auth/login"))
        .header("X-Forwarded-For", format!("10.9.8.7, {address}"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await?)
}

/// A 429's `Retry-After`, checked against the JSON error's `details.retry_after_seconds`, with
/// the error's code.
async fn retry_after(r: reqwest::Response) -> Result<(u64, String)> {
    anyhow::ensure!(r.status().as_u16() == 429, "{}", r.status());
    let header: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no Retry-After"))?;
    let body: Value = r.json().await?;
    assert_eq!(
        body["error"]["details"]["retry_after_seconds"].as_u64(),
        Some(header),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("{header} seconds")), "{body}");
    Ok((
        header,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ))
}

#[tokio::test]
async fn failed_logins_from_one_address_do_not_lock_the_admin_out_from_another() -> Result<()> {
    let app = behind_a_proxy(Throttle {
        first_delay_secs: 60,
        ..Throttle::DEFAULT
    })
    .await?;
    let a = "203.0.113.7";
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = login_from(&app, a, "admin", "not-the-password").await?;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // That address waits, even with the right password.
    let (wait, code) =
        retry_after(login_from(&app, a, "admin", TEST_ADMIN_PASSWORD).await?).await?;
    assert_eq!(code, "locked");
    assert!((55..=60).contains(&wait), "{wait}");
    // The admin at another address logs in at once, and so does anyone at the proxy itself.
    let r = login_from(&app, "198.51.100.20", "admin", TEST_ADMIN_PASSWORD).await?;
    assert_eq!(r.status().as_u16(), 200);
    let r = login(&app, &app.client, "admin", TEST_ADMIN_PASSWORD).await?;
    assert_eq!(r.status().as_u16(), 200);
    // The audit says where the failures came from.
    let failed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE username = 'admin' AND action = 'login_failed'
         AND detail->>'address' = '203.0.113.7'",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(failed, 7);
    Ok(())
}

#[tokio::test]
async fn the_wait_after_failed_logins_grows_and_says_how_long() -> Result<()> {
    let app = behind_a_proxy(Throttle {
        free_failures: 2,
        first_delay_secs: 2,
        ..Throttle::DEFAULT
    })
    .await?;
    let a = "203.0.113.8";
    for _ in 0..2 {
        let r = login_from(&app, a, "admin", "not-the-password").await?;
        assert_eq!(r.status().as_u16(), 401);
    }
    // After the free failures: 2 s, then 4 s after the next failure.
    let (first, code) =
        retry_after(login_from(&app, a, "admin", "not-the-password").await?).await?;
    assert_eq!(code, "locked");
    assert!((1..=2).contains(&first), "{first}");
    tokio::time::sleep(std::time::Duration::from_millis(first * 1000 + 300)).await;
    let r = login_from(&app, a, "admin", "not-the-password").await?;
    assert_eq!(r.status().as_u16(), 401, "the wait was over");
    let (second, _) = retry_after(login_from(&app, a, "admin", TEST_ADMIN_PASSWORD).await?).await?;
    assert!(
        second > first && (3..=4).contains(&second),
        "{first} then {second}"
    );
    Ok(())
}

#[tokio::test]
async fn one_address_gets_its_login_attempts_per_minute() -> Result<()> {
    let app = behind_a_proxy(Throttle {
        per_address_per_minute: 4,
        ..Throttle::DEFAULT
    })
    .await?;
    let c = "192.0.2.44";
    // Any names, right or wrong: an address's attempts.
    for n in 0..4 {
        let r = login_from(&app, c, &format!("someone{n}"), "not-the-password").await?;
        assert_eq!(r.status().as_u16(), 401);
    }
    let (wait, code) =
        retry_after(login_from(&app, c, "admin", TEST_ADMIN_PASSWORD).await?).await?;
    assert_eq!(code, "too_many_attempts");
    assert!((1..=60).contains(&wait), "{wait}");
    // Others are not counted with it: another address, and the proxy's own requests.
    let r = login_from(&app, "192.0.2.45", "admin", TEST_ADMIN_PASSWORD).await?;
    assert_eq!(r.status().as_u16(), 200);
    let r = login(&app, &app.client, "admin", TEST_ADMIN_PASSWORD).await?;
    assert_eq!(r.status().as_u16(), 200);
    Ok(())
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() -> Result<()> {
    let db = TestDb::empty().await?;
    // No trusted proxy: every request comes from its peer, 127.0.0.1, whatever it claims.
    let app = TestApp::spawn_with(db, None, |s| {
        s.login.throttle.per_address_per_minute = 3;
    })
    .await?;
    for n in 0..3 {
        let r = login_from(&app, &format!("203.0.113.{n}"), "admin", "not-the-password").await?;
        assert_eq!(r.status().as_u16(), 401);
    }
    let (_, code) =
        retry_after(login_from(&app, "203.0.113.99", "admin", TEST_ADMIN_PASSWORD).await?).await?;
    assert_eq!(code, "too_many_attempts");
    Ok(())
}

/// A phone or a home has a whole IPv6 /64 and picks addresses in it at will: a name's failures
/// are counted by that /64, so guessing from ever new addresses of it still waits; another /64
/// is another client.
#[tokio::test]
async fn a_names_failures_count_by_the_ipv6_64_not_by_the_address() -> Result<()> {
    let app = behind_a_proxy(Throttle {
        first_delay_secs: 600,
        ..Throttle::DEFAULT
    })
    .await?;
    for n in 0..5 {
        let r = login_from(
            &app,
            &format!("2001:db8:7:8::{n:x}"),
            "admin",
            "not-the-password",
        )
        .await?;
        assert_eq!(r.status().as_u16(), 401);
    }
    let (wait, code) =
        retry_after(login_from(&app, "2001:db8:7:8:ffff::1", "admin", TEST_ADMIN_PASSWORD).await?)
            .await?;
    assert!(wait > 500, "{wait} {code}");
    let r = login_from(&app, "2001:db8:7:9::1", "admin", TEST_ADMIN_PASSWORD).await?;
    assert_eq!(r.status().as_u16(), 200);
    // The audit keeps the address itself, not the network.
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'login_failed' AND detail->>'address' = '2001:db8:7:8::3'",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(audited, 1);
    Ok(())
}

#[tokio::test]
async fn users_unlock_on_the_command_line_lets_the_name_in_at_once() -> Result<()> {
    let app = behind_a_proxy(Throttle {
        first_delay_secs: 600,
        ..Throttle::DEFAULT
    })
    .await?;
    let a = "203.0.113.9";
    for _ in 0..5 {
        login_from(&app, a, "admin", "not-the-password").await?;
    }
    let (wait, _) = retry_after(login_from(&app, a, "admin", TEST_ADMIN_PASSWORD).await?).await?;
    assert!(wait > 500, "{wait}");
    let out = std::process::Command::new(echinomap_tests::binary())
        .args(["users", "unlock", "admin"])
        .env("DATABASE_URL", app.db.url())
        .env("ECHINOMAP_LOG", echinomap_tests::TEST_LOG_FILTER)
        .output()?;
    echinomap_tests::keep_log("cli-unlock", &out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("admin unlocked"), "{stdout}");
    let r = login_from(&app, a, "admin", TEST_ADMIN_PASSWORD).await?;
    assert_eq!(r.status().as_u16(), 200);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'user_update' AND detail->>'unlocked' = '1'
         AND detail->>'for' = 'admin'",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(audited, 1);
    Ok(())
}
