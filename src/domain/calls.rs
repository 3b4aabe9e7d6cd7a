//! A call as imported (one JSON object a line, in the API's shape), validated whole before
//! anything is stored.

use chrono::{DateTime, NaiveDateTime};
use serde_json::{Map, Value};

use super::ids::{self, CallId};
use super::{without_nul, Invalid};

/// A valid call, ready to store. JSON fields are kept as serialised text.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub id: Option<CallId>,
    pub status: CallStatus,
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

/// Whether a call has ended or is still going on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, diesel::AsExpression, diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "lowercase")]
pub enum CallStatus {
    Completed,
    Live,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Completed => "completed",
            CallStatus::Live => "live",
        }
    }
}

impl std::str::FromStr for CallStatus {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "completed" => Ok(CallStatus::Completed),
            "live" => Ok(CallStatus::Live),
            _ => Err(Invalid::new("status must be \"completed\" or \"live\"")),
        }
    }
}

impl std::fmt::Display for CallStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
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
            Some(Value::String(s)) => Some(CallId::parse(s)?),
            Some(_) => return Err(ids::refusal()),
        };
        let status = match obj.get("status") {
            Some(Value::String(s)) => s.parse::<CallStatus>()?,
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
        Some(Value::String(s)) => without_nul(s, "content").map(|_| ()).map_err(|e| e.0),
        _ => Err("content must be a string".into()),
    }
}

fn optional_string(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, Invalid> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(without_nul(s, field)?.to_owned())),
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
    use proptest::prelude::*;
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
        assert_eq!(c.id.as_ref().map(|i| i.as_str()), Some("call_1"));
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
            (
                json!({"status": "live", "duration": 1, "id": "a\u{0}"}),
                "id must be a string of 1 to 64 letters, digits, '-' or '_'",
            ),
            (
                json!({"status": "live", "duration": 1, "id": 7}),
                "id must be a string of 1 to 64 letters, digits, '-' or '_'",
            ),
            (
                json!({"status": "live", "duration": 1, "summary": "a\u{0}b"}),
                "summary must not contain NUL characters",
            ),
            (
                json!({"status": "live", "duration": 1, "callerNumber": "\u{0}"}),
                "callerNumber must not contain NUL characters",
            ),
            (
                json!({"status": "live", "duration": 1, "transcript": [{"role": "user", "content": "\u{0}"}]}),
                "transcript[0]: content must not contain NUL characters",
            ),
        ];
        for (v, message) in cases {
            assert_eq!(CallRecord::from_json(&v).unwrap_err().0, message, "{v}");
        }
    }

    /// Any JSON, with keys and strings often those a call has, so that deep paths are hit.
    fn json_value() -> impl Strategy<Value = Value> {
        let words = || {
            prop_oneof![
                3 => proptest::sample::select(
                    [&KNOWN_FIELDS[..], &["role", "content", "assistant", "user", "completed", "live",
                      "2025-12-15T14:30:00.000Z"]].concat()
                )
                .prop_map(str::to_owned),
                1 => any::<String>(),
            ]
        };
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
                .map(Value::Number)),
            words().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 48, 8, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(words(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_json_makes_the_validation_panic_and_what_passes_is_valid(v in json_value()) {
            if let Ok(c) = CallRecord::from_json(&v) {
                prop_assert!(STATUSES.contains(&c.status.as_str()));
                prop_assert!(c.duration.is_finite() && c.duration >= 0.0);
                prop_assert!(serde_json::from_str::<Value>(&c.call_analysis).unwrap().is_object());
                prop_assert!(serde_json::from_str::<Value>(&c.transcript).unwrap().is_array());
                if let Some(id) = &c.id {
                    prop_assert!(CallId::parse(id.as_str()).is_ok());
                }
                for text in [&c.summary, &c.evaluation, &c.ended_reason, &c.caller_number, &c.called_number].into_iter().flatten() {
                    prop_assert!(!text.contains('\0'));
                }
            }
        }

        #[test]
        fn no_line_of_text_makes_the_validation_panic(line in any::<String>()) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let _ = CallRecord::from_json(&v);
            }
        }

        #[test]
        fn valid_calls_are_accepted_as_given(
            id in proptest::option::of("[A-Za-z0-9_-]{1,64}"),
            live in any::<bool>(),
            duration in 0.0f64..1e9,
            summary in proptest::option::of("[^\u{0}]{0,40}"),
            engaged in any::<bool>(),
        ) {
            let status = if live { "live" } else { "completed" };
            let v = json!({"id": id, "status": status, "duration": duration, "summary": summary, "isEngaged": engaged});
            let c = CallRecord::from_json(&v).unwrap();
            prop_assert_eq!(c.id.map(CallId::into_string), id);
            prop_assert_eq!(c.status.as_str(), status);
            prop_assert_eq!(c.duration, duration);
            prop_assert_eq!(c.summary, summary);
            prop_assert_eq!(c.is_engaged, engaged);
        }
    }
}
