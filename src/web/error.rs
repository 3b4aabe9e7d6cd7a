//! The dashboard's error type and its one renderer: the error page for a plain request, and
//! for an htmx request (see `htmx::toasts_for_htmx`, on the dashboard's scope) a toast that htmx
//! swaps into the page's `#toasts` live region, so the person reads the server's message.

use actix_web::http::header::{self, HeaderValue};
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
    /// Too many guesses from one address (sign-in, one-time links): 429.
    #[error("too many attempts")]
    TooManyAttempts,
}

impl From<crate::state::Busy> for WebError {
    fn from(_: crate::state::Busy) -> Self {
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

/// The same message as a toast (`role="alert"`), for an htmx request.
#[derive(Template)]
#[template(path = "pages/_error_toast.html")]
struct ErrorToast<'a> {
    message: &'a str,
}

/// Where htmx puts an error toast (`HX-Retarget`), and how (`HX-Reswap`).
pub const TOASTS: &str = "#toasts";
const TOAST_SWAP: &str = "beforeend";
/// The longest plain-text refusal (from a middleware, such as the CSRF check) shown as a toast.
pub(super) const MAX_PLAIN_MESSAGE: usize = 1024;

/// What a person is told about a failed request with this status: a title and a sentence.
pub(super) fn explain(status: StatusCode) -> (&'static str, &'static str) {
    match status {
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
        StatusCode::TOO_MANY_REQUESTS => (
            "Too many requests",
            "Too many requests at once. Try again in a moment.",
        ),
        s if s.is_client_error() => (
            "Request refused",
            "This request could not be handled. Reload the page and try again.",
        ),
        _ => (
            "Something went wrong",
            "An unexpected error occurred. It has been logged.",
        ),
    }
}

impl WebError {
    pub(super) fn explained(&self) -> (&'static str, &'static str) {
        match self {
            WebError::Busy(_) => (
                "Busy",
                "Too many requests are being handled at once. Try again in a moment.",
            ),
            WebError::Db(e) if e.is_disk_full() => (
                "Disk full",
                "The server's disk is full, so nothing could be saved. Try again once space \
                 has been freed.",
            ),
            WebError::TooManyAttempts => (
                "Too many attempts",
                "Too many attempts from your address. Try again in a few minutes.",
            ),
            _ => explain(self.status_code()),
        }
    }
}

/// A 503 tells the client when to try again.
fn retry_after(status: StatusCode) -> Option<HeaderValue> {
    (status == StatusCode::SERVICE_UNAVAILABLE).then(|| HeaderValue::from_static("2"))
}

fn html_response(status: StatusCode, body: String, retry: Option<HeaderValue>) -> HttpResponse {
    let mut r = HttpResponse::build(status);
    if let Some(v) = retry {
        r.insert_header((header::RETRY_AFTER, v));
    }
    let mut r = r.content_type("text/html; charset=utf-8").body(body);
    crate::edge::add_security_headers(r.headers_mut());
    r
}

/// The toast an htmx request gets for a failure, with the headers that make htmx add it to
/// `#toasts` (instead of swapping it where the request's own answer would have gone).
pub(super) fn toast_response(
    status: StatusCode,
    message: &str,
    retry: Option<HeaderValue>,
) -> HttpResponse {
    let body = ErrorToast { message }
        .render()
        .unwrap_or_else(|_| explain(status).1.to_owned());
    let mut r = html_response(status, body, retry);
    let h = r.headers_mut();
    h.insert(
        header::HeaderName::from_static("hx-retarget"),
        HeaderValue::from_static(TOASTS),
    );
    h.insert(
        header::HeaderName::from_static("hx-reswap"),
        HeaderValue::from_static(TOAST_SWAP),
    );
    r
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Forbidden => StatusCode::FORBIDDEN,
            WebError::Db(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            WebError::Db(_) | WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The full error page (an htmx request gets the toast instead, see `htmx::toasts_for_htmx`).
    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (title, message) = self.explained();
        match self {
            // Counted and summarised by the pool (see `db::health`), not one line each.
            WebError::Db(e) if e.is_unavailable() && !e.is_disk_full() => {
                tracing::debug!(error = %self, "dashboard request failed")
            }
            _ if status.is_server_error() => {
                tracing::error!(error = %self, "dashboard request failed")
            }
            _ => {}
        }
        let body = ErrorPage {
            status: status.as_u16(),
            title,
            message,
        }
        .render()
        .unwrap_or_else(|_| title.to_owned());
        html_response(status, body, retry_after(status))
    }
}
