//! `/account` (display name, password, the user's projects) and New project. Reached from any
//! page by a signed-in user, whatever projects they belong to (none included).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::WebError;
use super::guard::CurrentUser;
use super::htmx;
use crate::auth::{password, session::TypedSession};
use crate::db;
use crate::domain::account::{DisplayName, Password, ProjectName};
use crate::domain::actor::Actor;
use crate::domain::ids::ProjectId;
use crate::domain::role::Role;
use crate::domain::sign_in;
use crate::request::ClientIp;
use crate::state::AppState;
use crate::time;

/// One of the user's projects.
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub role: Role,
}

#[derive(Template, Default)]
#[template(path = "pages/account/show.html")]
struct AccountPage {
    csrf_token: String,
    email: String,
    display_name: String,
    member_since: String,
    projects: Vec<ProjectRow>,
    /// Where "Back" goes: the project the user came from, or their first.
    back: Option<(String, String)>,
    /// `profile` or `password`: what was just saved.
    saved: Option<String>,
    display_name_error: Option<String>,
    current_error: Option<String>,
    new_error: Option<String>,
    confirm_error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    project: Option<String>,
    saved: Option<String>,
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    session: &TypedSession,
    from: Option<&str>,
) -> Result<AccountPage, WebError> {
    let uid = user.id.clone();
    let (found, projects) = db::run(&state.pool, move |conn| {
        Ok((
            db::users::find(conn, &uid)?,
            db::projects::for_user(conn, &uid)?,
        ))
    })
    .await?;
    let found = found.ok_or(WebError::NotFound)?;
    let projects: Vec<ProjectRow> = projects
        .into_iter()
        .map(|(p, role)| ProjectRow {
            id: p.id.into_string(),
            name: p.name,
            role,
        })
        .collect();
    let back = projects
        .iter()
        .find(|p| Some(p.id.as_str()) == from)
        .or(projects.first())
        .map(|p| (format!("/projects/{}", p.id), p.name.clone()));
    Ok(AccountPage {
        csrf_token: session.csrf_token()?,
        email: found.email,
        display_name: found.display_name.unwrap_or_default(),
        member_since: time::date_label(found.created_at),
        projects,
        back,
        ..Default::default()
    })
}

fn invalid(page: &AccountPage) -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::UnprocessableEntity()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// GET `/account`.
pub async fn show(
    state: web::Data<AppState>,
    user: web::ReqData<CurrentUser>,
    session: TypedSession,
    query: web::Query<AccountQuery>,
) -> Result<HttpResponse, WebError> {
    let mut page = page(&state, &user, &session, query.project.as_deref()).await?;
    page.saved = query
        .saved
        .clone()
        .filter(|s| s == "profile" || s == "password");
    htmx::html(&page)
}

#[derive(Debug, Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    display_name: String,
}

/// POST `/account/profile`: the display name.
pub async fn update_profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: web::ReqData<CurrentUser>,
    session: TypedSession,
    form: web::Form<ProfileForm>,
) -> Result<HttpResponse, WebError> {
    let name = match DisplayName::parse_optional(&form.display_name) {
        Ok(n) => n,
        Err(e) => {
            let mut page = page(&state, &user, &session, None).await?;
            page.display_name = form.display_name.clone();
            page.display_name_error = Some(e.0);
            return invalid(&page);
        }
    };
    let uid = user.id.clone();
    db::run(&state.pool, move |conn| {
        Ok(db::users::set_display_name(
            conn,
            &uid,
            name.as_ref().map(DisplayName::as_str),
        )?)
    })
    .await?;
    Ok(htmx::redirect(&req, "/account?saved=profile"))
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

/// POST `/account/password`: checks the current password, sets the new one, ends every other
/// session of the user (on every replica) and keeps this one. Checking the current password is
/// a sign-in attempt: it counts against the address's budget, a wrong one against the
/// account's, with `/login`'s waits (a stolen session cannot guess the password faster than
/// the sign-in page allows).
pub async fn change_password(
    req: HttpRequest,
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    user: web::ReqData<CurrentUser>,
    session: TypedSession,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let mut page = page(&state, &user, &session, None).await?;
    let new = Password::parse(&form.new);
    if form.current.is_empty() {
        page.current_error = Some("Enter your current password.".to_owned());
    }
    match &new {
        Err(e) => page.new_error = Some(e.0.clone()),
        Ok(_) if form.confirm != form.new => {
            page.confirm_error = Some("The two new passwords differ.".to_owned())
        }
        Ok(_) => {}
    }
    // An empty current password is said at once; otherwise it is checked even when the new
    // one is refused, so that every problem with the form is said in one answer (and the
    // check spends the sign-in budget as any other).
    if page.current_error.is_some() {
        return invalid(&page);
    }
    let attempt = state
        .sign_in_limiter
        .check(client.counted_as(), std::time::Instant::now());
    if !attempt.allowed {
        let wait = i64::try_from(attempt.reset_secs).unwrap_or(i64::MAX);
        return too_many(page, wait, "Too many sign-in attempts from your address.");
    }
    let (uid, email, now) = (user.id.clone(), page.email.clone(), time::now());
    let (stored, failures) = db::run(&state.pool, move |conn| {
        Ok((
            db::users::find(conn, &uid)?.map(|u| u.password_hash),
            db::sign_in_failures::find(conn, &email)?,
        ))
    })
    .await?;
    if let Some(wait) = failures.and_then(|(n, last)| sign_in::wait_left(n, last, now)) {
        tracing::info!("password change refused: the account is waiting after failed attempts");
        return too_many(page, wait, "Too many failed sign-ins for this account.");
    }
    let current = form.current;
    let ok = state
        .password_slots
        .run(move || password::verify(&current, stored.as_deref()))
        .await?;
    if !ok {
        let email = page.email.clone();
        db::run(&state.pool, move |conn| {
            Ok(db::sign_in_failures::record(conn, &email, now)?)
        })
        .await?;
        tracing::info!(user_id = %user.id, "password change refused: wrong current password");
        page.current_error = Some("That is not your current password.".to_owned());
        return invalid(&page);
    }
    let (Ok(new), None) = (new, &page.confirm_error) else {
        return invalid(&page);
    };
    let hash = state
        .password_slots
        .run(move || password::hash(&new))
        .await?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let (uid, email) = (user.id.clone(), page.email.clone());
    let actor = Actor::user(user.id.clone(), client);
    let epoch = db::run(&state.pool, move |conn| {
        db::write_transaction::<_, db::DbError, _>(conn, |conn| {
            // A right password starts the account's count over, as a sign-in does.
            db::sign_in_failures::clear(conn, &email)?;
            db::users::change_password(
                conn,
                &db::users::PasswordChange {
                    user_id: &uid,
                    password_hash: &hash,
                    how: db::users::PasswordSet::Changed,
                    actor: &actor,
                },
                time::now(),
            )
        })
    })
    .await?;
    // Every session was ended with the old epoch; this one goes on in the new.
    session.sign_in(&user.id, epoch)?;
    tracing::info!(user_id = %user.id, "password changed; other sessions ended");
    Ok(htmx::redirect(&req, "/account?saved=password"))
}

/// The form again with the wait next to the current password: 429 with `Retry-After`.
fn too_many(mut page: AccountPage, wait_secs: i64, what: &str) -> Result<HttpResponse, WebError> {
    page.current_error = Some(sign_in::wait_message(what, wait_secs));
    Ok(HttpResponse::TooManyRequests()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Retry-After", wait_secs.max(1).to_string()))
        .body(page.render()?))
}

#[derive(Template, Default)]
#[template(path = "pages/account/new_project.html")]
struct NewProjectPage {
    csrf_token: String,
    name: String,
    name_error: Option<String>,
    back: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NewProjectQuery {
    from: Option<String>,
}

/// GET `/projects/new`.
pub async fn new_project(
    session: TypedSession,
    query: web::Query<NewProjectQuery>,
) -> Result<HttpResponse, WebError> {
    htmx::html(&NewProjectPage {
        csrf_token: session.csrf_token()?,
        back: query
            .from
            .as_deref()
            .and_then(|id| ProjectId::parse(id).ok())
            .map(|id| format!("/projects/{id}")),
        ..Default::default()
    })
}

#[derive(Debug, Deserialize)]
pub struct NewProjectForm {
    #[serde(default)]
    name: String,
}

/// POST `/projects/new`: the creator becomes the project's Owner.
pub async fn create_project(
    req: HttpRequest,
    ClientIp(client): ClientIp,
    state: web::Data<AppState>,
    user: web::ReqData<CurrentUser>,
    session: TypedSession,
    form: web::Form<NewProjectForm>,
) -> Result<HttpResponse, WebError> {
    let name = match ProjectName::parse(&form.name) {
        Ok(n) => n,
        Err(e) => {
            let page = NewProjectPage {
                csrf_token: session.csrf_token()?,
                name: form.name.clone(),
                name_error: Some(e.0),
                back: None,
            };
            return Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/html; charset=utf-8")
                .body(page.render()?));
        }
    };
    let creator = Actor::user(user.id.clone(), client);
    let id = db::run(&state.pool, move |conn| {
        db::projects::create(conn, name.as_str(), &creator, time::now())
    })
    .await?;
    tracing::info!(project_id = %id, "project created");
    Ok(htmx::redirect(&req, &format!("/projects/{id}")))
}
