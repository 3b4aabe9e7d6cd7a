//! How keys read on the settings pages: an event's changes as the `_change.html` rows (on a
//! key's page and in the audit log), and the project's keys by id, named by their prefix.

use crate::domain::ids::KeyId;
use crate::domain::key_names::KeyNames;
use crate::web::shell::Shell;

/// One change an event records, in words; a roll's other key named by its masked prefix and
/// linked to its page.
pub struct ChangeRow {
    pub field: String,
    pub before: String,
    pub after: String,
    /// The page of the key `after` names.
    pub url: Option<String>,
}

/// An event's changes as rows: the roll's other key named by its prefix, never its id.
pub fn change_rows(
    shell: &Shell,
    names: &KeyNames,
    changes: Vec<(String, String, String)>,
) -> Vec<ChangeRow> {
    names
        .resolve(changes)
        .into_iter()
        .map(|c| ChangeRow {
            url: c
                .key_id
                .map(|id| shell.url(&format!("settings/api-keys/{id}"))),
            field: c.field,
            before: c.before,
            after: c.after,
        })
        .collect()
}

/// The project's keys by id, to name them by their prefix and link a roll's two keys.
pub fn key_names(rows: Vec<(KeyId, String, Option<KeyId>)>) -> KeyNames {
    KeyNames::new(
        rows.into_iter()
            .map(|(id, prefix, by)| (id.into_string(), prefix, by.map(KeyId::into_string))),
    )
}
