//! The server side of the field page (`/field`, docs/FIELD.md): its files, the contacts of a
//! village, and the pinyin search. The page itself is tested in Chromium by `web/e2e/field.mjs`.

use echinomap_programme::auth::Role;
use echinomap_tests::{Result, TestApp};
use serde_json::Value;

const VILLAGE: &str = "654022100200";
const TOWNSHIP: &str = "654022100";
const SIBLING_TOWNSHIP: &str = "654022101";

#[tokio::test]
async fn the_field_page_is_public_revalidates_with_a_304_and_allows_only_its_own_origin()
-> Result<()> {
    let app = TestApp::empty().await?;
    let page = app.get("/field").await?;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str()?;
    assert!(csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"));
    assert!(!csp.contains("unsafe-eval") && !csp.contains("script-src 'self' 'unsafe-inline'"));
    assert_eq!(headers["cache-control"], "no-cache");
    let html = page.text().await?;
    assert!(
        html.contains("<meta name=\"echinomap-routes\""),
        "the route table"
    );
    assert!(html.contains("GET /api/villages/{code}/contacts"));

    let tag = headers["etag"].to_str()?.to_owned();
    let again = app
        .client
        .get(app.url("/field"))
        .header("if-none-match", &tag)
        .send()
        .await?;
    assert_eq!(again.status(), 304);

    let worker = app.get("/field/sw.js").await?;
    assert_eq!(worker.status(), 200);
    assert_eq!(worker.headers()["service-worker-allowed"], "/field");
    assert!(
        worker.headers()["content-type"]
            .to_str()?
            .starts_with("text/javascript")
    );
    for file in ["app.js", "manifest.webmanifest", "icon.svg"] {
        assert_eq!(app.get(&format!("/field/{file}")).await?.status(), 200);
    }
    let missing = app.get_json("/field/missing.js", 404).await?;
    assert_eq!(missing["error"]["code"], "not_found");
    Ok(())
}

/// The field core (web/field-core, shared with the WeChat mini-program) is served as ES modules
/// beside the page, with the page's headers: the same CSP, no-cache and a weak ETag each.
#[tokio::test]
async fn the_field_core_modules_are_served_with_the_page_headers_and_without_comment_lines()
-> Result<()> {
    let app = TestApp::empty().await?;
    let html = app.get("/field").await?.text().await?;
    assert!(html.contains(r#"<script type="module" src="/field/app.js"></script>"#));
    // The page's route table names only what the page asks about, not the dashboard's routes.
    assert!(html.contains("GET /api/worklists/{kind}") && !html.contains("GET /api/users"));
    let imports = page_imports(&app).await?;
    assert!(imports.len() >= 8, "{imports:?}");
    let mut tags = std::collections::HashSet::new();
    for file in imports.iter().map(String::as_str).chain(["coords.js"]) {
        let path = format!("/field/core/{file}");
        let response = app.get(&path).await?;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()?
                .starts_with("text/javascript"),
            "{path}"
        );
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        assert!(
            headers["content-security-policy"]
                .to_str()?
                .contains("default-src 'self'"),
            "{path}"
        );
        let tag = headers["etag"].to_str()?.to_owned();
        assert!(tag.starts_with("W/\""), "{path}: {tag}");
        assert!(tags.insert(tag.clone()), "{path}: one tag per file");
        let body = response.text().await?;
        assert!(body.contains("export "), "{path}");
        // The JSDoc types and notes stay in the repository: not one comment line is sent.
        assert!(
            body.lines()
                .all(|l| !l.trim_start().starts_with("//") && !l.trim_start().starts_with("/**")),
            "{path}"
        );
        let again = app
            .client
            .get(app.url(&path))
            .header("if-none-match", &tag)
            .send()
            .await?;
        assert_eq!(again.status(), 304, "{path}");
    }
    let outbox = app.get("/field/core/outbox.js").await?.text().await?;
    assert!(outbox.contains("export class Outbox") && outbox.contains("'idempotency-key': e.id"));
    // The service worker keeps the modules, so that the page opens offline.
    let worker = app.get("/field/sw.js").await?.text().await?;
    assert!(worker.contains("/field/core/"), "{worker}");
    for missing in ["/field/core/missing.js", "/field/core/..%2Fapp.js"] {
        let body = app.get_json(missing, 404).await?;
        assert_eq!(body["error"]["code"], "not_found", "{missing}");
    }
    Ok(())
}

/// The modules the page imports from the field core, each once: `app.js` at start
/// (`from '/field/core/x.js'`) or after the first view (`import('/field/core/x.js')`), and
/// `entry.js`, which `app.js` imports after the first view.
async fn page_imports(app: &TestApp) -> Result<Vec<String>> {
    let app_js = app.get("/field/app.js").await?.text().await?;
    assert!(app_js.contains("import('/field/entry.js')"));
    let entry_js = app.get("/field/entry.js").await?.text().await?;
    let mut found: Vec<String> = [
        (&app_js, "from '/field/core/"),
        (&app_js, "import('/field/core/"),
        (&entry_js, "from '/field/core/"),
    ]
    .iter()
    .flat_map(|(script, start)| script.split(start).skip(1))
    .filter_map(|rest| rest.split('\'').next())
    .map(str::to_owned)
    .collect();
    found.sort();
    found.dedup();
    Ok(found)
}

/// The worker installs every file of the page under a cache named after the build (the hash of
/// all the files, also in each file's `x-field-build`), so that a new `app.js` never runs with
/// old core modules: its install list covers every module `app.js` imports, at start or later.
#[tokio::test]
async fn the_worker_installs_every_module_of_one_build_under_that_builds_name() -> Result<()> {
    let app = TestApp::empty().await?;
    let worker = app.get("/field/sw.js").await?;
    let build = worker.headers()["x-field-build"].to_str()?.to_owned();
    assert_eq!(build.len(), 16, "{build}");
    assert!(build.chars().all(|c| c.is_ascii_hexdigit()), "{build}");
    let sw = worker.text().await?;
    assert!(sw.contains(&format!("const BUILD = '{build}';")), "{sw}");
    assert!(!sw.contains("__FIELD_BUILD__"));
    assert!(
        sw.contains("`field-shell-${BUILD}`"),
        "the cache is named after the build"
    );
    for path in [
        "/field",
        "/field/app.js",
        "/field/core/text.js",
        "/field/core/outbox.js",
    ] {
        let response = app.get(path).await?;
        assert_eq!(
            response.headers()["x-field-build"],
            build.as_str(),
            "{path}"
        );
    }
    let imports = page_imports(&app).await?;
    // The list the worker installs: `const CORE = ['text', …]`.
    let list = sw
        .split("const CORE = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_default();
    let installed: Vec<String> = list
        .split(',')
        .map(|m| format!("{}.js", m.trim().trim_matches('\'')))
        .collect();
    for module in &imports {
        // Refusals come only online; the worker keeps reasons.js when the page fetches it.
        if module != "reasons.js" {
            assert!(installed.contains(module), "{module} not in {installed:?}");
        }
    }
    for page_file in ["'/field'", "'/field/app.js'", "'/field/entry.js'"] {
        assert!(sw.contains(page_file), "{page_file}");
    }
    Ok(())
}

#[tokio::test]
async fn a_village_lists_its_doctors_then_its_township_staff_and_no_phone_numbers() -> Result<()> {
    let app = TestApp::empty().await?;
    let doctor = app.user(Role::VillageDoctor, VILLAGE).await?;
    let staff = app.user(Role::TownshipStaff, TOWNSHIP).await?;
    let _elsewhere = app.user(Role::TownshipStaff, SIBLING_TOWNSHIP).await?;
    let viewer = app.user(Role::Viewer, "654022").await?;
    let body = viewer
        .get_json(&format!("/api/villages/{VILLAGE}/contacts"), 200)
        .await?;
    assert_eq!(body["village_code"], VILLAGE);
    let items = body["items"].as_array().expect("items");
    let names: Vec<(&str, &str)> = items
        .iter()
        .map(|c| {
            (
                c["username"].as_str().unwrap_or(""),
                c["role"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (doctor.username.as_str(), "village_doctor"),
            (staff.username.as_str(), "township_staff")
        ],
        "{body}"
    );
    for c in items {
        let keys: Vec<&String> = c.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["display_name", "role", "username"], "{c}");
    }

    // Outside the jurisdiction, and unknown, are the same 404.
    let sibling = app.user(Role::Viewer, SIBLING_TOWNSHIP).await?;
    let outside = sibling
        .get_json(&format!("/api/villages/{VILLAGE}/contacts"), 404)
        .await?;
    assert_eq!(outside["error"]["code"], "village_not_found");
    viewer
        .get_json("/api/villages/654022999999/contacts", 404)
        .await?;
    viewer.get_json("/api/villages/12/contacts", 400).await?;
    Ok(())
}

fn codes(body: &Value) -> Vec<&str> {
    body["items"]
        .as_array()
        .map(|xs| xs.iter().filter_map(|v| v["code"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn villages_are_found_by_pinyin_initials_syllables_name_or_code() -> Result<()> {
    let app = TestApp::empty().await?;
    let epi = app.epi().await?;
    for q in ["ngqnl", "NGQNL", "niulu", "宁古齐", "654022100200"] {
        let body = epi.get_json(&format!("/api/villages?q={q}"), 200).await?;
        assert!(codes(&body).contains(&VILLAGE), "q={q}: {body}");
    }
    let body = epi.get_json("/api/villages?q=ngqnl", 200).await?;
    for v in body["items"].as_array().expect("items") {
        assert!(
            v["pinyin_initials"]
                .as_str()
                .is_some_and(|p| p.contains("ngqnl")),
            "{v}"
        );
    }
    // The list ships the syllables too: the phone matches `niulu` offline without a library.
    let body = epi.get_json("/api/villages?q=654022100200", 200).await?;
    let village = &body["items"][0];
    assert_eq!(village["pinyin"], "ningguqiniulucun", "{village}");
    assert_eq!(village["pinyin_initials"], "ngqnlc", "{village}");
    let none = epi.get_json("/api/villages?q=zzzqx", 200).await?;
    assert_eq!(none["total"], 0, "{none}");
    // The township filter and the jurisdiction still apply to a pinyin search.
    let sibling = app.user(Role::Viewer, SIBLING_TOWNSHIP).await?;
    let body = sibling.get_json("/api/villages?q=ngqnl", 200).await?;
    assert!(!codes(&body).contains(&VILLAGE), "{body}");
    Ok(())
}
