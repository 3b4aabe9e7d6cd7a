//! Outgoing email, optional: SMTP through `lettre` when `CALLEM_SMTP_URL` and
//! `CALLEM_SMTP_FROM` are set. [`Mailer::send`] takes a recipient, a subject and a plain-text
//! body, and reports failure; the body (which may hold a one-time link) is never logged.
//!
//! TLS is native-tls over the OpenSSL that is already built from source for libpq (see
//! Cargo.toml): no second TLS stack to compile, and nothing linked from the system.

use std::fmt;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::secret::Secret;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://` with credentials (or `?tls=required`): STARTTLS, or no send at all.
    StartTls,
    /// `smtp://host:port` without credentials: STARTTLS when the server offers it, else
    /// plain (a local relay, a test server).
    Opportunistic,
    /// `?tls=none`, without credentials only: plain text.
    None,
}

/// `CALLEM_SMTP_URL` and `CALLEM_SMTP_FROM`, checked. `Debug` hides the password.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    password: Option<Secret>,
    pub from: Mailbox,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl SmtpConfig {
    /// Both variables or neither (`Ok(None)`: email is off); anything else is an error naming
    /// the variable at fault.
    pub fn parse(url: &str, from: &str) -> Result<Option<SmtpConfig>, String> {
        let (url, from) = (url.trim(), from.trim());
        match (url.is_empty(), from.is_empty()) {
            (true, true) => return Ok(None),
            (false, true) => {
                return Err(
                    "CALLEM_SMTP_URL is set but CALLEM_SMTP_FROM is not: set both \
                     (e.g. CALLEM_SMTP_FROM='Callem Studio <callem@example.com>') or neither"
                        .to_owned(),
                )
            }
            (true, false) => {
                return Err(
                    "CALLEM_SMTP_FROM is set but CALLEM_SMTP_URL is not: set both \
                     (e.g. CALLEM_SMTP_URL=smtp://user:password@smtp.example.com:587) or neither"
                        .to_owned(),
                )
            }
            (false, false) => {}
        }
        let bad = |why: &str| {
            format!(
                "CALLEM_SMTP_URL {why}: use smtp://user:password@host:587 (STARTTLS), \
                 smtps://user:password@host:465 (TLS) or smtp://host:port (a local relay)"
            )
        };
        let parsed = url::Url::parse(url).map_err(|_| bad("is not a URL"))?;
        let implicit = match parsed.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(bad(&format!("has the scheme '{other}:'"))),
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("has no host"))?
            .to_owned();
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| bad("has a user or password that is not valid UTF-8"))
        };
        let user = match parsed.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = parsed.password().map(decode).transpose()?.map(Secret::new);
        if password.is_some() && user.is_none() {
            return Err(bad("has a password but no user"));
        }
        let tls = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let security = match (implicit, tls.as_deref(), user.is_some()) {
            (true, None, _) => Security::Implicit,
            (true, Some(_), _) => return Err(bad("uses ?tls= with smtps:// (always TLS)")),
            (false, Some("required"), _) | (false, None, true) => Security::StartTls,
            (false, Some("opportunistic"), false) | (false, None, false) => Security::Opportunistic,
            (false, Some("none"), false) => Security::None,
            (false, Some("opportunistic" | "none"), true) => {
                return Err(bad(
                    "would send the password without TLS (credentials need STARTTLS or smtps://)",
                ))
            }
            (false, Some(other), _) => {
                return Err(bad(&format!(
                    "has tls={other}: use required, opportunistic or none"
                )))
            }
        };
        let port = parsed.port().unwrap_or(if implicit { 465 } else { 587 });
        let from = from.parse::<Mailbox>().map_err(|_| {
            format!(
                "CALLEM_SMTP_FROM='{from}' is not an email address: use callem@example.com or \
                 'Callem Studio <callem@example.com>'"
            )
        })?;
        Ok(Some(SmtpConfig {
            host,
            port,
            security,
            user,
            password,
            from,
        }))
    }
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the recipient '{0}' is not an email address")]
    BadRecipient(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("the SMTP server did not take the message: {0}")]
    Send(String),
}

/// Sends email through the configured SMTP server (a connection per message).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish()
    }
}

/// How long one send may take (connect, TLS, each SMTP reply).
const TIMEOUT: Duration = Duration::from_secs(10);

impl Mailer {
    /// The transport for a checked configuration (nothing is connected yet).
    pub fn new(config: &SmtpConfig) -> Result<Mailer, String> {
        let tls_params = || {
            TlsParameters::new(config.host.clone())
                .map_err(|e| format!("CALLEM_SMTP_URL: TLS for {}: {e}", config.host))
        };
        let tls = match config.security {
            Security::Implicit => Tls::Wrapper(tls_params()?),
            Security::StartTls => Tls::Required(tls_params()?),
            Security::Opportunistic => Tls::Opportunistic(tls_params()?),
            Security::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if let (Some(user), Some(password)) = (&config.user, &config.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from: config.from.clone(),
        })
    }

    /// Sends a plain-text message to one recipient. A failure is logged here (without the
    /// recipient's message) and returned, for the caller to tell the person who asked.
    pub async fn send(&self, to: &str, subject: &str, text_body: &str) -> Result<(), MailError> {
        let result = self.try_send(to, subject, text_body).await;
        match &result {
            Ok(()) => tracing::info!(subject, "email sent"),
            Err(e) => tracing::warn!(error = %e, subject, "email not sent"),
        }
        result
    }

    /// Whether the SMTP server answers (connects, and says hello), as a send would find it.
    pub async fn reachable(&self) -> bool {
        self.transport.test_connection().await.unwrap_or(false)
    }

    async fn try_send(&self, to: &str, subject: &str, text_body: &str) -> Result<(), MailError> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| MailError::BadRecipient(to.to_owned()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(text_body.to_owned())
            .map_err(|e| MailError::Build(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Send(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<SmtpConfig, String> {
        SmtpConfig::parse(url, "Callem <callem@example.com>").map(|c| c.expect("configured"))
    }

    #[test]
    fn both_or_neither_variable_is_set() {
        assert!(SmtpConfig::parse("", " ").unwrap().is_none());
        assert!(SmtpConfig::parse("smtp://h:25", "")
            .unwrap_err()
            .contains("CALLEM_SMTP_FROM"));
        assert!(SmtpConfig::parse("", "a@example.com")
            .unwrap_err()
            .contains("CALLEM_SMTP_URL"));
        assert!(SmtpConfig::parse("smtp://h:25", "not an address")
            .unwrap_err()
            .contains("CALLEM_SMTP_FROM"));
    }

    #[test]
    fn the_url_chooses_tls_and_credentials_never_go_in_clear() {
        let c = parse("smtp://ada:p%40ss@mail.example.com:587").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.security),
            ("mail.example.com", 587, Security::StartTls)
        );
        assert_eq!(c.user.as_deref(), Some("ada"));
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("p@ss"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("p@ss") && !dbg.contains("p%40ss"), "{dbg}");
        assert_eq!(parse("smtps://a:b@h").unwrap().port, 465);
        assert_eq!(parse("smtps://a:b@h").unwrap().security, Security::Implicit);
        assert_eq!(
            parse("smtp://127.0.0.1:2525").unwrap().security,
            Security::Opportunistic
        );
        assert_eq!(
            parse("smtp://h:25?tls=none").unwrap().security,
            Security::None
        );
        assert_eq!(
            parse("smtp://h?tls=required").unwrap().security,
            Security::StartTls
        );
        assert!(parse("smtp://a:b@h:25?tls=none")
            .unwrap_err()
            .contains("without TLS"));
        assert!(parse("http://h").unwrap_err().contains("'http:'"));
        assert!(parse("smtp://h?tls=maybe")
            .unwrap_err()
            .contains("tls=maybe"));
        assert!(parse("smtp://:pw@h").is_err());
    }
}
