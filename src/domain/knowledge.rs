//! A knowledge item as submitted: name, optional description, text.

use serde_json::Value;

use super::{without_nul, Invalid};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_TEXT_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKnowledge {
    pub name: String,
    pub description: Option<String>,
    pub text: String,
}

/// What each field is called where the message is shown: the API names its JSON fields, the
/// dashboard its form labels (Content is the API's `text`). Limits and wording are the same.
#[derive(Debug, Clone, Copy)]
pub struct Labels {
    pub name: &'static str,
    pub description: &'static str,
    pub text: &'static str,
}

pub const API_LABELS: Labels = Labels {
    name: "name",
    description: "description",
    text: "text",
};
pub const FORM_LABELS: Labels = Labels {
    name: "Name",
    description: "Description",
    text: "Content",
};

pub fn parse_name(name: &str, label: &str) -> Result<String, Invalid> {
    // Counted as given, surrounding spaces included, as the OpenAPI `maxLength` counts.
    let given = name.chars().count();
    let name = name.trim();
    if name.is_empty() {
        return Err(Invalid::new(format!(
            "{label} is required and must not be blank"
        )));
    }
    if given > MAX_NAME_CHARS {
        return Err(Invalid::new(format!(
            "{label} must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(without_nul(name, label)?.to_owned())
}

pub fn parse_description(
    description: Option<&str>,
    label: &str,
) -> Result<Option<String>, Invalid> {
    if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
        return Err(Invalid::new(format!(
            "{label} must be at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    let description = description.map(str::trim).filter(|d| !d.is_empty());
    description
        .map(|d| without_nul(d, label).map(str::to_owned))
        .transpose()
}

pub fn parse_text(text: &str, label: &str) -> Result<String, Invalid> {
    if text.trim().is_empty() {
        return Err(Invalid::new(format!(
            "{label} is required and must not be blank"
        )));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(Invalid::new(format!("{label} must be at most 512 KiB")));
    }
    Ok(without_nul(text, label)?.to_owned())
}

impl NewKnowledge {
    /// Validates the three fields; the first failure is returned, its message naming the field.
    pub fn parse(name: &str, description: Option<&str>, text: &str) -> Result<Self, Invalid> {
        let l = API_LABELS;
        Ok(NewKnowledge {
            name: parse_name(name, l.name)?,
            text: parse_text(text, l.text)?,
            description: parse_description(description, l.description)?,
        })
    }

    /// Validates a JSON body `{"name", "description"?, "text"}`, naming the field at fault.
    pub fn from_json(body: &Value) -> Result<Self, Invalid> {
        let Some(obj) = body.as_object() else {
            return Err(Invalid::new(
                "body must be a JSON object with name and text",
            ));
        };
        let name = required_string(obj.get("name"), "name")?;
        let text = required_string(obj.get("text"), "text")?;
        let description = match obj.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(Invalid::new("description must be a string or null")),
        };
        Self::parse(name, description, text)
    }
}

fn required_string<'a>(v: Option<&'a Value>, field: &str) -> Result<&'a str, Invalid> {
    match v {
        None | Some(Value::Null) => Err(Invalid::new(format!(
            "{field} is required and must not be blank"
        ))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Invalid::new(format!("{field} must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lengths_count_the_input_as_given_like_the_openapi_schema() {
        let padded = format!("  {}", "n".repeat(199));
        assert!(
            parse_name(&padded, "name").is_err(),
            "201 characters as sent"
        );
        assert_eq!(parse_name(&"n".repeat(200), "name").unwrap().len(), 200);
        let long = format!(" {}", "d".repeat(2000));
        assert!(parse_description(Some(&long), "description").is_err());
        assert_eq!(parse_description(Some("   "), "description").unwrap(), None);
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn json_bodies_are_checked_field_by_field() {
        let ok = NewKnowledge::from_json(&json!({"name": " FAQ ", "text": "Hello"})).unwrap();
        assert_eq!(
            ok,
            NewKnowledge {
                name: "FAQ".into(),
                description: None,
                text: "Hello".into()
            }
        );
        let cases = [
            (
                json!({"text": "x"}),
                "name is required and must not be blank",
            ),
            (
                json!({"name": "  ", "text": "x"}),
                "name is required and must not be blank",
            ),
            (json!({"name": 5, "text": "x"}), "name must be a string"),
            (
                json!({"name": "n"}),
                "text is required and must not be blank",
            ),
            (
                json!({"name": "n", "text": " \n"}),
                "text is required and must not be blank",
            ),
            (json!({"name": "n", "text": ["x"]}), "text must be a string"),
            (
                json!({"name": "n", "text": "x", "description": 3}),
                "description must be a string or null",
            ),
            (
                json!({"name": "n".repeat(201), "text": "x"}),
                "name must be at most 200 characters",
            ),
            (
                json!({"name": "n", "text": "x".repeat(512 * 1024 + 1)}),
                "text must be at most 512 KiB",
            ),
            (json!([1]), "body must be a JSON object with name and text"),
            (
                json!({"name": "a\u{0}b", "text": "x"}),
                "name must not contain NUL characters",
            ),
            (
                json!({"name": "n", "text": "x", "description": "\u{0}"}),
                "description must not contain NUL characters",
            ),
            (
                json!({"name": "n", "text": "x\u{0}"}),
                "text must not contain NUL characters",
            ),
        ];
        for (body, message) in cases {
            assert_eq!(NewKnowledge::from_json(&body).unwrap_err().0, message);
        }
    }

    #[test]
    fn the_form_names_its_own_labels_for_a_nul() {
        let l = FORM_LABELS;
        assert_eq!(
            parse_name("\u{0}", l.name).unwrap_err().0,
            "Name must not contain NUL characters"
        );
        assert_eq!(
            parse_text("a\u{0}", l.text).unwrap_err().0,
            "Content must not contain NUL characters"
        );
    }
}
