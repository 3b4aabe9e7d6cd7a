//! The document's examples: one for each operation's parameters and request body, and one for
//! each response, success or error. Each is valid against the schema it illustrates (a test
//! checks them all), so a client generator's samples and Schemathesis' example phase send and
//! expect what the server really does.

use serde_json::{json, Value};
use utoipa::openapi::path::{Operation, ParameterBuilder};
use utoipa::openapi::{OpenApi, RefOr};

use crate::api::error::ErrorResponse;

const KNOWLEDGE_ID: &str = "65f1c0de2b7e4a1f9c3d8e21";
const CALL_ID: &str = "call_8f3a2b";

fn call() -> Value {
    json!({
        "id": CALL_ID,
        "status": "completed",
        "duration": 145,
        "summary": "The caller booked a demo for Thursday at 10:00.",
        "evaluation": "success",
        "endedReason": "user_hangup",
        "callerNumber": "+33612345678",
        "calledNumber": "+14155550100",
        "isEngaged": true,
        "callAnalysis": {"sentiment": "positive", "leadQuality": "hot", "appointmentBooked": true},
        "transcript": [
            {"role": "assistant", "content": "Hello, Callem Studio, how can I help?"},
            {"role": "user", "content": "I'd like to book a demo."}
        ],
        "createdAt": "2025-12-15T14:30:00.000Z",
        "updatedAt": "2025-12-15T14:32:25.120Z"
    })
}

fn knowledge() -> Value {
    json!({
        "id": KNOWLEDGE_ID,
        "name": "Refund policy",
        "description": "What customers get back, and when",
        "text": "## Refunds\nCustomers can ask for a refund within 30 days.",
        "createdAt": "2025-12-15T14:30:00.000Z"
    })
}

fn error(status: u16, message: &str) -> Value {
    json!({"statusCode": status, "message": message})
}

/// The body a shared error response illustrates.
fn shared(name: &str) -> Option<Value> {
    let e = ErrorResponse::ALL.into_iter().find(|e| e.name() == name)?;
    Some(match e {
        ErrorResponse::BadRequest => error(400, "limit must be an integer between 1 and 1000"),
        ErrorResponse::Unauthorized => error(401, "Invalid API key"),
        ErrorResponse::Forbidden => error(403, "IP address not allowed"),
        ErrorResponse::CallNotFound => error(404, "Call not found"),
        ErrorResponse::KnowledgeNotFound => error(404, "Knowledge item not found"),
        ErrorResponse::TooManyRequests => error(429, "Too many requests"),
        ErrorResponse::InternalError => error(500, "Internal server error"),
        ErrorResponse::Unavailable => error(503, "Service unavailable"),
    })
}

/// The body of an operation's own response (not a shared one).
fn answer(operation: &str, status: &str) -> Option<Value> {
    let page = |item: Value| json!({"data": [item], "pagination": {"total": 1432, "limit": 100, "offset": 0}});
    Some(match (operation, status) {
        ("listCalls", "200") => page(call()),
        ("getCall" | "updateCall", "200") | ("createCall", "201") => call(),
        ("createCall", "409") => error(409, "Call already exists"),
        ("deleteCall", "200") => json!({"id": CALL_ID, "deleted": true}),
        ("listKnowledge", "200") => page(knowledge()),
        ("getKnowledge" | "updateKnowledge", "200") | ("createKnowledge", "201") => knowledge(),
        ("deleteKnowledge", "200") => json!({"id": KNOWLEDGE_ID, "deleted": true}),
        ("reportLeakedKeys", "200") => json!({"received": 2, "revoked": 1}),
        ("getOpenApi", "200") => json!({
            "openapi": "3.1.0",
            "info": {"title": "Callem Studio Public REST API", "version": "1.0.0"},
            "paths": {}
        }),
        (_, "413") => error(413, "Request body too large"),
        (_, "415") => error(415, "Content-Type must be application/json"),
        _ => return None,
    })
}

/// What an operation's request body illustrates.
fn request(operation: &str) -> Option<Value> {
    Some(match operation {
        "createKnowledge" => json!({
            "name": "Refund policy",
            "description": "What customers get back, and when",
            "text": "## Refunds\nCustomers can ask for a refund within 30 days."
        }),
        "createCall" => {
            let mut c = call();
            if let Some(fields) = c.as_object_mut() {
                fields.remove("updatedAt");
            }
            c
        }
        "updateCall" => json!({
            "status": "completed",
            "duration": 145,
            "endedReason": "user_hangup",
            "callAnalysis": {"sentiment": "positive", "leadQuality": "hot", "appointmentBooked": true}
        }),
        "updateKnowledge" => json!({
            "text": "## Refunds\nCustomers can ask for a refund within 60 days."
        }),
        // Not a key's shape: the repository's secret scanning must not flag its own example.
        "reportLeakedKeys" => json!({"keys": ["ck_live_PASTE_THE_LEAKED_KEY_HERE"]}),
        _ => return None,
    })
}

/// What a parameter illustrates, on a path of `path`.
fn parameter(path: &str, name: &str) -> Option<Value> {
    Some(match name {
        "id" if path.starts_with("/v1/calls") => json!(CALL_ID),
        "id" => json!(KNOWLEDGE_ID),
        "limit" => json!(50),
        "offset" => json!(0),
        _ => return None,
    })
}

/// Writes every example into the document.
pub fn add(openapi: &mut OpenApi) {
    if let Some(components) = openapi.components.as_mut() {
        for (name, response) in components.responses.iter_mut() {
            if let RefOr::T(r) = response {
                for content in r.content.values_mut() {
                    content.example = shared(name);
                }
            }
        }
    }
    for (path, item) in openapi.paths.paths.iter_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            illustrate(path, op);
        }
    }
}

fn illustrate(path: &str, op: &mut Operation) {
    let id = op.operation_id.clone().unwrap_or_default();
    if let Some(body) = op.request_body.as_mut() {
        for content in body.content.values_mut() {
            content.example = request(&id);
        }
    }
    if let Some(params) = op.parameters.as_mut() {
        for p in params.iter_mut() {
            if let Some(example) = parameter(path, &p.name) {
                *p = ParameterBuilder::from(p.clone())
                    .example(Some(example))
                    .build();
            }
        }
    }
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(r) = response {
            for content in r.content.values_mut() {
                content.example = answer(&id, status);
            }
        }
    }
}
