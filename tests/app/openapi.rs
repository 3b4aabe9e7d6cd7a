//! The OpenAPI document: what the code generates is what is committed and served, it describes
//! exactly the routed operations, and every operation really answers as it says.

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
    let generated = generate().expect("the document serialises");
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

/// "Not only whitespace" in the schema's pattern is what the server trims: Rust's whitespace.
#[test]
fn the_not_blank_pattern_is_rusts_whitespace() {
    let c = Contract::new(serde_json::from_str(DOCUMENT).unwrap());
    let validator = c.validator("/components/schemas/KnowledgeInput");
    for c in (0..=0xFFFF).filter_map(char::from_u32) {
        let valid = validator.is_valid(&json!({"name": c.to_string(), "text": "t"}));
        assert_eq!(
            valid,
            !c.is_whitespace() && c != '\0',
            "U+{:04X} as a name",
            c as u32
        );
    }
}

/// The served document, read as JSON Schema: a response's body is checked against the schema
/// the document gives for its operation and status, `$ref`s resolved inside the document.
struct Contract {
    doc: Value,
    /// (METHOD, path, status) of every response checked.
    seen: BTreeSet<(String, String, String)>,
    /// (header, status) of every header of ours checked against its declaration.
    headers_seen: BTreeSet<(&'static str, String)>,
}

/// The headers `/v1` adds to its responses, each of which the document must declare where
/// it is sent.
const SENT_HEADERS: [&str; 6] = [
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "callem-key-expiration",
    "www-authenticate",
    "retry-after",
];

/// `s` as a JSON Pointer token inside a URI fragment.
fn token(s: &str) -> String {
    s.replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

impl Contract {
    fn new(doc: Value) -> Contract {
        Contract {
            doc,
            seen: BTreeSet::new(),
            headers_seen: BTreeSet::new(),
        }
    }

    /// A validator for the schema at `pointer` (a URI fragment) in the document.
    fn validator(&self, pointer: &str) -> jsonschema::Validator {
        let mut root = self.doc.clone();
        root["$ref"] = json!(format!("#{pointer}"));
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema at {pointer} does not build: {e}"))
    }

    fn errors(&self, pointer: &str, instance: &Value) -> Vec<String> {
        self.validator(pointer)
            .iter_errors(instance)
            .map(|e| format!("{} at {:?}", e, e.instance_path().as_str()))
            .collect()
    }

    /// Checks that the operation documents the response's status, and that its body is valid
    /// against the schema documented for that status.
    fn check(&mut self, method: &str, path: &str, r: &Resp) {
        let status = r.status.to_string();
        let mut pointer = format!(
            "/paths/{}/{}/responses/{status}",
            token(path),
            method.to_lowercase()
        );
        let unescaped = |p: &str| p.replace("%7B", "{").replace("%7D", "}");
        let response = self
            .doc
            .pointer(&unescaped(&pointer))
            .unwrap_or_else(|| panic!("{method} {path} does not document {status}: {}", r.body));
        if let Some(target) = response["$ref"].as_str() {
            pointer = target.trim_start_matches('#').to_owned();
        }
        let schema = format!("{pointer}/content/application~1json/schema");
        assert!(
            self.doc.pointer(&unescaped(&schema)).is_some(),
            "{method} {path} {status} documents a JSON body"
        );
        assert!(
            r.header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json")),
            "{method} {path} {status} is JSON"
        );
        let errors = self.errors(&schema, &r.json());
        assert!(
            errors.is_empty(),
            "{method} {path} {status} is not what the document says: {errors:#?}\n{}",
            r.body
        );
        // Every header of ours the server sent is declared for this response, and its value
        // is valid against the declared schema.
        let declared = self.doc.pointer(&unescaped(&format!("{pointer}/headers")));
        for name in SENT_HEADERS {
            let Some(value) = r.header(name) else {
                continue;
            };
            let found = declared
                .and_then(|h| h.as_object())
                .and_then(|h| h.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned());
            let Some(found) = found else {
                panic!("{method} {path} {status} sends {name} but does not declare it");
            };
            let header_schema = format!("{pointer}/headers/{}/schema", token(&found));
            let typed: Value = value
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(value.clone()));
            let errors = self.errors(&header_schema, &typed);
            assert!(
                errors.is_empty(),
                "{method} {path} {status}: {name}: {value} is not as declared: {errors:?}"
            );
            self.headers_seen.insert((name, status.clone()));
        }
        self.seen
            .insert((method.to_owned(), path.to_owned(), status));
    }
}

/// A knowledge body over the 1 MiB limit.
fn too_large_body() -> String {
    format!(
        "{{\"name\":\"n\",\"text\":\"{}\"}}",
        "x".repeat(1024 * 1024)
    )
}

const CALLS: &str = r#"{"id":"call_full","status":"completed","duration":145,"summary":"Booked a demo","evaluation":"success","endedReason":"user_hangup","callerNumber":"+33612345678","calledNumber":"+14155550100","isEngaged":true,"callAnalysis":{"sentiment":"positive","appointmentBooked":true,"score":0.9},"transcript":[{"role":"assistant","content":"Bonjour !"},{"role":"user","content":"Hello"}],"createdAt":"2025-12-15T14:30:00.000Z","updatedAt":"2025-12-15T14:32:25.120Z"}
{"id":"call_live","status":"live","duration":12.5,"createdAt":"2025-12-16T09:00:00.000Z"}
{"id":"call_gone","status":"completed","duration":0,"createdAt":"2025-12-17T09:00:00.000Z"}"#;

async fn every_operation_answers_as_the_document_says(app: TestApp) {
    let served = app.agent().get("/v1/openapi.json").await;
    let mut c = Contract::new(served.json());
    c.check("GET", "/v1/openapi.json", &served);
    let pid = app.other_project("Contract").await;
    app.import_calls(&pid, CALLS).await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let a = app.agent();
    let bearer = vec![("authorization", format!("Bearer {key}"))];
    let post = |body: String, content_type: &'static str| {
        let (a, bearer) = (&a, &bearer);
        async move {
            a.send("POST", "/v1/knowledge", bearer, Some((body, content_type)))
                .await
        }
    };

    // Knowledge: created with and without a description, listed, read, deleted.
    let plain = post(
        json!({"name": "FAQ", "text": "## Q\nA"}).to_string(),
        "application/json",
    )
    .await;
    c.check("POST", "/v1/knowledge", &plain);
    let full = post(
        json!({"name": "Hours", "description": "Opening hours", "text": "9 to 5"}).to_string(),
        "application/json",
    )
    .await;
    c.check("POST", "/v1/knowledge", &full);
    let id = full.json()["id"].as_str().unwrap().to_owned();
    for query in ["", "?limit=1&offset=1", "?limit=1000&offset=1000000000"] {
        let r = app.api("GET", &format!("/v1/knowledge{query}"), &key).await;
        assert_eq!(r.status, 200, "{query}");
        c.check("GET", "/v1/knowledge", &r);
    }
    let r = app.api("GET", "/v1/knowledge?limit=0", &key).await;
    c.check("GET", "/v1/knowledge", &r);
    assert_eq!(r.status, 400);
    for target in [id.as_str(), "000000000000000000000000"] {
        let r = app
            .api("GET", &format!("/v1/knowledge/{target}"), &key)
            .await;
        c.check("GET", "/v1/knowledge/{id}", &r);
    }
    // Edited (this server's addition): in part, refused, unknown, too large, not JSON; and
    // with a key that expires, whose errors say so too.
    let (_, expiring) = app
        .issue_key(
            &pid,
            "",
            Expiry::On(chrono::Utc::now().date_naive() + chrono::Days::new(30)),
        )
        .await;
    let patch = |target: &str, body: String, content_type: &'static str, key: &str| {
        let a = &a;
        let (path, auth) = (
            format!("/v1/knowledge/{target}"),
            [("authorization", format!("Bearer {key}"))],
        );
        async move {
            a.send("PATCH", &path, &auth, Some((body, content_type)))
                .await
        }
    };
    let edited = patch(
        &id,
        json!({"description": null}).to_string(),
        "application/json",
        &key,
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    c.check("PATCH", "/v1/knowledge/{id}", &edited);
    let edited = patch(
        &id,
        json!({"name": "Hours (summer)"}).to_string(),
        "application/json",
        &expiring,
    )
    .await;
    assert!(edited.header("callem-key-expiration").is_some());
    c.check("PATCH", "/v1/knowledge/{id}", &edited);
    for (target, body, content_type) in [
        (
            id.as_str(),
            json!({"name": ""}).to_string(),
            "application/json",
        ),
        (
            "000000000000000000000000",
            json!({"name": "x"}).to_string(),
            "application/json",
        ),
        (id.as_str(), "{}".to_owned(), "text/plain"),
        (id.as_str(), too_large_body(), "application/json"),
    ] {
        let r = patch(target, body, content_type, &expiring).await;
        assert!(r.status >= 400, "{}", r.body);
        assert!(
            r.header("callem-key-expiration").is_some(),
            "{} carries the key's expiry",
            r.status
        );
        c.check("PATCH", "/v1/knowledge/{id}", &r);
    }
    for _ in 0..2 {
        let r = app
            .api("DELETE", &format!("/v1/knowledge/{id}"), &key)
            .await;
        c.check("DELETE", "/v1/knowledge/{id}", &r);
    }
    let too_large = too_large_body();
    for (body, content_type) in [
        (
            json!({"name": "  ", "text": "x"}).to_string(),
            "application/json",
        ),
        ("{\"name\": ".to_owned(), "application/json"),
        ("{}".to_owned(), "text/plain"),
        (too_large, "application/json"),
    ] {
        let r = post(body, content_type).await;
        assert!(r.status >= 400, "{}", r.body);
        c.check("POST", "/v1/knowledge", &r);
    }

    // Calls: listed, read (every field set, and mostly null), deleted.
    for query in ["", "?limit=2", "?offset=2"] {
        let r = app.api("GET", &format!("/v1/calls{query}"), &key).await;
        assert_eq!(r.status, 200, "{query}");
        c.check("GET", "/v1/calls", &r);
    }
    let r = app.api("GET", "/v1/calls?offset=-1", &key).await;
    c.check("GET", "/v1/calls", &r);
    assert_eq!(r.status, 400);
    for target in ["call_full", "call_live", "nope"] {
        let r = app.api("GET", &format!("/v1/calls/{target}"), &key).await;
        c.check("GET", "/v1/calls/{id}", &r);
    }
    for _ in 0..2 {
        let r = app.api("DELETE", "/v1/calls/call_gone", &key).await;
        c.check("DELETE", "/v1/calls/{id}", &r);
    }

    // Calls arriving over HTTP (this server's addition): created (without and with an id),
    // refused, taken, too large, not JSON; updated, refused, unknown, too large, not JSON; and
    // with a key that expires, whose answers say so.
    let send_call =
        |method: &'static str, path: String, body: String, ct: &'static str, key: &str| {
            let a = &a;
            let auth = [("authorization", format!("Bearer {key}"))];
            async move { a.send(method, &path, &auth, Some((body, ct))).await }
        };
    let calls = "/v1/calls".to_owned();
    let r = send_call(
        "POST",
        calls.clone(),
        json!({"status": "live", "duration": 0}).to_string(),
        "application/json",
        &key,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    c.check("POST", "/v1/calls", &r);
    let posted = json!({
        "id": "call_posted", "status": "live", "duration": 1.5, "summary": "s",
        "evaluation": null, "isEngaged": true, "callAnalysis": {"k": [1, {"x": null}]},
        "transcript": [{"role": "user", "content": "Hi"}],
        "createdAt": "2025-12-18T09:00:00+02:00"
    });
    let r = send_call(
        "POST",
        calls.clone(),
        posted.to_string(),
        "application/json",
        &expiring,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.header("callem-key-expiration").is_some());
    c.check("POST", "/v1/calls", &r);
    for (body, content_type) in [
        (posted.to_string(), "application/json"),
        (json!({"status": "live"}).to_string(), "application/json"),
        ("{\"status\": ".to_owned(), "application/json"),
        ("{}".to_owned(), "text/plain"),
        (
            json!({"status": "live", "duration": 1, "summary": "x".repeat(1024 * 1024)})
                .to_string(),
            "application/json",
        ),
    ] {
        let r = send_call("POST", calls.clone(), body, content_type, &expiring).await;
        assert!(r.status >= 400, "{}", r.body);
        assert!(r.header("callem-key-expiration").is_some(), "{}", r.status);
        c.check("POST", "/v1/calls", &r);
    }
    let one = |id: &str| format!("/v1/calls/{id}");
    let r = send_call(
        "PATCH",
        one("call_posted"),
        json!({"status": "completed", "transcript": [], "summary": null}).to_string(),
        "application/json",
        &expiring,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    c.check("PATCH", "/v1/calls/{id}", &r);
    for (target, body, content_type) in [
        (
            "call_posted",
            json!({"status": "live"}).to_string(),
            "application/json",
        ),
        (
            "call_posted",
            json!({"colour": "red"}).to_string(),
            "application/json",
        ),
        (
            "nope",
            json!({"duration": 1}).to_string(),
            "application/json",
        ),
        ("call_posted", "{}".to_owned(), "text/plain"),
        (
            "call_posted",
            json!({"summary": "x".repeat(1024 * 1024)}).to_string(),
            "application/json",
        ),
    ] {
        let r = send_call("PATCH", one(target), body, content_type, &expiring).await;
        assert!(r.status >= 400, "{}", r.body);
        assert!(r.header("callem-key-expiration").is_some(), "{}", r.status);
        c.check("PATCH", "/v1/calls/{id}", &r);
    }

    // Leak reports: received, and every kind of refusal, with or without a key.
    let (_, leaked) = app.issue_key(&pid, "", Expiry::Never).await;
    let report = |body: String, content_type: &'static str| {
        let a = &a;
        async move {
            a.send("POST", "/v1/leaked-keys", &[], Some((body, content_type)))
                .await
        }
    };
    let r = report(
        json!({"keys": [leaked, "not a key"]}).to_string(),
        "application/json",
    )
    .await;
    assert_eq!(r.json(), json!({"received": 2, "revoked": 1}));
    c.check("POST", "/v1/leaked-keys", &r);
    for (body, content_type) in [
        (json!({"keys": []}).to_string(), "application/json"),
        ("{\"keys\": ".to_owned(), "application/json"),
        ("{}".to_owned(), "text/plain"),
        (
            format!("{{\"keys\":[\"{}\"]}}", "x".repeat(1024 * 1024)),
            "application/json",
        ),
    ] {
        let r = report(body, content_type).await;
        assert!(r.status >= 400, "{}", r.body);
        c.check("POST", "/v1/leaked-keys", &r);
    }

    // Every operation that needs a key, without one, with one from the wrong address, and with
    // one whose scope does not cover it.
    let (_, elsewhere) = app.issue_key(&pid, "192.0.2.0/24", Expiry::Never).await;
    let scoped = |s: &str| {
        let scope = s.parse::<callem::domain::scope::Scope>().unwrap();
        let (app, pid) = (&app, &pid);
        async move { app.issue_scoped_key(pid, "", Expiry::Never, scope).await.1 }
    };
    let (calls_only, knowledge_only) = (
        scoped("calls:delete").await,
        scoped("knowledge:write").await,
    );
    let operations = documented(&c.doc.clone());
    let body = |method: &str| {
        (method == "POST" || method == "PATCH").then(|| {
            (
                json!({"name": "n", "text": "t"}).to_string(),
                "application/json",
            )
        })
    };
    for (method, path) in &operations {
        let concrete = path.replace("{id}", "call_full");
        if path == "/v1/openapi.json" || path == "/v1/leaked-keys" {
            continue;
        }
        let without = a.send(method, &concrete, &[], body(method)).await;
        assert_eq!(without.status, 401, "{method} {path}");
        c.check(method, path, &without);
        let auth = [("authorization", format!("Bearer {elsewhere}"))];
        let refused = a.send(method, &concrete, &auth, body(method)).await;
        assert_eq!(refused.status, 403, "{method} {path}");
        c.check(method, path, &refused);
        let other = if path.starts_with("/v1/calls") {
            &knowledge_only
        } else {
            &calls_only
        };
        let auth = [("authorization", format!("Bearer {other}"))];
        let refused = a.send(method, &concrete, &auth, body(method)).await;
        assert_eq!(
            api_error(&refused),
            (
                403,
                "API key does not have permission for this request".into()
            ),
            "{method} {path}"
        );
        c.check(method, path, &refused);
    }

    // Every operation over the rate limit.
    let db = TestDb::create(app.backend());
    let limited = TestApp::spawn_configured(db, |s| s.rate_limit_per_minute = 1).await;
    let la = limited.agent();
    assert_eq!(la.get("/v1/openapi.json").await.status, 200);
    for (method, path) in &operations {
        let r = la
            .send(method, &path.replace("{id}", "x"), &bearer, body(method))
            .await;
        assert_eq!(r.status, 429, "{method} {path}");
        c.check(method, path, &r);
    }

    // Every documented answer was seen, but for the two the server cannot be made to give here.
    let unseen: Vec<String> = operations
        .iter()
        .flat_map(|(method, path)| {
            let statuses = c.doc["paths"][path][method.to_lowercase()]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>();
            statuses
                .into_iter()
                .filter(|s| s != "500" && s != "503")
                .filter(|s| !c.seen.contains(&(method.clone(), path.clone(), s.clone())))
                .map(move |s| format!("{method} {path} {s}"))
        })
        .collect();
    assert!(
        unseen.is_empty(),
        "documented but never checked: {unseen:?}"
    );
    // The headers were seen where they matter: the rate limit's on a success, a 401 and a
    // 429; the key's expiry on a 4xx; the challenge on a 401.
    for seen in [
        ("ratelimit-limit", "200"),
        ("ratelimit-remaining", "401"),
        ("ratelimit-reset", "429"),
        ("retry-after", "429"),
        ("callem-key-expiration", "200"),
        ("callem-key-expiration", "404"),
        ("callem-key-expiration", "400"),
        ("www-authenticate", "401"),
    ] {
        assert!(
            c.headers_seen.contains(&(seen.0, seen.1.to_owned())),
            "{} was never checked on a {}",
            seen.0,
            seen.1
        );
    }
}

/// The body schema of `POST /v1/knowledge` accepts what the server accepts and refuses what
/// it refuses: its bounds and patterns are the server's.
async fn the_knowledge_input_schema_accepts_what_the_server_accepts(app: TestApp) {
    let c = Contract::new(serde_json::from_str(DOCUMENT).unwrap());
    let schema = c.doc["paths"]["/v1/knowledge"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"]
        .as_str()
        .expect("a referenced body schema")
        .trim_start_matches('#')
        .to_owned();
    let pid = app.other_project("Bodies").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let bearer = [("authorization", format!("Bearer {key}"))];
    let bodies = [
        json!({"name": "n".repeat(200), "text": "t"}),
        json!({"name": "n".repeat(201), "text": "t"}),
        json!({"name": format!("  {}", "n".repeat(199)), "text": "t"}),
        json!({"name": " FAQ ", "description": "d".repeat(2000), "text": "t"}),
        json!({"name": "n", "description": "d".repeat(2001), "text": "t"}),
        json!({"name": "n", "description": null, "text": "t"}),
        json!({"name": "n", "description": "   ", "text": "t"}),
        json!({"name": "n", "description": "a\u{0}b", "text": "t"}),
        json!({"name": "n", "description": 5, "text": "t"}),
        json!({"name": "   ", "text": "t"}),
        json!({"name": "\t\u{3000}\u{2028}", "text": "t"}),
        json!({"name": "a\u{0}b", "text": "t"}),
        json!({"name": "\u{0}", "text": "t"}),
        json!({"name": 1, "text": "t"}),
        json!({"text": "t"}),
        json!({"name": "n"}),
        json!({"name": "n", "text": ""}),
        json!({"name": "n", "text": "\n\n"}),
        json!({"name": "n", "text": "\u{a0}x\u{a0}"}),
        json!({"name": "n", "text": "x\u{0}"}),
    ];
    for body in bodies {
        let r = app
            .agent()
            .send(
                "POST",
                "/v1/knowledge",
                &bearer,
                Some((body.to_string(), "application/json")),
            )
            .await;
        let errors = c.errors(&schema, &body);
        assert_eq!(
            r.status == 201,
            errors.is_empty(),
            "the server answered {} ({}) and the schema says {errors:?} for {body}",
            r.status,
            r.body
        );
    }
}

/// The body schema of `POST /v1/calls` accepts what the server accepts and refuses what it
/// refuses: the import line's rules, written as a schema.
async fn the_call_input_schema_accepts_what_the_server_accepts(app: TestApp) {
    let c = Contract::new(serde_json::from_str(DOCUMENT).unwrap());
    let schema = c.doc["paths"]["/v1/calls"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["$ref"]
        .as_str()
        .expect("a referenced body schema")
        .trim_start_matches('#')
        .to_owned();
    let pid = app.other_project("Call bodies").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let bearer = [("authorization", format!("Bearer {key}"))];
    let live = |extra: Value| {
        let mut body = json!({"status": "live", "duration": 1});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let bodies = [
        json!({"status": "completed", "duration": 0}),
        json!({"status": "live"}),
        json!({"duration": 1}),
        json!({"status": "done", "duration": 1}),
        json!({"status": null, "duration": 1}),
        live(json!({"duration": -1})),
        live(json!({"duration": 0.25})),
        live(json!({"duration": "1"})),
        live(json!({"colour": "red"})),
        live(json!({"id": "call_schema_1"})),
        live(json!({"id": null})),
        live(json!({"id": "a b"})),
        live(json!({"id": "x".repeat(65)})),
        live(json!({"id": 7})),
        live(json!({"summary": null, "evaluation": "fail", "endedReason": "user_hangup"})),
        live(json!({"summary": "a\u{0}"})),
        live(json!({"callerNumber": 33612345678_u64})),
        live(json!({"isEngaged": null})),
        live(json!({"isEngaged": "yes"})),
        live(json!({"callAnalysis": {"nested": {"deep": [1, null]}}})),
        live(json!({"callAnalysis": []})),
        live(json!({"callAnalysis": null})),
        live(json!({"transcript": [{"role": "user", "content": "x", "extra": 1}]})),
        live(json!({"transcript": [{"role": "bot", "content": "x"}]})),
        live(json!({"transcript": [{"role": "user"}]})),
        live(json!({"transcript": [{"role": "user", "content": "\u{0}"}]})),
        live(json!({"transcript": {}})),
        live(json!({"createdAt": "2025-12-15T14:30:00Z", "updatedAt": null})),
        live(json!({"createdAt": "yesterday"})),
        live(json!({"updatedAt": 1765809000})),
    ];
    for body in bodies {
        let r = app
            .agent()
            .send(
                "POST",
                "/v1/calls",
                &bearer,
                Some((body.to_string(), "application/json")),
            )
            .await;
        let errors = c.errors(&schema, &body);
        assert_eq!(
            r.status == 201,
            errors.is_empty(),
            "the server answered {} ({}) and the schema says {errors:?} for {body}",
            r.status,
            r.body
        );
    }
}

/// Every operation illustrates its parameters, its request body and each of its responses
/// (its own and the shared error responses), each example valid against its schema: what
/// client generators show and Schemathesis' example phase sends.
#[test]
fn every_operation_and_answer_has_an_example_its_schema_accepts() {
    let c = Contract::new(serde_json::from_str(DOCUMENT).unwrap());
    let doc = c.doc.clone();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("/paths/{}/{method}", token(path));
            let unescaped = |p: &str| p.replace("%7B", "{").replace("%7D", "}");
            for (i, p) in op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let example = p.get("example").unwrap_or_else(|| {
                    panic!("{method} {path}: parameter {} has no example", p["name"])
                });
                let errors = c.errors(&format!("{at}/parameters/{i}/schema"), example);
                assert!(
                    errors.is_empty(),
                    "{method} {path} {}: {errors:?}",
                    p["name"]
                );
            }
            if let Some(body) = op.get("requestBody") {
                let example = &body["content"]["application/json"]["example"];
                assert!(!example.is_null(), "{method} {path}: no request example");
                let schema = format!("{at}/requestBody/content/application~1json/schema");
                let errors = c.errors(&schema, example);
                assert!(errors.is_empty(), "{method} {path} request: {errors:?}");
                checked += 1;
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                let mut pointer = format!("{at}/responses/{status}");
                if let Some(target) = response["$ref"].as_str() {
                    pointer = target.trim_start_matches('#').to_owned();
                }
                let resolved = doc.pointer(&unescaped(&pointer)).unwrap();
                let example = &resolved["content"]["application/json"]["example"];
                assert!(!example.is_null(), "{method} {path} {status}: no example");
                let schema = format!("{pointer}/content/application~1json/schema");
                let errors = c.errors(&schema, example);
                assert!(errors.is_empty(), "{method} {path} {status}: {errors:?}");
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        example["statusCode"]
                            .as_u64()
                            .map(|s| s.to_string())
                            .as_deref(),
                        Some(status.as_str()),
                        "{method} {path}: the {status} example says its own status"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} examples found");
}

/// What the reference tells people who generate clients: the base URL is the host alone, who
/// to ask, under which licence, and which operations are this server's additions.
#[test]
fn the_document_says_its_base_url_licence_contact_and_additions() {
    let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    assert!(doc["info"]["description"]
        .as_str()
        .unwrap()
        .contains("every path below already starts with /v1"));
    assert_eq!(doc["servers"][0]["url"], "/");
    assert!(doc["servers"][0]["description"]
        .as_str()
        .unwrap()
        .contains("the paths already include /v1"));
    assert_eq!(doc["info"]["license"]["identifier"], "MIT");
    assert!(doc["info"]["contact"]["name"].is_string());
    assert_eq!(
        doc["paths"]["/v1/knowledge/{id}"]["patch"]["x-callem-addition"],
        true
    );
    assert_eq!(
        doc["paths"]["/v1/leaked-keys"]["post"]["x-callem-addition"],
        true
    );
    assert_eq!(doc["paths"]["/v1/calls"]["post"]["x-callem-addition"], true);
    assert_eq!(
        doc["paths"]["/v1/calls/{id}"]["patch"]["x-callem-addition"],
        true
    );
    assert!(doc["paths"]["/v1/knowledge"]["post"]
        .get("x-callem-addition")
        .is_none());
    let unauthorized = &doc["components"]["responses"]["Unauthorized"]["headers"];
    assert!(unauthorized.get("WWW-Authenticate").is_some());
}

/// The body schema of `PATCH /v1/knowledge/{id}` accepts what the server accepts and refuses
/// what it refuses: each field optional, each bounded as on create.
async fn the_knowledge_patch_schema_accepts_what_the_server_accepts(app: TestApp) {
    let c = Contract::new(serde_json::from_str(DOCUMENT).unwrap());
    let schema = c.doc["paths"]["/v1/knowledge/{id}"]["patch"]["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"]
        .as_str()
        .expect("a referenced body schema")
        .trim_start_matches('#')
        .to_owned();
    let pid = app.other_project("Patches").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let made = app
        .create_knowledge(&key, &json!({"name": "n", "text": "t"}))
        .await
        .json();
    let path = format!("/v1/knowledge/{}", made["id"].as_str().unwrap());
    let bearer = [("authorization", format!("Bearer {key}"))];
    let bodies = [
        json!({}),
        json!({"name": "n".repeat(200)}),
        json!({"name": "n".repeat(201)}),
        json!({"name": "   "}),
        json!({"name": null}),
        json!({"name": 1}),
        json!({"description": null}),
        json!({"description": "d".repeat(2000)}),
        json!({"description": "d".repeat(2001)}),
        json!({"description": "a\u{0}b"}),
        json!({"description": 5}),
        json!({"text": ""}),
        json!({"text": "\n\n"}),
        json!({"text": "\u{a0}x\u{a0}"}),
        json!({"text": "x\u{0}"}),
        json!({"text": "t", "name": "m", "description": "d"}),
    ];
    for body in bodies {
        let r = app
            .agent()
            .send(
                "PATCH",
                &path,
                &bearer,
                Some((body.to_string(), "application/json")),
            )
            .await;
        let errors = c.errors(&schema, &body);
        assert_eq!(
            r.status == 200,
            errors.is_empty(),
            "the server answered {} ({}) and the schema says {errors:?} for {body}",
            r.status,
            r.body
        );
    }
}

crate::on_both_backends!(
    every_operation_answers_as_the_document_says,
    the_knowledge_input_schema_accepts_what_the_server_accepts,
    the_knowledge_patch_schema_accepts_what_the_server_accepts,
    the_call_input_schema_accepts_what_the_server_accepts
);
