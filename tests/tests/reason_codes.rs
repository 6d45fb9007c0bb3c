//! Every refusal carries a machine-readable reason: each row error of every register has a code
//! and an object of parameters, and every code the server can emit (row errors and the
//! top-level `error.code`s) has a sentence in the client (`web/src/reasons.ts`), so that no
//! English sentence of the server has to reach a Chinese screen.

use std::collections::BTreeSet;
use std::path::Path;

use echinomap_programme::auth::Role;
use echinomap_programme::records::parse::ALL_CODES;
use echinomap_programme::records::spec::{Point, SPECS, Ty, Village, by_name};
use echinomap_tests::{ApiClient, Result, TestApp, workspace_root};
use reqwest::Method;
use serde_json::{Map, Value, json};

const COUNTY: &str = "654022";
const TOWNSHIP: &str = "654022100";
/// A village of another township than [`TOWNSHIP`].
const OTHER_VILLAGE: &str = "654022101200";

async fn post(c: &ApiClient, path: &str, body: &Value) -> Result<(u16, Value)> {
    let r = c.request(Method::POST, path).json(body).send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// A value of the type that its parser refuses.
fn invalid(ty: Ty) -> Value {
    match ty {
        Ty::Text => json!("字".repeat(501)),
        Ty::Int { .. } | Ty::Dec { .. } => json!("many"),
        Ty::Date => json!("2024-13-45"),
        Ty::Bool => json!("perhaps"),
        Ty::Enum(_) => json!("no such value"),
        Ty::IdNumber => json!("12345"),
        Ty::Phone => json!("call me"),
    }
}

/// Checks that every row error of a refusal has a known code and object params; returns the
/// codes.
fn row_codes(register: &str, status: u16, body: &Value) -> BTreeSet<String> {
    assert_eq!(status, 422, "{register}: {body}");
    let errors = body["error"]["details"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{register}: no row errors in {body}"));
    assert!(!errors.is_empty(), "{register}: {body}");
    let mut codes = BTreeSet::new();
    for e in errors {
        let code = e["code"].as_str().unwrap_or_default();
        assert!(
            !code.is_empty(),
            "{register}: a row error without code: {e}"
        );
        assert!(
            ALL_CODES.contains(&code),
            "{register}: {code} is not in ALL_CODES"
        );
        assert!(e["params"].is_object(), "{register}: params of {e}");
        assert!(
            e["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{register}: the English reason stays for files: {e}"
        );
        codes.insert(code.to_owned());
    }
    codes
}

#[tokio::test]
async fn every_row_error_of_every_register_carries_a_code_and_its_params() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.user(Role::Epidemiologist, COUNTY).await?;
    let mut seen = BTreeSet::new();
    // The stock ledger has no generic routes (its import's codes are scanned below).
    for spec in SPECS.iter().filter(|s| s.generic_api) {
        let path = format!("/api/{}", spec.name);
        // Every field with a value its type refuses.
        let mut body = Map::new();
        for f in spec.fields {
            body.insert(f.name.to_owned(), invalid(f.ty));
        }
        if matches!(spec.village, Village::Linked { .. }) {
            body.insert("village_code".to_owned(), json!("999999999999"));
        }
        let (status, answer) = post(&epi, &path, &Value::Object(body)).await?;
        let codes = row_codes(spec.name, status, &answer);
        // The first error names the field it is about, and so does the top level.
        assert_eq!(
            answer["error"]["details"]["field"], answer["error"]["details"]["errors"][0]["field"],
            "{answer}"
        );
        seen.extend(codes);
        // Nothing at all: every required field is missing.
        let (status, answer) = post(&epi, &path, &json!({})).await?;
        let codes = row_codes(spec.name, status, &answer);
        if spec.fields.iter().any(|f| f.required) {
            assert!(codes.contains("required"), "{}: {answer}", spec.name);
        }
        seen.extend(codes);
        // A key the register does not have: refused as a whole, with the field and a code.
        let (status, answer) = post(&epi, &path, &json!({ "no_such_field": 1 })).await?;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"]["code"], "unknown_field", "{answer}");
        assert_eq!(answer["error"]["details"]["field"], "no_such_field");
        assert!(answer["error"]["details"]["known"].is_array(), "{answer}");
    }
    for code in [
        "too_long",
        "not_a_number",
        "bad_date",
        "bad_bool",
        "bad_enum",
        "id_number_length",
        "bad_phone",
        "village_not_found",
        "required",
    ] {
        assert!(
            seen.contains(code),
            "no register refused with {code}: {seen:?}"
        );
    }

    // The parameters say what the client words: the values an enumeration takes, a range.
    let (status, answer) = post(
        &epi,
        "/api/dogs",
        &json!({ "dog_tag": "RC-1", "dog_kind": "cat", "registered_on": "2024-01-01",
                 "birth_year": 1800, "village_code": OTHER_VILLAGE }),
    )
    .await?;
    row_codes("dogs", status, &answer);
    let errors = answer["error"]["details"]["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_field = |f: &str| {
        errors
            .iter()
            .find(|e| e["field"] == f)
            .cloned()
            .unwrap_or_else(|| panic!("no error at {f}: {answer}"))
    };
    assert_eq!(by_field("dog_kind")["code"], "bad_enum");
    assert_eq!(
        by_field("dog_kind")["params"]["expected"],
        json!(["domestic_tethered", "domestic_semi", "herding", "stray"])
    );
    assert_eq!(by_field("birth_year")["code"], "out_of_range");
    assert_eq!(
        by_field("birth_year")["params"],
        json!({ "min": 1990, "max": 2100 })
    );

    // A rule across fields: its own code, the fields it names as parameters.
    let (status, answer) = post(
        &epi,
        "/api/faecal_tests",
        &json!({ "sample_id": "RC-S1", "sampled_on": "2024-05-02", "tested_on": "2024-05-01",
                 "result": "negative", "village_code": OTHER_VILLAGE }),
    )
    .await?;
    row_codes("faecal_tests", status, &answer);
    let e = &answer["error"]["details"]["errors"][0];
    assert_eq!(e["code"], "date_order", "{answer}");
    assert_eq!(
        e["params"],
        json!({ "first": "sampled_on", "second": "tested_on" })
    );

    // The slaughter table's own rules are said by the parser, on their field, before the
    // database would refuse the row with no field named: an infected animal has its organ, a
    // disposal done has its method.
    let point: String = sqlx::query_scalar("SELECT code FROM slaughter_points ORDER BY id LIMIT 1")
        .fetch_one(&app.db.pool)
        .await?;
    for (organ, infected, done, method, code, field) in [
        ("none", 2, false, "none", "organ_matches_infected", "organ"),
        ("liver", 0, false, "none", "organ_matches_infected", "organ"),
        (
            "none",
            0,
            true,
            "none",
            "disposal_done_needs_method",
            "disposal_method",
        ),
    ] {
        let (status, answer) = post(
            &epi,
            "/api/slaughter_inspections",
            &json!({ "point_code": point, "inspected_on": "2024-05-02", "species": "sheep",
                     "slaughtered": 10, "infected": infected, "organ": organ,
                     "disposal_method": method, "disposal_done": done }),
        )
        .await?;
        row_codes("slaughter_inspections", status, &answer);
        let e = &answer["error"]["details"]["errors"][0];
        assert_eq!(
            (e["code"].as_str(), e["field"].as_str()),
            (Some(code), Some(field)),
            "{answer}"
        );
    }

    // A reference that names nothing: what it looked for and by which key.
    let (status, answer) = post(
        &epi,
        "/api/dewormings",
        &json!({ "dog_tag": "RC-NO-SUCH-DOG", "dosed_on": "2024-05-01" }),
    )
    .await?;
    row_codes("dewormings", status, &answer);
    let e = &answer["error"]["details"]["errors"][0];
    assert_eq!(e["code"], "reference_not_found", "{answer}");
    assert_eq!(
        e["params"],
        json!({ "what": "dogs", "key": "dog_tag", "value": "RC-NO-SUCH-DOG" })
    );

    // A natural key that exists: 409 with the key's field and the record that has it.
    let dog = json!({ "dog_tag": "RC-DUP", "dog_kind": "herding", "registered_on": "2024-01-01",
                      "village_code": OTHER_VILLAGE });
    let (status, created) = post(&epi, "/api/dogs", &dog).await?;
    assert_eq!(status, 201, "{created}");
    let (status, answer) = post(&epi, "/api/dogs", &dog).await?;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "duplicate_record", "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "dog_tag", "{answer}");
    assert_eq!(answer["error"]["details"]["id"], created["id"], "{answer}");

    // Outside the jurisdiction: the village and the jurisdiction as parameters.
    let ts = app.user(Role::TownshipStaff, TOWNSHIP).await?;
    let (status, answer) = post(
        &ts,
        "/api/dogs",
        &json!({ "dog_tag": "RC-2", "dog_kind": "herding", "registered_on": "2024-01-01",
                 "village_code": OTHER_VILLAGE }),
    )
    .await?;
    row_codes("dogs", status, &answer);
    let e = &answer["error"]["details"]["errors"][0];
    assert_eq!(e["code"], "outside_jurisdiction", "{answer}");
    assert_eq!(
        e["params"],
        json!({ "village": OTHER_VILLAGE, "jurisdiction": TOWNSHIP })
    );
    // A register of the whole county, written by a township: a specific 403 code.
    let (status, answer) = post(
        &ts,
        "/api/stock_items",
        &json!({ "item_code": "RC-I", "item_name": "x", "item_kind": "drug", "unit": "片" }),
    )
    .await?;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "county_register", "{answer}");

    // The import report carries the same codes and params.
    let r = epi
        .request(Method::POST, "/api/imports?kind=dogs&format=csv")
        .body("dog_tag,dog_kind,registered_on,village_code\nRC-3,cat,2024-01-01,654022100200\n")
        .send()
        .await?;
    let status = r.status().as_u16();
    let report: Value = r.json().await?;
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["error"]["code"], "import_refused", "{report}");
    let e = &report["error"]["details"]["errors"][0];
    assert_eq!(e["code"], "bad_enum", "{report}");
    assert!(e["params"]["expected"].is_array(), "{report}");
    Ok(())
}

/// The code written as a string literal at the start of `s` (after blanks), if any.
fn literal_at(s: &str) -> Option<String> {
    let code = s.trim_start().strip_prefix('"')?.split('"').next()?;
    let ok = code
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && code.starts_with(|c: char| c.is_ascii_lowercase());
    ok.then(|| code.to_owned())
}

/// The codes written as string literals right after each `pattern` in `source`.
fn literals_after(source: &str, pattern: &str) -> Vec<String> {
    source
        .match_indices(pattern)
        .filter_map(|(i, _)| literal_at(&source[i + pattern.len()..]))
        .collect()
}

/// Every error code in one source file (its tests left out): the code arguments of the error
/// constructors, `code:` fields, the codes of the HTTP error mapping and of the import's file
/// errors.
fn codes_in(source: &str) -> BTreeSet<String> {
    let source = source.split("#[cfg(test)]").next().unwrap_or(source);
    let mut codes = BTreeSet::new();
    for pattern in [
        "code: ",
        "\"code\": ",
        "not_found(",
        "bad_request(",
        "unauthorized(",
        "error_body(",
        "forbidden_because(",
        "file_error(",
        "Reason::new(",
        "Reason::plain(",
    ] {
        codes.extend(literals_after(source, pattern));
    }
    // `field_refused(field, "code", ...)`.
    for (i, _) in source.match_indices("field_refused(") {
        if let Some((_, rest)) = source[i..].split_once(',') {
            codes.extend(literal_at(rest));
        }
    }
    // The status → code tables: `StatusCode::X,\n "code"` and `StatusCode::X => "code"`.
    for (i, _) in source.match_indices("StatusCode::") {
        let rest = &source[i + "StatusCode::".len()..];
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_uppercase() || c == '_');
        let rest = rest.trim_start();
        let rest = rest
            .strip_prefix(',')
            .or_else(|| rest.strip_prefix("=>"))
            .unwrap_or("");
        codes.extend(literal_at(rest));
    }
    // `let code = match e { … => "code", … };` (the import's file errors).
    for (i, _) in source.match_indices("let code = match") {
        let block = &source[i..];
        let block = &block[..block.find("};").unwrap_or(block.len())];
        codes.extend(literals_after(block, "=> "));
    }
    codes
}

fn rust_sources(dir: &Path, out: &mut Vec<(String, String)>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_sources(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.display().to_string(), std::fs::read_to_string(&path)?));
        }
    }
    Ok(())
}

#[test]
fn every_code_the_server_emits_has_a_sentence_in_the_client() -> Result<()> {
    let root = workspace_root();
    // Error reasons are worded in reasons.ts; the hotspot analyses' diagnoses (why nothing is
    // significant, what would help) in map/hotspots.ts, in the same `code: (params) =>` form.
    let reasons = std::fs::read_to_string(root.join("web/src/reasons.ts"))?
        + &std::fs::read_to_string(root.join("web/src/map/hotspots.ts"))?;
    let mut sources = Vec::new();
    rust_sources(&root.join("server/src"), &mut sources)?;
    rust_sources(&root.join("programme/src"), &mut sources)?;
    let mut emitted: BTreeSet<String> = ALL_CODES.iter().map(|c| (*c).to_owned()).collect();
    for (_, source) in &sources {
        emitted.extend(codes_in(source));
    }
    // The scan finds the codes it must: row codes, top-level codes of every kind of source.
    for known in [
        "required",
        "date_order",
        "invalid_record",
        "duplicate_record",
        "county_register",
        "import_refused",
        "bad_headers",
        "not_the_format",
        "query_timeout",
        "method_not_allowed",
        "invalid_login",
        "unknown_field",
    ] {
        assert!(
            emitted.contains(known),
            "the scan missed {known}: {emitted:?}"
        );
    }
    let missing: Vec<&String> = emitted
        .iter()
        .filter(|c| !reasons.contains(&format!("\n  {c}: (")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes the server emits without a sentence in web/src/reasons.ts (or map/hotspots.ts): {missing:?}"
    );
    // Every field a parameter or a row error may name has its label.
    let mut fields: BTreeSet<&str> = ["village_code", "village", "township", "lon", "lat"].into();
    for spec in SPECS {
        fields.extend(spec.fields.iter().map(|f| f.name));
    }
    let unlabelled: Vec<&&str> = fields
        .iter()
        .filter(|f| {
            !reasons.contains(&format!(" {f}: [")) && !reasons.contains(&format!("\n  {f}: ["))
        })
        .collect();
    assert!(
        unlabelled.is_empty(),
        "fields without a label in web/src/reasons.ts FIELDS: {unlabelled:?}"
    );
    Ok(())
}

/// The registers the phones write (`/field` and the mini-program queue entries of these).
const PHONE_REGISTERS: [&str; 3] = ["dewormings", "stray_dog_events", "slaughter_inspections"];

/// The field core words a refused phone entry itself (`web/field-core/reasons.js`, a small copy
/// of the dashboard's sentences for the codes a phone can meet): every code a write of the
/// phones' registers can be refused with, derived from their specs, has its sentence there, and
/// every field of theirs its label.
#[test]
fn every_refusal_of_a_phone_entry_has_a_sentence_in_the_field_core() -> Result<()> {
    let reasons = std::fs::read_to_string(workspace_root().join("web/field-core/reasons.js"))?;
    // The record as a whole and its JSON body (`records::one`), whatever the register.
    let mut codes: BTreeSet<&str> = [
        "invalid_record",
        "duplicate_record",
        "unknown_field",
        "bad_json_value",
        "invalid_body",
        "invalid_json",
        "invalid_idempotency_key",
        "forbidden",
        "csrf",
    ]
    .into();
    let mut fields: BTreeSet<&str> = BTreeSet::new();
    for name in PHONE_REGISTERS {
        let spec = by_name(name).unwrap_or_else(|| panic!("no register {name}"));
        let mut row: BTreeSet<&str> = BTreeSet::new();
        for f in spec.fields {
            fields.insert(f.name);
            if f.required {
                row.insert("required");
            }
            row.extend(match f.ty {
                Ty::Text => &["too_long"][..],
                Ty::Int { .. } => &["not_a_number", "not_whole", "out_of_range"],
                Ty::Dec { .. } => &["not_a_number", "out_of_range"],
                Ty::Date => &["bad_date"],
                Ty::Bool => &["bad_bool"],
                Ty::Enum(_) => &["bad_enum"],
                Ty::IdNumber => &[
                    "id_number_length",
                    "id_number_checksum",
                    "id_number_birth_date",
                    "id_number_region",
                ],
                Ty::Phone => &["bad_phone"],
            });
        }
        row.extend(spec.checks.iter().map(|c| c.code));
        if !spec.refs.is_empty() {
            row.insert("reference_not_found");
        }
        if let Village::Linked { required, .. } = spec.village {
            // The link fields: a code, a name and its township, or a position.
            fields.extend(["village_code", "village", "township", "lon", "lat"]);
            row.extend([
                "required",
                "not_a_number",
                "bad_code",
                "village_not_found",
                "township_not_found",
                "village_ambiguous",
                "village_too_far",
                "no_villages",
                "outside_county",
                "bad_coordinate",
                "lat_without_lon",
                "lon_without_lat",
                "outside_jurisdiction",
            ]);
            if required {
                row.insert("village_required");
            }
        }
        if matches!(spec.point, Point::Required) {
            row.insert("position_required");
        }
        for code in &row {
            assert!(ALL_CODES.contains(code), "{name}: {code} is not a row code");
        }
        codes.extend(row);
    }
    let missing: Vec<&&str> = codes
        .iter()
        .filter(|c| !reasons.contains(&format!("\n  {c}: (")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes of the phones' registers without a sentence in web/field-core/reasons.js: {missing:?}"
    );
    let unlabelled: Vec<&&str> = fields
        .iter()
        .filter(|f| {
            !reasons.contains(&format!(" {f}: [")) && !reasons.contains(&format!("\n  {f}: ["))
        })
        .collect();
    assert!(
        unlabelled.is_empty(),
        "fields of the phones' registers without a label in web/field-core/reasons.js: {unlabelled:?}"
    );
    Ok(())
}
