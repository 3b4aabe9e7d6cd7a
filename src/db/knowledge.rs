//! Queries on `knowledge_items`: always scoped to a project.

use diesel::prelude::*;

use crate::domain::ids::{KnowledgeId, ProjectId};

use super::models::KnowledgeItem;
use super::schema::knowledge_items as ki;
use super::DbConnection;

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

/// Stores an item and reads it back by its (unique) id: MultiConnection has no RETURNING.
pub fn insert(conn: &mut DbConnection, item: &KnowledgeItem) -> QueryResult<KnowledgeItem> {
    crate::db::transaction(conn, |conn| {
        diesel::insert_into(ki::table).values(item).execute(conn)?;
        ki::table
            .find(&item.id)
            .select(KnowledgeItem::as_select())
            .first(conn)
    })
}

/// Deletes a project's item; false when there was none.
pub fn delete(
    conn: &mut DbConnection,
    project_id: &ProjectId,
    id: &KnowledgeId,
) -> QueryResult<bool> {
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
