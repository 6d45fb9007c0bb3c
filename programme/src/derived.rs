//! Derived layers that may lag the newest write by a bounded time.
//!
//! Records, lists, counts, work lists and the density tiles are exactly fresh (their caches are
//! keyed by data versions, [`crate::watch::Memo`]). The derived layers (the risk model's tiers
//! and scores, the villages tiles' indicator colours) read a dozen registers and cost a county's
//! worth of queries: keyed by versions, a field write every second would make every reader
//! recompute them at once. Here they are kept by a key *without* versions, beside the versions
//! they were computed from; a reader gets:
//! - the value, when it was computed from the data versions the reader sees (fresh);
//! - else the value in hand while newer data has been waiting less than the allowed lag
//!   ([`MAX_LAG`], 5 s), and a recomputation starts in the background (one at a time per key;
//!   writes during it start one more when it ends). "Waiting" is bounded from above: since the
//!   last instant the data was known to be at the value's versions (a reader found them current,
//!   or the run read them), so a value nobody asked for during a long quiet spell is not served
//!   for a write that came in the meantime;
//! - else (nothing in hand, or newer data waiting longer than the lag) it waits for the
//!   recomputation.
//!
//! Every [`Snapshot`] says which data it shows: [`Snapshot::version`], the sum of the versions
//! of the tables it read (it grows with every write to any of them; the HTTP answers carry it in
//! `X-Data-Version`), and for how long newer data has been waiting ([`Snapshot::stale_for`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// How long a derived answer may lag the newest write it could have read.
pub const MAX_LAG: Duration = Duration::from_secs(5);

/// A derived value and the data it was computed from.
#[derive(Debug)]
pub struct Snapshot<T> {
    pub value: Arc<T>,
    /// The data versions of the tables the value read, in the order the caller gave them.
    pub versions: Arc<[i64]>,
    /// How long newer data has been waiting; `None` when the value is current.
    pub stale_for: Option<Duration>,
}

impl<T> Clone for Snapshot<T> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            versions: self.versions.clone(),
            stale_for: self.stale_for,
        }
    }
}

impl<T> Snapshot<T> {
    /// The data version the value shows: the sum of its tables' versions (each only grows, so
    /// the sum grows with every write to any of them).
    pub fn version(&self) -> i64 {
        version_of(&self.versions)
    }
}

/// [`Snapshot::version`] of a list of table versions.
pub fn version_of(versions: &[i64]) -> i64 {
    versions.iter().sum()
}

/// `have` holds every write `want` holds (versions only grow).
fn covers(have: &[i64], want: &[i64]) -> bool {
    have.len() == want.len() && have.iter().zip(want).all(|(h, w)| h >= w)
}

/// The newer of each table's version.
fn newest(a: &[i64], b: &[i64]) -> Arc<[i64]> {
    if a.len() != b.len() {
        return b.into();
    }
    a.iter().zip(b).map(|(x, y)| *x.max(y)).collect()
}

struct Slot<T> {
    current: Option<(Arc<[i64]>, Arc<T>)>,
    /// The last instant the data was known to be at `current`'s versions (a reader found them
    /// current, or the run that made it read them): any write `current` lacks came later, so
    /// it has waited at most since then.
    fresh_at: Option<Instant>,
    /// The newest versions a reader asked for.
    wanted: Option<Arc<[i64]>>,
    /// A recomputation is running (started at this instant).
    running: Option<Instant>,
    /// The last recomputation failed (its readers compute in their own request instead).
    failed: bool,
    /// Moves when a recomputation ends, well or not.
    done: watch::Sender<u64>,
    used: Instant,
}

impl<T> Slot<T> {
    fn new() -> Self {
        Self {
            current: None,
            fresh_at: None,
            wanted: None,
            running: None,
            failed: false,
            done: watch::channel(0).0,
            used: Instant::now(),
        }
    }
}

/// Derived values by key (without versions), at most `max` keys (the least recently used idle
/// one goes).
pub struct Derived<T> {
    slots: Arc<Mutex<HashMap<String, Slot<T>>>>,
    max: usize,
}

impl<T> Clone for Derived<T> {
    fn clone(&self) -> Self {
        Self {
            slots: self.slots.clone(),
            max: self.max,
        }
    }
}

impl<T> std::fmt::Debug for Derived<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Derived").field("max", &self.max).finish()
    }
}

/// What [`Derived::get`] decided under the lock.
enum Step<T> {
    Answer(Snapshot<T>),
    Wait(watch::Receiver<u64>),
    ComputeHere,
}

impl<T: Send + Sync + 'static> Derived<T> {
    pub fn new(max: usize) -> Self {
        Self {
            slots: Arc::default(),
            max,
        }
    }

    /// The value of `key` for data at `versions` (the versions the reader sees now), lagging by
    /// at most `max_lag` (`Duration::ZERO`: exactly fresh). `compute` computes the value from
    /// the data at the versions it is given (or newer); it runs in the background, one at a time
    /// per key, or in this request after a background run failed (its error is this call's).
    pub async fn get<F, Fut, E>(
        &self,
        key: &str,
        versions: &[i64],
        max_lag: Duration,
        compute: F,
    ) -> Result<Snapshot<T>, E>
    where
        F: Fn(Arc<[i64]>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        loop {
            let step = self.step(key, versions, max_lag, &compute);
            match step {
                Step::Answer(s) => return Ok(s),
                Step::Wait(mut done) => {
                    // Ends when the run ends (or the slot went: ask again).
                    let _ = done.changed().await;
                }
                Step::ComputeHere => {
                    let versions: Arc<[i64]> = versions.into();
                    let read_at = Instant::now();
                    let value = Arc::new(compute(versions.clone()).await?);
                    self.store(key, versions.clone(), value.clone(), read_at, false);
                    return Ok(Snapshot {
                        value,
                        versions,
                        stale_for: None,
                    });
                }
            }
        }
    }

    fn step<F, Fut, E>(
        &self,
        key: &str,
        versions: &[i64],
        max_lag: Duration,
        compute: &F,
    ) -> Step<T>
    where
        F: Fn(Arc<[i64]>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let now = Instant::now();
        let Ok(mut slots) = self.slots.lock() else {
            return Step::ComputeHere;
        };
        if !slots.contains_key(key) && slots.len() >= self.max {
            let idle = slots
                .iter()
                .filter(|(_, s)| s.running.is_none())
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone());
            if let Some(k) = idle {
                slots.remove(&k);
            }
        }
        let slot = slots.entry(key.to_owned()).or_insert_with(Slot::new);
        slot.used = now;
        if let Some((have, value)) = &slot.current
            && covers(have, versions)
        {
            // The reader's versions are the data as of now (read after the request's fence).
            slot.fresh_at = Some(now);
            return Step::Answer(Snapshot {
                value: value.clone(),
                versions: have.clone(),
                stale_for: None,
            });
        }
        let wanted = match &slot.wanted {
            Some(w) => newest(w, versions),
            None => versions.into(),
        };
        slot.wanted = Some(wanted.clone());
        if slot.running.is_none() {
            if slot.failed {
                // The background failed: this request computes (and reports its own error).
                slot.failed = false;
                return Step::ComputeHere;
            }
            slot.running = Some(now);
            self.spawn(key.to_owned(), wanted, compute.clone());
        }
        if let (Some((have, value)), Some(since)) = (&slot.current, slot.fresh_at) {
            // An upper bound of how long the newest write `current` lacks has waited.
            let waited = now.duration_since(since);
            if waited < max_lag {
                return Step::Answer(Snapshot {
                    value: value.clone(),
                    versions: have.clone(),
                    stale_for: Some(waited),
                });
            }
        }
        Step::Wait(slot.done.subscribe())
    }

    fn spawn<F, Fut, E>(&self, key: String, versions: Arc<[i64]>, compute: F)
    where
        F: Fn(Arc<[i64]>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            let mut versions = versions;
            loop {
                let started = Instant::now();
                match compute(versions.clone()).await {
                    Ok(value) => {
                        let next =
                            this.store(&key, versions.clone(), Arc::new(value), started, true);
                        match next {
                            // Writes came in meanwhile: once more, for the newest.
                            Some(newer) => versions = newer,
                            None => return,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(key = %key, error = %e, "recomputing a derived layer failed");
                        if let Ok(mut slots) = this.slots.lock()
                            && let Some(slot) = slots.get_mut(&key)
                        {
                            slot.running = None;
                            slot.failed = true;
                            slot.done.send_modify(|n| *n += 1);
                        }
                        return;
                    }
                }
            }
        });
    }

    /// Keeps `value` (computed from `versions`, which were the data at `read_at`) unless a newer
    /// one is in hand; from the `background` run, answers the versions to compute next when
    /// readers asked for newer data meanwhile (the run goes on), else ends the run.
    fn store(
        &self,
        key: &str,
        versions: Arc<[i64]>,
        value: Arc<T>,
        read_at: Instant,
        background: bool,
    ) -> Option<Arc<[i64]>> {
        let Ok(mut slots) = self.slots.lock() else {
            return None;
        };
        let slot = slots.entry(key.to_owned()).or_insert_with(Slot::new);
        if slot
            .current
            .as_ref()
            .is_none_or(|(have, _)| !covers(have, &versions))
        {
            slot.current = Some((versions.clone(), value));
            slot.fresh_at = Some(read_at);
        }
        let (have, _) = slot.current.as_ref().expect("just kept");
        let next = match &slot.wanted {
            Some(w) if !covers(have, w) => Some(w.clone()),
            _ => None,
        };
        if background && next.is_none() {
            slot.running = None;
        }
        slot.done.send_modify(|n| *n += 1);
        if background { next } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    type Ready = std::future::Ready<Result<i64, String>>;

    /// A computation that counts its runs and answers the sum of the versions it was given.
    fn counter() -> (
        Arc<AtomicUsize>,
        impl Fn(Arc<[i64]>) -> Ready + Clone + Send + Sync + 'static,
    ) {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        (runs, move |v: Arc<[i64]>| {
            r.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(version_of(&v)))
        })
    }

    #[tokio::test]
    async fn a_fresh_value_is_computed_once_and_a_stale_one_answers_within_the_lag() {
        let d: Derived<i64> = Derived::new(4);
        let (runs, f) = counter();
        let s = d.get("k", &[1, 2], MAX_LAG, f.clone()).await.expect("ok");
        assert_eq!((*s.value, s.version(), s.stale_for), (3, 3, None));
        let s = d.get("k", &[1, 2], MAX_LAG, f.clone()).await.expect("ok");
        assert_eq!((*s.value, runs.load(Ordering::SeqCst)), (3, 1));
        // A write: the old value answers at once, the new one comes from the background.
        let s = d.get("k", &[1, 5], MAX_LAG, f.clone()).await.expect("ok");
        assert_eq!(*s.value, 3);
        assert!(s.stale_for.is_some());
        let mut n = 0;
        let s = loop {
            let s = d.get("k", &[1, 5], MAX_LAG, f.clone()).await.expect("ok");
            if s.stale_for.is_none() {
                break s;
            }
            n += 1;
            assert!(n < 1000, "the background never finished");
            tokio::task::yield_now().await;
        };
        assert_eq!((*s.value, s.version()), (6, 6));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_lag_waits_for_the_new_value() {
        let d: Derived<i64> = Derived::new(4);
        let (_, f) = counter();
        d.get("k", &[1], MAX_LAG, f.clone()).await.expect("ok");
        let s = d
            .get("k", &[7], Duration::ZERO, f.clone())
            .await
            .expect("ok");
        assert_eq!((*s.value, s.stale_for), (7, None));
    }

    #[tokio::test]
    async fn readers_of_stale_data_wait_once_the_lag_is_over() {
        let d: Derived<i64> = Derived::new(4);
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let g = gate.clone();
        let slow = move |v: Arc<[i64]>| {
            let g = g.clone();
            async move {
                // One permit per run (not given back).
                g.acquire().await.map_err(|e| e.to_string())?.forget();
                Ok::<_, String>(version_of(&v))
            }
        };
        gate.add_permits(1);
        d.get("k", &[1], MAX_LAG, slow.clone()).await.expect("ok");
        // Newer data, its recomputation held back: a reader that allows no lag waits.
        let waiting = tokio::spawn({
            let d = d.clone();
            let slow = slow.clone();
            async move { d.get("k", &[2], Duration::ZERO, slow).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // Within the lag the old value still answers.
        let s = d.get("k", &[2], MAX_LAG, slow.clone()).await.expect("ok");
        assert_eq!(*s.value, 1);
        gate.add_permits(1);
        let s = waiting.await.expect("joined").expect("ok");
        assert_eq!((*s.value, s.stale_for), (2, None));
    }

    #[tokio::test]
    async fn a_value_nobody_asked_for_during_a_quiet_spell_is_not_served_for_a_later_write() {
        let d: Derived<i64> = Derived::new(4);
        let (_, f) = counter();
        d.get("k", &[1], MAX_LAG, f.clone()).await.expect("ok");
        // Quiet for longer than the lag allowed, then a write: the write may be that old, so
        // the reader waits for the new value instead of getting the old one.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let s = d
            .get("k", &[2], Duration::from_millis(20), f.clone())
            .await
            .expect("ok");
        assert_eq!((*s.value, s.stale_for), (2, None));
    }

    #[tokio::test]
    async fn a_failed_background_run_is_retried_in_the_request_with_its_error() {
        let d: Derived<i64> = Derived::new(4);
        let fail = |_: Arc<[i64]>| std::future::ready(Err::<i64, String>("no database".into()));
        let e = d.get("k", &[1], MAX_LAG, fail).await;
        assert_eq!(e.err().as_deref(), Some("no database"));
        let (_, f) = counter();
        let s = d.get("k", &[1], MAX_LAG, f).await.expect("ok");
        assert_eq!(*s.value, 1);
    }

    #[tokio::test]
    async fn keys_beyond_the_bound_push_out_the_least_recently_used() {
        let d: Derived<i64> = Derived::new(2);
        let (runs, f) = counter();
        for k in ["a", "b", "a", "c", "a"] {
            d.get(k, &[1], MAX_LAG, f.clone()).await.expect("ok");
        }
        // a, b, c computed; b went when c came; a stayed.
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        d.get("b", &[1], MAX_LAG, f.clone()).await.expect("ok");
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }
}
