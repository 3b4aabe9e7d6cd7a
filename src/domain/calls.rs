//! A call as imported, valid by construction (the import reads it from one JSON line in the
//! API's shape: `import::line`), and the rules its fields follow.

use chrono::NaiveDateTime;

use super::ids::CallId;
use super::Invalid;

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
    /// Why a value is not a status.
    pub fn refusal() -> Invalid {
        Invalid::new("status must be \"completed\" or \"live\"")
    }

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
            _ => Err(CallStatus::refusal()),
        }
    }
}

impl std::fmt::Display for CallStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call's length in seconds: a finite number, 0 or more.
pub fn parse_duration(seconds: f64) -> Result<f64, Invalid> {
    if seconds.is_finite() && seconds >= 0.0 {
        Ok(seconds)
    } else {
        Err(duration_refusal())
    }
}

/// Why a value is not a duration.
pub fn duration_refusal() -> Invalid {
    Invalid::new("duration must be a number of seconds, 0 or more")
}

/// Who speaks in a transcript turn.
pub fn is_speaker(role: &str) -> bool {
    role == "assistant" || role == "user"
}
