//! Queries on `knowledge_items`: always scoped to a project.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{KnowledgeId, ProjectId};
use crate::domain::knowledge::{Changes, KnowledgeEdit, NewKnowledge, SearchTerms};

use super::audit::{self, Change, Event};
use super::models::KnowledgeItem;
use super::schema::knowledge_items as ki;
use super::{DbConnection, DbError};
use crate::domain::action::Action;
use crate::domain::actor::Actor;

type Backend = <DbConnection as Connection>::Backend;

diesel::define_sql_function! {
    /// SQL's `lower`: on PostgreSQL by the database's locale; on SQLite, whose own `lower`
    /// knows ASCII letters only, Rust's (see [`register_sqlite_functions`]).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// SQL's `coalesce`, for a nullable text and its stand-in.
    fn coalesce(x: diesel::sql_types::Nullable<diesel::sql_types::Text>, y: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Replaces SQLite's `lower` on a connection with one that lower-cases every letter (`É` →
/// `é`), as PostgreSQL's does, so a search finds "Été" from "été" on both backends. Nothing
/// else in the schema uses `lower` (no index on it), so the replacement changes nothing else.
pub fn register_sqlite_functions(conn: &mut diesel::SqliteConnection) -> QueryResult<()> {
    lower_utils::register_impl(conn, |s: String| s.to_lowercase())
}

/// One page of a project's items, newest first (ties by id), and the project's total.
pub fn list(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<KnowledgeItem>, i64)> {
    let rows = ki::table
        .filter(ki::project_id.eq(project_id))
        .order((ki::created_at.desc(), ki::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(KnowledgeItem::as_select())
        .load(conn)?;
    let (_, total) = super::projects::totals(conn, project_id)?;
    Ok((rows, total))
}

/// `LIKE '%word%'`, with the word's own `\\`, `_` and `%` taken literally.
fn containing(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('_', "\\_")
        .replace('%', "\\%");
    format!("%{escaped}%")
}

/// A project's items holding every word of `terms` (in any case) in their name, description
/// or text. Both sides are lower-cased, since PostgreSQL's `LIKE` is case-sensitive and
/// SQLite's is not.
fn matching<'a>(project_id: &'a ProjectId, terms: &SearchTerms) -> ki::BoxedQuery<'a, Backend> {
    let mut q = ki::table.filter(ki::project_id.eq(project_id)).into_boxed();
    for word in terms.words() {
        let pattern = containing(word);
        q = q.filter(
            lower(ki::name)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(coalesce(ki::description, ""))
                    .like(pattern.clone())
                    .escape('\\'))
                .or(lower(ki::text).like(pattern).escape('\\')),
        );
    }
    q
}

/// How many of the project's items match `terms`.
pub fn count_matching(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    terms: &SearchTerms,
) -> QueryResult<i64> {
    matching(project_id, terms).count().get_result(conn)
}

/// One page of the project's items matching `terms`, newest first (ties by id).
pub fn search(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    terms: &SearchTerms,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<KnowledgeItem>> {
    matching(project_id, terms)
        .order((ki::created_at.desc(), ki::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(KnowledgeItem::as_select())
        .load(conn)
}

/// Up to `limit` of a project's items, newest first (ties by id): after `offset` rows, or
/// after the row a previous batch ended on (keyset).
pub fn batch(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    from: super::Resume<'_>,
    limit: i64,
) -> QueryResult<Vec<KnowledgeItem>> {
    let mut q = ki::table
        .filter(ki::project_id.eq(project_id))
        .order((ki::created_at.desc(), ki::id.desc()))
        .limit(limit)
        .select(KnowledgeItem::as_select())
        .into_boxed();
    q = match from {
        super::Resume::Offset(n) => q.offset(n),
        super::Resume::After(at, id) => q.filter(
            ki::created_at
                .lt(at)
                .or(ki::created_at.eq(at).and(ki::id.lt(id))),
        ),
    };
    q.load(conn)
}

/// The project's number of knowledge items.
pub fn total(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<i64> {
    Ok(super::projects::totals(conn, project_id)?.1)
}

pub fn find(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &KnowledgeId,
) -> QueryResult<Option<KnowledgeItem>> {
    ki::table
        .filter(ki::project_id.eq(project_id))
        .filter(ki::id.eq(id))
        .select(KnowledgeItem::as_select())
        .first(conn)
        .optional()
}

/// Adds an item with its `knowledge.created` event, in one transaction; returns it as stored.
pub fn create(
    conn: &mut DbConnection,
    item: &KnowledgeItem,
    actor: &Actor,
) -> Result<KnowledgeItem, DbError> {
    let event = Event::new(
        &item.project_id,
        actor,
        Action::KnowledgeCreated,
        item.id.as_str(),
    );
    audit::audited(conn, &event, item.created_at, |conn| {
        Ok(Change::Made(insert(conn, item)?))
    })
}

/// Stores an item and reads it back by its (unique) id: MultiConnection has no RETURNING.
/// Unaudited, for imports and the demo: a person's addition goes through [`create`].
pub fn insert(conn: &mut DbConnection, item: &KnowledgeItem) -> QueryResult<KnowledgeItem> {
    crate::db::transaction(conn, |conn| {
        diesel::insert_into(ki::table).values(item).execute(conn)?;
        ki::table
            .find(&item.id)
            .select(KnowledgeItem::as_select())
            .first(conn)
    })
}

/// Deletes a project's item with its `knowledge.deleted` event, in one transaction; false
/// (and no event) when there was none.
pub fn delete(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &KnowledgeId,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let event = Event::new(project_id, actor, Action::KnowledgeDeleted, id.as_str());
    audit::audited_if(conn, &event, now, |conn| remove(conn, project_id, id))
}

fn remove(conn: &mut DbConnection, project_id: &ProjectId, id: &KnowledgeId) -> QueryResult<bool> {
    diesel::delete(
        ki::table
            .filter(ki::project_id.eq(project_id))
            .filter(ki::id.eq(id)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Deletes all of a project's knowledge items; returns how many.
pub fn delete_all(conn: &mut DbConnection, project_id: &ProjectId) -> QueryResult<usize> {
    diesel::delete(ki::table.filter(ki::project_id.eq(project_id))).execute(conn)
}

/// What [`update`] found.
#[derive(Debug)]
pub enum Edited {
    NotFound,
    /// The item as it now is, and what changed (nothing: no write, no event).
    Saved(KnowledgeItem, Changes),
}

/// Applies an edit to a project's item, with its `knowledge.updated` event (each changed field
/// before → after) in the same transaction; the id and `created_at` stay. The edit is applied
/// to the row this transaction read, after the project's audit chain is locked, so two edits
/// at once are recorded each against what the other left.
pub fn update(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &KnowledgeId,
    edit: KnowledgeEdit,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<Edited, DbError> {
    audit::locked(conn, project_id, |conn| {
        let Some(item) = find(conn, project_id, id)? else {
            return Ok(Edited::NotFound);
        };
        let current = NewKnowledge {
            name: item.name.clone(),
            description: item.description.clone(),
            text: item.text.clone(),
        };
        let (after, changes) = edit.apply(&current);
        if changes.is_empty() {
            return Ok(Edited::Saved(item, changes));
        }
        let event = Event {
            detail: Some(serde_json::to_string(&changes).unwrap_or_default()),
            ..Event::new(project_id, actor, Action::KnowledgeUpdated, id.as_str())
        };
        audit::audited(conn, &event, now, |conn| {
            diesel::update(
                ki::table
                    .filter(ki::project_id.eq(project_id))
                    .filter(ki::id.eq(id)),
            )
            .set((
                ki::name.eq(&after.name),
                ki::description.eq(&after.description),
                ki::text.eq(&after.text),
            ))
            .execute(conn)?;
            Ok(Change::Made(()))
        })?;
        let saved = KnowledgeItem {
            name: after.name,
            description: after.description,
            text: after.text,
            ..item
        };
        Ok(Edited::Saved(saved, changes))
    })
}
