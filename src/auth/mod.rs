//! Who is asking: passwords and sessions for people, CSRF protection for their forms.

pub mod api_key;
pub mod csrf;
pub mod password;
pub mod session;
