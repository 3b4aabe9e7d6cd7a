//! "Forgot your password?", after the answer: finds the account with the email (if any),
//! applies the per-account limit ([`crate::domain::password_reset`]), stores a new one-time
//! link (ending the earlier ones) and emails it. The handler only enqueued the email, so an
//! email with an account and one without are answered alike, in the same time.

use crate::db::{self, password_resets::Requested, Pool};
use crate::domain::account::EmailAddress;
use crate::domain::one_time_token::OneTimeToken;
use crate::email::Mailer;
use crate::time;

/// The job's fixed inputs.
pub struct Job {
    pub pool: Pool,
    pub mailer: Mailer,
    /// Where the link starts: `CALLEM_PUBLIC_URL`, else the bound address.
    pub link_base: String,
}

impl Job {
    /// Handles one request. Nothing is returned: whoever asked was answered already, and
    /// what happened is logged (never the link, nor which email has an account).
    pub async fn run(&self, email: EmailAddress) {
        let token = OneTimeToken::generate();
        let hash = token.hash();
        let (address, stored) = (email.as_str().to_owned(), hash.clone());
        let requested = db::run(&self.pool, move |conn| {
            db::password_resets::request(conn, &address, &stored, time::now())
        })
        .await;
        let to = match requested {
            Ok(Requested::Issued { email }) => email,
            Ok(Requested::NoAccount) => return,
            Ok(Requested::Limited) => {
                tracing::info!("password reset email not sent: the account got one recently");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "password reset email not sent: database error");
                return;
            }
        };
        let link = format!("{}/reset-password/{}", self.link_base, token.expose());
        let body = format!(
            "Someone (hopefully you) asked to reset the password of your Callem Studio account \
             {to}.\n\nOpen this link to set a new one (it works once, within one hour):\n\n\
             {link}\n\nSetting a password signs your account out everywhere. If you did not \
             ask, ignore this email: your password stays as it is.\n"
        );
        if self
            .mailer
            .send(&to, "Reset your Callem Studio password", &body)
            .await
            .is_err()
        {
            // Nobody has this link: it must not count against the account's limit.
            if let Err(e) = db::run(&self.pool, move |conn| {
                Ok(db::password_resets::withdraw(conn, &hash)?)
            })
            .await
            {
                tracing::warn!(error = %e, "an unsent reset link could not be withdrawn");
            }
        }
    }
}
