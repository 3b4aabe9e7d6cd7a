//! Queries on `api_keys`. Only the prefix and the SHA-256 of a key are ever written.

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;

use super::audit::{self, Change, Event};
use super::models::{ApiKey, Call, KeyCheck, NewApiKey};
use super::schema::api_keys;
use super::webhook_outbox::{self, NewEvent};
use super::{DbConnection, DbError};
use crate::domain::action::Action;
use crate::domain::actor::Actor;
use crate::domain::api_key::{ApiKeyName, ApiKeySecret, KeyHash};
use crate::domain::expiry::Expiry;
use crate::domain::ids::{CallId, KeyId, ProjectId};
use crate::domain::ip_rules::IpRules;
use crate::domain::key_change::{
    check_edit, detail_json, Changes, KeySettings, Overlap, RollPlan, EXTENSION,
};
use crate::domain::key_status::KeyStatus;
use crate::domain::scope::Scope;
use crate::domain::webhook::EventKind;

/// What a new key is made of, already parsed.
#[derive(Debug)]
pub struct KeyRequest<'a> {
    pub project_id: &'a ProjectId,
    pub name: &'a ApiKeyName,
    pub rules: &'a IpRules,
    pub expiry: Expiry,
    pub scope: Scope,
    /// Who creates it (its `created_by` when a user).
    pub actor: &'a Actor,
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
    let event = Event::new(
        request.project_id,
        request.actor,
        Action::ApiKeyCreated,
        key_id.as_str(),
    );
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
                created_by: request.actor.user_id(),
                created_at: now,
                scope: request.scope,
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

/// A project's keys reported leaked since `since`, most recently reported first.
pub fn reported_leaked_since(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    since: NaiveDateTime,
) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::project_id.eq(project_id))
        .filter(api_keys::leak_reported_at.ge(since))
        .order((api_keys::leak_reported_at.desc(), api_keys::id.desc()))
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
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<Revoked, DbError> {
    let event = Event::new(project_id, actor, Action::ApiKeyRevoked, key_id.as_str());
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
            api_keys::revoked_by.eq(actor.user_id()),
        ))
        .execute(conn)?;
        let revoked = NewEvent::key(
            EventKind::ApiKeyRevoked,
            &key,
            Some(revocation_reason(actor)),
            now,
        );
        webhook_outbox::enqueue(conn, project_id, &[revoked], now)?;
        Ok(Change::Made(Revoked::Now(key.name)))
    })
}

/// Revokes every key among these hashes that still works (neither revoked nor expired),
/// marking it reported leaked, each with its `api_key.reported_leaked` event (`reporter`, the
/// anonymous reporter, as actor) — all in one transaction, so a report revokes all it can or
/// nothing. Keys are found through the unique index on the hash. Returns the keys revoked.
pub fn report_leaked(
    conn: &mut DbConnection,
    hashes: &[KeyHash],
    reporter: &Actor,
    now: NaiveDateTime,
) -> Result<Vec<KeyId>, DbError> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        let mut found: Vec<KeyCheck> = api_keys::table
            .filter(api_keys::key_hash.eq_any(hashes))
            .filter(api_keys::revoked_at.is_null())
            .select(KeyCheck::as_select())
            .load(conn)?;
        // One order for every report (projects' chains, then keys), so two reports, or a
        // report and another audited change, cannot deadlock.
        found.sort_by(|a, b| (&a.project_id, &a.id).cmp(&(&b.project_id, &b.id)));
        let mut revoked = Vec::new();
        for key in found
            .iter()
            .filter(|k| !crate::domain::expiry::is_expired(k.expires_at, now))
        {
            let event = Event::new(
                &key.project_id,
                reporter,
                Action::ApiKeyReportedLeaked,
                key.id.as_str(),
            );
            let done = audit::audited_if(conn, &event, now, |conn| {
                let n = diesel::update(
                    api_keys::table
                        .filter(api_keys::id.eq(&key.id))
                        .filter(api_keys::revoked_at.is_null()),
                )
                .set((
                    api_keys::revoked_at.eq(Some(now)),
                    api_keys::leak_reported_at.eq(Some(now)),
                ))
                .execute(conn)?;
                if n == 1 {
                    announce_leak(conn, &key.project_id, &key.id, now)?;
                }
                Ok(n == 1)
            })?;
            if done {
                revoked.push(key.id.clone());
            }
        }
        Ok(revoked)
    })
}

/// The keys, of any project and in any state, whose hashes these are (through the unique
/// index), for `callem keys check`; hashes of no key are left out.
pub fn find_by_hashes(conn: &mut DbConnection, hashes: &[KeyHash]) -> QueryResult<Vec<ApiKey>> {
    // In batches: SQLite allows 32,766 bound variables a statement, PostgreSQL 65,535.
    let mut found = Vec::new();
    for batch in hashes.chunks(FIND_BATCH) {
        found.extend(
            api_keys::table
                .filter(api_keys::key_hash.eq_any(batch))
                .select(ApiKey::as_select())
                .load(conn)?,
        );
    }
    Ok(found)
}

/// Hashes looked up in one statement by [`find_by_hashes`].
const FIND_BATCH: usize = 1000;

/// What an edit, a roll or an overlap change found.
#[derive(Debug)]
pub enum KeyChange<T> {
    Done(T),
    /// Nothing to change (an edit that changes nothing).
    Unchanged,
    /// The key cannot take this change now (a new expiry on a key a roll replaced, for an
    /// edit; revoked, expired or already rolled, for a roll; not rolling, for an overlap
    /// change): the message says why.
    Refused(&'static str),
    /// No such key in the project (for an edit: or it is revoked, and so no longer edited).
    NotFound,
}

/// The current settings of a key, as an edit compares them.
pub fn settings_of(key: &ApiKey) -> KeySettings {
    KeySettings {
        name: key.name.clone(),
        allowed_ips: key.allowed_ips.clone(),
        expires_at: key.expires_at,
        scope: key.scope,
    }
}

/// Saves an edit of a key that is not revoked, with its `api_key.updated` event (each changed
/// field before → after), in one transaction. `edit` gets the current settings and returns
/// the new ones (so "keep the expiry" is decided on the row the transaction read). The key
/// change rules ([`check_edit`]) are checked on that row: a key a roll replaced is refused a
/// new expiry, whatever path the edit comes from.
pub fn update(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    key_id: &KeyId,
    by: &Actor,
    now: NaiveDateTime,
    edit: impl FnOnce(&KeySettings) -> KeySettings,
) -> Result<KeyChange<Changes>, DbError> {
    audit::locked(conn, project_id, |conn| {
        let Some(key) = find_in_project(conn, project_id, key_id)? else {
            return Ok(KeyChange::NotFound);
        };
        if key.revoked_at.is_some() {
            return Ok(KeyChange::NotFound);
        }
        let before = settings_of(&key);
        let after = edit(&before);
        let replaced = key.replaced_by.is_some();
        if let Err(why) = check_edit(key.status(now), replaced, &before, &after) {
            return Ok(KeyChange::Refused(why.message()));
        }
        save(conn, &key, &after, by, now, Action::ApiKeyUpdated)
    })
}

/// Writes `after` over the key's settings with its `action` event (`api_key.updated`, or the
/// overlap's own), if it changes any.
fn save(
    conn: &mut DbConnection,
    key: &ApiKey,
    after: &KeySettings,
    by: &Actor,
    now: NaiveDateTime,
    action: Action,
) -> Result<KeyChange<Changes>, DbError> {
    let changes = settings_of(key).changes_to(after);
    if changes.is_empty() {
        return Ok(KeyChange::Unchanged);
    }
    let event = Event {
        detail: Some(detail_json(&changes)),
        ..Event::new(&key.project_id, by, action, key.id.as_str())
    };
    audit::audited(conn, &event, now, |conn| {
        diesel::update(api_keys::table.filter(api_keys::id.eq(&key.id)))
            .set((
                api_keys::name.eq(&after.name),
                api_keys::allowed_ips.eq(&after.allowed_ips),
                api_keys::expires_at.eq(after.expires_at),
                api_keys::scope.eq(after.scope),
            ))
            .execute(conn)?;
        Ok(Change::Made(()))
    })?;
    Ok(KeyChange::Done(changes))
}

/// A roll that happened: the new key (revealed once, never stored) and when the old one stops.
#[derive(Debug)]
pub struct Rolled {
    pub new_key_id: KeyId,
    pub secret: ApiKeySecret,
    pub name: String,
    pub old_stops_at: NaiveDateTime,
}

/// Rolls an active key that was not rolled before: a new key with the same name, IP rules and
/// scope (and an expiry as far from its creation as the old one's was), the old key's expiry
/// brought forward to the end of the overlap, `replaced_by` set, and `api_key.rolled` on both
/// keys — one transaction. `new_expiry`: the new key's expiry as the admin chose it (`Some`:
/// exactly that, `Some(None)` for never), or `None` for the rule above (the command line).
pub fn roll(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    key_id: &KeyId,
    overlap: Overlap,
    new_expiry: Option<Option<NaiveDateTime>>,
    by: &Actor,
    now: NaiveDateTime,
) -> Result<KeyChange<Rolled>, DbError> {
    audit::locked(conn, project_id, |conn| {
        let Some(old) = find_in_project(conn, project_id, key_id)? else {
            return Ok(KeyChange::NotFound);
        };
        let status = KeyStatus::of(
            old.expires_at,
            old.revoked_at,
            old.replaced_by.is_some(),
            now,
        );
        match status {
            KeyStatus::Revoked => return Ok(KeyChange::Refused("A revoked key cannot be rolled.")),
            KeyStatus::Expired => {
                return Ok(KeyChange::Refused(
                    "An expired key cannot be rolled: create a new key instead.",
                ))
            }
            KeyStatus::Rolling(_) => {
                return Ok(KeyChange::Refused(
                    "This key was already rolled: roll its replacement instead.",
                ))
            }
            KeyStatus::Active | KeyStatus::ExpiresSoon(_) => {}
        }
        let plan = RollPlan::new(old.created_at, old.expires_at, overlap, now);
        let secret = ApiKeySecret::generate();
        let new_id = KeyId::generate();
        // What the usage tables already hold for the roll's hour: "requests since the roll"
        // are those counted for this hour and later, less these.
        let baseline = requests_since_hour_of(conn, key_id, now)?;
        diesel::insert_into(api_keys::table)
            .values(NewApiKey {
                id: &new_id,
                project_id,
                name: &old.name,
                prefix: &secret.prefix(),
                key_hash: &secret.hash(),
                allowed_ips: &old.allowed_ips,
                expires_at: new_expiry.unwrap_or(plan.new_expires_at),
                created_by: by.user_id(),
                created_at: now,
                scope: old.scope,
            })
            .execute(conn)?;
        diesel::update(api_keys::table.filter(api_keys::id.eq(key_id)))
            .set((
                api_keys::expires_at.eq(Some(plan.old_expires_at)),
                api_keys::replaced_by.eq(Some(&new_id)),
                api_keys::rolled_at.eq(Some(now)),
                api_keys::roll_baseline.eq(baseline),
            ))
            .execute(conn)?;
        let at = |t: Option<NaiveDateTime>| t.map(crate::time::iso_millis);
        let mut old_detail = Changes::new();
        old_detail.insert("replaced_by", (None, Some(new_id.to_string())));
        if old.expires_at != Some(plan.old_expires_at) {
            old_detail.insert(
                "expires_at",
                (at(old.expires_at), at(Some(plan.old_expires_at))),
            );
        }
        let mut new_detail = Changes::new();
        new_detail.insert("replaces", (None, Some(key_id.to_string())));
        for (target, detail) in [(key_id, old_detail), (&new_id, new_detail)] {
            let event = Event {
                detail: Some(detail_json(&detail)),
                ..Event::new(project_id, by, Action::ApiKeyRolled, target.as_str())
            };
            audit::audited(conn, &event, now, |_| Ok(Change::Made(())))?;
        }
        Ok(KeyChange::Done(Rolled {
            new_key_id: new_id,
            secret,
            name: old.name,
            old_stops_at: plan.old_expires_at,
        }))
    })
}

/// The key's requests (every outcome) counted for `t`'s UTC hour and later.
fn requests_since_hour_of(
    conn: &mut DbConnection,
    key_id: &KeyId,
    t: NaiveDateTime,
) -> QueryResult<i64> {
    use super::schema::key_usage_hourly as kh;
    let hour = t.date().and_hms_opt(t.hour(), 0, 0).unwrap_or(t);
    // Summed here: SUM over BIGINT is NUMERIC on PostgreSQL and BIGINT on SQLite.
    let counts: Vec<i64> = kh::table
        .filter(kh::key_id.eq(key_id))
        .filter(kh::hour.ge(hour))
        .select(kh::requests)
        .load(conn)?;
    Ok(counts.iter().sum())
}

/// What a rolling key's page tells the admin deciding whether to stop it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinceRoll {
    /// Requests of the old key since the roll (as of the last flush).
    pub requests: i64,
    /// The most recent client seen since the roll: (when, address).
    pub last: Option<(NaiveDateTime, String)>,
}

/// Uses of a rolled key since its roll.
pub fn since_roll(conn: &mut DbConnection, key: &ApiKey) -> QueryResult<Option<SinceRoll>> {
    use super::schema::key_usage_clients as kc;
    let Some(rolled_at) = key.rolled_at else {
        return Ok(None);
    };
    let requests = requests_since_hour_of(conn, &key.id, rolled_at)? - key.roll_baseline;
    let last = kc::table
        .filter(kc::key_id.eq(&key.id))
        .filter(kc::last_seen.ge(rolled_at))
        .order(kc::last_seen.desc())
        .select((kc::last_seen, kc::ip))
        .first::<(NaiveDateTime, String)>(conn)
        .optional()?;
    Ok(Some(SinceRoll {
        requests: requests.max(0),
        last,
    }))
}

/// What to do with a rolling key's overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlapChange {
    /// Expire the old key at once.
    StopNow,
    /// Let it work [`EXTENSION`] longer.
    Extend,
}

/// Stops a rolling key now (an `api_key.stopped` event) or extends its overlap (an
/// `api_key.updated` event), each with the expiry before → after, in one transaction. Refused
/// for a key that is not rolling (never rolled, stopped already, revoked). Returns the key's
/// new expiry.
pub fn change_overlap(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    key_id: &KeyId,
    change: OverlapChange,
    by: &Actor,
    now: NaiveDateTime,
) -> Result<KeyChange<NaiveDateTime>, DbError> {
    audit::locked(conn, project_id, |conn| {
        let Some(key) = find_in_project(conn, project_id, key_id)? else {
            return Ok(KeyChange::NotFound);
        };
        let status = KeyStatus::of(
            key.expires_at,
            key.revoked_at,
            key.replaced_by.is_some(),
            now,
        );
        let (KeyStatus::Rolling(_), Some(at)) = (status, key.expires_at) else {
            return Ok(KeyChange::Refused(
                "This key is not in a roll's overlap any more.",
            ));
        };
        let mut after = settings_of(&key);
        let new_expiry = match change {
            OverlapChange::StopNow => now - chrono::Duration::microseconds(1),
            OverlapChange::Extend => at + EXTENSION,
        };
        after.expires_at = Some(new_expiry);
        // Stopping is its own event ("stopped the old key"); an extension is an edit of the
        // expiry.
        let action = match change {
            OverlapChange::StopNow => Action::ApiKeyStopped,
            OverlapChange::Extend => Action::ApiKeyUpdated,
        };
        save(conn, &key, &after, by, now, action)?;
        Ok(KeyChange::Done(new_expiry))
    })
}

/// Every key of a project, revoked ones too: (id, prefix, the key that replaced it) — what
/// pages need to name a key by its prefix and to link a roll's two keys.
pub fn names(
    conn: &mut DbConnection,
    project_id: &ProjectId,
) -> QueryResult<Vec<(KeyId, String, Option<KeyId>)>> {
    api_keys::table
        .filter(api_keys::project_id.eq(project_id))
        .select((api_keys::id, api_keys::prefix, api_keys::replaced_by))
        .load(conn)
}

/// Why a key was revoked, as `api_key_revoked`'s `reason` says it.
fn revocation_reason(actor: &Actor) -> &'static str {
    use crate::domain::actor::Who;
    match actor.who {
        Who::User(_) => "dashboard",
        Who::CommandLine => "command_line",
        Who::LeakReport => "leak_report",
        Who::Key(_) => "api",
        Who::Server => "server",
    }
}

/// A leak report revoked this key: `api_key_revoked` (reason `leak_report`) then
/// `api_key_leaked` to the webhooks, and an email to the project's Owners and Admins queued
/// (once: the key can be revoked only once).
fn announce_leak(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    key_id: &KeyId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let Some(key) = find_in_project(conn, project_id, key_id)? else {
        return Ok(());
    };
    let events = [
        NewEvent::key(EventKind::ApiKeyRevoked, &key, Some("leak_report"), now),
        NewEvent::key(EventKind::ApiKeyLeaked, &key, Some("leak_report"), now),
    ];
    webhook_outbox::enqueue(conn, project_id, &events, now)?;
    let payload = serde_json::json!({
        "keyId": key.id.as_str(),
        "name": key.name,
        "prefix": key.prefix,
    })
    .to_string();
    let mark = format!("key_leaked:{key_id}");
    super::notifications::mark_once(conn, &mark, project_id, "key_leaked", &payload, now, false)?;
    Ok(())
}
