//! The `/v1` error: every failure, of every status, is `{"statusCode", "message"}`; and the
//! error responses the OpenAPI document names, all of them that body.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

use crate::auth::api_key::AuthFailure;
use crate::db::DbError;
use crate::domain::Invalid;

// Its keys are serialised in the contract's order.
/// The body of every error, of every status.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = Error)]
pub struct ErrorBody {
    #[schema(value_type = i64, examples(401))]
    status_code: u16,
    #[schema(examples("Invalid API key"))]
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
    #[error("API key does not have permission for this request")]
    ScopeNotAllowed,
    #[error("{0}")]
    NotFound(&'static str),
    /// The request clashes with what is stored (a taken id).
    #[error("{0}")]
    Conflict(&'static str),
    /// With the methods the path has, for the `Allow` header.
    #[error("Method not allowed")]
    MethodNotAllowed(String),
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
    /// The disk holding the database is full: 503 with `Retry-After`, the cause logged. Not
    /// a database that is down (reads still work).
    #[error("the disk holding the database is full: {0}")]
    DiskFull(String),
}

impl ApiError {
    pub const CALL_NOT_FOUND: ApiError = ApiError::NotFound("Call not found");
    pub const KNOWLEDGE_NOT_FOUND: ApiError = ApiError::NotFound("Knowledge item not found");
    pub const PATH_NOT_FOUND: ApiError = ApiError::NotFound("Not found");
    pub const CALL_EXISTS: ApiError = ApiError::Conflict("Call already exists");

    fn message(&self) -> String {
        match self {
            ApiError::Internal(_) => "Internal server error".to_owned(),
            ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::DiskFull(_) => {
                "Service unavailable".to_owned()
            }
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
        if e.is_disk_full() {
            ApiError::DiskFull(e.to_string())
        } else if e.is_busy() {
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
            AuthFailure::ScopeNotAllowed => ApiError::ScopeNotAllowed,
            AuthFailure::Db(e) => e.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::IpNotAllowed | ApiError::ScopeNotAllowed => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::DiskFull(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => tracing::error!(%cause, "API request failed"),
            // Counted and summarised by the pool (see `db::health`), not one line each.
            ApiError::Unavailable(cause) => tracing::debug!(%cause, "database unavailable"),
            ApiError::Busy(cause) => tracing::debug!(%cause, "database busy"),
            ApiError::DiskFull(cause) => {
                tracing::error!(%cause, "the disk holding the database is full")
            }
            _ => {}
        }
        let status = self.status_code();
        let mut r = HttpResponse::build(status);
        if matches!(
            self,
            ApiError::Busy(_) | ApiError::Unavailable(_) | ApiError::DiskFull(_)
        ) {
            r.insert_header((actix_web::http::header::RETRY_AFTER, "2"));
        }
        // RFC 9110 §11.6.1: a 401 says which scheme would do.
        if let ApiError::Unauthorized(_) = self {
            r.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let ApiError::MethodNotAllowed(allow) = self {
            r.insert_header((actix_web::http::header::ALLOW, allow.as_str()));
        }
        let mut r = r.json(ErrorBody {
            status_code: status.as_u16(),
            message: self.message(),
        });
        crate::edge::add_security_headers(r.headers_mut());
        r
    }
}

/// The error responses of the OpenAPI document (its `components.responses`, by these names):
/// each is [`ErrorBody`] under a description saying when it is sent. The operations refer to
/// them through the `IntoResponses` sets below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorResponse {
    BadRequest,
    Unauthorized,
    Forbidden,
    CallNotFound,
    KnowledgeNotFound,
    TooManyRequests,
    InternalError,
    Unavailable,
}

impl ErrorResponse {
    pub const ALL: [ErrorResponse; 8] = [
        ErrorResponse::BadRequest,
        ErrorResponse::Unauthorized,
        ErrorResponse::Forbidden,
        ErrorResponse::CallNotFound,
        ErrorResponse::KnowledgeNotFound,
        ErrorResponse::TooManyRequests,
        ErrorResponse::InternalError,
        ErrorResponse::Unavailable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorResponse::BadRequest => "BadRequest",
            ErrorResponse::Unauthorized => "Unauthorized",
            ErrorResponse::Forbidden => "Forbidden",
            ErrorResponse::CallNotFound => "CallNotFound",
            ErrorResponse::KnowledgeNotFound => "KnowledgeNotFound",
            ErrorResponse::TooManyRequests => "TooManyRequests",
            ErrorResponse::InternalError => "InternalError",
            ErrorResponse::Unavailable => "Unavailable",
        }
    }

    fn description(self) -> &'static str {
        match self {
            ErrorResponse::BadRequest => {
                "A bad parameter or body; the message names it, e.g. limit must be an integer \
                 between 1 and 1000."
            }
            ErrorResponse::Unauthorized => {
                "Missing or invalid Authorization header / Invalid API key format / Invalid API \
                 key / API key has expired."
            }
            ErrorResponse::Forbidden => {
                "IP address not allowed (the key's IP rules refuse the client's address) / API \
                 key does not have permission for this request (the key's scope does not cover \
                 the operation; checked after the key is found valid, unexpired and allowed \
                 from this address)."
            }
            ErrorResponse::CallNotFound => "Call not found (also for another project's id).",
            ErrorResponse::KnowledgeNotFound => {
                "Knowledge item not found (also for another project's id)."
            }
            ErrorResponse::TooManyRequests => "Too many requests; see Retry-After.",
            ErrorResponse::InternalError => "Internal server error.",
            ErrorResponse::Unavailable => {
                "Service unavailable: the database cannot be reached, does not answer within the \
                 deadline, is busy (SQLite's write lock held), or its disk is full. Answered within 2 s; retry \
                 after Retry-After seconds."
            }
        }
    }

    /// The response itself, for `components.responses`.
    pub fn response(self) -> Response {
        let body = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build();
        let response = ResponseBuilder::new()
            .description(self.description())
            .content("application/json", body);
        match self {
            ErrorResponse::TooManyRequests | ErrorResponse::Unavailable => {
                let seconds = ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .build();
                let retry_after = HeaderBuilder::new()
                    .schema(seconds)
                    .description(Some("Seconds to wait before retrying."))
                    .build();
                response.header("Retry-After", retry_after)
            }
            ErrorResponse::Unauthorized => {
                let scheme = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["Bearer"]))
                    .build();
                let challenge = HeaderBuilder::new()
                    .schema(scheme)
                    .description(Some(
                        "The scheme to authenticate with: Bearer (an API key).",
                    ))
                    .build();
                response.header("WWW-Authenticate", challenge)
            }
            _ => response,
        }
        .build()
    }
}

/// An operation's answers: each status with a reference to its [`ErrorResponse`].
fn answers(list: &[(u16, ErrorResponse)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, e)| (status.to_string(), Ref::from_response_name(e.name()).into()))
        .collect()
}

/// What any request with a key may be answered, whatever it asks: 401 and 403 (the key's
/// checks), 429, 500 and 503.
pub struct KeyErrors;

impl IntoResponses for KeyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[
            (401, ErrorResponse::Unauthorized),
            (403, ErrorResponse::Forbidden),
            (429, ErrorResponse::TooManyRequests),
            (500, ErrorResponse::InternalError),
            (503, ErrorResponse::Unavailable),
        ])
    }
}

/// 400: a bad parameter or body.
pub struct BadRequest;

impl IntoResponses for BadRequest {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[(400, ErrorResponse::BadRequest)])
    }
}

/// 404 `Call not found`.
pub struct CallNotFound;

impl IntoResponses for CallNotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[(404, ErrorResponse::CallNotFound)])
    }
}

/// 404 `Knowledge item not found`.
pub struct KnowledgeNotFound;

impl IntoResponses for KnowledgeNotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[(404, ErrorResponse::KnowledgeNotFound)])
    }
}

/// 500 and 503: what a request that needs no key but the database may still be answered.
pub struct ServerErrors;

impl IntoResponses for ServerErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[
            (500, ErrorResponse::InternalError),
            (503, ErrorResponse::Unavailable),
        ])
    }
}

/// 429: what a request that needs no key may still be answered.
pub struct TooManyRequests;

impl IntoResponses for TooManyRequests {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[(429, ErrorResponse::TooManyRequests)])
    }
}
