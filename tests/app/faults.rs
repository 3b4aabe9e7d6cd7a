//! The database slow, stalled, refusing or locked, and the server stopping: "503 within 2 s"
//! and "ready" must mean what they say.

use std::time::{Duration, Instant};

use callem::domain::expiry::Expiry;

use crate::helpers::*;
use crate::shell::Relay;

/// How long a 503 may take, measured from the client: the promise is 2 s.
const PROMISE: Duration = Duration::from_millis(2000);

/// An app whose PostgreSQL is reached through a relay the test controls, with a key and a
/// call.
pub async fn app_behind_relay(pool_size: u32) -> (TestDb, Relay, String, String, String) {
    let db = TestDb::create(Backend::Postgres);
    let mut url = url::Url::parse(db.url()).unwrap();
    let relay = Relay::start(format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port().unwrap_or(5432)
    ))
    .await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.port)).unwrap();
    migrate(db.url()).await;
    let mut settings = settings_for(url.as_str());
    settings.db_pool_size = pool_size;
    settings.db_deadline = FAULT_DEADLINE;
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
    (db, relay, base, key, "c1".to_owned())
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
    let (_db, relay, base, key, call) = app_behind_relay(4).await;
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
    let (_db, relay, base, key, call) = app_behind_relay(4).await;
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
    work_that_queued_out_its_deadline_is_busy_and_fails_no_one_else,
    a_fresh_replica_is_ready_only_with_its_connections_open_and_a_burst_gets_no_503,
);

#[actix_web::test]
async fn a_locked_sqlite_database_is_a_503_to_retry_not_a_500() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let db = TestDb::create(Backend::Sqlite);
    migrate(db.url()).await;
    let app = TestApp::spawn_configured(db, |s| s.db_deadline = FAULT_DEADLINE).await;
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

/// A replica just started: `/readyz` says ready only once its pool has opened every
/// connection, and a burst sent right then gets no 503 (nor a "database down").
async fn a_fresh_replica_is_ready_only_with_its_connections_open_and_a_burst_gets_no_503(
    app: TestApp,
) {
    let pid = app.other_project("P").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let mut settings = settings_for(app.db.url());
    settings.db_pool_size = 8;
    let replica = callem::startup::Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", replica.port());
    let pool = replica.pool().clone();
    actix_web::rt::spawn(replica.run_until_stopped());

    let a = Agent::new(&base);
    let started = Instant::now();
    loop {
        let r = a.get("/readyz").await;
        let state = pool.state();
        if r.status == 200 {
            assert_eq!(state.connections, 8, "ready with every connection open");
            break;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(started.elapsed() < Duration::from_secs(10), "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let results = burst(&base, &key, "/v1/calls", 64).await;

    let refused: Vec<_> = results.iter().filter(|(s, _)| *s != 200).collect();
    assert!(refused.is_empty(), "{refused:?}");
    assert!(!pool.is_down(), "no false \"database down\"");
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
    let db = TestDb::create(Backend::Postgres);
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
    // 50 at a time from one address, each on a new connection: above the default cap.
    let served = tokio::task::spawn_blocking(move || {
        Served::start(&relayed, &[("CALLEM_MAX_CONNECTIONS_PER_CLIENT", "1000")])
    })
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

/// What became of one request sent while the server shuts down.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// A whole answer; with `Connection: close` or not.
    Answered { status: u16, close: bool },
    /// The connection was refused: the server no longer listens (clean, nothing was sent).
    Refused,
    /// Anything else: a reset, a closed connection, a cut body.
    Broken(String),
}

async fn one_request(client: &awc::Client, url: &str) -> Outcome {
    use awc::error::{ConnectError, SendRequestError};
    match client.get(url).send().await {
        Ok(mut res) => match res.body().await {
            Ok(_) => Outcome::Answered {
                status: res.status().as_u16(),
                close: res
                    .headers()
                    .get("connection")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close")),
            },
            Err(e) => Outcome::Broken(format!("body: {e}")),
        },
        Err(SendRequestError::Connect(ConnectError::Io(e)))
            if e.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            Outcome::Refused
        }
        Err(e) => Outcome::Broken(e.to_string()),
    }
}

/// Sends requests one after another until the server refuses connections; each outcome with
/// when it was sent. `keep_alive`: one client (its connection reused while the server allows);
/// else a new client, so a new connection, for every request.
async fn send_until_refused(base: String, keep_alive: bool) -> Vec<(Instant, Outcome)> {
    let url = format!("{base}/healthz");
    let client = || {
        awc::Client::builder()
            .timeout(Duration::from_secs(20))
            .finish()
    };
    let shared = client();
    let mut outcomes = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let fresh;
        let c = if keep_alive {
            &shared
        } else {
            fresh = client();
            &fresh
        };
        let sent = Instant::now();
        let outcome = one_request(c, &url).await;
        let refused = outcome == Outcome::Refused;
        outcomes.push((sent, outcome));
        if refused {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    outcomes
}

#[actix_web::test]
async fn requests_sent_through_the_shutdown_drain_are_all_answered_and_then_refused_cleanly() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("drain.db").display());
    let mut served = Served::start(&url, &[("CALLEM_SHUTDOWN_DRAIN_SECS", "2")]);
    let addr = served.base.trim_start_matches("http://").to_owned();
    let keep_alive = actix_web::rt::spawn(send_until_refused(served.base.clone(), true));
    let fresh = actix_web::rt::spawn(send_until_refused(served.base.clone(), false));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let term = Instant::now();
    served.signal("TERM");
    // Late in the drain, a request whose body is still on its way when the drain ends.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let mut late = std::net::TcpStream::connect(&addr).unwrap();
    let body = "email=a%40b.c&x=yyyy";
    write!(
        late,
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..5]
    )
    .unwrap();
    let (keep_alive, fresh) = (keep_alive.await.unwrap(), fresh.await.unwrap());
    let still_finishing = served.child.try_wait().unwrap().is_none();
    let refused_after_the_drain = std::net::TcpStream::connect(&addr).is_err();
    late.write_all(&body.as_bytes()[5..]).unwrap();
    let mut answer = String::new();
    late.read_to_string(&mut answer).unwrap();
    let status = served.child.wait().unwrap();

    assert!(
        still_finishing,
        "the server waits for the request it accepted"
    );
    assert!(
        refused_after_the_drain,
        "after the drain, new connections are refused"
    );
    let (head, rest) = answer.split_once("\r\n\r\n").expect("a whole head");
    assert!(head.starts_with("HTTP/1.1 "), "{answer}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .and_then(|n| n.trim().parse().ok())
        .expect("a content length");
    assert_eq!(rest.len(), length, "the whole body: {answer}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    for (what, outcomes) in [("keep-alive", &keep_alive), ("new connections", &fresh)] {
        // One race no server closes alone: a connection the kernel queued for accepting in
        // the instant the listener closes is reset unread (safe to retry; the balancer's
        // deregistration during the drain is what keeps that instant empty). So a reset is
        // allowed only as the last try, sent at the drain's very end; anything broken during
        // the drain, or a body cut short, fails.
        let broken: Vec<_> = outcomes
            .iter()
            .enumerate()
            .filter(|(_, (_, o))| matches!(o, Outcome::Broken(_)))
            .filter(|(i, (at, o))| {
                let at_the_end = at.saturating_duration_since(term) >= Duration::from_millis(1900)
                    && *i + 2 == outcomes.len();
                // Reset unread, or (the client's view of the same) no connection made.
                let reset_unread = matches!(o, Outcome::Broken(e)
                    if (e.contains("reset by peer") && !e.starts_with("body:"))
                        || e.starts_with("Failed to connect to host"));
                !(at_the_end && reset_unread)
            })
            .collect();
        assert!(broken.is_empty(), "{what}: {broken:?}");
        let answered = |from: Duration, to: Duration| {
            outcomes
                .iter()
                .filter(|(at, o)| {
                    let after = at.saturating_duration_since(term);
                    *at > term
                        && after >= from
                        && after < to
                        && matches!(o, Outcome::Answered { .. })
                })
                .map(|(_, o)| o.clone())
                .collect::<Vec<_>>()
        };
        // Served through the drain, each answer closing its connection.
        let during = answered(Duration::from_millis(100), Duration::from_millis(1900));
        assert!(during.len() > 10, "{what}: {outcomes:?}");
        assert!(
            during.iter().all(|o| *o
                == Outcome::Answered {
                    status: 200,
                    close: true
                }),
            "{what}: {during:?}"
        );
        // Before: answered, the connection kept.
        assert!(
            outcomes.iter().any(|(at, o)| *at < term
                && *o
                    == Outcome::Answered {
                        status: 200,
                        close: false
                    }),
            "{what}"
        );
        let (last_at, last) = outcomes.last().unwrap();
        assert_eq!(*last, Outcome::Refused, "{what}");
        assert!(
            last_at.duration_since(term) >= Duration::from_secs(2),
            "{what}: refused before the drain ended"
        );
    }
    assert!(status.success(), "{status:?}");
}
