//! `GET /metrics`: the service's state in the Prometheus text format (version 0.0.4), for a
//! scraper on the host or an administrator (`Access::LocalOr(Perm::Admin)` in the route table).
//!
//! Two kinds of series:
//! - kept since start, by the middleware [`record`] around every route: requests by route
//!   *template* (axum's `MatchedPath`, never the raw path, which holds ids and codes; `unmatched`
//!   when no route matched), method and status, and their latency as a histogram. Tiles answered
//!   by the fast path count under the tile route like any other request (the fast path runs
//!   after routing, inside this layer).
//! - read at each scrape ([`scrape`]): whether the database answers (`echinomap_up`), the
//!   connection pools, the tile cache, the import jobs, the data version of every table, the
//!   database's size, the embedded cluster's restarts, the last backup's age and the space left
//!   where the data and the backups live. docs/OPERATIONS.md lists the alert rules over them.
//!
//! Nothing personal is in any label: route templates, methods, statuses, table names, pool
//! names.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::AppState;
use crate::error::AppError;

/// The route label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the latency buckets, in seconds: from a cached tile (a millisecond) to a
/// large export's first bytes.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The longest a scrape waits for the database before it reports it down.
const DATABASE_WAIT: Duration = Duration::from_secs(3);

/// The directories whose state `/metrics` reports (none in tests that mount their own routes).
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// `--data-dir`: the embedded cluster and local state.
    pub data_dir: Option<PathBuf>,
    /// `--backup-dir`: where `echinomap backup` writes.
    pub backup_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The series kept since start, and where to look at scrape time.
#[derive(Debug, Clone)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latencies: Latencies,
    paths: Paths,
}

impl Metrics {
    pub fn new(paths: Paths) -> Self {
        Self {
            requests: Family::default(),
            latencies: Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS)),
            paths,
        }
    }

    fn observe(&self, route: String, method: &'static str, status: u16, took: Duration) {
        self.latencies
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method,
            })
            .observe(took.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Paths::default())
    }
}

/// The method as a label: the standard ones by name, anything else `other` (a client must not
/// make new series by inventing methods).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(m, _)| m == method)
        .map_or("other", |(_, name)| name)
}

/// Middleware (the outermost layer): counts every answer by route template, method and status,
/// and the time until its head was ready (a streamed body may go on after that).
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    state
        .metrics
        .observe(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>) -> Result<Response, AppError> {
    let mut registry = Registry::with_prefix("echinomap");
    registry.register(
        "http_requests",
        "HTTP requests answered, by route template, method and status",
        state.metrics.requests.clone(),
    );
    registry.register_with_unit(
        "http_request_duration",
        "Time until an answer's head was ready, by route template and method",
        Unit::Seconds,
        state.metrics.latencies.clone(),
    );
    gauges(
        &mut registry,
        "build_info",
        "The running echinomap's version (always 1)",
        "version",
        [(env!("CARGO_PKG_VERSION").to_owned(), 1)],
    );
    database(&state, &mut registry).await;
    local(&state, &mut registry);
    let mut body = String::new();
    prometheus_text::encode(&mut body, &registry)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("encoding the metrics: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
        )],
        body,
    )
        .into_response())
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c: Counter = Counter::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

type Labelled = Family<Vec<(&'static str, String)>, Gauge>;

/// A gauge with one label, one series per `(label value, value)`.
fn labelled(label: &'static str, rows: impl IntoIterator<Item = (String, i64)>) -> Labelled {
    let family = Labelled::default();
    for (value_of_label, value) in rows {
        family
            .get_or_create(&vec![(label, value_of_label)])
            .set(value);
    }
    family
}

fn gauges(
    registry: &mut Registry,
    name: &str,
    help: &str,
    label: &'static str,
    rows: impl IntoIterator<Item = (String, i64)>,
) {
    registry.register(name, help, labelled(label, rows));
}

/// What the database says: up or not, and, when up, the data versions, the imports and its
/// size. The pools are reported either way.
async fn database(state: &AppState, registry: &mut Registry) {
    let pools = [
        ("requests", &state.pool),
        ("tiles", &state.tile_pool),
        ("long", &state.long_pool),
    ];
    let per_pool = |f: fn(&sqlx::PgPool) -> i64| {
        pools
            .iter()
            .map(|(name, pool)| ((*name).to_owned(), f(pool)))
            .collect::<Vec<_>>()
    };
    gauges(
        registry,
        "db_pool_connections",
        "Open connections of each database pool",
        "pool",
        per_pool(|p| i64::from(p.size())),
    );
    gauges(
        registry,
        "db_pool_idle_connections",
        "Idle connections of each database pool",
        "pool",
        per_pool(|p| i64::try_from(p.num_idle()).unwrap_or(i64::MAX)),
    );
    gauges(
        registry,
        "db_pool_max_connections",
        "The most connections each database pool opens",
        "pool",
        per_pool(|p| i64::from(p.options().get_max_connections())),
    );
    if let Some(keeper) = &state.keeper {
        counter(
            registry,
            "embedded_postgres_restarts",
            "Starts of the embedded PostgreSQL after its postmaster died",
            keeper.report().restarts,
        );
    }
    let probe = tokio::time::timeout(
        DATABASE_WAIT,
        echinomap_programme::health::probe(&state.pool),
    )
    .await;
    let up = match probe {
        Ok(Ok(_)) => true,
        outcome => {
            let reason = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no answer within {} s", DATABASE_WAIT.as_secs()),
            };
            tracing::warn!(error = %reason, "metrics: the database is unavailable");
            false
        }
    };
    gauge(
        registry,
        "up",
        "1 when the database answers, else 0",
        i64::from(up),
    );
    if !up {
        return;
    }
    // Each read on its own: one that fails (or takes too long) leaves out its series only.
    let pool = &state.pool;
    let read = async {
        tokio::join!(
            echinomap_programme::metrics::data_versions(pool),
            echinomap_programme::metrics::imports_by_status(pool),
            echinomap_programme::metrics::database_bytes(pool),
        )
    };
    let Ok((versions, imports, bytes)) = tokio::time::timeout(DATABASE_WAIT, read).await else {
        tracing::warn!(
            "metrics: the database's figures took over {} s; left out",
            DATABASE_WAIT.as_secs()
        );
        return;
    };
    if let Some(versions) = kept(versions, "data versions") {
        let (changed, versions): (Vec<_>, Vec<_>) = versions
            .into_iter()
            .map(|v| {
                (
                    (v.table_name.clone(), v.changed_at),
                    (v.table_name, v.version),
                )
            })
            .unzip();
        gauges(
            registry,
            "data_version",
            "Data version of each table (moves on every change)",
            "table",
            versions,
        );
        gauges(
            registry,
            "data_changed_timestamp_seconds",
            "When each table's data version last moved, in seconds since the Unix epoch",
            "table",
            changed,
        );
    }
    if let Some(imports) = kept(imports, "imports") {
        gauges(
            registry,
            "imports_finished",
            "Imports recorded in the database, by outcome",
            "status",
            imports,
        );
    }
    if let Some(bytes) = kept(bytes, "database size") {
        let db_size: Gauge = Gauge::default();
        db_size.set(bytes);
        registry.register_with_unit(
            "database_size",
            "Size of the database on disk",
            Unit::Bytes,
            db_size,
        );
    }
}

/// A read's rows, or `None` after logging why it failed.
fn kept<T>(read: Result<T, sqlx::Error>, what: &str) -> Option<T> {
    read.map_err(|e| tracing::warn!(error = %e, "metrics: cannot read the {what}; left out"))
        .ok()
}

/// What this process knows without the database: the tile cache, the running imports, the
/// last backup and the file systems.
fn local(state: &AppState, registry: &mut Registry) {
    let tiles = state.tile_cache.stats();
    counter(
        registry,
        "tile_cache_hits",
        "Tile requests answered from the tile cache",
        tiles.hits,
    );
    counter(
        registry,
        "tile_cache_misses",
        "Tile requests the tile cache could not answer (rendered)",
        tiles.misses,
    );
    gauge(
        registry,
        "tile_cache_entries",
        "Tiles held in the tile cache",
        i64::try_from(tiles.entries).unwrap_or(i64::MAX),
    );
    let cache_bytes: Gauge = Gauge::default();
    cache_bytes.set(i64::try_from(tiles.bytes).unwrap_or(i64::MAX));
    registry.register_with_unit(
        "tile_cache_size",
        "Bytes held in the tile cache (every encoding)",
        Unit::Bytes,
        cache_bytes,
    );
    gauge(
        registry,
        "import_jobs_running",
        "Imports started by this process and not finished",
        i64::try_from(state.imports.running()).unwrap_or(i64::MAX),
    );
    let paths = &state.metrics.paths;
    if let Some(dir) = &paths.backup_dir {
        backups(registry, dir);
    }
    let dirs: Vec<(&str, &Path)> = [("data", &paths.data_dir), ("backup", &paths.backup_dir)]
        .into_iter()
        .filter_map(|(name, dir)| Some((name, dir.as_deref()?)))
        .collect();
    let (mut size, mut avail) = (Vec::new(), Vec::new());
    for (name, dir) in dirs {
        if let Some((total, free)) = filesystem(dir) {
            size.push((name.to_owned(), total));
            avail.push((name.to_owned(), free));
        }
    }
    registry.register_with_unit(
        "filesystem_size",
        "Size of the file system holding each directory (dir: data or backup)",
        Unit::Bytes,
        labelled("dir", size),
    );
    registry.register_with_unit(
        "filesystem_avail",
        "Space an unprivileged user may still write on the file system holding each directory",
        Unit::Bytes,
        labelled("dir", avail),
    );
}

/// The newest backup in `dir` (`echinomap_programme::backup::latest`): when it was taken (0
/// when there is none, so that an alert on its age fires), its age and size, and how many
/// there are.
fn backups(registry: &mut Registry, dir: &Path) {
    let all = echinomap_programme::backup::list(dir);
    gauge(
        registry,
        "backup_files",
        "Finished backups in the backup directory",
        i64::try_from(all.len()).unwrap_or(i64::MAX),
    );
    let newest = all.last();
    gauge(
        registry,
        "backup_last_timestamp_seconds",
        "When the newest backup was taken, in seconds since the Unix epoch (0: none)",
        newest.map_or(0, |b| b.taken_at.timestamp()),
    );
    if let Some(b) = newest {
        gauge(
            registry,
            "backup_last_age_seconds",
            "Seconds since the newest backup was taken",
            (chrono::Utc::now() - b.taken_at).num_seconds().max(0),
        );
        if let Ok(meta) = std::fs::metadata(&b.path) {
            gauge(
                registry,
                "backup_last_size_bytes",
                "Size of the newest backup file",
                i64::try_from(meta.len()).unwrap_or(i64::MAX),
            );
        }
    }
}

/// The size of the file system holding `dir` and the space left to unprivileged users, in
/// bytes. A directory not made yet (no backup so far) is where it will be made: its nearest
/// existing ancestor's file system. `None` when nothing on the way can be examined.
fn filesystem(dir: &Path) -> Option<(i64, i64)> {
    let st = dir
        .ancestors()
        // A relative path's last ancestor is empty: the working directory.
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .find_map(|d| nix::sys::statvfs::statvfs(d).ok())?;
    let unit = u128::from(st.fragment_size());
    let bytes = |blocks: u64| i64::try_from(u128::from(blocks) * unit).unwrap_or(i64::MAX);
    Some((bytes(st.blocks()), bytes(st.blocks_available())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let invented = Method::from_bytes(b"BREW").expect("a method");
        assert_eq!(method_label(&invented), "other");
    }

    #[test]
    fn request_series_are_counted_per_template_and_encoded_as_prometheus_text() {
        let metrics = Metrics::default();
        for _ in 0..3 {
            metrics.observe(
                "/api/cases/{id}".into(),
                "GET",
                200,
                Duration::from_millis(3),
            );
        }
        metrics.observe(UNMATCHED.into(), "GET", 404, Duration::from_millis(1));
        let mut registry = Registry::with_prefix("echinomap");
        registry.register("http_requests", "requests", metrics.requests.clone());
        registry.register_with_unit(
            "http_request_duration",
            "latency",
            Unit::Seconds,
            metrics.latencies.clone(),
        );
        let mut text = String::new();
        prometheus_text::encode(&mut text, &registry).expect("encodes");
        assert!(
            text.contains(
                "echinomap_http_requests_total{route=\"/api/cases/{id}\",method=\"GET\",status=\"200\"} 3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "echinomap_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "echinomap_http_request_duration_seconds_bucket{route=\"/api/cases/{id}\",method=\"GET\",le=\"0.005\"} 3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "echinomap_http_request_duration_seconds_count{route=\"/api/cases/{id}\",method=\"GET\"} 3\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_filesystem_of_a_directory_has_a_size_and_space_left() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (size, avail) = filesystem(dir.path()).expect("statvfs");
        assert!(size > 0 && (0..=size).contains(&avail), "{size} {avail}");
        // A directory not made yet is measured where it will be made.
        let (later, _) = filesystem(&dir.path().join("backups/not/yet")).expect("statvfs");
        assert_eq!(later, size);
    }
}
