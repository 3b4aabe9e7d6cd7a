//! What the key modals read besides their path: the create and edit fields, and where a
//! change was asked from.

use serde::Deserialize;

/// The fields of the create and edit modals.
#[derive(Debug, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub allowed_ips: String,
    #[serde(default)]
    pub expires: String,
    #[serde(default)]
    pub expires_on: String,
    #[serde(default)]
    pub access: String,
    #[serde(default)]
    pub calls_access: String,
    #[serde(default)]
    pub knowledge_access: String,
}

/// `?from=page`: the change was asked for on the key's own page, which it then reloads.
#[derive(Debug, Default, Deserialize)]
pub struct Origin {
    from: Option<String>,
}

impl Origin {
    /// Whether the change was asked for on the key's page.
    pub fn key_page(&self) -> bool {
        self.from.as_deref() == Some("page")
    }

    /// The query that keeps the origin on the next request.
    pub fn query(&self) -> &'static str {
        if self.key_page() {
            "?from=page"
        } else {
            ""
        }
    }
}
