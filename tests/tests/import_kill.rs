//! A large import over the real binary: it runs as a background job with progress, and a
//! SIGKILL of the server in the middle of writing leaves the database as if the import had never
//! started. Also `echinomap import` from the command line.

use std::process::Command;
use std::time::{Duration, Instant};

use echinomap_programme::auth::Role;
use echinomap_tests::{BinaryServer, Result, TestDb, api_client, binary};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// Every live dog dosed on each of `days` days from 2019-01-01: about 9,300 rows a day.
async fn big_csv(db: &TestDb, days: i64) -> Result<String> {
    let tags: Vec<String> = sqlx::query_scalar("SELECT tag FROM dogs ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    let start = chrono::NaiveDate::from_ymd_opt(2019, 1, 1).expect("date");
    let mut csv = String::from("dog_tag,dosed_on,dose_mg\n");
    for d in 0..days {
        let day = start + chrono::Duration::days(d * 3);
        for t in &tags {
            csv.push_str(&format!("{t},{day},50\n"));
        }
    }
    Ok(csv)
}

async fn counts(db: &TestDb) -> Result<(i64, i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM dewormings), (SELECT count(*) FROM imports), (SELECT count(*) FROM audit_log WHERE action = 'import')",
    )
    .fetch_one(&db.pool)
    .await?)
}

#[tokio::test]
async fn a_sigkill_during_a_large_import_leaves_the_database_as_before() -> Result<()> {
    let db = TestDb::demo().await?;
    let csv = big_csv(&db, 80).await?;
    let server = BinaryServer::start(&db, "import-kill").await?;
    let token = api_client(&db.pool, &server.base, Role::Epidemiologist, "654022")
        .await?
        .token;
    let before = counts(&db).await?;
    let client = reqwest::Client::new();
    let r = client
        .post(format!(
            "{}/api/imports?kind=dewormings&format=csv",
            server.base
        ))
        .bearer_auth(&token)
        .body(csv)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 202, "a large file runs as a job");
    let job: Value = r.json().await?;
    let id = job["id"].as_str().expect("job id").to_owned();
    // Wait until it writes, then kill the server outright.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let p: Value = client
            .get(format!("{}/api/imports/{id}", server.base))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        assert_ne!(
            p["phase"], "done",
            "the import finished before it could be killed: {p}"
        );
        if p["phase"] == "writing" {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the import never reached writing: {p}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill(Pid::from_raw(server.child.id() as i32), Signal::SIGKILL)?;
    drop(server);
    // Until the database notices the dead connection its transaction may linger; it never commits.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' AND backend_type = 'client backend'",
        )
        .fetch_one(&db.pool)
        .await?;
        if open == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        counts(&db).await?,
        before,
        "dewormings, import history and audit are unchanged"
    );
    // The same file imports whole after a restart, and reports progress as a job.
    let server = BinaryServer::start(&db, "import-kill").await?;
    let csv = big_csv(&db, 80).await?;
    let rows = csv.lines().count() as u64 - 1;
    let r = client
        .post(format!(
            "{}/api/imports?kind=dewormings&format=csv",
            server.base
        ))
        .bearer_auth(&token)
        .body(csv)
        .send()
        .await?;
    let job: Value = r.json().await?;
    let id = job["id"].as_str().expect("job id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(300);
    let report = loop {
        let p: Value = client
            .get(format!("{}/api/imports/{id}", server.base))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        if p["phase"] == "done" {
            break p;
        }
        anyhow::ensure!(Instant::now() < deadline, "the import did not finish: {p}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["read"].as_u64(), Some(rows));
    let inserted = report["inserted"].as_u64().unwrap_or(0);
    let unchanged = report["unchanged"].as_u64().unwrap_or(0);
    assert_eq!(inserted + unchanged, rows, "{report}");
    let after = counts(&db).await?;
    assert_eq!(after.0, before.0 + inserted as i64);
    Ok(())
}

#[tokio::test]
async fn the_command_line_imports_and_refuses_like_the_api() -> Result<()> {
    let db = TestDb::demo().await?;
    let dir = echinomap_tests::shared_tempdir();
    let good = dir.path().join("dogs.csv");
    std::fs::write(
        &good,
        "犬牌号,犬只类型,登记日期,村代码\nCLI-1,牧犬,2024-01-01,654022100200\n",
    )?;
    let out = Command::new(binary())
        .args(["import", "--kind", "dogs"])
        .arg(&good)
        .env("DATABASE_URL", db.url())
        .env("ECHINOMAP_LOG", echinomap_tests::TEST_LOG_FILTER)
        .output()?;
    echinomap_tests::keep_log("cli-import", &out.stderr);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(report["inserted"], 1, "{report}");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "犬牌号,犬只类型,登记日期,村代码\nCLI-2,猫,2024-01-01,654022100200\n",
    )?;
    let errors = dir.path().join("errors.xlsx");
    let out = Command::new(binary())
        .args(["import", "--kind", "dogs", "--errors-xlsx"])
        .arg(&errors)
        .arg(&bad)
        .env("DATABASE_URL", db.url())
        .env("ECHINOMAP_LOG", echinomap_tests::TEST_LOG_FILTER)
        .output()?;
    echinomap_tests::keep_log("cli-import", &out.stderr);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 of 1 rows have errors"), "{stderr}");
    assert!(errors.is_file());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM dogs WHERE tag LIKE 'CLI-%'")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(n, 1);
    Ok(())
}
