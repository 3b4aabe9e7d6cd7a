//! The OpenAPI document: what the code generates is what is committed and served, and it
//! describes exactly the routed operations.

use std::collections::BTreeSet;

use callem::api::openapi::{generate, DOCUMENT};
use callem::api::OPERATIONS;
use callem::domain::expiry::Expiry;
use serde_json::{json, Value};

use crate::helpers::*;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/openapi.json");
const REGENERATE: &str =
    "CALLEM_WRITE_OPENAPI=1 cargo test --test app the_committed_document_is_the_generated_one";

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = generate();
    if std::env::var("CALLEM_WRITE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(COMMITTED, &generated).expect("src/api/openapi.json is writable");
        return;
    }
    if DOCUMENT != generated {
        let (committed, new): (Vec<_>, Vec<_>) =
            (DOCUMENT.lines().collect(), generated.lines().collect());
        let line = (0..committed.len().max(new.len()))
            .find(|&i| committed.get(i) != new.get(i))
            .unwrap_or(committed.len());
        panic!(
            "src/api/openapi.json is not what the code generates; first difference on line {}: \
             committed {:?}, generated {:?}. Regenerate it with `{REGENERATE}` and commit it.",
            line + 1,
            committed.get(line),
            new.get(line),
        );
    }
}

/// The document's operations as (METHOD, path).
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

fn routed() -> BTreeSet<(String, String)> {
    OPERATIONS
        .iter()
        .map(|op| (op.method.to_string(), format!("/v1{}", op.path)))
        .collect()
}

#[test]
fn the_document_describes_exactly_the_routed_operations() {
    let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    let (documented, routed) = (documented(&doc), routed());
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routed but not documented: {undocumented:?}; documented but not routed: {unrouted:?} \
         (a handler needs #[utoipa::path] and a place in ApiDoc's paths, then `{REGENERATE}`)"
    );
}

/// The routes answer as the list says: each operation is served, and any other method on its
/// path is a 405 whose `Allow` names the documented methods.
#[actix_web::test]
async fn every_documented_operation_is_routed_and_no_other_method_is() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let pid = app.other_project("P").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    let documented = documented(&doc);
    for (method, path) in &documented {
        let r = app.api(method, &path.replace("{id}", "x"), &key).await;
        assert_ne!(r.status, 405, "{method} {path} is routed");
        assert_ne!(
            r.json()["message"],
            "Not found",
            "{method} {path} is routed"
        );
    }
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let methods: Vec<&str> = ["GET", "POST", "PUT", "PATCH", "DELETE"]
            .into_iter()
            .filter(|m| documented.contains(&(m.to_string(), path.clone())))
            .collect();
        for other in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if methods.contains(&other) {
                continue;
            }
            let r = app.api(other, &path.replace("{id}", "x"), &key).await;
            assert_eq!(
                api_error(&r),
                (405, "Method not allowed".into()),
                "{other} {path}"
            );
            let mut allowed: Vec<String> = r
                .header("allow")
                .unwrap_or_default()
                .split(", ")
                .map(str::to_owned)
                .collect();
            allowed.sort();
            let mut expected: Vec<String> = methods.iter().map(|m| m.to_string()).collect();
            expected.sort();
            assert_eq!(allowed, expected, "Allow on {path}");
        }
    }
}

#[test]
fn the_documented_bounds_are_the_servers() {
    use callem::domain::knowledge::{MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_TEXT_BYTES};
    use callem::domain::pagination::{DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET};
    let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    for path in ["/v1/calls", "/v1/knowledge"] {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let param = |name: &str| {
            params
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{path} documents {name}"))
        };
        let (limit, offset) = (param("limit"), param("offset"));
        assert_eq!(limit["in"], "query");
        assert_eq!(limit["required"], false);
        assert_eq!(limit["schema"]["minimum"], 1);
        assert_eq!(limit["schema"]["maximum"], MAX_LIMIT);
        assert_eq!(limit["schema"]["default"], DEFAULT_LIMIT);
        assert_eq!(offset["schema"]["minimum"], 0);
        assert_eq!(offset["schema"]["maximum"], MAX_OFFSET);
        assert_eq!(offset["schema"]["default"], 0);
        let offset_text = offset["description"].as_str().unwrap();
        assert!(
            offset_text.contains(&MAX_OFFSET.to_string()),
            "{offset_text}"
        );
    }
    let input = &doc["components"]["schemas"]["KnowledgeInput"];
    assert_eq!(input["required"], json!(["name", "text"]));
    assert_eq!(input["properties"]["name"]["maxLength"], MAX_NAME_CHARS);
    assert_eq!(
        input["properties"]["description"]["maxLength"],
        MAX_DESCRIPTION_CHARS
    );
    assert_eq!(MAX_TEXT_BYTES, 512 * 1024);
    let text = input["properties"]["text"]["description"].as_str().unwrap();
    assert!(text.contains("512 KiB"), "{text}");
}
