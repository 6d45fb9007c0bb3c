//! `GET /metrics` (issue 19, item 8): the Prometheus text a scraper on the host reads without
//! credentials, requests counted by route template (never the raw path, which holds ids and
//! codes), counters that move with the requests, the gauges read at the scrape (database, pools,
//! tile cache, imports, data versions, the last backup), and who may read it: a loopback peer
//! not forwarded by a proxy, or an administrator from anywhere.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use echinomap_programme::auth::Role;
use echinomap_tests::{Result, TestApp, TestDb};

const COUNTY: &str = "654022";
const VILLAGE: &str = "654022100200";
const TILE: &str = "/tiles/villages/8/185/93.mvt";
const TILE_ROUTE: &str = "/tiles/{layer}/{z}/{x}/{y}";

/// One parsed exposition: every sample by its name and labels (as written), and the type each
/// family declared.
#[derive(Debug, Default)]
struct Exposition {
    samples: BTreeMap<String, BTreeMap<String, f64>>,
    types: BTreeMap<String, String>,
}

impl Exposition {
    /// The value of `name` with exactly these labels (in the order written).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let key: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.samples.get(name)?.get(&key.join(",")).copied()
    }

    fn label_sets(&self, name: &str) -> Vec<String> {
        self.samples
            .get(name)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// Parses the Prometheus text format (0.0.4) strictly: `# HELP` and `# TYPE` comments, then
/// samples `name{k="v",…} value`, each sample's family typed before it, label values with their
/// escapes, numbers that parse. Any other line is an error.
fn parse(text: &str) -> Result<Exposition> {
    let mut out = Exposition::default();
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars().enumerate().all(|(i, c)| {
                c == '_' || c == ':' || c.is_ascii_alphabetic() || i > 0 && c.is_ascii_digit()
            })
    };
    for (n, line) in text.lines().enumerate() {
        let at = || format!("line {}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.splitn(3, ' ');
            let (kind, name, what) = (words.next(), words.next(), words.next());
            anyhow::ensure!(
                matches!(kind, Some("HELP" | "TYPE")) && name.is_some_and(is_name),
                "{}",
                at()
            );
            if kind == Some("TYPE") {
                let what = what.unwrap_or_default();
                anyhow::ensure!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&what),
                    "{}",
                    at()
                );
                out.types
                    .insert(name.unwrap_or_default().to_owned(), what.to_owned());
            }
            continue;
        }
        anyhow::ensure!(!line.trim().is_empty(), "{}: empty line", at());
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| anyhow::anyhow!("{}", at()))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|e| anyhow::anyhow!("{}: {e}", at()))?,
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, String::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .ok_or_else(|| anyhow::anyhow!("{}: no closing brace", at()))?;
                (
                    name,
                    parse_labels(body).map_err(|e| anyhow::anyhow!("{}: {e}", at()))?,
                )
            }
        };
        anyhow::ensure!(is_name(name), "{}: bad name", at());
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| out.types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        anyhow::ensure!(
            out.types.contains_key(family),
            "{}: the family {family} has no TYPE before it",
            at()
        );
        let previous = out
            .samples
            .entry(name.to_owned())
            .or_default()
            .insert(labels, value);
        anyhow::ensure!(previous.is_none(), "{}: a repeated series", at());
    }
    Ok(out)
}

/// `k="v",k2="v2"` → `k=v,k2=v2` (values unescaped).
fn parse_labels(body: &str) -> Result<String> {
    let mut pairs = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .ok_or_else(|| anyhow::anyhow!("a label without =\""))?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => anyhow::bail!("a bad escape {other:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => anyhow::bail!("an unterminated label value"),
            }
        };
        pairs.push(format!("{key}={value}"));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    Ok(pairs.join(","))
}

async fn scrape(client: &reqwest::Client, base: &str) -> Result<(u16, String)> {
    let r = client.get(format!("{base}/metrics")).send().await?;
    let status = r.status().as_u16();
    if status == 200 {
        let ct = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        anyhow::ensure!(
            ct.starts_with("text/plain") && ct.contains("version=0.0.4"),
            "content type {ct}"
        );
    }
    Ok((status, r.text().await?))
}

async fn local_scrape(app: &TestApp) -> Result<Exposition> {
    let (status, text) = scrape(&app.client, &format!("http://{}", app.addr)).await?;
    anyhow::ensure!(status == 200, "a local scrape answered {status}: {text}");
    parse(&text)
}

const REQUESTS: &str = "echinomap_http_requests_total";

#[tokio::test]
async fn a_local_scrape_counts_requests_by_route_template_never_by_raw_path() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let village_route = [
        ("route", "/api/villages/{code}"),
        ("method", "GET"),
        ("status", "200"),
    ];
    let before = local_scrape(&app).await?;
    let seen_before = before.value(REQUESTS, &village_route).unwrap_or(0.0);
    for _ in 0..3 {
        epi.get_json(&format!("/api/villages/{VILLAGE}"), 200)
            .await?;
    }
    for _ in 0..2 {
        let r = epi.get(TILE).await?;
        anyhow::ensure!(r.status().is_success(), "the tile answered {}", r.status());
    }
    let missing = app.get("/no/such/path/654022100200").await?;
    assert_eq!(missing.status().as_u16(), 404);
    let (_, text) = scrape(&app.client, &format!("http://{}", app.addr)).await?;
    let after = parse(&text)?;

    // Counted by template: the village asked for appears nowhere, nor the unknown path.
    assert_eq!(
        after.value(REQUESTS, &village_route).unwrap_or(0.0) - seen_before,
        3.0,
        "{:?}",
        after.label_sets(REQUESTS)
    );
    assert!(
        !text.contains(VILLAGE) && !text.contains("/no/such"),
        "a raw path in the metrics:\n{text}"
    );
    assert!(
        after
            .value(
                REQUESTS,
                &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
            )
            .is_some_and(|n| n >= 1.0),
        "{:?}",
        after.label_sets(REQUESTS)
    );
    // Tiles count under the tile route, whether the fast path or the router answered them; the
    // second request of the same tile came from the tile cache.
    let tiles: f64 = after
        .samples
        .get(REQUESTS)
        .into_iter()
        .flatten()
        .filter(|(labels, _)| labels.starts_with(&format!("route={TILE_ROUTE},method=GET,")))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(tiles, 2.0, "{:?}", after.label_sets(REQUESTS));
    assert!(
        after
            .value("echinomap_tile_cache_hits_total", &[])
            .is_some_and(|n| n >= 1.0),
        "no tile cache hit:\n{text}"
    );
    // The latency histogram counts what the counter counts, in its buckets up to +Inf.
    let village_latency = [("route", "/api/villages/{code}"), ("method", "GET")];
    let count = after
        .value(
            "echinomap_http_request_duration_seconds_count",
            &village_latency,
        )
        .unwrap_or(0.0);
    let every_status: f64 = after
        .samples
        .get(REQUESTS)
        .into_iter()
        .flatten()
        .filter(|(labels, _)| labels.starts_with("route=/api/villages/{code},method=GET,"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(count, every_status);
    assert_eq!(
        after
            .types
            .get("echinomap_http_request_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    let inf = after.value(
        "echinomap_http_request_duration_seconds_bucket",
        &[
            ("route", "/api/villages/{code}"),
            ("method", "GET"),
            ("le", "+Inf"),
        ],
    );
    assert_eq!(inf, Some(count), "{text}");

    // One more request moves its counter by exactly one.
    epi.get_json(&format!("/api/villages/{VILLAGE}"), 200)
        .await?;
    let again = local_scrape(&app).await?;
    assert_eq!(
        again.value(REQUESTS, &village_route),
        after.value(REQUESTS, &village_route).map(|n| n + 1.0)
    );

    // What is read at the scrape.
    assert_eq!(again.value("echinomap_up", &[]), Some(1.0));
    assert_eq!(
        again.value(
            "echinomap_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    for pool in ["requests", "tiles", "long"] {
        let size = again.value("echinomap_db_pool_connections", &[("pool", pool)]);
        let idle = again.value("echinomap_db_pool_idle_connections", &[("pool", pool)]);
        let max = again.value("echinomap_db_pool_max_connections", &[("pool", pool)]);
        assert!(
            matches!((size, idle, max), (Some(s), Some(i), Some(m)) if i <= s && s <= m && m > 0.0),
            "pool {pool}: {size:?} {idle:?} {max:?}"
        );
    }
    assert!(
        again
            .value("echinomap_data_version", &[("table", "dogs")])
            .is_some_and(|v| v > 0.0),
        "{:?}",
        again.label_sets("echinomap_data_version")
    );
    for status in ["succeeded", "refused", "dry_run"] {
        assert!(
            again
                .value("echinomap_imports_finished", &[("status", status)])
                .is_some(),
            "{:?}",
            again.label_sets("echinomap_imports_finished")
        );
    }
    assert!(again.value("echinomap_import_jobs_running", &[]).is_some());
    assert!(
        again
            .value("echinomap_database_size_bytes", &[])
            .is_some_and(|b| b > 1e6)
    );
    Ok(())
}

/// A local address of this machine that is not a loopback one (the address the kernel would
/// send from), if it has one.
fn non_loopback_address() -> Option<IpAddr> {
    ["192.0.2.1:9", "10.255.255.255:9", "8.8.8.8:53"]
        .iter()
        .find_map(|target| {
            let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
            // A UDP connect sends nothing: it only picks the route and the source address.
            socket.connect(target).ok()?;
            let ip = socket.local_addr().ok()?.ip();
            (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
        })
}

#[tokio::test]
async fn a_trusted_proxy_on_this_machine_is_never_local_even_without_forwarding_headers()
-> Result<()> {
    // A TCP-level forwarder (nginx `stream`, HAProxy in TCP mode, `ssh -L`) adds no header: when
    // the loopback address is a trusted proxy, its requests may come from anywhere.
    let app = TestApp::spawn_with(TestDb::empty().await?, None, |s| {
        s.login.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a CIDR range")];
    })
    .await?;
    let local = format!("http://127.0.0.1:{}", app.addr.port());
    let (status, body) = scrape(&reqwest::Client::new(), &local).await?;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("login_required"), "{body}");
    let admin = app.user(Role::Admin, COUNTY).await?;
    let r = admin
        .client
        .get(format!("{local}/metrics"))
        .bearer_auth(&admin.token)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200, "an admin's token still opens it");
    parse(&r.text().await?)?;
    Ok(())
}

#[tokio::test]
async fn a_remote_caller_needs_an_admin_and_a_forwarded_request_is_not_local() -> Result<()> {
    let app = TestApp::spawn_with(TestDb::empty().await?, None, |s| {
        s.listen = "0.0.0.0:0".parse().unwrap_or(s.listen);
    })
    .await?;
    let local = format!("http://127.0.0.1:{}", app.addr.port());
    let anonymous = reqwest::Client::new();
    let admin = app.user(Role::Admin, COUNTY).await?;
    let viewer = app.user(Role::Viewer, COUNTY).await?;

    // On this machine: no credentials needed.
    assert_eq!(scrape(&anonymous, &local).await?.0, 200);
    // Through a proxy on this machine (nginx adds these): not local, whoever the proxy names.
    for (header, value) in [
        ("x-forwarded-for", "127.0.0.1"),
        ("forwarded", "for=127.0.0.1"),
        ("x-real-ip", "127.0.0.1"),
    ] {
        let r = anonymous
            .get(format!("{local}/metrics"))
            .header(header, value)
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 401, "{header}: {value}");
        let r = viewer
            .client
            .get(format!("{local}/metrics"))
            .bearer_auth(&viewer.token)
            .header(header, value)
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 403, "a viewer through a proxy");
        let r = admin
            .client
            .get(format!("{local}/metrics"))
            .bearer_auth(&admin.token)
            .header(header, value)
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 200, "an admin through a proxy");
    }

    // From another address of this machine: a remote peer, not a loopback one.
    let Some(ip) = non_loopback_address() else {
        eprintln!("this machine has no address besides loopback: the remote peer part is skipped");
        return Ok(());
    };
    let remote = format!("http://{}", SocketAddr::new(ip, app.addr.port()));
    let (status, body) = scrape(&anonymous, &remote).await?;
    assert_eq!(status, 401, "anonymous from {ip}: {body}");
    assert!(body.contains("login_required"), "{body}");
    let r = viewer
        .client
        .get(format!("{remote}/metrics"))
        .bearer_auth(&viewer.token)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403, "a viewer from {ip}");
    let r = admin
        .client
        .get(format!("{remote}/metrics"))
        .bearer_auth(&admin.token)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200, "an admin from {ip}");
    parse(&r.text().await?)?;
    Ok(())
}

#[tokio::test]
async fn the_last_backups_time_and_age_come_from_the_backup_directory() -> Result<()> {
    let data = tempfile::tempdir()?;
    // `--backup-dir` elsewhere than DATA_DIR/backups, not made yet (no backup so far).
    let elsewhere = tempfile::tempdir()?;
    let backups = elsewhere.path().join("echinomap/backups");
    let app = TestApp::spawn_with(TestDb::empty().await?, None, |s| {
        s.data_dir = data.path().to_path_buf();
        s.backup_dir = Some(backups.clone());
    })
    .await?;

    // None yet: the time is 0, so that `time() - timestamp > 26 h` fires.
    let none = local_scrape(&app).await?;
    assert_eq!(none.value("echinomap_backup_files", &[]), Some(0.0));
    assert_eq!(
        none.value("echinomap_backup_last_timestamp_seconds", &[]),
        Some(0.0)
    );
    assert_eq!(none.value("echinomap_backup_last_age_seconds", &[]), None);
    // Where the backups will be: measured before the directory exists.
    assert!(
        none.value("echinomap_filesystem_avail_bytes", &[("dir", "backup")])
            .is_some()
    );

    std::fs::create_dir_all(&backups)?;
    // Backups written where the default would be are not the configured directory's.
    std::fs::create_dir_all(data.path().join("backups"))?;
    std::fs::write(
        data.path()
            .join("backups")
            .join(echinomap_programme::backup::file_name(chrono::Utc::now())),
        b"",
    )?;

    let taken = chrono::Utc::now() - chrono::Duration::hours(30);
    let older = taken - chrono::Duration::days(1);
    for at in [older, taken] {
        std::fs::write(
            backups.join(echinomap_programme::backup::file_name(at)),
            b"0123456789",
        )?;
    }
    // A backup being written is not one yet.
    std::fs::write(
        backups.join(format!(
            "{}.partial",
            echinomap_programme::backup::file_name(chrono::Utc::now())
        )),
        b"",
    )?;
    let some = local_scrape(&app).await?;
    assert_eq!(some.value("echinomap_backup_files", &[]), Some(2.0));
    assert_eq!(
        some.value("echinomap_backup_last_timestamp_seconds", &[]),
        Some(taken.timestamp() as f64)
    );
    let age = some
        .value("echinomap_backup_last_age_seconds", &[])
        .unwrap_or(0.0);
    assert!(
        (30.0 * 3600.0..30.0 * 3600.0 + 120.0).contains(&age),
        "age {age}"
    );
    assert_eq!(
        some.value("echinomap_backup_last_size_bytes", &[]),
        Some(10.0)
    );
    for dir in ["data", "backup"] {
        let size = some.value("echinomap_filesystem_size_bytes", &[("dir", dir)]);
        let avail = some.value("echinomap_filesystem_avail_bytes", &[("dir", dir)]);
        assert!(
            matches!((size, avail), (Some(s), Some(a)) if s > 0.0 && (0.0..=s).contains(&a)),
            "{dir}: {size:?} {avail:?}"
        );
    }
    Ok(())
}

/// The installed service's way: `backup_dir` in the configuration file reaches `serve`, and the
/// real binary's `/metrics` reports the newest backup there.
#[tokio::test]
async fn the_binary_reads_the_backup_directory_from_its_configuration_file() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = tempfile::tempdir()?;
    let backups = dir.path().join("backups-from-the-file");
    std::fs::create_dir_all(&backups)?;
    let taken = chrono::Utc::now() - chrono::Duration::hours(2);
    std::fs::write(
        backups.join(echinomap_programme::backup::file_name(taken)),
        b"x",
    )?;
    let config = dir.path().join("echinomap.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nbackup_dir = {:?}\n",
            dir.path().join("data").display().to_string(),
            backups.display().to_string()
        ),
    )?;
    let port = echinomap_tests::free_port();
    let log = std::fs::File::create(
        echinomap_tests::log_dir().join(format!("metrics-config-{port}.log")),
    )?;
    let mut child = std::process::Command::new(echinomap_tests::binary())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("ECHINOMAP_CONFIG", &config)
        .env("DATABASE_URL", db.url())
        .env(
            "ECHINOMAP_ADMIN_PASSWORD",
            echinomap_tests::TEST_ADMIN_PASSWORD,
        )
        .env_remove("ECHINOMAP_BACKUP_DIR")
        .env_remove("ECHINOMAP_DATA_DIR")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let result = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        let text = loop {
            if let Ok((200, text)) = scrape(&client, &base).await {
                break text;
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the server did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        let metrics = parse(&text)?;
        assert_eq!(metrics.value("echinomap_backup_files", &[]), Some(1.0));
        assert_eq!(
            metrics.value("echinomap_backup_last_timestamp_seconds", &[]),
            Some(taken.timestamp() as f64)
        );
        Ok(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// The version the service runs is on its pages: the dashboard's footer reads it from the
/// page's meta tag, the field page's footer has it in its text (and `/healthz` says it too).
#[tokio::test]
async fn the_pages_and_the_health_check_carry_the_running_version() -> Result<()> {
    let app = TestApp::empty().await?;
    let version = env!("CARGO_PKG_VERSION");
    let health = app.get_json("/healthz", 200).await?;
    assert_eq!(health["version"], version);
    let field = app.get("/field").await?.text().await?;
    assert!(
        field.contains(&format!(
            "<footer class=\"muted\">echinomap {version}</footer>"
        )),
        "{field}"
    );
    assert!(!field.contains("%ECHINOMAP_VERSION%"));
    let dashboard = app.get("/").await?.text().await?;
    assert!(
        dashboard.contains(&format!(
            "<meta name=\"echinomap-version\" content=\"{version}\">"
        )),
        "the dashboard (run `make web` first): {dashboard}"
    );
    Ok(())
}

/// With the database unreachable the scrape still answers, with `echinomap_up 0` and the pools,
/// and `echinomap_up 1` again once it is back.
#[tokio::test]
async fn a_database_that_does_not_answer_is_up_0_and_the_scrape_still_answers() -> Result<()> {
    let app = TestApp::empty().await?;
    assert_eq!(
        local_scrape(&app).await?.value("echinomap_up", &[]),
        Some(1.0)
    );
    // Statements on another database of the cluster (one cannot lock out its own).
    let (forbid, allow): (String, String) = sqlx::query_as(
        "SELECT format('ALTER DATABASE %I ALLOW_CONNECTIONS false', current_database()), \
                format('ALTER DATABASE %I ALLOW_CONNECTIONS true', current_database())",
    )
    .fetch_one(&app.db.pool)
    .await?;
    let cluster = sqlx::PgPool::connect(&echinomap_tests::database_url("postgres")).await?;
    // The names come from `format('%I')`: quoted identifiers.
    sqlx::query(sqlx::AssertSqlSafe(forbid))
        .execute(&cluster)
        .await?;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1",
    )
    .bind(
        app.db
            .pool
            .connect_options()
            .get_database()
            .unwrap_or_default(),
    )
    .execute(&cluster)
    .await?;
    let down = local_scrape(&app).await;
    sqlx::query(sqlx::AssertSqlSafe(allow))
        .execute(&cluster)
        .await?;
    let down = down?;
    assert_eq!(down.value("echinomap_up", &[]), Some(0.0));
    assert!(
        down.value("echinomap_db_pool_max_connections", &[("pool", "requests")])
            .is_some()
    );
    assert_eq!(
        down.value("echinomap_data_version", &[("table", "dogs")]),
        None
    );
    // Back: the pool connects again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if local_scrape(&app).await?.value("echinomap_up", &[]) == Some(1.0) {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the database did not come back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(())
}
