//! The [`Runner`]: every background task of the server (a queue's worker, a periodic job), each
//! started on the current runtime, and the drain that stops them all on shutdown.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::periodic::{self, JobStats, PeriodicJob};

/// How many jobs of one kind may wait; beyond that a new one is dropped (and logged) rather
/// than making its asker wait.
pub const QUEUE_CAPACITY: usize = 256;
/// How long shutdown waits for the queues to empty and the ticks in progress to end.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// The running job tasks: [`Runner::drain`] stops them once their queues are empty and their
/// ticks have ended.
#[derive(Default)]
pub struct Runner {
    queues: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
    periodic: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
    stats: JobStats,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("queues", &self.queues.len())
            .field("periodic", &self.stats.snapshot())
            .finish()
    }
}

impl Runner {
    /// A bounded queue whose items `handle` takes one at a time, in order, in a task of its own.
    pub(super) fn queue<T, F, Fut>(&mut self, name: &'static str, handle: F) -> mpsc::Sender<T>
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
        self.queues.push((stop_tx, task));
        tx
    }

    /// Starts `job`: its first tick after [`PeriodicJob::first_after`], then one per interval
    /// (or sooner when it is woken), until the drain.
    pub fn every<J: PeriodicJob>(&mut self, job: J) {
        let (stop_tx, stop) = oneshot::channel::<()>();
        let task = actix_web::rt::spawn(periodic::start(job, &self.stats, stop));
        self.periodic.push((stop_tx, task));
    }

    /// The runs and failures of the periodic jobs, readable for as long as the handle is
    /// kept (the drain included).
    pub fn stats(&self) -> JobStats {
        self.stats.clone()
    }

    /// Stops the periodic jobs (a tick in progress ends, no other starts) and the queues (they
    /// take no more jobs, the queued ones are done), and waits for all of them,
    /// [`DRAIN_LIMIT`] at most.
    pub async fn drain(self) {
        let mut waiting = Vec::with_capacity(self.queues.len() + self.periodic.len());
        for (stop, task) in self.periodic.into_iter().chain(self.queues) {
            let _ = stop.send(());
            waiting.push(task);
        }
        let all = futures_util::future::join_all(waiting);
        if tokio::time::timeout(DRAIN_LIMIT, all).await.is_err() {
            tracing::warn!(
                limit_secs = DRAIN_LIMIT.as_secs(),
                "background jobs were still running at shutdown: what they had not done is lost"
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
