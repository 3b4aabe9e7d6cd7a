//! The typed view of the session cookie: who is signed in, since when and last when, and
//! their CSRF token. Nothing secret beyond that ever goes in it (never an API key). Whether a
//! session is still alive is decided here, on every read, by the [`SessionPolicy`].

use std::future::{ready, Ready};

use actix_session::{Session, SessionExt, SessionGetError, SessionInsertError};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::domain::ids::UserId;
use crate::domain::session_policy::{Ended, SessionPolicy, Verdict};

const USER_ID: &str = "user_id";
const EPOCH: &str = "epoch";
const CSRF_TOKEN: &str = "csrf";
/// When the session was issued, Unix seconds.
const ISSUED: &str = "iat";
/// When it was last used (to the minute), Unix seconds.
const SEEN: &str = "seen";
/// A one-time message for the next full page (what a plain form's POST did).
const FLASH: &str = "flash";
/// The email to prefill on the sign-in form (after a password reset), until the next sign-in.
const SIGN_IN_EMAIL: &str = "sign_in_email";

/// The session, with typed accessors.
pub struct TypedSession(Session, SessionPolicy);

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TypedSession {
    /// The request's session, judged by the app's policy (the default one outside the app).
    pub fn of(req: &HttpRequest) -> Self {
        let policy = req
            .app_data::<actix_web::web::Data<crate::state::AppState>>()
            .map(|s| s.session_policy)
            .unwrap_or_default();
        TypedSession(req.get_session(), policy)
    }

    /// Starts a fresh session for a user who just signed in (new cookie, new CSRF token),
    /// tied to the user's current session epoch.
    pub fn sign_in(&self, user_id: &UserId, epoch: i64) -> Result<(), SessionInsertError> {
        // A new session key on sign-in (no fixation); purge() would drop the inserts below.
        self.0.clear();
        self.0.renew();
        self.0.insert(USER_ID, user_id)?;
        self.0.insert(EPOCH, epoch)?;
        let now = unix_now();
        self.0.insert(ISSUED, now)?;
        self.0.insert(SEEN, now)?;
        self.0.insert(
            CSRF_TOKEN,
            crate::domain::ids::new_id() + &crate::domain::ids::new_id(),
        )
    }

    /// The user of a session that is still alive.
    pub fn user_id(&self) -> Result<Option<UserId>, SessionGetError> {
        Ok(self.signed_in().map(|(user, _)| user))
    }

    /// The user and the session epoch this cookie was issued in, while the session is within
    /// its lifetime and idle limit (a use restarts the idle clock); the database decides
    /// whether that epoch is still current.
    pub fn signed_in(&self) -> Option<(UserId, i64)> {
        let user = self.0.get::<UserId>(USER_ID).ok().flatten()?;
        let epoch = self.0.get::<i64>(EPOCH).ok().flatten()?;
        match self.verdict() {
            Verdict::Live { renew } => {
                if renew {
                    // A failed write only means the idle clock restarts at the next use.
                    let _ = self.0.insert(SEEN, unix_now());
                }
                Some((user, epoch))
            }
            Verdict::Ended(_) => None,
        }
    }

    /// Why a session that names a user is no longer alive (None: alive, or no user).
    pub fn ended(&self) -> Option<Ended> {
        self.0.get::<UserId>(USER_ID).ok().flatten()?;
        match self.verdict() {
            Verdict::Ended(why) => Some(why),
            Verdict::Live { .. } => None,
        }
    }

    fn verdict(&self) -> Verdict {
        let issued = self.0.get::<i64>(ISSUED).ok().flatten();
        let seen = self.0.get::<i64>(SEEN).ok().flatten();
        self.1.check(issued, seen, unix_now())
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

    /// Keeps a message for the next full page this session loads (a redirect after a plain
    /// form's POST cannot carry a toast header). Never anything secret.
    pub fn flash(&self, message: &str) {
        // Lost only if the cookie cannot be written, and then the change itself still stands.
        let _ = self.0.insert(FLASH, message);
    }

    /// The message kept by [`TypedSession::flash`], once.
    pub fn take_flash(&self) -> Option<String> {
        self.0.remove_as::<String>(FLASH).and_then(Result::ok)
    }

    pub fn sign_out(&self) {
        self.0.purge();
    }

    /// Signs out as [`TypedSession::sign_out`] does (nothing of the session is kept, under a
    /// new key), keeping only the email the sign-in form is then filled with.
    pub fn sign_out_for(&self, email: &str) {
        self.0.clear();
        self.0.renew();
        // Lost only if the cookie cannot be written: the form is then empty, as before.
        let _ = self.0.insert(SIGN_IN_EMAIL, email);
    }

    /// The email kept by [`TypedSession::sign_out_for`].
    pub fn sign_in_email(&self) -> Option<String> {
        self.0.get::<String>(SIGN_IN_EMAIL).ok().flatten()
    }
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession::of(req)))
    }
}
