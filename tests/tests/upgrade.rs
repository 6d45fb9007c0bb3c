//! Upgrades: the database as commit 7a1e39a left it (`tests/fixtures/upgrade/`) is migrated by
//! this binary with every register unchanged but the stock ledger, which is converted by design
//! (every row kept, in its store; issues to townships became received transfers; stock on hand
//! is the ledger's sum, never negative); a database migrated by a newer echinomap is
//! refused, by `migrate` and by `serve`, with one line and nothing changed; a data directory
//! of another user is refused the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use echinomap_programme::backup::TableDigest;
use echinomap_programme::backup::manifest;
use echinomap_programme::embedded_pg::PgBinaries;
use echinomap_tests::{
    BinaryServer, Result, TestDb, binary, cluster_log, database_url, free_port, keep_log,
    shared_tempdir, workspace_root,
};
use sqlx::PgPool;

/// The commit whose database the fixture holds (tests/fixtures/upgrade/README.md).
const FIXTURE_COMMIT: &str = "7a1e39a";

fn fixture() -> PathBuf {
    workspace_root()
        .join("tests/fixtures/upgrade")
        .join(format!("demo-{FIXTURE_COMMIT}.dump"))
}

/// The harness cluster's socket directory (its data directory).
fn socket_dir() -> PathBuf {
    cluster_log()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A new, empty database on the harness cluster (not from the migrated template).
async fn new_database(prefix: &str) -> Result<String> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let admin = PgPool::connect(&database_url("postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(name)
}

/// `echinomap ARGS` with no configuration file, the database given by the arguments only.
fn echinomap(args: &[&str]) -> Output {
    let out = Command::new(binary())
        .args(args)
        .env_remove("DATABASE_URL")
        .env("ECHINOMAP_CONFIG", "none")
        .env("ECHINOMAP_LOG", "warn")
        .env("ECHINOMAP_DATABASE_SIZING", "small")
        .output()
        .expect("run echinomap");
    keep_log("upgrade-echinomap", &out.stderr);
    out
}

/// Every column of every table of the public schema, in order.
async fn columns(pool: &PgPool) -> Result<BTreeMap<String, Vec<String>>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
          WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await?;
    let mut by_table: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, column) in rows {
        by_table.entry(table).or_default().push(column);
    }
    Ok(by_table)
}

/// A table's content over `cols` only (order-independent), for a table a migration widened:
/// the fixture's columns must keep their values.
async fn hash_of_columns(pool: &PgPool, table: &str, cols: &[String]) -> Result<(i64, String)> {
    let quoted: Vec<String> = cols
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect();
    let sql = format!(
        "SELECT count(*), coalesce(sum(('x' || substr(md5(ROW({})::text), 1, 16))::bit(64)::bigint::numeric), 0)::text
           FROM \"{table}\"",
        quoted.join(", ")
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await?)
}

/// The stock tables the ledger's migration changes by design (or creates): checked by
/// [`the_old_stock_rows_are_converted_into_the_ledger`] instead of "unchanged".
const CONVERTED: &[&str] = &["stock_movements", "stock_stores", "stock_transfers"];

/// The tables that hold the programme's data: every register and the places they hang on.
fn register_tables() -> Vec<&'static str> {
    let mut tables: Vec<&'static str> = echinomap_programme::registers::REGISTERS
        .iter()
        .map(|r| r.table)
        .filter(|t| !CONVERTED.contains(t))
        .collect();
    for place in ["counties", "townships", "villages", "village_denominators"] {
        if !tables.contains(&place) {
            tables.push(place);
        }
    }
    tables
}

fn digest<'a>(digests: &'a [TableDigest], table: &str) -> Option<&'a TableDigest> {
    digests.iter().find(|d| d.table == table)
}

#[tokio::test]
async fn the_database_of_commit_7a1e39a_is_upgraded_with_every_register_unchanged() -> Result<()> {
    let name = new_database("upgrade").await?;
    let pg_restore = PgBinaries::find()?.bin("pg_restore");
    // As root, through the harness cluster's socket (root may enter its 0700 directory).
    let restored = Command::new(pg_restore)
        .args([
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "-h",
        ])
        .arg(socket_dir())
        .args(["-p", "5432", "-U", "postgres", "-d", &name])
        .arg(fixture())
        .output()?;
    assert!(
        restored.status.success(),
        "pg_restore of the fixture: {}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let db = TestDb::reopen(&name).await?;
    let before = manifest::compute(&db.pool).await?;
    let columns_before = columns(&db.pool).await?;
    // What the fixture holds (README): the test upgrades real data, not an empty schema.
    let people = digest(&before, "people").map(|d| d.rows);
    assert_eq!(people, Some(26_982), "the fixture's people");
    assert_eq!(digest(&before, "cases").map(|d| d.rows), Some(93));
    let old_stock: Vec<OldMovement> = sqlx::query_as(
        "SELECT id, kind::text, quantity, township_code::text, village_id, deleted_at IS NOT NULL
           FROM stock_movements ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await?;
    assert!(!old_stock.is_empty(), "the fixture has stock movements");
    let mut by_old_columns = BTreeMap::new();
    for table in register_tables() {
        let cols = columns_before
            .get(table)
            .unwrap_or_else(|| panic!("the fixture has no table {table}"));
        by_old_columns.insert(table, hash_of_columns(&db.pool, table, cols).await?);
    }

    let out = echinomap(&["migrate", "--database-url", &db.url()]);
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = echinomap_programme::db::schema_status(&db.pool).await?;
    assert_eq!(status.applied, echinomap_programme::db::last_migration());
    assert!(status.pending.is_empty() && status.unknown.is_empty());

    let after = manifest::compute(&db.pool).await?;
    let columns_after = columns(&db.pool).await?;
    for table in register_tables() {
        if columns_before.get(table) == columns_after.get(table) {
            // The same columns: the backup manifest's count and content hash, unchanged.
            assert_eq!(
                digest(&after, table),
                digest(&before, table),
                "{table} changed in the upgrade"
            );
        } else {
            // A migration added columns: the fixture's columns keep every value.
            let cols = &columns_before[table];
            assert_eq!(
                hash_of_columns(&db.pool, table, cols).await?,
                by_old_columns[table],
                "{table}: the values of its columns of {FIXTURE_COMMIT} changed in the upgrade"
            );
        }
    }

    the_old_stock_rows_are_converted_into_the_ledger(&db.pool, &old_stock).await?;

    // The new binary serves the upgraded database.
    let server = BinaryServer::start(&db, "upgrade-serve").await?;
    let health: serde_json::Value = reqwest::get(format!("{}/healthz", server.base))
        .await?
        .json()
        .await?;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    Ok(())
}

/// A stock movement as commit 7a1e39a kept it: id, kind, quantity, township, village, deleted.
type OldMovement = (i64, String, i32, Option<String>, Option<i32>, bool);

/// The ledger's migration kept every row: the same ids, in the store they were in (receipts,
/// adjustments and stocktakes at the county CDC's store; issues to a township as transfers
/// out of it, received the same day by the township centre; issues to a village as `use`),
/// soft-deleted rows set aside; stock on hand is the ledger's sum and nowhere negative.
async fn the_old_stock_rows_are_converted_into_the_ledger(
    pool: &PgPool,
    old: &[OldMovement],
) -> Result<()> {
    type NewMovement = (String, i32, String, Option<i64>, Option<i32>);
    let mut kinds = BTreeMap::new();
    for (id, kind, quantity, township, village, deleted) in old {
        if *deleted {
            let kept: i64 =
                sqlx::query_scalar("SELECT count(*) FROM stock_movements_deleted WHERE id = $1")
                    .bind(id)
                    .fetch_one(pool)
                    .await?;
            assert_eq!(kept, 1, "the deleted movement {id} is kept aside");
            continue;
        }
        *kinds.entry(kind.as_str()).or_insert(0) += 1;
        let row: Option<NewMovement> = sqlx::query_as(
            "SELECT m.kind::text, m.quantity, s.kind::text, m.transfer_id, m.village_id
               FROM stock_movements m JOIN stock_stores s ON s.id = m.store_id WHERE m.id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?;
        let (new_kind, new_quantity, store_kind, transfer, new_village) =
            row.unwrap_or_else(|| panic!("the movement {id} is gone"));
        assert_eq!(
            store_kind, "county_cdc",
            "movement {id} ({kind}) left the CDC"
        );
        match (kind.as_str(), township) {
            ("issue", Some(township)) => {
                assert_eq!(
                    (new_kind.as_str(), new_quantity),
                    ("transfer_out", -quantity.abs()),
                    "{id}"
                );
                let transfer = transfer.unwrap_or_else(|| panic!("issue {id} has no transfer"));
                let (received, into, place): (i64, i32, String) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM stock_transfer_receipts r
                              WHERE r.transfer_id = t.id AND r.received_on = t.issued_on),
                            (SELECT sum(m.quantity)::int FROM stock_movements m
                              WHERE m.transfer_id = t.id AND m.kind = 'transfer_in'
                                AND m.store_id = t.to_store_id),
                            s.place_code
                       FROM stock_transfers t JOIN stock_stores s ON s.id = t.to_store_id
                      WHERE t.id = $1 AND s.kind = 'township_centre'",
                )
                .bind(transfer)
                .fetch_one(pool)
                .await?;
                assert_eq!(received, 1, "issue {id}: received the same day");
                assert_eq!(into, quantity.abs(), "issue {id}: all of it arrived");
                assert_eq!(&place, township, "issue {id}: at the township's centre");
            }
            ("issue", None) => {
                assert_eq!((new_kind.as_str(), new_quantity), ("use", -quantity.abs()));
                assert_eq!(new_village, *village, "issue {id} to a village");
            }
            ("stocktake", _) => assert_eq!(new_kind, "adjustment", "{id}"),
            _ => assert_eq!(
                (new_kind.as_str(), new_quantity),
                (kind.as_str(), *quantity)
            ),
        }
    }
    assert!(kinds.contains_key("receipt"), "{kinds:?}");
    // Stock on hand is the ledger's sum, store × lot, and nowhere below zero.
    let differ: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT store_id, lot_id, sum(quantity) AS q FROM stock_movements
                                GROUP BY store_id, lot_id) l
           FULL JOIN stock_on_hand h USING (store_id, lot_id)
          WHERE coalesce(l.q, 0) <> coalesce(h.quantity, 0)",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(differ, 0, "stock on hand differs from the ledger's sum");
    let negative: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_on_hand WHERE quantity < 0")
        .fetch_one(pool)
        .await?;
    assert_eq!(negative, 0);
    Ok(())
}

/// A migration no echinomap of this build knows, as a newer echinomap would have applied it.
const FUTURE_MIGRATION: i64 = 20_991_231_000_001;

#[tokio::test]
async fn a_database_migrated_by_a_newer_echinomap_is_refused_by_migrate_and_serve_and_left_as_it_was()
-> Result<()> {
    let db = TestDb::demo().await?;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, 'from the future', true, '\\x00'::bytea, 1)",
    )
    .bind(FUTURE_MIGRATION)
    .execute(&db.pool)
    .await?;
    let before = manifest::compute(&db.pool).await?;
    let url = db.url();
    let listen = format!("127.0.0.1:{}", free_port());
    for args in [
        vec!["migrate", "--database-url", &url],
        vec!["serve", "--listen", &listen, "--database-url", &url],
    ] {
        let out = echinomap(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, got: {stderr}");
        let line = lines[0];
        for needed in [
            "migrated by a newer echinomap",
            &FUTURE_MIGRATION.to_string(),
            "from the future",
            "nothing was changed",
            "install the echinomap that migrated it, or a later one",
            env!("CARGO_PKG_VERSION"),
        ] {
            assert!(line.contains(needed), "{args:?}: {needed:?} not in: {line}");
        }
    }
    // The row from the future and every table are as they were.
    let after = manifest::compute(&db.pool).await?;
    assert_eq!(after, before);
    let still: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE version = $1")
        .bind(FUTURE_MIGRATION)
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(still, 1);
    Ok(())
}

#[test]
fn a_data_directory_of_another_user_is_refused_in_one_line_and_left_untouched() {
    if !nix::unistd::geteuid().is_root() {
        // The test runs the binary as `nobody` against a directory of root's: it needs root.
        eprintln!("skipped: needs root to run the binary as another user");
        return;
    }
    let dir = shared_tempdir(); // root's, 0755
    let data_dir = dir.path().display().to_string();
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(binary())
        .args(["migrate", "--data-dir", &data_dir])
        .current_dir("/")
        .env_remove("DATABASE_URL")
        .env("ECHINOMAP_CONFIG", "none")
        .env("ECHINOMAP_LOG", "warn")
        .output()
        .expect("runuser");
    let stderr = String::from_utf8_lossy(&out.stderr);
    keep_log("upgrade-owner", &out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    for needed in [
        data_dir.as_str(),
        "belongs to root",
        "runs as nobody",
        "chown -R nobody",
        "nothing was changed",
    ] {
        assert!(lines[0].contains(needed), "{needed:?} not in: {}", lines[0]);
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "the directory was changed: {left:?}");
}
