//! `/reset-password/{token}`: a one-time link (from `callem user reset-password`, or the
//! "Forgot your password?" email) to set a new password. Using it ends every session of the
//! user; an unknown, used or expired link gets one page. With email configured (and an address
//! for links), `/forgot-password` asks the background job ([`crate::jobs::password_reset_mail`])
//! to send such a link and answers at once, the same whether or not the email has an account.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::WebError;
use super::htmx;
use crate::auth::{password, session::TypedSession};
use crate::db;
use crate::domain::account::Password;
use crate::domain::client_ip::ClientAddr;
use crate::domain::one_time_token;
use crate::request::ClientIp;
use crate::state::AppState;
use crate::time;

#[derive(Template, Default)]
#[template(path = "pages/reset_password.html")]
struct ResetPage {
    csrf_token: String,
    action: String,
    email: String,
    new_error: Option<String>,
    confirm_error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/reset_invalid.html")]
struct InvalidLink;

/// The one answer for every link that does not work (unknown, used, expired): nothing tells
/// which.
fn invalid() -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::NotFound()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(InvalidLink.render()?))
}

/// Reset attempts count against the client's sign-in budget: a token cannot be guessed faster
/// than a password.
fn over_budget(client: ClientAddr, state: &AppState) -> bool {
    !state
        .sign_in_limiter
        .check(client.counted_as(), std::time::Instant::now())
        .allowed
}

/// GET the form for a valid link.
pub async fn show(
    req: HttpRequest,
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    session: TypedSession,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    if over_budget(client, &state) {
        return Err(WebError::TooManyAttempts);
    }
    let hash = one_time_token::hash(&token);
    let user = db::run(&state.pool, move |conn| {
        Ok(db::password_resets::find_valid(conn, &hash, time::now())?)
    })
    .await?;
    let Some(user) = user else {
        return invalid();
    };
    let page = ResetPage {
        csrf_token: session.csrf_token()?,
        action: req.path().to_owned(),
        email: user.email,
        ..Default::default()
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(page.render()?))
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

/// POST the new password: set, the link used up, every session of the user ended; then the
/// sign-in page.
pub async fn submit(
    req: HttpRequest,
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    session: TypedSession,
    token: web::Path<String>,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, WebError> {
    if over_budget(client, &state) {
        return Err(WebError::TooManyAttempts);
    }
    let hash = one_time_token::hash(&token);
    let lookup = hash.clone();
    let user = db::run(&state.pool, move |conn| {
        Ok(db::password_resets::find_valid(conn, &lookup, time::now())?)
    })
    .await?;
    let Some(user) = user else {
        return invalid();
    };
    let form = form.into_inner();
    let mut page = ResetPage {
        csrf_token: session.csrf_token()?,
        action: req.path().to_owned(),
        email: user.email,
        ..Default::default()
    };
    let new = Password::parse(&form.new);
    match &new {
        Err(e) => page.new_error = Some(e.0.clone()),
        Ok(_) if form.confirm != form.new => {
            page.confirm_error = Some("The two passwords differ.".to_owned())
        }
        Ok(_) => {}
    }
    let (Ok(new), None) = (new, &page.confirm_error) else {
        return Ok(HttpResponse::UnprocessableEntity()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(page.render()?));
    };
    let password_hash = state
        .password_slots
        .run(move || password::hash(&new))
        .await?
        .map_err(WebError::Internal)?;
    let done = db::run(&state.pool, move |conn| {
        db::password_resets::reset(conn, &hash, &password_hash, client, time::now())
    })
    .await?;
    let Some(user) = done else {
        return invalid();
    };
    // Whoever was signed in here (perhaps as someone else) is not any more; the sign-in form
    // that follows is filled with the account's email.
    session.sign_out_for(&user.email);
    tracing::info!(user_id = %user.id, "password reset; every session ended");
    Ok(htmx::redirect(&req, "/login?reset=done"))
}

#[derive(Template, Default)]
#[template(path = "pages/forgot_password.html")]
struct ForgotPage {
    csrf_token: String,
    email: String,
    email_error: Option<String>,
    /// After a request: "if an account uses that email, a link is on its way", the same words
    /// for every email.
    sent: bool,
}

/// GET `/forgot-password` (only when the server can email links; otherwise there is no such
/// page and `/login` does not offer it).
pub async fn forgot_form(
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, WebError> {
    if !state.emails_links() {
        return Err(WebError::NotFound);
    }
    htmx::html(&ForgotPage {
        csrf_token: session.csrf_token()?,
        ..Default::default()
    })
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// POST `/forgot-password`: hands the email to the background job, which sends a one-hour
/// link to the account with that email if there is one (and it had none in the last minutes),
/// and answers at once. Nothing here depends on the account: not the words, not the time.
pub async fn forgot_submit(
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    session: TypedSession,
    form: web::Form<ForgotForm>,
) -> Result<HttpResponse, WebError> {
    if !state.emails_links() {
        return Err(WebError::NotFound);
    }
    if over_budget(client, &state) {
        return Err(WebError::TooManyAttempts);
    }
    let mut page = ForgotPage {
        csrf_token: session.csrf_token()?,
        email: form.email.clone(),
        ..Default::default()
    };
    let email = match crate::domain::account::EmailAddress::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            page.email_error = Some(e.0);
            return Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/html; charset=utf-8")
                .body(page.render()?));
        }
    };
    state.jobs.request_reset_mail(email);
    page.sent = true;
    page.email = String::new();
    htmx::html(&page)
}
