//! A call as imported or created through `POST /v1/calls`, valid by construction (both read it
//! from JSON in the API's shape with `import::line`), a change to a stored call
//! (`PATCH /v1/calls/{id}`), and the rules their fields follow.

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

/// A change to a stored call, each field valid by construction: `None` keeps the stored value,
/// `Some` replaces it (for the text fields, `Some(None)` clears it). Which calls may take it
/// (a completed call does not go back to live) is [`CallStatus::may_become`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallChange {
    pub status: Option<CallStatus>,
    pub duration: Option<f64>,
    pub summary: Option<Option<String>>,
    pub evaluation: Option<Option<String>>,
    pub ended_reason: Option<Option<String>>,
    pub is_engaged: Option<bool>,
    /// A JSON object, serialised.
    pub call_analysis: Option<String>,
    /// A JSON array of `{role, content}`, serialised: the whole transcript.
    pub transcript: Option<String>,
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

    /// Whether a call with this status may be given status `to`: a live call may end (or stay
    /// live), a completed call stays completed.
    pub fn may_become(self, to: CallStatus) -> Result<(), Invalid> {
        match (self, to) {
            (CallStatus::Completed, CallStatus::Live) => Err(Invalid::new(
                "status cannot change from \"completed\" back to \"live\"",
            )),
            _ => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_call_may_end_and_a_completed_one_never_goes_back() {
        use CallStatus::{Completed, Live};
        assert!(Live.may_become(Completed).is_ok());
        assert!(Live.may_become(Live).is_ok());
        assert!(Completed.may_become(Completed).is_ok());
        assert_eq!(
            Completed.may_become(Live).unwrap_err().0,
            "status cannot change from \"completed\" back to \"live\""
        );
    }
}
