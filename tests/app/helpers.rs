//! Test harness: a fresh database per test (a temp SQLite file, or a PostgreSQL database
//! created from `TEST_DATABASE_URL` and dropped after), the app on port 0, and an HTTP agent
//! that keeps its session cookie and CSRF token like a browser would.

use std::cell::RefCell;
use std::time::Duration;

use awc::http::header::HeaderMap;
use callem::config::{parse_trusted_proxies, Settings};
use callem::db::{self, DatabaseUrl, DbConnection, Pool};
use callem::domain::ids::ProjectId;
use callem::startup::Application;
use callem::usage::UsageRecorder;
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::sync::Arc;

pub const OWNER_EMAIL: &str = "owner@example.com";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn name(app: TestApp)` on SQLite, and again on PostgreSQL, as two
/// tests in a module of that name (the bodies stay ordinary functions that `cargo fmt` formats).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await).await
            }

            #[actix_web::test]
            #[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
            async fn postgres() {
                super::$name($crate::helpers::TestApp::spawn_postgres().await).await
            }
        }
        )*
    };
}

/// Runs each named `async fn name(backend: Backend)` on SQLite, and again on PostgreSQL: for
/// tests that start their own app (with adjusted settings) or their own processes.
#[macro_export]
macro_rules! with_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }

            #[actix_web::test]
            #[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
        )*
    };
}

/// Settings → API Keys of a project.
pub fn keys_path(project_id: &str) -> String {
    format!("/projects/{project_id}/settings/api-keys")
}

/// A key's own page.
pub fn key_path(project_id: &str, key_id: &str) -> String {
    format!("/projects/{project_id}/settings/api-keys/{key_id}")
}

/// The full key in a reveal panel.
pub fn revealed_key(body: &str) -> String {
    let re = regex_lite::Regex::new(r#"id="revealed-key" class="secret">(ck_live_[a-z0-9]{60})<"#)
        .unwrap();
    re.captures(body)
        .unwrap_or_else(|| panic!("no revealed key in {body}"))[1]
        .to_owned()
}

/// A project id as the tests hold it (from a URL) typed for the database layer.
pub fn project(id: &str) -> ProjectId {
    ProjectId::parse(id).expect("a project id")
}

/// The admin URL of the test PostgreSQL server. A test that needs it and finds it unset
/// fails with the reason (it is `ignore`d when the tests are compiled without
/// `TEST_DATABASE_URL`, so it runs without one only under `--include-ignored` or `CI=true`).
pub fn postgres_admin_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "this test needs PostgreSQL: set TEST_DATABASE_URL \
             (e.g. postgres://postgres@127.0.0.1:5432/postgres)"
        ),
    }
}

/// A database that exists for one test.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    pub fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb::Sqlite { _dir: dir, url }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = format!("callem_test_{}", callem::domain::ids::new_id());
                let mut admin = PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("cannot reach TEST_DATABASE_URL: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create test database");
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                TestDb::Postgres {
                    admin_url,
                    name,
                    url: url.to_string(),
                }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    #[allow(dead_code)]
    pub fn backend(&self) -> Backend {
        match self {
            TestDb::Sqlite { .. } => Backend::Sqlite,
            TestDb::Postgres { .. } => Backend::Postgres,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
        {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

pub fn settings_for(url: &str) -> Settings {
    Settings {
        database_url: DatabaseUrl::parse(url).expect("test url"),
        bind: "127.0.0.1:0".to_owned(),
        secret_key: None,
        trusted_proxies: parse_trusted_proxies("").unwrap(),
        secure_cookies: false,
        rate_limit_per_minute: 100_000,
        db_pool_size: 8,
        // The production deadline: ordinary work (a first batch of a large list, a login's
        // writes) on a machine loaded with argon2 and Chromium can take longer than the fault
        // tests' short one. The fault tests set [`FAULT_DEADLINE`].
        db_deadline: callem::db::SERVER_DEADLINE,
        public_origin: None,
        shutdown_drain: Duration::from_secs(0),
        usage_recording: true,
        // As shipped: no internal receiver allowed. The delivery tests allow 127.0.0.0/8.
        webhook_allowed: Default::default(),
        webhook_retries: Default::default(),
        smtp: None,
        session_policy: Default::default(),
        // Tests send bursts from one address; the cap's own test sets it low.
        conn_limits: callem::conn_limits::ConnLimits {
            max_connections_per_client: 1024,
            ..Default::default()
        },
    }
}

/// The database deadline of the servers in the tests that assert "a 503 within 2 s" (the
/// README's promise): far under it, so a loaded machine leaves 1.2 s of slack, not 0.2 s.
pub const FAULT_DEADLINE: Duration = Duration::from_millis(800);

/// Applies the migrations with no deadline (as a command does), so that a server then
/// started on the database with [`FAULT_DEADLINE`] does not spend its short deadline on
/// them: on a loaded machine a fresh PostgreSQL database takes longer than 0.8 s to migrate.
pub async fn migrate(url: &str) {
    let url = DatabaseUrl::parse(url).expect("a database URL");
    let pool = tokio::task::spawn_blocking(move || db::build_pool(&url, db::PoolUse::Command))
        .await
        .unwrap()
        .expect("the database opens");
    db::run(&pool, db::migrations::run_pending)
        .await
        .expect("the migrations apply");
}

/// A running app on its own database.
pub struct TestApp {
    pub address: String,
    pub pool: Pool,
    pub db: TestDb,
    /// The token of the setup link the server would print (while no user exists).
    pub setup_token: Option<String>,
    /// The server's key-usage counts not yet written.
    pub usage: Arc<UsageRecorder>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        let db = TestDb::create(backend);
        Self::spawn_on(db).await
    }

    pub async fn spawn_postgres() -> TestApp {
        Self::spawn(Backend::Postgres).await
    }

    pub async fn spawn_on(db: TestDb) -> TestApp {
        Self::spawn_configured(db, |_| {}).await
    }

    /// An app whose settings the test adjusts (bind address, proxies, rate limit…).
    pub async fn spawn_configured(db: TestDb, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = settings_for(db.url());
        adjust(&mut settings);
        let (address, pool, setup_token, usage) = start_server(settings).await;
        TestApp {
            address,
            pool,
            db,
            setup_token,
            usage,
        }
    }

    /// A key for the project, made by the same code the dashboard uses.
    pub async fn issue_key(
        &self,
        project_id: &str,
        allowed_ips: &str,
        expiry: callem::domain::expiry::Expiry,
    ) -> (String, String) {
        self.issue_scoped_key(project_id, allowed_ips, expiry, Default::default())
            .await
    }

    /// [`TestApp::issue_key`] with a scope.
    pub async fn issue_scoped_key(
        &self,
        project_id: &str,
        allowed_ips: &str,
        expiry: callem::domain::expiry::Expiry,
        scope: callem::domain::scope::Scope,
    ) -> (String, String) {
        let (pid, ips) = (project(project_id), allowed_ips.to_owned());
        let (id, secret) = self
            .db(move |conn| {
                let rules = callem::domain::ip_rules::IpRules::parse(&ips).unwrap();
                let name = callem::domain::api_key::ApiKeyName::parse("test key").unwrap();
                db::api_keys::issue(
                    conn,
                    &db::api_keys::KeyRequest {
                        project_id: &pid,
                        name: &name,
                        rules: &rules,
                        expiry,
                        scope,
                        actor: &callem::domain::actor::Actor::command_line(),
                    },
                    callem::time::now(),
                )
            })
            .await;
        (id.into_string(), secret.expose_secret().to_owned())
    }

    /// Imports calls (JSON Lines) into a project through the import code path.
    pub async fn import_calls(&self, project_id: &str, jsonl: &str) -> usize {
        let rows =
            callem::import::read_calls(jsonl.as_bytes(), &project(project_id), callem::time::now())
                .expect("valid calls");
        let calls: Vec<_> = rows.into_iter().map(|r| r.call).collect();
        self.db(move |conn| db::calls::insert_all(conn, &calls, None, |_| {}))
            .await
    }

    /// `GET /v1/calls` with a query string (`""`, `"?limit=5"` …).
    pub async fn list_calls(&self, key: &str, query: &str) -> Resp {
        self.api("GET", &format!("/v1/calls{query}"), key).await
    }

    /// `GET /v1/calls/{id}`.
    pub async fn get_call(&self, key: &str, id: &str) -> Resp {
        self.api("GET", &format!("/v1/calls/{id}"), key).await
    }

    /// `DELETE /v1/calls/{id}`.
    pub async fn delete_call(&self, key: &str, id: &str) -> Resp {
        self.api("DELETE", &format!("/v1/calls/{id}"), key).await
    }

    /// `GET /v1/knowledge` with a query string.
    pub async fn list_knowledge(&self, key: &str, query: &str) -> Resp {
        self.api("GET", &format!("/v1/knowledge{query}"), key).await
    }

    /// `GET /v1/knowledge/{id}`.
    pub async fn get_knowledge(&self, key: &str, id: &str) -> Resp {
        self.api("GET", &format!("/v1/knowledge/{id}"), key).await
    }

    /// `POST /v1/knowledge` with a JSON body.
    pub async fn create_knowledge(&self, key: &str, body: &serde_json::Value) -> Resp {
        self.agent()
            .send(
                "POST",
                "/v1/knowledge",
                &[("authorization", format!("Bearer {key}"))],
                Some((body.to_string(), "application/json")),
            )
            .await
    }

    /// `DELETE /v1/knowledge/{id}`.
    pub async fn delete_knowledge(&self, key: &str, id: &str) -> Resp {
        self.api("DELETE", &format!("/v1/knowledge/{id}"), key)
            .await
    }

    /// Any request to the API with a bearer token (for methods and paths it does not route).
    pub async fn api(&self, method: &str, path: &str, key: &str) -> Resp {
        self.agent()
            .send(
                method,
                path,
                &[("authorization", format!("Bearer {key}"))],
                None,
            )
            .await
    }

    /// Writes the key-usage counts now, as the 10-second flush does.
    pub async fn flush_usage(&self) -> callem::db::key_usage::Written {
        self.usage.flush(&self.pool).await.expect("usage flushed")
    }

    /// Another server (a replica) on the same database.
    pub async fn replica(&self) -> String {
        start_server(settings_for(self.db.url())).await.0
    }

    /// A replica and its own key-usage counts.
    pub async fn replica_with_usage(&self) -> (String, Arc<UsageRecorder>) {
        let (address, _, _, usage) = start_server(settings_for(self.db.url())).await;
        (address, usage)
    }

    /// A replica with adjusted settings (trusted proxies, say), and its key-usage counts.
    pub async fn replica_configured(
        &self,
        adjust: impl FnOnce(&mut Settings),
    ) -> (String, Arc<UsageRecorder>) {
        let mut settings = settings_for(self.db.url());
        adjust(&mut settings);
        let (address, _, _, usage) = start_server(settings).await;
        (address, usage)
    }

    pub fn agent(&self) -> Agent {
        Agent::new(&self.address)
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Runs database work directly (arrange / assert).
    pub async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, db::DbError> + Send + 'static,
    ) -> T {
        db::run(&self.pool, f).await.expect("test database work")
    }

    /// The setup link `callem serve` prints.
    pub fn setup_link(&self) -> String {
        format!(
            "/setup?token={}",
            self.setup_token.as_deref().expect("no user yet")
        )
    }

    pub fn setup_token(&self) -> &str {
        self.setup_token.as_deref().expect("no user yet")
    }

    /// Completes /setup with the owner account; returns the owner's signed-in agent and the
    /// project id.
    pub async fn setup_owner(&self) -> (Agent, String) {
        let agent = self.agent();
        agent.get(&self.setup_link()).await;
        let r = agent
            .post_form(
                "/setup",
                &[
                    ("setup_token", self.setup_token()),
                    ("email", OWNER_EMAIL),
                    ("password", PASSWORD),
                    ("project_name", "Acme"),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "setup failed: {}", r.body);
        let project_id = r.location().trim_start_matches("/projects/").to_owned();
        (agent, project_id)
    }

    /// Adds a user with a role to a project (as `callem user create` does) and signs them in.
    pub async fn user_with_role(&self, project_id: &str, email: &str, role: &str) -> Agent {
        let (email_s, pid) = (email.to_owned(), project(project_id));
        let role: callem::domain::role::Role = role.parse().unwrap();
        let hash = callem::auth::password::hash(
            &callem::domain::account::Password::parse(PASSWORD).unwrap(),
        )
        .unwrap();
        self.db(move |conn| {
            db::users::add_to_project(conn, &email_s, Some(&hash), &pid, role, callem::time::now())
        })
        .await;
        let agent = self.agent();
        agent.login(email, PASSWORD).await;
        agent
    }

    /// Creates a second project (with no members).
    pub async fn other_project(&self, name: &str) -> String {
        let id = ProjectId::generate();
        let (pid, name) = (id.clone(), name.to_owned());
        self.db(move |conn| {
            Ok(db::projects::insert(
                conn,
                &pid,
                &name,
                callem::time::now(),
            )?)
        })
        .await;
        id.into_string()
    }
}

async fn start_server(settings: Settings) -> (String, Pool, Option<String>, Arc<UsageRecorder>) {
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let pool = app.pool().clone();
    let token = app.setup_token().map(str::to_owned);
    let usage = app.usage();
    actix_web::rt::spawn(app.run_until_stopped());
    (address, pool, token, usage)
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> String {
        self.header("location").unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A browser-like client: one session cookie, the last CSRF token seen, no redirects followed.
pub struct Agent {
    pub base: String,
    client: awc::Client,
    cookie: RefCell<Option<String>>,
    csrf: RefCell<Option<String>>,
}

impl Agent {
    pub fn new(base: &str) -> Agent {
        Agent {
            base: base.to_owned(),
            client: awc::Client::builder()
                .disable_redirects()
                .timeout(Duration::from_secs(30))
                .finish(),
            cookie: RefCell::new(None),
            csrf: RefCell::new(None),
        }
    }

    pub fn cookie(&self) -> Option<String> {
        self.cookie.borrow().clone()
    }

    pub fn set_cookie(&self, cookie: Option<String>) {
        *self.cookie.borrow_mut() = cookie;
    }

    pub fn csrf(&self) -> String {
        self.csrf
            .borrow()
            .clone()
            .expect("a page with a CSRF token was loaded first")
    }

    /// Same session, different server (another replica).
    pub fn on(&self, base: &str) -> Agent {
        let a = Agent::new(base);
        a.set_cookie(self.cookie());
        *a.csrf.borrow_mut() = self.csrf.borrow().clone();
        a
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<(String, &str)>,
    ) -> Resp {
        let url = format!("{}{}", self.base, path);
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, &url);
        if let Some(c) = self.cookie() {
            req = req.insert_header(("cookie", c));
        }
        for (k, v) in headers {
            // Appended, so a test can send one header on several lines.
            req = req.append_header((*k, v.clone()));
        }
        let mut res = match body {
            Some((b, ct)) => req.insert_header(("content-type", ct)).send_body(b).await,
            None => req.send().await,
        }
        .unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
        let bytes = res.body().limit(64 * 1024 * 1024).await.expect("body");
        let body = String::from_utf8_lossy(&bytes).into_owned();
        for v in res.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap_or_default();
            let pair = s.split(';').next().unwrap_or_default().to_owned();
            if pair.ends_with('=') || s.contains("Max-Age=0") {
                self.set_cookie(None);
            } else {
                self.set_cookie(Some(pair));
            }
        }
        if let Some(t) = find_csrf(&body) {
            *self.csrf.borrow_mut() = Some(t);
        }
        Resp {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None).await
    }

    pub async fn get_htmx(&self, path: &str) -> Resp {
        self.send("GET", path, &[("hx-request", "true".into())], None)
            .await
    }

    fn origin(&self) -> (&'static str, String) {
        ("origin", self.base.clone())
    }

    /// A plain form post, as the browser sends it: same origin, token in the form.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let token = self.csrf.borrow().clone().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        let body = serde_urlencoded::to_string(&all).unwrap();
        self.send(
            "POST",
            path,
            &[self.origin()],
            Some((body, "application/x-www-form-urlencoded")),
        )
        .await
    }

    /// An htmx post: same origin, token in the X-CSRF-Token header.
    pub async fn post_htmx(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let headers = [
            self.origin(),
            ("hx-request", "true".into()),
            (
                "x-csrf-token",
                self.csrf.borrow().clone().unwrap_or_default(),
            ),
        ];
        self.send(
            "POST",
            path,
            &headers,
            Some((body, "application/x-www-form-urlencoded")),
        )
        .await
    }

    /// Creates a key from the dashboard's modal (htmx, as the page does).
    pub async fn create_key(&self, project_id: &str, fields: &[(&str, &str)]) -> Resp {
        self.post_htmx(&format!("/projects/{project_id}/settings/api-keys"), fields)
            .await
    }

    /// Revokes a key from the dashboard's confirmation (htmx, as the page does).
    pub async fn revoke_key(&self, project_id: &str, key_id: &str) -> Resp {
        self.post_htmx(
            &format!("/projects/{project_id}/settings/api-keys/{key_id}/revoke"),
            &[],
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.get("/login").await;
        let r = self
            .post_form("/login", &[("email", email), ("password", password)])
            .await;
        assert_eq!(r.status, 303, "login failed: {}", r.body);
        r
    }
}

fn find_csrf(body: &str) -> Option<String> {
    let re =
        regex_lite::Regex::new(r#"(?:name="csrf_token" value="|"X-CSRF-Token": ")([0-9a-f]{48})"#)
            .unwrap();
    re.captures(body).map(|c| c[1].to_owned())
}

/// Every text value of every row of every table, for "the key is stored nowhere" checks.
pub fn dump_all_tables(conn: &mut DbConnection) -> String {
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        t: String,
    }
    let tables = [
        "settings",
        "projects",
        "users",
        "memberships",
        "api_keys",
        "calls",
        "knowledge_items",
        "audit_events",
        "audit_chain_heads",
        "password_resets",
        "invitations",
        "key_usage_clients",
    ];
    let mut out = String::new();
    for table in tables {
        let sql = match conn {
            DbConnection::Pg(_) => format!("SELECT CAST(x AS TEXT) AS t FROM {table} x"),
            DbConnection::Sqlite(_) => {
                // SQLite has no row-to-text cast: concatenate every column.
                let cols: Vec<String> = columns(conn, table)
                    .into_iter()
                    .map(|c| format!("COALESCE(CAST({c} AS TEXT), '')"))
                    .collect();
                format!("SELECT {} AS t FROM {table}", cols.join(" || '|' || "))
            }
        };
        let rows: Vec<Row> = match conn {
            DbConnection::Pg(c) => diesel::sql_query(sql).load(c).unwrap(),
            DbConnection::Sqlite(c) => diesel::sql_query(sql).load(c).unwrap(),
        };
        for r in rows {
            out.push_str(&r.t);
            out.push('\n');
        }
    }
    out
}

fn columns(conn: &mut DbConnection, table: &str) -> Vec<String> {
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Col {
        #[diesel(sql_type = Text)]
        name: String,
    }
    match conn {
        DbConnection::Sqlite(c) => {
            diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
                .load::<Col>(c)
                .unwrap()
                .into_iter()
                .map(|c| c.name)
                .collect()
        }
        DbConnection::Pg(_) => vec![],
    }
}

pub async fn count_rows(app: &TestApp, table: &'static str) -> i64 {
    use diesel::sql_types::BigInt;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    app.db(move |conn| {
        let q = format!("SELECT COUNT(*) AS n FROM {table}");
        let n: N = match conn {
            DbConnection::Pg(c) => diesel::sql_query(q).get_result(c)?,
            DbConnection::Sqlite(c) => diesel::sql_query(q).get_result(c)?,
        };
        Ok(n.n)
    })
    .await
}

/// `callem serve` as a real process (for what only a process shows: its log, its memory,
/// its signals), on port 0 of 127.0.0.1.
pub struct Served {
    pub child: std::process::Child,
    pub base: String,
    /// Everything the server wrote to stderr (its log) and stdout, so far.
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
    pub stdout: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Served {
    pub fn start(db_url: &str, env: &[(&str, &str)]) -> Served {
        use std::io::{BufRead, Read};
        use std::process::{Command, Stdio};
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_callem"));
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", db_url)
            .env("CALLEM_RATE_LIMIT_PER_MINUTE", "1000000")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("run callem serve");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let base = first
            .strip_prefix("Callem Studio is running at ")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
            .to_owned();
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stdout.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while out.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Served {
            child,
            base,
            stderr,
            stdout,
        }
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The log once everything written for the requests answered so far is in it: a later
    /// marker request is made and its access-log line (found by its request id) waited for,
    /// so a check that a line is absent cannot run before that line would have been written.
    pub async fn log_settled(&self) -> String {
        let marker = Agent::new(&self.base).get("/healthz").await;
        let id = marker.header("x-request-id").expect("a request id");
        for _ in 0..100 {
            let log = self.log();
            if log.lines().any(|l| l.contains(&id) && l.contains("close")) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the marker request {id} never reached the log: {}",
            self.log()
        );
    }

    /// The process's peak resident memory so far, in MiB (`VmHWM`).
    pub fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kb / 1024
    }

    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `callem` with arguments on a database; (exit code, stdout, stderr).
pub fn run_callem(db_url: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_callem"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run callem");
    if let Some(input) = stdin {
        let written = child.stdin.take().unwrap().write_all(input.as_bytes());
        // A command that refuses its arguments exits without reading stdin.
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The contract's error body: (status, message), checking its exact shape.
pub fn api_error(r: &Resp) -> (u16, String) {
    let v = r.json();
    assert_eq!(v.as_object().map(|o| o.len()), Some(2), "{}", r.body);
    assert_eq!(v["statusCode"], r.status, "statusCode matches the status");
    (
        r.status,
        v["message"].as_str().unwrap_or_default().to_owned(),
    )
}
