//! Webhook deliveries: events written with the change that caused them, signed, delivered in
//! order to a real receiver on loopback, retried, given up, and never lost.

use callem::db::{self, models::Webhook};
use callem::domain::actor::Actor;
use callem::domain::ids::ProjectId;
use callem::domain::webhook::{AllowedRanges, EventKinds, WebhookUrl};
use callem::webhooks::secret::{Sealer, SigningSecret};

use crate::helpers::TestApp;

/// The sealer the app uses (no `CALLEM_SECRET_KEY` in the tests: the database's key).
pub async fn sealer(app: &TestApp) -> Sealer {
    let material = callem::startup::key_material(None, &app.pool)
        .await
        .expect("the key material");
    Sealer::from_material(&material)
}

/// A webhook added by the command line's code, to `url` (loopback allowed), for `events`.
pub async fn add_webhook(
    app: &TestApp,
    project_id: &str,
    url: &str,
    events: &[&str],
) -> (Webhook, SigningSecret) {
    let allowed = AllowedRanges::parse("127.0.0.0/8").unwrap();
    let url = WebhookUrl::parse(url, &allowed).expect("an allowed URL");
    let events = EventKinds::parse(events.iter().copied()).expect("events");
    let pid = ProjectId::parse(project_id).unwrap();
    let sealer = sealer(app).await;
    app.db(move |c| {
        db::webhooks::create(
            c,
            &pid,
            &db::webhooks::NewWebhook {
                url: &url,
                description: "",
                events: &events,
            },
            &sealer,
            &Actor::command_line(),
            callem::time::now(),
        )
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// A real receiver: an HTTP server on loopback that records what it gets and answers as told.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use callem::domain::expiry::Expiry;
use callem::domain::ids::KeyId;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::helpers::Backend;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// How the receiver answers its n-th request (0-based): a status and extra headers.
pub type Answer = dyn Fn(usize, &Received) -> (u16, Vec<(&'static str, String)>) + Send + Sync;

pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    server: actix_web::dev::ServerHandle,
}

impl Receiver {
    /// A receiver answering 200 to everything.
    pub async fn ok() -> Receiver {
        Receiver::answering(|_, _| (200, vec![])).await
    }

    pub async fn answering(
        answer: impl Fn(usize, &Received) -> (u16, Vec<(&'static str, String)>) + Send + Sync + 'static,
    ) -> Receiver {
        Receiver::on("127.0.0.1:0", Arc::new(answer)).await
    }

    /// A receiver on a given address (a port a webhook already points at).
    pub async fn on(addr: &str, answer: Arc<Answer>) -> Receiver {
        Receiver::slow(addr, Duration::ZERO, answer).await
    }

    /// A receiver that takes `delay` before it answers each request.
    pub async fn slow(addr: &str, delay: Duration, answer: Arc<Answer>) -> Receiver {
        use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = got.clone();
        let server = HttpServer::new(move || {
            let seen = seen.clone();
            let answer = answer.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let seen = seen.clone();
                let answer = answer.clone();
                async move {
                    let r = Received {
                        path: req.uri().to_string(),
                        headers: req
                            .headers()
                            .iter()
                            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
                            .collect(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                        at: Instant::now(),
                    };
                    let n = {
                        let mut all = seen.lock().unwrap();
                        all.push(r.clone());
                        all.len() - 1
                    };
                    actix_web::rt::time::sleep(delay).await;
                    let (status, headers) = answer(n, &r);
                    let mut res =
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
                    for (name, value) in headers {
                        res.insert_header((name, value));
                    }
                    res.body("thanks")
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind(addr)
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks/callem"),
            got,
            server: handle,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came (panics after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                started.elapsed() < within,
                "the receiver got {} of {n} requests within {within:?}: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

/// An app that may deliver to loopback, retrying on `schedule`.
pub async fn app_delivering(backend: Backend, schedule: &str) -> TestApp {
    let db = crate::helpers::TestDb::create(backend);
    let schedule = schedule.to_owned();
    TestApp::spawn_configured(db, move |s| {
        s.webhook_allowed = AllowedRanges::parse("127.0.0.0/8").unwrap();
        s.webhook_retries = callem::domain::webhook::RetrySchedule::parse(&schedule).unwrap();
    })
    .await
}

/// Checks both signatures of a delivery as a receiver would, from the spec's text (not with
/// the server's own code): `x-callem-signature` is hex HMAC-SHA256 over
/// `{x-callem-timestamp}.{body}`, `webhook-signature` `v1,` and base64 HMAC-SHA256 over
/// `{webhook-id}.{webhook-timestamp}.{body}`, each keyed with the secret's decoded bytes.
pub fn verify_signatures(r: &Received, whsec: &str) {
    let key = base64::engine::general_purpose::STANDARD
        .decode(whsec.strip_prefix("whsec_").expect("whsec_"))
        .unwrap();
    let mac = |msg: &str| {
        let mut m = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        m.update(msg.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    let ts = r.header("x-callem-timestamp");
    let expected = hex::encode(mac(&format!("{ts}.{}", r.body)));
    assert!(
        r.header("x-callem-signature")
            .split(' ')
            .any(|s| s == expected),
        "x-callem-signature does not verify: {:?}",
        r.headers
    );
    let (id, wts) = (r.header("webhook-id"), r.header("webhook-timestamp"));
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac(&format!("{id}.{wts}.{}", r.body)))
    );
    assert!(
        r.header("webhook-signature")
            .split(' ')
            .any(|s| s == expected),
        "webhook-signature does not verify: {:?}",
        r.headers
    );
}

/// Checks a delivery with the `standardwebhooks` package from PyPI (`.ci/run` installs it in
/// target/ci-venv): a verifier written by others.
#[cfg(callem_webhook_verifier_tests)]
pub fn verify_with_standardwebhooks(r: &Received, whsec: &str) {
    assert!(
        standardwebhooks_accepts(&r.body, r, whsec),
        "standardwebhooks refused the delivery"
    );
    // And the same verifier refuses a body changed by one byte: it did check something.
    assert!(!standardwebhooks_accepts(&format!("{} ", r.body), r, whsec));
}

#[cfg(callem_webhook_verifier_tests)]
fn standardwebhooks_accepts(body: &str, r: &Received, whsec: &str) -> bool {
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
data = json.load(sys.stdin)
Webhook(data["secret"]).verify(data["body"], data["headers"])
print("verified")
"#;
    let input = serde_json::json!({
        "secret": whsec,
        "body": body,
        "headers": {
            "webhook-id": r.header("webhook-id"),
            "webhook-timestamp": r.header("webhook-timestamp"),
            "webhook-signature": r.header("webhook-signature"),
        },
    });
    use std::io::Write;
    let mut child = std::process::Command::new("target/ci-venv/bin/python")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("target/ci-venv/bin/python (run .ci/run once, or install standardwebhooks)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || stderr.contains("WebhookVerificationError"),
        "the verifier did not run: {stderr}"
    );
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("verified")
}

async fn revoke_key(app: &TestApp, pid: &str, kid: &str) {
    let (pid, kid) = (crate::helpers::project(pid), KeyId::parse(kid).unwrap());
    app.db(move |c| {
        db::api_keys::revoke(c, &pid, &kid, &Actor::command_line(), callem::time::now())
    })
    .await;
}

/// The deliveries of a webhook, oldest first.
pub async fn deliveries(app: &TestApp, webhook: &Webhook) -> Vec<callem::db::models::Delivery> {
    let id = webhook.id.clone();
    app.db(move |c| {
        use callem::db::schema::webhook_deliveries as d;
        use diesel::prelude::*;
        Ok(d::table
            .filter(d::webhook_id.eq(&id))
            .order((d::created_at.asc(), d::seq.asc()))
            .select(callem::db::models::Delivery::as_select())
            .load(c)?)
    })
    .await
}

/// Waits until none of the webhook's deliveries is pending.
pub async fn settled(
    app: &TestApp,
    webhook: &Webhook,
    within: Duration,
) -> Vec<callem::db::models::Delivery> {
    let started = Instant::now();
    loop {
        let all = deliveries(app, webhook).await;
        if !all.is_empty() && all.iter().all(|d| d.state != "pending") {
            return all;
        }
        assert!(started.elapsed() < within, "still pending: {all:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const WAIT: Duration = Duration::from_secs(20);

async fn a_revoked_key_reaches_a_real_receiver_signed_both_ways(backend: Backend) {
    let app = app_delivering(backend, "").await;
    let (_, pid) = app.setup_owner().await;
    let receiver = Receiver::ok().await;
    let (webhook, secret) = add_webhook(&app, &pid, &receiver.url, &["api_key_revoked"]).await;
    let (kid, full_key) = app.issue_key(&pid, "*", Expiry::Never).await;
    let before = chrono::Utc::now().timestamp();

    revoke_key(&app, &pid, &kid).await;

    let got = receiver.wait_for(1, WAIT).await;
    let r = &got[0];
    assert_eq!(r.path, "/hooks/callem");
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("user-agent").starts_with("Callem-Webhooks/"));
    assert_eq!(r.header("x-callem-event"), "api_key_revoked");
    let ts: i64 = r.header("x-callem-timestamp").parse().unwrap();
    assert!((before - 1..=before + 30).contains(&ts), "{ts}");
    assert_eq!(r.header("webhook-timestamp"), ts.to_string());
    assert!(r.header("webhook-id").starts_with("msg_"));
    verify_signatures(r, &secret.to_whsec());
    #[cfg(callem_webhook_verifier_tests)]
    verify_with_standardwebhooks(r, &secret.to_whsec());
    let body = r.json();
    assert_eq!(body["event"], "api_key_revoked");
    assert_eq!(body["apiKey"]["id"], kid.as_str());
    assert_eq!(body["apiKey"]["name"], "test key");
    assert_eq!(body["apiKey"]["reason"], "command_line");
    assert!(body["apiKey"]["expiresAt"].is_null());
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(!r.body.contains(&full_key), "never the key itself");
    let all = settled(&app, &webhook, WAIT).await;
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].state.as_str(), all[0].attempts), ("delivered", 1));
    assert_eq!(all[0].id.as_str(), r.header("webhook-id"));
}

async fn a_failing_receiver_gets_the_same_webhook_id_until_it_answers(backend: Backend) {
    let app = app_delivering(backend, "200ms,200ms,200ms").await;
    let (_, pid) = app.setup_owner().await;
    let receiver = Receiver::answering(|n, _| (if n < 2 { 500 } else { 200 }, vec![])).await;
    let (webhook, _) = add_webhook(&app, &pid, &receiver.url, &["api_key_revoked"]).await;
    let (kid, _) = app.issue_key(&pid, "*", Expiry::Never).await;

    revoke_key(&app, &pid, &kid).await;

    let got = receiver.wait_for(3, WAIT).await;
    let all = settled(&app, &webhook, WAIT).await;
    assert_eq!(got.len(), 3, "no attempt after the 2xx");
    let id = got[0].header("webhook-id");
    assert!(got.iter().all(|r| r.header("webhook-id") == id));
    assert_eq!(all[0].id.as_str(), id);
    assert_eq!((all[0].state.as_str(), all[0].attempts), ("delivered", 3));
    // The retries waited for the schedule (200 ms, ±20 %).
    for pair in got.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(150));
    }
    let attempts = attempts_of(&app, &all[0]).await;
    assert_eq!(
        attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(200)]
    );
}

async fn attempts_of(
    app: &TestApp,
    d: &callem::db::models::Delivery,
) -> Vec<callem::db::models::Attempt> {
    let id = d.id.clone();
    app.db(move |c| {
        use callem::db::schema::webhook_attempts as a;
        use diesel::prelude::*;
        Ok(a::table
            .filter(a::delivery_id.eq(&id))
            .order(a::attempted_at.asc())
            .select(callem::db::models::Attempt::as_select())
            .load(c)?)
    })
    .await
}

async fn webhook_row(app: &TestApp, w: &Webhook) -> Webhook {
    let (pid, id) = (w.project_id.clone(), w.id.clone());
    app.db(move |c| Ok(db::webhooks::find(c, &pid, &id)?.unwrap()))
        .await
}

async fn a_410_disables_the_webhook_at_once(backend: Backend) {
    let app = app_delivering(backend, "200ms,200ms").await;
    let (owner, pid) = app.setup_owner().await;
    let receiver = Receiver::answering(|_, _| (410, vec![])).await;
    let (webhook, _) = add_webhook(&app, &pid, &receiver.url, &["api_key_revoked"]).await;
    let (first, _) = app.issue_key(&pid, "*", Expiry::Never).await;
    let (second, _) = app.issue_key(&pid, "*", Expiry::Never).await;

    revoke_key(&app, &pid, &first).await;
    receiver.wait_for(1, WAIT).await;
    settled(&app, &webhook, WAIT).await;
    revoke_key(&app, &pid, &second).await;
    tokio::time::sleep(Duration::from_millis(800)).await;

    assert_eq!(
        receiver.received().len(),
        1,
        "one attempt, no retry, nothing more"
    );
    let row = webhook_row(&app, &webhook).await;
    assert!(!row.enabled);
    assert_eq!(row.disabled_reason.as_deref(), Some("gone"));
    let all = deliveries(&app, &webhook).await;
    assert_eq!(all.len(), 1, "a disabled webhook is sent nothing new");
    assert_eq!(all[0].state, "failed");
    let log = owner
        .get(&format!("/projects/{pid}/settings/audit-log?kind=webhooks"))
        .await;
    assert!(log.body.contains("disabled the webhook"), "{}", log.body);
}

async fn retry_after_puts_off_the_next_attempt(backend: Backend) {
    let app = app_delivering(backend, "100ms,100ms").await;
    let (_, pid) = app.setup_owner().await;
    let receiver = Receiver::answering(|n, _| {
        if n == 0 {
            (503, vec![("retry-after", "2".to_owned())])
        } else {
            (200, vec![])
        }
    })
    .await;
    let (webhook, _) = add_webhook(&app, &pid, &receiver.url, &["api_key_revoked"]).await;
    let (kid, _) = app.issue_key(&pid, "*", Expiry::Never).await;

    revoke_key(&app, &pid, &kid).await;

    let got = receiver.wait_for(2, WAIT).await;
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "waited only {waited:?}"
    );
    let all = settled(&app, &webhook, WAIT).await;
    assert_eq!(all[0].state, "delivered");
}

async fn a_redirect_fails_the_attempt_and_its_location_is_not_requested(backend: Backend) {
    let app = app_delivering(backend, "100ms").await;
    let (_, pid) = app.setup_owner().await;
    let elsewhere = Receiver::ok().await;
    let target = elsewhere.url.clone();
    let receiver = Receiver::answering(move |_, _| (302, vec![("location", target.clone())])).await;
    let (webhook, _) = add_webhook(&app, &pid, &receiver.url, &["api_key_revoked"]).await;
    let (kid, _) = app.issue_key(&pid, "*", Expiry::Never).await;

    revoke_key(&app, &pid, &kid).await;

    let all = settled(&app, &webhook, WAIT).await;
    assert_eq!(
        receiver.received().len(),
        2,
        "the first attempt and one retry"
    );
    assert!(
        elsewhere.received().is_empty(),
        "the Location was never requested"
    );
    assert_eq!((all[0].state.as_str(), all[0].attempts), ("failed", 2));
    assert!(
        all[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("redirect"),
        "{:?}",
        all[0].last_error
    );
}

async fn one_keys_events_arrive_in_order_while_the_first_is_retried(backend: Backend) {
    let app = app_delivering(backend, "300ms,300ms,300ms").await;
    let (_, pid) = app.setup_owner().await;
    // The first request fails twice; everything else is taken.
    let receiver = Receiver::answering(|n, _| (if n < 2 { 500 } else { 200 }, vec![])).await;
    let (webhook, _) = add_webhook(
        &app,
        &pid,
        &receiver.url,
        &["api_key_revoked", "api_key_leaked"],
    )
    .await;
    let (_, full_key) = app.issue_key(&pid, "*", Expiry::Never).await;
    let unsubscribed = Receiver::ok().await;
    add_webhook(&app, &pid, &unsubscribed.url, &["call_ended"]).await;

    // A leak report: `api_key_revoked` then `api_key_leaked`, for one key.
    let r = app
        .agent()
        .send(
            "POST",
            "/v1/leaked-keys",
            &[],
            Some((
                serde_json::json!({"keys": [&full_key]}).to_string(),
                "application/json",
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let got = receiver.wait_for(4, WAIT).await;
    settled(&app, &webhook, WAIT).await;
    let events: Vec<&str> = got.iter().map(|r| r.header("x-callem-event")).collect();
    assert_eq!(
        events,
        [
            "api_key_revoked",
            "api_key_revoked",
            "api_key_revoked",
            "api_key_leaked"
        ],
        "the later event waited for the earlier one"
    );
    assert_eq!(got[3].json()["apiKey"]["reason"], "leak_report");
    assert!(
        unsubscribed.received().is_empty(),
        "none to a webhook not subscribed"
    );
}

crate::with_both_backends!(
    a_revoked_key_reaches_a_real_receiver_signed_both_ways,
    a_failing_receiver_gets_the_same_webhook_id_until_it_answers,
    a_410_disables_the_webhook_at_once,
    retry_after_puts_off_the_next_attempt,
    a_redirect_fails_the_attempt_and_its_location_is_not_requested,
    one_keys_events_arrive_in_order_while_the_first_is_retried,
);

async fn expiry_reminders_go_out_once_each_at_14_7_and_1_days(backend: Backend) {
    use callem::db::key_reminders::remind_expiring;
    let app = app_delivering(backend, "").await;
    let (_, pid) = app.setup_owner().await;
    let receiver = Receiver::ok().await;
    let (webhook, _) = add_webhook(&app, &pid, &receiver.url, &["api_key_expiring"]).await;
    let in_days = |d: i64| (chrono::Utc::now() + chrono::Duration::days(d)).date_naive();
    // Keys whose last day is in 10 days, in 3 days, and today.
    let (ten, _) = app.issue_key(&pid, "*", Expiry::On(in_days(10))).await;
    let (three, _) = app.issue_key(&pid, "*", Expiry::On(in_days(3))).await;
    let (today, _) = app.issue_key(&pid, "*", Expiry::On(in_days(0))).await;
    app.issue_key(&pid, "*", Expiry::On(in_days(30))).await;
    let now = callem::time::now();
    let remind = |at: chrono::NaiveDateTime| app.db(move |c| remind_expiring(c, at));

    // Two replicas' jobs at the same moment: each reminder once.
    assert_eq!(
        remind(now).await,
        3,
        "14 days for the first, 7 for the second, 1 for today's"
    );
    assert_eq!(remind(now).await, 0);

    let got = receiver.wait_for(3, WAIT).await;
    settled(&app, &webhook, WAIT).await;
    let mut reminders: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let b = r.json();
            assert_eq!(b["event"], "api_key_expiring");
            (
                b["apiKey"]["id"].as_str().unwrap().to_owned(),
                b["apiKey"]["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    reminders.sort();
    let mut expected = vec![
        (ten.clone(), "expires_in_14_days".to_owned()),
        (three.clone(), "expires_in_7_days".to_owned()),
        (today.clone(), "expires_in_1_day".to_owned()),
    ];
    expected.sort();
    assert_eq!(reminders, expected);

    // Later runs (the clock moved on): each threshold once, none of the passed ones again.
    let days = chrono::Duration::days;
    assert_eq!(remind(now + days(3)).await, 1, "the 3-day key's last day");
    assert_eq!(remind(now + days(3)).await, 0);
    assert_eq!(
        remind(now + days(4)).await,
        1,
        "7 days left for the 10-day key"
    );
    assert_eq!(remind(now + days(10)).await, 1, "its last day");
    assert_eq!(remind(now + days(10)).await, 0);
}

crate::with_both_backends!(expiry_reminders_go_out_once_each_at_14_7_and_1_days);

/// Owners and Admins are emailed (not Developers or Members) about a leak report, a webhook
/// disabled and a key expiring, each once although two replicas send email.
#[actix_web::test]
#[cfg_attr(
    not(callem_smtp_tests),
    ignore = "aiosmtpd is not installed in target/ci-venv"
)]
async fn owners_and_admins_are_emailed_about_leaks_disabled_webhooks_and_expiring_keys() {
    use crate::team::SmtpSink;
    let sink = SmtpSink::start();
    let url = sink.url();
    let db = crate::helpers::TestDb::create(Backend::Sqlite);
    let app = TestApp::spawn_configured(db, move |s| {
        s.webhook_allowed = AllowedRanges::parse("127.0.0.0/8").unwrap();
        s.smtp =
            callem::email::SmtpConfig::parse(&url, "Callem Studio <callem@example.com>").unwrap();
    })
    .await;
    let (_, pid) = app.setup_owner().await;
    // A second replica with email: each notification is still sent once.
    let smtp_url = sink.url();
    app.replica_configured(move |s| {
        s.webhook_allowed = AllowedRanges::parse("127.0.0.0/8").unwrap();
        s.smtp = callem::email::SmtpConfig::parse(&smtp_url, "Callem Studio <callem@example.com>")
            .unwrap();
    })
    .await;
    app.user_with_role(&pid, "admin@example.com", "admin").await;
    app.user_with_role(&pid, "dev@example.com", "developer")
        .await;
    let gone = Receiver::answering(|_, _| (410, vec![])).await;
    let (webhook, _) = add_webhook(&app, &pid, &gone.url, &["api_key_revoked"]).await;
    let (_, leaked) = app.issue_key(&pid, "*", Expiry::Never).await;
    // Its last day is today: the 1-day reminder is due.
    let today = chrono::Utc::now().date_naive();
    app.issue_key(&pid, "*", Expiry::On(today)).await;

    let r = app
        .agent()
        .send(
            "POST",
            "/v1/leaked-keys",
            &[],
            Some((
                serde_json::json!({"keys": [&leaked]}).to_string(),
                "application/json",
            )),
        )
        .await;
    assert_eq!(r.status, 200);
    settled(&app, &webhook, WAIT).await;
    let now = callem::time::now();
    app.db(move |c| callem::db::key_reminders::remind_expiring(c, now))
        .await;

    let messages = crate::resets::wait_for_messages(&sink, 6).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = {
        let later = sink.messages();
        assert_eq!(later.len(), messages.len(), "each notification once");
        later
    };
    let to = |who: &str| -> Vec<String> {
        messages
            .iter()
            .filter(|m| m.contains(&format!("X-RcptTo: {who}")))
            .cloned()
            .collect()
    };
    for who in [crate::helpers::OWNER_EMAIL, "admin@example.com"] {
        let mine = to(who);
        assert_eq!(mine.len(), 3, "{who}: {mine:#?}");
        assert!(mine
            .iter()
            .any(|m| m.contains("was revoked after a leak report")));
        assert!(mine.iter().any(|m| m.contains("Webhook disabled:")));
        assert!(mine.iter().any(|m| m.contains("expires in 1 day")));
    }
    assert!(
        to("dev@example.com").is_empty(),
        "Developers are not emailed"
    );
}

// ---------------------------------------------------------------------------------------------
// Nothing lost: servers as processes, killed with SIGKILL.

/// Database work with a command's pool (no server, so no delivery job, runs on it).
async fn on_db<T: Send + 'static>(
    url: &str,
    f: impl FnOnce(&mut callem::db::DbConnection) -> Result<T, callem::db::DbError> + Send + 'static,
) -> T {
    let url = callem::db::DatabaseUrl::parse(url).unwrap();
    let pool = tokio::task::spawn_blocking(move || {
        callem::db::build_pool(&url, callem::db::PoolUse::Command)
    })
    .await
    .unwrap()
    .unwrap();
    callem::db::run(&pool, f).await.unwrap()
}

/// A project with `n` keys (their full values), made with no server running.
async fn project_with_keys(url: &str, n: usize) -> (ProjectId, Vec<String>) {
    on_db(url, move |c| {
        let now = callem::time::now();
        let pid = callem::db::projects::create(c, "Processes", &Actor::command_line(), now)?;
        let mut keys = Vec::new();
        for _ in 0..n {
            let name = callem::domain::api_key::ApiKeyName::parse("k").unwrap();
            let (_, secret) = callem::db::api_keys::issue(
                c,
                &callem::db::api_keys::KeyRequest {
                    project_id: &pid,
                    name: &name,
                    rules: &callem::domain::ip_rules::IpRules::parse("*").unwrap(),
                    expiry: Expiry::Never,
                    scope: Default::default(),
                    actor: &Actor::command_line(),
                },
                now,
            )?;
            keys.push(secret.expose_secret().to_owned());
        }
        Ok((pid, keys))
    })
    .await
}

/// A webhook added with no server running, sealed with the key the servers will derive.
async fn webhook_without_server(url: &str, pid: &ProjectId, to: &str, events: &[&str]) {
    let material = on_db(url, |c| {
        Ok(callem::db::settings::get_or_insert(
            c,
            callem::db::settings::SESSION_KEY,
            &callem::domain::ids::new_id(),
        )?)
    })
    .await;
    let sealer = Sealer::from_material(&material);
    let to = WebhookUrl::parse(to, &AllowedRanges::parse("127.0.0.0/8").unwrap()).unwrap();
    let events = EventKinds::parse(events.iter().copied()).unwrap();
    let pid = pid.clone();
    on_db(url, move |c| {
        let new = db::webhooks::NewWebhook {
            url: &to,
            description: "",
            events: &events,
        };
        db::webhooks::create(
            c,
            &pid,
            &new,
            &sealer,
            &Actor::command_line(),
            callem::time::now(),
        )
    })
    .await;
}

/// `callem serve` as a process of its own; killed with SIGKILL when dropped.
struct Server {
    child: std::process::Child,
    url: String,
}

impl Server {
    fn start(database_url: &str) -> Server {
        Server::start_with(database_url, &[])
    }

    fn start_with(database_url: &str, env: &[(&str, &str)]) -> Server {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_callem"))
            .envs(env.iter().copied())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url)
            .env("CALLEM_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8")
            .env("CALLEM_WEBHOOK_RETRY_SCHEDULE", "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s")
            .env("CALLEM_RATE_LIMIT_PER_MINUTE", "100000")
            // Proxy variables are ignored: deliveries never go through one.
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("ALL_PROXY", "http://127.0.0.1:9")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
        // Read the rest too: a closed pipe would fail the server's next line.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .trim_end_matches(['.', ','])
            .to_owned();
        Server { child, url }
    }

    fn kill(&mut self) {
        // SIGKILL: no drain, no final flush, nothing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reports these keys leaked to a server: each is revoked, with `api_key_revoked` then
/// `api_key_leaked`.
async fn report_leaks(server_url: &str, keys: &[String]) {
    let client = awc::Client::default();
    let r = client
        .post(format!("{server_url}/v1/leaked-keys"))
        .send_json(&serde_json::json!({ "keys": keys }))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// What the receiver got, as (webhook-id, event, key id) for the 2xx answers it gave.
fn delivered(got: &[Received]) -> Vec<(String, String, String)> {
    got.iter()
        .map(|r| {
            (
                r.header("webhook-id").to_owned(),
                r.header("x-callem-event").to_owned(),
                r.json()["apiKey"]["id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn deliveries_pending_when_the_server_is_killed_are_delivered_after(backend: Backend) {
    let db = crate::helpers::TestDb::create(backend);
    let url = db.url().to_owned();
    crate::helpers::migrate(&url).await;
    let (pid, keys) = project_with_keys(&url, 10).await;
    // The receiver is down: its port is reserved, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hook_url = format!("http://127.0.0.1:{port}/hook");
    let other = Receiver::ok().await;
    webhook_without_server(
        &url,
        &pid,
        &hook_url,
        &["api_key_revoked", "api_key_leaked"],
    )
    .await;
    webhook_without_server(&url, &pid, &other.url, &["call_ended"]).await;

    let mut first = Server::start(&url);
    // On PostgreSQL a second replica runs all along: it takes over the killed one's work.
    let mut second = (backend == Backend::Postgres).then(|| Server::start(&url));
    report_leaks(&first.url, &keys[..5]).await;
    report_leaks(&second.as_ref().unwrap_or(&first).url, &keys[5..]).await;
    // Attempts fail (nothing listens) and are retried while the first server is killed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill();
    let receiver = Receiver::on(&format!("127.0.0.1:{port}"), Arc::new(|_, _| (200, vec![]))).await;
    let restarted = second.is_none().then(|| Server::start(&url));

    // Every event, at least once (a killed worker's claim returns when its lease ends).
    let got = receiver.wait_for(20, Duration::from_secs(120)).await;
    let mut events: Vec<(String, String)> = delivered(&got)
        .into_iter()
        .map(|(_, event, key)| (key, event))
        .collect();
    events.sort();
    events.dedup();
    assert_eq!(events.len(), 20, "10 keys × 2 events: {events:?}");
    let expected: std::collections::BTreeSet<String> = on_db(&url, |c| {
        use callem::db::schema::webhook_deliveries as d;
        use diesel::prelude::*;
        Ok(d::table.select(d::id).load::<String>(c)?)
    })
    .await
    .into_iter()
    .collect();
    let got_ids: std::collections::BTreeSet<String> =
        delivered(&got).into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(got_ids, expected, "every delivery reached the receiver");
    assert!(
        other.received().is_empty(),
        "none to the unsubscribed webhook"
    );
    drop(restarted);
    second.take();
    receiver.stop().await;
    other.stop().await;
}

crate::with_both_backends!(deliveries_pending_when_the_server_is_killed_are_delivered_after);

/// Two replicas on one PostgreSQL share the deliveries: 100 calls started then ended, each
/// change sent to either replica, make 200 events; they reach one receiver with none delivered
/// twice while both replicas are healthy, and each call's two events in order.
#[actix_web::test]
#[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn two_replicas_deliver_200_events_once_each_in_order() {
    let app = app_delivering(Backend::Postgres, "").await;
    let (_, pid) = app.setup_owner().await;
    let (replica, _) = app
        .replica_configured(|s| {
            s.webhook_allowed = AllowedRanges::parse("127.0.0.0/8").unwrap();
        })
        .await;
    let receiver = Receiver::ok().await;
    let (webhook, _) =
        add_webhook(&app, &pid, &receiver.url, &["call_started", "call_ended"]).await;
    let (_, key) = app.issue_key(&pid, "*", Expiry::Never).await;
    let servers = [app.address.clone(), replica.clone()];

    let changes = (0..100).map(|i| {
        let (key, servers) = (key.clone(), servers.clone());
        async move {
            let send = |to: String, method: &'static str, path: String, body: Value| {
                let key = key.clone();
                async move {
                    crate::helpers::Agent::new(&to)
                        .send(
                            method,
                            &path,
                            &[("authorization", format!("Bearer {key}"))],
                            Some((body.to_string(), "application/json")),
                        )
                        .await
                }
            };
            let id = format!("call-{i}");
            let r = send(
                servers[i % 2].clone(),
                "POST",
                "/v1/calls".to_owned(),
                serde_json::json!({"id": id, "status": "live", "duration": 0}),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.body);
            let r = send(
                servers[(i + 1) % 2].clone(),
                "PATCH",
                format!("/v1/calls/{id}"),
                serde_json::json!({"status": "completed", "duration": 30}),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    });
    futures_util::future::join_all(changes).await;

    receiver.wait_for(200, Duration::from_secs(60)).await;
    let all = settled(&app, &webhook, WAIT).await;
    assert_eq!(all.len(), 200);
    assert!(all
        .iter()
        .all(|d| d.state == "delivered" && d.attempts == 1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.received();
    let ids: std::collections::BTreeSet<&str> =
        got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!((ids.len(), got.len()), (200, 200), "no delivery sent twice");
    let mut seen = std::collections::HashMap::<String, Vec<String>>::new();
    for r in &got {
        let id = r.json()["call"]["id"].as_str().unwrap().to_owned();
        seen.entry(id)
            .or_default()
            .push(r.header("x-callem-event").to_owned());
    }
    assert_eq!(seen.len(), 100);
    for (call, events) in seen {
        assert_eq!(events, ["call_started", "call_ended"], "{call}");
    }
}

/// The verification examples of docs/webhooks.md, run as written against a real delivery.
fn doc_examples(lang: &str) -> Vec<String> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/webhooks.md")).unwrap();
    let fence = format!("```{lang}\n");
    doc.split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_owned())
        .collect()
}

fn run_script(program: &str, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[actix_web::test]
#[cfg_attr(
    not(callem_webhook_verifier_tests),
    ignore = "standardwebhooks is not installed in target/ci-venv"
)]
async fn the_verification_examples_in_the_docs_accept_a_real_delivery_and_refuse_a_forged_one() {
    let app = app_delivering(Backend::Sqlite, "").await;
    let (_, pid) = app.setup_owner().await;
    let receiver = Receiver::ok().await;
    let (_, secret) = add_webhook(&app, &pid, &receiver.url, &["api_key_revoked"]).await;
    let (kid, _) = app.issue_key(&pid, "*", Expiry::Never).await;
    revoke_key(&app, &pid, &kid).await;
    let r = receiver.wait_for(1, WAIT).await.remove(0);
    let headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), Value::String(v.clone())))
        .collect();
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/target/ci-venv/bin/python");
    let [own, standard] = &doc_examples("python")[..] else {
        panic!("two Python examples in docs/webhooks.md");
    };
    let [node] = &doc_examples("js")[..] else {
        panic!("one Node.js example in docs/webhooks.md");
    };
    for (body, expected) in [(r.body.clone(), "True"), (format!("{} ", r.body), "False")] {
        let input =
            serde_json::json!({"secret": secret.to_whsec(), "headers": headers, "body": body});
        let own_py = format!(
            "{own}\nimport json, sys\nd = json.load(sys.stdin)\n\
             print(verify_callem(d['secret'], d['headers'], d['body'].encode()))\n"
        );
        assert_eq!(
            run_script(python, &["-c", &own_py], &input.to_string()),
            expected
        );
        let standard_py = format!(
            "import json, sys\nd = json.load(sys.stdin)\nsecret, headers, body = d['secret'], d['headers'], d['body']\n\
             try:\n{}\n    print(True)\nexcept Exception:\n    print(False)\n",
            standard
                .lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert_eq!(
            run_script(python, &["-c", &standard_py], &input.to_string()),
            expected
        );
        let js = format!(
            "{node}\nlet s = '';\nprocess.stdin.on('data', (c) => (s += c));\n\
             process.stdin.on('end', () => {{ const d = JSON.parse(s);\n\
             console.log(verifyCallem(d.secret, d.headers, Buffer.from(d.body)) ? 'True' : 'False'); }});\n"
        );
        assert_eq!(
            run_script("node", &["-e", &js], &input.to_string()),
            expected
        );
    }
}

/// An HTTPS receiver (Python's `ssl`) with a self-signed certificate for 127.0.0.1; it appends
/// a line to `posts` for each POST it gets.
struct HttpsReceiver {
    child: std::process::Child,
    port: u16,
    cert: std::path::PathBuf,
    posts: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl HttpsReceiver {
    async fn start() -> HttpsReceiver {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-new",
                "-x509",
                "-days",
                "1",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
            ])
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("the openssl command");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let posts = dir.path().join("posts");
        let script = format!(
            "import http.server, ssl\n\
             class H(http.server.BaseHTTPRequestHandler):\n\
             \x20   def do_POST(self):\n\
             \x20       self.rfile.read(int(self.headers['content-length']))\n\
             \x20       open({posts:?}, 'a').write('post\\n')\n\
             \x20       self.send_response(200); self.end_headers()\n\
             s = http.server.HTTPServer(('127.0.0.1', {port}), H)\n\
             c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain({cert:?}, {key:?})\n\
             s.socket = c.wrap_socket(s.socket, server_side=True)\n\
             s.serve_forever()\n",
            posts = posts.display().to_string(),
            cert = cert.display().to_string(),
            key = key.display().to_string(),
        );
        let child = std::process::Command::new("python3")
            .args(["-c", &script])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        HttpsReceiver {
            child,
            port,
            cert,
            posts,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/hook", self.port)
    }

    fn posts(&self) -> usize {
        std::fs::read_to_string(&self.posts).map_or(0, |s| s.lines().count())
    }
}

impl Drop for HttpsReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A receiver whose certificate no authority signed: the TLS handshake fails (the certificate
/// is verified), so nothing is posted to it, and the attempt says why.
async fn a_receiver_with_an_untrusted_certificate_gets_nothing(backend: Backend) {
    let receiver = HttpsReceiver::start().await;
    let app = app_delivering(backend, "100ms").await;
    let (_, pid) = app.setup_owner().await;
    let (webhook, _) = add_webhook(&app, &pid, &receiver.url(), &["api_key_revoked"]).await;
    let (kid, _) = app.issue_key(&pid, "*", Expiry::Never).await;

    revoke_key(&app, &pid, &kid).await;

    let all = settled(&app, &webhook, WAIT).await;
    assert_eq!((all[0].state.as_str(), all[0].attempts), ("failed", 2));
    let error = all[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("TLS handshake"), "{error}");
    assert_eq!(
        receiver.posts(),
        0,
        "nothing was posted over the untrusted connection"
    );
}

crate::with_both_backends!(a_receiver_with_an_untrusted_certificate_gets_nothing);

/// The same receiver, its certificate trusted (`SSL_CERT_FILE`, as OpenSSL reads it): the
/// delivery goes through over HTTPS.
#[actix_web::test]
async fn a_receiver_with_a_trusted_certificate_gets_its_delivery_over_https() {
    let receiver = HttpsReceiver::start().await;
    let db = crate::helpers::TestDb::create(Backend::Sqlite);
    let url = db.url().to_owned();
    crate::helpers::migrate(&url).await;
    let server = Server::start_with(&url, &[("SSL_CERT_FILE", receiver.cert.to_str().unwrap())]);
    let (pid, keys) = project_with_keys(&url, 1).await;
    webhook_without_server(&url, &pid, &receiver.url(), &["api_key_revoked"]).await;

    report_leaks(&server.url, &keys).await;

    let started = Instant::now();
    while receiver.posts() == 0 {
        assert!(started.elapsed() < WAIT, "nothing arrived over HTTPS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// Call events: calls arriving over HTTP.

async fn one_calls_events_reach_the_receiver_in_order_with_the_hosted_body(backend: Backend) {
    use crate::calls_write::{patch_call, post_call};
    let app = app_delivering(backend, "").await;
    let (_, pid) = app.setup_owner().await;
    let receiver = Receiver::ok().await;
    let (webhook, secret) = add_webhook(
        &app,
        &pid,
        &receiver.url,
        &["call_started", "call_ended", "call_analyzed"],
    )
    .await;
    let (_, key) = app.issue_key(&pid, "*", Expiry::Never).await;

    let created = post_call(
        &app,
        &key,
        &serde_json::json!({"id": "call-1", "status": "live", "duration": 0, "callerNumber": "+33612345678"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let ended = patch_call(
        &app,
        &key,
        "call-1",
        &serde_json::json!({
            "status": "completed",
            "duration": 42,
            "summary": "Booked a table.",
            "callAnalysis": {"booked": true},
            "transcript": [{"role": "user", "content": "A table for two."}],
        }),
    )
    .await;
    assert_eq!(ended.status, 200, "{}", ended.body);

    let got = receiver.wait_for(3, WAIT).await;
    settled(&app, &webhook, WAIT).await;
    let events: Vec<&str> = got.iter().map(|r| r.header("x-callem-event")).collect();
    assert_eq!(events, ["call_started", "call_ended", "call_analyzed"]);
    for r in &got {
        verify_signatures(r, &secret.to_whsec());
        #[cfg(callem_webhook_verifier_tests)]
        verify_with_standardwebhooks(r, &secret.to_whsec());
        let body = r.json();
        assert_eq!(body["event"], r.header("x-callem-event"));
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["call", "event", "timestamp"], "the hosted envelope");
    }
    // `call` is the API's call object as it was when the event happened.
    assert_eq!(got[0].json()["call"], created.json());
    assert_eq!(got[1].json()["call"], ended.json());
    assert_eq!(got[2].json()["call"], ended.json());
    assert_eq!(
        app.api("GET", "/v1/calls/call-1", &key).await.json(),
        ended.json()
    );
}

async fn a_change_that_rolls_back_sends_nothing(backend: Backend) {
    use crate::calls_write::{patch_call, post_call};
    let app = app_delivering(backend, "").await;
    let (_, pid) = app.setup_owner().await;
    let receiver = Receiver::ok().await;
    let (webhook, _) = add_webhook(
        &app,
        &pid,
        &receiver.url,
        &["call_started", "call_ended", "call_analyzed"],
    )
    .await;
    let (_, key) = app.issue_key(&pid, "*", Expiry::Never).await;
    let created = post_call(
        &app,
        &key,
        &serde_json::json!({"id": "c2", "status": "completed", "duration": 1}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    receiver.wait_for(1, WAIT).await;

    // Refused inside the transaction (a completed call never goes back to live): had it
    // committed, the analysis would have been a `call_analyzed`.
    let refused = patch_call(
        &app,
        &key,
        "c2",
        &serde_json::json!({"status": "live", "callAnalysis": {"x": 1}}),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    // Refused before it (a bad field).
    let bad = patch_call(
        &app,
        &key,
        "c2",
        &serde_json::json!({"duration": -1, "callAnalysis": {"x": 1}}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    tokio::time::sleep(Duration::from_millis(1200)).await;

    assert_eq!(
        deliveries(&app, &webhook).await.len(),
        1,
        "only the creation's call_ended"
    );
    let events: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("x-callem-event").to_owned())
        .collect();
    assert_eq!(events, ["call_ended"]);
    let events_written = app
        .db(|c| {
            use callem::db::schema::webhook_events as e;
            use diesel::prelude::*;
            Ok(e::table.count().get_result::<i64>(c)?)
        })
        .await;
    assert_eq!(events_written, 1);
}

async fn an_import_fires_webhooks_only_when_asked(backend: Backend) {
    let app = app_delivering(backend, "").await;
    let (_, pid) = app.setup_owner().await;
    let receiver = Receiver::ok().await;
    add_webhook(&app, &pid, &receiver.url, &["call_ended", "call_analyzed"]).await;
    let url = app.db.url().to_owned();
    let line = |id: &str| {
        format!(
            r#"{{"id":"{id}","status":"completed","duration":3,"callAnalysis":{{"ok":true}},"createdAt":"2025-12-15T14:30:00.000Z"}}"#
        )
    };
    let backfill = format!("{}\n{}\n", line("old-1"), line("old-2"));
    let (code, _, err) = crate::helpers::run_callem(
        &url,
        &["import", "calls", "--project", &pid, "-"],
        Some(&backfill),
    );
    assert_eq!(code, 0, "{err}");
    let fresh = format!("{}\n", line("new-1"));
    let (code, _, err) = crate::helpers::run_callem(
        &url,
        &["import", "calls", "--webhooks", "--project", &pid, "-"],
        Some(&fresh),
    );
    assert_eq!(code, 0, "{err}");

    let got = receiver.wait_for(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got_now = receiver.received();
    assert_eq!(got_now.len(), got.len());
    let seen: Vec<(String, String)> = got_now
        .iter()
        .map(|r| {
            (
                r.header("x-callem-event").to_owned(),
                r.json()["call"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("call_ended".to_owned(), "new-1".to_owned()),
            ("call_analyzed".to_owned(), "new-1".to_owned())
        ],
        "the backfill fired nothing"
    );
}

crate::with_both_backends!(
    one_calls_events_reach_the_receiver_in_order_with_the_hosted_body,
    a_change_that_rolls_back_sends_nothing,
    an_import_fires_webhooks_only_when_asked,
);

/// A receiver that stalls (each answer takes 10 s) holds up nobody else: another webhook's
/// events arrive at once meanwhile.
async fn a_stalled_receiver_does_not_hold_up_other_webhooks(backend: Backend) {
    let app = app_delivering(backend, "").await;
    let (_, pid) = app.setup_owner().await;
    let stalled = Receiver::slow(
        "127.0.0.1:0",
        Duration::from_secs(10),
        Arc::new(|_, _| (200, vec![])),
    )
    .await;
    let healthy = Receiver::ok().await;
    add_webhook(&app, &pid, &stalled.url, &["api_key_revoked"]).await;
    add_webhook(&app, &pid, &healthy.url, &["api_key_revoked"]).await;
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(app.issue_key(&pid, "*", Expiry::Never).await.0);
    }

    let started = Instant::now();
    for kid in &keys {
        revoke_key(&app, &pid, kid).await;
    }

    healthy.wait_for(5, WAIT).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the healthy receiver waited {:?} for the stalled one",
        started.elapsed()
    );
}

crate::with_both_backends!(a_stalled_receiver_does_not_hold_up_other_webhooks);

/// Every attempt failed for 5 days: the next failure disables the webhook, as the server, and
/// its pending deliveries are kept as failed.
async fn five_days_of_failures_disable_the_webhook(backend: Backend) {
    let app = app_delivering(backend, "1h").await;
    let (owner, pid) = app.setup_owner().await;
    let receiver = Receiver::answering(|_, _| (500, vec![])).await;
    let (webhook, _) = add_webhook(&app, &pid, &receiver.url, &["api_key_revoked"]).await;
    let (first, _) = app.issue_key(&pid, "*", Expiry::Never).await;
    let (second, _) = app.issue_key(&pid, "*", Expiry::Never).await;
    revoke_key(&app, &pid, &first).await;
    receiver.wait_for(1, WAIT).await;
    // Failing for a while, not yet 5 days: still enabled, the delivery waits for its retry.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let row = webhook_row(&app, &webhook).await;
    assert!(row.enabled && row.failing_since.is_some(), "{row:?}");
    let id = webhook.id.clone();
    app.db(move |c| {
        use callem::db::schema::webhooks as w;
        use diesel::prelude::*;
        let since = callem::time::now() - chrono::Duration::days(5) - chrono::Duration::minutes(1);
        Ok(diesel::update(w::table.find(&id))
            .set(w::failing_since.eq(since))
            .execute(c)?)
    })
    .await;

    revoke_key(&app, &pid, &second).await;
    receiver.wait_for(2, WAIT).await;
    let started = Instant::now();
    while webhook_row(&app, &webhook).await.enabled {
        assert!(
            started.elapsed() < WAIT,
            "still enabled after 5 days of failures"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let row = webhook_row(&app, &webhook).await;
    assert_eq!(row.disabled_reason.as_deref(), Some("failing"));
    let all = deliveries(&app, &webhook).await;
    assert!(
        all.iter().all(|d| d.state == "failed"),
        "pending ones kept as failed: {all:#?}"
    );
    let log = owner
        .get(&format!("/projects/{pid}/settings/audit-log?kind=webhooks"))
        .await;
    assert!(log.body.contains("Callem (automatic)"), "{}", log.body);
    assert!(log.body.contains("disabled the webhook"));
}

crate::with_both_backends!(five_days_of_failures_disable_the_webhook);

/// After a roll, both secrets sign for 24 hours: each signature header holds two values, one
/// verifying with the old secret and one with the new; after the 24 hours, only the new.
async fn after_a_roll_both_secrets_sign_for_24_hours(backend: Backend) {
    let app = app_delivering(backend, "").await;
    let (_, pid) = app.setup_owner().await;
    let receiver = Receiver::ok().await;
    let (webhook, old) = add_webhook(&app, &pid, &receiver.url, &["api_key_revoked"]).await;
    let sealer = sealer(&app).await;
    let (p, id, s) = (
        webhook.project_id.clone(),
        webhook.id.clone(),
        sealer.clone(),
    );
    app.db(move |c| {
        db::webhooks::roll(c, &p, &id, &s, &Actor::command_line(), callem::time::now())
    })
    .await
    .expect("rolled");
    let new = sealer
        .open(&webhook_row(&app, &webhook).await.secret_sealed)
        .unwrap();
    assert_ne!(new, old);
    let (first, _) = app.issue_key(&pid, "*", Expiry::Never).await;
    revoke_key(&app, &pid, &first).await;

    let r = receiver.wait_for(1, WAIT).await.remove(0);
    assert_eq!(r.header("x-callem-signature").split(' ').count(), 2);
    assert_eq!(r.header("webhook-signature").split(' ').count(), 2);
    verify_signatures(&r, &new.to_whsec());
    verify_signatures(&r, &old.to_whsec());
    #[cfg(callem_webhook_verifier_tests)]
    {
        verify_with_standardwebhooks(&r, &new.to_whsec());
        verify_with_standardwebhooks(&r, &old.to_whsec());
    }

    // The 24 hours are over: the old secret no longer signs.
    let id = webhook.id.clone();
    app.db(move |c| {
        use callem::db::schema::webhooks as w;
        use diesel::prelude::*;
        let ended = callem::time::now() - chrono::Duration::seconds(1);
        Ok(diesel::update(w::table.find(&id))
            .set(w::previous_secret_until.eq(ended))
            .execute(c)?)
    })
    .await;
    let (second, _) = app.issue_key(&pid, "*", Expiry::Never).await;
    revoke_key(&app, &pid, &second).await;
    let r = receiver.wait_for(2, WAIT).await.remove(1);
    assert_eq!(r.header("x-callem-signature").split(' ').count(), 1);
    verify_signatures(&r, &new.to_whsec());
}

crate::with_both_backends!(after_a_roll_both_secrets_sign_for_24_hours);

/// **Send test event** on the webhook's page reaches the receiver at once, signed; a Resend
/// while the webhook is disabled waits until it is enabled, and goes with the same webhook-id.
async fn the_test_button_and_resend_reach_the_receiver(backend: Backend) {
    let app = app_delivering(backend, "").await;
    let (owner, pid) = app.setup_owner().await;
    let receiver = Receiver::ok().await;
    let (webhook, secret) = add_webhook(&app, &pid, &receiver.url, &["api_key_revoked"]).await;
    let page = format!("/projects/{pid}/settings/webhooks/{}", webhook.id);
    owner.get(&page).await;

    let r = owner.post_htmx(&format!("{page}/test"), &[]).await;
    assert!(r.status < 400, "{}", r.body);
    let got = receiver.wait_for(1, Duration::from_secs(3)).await;
    assert_eq!(got[0].header("x-callem-event"), "test");
    assert_eq!(got[0].json()["webhook"]["id"], webhook.id.as_str());
    verify_signatures(&got[0], &secret.to_whsec());

    let (kid, _) = app.issue_key(&pid, "*", Expiry::Never).await;
    revoke_key(&app, &pid, &kid).await;
    receiver.wait_for(2, WAIT).await;
    let delivered = settled(&app, &webhook, WAIT)
        .await
        .into_iter()
        .find(|d| d.kind == "api_key_revoked")
        .unwrap();
    let r = owner.post_htmx(&format!("{page}/disable"), &[]).await;
    assert!(r.status < 400, "{}", r.body);
    owner
        .post_htmx(&format!("{page}/deliveries/{}/resend", delivered.id), &[])
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        receiver.received().len(),
        2,
        "a resend waits while the webhook is disabled"
    );
    owner.post_htmx(&format!("{page}/enable"), &[]).await;
    let got = receiver.wait_for(3, WAIT).await;
    assert_eq!(
        got[2].header("webhook-id"),
        delivered.id.as_str(),
        "the same webhook-id"
    );
}

crate::with_both_backends!(the_test_button_and_resend_reach_the_receiver);
