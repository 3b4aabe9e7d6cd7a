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
