//! The one sign-in guard on the dashboard's project scope: it resolves the session's user
//! once and hands handlers a [`CurrentUser`]; anyone else is sent to `/login`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpResponse};

use super::error::WebError;
use super::htmx;
use crate::auth::session::TypedSession;
use crate::db;
use crate::domain::ids::UserId;
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
            req.extensions_mut().insert(CurrentUser {
                id: u.id,
                email: u.email,
            });
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
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
