//! A call's page: summary, evaluation, analysis and the transcript as a conversation.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::Value;

use super::list::{list_view, with_view, CallRow};
use crate::db;
use crate::domain::ids::{CallId, ProjectId};
use crate::state::AppState;
use crate::time;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{Section, Shell};

pub struct Turn {
    pub assistant: bool,
    pub content: String,
}

#[derive(Template)]
#[template(path = "pages/calls/show.html")]
struct CallPage {
    shell: Shell,
    row: CallRow,
    summary: Option<String>,
    ended_reason: Option<String>,
    updated: String,
    analysis: Vec<(String, String)>,
    transcript: Vec<Turn>,
    can_edit: bool,
    /// The table as it was left (filters, page), for the back link.
    back: String,
    /// The delete confirmation, carrying that view so the list comes back as it was left.
    delete_url: String,
}

/// `leadQuality` → `Lead quality`.
fn humanize(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c == '_' {
            out.push(' ');
        } else if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "Yes".into(),
        Value::Bool(false) => "No".into(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// GET a call's page: summary, evaluation, analysis and the transcript as a conversation.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, CallId)>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let (_, cid) = path.into_inner();
    let call = shell.find(&state, cid, db::calls::find).await?;
    let analysis = serde_json::from_str::<Value>(&call.call_analysis)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .map(|o| {
            o.iter()
                .map(|(k, v)| (humanize(k), display_value(v)))
                .collect()
        })
        .unwrap_or_default();
    let transcript = serde_json::from_str::<Value>(&call.transcript)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .map(|turns| {
            turns
                .iter()
                .map(|t| Turn {
                    assistant: t["role"] == "assistant",
                    content: t["content"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    let view = list_view(&req);
    htmx::html(&CallPage {
        back: with_view(shell.url("calls"), &view),
        delete_url: with_view(shell.url(&format!("calls/{}/delete", call.id)), &view),
        can_edit: shell.role.can_edit_data(),
        row: CallRow::from(&call),
        summary: call.summary,
        ended_reason: call.ended_reason,
        updated: time::full_label(call.updated_at),
        analysis,
        transcript,
        shell,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_keys_and_values_read_well() {
        assert_eq!(humanize("leadQuality"), "Lead quality");
        assert_eq!(humanize("appointment_booked"), "Appointment booked");
        assert_eq!(display_value(&Value::Bool(true)), "Yes");
        assert_eq!(display_value(&serde_json::json!(3)), "3");
    }
}
