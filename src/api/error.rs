//! The `/v1` error: every failure, of every status, is `{"statusCode", "message"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::auth::api_key::AuthFailure;
use crate::db::DbError;
use crate::domain::Invalid;

/// The body of every error, keys in the contract's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    status_code: u16,
    message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("IP address not allowed")]
    IpNotAllowed,
    #[error("{0}")]
    NotFound(&'static str),
    /// With the methods the path has, for the `Allow` header.
    #[error("Method not allowed")]
    MethodNotAllowed(&'static str),
    #[error("Request body too large")]
    PayloadTooLarge,
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Too many requests")]
    TooManyRequests,
    /// The cause is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
    /// The cause is logged, never sent.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Unavailable for a moment (a locked database, no connection free): with `Retry-After`.
    #[error("busy: {0}")]
    Busy(String),
}

impl ApiError {
    pub const CALL_NOT_FOUND: ApiError = ApiError::NotFound("Call not found");
    pub const KNOWLEDGE_NOT_FOUND: ApiError = ApiError::NotFound("Knowledge item not found");
    pub const PATH_NOT_FOUND: ApiError = ApiError::NotFound("Not found");

    fn message(&self) -> String {
        match self {
            ApiError::Internal(_) => "Internal server error".to_owned(),
            ApiError::Unavailable(_) | ApiError::Busy(_) => "Service unavailable".to_owned(),
            other => other.to_string(),
        }
    }
}

impl crate::db::ConnectionLoss for ApiError {
    fn connection_lost(&self) -> bool {
        matches!(self, ApiError::Unavailable(_))
    }

    fn busy(&self) -> bool {
        matches!(self, ApiError::Busy(_))
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_busy() {
            ApiError::Busy(e.to_string())
        } else if e.is_unavailable() {
            ApiError::Unavailable(e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::from(e).into()
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::BadRequest(e.0)
    }
}

impl From<AuthFailure> for ApiError {
    fn from(f: AuthFailure) -> Self {
        match f {
            AuthFailure::MissingHeader => {
                ApiError::Unauthorized("Missing or invalid Authorization header")
            }
            AuthFailure::BadFormat => ApiError::Unauthorized("Invalid API key format"),
            AuthFailure::UnknownOrRevoked => ApiError::Unauthorized("Invalid API key"),
            AuthFailure::Expired => ApiError::Unauthorized("API key has expired"),
            AuthFailure::IpNotAllowed => ApiError::IpNotAllowed,
            AuthFailure::Db(e) => e.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::IpNotAllowed => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => tracing::error!(%cause, "API request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
            ApiError::Busy(cause) => tracing::warn!(%cause, "database busy"),
            _ => {}
        }
        let status = self.status_code();
        let mut r = HttpResponse::build(status);
        if matches!(self, ApiError::Busy(_) | ApiError::Unavailable(_)) {
            r.insert_header((actix_web::http::header::RETRY_AFTER, "2"));
        }
        if let ApiError::MethodNotAllowed(allow) = self {
            r.insert_header((actix_web::http::header::ALLOW, *allow));
        }
        let mut r = r.json(ErrorBody {
            status_code: status.as_u16(),
            message: self.message(),
        });
        crate::edge::add_security_headers(r.headers_mut());
        r
    }
}
