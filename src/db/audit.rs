//! Queries on `audit_events` and `audit_chain_heads`, and [`audited`]: every change with its
//! audit event (who did what to which key or item, when, from where) in one transaction.
//!
//! Events are only ever inserted, each as the next link of its project's hash chain
//! ([`crate::domain::audit_chain`]): appends lock the project's head row first, so they are
//! serialised per project. An event stores what it shows (`actor_label`, `target_label`) as it
//! read at the time, looked up here in the same transaction, so no caller can forget it and
//! later changes to users or keys never alter a recorded event.

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;

use crate::domain::action::{Action, Target};
use crate::domain::actor::{Actor, Who, COMMAND_LINE, LEAK_REPORT};
use crate::domain::api_key::PREFIX_CHARS;
use crate::domain::audit_chain::{ChainEvent, Problem, Verifier, GENESIS};
use crate::domain::audit_log::AuditFilter;
use crate::domain::ids::{EventId, KeyId, ProjectId, UserId};

use super::models::AuditEvent;
use super::schema::{audit_chain_heads, audit_events};
use super::{DbConnection, DbError};

/// What happened, to be recorded in the same transaction as the change itself. The target's
/// type is the action's ([`Action::target`]).
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub project_id: &'a ProjectId,
    pub actor: &'a Actor,
    pub action: Action,
    pub target_id: &'a str,
    /// What changed, as JSON (`{"field": ["before", "after"], …}`), for events that say.
    pub detail: Option<String>,
}

impl<'a> Event<'a> {
    /// An event with no detail.
    pub fn new(
        project_id: &'a ProjectId,
        actor: &'a Actor,
        action: Action,
        target_id: &'a str,
    ) -> Event<'a> {
        Event {
            project_id,
            actor,
            action,
            target_id,
            detail: None,
        }
    }
}

/// The end of a project's chain, as locked by [`lock_head`].
#[derive(Debug, Clone)]
struct Head {
    last_seq: i64,
    last_hash: String,
}

/// Locks the project's chain head (creating it when missing) until the transaction ends:
/// `INSERT … ON CONFLICT DO NOTHING` then `SELECT … FOR UPDATE` on PostgreSQL (a concurrent
/// first append waits on the insert, then finds the row); on SQLite the transaction already
/// holds the database's write lock ([`super::write_transaction`]).
fn lock_head(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<Head> {
    let fresh = (
        audit_chain_heads::project_id.eq(project_id),
        audit_chain_heads::last_seq.eq(0_i64),
        audit_chain_heads::last_hash.eq(GENESIS),
    );
    let head = audit_chain_heads::table
        .find(project_id)
        .select((audit_chain_heads::last_seq, audit_chain_heads::last_hash));
    let (last_seq, last_hash) = match conn {
        DbConnection::Pg(pg) => {
            diesel::insert_into(audit_chain_heads::table)
                .values(fresh)
                .on_conflict(audit_chain_heads::project_id)
                .do_nothing()
                .execute(pg)?;
            head.for_update().first::<(i64, String)>(pg)?
        }
        DbConnection::Sqlite(lite) => {
            diesel::insert_or_ignore_into(audit_chain_heads::table)
                .values(fresh)
                .execute(lite)?;
            head.first::<(i64, String)>(lite)?
        }
    };
    Ok(Head {
        last_seq,
        last_hash,
    })
}

/// A transaction for a change that reads before it records events in `project_id`'s chain:
/// it takes the chain's lock first, so that every audited change locks in the same order
/// (chain, then rows) and two of them cannot deadlock.
pub fn locked<T, E, F>(conn: &mut DbConnection, project_id: &ProjectId, work: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    super::write_transaction(conn, |conn| {
        lock_head(conn, project_id)?;
        work(conn)
    })
}

/// `API key NAME (ck_live_ab12…)`.
pub fn key_label(name: &str, prefix: &str) -> String {
    let shown: String = prefix.chars().take(PREFIX_CHARS).collect();
    format!("API key {name} ({shown}…)")
}

/// Who the actor is, in words, as of now.
pub fn actor_label(conn: &mut DbConnection, actor: &Actor) -> QueryResult<String> {
    use super::schema::{api_keys, users};
    Ok(match &actor.who {
        Who::User(id) => users::table
            .find(id)
            .select(users::email)
            .first::<String>(conn)
            .optional()?
            .unwrap_or_else(|| "a removed user".to_owned()),
        Who::Key(id) => api_keys::table
            .find(id)
            .select((api_keys::name, api_keys::prefix))
            .first::<(String, String)>(conn)
            .optional()?
            .map(|(name, prefix)| key_label(&name, &prefix))
            .unwrap_or_else(|| "a deleted API key".to_owned()),
        Who::CommandLine => COMMAND_LINE.to_owned(),
        Who::LeakReport => LEAK_REPORT.to_owned(),
        Who::Server => crate::domain::actor::SERVER.to_owned(),
    })
}

/// What the target is called now, when its table has it: a key's or an item's name, a
/// member's email, a project's name. A call has no name but its id. A target type this does
/// not know (or a target that is gone) has none: [`target_fallback`] names it then.
fn target_name(
    conn: &mut DbConnection,
    target: Target,
    target_id: &str,
) -> QueryResult<Option<String>> {
    use super::schema::{api_keys, knowledge_items, projects, users, webhooks};
    match target {
        Target::Webhook => webhooks::table
            .find(target_id)
            .select(webhooks::url)
            .first(conn)
            .optional(),
        Target::ApiKey => api_keys::table
            .find(target_id)
            .select(api_keys::name)
            .first(conn)
            .optional(),
        Target::KnowledgeItem => knowledge_items::table
            .find(target_id)
            .select(knowledge_items::name)
            .first(conn)
            .optional(),
        Target::User | Target::Member => users::table
            .find(target_id)
            .select(users::email)
            .first(conn)
            .optional(),
        Target::Project => projects::table
            .find(target_id)
            .select(projects::name)
            .first(conn)
            .optional(),
        Target::Call => Ok(Some(target_id.to_owned())),
        Target::Invitation => Ok(None),
    }
}

/// A target that cannot be looked up: the `email` or `name` its detail gives (an invitation,
/// say), else its id.
fn target_fallback(target_id: &str, detail: Option<&str>) -> String {
    let named = detail
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|v| {
            ["email", "name"].into_iter().find_map(|field| {
                let value = &v[field];
                value
                    .get(1)
                    .and_then(|x| x.as_str())
                    .or_else(|| value.get(0).and_then(|x| x.as_str()))
                    .or_else(|| value.as_str())
                    .map(str::to_owned)
            })
        });
    named.unwrap_or_else(|| target_id.to_owned())
}

/// The fields of an event about to be appended.
struct NewLink {
    id: EventId,
    project_id: ProjectId,
    created_at: NaiveDateTime,
    actor_kind: String,
    actor_user_id: Option<UserId>,
    actor_key_id: Option<KeyId>,
    actor_label: String,
    action: String,
    target_type: String,
    target_id: Option<String>,
    target_label: String,
    ip: Option<String>,
    detail: Option<String>,
}

/// Appends an event after `head` (locked by this transaction) and moves the head on.
fn append(conn: &mut DbConnection, head: &mut Head, link: NewLink) -> QueryResult<()> {
    // What both backends store: the hash must be of what is read back.
    let created_at = link
        .created_at
        .with_nanosecond(link.created_at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(link.created_at);
    let mut row = AuditEvent {
        id: link.id,
        project_id: link.project_id,
        seq: head.last_seq + 1,
        created_at,
        actor_kind: link.actor_kind,
        actor_user_id: link.actor_user_id,
        actor_key_id: link.actor_key_id,
        actor_label: link.actor_label,
        action: link.action,
        target_type: link.target_type,
        target_id: link.target_id,
        target_label: link.target_label,
        ip: link.ip,
        detail: link.detail,
        prev_hash: head.last_hash.clone(),
        hash: String::new(),
    };
    row.hash = chain_fields(&row).hash_after(&row.prev_hash);
    diesel::insert_into(audit_events::table)
        .values(&row)
        .execute(conn)?;
    diesel::update(audit_chain_heads::table.find(&row.project_id))
        .set((
            audit_chain_heads::last_seq.eq(row.seq),
            audit_chain_heads::last_hash.eq(&row.hash),
        ))
        .execute(conn)?;
    head.last_seq = row.seq;
    head.last_hash = row.hash;
    Ok(())
}

/// The fields of a stored event that its hash covers.
pub fn chain_fields(e: &AuditEvent) -> ChainEvent<'_> {
    ChainEvent {
        id: e.id.as_str(),
        project_id: e.project_id.as_str(),
        seq: e.seq,
        created_at: e.created_at,
        actor_kind: &e.actor_kind,
        actor_user_id: e.actor_user_id.as_ref().map(UserId::as_str),
        actor_key_id: e.actor_key_id.as_ref().map(KeyId::as_str),
        actor_label: &e.actor_label,
        action: &e.action,
        target_type: &e.target_type,
        target_id: e.target_id.as_deref(),
        target_label: &e.target_label,
        ip: e.ip.as_deref(),
        detail: e.detail.as_deref(),
    }
}

/// Records `event` as the next link of its project's chain, naming its actor and target as
/// they read now (`target_before`: the target's name before the change, for a target the
/// change deleted).
fn record(
    conn: &mut DbConnection,
    head: &mut Head,
    event: &Event<'_>,
    now: NaiveDateTime,
    target_before: Option<String>,
) -> QueryResult<()> {
    let actor_label = actor_label(conn, event.actor)?;
    let target = event.action.target();
    let target_label = match target_name(conn, target, event.target_id)? {
        Some(name) => name,
        None => target_before
            .unwrap_or_else(|| target_fallback(event.target_id, event.detail.as_deref())),
    };
    append(
        conn,
        head,
        NewLink {
            id: EventId::generate(),
            project_id: event.project_id.clone(),
            created_at: now,
            actor_kind: event.actor.kind().to_owned(),
            actor_user_id: event.actor.user_id().cloned(),
            actor_key_id: event.actor.key_id().cloned(),
            actor_label,
            action: event.action.as_str().to_owned(),
            target_type: target.as_str().to_owned(),
            target_id: Some(event.target_id.to_owned()),
            target_label,
            ip: event.actor.address(),
            detail: event.detail.clone(),
        },
    )
}

/// Runs `change` and, when it reports that something changed, records `event` — both in one
/// transaction, so no change goes unrecorded and no event is left without its change. Every
/// audited change goes through here: the dashboard's, the API's and the command line's.
pub fn audited<T>(
    conn: &mut DbConnection,
    event: &Event<'_>,
    now: NaiveDateTime,
    change: impl FnOnce(&mut DbConnection) -> Result<Change<T>, DbError>,
) -> Result<T, DbError> {
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        let mut head = lock_head(conn, event.project_id)?;
        let before = target_name(conn, event.action.target(), event.target_id)?;
        match change(conn)? {
            Change::Made(value) => {
                record(conn, &mut head, event, now, before)?;
                Ok(value)
            }
            Change::Unchanged(value) => Ok(value),
        }
    })
}

/// What happened to a person rather than to one project (their password): recorded in the
/// chain of each project they belong to, with the person as the target.
#[derive(Debug, Clone, Copy)]
pub struct AccountEvent<'a> {
    pub actor: &'a Actor,
    pub action: Action,
    /// The person the event is about.
    pub user_id: &'a UserId,
}

/// Runs `change` and records `event` in the chain of each of `project_ids`, all in one
/// transaction. The chains' heads are locked first, in id order, so that two such changes
/// cannot deadlock and every audited change still locks chains before rows.
pub fn audited_in_each<T>(
    conn: &mut DbConnection,
    project_ids: &[ProjectId],
    event: &AccountEvent<'_>,
    now: NaiveDateTime,
    change: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let mut ids = project_ids.to_vec();
    ids.sort();
    ids.dedup();
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        let mut heads = Vec::with_capacity(ids.len());
        for id in &ids {
            heads.push(lock_head(conn, id)?);
        }
        let target_id = event.user_id.as_str();
        let before = target_name(conn, Target::User, target_id)?;
        let value = change(conn)?;
        for (project_id, head) in ids.iter().zip(heads.iter_mut()) {
            let one = Event::new(project_id, event.actor, event.action, target_id);
            record(conn, head, &one, now, before.clone())?;
        }
        Ok(value)
    })
}

/// What an audited change did: only a change that was made is recorded.
#[derive(Debug)]
pub enum Change<T> {
    Made(T),
    Unchanged(T),
}

/// [`audited`] for a change that either happened or found nothing to change (a delete).
pub fn audited_if(
    conn: &mut DbConnection,
    event: &Event<'_>,
    now: NaiveDateTime,
    change: impl FnOnce(&mut DbConnection) -> QueryResult<bool>,
) -> Result<bool, DbError> {
    audited(conn, event, now, |conn| {
        Ok(match change(conn)? {
            true => Change::Made(true),
            false => Change::Unchanged(false),
        })
    })
}

/// A project's events, newest first (the chain's order, reversed).
pub fn for_project(
    conn: &mut DbConnection,
    project_id: &ProjectId,
) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::project_id.eq(project_id))
        .order(audit_events::seq.desc())
        .select(AuditEvent::as_select())
        .load(conn)
}

/// The events of one key of a project (its target), newest first.
pub fn for_key(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    key_id: &KeyId,
) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::project_id.eq(project_id))
        .filter(audit_events::target_type.eq(Target::ApiKey.as_str()))
        .filter(audit_events::target_id.eq(key_id.as_str()))
        .order(audit_events::seq.desc())
        .select(AuditEvent::as_select())
        .load(conn)
}

/// The email addresses of these users (those that still exist), to name actors.
pub fn user_emails(conn: &mut DbConnection, ids: &[&UserId]) -> QueryResult<Vec<(UserId, String)>> {
    use super::schema::users;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::email))
        .load(conn)
}

type Backend = <DbConnection as Connection>::Backend;

/// `LIKE 'prefix%'`, with the prefix's own `_` and `%` taken literally.
fn starts_with(prefix: &str) -> String {
    let mut pattern = prefix
        .replace('\\', "\\\\")
        .replace('_', "\\_")
        .replace('%', "\\%");
    pattern.push('%');
    pattern
}

/// A project's events narrowed by the tab's filters.
fn filtered<'a>(
    project_id: &'a ProjectId,
    f: &'a AuditFilter,
) -> audit_events::BoxedQuery<'a, Backend> {
    type Condition =
        Box<dyn BoxableExpression<audit_events::table, Backend, SqlType = diesel::sql_types::Bool>>;
    let mut q = audit_events::table
        .filter(audit_events::project_id.eq(project_id))
        .into_boxed();
    if let Some(kind) = f.kind {
        let mut any: Option<Condition> = None;
        for prefix in kind.prefixes() {
            let one = audit_events::action.like(starts_with(prefix)).escape('\\');
            any = Some(match any {
                None => Box::new(one),
                Some(before) => Box::new(before.or(one)),
            });
        }
        if let Some(any) = any {
            q = q.filter(any);
        }
    }
    if let Some(actor) = &f.actor {
        q = q.filter(audit_events::actor_label.eq(actor));
    }
    if let Some(from) = f.from_time() {
        q = q.filter(audit_events::created_at.ge(from));
    }
    if let Some(until) = f.until_time() {
        q = q.filter(audit_events::created_at.lt(until));
    }
    q
}

/// How many of a project's events match the filter.
pub fn count_matching(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    f: &AuditFilter,
) -> QueryResult<i64> {
    filtered(project_id, f).count().get_result(conn)
}

/// The filter's page of a project's matching events, newest first.
pub fn page(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    f: &AuditFilter,
    per_page: i64,
) -> QueryResult<Vec<AuditEvent>> {
    filtered(project_id, f)
        .order(audit_events::seq.desc())
        .limit(per_page)
        .offset(f.offset())
        .select(AuditEvent::as_select())
        .load(conn)
}

/// Up to `limit` matching events after `after_seq`, in the chain's order (a download's batch:
/// keyset on seq, so batches neither skip nor repeat events appended meanwhile).
pub fn batch_after(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    f: &AuditFilter,
    after_seq: i64,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    filtered(project_id, f)
        .filter(audit_events::seq.gt(after_seq))
        .order(audit_events::seq.asc())
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// The actors a project's events name, for the filter's choices.
pub fn actors(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<Vec<String>> {
    audit_events::table
        .filter(audit_events::project_id.eq(project_id))
        .select(audit_events::actor_label)
        .distinct()
        .order(audit_events::actor_label.asc())
        .limit(500)
        .load(conn)
}

/// The first event of a chain that does not match, and why.
#[derive(Debug, Clone)]
pub struct Broken {
    pub event: Option<AuditEvent>,
    /// What is wrong, in words.
    pub problem: String,
}

/// Where a project's chain ends: how many events it holds and the last one's hash. An
/// operator who records it elsewhere can later tell a truncated tail from a whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub count: i64,
    pub hash: String,
}

/// What `callem audit verify` found.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The whole chain holds, up to this head.
    Ok(ChainHead),
    Broken(Box<Broken>),
}

/// The chain's head as recorded (not verified): for the Audit log tab.
pub fn chain_head(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<ChainHead> {
    let head: Option<(i64, String)> = audit_chain_heads::table
        .find(project_id)
        .select((audit_chain_heads::last_seq, audit_chain_heads::last_hash))
        .first(conn)
        .optional()?;
    let (count, hash) = head.unwrap_or((0, GENESIS.to_owned()));
    Ok(ChainHead { count, hash })
}

/// Events read at a time when verifying.
const VERIFY_BATCH: i64 = 1000;

/// Recomputes a project's chain in seq order, in batches, and says whether it holds: each
/// event in its place, linked to the one before, with the hash of what it holds; the last
/// one where the chain's head says the chain ends (so deleting the newest events shows too).
pub fn verify(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<Verdict> {
    // One snapshot (SQLite; PostgreSQL reads the head first, and events are only appended).
    crate::db::transaction(conn, |conn| {
        let head: Option<(i64, String)> = audit_chain_heads::table
            .find(project_id)
            .select((audit_chain_heads::last_seq, audit_chain_heads::last_hash))
            .first(conn)
            .optional()?;
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS.to_owned()));
        let mut verifier = Verifier::default();
        let mut after = 0_i64;
        loop {
            let batch: Vec<AuditEvent> = audit_events::table
                .filter(audit_events::project_id.eq(project_id))
                .filter(audit_events::seq.gt(after))
                .filter(audit_events::seq.le(head_seq))
                .order(audit_events::seq.asc())
                .limit(VERIFY_BATCH)
                .select(AuditEvent::as_select())
                .load(conn)?;
            let Some(last) = batch.last().map(|e| e.seq) else {
                break;
            };
            for event in batch {
                if let Err(problem) =
                    verifier.check(&chain_fields(&event), &event.prev_hash, &event.hash)
                {
                    let seq = event.seq;
                    return Ok(Verdict::Broken(Box::new(Broken {
                        problem: problem.describe(seq),
                        event: Some(event),
                    })));
                }
            }
            after = last;
            if after >= head_seq {
                break;
            }
        }
        let count = verifier.count();
        if count < head_seq || (count == head_seq && verifier.last_hash() != head_hash) {
            let problem = if count < head_seq {
                Problem::MissingSeq {
                    expected: count + 1,
                }
                .describe(head_seq + 1)
                    + &format!(" (the chain's head says it ends at seq {head_seq})")
            } else {
                "broken link: the chain's head does not hold the last event's hash".to_owned()
            };
            return Ok(Verdict::Broken(Box::new(Broken {
                event: None,
                problem,
            })));
        }
        // Events past the head (appended without moving it) are not part of the chain.
        let beyond: i64 = audit_events::table
            .filter(audit_events::project_id.eq(project_id))
            .filter(audit_events::seq.gt(head_seq))
            .count()
            .get_result(conn)?;
        if beyond > 0 {
            let event = audit_events::table
                .filter(audit_events::project_id.eq(project_id))
                .filter(audit_events::seq.gt(head_seq))
                .order(audit_events::seq.asc())
                .select(AuditEvent::as_select())
                .first(conn)
                .optional()?;
            return Ok(Verdict::Broken(Box::new(Broken {
                event,
                problem: format!(
                    "not in the chain: {beyond} event(s) after the chain's head (seq {head_seq})"
                ),
            })));
        }
        if count == 0 {
            // Every project's chain starts with `project.created`: an empty one was emptied.
            return Ok(Verdict::Broken(Box::new(Broken {
                event: None,
                problem: "the chain is empty, but every project's chain starts with \
                          project.created: its events were deleted"
                    .to_owned(),
            })));
        }
        Ok(Verdict::Ok(ChainHead {
            count,
            hash: verifier.last_hash().to_owned(),
        }))
    })
}

/// The events recorded before the chain existed (`audit_events_legacy`, left by the
/// `audit_chain` migration), with the columns they had.
mod legacy {
    diesel::table! {
        audit_events_legacy (id) {
            id -> Text,
            project_id -> Nullable<Text>,
            actor_user_id -> Nullable<Text>,
            action -> Text,
            target_type -> Text,
            target_id -> Nullable<Text>,
            ip -> Nullable<Text>,
            created_at -> Timestamp,
            actor_kind -> Text,
            actor_key_id -> Nullable<Text>,
            detail -> Nullable<Text>,
        }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = legacy::audit_events_legacy)]
struct LegacyEvent {
    id: String,
    actor_user_id: Option<String>,
    action: String,
    target_type: String,
    target_id: Option<String>,
    ip: Option<String>,
    created_at: NaiveDateTime,
    actor_kind: String,
    actor_key_id: Option<String>,
    detail: Option<String>,
}

/// Whether the `audit_chain` migration left events from before the chain to move in.
fn legacy_table_exists(conn: &mut DbConnection) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let sql = match conn {
        DbConnection::Pg(_) => {
            "SELECT COUNT(*) AS n FROM pg_tables WHERE schemaname = current_schema() \
             AND tablename = 'audit_events_legacy'"
        }
        DbConnection::Sqlite(_) => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' \
             AND name = 'audit_events_legacy'"
        }
    };
    let found: Found = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(sql).get_result(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql).get_result(lite)?,
    };
    Ok(found.n > 0)
}

/// Legacy events moved per transaction.
const LEGACY_BATCH: i64 = 500;

/// Moves the events recorded before the chain into it, at start-up (right after the
/// migrations, under their lock): per project, oldest first, each appended as the next link —
/// named by its actor's and target's current email or name, the best left to know — and
/// removed from the legacy table in the same transaction; then the legacy table is dropped.
/// Events recorded without a project (none are) stay there, with a warning. Returns how
/// many were moved.
pub fn chain_legacy_events(conn: &mut DbConnection) -> Result<usize, DbError> {
    use legacy::audit_events_legacy as old;
    if !legacy_table_exists(conn)? {
        return Ok(0);
    }
    let mut moved = 0;
    loop {
        let done = super::write_transaction::<_, DbError, _>(conn, |conn| {
            let Some(project) = old::table
                .filter(old::project_id.is_not_null())
                .select(old::project_id.assume_not_null())
                .order(old::project_id.assume_not_null().asc())
                .first::<String>(conn)
                .optional()?
            else {
                return Ok(None);
            };
            let project_id = ProjectId::from_stored(project.clone());
            let mut head = lock_head(conn, &project_id)?;
            let rows: Vec<LegacyEvent> = old::table
                .filter(old::project_id.eq(&project))
                .order((old::created_at.asc(), old::id.asc()))
                .limit(LEGACY_BATCH)
                .select(LegacyEvent::as_select())
                .load(conn)?;
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            for row in rows {
                let user = row.actor_user_id.map(UserId::from_stored);
                let key = row.actor_key_id.map(KeyId::from_stored);
                let who = match (row.actor_kind.as_str(), &user, &key) {
                    ("user", Some(u), _) => Who::User(u.clone()),
                    ("api_key", _, Some(k)) => Who::Key(k.clone()),
                    ("leak_report", _, _) => Who::LeakReport,
                    ("server", _, _) => Who::Server,
                    _ => Who::CommandLine,
                };
                let actor = Actor { who, from: None };
                let target_id = row.target_id.clone().unwrap_or_default();
                let named = match Target::parse(&row.target_type) {
                    Some(target) => target_name(conn, target, &target_id)?,
                    None => None,
                };
                let target_label = match named {
                    Some(name) => name,
                    None => target_fallback(&target_id, row.detail.as_deref()),
                };
                let link = NewLink {
                    id: EventId::from_stored(row.id),
                    project_id: project_id.clone(),
                    created_at: row.created_at,
                    actor_kind: row.actor_kind,
                    actor_label: actor_label(conn, &actor)?,
                    actor_user_id: user,
                    actor_key_id: key,
                    action: row.action,
                    target_type: row.target_type,
                    target_id: row.target_id,
                    target_label,
                    ip: row.ip,
                    detail: row.detail,
                };
                append(conn, &mut head, link)?;
            }
            diesel::delete(old::table.filter(old::id.eq_any(&ids))).execute(conn)?;
            Ok(Some(ids.len()))
        })?;
        match done {
            Some(n) => moved += n,
            None => break,
        }
    }
    let left: i64 = old::table.count().get_result(conn)?;
    if left == 0 {
        let drop = diesel::sql_query("DROP TABLE audit_events_legacy");
        match conn {
            DbConnection::Pg(pg) => drop.execute(pg)?,
            DbConnection::Sqlite(lite) => drop.execute(lite)?,
        };
    } else {
        tracing::warn!(
            left,
            "audit events without a project stay in audit_events_legacy, outside any chain"
        );
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every `.rs` file under `dir`, with its text.
    fn sources(dir: &Path, found: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.push((path.display().to_string(), text));
            }
        }
    }

    /// One write per use case: a handler (or the CLI) calls `db::<table>::<verb>(…, &actor)`,
    /// which records the event itself; only `db/` builds events, so none can be forgotten or
    /// recorded twice by a caller.
    #[test]
    fn only_the_database_layer_builds_audit_events() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        assert!(files.len() > 50, "the sources were found");
        let db = src.join("db").display().to_string();
        let outside: Vec<&String> = files
            .iter()
            .filter(|(path, _)| !path.starts_with(&db))
            .filter(|(_, text)| {
                [
                    "audit::{",
                    "audit::Event",
                    "audit::locked",
                    "Event::new(",
                    "audited(",
                    "audited_if(",
                    "audited_in_each(",
                    "AccountEvent",
                ]
                .iter()
                .any(|needle| text.contains(needle))
            })
            .map(|(path, _)| path)
            .collect();
        assert!(
            outside.is_empty(),
            "audit events built outside db/: {outside:?}"
        );
    }
}
