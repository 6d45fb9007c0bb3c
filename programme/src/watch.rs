//! What changed in the database, known without asking it on every request.
//!
//! Two channels, announced by triggers (migration 0021) and delivered at commit:
//! - `echinomap_data`: a statement changed a table, so its data version moved. Tile, hotspot and
//!   export caches key their entries by data versions; [`Watch::versions`] answers them from
//!   memory and reads the `data_versions` table again only after a notification.
//! - `echinomap_auth`: a user, session or token was changed or removed. The caller cache of
//!   `auth::session` keeps resolved logins only for the current [`Watch::auth_generation`].
//!
//! Freshness is exact, not eventual: a request with credentials first waits for a *fence*
//! ([`Watch::sync`]): a bare Sync message on the listening connection itself, sent after the
//! request arrived. PostgreSQL signals listeners when a transaction commits, before the writer
//! hears "committed", and a listening backend sends pending notifications before its next
//! ReadyForQuery, so when the fence's answer arrives, every notification of every transaction
//! committed before the request is in hand. Fences are numbered: a request waits for the first
//! fence whose number was taken after it arrived, so every request that arrives while one fence
//! is on the wire shares the next one. Under load the cost is one tiny round trip for many
//! requests (and no message per request to the listener: a counter, a wake-up and a shared
//! watch value). While the LISTEN connection is down, nothing is trusted: every call asks the
//! database, as if there were no cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};

pub const DATA_CHANNEL: &str = "echinomap_data";
pub const AUTH_CHANNEL: &str = "echinomap_auth";

/// A snapshot of `data_versions` and the data generation it was read at.
type Snapshot = (u64, Arc<HashMap<String, i64>>);

#[derive(Debug, Default)]
struct Inner {
    /// True while the LISTEN connection is up and subscribed.
    listening: AtomicBool,
    /// Moves on every data notification (and when the listener reconnects).
    data_generation: AtomicU64,
    /// Moves on every account notification (and when the listener reconnects).
    auth_generation: AtomicU64,
    versions: RwLock<Option<Snapshot>>,
    /// The number of the last fence sent (taken just before its query goes out).
    fence_started: AtomicU64,
    /// Wakes the listener: a request waits for a fence.
    demand: Notify,
}

/// The last fence that ended: its number, and whether it completed (false: the connection
/// failed, and whoever waited for it must ask the database).
type FenceDone = (u64, bool);

#[derive(Debug, Clone)]
pub struct Watch {
    inner: Arc<Inner>,
    fences: watch::Sender<FenceDone>,
}

impl Watch {
    /// Starts listening on `pool`'s database; the task runs until aborted (before the pool
    /// closes: it holds one of the pool's connections).
    pub fn spawn(pool: PgPool) -> (Self, tokio::task::JoinHandle<()>) {
        let (fences, _) = watch::channel((0, false));
        let watch = Self {
            inner: Arc::default(),
            fences,
        };
        let task = tokio::spawn(watch.clone().listen(pool));
        (watch, task)
    }

    /// Waits for a fence started after this call; true when it completed, so that the
    /// generations now reflect every transaction committed before the call.
    pub async fn sync(&self) -> bool {
        if !self.inner.listening.load(Ordering::SeqCst) {
            return false;
        }
        let mut done = self.fences.subscribe();
        // Fence `need` takes its number after this load, so it is sent after this call began.
        let need = self.inner.fence_started.load(Ordering::SeqCst) + 1;
        self.inner.demand.notify_one();
        match done.wait_for(|&(n, _)| n >= need).await {
            Ok(d) => d.1,
            Err(_) => false,
        }
    }

    /// Whatever was read before may be stale (the listener was down).
    fn touch(&self) {
        self.inner.data_generation.fetch_add(1, Ordering::SeqCst);
        self.inner.auth_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current account generation, or `None` when nothing may be cached (not listening).
    /// Meaningful after a successful [`Watch::sync`].
    pub fn auth_generation(&self) -> Option<u64> {
        self.inner
            .listening
            .load(Ordering::SeqCst)
            .then(|| self.inner.auth_generation.load(Ordering::SeqCst))
    }

    /// The data versions of `tables`, in the given order (0 for a table without a row); exact
    /// for requests that passed [`Watch::sync`] (every request with credentials does).
    pub async fn versions(&self, pool: &PgPool, tables: &[&str]) -> Result<Vec<i64>, sqlx::Error> {
        let generation = self.inner.data_generation.load(Ordering::SeqCst);
        if self.inner.listening.load(Ordering::SeqCst)
            && let Ok(guard) = self.inner.versions.read()
            && let Some((g, map)) = guard.as_ref()
            && *g == generation
        {
            return Ok(pick(map, tables));
        }
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT table_name, version FROM data_versions")
                .fetch_all(pool)
                .await?;
        let map: Arc<HashMap<String, i64>> = Arc::new(rows.into_iter().collect());
        if let Ok(mut guard) = self.inner.versions.write()
            && guard.as_ref().is_none_or(|(g, _)| *g <= generation)
        {
            // Tagged with the generation read *before* the query: a notification that arrives
            // meanwhile moves the generation, and the next call reads again.
            *guard = Some((generation, map.clone()));
        }
        Ok(pick(&map, tables))
    }

    async fn listen(self, pool: PgPool) {
        loop {
            match self.subscribe(&pool).await {
                Ok(mut listener) => {
                    // Anything may have changed while nobody listened.
                    self.touch();
                    self.inner.listening.store(true, Ordering::SeqCst);
                    self.serve_fences(&mut listener).await;
                    self.inner.listening.store(false, Ordering::SeqCst);
                    self.touch();
                    tracing::warn!(
                        "the database change listener lost its connection; reconnecting"
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for database changes; retrying");
                }
            }
            // Whoever waits now is told to ask the database: a failed fence numbered past
            // every request that may be waiting.
            let n = self.inner.fence_started.fetch_add(1, Ordering::SeqCst) + 1;
            self.fences.send_replace((n, false));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Runs fences while requests wait for one (and one a second when idle, which takes in the
    /// notifications of a quiet service) until the connection fails.
    async fn serve_fences(&self, listener: &mut PgListener) {
        loop {
            // A request that arrived while the previous fence was out left a permit: the next
            // fence goes out at once.
            let _ =
                tokio::time::timeout(Duration::from_secs(1), self.inner.demand.notified()).await;
            let n = self.inner.fence_started.fetch_add(1, Ordering::SeqCst) + 1;
            // A bare Sync message (sqlx's ping): no query, no transaction; the backend sends
            // the pending notifications, then ReadyForQuery.
            let done = match sqlx::Acquire::acquire(&mut *listener).await {
                Ok(conn) => sqlx::Connection::ping(conn).await.is_ok(),
                Err(_) => false,
            };
            while let Some(n) = listener.next_buffered() {
                let counter = match n.channel() {
                    DATA_CHANNEL => &self.inner.data_generation,
                    AUTH_CHANNEL => &self.inner.auth_generation,
                    _ => continue,
                };
                counter.fetch_add(1, Ordering::SeqCst);
            }
            if !done {
                self.inner.listening.store(false, Ordering::SeqCst);
                self.fences.send_replace((n, false));
                return;
            }
            self.fences.send_replace((n, true));
        }
    }

    async fn subscribe(&self, pool: &PgPool) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen_all([DATA_CHANNEL, AUTH_CHANNEL]).await?;
        Ok(listener)
    }
}

fn pick(map: &HashMap<String, i64>, tables: &[&str]) -> Vec<i64> {
    tables
        .iter()
        .map(|t| map.get(*t).copied().unwrap_or(0))
        .collect()
}

/// Results computed from the database, kept by a key that holds the data versions they read
/// (fresh by construction: a write changes the key). Bounded: emptied when `max` keys are held.
#[derive(Debug)]
pub struct Memo<T> {
    inner: Arc<std::sync::Mutex<HashMap<String, Arc<T>>>>,
    max: usize,
}

impl<T> Clone for Memo<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            max: self.max,
        }
    }
}

impl<T> Memo<T> {
    pub fn new(max: usize) -> Self {
        Self {
            inner: Arc::default(),
            max,
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<T>> {
        self.inner.lock().ok()?.get(key).cloned()
    }

    pub fn put(&self, key: String, value: T) -> Arc<T> {
        let value = Arc::new(value);
        if let Ok(mut map) = self.inner.lock() {
            if map.len() >= self.max {
                map.clear();
            }
            map.insert(key, value.clone());
        }
        value
    }
}
