//! Queries on `key_usage_hourly`, `key_usage_clients` and `key_usage_client_days`: each server
//! adds the uses it counted in memory (additive upserts, so every replica's counts add up), the
//! key page reads them, and an edit's warnings read the last 7 days per address and per kind of
//! operation.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::schema::{
    api_keys, key_usage_client_days as kd, key_usage_clients as kc, key_usage_hourly as kh,
};
use super::{DbConnection, DbError};
use crate::domain::ids::KeyId;
use crate::domain::scope::{Access, Need, Resource};

/// The client addresses kept per key: the least recently seen go first.
pub const MAX_CLIENTS_PER_KEY: i64 = 1000;

/// Requests of a key in one UTC hour with one outcome.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = kh)]
pub struct HourlyCount {
    pub key_id: KeyId,
    pub hour: NaiveDateTime,
    pub outcome: String,
    pub requests: i64,
}

/// Allowed requests by the kind of operation they were: what each needed of the key's scope
/// ([`Need::ALL`]). Requests counted before kinds were (and the rows of that time) are in none
/// of these: the kind of `allowed − total()` is unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = kc)]
pub struct AllowedByOperation {
    pub calls_read: i64,
    /// Calls created or updated (`POST /v1/calls`, `PATCH /v1/calls/{id}`).
    pub calls_write: i64,
    pub calls_delete: i64,
    pub knowledge_read: i64,
    pub knowledge_write: i64,
}

impl AllowedByOperation {
    fn slot(&mut self, need: Need) -> &mut i64 {
        match (need.resource, need.access) {
            (Resource::Calls, Access::Read) => &mut self.calls_read,
            (Resource::Calls, Access::Write) => &mut self.calls_write,
            (Resource::Calls, Access::Delete) => &mut self.calls_delete,
            (Resource::Knowledge, Access::Read) => &mut self.knowledge_read,
            // Knowledge's delete is one of its writes.
            (Resource::Knowledge, Access::Write | Access::Delete) => &mut self.knowledge_write,
        }
    }

    /// Counts `n` allowed requests of an operation that needed `need` (`None`: an operation
    /// that needs nothing of the scope, counted in no kind).
    pub fn add(&mut self, need: Option<Need>, n: i64) {
        if let Some(need) = need {
            *self.slot(need) += n;
        }
    }

    /// The counts, per need, in [`Need::ALL`]'s order.
    pub fn by_need(&self) -> [(Need, i64); 5] {
        let mut counts = *self;
        Need::ALL.map(|need| (need, *counts.slot(need)))
    }

    /// The requests of a known kind.
    pub fn total(&self) -> i64 {
        self.calls_read
            + self.calls_write
            + self.calls_delete
            + self.knowledge_read
            + self.knowledge_write
    }
}

/// Requests of a key from one client address.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = kc)]
pub struct ClientCount {
    pub key_id: KeyId,
    pub ip: String,
    pub first_seen: NaiveDateTime,
    pub last_seen: NaiveDateTime,
    pub requests: i64,
    pub refused: i64,
    /// Of the allowed requests (`requests − refused`), those of each kind of operation.
    #[diesel(embed)]
    pub allowed_by_operation: AllowedByOperation,
}

/// A key's last allowed use, as "last used" shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUse {
    pub key_id: KeyId,
    pub at: NaiveDateTime,
    pub ip: String,
}

/// What a flush wrote: statements per table (for the "one write per key" promise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub hourly_upserts: usize,
    pub client_upserts: usize,
    /// Keys whose "last used" was updated.
    pub last_used_updates: usize,
    /// Transactions the flush wrote them in.
    pub batches: usize,
}

impl Written {
    /// Adds another batch's statements.
    pub fn add(&mut self, other: Written) {
        self.hourly_upserts += other.hourly_upserts;
        self.client_upserts += other.client_upserts;
        self.last_used_updates += other.last_used_updates;
        self.batches += other.batches;
    }
}

/// Adds one batch of a flush's counts, in one transaction: one statement per (key, hour,
/// outcome) and per (key, address), and at most one "last used" update per key. Keys deleted
/// meanwhile are skipped by their foreign key (their counts go with them).
pub fn add(
    conn: &mut DbConnection,
    hourly: &[HourlyCount],
    clients: &[ClientCount],
    last_uses: &[LastUse],
) -> Result<Written, DbError> {
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        let mut written = Written {
            batches: 1,
            ..Written::default()
        };
        let mut ids: Vec<&KeyId> = hourly
            .iter()
            .map(|h| &h.key_id)
            .chain(clients.iter().map(|c| &c.key_id))
            .chain(last_uses.iter().map(|u| &u.key_id))
            .collect();
        ids.sort();
        ids.dedup();
        let mut live: Vec<KeyId> = Vec::with_capacity(ids.len());
        // In chunks: SQLite bounds the number of parameters of a statement.
        for chunk in ids.chunks(1000) {
            live.extend(
                api_keys::table
                    .filter(api_keys::id.eq_any(chunk))
                    .select(api_keys::id)
                    .load::<KeyId>(conn)?,
            );
        }
        // Rows come back in no particular order.
        live.sort();
        let is_live = |k: &KeyId| live.binary_search(k).is_ok();
        for h in hourly.iter().filter(|h| is_live(&h.key_id)) {
            diesel::sql_query(
                "INSERT INTO key_usage_hourly (key_id, hour, outcome, requests) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key_id, hour, outcome) \
                 DO UPDATE SET requests = key_usage_hourly.requests + excluded.requests",
            )
            .bind::<Text, _>(&h.key_id)
            .bind::<Timestamp, _>(h.hour)
            .bind::<Text, _>(&h.outcome)
            .bind::<BigInt, _>(h.requests)
            .execute(conn)?;
            written.hourly_upserts += 1;
        }
        let mut trimmed: Vec<&KeyId> = Vec::new();
        for c in clients.iter().filter(|c| is_live(&c.key_id)) {
            let ops = &c.allowed_by_operation;
            diesel::sql_query(
                "INSERT INTO key_usage_clients \
                 (key_id, ip, first_seen, last_seen, requests, refused, \
                  calls_read, calls_write, calls_delete, knowledge_read, knowledge_write) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (key_id, ip) DO UPDATE SET \
                 first_seen = CASE WHEN excluded.first_seen < key_usage_clients.first_seen \
                   THEN excluded.first_seen ELSE key_usage_clients.first_seen END, \
                 last_seen = CASE WHEN excluded.last_seen > key_usage_clients.last_seen \
                   THEN excluded.last_seen ELSE key_usage_clients.last_seen END, \
                 requests = key_usage_clients.requests + excluded.requests, \
                 refused = key_usage_clients.refused + excluded.refused, \
                 calls_read = key_usage_clients.calls_read + excluded.calls_read, \
                 calls_write = key_usage_clients.calls_write + excluded.calls_write, \
                 calls_delete = key_usage_clients.calls_delete + excluded.calls_delete, \
                 knowledge_read = key_usage_clients.knowledge_read + excluded.knowledge_read, \
                 knowledge_write = key_usage_clients.knowledge_write + excluded.knowledge_write",
            )
            .bind::<Text, _>(&c.key_id)
            .bind::<Text, _>(&c.ip)
            .bind::<Timestamp, _>(c.first_seen)
            .bind::<Timestamp, _>(c.last_seen)
            .bind::<BigInt, _>(c.requests)
            .bind::<BigInt, _>(c.refused)
            .bind::<BigInt, _>(ops.calls_read)
            .bind::<BigInt, _>(ops.calls_write)
            .bind::<BigInt, _>(ops.calls_delete)
            .bind::<BigInt, _>(ops.knowledge_read)
            .bind::<BigInt, _>(ops.knowledge_write)
            .execute(conn)?;
            written.client_upserts += 1;
            let allowed = c.requests - c.refused;
            if allowed > 0 {
                // The day of the flush's last sighting: a flush spans 10 s, not days.
                diesel::sql_query(
                    "INSERT INTO key_usage_client_days \
                     (key_id, ip, day, allowed, \
                      calls_read, calls_write, calls_delete, knowledge_read, knowledge_write) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (key_id, ip, day) DO UPDATE SET \
                     allowed = key_usage_client_days.allowed + excluded.allowed, \
                     calls_read = key_usage_client_days.calls_read + excluded.calls_read, \
                     calls_write = key_usage_client_days.calls_write + excluded.calls_write, \
                     calls_delete = key_usage_client_days.calls_delete + excluded.calls_delete, \
                     knowledge_read = \
                       key_usage_client_days.knowledge_read + excluded.knowledge_read, \
                     knowledge_write = \
                       key_usage_client_days.knowledge_write + excluded.knowledge_write",
                )
                .bind::<Text, _>(&c.key_id)
                .bind::<Text, _>(&c.ip)
                .bind::<Timestamp, _>(start_of_day(c.last_seen))
                .bind::<BigInt, _>(allowed)
                .bind::<BigInt, _>(ops.calls_read)
                .bind::<BigInt, _>(ops.calls_write)
                .bind::<BigInt, _>(ops.calls_delete)
                .bind::<BigInt, _>(ops.knowledge_read)
                .bind::<BigInt, _>(ops.knowledge_write)
                .execute(conn)?;
            }
            if !trimmed.contains(&&c.key_id) {
                trimmed.push(&c.key_id);
            }
        }
        for key in trimmed {
            keep_recent_clients(conn, key)?;
        }
        for u in last_uses.iter().filter(|u| is_live(&u.key_id)) {
            diesel::update(
                api_keys::table.filter(api_keys::id.eq(&u.key_id)).filter(
                    api_keys::last_used_at
                        .is_null()
                        .or(api_keys::last_used_at.lt(u.at)),
                ),
            )
            .set((
                api_keys::last_used_at.eq(Some(u.at)),
                api_keys::last_used_ip.eq(Some(&u.ip)),
            ))
            .execute(conn)?;
            written.last_used_updates += 1;
        }
        Ok(written)
    })
}

/// [`add`], once per `batch` id: the id is recorded in the same transaction, and a batch whose
/// id is already there (written before, its commit's outcome lost to the writer) adds nothing.
pub fn add_once(
    conn: &mut DbConnection,
    batch: &str,
    now: NaiveDateTime,
    hourly: &[HourlyCount],
    clients: &[ClientCount],
    last_uses: &[LastUse],
) -> Result<Written, DbError> {
    super::write_transaction::<_, DbError, _>(conn, |conn| {
        let fresh = diesel::sql_query(
            "INSERT INTO usage_flush_batches (id, written_at) VALUES ($1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind::<Text, _>(batch)
        .bind::<Timestamp, _>(now)
        .execute(conn)?;
        if fresh == 0 {
            return Ok(Written::default());
        }
        add(conn, hourly, clients, last_uses)
    })
}

/// Keeps a key's [`MAX_CLIENTS_PER_KEY`] most recently seen addresses.
fn keep_recent_clients(conn: &mut DbConnection, key: &KeyId) -> QueryResult<usize> {
    let oldest: Vec<String> = kc::table
        .filter(kc::key_id.eq(key))
        .order((kc::last_seen.desc(), kc::ip.desc()))
        .offset(MAX_CLIENTS_PER_KEY)
        .limit(10_000)
        .select(kc::ip)
        .load(conn)?;
    if oldest.is_empty() {
        return Ok(0);
    }
    diesel::delete(
        kc::table
            .filter(kc::key_id.eq(key))
            .filter(kc::ip.eq_any(oldest)),
    )
    .execute(conn)
}

/// Forgets hourly counts from before `before` (90 days are kept), daily counts per address
/// older than [`CLIENT_DAYS_KEPT`], and the ids of batches written more than
/// [`BATCH_IDS_KEPT`] days ago.
pub fn prune(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    use super::schema::usage_flush_batches as fb;
    let now = crate::time::now();
    diesel::delete(fb::table.filter(fb::written_at.lt(now - chrono::Days::new(BATCH_IDS_KEPT))))
        .execute(conn)?;
    let days_before = start_of_day(now) - chrono::Days::new(CLIENT_DAYS_KEPT);
    let days = diesel::delete(kd::table.filter(kd::day.lt(days_before))).execute(conn)?;
    Ok(days + diesel::delete(kh::table.filter(kh::hour.lt(before))).execute(conn)?)
}

/// The ids of written batches are kept this many days: longer than a kept batch waits.
pub const BATCH_IDS_KEPT: u64 = 7;

/// Daily allowed requests per address are kept this many days (the edit warning reads 7).
pub const CLIENT_DAYS_KEPT: u64 = 8;

fn start_of_day(t: NaiveDateTime) -> NaiveDateTime {
    t.date().and_time(chrono::NaiveTime::MIN)
}

/// A key's allowed requests per client address over the UTC days from `since`'s day on
/// (today included), the addresses with most requests first.
pub fn allowed_by_client_since(
    conn: &mut DbConnection,
    key: &KeyId,
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = kd::table
        .filter(kd::key_id.eq(key))
        .filter(kd::day.ge(start_of_day(since)))
        .select((kd::ip, kd::allowed))
        .load(conn)?;
    let mut sums: std::collections::BTreeMap<String, i64> = Default::default();
    for (ip, n) in rows {
        *sums.entry(ip).or_default() += n;
    }
    let mut sums: Vec<(String, i64)> = sums.into_iter().collect();
    sums.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(sums)
}

/// A key's allowed requests over the UTC days from `since`'s day on (today included), by
/// kind of operation, and how many of them are of no recorded kind (counted before kinds were).
pub fn allowed_by_operation_since(
    conn: &mut DbConnection,
    key: &KeyId,
    since: NaiveDateTime,
) -> QueryResult<(AllowedByOperation, i64)> {
    let rows: Vec<(i64, AllowedByOperation)> = kd::table
        .filter(kd::key_id.eq(key))
        .filter(kd::day.ge(start_of_day(since)))
        .select((
            kd::allowed,
            (
                kd::calls_read,
                kd::calls_write,
                kd::calls_delete,
                kd::knowledge_read,
                kd::knowledge_write,
            ),
        ))
        .load(conn)?;
    // Summed here: SUM over BIGINT is NUMERIC on PostgreSQL and BIGINT on SQLite.
    let mut sum = AllowedByOperation::default();
    let mut allowed = 0;
    for (all, day) in rows {
        allowed += all;
        sum.calls_read += day.calls_read;
        sum.calls_write += day.calls_write;
        sum.calls_delete += day.calls_delete;
        sum.knowledge_read += day.knowledge_read;
        sum.knowledge_write += day.knowledge_write;
    }
    Ok((sum, (allowed - sum.total()).max(0)))
}

/// A key's hourly counts since `since`, oldest first.
pub fn hourly_since(
    conn: &mut DbConnection,
    key: &KeyId,
    since: NaiveDateTime,
) -> QueryResult<Vec<HourlyCount>> {
    kh::table
        .filter(kh::key_id.eq(key))
        .filter(kh::hour.ge(since))
        .order((kh::hour.asc(), kh::outcome.asc()))
        .select(HourlyCount::as_select())
        .load(conn)
}

/// A key's client addresses, most recently seen first.
pub fn clients(conn: &mut DbConnection, key: &KeyId) -> QueryResult<Vec<ClientCount>> {
    kc::table
        .filter(kc::key_id.eq(key))
        .order((kc::last_seen.desc(), kc::ip.asc()))
        .limit(MAX_CLIENTS_PER_KEY)
        .select(ClientCount::as_select())
        .load(conn)
}
