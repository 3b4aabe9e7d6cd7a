//! Background work, started with the server and drained on shutdown (as crates.io's
//! `worker/jobs/`): each kind of job is a file with its own bounded queue, drained in order
//! by one task. A request handler enqueues and answers at once, so its response time tells
//! nothing about what the job finds or does.
//!
//! Queues live in this process, on purpose: a job still queued when the process dies (a crash,
//! a SIGKILL, a drain that outlasts [`DRAIN_LIMIT`]) is lost, and its asker asks again (a
//! password-reset email that never comes). Work that must survive a crash belongs in the
//! database, not here.

pub mod password_reset_mail;

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::db::Pool;
use crate::domain::account::EmailAddress;
use crate::email::Mailer;

/// How many jobs of one kind may wait; beyond that a new one is dropped (and logged) rather
/// than making its asker wait.
pub const QUEUE_CAPACITY: usize = 256;
/// How long shutdown waits for the queues to empty.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// What the jobs need from the server.
#[derive(Clone)]
pub struct Setup {
    pub pool: Pool,
    pub mailer: Option<Mailer>,
    /// Where emailed links start (`config::link_base`).
    pub link_base: Option<String>,
}

/// Where handlers enqueue jobs (held in the app state).
#[derive(Debug)]
pub struct Jobs {
    /// Only when the server can email links (email set up, and an address to link to).
    reset_mail: Option<mpsc::Sender<EmailAddress>>,
}

impl Jobs {
    /// Starts the job tasks on the current runtime. The [`Runner`] drains them on shutdown.
    pub fn start(setup: Setup) -> (Jobs, Runner) {
        let mut runner = Runner::default();
        let reset_mail = match (setup.mailer, setup.link_base) {
            (Some(mailer), Some(link_base)) => {
                let job = std::sync::Arc::new(password_reset_mail::Job {
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
        (Jobs { reset_mail }, runner)
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

/// The running job tasks: [`Runner::drain`] stops them once their queues are empty.
#[derive(Default)]
pub struct Runner {
    tasks: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("queues", &self.tasks.len())
            .finish()
    }
}

impl Runner {
    /// A bounded queue whose items `handle` takes one at a time, in order, in a task of its own.
    fn queue<T, F, Fut>(&mut self, name: &'static str, handle: F) -> mpsc::Sender<T>
    where
        T: 'static,
        F: Fn(T) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<T>(QUEUE_CAPACITY);
        let (stop_tx, mut stop) = oneshot::channel::<()>();
        let task = actix_web::rt::spawn(async move {
            loop {
                tokio::select! {
                    item = rx.recv() => match item {
                        Some(item) => handle(item).await,
                        None => return,
                    },
                    _ = &mut stop => break,
                }
            }
            // Shutting down: take no more, finish what is queued.
            rx.close();
            let left = rx.len();
            if left > 0 {
                tracing::info!(queue = name, left, "finishing queued jobs before stopping");
            }
            while let Some(item) = rx.recv().await {
                handle(item).await;
            }
        });
        self.tasks.push((stop_tx, task));
        tx
    }

    /// Stops taking jobs and waits for the queued ones, [`DRAIN_LIMIT`] at most.
    pub async fn drain(self) {
        let mut waiting = Vec::with_capacity(self.tasks.len());
        for (stop, task) in self.tasks {
            let _ = stop.send(());
            waiting.push(task);
        }
        let all = futures_util::future::join_all(waiting);
        if tokio::time::timeout(DRAIN_LIMIT, all).await.is_err() {
            tracing::warn!(
                limit_secs = DRAIN_LIMIT.as_secs(),
                "queued jobs were still running at shutdown: they are lost"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[actix_web::test]
    async fn shutdown_finishes_the_queued_jobs_and_takes_no_more() {
        let done = Arc::new(Mutex::new(Vec::new()));
        let mut runner = Runner::default();
        let seen = done.clone();
        let queue = runner.queue("test", move |n: u32| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                seen.lock().unwrap().push(n);
            }
        });
        for n in 0..5 {
            queue.try_send(n).unwrap();
        }

        runner.drain().await;

        assert_eq!(*done.lock().unwrap(), [0, 1, 2, 3, 4]);
        assert!(queue.try_send(5).is_err(), "closed after the drain");
    }
}
