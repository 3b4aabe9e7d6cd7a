//! Sending webhooks: the signing secret ([`secret`]), the signature headers ([`signing`]), and
//! the HTTP client that dials only checked addresses ([`client`]). The outbox rows are in
//! `db::webhooks`; the job that delivers them is `jobs::webhook_delivery`.

pub mod client;
pub mod secret;
pub mod signing;

/// `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("Callem-Webhooks/", env!("CARGO_PKG_VERSION"));

/// What webhooks need from the server's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CALLEM_WEBHOOK_ALLOW_CIDRS`.
    pub allowed: crate::domain::webhook::AllowedRanges,
    /// `CALLEM_WEBHOOK_RETRY_SCHEDULE`.
    pub retries: crate::domain::webhook::RetrySchedule,
    /// Seals and opens the signing secrets.
    pub sealer: secret::Sealer,
}
