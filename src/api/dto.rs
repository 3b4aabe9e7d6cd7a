//! What `/v1` sends and takes: camelCase objects built from rows (never the rows themselves),
//! and request bodies read field by field, then converted into domain values with `TryFrom`.
//! Each is also its schema in the OpenAPI document (`ToSchema`, under the contract's name):
//! the field docs below are the document's descriptions.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Number;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::ToSchema;

use crate::db::models::{Call, KnowledgeItem};
use crate::domain::calls::CallStatus;
use crate::domain::ids::{CallId, KnowledgeId};
use crate::domain::knowledge::{Field, FieldError, KnowledgeEdit, NewKnowledge};
use crate::json_field::Field as JsonField;
use crate::time::iso_millis;

/// A call, in a list or alone (the same object). Nullable fields are always present.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Call)]
pub struct CallDto {
    #[schema(value_type = String)]
    pub id: CallId,
    #[schema(schema_with = call_status)]
    pub status: CallStatus,
    /// Seconds.
    #[schema(schema_with = number)]
    pub duration: Number,
    #[schema(required = true)]
    pub summary: Option<String>,
    #[schema(required = true, examples("success", "fail"))]
    pub evaluation: Option<String>,
    #[schema(required = true, examples("user_hangup"))]
    pub ended_reason: Option<String>,
    /// E.164
    #[schema(required = true, examples("+33612345678"))]
    pub caller_number: Option<String>,
    /// E.164
    #[schema(required = true)]
    pub called_number: Option<String>,
    pub is_engaged: bool,
    // Stored as JSON text and sent as is (validated, never re-built), like the transcript.
    /// Free-form fields defined per agent; {} when none.
    #[schema(schema_with = call_analysis)]
    pub call_analysis: Box<RawValue>,
    #[schema(value_type = Vec<TranscriptTurn>)]
    pub transcript: Box<RawValue>,
    /// ISO-8601 UTC with milliseconds, e.g. 2025-12-15T14:30:00.000Z
    #[schema(format = DateTime, examples("2025-12-15T14:30:00.000Z"))]
    pub created_at: String,
    /// ISO-8601 UTC with milliseconds, e.g. 2025-12-15T14:30:00.000Z
    #[schema(format = DateTime, examples("2025-12-15T14:30:00.000Z"))]
    pub updated_at: String,
}

// The API sends the stored JSON as is (the import checked it): this type only describes it.
/// One turn of a call's transcript.
#[derive(ToSchema)]
pub struct TranscriptTurn {
    #[schema(inline)]
    pub role: Speaker,
    /// No NUL character.
    #[schema(pattern = r"^[^\u0000]*$")]
    pub content: String,
}

/// Who speaks in a transcript turn.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Speaker {
    Assistant,
    User,
}

/// The call statuses, by their JSON names.
fn call_status() -> Object {
    let all = [CallStatus::Completed, CallStatus::Live];
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(all.map(CallStatus::as_str)))
        .build()
}

/// A JSON number, integer or not.
fn number() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .description(Some("Seconds."))
        .build()
}

fn call_analysis() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("Free-form fields defined per agent; {} when none."))
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::<
            utoipa::openapi::schema::Schema,
        >::FreeForm(true)))
        .examples([serde_json::json!({
            "sentiment": "positive",
            "leadQuality": "hot",
            "appointmentBooked": true
        })])
        .build()
}

/// Whole seconds are sent as integers (`145`, not `145.0`).
fn duration(seconds: f64) -> Number {
    if seconds.fract() == 0.0 && seconds.abs() < 9.0e15 {
        Number::from(seconds as i64)
    } else {
        Number::from_f64(seconds).unwrap_or_else(|| Number::from(0))
    }
}

/// Stored JSON text as a raw value; anything unreadable becomes `fallback` (logged).
fn raw(text: String, fallback: &'static str) -> Box<RawValue> {
    RawValue::from_string(text).unwrap_or_else(|e| {
        tracing::error!(error = %e, "stored JSON does not parse");
        RawValue::from_string(fallback.to_owned()).unwrap_or_default()
    })
}

impl From<Call> for CallDto {
    fn from(c: Call) -> Self {
        CallDto {
            duration: duration(c.duration),
            call_analysis: raw(c.call_analysis, "{}"),
            transcript: raw(c.transcript, "[]"),
            created_at: iso_millis(c.created_at),
            updated_at: iso_millis(c.updated_at),
            id: c.id,
            status: c.status,
            summary: c.summary,
            evaluation: c.evaluation,
            ended_reason: c.ended_reason,
            caller_number: c.caller_number,
            called_number: c.called_number,
            is_engaged: c.is_engaged,
        }
    }
}

// For the document only: the handler reads the body with `import::line::from_object`, the
// rules of an import line (serde here only carries `deny_unknown_fields` to the schema).
/// `POST /v1/calls`'s body: a call in the API's shape, judged as an import line is (same
/// rules, same messages). Fields other than these are refused by name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CallInput)]
#[allow(dead_code)]
pub struct NewCallBody {
    /// 1 to 64 letters, digits, '-' or '_'. Absent or null: one is generated (24 lowercase hex
    /// characters). Ids are unique across the server: one already taken is a 409.
    #[schema(max_length = 64, pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    id: Option<String>,
    #[schema(schema_with = call_status)]
    status: String,
    /// Seconds, 0 or more.
    #[schema(schema_with = seconds)]
    duration: f64,
    /// No NUL character.
    #[schema(pattern = r"^[^\u0000]*$")]
    summary: Option<String>,
    /// No NUL character.
    #[schema(pattern = r"^[^\u0000]*$", examples("success", "fail"))]
    evaluation: Option<String>,
    /// No NUL character.
    #[schema(pattern = r"^[^\u0000]*$", examples("user_hangup"))]
    ended_reason: Option<String>,
    /// E.164 by convention (stored as given); no NUL character.
    #[schema(pattern = r"^[^\u0000]*$", examples("+33612345678"))]
    caller_number: Option<String>,
    /// E.164 by convention (stored as given); no NUL character.
    #[schema(pattern = r"^[^\u0000]*$")]
    called_number: Option<String>,
    /// Absent or null: false.
    is_engaged: Option<bool>,
    /// Free-form fields defined per agent. Absent or null: {}.
    #[schema(value_type = Option<Object>)]
    call_analysis: Option<serde_json::Value>,
    /// Absent or null: [].
    #[schema(value_type = Option<Vec<TranscriptTurn>>)]
    transcript: Option<serde_json::Value>,
    /// ISO-8601 with a UTC offset, e.g. 2025-12-15T14:30:00.000Z. Absent or null: now.
    #[schema(format = DateTime, examples("2025-12-15T14:30:00.000Z"))]
    created_at: Option<String>,
    /// ISO-8601 with a UTC offset. Absent or null: createdAt.
    #[schema(format = DateTime, examples("2025-12-15T14:32:25.120Z"))]
    updated_at: Option<String>,
}

// For the document only: the handler reads the body with `import::line::change`.
/// `PATCH /v1/calls/{id}`'s body: the fields to change, each judged as `POST` judges it.
/// Absent fields are kept; the id, the numbers and the timestamps cannot be changed (updatedAt
/// is set by the server), and any other field is refused by name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CallPatch)]
#[allow(dead_code)]
pub struct CallPatchBody {
    /// live may become completed; completed never becomes live again (400).
    #[schema(schema_with = call_status, required = false)]
    status: String,
    /// Seconds, 0 or more.
    #[schema(schema_with = seconds, required = false)]
    duration: f64,
    /// No NUL character; null removes it.
    #[schema(pattern = r"^[^\u0000]*$")]
    summary: Option<String>,
    /// No NUL character; null removes it.
    #[schema(pattern = r"^[^\u0000]*$")]
    evaluation: Option<String>,
    /// No NUL character; null removes it.
    #[schema(pattern = r"^[^\u0000]*$")]
    ended_reason: Option<String>,
    #[schema(required = false)]
    is_engaged: bool,
    /// Free-form fields defined per agent; replaces the stored analysis.
    #[schema(value_type = Object, required = false)]
    call_analysis: serde_json::Value,
    /// Replaces the whole transcript.
    #[schema(value_type = Vec<TranscriptTurn>, required = false)]
    transcript: serde_json::Value,
}

/// A number of seconds, 0 or more.
fn seconds() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(0))
        .description(Some("Seconds, 0 or more."))
        .build()
}

/// A call as the API answers it, as JSON: the `call` of a webhook event's body (the outbox
/// is handed this function, so an event carries exactly what `GET /v1/calls/{id}` would).
pub fn call_json(c: &Call) -> serde_json::Value {
    serde_json::to_value(CallDto::from(c.clone())).unwrap_or_default()
}

/// A knowledge item, in a list or alone (the same object, text included).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Knowledge)]
pub struct KnowledgeDto {
    #[schema(value_type = String)]
    pub id: KnowledgeId,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// The full content.
    pub text: String,
    /// ISO-8601 UTC with milliseconds, e.g. 2025-12-15T14:30:00.000Z
    #[schema(format = DateTime, examples("2025-12-15T14:30:00.000Z"))]
    pub created_at: String,
}

impl From<KnowledgeItem> for KnowledgeDto {
    fn from(k: KnowledgeItem) -> Self {
        KnowledgeDto {
            id: k.id,
            name: k.name,
            description: k.description,
            text: k.text,
            created_at: iso_millis(k.created_at),
        }
    }
}

/// Where a page of a list is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    /// All of the project's items.
    pub total: i64,
    /// The effective limit.
    pub limit: i64,
    pub offset: i64,
}

// `list::respond` streams this envelope rather than serialising it: a test validates what it
// sends against this schema.
/// A page of calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallList {
    pub data: Vec<CallDto>,
    pub pagination: Pagination,
}

/// A page of knowledge items, full objects.
#[derive(Debug, Serialize, ToSchema)]
pub struct KnowledgeList {
    pub data: Vec<KnowledgeDto>,
    pub pagination: Pagination,
}

/// What a delete answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    #[schema(schema_with = always_true)]
    pub deleted: bool,
}

/// `true`, and only that. utoipa's schema object has no `const` field; its extensions are
/// written flat beside the other keywords, so `const` goes there.
fn always_true() -> Object {
    let mut schema = ObjectBuilder::new().schema_type(Type::Boolean).build();
    schema.extensions = Some(utoipa::openapi::extensions::Extensions::from_iter([(
        "const", true,
    )]));
    schema
}

/// `limit` and `offset`, for the document: the handlers read them with [`super::page`], which
/// refuses anything but these bounds with a 400.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, an integer from 1 to 1000 (default 100). Anything else is a 400.
    #[param(required = false, minimum = 1, maximum = 1000, default = 100)]
    pub limit: i64,
    /// Items to skip, an integer from 0 to 1000000000 (default 0). Anything else is a 400.
    #[param(required = false, minimum = 0, maximum = 1000000000, default = 0)]
    pub offset: i64,
}

// Each field is taken whatever JSON it holds, so that a wrong type is refused with the
// contract's message naming the field (not serde's wording); the schema says what is accepted:
// "not blank" is Rust's `char::is_whitespace` (what `domain::knowledge` uses), as a pattern.
/// `POST /v1/knowledge`'s body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = KnowledgeInput)]
pub struct NewKnowledgeBody {
    /// Required: at most 200 characters, not only whitespace, no NUL character.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = r"^[^\u0000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$")]
    pub name: JsonField<String>,
    /// Optional (absent means null); at most 2000 characters, no NUL character.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000, pattern = r"^[^\u0000]*$")]
    pub description: JsonField<String>,
    /// Required: at most 512 KiB, not only whitespace, no NUL character.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = r"^[^\u0000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$")]
    pub text: JsonField<String>,
}

impl TryFrom<NewKnowledgeBody> for NewKnowledge {
    type Error = FieldError;

    /// The first refusal, types before values, in the order name, text, description.
    fn try_from(body: NewKnowledgeBody) -> Result<Self, FieldError> {
        let name = body
            .name
            .optional(|| Field::Name.not_text(false))?
            .ok_or_else(|| Field::Name.blank())?;
        let text = body
            .text
            .optional(|| Field::Text.not_text(false))?
            .ok_or_else(|| Field::Text.blank())?;
        let description = body
            .description
            .optional(|| Field::Description.not_text(true))?;
        // A refusal names at least one field.
        NewKnowledge::parse(&name, description.as_deref(), &text)
            .map_err(|mut all| all.swap_remove(0))
    }
}

// For the document only: the handler reads the JSON object itself with `knowledge_edit`,
// since an absent description keeps it and a null one clears it (serde sees both as `None`).
/// `PATCH /v1/knowledge/{id}`'s body: the fields to change, each as `POST` takes it.
#[derive(Debug, ToSchema)]
#[schema(as = KnowledgePatch)]
#[allow(dead_code)]
pub struct KnowledgePatchBody {
    /// At most 200 characters, not only whitespace, no NUL character. Absent: kept.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200, pattern = r"^[^\u0000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$")]
    name: String,
    /// At most 2000 characters, no NUL character. Absent: kept; null (or only spaces): removed.
    #[schema(value_type = Option<String>, max_length = 2000, pattern = r"^[^\u0000]*$")]
    description: Option<String>,
    /// At most 512 KiB, not only whitespace, no NUL character. Absent: kept.
    #[schema(value_type = String, required = false, min_length = 1, pattern = r"^[^\u0000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$")]
    text: String,
}

/// A `PATCH` body read as an edit: each field present is judged as `POST` judges it (same
/// limits, same messages), in the order name, text, description; absent fields are kept.
pub fn knowledge_edit(
    body: &serde_json::Map<String, serde_json::Value>,
) -> Result<KnowledgeEdit, FieldError> {
    use crate::domain::knowledge::{parse_description, parse_name, parse_text};
    use serde_json::Value;
    let required = |key: &str, field: Field| match body.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(field.not_text(false)),
    };
    let name = required("name", Field::Name)?.map(parse_name).transpose()?;
    let text = required("text", Field::Text)?.map(parse_text).transpose()?;
    let description = match body.get("description") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(parse_description(Some(s))?),
        Some(_) => return Err(Field::Description.not_text(true)),
    };
    Ok(KnowledgeEdit {
        name,
        description,
        text,
    })
}

/// What the API calls a knowledge item's field: its JSON name.
pub fn knowledge_field_name(field: Field) -> &'static str {
    match field {
        Field::Name => "name",
        Field::Text => "text",
        Field::Description => "description",
    }
}

// Read by `domain::leak::LeakReport::parse`, which names each problem: this type only
// describes the body.
/// The body of a leak report: the keys found leaked.
#[derive(Debug, ToSchema)]
#[schema(as = LeakReport)]
pub struct LeakReportBody {
    /// The keys, as found (ck_live_ followed by 60 characters of [a-z0-9]). Each that exists
    /// and still works is revoked; strings that are no key are counted and otherwise ignored.
    #[schema(schema_with = leaked_keys)]
    pub keys: Vec<String>,
}

/// 1 to 100 strings of at most 200 characters.
fn leaked_keys() -> utoipa::openapi::schema::Array {
    use crate::domain::leak::{MAX_KEYS, MAX_KEY_CHARS};
    let key = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_KEY_CHARS));
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(key)
        .min_items(Some(1))
        .max_items(Some(MAX_KEYS))
        .description(Some(
            "The keys, as found (ck_live_ followed by 60 characters of [a-z0-9]). Each that \
             exists and still works is revoked; strings that are no key are counted and \
             otherwise ignored.",
        ))
        .build()
}

/// What a leak report answers, whatever the keys were: nothing about any one of them.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LeakReceipt)]
pub struct LeakReceipt {
    /// How many strings the report listed.
    #[schema(minimum = 1, maximum = 100)]
    pub received: usize,
    /// How many keys this report revoked (a key listed twice counts once).
    #[schema(minimum = 0, maximum = 100)]
    pub revoked: usize,
}
