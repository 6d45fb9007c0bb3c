//! HTTP hardening (issue 17, items 9, 11 and 13): connection timeouts and the connection cap
//! against raw sockets, the security headers of every kind of answer, and the one JSON error
//! shape for what axum rejects (a NUL or an over-long query parameter on every route, broken
//! JSON, a wrong content type, a body over the limit).

use std::time::{Duration, Instant};

use echinomap_programme::auth::Role;
use echinomap_server::settings::{HttpLimits, Settings};
use echinomap_tests::{Result, TestApp, TestDb};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const VILLAGE: &str = "654022100200";

/// Short timeouts, as a test can wait for them.
fn short(header: u64, idle: u64, body: u64) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        s.http = HttpLimits {
            header_timeout: Duration::from_secs(header),
            idle_timeout: Duration::from_secs(idle),
            body_timeout: Duration::from_secs(body),
            ..HttpLimits::default()
        };
    }
}

/// Waits until the server closes `stream` (EOF or reset), at most `limit`; the time it took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Result<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => anyhow::bail!("still open after {limit:?}"),
            Ok(Ok(0) | Err(_)) => return Ok(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Reads one answer with a `Content-Length` body: its status and body.
async fn read_answer(stream: &mut TcpStream) -> Result<(u16, String)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("no status in {head:?}"))?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .ok_or_else(|| anyhow::anyhow!("no content-length in {head:?}"))?;
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf).await?;
                anyhow::ensure!(n > 0, "closed in the body");
                data.extend_from_slice(&buf[..n]);
            }
            let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
            return Ok((status, body));
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await??;
        anyhow::ensure!(n > 0, "closed before an answer");
        data.extend_from_slice(&buf[..n]);
    }
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

#[tokio::test]
async fn a_half_sent_request_and_a_silent_connection_are_cut_after_the_header_timeout() -> Result<()>
{
    let app = TestApp::spawn_with(TestDb::empty().await?, None, short(1, 30, 30)).await?;
    let mut half = TcpStream::connect(app.addr).await?;
    half.write_all(b"GET /healthz HT").await?;
    let mut silent = TcpStream::connect(app.addr).await?;
    let (half_took, silent_took) = tokio::try_join!(
        closed_within(&mut half, Duration::from_secs(5)),
        closed_within(&mut silent, Duration::from_secs(5)),
    )?;
    for (what, took) in [("half a request line", half_took), ("nothing", silent_took)] {
        assert!(
            took >= Duration::from_millis(800) && took < Duration::from_millis(2500),
            "a connection that sent {what} was closed after {took:?}, expected about 1 s"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_kept_alive_connection_waits_the_idle_timeout_and_a_slow_later_request_the_header_timeout()
-> Result<()> {
    // Header 1 s, idle 4 s: a kept-alive connection outlives the header timeout while idle.
    let app = TestApp::spawn_with(TestDb::empty().await?, None, short(1, 4, 30)).await?;
    let mut conn = TcpStream::connect(app.addr).await?;
    conn.write_all(HEALTH).await?;
    assert_eq!(read_answer(&mut conn).await?.0, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    conn.write_all(HEALTH).await?;
    assert_eq!(
        read_answer(&mut conn).await?.0,
        200,
        "a second request after 2 s idle (more than the header timeout, less than the idle one)"
    );
    let idle = closed_within(&mut conn, Duration::from_secs(8)).await?;
    assert!(
        idle >= Duration::from_millis(3500) && idle < Duration::from_millis(6000),
        "an idle kept-alive connection was closed after {idle:?}, expected about 4 s"
    );

    // A later request that starts but does not finish has the header timeout from its first
    // byte, not the idle timeout.
    let mut conn = TcpStream::connect(app.addr).await?;
    conn.write_all(HEALTH).await?;
    assert_eq!(read_answer(&mut conn).await?.0, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    conn.write_all(b"GET /hea").await?;
    let slow = closed_within(&mut conn, Duration::from_secs(8)).await?;
    assert!(
        slow >= Duration::from_millis(800) && slow < Duration::from_millis(2300),
        "a half-sent second request was closed {slow:?} after its first byte, expected about 1 s"
    );
    Ok(())
}

#[tokio::test]
async fn an_upload_that_keeps_sending_outlives_every_timeout_and_one_that_stalls_is_cut()
-> Result<()> {
    // Header, idle and body timeouts of 1 s; the upload takes about 3 s.
    let app = TestApp::spawn_with(TestDb::empty().await?, None, short(1, 1, 1)).await?;
    let body = json!({"username": "nobody", "password": "wrong-password"}).to_string();
    let head = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut conn = TcpStream::connect(app.addr).await?;
    conn.write_all(head.as_bytes()).await?;
    let started = Instant::now();
    let pieces: Vec<&[u8]> = body.as_bytes().chunks(body.len().div_ceil(6)).collect();
    for piece in pieces {
        tokio::time::sleep(Duration::from_millis(500)).await;
        conn.write_all(piece).await?;
    }
    let (status, answer) = read_answer(&mut conn).await?;
    assert!(started.elapsed() >= Duration::from_millis(2500));
    assert_eq!(
        status, 401,
        "a slow but steady upload is read whole: {answer}"
    );
    let answer: Value = serde_json::from_str(&answer)?;
    assert_eq!(answer["error"]["code"], "invalid_login", "{answer}");

    // The same upload stalling after its first piece: cut after the body timeout.
    let mut conn = TcpStream::connect(app.addr).await?;
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(&body.as_bytes()[..5]).await?;
    let started = Instant::now();
    let (status, answer) = read_answer(&mut conn).await?;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(3),
        "a stalled body was answered after {took:?}, expected about 1 s"
    );
    assert_eq!(status, 400, "{answer}");
    let answer: Value = serde_json::from_str(&answer)?;
    assert!(answer["error"]["message"].is_string(), "{answer}");
    Ok(())
}

#[tokio::test]
async fn over_the_connection_cap_a_normal_request_waits_until_the_slow_clients_time_out()
-> Result<()> {
    // Two connections at once; four slow clients take them and the backlog before a normal one.
    let app = TestApp::spawn_with(TestDb::empty().await?, None, |s| {
        short(1, 30, 30)(s);
        s.http.max_connections = 2;
    })
    .await?;
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(app.addr).await?;
        c.write_all(b"GET /healthz HTTP/1.1\r\nHo").await?;
        slow.push(c);
    }
    let started = Instant::now();
    let r = app
        .client
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(15))
        .send()
        .await?;
    let took = started.elapsed();
    assert_eq!(r.status().as_u16(), 200);
    // Two rounds of slow clients held the two connections for 1 s each.
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "the normal request behind 4 slow clients and a cap of 2 took {took:?}, expected about 2 s"
    );
    for mut c in slow {
        closed_within(&mut c, Duration::from_secs(5)).await?;
    }
    // The cap is free again: an immediate answer.
    let started = Instant::now();
    assert_eq!(app.get("/healthz").await?.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    Ok(())
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The headers every answer carries.
fn assert_security_headers(what: &str, r: &reqwest::Response) {
    let csp = header(r, "content-security-policy");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    // No eval of JavaScript; compiling WebAssembly ('wasm-unsafe-eval', the camera's decoder) is allowed.
    assert!(!csp.contains("'unsafe-eval'"), "{what}: CSP {csp:?}");
    let script_src = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap_or("");
    assert!(!script_src.contains("unsafe-inline"), "{what}: CSP {csp:?}");
    assert_eq!(header(r, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(r, "x-frame-options"), "DENY", "{what}");
    assert_eq!(header(r, "referrer-policy"), "same-origin", "{what}");
    assert_eq!(
        header(r, "strict-transport-security"),
        "",
        "{what}: no HSTS without TLS"
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_patient_data_is_never_stored() -> Result<()>
{
    let app = TestApp::spawn(TestDb::demo().await?, None).await?;
    let epi = app.epi().await?;

    let page = app.get("/").await?;
    assert_security_headers("the dashboard", &page);
    assert_eq!(header(&page, "cache-control"), "no-cache", "the dashboard");
    let html = page.text().await?;

    let field = app.get("/field").await?;
    assert_security_headers("the field page", &field);
    assert!(
        header(&field, "content-security-policy").contains("manifest-src 'self'"),
        "the field page keeps its own CSP"
    );

    let docs = app.get("/api/docs").await?;
    assert_security_headers("the API docs", &docs);
    assert!(
        header(&docs, "content-security-policy").contains("script-src 'sha256-"),
        "the API docs allow their one inline script by its hash"
    );

    for path in ["/api/people?limit=5", "/api/cases?limit=5", "/api/auth/me"] {
        let r = epi.get(path).await?;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_security_headers(path, &r);
        assert_eq!(header(&r, "cache-control"), "no-store", "{path}");
    }
    let error = epi.get("/api/no-such-thing").await?;
    assert_eq!(error.status().as_u16(), 404);
    assert_security_headers("an error", &error);
    assert_eq!(header(&error, "cache-control"), "no-store");

    // Tiles and built assets keep their own caching.
    // The county's tile at zoom 8.
    let tile = epi.get("/tiles/villages/8/185/93.mvt").await?;
    assert_eq!(tile.status().as_u16(), 200);
    assert_security_headers("a tile", &tile);
    assert!(!header(&tile, "etag").is_empty(), "a tile keeps its ETag");
    assert_eq!(header(&tile, "cache-control"), "private, no-cache");
    if let Some(asset) = html
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
    {
        let r = app.get(asset).await?;
        assert_eq!(r.status().as_u16(), 200, "{asset}");
        assert_security_headers(asset, &r);
        assert_eq!(
            header(&r, "cache-control"),
            "public, max-age=31536000, immutable"
        );
    }

    // HSTS only when configured (behind TLS).
    let tls = TestApp::spawn_with(TestDb::empty().await?, None, |s| s.http.hsts = true).await?;
    let r = tls.get("/healthz").await?;
    assert_eq!(header(&r, "strict-transport-security"), "max-age=31536000");
    Ok(())
}

fn assert_json_error(what: &str, status: u16, expected: u16, text: &str) -> Result<Value> {
    let body: Value = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("{what}: status {status}, not JSON ({e}): {text}"))?;
    assert_eq!(status, expected, "{what}: {body}");
    let error = &body["error"];
    assert!(error["code"].is_string(), "{what}: {body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    assert!(error.get("details").is_some(), "{what}: {body}");
    Ok(body)
}

#[tokio::test]
async fn a_nul_or_an_over_long_query_parameter_is_a_json_400_on_every_route() -> Result<()> {
    let app = TestApp::spawn(TestDb::demo().await?, None).await?;
    let epi = app.epi().await?;
    let long = "x".repeat(50_000);
    let mut requests = 0;
    for spec in echinomap_server::http::routes() {
        let path = spec
            .path
            .replace("{code}", VILLAGE)
            .replace("{fid}", "1")
            .replace("{id}", "1")
            .replace("{layer}", "villages")
            .replace("{z}/{x}/{y}", "8/185/93.mvt")
            .replace("{kind}", "deworming")
            .replace("{file}", "x");
        for (query, message) in [
            (
                "q=%00".to_owned(),
                "parameter q contains a NUL character (%00) in its value",
            ),
            (
                format!("q={long}"),
                "parameter q is 50000 characters long, the most is 1000",
            ),
        ] {
            let method = Method::from_bytes(spec.method.as_str().as_bytes())?;
            let r = epi
                .request(method, &format!("{path}?limit=5&{query}"))
                .json(&json!({}))
                .send()
                .await?;
            requests += 1;
            let what = format!("{} {path}?{}", spec.method, &query[..query.len().min(12)]);
            let status = r.status().as_u16();
            let body = assert_json_error(&what, status, 400, &r.text().await?)?;
            assert_eq!(body["error"]["message"], message, "{what}");
            assert_eq!(body["error"]["details"]["field"], "q", "{what}");
        }
    }
    assert!(
        requests > 100,
        "{requests} requests: the route table was walked"
    );
    // The same NUL where PostgreSQL would meet it: a record's field (a 500 before).
    let r = epi
        .request(Method::POST, "/api/dogs")
        .json(&json!({"dog_tag": "NUL-\u{0}-1", "dog_kind": "herding", "registered_on": "2024-01-01", "village_code": VILLAGE}))
        .send()
        .await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    let body = assert_json_error("a NUL in a JSON field", status, 400, &text)?;
    assert_eq!(body["error"]["code"], "invalid_text", "{body}");
    Ok(())
}

#[tokio::test]
async fn broken_json_a_wrong_content_type_and_an_oversized_body_are_json_errors() -> Result<()> {
    let app = TestApp::spawn(TestDb::empty().await?, None).await?;
    let epi = app.user(Role::Epidemiologist, "654022").await?;
    let post = |body: Vec<u8>, content_type: &'static str| {
        epi.request(Method::POST, "/api/dogs")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let r = post(b"{\"name\": ".to_vec(), "application/json").await?;
    let status = r.status().as_u16();
    assert_json_error("broken JSON", status, 400, &r.text().await?)?;

    let r = post(b"{}".to_vec(), "text/plain").await?;
    let status = r.status().as_u16();
    assert_json_error("a wrong content type", status, 415, &r.text().await?)?;

    let mut big = b"{\"name\": \"".to_vec();
    big.resize(3 * 1024 * 1024, b'x');
    big.extend_from_slice(b"\"}");
    let r = post(big, "application/json").await?;
    let status = r.status().as_u16();
    let body = assert_json_error("a 3 MB body", status, 413, &r.text().await?)?;
    assert_eq!(body["error"]["code"], "body_too_large");
    Ok(())
}

/// `GET /slow`: answers after 2.5 s. `GET /stream`: three chunks 1.2 s apart (each pause longer
/// than the idle and header timeouts of the test).
fn slow_routes() -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                "done"
            }),
        )
        .route(
            "/stream",
            get(|| async {
                let (writer, body) = echinomap_server::http::streaming::body();
                tokio::spawn(async move {
                    for i in 0..3u8 {
                        tokio::time::sleep(Duration::from_millis(1200)).await;
                        if writer.send(vec![b'a' + i; 10].into()).await.is_err() {
                            return;
                        }
                    }
                    writer.finish();
                });
                body
            }),
        )
}

#[tokio::test]
async fn a_slow_answer_or_stream_is_never_idle_and_shutdown_waits_for_it() -> Result<()> {
    // The production serve loop with header and idle timeouts of 1 s.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let limits = HttpLimits {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        ..HttpLimits::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(echinomap_server::http::connections::serve(
        listener,
        slow_routes(),
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let started = Instant::now();
    let streamed = client
        .get(format!("http://{addr}/stream"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(streamed, "aaaaaaaaaabbbbbbbbbbcccccccccc");
    assert!(started.elapsed() >= Duration::from_millis(3600));

    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        .await?;
    let started = Instant::now();
    let (status, body) = read_answer(&mut conn).await?;
    assert_eq!((status, body.as_str()), (200, "done"));
    assert!(started.elapsed() >= Duration::from_millis(2500));

    // Shutdown while a slow answer is on its way: it arrives, then the loop returns.
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(());
    let (status, body) = read_answer(&mut conn).await?;
    assert_eq!((status, body.as_str()), (200, "done"));
    tokio::time::timeout(Duration::from_secs(5), server).await??;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening after the drain"
    );
    Ok(())
}
