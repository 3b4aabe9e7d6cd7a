//! Key usage: every use counted in memory with its outcome, written only by the flush (every
//! 10 s, and at graceful shutdown), exact across replicas; and the key-expiration header.

use std::collections::BTreeMap;
use std::time::Duration;

use callem::db::key_usage::{self, ClientCount};
use callem::domain::expiry::Expiry;
use callem::domain::ids::KeyId;

use crate::helpers::*;

/// A key's requests of the last day by outcome, and its client addresses.
async fn usage_of(app: &TestApp, key_id: &str) -> (BTreeMap<String, i64>, Vec<ClientCount>) {
    let key = KeyId::parse(key_id).unwrap();
    app.db(move |c| {
        let since = callem::time::now() - chrono::Duration::days(1);
        let mut by_outcome = BTreeMap::new();
        for h in key_usage::hourly_since(c, &key, since)? {
            *by_outcome.entry(h.outcome).or_insert(0) += h.requests;
        }
        Ok((by_outcome, key_usage::clients(c, &key)?))
    })
    .await
}

fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

async fn last_used(app: &TestApp, pid: &str, key_id: &str) -> Option<chrono::NaiveDateTime> {
    let (p, k) = (project(pid), KeyId::parse(key_id).unwrap());
    app.db(move |c| Ok(callem::db::api_keys::find_in_project(c, &p, &k)?))
        .await
        .unwrap()
        .last_used_at
}

async fn uses_are_counted_by_outcome_and_address_and_written_by_the_flush(app: TestApp) {
    let pid = app.other_project("P").await;
    let (ok_id, ok) = app.issue_key(&pid, "", Expiry::Never).await;
    let (revoked_id, revoked) = app.issue_key(&pid, "", Expiry::Never).await;
    let (expired_id, expired) = app.issue_key(&pid, "", Expiry::Never).await;
    let (elsewhere_id, elsewhere) = app.issue_key(&pid, "192.0.2.1", Expiry::Never).await;
    let (p, r, e) = (
        project(&pid),
        KeyId::parse(&revoked_id).unwrap(),
        expired_id.clone(),
    );
    app.db(move |c| {
        use callem::db::schema::api_keys::dsl::*;
        use diesel::prelude::*;
        callem::db::api_keys::revoke(
            c,
            &p,
            &r,
            &callem::domain::actor::Actor::command_line(),
            callem::time::now(),
        )?;
        diesel::update(api_keys.find(&e))
            .set(expires_at.eq(Some(callem::time::now() - chrono::Duration::seconds(1))))
            .execute(c)?;
        Ok(())
    })
    .await;
    for (key, n, status) in [
        (&ok, 7, 200),
        (&revoked, 3, 401),
        (&expired, 2, 401),
        (&elsewhere, 4, 403),
    ] {
        for _ in 0..n {
            assert_eq!(app.list_calls(key, "").await.status, status);
        }
    }
    let unknown = format!("ck_live_{}", "0".repeat(60));
    assert_eq!(app.list_calls(&unknown, "").await.status, 401);
    assert_eq!(
        count_rows(&app, "key_usage_hourly").await,
        0,
        "no request writes its use"
    );
    assert_eq!(last_used(&app, &pid, &ok_id).await, None);

    let written = app.flush_usage().await;
    assert_eq!(
        written,
        key_usage::Written {
            hourly_upserts: 4,
            client_upserts: 4,
            last_used_updates: 1,
            batches: 1,
        },
        "one statement per key, hour and outcome, per key and address, and one last-used \
         update for the one key with allowed uses — not one per request"
    );

    let (by_outcome, clients) = usage_of(&app, &ok_id).await;
    assert_eq!(by_outcome, counts(&[("allowed", 7)]));
    assert_eq!(clients.len(), 1);
    assert_eq!(
        (
            clients[0].ip.as_str(),
            clients[0].requests,
            clients[0].refused
        ),
        ("127.0.0.1", 7, 0)
    );
    assert!(last_used(&app, &pid, &ok_id).await.is_some());
    for (id, outcome, n) in [
        (&revoked_id, "refused_revoked", 3),
        (&expired_id, "refused_expired", 2),
        (&elsewhere_id, "refused_ip", 4),
    ] {
        let (by_outcome, clients) = usage_of(&app, id).await;
        assert_eq!(by_outcome, counts(&[(outcome, n)]), "{outcome}");
        assert_eq!((clients[0].requests, clients[0].refused), (n, n));
        assert_eq!(
            last_used(&app, &pid, id).await,
            None,
            "a refused use is not a use"
        );
    }
    // One row per key, hour and outcome, however many requests: the unknown key has none.
    assert_eq!(count_rows(&app, "key_usage_hourly").await, 4);
    assert_eq!(count_rows(&app, "key_usage_clients").await, 4);
}

async fn two_servers_on_one_database_add_up_exactly(app: TestApp) {
    let pid = app.other_project("P").await;
    let (key_id, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let (replica, replica_usage) = app.replica_with_usage().await;
    let on_replica = Agent::new(&replica);
    let auth = [("authorization", format!("Bearer {key}"))];
    for round in [(5, 8), (2, 3)] {
        for _ in 0..round.0 {
            assert_eq!(app.list_calls(&key, "").await.status, 200);
        }
        for _ in 0..round.1 {
            assert_eq!(
                on_replica
                    .send("GET", "/v1/calls", &auth, None)
                    .await
                    .status,
                200
            );
        }
        app.flush_usage().await;
        replica_usage.flush(&app.pool).await.unwrap();
    }
    let (by_outcome, clients) = usage_of(&app, &key_id).await;
    assert_eq!(by_outcome, counts(&[("allowed", 18)]));
    assert_eq!(clients[0].requests, 18);
}

async fn the_key_expiration_header_is_sent_exactly_when_the_key_expires(app: TestApp) {
    let pid = app.other_project("P").await;
    let on = chrono::NaiveDate::from_ymd_opt(2031, 3, 1).unwrap();
    let (_, expiring) = app.issue_key(&pid, "", Expiry::On(on)).await;
    let (_, forever) = app.issue_key(&pid, "", Expiry::Never).await;
    let (_, restricted) = app.issue_key(&pid, "192.0.2.1", Expiry::On(on)).await;
    for r in [
        app.list_calls(&expiring, "").await,
        app.get_call(&expiring, "no-such-call").await,
        app.list_knowledge(&expiring, "").await,
    ] {
        assert_eq!(
            r.header("callem-key-expiration").as_deref(),
            Some("2031-03-01T23:59:59.999Z"),
            "status {}",
            r.status
        );
    }
    assert_eq!(
        app.list_calls(&forever, "")
            .await
            .header("callem-key-expiration"),
        None
    );
    let refused = app.list_calls(&restricted, "").await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.header("callem-key-expiration"),
        None,
        "only authenticated responses carry it"
    );
}

async fn hourly_counts_older_than_ninety_days_are_pruned(app: TestApp) {
    let pid = app.other_project("P").await;
    let (key_id, _) = app.issue_key(&pid, "", Expiry::Never).await;
    let key = KeyId::parse(&key_id).unwrap();
    let now = callem::time::now();
    let row = |hour| key_usage::HourlyCount {
        key_id: key.clone(),
        hour,
        outcome: "allowed".into(),
        requests: 3,
    };
    let (old, recent) = (
        row(now - chrono::Duration::days(91)),
        row(now - chrono::Duration::days(89)),
    );
    let pruned = app
        .db(move |c| {
            key_usage::add(c, &[old, recent], &[], &[])?;
            Ok(key_usage::prune(
                c,
                callem::time::now() - chrono::Duration::days(callem::usage::KEEP_DAYS),
            )?)
        })
        .await;
    assert_eq!(pruned, 1);
    assert_eq!(count_rows(&app, "key_usage_hourly").await, 1);
}

/// Another session holds `key_usage_hourly` for `held`: on SQLite a write transaction on a
/// second connection (SQLite locks the whole file), on PostgreSQL `LOCK TABLE … ACCESS
/// EXCLUSIVE`. Returns once the lock is held; the thread ends once it is released.
async fn lock_usage_table(app: &TestApp, held: Duration) -> std::thread::JoinHandle<()> {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection, SqliteConnection};
    let url = app.db.url().to_owned();
    let (locked, is_locked) = tokio::sync::oneshot::channel();
    let holder = std::thread::spawn(move || {
        let (lock, unlock) = (
            "BEGIN; LOCK TABLE key_usage_hourly IN ACCESS EXCLUSIVE MODE;",
            "COMMIT;",
        );
        if let Some(path) = url.strip_prefix("sqlite://") {
            let mut c = SqliteConnection::establish(path).unwrap();
            c.batch_execute(
                "PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE; \
                 UPDATE key_usage_hourly SET requests = requests;",
            )
            .unwrap();
            locked.send(()).unwrap();
            std::thread::sleep(held);
            c.batch_execute(unlock).unwrap();
        } else {
            let mut c = PgConnection::establish(&url).unwrap();
            c.batch_execute(lock).unwrap();
            locked.send(()).unwrap();
            std::thread::sleep(held);
            c.batch_execute(unlock).unwrap();
        }
    });
    is_locked.await.expect("the table is locked");
    holder
}

async fn released(holder: std::thread::JoinHandle<()>) {
    tokio::task::spawn_blocking(move || holder.join().unwrap())
        .await
        .unwrap();
}

async fn allowed_total(app: &TestApp, key_id: &str) -> i64 {
    usage_of(app, key_id)
        .await
        .0
        .get("allowed")
        .copied()
        .unwrap_or(0)
}

async fn a_flush_that_fails_on_a_locked_table_keeps_every_count_exactly_once(app: TestApp) {
    let pid = app.other_project("P").await;
    let (key_id, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let mut served = 0;
    for _ in 0..25 {
        assert_eq!(app.list_calls(&key, "").await.status, 200);
        served += 1;
    }
    let holder = lock_usage_table(&app, Duration::from_secs(8)).await;

    let started = std::time::Instant::now();
    let failed = app.usage.flush(&app.pool).await;
    assert!(failed.is_err(), "the table is locked: {failed:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "a lock makes the flush give up, not wait as long as the lock lasts: {:?}",
        started.elapsed()
    );
    assert!(!app.pool.is_down(), "a locked table is not a database down");
    assert_eq!(
        app.list_calls(&key, "").await.status,
        200,
        "requests are served meanwhile"
    );
    served += 1;
    released(holder).await;
    app.flush_usage().await;

    assert_eq!(
        allowed_total(&app, &key_id).await,
        served,
        "every request counted, once"
    );
    let (_, clients) = usage_of(&app, &key_id).await;
    assert_eq!(clients[0].requests, served);
}

async fn a_flush_whose_write_commits_after_its_deadline_is_not_counted_twice(app: TestApp) {
    let pid = app.other_project("P").await;
    let (key_id, key) = app.issue_key(&pid, "", Expiry::Never).await;
    for _ in 0..10 {
        assert_eq!(app.list_calls(&key, "").await.status, 200);
    }
    // Released well within the flush's lock wait: the write goes through, late.
    let holder = lock_usage_table(&app, Duration::from_millis(1000)).await;

    let late = app
        .usage
        .flush_within(&app.pool, Some(Duration::from_millis(200)))
        .await;
    assert!(late.is_err(), "the caller stopped waiting: {late:?}");
    assert_eq!(app.list_calls(&key, "").await.status, 200);
    // The next flush waits for the one still writing, then writes only what came since.
    app.flush_usage().await;
    released(holder).await;

    assert_eq!(allowed_total(&app, &key_id).await, 11, "10 + 1, none twice");
    assert!(!app.pool.is_down());
}

async fn a_large_flush_is_written_in_batches_without_the_database_reported_down(app: TestApp) {
    let pid = app.other_project("P").await;
    let mut keys = Vec::new();
    for _ in 0..50 {
        keys.push(KeyId::parse(&app.issue_key(&pid, "", Expiry::Never).await.0).unwrap());
    }
    // A recorder of its own, so the server's flusher does not take these counts.
    let recorder = callem::usage::UsageRecorder::new(true);
    let now = callem::time::now();
    for (k, key) in keys.iter().enumerate() {
        for n in 0..1_000u32 {
            let ip = std::net::IpAddr::from((10u32 << 24 | (k as u32) << 16 | n).to_be_bytes());
            recorder.record(
                key,
                callem::usage::Outcome::Allowed,
                callem::domain::client_ip::ClientAddr::Known(ip),
                None,
                now,
            );
        }
    }
    let pool = app.pool.clone();
    let started = std::time::Instant::now();
    let flush = actix_web::rt::spawn(async move { recorder.flush(&pool).await });
    let agent = app.agent();
    while !flush.is_finished() {
        assert_eq!(agent.get("/readyz").await.status, 200, "ready throughout");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let written = flush.await.unwrap().expect("the flush completes");

    assert_eq!(written.client_upserts, 50_000);
    assert_eq!(written.hourly_upserts, 50);
    assert_eq!(
        written.batches,
        (50_050usize).div_ceil(callem::usage::FLUSH_BATCH_ROWS),
        "in batches"
    );
    assert!(!app.pool.is_down(), "a large flush is not a database down");
    assert_eq!(count_rows(&app, "key_usage_clients").await, 50_000);
    let first = keys[0].to_string();
    assert_eq!(allowed_total(&app, &first).await, 1_000);
    eprintln!(
        "50 keys x 1,000 addresses flushed in {:?}",
        started.elapsed()
    );
}

/// A batch whose commit's outcome the writer never learnt (the connection dropped while it
/// committed) is kept and written again: its id makes the second write add nothing.
async fn a_batch_written_again_after_a_lost_commit_adds_nothing(app: TestApp) {
    let pid = app.other_project("P").await;
    let (key_id, _) = app.issue_key(&pid, "", Expiry::Never).await;
    let key = KeyId::parse(&key_id).unwrap();
    let now = callem::time::now();
    let row = key_usage::HourlyCount {
        key_id: key.clone(),
        hour: now,
        outcome: "allowed".into(),
        requests: 3,
    };
    let (first, again, other) = app
        .db(move |c| {
            let rows = [row];
            Ok((
                key_usage::add_once(c, "batch-1", now, &rows, &[], &[])?,
                key_usage::add_once(c, "batch-1", now, &rows, &[], &[])?,
                key_usage::add_once(c, "batch-2", now, &rows, &[], &[])?,
            ))
        })
        .await;

    assert_eq!((first.hourly_upserts, first.batches), (1, 1));
    assert_eq!(again, key_usage::Written::default(), "already written");
    assert_eq!(other.hourly_upserts, 1);
    assert_eq!(allowed_total(&app, &key_id).await, 6, "3 + 3, not 9");
}

crate::on_both_backends!(
    a_batch_written_again_after_a_lost_commit_adds_nothing,
    a_flush_that_fails_on_a_locked_table_keeps_every_count_exactly_once,
    a_flush_whose_write_commits_after_its_deadline_is_not_counted_twice,
    a_large_flush_is_written_in_batches_without_the_database_reported_down,
    hourly_counts_older_than_ninety_days_are_pruned,
    uses_are_counted_by_outcome_and_address_and_written_by_the_flush,
    two_servers_on_one_database_add_up_exactly,
    the_key_expiration_header_is_sent_exactly_when_the_key_expires
);

/// SIGTERM: the server stops and writes the counts still pending on its way out.
#[actix_web::test]
async fn graceful_shutdown_writes_the_pending_usage() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("u.db").display());
    let app = TestApp::spawn_on(TestDb::Sqlite {
        _dir: dir,
        url: url.clone(),
    })
    .await;
    let pid = app.other_project("P").await;
    let (key_id, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let mut served = Served::start(&url, &[("CALLEM_SHUTDOWN_DRAIN_SECS", "0")]);
    let agent = Agent::new(&served.base);
    let auth = [("authorization", format!("Bearer {key}"))];
    for _ in 0..6 {
        assert_eq!(
            agent.send("GET", "/v1/calls", &auth, None).await.status,
            200
        );
    }
    served.signal("TERM");
    let started = std::time::Instant::now();
    while served.child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "it stops");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (by_outcome, _) = usage_of(&app, &key_id).await;
    assert_eq!(by_outcome, counts(&[("allowed", 6)]), "{}", served.log());
    assert!(last_used(&app, &pid, &key_id).await.is_some());
}
