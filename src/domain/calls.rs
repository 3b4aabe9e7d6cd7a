//! A call as imported (one JSON object a line, in the API's shape), validated whole before
//! anything is stored.

use chrono::{DateTime, NaiveDateTime};
use serde_json::{Map, Value};

use super::Invalid;

/// A valid call, ready to store. JSON fields are kept as serialised text.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub id: Option<String>,
    pub status: String,
    pub duration: f64,
    pub summary: Option<String>,
    pub evaluation: Option<String>,
    pub ended_reason: Option<String>,
    pub caller_number: Option<String>,
    pub called_number: Option<String>,
    pub is_engaged: bool,
    /// A JSON object, serialised.
    pub call_analysis: String,
    /// A JSON array of `{role, content}`, serialised.
    pub transcript: String,
    pub created_at: Option<NaiveDateTime>,
    pub updated_at: Option<NaiveDateTime>,
}

pub const STATUSES: [&str; 2] = ["completed", "live"];
const KNOWN_FIELDS: [&str; 13] = [
    "id",
    "status",
    "duration",
    "summary",
    "evaluation",
    "endedReason",
    "callerNumber",
    "calledNumber",
    "isEngaged",
    "callAnalysis",
    "transcript",
    "createdAt",
    "updatedAt",
];

impl CallRecord {
    /// Validates one call object; the message names the field and what is allowed.
    pub fn from_json(v: &Value) -> Result<Self, Invalid> {
        let obj = v
            .as_object()
            .ok_or_else(|| Invalid::new("each line must be a JSON object"))?;
        if let Some(unknown) = obj.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
            return Err(Invalid::new(format!("unknown field '{unknown}'")));
        }
        let id = match obj.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s))
                if !s.is_empty()
                    && s.len() <= 64
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Some(s.clone())
            }
            Some(_) => {
                return Err(Invalid::new(
                    "id must be a string of 1 to 64 letters, digits, '-' or '_'",
                ))
            }
        };
        let status = match obj.get("status") {
            Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => s.clone(),
            _ => return Err(Invalid::new("status must be \"completed\" or \"live\"")),
        };
        let duration = match obj.get("duration") {
            Some(Value::Number(n)) => n.as_f64().filter(|d| d.is_finite() && *d >= 0.0),
            _ => None,
        }
        .ok_or_else(|| Invalid::new("duration must be a number of seconds, 0 or more"))?;
        let is_engaged = match obj.get("isEngaged") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Invalid::new("isEngaged must be true or false")),
        };
        let call_analysis = match obj.get("callAnalysis") {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(v @ Value::Object(_)) => v.to_string(),
            Some(_) => return Err(Invalid::new("callAnalysis must be an object")),
        };
        let transcript = match obj.get("transcript") {
            None | Some(Value::Null) => "[]".to_owned(),
            Some(Value::Array(turns)) => {
                for (i, t) in turns.iter().enumerate() {
                    check_turn(t).map_err(|e| Invalid::new(format!("transcript[{i}]: {e}")))?;
                }
                Value::Array(turns.clone()).to_string()
            }
            Some(_) => return Err(Invalid::new("transcript must be an array")),
        };
        let created_at = timestamp(obj, "createdAt")?;
        let updated_at = timestamp(obj, "updatedAt")?;
        Ok(CallRecord {
            id,
            status,
            duration,
            summary: optional_string(obj, "summary")?,
            evaluation: optional_string(obj, "evaluation")?,
            ended_reason: optional_string(obj, "endedReason")?,
            caller_number: optional_string(obj, "callerNumber")?,
            called_number: optional_string(obj, "calledNumber")?,
            is_engaged,
            call_analysis,
            transcript,
            created_at,
            updated_at,
        })
    }
}

fn check_turn(t: &Value) -> Result<(), String> {
    let obj = t
        .as_object()
        .ok_or("must be an object with role and content")?;
    match obj.get("role") {
        Some(Value::String(r)) if r == "assistant" || r == "user" => {}
        _ => return Err("role must be \"assistant\" or \"user\"".into()),
    }
    match obj.get("content") {
        Some(Value::String(_)) => Ok(()),
        _ => Err("content must be a string".into()),
    }
}

fn optional_string(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, Invalid> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Invalid::new(format!("{field} must be a string or null"))),
    }
}

fn timestamp(obj: &Map<String, Value>, field: &str) -> Result<Option<NaiveDateTime>, Invalid> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.naive_utc()))
            .map_err(|_| {
                Invalid::new(format!(
                    "{field} must be an ISO-8601 timestamp like 2025-12-15T14:30:00.000Z"
                ))
            }),
        Some(_) => Err(Invalid::new(format!("{field} must be a string timestamp"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_call_is_accepted() {
        let c = CallRecord::from_json(&json!({
            "id": "call_1", "status": "completed", "duration": 145, "summary": "s", "evaluation": "success",
            "endedReason": "user_hangup", "callerNumber": "+33612345678", "calledNumber": "+14155550100",
            "isEngaged": true, "callAnalysis": {"sentiment": "positive"},
            "transcript": [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "Hello"}],
            "createdAt": "2025-12-15T14:30:00.000Z", "updatedAt": "2025-12-15T14:32:25.000+01:00"
        }))
        .unwrap();
        assert_eq!(c.id.as_deref(), Some("call_1"));
        assert_eq!(c.duration, 145.0);
        assert_eq!(c.created_at.unwrap().to_string(), "2025-12-15 14:30:00");
        assert_eq!(c.updated_at.unwrap().to_string(), "2025-12-15 13:32:25");
        assert_eq!(c.call_analysis, r#"{"sentiment":"positive"}"#);
    }

    #[test]
    fn a_minimal_call_gets_defaults() {
        let c = CallRecord::from_json(&json!({"status": "live", "duration": 0})).unwrap();
        assert_eq!(
            (
                c.id,
                c.is_engaged,
                c.call_analysis.as_str(),
                c.transcript.as_str()
            ),
            (None, false, "{}", "[]")
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!("x"), "each line must be a JSON object"),
            (
                json!({"duration": 1}),
                "status must be \"completed\" or \"live\"",
            ),
            (
                json!({"status": "done", "duration": 1}),
                "status must be \"completed\" or \"live\"",
            ),
            (
                json!({"status": "live"}),
                "duration must be a number of seconds, 0 or more",
            ),
            (
                json!({"status": "live", "duration": -1}),
                "duration must be a number of seconds, 0 or more",
            ),
            (
                json!({"status": "live", "duration": "5"}),
                "duration must be a number of seconds, 0 or more",
            ),
            (
                json!({"status": "live", "duration": 1, "isEngaged": "yes"}),
                "isEngaged must be true or false",
            ),
            (
                json!({"status": "live", "duration": 1, "callAnalysis": []}),
                "callAnalysis must be an object",
            ),
            (
                json!({"status": "live", "duration": 1, "transcript": [{"role": "bot", "content": "x"}]}),
                "transcript[0]: role must be \"assistant\" or \"user\"",
            ),
            (
                json!({"status": "live", "duration": 1, "transcript": [{"role": "user"}]}),
                "transcript[0]: content must be a string",
            ),
            (
                json!({"status": "live", "duration": 1, "createdAt": "yesterday"}),
                "createdAt must be an ISO-8601 timestamp like 2025-12-15T14:30:00.000Z",
            ),
            (
                json!({"status": "live", "duration": 1, "summary": 3}),
                "summary must be a string or null",
            ),
            (
                json!({"status": "live", "duration": 1, "id": "a b"}),
                "id must be a string of 1 to 64 letters, digits, '-' or '_'",
            ),
            (
                json!({"status": "live", "duration": 1, "colour": "red"}),
                "unknown field 'colour'",
            ),
        ];
        for (v, message) in cases {
            assert_eq!(CallRecord::from_json(&v).unwrap_err().0, message, "{v}");
        }
    }
}
