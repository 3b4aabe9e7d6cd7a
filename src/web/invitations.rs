//! `/invitations/{token}`, outside the sign-in guard: the invitation (project, role, who
//! invited), and joining — with a password, which signs in to the invited email's account or,
//! when there is none, creates it; or in one click when already signed in as the invited
//! email. The page reads the same whether or not the account exists until a password has been
//! checked. Unknown, used, revoked and expired tokens, and those whose inviter may no longer
//! grant the role, all get the same 404 page. Attempts are counted per client address like
//! sign-ins.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::WebError;
use super::htmx;
use crate::auth::{password, session::TypedSession};
use crate::db::invitations::{Accepted, Found, Joiner};
use crate::db::{self, memberships::TeamError};
use crate::domain::account::{DisplayName, Password};
use crate::domain::client_ip::ClientAddr;
use crate::domain::role::Role;
use crate::domain::sign_in;
use crate::request::ClientIp;
use crate::state::AppState;
use crate::time;

/// What the visitor can do with a valid invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Nobody is signed in: a password, the account's if the email has one, else a new one.
    /// Whether the account exists is not told before the password is checked.
    Password,
    /// Signed in as the invited email: one click.
    Join,
    /// Signed in as someone else (this email): nothing to join.
    OtherAccount(String),
}

#[derive(Template)]
#[template(path = "pages/invitation.html")]
struct InvitationPage {
    csrf_token: String,
    action: String,
    project_name: String,
    role: Role,
    invited_by: String,
    email: String,
    mode: Mode,
    display_name: String,
    password_error: Option<String>,
    display_name_error: Option<String>,
    form_error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/invitation_invalid.html")]
struct InvalidPage;

/// The one answer for every token that does not open a pending invitation.
fn invalid() -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::NotFound()
        .content_type("text/html; charset=utf-8")
        .body(InvalidPage.render()?))
}

fn too_many(wait_secs: u64) -> HttpResponse {
    let minutes = wait_secs.max(1).div_ceil(60);
    HttpResponse::TooManyRequests()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Retry-After", wait_secs.max(1).to_string()))
        .body(format!(
            "Too many attempts from your address. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        ))
}

/// The invitation and what this visitor can do with it (None: the invalid page).
async fn load(
    state: &AppState,
    session: &TypedSession,
    token: &str,
) -> Result<Option<(Found, Mode, Option<db::models::User>)>, WebError> {
    let token = token.to_owned();
    let signed_in = session.signed_in();
    let now = time::now();
    let loaded = db::run(&state.pool, move |conn| {
        let Some(found) = db::invitations::find_valid(conn, &token, now)? else {
            return Ok(None);
        };
        let viewer = match signed_in {
            Some((uid, epoch)) => db::users::find_signed_in(conn, &uid, epoch)?,
            None => None,
        };
        Ok(Some((found, viewer)))
    })
    .await?;
    Ok(loaded.map(|(found, viewer)| {
        let mode = match &viewer {
            Some(u) if u.email == found.invitation.email => Mode::Join,
            Some(u) => Mode::OtherAccount(u.email.clone()),
            None => Mode::Password,
        };
        (found, mode, viewer)
    }))
}

fn page(
    session: &TypedSession,
    token: &str,
    found: &Found,
    mode: Mode,
) -> Result<InvitationPage, WebError> {
    Ok(InvitationPage {
        csrf_token: session.csrf_token()?,
        action: format!("/invitations/{token}"),
        project_name: found.project_name.clone(),
        role: found.invitation.role,
        invited_by: found.invited_by.clone(),
        email: found.invitation.email.clone(),
        mode,
        display_name: String::new(),
        password_error: None,
        display_name_error: None,
        form_error: None,
    })
}

/// GET the invitation.
pub async fn show(
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let token = path.into_inner();
    let Some((found, mode, _)) = load(&state, &session, &token).await? else {
        // Guessing tokens costs attempts too.
        let attempt = state
            .invitation_limiter
            .check(client.counted_as(), std::time::Instant::now());
        if !attempt.allowed {
            return Ok(too_many(attempt.reset_secs));
        }
        return invalid();
    };
    let status = match mode {
        Mode::OtherAccount(_) => actix_web::http::StatusCode::FORBIDDEN,
        _ => actix_web::http::StatusCode::OK,
    };
    let page = page(&session, &token, &found, mode)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

#[derive(Debug, Default, Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    display_name: String,
}

/// POST: join (creating the account or signing in to it first when needed).
pub async fn accept(
    req: HttpRequest,
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
    form: web::Form<AcceptForm>,
) -> Result<HttpResponse, WebError> {
    let token = path.into_inner();
    let form = form.into_inner();
    let attempt = state
        .invitation_limiter
        .check(client.counted_as(), std::time::Instant::now());
    if !attempt.allowed {
        return Ok(too_many(attempt.reset_secs));
    }
    let Some((found, mode, viewer)) = load(&state, &session, &token).await? else {
        return invalid();
    };
    let mut shown = page(&session, &token, &found, mode.clone())?;
    shown.display_name = form.display_name.clone();
    let rerender = |status: actix_web::http::StatusCode, p: InvitationPage| {
        Ok::<_, WebError>(
            HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(p.render()?),
        )
    };
    let now = time::now();
    let (user_id, epoch) = match mode {
        Mode::OtherAccount(_) => {
            return rerender(actix_web::http::StatusCode::FORBIDDEN, shown);
        }
        Mode::Join => match viewer {
            Some(u) => (u.id, None),
            None => return invalid(),
        },
        Mode::Password => {
            // The same checks whatever the account, so that nothing tells before the password
            // is checked whether it exists (every account's password has 12 characters).
            let pw = Password::parse(&form.password);
            let name = DisplayName::parse_optional(&form.display_name);
            let (pw, name) = match (pw, name) {
                (Ok(p), Ok(n)) => (p, n),
                (p, n) => {
                    shown.password_error = p.err().map(|e| e.0);
                    shown.display_name_error = n.err().map(|e| e.0);
                    return rerender(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, shown);
                }
            };
            let email = found.invitation.email.clone();
            let (user, failures) = db::run(&state.pool, move |conn| {
                Ok((
                    db::users::find_by_email(conn, &email)?,
                    db::sign_in_failures::find(conn, &email)?,
                ))
            })
            .await?;
            let Some(user) = user else {
                return create_account(&req, &state, &session, &found, pw, name, client).await;
            };
            // The account's wait after failed sign-ins holds here too.
            if let Some(wait) = failures.and_then(|(n, last)| sign_in::wait_left(n, last, now)) {
                return Ok(too_many(u64::try_from(wait).unwrap_or(u64::MAX)));
            }
            let stored = user.password_hash.clone();
            let ok = state
                .password_slots
                .run(move || password::verify(pw.expose(), Some(&stored)))
                .await?;
            let email = found.invitation.email.clone();
            if !ok {
                db::run(&state.pool, move |conn| {
                    Ok(db::sign_in_failures::record(conn, &email, now)?)
                })
                .await?;
                tracing::info!("failed sign-in on an invitation");
                shown.password_error = Some("Incorrect password.".to_owned());
                return rerender(actix_web::http::StatusCode::UNAUTHORIZED, shown);
            }
            let uid = user.id.clone();
            db::run(&state.pool, move |conn| {
                db::sign_in_failures::clear(conn, &email)?;
                Ok(db::users::record_sign_in(conn, &uid, now)?)
            })
            .await?;
            (user.id, Some(user.session_epoch))
        }
    };
    let invitation = found.invitation.clone();
    let uid = user_id.clone();
    let joined = db::run(&state.pool, move |conn| {
        Ok(db::invitations::accept(
            conn,
            &invitation,
            Joiner::Existing(&uid),
            client,
            now,
        ))
    })
    .await?;
    match joined {
        Ok(Some(accepted)) => {
            if let Some(epoch) = epoch {
                session.sign_in(&user_id, epoch)?;
            }
            tracing::info!(user_id = %user_id, "accepted an invitation");
            joined_response(&req, &session, &found, &accepted)
        }
        Ok(None) | Err(TeamError::NotFound) | Err(TeamError::Refused(_)) => invalid(),
        Err(TeamError::Db(e)) => Err(e.into()),
    }
}

/// No account has the invited email: creates it with the password given, joins and signs in.
async fn create_account(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    found: &Found,
    pw: Password,
    name: Option<DisplayName>,
    from: ClientAddr,
) -> Result<HttpResponse, WebError> {
    let hash = state
        .password_slots
        .run(move || password::hash(&pw))
        .await?
        .map_err(WebError::Internal)?;
    let invitation = found.invitation.clone();
    let now = time::now();
    let joined = db::run(&state.pool, move |conn| {
        let joiner = Joiner::New {
            password_hash: &hash,
            display_name: name.as_ref().map(DisplayName::as_str),
        };
        Ok(db::invitations::accept(
            conn,
            &invitation,
            joiner,
            from,
            now,
        ))
    })
    .await?;
    match joined {
        Ok(Some(accepted)) => {
            let uid = accepted.user_id().clone();
            db::run(&state.pool, {
                let uid = uid.clone();
                move |conn| Ok(db::users::record_sign_in(conn, &uid, now)?)
            })
            .await?;
            session.sign_in(&uid, 0)?;
            tracing::info!(user_id = %uid, "account created from an invitation");
            joined_response(req, session, found, &accepted)
        }
        Ok(None) | Err(TeamError::NotFound) | Err(TeamError::Refused(_)) => invalid(),
        Err(TeamError::Db(e)) => Err(e.into()),
    }
}

/// To the project, with a toast saying what happened: joined with the role, or (a member
/// already) nothing changed.
fn joined_response(
    req: &HttpRequest,
    session: &TypedSession,
    found: &Found,
    accepted: &Accepted,
) -> Result<HttpResponse, WebError> {
    let toast = match accepted {
        Accepted::Joined(_) => format!(
            "You joined {} as {}.",
            found.project_name,
            found.invitation.role.label()
        ),
        Accepted::AlreadyMember(_, role) => format!(
            "You are already a member of {} as {}; the invitation did not change your role.",
            found.project_name,
            role.label()
        ),
    };
    // The form is a plain POST: its redirect cannot carry the toast header, so the next
    // page shows it from the session.
    if !htmx::is_htmx(req) {
        session.flash(&toast);
    }
    Ok(htmx::with_toast(
        // Straight to the page that shows it (a redirect on the way would take the message).
        htmx::redirect(
            req,
            &format!("/projects/{}/calls", found.invitation.project_id),
        ),
        &toast,
    ))
}
