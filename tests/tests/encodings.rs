//! What a client receives does not depend on what it asks for in `Accept-Encoding`: every
//! answer that a browser, QGIS or a script downloads (exports, OGC items, report and error
//! workbooks, tiles, the field page's files, the dashboard) arrives whole under `identity`,
//! `gzip`, `br`, `deflate` and a browser's `gzip, deflate, br`, and decodes to exactly the
//! identity answer.
//!
//! The exports once ended after their first chunk in every browser: the body stream panicked
//! when the compression layer polled it after its end. The layer test below streams bodies of
//! several chunks, with and without pauses, through the production layers
//! (`echinomap_server::http::with_layers`), so that a body that starts streaming later cannot
//! regress silently.

use std::io::Read;
use std::time::Duration;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use echinomap_programme::auth::Role;
use echinomap_server::http::streaming;
use echinomap_tests::{ApiClient, BinaryServer, Result, TestApp, TestDb, api_client, grow_dogs};
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use serde_json::Value;
use sha2::Digest;

const COUNTY: &str = "654022";
/// `identity` first: the answer the others are compared with. The last is what Chromium
/// sends (zstd is not offered by the server: such a browser gets brotli).
const ENCODINGS: [&str; 5] = [
    "identity",
    "gzip",
    "br",
    "deflate",
    "gzip, deflate, br, zstd",
];

/// A reader of what `raw` encodes, by its `Content-Encoding`.
fn decoder<'a>(encoding: &str, raw: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    Ok(match encoding {
        "identity" => Box::new(raw),
        "gzip" => Box::new(flate2::read::GzDecoder::new(raw)),
        // HTTP's deflate is the zlib format (RFC 9110 §8.4.1.2).
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(raw)),
        "br" => Box::new(brotli::Decompressor::new(raw, 64 * 1024)),
        other => anyhow::bail!("unexpected Content-Encoding {other:?}"),
    })
}

/// `raw` decoded by its `Content-Encoding`.
fn decode(encoding: &str, raw: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    decoder(encoding, raw)?.read_to_end(&mut out)?;
    Ok(out)
}

/// The encodings an `Accept-Encoding` value allows, identity always among them.
fn allowed(accept: &str) -> Vec<&str> {
    let mut v: Vec<&str> = accept.split(',').map(str::trim).collect();
    v.push("identity");
    v
}

/// One answer: status, the headers that matter here, the encoding and the decoded body.
#[derive(Debug)]
struct Got {
    status: u16,
    content_type: Option<String>,
    disposition: Option<String>,
    encoding: String,
    vary: Option<String>,
    body: Vec<u8>,
}

async fn fetch(req: reqwest::RequestBuilder, accept: &str) -> Result<Got> {
    let r = req.header(ACCEPT_ENCODING, accept).send().await?;
    let header = |name| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE);
    let disposition = header(reqwest::header::CONTENT_DISPOSITION);
    let vary = header(VARY);
    let encoding = header(CONTENT_ENCODING).unwrap_or_else(|| "identity".to_owned());
    let status = r.status().as_u16();
    // A body cut short (the fault this file is about) is an error here, not a short body.
    let raw = r.bytes().await?;
    let body = decode(&encoding, &raw)
        .map_err(|e| anyhow::anyhow!("{accept}: {encoding} body of {} bytes: {e}", raw.len()))?;
    anyhow::ensure!(
        allowed(accept).contains(&encoding.as_str()),
        "asked for {accept:?}, answered {encoding:?}"
    );
    Ok(Got {
        status,
        content_type,
        disposition,
        encoding,
        vary,
        body,
    })
}

/// How two answers must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Same {
    /// Byte for byte.
    Bytes,
    /// The same cells on every sheet (a workbook records when it was written).
    Cells,
    /// The same JSON but for one top-level member (OGC's `timeStamp`, the second it was made).
    JsonWithout(&'static str),
}

/// A JSON document without its top-level `member`.
fn json_without(body: &[u8], member: &str) -> Result<Value> {
    let mut doc: Value = serde_json::from_slice(body)?;
    anyhow::ensure!(
        doc.as_object_mut().and_then(|o| o.remove(member)).is_some(),
        "no {member} in the answer"
    );
    Ok(doc)
}

/// Every sheet of an XLSX workbook as rows of strings.
fn cells(xlsx: &[u8]) -> Result<Vec<Vec<Vec<String>>>> {
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx))?;
    let mut sheets = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name)?;
        sheets.push(
            range
                .rows()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect(),
        );
    }
    Ok(sheets)
}

/// Who asks: an account, or nobody (the public pages).
#[derive(Debug, Clone, Copy)]
enum As<'a> {
    User(&'a ApiClient),
    Anonymous(&'a TestApp),
}

impl As<'_> {
    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        match self {
            As::User(c) => c.request(reqwest::Method::GET, path),
            As::Anonymous(app) => app.client.get(app.url(path)),
        }
    }
}

/// GETs `path` once per encoding; each answer is 200 and decodes to the identity answer. With
/// `compressed`, gzip and brotli must really have been used (the field page on 2G depends on
/// it). Returns the identity body.
async fn whole_under_every_encoding(
    who: As<'_>,
    path: &str,
    same: Same,
    compressed: bool,
) -> Result<Vec<u8>> {
    let mut identity: Option<Got> = None;
    for accept in ENCODINGS {
        let got = fetch(who.get(path), accept).await?;
        assert_eq!(
            got.status,
            200,
            "{path} ({accept}): {:?}",
            got.body.get(..300)
        );
        if compressed && accept != "identity" && accept != "deflate" {
            assert_ne!(
                got.encoding, "identity",
                "{path} ({accept}) was not compressed"
            );
        }
        if got.encoding != "identity" {
            assert!(
                got.vary
                    .as_deref()
                    .is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")),
                "{path} ({accept}): a compressed answer must say Vary: Accept-Encoding"
            );
        }
        match &identity {
            None => {
                assert_eq!(accept, "identity");
                assert!(
                    !got.body.is_empty(),
                    "{path}: an empty answer proves nothing"
                );
                identity = Some(got);
            }
            Some(first) => {
                assert_eq!(
                    (&got.content_type, &got.disposition),
                    (&first.content_type, &first.disposition),
                    "{path} ({accept})"
                );
                match same {
                    Same::Bytes => assert!(
                        got.body == first.body,
                        "{path}: {accept} ({}) decodes to {} bytes, identity has {}; first difference at byte {:?}",
                        got.encoding,
                        got.body.len(),
                        first.body.len(),
                        got.body.iter().zip(&first.body).position(|(a, b)| a != b)
                    ),
                    Same::JsonWithout(member) => assert_eq!(
                        json_without(&got.body, member)?,
                        json_without(&first.body, member)?,
                        "{path} ({accept})"
                    ),
                    Same::Cells => {
                        assert_eq!(cells(&got.body)?, cells(&first.body)?, "{path} ({accept})")
                    }
                }
            }
        }
    }
    Ok(identity.map(|g| g.body).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// The layer test: a probe route inside the production layers.

/// Chunk `i` of a probe body: sizes from a few bytes to 100 KiB, each one different.
fn probe_chunk(i: usize) -> Vec<u8> {
    let line = format!("{i:05},村{i},{}\r\n", i * 7919 % 1000);
    line.repeat(1 + (i * 4099) % 4000).into_bytes()
}

/// `GET /probe/{chunks}/{pause_ms}`: `chunks` chunks through [`streaming::body`], `pause_ms`
/// apart. With `fail`, `return` or `panic` for `chunks`: two chunks, then the producer fails,
/// returns without finishing, or panics.
async fn probe(Path((chunks, pause)): Path<(String, u64)>) -> Response {
    let (writer, body) = streaming::body();
    tokio::spawn(async move {
        let n = chunks.parse().unwrap_or(2);
        for i in 0..n {
            if pause > 0 {
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            if writer.send(probe_chunk(i).into()).await.is_err() {
                return;
            }
        }
        match chunks.as_str() {
            "fail" => writer.fail("the probe failed".into()).await,
            "return" => {}
            "panic" => panic!("the probe panics"),
            _ => writer.finish(),
        }
    });
    ([(reqwest::header::CONTENT_TYPE.as_str(), "text/csv")], body).into_response()
}

/// Serves the probe inside `echinomap_server::http::with_layers` on a free loopback port.
async fn serve_probe(db: &TestDb) -> Result<std::net::SocketAddr> {
    let database = echinomap_programme::db::Database::over_pool(db.pool.clone(), "test");
    let programme = echinomap_programme::config::Programme::load(&Default::default())
        .map_err(|e| anyhow::anyhow!("programme settings: {e}"))?;
    let (state, _listener) = echinomap_server::app::app_state(
        &database,
        echinomap_programme::auth::password::PasswordPolicy::Default,
        16,
        programme,
        Default::default(),
        Default::default(),
    );
    let routes = axum::Router::new().route("/probe/{chunks}/{pause}", get(probe));
    let app = echinomap_server::http::with_layers(routes, state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

#[tokio::test]
async fn a_streamed_body_of_many_chunks_arrives_whole_under_every_encoding_through_the_production_layers()
-> Result<()> {
    let db = TestDb::empty().await?;
    let addr = serve_probe(&db).await?;
    let client = reqwest::Client::new();
    // One chunk, a few, many; without pauses (the body is ready before the encoder asks) and
    // with them (the encoder waits for each chunk).
    for (chunks, pause) in [(1, 0), (3, 0), (3, 20), (40, 0), (12, 5)] {
        let expected: Vec<u8> = (0..chunks).flat_map(probe_chunk).collect();
        for accept in ENCODINGS {
            let got = fetch(
                client.get(format!("http://{addr}/probe/{chunks}/{pause}")),
                accept,
            )
            .await?;
            assert_eq!(got.status, 200);
            if accept == "gzip" || accept == "br" {
                assert_eq!(got.encoding, accept, "compression must stay on");
            }
            assert!(
                got.body == expected,
                "{chunks} chunks, {pause} ms apart, {accept}: {} bytes, expected {}",
                got.body.len(),
                expected.len()
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_producer_that_fails_returns_or_panics_midway_is_an_incomplete_download_under_every_encoding()
-> Result<()> {
    let db = TestDb::empty().await?;
    let addr = serve_probe(&db).await?;
    let client = reqwest::Client::new();
    for how in ["fail", "return", "panic"] {
        for accept in ENCODINGS {
            let r = client
                .get(format!("http://{addr}/probe/{how}/5"))
                .header(ACCEPT_ENCODING, accept)
                .send()
                .await?;
            assert_eq!(r.status().as_u16(), 200);
            // Not a shorter file that looks whole: the transfer itself fails.
            assert!(
                r.bytes().await.is_err(),
                "{how}, {accept}: a stopped producer must not end like a complete body"
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The product: every download, as the roles that make it.

/// Stores a hotspot result and a scan, so that their export layers have rows.
async fn compute_hotspots_and_a_scan(epi: &ApiClient) -> Result<()> {
    epi.get_json(
        "/api/hotspots?layer=human_cases&unit=h3&resolution=7&from=2025-01-01&to=2025-12-31",
        200,
    )
    .await?;
    epi.get_json(
        "/api/scan?layer=human_cases&from=2025-03-01&to=2025-05-31",
        200,
    )
    .await?;
    Ok(())
}

/// The rows of an export: GeoJSON features, or CSV lines after the header.
fn export_rows(format: &str, body: &[u8]) -> Result<usize> {
    if format == "geojson" {
        let doc: Value = serde_json::from_slice(body)?;
        Ok(doc["features"].as_array().map_or(0, Vec::len))
    } else {
        let text = std::str::from_utf8(body)?;
        anyhow::ensure!(
            text.starts_with('\u{feff}'),
            "a CSV export starts with a BOM"
        );
        Ok(text.trim_end().lines().count().saturating_sub(1))
    }
}

#[tokio::test]
async fn every_export_layer_and_format_arrives_whole_under_every_encoding() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    compute_hotspots_and_a_scan(&epi).await?;
    for layer in echinomap_programme::exports::LAYERS {
        for format in ["geojson", "csv"] {
            let path = format!("/api/export/{}.{format}?period=2025", layer.name);
            let body = whole_under_every_encoding(As::User(&epi), &path, Same::Bytes, true).await?;
            let rows = export_rows(format, &body)?;
            assert!(rows > 0, "{path}: no rows to compare");
            // Planners read the aggregate layers, suppressed: the same path, other bytes.
            if layer.perm().is_none() {
                let shared =
                    whole_under_every_encoding(As::User(&planner), &path, Same::Bytes, true)
                        .await?;
                assert_eq!(export_rows(format, &shared)?, rows, "{path} as planner");
            }
        }
    }
    // Large: every dog of the county, many 64 KiB chunks (the million dogs: below).
    let dogs =
        whole_under_every_encoding(As::User(&epi), "/api/export/dogs.csv", Same::Bytes, true)
            .await?;
    assert!(dogs.len() > 10 * 64 * 1024, "{} bytes", dogs.len());
    Ok(())
}

#[tokio::test]
async fn gdal_reads_a_gzip_fetched_export() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    let path = "/api/export/villages.geojson?period=2025";
    let identity = fetch(planner.request(reqwest::Method::GET, path), "identity").await?;
    let features = export_rows("geojson", &identity.body)?;
    assert!(features > 50, "{features} villages");
    // The gzip bytes as they came off the wire, into a .gz file that GDAL opens itself.
    let raw = planner
        .request(reqwest::Method::GET, path)
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await?;
    assert_eq!(
        raw.headers().get(CONTENT_ENCODING).map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    let dir = echinomap_tests::shared_tempdir();
    let file = dir.path().join("villages.geojson.gz");
    std::fs::write(&file, raw.bytes().await?)?;
    let out = tokio::process::Command::new("ogrinfo")
        .args(["-ro", "-so", "-al"])
        .arg(format!("/vsigzip/{}", file.display()))
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.trim() == format!("Feature Count: {features}")),
        "ogrinfo does not read {features} features:\n{stdout}"
    );
    Ok(())
}

#[tokio::test]
async fn ogc_items_workbooks_tiles_and_pages_arrive_whole_under_every_encoding() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    compute_hotspots_and_a_scan(&epi).await?;
    // OGC API Features: the items of every collection, as QGIS pages through them.
    let collections = epi.get_json("/ogc/collections", 200).await?;
    let ids: Vec<String> = collections["collections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    assert!(ids.len() >= 5, "{collections}");
    for id in &ids {
        let path = format!("/ogc/collections/{id}/items?limit=1000&datetime=2025-01-01/2025-12-31");
        let body =
            whole_under_every_encoding(As::User(&epi), &path, Same::JsonWithout("timeStamp"), true)
                .await?;
        let doc: Value = serde_json::from_slice(&body)?;
        assert!(
            doc["features"].as_array().is_some_and(|f| !f.is_empty()),
            "{path}: no features to compare"
        );
    }
    // The report forms, each for its example period.
    let forms = epi.get_json("/api/reports", 200).await?;
    let examples: Vec<String> = forms["forms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["example"].as_str().map(str::to_owned))
        .collect();
    assert!(!examples.is_empty(), "{forms}");
    for path in &examples {
        whole_under_every_encoding(As::User(&epi), path, Same::Cells, false).await?;
    }
    // An import with errors, and its error workbook.
    let r = epi
        .request(reqwest::Method::POST, "/api/imports?kind=dogs")
        .body("dog_tag,dog_kind,registered_on,village_code\nEN-1,herding,2024-01-01,999999999999\n")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 422);
    let refused: Value = r.json().await?;
    let report = &refused["error"]["details"];
    let id = report["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no import id: {report}"))?;
    assert!(report["rejected"].as_u64() > Some(0), "{report}");
    whole_under_every_encoding(
        As::User(&epi),
        &format!("/api/imports/{id}/errors.xlsx"),
        Same::Bytes,
        false,
    )
    .await?;
    // The import templates.
    for file in ["dogs.xlsx", "dogs.csv"] {
        whole_under_every_encoding(
            As::User(&epi),
            &format!("/api/imports/templates/{file}"),
            Same::Bytes,
            false,
        )
        .await?;
    }
    // Tiles: every layer over the county (z9 tile 371/186), as the map asks for them.
    let catalog = epi.get_json("/tiles", 200).await?;
    let layers: Vec<(String, bool)> = catalog["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            let period = l["filters"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "period"));
            l["id"].as_str().map(|id| (id.to_owned(), period))
        })
        .collect();
    assert!(layers.len() >= 4, "{catalog}");
    for (layer, period) in &layers {
        let query = if *period { "?period=2025" } else { "" };
        let path = format!("/tiles/{layer}/9/371/186.mvt{query}");
        let body = whole_under_every_encoding(As::User(&epi), &path, Same::Bytes, false).await?;
        assert!(body.len() > 10, "{path}: {} bytes", body.len());
    }
    // The dashboard and the field page, as a phone loads them (no login).
    let index = String::from_utf8(
        whole_under_every_encoding(As::Anonymous(&app), "/", Same::Bytes, true).await?,
    )?;
    let assets: Vec<&str> = index
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert!(!assets.is_empty(), "the dashboard names its assets");
    for asset in assets {
        whole_under_every_encoding(As::Anonymous(&app), asset, Same::Bytes, true).await?;
    }
    for path in [
        "/field",
        "/field/app.js",
        "/field/sw.js",
        "/field/manifest.webmanifest",
        "/field/icon.svg",
    ] {
        whole_under_every_encoding(
            As::Anonymous(&app),
            path,
            Same::Bytes,
            path != "/field/icon.svg",
        )
        .await?;
    }
    Ok(())
}

/// Streams an answer into a digest: the encoded bytes as they arrive, decoded on a thread that
/// reads them from a pipe, so that neither side holds the file.
async fn digest_of(
    client: &ApiClient,
    path: &str,
    accept: &str,
) -> Result<(String, u64, [u8; 32])> {
    let mut r = client
        .request(reqwest::Method::GET, path)
        .header(ACCEPT_ENCODING, accept)
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 200, "{path}: {}", r.status());
    let encoding = r
        .headers()
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_owned();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
    let enc = encoding.clone();
    let digester = std::thread::spawn(move || -> Result<(u64, [u8; 32])> {
        let pipe = ChannelReader {
            rx,
            buf: Vec::new(),
            at: 0,
        };
        let mut reader = decoder(&enc, pipe)?;
        let mut hash = sha2::Sha256::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            hash.update(&buf[..n]);
        }
        Ok((total, hash.finalize().into()))
    });
    let mut received = Ok(());
    loop {
        match r.chunk().await {
            Ok(Some(chunk)) => {
                if tx.send(chunk.to_vec()).is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                received = Err(e);
                break;
            }
        }
    }
    drop(tx);
    let digested = digester
        .join()
        .map_err(|_| anyhow::anyhow!("the decoder thread panicked"))?;
    // A transfer cut short is the failure to report, whatever the decoder made of the rest.
    received.map_err(|e| anyhow::anyhow!("{path} ({accept}): the transfer failed: {e}"))?;
    let (len, digest) = digested?;
    Ok((encoding, len, digest))
}

/// A `Read` over chunks arriving on a channel.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buf.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.buf = next;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[tokio::test]
async fn a_million_dog_export_arrives_whole_under_every_encoding_with_flat_memory() -> Result<()> {
    let db = TestDb::demo().await?;
    grow_dogs(&db, 1_000_000).await?;
    // The real binary, so that its memory is its own (not shared with this test's client).
    let server = BinaryServer::start(&db, "encodings-million").await?;
    let epi = api_client(&db.pool, &server.base, Role::Epidemiologist, COUNTY).await?;
    let baseline = server.peak_rss_kib()?;
    let path = "/api/export/dogs.geojson";
    let (_, identity_len, identity) = digest_of(&epi, path, "identity").await?;
    // About 490 MB.
    assert!(identity_len > 400_000_000, "{identity_len} bytes");
    // A browser's download, then gzip alone (deflate is identity again: the matrix above
    // covers it on a smaller export).
    for accept in ["gzip, deflate, br, zstd", "gzip"] {
        let (encoding, len, digest) = digest_of(&epi, path, accept).await?;
        assert_eq!(encoding, if accept == "gzip" { "gzip" } else { "br" });
        assert_eq!(len, identity_len, "{accept}: decoded length");
        assert!(
            digest == identity,
            "{accept}: decoded bytes differ from identity"
        );
    }
    // Streaming and compressing ~1.5 GB did not make the server hold a file (64 MiB at most
    // above its peak before the first export).
    let peak = server.peak_rss_kib()?;
    assert!(
        peak < baseline + 64 * 1024,
        "the server's peak RSS rose from {baseline} KiB to {peak} KiB"
    );
    Ok(())
}

#[tokio::test]
async fn an_export_whose_query_dies_midway_is_an_incomplete_download_not_a_short_file() -> Result<()>
{
    let db = TestDb::demo().await?;
    grow_dogs(&db, 300_000).await?;
    let server = BinaryServer::start(&db, "encodings-killed").await?;
    let epi = api_client(&db.pool, &server.base, Role::Epidemiologist, COUNTY).await?;
    for accept in ["identity", "gzip, deflate, br, zstd"] {
        let mut r = epi
            .request(reqwest::Method::GET, "/api/export/dogs.csv")
            .header(ACCEPT_ENCODING, accept)
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 200);
        // Rows are arriving (more than the header) and the client then reads no more: the
        // export's statement is running, held by back-pressure. Kill it, as a database restart
        // or an administrator would.
        let mut received = 0;
        while received < 100_000 {
            received += r
                .chunk()
                .await?
                .ok_or_else(|| anyhow::anyhow!("{accept}: the export ended early"))?
                .len();
        }
        let mut killed = 0;
        for _ in 0..50 {
            killed = sqlx::query_scalar::<_, bool>(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()
                   AND backend_type = 'client backend' AND state = 'active'
                   AND query LIKE '%array_to_string%'",
            )
            .fetch_all(&db.pool)
            .await?
            .into_iter()
            .filter(|k| *k)
            .count();
            if killed > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(killed > 0, "{accept}: no running export statement to kill");
        let mut outcome = Ok(());
        loop {
            match r.chunk().await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        assert!(
            outcome.is_err(),
            "{accept}: the download ended like a complete file although its query died"
        );
    }
    Ok(())
}
