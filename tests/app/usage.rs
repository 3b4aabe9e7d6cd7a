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
        callem::db::api_keys::revoke(c, &p, &r, None, None, callem::time::now())?;
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

crate::on_both_backends!(
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
