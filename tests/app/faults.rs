//! The database slow, stalled, refusing or locked, and the server stopping: "503 within 2 s"
//! and "ready" must mean what they say.

use std::time::{Duration, Instant};

use callem::domain::expiry::Expiry;

use crate::helpers::*;
use crate::shell::Relay;

/// How long a 503 may take, measured from the client: the promise is 2 s.
const PROMISE: Duration = Duration::from_millis(2000);

/// An app whose PostgreSQL is reached through a relay the test controls, with a key and a
/// call; `None` when PostgreSQL is not configured.
pub async fn app_behind_relay(pool_size: u32) -> Option<(TestDb, Relay, String, String, String)> {
    let db = TestDb::create(Backend::Postgres)?;
    let mut url = url::Url::parse(db.url()).unwrap();
    let relay = Relay::start(format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port().unwrap_or(5432)
    ))
    .await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.port)).unwrap();
    let mut settings = settings_for(url.as_str());
    settings.db_pool_size = pool_size;
    let app = callem::startup::Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let pool = app.pool().clone();
    let usage = app.usage();
    actix_web::rt::spawn(app.run_until_stopped());
    let test = TestApp {
        address: base.clone(),
        pool,
        db,
        setup_token: None,
        usage,
    };
    let pid = test.other_project("P").await;
    test.import_calls(
        &pid,
        r#"{"id":"c1","status":"completed","duration":1,"createdAt":"2025-12-15T14:30:00.000Z"}"#,
    )
    .await;
    let (_, key) = test.issue_key(&pid, "", Expiry::Never).await;
    let TestApp { db, .. } = test;
    Some((db, relay, base, key, "c1".to_owned()))
}

/// Sends `n` requests at once; each one's status and how long it took.
async fn burst(base: &str, key: &str, path: &str, n: usize) -> Vec<(u16, Duration)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (a, auth, path) = (
                Agent::new(base),
                vec![("authorization", format!("Bearer {key}"))],
                path.to_owned(),
            );
            actix_web::rt::spawn(async move {
                let started = Instant::now();
                let r = a.send("GET", &path, &auth, None).await;
                (r.status, started.elapsed())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn all_quick_503s(results: &[(u16, Duration)]) {
    for (status, took) in results {
        assert_eq!(*status, 503, "{results:?}");
        assert!(*took < PROMISE, "a 503 took {took:?}: {results:?}");
    }
}

async fn recovers(base: &str, key: &str) {
    let a = Agent::new(base);
    let auth = [("authorization", format!("Bearer {key}"))];
    for _ in 0..40 {
        if a.send("GET", "/v1/calls/c1", &auth, None).await.status == 200
            && a.get("/readyz").await.status == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the server did not recover by itself");
}

#[actix_web::test]
#[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn a_stalled_postgres_answers_every_request_503_within_two_seconds() {
    let Some((_db, relay, base, key, call)) = app_behind_relay(4).await else {
        return;
    };
    let path = format!("/v1/calls/{call}");
    assert!(burst(&base, &key, &path, 4)
        .await
        .iter()
        .all(|(s, _)| *s == 200));

    // The primary freezes: connections stay open, nothing comes back.
    relay.stall();
    all_quick_503s(&burst(&base, &key, &path, 32).await);
    all_quick_503s(&burst(&base, &key, "/v1/calls", 32).await);
    let started = Instant::now();
    let r = Agent::new(&base).get("/readyz").await;
    assert_eq!(r.status, 503);
    assert!(started.elapsed() < PROMISE, "{:?}", started.elapsed());

    relay.resume();
    recovers(&base, &key).await;
}

#[actix_web::test]
#[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn a_refusing_postgres_under_load_fails_fast_for_every_request() {
    let Some((_db, relay, base, key, call)) = app_behind_relay(4).await else {
        return;
    };
    let path = format!("/v1/calls/{call}");
    relay.cut();
    all_quick_503s(&burst(&base, &key, &path, 64).await);
    // Once it is known to be down, one request at a time tries it and the others are
    // answered at once, rather than each waiting out a queue.
    let fast = burst(&base, &key, &path, 32).await;
    all_quick_503s(&fast);
    let waited = fast
        .iter()
        .filter(|(_, t)| *t > Duration::from_millis(500))
        .count();
    assert!(waited <= 2, "{fast:?}");
    relay.restore();
    recovers(&base, &key).await;
}

async fn readiness_stays_ready_while_every_connection_is_busy(app: TestApp) {
    // Every connection of the pool (8 in tests) is taken by slow work.
    let busy: Vec<_> = (0..8)
        .map(|_| {
            let pool = app.pool.clone();
            actix_web::rt::spawn(async move {
                callem::db::run(&pool, |_| {
                    std::thread::sleep(Duration::from_millis(1500));
                    Ok(())
                })
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let r = app.agent().get("/readyz").await;
    assert_eq!(r.status, 200, "busy is not down: {}", r.body);
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    for b in busy {
        b.await.unwrap().unwrap();
    }
}

/// Work that spent most of its deadline queueing behind slow work is a busy server, not a
/// database that stopped answering: it is refused as busy, and the next request is tried
/// instead of being failed fast.
async fn work_that_queued_out_its_deadline_is_busy_and_fails_no_one_else(app: TestApp) {
    let holders: Vec<_> = (0..8)
        .map(|_| {
            let pool = app.pool.clone();
            actix_web::rt::spawn(async move {
                callem::db::run(&pool, |_| {
                    std::thread::sleep(Duration::from_millis(1400));
                    Ok(())
                })
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Its turn comes after about 1.2 s; 0.6 s later its 1.8 s deadline is over.
    let late = callem::db::run(&app.pool, |_| {
        std::thread::sleep(Duration::from_millis(1000));
        Ok(())
    })
    .await;
    let e = late.expect_err("the deadline passed");
    assert!(e.is_busy(), "queued out is busy, not down: {e}");
    // Not failing fast: requests made right after are all tried, and answered.
    let next: Vec<_> = (0..3)
        .map(|_| {
            let pool = app.pool.clone();
            actix_web::rt::spawn(async move {
                callem::db::run(&pool, |c| Ok(callem::db::users::count(c)?)).await
            })
        })
        .collect();
    for n in next {
        let answer = n.await.unwrap();
        assert!(answer.is_ok(), "answered, not failed fast: {answer:?}");
    }
    for h in holders {
        h.await.unwrap().unwrap();
    }
}

crate::on_both_backends!(
    readiness_stays_ready_while_every_connection_is_busy,
    work_that_queued_out_its_deadline_is_busy_and_fails_no_one_else
);

#[actix_web::test]
async fn a_locked_sqlite_database_is_a_503_to_retry_not_a_500() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let pid = app.other_project("P").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let path = app.db.url().trim_start_matches("sqlite://").to_owned();
    // Another writer (a long `callem import`, say) holds the write lock.
    let mut other = diesel::SqliteConnection::establish(&path).unwrap();
    other
        .batch_execute("BEGIN IMMEDIATE; INSERT INTO settings (name, value) VALUES ('x', 'y');")
        .unwrap();
    let a = app.agent();
    let auth = |extra: Vec<(&'static str, String)>| {
        let mut h = vec![("authorization", format!("Bearer {key}"))];
        h.extend(extra);
        h
    };
    let body = || Some((r#"{"name":"n","text":"t"}"#.to_owned(), "application/json"));
    let started = Instant::now();
    let r = a.send("POST", "/v1/knowledge", &auth(vec![]), body()).await;
    assert_eq!(api_error(&r), (503, "Service unavailable".into()));
    assert!(r.header("retry-after").is_some());
    assert!(started.elapsed() < PROMISE, "{:?}", started.elapsed());
    assert_eq!(
        a.send("GET", "/v1/knowledge", &auth(vec![]), None)
            .await
            .status,
        200,
        "readers are not blocked"
    );
    other.batch_execute("COMMIT;").unwrap();
    let r = a.send("POST", "/v1/knowledge", &auth(vec![]), body()).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[actix_web::test]
async fn on_sigterm_readiness_fails_first_and_requests_are_served_through_the_drain() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("drain.db").display());
    let mut served = Served::start(&url, &[("CALLEM_SHUTDOWN_DRAIN_SECS", "2")]);
    // One agent: its requests reuse a keep-alive connection.
    let a = Agent::new(&served.base);
    assert_eq!(a.get("/readyz").await.status, 200);
    let stopped_at = Instant::now();
    served.signal("TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = a.get("/readyz").await;
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (503, Some("draining"))
    );
    for _ in 0..5 {
        assert_eq!(
            a.get("/healthz").await.status,
            200,
            "still serving while draining"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = loop {
        if let Some(s) = served.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(15),
            "did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        stopped_at.elapsed() >= Duration::from_secs(2),
        "stopped before the drain ended"
    );
}

#[test]
fn serve_raises_its_open_file_limit_to_the_hard_limit() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nofile.db").display());
    // A supervisor that starts services with a low soft limit.
    let mut child = Command::new("bash")
        .args([
            "-c",
            &format!(
                "ulimit -Sn 256 && exec {} serve --bind 127.0.0.1:0",
                env!("CARGO_BIN_EXE_callem")
            ),
        ])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (soft, hard) = (fields[3], fields[4]);
    assert_ne!(soft, "256", "{line}");
    assert_eq!(soft, hard, "{line}");
}

use futures_util::StreamExt;

/// The counts of the summary lines ("1,204 requests answered 503 in the last 10 s").
fn summarised_503s(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.split_once(" requests answered 503 in the last 10 s"))
        .filter_map(|(before, _)| before.rsplit(' ').next())
        .filter_map(|n| n.replace(',', "").parse::<u64>().ok())
        .sum()
}

#[actix_web::test]
#[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn an_outage_logs_its_state_changes_and_a_count_every_ten_seconds_not_a_line_per_503() {
    let Some(db) = TestDb::create(Backend::Postgres) else {
        return;
    };
    let mut url = url::Url::parse(db.url()).unwrap();
    let relay = Relay::start(format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port().unwrap_or(5432)
    ))
    .await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.port)).unwrap();
    let (_, pid, _) = run_callem(db.url(), &["project", "create", "--name", "P"], None);
    let (_, key, err) = run_callem(
        db.url(),
        &["keys", "create", "--project", pid.trim(), "--name", "K"],
        None,
    );
    assert!(key.starts_with("ck_"), "{err}");
    // Started off this thread, which runs the relay it connects through.
    let relayed = url.to_string();
    let served = tokio::task::spawn_blocking(move || Served::start(&relayed, &[]))
        .await
        .unwrap();
    let auth = vec![("authorization", format!("Bearer {}", key.trim()))];
    let a = Agent::new(&served.base);
    assert_eq!(a.send("GET", "/v1/calls", &auth, None).await.status, 200);

    // The database goes away for the length of 2,000 requests, 50 at a time.
    relay.cut();
    let statuses: Vec<u16> = futures_util::stream::iter(0..2_000)
        .map(|_| {
            let (a, auth) = (Agent::new(&served.base), auth.clone());
            async move { a.send("GET", "/v1/calls", &auth, None).await.status }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    relay.restore();
    recovers_with(&served.base, key.trim()).await;
    // The next summary (at most 10 s away) counts them.
    let started = Instant::now();
    while summarised_503s(&served.log()) < 2_000 && started.elapsed() < Duration::from_secs(12) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert!(statuses.iter().all(|s| *s == 503), "{statuses:?}");
    let log = served.log();
    let lines: Vec<&str> = log
        .lines()
        // Each request's access line (its span closing) is the access log, not a warning.
        .filter(|l| !l.contains("close time.busy"))
        .collect();
    assert!(
        lines.len() <= 15,
        "{} lines besides the access log:\n{}",
        lines.len(),
        lines.join("\n")
    );
    assert!(log.contains("the database is down"), "{log}");
    assert!(log.contains("the database answers again after"), "{log}");
    let counted = summarised_503s(&log);
    assert!(
        (2_000..=2_010).contains(&counted),
        "summaries count {counted} 503s:\n{}",
        lines.join("\n")
    );
}

async fn recovers_with(base: &str, key: &str) {
    let a = Agent::new(base);
    let auth = [("authorization", format!("Bearer {key}"))];
    for _ in 0..40 {
        if a.send("GET", "/v1/calls", &auth, None).await.status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the server did not recover by itself");
}
