//! A call in the API's shape, read from JSON: one line of `callem import calls`, the body of
//! `POST /v1/calls`, and the fields a `PATCH /v1/calls/{id}` changes. A call is read into
//! [`CallLine`] with serde (each field whatever JSON it holds) and converted into a domain
//! [`CallRecord`] with `TryFrom`, the first refusal naming the field as the API does; a change
//! is read field by field with the same rules (the functions below), so the three agree.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::domain::calls::{
    duration_refusal, is_speaker, parse_duration, CallChange, CallRecord, CallStatus,
};
use crate::domain::ids::{self, CallId};
use crate::domain::{without_nul, Invalid};
use crate::json_field::Field;

/// A call as a line holds it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLine {
    #[serde(default)]
    id: Field<String>,
    #[serde(default)]
    status: Field<String>,
    #[serde(default)]
    duration: Field<f64>,
    #[serde(default)]
    summary: Field<String>,
    #[serde(default)]
    evaluation: Field<String>,
    #[serde(default)]
    ended_reason: Field<String>,
    #[serde(default)]
    caller_number: Field<String>,
    #[serde(default)]
    called_number: Field<String>,
    #[serde(default)]
    is_engaged: Field<bool>,
    #[serde(default)]
    call_analysis: Field<Map<String, Value>>,
    #[serde(default)]
    transcript: Field<Vec<Value>>,
    #[serde(default)]
    created_at: Field<String>,
    #[serde(default)]
    updated_at: Field<String>,
    /// Any other field, refused by name.
    #[serde(flatten)]
    unknown: BTreeMap<String, IgnoredAny>,
}

/// The fields a call has, as JSON names them, in the order their refusals come.
pub const FIELDS: [&str; 13] = [
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

/// The fields `PATCH /v1/calls/{id}` may change, in the order their refusals come.
pub const CHANGEABLE: [&str; 8] = [
    "status",
    "duration",
    "summary",
    "evaluation",
    "endedReason",
    "isEngaged",
    "callAnalysis",
    "transcript",
];

/// A transcript turn.
#[derive(Debug, Deserialize)]
struct Turn {
    #[serde(default)]
    role: Field<String>,
    #[serde(default)]
    content: Field<String>,
}

/// Reads and validates one line (already known to be JSON text).
pub fn parse(line: &str) -> Result<CallRecord, Invalid> {
    // serde would also read a struct from an array of its fields: only an object is a call.
    let not_an_object = || Invalid::new("each line must be a JSON object");
    if !line.trim_start().starts_with('{') {
        return Err(not_an_object());
    }
    let call: CallLine = serde_json::from_str(line).map_err(|_| not_an_object())?;
    CallRecord::try_from(call)
}

/// Reads and validates a call given as a JSON object (a `POST /v1/calls` body): the rules of
/// a line.
pub fn from_object(object: Map<String, Value>) -> Result<CallRecord, Invalid> {
    // Every field of a `CallLine` takes any JSON, so an object always reads.
    let call: CallLine = serde_json::from_value(Value::Object(object))
        .map_err(|_| Invalid::new("a call must be a JSON object"))?;
    CallRecord::try_from(call)
}

/// Reads and validates a change to a call (a `PATCH /v1/calls/{id}` body): each field given is
/// judged as a line's (same rules, same messages); `null` clears a text field and is refused
/// for the others (they have no empty value); a field that cannot be changed, or no call has,
/// is refused by name. The first refusal in [`CHANGEABLE`]'s order, after those by name.
pub fn change(mut object: Map<String, Value>) -> Result<CallChange, Invalid> {
    for name in object.keys() {
        if !CHANGEABLE.contains(&name.as_str()) {
            return Err(if FIELDS.contains(&name.as_str()) {
                Invalid::new(format!("field '{name}' cannot be changed"))
            } else {
                Invalid::new(format!("unknown field '{name}'"))
            });
        }
    }
    // A field given (null included), read as a line reads it: `None` when absent.
    fn given<T: DeserializeOwned>(object: &mut Map<String, Value>, name: &str) -> Option<Field<T>> {
        object.remove(name).map(|v| {
            if v.is_null() {
                Field::Absent
            } else {
                serde_json::from_value(v).unwrap_or(Field::Wrong)
            }
        })
    }
    // A field that has no empty value: null is refused as a wrong type is.
    fn required<T, U>(
        object: &mut Map<String, Value>,
        name: &str,
        read: impl FnOnce(Field<T>) -> Result<Option<U>, Invalid>,
        wrong: impl FnOnce() -> Invalid,
    ) -> Result<Option<U>, Invalid>
    where
        T: DeserializeOwned,
    {
        match given::<T>(object, name) {
            None => Ok(None),
            Some(Field::Absent) => Err(wrong()),
            Some(field) => read(field),
        }
    }
    let status = required(
        &mut object,
        "status",
        |f| status(f).map(Some),
        CallStatus::refusal,
    )?;
    let duration = required(
        &mut object,
        "duration",
        |f| duration(f).map(Some),
        duration_refusal,
    )?;
    let summary = given(&mut object, "summary")
        .map(|f| text(f, "summary"))
        .transpose()?;
    let evaluation = given(&mut object, "evaluation")
        .map(|f| text(f, "evaluation"))
        .transpose()?;
    let ended_reason = given(&mut object, "endedReason")
        .map(|f| text(f, "endedReason"))
        .transpose()?;
    let is_engaged = required(&mut object, "isEngaged", is_engaged, engaged_refusal)?;
    let call_analysis = required(&mut object, "callAnalysis", call_analysis, analysis_refusal)?;
    let transcript = required(&mut object, "transcript", transcript, transcript_refusal)?;
    Ok(CallChange {
        status,
        duration,
        summary,
        evaluation,
        ended_reason,
        is_engaged,
        call_analysis,
        transcript,
    })
}

impl TryFrom<CallLine> for CallRecord {
    type Error = Invalid;

    /// The first refusal, in the order of the fields above (unknown fields first).
    fn try_from(c: CallLine) -> Result<Self, Invalid> {
        if let Some(unknown) = c.unknown.keys().next() {
            return Err(Invalid::new(format!("unknown field '{unknown}'")));
        }
        let id =
            c.id.optional(ids::refusal)?
                .map(|id| CallId::parse(&id))
                .transpose()?;
        let status = status(c.status)?;
        let duration = duration(c.duration)?;
        let is_engaged = is_engaged(c.is_engaged)?.unwrap_or(false);
        let call_analysis = call_analysis(c.call_analysis)?.unwrap_or_else(|| "{}".to_owned());
        let transcript = transcript(c.transcript)?.unwrap_or_else(|| "[]".to_owned());
        let created_at = timestamp(c.created_at, "createdAt")?;
        let updated_at = timestamp(c.updated_at, "updatedAt")?;
        Ok(CallRecord {
            id,
            status,
            duration,
            summary: text(c.summary, "summary")?,
            evaluation: text(c.evaluation, "evaluation")?,
            ended_reason: text(c.ended_reason, "endedReason")?,
            caller_number: text(c.caller_number, "callerNumber")?,
            called_number: text(c.called_number, "calledNumber")?,
            is_engaged,
            call_analysis,
            transcript,
            created_at,
            updated_at,
        })
    }
}

fn status(field: Field<String>) -> Result<CallStatus, Invalid> {
    match field {
        Field::Given(s) => s.parse::<CallStatus>(),
        _ => Err(CallStatus::refusal()),
    }
}

fn duration(field: Field<f64>) -> Result<f64, Invalid> {
    match field {
        Field::Given(d) => parse_duration(d),
        _ => Err(duration_refusal()),
    }
}

fn engaged_refusal() -> Invalid {
    Invalid::new("isEngaged must be true or false")
}

fn is_engaged(field: Field<bool>) -> Result<Option<bool>, Invalid> {
    field.optional(engaged_refusal)
}

fn analysis_refusal() -> Invalid {
    Invalid::new("callAnalysis must be an object")
}

/// The analysis as stored: serialised JSON.
fn call_analysis(field: Field<Map<String, Value>>) -> Result<Option<String>, Invalid> {
    Ok(field
        .optional(analysis_refusal)?
        .map(|o| Value::Object(o).to_string()))
}

fn transcript_refusal() -> Invalid {
    Invalid::new("transcript must be an array")
}

/// The transcript as stored: serialised JSON, each turn checked.
fn transcript(field: Field<Vec<Value>>) -> Result<Option<String>, Invalid> {
    field
        .optional(transcript_refusal)?
        .map(|turns| {
            for (i, t) in turns.iter().enumerate() {
                check_turn(t).map_err(|e| Invalid::new(format!("transcript[{i}]: {e}")))?;
            }
            Ok(Value::Array(turns).to_string())
        })
        .transpose()
}

fn check_turn(t: &Value) -> Result<(), String> {
    // As for the line: a turn is an object, not an array of its fields.
    let turn = t
        .is_object()
        .then(|| Turn::deserialize(t).ok())
        .flatten()
        .ok_or("must be an object with role and content")?;
    match turn.role {
        Field::Given(r) if is_speaker(&r) => {}
        _ => return Err("role must be \"assistant\" or \"user\"".into()),
    }
    match turn.content {
        Field::Given(s) => without_nul(&s, "content").map(|_| ()).map_err(|e| e.0),
        _ => Err("content must be a string".into()),
    }
}

fn text(field: Field<String>, name: &str) -> Result<Option<String>, Invalid> {
    field
        .optional(|| Invalid::new(format!("{name} must be a string or null")))?
        .map(|s| without_nul(&s, name).map(str::to_owned))
        .transpose()
}

fn timestamp(field: Field<String>, name: &str) -> Result<Option<NaiveDateTime>, Invalid> {
    field
        .optional(|| Invalid::new(format!("{name} must be a string timestamp")))?
        .map(|s| {
            DateTime::parse_from_rfc3339(&s)
                .map(|t| t.naive_utc())
                .map_err(|_| {
                    Invalid::new(format!(
                        "{name} must be an ISO-8601 timestamp like 2025-12-15T14:30:00.000Z"
                    ))
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calls::STATUSES;
    use crate::domain::ids::CallId;

    /// The fields a call has, as a line names them.
    const KNOWN_FIELDS: [&str; 13] = FIELDS;

    fn from_json(v: &Value) -> Result<CallRecord, Invalid> {
        parse(&v.to_string())
    }
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn a_full_call_is_accepted() {
        let c = from_json(&json!({
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
        let c = from_json(&json!({"status": "live", "duration": 0})).unwrap();
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
            assert_eq!(from_json(&v).unwrap_err().0, message, "{v}");
        }
    }

    fn change_of(v: Value) -> Result<CallChange, Invalid> {
        match v {
            Value::Object(o) => change(o),
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn a_change_reads_each_field_as_a_line_does() {
        let c = change_of(json!({
            "status": "completed", "duration": 12.5, "summary": null, "evaluation": "success",
            "endedReason": "user_hangup", "isEngaged": true, "callAnalysis": {"a": 1},
            "transcript": [{"role": "user", "content": "Hi"}]
        }))
        .unwrap();
        assert_eq!(c.status, Some(CallStatus::Completed));
        assert_eq!(c.duration, Some(12.5));
        assert_eq!(c.summary, Some(None), "null clears a text field");
        assert_eq!(c.evaluation, Some(Some("success".to_owned())));
        assert_eq!(c.is_engaged, Some(true));
        assert_eq!(c.call_analysis.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(
            c.transcript.as_deref(),
            Some(r#"[{"content":"Hi","role":"user"}]"#)
        );
        assert_eq!(change_of(json!({})).unwrap(), CallChange::default());
    }

    #[test]
    fn a_bad_change_is_refused_with_the_lines_message() {
        let cases = [
            (
                json!({"status": "done"}),
                "status must be \"completed\" or \"live\"",
            ),
            (
                json!({"status": null}),
                "status must be \"completed\" or \"live\"",
            ),
            (
                json!({"duration": -1}),
                "duration must be a number of seconds, 0 or more",
            ),
            (
                json!({"duration": "5"}),
                "duration must be a number of seconds, 0 or more",
            ),
            (json!({"summary": 3}), "summary must be a string or null"),
            (
                json!({"endedReason": "a\u{0}"}),
                "endedReason must not contain NUL characters",
            ),
            (
                json!({"isEngaged": "yes"}),
                "isEngaged must be true or false",
            ),
            (
                json!({"isEngaged": null}),
                "isEngaged must be true or false",
            ),
            (
                json!({"callAnalysis": []}),
                "callAnalysis must be an object",
            ),
            (json!({"transcript": {}}), "transcript must be an array"),
            (
                json!({"transcript": [{"role": "bot", "content": "x"}]}),
                "transcript[0]: role must be \"assistant\" or \"user\"",
            ),
            (json!({"colour": "red"}), "unknown field 'colour'"),
            (json!({"id": "x"}), "field 'id' cannot be changed"),
            (
                json!({"duration": 1, "createdAt": "2025-12-15T14:30:00.000Z"}),
                "field 'createdAt' cannot be changed",
            ),
            (
                json!({"callerNumber": "+33612345678"}),
                "field 'callerNumber' cannot be changed",
            ),
        ];
        for (v, message) in cases {
            assert_eq!(change_of(v.clone()).unwrap_err().0, message, "{v}");
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
            if let Ok(c) = from_json(&v) {
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
                let _ = from_json(&v);
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
            let c = from_json(&v).unwrap();
            prop_assert_eq!(c.id.map(CallId::into_string), id);
            prop_assert_eq!(c.status.as_str(), status);
            prop_assert_eq!(c.duration, duration);
            prop_assert_eq!(c.summary, summary);
            prop_assert_eq!(c.is_engaged, engaged);
        }
    }
}
