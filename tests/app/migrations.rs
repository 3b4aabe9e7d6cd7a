//! The two migration folders stay in step, and every migration can be undone and redone.

use std::collections::BTreeSet;

use crate::helpers::*;
use callem::db::{self, migrations};

fn names(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_backends_have_the_same_migrations_with_up_and_down() {
    let pg = names("migrations/postgres");
    let lite = names("migrations/sqlite");
    assert!(!pg.is_empty());
    assert_eq!(pg, lite, "migrations/postgres and migrations/sqlite differ");
    for name in &pg {
        for backend in ["postgres", "sqlite"] {
            for file in ["up.sql", "down.sql"] {
                let path = format!("migrations/{backend}/{name}/{file}");
                assert!(std::path::Path::new(&path).exists(), "{path} is missing");
            }
        }
    }
}

/// The tables of the migrated database, from its own catalogue (Diesel's bookkeeping aside).
fn db_tables(conn: &mut callem::db::DbConnection) -> Vec<String> {
    use diesel::sql_types::Text;
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Table {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let tables = match conn {
        callem::db::DbConnection::Pg(c) => diesel::sql_query(
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .load::<Table>(c),
        callem::db::DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .load::<Table>(c),
    };
    let mut names: Vec<String> = tables
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .filter(|n| n != "__diesel_schema_migrations")
        .collect();
    names.sort();
    names
}

/// Rows in every table, each written by the app's own code (dashboard, API, usage flush),
/// and a check that none is left empty: the tables are read from the database, so a table
/// added later fails here until this puts a row in it too.
async fn fill_every_table(app: &TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    // api_keys, audit_events, audit_chain_heads (and projects, users, memberships, settings).
    let r = owner
        .create_key(&pid, &[("name", "Filled"), ("expires", "never")])
        .await;
    let key = revealed_key(&r.body);
    app.import_calls(
        &pid,
        r#"{"id":"c1","status":"completed","duration":1,"summary":"s","transcript":[{"role":"user","content":"hi"}],"createdAt":"2025-12-15T14:30:00.000Z"}"#,
    )
    .await;
    let k = app
        .create_knowledge(&key, &serde_json::json!({"name": "n", "text": "t"}))
        .await;
    assert_eq!(k.status, 201, "{}", k.body);
    // key_usage_hourly, key_usage_clients, key_usage_client_days, usage_flush_batches.
    assert_eq!(app.list_calls(&key, "").await.status, 200);
    app.flush_usage().await;
    // invitations.
    let r = crate::team::invite(&owner, &pid, "invited@example.com", "member").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // sign_in_failures.
    let stranger = app.agent();
    stranger.get("/login").await;
    stranger
        .post_form(
            "/login",
            &[
                ("email", "owner@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    // password_resets (the page sends it by email; the row is what matters here).
    app.db(|c| {
        let owner = db::users::find_by_email(c, "owner@example.com")?.expect("the owner");
        Ok(db::password_resets::create(
            c,
            &owner.id,
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            callem::time::now(),
        )?)
    })
    .await;
    // webhooks, webhook_events, webhook_deliveries, notifications: a webhook told of leaks,
    // and a leak report of the key; webhook_attempts: one attempt at it, recorded.
    crate::webhooks::add_webhook(
        app,
        &pid,
        "http://127.0.0.1:9/hook",
        &["api_key_revoked", "api_key_leaked"],
    )
    .await;
    let r = app
        .agent()
        .send(
            "POST",
            "/v1/leaked-keys",
            &[],
            Some((
                serde_json::json!({ "keys": [&key] }).to_string(),
                "application/json",
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.db(|c| {
        use db::webhook_deliveries::{self as d, AttemptRecord, Outcome};
        let now = callem::time::now() + chrono::Duration::minutes(1);
        let claimed = d::claim(c, now, 10)?;
        assert!(!claimed.is_empty(), "the leak's deliveries are due");
        let attempt = AttemptRecord {
            attempted_at: now,
            duration_ms: 1,
            status: Some(500),
            error: Some("the receiver answered 500".to_owned()),
            response_body: String::new(),
            request_headers: "[]".to_owned(),
        };
        d::record(c, &claimed[0], attempt, Outcome::GiveUp, now)
    })
    .await;
    let empty: Vec<String> = app
        .db(|c| {
            let mut empty = Vec::new();
            for table in db_tables(c) {
                let q = format!("SELECT COUNT(*) AS n FROM {table}");
                #[derive(diesel::QueryableByName)]
                struct N {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                use diesel::RunQueryDsl;
                let n: N = match c {
                    db::DbConnection::Pg(c) => diesel::sql_query(q).get_result(c)?,
                    db::DbConnection::Sqlite(c) => diesel::sql_query(q).get_result(c)?,
                };
                if n.n == 0 {
                    empty.push(table);
                }
            }
            Ok(empty)
        })
        .await;
    assert!(empty.is_empty(), "no row was put in {empty:?}");
}

async fn migrations_go_up_down_and_up_again(app: TestApp) {
    // Down migrations that copy or reshape tables are tried on rows, not on empty tables.
    fill_every_table(&app).await;
    assert!(count_rows(&app, "users").await >= 1);
    let reverted = app
        .db(|conn| {
            use diesel_migrations::MigrationHarness;
            let reverted = match conn {
                db::DbConnection::Pg(pg) => pg.revert_all_migrations(migrations::POSTGRES),
                db::DbConnection::Sqlite(lite) => lite.revert_all_migrations(migrations::SQLITE),
            };
            Ok(reverted.expect("every migration reverts").len())
        })
        .await;
    assert!(reverted >= 1);
    let again = app.db(migrations::run_pending).await;
    assert_eq!(again, reverted);
    // The schema works after the round trip (reverting everything dropped the rows).
    assert_eq!(app.db(|c| Ok(db::users::count(c)?)).await, 0);
    assert_eq!(
        app.db(migrations::run_pending).await,
        0,
        "nothing left pending"
    );
}

crate::on_both_backends!(migrations_go_up_down_and_up_again);

/// Columns of a table as the database has them.
fn db_columns(conn: &mut callem::db::DbConnection, table: &str) -> Vec<String> {
    use diesel::sql_types::Text;
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Col {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let mut cols: Vec<String> = match conn {
        callem::db::DbConnection::Pg(c) => diesel::sql_query(format!(
            "SELECT column_name AS name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{table}'"
        ))
        .load::<Col>(c),
        callem::db::DbConnection::Sqlite(c) => {
            diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
                .load::<Col>(c)
        }
    }
    .unwrap()
    .into_iter()
    .map(|c| c.name)
    .collect();
    cols.sort();
    cols
}

async fn the_schema_in_the_code_matches_the_migrated_database(app: TestApp) {
    use callem::db::schema::*;
    use diesel::Column;
    // Loading with the declared types means something only on rows.
    fill_every_table(&app).await;
    let expected: Vec<(&str, Vec<&str>)> = vec![
        (
            "settings",
            vec![settings::name::NAME, settings::value::NAME],
        ),
        (
            "projects",
            vec![
                projects::id::NAME,
                projects::name::NAME,
                projects::created_at::NAME,
                projects::calls_count::NAME,
                projects::knowledge_count::NAME,
            ],
        ),
        (
            "users",
            vec![
                users::id::NAME,
                users::email::NAME,
                users::password_hash::NAME,
                users::created_at::NAME,
                users::session_epoch::NAME,
                users::display_name::NAME,
                users::last_sign_in_at::NAME,
                users::email_verified_at::NAME,
            ],
        ),
        (
            "invitations",
            vec![
                invitations::id::NAME,
                invitations::project_id::NAME,
                invitations::email::NAME,
                invitations::role::NAME,
                invitations::token_hash::NAME,
                invitations::invited_by::NAME,
                invitations::created_at::NAME,
                invitations::expires_at::NAME,
                invitations::accepted_at::NAME,
                invitations::revoked_at::NAME,
                invitations::link_shown::NAME,
            ],
        ),
        (
            "memberships",
            vec![
                memberships::project_id::NAME,
                memberships::user_id::NAME,
                memberships::role::NAME,
                memberships::created_at::NAME,
            ],
        ),
        (
            "api_keys",
            vec![
                api_keys::id::NAME,
                api_keys::project_id::NAME,
                api_keys::name::NAME,
                api_keys::prefix::NAME,
                api_keys::key_hash::NAME,
                api_keys::allowed_ips::NAME,
                api_keys::expires_at::NAME,
                api_keys::last_used_at::NAME,
                api_keys::last_used_ip::NAME,
                api_keys::created_by::NAME,
                api_keys::created_at::NAME,
                api_keys::revoked_by::NAME,
                api_keys::revoked_at::NAME,
                api_keys::scope::NAME,
                api_keys::replaced_by::NAME,
                api_keys::rolled_at::NAME,
                api_keys::roll_baseline::NAME,
                api_keys::leak_reported_at::NAME,
            ],
        ),
        (
            "calls",
            vec![
                calls::id::NAME,
                calls::project_id::NAME,
                calls::status::NAME,
                calls::duration::NAME,
                calls::summary::NAME,
                calls::evaluation::NAME,
                calls::ended_reason::NAME,
                calls::caller_number::NAME,
                calls::called_number::NAME,
                calls::is_engaged::NAME,
                calls::call_analysis::NAME,
                calls::transcript::NAME,
                calls::created_at::NAME,
                calls::updated_at::NAME,
            ],
        ),
        (
            "knowledge_items",
            vec![
                knowledge_items::id::NAME,
                knowledge_items::project_id::NAME,
                knowledge_items::name::NAME,
                knowledge_items::description::NAME,
                knowledge_items::text::NAME,
                knowledge_items::created_at::NAME,
            ],
        ),
        (
            "audit_events",
            vec![
                audit_events::id::NAME,
                audit_events::project_id::NAME,
                audit_events::actor_user_id::NAME,
                audit_events::action::NAME,
                audit_events::target_type::NAME,
                audit_events::target_id::NAME,
                audit_events::ip::NAME,
                audit_events::created_at::NAME,
                audit_events::actor_kind::NAME,
                audit_events::actor_key_id::NAME,
                audit_events::detail::NAME,
                audit_events::seq::NAME,
                audit_events::actor_label::NAME,
                audit_events::target_label::NAME,
                audit_events::prev_hash::NAME,
                audit_events::hash::NAME,
            ],
        ),
        (
            "audit_chain_heads",
            vec![
                audit_chain_heads::project_id::NAME,
                audit_chain_heads::last_seq::NAME,
                audit_chain_heads::last_hash::NAME,
            ],
        ),
        (
            "key_usage_hourly",
            vec![
                key_usage_hourly::key_id::NAME,
                key_usage_hourly::hour::NAME,
                key_usage_hourly::outcome::NAME,
                key_usage_hourly::requests::NAME,
            ],
        ),
        (
            "key_usage_clients",
            vec![
                key_usage_clients::key_id::NAME,
                key_usage_clients::ip::NAME,
                key_usage_clients::first_seen::NAME,
                key_usage_clients::last_seen::NAME,
                key_usage_clients::requests::NAME,
                key_usage_clients::refused::NAME,
                key_usage_clients::calls_read::NAME,
                key_usage_clients::calls_write::NAME,
                key_usage_clients::calls_delete::NAME,
                key_usage_clients::knowledge_read::NAME,
                key_usage_clients::knowledge_write::NAME,
            ],
        ),
        (
            "key_usage_client_days",
            vec![
                key_usage_client_days::key_id::NAME,
                key_usage_client_days::ip::NAME,
                key_usage_client_days::day::NAME,
                key_usage_client_days::allowed::NAME,
                key_usage_client_days::calls_read::NAME,
                key_usage_client_days::calls_write::NAME,
                key_usage_client_days::calls_delete::NAME,
                key_usage_client_days::knowledge_read::NAME,
                key_usage_client_days::knowledge_write::NAME,
            ],
        ),
        (
            "password_resets",
            vec![
                password_resets::token_hash::NAME,
                password_resets::user_id::NAME,
                password_resets::created_at::NAME,
                password_resets::expires_at::NAME,
                password_resets::used_at::NAME,
            ],
        ),
        (
            "usage_flush_batches",
            vec![
                usage_flush_batches::id::NAME,
                usage_flush_batches::written_at::NAME,
            ],
        ),
        (
            "sign_in_failures",
            vec![
                sign_in_failures::email::NAME,
                sign_in_failures::failures::NAME,
                sign_in_failures::last_failure_at::NAME,
            ],
        ),
        (
            "webhooks",
            vec![
                webhooks::id::NAME,
                webhooks::project_id::NAME,
                webhooks::url::NAME,
                webhooks::description::NAME,
                webhooks::events::NAME,
                webhooks::secret_sealed::NAME,
                webhooks::previous_secret_sealed::NAME,
                webhooks::previous_secret_until::NAME,
                webhooks::enabled::NAME,
                webhooks::disabled_reason::NAME,
                webhooks::disabled_by::NAME,
                webhooks::disabled_at::NAME,
                webhooks::failing_since::NAME,
                webhooks::created_by::NAME,
                webhooks::created_at::NAME,
                webhooks::updated_at::NAME,
            ],
        ),
        (
            "webhook_events",
            vec![
                webhook_events::id::NAME,
                webhook_events::project_id::NAME,
                webhook_events::kind::NAME,
                webhook_events::subject::NAME,
                webhook_events::seq::NAME,
                webhook_events::payload::NAME,
                webhook_events::created_at::NAME,
            ],
        ),
        (
            "webhook_deliveries",
            vec![
                webhook_deliveries::id::NAME,
                webhook_deliveries::webhook_id::NAME,
                webhook_deliveries::event_id::NAME,
                webhook_deliveries::project_id::NAME,
                webhook_deliveries::kind::NAME,
                webhook_deliveries::subject::NAME,
                webhook_deliveries::seq::NAME,
                webhook_deliveries::state::NAME,
                webhook_deliveries::attempts::NAME,
                webhook_deliveries::next_attempt_at::NAME,
                webhook_deliveries::lease_until::NAME,
                webhook_deliveries::last_status::NAME,
                webhook_deliveries::last_error::NAME,
                webhook_deliveries::created_at::NAME,
                webhook_deliveries::updated_at::NAME,
                webhook_deliveries::delivered_at::NAME,
            ],
        ),
        (
            "webhook_attempts",
            vec![
                webhook_attempts::id::NAME,
                webhook_attempts::delivery_id::NAME,
                webhook_attempts::attempted_at::NAME,
                webhook_attempts::duration_ms::NAME,
                webhook_attempts::status::NAME,
                webhook_attempts::error::NAME,
                webhook_attempts::response_body::NAME,
                webhook_attempts::request_headers::NAME,
            ],
        ),
        (
            "notifications",
            vec![
                notifications::mark::NAME,
                notifications::project_id::NAME,
                notifications::kind::NAME,
                notifications::payload::NAME,
                notifications::created_at::NAME,
                notifications::claimed_at::NAME,
            ],
        ),
    ];
    for (table, cols) in expected {
        let mut cols: Vec<String> = cols.into_iter().map(str::to_owned).collect();
        cols.sort();
        let t = table.to_owned();
        let actual = app.db(move |c| Ok(db_columns(c, &t))).await;
        assert_eq!(
            actual, cols,
            "src/db/schema.rs and the migrations disagree on {table}"
        );
    }
    // And every table with a model loads through Diesel with its declared types, on rows.
    let loaded = app
        .db(|c| {
            use callem::db::models::*;
            use diesel::prelude::*;
            Ok(vec![
                (
                    "settings",
                    settings::table
                        .select(settings::all_columns)
                        .load::<(String, String)>(c)?
                        .len(),
                ),
                (
                    "projects",
                    projects::table.select(Project::as_select()).load(c)?.len(),
                ),
                (
                    "users",
                    users::table.select(User::as_select()).load(c)?.len(),
                ),
                (
                    "api_keys",
                    api_keys::table.select(ApiKey::as_select()).load(c)?.len(),
                ),
                (
                    "calls",
                    calls::table.select(Call::as_select()).load(c)?.len(),
                ),
                (
                    "knowledge_items",
                    knowledge_items::table
                        .select(KnowledgeItem::as_select())
                        .load(c)?
                        .len(),
                ),
                (
                    "audit_events",
                    audit_events::table
                        .select(AuditEvent::as_select())
                        .load(c)?
                        .len(),
                ),
                (
                    "memberships",
                    memberships::table
                        .select(Membership::as_select())
                        .load(c)?
                        .len(),
                ),
                (
                    "invitations",
                    invitations::table
                        .select(Invitation::as_select())
                        .load(c)?
                        .len(),
                ),
                (
                    "webhooks",
                    webhooks::table.select(Webhook::as_select()).load(c)?.len(),
                ),
                (
                    "webhook_events",
                    webhook_events::table
                        .select(WebhookEvent::as_select())
                        .load(c)?
                        .len(),
                ),
                (
                    "webhook_deliveries",
                    webhook_deliveries::table
                        .select(Delivery::as_select())
                        .load(c)?
                        .len(),
                ),
                (
                    "webhook_attempts",
                    webhook_attempts::table
                        .select(Attempt::as_select())
                        .load(c)?
                        .len(),
                ),
            ])
        })
        .await;
    for (table, rows) in loaded {
        assert!(rows > 0, "{table} loaded no row");
    }
}

crate::on_both_backends!(the_schema_in_the_code_matches_the_migrated_database);

#[actix_web::test]
#[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn postgres_over_tls_works_with_sslmode_require() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Tls {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ssl: bool,
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let mut db = TestDb::create(Backend::Postgres);
    // What managed PostgreSQL services ask for; the local server has a self-signed
    // certificate, which `require` accepts (it encrypts without verifying the certificate).
    if let TestDb::Postgres { url, .. } = &mut db {
        url.push_str("?sslmode=require");
    }
    let app = TestApp::spawn_on(db).await;
    let tls = app
        .db(|c| {
            Ok(diesel::sql_query(
                "SELECT ssl, COALESCE(version, '') AS version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            )
            .get_result::<Tls>(c)?)
        })
        .await;
    assert!(tls.ssl, "the connection is encrypted");
    assert!(tls.version.starts_with("TLS"), "{}", tls.version);
    assert_eq!(app.agent().get("/readyz").await.status, 200);
}
