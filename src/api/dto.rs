//! What `/v1` sends and takes: camelCase objects built from rows (never the rows themselves),
//! and request bodies read field by field, then converted into domain values with `TryFrom`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Number;

use crate::db::models::{Call, KnowledgeItem};
use crate::domain::calls::CallStatus;
use crate::domain::ids::{CallId, KnowledgeId};
use crate::domain::knowledge::{Field, FieldError, NewKnowledge};
use crate::json_field::Field as JsonField;
use crate::time::iso_millis;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallDto {
    pub id: CallId,
    pub status: CallStatus,
    pub duration: Number,
    pub summary: Option<String>,
    pub evaluation: Option<String>,
    pub ended_reason: Option<String>,
    pub caller_number: Option<String>,
    pub called_number: Option<String>,
    pub is_engaged: bool,
    /// Stored as JSON text and sent as is (validated, never re-built).
    pub call_analysis: Box<RawValue>,
    pub transcript: Box<RawValue>,
    pub created_at: String,
    pub updated_at: String,
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KnowledgeDto {
    pub id: KnowledgeId,
    pub name: String,
    pub description: Option<String>,
    pub text: String,
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

#[derive(Debug, Serialize)]
pub struct Pagination {
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Serialize)]
pub struct ListEnvelope<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

#[derive(Debug, Serialize)]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

/// `POST /v1/knowledge`'s body, each field taken whatever JSON it holds.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewKnowledgeBody {
    #[serde(default)]
    pub name: JsonField<String>,
    #[serde(default)]
    pub description: JsonField<String>,
    #[serde(default)]
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

/// What the API calls a knowledge item's field: its JSON name.
pub fn knowledge_field_name(field: Field) -> &'static str {
    match field {
        Field::Name => "name",
        Field::Text => "text",
        Field::Description => "description",
    }
}
