//! A full disk under the data directory (issue 17, "Figures to keep": faults injected). The real
//! binary serves with its embedded cluster on a small tmpfs, which a filler file then fills to
//! the last byte: a large import and single writes are refused with the JSON `disk_full` error
//! and leave nothing behind; WAL that cannot grow stops PostgreSQL (a PANIC, and crash recovery
//! cannot finish either), which `/healthz` reports; once the filler is gone, the keeper starts
//! the cluster again, the service writes without a restart, and every row committed before the
//! fault is there.
//!
//! Mounting needs root, as the whole suite does (`scripts/prepare.sh` installs what is missing
//! with apt-get, the harness runs PostgreSQL as the `postgres` user): without it the test fails
//! and says so; it does not skip.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use echinomap_programme::auth::Role;
use echinomap_tests::{ApiClient, BinaryServer, Result, api_client, shared_tempdir};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Room for the cluster after its first start (about 70 MB: two WAL segments, the catalogs,
/// the gazetteer) and a filler of about 90 MB.
const TMPFS_SIZE: &str = "160m";
/// Dogs in the large import: about 8 MB of CSV, so it runs as a background job.
const BIG_IMPORT_ROWS: usize = 200_000;
/// Dogs committed before the disk fills; all of them must be there at the end.
const COMMITTED_BEFORE: usize = 20;
const VILLAGE: &str = "654022100200";
/// New dogs sent to the full disk at most, until this many in a row are refused.
const MAX_SINGLE_WRITES: usize = 300;
const REFUSED_IN_A_ROW: usize = 3;

/// A tmpfs mounted on a directory, unmounted when dropped (also when the test fails).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Result<Self> {
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .output()
            .map_err(|e| anyhow::anyhow!("cannot run mount: {e}"))?;
        anyhow::ensure!(
            out.status.success(),
            "this test mounts a {size} tmpfs to fill it, which needs root (uid {}): run the test \
             suite as root, as CI does (scripts/prepare.sh assumes it too). mount said: {}",
            nix::unistd::geteuid(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(Self {
            path: path.to_owned(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // The server is gone by now; its watchdog stops PostgreSQL within a second or so, and
        // until its processes leave, the mount is busy.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new("umount").arg(&self.path).output();
            if out.as_ref().is_ok_and(|o| o.status.success()) {
                return;
            }
            if Instant::now() > deadline {
                eprintln!(
                    "{} still busy after 30 s ({:?}); detaching it lazily",
                    self.path.display(),
                    out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                );
                let _ = Command::new("umount").arg("-l").arg(&self.path).status();
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Appends zeros to `path` until its file system refuses with ENOSPC; the bytes written.
fn fill(path: &Path) -> Result<u64> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0;
    loop {
        match file.write(&chunk) {
            Ok(0) => anyhow::bail!("{} takes no more bytes, without ENOSPC", path.display()),
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => return Err(e.into()),
        }
    }
    let free = nix::sys::statvfs::statvfs(path)?;
    anyhow::ensure!(
        free.blocks_available() == 0,
        "{} blocks are still free after the filler",
        free.blocks_available()
    );
    Ok(written)
}

/// Connections to the embedded cluster through its socket (as the owner, `postgres`).
async fn connect(pgdata: &Path, max: u32) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(max)
        .connect_with(
            PgConnectOptions::new()
                .socket(pgdata)
                .port(5432)
                .username("postgres")
                .database("echinomap"),
        )
        .await?)
}

/// `/healthz`: its status and body.
async fn health(server: &BinaryServer) -> Result<(u16, Value)> {
    let r = reqwest::get(format!("{}/healthz", server.base)).await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await?))
}

/// Waits until `/healthz` answers as `wanted` says, and returns its body.
async fn health_until(
    server: &BinaryServer,
    what: &str,
    within: Duration,
    wanted: impl Fn(u16, &Value) -> bool,
) -> Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok((status, body)) = health(server).await
            && wanted(status, &body)
        {
            return Ok(body);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "/healthz did not say {what} within {within:?}: {:?}",
            health(server).await.ok()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A request's status and JSON body (`null` when it has none, as a 204).
async fn send(req: reqwest::RequestBuilder) -> Result<(u16, Value)> {
    let r = req.send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("status {status}, body is not JSON ({e}): {text}"))?
    };
    Ok((status, body))
}

fn dog(tag: &str) -> Value {
    json!({"dog_tag": tag, "dog_kind": "牧犬", "registered_on": "2024-01-01", "village_code": VILLAGE})
}

/// The JSON error of a full disk (`{"code", "message", "details"}`).
fn names_the_full_disk(error: &Value) -> bool {
    error["code"] == "disk_full"
        && error["message"]
            .as_str()
            .is_some_and(|m| m.contains("disk is full"))
}

/// The answer of a write the full disk refused: 507 with the JSON `disk_full` error.
fn refused_for_disk(status: u16, body: &Value) -> bool {
    status == 507 && names_the_full_disk(&body["error"])
}

async fn tags_like(pool: &PgPool, pattern: &str) -> Result<BTreeSet<String>> {
    Ok(
        sqlx::query_scalar("SELECT tag FROM dogs WHERE tag LIKE $1 AND deleted_at IS NULL")
            .bind(pattern)
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect(),
    )
}

/// What a write leaves besides its row: the audit entries of dog writes and imports, and the
/// import history.
async fn traces(pool: &PgPool) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM audit_log
                 WHERE (table_name = 'dogs' AND action IN ('create', 'update', 'delete'))
                    OR action = 'import'),
                (SELECT count(*) FROM imports)",
    )
    .fetch_one(pool)
    .await?)
}

/// Polls an import job until it is done, and returns its last status.
async fn finished_job(server: &BinaryServer, epi: &ApiClient, id: &str) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let p = epi.get_json(&format!("/api/imports/{id}"), 200).await?;
        if p["phase"] == "done" {
            return Ok(p);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the import on {} did not end: {p}",
            server.base
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_full_data_disk_refuses_writes_whole_and_the_service_recovers_once_space_is_freed()
-> Result<()> {
    // Dropped in reverse: the server (its cluster's log is kept), the mount, the directory.
    let dir = shared_tempdir();
    let mount = Tmpfs::mount(dir.path(), TMPFS_SIZE)?;
    let mut server = BinaryServer::start_embedded(
        &mount.path.join("var"),
        "disk-full",
        // The keeper retries every 2 s at most, so that it notices the freed space quickly.
        &[("ECHINOMAP_PG_RESTART_MAX_BACKOFF_SECS", "2")],
    )
    .await?;
    let pgdata = server
        .pgdata()
        .ok_or_else(|| anyhow::anyhow!("no data dir"))?
        .canonicalize()?;
    health_until(&server, "ok", Duration::from_secs(60), |s, _| s == 200).await?;
    let pool = connect(&pgdata, 2).await?;
    let epi = api_client(&pool, &server.base, Role::Epidemiologist, "654022").await?;
    let vet = api_client(&pool, &server.base, Role::Vet, "654022").await?;
    let mut faults = 0;

    // WAL from here on goes to a segment of its own, made before the disk fills: the writes
    // below have nearly 16 MB of WAL before PostgreSQL needs a new segment (and stops).
    sqlx::query("SELECT pg_switch_wal()").execute(&pool).await?;
    // Committed before the fault.
    let mut committed = BTreeSet::new();
    for i in 1..=COMMITTED_BEFORE {
        let tag = format!("BEFORE-{i}");
        epi.post_json("/api/dogs", &dog(&tag), 201).await?;
        committed.insert(tag);
    }
    let before: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, tag FROM dogs WHERE tag LIKE 'BEFORE-%' ORDER BY id")
            .fetch_all(&pool)
            .await?;
    assert_eq!(before.len(), COMMITTED_BEFORE);
    let traces_before = traces(&pool).await?;

    // The disk fills up.
    let filler = mount.path.join("filler");
    let filled = fill(&filler)?;
    eprintln!("filler: {} MiB, 0 bytes left", filled >> 20);

    // 1. A large import is refused as a whole, with the JSON error, and writes nothing.
    let mut csv = String::from("犬牌号,犬只类型,登记日期,村代码\n");
    for i in 0..BIG_IMPORT_ROWS {
        csv.push_str(&format!("BIG-{i},牧犬,2024-01-01,{VILLAGE}\n"));
    }
    let started = Instant::now();
    let (status, job) = send(
        epi.request(Method::POST, "/api/imports?kind=dogs&format=csv")
            .body(csv),
    )
    .await?;
    assert_eq!(status, 202, "a large file runs as a job: {job}");
    let id = job["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no job id: {job}"))?;
    let done = finished_job(&server, &epi, id).await?;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        names_the_full_disk(&done["failure"]),
        "the import's failure names the full disk: {done}"
    );
    faults += 1;
    eprintln!("import refused after {:?}", started.elapsed());
    assert_eq!(tags_like(&pool, "BIG-%").await?, BTreeSet::new());
    assert_eq!(traces(&pool).await?, traces_before, "no history, no audit");

    // 2. Single writes: each is refused whole with the JSON error, or done whole. What the
    // failed import held is taken again first. A new dog may still fit in the pages the tables
    // have; once they are full, every one is refused.
    fill(&filler)?;
    let mut done_writes = 0;
    let mut refused_in_a_row = 0;
    for i in 1..=MAX_SINGLE_WRITES {
        let tag = format!("FULL-{i}");
        let (status, body) = send(epi.request(Method::POST, "/api/dogs").json(&dog(&tag))).await?;
        if refused_for_disk(status, &body) {
            faults += 1;
            refused_in_a_row += 1;
            if refused_in_a_row == REFUSED_IN_A_ROW {
                break;
            }
        } else {
            assert_eq!(status, 201, "a new dog on a full disk: {body}");
            committed.insert(tag);
            done_writes += 1;
            refused_in_a_row = 0;
        }
    }
    assert_eq!(
        refused_in_a_row, REFUSED_IN_A_ROW,
        "{MAX_SINGLE_WRITES} new dogs on a full disk, {done_writes} of them saved"
    );
    eprintln!(
        "new dogs on the full disk: {done_writes} saved in the pages there were, then refused"
    );
    // An edit and a deletion may fit in the pages the table has; whole if they do.
    let (edited, _) = &before[0];
    let patched = format!("/api/dogs/{edited}");
    let (status, body) = send(
        epi.request(Method::PATCH, &patched)
            .json(&json!({"registered_on": "2024-02-02"})),
    )
    .await?;
    let registered: chrono::NaiveDate =
        sqlx::query_scalar("SELECT registered_on FROM dogs WHERE id = $1")
            .bind(edited)
            .fetch_one(&pool)
            .await?;
    if refused_for_disk(status, &body) {
        faults += 1;
        assert_eq!(registered.to_string(), "2024-01-01", "unchanged");
        eprintln!("the edit: refused");
    } else {
        assert_eq!(status, 200, "an edit on a full disk: {body}");
        assert_eq!(registered.to_string(), "2024-02-02", "changed");
        done_writes += 1;
    }
    let (deleted, deleted_tag) = &before[COMMITTED_BEFORE - 1];
    let (status, body) = send(epi.request(Method::DELETE, &format!("/api/dogs/{deleted}"))).await?;
    if refused_for_disk(status, &body) {
        faults += 1;
        eprintln!("the deletion: refused");
    } else {
        assert_eq!(status, 204, "a deletion on a full disk: {body}");
        committed.remove(deleted_tag);
        done_writes += 1;
    }
    let traces_now = traces(&pool).await?;
    assert_eq!(
        (traces_now.0 - traces_before.0, traces_now.1),
        (done_writes, traces_before.1),
        "an audit entry for each write done, none for a refused one"
    );
    assert_eq!(tags_like(&pool, "%").await?, committed);
    // Reading needs no room (a vet's list: it names no owner, so no audit entry is written;
    // a list that names people is audited, and is refused with the disk when it cannot be).
    let list = vet
        .get_json(&format!("/api/dogs?village={VILLAGE}"), 200)
        .await?;
    assert!(list.to_string().contains("\"BEFORE-1\""), "{list}");
    let (status, body) =
        send(epi.request(Method::GET, &format!("/api/dogs?village={VILLAGE}"))).await?;
    assert!(
        status == 200 || refused_for_disk(status, &body),
        "a list naming owners on a full disk: {status} {body}"
    );
    pool.close().await;

    // 3. The WAL cannot grow: PostgreSQL stops (a PANIC), and its crash recovery needs room
    // too, so the postmaster ends; the keeper's attempts fail until there is room again.
    let wal = connect(&pgdata, 1).await?;
    let mut stopped = None;
    for _ in 0..400 {
        // 1 MB of WAL each (no personal data: a run of 'x').
        if let Err(e) = sqlx::query(
            "SELECT pg_logical_emit_message(true, 'disk-full-test', repeat('x', 1000000))",
        )
        .execute(&wal)
        .await
        {
            stopped = Some(e);
            break;
        }
    }
    let stopped = stopped.ok_or_else(|| anyhow::anyhow!("400 MB of WAL fit on a full disk"))?;
    eprintln!("the WAL writer stopped: {stopped}");
    faults += 1;
    wal.close().await;
    let log = std::fs::read_to_string(pgdata.join("postgresql.log"))?;
    assert!(
        log.lines()
            .any(|l| l.contains("PANIC:") && l.contains("No space left on device")),
        "PostgreSQL's log has no PANIC for the full disk"
    );
    let down = health_until(
        &server,
        "that PostgreSQL cannot start for lack of space",
        Duration::from_secs(30),
        |s, b| {
            s == 503
                && b["database"]["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("No space left on device"))
        },
    )
    .await?;
    assert_eq!(down["error"]["code"], "database_unavailable", "{down}");
    // Meanwhile a write is a JSON 503, not a hang.
    let started = Instant::now();
    let (status, body) = send(epi.request(Method::POST, "/api/dogs").json(&dog("DOWN-1"))).await?;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("database_unavailable")),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    // Space is freed: the keeper starts the cluster again, without restarting echinomap.
    std::fs::remove_file(&filler)?;
    let freed = Instant::now();
    let up = health_until(&server, "ok again", Duration::from_secs(30), |s, b| {
        s == 200 && b["database"]["restarts"].as_u64().is_some_and(|r| r >= 1)
    })
    .await?;
    eprintln!(
        "healthy {:?} after the filler was removed: {up}",
        freed.elapsed()
    );
    assert!(up["database"]["last_restart"].is_string(), "{up}");
    assert!(
        up["database"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("No space left on device")),
        "/healthz tells what happened: {up}"
    );
    assert!(
        server.child.try_wait()?.is_none(),
        "the same echinomap process serves"
    );

    // Nothing was lost or left over: the rows committed are there, and only they, with an
    // audit entry for each write done and none for a refused one.
    let pool = connect(&pgdata, 2).await?;
    let present = tags_like(&pool, "%").await?;
    let traces_after = traces(&pool).await?;
    let lost = committed.difference(&present).count();
    let partial = present.difference(&committed).count()
        + (traces_after.0 - traces_before.0 - done_writes).unsigned_abs() as usize
        + (traces_after.1 - traces_before.1).unsigned_abs() as usize;
    assert_eq!(lost, 0, "committed {committed:?}, present {present:?}");
    assert_eq!(
        partial, 0,
        "committed {committed:?}, present {present:?}, audit and history {traces_before:?} → {traces_after:?} after {done_writes} writes"
    );

    // The service writes again, single records and imports.
    epi.post_json("/api/dogs", &dog("AFTER-1"), 201).await?;
    assert_eq!(tags_like(&pool, "AFTER-1").await?.len(), 1);
    let mut small = String::from("犬牌号,犬只类型,登记日期,村代码\n");
    for i in 0..100 {
        small.push_str(&format!("SMALL-{i},牧犬,2024-01-01,{VILLAGE}\n"));
    }
    let (status, report) = send(
        epi.request(Method::POST, "/api/imports?kind=dogs&format=csv")
            .body(small),
    )
    .await?;
    assert_eq!(
        (status, &report["inserted"]),
        (200, &json!(100)),
        "{report}"
    );
    assert_eq!(tags_like(&pool, "SMALL-%").await?.len(), 100);
    pool.close().await;
    eprintln!("figures: {faults} faults (full disk), {lost} rows lost, {partial} partial");
    Ok(())
}
