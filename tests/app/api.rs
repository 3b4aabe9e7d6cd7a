//! The public REST API over real HTTP: the contract's tables, row by row, on both backends.

use std::time::{Duration, Instant};

use actix_web::middleware::from_fn;
use callem::domain::expiry::Expiry;
use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::helpers::*;

fn error(r: &Resp) -> (u16, String) {
    let v = r.json();
    assert_eq!(
        v.as_object().unwrap().len(),
        2,
        "exactly statusCode and message: {}",
        r.body
    );
    assert_eq!(v["statusCode"], r.status, "statusCode matches the status");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert!(
        r.body.starts_with("{\"statusCode\":"),
        "statusCode comes first: {}",
        r.body
    );
    (r.status, v["message"].as_str().unwrap().to_owned())
}

const CALL_A: &str = r#"{"id":"call_a","status":"completed","duration":145,"summary":"Booked a demo","evaluation":"success","endedReason":"user_hangup","callerNumber":"+33612345678","calledNumber":"+14155550100","isEngaged":true,"callAnalysis":{"sentiment":"positive","leadQuality":"hot","appointmentBooked":true},"transcript":[{"role":"assistant","content":"Bonjour !"},{"role":"user","content":"Hello"}],"createdAt":"2025-12-15T14:30:00.000Z","updatedAt":"2025-12-15T14:32:25.120Z"}"#;
const CALL_B: &str =
    r#"{"id":"call_b","status":"live","duration":12.5,"createdAt":"2025-12-16T09:00:00.000Z"}"#;
const CALL_C: &str =
    r#"{"id":"call_c","status":"completed","duration":30,"createdAt":"2025-12-16T09:00:00.000Z"}"#;

async fn project_with_calls(app: &TestApp) -> (String, String) {
    let pid = app.other_project("API project").await;
    app.import_calls(&pid, &[CALL_A, CALL_B, CALL_C].join("\n"))
        .await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    (pid, key)
}

async fn authentication_checks_answer_in_the_contract_order(app: TestApp) {
    let pid = app.other_project("P").await;
    let (_, good) = app.issue_key(&pid, "", Expiry::Never).await;
    let (revoked_id, revoked) = app.issue_key(&pid, "", Expiry::Never).await;
    let (expired_id, expired) = app
        .issue_key(
            &pid,
            "",
            Expiry::On(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()),
        )
        .await;
    let (_, elsewhere) = app.issue_key(&pid, "192.0.2.0/24", Expiry::Never).await;
    let p = project(&pid);
    app.db(move |c| {
        use callem::db::schema::api_keys::dsl::*;
        use diesel::prelude::*;
        let revoked_id = callem::domain::ids::KeyId::parse(&revoked_id).unwrap();
        callem::db::api_keys::revoke(
            c,
            &p,
            &revoked_id,
            &callem::domain::actor::Actor::command_line(),
            callem::time::now(),
        )?;
        diesel::update(api_keys.find(&expired_id))
            .set(expires_at.eq(Some(callem::time::now() - chrono::Duration::seconds(1))))
            .execute(c)?;
        Ok(())
    })
    .await;
    let a = app.agent();
    let with = |h: &str| vec![("authorization", h.to_owned())];
    type Case<'a> = (Vec<(&'a str, String)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (vec![], 401, "Missing or invalid Authorization header"),
        (
            with("Basic dXNlcjpwYXNz"),
            401,
            "Missing or invalid Authorization header",
        ),
        (
            with(&format!("Token {good}")),
            401,
            "Missing or invalid Authorization header",
        ),
        (
            with("Bearer"),
            401,
            "Missing or invalid Authorization header",
        ),
        (
            with("Bearer ck_live_tooshort"),
            401,
            "Invalid API key format",
        ),
        (
            with(&format!("Bearer {}", good.to_uppercase())),
            401,
            "Invalid API key format",
        ),
        (
            with(&format!("Bearer {good}x")),
            401,
            "Invalid API key format",
        ),
        (
            with(&format!("Bearer ck_test_{}", &good[8..])),
            401,
            "Invalid API key format",
        ),
        (
            with(&format!("Bearer ck_live_{}", "0".repeat(60))),
            401,
            "Invalid API key",
        ),
        (with(&format!("Bearer {revoked}")), 401, "Invalid API key"),
        (
            with(&format!("Bearer {expired}")),
            401,
            "API key has expired",
        ),
        (
            with(&format!("Bearer {elsewhere}")),
            403,
            "IP address not allowed",
        ),
    ];
    for (headers, status, message) in cases {
        let r = a.send("GET", "/v1/calls", &headers, None).await;
        assert_eq!(error(&r), (status, message.to_owned()), "{headers:?}");
        // Every 401 names the scheme that would do (RFC 9110 §11.6.1); a 403 does not.
        let challenge = r.header("www-authenticate");
        if status == 401 {
            assert_eq!(challenge.as_deref(), Some("Bearer"), "{headers:?}");
        } else {
            assert_eq!(challenge, None, "{headers:?}");
        }
    }
    let r = app.list_calls(&good, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("www-authenticate"), None);
    // The scheme's name is case-insensitive (RFC 9110 §11.1); the key itself is not.
    for scheme in ["bearer", "BEARER", "bEARER"] {
        let r = a
            .send("GET", "/v1/calls", &with(&format!("{scheme} {good}")), None)
            .await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.body);
    }
    let r = a
        .send(
            "GET",
            "/v1/calls",
            &with(&format!("bearer {revoked}")),
            None,
        )
        .await;
    assert_eq!(error(&r), (401, "Invalid API key".to_owned()));
}

async fn calls_are_listed_newest_first_with_the_exact_fields(app: TestApp) {
    let (pid, key) = project_with_calls(&app).await;
    let r = app.list_calls(&key, "").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        v["pagination"],
        json!({"total": 3, "limit": 100, "offset": 0})
    );
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["call_c", "call_b", "call_a"],
        "newest first, ties by id"
    );
    let a = v["data"][2].clone();
    let expected: Value = serde_json::from_str(CALL_A).unwrap();
    assert_eq!(a, expected, "field by field as imported");
    let b = &v["data"][1];
    assert_eq!(b["summary"], Value::Null);
    assert_eq!(b["callAnalysis"], json!({}));
    assert_eq!(b["transcript"], json!([]));
    assert_eq!(b["duration"], json!(12.5));
    assert_eq!(b["isEngaged"], json!(false));
    assert_eq!(b["updatedAt"], "2025-12-16T09:00:00.000Z");

    let r = app.list_calls(&key, "?limit=1&offset=1").await.json();
    assert_eq!(
        r["pagination"],
        json!({"total": 3, "limit": 1, "offset": 1})
    );
    assert_eq!(r["data"][0]["id"], "call_b");
    let r = app.list_calls(&key, "?offset=10").await.json();
    assert_eq!(r["data"], json!([]));
    assert_eq!(r["pagination"]["total"], 3);

    let single = app.get_call(&key, "call_a").await;
    assert_eq!(single.status, 200);
    assert_eq!(
        single.json(),
        expected,
        "get returns the same object, unwrapped"
    );
    let _ = pid;
}

async fn bad_pagination_is_a_400_naming_the_parameter(app: TestApp) {
    let (_, key) = project_with_calls(&app).await;
    for q in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "limit=",
    ] {
        let r = app.list_calls(&key, &format!("?{q}")).await;
        assert_eq!(
            error(&r),
            (400, "limit must be an integer between 1 and 1000".into()),
            "{q}"
        );
    }
    for q in ["offset=-1", "offset=x", "offset=1.5"] {
        let r = app.list_knowledge(&key, &format!("?{q}")).await;
        assert_eq!(
            error(&r),
            (
                400,
                "offset must be an integer between 0 and 1000000000".into()
            ),
            "{q}"
        );
    }
    let r = app.list_calls(&key, "?limit=1000").await;
    assert_eq!(r.json()["pagination"]["limit"], 1000);
}

async fn another_projects_data_is_never_served(app: TestApp) {
    let (_, key) = project_with_calls(&app).await;
    let other = app.other_project("Other").await;
    app.import_calls(&other, r#"{"id":"theirs","status":"live","duration":1}"#)
        .await;
    let (_, other_key) = app.issue_key(&other, "", Expiry::Never).await;
    let k = app.api("POST", "/v1/knowledge", &other_key).await;
    assert_eq!(k.status, 415);
    let r = app.get_call(&key, "theirs").await;
    assert_eq!(error(&r), (404, "Call not found".into()));
    let r = app.delete_call(&key, "theirs").await;
    assert_eq!(error(&r), (404, "Call not found".into()));
    let list = app.list_calls(&other_key, "").await.json();
    assert_eq!(
        list["pagination"]["total"], 1,
        "the other project still has its call"
    );
    assert_eq!(list["data"][0]["id"], "theirs");
}

async fn deleting_a_call_is_permanent(app: TestApp) {
    let (_, key) = project_with_calls(&app).await;
    let r = app.delete_call(&key, "call_a").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"id": "call_a", "deleted": true}));
    assert_eq!(
        error(&app.get_call(&key, "call_a").await),
        (404, "Call not found".into())
    );
    assert_eq!(
        error(&app.delete_call(&key, "call_a").await),
        (404, "Call not found".into())
    );
    assert_eq!(
        app.list_calls(&key, "").await.json()["pagination"]["total"],
        2
    );
}

async fn knowledge_is_created_listed_read_and_deleted(app: TestApp) {
    let pid = app.other_project("K").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let a = app.agent();
    let post = |body: String, ct: &'static str| {
        let key = key.clone();
        let a = &a;
        async move {
            a.send(
                "POST",
                "/v1/knowledge",
                &[("authorization", format!("Bearer {key}"))],
                Some((body, ct)),
            )
            .await
        }
    };
    let r = post(
        json!({"name": "Refund policy", "text": "## Refunds\nWithin 30 days."}).to_string(),
        "application/json",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let item = r.json();
    assert_eq!(item.as_object().unwrap().len(), 5);
    assert_eq!(item["name"], "Refund policy");
    assert_eq!(
        item["description"],
        Value::Null,
        "absent description is null"
    );
    assert_eq!(item["text"], "## Refunds\nWithin 30 days.");
    let id = item["id"].as_str().unwrap().to_owned();
    assert!(callem::domain::ids::looks_like_id(&id));
    let created = item["createdAt"].as_str().unwrap();
    assert!(
        created.len() == 24 && created.ends_with('Z') && created.as_bytes()[19] == b'.',
        "{created}"
    );

    let r = post(
        json!({"name": "Hours", "description": "Opening hours", "text": "9 to 5"}).to_string(),
        "application/json; charset=utf-8",
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["description"], "Opening hours");

    let list = app.list_knowledge(&key, "").await.json();
    assert_eq!(
        list["pagination"],
        json!({"total": 2, "limit": 100, "offset": 0})
    );
    assert_eq!(list["data"][0]["name"], "Hours", "newest first");
    assert_eq!(list["data"][1], item, "full objects in the list");
    assert_eq!(app.get_knowledge(&key, &id).await.json(), item);

    let r = app.delete_knowledge(&key, &id).await;
    assert_eq!(r.json(), json!({"id": id, "deleted": true}));
    assert_eq!(
        error(&app.get_knowledge(&key, &id).await),
        (404, "Knowledge item not found".into())
    );
    assert_eq!(
        error(&app.delete_knowledge(&key, &id).await),
        (404, "Knowledge item not found".into())
    );
}

async fn bad_knowledge_bodies_are_refused_by_name_and_nothing_is_stored(app: TestApp) {
    let pid = app.other_project("K").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let a = app.agent();
    let auth = vec![("authorization", format!("Bearer {key}"))];
    let cases: Vec<(String, &str, u16, &str)> = vec![
        (
            json!({"text": "x"}).to_string(),
            "application/json",
            400,
            "name is required and must not be blank",
        ),
        (
            json!({"name": "   ", "text": "x"}).to_string(),
            "application/json",
            400,
            "name is required and must not be blank",
        ),
        (
            json!({"name": "n"}).to_string(),
            "application/json",
            400,
            "text is required and must not be blank",
        ),
        (
            json!({"name": "n", "text": ""}).to_string(),
            "application/json",
            400,
            "text is required and must not be blank",
        ),
        (
            json!({"name": 1, "text": "x"}).to_string(),
            "application/json",
            400,
            "name must be a string",
        ),
        (
            json!({"name": "n", "text": "x", "description": false}).to_string(),
            "application/json",
            400,
            "description must be a string or null",
        ),
        (
            json!({"name": "n".repeat(201), "text": "x"}).to_string(),
            "application/json",
            400,
            "name must be at most 200 characters",
        ),
        (
            json!({"name": "n", "text": "x".repeat(600 * 1024)}).to_string(),
            "application/json",
            400,
            "text must be at most 512 KiB",
        ),
        (
            "[1,2]".into(),
            "application/json",
            400,
            "body must be a JSON object with name and text",
        ),
        (
            "name=x&text=y".into(),
            "application/x-www-form-urlencoded",
            415,
            "Content-Type must be application/json",
        ),
        (
            "{}".into(),
            "text/plain",
            415,
            "Content-Type must be application/json",
        ),
        (
            format!(
                "{{\"name\":\"n\",\"text\":\"{}\"}}",
                "x".repeat(1024 * 1024)
            ),
            "application/json",
            413,
            "Request body too large",
        ),
    ];
    for (body, ct, status, message) in cases {
        let r = a
            .send("POST", "/v1/knowledge", &auth, Some((body, ct)))
            .await;
        assert_eq!(error(&r), (status, message.to_owned()), "{ct}");
    }
    let r = a
        .send(
            "POST",
            "/v1/knowledge",
            &auth,
            Some(("{\"name\": \"n\", ".into(), "application/json")),
        )
        .await;
    let (status, message) = error(&r);
    assert_eq!(status, 400);
    assert!(
        message.starts_with("the body is not valid JSON"),
        "{message}"
    );
    assert_eq!(count_rows(&app, "knowledge_items").await, 0);
    // A bad body without a valid key is an authentication error first.
    let r = a
        .send(
            "POST",
            "/v1/knowledge",
            &[],
            Some(("{".into(), "application/json")),
        )
        .await;
    assert_eq!(error(&r).0, 401);
}

async fn knowledge_is_edited_in_part_with_the_create_rules_and_the_same_id(app: TestApp) {
    let pid = app.other_project("K").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let auth = vec![("authorization", format!("Bearer {key}"))];
    let a = app.agent();
    let patch = |path: String, body: String| {
        let (a, auth) = (&a, &auth);
        async move {
            a.send("PATCH", &path, auth, Some((body, "application/json")))
                .await
        }
    };
    let made = app
        .create_knowledge(
            &key,
            &json!({"name": "Hours", "description": "When we open", "text": "9 to 5"}),
        )
        .await
        .json();
    let id = made["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/knowledge/{id}");

    // Only the fields given change; the answer is the item as it now is.
    let r = patch(path.clone(), json!({"text": "9 to 6"}).to_string()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["text"], "9 to 6");
    assert_eq!(body["name"], "Hours");
    assert_eq!(body["description"], "When we open");
    assert_eq!(
        (&body["id"], &body["createdAt"]),
        (&made["id"], &made["createdAt"])
    );
    assert_eq!(app.get_knowledge(&key, &id).await.json(), body);
    // A null description removes it; an absent one keeps it.
    let r = patch(
        path.clone(),
        json!({"name": " Opening hours ", "description": null}).to_string(),
    )
    .await;
    assert_eq!(r.json()["name"], "Opening hours");
    assert_eq!(r.json()["description"], serde_json::Value::Null);
    assert_eq!(r.json()["text"], "9 to 6");
    let r = patch(path.clone(), "{}".into()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "Opening hours");

    // The create rules and messages; nothing is half-written.
    let before = app.get_knowledge(&key, &id).await.json();
    let cases = [
        (
            json!({"name": "  "}),
            "name is required and must not be blank",
        ),
        (json!({"name": null}), "name must be a string"),
        (
            json!({"name": "n".repeat(201)}),
            "name must be at most 200 characters",
        ),
        (
            json!({"text": ""}),
            "text is required and must not be blank",
        ),
        (json!({"text": 5}), "text must be a string"),
        (
            json!({"text": "x".repeat(512 * 1024 + 1)}),
            "text must be at most 512 KiB",
        ),
        (
            json!({"description": false}),
            "description must be a string or null",
        ),
        (
            json!({"description": "d".repeat(2001)}),
            "description must be at most 2000 characters",
        ),
        (
            json!({"name": "ok", "description": "a\u{0}b"}),
            "description must not contain NUL characters",
        ),
        (
            json!(["name"]),
            "body must be a JSON object with name, description or text",
        ),
    ];
    for (body, message) in cases {
        let r = patch(path.clone(), body.to_string()).await;
        assert_eq!(api_error(&r), (400, message.to_owned()), "{body}");
    }
    let r = a
        .send("PATCH", &path, &auth, Some(("{}".into(), "text/plain")))
        .await;
    assert_eq!(api_error(&r).0, 415);
    assert_eq!(app.get_knowledge(&key, &id).await.json(), before);

    // 404 as GET: unknown, malformed, another project's.
    for target in ["000000000000000000000000", "nope"] {
        let r = patch(
            format!("/v1/knowledge/{target}"),
            json!({"name": "x"}).to_string(),
        )
        .await;
        assert_eq!(api_error(&r), (404, "Knowledge item not found".into()));
    }
    let other = app.other_project("Other").await;
    let (_, other_key) = app.issue_key(&other, "", Expiry::Never).await;
    let r = a
        .send(
            "PATCH",
            &path,
            &[("authorization", format!("Bearer {other_key}"))],
            Some((json!({"name": "Mine"}).to_string(), "application/json")),
        )
        .await;
    assert_eq!(api_error(&r), (404, "Knowledge item not found".into()));

    // Audited with the key as actor, once per change that changed something.
    let p = project(&pid);
    let events = app
        .db(move |c| Ok(callem::db::audit::for_project(c, &p)?))
        .await;
    let updates: Vec<_> = events
        .iter()
        .filter(|e| e.action == "knowledge.updated")
        .collect();
    assert_eq!(updates.len(), 2, "the empty patch changed nothing");
    assert!(updates.iter().all(|e| e.actor_kind == "api_key"));
}

async fn every_v1_response_is_json_even_unknown_paths_and_methods(app: TestApp) {
    let pid = app.other_project("P").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    assert_eq!(
        error(&app.api("GET", "/v1/nothing", &key).await),
        (404, "Not found".into())
    );
    assert_eq!(
        error(&app.api("GET", "/v1", &key).await),
        (404, "Not found".into())
    );
    assert_eq!(
        error(&app.get_call(&key, "a/b").await),
        (404, "Not found".into())
    );
    for (m, p) in [
        ("PUT", "/v1/calls"),
        ("PUT", "/v1/calls/x"),
        ("PATCH", "/v1/knowledge"),
        ("PUT", "/v1/knowledge/x"),
        ("DELETE", "/v1/openapi.json"),
    ] {
        assert_eq!(
            error(&app.api(m, p, &key).await),
            (405, "Method not allowed".into()),
            "{m} {p}"
        );
    }
}

async fn the_openapi_document_needs_no_key_and_matches_what_is_served(app: TestApp) {
    let (_, key) = project_with_calls(&app).await;
    let r = app.agent().get("/v1/openapi.json").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let call = app.get_call(&key, "call_a").await.json();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let concrete = path.replace("{id}", "call_a");
            let r = app.api(&method.to_uppercase(), &concrete, &key).await;
            assert_ne!(r.status, 405, "{method} {path} is routed");
            assert_ne!(
                r.json()["message"],
                "Not found",
                "{method} {path} is routed"
            );
        }
    }
    assert_eq!(operations, 12);
    let props = |schema: &str| -> Vec<String> {
        let mut v: Vec<String> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    };
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(props("Call"), keys(&call));
    let mut required: Vec<String> = doc["components"]["schemas"]["Call"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    required.sort();
    assert_eq!(required, keys(&call));
    let a = app.agent();
    let k = a
        .send(
            "POST",
            "/v1/knowledge",
            &[("authorization", format!("Bearer {key}"))],
            Some((
                json!({"name":"n","text":"t"}).to_string(),
                "application/json",
            )),
        )
        .await
        .json();
    assert_eq!(props("Knowledge"), keys(&k));
    assert_eq!(props("Error"), vec!["message", "statusCode"]);
    assert_eq!(props("Pagination"), vec!["limit", "offset", "total"]);

    let page = app.agent().get("/docs/api").await;
    assert_eq!(page.status, 200);
    for needle in [
        "/v1/calls/{id}",
        "/v1/knowledge",
        "listCalls",
        "Knowledge item not found",
        "callAnalysis",
        "No key needed",
    ] {
        assert!(page.body.contains(needle), "reference page lacks {needle}");
    }
    // For people who generate clients: the base URL is the host, additions are marked, and
    // each operation shows its examples.
    let base = page
        .body
        .split(r#"data-testid="base-url""#)
        .nth(1)
        .expect("a Base URL section");
    assert!(base.contains("<strong>not</strong> <code>https://callem.example.com/v1</code>"));
    let patch = page
        .body
        .split(r#"id="updateKnowledge""#)
        .nth(1)
        .expect("the edit operation")
        .split("</section>")
        .next()
        .unwrap();
    assert!(patch.contains("This server’s addition"));
    assert!(patch.contains("Example request body") && patch.contains("Example answer (200)"));
    let create = page.body.split(r#"id="createKnowledge""#).nth(1).unwrap();
    let create = create.split("</section>").next().unwrap();
    assert!(!create.contains("This server’s addition"));
    assert!(create.contains("Example answer (201)"));
}

async fn revocation_is_immediate_on_every_server(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (key_id, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let replica = app.replica().await;
    let through_replica = Agent::new(&replica);
    let auth = [("authorization", format!("Bearer {key}"))];
    assert_eq!(
        through_replica
            .send("GET", "/v1/calls", &auth, None)
            .await
            .status,
        200
    );
    owner
        .get(&format!("/projects/{pid}/settings/api-keys"))
        .await;
    let r = owner.revoke_key(&pid, &key_id).await;
    assert_eq!(r.status, 200);
    let r = through_replica.send("GET", "/v1/calls", &auth, None).await;
    assert_eq!(
        error(&r),
        (401, "Invalid API key".into()),
        "the very next request on the other server"
    );
}

async fn last_use_is_written_by_the_flush_not_by_requests(app: TestApp) {
    let (_, pid) = app.setup_owner().await;
    let (key_id, key) = app.issue_key(&pid, "", Expiry::Never).await;
    for _ in 0..50 {
        assert_eq!(app.list_calls(&key, "").await.status, 200);
    }
    let before_last = callem::time::now();
    assert_eq!(app.list_calls(&key, "").await.status, 200);
    let (p, k) = (
        project(&pid),
        callem::domain::ids::KeyId::parse(&key_id).unwrap(),
    );
    let read = move || {
        let (p, k) = (p.clone(), k.clone());
        move |c: &mut callem::db::DbConnection| {
            Ok(callem::db::api_keys::find_in_project(c, &p, &k)?)
        }
    };
    let unflushed = app.db(read()).await.unwrap();
    assert_eq!(unflushed.last_used_at, None, "no request writes");
    app.flush_usage().await;
    let stored = app.db(read()).await.unwrap();
    let used = stored.last_used_at.expect("the flush wrote the last use");
    assert!(
        used >= before_last,
        "it is the last request ({used} < {before_last})"
    );
    assert_eq!(stored.last_used_ip.as_deref(), Some("127.0.0.1"));
    let owner = app.agent();
    owner.login(OWNER_EMAIL, PASSWORD).await;
    let page = owner
        .get(&format!("/projects/{pid}/settings/api-keys"))
        .await
        .body;
    assert!(page.contains(">just now</time>"), "the dashboard shows it");
}

async fn the_rate_limit_counts_every_request_and_says_when_to_retry(app: TestApp) {
    let db = TestDb::create(app.backend());
    let limited = TestApp::spawn_configured(db, |s| s.rate_limit_per_minute = 5).await;
    let pid = limited.other_project("P").await;
    let (_, key) = limited.issue_key(&pid, "", Expiry::Never).await;
    let a = limited.agent();
    for i in 0..5u32 {
        // Failed authentication and unknown paths count too.
        let r = match i {
            0 => a.get("/v1/calls").await,
            1 => a.get("/v1/nope").await,
            _ => limited.list_calls(&key, "").await,
        };
        assert_ne!(r.status, 429);
        assert_eq!(r.header("ratelimit-limit").as_deref(), Some("5"));
        assert_eq!(r.header("ratelimit-remaining"), Some((4 - i).to_string()));
        let reset: u64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
        assert!((1..=60).contains(&reset));
    }
    let r = limited.list_calls(&key, "").await;
    assert_eq!(error(&r), (429, "Too many requests".into()));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(r.header("ratelimit-remaining").as_deref(), Some("0"));
    // The dashboard is not rate limited.
    assert_eq!(a.get("/healthz").await.status, 200);
}

crate::on_both_backends!(
    knowledge_is_edited_in_part_with_the_create_rules_and_the_same_id,
    authentication_checks_answer_in_the_contract_order,
    calls_are_listed_newest_first_with_the_exact_fields,
    bad_pagination_is_a_400_naming_the_parameter,
    another_projects_data_is_never_served,
    deleting_a_call_is_permanent,
    knowledge_is_created_listed_read_and_deleted,
    bad_knowledge_bodies_are_refused_by_name_and_nothing_is_stored,
    every_v1_response_is_json_even_unknown_paths_and_methods,
    the_openapi_document_needs_no_key_and_matches_what_is_served,
    revocation_is_immediate_on_every_server,
    last_use_is_written_by_the_flush_not_by_requests,
    the_rate_limit_counts_every_request_and_says_when_to_retry
);

#[actix_web::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let untrusted = TestApp::spawn(Backend::Sqlite).await;
    let pid = untrusted.other_project("P").await;
    let (_, key) = untrusted.issue_key(&pid, "10.1.2.3", Expiry::Never).await;
    let spoof = |xff: &str| {
        vec![
            ("authorization", format!("Bearer {key}")),
            ("x-forwarded-for", xff.to_owned()),
        ]
    };
    let r = untrusted
        .agent()
        .send("GET", "/v1/calls", &spoof("10.1.2.3"), None)
        .await;
    assert_eq!(
        error(&r),
        (403, "IP address not allowed".into()),
        "a spoofed header changes nothing"
    );

    let db = TestDb::create(Backend::Sqlite);
    let proxied = TestApp::spawn_configured(db, |s| {
        s.trusted_proxies =
            callem::config::parse_trusted_proxies("127.0.0.1/32, 10.9.0.0/16").unwrap()
    })
    .await;
    let pid = proxied.other_project("P").await;
    let (_, key) = proxied.issue_key(&pid, "10.1.2.3", Expiry::Never).await;
    let via = |xff: &str| {
        vec![
            ("authorization", format!("Bearer {key}")),
            ("x-forwarded-for", xff.to_owned()),
        ]
    };
    let a = proxied.agent();
    assert_eq!(
        a.send("GET", "/v1/calls", &via("10.1.2.3"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        a.send(
            "GET",
            "/v1/calls",
            &via("6.6.6.6, 10.1.2.3, 10.9.0.1"),
            None
        )
        .await
        .status,
        200,
        "right-most untrusted hop"
    );
    assert_eq!(
        a.send("GET", "/v1/calls", &via("10.1.2.3, 6.6.6.6"), None)
            .await
            .status,
        403,
        "a client cannot prepend its way in"
    );
    assert_eq!(
        a.send(
            "GET",
            "/v1/calls",
            &[("authorization", format!("Bearer {key}"))],
            None
        )
        .await
        .status,
        403,
        "no header: the proxy's own address"
    );
}

#[actix_web::test]
async fn ipv6_and_ipv4_mapped_peers_match_as_the_contract_says() {
    // An IPv6 peer.
    let db = TestDb::create(Backend::Sqlite);
    let v6 = TestApp::spawn_configured(db, |s| s.bind = "[::1]:0".into()).await;
    let port = v6.address.rsplit(':').next().unwrap().to_owned();
    let pid = v6.other_project("P").await;
    let (_, loopback6) = v6.issue_key(&pid, "::1", Expiry::Never).await;
    let (_, net6) = v6.issue_key(&pid, "::/64", Expiry::Never).await;
    let (_, only4) = v6.issue_key(&pid, "127.0.0.1", Expiry::Never).await;
    let a = Agent::new(&format!("http://[::1]:{port}"));
    let get = |k: &str| vec![("authorization", format!("Bearer {k}"))];
    assert_eq!(
        a.send("GET", "/v1/calls", &get(&loopback6), None)
            .await
            .status,
        200
    );
    assert_eq!(
        a.send("GET", "/v1/calls", &get(&net6), None).await.status,
        200
    );
    assert_eq!(
        a.send("GET", "/v1/calls", &get(&only4), None).await.status,
        403
    );

    // A dual-stack listener sees an IPv4 client as ::ffff:127.0.0.1, which matches IPv4 rules.
    let db = TestDb::create(Backend::Sqlite);
    let dual = TestApp::spawn_configured(db, |s| s.bind = "[::]:0".into()).await;
    let port = dual.address.rsplit(':').next().unwrap().to_owned();
    let pid = dual.other_project("P").await;
    let (_, v4) = dual.issue_key(&pid, "127.0.0.0/8", Expiry::Never).await;
    let a = Agent::new(&format!("http://127.0.0.1:{port}"));
    assert_eq!(
        a.send("GET", "/v1/calls", &get(&v4), None).await.status,
        200
    );
}

#[actix_web::test]
async fn a_panicking_handler_gets_the_json_500_and_leaks_nothing() {
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new().service(
            actix_web::web::scope("/v1")
                .wrap(from_fn(callem::api::frame))
                .route(
                    "/boom",
                    actix_web::web::get().to(|| async {
                        if std::hint::black_box(true) {
                            panic!("secret internal detail");
                        }
                        "unreachable"
                    }),
                ),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    let r = Agent::new(&format!("http://127.0.0.1:{port}"))
        .get("/v1/boom")
        .await;
    assert_eq!(error(&r), (500, "Internal server error".into()));
    assert!(!r.body.contains("secret"));
}

#[actix_web::test]
#[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn an_unreachable_database_is_a_quick_503_and_the_server_recovers() {
    let (db, relay, base, key, _) = crate::faults::app_behind_relay(8).await;
    let a = Agent::new(&base);
    let auth = [("authorization", format!("Bearer {key}"))];
    assert_eq!(a.send("GET", "/v1/calls", &auth, None).await.status, 200);

    relay.cut();
    let started = Instant::now();
    let r = a.send("GET", "/v1/calls", &auth, None).await;
    assert_eq!(error(&r), (503, "Service unavailable".into()));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    // A malformed token is refused before any database work, so it is still a 401.
    let r = a
        .send(
            "GET",
            "/v1/calls",
            &[("authorization", "Bearer ck_live_x".into())],
            None,
        )
        .await;
    assert_eq!(error(&r), (401, "Invalid API key format".into()));

    relay.restore();
    let mut back = false;
    for _ in 0..20 {
        if a.send("GET", "/v1/calls", &auth, None).await.status == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(back, "the API recovered without a restart");
    drop(db);
}

async fn changes_through_the_api_are_audited_with_the_key_as_actor(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (key_id, key) = app.issue_key(&pid, "", Expiry::Never).await;
    app.import_calls(&pid, CALL_A).await;
    let auth = [("authorization", format!("Bearer {key}"))];
    let a = app.agent();
    let created = app
        .create_knowledge(&key, &json!({"name": "n", "text": "t"}))
        .await
        .json();
    let item = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        a.send("DELETE", &format!("/v1/knowledge/{item}"), &auth, None)
            .await
            .status,
        200
    );
    assert_eq!(
        a.send("DELETE", "/v1/calls/call_a", &auth, None)
            .await
            .status,
        200
    );
    assert_eq!(
        a.send("DELETE", "/v1/calls/call_a", &auth, None)
            .await
            .status,
        404
    );
    // The dashboard's changes name the user; the command line's name neither.
    owner
        .get(&format!("/projects/{pid}/settings/api-keys"))
        .await;
    owner.revoke_key(&pid, &key_id).await;
    let url = app.db.url().to_owned();
    let (code, _, err) = run_callem(
        &url,
        &["keys", "create", "--project", &pid, "--name", "cli"],
        None,
    );
    assert_eq!(code, 0, "{err}");

    let p = project(&pid);
    let mut events = app
        .db(move |c| Ok(callem::db::audit::for_project(c, &p)?))
        .await;
    events.reverse();
    let seen: Vec<(String, String, Option<String>, bool)> = events
        .iter()
        .map(|e| {
            (
                e.action.clone(),
                e.actor_kind.clone(),
                e.actor_key_id.as_ref().map(|k| k.to_string()),
                e.actor_user_id.is_some(),
            )
        })
        .collect();
    let by_key = |action: &str| {
        (
            action.to_owned(),
            "api_key".to_owned(),
            Some(key_id.clone()),
            false,
        )
    };
    assert!(seen.contains(&by_key("knowledge.created")), "{seen:?}");
    assert!(seen.contains(&by_key("knowledge.deleted")), "{seen:?}");
    assert_eq!(
        seen.iter()
            .filter(|s| **s == by_key("call.deleted"))
            .count(),
        1,
        "a 404 records nothing: {seen:?}"
    );
    assert!(
        seen.contains(&("api_key.revoked".to_owned(), "user".to_owned(), None, true)),
        "{seen:?}"
    );
    assert_eq!(
        seen.last().map(|s| (s.0.as_str(), s.1.as_str(), s.3)),
        Some(("api_key.created", "command_line", false))
    );
    let api_event = events
        .iter()
        .find(|e| e.action == "knowledge.created")
        .unwrap();
    assert_eq!(api_event.ip.as_deref(), Some("127.0.0.1"));
}

crate::on_both_backends!(changes_through_the_api_are_audited_with_the_key_as_actor);
