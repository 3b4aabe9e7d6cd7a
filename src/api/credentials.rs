//! The [`Credentials`] extractor: checks 1 and 2 of the contract on the request, with what the
//! operation needs taken from the route table. `auth` reports an [`AuthFailure`]; the API
//! answers it in its own error shape.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::auth::api_key::Credentials;
use crate::request::client_ip;

use super::error::ApiError;
use super::Operation;

impl FromRequest for Credentials {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Fail closed: a handler taking credentials must be routed through the table.
        let Some(operation) = Operation::of(req) else {
            return ready(Err(ApiError::Internal(format!(
                "{} {} takes API credentials but is not in api::OPERATIONS",
                req.method(),
                req.path()
            ))));
        };
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let credentials = Credentials::new(header, client_ip(req), operation.need);
        if let Ok(c) = &credentials {
            req.extensions_mut().insert(c.expiry().clone());
        }
        ready(credentials.map_err(ApiError::from))
    }
}
