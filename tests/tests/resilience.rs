//! The database under stress (issue 17, items 8 and 10): every statement has a bounded time and
//! a timeout is a JSON answer; long work is not held to a request's limit; a request that goes
//! away stops its statement; a killed embedded PostgreSQL is started again, and no committed
//! row is lost.

use std::time::{Duration, Instant};

use echinomap_programme::auth::Role;
use echinomap_programme::db::{self, Database, DbSettings, Limits};
use echinomap_tests::{BinaryServer, Result, TestApp, TestDb, api_client, grow_dogs};
use serde_json::{Value, json};

/// Statements of `db`'s database running a query that contains `marker` (not this one).
async fn running(db: &TestDb, marker: &str) -> Result<Vec<i32>> {
    Ok(sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND state = 'active' AND strpos(query, $1) > 0",
    )
    .bind(marker)
    .fetch_all(&db.pool)
    .await?)
}

/// Whether backend `pid` is still connected to `db`'s database.
async fn connected(db: &TestDb, pid: i32) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
            .bind(pid)
            .fetch_one(&db.pool)
            .await?,
    )
}

#[tokio::test]
async fn a_statement_past_the_request_limit_is_a_json_503_while_cheap_requests_still_answer()
-> Result<()> {
    // The people list searched with a 900-character text (the parameter cap allows 1000) reads
    // every person: about 0.6 s here, as one statement. A village list takes milliseconds.
    let app = TestApp::spawn_with(TestDb::demo().await?, None, |s| {
        s.database.limits.request = Duration::from_millis(200);
    })
    .await?;
    let epi = app.epi().await?;
    let villages = epi.get_json("/api/villages", 200).await?;
    assert!(villages.to_string().contains("654022100200"), "{villages}");
    let started = Instant::now();
    let path = format!("/api/people?q={}", "z".repeat(900));
    let r = epi.get(&path).await?;
    let status = r.status().as_u16();
    let body: Value = r.json().await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "query_timeout", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("took longer")),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered after {:?}",
        started.elapsed()
    );
    // Nothing of it runs on, and the service still answers.
    assert_eq!(running(&app.db, "ILIKE").await?, Vec::<i32>::new());
    epi.get_json("/api/villages", 200).await?;
    Ok(())
}

#[tokio::test]
async fn long_work_is_not_held_to_the_request_limit_and_tiles_have_their_own() -> Result<()> {
    let test_db = TestDb::empty().await?;
    let database = Database::open_with(
        Some(&test_db.url()),
        std::path::Path::new("unused"),
        DbSettings {
            limits: Limits {
                request: Duration::from_millis(200),
                tile: Duration::from_millis(100),
                long: Duration::from_secs(5),
            },
            ..DbSettings::default()
        },
    )
    .await?;
    let sleep = |secs: f64| sqlx::query("SELECT pg_sleep($1)").bind(secs);
    // A request's statement stops at its limit, with an error the HTTP layer can tell apart.
    let err = sleep(0.6)
        .execute(&database.pool)
        .await
        .expect_err("a request's statement stops at 200 ms");
    assert!(db::is_statement_timeout(&err), "{err}");
    let tiles = database.tile_pool();
    let err = sleep(0.3)
        .execute(&tiles)
        .await
        .expect_err("a tile's statement stops at 100 ms");
    assert!(db::is_statement_timeout(&err), "{err}");
    sleep(0.05).execute(&tiles).await?;
    // Long work on the same request pool: its transaction takes the long limit.
    let mut tx = db::begin_long(&database.pool).await?;
    sleep(0.6).execute(&mut *tx).await?;
    let err = sleep(6.0)
        .execute(&mut *tx)
        .await
        .expect_err("long work stops at its own limit");
    assert!(db::is_statement_timeout(&err), "{err}");
    drop(tx);
    // The long limit was the transaction's only: the request limit holds again after it.
    let err = sleep(0.6)
        .execute(&database.pool)
        .await
        .expect_err("200 ms");
    assert!(db::is_statement_timeout(&err), "{err}");
    // The long pool (an export's stream).
    sleep(0.6).execute(&database.long_pool()).await?;
    tiles.close().await;
    database.close().await
}

#[tokio::test]
async fn a_statement_dropped_mid_way_runs_on_unless_its_connection_cancels_it() -> Result<()> {
    let db = TestDb::empty().await?;
    // What sqlx does alone: the dropped query's backend keeps sleeping (the pool then waits for
    // it to end before it can use the connection again).
    let plain = tokio::time::timeout(
        Duration::from_millis(200),
        sqlx::query("SELECT pg_sleep(4) -- plain").execute(&db.pool),
    )
    .await;
    assert!(plain.is_err(), "the plain query was dropped after 200 ms");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        running(&db, "-- plain").await?.len(),
        1,
        "without the guard, the dropped statement runs on"
    );
    // With it: the future is dropped after 200 ms, the statement is cancelled at once.
    let guarded = tokio::time::timeout(
        Duration::from_millis(200),
        db::cancel_on_drop(&db.pool, async |conn| {
            sqlx::query("SELECT pg_sleep(30) -- guarded")
                .execute(conn)
                .await
        }),
    )
    .await;
    assert!(
        guarded.is_err(),
        "the guarded query was dropped after 200 ms"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        running(&db, "-- guarded").await?,
        Vec::<i32>::new(),
        "the dropped statement still runs"
    );
    // The guard returns a connection that finished its work to the pool, unharmed.
    let pid = db::cancel_on_drop(&db.pool, async |conn| {
        sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
            .fetch_one(conn)
            .await
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        connected(&db, pid).await?,
        "a finished guard closed its connection"
    );
    Ok(())
}

#[tokio::test]
async fn an_export_the_client_gives_up_stops_its_statement() -> Result<()> {
    let db = TestDb::demo().await?;
    grow_dogs(&db, 300_000).await?;
    let app = TestApp::spawn(db, None).await?;
    let epi = app.epi().await?;
    let mut r = epi
        .request(reqwest::Method::GET, "/api/export/dogs.csv")
        .header(reqwest::header::ACCEPT_ENCODING, "identity")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let mut received = 0;
    while received < 100_000 {
        received += r
            .chunk()
            .await?
            .ok_or_else(|| anyhow::anyhow!("the export ended early"))?
            .len();
    }
    // The export's statement runs, held by back-pressure ('array_to_string' is in its SQL).
    let pids = running(&app.db, "array_to_string").await?;
    assert_eq!(pids.len(), 1, "one export statement: {pids:?}");
    // The client gives up: its connection closes.
    drop(r);
    drop(epi);
    let deadline = Instant::now() + Duration::from_secs(5);
    while connected(&app.db, pids[0]).await? {
        assert!(
            Instant::now() < deadline,
            "the export's backend ran on after its client left"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// `/healthz` of `server`, once it answers.
async fn health(server: &BinaryServer) -> Result<(u16, Value)> {
    let r = reqwest::get(format!("{}/healthz", server.base)).await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await?))
}

/// Waits until `/healthz` answers 200 with `restarts` restarts of the cluster.
async fn healthy_after(server: &BinaryServer, restarts: u64, within: Duration) -> Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok((200, body)) = health(server).await
            && body["database"]["restarts"] == restarts
        {
            return Ok(body);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "not healthy with {restarts} restarts within {within:?}: {:?}",
            health(server).await.ok()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn postmaster_pid(pgdata: &std::path::Path) -> Result<i32> {
    let text = std::fs::read_to_string(pgdata.join("postmaster.pid"))?;
    Ok(text.lines().next().unwrap_or_default().trim().parse()?)
}

#[tokio::test]
async fn a_killed_postgresql_is_started_again_and_loses_no_committed_row() -> Result<()> {
    let dir = echinomap_tests::shared_tempdir();
    let server =
        BinaryServer::start_embedded(&dir.path().join("var"), "resilience-kill", &[]).await?;
    let pgdata = server
        .pgdata()
        .ok_or_else(|| anyhow::anyhow!("no data dir"))?
        .canonicalize()?;
    let body = healthy_after(&server, 0, Duration::from_secs(60)).await?;
    assert_eq!(body["database"]["last_error"], Value::Null, "{body}");
    // An account made straight in the cluster (through its socket), to call the API.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&format!(
            "postgres://postgres@localhost:5432/echinomap?host={}",
            pgdata.display()
        ))
        .await?;
    let epi = api_client(&pool, &server.base, Role::Epidemiologist, "654022").await?;
    pool.close().await;
    const KILLS: u64 = 2;
    for kill in 1..=KILLS {
        // A record committed just before the kill.
        let tag = format!("KILL-{kill}");
        let dog = json!({"dog_tag": tag, "dog_kind": "牧犬", "registered_on": "2024-01-01", "village_code": "654022100200"});
        epi.post_json("/api/dogs", &dog, 201).await?;
        let postmaster = postmaster_pid(&pgdata)?;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(postmaster),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        let body = healthy_after(&server, kill, Duration::from_secs(45)).await?;
        assert!(
            body["database"]["last_restart"].is_string(),
            "the restart's time: {body}"
        );
        // The death, or a start attempt that failed after it (the dying backends may hold the
        // shared memory a moment).
        assert!(
            body["database"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains(&format!("pid {postmaster}"))
                    || e.contains("starting PostgreSQL")),
            "the death is reported: {body}"
        );
        assert_ne!(postmaster_pid(&pgdata)?, postmaster, "a new postmaster");
        // Every dog written before a kill is there, and the API reads and writes again.
        for k in 1..=kill {
            let found = epi
                .get_json(&format!("/api/dogs?village=654022100200&q=KILL-{k}"), 200)
                .await?;
            assert!(
                found.to_string().contains(&format!("\"KILL-{k}\"")),
                "KILL-{k} was lost: {found}"
            );
        }
    }
    // The watchdog still guards the postmaster the keeper started: a killed echinomap leaves
    // no PostgreSQL behind.
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: Vec<(u32, String)> =
            echinomap_tests::processes_mentioning(&pgdata.display().to_string())
                .into_iter()
                .filter(|(_, cmd)| cmd.contains("postgres") && !cmd.contains("/bin/sh"))
                .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "PostgreSQL outlived a killed echinomap: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("faults injected: killed PostgreSQL {KILLS} times; rows lost 0");
    Ok(())
}
