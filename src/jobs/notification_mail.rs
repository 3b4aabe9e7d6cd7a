//! The notification emails to a project's Owners and Admins: a key expiring (14, 7, 1 days), a
//! key revoked by a leak report, a webhook disabled. Every replica runs this job when email is
//! set up; each notification is claimed by one of them before its email is sent, so it goes out
//! at most once (a failed send is logged, not retried).

use std::time::Duration;

use serde_json::Value;

use super::periodic::PeriodicJob;
use crate::db::notifications::{self, Notification};
use crate::db::{self, DbError, Pool};
use crate::email::Mailer;
use crate::usage::FLUSH_LIMITS;

/// How often unsent notifications are looked for.
pub const EVERY: Duration = Duration::from_secs(15);
/// Notifications older than this are not emailed (email was off, or the servers were down).
const FRESH_FOR: chrono::Duration = chrono::Duration::days(2);

/// The job's inputs.
pub struct NotificationMail {
    pub pool: Pool,
    pub mailer: Mailer,
    /// Where links start (`CALLEM_PUBLIC_URL`, else the bound address).
    pub link_base: String,
}

impl PeriodicJob for NotificationMail {
    type Error = DbError;

    fn name(&self) -> &'static str {
        "notification_mail"
    }

    fn interval(&self) -> Duration {
        EVERY
    }

    fn first_after(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn run(&mut self) -> Result<(), DbError> {
        let now = crate::time::now();
        let claimed = db::run_background(&self.pool, FLUSH_LIMITS, move |conn| {
            let mine = notifications::claim_unsent(conn, now - FRESH_FOR, now, 50)?;
            let mut out = Vec::with_capacity(mine.len());
            for n in mine {
                let Some(pid) = n.project_id.clone() else {
                    continue;
                };
                let (project, to) = notifications::recipients(conn, &pid)?;
                out.push((n, project, to));
            }
            Ok(out)
        })
        .await?;
        for (n, project, to) in claimed {
            let Some((subject, body)) = self.compose(&n, &project) else {
                continue;
            };
            for address in to {
                // Failures are logged by the mailer; the notification stays claimed.
                let _ = self.mailer.send(&address, &subject, &body).await;
            }
        }
        Ok(())
    }
}

impl NotificationMail {
    /// The subject and plain-text body of a notification's email.
    fn compose(&self, n: &Notification, project: &str) -> Option<(String, String)> {
        let p: Value = serde_json::from_str(&n.payload).ok()?;
        let pid = n.project_id.as_ref()?;
        let s = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
        let base = &self.link_base;
        Some(match n.kind.as_str() {
            "key_expiring" => {
                let days = p["days"].as_i64().unwrap_or_default();
                let when = if days == 1 {
                    "1 day".to_owned()
                } else {
                    format!("{days} days")
                };
                (
                    format!("API key \"{}\" expires in {when}", s("name")),
                    format!(
                        "The API key \"{}\" ({}…) of the project {project} expires in {when}, \
                         on {} (UTC).\n\nRequests with it will be refused from then on. To \
                         keep an integration working, roll the key (a new key, with the old one \
                         still working for a while) or extend it:\n\n{base}/projects/{pid}/settings/api-keys/{}\n",
                        s("name"),
                        s("prefix"),
                        s("expiresAt").replace('T', " ").trim_end_matches('Z'),
                        s("keyId"),
                    ),
                )
            }
            "key_leaked" => (
                format!("API key \"{}\" was revoked after a leak report", s("name")),
                format!(
                    "Someone reported the API key \"{}\" ({}…) of the project {project} as \
                     leaked (found in public code, for instance), and it was revoked at once: \
                     requests with it are refused.\n\nCreate a new key for the integration \
                     that used it:\n\n{base}/projects/{pid}/settings/api-keys/{}\n",
                    s("name"),
                    s("prefix"),
                    s("keyId"),
                ),
            ),
            "webhook_disabled" => {
                let why = match s("reason").as_str() {
                    "gone" => "the receiver answered 410 Gone",
                    _ => "every delivery to it failed for 5 days",
                };
                (
                    format!("Webhook disabled: {}", s("url")),
                    format!(
                        "The webhook {} of the project {project} was disabled: {why}. Its \
                         pending deliveries are kept as failed.\n\nOnce the receiver works \
                         again, enable the webhook and use \"Recover failed since…\" to send \
                         them:\n\n{base}/projects/{pid}/settings/webhooks/{}\n",
                        s("url"),
                        s("webhookId"),
                    ),
                )
            }
            _ => return None,
        })
    }
}
