//! Background work, started with the server by one [`Runner`] and drained on shutdown (as
//! crates.io's `worker/jobs/`), each job a file. Two kinds:
//!
//! - Queued jobs (`password_reset_mail`): a request handler enqueues and answers at once, so
//!   its response time tells nothing about what the job finds or does; each kind has its own
//!   bounded queue, taken in order by one task.
//! - Periodic jobs (`usage_flush`, `usage_prune`, `refusal_summary`): a [`PeriodicJob`] runs
//!   on its interval (or when woken early), each tick in a log span named for it
//!   (`job{name=…}`), its runs and failures counted ([`JobStats`]), its failures logged (the
//!   first in a row, then one in [`periodic::WARN_EVERY`]) and its recovery once.
//!
//! On shutdown ([`Runner::drain`], [`DRAIN_LIMIT`] at most) the queues take no more and finish
//! what they hold, and a tick in progress ends while no new one starts.
//!
//! All of it lives in this process, on purpose. When the process dies (a crash, a SIGKILL, a
//! drain that outlasts [`DRAIN_LIMIT`]) a job still queued is lost and its asker asks again (a
//! password-reset email that never comes), and a periodic job loses only what its next tick
//! would have done: the key-usage counts not flushed yet (at most 10 s of them; a graceful
//! shutdown writes them, after the drain, in
//! [`Application::run_until_stopped`](crate::startup::Application::run_until_stopped)), the
//! 503 count since the last summary. Work that must survive a crash belongs in the database,
//! not here.

pub mod key_reminders;
pub mod notification_mail;
pub mod password_reset_mail;
pub mod periodic;
pub mod refusal_summary;
mod runner;
pub mod usage_flush;
pub mod usage_prune;
pub mod webhook_delivery;
pub mod webhook_prune;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::db::Pool;
use crate::domain::account::EmailAddress;
use crate::email::Mailer;
use crate::usage::UsageRecorder;

pub use periodic::{JobStat, JobStats, PeriodicJob};
pub use runner::{Runner, DRAIN_LIMIT, QUEUE_CAPACITY};

/// What the jobs need from the server.
#[derive(Clone)]
pub struct Setup {
    pub pool: Pool,
    pub mailer: Option<Mailer>,
    /// Where emailed links start (`config::link_base`).
    pub link_base: Option<String>,
    /// The key-usage counts the flush job writes.
    pub usage: Arc<UsageRecorder>,
    /// Where webhooks may point, their retries, their secrets' sealer.
    pub webhooks: crate::webhooks::Config,
}

/// Where handlers enqueue jobs (held in the app state).
#[derive(Debug)]
pub struct Jobs {
    /// Only when the server can email links (email set up, and an address to link to).
    reset_mail: Option<mpsc::Sender<EmailAddress>>,
    /// Wakes this process's delivery job (an event was just written).
    deliveries: Arc<tokio::sync::Notify>,
}

impl Jobs {
    /// Starts the job tasks on the current runtime: the periodic jobs, and the queues of the
    /// jobs this server can do. The [`Runner`] drains them on shutdown.
    pub fn start(setup: Setup) -> (Jobs, Runner) {
        let mut runner = Runner::default();
        runner.every(refusal_summary::RefusalSummary {
            pool: setup.pool.clone(),
        });
        // `CALLEM_USAGE_RECORDING=off`: nothing is counted, so nothing to write or prune.
        if setup.usage.is_enabled() {
            runner.every(usage_flush::UsageFlush {
                usage: setup.usage,
                pool: setup.pool.clone(),
            });
            runner.every(usage_prune::UsagePrune {
                pool: setup.pool.clone(),
            });
        }
        let deliveries = Arc::new(tokio::sync::Notify::new());
        match crate::webhooks::client::Client::new(setup.webhooks.allowed.clone()) {
            Ok(client) => runner.every(webhook_delivery::WebhookDelivery::new(
                webhook_delivery::Sender::new(setup.pool.clone(), client, setup.webhooks.clone()),
                deliveries.clone(),
            )),
            Err(e) => tracing::error!("webhooks will not be delivered: {e}"),
        }
        runner.every(webhook_prune::WebhookPrune {
            pool: setup.pool.clone(),
        });
        runner.every(key_reminders::KeyReminders {
            pool: setup.pool.clone(),
            deliveries: deliveries.clone(),
        });
        if let (Some(mailer), Some(link_base)) = (&setup.mailer, &setup.link_base) {
            runner.every(notification_mail::NotificationMail {
                pool: setup.pool.clone(),
                mailer: mailer.clone(),
                link_base: link_base.clone(),
            });
        }
        let reset_mail = match (setup.mailer, setup.link_base) {
            (Some(mailer), Some(link_base)) => {
                let job = Arc::new(password_reset_mail::Job {
                    pool: setup.pool,
                    mailer,
                    link_base,
                });
                Some(runner.queue("password reset email", move |email| {
                    let job = job.clone();
                    async move { job.run(email).await }
                }))
            }
            _ => None,
        };
        (
            Jobs {
                reset_mail,
                deliveries,
            },
            runner,
        )
    }

    /// Sends the events just written now rather than at the next poll.
    pub fn wake_deliveries(&self) {
        self.deliveries.notify_one();
    }

    /// Asks for a password-reset email to whichever account has this email (if any): never
    /// waits. Dropped, with a warning, when the queue is full or closing.
    pub fn request_reset_mail(&self, email: EmailAddress) {
        let Some(queue) = &self.reset_mail else {
            return;
        };
        if let Err(e) = queue.try_send(email) {
            tracing::warn!(
                reason = match e {
                    mpsc::error::TrySendError::Full(_) => "the queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the server is stopping",
                },
                "a password reset request was dropped"
            );
        }
    }
}
