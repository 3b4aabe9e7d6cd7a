//! A knowledge item as submitted: name, optional description, text.

use serde_json::Value;

use super::Invalid;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_TEXT_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKnowledge {
    pub name: String,
    pub description: Option<String>,
    pub text: String,
}

impl NewKnowledge {
    /// Validates the three fields; each message names its field.
    pub fn parse(name: &str, description: Option<&str>, text: &str) -> Result<Self, Invalid> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Invalid::new("name is required and must not be blank"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Invalid::new(format!(
                "name must be at most {MAX_NAME_CHARS} characters"
            )));
        }
        if text.trim().is_empty() {
            return Err(Invalid::new("text is required and must not be blank"));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(Invalid::new("text must be at most 512 KiB"));
        }
        let description = description.map(str::trim).filter(|d| !d.is_empty());
        if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
            return Err(Invalid::new(format!(
                "description must be at most {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        Ok(NewKnowledge {
            name: name.to_owned(),
            description: description.map(str::to_owned),
            text: text.to_owned(),
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
        ];
        for (body, message) in cases {
            assert_eq!(NewKnowledge::from_json(&body).unwrap_err().0, message);
        }
    }
}
