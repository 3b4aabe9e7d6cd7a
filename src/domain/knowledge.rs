//! A knowledge item as submitted: name, optional description, text. A refusal names the field
//! and the problem; the caller says what the field is called where the message is shown (the
//! API its JSON names, the dashboard its form labels: Content is the API's `text`).

use std::collections::BTreeMap;

use super::without_nul;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_TEXT_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKnowledge {
    pub name: String,
    pub description: Option<String>,
    pub text: String,
}

/// The fields of an item, in the order they are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Text,
    Description,
}

/// What is wrong with a field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Absent, null, or only spaces.
    Blank,
    /// Longer than allowed (the limit, as said to a person).
    TooLong(&'static str),
    /// A NUL character, which PostgreSQL cannot store.
    Nul,
    /// Not a string (not even null, where null is allowed).
    NotText { null_allowed: bool },
}

/// A refused field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Field,
    pub problem: Problem,
}

impl Field {
    /// The refusal of a value that is not text (`null_allowed` for an optional field).
    pub fn not_text(self, null_allowed: bool) -> FieldError {
        refuse(self, Problem::NotText { null_allowed })
    }

    /// The refusal of a required field that is absent.
    pub fn blank(self) -> FieldError {
        refuse(self, Problem::Blank)
    }
}

impl FieldError {
    /// The message, with the field called `label`.
    pub fn message(&self, label: &str) -> String {
        match &self.problem {
            Problem::Blank => format!("{label} is required and must not be blank"),
            Problem::TooLong(limit) => format!("{label} must be at most {limit}"),
            Problem::Nul => format!("{label} must not contain NUL characters"),
            Problem::NotText { null_allowed: true } => format!("{label} must be a string or null"),
            Problem::NotText {
                null_allowed: false,
            } => format!("{label} must be a string"),
        }
    }
}

fn refuse(field: Field, problem: Problem) -> FieldError {
    FieldError { field, problem }
}

fn no_nul(value: &str, field: Field) -> Result<&str, FieldError> {
    without_nul(value, "").map_err(|_| refuse(field, Problem::Nul))
}

pub fn parse_name(name: &str) -> Result<String, FieldError> {
    // Counted as given, surrounding spaces included, as the OpenAPI `maxLength` counts.
    let given = name.chars().count();
    let name = name.trim();
    if name.is_empty() {
        return Err(refuse(Field::Name, Problem::Blank));
    }
    if given > MAX_NAME_CHARS {
        return Err(refuse(Field::Name, Problem::TooLong("200 characters")));
    }
    Ok(no_nul(name, Field::Name)?.to_owned())
}

pub fn parse_description(description: Option<&str>) -> Result<Option<String>, FieldError> {
    if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
        return Err(refuse(
            Field::Description,
            Problem::TooLong("2000 characters"),
        ));
    }
    let description = description.map(str::trim).filter(|d| !d.is_empty());
    description
        .map(|d| no_nul(d, Field::Description).map(str::to_owned))
        .transpose()
}

pub fn parse_text(text: &str) -> Result<String, FieldError> {
    if text.trim().is_empty() {
        return Err(refuse(Field::Text, Problem::Blank));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(refuse(Field::Text, Problem::TooLong("512 KiB")));
    }
    Ok(no_nul(text, Field::Text)?.to_owned())
}

impl NewKnowledge {
    /// Validates the three fields; every refusal is returned, in the order of [`Field`].
    pub fn parse(
        name: &str,
        description: Option<&str>,
        text: &str,
    ) -> Result<Self, Vec<FieldError>> {
        match (
            parse_name(name),
            parse_text(text),
            parse_description(description),
        ) {
            (Ok(name), Ok(text), Ok(description)) => Ok(NewKnowledge {
                name,
                description,
                text,
            }),
            (n, t, d) => Err([n.err(), t.err(), d.err()].into_iter().flatten().collect()),
        }
    }
}

/// An edit of a stored item: each field given replaces the stored one, `None` keeps it (an
/// API `PATCH` gives some fields, the dashboard's form all three). Values are already parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnowledgeEdit {
    pub name: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub text: Option<String>,
}

impl From<NewKnowledge> for KnowledgeEdit {
    fn from(k: NewKnowledge) -> Self {
        KnowledgeEdit {
            name: Some(k.name),
            description: Some(k.description),
            text: Some(k.text),
        }
    }
}

/// What an edit changed, by the field's API name: (before, after). The text is said by its
/// size (it may be 512 KiB: the audit log keeps what changed, not two copies of it).
pub type Changes = BTreeMap<&'static str, (Option<String>, Option<String>)>;

impl KnowledgeEdit {
    /// The item as the edit leaves it, and what changed (empty when nothing did).
    pub fn apply(self, current: &NewKnowledge) -> (NewKnowledge, Changes) {
        let after = NewKnowledge {
            name: self.name.unwrap_or_else(|| current.name.clone()),
            description: self
                .description
                .unwrap_or_else(|| current.description.clone()),
            text: self.text.unwrap_or_else(|| current.text.clone()),
        };
        let mut changes = Changes::new();
        if after.name != current.name {
            changes.insert(
                "name",
                (Some(current.name.clone()), Some(after.name.clone())),
            );
        }
        if after.description != current.description {
            changes.insert(
                "description",
                (current.description.clone(), after.description.clone()),
            );
        }
        if after.text != current.text {
            let (before, mut now) = (
                crate::time::size_label(current.text.len()),
                crate::time::size_label(after.text.len()),
            );
            // Same size, different words: still say it was edited.
            if before == now {
                now.push_str(", edited");
            }
            changes.insert("text", (Some(before), Some(now)));
        }
        (after, changes)
    }
}

/// Longest search the Knowledge list takes, in characters (the rest is ignored).
pub const MAX_SEARCH_CHARS: usize = 200;
/// Most words a search matches (the rest are ignored).
const MAX_SEARCH_WORDS: usize = 8;

/// What the Knowledge list is searched for, as typed: an item matches when each word is in
/// its name, description or text, in any case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchTerms {
    typed: String,
    words: Vec<String>,
}

impl SearchTerms {
    pub fn parse(query: &str) -> Self {
        let typed: String = query
            .trim()
            .chars()
            .filter(|c| *c != '\u{0}')
            .take(MAX_SEARCH_CHARS)
            .collect();
        let words = typed
            .split_whitespace()
            .map(str::to_lowercase)
            .take(MAX_SEARCH_WORDS)
            .collect();
        SearchTerms { typed, words }
    }

    /// No words: the whole list.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The words, lower-cased.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.words.iter().map(String::as_str)
    }

    /// The search as typed (trimmed), for the box and the links that keep it.
    pub fn typed(&self) -> &str {
        &self.typed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_the_input_as_given_like_the_openapi_schema() {
        let padded = format!("  {}", "n".repeat(199));
        assert!(parse_name(&padded).is_err(), "201 characters as sent");
        assert_eq!(parse_name(&"n".repeat(200)).unwrap().len(), 200);
        let long = format!(" {}", "d".repeat(2000));
        assert!(parse_description(Some(&long)).is_err());
        assert_eq!(parse_description(Some("   ")).unwrap(), None);
    }

    #[test]
    fn every_refused_field_is_named_in_order_with_its_problem() {
        let ok = NewKnowledge::parse(" FAQ ", None, "Hello").unwrap();
        assert_eq!(
            ok,
            NewKnowledge {
                name: "FAQ".into(),
                description: None,
                text: "Hello".into()
            }
        );
        let errors = NewKnowledge::parse("  ", Some(&"d".repeat(2001)), "a\u{0}").unwrap_err();
        let got: Vec<_> = errors.iter().map(|e| (e.field, e.message("X"))).collect();
        assert_eq!(
            got,
            [
                (
                    Field::Name,
                    "X is required and must not be blank".to_owned()
                ),
                (Field::Text, "X must not contain NUL characters".to_owned()),
                (
                    Field::Description,
                    "X must be at most 2000 characters".to_owned()
                ),
            ]
        );
        let cases = [
            (
                NewKnowledge::parse(&"n".repeat(201), None, "x"),
                "X must be at most 200 characters",
            ),
            (
                NewKnowledge::parse("n", None, &"x".repeat(512 * 1024 + 1)),
                "X must be at most 512 KiB",
            ),
            (
                NewKnowledge::parse("n", None, " \n"),
                "X is required and must not be blank",
            ),
            (
                NewKnowledge::parse("a\u{0}b", None, "x"),
                "X must not contain NUL characters",
            ),
            (
                NewKnowledge::parse("n", Some("\u{0}"), "x"),
                "X must not contain NUL characters",
            ),
        ];
        for (result, message) in cases {
            assert_eq!(result.unwrap_err()[0].message("X"), message);
        }
    }

    #[test]
    fn an_edit_keeps_what_it_does_not_give_and_lists_what_it_changes() {
        let current = NewKnowledge {
            name: "FAQ".into(),
            description: Some("Questions".into()),
            text: "Hello".into(),
        };
        let (same, none) = KnowledgeEdit::default().apply(&current);
        assert_eq!((same, none.len()), (current.clone(), 0));
        let edit = KnowledgeEdit {
            name: Some("Help".into()),
            description: Some(None),
            text: Some("Hallo".into()),
        };
        let (after, changes) = edit.apply(&current);
        assert_eq!(after.name, "Help");
        assert_eq!(after.description, None);
        assert_eq!(
            changes["name"],
            (Some("FAQ".to_owned()), Some("Help".to_owned()))
        );
        assert_eq!(changes["description"], (Some("Questions".to_owned()), None));
        assert_eq!(
            changes["text"],
            (
                Some("< 0.1 KB".to_owned()),
                Some("< 0.1 KB, edited".to_owned())
            )
        );
    }

    #[test]
    fn a_search_is_its_lower_cased_words() {
        let t = SearchTerms::parse("  Refund  POLICY\u{0} ");
        assert_eq!(t.typed(), "Refund  POLICY");
        assert_eq!(t.words().collect::<Vec<_>>(), ["refund", "policy"]);
        assert!(SearchTerms::parse(" \t ").is_empty());
        let long = "w ".repeat(300);
        assert_eq!(SearchTerms::parse(&long).words().count(), 8);
    }
}
