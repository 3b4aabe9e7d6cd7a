//! Calls arriving over HTTP (this server's addition): `POST /v1/calls` creates a call judged as
//! an import line is, `PATCH /v1/calls/{id}` changes one, both under the scope `calls:write`.

use callem::domain::expiry::Expiry;
use callem::domain::scope::Scope;
use serde_json::{json, Value};

use crate::helpers::*;

const REFUSED: &str = "API key does not have permission for this request";

pub async fn post_call(app: &TestApp, key: &str, body: &Value) -> Resp {
    post_raw(app, key, body.to_string()).await
}

async fn post_raw(app: &TestApp, key: &str, body: String) -> Resp {
    app.agent()
        .send(
            "POST",
            "/v1/calls",
            &[("authorization", format!("Bearer {key}"))],
            Some((body, "application/json")),
        )
        .await
}

pub async fn patch_call(app: &TestApp, key: &str, id: &str, body: &Value) -> Resp {
    app.agent()
        .send(
            "PATCH",
            &format!("/v1/calls/{id}"),
            &[("authorization", format!("Bearer {key}"))],
            Some((body.to_string(), "application/json")),
        )
        .await
}

/// A project and a full-access key for it.
async fn project_with_key(app: &TestApp, name: &str) -> (String, String) {
    let pid = app.other_project(name).await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    (pid, key)
}

fn full_call(id: &str) -> Value {
    json!({
        "id": id,
        "status": "completed",
        "duration": 145,
        "summary": "Booked a demo",
        "evaluation": "success",
        "endedReason": "user_hangup",
        "callerNumber": "+33612345678",
        "calledNumber": "+14155550100",
        "isEngaged": true,
        "callAnalysis": {"sentiment": "positive", "score": 0.9},
        "transcript": [
            {"role": "assistant", "content": "Bonjour !"},
            {"role": "user", "content": "Hello"}
        ],
        "createdAt": "2025-12-15T14:30:00.000Z",
        "updatedAt": "2025-12-15T14:32:25.120Z"
    })
}

async fn a_call_is_created_with_or_without_an_id_and_answered_as_get_answers_it(app: TestApp) {
    let (_, key) = project_with_key(&app, "Ingest").await;

    let r = post_call(&app, &key, &full_call("call_http_1")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json(), full_call("call_http_1"), "stored as given");
    let got = app.get_call(&key, "call_http_1").await;
    assert_eq!(got.status, 200);
    assert_eq!(r.json(), got.json(), "201's body is GET's");

    let before = callem::time::now();
    let r = post_call(&app, &key, &json!({"status": "live", "duration": 0})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let made = r.json();
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(
        id.len() == 24
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "a generated id, as the import makes: {id}"
    );
    assert_eq!(
        (
            &made["status"],
            &made["duration"],
            &made["summary"],
            &made["isEngaged"],
            &made["callAnalysis"],
            &made["transcript"]
        ),
        (
            &json!("live"),
            &json!(0),
            &Value::Null,
            &json!(false),
            &json!({}),
            &json!([])
        )
    );
    let created_at = chrono::DateTime::parse_from_rfc3339(made["createdAt"].as_str().unwrap())
        .unwrap()
        .naive_utc();
    assert!(
        created_at >= before - chrono::Duration::milliseconds(1)
            && created_at <= callem::time::now(),
        "createdAt is set by the server: {created_at}"
    );
    assert_eq!(made["updatedAt"], made["createdAt"]);
    assert_eq!(app.get_call(&key, &id).await.json(), made);
    let list = app.list_calls(&key, "").await.json();
    assert_eq!(list["pagination"]["total"], 2);
}

async fn a_taken_id_is_a_conflict_whichever_project_holds_it(app: TestApp) {
    let (a, key_a) = project_with_key(&app, "A").await;
    let (_, key_b) = project_with_key(&app, "B").await;
    app.import_calls(
        &a,
        r#"{"id":"call_taken","status":"live","duration":3,"summary":"original"}"#,
    )
    .await;
    for key in [&key_a, &key_b] {
        let r = post_call(&app, key, &full_call("call_taken")).await;
        assert_eq!(r.status, 409);
        assert_eq!(
            r.json(),
            json!({"statusCode": 409, "message": "Call already exists"})
        );
    }
    let kept = app.get_call(&key_a, "call_taken").await.json();
    assert_eq!(
        (&kept["summary"], &kept["status"]),
        (&json!("original"), &json!("live"))
    );
    assert_eq!(app.get_call(&key_b, "call_taken").await.status, 404);

    // Many at once for one new id: one is stored, every other one is told it exists.
    let bodies: Vec<Value> = (0..8)
        .map(|i| json!({"id": "call_raced", "status": "live", "duration": i}))
        .collect();
    let answers = futures_util::future::join_all(
        bodies
            .iter()
            .enumerate()
            .map(|(i, b)| post_call(&app, if i % 2 == 0 { &key_a } else { &key_b }, b)),
    )
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [201, 409, 409, 409, 409, 409, 409, 409],
        "{answers:?}"
    );
    for r in answers.iter().filter(|r| r.status == 409) {
        assert_eq!(api_error(r), (409, "Call already exists".to_owned()));
    }
    assert_eq!(count_rows(&app, "calls").await, 2);
}

async fn each_bad_field_is_refused_by_name_and_nothing_is_stored(app: TestApp) {
    let (_, key) = project_with_key(&app, "Bad").await;
    let cases = [
        (
            json!({"duration": 1}),
            "status must be \"completed\" or \"live\"",
        ),
        (
            json!({"status": "done", "duration": 1}),
            "status must be \"completed\" or \"live\"",
        ),
        (
            json!({"status": "live", "duration": -1}),
            "duration must be a number of seconds, 0 or more",
        ),
        (
            json!({"status": "live", "duration": "5"}),
            "duration must be a number of seconds, 0 or more",
        ),
        (
            json!({"status": "live", "duration": 1, "colour": "red"}),
            "unknown field 'colour'",
        ),
        (
            json!({"status": "live", "duration": 1, "summary": 3}),
            "summary must be a string or null",
        ),
        (
            json!({"status": "live", "duration": 1, "isEngaged": "yes"}),
            "isEngaged must be true or false",
        ),
        (
            json!({"status": "live", "duration": 1, "callAnalysis": []}),
            "callAnalysis must be an object",
        ),
        (
            json!({"status": "live", "duration": 1, "transcript": [{"role": "bot", "content": "x"}]}),
            "transcript[0]: role must be \"assistant\" or \"user\"",
        ),
        (
            json!({"status": "live", "duration": 1, "id": "a b"}),
            "id must be a string of 1 to 64 letters, digits, '-' or '_'",
        ),
        (
            json!({"status": "live", "duration": 1, "createdAt": "yesterday"}),
            "createdAt must be an ISO-8601 timestamp like 2025-12-15T14:30:00.000Z",
        ),
        (
            json!({"status": "live", "duration": 1, "summary": "a\u{0}b"}),
            "summary must not contain NUL characters",
        ),
        (json!([1, 2]), "body must be a JSON object: a call"),
    ];
    for (body, message) in cases {
        let r = post_call(&app, &key, &body).await;
        assert_eq!(api_error(&r), (400, message.to_owned()), "{body}");
    }
    let r = post_raw(&app, &key, "{\"status\": ".to_owned()).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("the body is not valid JSON"));
    // A transcript past the import's line limit (1 MiB, the API's body limit).
    let turn = json!({"role": "user", "content": "x".repeat(1000)});
    let huge = json!({"status": "live", "duration": 1, "transcript": vec![turn; 1100]});
    let r = post_call(&app, &key, &huge).await;
    assert_eq!(api_error(&r), (413, "Request body too large".to_owned()));
    assert_eq!(count_rows(&app, "calls").await, 0);
}

async fn a_patch_ends_a_live_call_and_replaces_its_transcript_whole(app: TestApp) {
    let (_, key) = project_with_key(&app, "Live").await;
    let live = json!({
        "id": "call_live", "status": "live", "duration": 10, "summary": "ringing",
        "transcript": [
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Hi"}
        ],
        "createdAt": "2025-12-15T14:30:00.000Z"
    });
    let made = post_call(&app, &key, &live).await.json();
    assert_eq!(made["updatedAt"], "2025-12-15T14:30:00.000Z");

    let r = patch_call(
        &app,
        &key,
        "call_live",
        &json!({
            "status": "completed", "duration": 62.5, "summary": null, "evaluation": "success",
            "endedReason": "user_hangup", "isEngaged": true,
            "callAnalysis": {"leadQuality": "hot"},
            "transcript": [{"role": "user", "content": "Bye"}]
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let after = r.json();
    assert_eq!(after, app.get_call(&key, "call_live").await.json());
    assert_eq!(after["status"], "completed");
    assert_eq!(after["duration"], 62.5);
    assert_eq!(after["summary"], Value::Null, "null removes it");
    assert_eq!(after["evaluation"], "success");
    assert_eq!(after["endedReason"], "user_hangup");
    assert_eq!(after["isEngaged"], true);
    assert_eq!(after["callAnalysis"], json!({"leadQuality": "hot"}));
    assert_eq!(
        after["transcript"],
        json!([{"role": "user", "content": "Bye"}]),
        "replaced whole, not appended"
    );
    assert_eq!(after["createdAt"], made["createdAt"]);
    assert_eq!(after["callerNumber"], made["callerNumber"]);
    let updated_at = chrono::DateTime::parse_from_rfc3339(after["updatedAt"].as_str().unwrap())
        .unwrap()
        .naive_utc();
    assert!(
        callem::time::now() - updated_at < chrono::Duration::minutes(1),
        "updatedAt moved to now: {updated_at}"
    );

    // Absent fields are kept: a change of one field changes that one.
    let r = patch_call(&app, &key, "call_live", &json!({"duration": 70})).await;
    let again = r.json();
    assert_eq!(again["duration"], 70);
    assert_eq!(again["transcript"], after["transcript"]);
    assert_eq!(again["callAnalysis"], after["callAnalysis"]);
}

async fn a_completed_call_never_goes_back_to_live(app: TestApp) {
    let (_, key) = project_with_key(&app, "Ended").await;
    let made = post_call(&app, &key, &full_call("call_done")).await.json();
    let r = patch_call(&app, &key, "call_done", &json!({"status": "live"})).await;
    assert_eq!(
        api_error(&r),
        (
            400,
            "status cannot change from \"completed\" back to \"live\"".to_owned()
        )
    );
    assert_eq!(app.get_call(&key, "call_done").await.json(), made);
    // The same status again is allowed, and changes nothing (updatedAt included).
    let r = patch_call(&app, &key, "call_done", &json!({"status": "completed"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), made);
    let r = patch_call(&app, &key, "call_done", &json!({})).await;
    assert_eq!(r.json(), made);
}

async fn a_refused_patch_changes_nothing(app: TestApp) {
    let (_, key) = project_with_key(&app, "Refused").await;
    let live = json!({"id": "call_x", "status": "live", "duration": 5, "summary": "kept"});
    let made = post_call(&app, &key, &live).await.json();
    let cases = [
        // A valid field beside a refused one: neither is applied.
        (
            json!({"duration": 9, "colour": "red"}),
            "unknown field 'colour'",
        ),
        (
            json!({"summary": "new", "createdAt": "2025-12-15T14:30:00.000Z"}),
            "field 'createdAt' cannot be changed",
        ),
        (json!({"id": "call_y"}), "field 'id' cannot be changed"),
        (
            json!({"summary": "new", "duration": -1}),
            "duration must be a number of seconds, 0 or more",
        ),
        (
            json!({"status": "over"}),
            "status must be \"completed\" or \"live\"",
        ),
        (
            json!({"isEngaged": "yes"}),
            "isEngaged must be true or false",
        ),
        (
            json!({"isEngaged": null}),
            "isEngaged must be true or false",
        ),
        (
            json!({"callAnalysis": "good"}),
            "callAnalysis must be an object",
        ),
        (
            json!({"transcript": {"role": "user"}}),
            "transcript must be an array",
        ),
        (
            json!({"transcript": [{"role": "user", "content": 1}]}),
            "transcript[0]: content must be a string",
        ),
        (
            json!(["duration", 9]),
            "body must be a JSON object of the fields to change",
        ),
    ];
    for (body, message) in cases {
        let r = patch_call(&app, &key, "call_x", &body).await;
        assert_eq!(api_error(&r), (400, message.to_owned()), "{body}");
        assert_eq!(app.get_call(&key, "call_x").await.json(), made, "{body}");
    }
}

async fn another_projects_call_is_not_found(app: TestApp) {
    let (_, key_a) = project_with_key(&app, "A").await;
    let (_, key_b) = project_with_key(&app, "B").await;
    let made = post_call(&app, &key_a, &full_call("call_mine"))
        .await
        .json();
    for body in [json!({"duration": 1}), json!({"colour": "red"})] {
        for (key, id) in [
            (&key_b, "call_mine"),
            (&key_a, "call_nobody"),
            (&key_a, "a%20b"),
        ] {
            let r = patch_call(&app, key, id, &body).await;
            assert_eq!(
                api_error(&r),
                (404, "Call not found".to_owned()),
                "{id} {body}"
            );
        }
    }
    assert_eq!(app.get_call(&key_a, "call_mine").await.json(), made);
}

/// Who may write calls: Full access and the scopes with calls write, and only they; deleting
/// stays a separate right.
async fn only_keys_with_calls_write_create_and_update_calls(app: TestApp) {
    let pid = app.other_project("Scopes").await;
    app.import_calls(&pid, r#"{"id":"call_s","status":"live","duration":1}"#)
        .await;
    let key = |spelling: &'static str| {
        let (app, pid) = (&app, &pid);
        async move {
            let scope: Scope = spelling.parse().unwrap();
            app.issue_scoped_key(pid, "", Expiry::Never, scope).await.1
        }
    };
    // (scope, may create and update, may delete)
    let cases = [
        ("full", true, true),
        ("read", false, false),
        ("calls:read", false, false),
        ("calls:delete", false, true),
        ("calls:write", true, false),
        ("calls:write,calls:delete", true, true),
        ("knowledge:write", false, false),
    ];
    for (n, (spelling, writes, deletes)) in cases.into_iter().enumerate() {
        let k = key(spelling).await;
        let id = format!("call_new_{n}");
        let created = post_call(
            &app,
            &k,
            &json!({"id": id, "status": "live", "duration": 0}),
        )
        .await;
        let updated = patch_call(&app, &k, "call_s", &json!({"duration": n})).await;
        for r in [&created, &updated] {
            if writes {
                assert!(r.status == 200 || r.status == 201, "{spelling}: {}", r.body);
            } else {
                assert_eq!(api_error(r), (403, REFUSED.to_owned()), "{spelling}");
            }
        }
        let target = if writes { id.as_str() } else { "call_missing" };
        let deleted = app.delete_call(&k, target).await;
        if deletes {
            assert!(
                deleted.status == 200 || deleted.status == 404,
                "{spelling}: {}",
                deleted.body
            );
        } else {
            assert_eq!(api_error(&deleted), (403, REFUSED.to_owned()), "{spelling}");
        }
    }
    // Created: by full, calls:write and calls:write,calls:delete; deleted: by full and the
    // last. A refused create stored nothing.
    let (_, full) = app.issue_key(&pid, "", Expiry::Never).await;
    let list = app.list_calls(&full, "").await.json();
    let mut ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["call_new_4", "call_s"]);
}

async fn the_reference_marks_both_operations_as_this_servers_additions(app: TestApp) {
    let doc: Value = serde_json::from_str(callem::api::openapi::DOCUMENT).unwrap();
    assert_eq!(doc["paths"]["/v1/calls"]["post"]["x-callem-addition"], true);
    assert_eq!(
        doc["paths"]["/v1/calls/{id}"]["patch"]["x-callem-addition"],
        true
    );
    assert!(doc["paths"]["/v1/calls"]["get"]
        .get("x-callem-addition")
        .is_none());
    assert!(doc["paths"]["/v1/calls"]["post"]["responses"]["409"].is_object());
    let page = app.agent().get("/docs/api").await;
    for op in ["createCall", "updateCall"] {
        let section = page
            .body
            .split(&format!(r#"id="{op}""#))
            .nth(1)
            .unwrap_or_else(|| panic!("{op} on the page"))
            .split("</section>")
            .next()
            .unwrap();
        assert!(section.contains("This server’s addition"), "{op}");
        assert!(section.contains("Example request body"), "{op}");
    }
    let list = page.body.split(r#"id="listCalls""#).nth(1).unwrap();
    let list = list.split("</section>").next().unwrap();
    assert!(!list.contains("This server’s addition"));
}

async fn an_import_takes_the_webhooks_flag(app: TestApp) {
    let pid = app.other_project("Backfill").await;
    let url = app.db.url().to_owned();
    let (code, out, _) = run_callem(&url, &["import", "calls", "--help"], None);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "fire webhooks for the imported calls (off by default: a backfill must not flood \
             receivers)"
        ),
        "{out}"
    );
    let line = r#"{"id":"call_backfilled","status":"completed","duration":3}"#;
    let (code, out, err) = run_callem(
        &url,
        &["import", "calls", "--project", &pid, "--webhooks", "-"],
        Some(line),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "imported 1 calls");
    assert_eq!(count_rows(&app, "calls").await, 1);
}

crate::on_both_backends!(
    a_call_is_created_with_or_without_an_id_and_answered_as_get_answers_it,
    a_taken_id_is_a_conflict_whichever_project_holds_it,
    each_bad_field_is_refused_by_name_and_nothing_is_stored,
    a_patch_ends_a_live_call_and_replaces_its_transcript_whole,
    a_completed_call_never_goes_back_to_live,
    a_refused_patch_changes_nothing,
    another_projects_call_is_not_found,
    only_keys_with_calls_write_create_and_update_calls,
    the_reference_marks_both_operations_as_this_servers_additions,
    an_import_takes_the_webhooks_flag,
);
