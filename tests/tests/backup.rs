//! `echinomap backup` and `echinomap restore`, by the real binary on the demo data: a drill
//! (backup, restore into a new database and into a new data directory, every table's count
//! and content hash identical), and the backups that must be refused with one line and nothing
//! changed: truncated, damaged, not a backup, a target that is not empty.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use echinomap_programme::backup::{self, TableDigest, manifest};
use echinomap_programme::embedded_pg::{DATABASE_NAME, EmbeddedPg};
use echinomap_tests::{TestDb, binary, keep_log, shared_tempdir};

/// The binary with no configuration file (the host's /etc/echinomap is not the test's) and
/// no DATABASE_URL from the environment.
fn echinomap(args: &[&str]) -> Output {
    let out = Command::new(binary())
        .args(args)
        .env("ECHINOMAP_CONFIG", "none")
        .env_remove("DATABASE_URL")
        .env_remove("ECHINOMAP_BACKUP_DIR")
        .env_remove("ECHINOMAP_BACKUP_COPY_DIR")
        .env("ECHINOMAP_LOG", "info")
        .output()
        .expect("run echinomap");
    keep_log("backup-test", &out.stderr);
    out
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// The last line the binary wrote on stderr (its error line).
fn last_stderr_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_owned()
}

/// A backup of `db` into `dest` by the binary; the archive's path.
fn backup_of(db: &TestDb, dest: &Path) -> PathBuf {
    let out = echinomap(&[
        "backup",
        "--database-url",
        &db.url(),
        "--dest",
        path_str(dest),
        "--no-prune",
    ]);
    assert!(
        out.status.success(),
        "backup failed: {}",
        last_stderr_line(&out)
    );
    backup::latest(dest)
        .expect("a backup in the directory")
        .path
}

/// A new empty database on the test cluster (no tables, no extension).
async fn new_empty_database(db: &TestDb) -> (String, String) {
    let name = format!("{}_restored", db.name);
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&db.pool)
        .await
        .expect("create database");
    let url = echinomap_tests::database_url(&name);
    (name, url)
}

async fn digests_of_url(url: &str) -> Vec<TableDigest> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .expect("connect");
    let digests = manifest::compute(&pool).await.expect("digests");
    pool.close().await;
    digests
}

#[tokio::test]
async fn a_backup_restores_into_a_new_database_and_a_new_data_dir_with_every_table_identical() {
    let db = TestDb::demo().await.expect("demo database");
    let dir = shared_tempdir();
    let dest = dir.path().join("backups");
    let archive = backup_of(&db, &dest);

    // The archive: named by time, readable by its owner only, whole, and its manifest is what
    // the database holds.
    let name = archive.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(backup::parse_file_name(name).is_some(), "{name}");
    let mode = std::fs::metadata(&archive)
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "archive mode {mode:o}");
    let verified = backup::verify(&archive).expect("the archive verifies");
    let source = manifest::compute(&db.pool).await.expect("source digests");
    assert_eq!(verified.manifest.tables, source);
    let dogs = source.iter().find(|t| t.table == "dogs").expect("dogs");
    assert!(dogs.rows > 1000, "the demo's dogs are in the backup");
    assert!(source.iter().any(|t| t.table == "_sqlx_migrations"));
    assert!(!source.iter().any(|t| t.table == "spatial_ref_sys"));
    assert!(verified.manifest.schema_version.is_some());

    // Into a new, empty database of another server (here: the same cluster, another database).
    let (_, url) = new_empty_database(&db).await;
    let out = echinomap(&["restore", path_str(&archive), "--database-url", &url]);
    assert!(
        out.status.success(),
        "restore failed: {}",
        last_stderr_line(&out)
    );
    assert_eq!(digests_of_url(&url).await, source, "restored database");

    // Into a new embedded data directory.
    let data_dir = dir.path().join("new-data");
    let out = echinomap(&[
        "restore",
        path_str(&archive),
        "--data-dir",
        path_str(&data_dir),
        "--database-sizing",
        "small",
    ]);
    assert!(
        out.status.success(),
        "restore into a data dir failed: {}",
        last_stderr_line(&out)
    );
    let pg = EmbeddedPg::start(&data_dir).expect("start the restored cluster");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(pg.connect_options(DATABASE_NAME))
        .await
        .expect("connect to the restored cluster");
    let restored = manifest::compute(&pool).await.expect("restored digests");
    pool.close().await;
    pg.stop().expect("stop the restored cluster");
    assert_eq!(restored, source, "restored data directory");
}

#[tokio::test]
async fn a_truncated_or_damaged_backup_is_refused_and_nothing_is_created() {
    let db = TestDb::demo().await.expect("demo database");
    let dir = shared_tempdir();
    let archive = backup_of(&db, &dir.path().join("backups"));
    let bytes = std::fs::read(&archive).expect("read archive");

    let truncated = dir.path().join("truncated.tar");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let mut flipped = bytes.clone();
    flipped[4096] ^= 0xff; // inside database.dump, which starts at 512
    let damaged = dir.path().join("damaged.tar");
    std::fs::write(&damaged, &flipped).expect("write");

    for (file, said) in [
        (&truncated, "is truncated or damaged"),
        (&damaged, "sha256"),
    ] {
        let target = dir.path().join("never");
        let out = echinomap(&["restore", path_str(file), "--data-dir", path_str(&target)]);
        assert_eq!(out.status.code(), Some(1), "{}", file.display());
        let line = last_stderr_line(&out);
        assert!(
            line.starts_with("error: ") && line.contains(said),
            "{}: {line}",
            file.display()
        );
        assert!(
            !target.exists(),
            "nothing was created for {}",
            file.display()
        );
    }
}

#[tokio::test]
async fn a_file_that_is_not_a_backup_is_refused_with_one_line() {
    let dir = shared_tempdir();
    let text = dir.path().join("notes.tar");
    std::fs::write(&text, "这不是备份 / not a backup\n".repeat(100)).expect("write");
    let empty = dir.path().join("empty.tar");
    std::fs::write(&empty, b"").expect("write");
    // A real tar, without a manifest.
    let other_tar = dir.path().join("other.tar");
    let status = Command::new("tar")
        .arg("cf")
        .arg(&other_tar)
        .arg("-C")
        .arg(dir.path())
        .arg("notes.tar")
        .status()
        .expect("tar");
    assert!(status.success());
    for file in [&text, &empty, &other_tar] {
        let target = dir.path().join("never");
        let out = echinomap(&["restore", path_str(file), "--data-dir", path_str(&target)]);
        assert_eq!(out.status.code(), Some(1), "{}", file.display());
        let line = last_stderr_line(&out);
        assert!(
            line.starts_with("error: ") && line.contains("is not an echinomap backup"),
            "{}: {line}",
            file.display()
        );
        assert!(!target.exists());
    }
    let missing = echinomap(&["restore", path_str(&dir.path().join("missing.tar"))]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(last_stderr_line(&missing).contains("cannot read"));
}

#[tokio::test]
async fn a_restore_into_a_database_that_is_not_empty_is_refused_and_changes_nothing() {
    let source = TestDb::demo().await.expect("demo database");
    let dir = shared_tempdir();
    let archive = backup_of(&source, &dir.path().join("backups"));
    // A migrated database, with the demo data: not empty.
    let target = TestDb::demo().await.expect("target database");
    let before = manifest::compute(&target.pool).await.expect("digests");
    let out = echinomap(&[
        "restore",
        path_str(&archive),
        "--database-url",
        &target.url(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let line = last_stderr_line(&out);
    assert!(
        line.contains("the target database is not empty") && line.contains("nothing was changed"),
        "{line}"
    );
    assert_eq!(
        manifest::compute(&target.pool).await.expect("digests"),
        before
    );
}

#[tokio::test]
async fn a_backup_is_copied_to_the_second_directory_and_old_backups_are_pruned() {
    let db = TestDb::demo().await.expect("demo database");
    let dir = shared_tempdir();
    let dest = dir.path().join("backups");
    let copies = dir.path().join("copies");
    std::fs::create_dir_all(&dest).expect("mkdir");
    std::fs::create_dir_all(&copies).expect("mkdir");
    // A daily backup for the 40 days before today (fake files: pruning reads only names).
    let today = chrono::Utc::now();
    let old: Vec<PathBuf> = (1..=40)
        .map(|days| {
            let path = dest.join(backup::file_name(today - chrono::Duration::days(days)));
            std::fs::write(&path, b"old").expect("write");
            path
        })
        .collect();
    let out = echinomap(&[
        "backup",
        "--database-url",
        &db.url(),
        "--backup-dir",
        path_str(&dest),
        "--backup-copy-dir",
        path_str(&copies),
    ]);
    assert!(out.status.success(), "{}", last_stderr_line(&out));
    let newest = backup::latest(&dest).expect("a backup");
    let copy = copies.join(newest.path.file_name().expect("name"));
    assert_eq!(
        std::fs::read(&copy).expect("the copy"),
        std::fs::read(&newest.path).expect("the backup")
    );
    backup::verify(&copy).expect("the copy verifies");
    // Kept: what the retention keeps of all 41 (today's and the 6 days before it, the newest
    // of 4 ISO weeks and of 12 months); the others are gone.
    let mut all_times: Vec<_> = (1..=40)
        .map(|days| {
            backup::parse_file_name(
                old[days - 1]
                    .file_name()
                    .and_then(|n| n.to_str())
                    .expect("name"),
            )
            .expect("a backup name")
        })
        .collect();
    all_times.push(newest.taken_at);
    let keep = backup::Retention::default().keep(&all_times);
    assert!(keep.contains(&newest.taken_at));
    for (days, path) in (1..=40).zip(&old) {
        assert_eq!(
            path.exists(),
            keep.contains(&all_times[days - 1]),
            "day -{days}: {}",
            path.display()
        );
    }
    for days in 1..=6 {
        assert!(old[days - 1].exists(), "day -{days} is kept (daily)");
    }
    assert_eq!(backup::list(&dest).len(), keep.len());
    assert!(keep.len() < 41, "some old backups were pruned");
    // The lone copy is within the retention of its directory.
    assert_eq!(backup::list(&copies).len(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(&dest)
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn the_configuration_is_archived_and_secrets_only_when_asked() {
    let db = TestDb::demo().await.expect("demo database");
    let dir = shared_tempdir();
    let secrets = dir.path().join("secrets.toml");
    std::fs::write(&secrets, format!("database_url = \"{}\"\n", db.url())).expect("write");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let config = dir.path().join("echinomap.toml");
    let dest = dir.path().join("backups");
    std::fs::write(
        &config,
        format!(
            "backup_dir = \"{}\"\nsecrets_file = \"{}\"\n",
            dest.display(),
            secrets.display()
        ),
    )
    .expect("write");
    let with_config = |extra: &[&str]| {
        let mut args = vec!["backup", "--config", path_str(&config), "--no-prune"];
        args.extend_from_slice(extra);
        let out = Command::new(binary())
            .args(&args)
            .env_remove("DATABASE_URL")
            .env_remove("ECHINOMAP_CONFIG")
            .env_remove("ECHINOMAP_BACKUP_DIR")
            .output()
            .expect("run");
        keep_log("backup-config-test", &out.stderr);
        assert!(out.status.success(), "{}", last_stderr_line(&out));
        let path = backup::latest(&dest).expect("a backup").path;
        let verified = backup::verify(&path).expect("verifies");
        // The next backup is then the only one (the newest) in the directory.
        std::fs::rename(&path, dir.path().join(path.file_name().expect("name"))).expect("move");
        verified
    };
    let plain = with_config(&[]);
    assert_eq!(plain.manifest.config, ["config/echinomap.toml"]);
    assert_eq!(
        plain.config,
        [(
            "config/echinomap.toml".to_owned(),
            std::fs::read(&config).expect("read")
        )]
    );
    // Two backups within one second would share a name.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let with_secrets = with_config(&["--include-secrets"]);
    assert_eq!(
        with_secrets.manifest.config,
        ["config/echinomap.toml", "config/secrets.toml"]
    );

    // `restore --config-to` gives the files back, the secrets readable by the owner only.
    let archive = dir
        .path()
        .join(with_secrets.path.file_name().expect("name"));
    let (_, url) = new_empty_database(&db).await;
    let config_to = dir.path().join("restored-config");
    let out = echinomap(&[
        "restore",
        path_str(&archive),
        "--database-url",
        &url,
        "--config-to",
        path_str(&config_to),
    ]);
    assert!(out.status.success(), "{}", last_stderr_line(&out));
    let restored_secrets = config_to.join("secrets.toml");
    assert_eq!(
        std::fs::read(&restored_secrets).expect("secrets"),
        std::fs::read(&secrets).expect("secrets")
    );
    let mode = std::fs::metadata(&restored_secrets)
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(config_to.join("echinomap.toml").is_file());
}

#[tokio::test]
async fn a_missing_second_directory_fails_the_backup_after_the_first_is_written_and_pruned() {
    // The second disk is not mounted: its directory is not made on the first disk, the run
    // fails (the timer's unit shows it), and the first directory's retention still runs.
    let db = TestDb::demo().await.expect("demo database");
    let dir = shared_tempdir();
    let dest = dir.path().join("backups");
    std::fs::create_dir_all(&dest).expect("mkdir");
    let today = chrono::Utc::now();
    for days in 1..=40 {
        std::fs::write(
            dest.join(backup::file_name(today - chrono::Duration::days(days))),
            b"old",
        )
        .expect("write");
    }
    let unmounted = dir.path().join("mnt").join("backup2");
    let out = echinomap(&[
        "backup",
        "--database-url",
        &db.url(),
        "--backup-dir",
        path_str(&dest),
        "--backup-copy-dir",
        path_str(&unmounted),
    ]);
    assert!(!out.status.success());
    let line = last_stderr_line(&out);
    assert!(
        line.contains("does not exist (is its disk mounted?)"),
        "{line}"
    );
    assert!(
        !unmounted.exists() && !dir.path().join("mnt").exists(),
        "nothing made for it"
    );
    let newest = backup::latest(&dest).expect("the backup was written");
    backup::verify(&newest.path).expect("and it is whole");
    assert!(
        backup::list(&dest).len() < 41,
        "the first directory was pruned"
    );
}

#[tokio::test]
async fn a_data_directory_without_a_cluster_is_refused_and_no_cluster_is_made() {
    // A mistyped data_dir must not become an empty cluster whose "good" backups push the real
    // ones out of the retention.
    let dir = shared_tempdir();
    let data = dir.path().join("typo");
    let out = echinomap(&["backup", "--data-dir", path_str(&data)]);
    assert!(!out.status.success());
    let line = last_stderr_line(&out);
    assert!(line.contains("there is no database in"), "{line}");
    assert!(line.contains("nothing was written"), "{line}");
    assert!(!data.join("pg").exists(), "no cluster was initialised");
    // A database that is not echinomap's (no migration applied) is refused too.
    let db = TestDb::demo().await.expect("demo database");
    let (_name, url) = new_empty_database(&db).await;
    let dest = dir.path().join("backups");
    let out = echinomap(&["backup", "--database-url", &url, "--dest", path_str(&dest)]);
    assert!(!out.status.success());
    let line = last_stderr_line(&out);
    assert!(line.contains("no echinomap schema"), "{line}");
    assert!(backup::list(&dest).is_empty(), "no backup was written");
}

#[tokio::test]
async fn a_backup_of_a_newer_schema_is_refused_before_the_target_is_touched() {
    let db = TestDb::demo().await.expect("demo database");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99991231000000, 'from the future', true, '\\x00'::bytea, 1)",
    )
    .execute(&db.pool)
    .await
    .expect("a migration from the future");
    let dir = shared_tempdir();
    let archive = backup_of(&db, &dir.path().join("backups"));
    let (_name, url) = new_empty_database(&db).await;
    let out = echinomap(&["restore", path_str(&archive), "--database-url", &url]);
    assert!(!out.status.success());
    let line = last_stderr_line(&out);
    assert!(
        line.contains("made by a newer echinomap (schema 99991231000000"),
        "{line}"
    );
    assert!(line.contains("nothing was changed"), "{line}");
    assert!(
        digests_of_url(&url).await.is_empty(),
        "the target stayed empty"
    );
}
