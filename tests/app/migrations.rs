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

async fn migrations_go_up_down_and_up_again(app: TestApp) {
    let users_before = count_rows(&app, "users").await;
    assert_eq!(users_before, 0);
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
    // The schema works after the round trip.
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
    // And every table loads through Diesel with its declared types.
    app.db(|c| {
        use diesel::prelude::*;
        settings::table
            .select(settings::all_columns)
            .load::<(String, String)>(c)?;
        projects::table
            .select(callem::db::models::Project::as_select())
            .load(c)?;
        users::table
            .select(callem::db::models::User::as_select())
            .load(c)?;
        api_keys::table
            .select(callem::db::models::ApiKey::as_select())
            .load(c)?;
        calls::table
            .select(callem::db::models::Call::as_select())
            .load(c)?;
        knowledge_items::table
            .select(callem::db::models::KnowledgeItem::as_select())
            .load(c)?;
        audit_events::table
            .select(callem::db::models::AuditEvent::as_select())
            .load(c)?;
        memberships::table
            .select(callem::db::models::Membership::as_select())
            .load(c)?;
        Ok(())
    })
    .await;
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
