//! The typed view of the session cookie: who is signed in and their CSRF token. Nothing
//! secret beyond that ever goes in it (never an API key).

use std::future::{ready, Ready};

use actix_session::{Session, SessionExt, SessionGetError, SessionInsertError};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::domain::ids::UserId;

const USER_ID: &str = "user_id";
const EPOCH: &str = "epoch";
const CSRF_TOKEN: &str = "csrf";

/// The session, with typed accessors.
pub struct TypedSession(Session);

impl TypedSession {
    pub fn from_session(session: Session) -> Self {
        TypedSession(session)
    }

    /// Starts a fresh session for a user who just signed in (new cookie, new CSRF token),
    /// tied to the user's current session epoch.
    pub fn sign_in(&self, user_id: &UserId, epoch: i64) -> Result<(), SessionInsertError> {
        // A new session key on sign-in (no fixation); purge() would drop the inserts below.
        self.0.clear();
        self.0.renew();
        self.0.insert(USER_ID, user_id)?;
        self.0.insert(EPOCH, epoch)?;
        self.0.insert(
            CSRF_TOKEN,
            crate::domain::ids::new_id() + &crate::domain::ids::new_id(),
        )
    }

    pub fn user_id(&self) -> Result<Option<UserId>, SessionGetError> {
        self.0.get(USER_ID)
    }

    /// The user and the session epoch this cookie was issued in; the database decides whether
    /// that epoch is still current.
    pub fn signed_in(&self) -> Option<(UserId, i64)> {
        let user = self.0.get::<UserId>(USER_ID).ok().flatten()?;
        let epoch = self.0.get::<i64>(EPOCH).ok().flatten()?;
        Some((user, epoch))
    }

    /// The session's CSRF token, created on first use.
    pub fn csrf_token(&self) -> Result<String, SessionInsertError> {
        if let Ok(Some(t)) = self.0.get::<String>(CSRF_TOKEN) {
            return Ok(t);
        }
        let token = crate::domain::ids::new_id() + &crate::domain::ids::new_id();
        self.0.insert(CSRF_TOKEN, &token)?;
        Ok(token)
    }

    /// The CSRF token if one was issued, without creating one.
    pub fn existing_csrf_token(&self) -> Option<String> {
        self.0.get::<String>(CSRF_TOKEN).ok().flatten()
    }

    pub fn sign_out(&self) {
        self.0.purge();
    }
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession(req.get_session())))
    }
}
