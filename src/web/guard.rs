//! The one sign-in guard on the dashboard's project scope: it resolves the session's user
//! once and hands handlers a [`CurrentUser`]; anyone else is sent to `/login`. A project page
//! that is not found for someone who was removed from that project says so instead.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpResponse};
use askama::Template;

use super::error::WebError;
use super::htmx;
use crate::auth::session::TypedSession;
use crate::db;
use crate::domain::ids::{ProjectId, UserId};
use crate::state::AppState;

/// The signed-in user, put in the request's extensions by the guard.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: UserId,
    pub email: String,
}

pub async fn require_user(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let session = TypedSession::of(req.request());
    let user = match (session.signed_in(), req.app_data::<web::Data<AppState>>()) {
        (Some((id, epoch)), Some(state)) => {
            let pool = state.pool.clone();
            let found = db::run(&pool, move |conn| {
                Ok(db::users::find_signed_in(conn, &id, epoch)?)
            });
            match found.await {
                Ok(user) => user,
                Err(e) => {
                    // The error stays attached, so an htmx request gets it as a toast.
                    let resp = HttpResponse::from_error(WebError::from(e));
                    return Ok(req.into_response(resp).map_into_right_body());
                }
            }
        }
        _ => None,
    };
    match user {
        Some(u) => {
            let user_id = u.id.clone();
            req.extensions_mut().insert(CurrentUser {
                id: u.id,
                email: u.email,
            });
            let res = next.call(req).await?;
            if res.status() != StatusCode::NOT_FOUND {
                return Ok(res.map_into_left_body());
            }
            match removed_from(&res, user_id).await {
                Some(told) => Ok(res.into_response(told).map_into_right_body()),
                None => Ok(res.map_into_left_body()),
            }
        }
        None => {
            // A session that ended by its own limits says why on /login.
            let target = match session.ended() {
                Some(why) => format!("/login?ended={}", why.as_str()),
                None => "/login".to_owned(),
            };
            session.sign_out();
            let resp = htmx::redirect(req.request(), &target);
            Ok(req.into_response(resp).map_into_right_body())
        }
    }
}

#[derive(Template)]
#[template(path = "pages/removed.html")]
struct RemovedPage {
    project_name: String,
    removed_on: String,
}

/// For a 404 under `/projects/{project_id}`: when the user was removed from that project (and
/// is not back in it), what tells them so. Only they learn anything: someone who never
/// belonged gets the 404 as it was. A full page is a 403 saying it; an htmx request is sent to
/// the project's page, which then says it in full rather than in a toast over a stale page.
async fn removed_from(
    res: &ServiceResponse<impl MessageBody>,
    user_id: UserId,
) -> Option<HttpResponse> {
    let req = res.request();
    let project_id = ProjectId::parse(req.match_info().get("project_id")?).ok()?;
    let state = req.app_data::<web::Data<AppState>>()?;
    let pid = project_id.clone();
    let found = db::run(&state.pool, move |conn| {
        Ok(db::memberships::removal(conn, &pid, &user_id)?)
    })
    .await;
    let (project_name, at) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return None,
        Err(e) => {
            // The 404 then stands: nothing is told that was not checked.
            tracing::warn!(error = %e, "could not check whether a 404 follows a removal");
            return None;
        }
    };
    if htmx::is_htmx(req) {
        return Some(htmx::redirect(req, &format!("/projects/{project_id}")));
    }
    let body = RemovedPage {
        project_name,
        removed_on: crate::time::date_label(at),
    }
    .render()
    .ok()?;
    let mut r = HttpResponse::Forbidden()
        .content_type("text/html; charset=utf-8")
        .body(body);
    crate::edge::add_security_headers(r.headers_mut());
    Some(r)
}
