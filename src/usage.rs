//! The usage recorder: every `/v1` use of a key is counted here, in memory, and a flush adds
//! the counts to the database every 10 seconds (the [`crate::jobs::usage_flush`] job) and at
//! graceful shutdown (additive upserts, so several replicas' counts add up): per key, UTC hour
//! and outcome, and per key and client address (with its allowed requests by kind of
//! operation: what each needed of the key's scope); the same flush sets "last used", at most
//! one write per key. No request writes.
//!
//! Memory is bounded: each key keeps at most 1,000 pending addresses (the least recently seen
//! go first), and when the pending addresses of all keys reach [`MAX_PENDING_CLIENTS`] the
//! flush job is woken early; past twice that, new addresses are counted only in the hourly
//! totals until it has run.
//!
//! A flush writes in batches of at most [`FLUSH_BATCH_ROWS`] rows, each its own transaction
//! bounded by the database ([`FLUSH_LIMITS`]), on a writer that always learns how each batch
//! ended: a committed batch is never written again, a batch that failed or rolled back (and
//! every batch after it) is kept for the next flush. Counts are thus kept exactly once, even
//! when the caller stopped waiting (its deadline fits the flush's size, see
//! [`flush_deadline`]). One flush at a time; a slow or failed flush never marks the database
//! down for requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDateTime, Timelike};
use tokio::sync::Notify;

use crate::db::key_usage::{
    self, AllowedByOperation, ClientCount, HourlyCount, LastUse, Written, MAX_CLIENTS_PER_KEY,
};
use crate::db::{self, Pool};
use crate::domain::client_ip::ClientAddr;
use crate::domain::ids::KeyId;
use crate::domain::scope::Need;

/// How often the counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);
/// Pending addresses, over all keys, that wake the flush job early.
pub const MAX_PENDING_CLIENTS: usize = 50_000;
/// Hourly counts older than this are pruned ([`crate::jobs::usage_prune`]).
pub const KEEP_DAYS: i64 = 90;
/// Rows (hourly counts or client addresses) written per transaction.
pub const FLUSH_BATCH_ROWS: usize = 500;
/// What the database allows a batch's statements: a lock held by another session makes the
/// batch roll back after `lock_wait` (kept for the next flush) instead of holding a
/// connection for as long as the lock lasts.
pub const FLUSH_LIMITS: db::Limits = db::Limits {
    lock_wait: Duration::from_secs(2),
    statement: Duration::from_secs(10),
    relaxed_commit: false,
};
/// The time a flush's caller grants each batch.
pub const FLUSH_TIME_PER_BATCH: Duration = Duration::from_secs(5);

/// How long a flush of `batches` batches is waited for: a lock wait, then
/// [`FLUSH_TIME_PER_BATCH`] per batch. Past it the caller stops waiting; the writer goes on
/// and keeps whatever it could not write.
pub fn flush_deadline(batches: usize) -> Duration {
    FLUSH_LIMITS.lock_wait + FLUSH_TIME_PER_BATCH * u32::try_from(batches).unwrap_or(u32::MAX)
}

/// What a use of a key came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allowed,
    RefusedRevoked,
    RefusedExpired,
    RefusedIp,
    /// The five checks passed, the key's scope does not cover the operation.
    RefusedScope,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::RefusedRevoked => "refused_revoked",
            Outcome::RefusedExpired => "refused_expired",
            Outcome::RefusedIp => "refused_ip",
            Outcome::RefusedScope => "refused_scope",
        }
    }

    pub fn is_refused(self) -> bool {
        self != Outcome::Allowed
    }
}

#[derive(Debug, Clone)]
struct Client {
    first_seen: NaiveDateTime,
    last_seen: NaiveDateTime,
    requests: i64,
    refused: i64,
    allowed: AllowedByOperation,
}

#[derive(Debug, Default)]
struct KeyPending {
    hourly: HashMap<(NaiveDateTime, Outcome), i64>,
    // Keyed by the address itself (no formatting or allocation per request).
    clients: HashMap<ClientAddr, Client>,
    last_use: Option<(NaiveDateTime, ClientAddr)>,
}

#[derive(Debug, Default)]
struct Pending {
    keys: HashMap<KeyId, KeyPending>,
    clients: usize,
}

/// One flush's worth of counts (or one batch of it).
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// A batch's own id (given by [`Batch::into_batches`]): the database remembers the ids
    /// it wrote, so a batch written again after its commit's outcome was lost adds nothing.
    pub id: String,
    pub hourly: Vec<HourlyCount>,
    pub clients: Vec<ClientCount>,
    pub last_uses: Vec<LastUse>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.hourly.is_empty() && self.clients.is_empty() && self.last_uses.is_empty()
    }

    /// Hourly counts and client addresses.
    pub fn rows(&self) -> usize {
        self.hourly.len() + self.clients.len()
    }

    /// Splits the counts into batches of at most `rows` rows each; "last used" goes with
    /// the last one.
    pub fn into_batches(self, rows: usize) -> Vec<Batch> {
        let rows = rows.max(1);
        let fresh = || Batch {
            id: crate::domain::ids::new_id(),
            ..Batch::default()
        };
        let mut out = vec![fresh()];
        for h in self.hourly {
            if out.last().is_some_and(|b| b.rows() >= rows) {
                out.push(fresh());
            }
            if let Some(b) = out.last_mut() {
                b.hourly.push(h);
            }
        }
        for c in self.clients {
            if out.last().is_some_and(|b| b.rows() >= rows) {
                out.push(fresh());
            }
            if let Some(b) = out.last_mut() {
                b.clients.push(c);
            }
        }
        if let Some(last) = out.last_mut() {
            last.last_uses = self.last_uses;
        }
        out.retain(|b| !b.is_empty());
        out
    }
}

/// The counts not yet written, shared by every request of this process.
#[derive(Debug)]
pub struct UsageRecorder {
    enabled: bool,
    pending: Mutex<Pending>,
    /// The batches of flushes that failed, written (as they are, ids kept) with the next one.
    retry: Arc<Mutex<Vec<Batch>>>,
    full: Notify,
    /// One flush at a time, held by the writer until its last batch has ended: a flush asked
    /// for while another writes (even one whose caller stopped waiting) waits for it, so once
    /// it returns `Ok`, every use counted before it was called is in the database.
    flushing: Arc<tokio::sync::Mutex<()>>,
}

impl UsageRecorder {
    /// `enabled: false` (`CALLEM_USAGE_RECORDING=off`) counts nothing and writes nothing.
    pub fn new(enabled: bool) -> Self {
        UsageRecorder {
            enabled,
            pending: Mutex::new(Pending::default()),
            retry: Default::default(),
            full: Notify::new(),
            flushing: Default::default(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Counts one use of `key`, for an operation that needs `need` of the key's scope.
    pub fn record(
        &self,
        key: &KeyId,
        outcome: Outcome,
        client: ClientAddr,
        need: Option<Need>,
        now: NaiveDateTime,
    ) {
        if !self.enabled {
            return;
        }
        let hour = now.date().and_hms_opt(now.hour(), 0, 0).unwrap_or(now);
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let Pending { keys, clients } = &mut *pending;
        let entry = match keys.get_mut(key) {
            Some(e) => e,
            None => keys.entry(key.clone()).or_default(),
        };
        *entry.hourly.entry((hour, outcome)).or_insert(0) += 1;
        if outcome == Outcome::Allowed {
            entry.last_use = Some((now, client));
        }
        let refused = i64::from(outcome.is_refused());
        // Only allowed requests are counted by kind: the edit warnings weigh what would stop.
        let allowed_need = need.filter(|_| !outcome.is_refused());
        if let Some(c) = entry.clients.get_mut(&client) {
            c.last_seen = now;
            c.requests += 1;
            c.refused += refused;
            c.allowed.add(allowed_need, 1);
        } else if *clients < 2 * MAX_PENDING_CLIENTS {
            if entry.clients.len() >= MAX_CLIENTS_PER_KEY as usize {
                // The least recently seen address of this key goes first.
                if let Some(oldest) = entry
                    .clients
                    .iter()
                    .min_by_key(|(_, c)| c.last_seen)
                    .map(|(a, _)| *a)
                {
                    entry.clients.remove(&oldest);
                    *clients -= 1;
                }
            }
            entry.clients.insert(
                client,
                Client {
                    first_seen: now,
                    last_seen: now,
                    requests: 1,
                    refused,
                    allowed: {
                        let mut allowed = AllowedByOperation::default();
                        allowed.add(allowed_need, 1);
                        allowed
                    },
                },
            );
            *clients += 1;
            if *clients == MAX_PENDING_CLIENTS {
                self.full.notify_one();
            }
        }
    }

    /// The batches a flush writes now: those kept from failed flushes (as they were), then
    /// everything pending, in batches of [`FLUSH_BATCH_ROWS`] rows.
    pub fn take_batches(&self) -> Vec<Batch> {
        let pending = self.take();
        let mut batches = match self.retry.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(_) => Vec::new(),
        };
        batches.extend(pending.into_batches(FLUSH_BATCH_ROWS));
        batches
    }

    /// Takes everything pending (not what failed to be written before: see
    /// [`UsageRecorder::take_batches`]).
    pub fn take(&self) -> Batch {
        let pending = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Batch::default(),
        };
        let mut batch = Batch::default();
        for (key, k) in pending.keys {
            for ((hour, outcome), requests) in k.hourly {
                batch.hourly.push(HourlyCount {
                    key_id: key.clone(),
                    hour,
                    outcome: outcome.as_str().to_owned(),
                    requests,
                });
            }
            for (ip, c) in k.clients {
                batch.clients.push(ClientCount {
                    key_id: key.clone(),
                    ip: ip.to_string(),
                    first_seen: c.first_seen,
                    last_seen: c.last_seen,
                    requests: c.requests,
                    refused: c.refused,
                    allowed_by_operation: c.allowed,
                });
            }
            if let Some((at, ip)) = k.last_use {
                batch.last_uses.push(LastUse {
                    key_id: key,
                    at,
                    ip: ip.to_string(),
                });
            }
        }
        batch
    }

    /// Keeps the counts of a flush that failed for the next one.
    #[cfg(test)]
    fn restore(&self, batch: Batch) {
        keep_for_next_flush(&self.retry, batch);
    }

    /// Writes everything pending, waiting at most [`flush_deadline`] for it.
    pub async fn flush(&self, pool: &Pool) -> Result<Written, db::DbError> {
        self.flush_within(pool, None).await
    }

    /// Writes everything pending in batches, waiting at most `deadline` (by default one that
    /// fits the flush's size) for the writer. Whatever a batch's outcome, and whether or not
    /// this call still waits for it, a committed batch is written once and a failed one (with
    /// those after it) is kept for the next flush.
    pub async fn flush_within(
        &self,
        pool: &Pool,
        deadline: Option<Duration>,
    ) -> Result<Written, db::DbError> {
        let one_at_a_time = self.flushing.clone().lock_owned().await;
        let batches = self.take_batches();
        if batches.is_empty() {
            return Ok(Written::default());
        }
        let deadline = deadline.unwrap_or_else(|| flush_deadline(batches.len()));
        let rows: usize = batches.iter().map(Batch::rows).sum();
        let writer = tokio::spawn(write_batches(
            pool.clone(),
            batches,
            self.retry.clone(),
            one_at_a_time,
        ));
        match tokio::time::timeout(deadline, writer).await {
            Ok(Ok(written)) => written,
            Ok(Err(e)) => Err(db::DbError::Task(e.to_string())),
            Err(_) => {
                tracing::warn!(
                    rows,
                    deadline_ms = deadline.as_millis() as u64,
                    "key usage flush still writing past its deadline; each batch is kept \
                     for the next flush unless it commits"
                );
                Err(db::DbError::Busy(format!(
                    "the key usage flush did not finish within {} ms",
                    deadline.as_millis()
                )))
            }
        }
    }

    /// Resolves once the pending addresses of all keys reach [`MAX_PENDING_CLIENTS`] (at
    /// once if they did since the last call): the flush job's early wake-up.
    pub async fn filled(&self) {
        self.full.notified().await;
    }
}

/// Keeps the counts of a batch that was not written for the next flush (additive upserts
/// add repeated rows up). Past twice [`MAX_PENDING_CLIENTS`] waiting addresses, a long outage
/// keeps only the hourly totals and "last used".
fn keep_for_next_flush(retry: &Mutex<Vec<Batch>>, mut batch: Batch) {
    let Ok(mut retry) = retry.lock() else {
        return;
    };
    let kept: usize = retry.iter().map(|b| b.clients.len()).sum();
    if kept + batch.clients.len() > 2 * MAX_PENDING_CLIENTS {
        batch.clients.clear();
    }
    if !batch.is_empty() {
        retry.push(batch);
    }
}

/// The flush's writer: one transaction per batch, in order, each awaited to its end (the
/// database bounds it, see [`FLUSH_LIMITS`]). The first batch that fails, and those after it,
/// are kept for the next flush; the lock on flushing is released only then.
async fn write_batches(
    pool: Pool,
    batches: Vec<Batch>,
    retry: Arc<Mutex<Vec<Batch>>>,
    _one_at_a_time: tokio::sync::OwnedMutexGuard<()>,
) -> Result<Written, db::DbError> {
    let total = batches.len();
    let mut written = Written::default();
    let mut batches = batches.into_iter();
    while let Some(batch) = batches.next() {
        let batch = Arc::new(batch);
        let shared = batch.clone();
        let result = db::run_background(&pool, FLUSH_LIMITS, move |conn| {
            key_usage::add_once(
                conn,
                &shared.id,
                crate::time::now(),
                &shared.hourly,
                &shared.clients,
                &shared.last_uses,
            )
        })
        .await;
        match result {
            Ok(w) => written.add(w),
            Err(e) => {
                // This batch rolled back (or never began): it and the ones not tried yet wait
                // for the next flush; those written stay written.
                let mut kept_rows = 0;
                for b in std::iter::once(Arc::unwrap_or_clone(batch)).chain(batches) {
                    kept_rows += b.rows();
                    keep_for_next_flush(&retry, b);
                }
                tracing::warn!(
                    error = %e,
                    written_batches = written.batches,
                    kept_batches = total - written.batches,
                    kept_rows,
                    "key usage not all written; the rest is kept for the next flush"
                );
                return Err(e);
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    fn ip(n: u32) -> ClientAddr {
        ClientAddr::Known(IpAddr::from(n.to_be_bytes()))
    }

    #[test]
    fn uses_are_counted_by_hour_outcome_and_address() {
        let r = UsageRecorder::new(true);
        let k = KeyId::generate();
        let [calls_read, _, calls_delete, ..] = Need::ALL;
        r.record(&k, Outcome::Allowed, ip(1), Some(calls_read), at(10, 5));
        r.record(&k, Outcome::Allowed, ip(1), Some(calls_delete), at(10, 59));
        r.record(&k, Outcome::RefusedIp, ip(2), Some(calls_delete), at(11, 0));
        let mut b = r.take();
        b.hourly.sort_by_key(|h| h.hour);
        let hourly: Vec<_> = b
            .hourly
            .iter()
            .map(|h| (h.hour, h.outcome.as_str(), h.requests))
            .collect();
        assert_eq!(
            hourly,
            [(at(10, 0), "allowed", 2), (at(11, 0), "refused_ip", 1)]
        );
        b.clients.sort_by(|a, b| a.ip.cmp(&b.ip));
        assert_eq!(
            b.clients
                .iter()
                .map(|c| (
                    c.ip.as_str(),
                    c.requests,
                    c.refused,
                    c.first_seen,
                    c.last_seen
                ))
                .collect::<Vec<_>>(),
            [
                ("0.0.0.1", 2, 0, at(10, 5), at(10, 59)),
                ("0.0.0.2", 1, 1, at(11, 0), at(11, 0))
            ]
        );
        assert_eq!(
            b.clients
                .iter()
                .map(|c| c.allowed_by_operation.by_need())
                .collect::<Vec<_>>(),
            [
                Need::ALL.map(|n| (n, i64::from(n == calls_read || n == calls_delete))),
                Need::ALL.map(|n| (n, 0)),
            ],
            "allowed requests by kind; a refused one is of no kind"
        );
        assert_eq!(
            b.last_uses.len(),
            1,
            "one last use per key, from allowed uses"
        );
        assert_eq!(b.last_uses[0].at, at(10, 59));
        assert!(r.take().is_empty(), "taken once");
    }

    #[test]
    fn a_key_keeps_its_thousand_most_recent_addresses_and_memory_stays_bounded() {
        let r = UsageRecorder::new(true);
        let k = KeyId::generate();
        for n in 0..5_000u32 {
            let now = at(10, 0) + chrono::Duration::milliseconds(i64::from(n));
            r.record(&k, Outcome::Allowed, ip(n), None, now);
        }
        let b = r.take();
        let kept: std::collections::BTreeSet<String> =
            b.clients.iter().map(|c| c.ip.clone()).collect();
        let newest: std::collections::BTreeSet<String> =
            (4_000..5_000u32).map(|n| ip(n).to_string()).collect();
        assert_eq!(kept, newest, "the 1,000 most recently seen");
        assert_eq!(
            b.hourly[0].requests, 5_000,
            "every request is still counted"
        );
        let many: Vec<KeyId> = (0..200).map(|_| KeyId::generate()).collect();
        for n in 0..200_000u32 {
            r.record(
                &many[(n % 200) as usize],
                Outcome::Allowed,
                ip(n),
                None,
                at(12, 0),
            );
        }
        let b = r.take();
        assert!(
            b.clients.len() <= 2 * MAX_PENDING_CLIENTS,
            "{}",
            b.clients.len()
        );
        assert_eq!(b.hourly.iter().map(|h| h.requests).sum::<i64>(), 200_000);
    }

    #[test]
    fn a_flush_is_split_into_batches_that_keep_every_count_once() {
        let r = UsageRecorder::new(true);
        let keys: Vec<KeyId> = (0..3).map(|_| KeyId::generate()).collect();
        for n in 0..1_200u32 {
            r.record(
                &keys[n as usize % 3],
                Outcome::Allowed,
                ip(n),
                None,
                at(10, 0),
            );
        }
        let batches = r.take().into_batches(500);
        assert_eq!(
            batches.iter().map(Batch::rows).collect::<Vec<_>>(),
            [500, 500, 203],
            "3 hourly rows and 1,200 addresses"
        );
        let clients: std::collections::BTreeSet<String> = batches
            .iter()
            .flat_map(|b| b.clients.iter().map(|c| c.ip.clone()))
            .collect();
        assert_eq!(clients.len(), 1_200, "each address in exactly one batch");
        let ids: std::collections::BTreeSet<&str> = batches.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids.len(), 3, "each batch has an id of its own");
        assert_eq!(
            batches
                .iter()
                .map(|b| b.last_uses.len())
                .collect::<Vec<_>>(),
            [0, 0, 3],
            "last used goes with the last batch"
        );
        assert!(Batch::default().into_batches(500).is_empty());
    }

    #[actix_web::test]
    async fn the_flush_job_is_woken_when_the_pending_addresses_fill_up() {
        let r = UsageRecorder::new(true);
        let keys: Vec<KeyId> = (0..100).map(|_| KeyId::generate()).collect();
        let short = Duration::from_millis(20);
        for n in 0..MAX_PENDING_CLIENTS as u32 - 1 {
            r.record(
                &keys[n as usize % 100],
                Outcome::Allowed,
                ip(n),
                None,
                at(10, 0),
            );
        }
        assert!(
            tokio::time::timeout(short, r.filled()).await.is_err(),
            "not yet"
        );

        r.record(&keys[0], Outcome::Allowed, ip(u32::MAX), None, at(10, 0));

        assert!(tokio::time::timeout(short, r.filled()).await.is_ok());
    }

    #[test]
    fn switched_off_it_counts_nothing() {
        let r = UsageRecorder::new(false);
        r.record(&KeyId::generate(), Outcome::Allowed, ip(1), None, at(1, 0));
        assert!(r.take().is_empty());
    }

    #[test]
    fn a_failed_flush_keeps_its_counts() {
        let r = UsageRecorder::new(true);
        let k = KeyId::generate();
        r.record(&k, Outcome::Allowed, ip(1), None, at(10, 0));
        let failed = r.take_batches();
        let failed_id = failed[0].id.clone();
        r.record(&k, Outcome::Allowed, ip(1), None, at(10, 1));
        for b in failed {
            r.restore(b);
        }
        let batches = r.take_batches();
        assert_eq!(batches.len(), 2, "the kept batch, then the new one");
        assert_eq!(batches[0].id, failed_id, "kept under its id");
        assert_ne!(batches[1].id, failed_id);
        let sum = |f: fn(&Batch) -> i64| batches.iter().map(f).sum::<i64>();
        assert_eq!(sum(|b| b.hourly.iter().map(|h| h.requests).sum()), 2);
        assert_eq!(sum(|b| b.clients.iter().map(|c| c.requests).sum()), 2);
        assert_eq!(
            batches
                .iter()
                .flat_map(|b| &b.last_uses)
                .map(|u| u.at)
                .max(),
            Some(at(10, 1))
        );
        assert!(r.take_batches().is_empty(), "written once");
    }
}
