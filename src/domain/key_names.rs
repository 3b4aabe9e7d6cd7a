//! How pages name a key: its name and masked prefix (`Production CRM (ck_live_tk61••••)`),
//! since a roll leaves two keys with one name; and a roll's two keys, each pointing at the
//! other ("Replaced by ck_live_…", "Replaces ck_live_…").

use std::collections::HashMap;

/// The prefix with the rest of the key masked, short, for a sentence: `ck_live_tk61••••`.
pub fn short_prefix(prefix: &str) -> String {
    format!("{prefix}••••")
}

/// `Production CRM (ck_live_tk61••••)`.
pub fn key_label(name: &str, prefix: &str) -> String {
    format!("{name} ({})", short_prefix(prefix))
}

/// The field labels of a roll's details (see [`super::key_change::describe`]) whose value is
/// the id of the other key.
const LINK_FIELDS: [&str; 2] = ["Replaced by", "Replaces"];

/// One change of an event in words, its value naming another key resolved to its masked
/// prefix, with that key's id to link to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedChange {
    pub field: String,
    pub before: String,
    pub after: String,
    /// The key `after` names (a roll's other key).
    pub key_id: Option<String>,
}

/// A project's keys by id: their prefixes and which key replaced which.
#[derive(Debug, Clone, Default)]
pub struct KeyNames {
    prefixes: HashMap<String, String>,
    replaced_by: HashMap<String, String>,
    replaces: HashMap<String, String>,
}

impl KeyNames {
    /// From (id, prefix, the key that replaced it) of each key.
    pub fn new(keys: impl IntoIterator<Item = (String, String, Option<String>)>) -> Self {
        let mut names = KeyNames::default();
        for (id, prefix, replaced_by) in keys {
            if let Some(new) = replaced_by {
                names.replaces.insert(new.clone(), id.clone());
                names.replaced_by.insert(id.clone(), new);
            }
            names.prefixes.insert(id, prefix);
        }
        names
    }

    /// The key `id`'s prefix, masked as its own page shows it (`ck_live_tk61••••••••`), when
    /// it is one of the project's.
    pub fn short(&self, id: &str) -> Option<String> {
        self.prefixes
            .get(id)
            .map(|p| super::api_key::masked_prefix(p))
    }

    /// `name (ck_live_tk61••••)`; the name alone for a key that is not known.
    pub fn label(&self, id: &str, name: &str) -> String {
        match self.prefixes.get(id) {
            Some(prefix) => key_label(name, prefix),
            None => name.to_owned(),
        }
    }

    /// The key that replaced `id` in a roll.
    pub fn replaced_by(&self, id: &str) -> Option<&str> {
        self.replaced_by.get(id).map(String::as_str)
    }

    /// The key `id` replaced in a roll.
    pub fn replaces(&self, id: &str) -> Option<&str> {
        self.replaces.get(id).map(String::as_str)
    }

    /// An event's changes (field, before, after) with the other key of a roll named by its
    /// masked prefix instead of its internal id.
    pub fn resolve(&self, changes: Vec<(String, String, String)>) -> Vec<NamedChange> {
        changes
            .into_iter()
            .map(|(field, before, after)| {
                if LINK_FIELDS.contains(&field.as_str()) {
                    let shown = self
                        .short(&after)
                        .unwrap_or_else(|| "a key no longer here".into());
                    let key_id = self.prefixes.contains_key(&after).then_some(after);
                    NamedChange {
                        field,
                        before,
                        after: shown,
                        key_id,
                    }
                } else {
                    NamedChange {
                        field,
                        before,
                        after,
                        key_id: None,
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> KeyNames {
        KeyNames::new([
            (
                "key_old".into(),
                "ck_live_tk61".into(),
                Some("key_new".into()),
            ),
            ("key_new".into(), "ck_live_9Qz2".into(), None),
        ])
    }

    #[test]
    fn two_keys_of_one_name_read_apart_by_their_prefix() {
        let n = names();
        assert_eq!(
            n.label("key_old", "Production CRM"),
            "Production CRM (ck_live_tk61••••)"
        );
        assert_eq!(
            n.label("key_new", "Production CRM"),
            "Production CRM (ck_live_9Qz2••••)"
        );
        assert_eq!(n.label("key_gone", "CRM"), "CRM");
        assert_eq!(n.replaced_by("key_old"), Some("key_new"));
        assert_eq!(n.replaces("key_new"), Some("key_old"));
        assert_eq!(n.replaces("key_old"), None);
    }

    #[test]
    fn a_roll_names_the_other_key_by_its_prefix_never_its_id() {
        let resolved = names().resolve(vec![
            ("Replaced by".into(), String::new(), "key_new".into()),
            ("Expires".into(), "Never".into(), "Dec 2".into()),
            ("Replaces".into(), String::new(), "key_unknown".into()),
        ]);
        assert_eq!(resolved[0].after, "ck_live_9Qz2••••••••");
        assert_eq!(resolved[0].key_id.as_deref(), Some("key_new"));
        assert_eq!(resolved[1].after, "Dec 2");
        assert_eq!(resolved[1].key_id, None);
        assert_eq!(resolved[2].after, "a key no longer here");
        assert_eq!(resolved[2].key_id, None);
    }
}
