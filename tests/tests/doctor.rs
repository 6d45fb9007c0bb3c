//! `echinomap doctor` and the sizing of the embedded cluster: versions, schema, settings and
//! the last backup, every problem in Chinese then English, exit 1 when there is one; `auto`
//! sizing and `--pg-setting` reach the embedded cluster; a wrong setting is one line.

use std::path::Path;
use std::process::{Command, Output};

use echinomap_tests::{BinaryServer, Result, TestDb, binary, keep_log, shared_tempdir};

/// `echinomap doctor ARGS` with `env`, no configuration file.
fn doctor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(binary())
        .arg("doctor")
        .args(args)
        .env_remove("DATABASE_URL")
        .env("ECHINOMAP_CONFIG", "none")
        .env("ECHINOMAP_LOG", "warn")
        .env("ECHINOMAP_DATABASE_SIZING", "small")
        .envs(env.iter().copied())
        .output()
        .expect("run echinomap doctor");
    keep_log("doctor", &out.stderr);
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A backup file as `echinomap backup` names it, taken `hours_ago` (doctor reads the name).
fn backup_named(dir: &Path, hours_ago: i64) {
    let at = chrono::Utc::now() - chrono::Duration::hours(hours_ago);
    let name = echinomap_programme::backup::file_name(at);
    std::fs::write(dir.join(name), b"").expect("write a backup file");
}

#[tokio::test]
async fn doctor_prints_the_versions_the_schema_and_the_database_settings() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = shared_tempdir();
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups)?;
    backup_named(&backups, 1);
    let data_dir = dir.path().display().to_string();
    let out = doctor(&["--data-dir", &data_dir], &[("DATABASE_URL", &db.url())]);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("echinomap {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("PostgreSQL 15"), "{text}");
    assert!(text.contains("PostGIS 3"), "{text}");
    let last = echinomap_programme::db::last_migration().unwrap_or_default();
    assert!(text.contains(&format!("schema: {last} ")), "{text}");
    assert!(text.contains("0 pending"), "{text}");
    for setting in [
        "shared_buffers = 256MB",
        "max_connections = 100",
        "work_mem",
        "effective_cache_size",
    ] {
        assert!(text.contains(setting), "{setting} not in: {text}");
    }
    assert!(text.contains("disk: data dir"), "{text}");
    assert!(text.contains("last backup: "), "{text}");
    assert!(!text.contains("No backup"), "{text}");
    // A fresh backup and a migrated database are no problem: exit 0 unless the disk of the
    // temp dir is itself over 80 % (then that is the one problem).
    let disk_full = text.contains("The disk of");
    assert_eq!(out.status.success(), !disk_full, "{text}");
    if out.status.success() {
        assert!(text.contains("没有发现问题 / no problems found"), "{text}");
    }
    Ok(())
}

#[tokio::test]
async fn a_missing_backup_is_a_problem_in_chinese_then_english_and_exit_1() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = shared_tempdir();
    let backups = dir.path().join("no-backups-here");
    let out = doctor(
        &[
            "--data-dir",
            &dir.path().display().to_string(),
            "--backup-dir",
            &backups.display().to_string(),
        ],
        &[("DATABASE_URL", &db.url())],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let zh = text
        .find("- 没有备份：")
        .unwrap_or_else(|| panic!("no Chinese line: {text}"));
    let en = text
        .find("  No backup: ")
        .unwrap_or_else(|| panic!("no English line: {text}"));
    assert!(zh < en, "Chinese first: {text}");
    assert!(text.contains("echinomap backup"), "{text}");
    assert!(text.contains(&backups.display().to_string()), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("problem"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn a_backup_older_than_26_hours_is_a_problem() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = shared_tempdir();
    backup_named(dir.path(), 30);
    let out = doctor(
        &[
            "--data-dir",
            &dir.path().display().to_string(),
            "--backup-dir",
            &dir.path().display().to_string(),
        ],
        &[("DATABASE_URL", &db.url())],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("最近一次备份是 30 小时前"), "{text}");
    assert!(text.contains("The last backup is 30 hours old"), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_database_newer_than_the_binary_and_pending_migrations_are_problems() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = shared_tempdir();
    backup_named(dir.path(), 0);
    let args = [
        "--data-dir",
        &dir.path().display().to_string(),
        "--backup-dir",
        &dir.path().display().to_string(),
    ];
    // The last migration undone in the record: it counts as pending.
    let last = echinomap_programme::db::last_migration().unwrap_or_default();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(last)
        .execute(&db.pool)
        .await?;
    let text = stdout(&doctor(&args, &[("DATABASE_URL", &db.url())]));
    assert!(text.contains("1 pending"), "{text}");
    assert!(text.contains("个数据库迁移尚未执行"), "{text}");
    assert!(text.contains("run echinomap migrate"), "{text}");
    // A migration from a newer echinomap.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (20991231000001, 'from the future', true, '\\x00'::bytea, 1)",
    )
    .execute(&db.pool)
    .await?;
    let out = doctor(&args, &[("DATABASE_URL", &db.url())]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("数据库已被更新版本的 echinomap 升级过"),
        "{text}"
    );
    assert!(text.contains("migrated by a newer echinomap"), "{text}");
    // Doctor changed nothing: the future row is there, the deleted one still missing.
    let versions: Vec<i64> = sqlx::query_scalar(
        "SELECT version FROM _sqlx_migrations WHERE version IN ($1, 20991231000001) ORDER BY 1",
    )
    .bind(last)
    .fetch_all(&db.pool)
    .await?;
    assert_eq!(versions, vec![20_991_231_000_001]);
    Ok(())
}

#[tokio::test]
async fn auto_sizing_and_a_pg_setting_reach_the_embedded_cluster_that_doctor_finds_running()
-> Result<()> {
    let dir = shared_tempdir();
    let data_dir = dir.path().join("data");
    // `auto` on this host, with the shared buffers kept small for the test machine, and one
    // setting of the operator's.
    let server = BinaryServer::start_embedded(
        &data_dir,
        "doctor-sizing",
        &[
            ("ECHINOMAP_DATABASE_SIZING", "auto"),
            ("ECHINOMAP_PG_SETTING", "shared_buffers=128MB,work_mem=12MB"),
        ],
    )
    .await?;
    let out = doctor(&["--data-dir", &data_dir.display().to_string()], &[]);
    let text = stdout(&out);
    for line in [
        "embedded cluster: running, kept by the echinomap service",
        "shared_buffers = 128MB",
        "work_mem = 12MB",
        // Derived by `auto` (SSD planner costs), not PostgreSQL's default of 4.
        "random_page_cost = 1.1",
        "effective_io_concurrency = 200",
        "wal_compression = pglz",
    ] {
        assert!(text.contains(line), "{line:?} not in: {text}");
    }
    // Doctor left the service's cluster running.
    let health = reqwest::get(format!("{}/healthz", server.base)).await?;
    assert_eq!(health.status(), 200);
    drop(server);
    Ok(())
}

#[test]
fn an_unknown_pg_setting_stops_the_start_with_postgresql_s_own_line() {
    let dir = shared_tempdir();
    let out = Command::new(binary())
        .args(["migrate", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--pg-setting", "shared_bufers=1GB"])
        .env_remove("DATABASE_URL")
        .env("ECHINOMAP_CONFIG", "none")
        .env("ECHINOMAP_LOG", "off")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("unrecognized configuration parameter \"shared_bufers\""),
        "{stderr}"
    );
}

#[test]
fn a_pg_setting_that_would_log_personal_data_is_refused() {
    let out = Command::new(binary())
        .args(["migrate", "--pg-setting", "log_statement=all"])
        .env("ECHINOMAP_CONFIG", "none")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("log_statement is set by echinomap itself"),
        "{stderr}"
    );
}

/// A self-signed certificate for `localhost` that stops being valid `days` from now.
fn certificate_expiring_in(dir: &Path, days: i64) -> Result<String> {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let path = dir.join(format!("cert-{days}.pem"));
    std::fs::write(&path, cert.pem())?;
    Ok(path.display().to_string())
}

#[tokio::test]
async fn a_certificate_close_to_its_expiry_is_a_problem_and_a_fresh_one_is_not() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = shared_tempdir();
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups)?;
    backup_named(&backups, 1);
    let data_dir = dir.path().display().to_string();
    let url = db.url();

    let fresh = certificate_expiring_in(dir.path(), 200)?;
    let text = stdout(&doctor(
        &["--data-dir", &data_dir, "--tls-cert", &fresh],
        &[("DATABASE_URL", &url)],
    ));
    assert!(
        text.contains("certificate: CN=rcgen self signed cert, valid until "),
        "{text}"
    );
    assert!(
        text.contains("(199 days)") || text.contains("(200 days)"),
        "{text}"
    );
    assert!(!text.contains("HTTPS 证书"), "{text}");

    let soon = certificate_expiring_in(dir.path(), 10)?;
    let out = doctor(
        &["--data-dir", &data_dir],
        &[("DATABASE_URL", &url), ("ECHINOMAP_TLS_CERT", &soon)],
    );
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("HTTPS 证书") && text.contains("天后"),
        "{text}"
    );
    assert!(
        text.contains("renew it and run systemctl reload echinomap"),
        "{text}"
    );

    let broken = dir.path().join("broken.pem");
    std::fs::write(&broken, "not a certificate")?;
    let out = doctor(
        &[
            "--data-dir",
            &data_dir,
            "--tls-cert",
            &broken.display().to_string(),
        ],
        &[("DATABASE_URL", &url)],
    );
    let text = stdout(&out);
    assert!(!out.status.success());
    assert!(
        text.contains("cannot be read: not a PEM certificate"),
        "{text}"
    );
    Ok(())
}
