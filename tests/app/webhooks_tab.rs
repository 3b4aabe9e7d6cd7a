//! Settings → Webhooks: the tab, the Add Webhook and Edit modals (with the hosted refusals),
//! a webhook's page (Reveal, Roll, Send test event, Enable/Disable, Delete), its delivery log
//! (a delivery's attempts, Resend, Recover failed since …), the roles, other projects' ids,
//! and `callem webhooks`. Through HTTP and the real binary, on both backends.

use callem::db::{
    self,
    models::{Attempt, Delivery, Webhook},
    schema::{webhook_attempts, webhook_deliveries, webhooks},
};
use callem::domain::ids::{DeliveryId, ProjectId, WebhookId};
use callem::domain::webhook::REFUSED_URL;
use callem::webhooks::secret::SigningSecret;
use diesel::prelude::*;

use crate::helpers::*;
use crate::webhooks::{add_webhook, sealer};

/// A receiver no resolver answers for (`.invalid`): the delivery job's attempts at it fail,
/// so a delivery stays as a test leaves it (pending, retried 5 s later) or as it set it.
const RECEIVER: &str = "https://receiver.invalid/hooks/callem";

fn tab(pid: &str) -> String {
    format!("/projects/{pid}/settings/webhooks")
}

fn page_of(pid: &str, wid: &str) -> String {
    format!("{}/{wid}", tab(pid))
}

/// A page's text with askama's escapes of `/`, `'`, `"` and `&` undone, to look for URLs in it.
fn text(body: &str) -> String {
    body.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

async fn webhook_row(app: &TestApp, wid: &str) -> Option<Webhook> {
    let wid = wid.to_owned();
    app.db(move |c| {
        Ok(webhooks::table
            .find(wid)
            .select(Webhook::as_select())
            .first(c)
            .optional()?)
    })
    .await
}

async fn all_webhooks(app: &TestApp, pid: &str) -> Vec<Webhook> {
    let pid = project(pid);
    app.db(move |c| Ok(db::webhooks::list(c, &pid)?)).await
}

/// The project's audit actions, newest first, with their target labels and details.
async fn audit(app: &TestApp, pid: &str) -> Vec<(String, String, Option<String>)> {
    let pid = project(pid);
    app.db(move |c| Ok(db::audit::for_project(c, &pid)?))
        .await
        .into_iter()
        .map(|e| (e.action, e.target_label, e.detail))
        .collect()
}

async fn delivery(app: &TestApp, id: &str) -> Delivery {
    let id = id.to_owned();
    app.db(move |c| {
        Ok(webhook_deliveries::table
            .find(id)
            .select(Delivery::as_select())
            .first(c)?)
    })
    .await
}

/// A delivery of a test event to the webhook, then set to `state` with `attempts`, created
/// `age` ago.
async fn fixture_delivery(
    app: &TestApp,
    hook: &Webhook,
    state: &'static str,
    attempts: i32,
    age: chrono::Duration,
) -> String {
    let hook = hook.clone();
    app.db(move |c| {
        let now = callem::time::now();
        let id = db::webhook_outbox::enqueue_test(c, &hook, now)?;
        diesel::update(webhook_deliveries::table.find(&id))
            .set((
                webhook_deliveries::state.eq(state),
                webhook_deliveries::attempts.eq(attempts),
                webhook_deliveries::created_at.eq(now - age),
                webhook_deliveries::last_status.eq(Some(500)),
            ))
            .execute(c)?;
        Ok(id.into_string())
    })
    .await
}

/// The owner, their project, and a webhook added through the form.
async fn owner_with_webhook(app: &TestApp) -> (Agent, String, Webhook) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&tab(&pid)).await;
    let r = owner
        .post_htmx(
            &tab(&pid),
            &[
                ("url", RECEIVER),
                ("description", "CRM sync"),
                ("events", "call_ended"),
                ("events", "call_analyzed"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let hook = all_webhooks(app, &pid).await.pop().expect("the webhook");
    (owner, pid, hook)
}

async fn adding_a_webhook_from_the_form_stores_it_sealed_and_records_it(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let page = owner.get(&tab(&pid)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No webhooks yet"), "{}", page.body);
    assert!(page
        .body
        .contains("Chats and agent scope are not offered: this server has no chats or agents."));
    let modal = owner.get_htmx(&format!("{}/new", tab(&pid))).await;
    assert_eq!(modal.status, 200);
    for event in [
        "call_started",
        "call_ended",
        "call_analyzed",
        "api_key_expiring",
        "api_key_revoked",
        "api_key_leaked",
    ] {
        assert!(
            modal.body.contains(&format!("value=\"{event}\"")),
            "a checkbox for {event}"
        );
    }
    assert!(!modal.body.contains("chat_started"));

    let r = owner
        .post_htmx(
            &tab(&pid),
            &[
                ("url", RECEIVER),
                ("description", "CRM sync"),
                ("events", "call_analyzed"),
                ("events", "call_ended"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let hooks = all_webhooks(&app, &pid).await;
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(hook.url, RECEIVER);
    assert_eq!(hook.description, "CRM sync");
    assert_eq!(hook.events, "call_ended,call_analyzed");
    assert!(hook.enabled);
    assert_eq!(
        r.header("hx-redirect").as_deref(),
        Some(page_of(&pid, hook.id.as_str()).as_str()),
        "to the webhook's page"
    );
    // Stored sealed: it opens with the server's key to a whsec_ secret, and is not it.
    let secret = sealer(&app).await.open(&hook.secret_sealed).expect("opens");
    assert!(secret.to_whsec().starts_with("whsec_"));
    assert!(!hook.secret_sealed.contains(&secret.to_whsec()[6..]));
    let events = audit(&app, &pid).await;
    assert_eq!(events[0].0, "webhook.created");
    assert_eq!(events[0].1, RECEIVER, "named by its URL");

    // The page shows it, its secret masked (not shown on create).
    let page = owner.get(&page_of(&pid, hook.id.as_str())).await;
    assert_eq!(page.status, 200);
    let body = text(&page.body);
    assert!(body.contains(RECEIVER) && body.contains("CRM sync"));
    assert!(body.contains("call_ended") && body.contains("call_analyzed"));
    assert!(body.contains(">Active<"), "{body}");
    assert!(
        !body.contains(&secret.to_whsec()),
        "the secret is not on the page"
    );
    // And the list shows it to the owner.
    let list = text(&owner.get(&tab(&pid)).await.body);
    assert!(list.contains(RECEIVER) && list.contains("Active") && list.contains("None yet"));
}

/// Every form of the spec's list of places a webhook may not point.
const REFUSED: &[&str] = &[
    "http://example.com/hook",
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://api.localhost/hook",
    "https://127.0.0.1/hook",
    "https://10.0.0.5/hook",
    "https://172.16.3.4/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://224.0.0.1/hook",
    "https://0.0.0.0/hook",
    "https://192.0.2.10/hook",
    "https://198.51.100.1/hook",
    "https://203.0.113.1/hook",
    "https://240.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[fc00::1]/hook",
    "https://[fd12:3456::1]/hook",
    "https://[fe80::1]/hook",
    "https://[ff02::1]/hook",
    "https://[2001:db8::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[64:ff9b::a00:1]/hook",
    "https://[2002:a00:1::1]/hook",
    "https://2130706433/hook",
    "https://0x7f.1/hook",
    "https://user:secret@example.com/hook",
    "https://user@example.com/hook",
];

async fn every_refused_address_is_refused_at_creation_and_edit_with_the_hosted_message(
    app: TestApp,
) {
    let (owner, pid, hook) = owner_with_webhook(&app).await;
    let before = audit(&app, &pid).await.len();
    let edit = format!("{}/edit", page_of(&pid, hook.id.as_str()));
    for url in REFUSED {
        for (what, path) in [("create", tab(&pid)), ("edit", edit.clone())] {
            let r = owner
                .post_htmx(&path, &[("url", url), ("events", "call_ended")])
                .await;
            assert_eq!(r.status, 200, "{what} {url}: the modal again");
            assert!(
                r.body.contains(&format!(
                    "id=\"webhook-url-error\" data-testid=\"url-error\">{REFUSED_URL}</p>"
                )),
                "{what} {url}: the hosted message next to the URL field: {}",
                r.body
            );
            assert!(r.header("hx-redirect").is_none());
        }
    }
    let hooks = all_webhooks(&app, &pid).await;
    assert_eq!(hooks.len(), 1, "nothing added");
    assert_eq!(hooks[0].url, RECEIVER, "nothing edited");
    assert_eq!(audit(&app, &pid).await.len(), before, "nothing recorded");
}

async fn no_events_is_refused_next_to_the_events(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&tab(&pid)).await;
    let r = owner
        .post_htmx(&tab(&pid), &[("url", RECEIVER), ("description", "x")])
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains("data-testid=\"events-error\">Choose at least one event.</p>"),
        "{}",
        r.body
    );
    assert!(text(&r.body).contains(RECEIVER), "the URL typed is kept");
    let r = owner
        .post_htmx(&tab(&pid), &[("url", ""), ("events", "call_ended")])
        .await;
    assert!(r.body.contains("URL is required."));
    assert!(all_webhooks(&app, &pid).await.is_empty());
}

async fn editing_saves_and_records_each_change_before_and_after(app: TestApp) {
    let (owner, pid, hook) = owner_with_webhook(&app).await;
    let page = page_of(&pid, hook.id.as_str());
    let modal = owner.get_htmx(&format!("{page}/edit")).await;
    assert_eq!(modal.status, 200);
    assert!(text(&modal.body).contains(RECEIVER));
    assert!(modal.body.contains("value=\"call_ended\" checked"));
    let r = owner
        .post_htmx(
            &format!("{page}/edit"),
            &[
                ("url", "https://crm.example.com/in"),
                ("description", "CRM sync"),
                ("events", "api_key_revoked"),
            ],
        )
        .await;
    assert_eq!(r.header("hx-redirect").as_deref(), Some(page.as_str()));
    let row = webhook_row(&app, hook.id.as_str()).await.unwrap();
    assert_eq!(row.url, "https://crm.example.com/in");
    assert_eq!(row.events, "api_key_revoked");
    let events = audit(&app, &pid).await;
    assert_eq!(events[0].0, "webhook.updated");
    let detail: serde_json::Value = serde_json::from_str(events[0].2.as_deref().unwrap()).unwrap();
    assert_eq!(
        detail,
        serde_json::json!({
            "url": [RECEIVER, "https://crm.example.com/in"],
            "events": ["call_ended,call_analyzed", "api_key_revoked"],
        }),
        "each changed field, before and after; the description did not change"
    );
}

async fn reveal_shows_the_secret_uncached_and_records_it(app: TestApp) {
    let (owner, pid, hook) = owner_with_webhook(&app).await;
    let r = owner
        .post_htmx(&format!("{}/reveal", page_of(&pid, hook.id.as_str())), &[])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let whsec = regex_lite::Regex::new(r"whsec_[A-Za-z0-9+/=]+")
        .unwrap()
        .find(&text(&r.body))
        .expect("a whsec_ secret")
        .as_str()
        .to_owned();
    assert!(
        r.body.contains("data-copy=\"webhook-secret-value\""),
        "a copy button"
    );
    let stored = sealer(&app).await.open(&hook.secret_sealed).unwrap();
    assert_eq!(
        SigningSecret::from_whsec(&whsec),
        Some(stored),
        "it is the one that signs"
    );
    let events = audit(&app, &pid).await;
    assert_eq!(events[0].0, "webhook.secret_revealed");
    assert_eq!(events[0].1, RECEIVER);
}

async fn roll_keeps_the_previous_secret_for_24_hours(app: TestApp) {
    let (owner, pid, hook) = owner_with_webhook(&app).await;
    let page = page_of(&pid, hook.id.as_str());
    let modal = owner.get_htmx(&format!("{page}/roll")).await;
    assert!(
        modal.body.contains("24 hours both secrets sign"),
        "{}",
        modal.body
    );
    let r = owner.post_htmx(&format!("{page}/roll"), &[]).await;
    assert_eq!(r.header("hx-redirect").as_deref(), Some(page.as_str()));
    let row = webhook_row(&app, hook.id.as_str()).await.unwrap();
    let s = sealer(&app).await;
    assert_ne!(
        s.open(&row.secret_sealed).unwrap(),
        s.open(&hook.secret_sealed).unwrap(),
        "a new secret"
    );
    assert_eq!(
        row.previous_secret_sealed.as_deref(),
        Some(hook.secret_sealed.as_str()),
        "the old one kept"
    );
    let until = row.previous_secret_until.expect("until when");
    let expected = callem::time::now() + chrono::Duration::hours(24);
    assert!(
        (until - expected).num_seconds().abs() < 60,
        "{until} is 24 h from now"
    );
    assert_eq!(audit(&app, &pid).await[0].0, "webhook.secret_rolled");
    let body = owner.get(&page).await.body;
    assert!(body.contains("data-testid=\"previous-secret\""), "{body}");
}

async fn disable_and_enable_change_the_status_and_fail_pending_deliveries(app: TestApp) {
    let (owner, pid, hook) = owner_with_webhook(&app).await;
    let page = page_of(&pid, hook.id.as_str());
    let pending = fixture_delivery(&app, &hook, "pending", 0, chrono::Duration::zero()).await;
    let r = owner.post_htmx(&format!("{page}/disable"), &[]).await;
    assert_eq!(r.header("hx-redirect").as_deref(), Some(page.as_str()));
    let body = owner.get(&page).await.body;
    assert!(
        text(&body).contains("Disabled by owner@example.com"),
        "{body}"
    );
    assert!(body.contains("data-testid=\"enable-webhook\""));
    let d = delivery(&app, &pending).await;
    assert_eq!(d.state, "failed");
    assert_eq!(d.last_error.as_deref(), Some("webhook disabled"));
    let row = webhook_row(&app, hook.id.as_str()).await.unwrap();
    assert!(!row.enabled);
    assert_eq!(row.disabled_reason.as_deref(), Some("user"));
    assert!(row.disabled_at.is_some());
    assert_eq!(audit(&app, &pid).await[0].0, "webhook.disabled");

    owner.post_htmx(&format!("{page}/enable"), &[]).await;
    let row = webhook_row(&app, hook.id.as_str()).await.unwrap();
    assert!(row.enabled);
    assert!(row.disabled_reason.is_none() && row.disabled_by.is_none());
    assert!(row.disabled_at.is_none() && row.failing_since.is_none());
    assert_eq!(audit(&app, &pid).await[0].0, "webhook.enabled");
    assert!(owner.get(&page).await.body.contains(">Active<"));

    // The job's reasons read as the spec writes them, on the page and in the list.
    for (reason, label) in [
        ("gone", "Disabled — 410 from the receiver"),
        ("failing", "Disabled after 5 days of failures"),
    ] {
        let id = hook.id.clone();
        app.db(move |c| {
            diesel::update(webhooks::table.find(&id))
                .set((
                    webhooks::enabled.eq(false),
                    webhooks::disabled_reason.eq(Some(reason)),
                ))
                .execute(c)?;
            Ok(())
        })
        .await;
        assert!(owner.get(&page).await.body.contains(label), "{label}");
        assert!(owner.get(&tab(&pid)).await.body.contains(label), "{label}");
    }
}

async fn delete_asks_then_removes_the_webhook_and_records_it(app: TestApp) {
    let (owner, pid, hook) = owner_with_webhook(&app).await;
    let page = page_of(&pid, hook.id.as_str());
    fixture_delivery(&app, &hook, "failed", 1, chrono::Duration::zero()).await;
    let confirm = owner.get_htmx(&format!("{page}/delete")).await;
    assert_eq!(confirm.status, 200);
    assert!(text(&confirm.body).contains(RECEIVER) && confirm.body.contains("cannot be undone"));
    let r = owner.post_htmx(&format!("{page}/delete"), &[]).await;
    assert_eq!(r.header("hx-redirect").as_deref(), Some(tab(&pid).as_str()));
    assert!(webhook_row(&app, hook.id.as_str()).await.is_none());
    assert_eq!(
        count_rows(&app, "webhook_deliveries").await,
        0,
        "its log too"
    );
    let events = audit(&app, &pid).await;
    assert_eq!(
        (events[0].0.as_str(), events[0].1.as_str()),
        ("webhook.deleted", RECEIVER)
    );
    assert_eq!(owner.get(&page).await.status, 404);
    assert_eq!(
        owner.post_htmx(&format!("{page}/delete"), &[]).await.status,
        404
    );
}

async fn send_test_event_queues_a_pending_test_delivery_shown_in_the_log(app: TestApp) {
    let (owner, pid, hook) = owner_with_webhook(&app).await;
    let page = page_of(&pid, hook.id.as_str());
    let r = owner.post_htmx(&format!("{page}/test"), &[]).await;
    assert_eq!(r.header("hx-redirect").as_deref(), Some(page.as_str()));
    let id = hook.id.clone();
    let rows: Vec<Delivery> = app
        .db(move |c| {
            Ok(webhook_deliveries::table
                .filter(webhook_deliveries::webhook_id.eq(&id))
                .select(Delivery::as_select())
                .load(c)?)
        })
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].kind, "test");
    assert_eq!(
        rows[0].state, "pending",
        "queued (its first attempt may have failed)"
    );
    assert!(rows[0].id.as_str().starts_with("msg_"));
    let body = owner.get(&page).await.body;
    assert!(body.contains(&format!("data-delivery-id=\"{}\"", rows[0].id)));
    assert!(body.contains("Test event"));
    assert!(
        body.contains(">Pending<") || body.contains(">Retrying — next at"),
        "{body}"
    );
}

async fn the_log_lists_newest_first_filters_failed_and_opens_a_delivery(app: TestApp) {
    let (owner, pid, hook) = owner_with_webhook(&app).await;
    let page = page_of(&pid, hook.id.as_str());
    let old = fixture_delivery(&app, &hook, "failed", 4, chrono::Duration::hours(5)).await;
    let ok = fixture_delivery(&app, &hook, "delivered", 1, chrono::Duration::hours(2)).await;
    let gone = fixture_delivery(&app, &hook, "failed", 1, chrono::Duration::days(31)).await;
    let body = owner.get(&page).await.body;
    let (i_ok, i_old) = (
        body.find(&format!("data-delivery-id=\"{ok}\""))
            .expect("ok listed"),
        body.find(&format!("data-delivery-id=\"{old}\""))
            .expect("old listed"),
    );
    assert!(i_ok < i_old, "newest first");
    assert!(!body.contains(&gone), "past the 30 days kept");
    assert!(body.contains(">Delivered<") && body.contains(">Failed<"));
    let failed = owner.get(&format!("{page}?failed=1")).await.body;
    assert!(failed.contains(&old) && !failed.contains(&format!("data-delivery-id=\"{ok}\"")));

    // A delivery's page: each attempt's time, status or error, duration, response body, and
    // the request's headers and body.
    let did = DeliveryId::parse(&old).unwrap();
    let attempts = [
        (Some(500), None, "upstream exploded"),
        (None, Some("timed out after 15 s"), ""),
    ];
    for (i, (status, error, body)) in attempts.into_iter().enumerate() {
        let row = Attempt {
            id: format!("att_{i}_{old}"),
            delivery_id: did.clone(),
            attempted_at: callem::time::now() - chrono::Duration::minutes(10 - i as i64),
            duration_ms: 1234,
            status,
            error: error.map(str::to_owned),
            response_body: body.to_owned(),
            request_headers: serde_json::json!([
                ["webhook-id", old.clone()],
                ["x-callem-event", "test"]
            ])
            .to_string(),
        };
        app.db(move |c| {
            diesel::insert_into(webhook_attempts::table)
                .values(&row)
                .execute(c)?;
            Ok(())
        })
        .await;
    }
    let r = owner.get(&format!("{page}/deliveries/{old}")).await;
    assert_eq!(r.status, 200);
    let body = text(&r.body);
    assert!(body.contains("upstream exploded") && body.contains(">500<"));
    assert!(body.contains("timed out after 15 s") && body.contains("1234 ms"));
    assert!(
        body.find("timed out").unwrap() < body.find("upstream exploded").unwrap(),
        "attempts newest first"
    );
    assert!(
        body.contains("<dt>x-callem-event</dt><dd>test</dd>"),
        "{body}"
    );
    assert!(
        body.contains("\"event\": \"test\""),
        "the body pretty-printed"
    );
    assert!(body.contains(&format!("data-testid=\"message-id\">{old}<")));
}

async fn resend_and_recover_put_failed_deliveries_back_in_the_queue(app: TestApp) {
    let (owner, pid, hook) = owner_with_webhook(&app).await;
    let page = page_of(&pid, hook.id.as_str());
    let one = fixture_delivery(&app, &hook, "failed", 4, chrono::Duration::hours(1)).await;
    let r = owner
        .post_htmx(&format!("{page}/deliveries/{one}/resend"), &[])
        .await;
    assert_eq!(
        r.header("hx-redirect").as_deref(),
        Some(format!("{page}/deliveries/{one}").as_str())
    );
    let d = delivery(&app, &one).await;
    assert_eq!(
        d.state, "pending",
        "the same delivery (same webhook-id), queued again"
    );
    // The job is woken by the resend and may hold it already (a lease, an attempt in flight
    // to the unresolvable fixture address): its count started afresh either way.
    assert!(d.attempts <= 1, "its attempts count afresh: {}", d.attempts);

    // Recover: the failed ones since then, not those before, not the delivered ones.
    let recent = [
        fixture_delivery(&app, &hook, "failed", 4, chrono::Duration::hours(3)).await,
        fixture_delivery(&app, &hook, "failed", 4, chrono::Duration::hours(30)).await,
    ];
    let older = fixture_delivery(&app, &hook, "failed", 4, chrono::Duration::days(3)).await;
    let done = fixture_delivery(&app, &hook, "delivered", 1, chrono::Duration::hours(2)).await;
    let since = (callem::time::now() - chrono::Duration::days(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let r = owner
        .post_htmx(&format!("{page}/recover"), &[("since", since.as_str())])
        .await;
    assert_eq!(r.header("hx-redirect").as_deref(), Some(page.as_str()));
    let toast = r.header("x-callem-toast").unwrap_or_default();
    assert!(
        toast.starts_with("2+failed+deliveries"),
        "says how many: {toast}"
    );
    for id in &recent {
        assert_eq!(delivery(&app, id).await.state, "pending");
    }
    assert_eq!(delivery(&app, &older).await.state, "failed");
    assert_eq!(delivery(&app, &done).await.state, "delivered");
}

async fn developers_and_members_read_the_tab_and_get_403_on_every_webhook_post(app: TestApp) {
    let (_owner, pid, hook) = owner_with_webhook(&app).await;
    let wid = hook.id.as_str().to_owned();
    let did = fixture_delivery(&app, &hook, "failed", 4, chrono::Duration::hours(1)).await;
    let posts: Vec<String> = callem::web::routes()
        .filter(|(m, p)| **m == actix_web::http::Method::POST && p.contains("/settings/webhooks"))
        .map(|(_, p)| {
            p.replace("{project_id}", &pid)
                .replace("{webhook_id}", &wid)
                .replace("{delivery_id}", &did)
        })
        .collect();
    assert!(posts.len() >= 10, "{posts:?}");
    let before = app.db(|c| Ok(dump_all_tables(c))).await;
    for (email, role) in [
        ("dev@example.com", "developer"),
        ("member@example.com", "member"),
    ] {
        let user = app.user_with_role(&pid, email, role).await;
        let list = user.get(&tab(&pid)).await;
        assert_eq!(list.status, 200, "{role} sees the tab");
        assert!(text(&list.body).contains(RECEIVER));
        assert!(!list.body.contains("data-testid=\"add-webhook\""), "{role}");
        assert!(list
            .body
            .contains("Only Owners and Admins can add, edit or delete webhooks."));
        let page = user.get(&page_of(&pid, &wid)).await;
        assert_eq!(page.status, 200, "{role} sees the page");
        for button in [
            "send-test",
            "reveal-secret",
            "roll-secret",
            "delete-webhook",
            "recover",
        ] {
            assert!(
                !page.body.contains(&format!("data-testid=\"{button}\"")),
                "{role} has no {button}"
            );
        }
        let d = user
            .get(&format!("{}/deliveries/{did}", page_of(&pid, &wid)))
            .await;
        assert_eq!(d.status, 200);
        assert!(!d.body.contains("data-testid=\"resend\""));
        for modal in [
            "/new".to_owned(),
            format!("/{wid}/edit"),
            format!("/{wid}/roll"),
        ] {
            let r = user.get_htmx(&format!("{}{modal}", tab(&pid))).await;
            assert_eq!(r.status, 403, "{role} GET {modal}");
        }
        for path in &posts {
            let r = user
                .post_htmx(
                    path,
                    &[
                        ("url", RECEIVER),
                        ("events", "call_ended"),
                        ("since", "2020-01-01"),
                    ],
                )
                .await;
            assert_eq!(r.status, 403, "{role} POST {path}");
        }
    }
    let after = app.db(|c| Ok(dump_all_tables(c))).await;
    // The two users were added in between; nothing of the webhooks changed.
    let webhook_lines = |dump: &str| {
        dump.lines()
            .filter(|l| l.contains("webhook") || l.contains(&wid))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(webhook_lines(&before), webhook_lines(&after));
    assert!(
        !audit(&app, &pid)
            .await
            .iter()
            .any(|e| e.0.starts_with("webhook.") && e.0 != "webhook.created"),
        "no webhook action recorded"
    );
}

async fn another_projects_webhook_and_deliveries_are_not_found(app: TestApp) {
    let (owner, pid, mine) = owner_with_webhook(&app).await;
    let other = app.other_project("Theirs").await;
    let (theirs, _) = add_webhook(
        &app,
        &other,
        "https://theirs.example.com/in",
        &["call_ended"],
    )
    .await;
    let their_delivery =
        fixture_delivery(&app, &theirs, "failed", 1, chrono::Duration::hours(1)).await;
    let my_delivery = fixture_delivery(&app, &mine, "failed", 1, chrono::Duration::hours(1)).await;
    let tid = theirs.id.as_str();
    // Their webhook under my project: every page and action is a 404.
    let theirs_here = page_of(&pid, tid);
    for path in [
        theirs_here.clone(),
        format!("{theirs_here}/deliveries/{their_delivery}"),
    ] {
        assert_eq!(owner.get(&path).await.status, 404, "{path}");
    }
    for path in ["/edit", "/roll", "/delete"] {
        assert_eq!(
            owner.get_htmx(&format!("{theirs_here}{path}")).await.status,
            404,
            "{path}"
        );
    }
    for path in [
        "/edit", "/delete", "/enable", "/disable", "/test", "/reveal", "/roll", "/recover",
    ] {
        let r = owner
            .post_htmx(
                &format!("{theirs_here}{path}"),
                &[
                    ("url", RECEIVER),
                    ("events", "call_ended"),
                    ("since", "2020-01-01"),
                ],
            )
            .await;
        assert_eq!(r.status, 404, "POST {path}");
        assert!(!r.body.contains("whsec_"));
    }
    // Their delivery under my webhook, my delivery under their webhook: 404.
    let mine_page = page_of(&pid, mine.id.as_str());
    assert_eq!(
        owner
            .get(&format!("{mine_page}/deliveries/{their_delivery}"))
            .await
            .status,
        404
    );
    let r = owner
        .post_htmx(
            &format!("{mine_page}/deliveries/{their_delivery}/resend"),
            &[],
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(delivery(&app, &their_delivery).await.state, "failed");
    assert_eq!(
        owner
            .get(&format!("{theirs_here}/deliveries/{my_delivery}"))
            .await
            .status,
        404
    );
    // Their webhook is untouched.
    let row = webhook_row(&app, tid).await.unwrap();
    assert!(row.enabled);
    assert_eq!(row.secret_sealed, theirs.secret_sealed);
    let _ = WebhookId::parse(tid).unwrap();
    let _ = ProjectId::parse(&other).unwrap();
}

async fn the_command_line_adds_lists_shows_deliveries_and_deletes(app: TestApp) {
    let url = app.db.url().to_owned();
    let (_owner, pid) = app.setup_owner().await;
    let (code, out, err) = run_callem(
        &url,
        &[
            "webhooks",
            "create",
            "--project",
            &pid,
            "--url",
            RECEIVER,
            "--events",
            "call_ended,call_analyzed",
            "--description",
            "From a script",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "the id, then the secret: {out:?}");
    let (wid, whsec) = (lines[0], lines[1]);
    assert!(whsec.starts_with("whsec_"), "{whsec}");
    let row = webhook_row(&app, wid).await.expect("the webhook");
    assert_eq!(row.events, "call_ended,call_analyzed");
    assert_eq!(row.description, "From a script");
    assert_eq!(
        sealer(&app).await.open(&row.secret_sealed).ok(),
        SigningSecret::from_whsec(whsec),
        "the secret printed is the one stored (the server opens it)"
    );
    let events = audit(&app, &pid).await;
    assert_eq!(events[0].0, "webhook.created");

    let (code, out, err) = run_callem(&url, &["webhooks", "list", "--project", &pid], None);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    let head = lines.next().unwrap();
    assert!(head.starts_with("ID") && head.contains("URL") && head.contains("STATUS"));
    let line = lines.next().expect("one webhook");
    assert!(line.starts_with(wid) && line.contains(RECEIVER) && line.contains("Active"));

    let failed = fixture_delivery(&app, &row, "failed", 4, chrono::Duration::hours(1)).await;
    let ok = fixture_delivery(&app, &row, "delivered", 1, chrono::Duration::hours(2)).await;
    let (code, out, err) = run_callem(
        &url,
        &["webhooks", "deliveries", "--project", &pid, wid],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().next().unwrap().contains("EVENT"));
    assert!(out.contains(&failed) && out.contains(&ok), "{out}");
    assert!(
        out.find(&failed).unwrap() < out.find(&ok).unwrap(),
        "newest first"
    );
    let (_, out, _) = run_callem(
        &url,
        &["webhooks", "deliveries", "--project", &pid, wid, "--failed"],
        None,
    );
    assert!(out.contains(&failed) && !out.contains(&ok) && out.contains("Failed"));

    // Refusals: the dashboard's message on stderr, a non-zero exit, nothing stored.
    for (args, message) in [
        (
            vec!["--url", "http://10.0.0.1/hook", "--events", "call_ended"],
            REFUSED_URL,
        ),
        (
            vec!["--url", RECEIVER, "--events", ""],
            "Choose at least one event.",
        ),
        (
            vec!["--url", RECEIVER, "--events", "chat_ended"],
            "no chats",
        ),
    ] {
        let mut all = vec!["webhooks", "create", "--project", pid.as_str()];
        all.extend(args);
        let (code, out, err) = run_callem(&url, &all, None);
        assert_ne!(code, 0, "{all:?}");
        assert!(err.contains(message), "{all:?}: {err}");
        assert!(out.is_empty());
    }
    assert_eq!(all_webhooks(&app, &pid).await.len(), 1);

    let (code, out, err) = run_callem(&url, &["webhooks", "delete", "--project", &pid, wid], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(wid));
    assert!(webhook_row(&app, wid).await.is_none());
    assert_eq!(audit(&app, &pid).await[0].0, "webhook.deleted");
    let (code, _, err) = run_callem(&url, &["webhooks", "delete", "--project", &pid, wid], None);
    assert_ne!(code, 0);
    assert!(err.contains("no webhook with id"), "{err}");
}

crate::on_both_backends!(
    adding_a_webhook_from_the_form_stores_it_sealed_and_records_it,
    every_refused_address_is_refused_at_creation_and_edit_with_the_hosted_message,
    no_events_is_refused_next_to_the_events,
    editing_saves_and_records_each_change_before_and_after,
    reveal_shows_the_secret_uncached_and_records_it,
    roll_keeps_the_previous_secret_for_24_hours,
    disable_and_enable_change_the_status_and_fail_pending_deliveries,
    delete_asks_then_removes_the_webhook_and_records_it,
    send_test_event_queues_a_pending_test_delivery_shown_in_the_log,
    the_log_lists_newest_first_filters_failed_and_opens_a_delivery,
    resend_and_recover_put_failed_deliveries_back_in_the_queue,
    developers_and_members_read_the_tab_and_get_403_on_every_webhook_post,
    another_projects_webhook_and_deliveries_are_not_found,
    the_command_line_adds_lists_shows_deliveries_and_deletes,
);
