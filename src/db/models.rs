//! Rows as read from and written to the tables; never serialised to clients directly.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::*;
use crate::domain::api_key::KeyHash;
use crate::domain::calls::{CallRecord, CallStatus};
use crate::domain::ids::{
    CallId, DeliveryId, EventId, InvitationId, KeyId, KnowledgeId, ProjectId, UserId, WebhookId,
};
use crate::domain::role::Role;
use crate::domain::scope::Scope;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = projects)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = projects)]
pub struct NewProject<'a> {
    pub id: &'a ProjectId,
    pub name: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    /// Sessions carry the epoch they were issued in; sign-out bumps it.
    pub session_epoch: i64,
    /// The name others see (Team, the audit log), when set.
    pub display_name: Option<String>,
    pub last_sign_in_at: Option<NaiveDateTime>,
    /// When the email was shown to be this account's (see [`NewUser::email_verified_at`]).
    pub email_verified_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: &'a UserId,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub created_at: NaiveDateTime,
    /// Set when the operator made the account (setup, the command line) or its maker opened
    /// a link that was only emailed; None when whoever held a link shown on screen did.
    pub email_verified_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
pub struct Membership {
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: NaiveDateTime,
}

/// An invitation to a project; its token is stored only as `token_hash` (SHA-256).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: InvitationId,
    pub project_id: ProjectId,
    /// Normalised as users' emails are (trimmed, lower-cased).
    pub email: String,
    pub role: Role,
    pub token_hash: String,
    pub invited_by: Option<UserId>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    /// Whether the inviter was shown the link (email off, or an existing account); when not,
    /// only the emailed link reached anyone, and accepting it verifies the email.
    pub link_shown: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: KeyId,
    pub project_id: ProjectId,
    pub name: String,
    pub prefix: String,
    pub key_hash: KeyHash,
    pub allowed_ips: String,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub last_used_ip: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: NaiveDateTime,
    pub revoked_by: Option<UserId>,
    pub revoked_at: Option<NaiveDateTime>,
    pub scope: Scope,
    /// The key that replaced this one when it was rolled.
    pub replaced_by: Option<KeyId>,
    pub rolled_at: Option<NaiveDateTime>,
    /// Requests of this key the usage tables held for the roll's hour when it was rolled.
    pub roll_baseline: i64,
    pub leak_reported_at: Option<NaiveDateTime>,
}

impl ApiKey {
    /// Its status at `now`.
    pub fn status(&self, now: NaiveDateTime) -> crate::domain::key_status::KeyStatus {
        crate::domain::key_status::KeyStatus::of(
            self.expires_at,
            self.revoked_at,
            self.replaced_by.is_some(),
            now,
        )
    }
}

/// The columns authentication needs, and no more (read on every API request).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct KeyCheck {
    pub id: KeyId,
    pub project_id: ProjectId,
    pub allowed_ips: String,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub scope: Scope,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub id: &'a KeyId,
    pub project_id: &'a ProjectId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a KeyHash,
    pub allowed_ips: &'a str,
    pub expires_at: Option<NaiveDateTime>,
    pub created_by: Option<&'a UserId>,
    pub created_at: NaiveDateTime,
    pub scope: Scope,
}

/// A recorded event, a link of its project's hash chain (see [`crate::domain::audit_chain`]).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: EventId,
    pub project_id: ProjectId,
    /// The event's place in its project's chain: 1, 2, …
    pub seq: i64,
    pub created_at: NaiveDateTime,
    /// `user`, `api_key`, `command_line` or `leak_report`.
    pub actor_kind: String,
    pub actor_user_id: Option<UserId>,
    pub actor_key_id: Option<KeyId>,
    /// Who did it, as it read at the time: an email, `API key NAME (ck_live_ab12…)`,
    /// `Command line` or `a leak report`.
    pub actor_label: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// What it was done to, as it read at the time: a key's or an item's name, an email.
    pub target_label: String,
    pub ip: Option<String>,
    /// What the change changed, as JSON: `{"field": ["before", "after"], …}`.
    pub detail: Option<String>,
    /// The previous event's hash (64 zeros for a project's first event).
    pub prev_hash: String,
    /// SHA-256 of `prev_hash` and the event's canonical bytes, hex.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = calls)]
pub struct Call {
    pub id: CallId,
    pub project_id: ProjectId,
    pub status: CallStatus,
    pub duration: f64,
    pub summary: Option<String>,
    pub evaluation: Option<String>,
    pub ended_reason: Option<String>,
    pub caller_number: Option<String>,
    pub called_number: Option<String>,
    pub is_engaged: bool,
    pub call_analysis: String,
    pub transcript: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Call {
    /// The row a valid call becomes in a project, as the import and `POST /v1/calls` both
    /// store it: a new id when it has none, `createdAt` now when absent, and `updatedAt` its
    /// `createdAt` when absent.
    pub fn from_record(record: CallRecord, project_id: &ProjectId, now: NaiveDateTime) -> Call {
        let created_at = record.created_at.unwrap_or(now);
        Call {
            id: record.id.unwrap_or_else(CallId::generate),
            project_id: project_id.clone(),
            status: record.status,
            duration: record.duration,
            summary: record.summary,
            evaluation: record.evaluation,
            ended_reason: record.ended_reason,
            caller_number: record.caller_number,
            called_number: record.called_number,
            is_engaged: record.is_engaged,
            call_analysis: record.call_analysis,
            transcript: record.transcript,
            created_at,
            updated_at: record.updated_at.unwrap_or(created_at),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = knowledge_items)]
pub struct KnowledgeItem {
    pub id: KnowledgeId,
    pub project_id: ProjectId,
    pub name: String,
    pub description: Option<String>,
    pub text: String,
    pub created_at: NaiveDateTime,
}

/// A webhook, its secrets still sealed.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = webhooks)]
pub struct Webhook {
    pub id: WebhookId,
    pub project_id: ProjectId,
    pub url: String,
    pub description: String,
    /// The subscribed events, comma-separated (`domain::webhook::EventKinds`).
    pub events: String,
    pub secret_sealed: String,
    /// The secret before the last roll, signing too until `previous_secret_until`.
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
    pub enabled: bool,
    /// `gone`, `failing` or `user` (`domain::webhook::DisabledReason`).
    pub disabled_reason: Option<String>,
    /// Who disabled it, as it read at the time.
    pub disabled_by: Option<String>,
    pub disabled_at: Option<NaiveDateTime>,
    /// The first failed attempt with no success since.
    pub failing_since: Option<NaiveDateTime>,
    pub created_by: Option<UserId>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An event in the outbox: its body as sent.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = webhook_events)]
pub struct WebhookEvent {
    pub id: String,
    pub project_id: ProjectId,
    pub kind: String,
    /// The call or key it is about (or the webhook, for a test event).
    pub subject: String,
    /// Its place among its subject's events: 1, 2, …
    pub seq: i64,
    pub payload: String,
    pub created_at: NaiveDateTime,
}

/// One event's delivery to one webhook.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    /// `msg_…`: the `webhook-id` of every attempt.
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_id: String,
    pub project_id: ProjectId,
    pub kind: String,
    pub subject: String,
    pub seq: i64,
    /// `pending`, `delivered` or `failed` (`domain::webhook::DeliveryState`).
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    /// While a worker holds it (a killed worker's claim returns after this).
    pub lease_until: Option<NaiveDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct Attempt {
    pub id: String,
    pub delivery_id: DeliveryId,
    pub attempted_at: NaiveDateTime,
    pub duration_ms: i64,
    /// The response's status, when one came.
    pub status: Option<i32>,
    /// Why no acceptable response came (a timeout, a refused address, a redirect…).
    pub error: Option<String>,
    /// The response body's first 4 KiB.
    pub response_body: String,
    /// The request's headers, as a JSON array of `[name, value]` (the body is the event's).
    pub request_headers: String,
}
