//! `Application::build`: pool, migrations, session key, middleware order, routes. Used by
//! `main` and by the tests (bound to port 0).

use std::net::TcpListener;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::SessionMiddleware;
use actix_web::cookie::{time::Duration as CookieDuration, Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse};
use sha2::{Digest, Sha512};
use tracing_actix_web::TracingLogger;

use crate::auth::csrf;
use crate::config::Settings;
use crate::db::{self, DbError, Pool, PoolUse};
use crate::domain::one_time_token::OneTimeToken;
use crate::secret::Secret;
use crate::state::AppState;
use crate::web::{error::WebError, health, static_files};

/// Why the server could not start.
/// Each says its cause once, in one line (the cause is part of the message, not a chained
/// source that would be printed a second time).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use the database at {url}: {cause}")]
    Database { url: String, cause: DbError },
    #[error("{}", bind_message(addr, cause))]
    Bind { addr: String, cause: std::io::Error },
    #[error("{0}")]
    Email(String),
}

/// "port 8080 is in use — set CALLEM_BIND or --bind, e.g. 127.0.0.1:8081", and the like.
fn bind_message(addr: &str, cause: &std::io::Error) -> String {
    let (host, port) = addr.rsplit_once(':').unwrap_or(("127.0.0.1", addr));
    let next = port
        .parse::<u16>()
        .ok()
        .and_then(|p| p.checked_add(1))
        .map_or_else(|| format!("{host}:8081"), |p| format!("{host}:{p}"));
    match cause.kind() {
        std::io::ErrorKind::AddrInUse => {
            format!("port {port} is in use — set CALLEM_BIND or --bind, e.g. {next}")
        }
        std::io::ErrorKind::PermissionDenied => format!(
            "not allowed to listen on {addr} (ports below 1024 need privileges) — set CALLEM_BIND or --bind, e.g. 127.0.0.1:8080"
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "{host} is not an address of this machine — set CALLEM_BIND or --bind, e.g. 127.0.0.1:{port} or 0.0.0.0:{port}"
        ),
        _ => format!("cannot listen on {addr}: {cause}"),
    }
}

/// The server's secret key material: `CALLEM_SECRET_KEY`, or one generated once and kept in
/// the database so sessions survive restarts and work on every replica. The session key and
/// the key sealing webhook secrets are both derived from it (each under its own label), so the
/// command line, given the same `CALLEM_SECRET_KEY` (or none), seals as the server does.
pub async fn key_material(secret_key: Option<&Secret>, pool: &Pool) -> Result<String, DbError> {
    Ok(match secret_key {
        Some(secret) => secret.expose().to_owned(),
        None => {
            let fresh: String = (0..4).map(|_| crate::domain::ids::new_id()).collect();
            db::run(pool, move |conn| {
                Ok(db::settings::get_or_insert(
                    conn,
                    db::settings::SESSION_KEY,
                    &fresh,
                )?)
            })
            .await?
        }
    })
}

/// The session key, from the key material.
fn session_key(material: &str) -> Key {
    Key::from(Sha512::digest(material.as_bytes()).as_slice())
}

/// Echoes the request id of the log span in an `X-Request-Id` response header, so a user's
/// report can be matched with the server's log.
async fn request_id_header(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    let id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string());
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| actix_web::http::header::HeaderValue::from_str(&id).ok())
    {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            value,
        );
    }
    Ok(res)
}

/// A built server, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    pool: Pool,
    state: web::Data<AppState>,
    setup_token: Option<OneTimeToken>,
    jobs: crate::jobs::Runner,
}

/// While no user exists, a fresh setup token (its hash stored, so any replica accepts it);
/// the previous start's link stops working.
async fn new_setup_token(pool: &Pool) -> Result<Option<OneTimeToken>, DbError> {
    let token = OneTimeToken::generate();
    let hash = token.hash();
    let fresh = db::run(pool, move |conn| {
        if db::users::count(conn)? > 0 {
            return Ok(false);
        }
        db::settings::put(conn, db::settings::SETUP_TOKEN, &hash)?;
        Ok(true)
    })
    .await?;
    Ok(fresh.then_some(token))
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let pool = db::open(
            &settings.database_url,
            PoolUse::Server(settings.db_pool_size, settings.db_deadline),
        )
        .await
        .map_err(|cause| StartError::Database {
            url: settings.database_url.redacted(),
            cause,
        })?;
        let material = key_material(settings.secret_key.as_ref(), &pool)
            .await
            .map_err(|cause| StartError::Database {
                url: settings.database_url.redacted(),
                cause,
            })?;
        let key = session_key(&material);
        let webhooks = crate::webhooks::Config {
            allowed: settings.webhook_allowed.clone(),
            retries: settings.webhook_retries.clone(),
            sealer: crate::webhooks::secret::Sealer::from_material(&material),
        };
        drop(material);
        let setup_token = new_setup_token(&pool)
            .await
            .map_err(|cause| StartError::Database {
                url: settings.database_url.redacted(),
                cause,
            })?;
        let mailer = settings
            .smtp
            .as_ref()
            .map(crate::email::Mailer::new)
            .transpose()
            .map_err(StartError::Email)?;
        let listener = TcpListener::bind(&settings.bind).map_err(|cause| StartError::Bind {
            addr: settings.bind.clone(),
            cause,
        })?;
        let bound = listener.local_addr().map_err(|cause| StartError::Bind {
            addr: settings.bind.clone(),
            cause,
        })?;
        let port = bound.port();
        let link_base =
            crate::config::link_base(settings.public_origin.as_ref(), &bound.to_string());
        if mailer.is_some() && link_base.is_none() {
            tracing::warn!(
                "email is set up, but no invitation or password-reset link can be sent: {}",
                crate::config::NO_LINK_BASE
            );
        }
        let usage = std::sync::Arc::new(crate::usage::UsageRecorder::new(settings.usage_recording));
        let (jobs, jobs_runner) = crate::jobs::Jobs::start(crate::jobs::Setup {
            pool: pool.clone(),
            mailer: mailer.clone(),
            link_base: link_base.clone(),
            usage: usage.clone(),
            webhooks: webhooks.clone(),
        });
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            trusted_proxies: settings.trusted_proxies.clone(),
            public_origin: settings.public_origin.clone(),
            secure_cookies: settings.secure_cookies,
            rate_limiter: crate::rate_limit::RateLimiter::new(settings.rate_limit_per_minute),
            sign_in_limiter: crate::rate_limit::RateLimiter::with_window(
                crate::web::login::ATTEMPTS_PER_WINDOW,
                crate::web::login::ATTEMPT_WINDOW,
            ),
            invitation_limiter: crate::rate_limit::RateLimiter::with_window(
                crate::web::login::ATTEMPTS_PER_WINDOW,
                crate::web::login::ATTEMPT_WINDOW,
            ),
            mailer,
            link_base,
            jobs,
            usage: usage.clone(),
            password_slots: Default::default(),
            session_policy: settings.session_policy,
            draining: Default::default(),
            webhooks,
        });
        let app_state = state.clone();
        let secure = settings.secure_cookies;
        let server = crate::conn_limits::serve(
            listener,
            settings.conn_limits,
            settings.trusted_proxies.clone(),
            10,
            move || {
                let session =
                    SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                        .cookie_name("callem_session".to_owned())
                        .cookie_secure(secure)
                        .cookie_http_only(true)
                        .cookie_same_site(SameSite::Lax)
                        .cookie_content_security(CookieContentSecurity::Private)
                        .session_lifecycle(
                            PersistentSession::default().session_ttl(CookieDuration::days(14)),
                        )
                        .build();
                App::new()
                    .app_data(state.clone())
                    .app_data(web::FormConfig::default().limit(1024 * 1024))
                    .wrap(from_fn(crate::edge::guard))
                    .wrap(from_fn(request_id_header))
                    .wrap(TracingLogger::<crate::request::AccessLog>::new())
                    .route("/healthz", web::get().to(health::healthz))
                    .route("/readyz", web::get().to(health::readyz))
                    .route("/static/{name}", web::get().to(static_files::serve))
                    .route("/favicon.ico", web::get().to(static_files::favicon))
                    .service(crate::api::scope())
                    .service(
                        web::scope("")
                            .wrap(from_fn(csrf::protect))
                            .wrap(session)
                            // Outermost, so a CSRF refusal reaches htmx as a toast too.
                            .wrap(from_fn(crate::web::htmx::toasts_for_htmx))
                            .configure(crate::web::config),
                    )
                    // An error (not a rendered page), so an htmx request gets it as a toast.
                    .default_service(web::to(|| async {
                        Err::<HttpResponse, _>(WebError::NotFound)
                    }))
                    // Outermost: sees every request's head arrive and its response end.
                    .wrap(from_fn(crate::conn_limits::track_requests))
            },
        )
        // (`main` listens for SIGTERM/SIGINT itself, from before the first line it prints.)
        .map_err(|cause| StartError::Bind {
            addr: settings.bind.clone(),
            cause,
        })?;
        Ok(Application {
            port,
            server,
            pool,
            state: app_state,
            setup_token,
            jobs: jobs_runner,
        })
    }

    /// The token of the setup link, when no user exists yet (print it; it is shown nowhere
    /// else).
    pub fn setup_token(&self) -> Option<&str> {
        self.setup_token.as_ref().map(OneTimeToken::expose)
    }

    /// Starts draining for shutdown: `/readyz` fails from now on, everything else is served.
    pub fn drain_handle(&self) -> DrainHandle {
        DrainHandle(self.state.clone())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A handle to stop the server gracefully (in-flight requests finish, 10 s at most).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The key-usage counts not yet written (tests flush them at will).
    pub fn usage(&self) -> std::sync::Arc<crate::usage::UsageRecorder> {
        self.state.usage.clone()
    }

    /// The runs and failures of the background jobs (see [`crate::jobs::JobStats`]).
    pub fn job_stats(&self) -> crate::jobs::JobStats {
        self.jobs.stats()
    }

    /// Runs until stopped through [`Application::handle`], then drains the background jobs
    /// (queued jobs done, ticks in progress ended: [`crate::jobs::DRAIN_LIMIT`] at most) and
    /// writes the key-usage counts still pending (graceful shutdown loses none).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.jobs.drain().await;
        // Here rather than in the flush job's drain: its deadline fits its size (see
        // `usage::flush_deadline`), which may exceed `DRAIN_LIMIT`, and it must come after
        // the flush job's last tick (which the drain waited for).
        if let Err(e) = self.state.usage.flush(&self.pool).await {
            tracing::warn!(error = %e, "key usage of the last seconds could not be written");
        }
        served
    }
}

/// Tells the server it is about to stop (see [`Application::drain_handle`]).
#[derive(Clone)]
pub struct DrainHandle(web::Data<AppState>);

impl DrainHandle {
    pub fn start(&self) {
        self.0
            .draining
            .store(true, std::sync::atomic::Ordering::Release);
    }
}
