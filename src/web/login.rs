//! `/login` and `/logout`.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::WebError;
use super::htmx;
use crate::auth::{password, session::TypedSession};
use crate::db;
use crate::domain::account::EmailAddress;
use crate::domain::session_policy::Ended;
use crate::domain::sign_in;
use crate::request::ClientIp;
use crate::state::AppState;

/// The one message for an unknown email and for a wrong password.
pub const BAD_CREDENTIALS: &str = "Incorrect email or password.";

/// Sign-in attempts allowed per client address in [`ATTEMPT_WINDOW`]; beyond that the form
/// answers 429 until the window ends, whatever the password.
pub const ATTEMPTS_PER_WINDOW: u32 = 10;
pub const ATTEMPT_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Template, Default)]
#[template(path = "pages/login.html")]
struct LoginPage {
    csrf_token: String,
    email: String,
    email_error: Option<String>,
    password_error: Option<String>,
    form_error: Option<String>,
    /// What just happened (a password reset).
    notice: Option<&'static str>,
    /// Email is configured, with an address for links: offer "Forgot your password?".
    can_recover: bool,
    /// Why the last session ended, when it ended by its own limits.
    ended: Option<String>,
}

/// `?reset=done` after a password reset, `?ended=idle|lifetime` after a session ended.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    reset: Option<String>,
    /// Set by the sign-in guard when a session ended by its own limits.
    ended: Option<String>,
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, WebError> {
    if session.user_id()?.is_some() {
        return Ok(htmx::redirect(&req, "/"));
    }
    if db::run(&state.pool, |conn| Ok(db::users::count(conn)?)).await? == 0 {
        return Ok(htmx::redirect(&req, "/setup"));
    }
    htmx::html(&LoginPage {
        csrf_token: session.csrf_token()?,
        notice: (query.reset.as_deref() == Some("done"))
            .then_some("Your password was changed. Sign in with the new one."),
        ended: query
            .ended
            .as_deref()
            .and_then(Ended::parse)
            .map(|why| state.session_policy.explain(why)),
        can_recover: state.emails_links(),
        email: session.sign_in_email().unwrap_or_default(),
        ..Default::default()
    })
}

pub async fn submit(
    req: HttpRequest,
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let mut page = LoginPage {
        csrf_token: session.csrf_token()?,
        email: form.email.clone(),
        can_recover: state.emails_links(),
        ..Default::default()
    };
    let attempt = state
        .sign_in_limiter
        .check(client.counted_as(), std::time::Instant::now());
    if !attempt.allowed {
        let wait = i64::try_from(attempt.reset_secs).unwrap_or(i64::MAX);
        return too_many(page, wait, "Too many sign-in attempts from your address.");
    }
    let email = match EmailAddress::parse(&form.email) {
        Ok(e) => Some(e),
        Err(e) => {
            page.email_error = Some(e.0);
            None
        }
    };
    if form.password.is_empty() {
        page.password_error = Some("Password is required.".to_owned());
    }
    let Some(email) = email.filter(|_| page.password_error.is_none()) else {
        return Ok(HttpResponse::UnprocessableEntity()
            .content_type("text/html; charset=utf-8")
            .body(page.render()?));
    };
    let email_str = email.as_str().to_owned();
    let now = crate::time::now();
    let (user, failures) = db::run(&state.pool, move |conn| {
        let user = db::users::find_by_email(conn, &email_str)?;
        let failures = db::sign_in_failures::find(conn, &email_str)?;
        Ok((user, failures))
    })
    .await?;
    // The per-account wait holds whichever address the guesses come from, on every replica.
    if let Some(wait) = failures.and_then(|(n, last)| sign_in::wait_left(n, last, now)) {
        tracing::info!("sign-in refused: the account is waiting after failed attempts");
        return too_many(page, wait, "Too many failed sign-ins for this account.");
    }
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let candidate = form.password;
    // Unknown emails still pay for a full hash: both failures take the same time.
    let ok = state
        .password_slots
        .run(move || password::verify(&candidate, stored.as_deref()))
        .await?;
    let email_str = email.as_str().to_owned();
    match user.filter(|_| ok) {
        Some(user) => {
            let uid = user.id.clone();
            db::run(&state.pool, move |conn| {
                db::sign_in_failures::clear(conn, &email_str)?;
                Ok(db::users::record_sign_in(conn, &uid, now)?)
            })
            .await?;
            session.sign_in(&user.id, user.session_epoch)?;
            tracing::info!(user_id = %user.id, "signed in");
            Ok(htmx::redirect(&req, "/"))
        }
        None => {
            db::run(&state.pool, move |conn| {
                Ok(db::sign_in_failures::record(conn, &email_str, now)?)
            })
            .await?;
            tracing::info!("failed sign-in");
            page.form_error = Some(BAD_CREDENTIALS.to_owned());
            Ok(HttpResponse::Unauthorized()
                .content_type("text/html; charset=utf-8")
                .body(page.render()?))
        }
    }
}

/// The 429 page: what was exceeded and when to try again.
fn too_many(mut page: LoginPage, wait_secs: i64, what: &str) -> Result<HttpResponse, WebError> {
    page.form_error = Some(sign_in::wait_message(what, wait_secs));
    Ok(HttpResponse::TooManyRequests()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Retry-After", wait_secs.max(1).to_string()))
        .body(page.render()?))
}

/// Signs out: this browser's cookie is cleared and, so that a copied cookie is worthless too,
/// every session of the user ends (on every replica).
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, WebError> {
    if let Some((user_id, epoch)) = session.signed_in() {
        db::run(&state.pool, move |conn| {
            if db::users::find_signed_in(conn, &user_id, epoch)?.is_some() {
                db::users::end_sessions(conn, &user_id)?;
            }
            Ok(())
        })
        .await?;
    }
    session.sign_out();
    Ok(htmx::redirect(&req, "/login"))
}
