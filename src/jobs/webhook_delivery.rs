//! Webhook deliveries: every server runs this job. Each tick claims the due deliveries
//! (`db::webhook_deliveries::claim`: on PostgreSQL `FOR UPDATE SKIP LOCKED` with a lease, so
//! replicas share them), up to [`IN_FLIGHT`] at once, each attempt on its own task, signed and
//! sent over the checked client
//! (`webhooks::client`), and records each attempt with what it decides: delivered (2xx), tried
//! again after the schedule's next delay (any other status, a timeout, a network error;
//! `Retry-After` on 429 or 503 honoured up to an hour), given up when no retry is left, or the
//! webhook disabled (410, or 5 days of failures). A tick goes on while it finds a full batch.
//!
//! The rows are the truth: a process killed mid-attempt loses nothing but its lease, after
//! which another worker (or this one, restarted) takes the delivery again. At-least-once: the
//! receiver deduplicates by `webhook-id`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use rand::Rng;
use tokio::sync::{mpsc, Notify, Semaphore};

use super::periodic::PeriodicJob;
use crate::db::webhook_deliveries::{self as deliveries, AttemptRecord, Claimed, Outcome};
use crate::db::{self, DbError, Limits, Pool};
use crate::domain::webhook::schedule::MAX_RETRY_AFTER;
use crate::webhooks::client::{Client, Response};
use crate::webhooks::{signing, Config};

/// How many deliveries one claim takes at most.
pub const BATCH: i64 = 32;
/// Attempts in flight at once in one process: a tick claims only as many as are free, and
/// never waits for a slow receiver (its attempts run on their own, 15 s at most), so other
/// webhooks' deliveries keep going.
pub const IN_FLIGHT: usize = 64;
/// The longest a due delivery waits for a tick when nothing woke the job (an event written by
/// another replica, a retry coming due).
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// The database bounds of the job's work. Its commits (claims, attempts) do not wait for the
/// disk: if the database server crashed and lost the last of them, a delivery would only be
/// attempted once more (a lost "delivered" or a lost lease), which at-least-once allows; the
/// events themselves are written with their change, durably.
const LIMITS: Limits = Limits {
    lock_wait: Duration::from_secs(5),
    statement: Duration::from_secs(10),
    relaxed_commit: true,
};

/// The job's inputs.
pub struct WebhookDelivery {
    pub sender: Arc<Sender>,
    /// Notified after this process wrote an event, so it goes out at once.
    pub wake: Arc<Notify>,
    slots: Arc<Semaphore>,
    /// A tick stopped for want of a free slot: the next attempt to end wakes the job.
    starved: Arc<AtomicBool>,
}

/// What an attempt needs.
pub struct Sender {
    pub pool: Pool,
    pub client: Client,
    pub config: Config,
    /// Where ended attempts go to be recorded.
    results: mpsc::Sender<Ended>,
}

/// An attempt that ended, to record.
type Ended = (Claimed, AttemptRecord, Outcome);

impl Sender {
    pub fn new(pool: Pool, client: Client, config: Config) -> Self {
        let (results, ended) = mpsc::channel(IN_FLIGHT * 2);
        actix_web::rt::spawn(record_ended(pool.clone(), ended));
        Sender {
            pool,
            client,
            config,
            results,
        }
    }
}

/// Records ended attempts: whatever has ended by the time the last write is done goes in the
/// next one (one transaction, on one connection), so under load the attempts cost a commit a
/// batch instead of one each, and at rest each is written at once. An attempt ended but not
/// recorded when the process stops is attempted again when its lease ends.
async fn record_ended(pool: Pool, mut ended: mpsc::Receiver<Ended>) {
    while let Some(first) = ended.recv().await {
        let mut batch = vec![first];
        while batch.len() < IN_FLIGHT {
            match ended.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let n = batch.len();
        let recorded = db::run_background(&pool, LIMITS, move |conn| {
            deliveries::record_all(conn, batch, crate::time::now())
        })
        .await;
        match recorded {
            Ok(all) => {
                for (id, recorded) in all {
                    if let deliveries::Recorded::Disabled(reason) = recorded {
                        tracing::warn!(webhook = %id, reason = reason.as_str(), "webhook disabled");
                    }
                }
            }
            Err(e) => tracing::warn!(
                error = %e,
                attempts = n,
                "webhook attempts could not be recorded: they are tried again when their leases end"
            ),
        }
    }
}

impl WebhookDelivery {
    pub fn new(sender: Sender, wake: Arc<Notify>) -> Self {
        WebhookDelivery {
            sender: Arc::new(sender),
            wake,
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
            starved: Arc::default(),
        }
    }
}

impl PeriodicJob for WebhookDelivery {
    type Error = DbError;

    fn name(&self) -> &'static str {
        "webhook_delivery"
    }

    fn interval(&self) -> Duration {
        POLL_EVERY
    }

    fn first_after(&self) -> Duration {
        Duration::from_millis(100)
    }

    fn woken(&self) -> impl std::future::Future<Output = ()> {
        let wake = self.wake.clone();
        async move { wake.notified().await }
    }

    async fn run(&mut self) -> Result<(), DbError> {
        loop {
            let free = self.slots.available_permits();
            if free == 0 {
                self.starved.store(true, Ordering::Release);
                return Ok(());
            }
            let asked = BATCH.min(i64::try_from(free).unwrap_or(BATCH));
            let now = crate::time::now();
            let claimed = db::run_background(&self.sender.pool, LIMITS, move |conn| {
                deliveries::claim(conn, now, asked)
            })
            .await?;
            let full = claimed.len() as i64 == asked;
            for delivery in claimed {
                let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                    // Cannot happen (one tick at a time claims only free slots); its lease
                    // returns it to the queue if it ever does.
                    continue;
                };
                let (sender, wake, starved) =
                    (self.sender.clone(), self.wake.clone(), self.starved.clone());
                actix_web::rt::spawn(async move {
                    sender.attempt(delivery).await;
                    drop(slot);
                    if starved.swap(false, Ordering::AcqRel) {
                        wake.notify_one();
                    }
                });
            }
            if !full {
                return Ok(());
            }
        }
    }
}

impl Sender {
    /// One attempt of one claimed delivery, handed on to be recorded.
    async fn attempt(&self, claimed: Claimed) {
        let attempted_at = crate::time::now();
        let timestamp = attempted_at.and_utc().timestamp();
        let body = claimed.payload.clone().into_bytes();
        let secrets = self.secrets(&claimed, attempted_at);
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            ("user-agent", crate::webhooks::USER_AGENT.to_owned()),
        ];
        let result = match &secrets {
            Ok(secrets) => {
                let signed = signing::headers(
                    &claimed.delivery.kind,
                    claimed.delivery.id.as_str(),
                    timestamp,
                    &body,
                    secrets,
                );
                headers.extend(signed);
                match url::Url::parse(&claimed.webhook.url) {
                    Ok(url) => {
                        let started = Instant::now();
                        let sent = self.client.post(&url, &headers[2..], body).await;
                        Some((sent, started.elapsed()))
                    }
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
        let (status, error, response_body, retry_after, duration) = match result {
            Some((Ok(response), took)) => {
                let error = judge(&response);
                let retry_after = match response.status {
                    429 | 503 => response.retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
                    _ => None,
                };
                (
                    Some(i32::from(response.status)),
                    error,
                    response.body,
                    retry_after,
                    took,
                )
            }
            Some((Err(e), took)) => (None, Some(e.to_string()), String::new(), None, took),
            None => (
                None,
                Some(match secrets {
                    Err(e) => e,
                    Ok(_) => "the webhook's URL cannot be read".to_owned(),
                }),
                String::new(),
                None,
                Duration::ZERO,
            ),
        };
        let failed_attempts = usize::try_from(claimed.delivery.attempts).unwrap_or(0) + 1;
        let outcome = match (status, &error) {
            (Some(s), None) if (200..300).contains(&s) => Outcome::Delivered,
            (Some(410), _) => Outcome::Gone,
            _ => {
                let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
                match self
                    .config
                    .retries
                    .next_delay(failed_attempts, jitter, retry_after)
                {
                    Some(delay) => Outcome::RetryAt(
                        attempted_at
                            + chrono::Duration::from_std(delay)
                                .unwrap_or_else(|_| chrono::Duration::hours(1)),
                    ),
                    None => Outcome::GiveUp,
                }
            }
        };
        let record = AttemptRecord {
            attempted_at,
            duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
            status,
            error,
            response_body,
            request_headers: serde_json::to_string(&headers).unwrap_or_default(),
        };
        // A closed channel means the server is stopping: the lease brings the delivery back.
        let _ = self.results.send((claimed, record, outcome)).await;
    }

    /// The secrets that sign now: the current one, and during a roll's 24 hours the previous.
    fn secrets(
        &self,
        claimed: &Claimed,
        now: chrono::NaiveDateTime,
    ) -> Result<Vec<crate::webhooks::secret::SigningSecret>, String> {
        let sealer = &self.config.sealer;
        let mut secrets = vec![sealer
            .open(&claimed.webhook.secret_sealed)
            .map_err(|e| e.to_string())?];
        if let (Some(previous), Some(until)) = (
            &claimed.webhook.previous_secret_sealed,
            claimed.webhook.previous_secret_until,
        ) {
            if until > now {
                secrets.push(sealer.open(previous).map_err(|e| e.to_string())?);
            }
        }
        Ok(secrets)
    }
}

/// Why a response fails its attempt, if it does: anything but 2xx. A redirect is named as
/// such (it is never followed).
fn judge(response: &Response) -> Option<String> {
    match response.status {
        200..=299 => None,
        300..=399 => Some(format!(
            "the receiver answered {} (a redirect): redirects are not followed",
            response.status
        )),
        s => Some(format!("the receiver answered {s}")),
    }
}
