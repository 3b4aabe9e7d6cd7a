//! Periodic jobs: the [`PeriodicJob`] trait, the loop that runs one on its interval (or when
//! it is woken early) inside its log span until the runner stops it, and the counts of runs
//! and failures kept for each ([`JobStats`]).

use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tracing::Instrument;

/// The first failure in a row is a warning, then one in this many (the others are logged at
/// debug level): a job that fails every 10 s warns every 5 minutes.
pub const WARN_EVERY: u64 = 30;

/// A piece of background work run again and again: each run is a tick, the next one starts
/// an [`interval`](PeriodicJob::interval) after the last one ended (never two at once).
pub trait PeriodicJob: 'static {
    /// Why a tick failed (logged, and counted in [`JobStats`]).
    type Error: Display;

    /// The job's name, in its log span (`job{name=…}`) and its [`JobStat`].
    fn name(&self) -> &'static str;

    /// The time between the end of one tick and the start of the next.
    fn interval(&self) -> Duration;

    /// The time from the start of the server to the first tick (by default an interval).
    fn first_after(&self) -> Duration {
        self.interval()
    }

    /// Resolves when the next tick should not wait for the interval (by default never).
    fn woken(&self) -> impl Future<Output = ()> {
        std::future::pending()
    }

    /// One tick. Once started it is never cut short by the runner: a shutdown waits for it.
    fn run(&mut self) -> impl Future<Output = Result<(), Self::Error>>;
}

/// What the runner knows of one periodic job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStat {
    pub name: &'static str,
    pub interval: Duration,
    /// Ticks ended, failed or not.
    pub runs: u64,
    /// Ticks failed since the start.
    pub failures: u64,
    /// Ticks failed since the last one that worked (0 while the job works).
    pub consecutive_failures: u64,
}

/// The counts of every periodic job of a runner, readable while they run (and after).
#[derive(Debug, Clone, Default)]
pub struct JobStats(Arc<Mutex<Vec<JobStat>>>);

impl JobStats {
    /// The counts of each job as they are now, in the order the jobs were started.
    pub fn snapshot(&self) -> Vec<JobStat> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The counts of the job named `name`, if it was started.
    pub fn get(&self, name: &str) -> Option<JobStat> {
        self.snapshot().into_iter().find(|s| s.name == name)
    }

    fn register(&self, name: &'static str, interval: Duration) -> usize {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.push(JobStat {
            name,
            interval,
            runs: 0,
            failures: 0,
            consecutive_failures: 0,
        });
        all.len() - 1
    }

    /// Counts one tick's outcome and logs what it changes: a failure (a warning for the
    /// first in a row, then one in [`WARN_EVERY`]), and a recovery once.
    fn record<E: Display>(&self, job: usize, outcome: Result<(), E>) {
        match (self.count(job, outcome.is_ok()), outcome) {
            (Change::Recovered { failed_runs }, _) => {
                tracing::info!(failed_runs, "background job works again");
            }
            (
                Change::Failed {
                    consecutive,
                    total,
                    warn,
                },
                Err(e),
            ) => {
                if warn {
                    tracing::warn!(error = %e, consecutive, total, "background job failed");
                } else {
                    tracing::debug!(error = %e, consecutive, total, "background job failed");
                }
            }
            _ => {}
        }
    }

    /// Counts one tick that worked or failed, and says what changed.
    fn count(&self, job: usize, worked: bool) -> Change {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stat) = all.get_mut(job) else {
            return Change::Worked;
        };
        stat.runs += 1;
        if worked {
            return match std::mem::take(&mut stat.consecutive_failures) {
                0 => Change::Worked,
                failed_runs => Change::Recovered { failed_runs },
            };
        }
        stat.failures += 1;
        stat.consecutive_failures += 1;
        let consecutive = stat.consecutive_failures;
        Change::Failed {
            consecutive,
            total: stat.failures,
            warn: (consecutive - 1).is_multiple_of(WARN_EVERY),
        }
    }
}

/// What one tick changed in a job's counts (what the log says of it).
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Worked,
    /// It worked after `failed_runs` failures in a row.
    Recovered {
        failed_runs: u64,
    },
    /// `warn`: the failure is worth a warning (the first in a row, then one in
    /// [`WARN_EVERY`]); the others are logged at debug level.
    Failed {
        consecutive: u64,
        total: u64,
        warn: bool,
    },
}

/// The task that runs `job` until `stop` fires (or its sender is dropped): a tick in progress
/// always ends, none starts after. Every tick runs in the job's span, open for its whole life.
pub(super) fn start<J: PeriodicJob>(
    job: J,
    stats: &JobStats,
    stop: oneshot::Receiver<()>,
) -> impl Future<Output = ()> {
    // Counted from now, so the job shows in the stats before its task first runs.
    let slot = stats.register(job.name(), job.interval());
    run(job, stats.clone(), slot, stop)
}

async fn run<J: PeriodicJob>(
    mut job: J,
    stats: JobStats,
    slot: usize,
    mut stop: oneshot::Receiver<()>,
) {
    let name = job.name();
    // One span for the job's life rather than one per tick: the log writes a line when a
    // span closes, and a line per tick would bury the log.
    let span = tracing::info_span!("job", name = %name);
    let mut wait = job.first_after();
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => return,
            _ = tokio::time::sleep(wait) => {}
            _ = job.woken() => {}
        }
        let outcome = job.run().instrument(span.clone()).await;
        span.in_scope(|| stats.record(slot, outcome));
        wait = job.interval();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::Runner;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;
    use tokio::sync::{mpsc, Notify};

    /// Counts the ticks it starts and ends; each takes `takes`.
    struct Ticker {
        interval: Duration,
        takes: Duration,
        started: Arc<AtomicU64>,
        ended: Arc<AtomicU64>,
        wake: Arc<Notify>,
    }

    impl Ticker {
        fn new(interval: Duration, takes: Duration) -> Self {
            Ticker {
                interval,
                takes,
                started: Default::default(),
                ended: Default::default(),
                wake: Default::default(),
            }
        }
    }

    impl PeriodicJob for Ticker {
        type Error = Infallible;

        fn name(&self) -> &'static str {
            "ticker"
        }

        fn interval(&self) -> Duration {
            self.interval
        }

        fn woken(&self) -> impl Future<Output = ()> {
            self.wake.notified()
        }

        async fn run(&mut self) -> Result<(), Infallible> {
            self.started.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.takes).await;
            self.ended.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    /// Ends each tick with the outcome the test sends it.
    struct Scripted(mpsc::UnboundedReceiver<Result<(), String>>);

    impl PeriodicJob for Scripted {
        type Error = String;

        fn name(&self) -> &'static str {
            "scripted"
        }

        fn interval(&self) -> Duration {
            Duration::from_millis(1)
        }

        async fn run(&mut self) -> Result<(), String> {
            self.0.recv().await.unwrap_or(Ok(()))
        }
    }

    async fn until(what: &str, done: impl Fn() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(5), "never: {what}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn count(n: &AtomicU64) -> u64 {
        n.load(Ordering::SeqCst)
    }

    #[actix_web::test]
    async fn a_periodic_job_runs_on_its_interval() {
        let job = Ticker::new(Duration::from_millis(50), Duration::ZERO);
        let ended = job.ended.clone();
        let mut runner = Runner::default();
        let started = Instant::now();

        runner.every(job);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(count(&ended), 0, "the first tick waits an interval");
        until("three ticks", || count(&ended) >= 3).await;

        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
        let stat = runner.stats().get("ticker").unwrap();
        assert_eq!(stat.interval, Duration::from_millis(50));
        assert!(stat.runs >= 3, "{stat:?}");
        assert_eq!((stat.failures, stat.consecutive_failures), (0, 0));
        runner.drain().await;
    }

    #[actix_web::test]
    async fn a_failing_job_counts_its_failures_until_it_works_again() {
        let (outcomes, script) = mpsc::unbounded_channel();
        let mut runner = Runner::default();
        runner.every(Scripted(script));
        let stats = runner.stats();
        let stat = || stats.get("scripted").unwrap();
        let counts = |s: JobStat| (s.runs, s.failures, s.consecutive_failures);

        outcomes.send(Err("first".to_owned())).unwrap();
        until("one run", || stat().runs == 1).await;
        assert_eq!(counts(stat()), (1, 1, 1));
        outcomes.send(Err("second".to_owned())).unwrap();
        until("two runs", || stat().runs == 2).await;
        assert_eq!(counts(stat()), (2, 2, 2), "in a row");
        outcomes.send(Ok(())).unwrap();
        until("three runs", || stat().runs == 3).await;
        assert_eq!(counts(stat()), (3, 2, 0), "recovered; the total is kept");
        outcomes.send(Err("again".to_owned())).unwrap();
        until("four runs", || stat().runs == 4).await;
        assert_eq!(counts(stat()), (4, 3, 1), "a new spell counts from one");

        drop(outcomes);
        runner.drain().await;
    }

    #[test]
    fn a_failure_warns_first_then_one_in_thirty_and_a_recovery_is_said_once() {
        let stats = JobStats::default();
        let job = stats.register("job", Duration::from_secs(10));
        let failed = |consecutive, total, warn| Change::Failed {
            consecutive,
            total,
            warn,
        };

        assert_eq!(stats.count(job, true), Change::Worked);
        assert_eq!(stats.count(job, false), failed(1, 1, true));
        assert_eq!(stats.count(job, false), failed(2, 2, false));
        for _ in 3..=WARN_EVERY {
            assert!(matches!(
                stats.count(job, false),
                Change::Failed { warn: false, .. }
            ));
        }
        assert_eq!(stats.count(job, false), failed(31, 31, true));
        assert_eq!(
            stats.count(job, true),
            Change::Recovered { failed_runs: 31 }
        );
        assert_eq!(stats.count(job, true), Change::Worked, "said once");
        assert_eq!(stats.count(job, false), failed(1, 32, true), "a new spell");
    }

    #[actix_web::test]
    async fn the_drain_waits_for_the_tick_in_progress_and_starts_no_other() {
        let job = Ticker::new(Duration::from_millis(1), Duration::from_millis(100));
        let (started, ended) = (job.started.clone(), job.ended.clone());
        let mut runner = Runner::default();
        runner.every(job);
        let stats = runner.stats();
        until("a tick starts", || count(&started) == 1).await;

        runner.drain().await;

        assert_eq!(count(&ended), 1, "the tick in progress ended");
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(count(&started), 1, "no tick after the drain");
        assert_eq!(stats.get("ticker").unwrap().runs, 1, "still readable");
    }

    #[actix_web::test]
    async fn a_woken_job_runs_before_its_interval_and_a_waiting_one_stops_at_once() {
        let job = Ticker::new(Duration::from_secs(3600), Duration::ZERO);
        let (ended, wake) = (job.ended.clone(), job.wake.clone());
        let mut runner = Runner::default();
        runner.every(job);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(count(&ended), 0);

        wake.notify_one();
        until("the woken tick", || count(&ended) == 1).await;

        let stopping = Instant::now();
        runner.drain().await;
        assert!(stopping.elapsed() < Duration::from_secs(1), "not an hour");
        assert_eq!(count(&ended), 1);
    }
}
