//! Queries on `api_keys`. Only the prefix and the SHA-256 of a key are ever written.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Change, Event};
use super::models::{ApiKey, Call, KeyCheck, NewApiKey};
use super::schema::api_keys;
use super::{DbConnection, DbError};
use crate::domain::api_key::{ApiKeyName, ApiKeySecret, KeyHash};
use crate::domain::expiry::Expiry;
use crate::domain::ids::{CallId, KeyId, ProjectId, UserId};
use crate::domain::ip_rules::IpRules;

/// What a new key is made of, already parsed.
#[derive(Debug)]
pub struct KeyRequest<'a> {
    pub project_id: &'a ProjectId,
    pub name: &'a ApiKeyName,
    pub rules: &'a IpRules,
    pub expiry: Expiry,
    /// The user creating it (`None` from the command line).
    pub actor_user_id: Option<&'a UserId>,
    pub ip: Option<&'a str>,
}

/// Generates a key and stores its prefix, hash and audit event in one transaction. The full
/// key is returned to the caller and never written anywhere.
pub fn issue(
    conn: &mut DbConnection,
    request: &KeyRequest<'_>,
    now: NaiveDateTime,
) -> Result<(KeyId, ApiKeySecret), DbError> {
    let secret = ApiKeySecret::generate();
    let key_id = KeyId::generate();
    let (prefix, hash) = (secret.prefix(), secret.hash());
    let allowed_ips = request.rules.to_storage();
    let event = Event {
        project_id: request.project_id,
        actor: audit::Actor::user_or_command_line(request.actor_user_id),
        action: "api_key.created",
        target_type: "api_key",
        target_id: key_id.as_str(),
        ip: request.ip,
    };
    audit::audited(conn, &event, now, |conn| {
        diesel::insert_into(api_keys::table)
            .values(NewApiKey {
                id: &key_id,
                project_id: request.project_id,
                name: request.name.as_str(),
                prefix: &prefix,
                key_hash: &hash,
                allowed_ips: &allowed_ips,
                expires_at: request.expiry.expires_at(),
                created_by: request.actor_user_id,
                created_at: now,
            })
            .execute(conn)?;
        Ok(Change::Made(()))
    })?;
    Ok((key_id, secret))
}

/// A project's keys that are not revoked, newest first.
pub fn list_active(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::project_id.eq(project_id))
        .filter(api_keys::revoked_at.is_null())
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .select(ApiKey::as_select())
        .load(conn)
}

/// A project's revoked keys, most recently revoked first.
pub fn list_revoked(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::project_id.eq(project_id))
        .filter(api_keys::revoked_at.is_not_null())
        .order((api_keys::revoked_at.desc(), api_keys::id.desc()))
        .select(ApiKey::as_select())
        .load(conn)
}

/// Requests refused per key of a project since `since` (keys with none are left out).
pub fn refused_since(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    since: NaiveDateTime,
) -> QueryResult<Vec<(KeyId, i64)>> {
    use super::schema::key_usage_hourly as kh;
    let rows: Vec<(KeyId, i64)> = kh::table
        .inner_join(api_keys::table)
        .filter(api_keys::project_id.eq(project_id))
        .filter(kh::hour.ge(since))
        .filter(kh::outcome.ne("allowed"))
        .filter(kh::requests.gt(0))
        .select((kh::key_id, kh::requests))
        .load(conn)?;
    let mut sums: Vec<(KeyId, i64)> = Vec::new();
    for (k, n) in rows {
        match sums.iter_mut().find(|(id, _)| *id == k) {
            Some(s) => s.1 += n,
            None => sums.push((k, n)),
        }
    }
    Ok(sums)
}

/// Whether the project has at least one key that is not revoked.
pub fn any_active(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        api_keys::table
            .filter(api_keys::project_id.eq(project_id))
            .filter(api_keys::revoked_at.is_null()),
    ))
    .get_result(conn)
}

/// One key of a project, revoked or not.
pub fn find_in_project(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    key_id: &KeyId,
) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::project_id.eq(project_id))
        .filter(api_keys::id.eq(key_id))
        .select(ApiKey::as_select())
        .first(conn)
        .optional()
}

/// What authentication needs of the key whose hash this is (through the unique index),
/// revoked or not.
pub fn find_by_hash(conn: &mut DbConnection, key_hash: &KeyHash) -> QueryResult<Option<KeyCheck>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .select(KeyCheck::as_select())
        .first(conn)
        .optional()
}

/// The key with this hash and, in the same round trip, the call `call_id` of the key's own
/// project: the API's hottest path (`GET /v1/calls/{id}`) costs one query.
pub fn find_with_call(
    conn: &mut DbConnection,
    key_hash: &KeyHash,
    call_id: &CallId,
) -> QueryResult<Option<(KeyCheck, Option<Call>)>> {
    use super::schema::calls;
    api_keys::table
        .left_join(
            calls::table.on(calls::project_id
                .eq(api_keys::project_id)
                .and(calls::id.eq(call_id))),
        )
        .filter(api_keys::key_hash.eq(key_hash))
        .select((KeyCheck::as_select(), Option::<Call>::as_select()))
        .first(conn)
        .optional()
}

/// What a revoke did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// Revoked now; carries the key's name.
    Now(String),
    /// It was already revoked: nothing changed.
    Already(String),
    /// No such key in this project.
    NotFound,
}

/// Revokes a key of a project and records the audit event, in one transaction.
pub fn revoke(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    key_id: &KeyId,
    by_user: Option<&UserId>,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> Result<Revoked, DbError> {
    let event = Event {
        project_id,
        actor: audit::Actor::user_or_command_line(by_user),
        action: "api_key.revoked",
        target_type: "api_key",
        target_id: key_id.as_str(),
        ip,
    };
    audit::audited(conn, &event, now, |conn| {
        let Some(key) = find_in_project(conn, project_id, key_id)? else {
            return Ok(Change::Unchanged(Revoked::NotFound));
        };
        if key.revoked_at.is_some() {
            return Ok(Change::Unchanged(Revoked::Already(key.name)));
        }
        diesel::update(
            api_keys::table
                .filter(api_keys::id.eq(key_id))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set((
            api_keys::revoked_at.eq(Some(now)),
            api_keys::revoked_by.eq(by_user),
        ))
        .execute(conn)?;
        Ok(Change::Made(Revoked::Now(key.name)))
    })
}
