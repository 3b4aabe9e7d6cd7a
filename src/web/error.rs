//! The dashboard's error type, rendered once as an HTML page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Internal(String),
    /// Too much at once (password hashing slots full): 503 with `Retry-After`.
    #[error("busy: {0}")]
    Busy(&'static str),
}

impl From<crate::auth::password::Busy> for WebError {
    fn from(_: crate::auth::password::Busy) -> Self {
        WebError::Busy("every password-hashing slot stayed taken")
    }
}

impl From<diesel::result::Error> for WebError {
    fn from(e: diesel::result::Error) -> Self {
        WebError::Db(DbError::Query(e))
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("template: {e}"))
    }
}

impl From<actix_session::SessionInsertError> for WebError {
    fn from(e: actix_session::SessionInsertError) -> Self {
        WebError::Internal(format!("session: {e}"))
    }
}

impl From<actix_session::SessionGetError> for WebError {
    fn from(e: actix_session::SessionGetError) -> Self {
        WebError::Internal(format!("session: {e}"))
    }
}

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Forbidden => StatusCode::FORBIDDEN,
            WebError::Db(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Db(_) | WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (title, message) = match status {
            _ if matches!(self, WebError::Busy(_)) => (
                "Busy",
                "Too many requests are being handled at once. Try again in a moment.",
            ),
            StatusCode::NOT_FOUND => (
                "Page not found",
                "There is nothing here, or you do not have access to it.",
            ),
            StatusCode::FORBIDDEN => (
                "Not allowed",
                "Your role in this project does not allow this action.",
            ),
            StatusCode::SERVICE_UNAVAILABLE => (
                "Database unavailable",
                "The database cannot be reached right now. Try again in a moment.",
            ),
            _ => (
                "Something went wrong",
                "An unexpected error occurred. It has been logged.",
            ),
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "dashboard request failed");
        }
        let body = ErrorPage {
            status: status.as_u16(),
            title,
            message,
        }
        .render()
        .unwrap_or_else(|_| title.to_owned());
        let mut r = HttpResponse::build(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            r.insert_header((actix_web::http::header::RETRY_AFTER, "2"));
        }
        let mut r = r.content_type("text/html; charset=utf-8").body(body);
        crate::edge::add_security_headers(r.headers_mut());
        r
    }
}
