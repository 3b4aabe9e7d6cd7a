//! `/docs/api`: a readable reference page rendered from the embedded OpenAPI document, so
//! the page and `GET /v1/openapi.json` can never disagree.

use actix_web::HttpResponse;
use askama::Template;
use serde_json::Value;

use super::error::WebError;
use super::htmx;
use crate::api::openapi::DOCUMENT;

pub struct Param {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub description: String,
}

pub struct Operation {
    pub anchor: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub needs_key: bool,
    pub params: Vec<Param>,
    pub body: Option<String>,
    /// The request body's example, pretty-printed.
    pub body_example: Option<String>,
    pub responses: Vec<(String, String)>,
    /// The success's example, pretty-printed, with its status.
    pub answer_example: Option<(String, String)>,
    /// This server's addition to the hosted API (`x-callem-addition`).
    pub addition: bool,
}

pub struct Field {
    pub name: String,
    pub ty: String,
    pub required: bool,
    pub description: String,
}

pub struct Schema {
    pub name: String,
    pub fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "pages/api_docs.html")]
struct ApiDocsPage {
    title: String,
    /// `info.description`, a paragraph each.
    intro: Vec<String>,
    operations: Vec<Operation>,
    schemas: Vec<Schema>,
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .trim_start_matches("#/")
            .split('/')
            .fold(doc, |node, part| node.get(part).unwrap_or(&Value::Null)),
        None => v,
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn type_name(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or_default().to_owned();
    }
    match v.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        Some(Value::String(t)) if t == "array" => {
            format!(
                "array of {}",
                v.get("items").map(type_name).unwrap_or_default()
            )
        }
        Some(Value::String(t)) => match v.get("enum").and_then(Value::as_array) {
            Some(values) => format!(
                "{t}: {}",
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            None => t.clone(),
        },
        _ => "any".to_owned(),
    }
}

fn build(doc: &Value) -> ApiDocsPage {
    let mut operations = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            let Some(methods) = item.as_object() else {
                continue;
            };
            for (method, op) in methods {
                let params = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .map(|p| {
                                let p = resolve(doc, p);
                                Param {
                                    name: text(p, "name"),
                                    location: text(p, "in"),
                                    required: p["required"].as_bool().unwrap_or(false),
                                    description: text(p, "description"),
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let responses = op["responses"]
                    .as_object()
                    .map(|rs| {
                        rs.iter()
                            .map(|(code, r)| (code.clone(), text(resolve(doc, r), "description")))
                            .collect()
                    })
                    .unwrap_or_default();
                operations.push(Operation {
                    anchor: text(op, "operationId"),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: text(op, "summary"),
                    description: text(op, "description"),
                    needs_key: op
                        .get("security")
                        .and_then(Value::as_array)
                        .is_none_or(|s| !s.is_empty()),
                    params,
                    body: op["requestBody"]["content"]["application/json"]
                        .get("schema")
                        .map(type_name),
                    body_example: op["requestBody"]["content"]["application/json"]
                        .get("example")
                        .and_then(|e| serde_json::to_string_pretty(e).ok()),
                    answer_example: op["responses"].as_object().and_then(|rs| {
                        rs.iter()
                            .find(|(code, _)| code.starts_with('2'))
                            .and_then(|(code, r)| {
                                let e = resolve(doc, r)["content"]["application/json"]
                                    .get("example")?;
                                Some((code.clone(), serde_json::to_string_pretty(e).ok()?))
                            })
                    }),
                    addition: op["x-callem-addition"].as_bool().unwrap_or(false),
                    responses,
                });
            }
        }
    }
    let schemas = doc["components"]["schemas"]
        .as_object()
        .map(|all| {
            all.iter()
                .map(|(name, s)| {
                    let required: Vec<&str> = s["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    Schema {
                        name: name.clone(),
                        fields: s["properties"]
                            .as_object()
                            .map(|props| {
                                props
                                    .iter()
                                    .map(|(f, p)| Field {
                                        name: f.clone(),
                                        ty: type_name(p),
                                        required: required.contains(&f.as_str()),
                                        description: text(p, "description"),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    ApiDocsPage {
        title: text(&doc["info"], "title"),
        intro: text(&doc["info"], "description")
            .split("\n\n")
            .map(str::to_owned)
            .collect(),
        operations,
        schemas,
    }
}

pub async fn page() -> Result<HttpResponse, WebError> {
    let doc: Value = serde_json::from_str(DOCUMENT)
        .map_err(|e| WebError::Internal(format!("openapi document: {e}")))?;
    htmx::html(&build(&doc))
}
