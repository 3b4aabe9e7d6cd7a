//! Key scopes: what each scope may do on every `/v1` operation (checked after the contract's
//! five checks), counted as `refused_scope`; chosen in the dashboard's create modal or with
//! `callem keys create --scope`; every key made before scopes is full access.

use std::collections::BTreeSet;

use callem::api::OPERATIONS;
use callem::db;
use callem::domain::expiry::Expiry;
use callem::domain::ids::KeyId;
use callem::domain::scope::Scope;
use serde_json::json;

use crate::helpers::*;

const REFUSED: &str = "API key does not have permission for this request";

/// A call and a knowledge id no row has: a request let past authentication gets a 404.
const MISSING_CALL: &str = "call_missing";
const MISSING_KNOWLEDGE: &str = "000000000000000000000000";

/// Every key-authenticated `/v1` operation, as (method, documented path, concrete path).
const OPERATIONS_WITH_A_KEY: [(&str, &str, &str); 10] = [
    ("GET", "/calls", "/v1/calls"),
    ("GET", "/calls/{id}", "/v1/calls/call_1"),
    ("DELETE", "/calls/{id}", "/v1/calls/call_missing"),
    ("GET", "/knowledge", "/v1/knowledge"),
    ("POST", "/knowledge", "/v1/knowledge"),
    (
        "GET",
        "/knowledge/{id}",
        "/v1/knowledge/000000000000000000000000",
    ),
    (
        "DELETE",
        "/knowledge/{id}",
        "/v1/knowledge/000000000000000000000000",
    ),
    (
        "PATCH",
        "/knowledge/{id}",
        "/v1/knowledge/000000000000000000000000",
    ),
    ("POST", "/calls", "/v1/calls"),
    ("PATCH", "/calls/{id}", "/v1/calls/call_1"),
];

/// The operations that need no key at all.
const KEYLESS: [(&str, &str); 2] = [("GET", "/openapi.json"), ("POST", "/leaked-keys")];

/// What each scope may do, written out by hand (not derived from the code under test), in the
/// order of [`OPERATIONS_WITH_A_KEY`]: list calls, get a call, delete a call, list knowledge,
/// create knowledge, get knowledge, delete knowledge, edit knowledge, create a call, update a
/// call. The first eight scopes are those keys could have before calls could be written.
const EXPECTED: [(&str, [bool; 10]); 13] = [
    ("full", [true; 10]),
    (
        "read",
        [
            true, true, false, true, false, true, false, false, false, false,
        ],
    ),
    (
        "calls:read",
        [
            true, true, false, false, false, false, false, false, false, false,
        ],
    ),
    (
        "calls:delete",
        [
            true, true, true, false, false, false, false, false, false, false,
        ],
    ),
    (
        "knowledge:read",
        [
            false, false, false, true, false, true, false, false, false, false,
        ],
    ),
    (
        "knowledge:write",
        [
            false, false, false, true, true, true, true, true, false, false,
        ],
    ),
    (
        "calls:read,knowledge:write",
        [
            true, true, false, true, true, true, true, true, false, false,
        ],
    ),
    (
        "calls:delete,knowledge:read",
        [
            true, true, true, true, false, true, false, false, false, false,
        ],
    ),
    (
        "calls:write",
        [
            true, true, false, false, false, false, false, false, true, true,
        ],
    ),
    (
        "calls:write,calls:delete",
        [
            true, true, true, false, false, false, false, false, true, true,
        ],
    ),
    (
        "calls:write,knowledge:read",
        [
            true, true, false, true, false, true, false, false, true, true,
        ],
    ),
    (
        "calls:delete,knowledge:write",
        [true, true, true, true, true, true, true, true, false, false],
    ),
    ("calls:write,calls:delete,knowledge:write", [true; 10]),
];

fn scope(spelling: &str) -> Scope {
    spelling.parse().unwrap()
}

async fn send(app: &TestApp, key: &str, method: &str, path: &str) -> Resp {
    let auth = [("authorization", format!("Bearer {key}"))];
    let body = match (method, path.starts_with("/v1/calls")) {
        ("POST", true) => Some(json!({"status": "live", "duration": 0})),
        ("PATCH", true) => Some(json!({"duration": 4})),
        ("POST" | "PATCH", false) => Some(json!({"name": "FAQ", "text": "Opening hours"})),
        _ => None,
    }
    .map(|b| (b.to_string(), "application/json"));
    app.agent().send(method, path, &auth, body).await
}

#[test]
fn the_table_covers_every_routed_operation() {
    let routed: BTreeSet<(String, &str)> = OPERATIONS
        .iter()
        .map(|op| (op.method.to_string(), op.path))
        .collect();
    let tested: BTreeSet<(String, &str)> = OPERATIONS_WITH_A_KEY
        .iter()
        .map(|(m, p, _)| (m.to_string(), *p))
        .chain(KEYLESS.iter().map(|(m, p)| (m.to_string(), *p)))
        .collect();
    assert_eq!(
        routed, tested,
        "a new /v1 operation needs its row in this module's tables"
    );
}

/// What the document says each operation needs, in the order of [`OPERATIONS_WITH_A_KEY`].
const DOCUMENTED_NEEDS: [&str; 10] = [
    "Needs calls read access",
    "Needs calls read access",
    "Needs calls read and delete access",
    "Needs knowledge read access",
    "Needs knowledge read and write access",
    "Needs knowledge read access",
    "Needs knowledge read and write access",
    "Needs knowledge read and write access",
    "Needs calls read and write access",
    "Needs calls read and write access",
];

#[test]
fn the_document_says_what_access_each_operation_needs() {
    let doc: serde_json::Value = serde_json::from_str(callem::api::openapi::DOCUMENT).unwrap();
    for ((method, path, _), need) in OPERATIONS_WITH_A_KEY.iter().zip(DOCUMENTED_NEEDS) {
        let op = &doc["paths"][format!("/v1{path}")][method.to_lowercase()];
        let description = op["description"].as_str().unwrap_or_default();
        assert!(
            description.contains(need) && description.contains(REFUSED),
            "{method} {path}: {description}"
        );
        assert_eq!(
            op["responses"]["403"]["$ref"],
            "#/components/responses/Forbidden"
        );
    }
    let forbidden = doc["components"]["responses"]["Forbidden"]["description"]
        .as_str()
        .unwrap();
    assert!(forbidden.contains("IP address not allowed") && forbidden.contains(REFUSED));
}

async fn every_scope_is_allowed_exactly_its_operations(app: TestApp) {
    let pid = app.other_project("Scoped").await;
    app.import_calls(
        &pid,
        r#"{"id":"call_1","status":"completed","duration":3,"createdAt":"2025-12-15T14:30:00.000Z"}"#,
    )
    .await;
    let (mut knowledge_created, mut calls_created) = (0, 0);
    for (spelling, allowed) in EXPECTED {
        let (_, key) = app
            .issue_scoped_key(&pid, "", Expiry::Never, scope(spelling))
            .await;
        for ((method, _, path), allowed) in OPERATIONS_WITH_A_KEY.iter().zip(allowed) {
            let r = send(&app, &key, method, path).await;
            let what = format!("{spelling}: {method} {path} answered {}", r.body);
            if allowed {
                assert!(
                    (200..300).contains(&r.status) || r.status == 404,
                    "allowed past authentication: {what}"
                );
                if *method == "POST" {
                    assert_eq!(r.status, 201, "{what}");
                    match *path {
                        "/v1/calls" => calls_created += 1,
                        _ => knowledge_created += 1,
                    }
                }
            } else {
                assert_eq!(api_error(&r), (403, REFUSED.to_owned()), "{what}");
            }
        }
    }
    // A refused create stored nothing; the call no scope could delete is still there.
    assert_eq!(count_rows(&app, "knowledge_items").await, knowledge_created);
    assert_eq!(count_rows(&app, "calls").await, 1 + calls_created);
    let (_, full) = app.issue_key(&pid, "", Expiry::Never).await;
    assert_eq!(app.get_call(&full, "call_1").await.status, 200);
    let openapi = app.agent().get("/v1/openapi.json").await;
    assert_eq!(openapi.status, 200, "the document needs no key");
}

async fn the_contracts_checks_answer_before_the_scope(app: TestApp) {
    let pid = app.other_project("P").await;
    let read = Scope::READ_ONLY;
    let (revoked_id, revoked) = app.issue_scoped_key(&pid, "", Expiry::Never, read).await;
    let (expired_id, expired) = app.issue_scoped_key(&pid, "", Expiry::Never, read).await;
    let (_, elsewhere) = app
        .issue_scoped_key(&pid, "192.0.2.1", Expiry::Never, read)
        .await;
    let dated = Expiry::On(callem::time::now().date() + chrono::Days::new(30));
    let (_, reader) = app.issue_scoped_key(&pid, "", dated, read).await;
    let (p, r, e) = (
        project(&pid),
        KeyId::parse(&revoked_id).unwrap(),
        expired_id.clone(),
    );
    app.db(move |c| {
        use callem::db::schema::api_keys::dsl::*;
        use diesel::prelude::*;
        db::api_keys::revoke(
            c,
            &p,
            &r,
            &callem::domain::actor::Actor::command_line(),
            callem::time::now(),
        )?;
        diesel::update(api_keys.find(&e))
            .set(expires_at.eq(Some(callem::time::now() - chrono::Duration::seconds(1))))
            .execute(c)?;
        Ok(())
    })
    .await;
    let delete = format!("/v1/calls/{MISSING_CALL}");
    for (key, expected) in [
        (&revoked, (401, "Invalid API key")),
        (&expired, (401, "API key has expired")),
        (&elsewhere, (403, "IP address not allowed")),
        (&reader, (403, REFUSED)),
    ] {
        let r = send(&app, key, "DELETE", &delete).await;
        assert_eq!(api_error(&r), (expected.0, expected.1.to_owned()));
    }
    // The scope-refused key did authenticate: its answer says when it expires, as any other.
    let r = send(&app, &reader, "POST", "/v1/knowledge").await;
    assert_eq!(r.status, 403);
    assert!(r.header("callem-key-expiration").is_some(), "{:?}", r.body);
    let r = send(&app, &elsewhere, "GET", "/v1/calls").await;
    assert!(r.header("callem-key-expiration").is_none());
}

async fn a_refused_scope_is_counted_as_such(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (kid, key) = app
        .issue_scoped_key(&pid, "", Expiry::Never, scope("knowledge:read"))
        .await;
    for _ in 0..3 {
        assert_eq!(app.list_calls(&key, "").await.status, 403);
    }
    assert_eq!(
        app.delete_knowledge(&key, MISSING_KNOWLEDGE).await.status,
        403
    );
    assert_eq!(app.list_knowledge(&key, "").await.status, 200);
    app.flush_usage().await;

    let k = KeyId::parse(&kid).unwrap();
    let hourly = app
        .db(move |c| {
            let since = callem::time::now() - chrono::Duration::days(1);
            Ok(db::key_usage::hourly_since(c, &k, since)?)
        })
        .await;
    let mut by_outcome: Vec<(String, i64)> = hourly
        .into_iter()
        .map(|h| (h.outcome, h.requests))
        .collect();
    by_outcome.sort();
    assert_eq!(
        by_outcome,
        [("allowed".to_owned(), 1), ("refused_scope".to_owned(), 4)]
    );
    let page = owner
        .get(&format!("/projects/{pid}/settings/api-keys/{kid}"))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("5 requests in the last 30 days, 4 refused"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains(r#"data-testid="key-scope">Calls: none · Knowledge: read<"#));
    assert!(page
        .body
        .contains(r#"data-testid="key-access">Calls: none · Knowledge: read<"#));
}

async fn a_key_made_without_a_scope_has_full_access(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (kid, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let stored = app
        .db({
            let (p, k) = (project(&pid), KeyId::parse(&kid).unwrap());
            move |c| Ok(db::api_keys::find_in_project(c, &p, &k)?)
        })
        .await
        .unwrap();
    assert_eq!(stored.scope, Scope::FULL);
    for (method, _, path) in OPERATIONS_WITH_A_KEY {
        let r = send(&app, &key, method, path).await;
        assert_ne!(r.status, 403, "{method} {path}: {}", r.body);
    }
    // Full access is what keys have always been: no badge, the facts say it.
    let page = owner
        .get(&format!("/projects/{pid}/settings/api-keys/{kid}"))
        .await;
    assert!(!page.body.contains(r#"data-testid="key-scope""#));
    assert!(page
        .body
        .contains(r#"data-testid="key-access">Full access<"#));
    let list = owner
        .get(&format!("/projects/{pid}/settings/api-keys"))
        .await;
    assert!(!list.body.contains(r#"data-testid="key-scope""#));
}

/// The key-lifecycle migration's version, and those after it, reverted with a key in the table:
/// the row comes back through the migration as full access.
async fn the_migration_makes_existing_keys_full_access(app: TestApp) {
    use diesel_migrations::MigrationHarness;
    let pid = app.other_project("Before scopes").await;
    let (kid, key) = app
        .issue_scoped_key(&pid, "", Expiry::Never, Scope::READ_ONLY)
        .await;
    app.db(|conn| {
        let lifecycle = "20261201000005";
        loop {
            let applied = match &mut *conn {
                db::DbConnection::Pg(pg) => pg.applied_migrations(),
                db::DbConnection::Sqlite(lite) => lite.applied_migrations(),
            }
            .expect("the applied migrations");
            if applied.iter().all(|v| v.to_string().as_str() < lifecycle) {
                break;
            }
            match &mut *conn {
                db::DbConnection::Pg(pg) => pg.revert_last_migration(db::migrations::POSTGRES),
                db::DbConnection::Sqlite(lite) => {
                    lite.revert_last_migration(db::migrations::SQLITE)
                }
            }
            .expect("the migration reverts");
        }
        Ok(())
    })
    .await;
    assert!(app.db(db::migrations::run_pending).await >= 1);
    let (p, k) = (project(&pid), KeyId::parse(&kid).unwrap());
    let stored = app
        .db(move |c| Ok(db::api_keys::find_in_project(c, &p, &k)?))
        .await
        .unwrap();
    assert_eq!(stored.scope, Scope::FULL);
    let r = app.delete_call(&key, MISSING_CALL).await;
    assert_eq!(api_error(&r), (404, "Call not found".to_owned()));
}

async fn a_custom_scope_chosen_in_the_dashboard_is_stored_and_shown(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let keys = format!("/projects/{pid}/settings/api-keys");
    owner.get(&keys).await;
    let modal = owner.get_htmx(&format!("{keys}/new")).await;
    assert_eq!(modal.status, 200);
    assert!(
        modal.body.contains(
            r#"name="access" value="full" data-toggle-custom="key-access-custom" checked"#
        ),
        "full access is the default: {}",
        modal.body
    );
    assert!(modal
        .body
        .contains(r#"id="key-access-custom" class="inline-fields access-custom" hidden"#));

    let r = owner
        .create_key(
            &pid,
            &[
                ("name", "Warehouse"),
                ("expires", "never"),
                ("access", "custom"),
                ("calls_access", "read"),
                ("knowledge_access", "write"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("ck_live_"), "revealed");
    let stored = app
        .db({
            let p = project(&pid);
            move |c| Ok(db::api_keys::list_active(c, &p)?)
        })
        .await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].scope, scope("calls:read,knowledge:write"));
    assert!(
        r.body
            .contains(r#"data-testid="key-scope" title="What this key may do">Calls: read · Knowledge: read and write<"#),
        "the refreshed list shows the scope under the name: {}",
        r.body
    );

    let r = owner
        .create_key(
            &pid,
            &[
                ("name", "Read only"),
                ("expires", "never"),
                ("access", "read"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r
        .body
        .contains(r#"title="What this key may do">Read only<"#));
}

/// The Custom picker offers calls' five levels; "Read and write" makes a `calls:write` key,
/// which may create and update calls but not delete them, and is shown as such.
async fn the_custom_picker_makes_a_calls_write_key(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let keys = format!("/projects/{pid}/settings/api-keys");
    owner.get(&keys).await;
    let modal = owner.get_htmx(&format!("{keys}/new")).await;
    let options: Vec<&str> = modal
        .body
        .split(r#"<select name="calls_access">"#)
        .nth(1)
        .expect("the calls select")
        .split("</select>")
        .next()
        .unwrap()
        .split("<option ")
        .skip(1)
        .collect();
    let labels: Vec<String> = options
        .iter()
        .map(|o| {
            o.split('>')
                .nth(1)
                .unwrap()
                .trim_end_matches("</option")
                .to_owned()
        })
        .collect();
    assert_eq!(
        labels,
        [
            "None",
            "Read",
            "Read and delete",
            "Read and write",
            "Read, write and delete"
        ]
    );
    let r = owner
        .create_key(
            &pid,
            &[
                ("name", "Telephony"),
                ("expires", "never"),
                ("access", "custom"),
                ("calls_access", "write"),
                ("knowledge_access", "none"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let key = revealed_key(&r.body);
    assert!(
        r.body.contains(
            r#"data-testid="key-scope" title="What this key may do">Calls: read and write · Knowledge: none<"#
        ),
        "{}",
        r.body
    );
    let stored = app
        .db({
            let p = project(&pid);
            move |c| Ok(db::api_keys::list_active(c, &p)?)
        })
        .await;
    assert_eq!(stored[0].scope.as_str(), "calls:write");

    let auth = [("authorization", format!("Bearer {key}"))];
    let created = app
        .agent()
        .send(
            "POST",
            "/v1/calls",
            &auth,
            Some((
                json!({"id": "call_tel", "status": "live", "duration": 0}).to_string(),
                "application/json",
            )),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let updated = app
        .agent()
        .send(
            "PATCH",
            "/v1/calls/call_tel",
            &auth,
            Some((
                json!({"status": "completed"}).to_string(),
                "application/json",
            )),
        )
        .await;
    assert_eq!(updated.json()["status"], "completed", "{}", updated.body);
    let r = app.delete_call(&key, "call_tel").await;
    assert_eq!(api_error(&r), (403, REFUSED.to_owned()));
    assert_eq!(app.get_call(&key, "call_tel").await.status, 200);
    assert_eq!(app.list_knowledge(&key, "").await.status, 403);

    // Its usage is counted as calls write, apart from reads and deletes.
    app.flush_usage().await;
    let kid = stored[0].id.clone();
    let (by_kind, _) = app
        .db(move |c| {
            let since = callem::time::now() - chrono::Duration::days(1);
            Ok(db::key_usage::allowed_by_operation_since(c, &kid, since)?)
        })
        .await;
    assert_eq!(
        (
            by_kind.calls_write,
            by_kind.calls_read,
            by_kind.calls_delete
        ),
        (2, 1, 0)
    );

    // Read, write and delete is everything on calls, shown in words.
    let r = owner
        .create_key(
            &pid,
            &[
                ("name", "Everything on calls"),
                ("expires", "never"),
                ("access", "custom"),
                ("calls_access", "write_delete"),
                ("knowledge_access", "read"),
            ],
        )
        .await;
    assert!(r.body.contains(
        r#"title="What this key may do">Calls: read, write and delete · Knowledge: read<"#
    ));
}

async fn a_bad_access_choice_comes_back_with_its_error_next_to_the_field(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner
        .get(&format!("/projects/{pid}/settings/api-keys"))
        .await;
    let cases = [
        (
            ("custom", "none", "none"),
            "A custom scope must allow calls or knowledge (or both).",
        ),
        (
            ("custom", "admin", "read"),
            "Choose the calls access: none, read, read and delete, read and write, or read, \
             write and delete.",
        ),
        (
            ("custom", "read", "delete"),
            "Choose the knowledge access: none, read, or read and write.",
        ),
        (
            ("admin", "", ""),
            "Choose the access: full access, read only, or custom.",
        ),
    ];
    for ((access, calls, knowledge), message) in cases {
        let r = owner
            .create_key(
                &pid,
                &[
                    ("name", "Kept"),
                    ("expires", "never"),
                    ("access", access),
                    ("calls_access", calls),
                    ("knowledge_access", knowledge),
                ],
            )
            .await;
        assert_eq!(r.status, 200);
        assert!(
            r.body.contains(&format!(
                r#"<p class="field-error" id="key-access-error">{message}</p>"#
            )),
            "{message} in {}",
            r.body
        );
        assert!(r.body.contains(r#"class="field access-field has-error""#));
        assert!(r.body.contains(r#"value="Kept""#), "the name is kept");
        assert!(!r.body.contains("ck_live_"));
    }
    // The custom choice comes back open, with what was picked.
    let r = owner
        .create_key(
            &pid,
            &[
                ("name", "Kept"),
                ("expires", "never"),
                ("access", "custom"),
                ("calls_access", "none"),
                ("knowledge_access", "none"),
            ],
        )
        .await;
    assert!(r
        .body
        .contains(r#"value="custom" data-toggle-custom="key-access-custom" checked"#));
    assert!(r
        .body
        .contains(r#"id="key-access-custom" class="inline-fields access-custom">"#));
    assert_eq!(count_rows(&app, "api_keys").await, 0);
}

async fn the_command_line_creates_a_scoped_key_and_lists_its_scope(app: TestApp) {
    let pid = app.other_project("CLI").await;
    let url = app.db.url().to_owned();
    let (code, out, err) = run_callem(
        &url,
        &[
            "keys",
            "create",
            "--project",
            &pid,
            "--name",
            "Reader",
            "--scope",
            "read",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let key = out.trim().to_owned();
    assert_eq!(app.list_calls(&key, "").await.status, 200);
    let r = app.delete_call(&key, MISSING_CALL).await;
    assert_eq!(api_error(&r), (403, REFUSED.to_owned()));

    let (code, _, err) = run_callem(
        &url,
        &[
            "keys",
            "create",
            "--project",
            &pid,
            "--name",
            "Writer",
            "--scope",
            "calls:read, knowledge:write",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = run_callem(
        &url,
        &[
            "keys",
            "create",
            "--project",
            &pid,
            "--name",
            "Ingest",
            "--scope",
            "calls:delete,calls:write",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let ingest = out.trim().to_owned();
    let r = app
        .agent()
        .send(
            "POST",
            "/v1/calls",
            &[("authorization", format!("Bearer {ingest}"))],
            Some((
                json!({"status": "live", "duration": 0}).to_string(),
                "application/json",
            )),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let (code, out, err) = run_callem(
        &url,
        &[
            "keys",
            "create",
            "--project",
            &pid,
            "--name",
            "Bad",
            "--scope",
            "bogus",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(out.is_empty(), "no key printed: {out}");
    assert!(
        err.contains("--scope: invalid scope 'bogus'") && err.contains("calls:read"),
        "{err}"
    );

    let (code, out, err) = run_callem(&url, &["keys", "list", "--project", &pid], None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let headings: Vec<&str> = lines[0].split_whitespace().collect();
    assert!(headings.ends_with(&["SCOPE", "STATUS"]), "{out}");
    // The column starts where its heading does (the table is padded to line up, in characters).
    let column = lines[0].chars().count()
        - lines[0]
            .find("SCOPE")
            .map_or(0, |i| lines[0][i..].chars().count());
    let scope_of = |name: &str| {
        let line = lines.iter().find(|l| l.contains(name)).unwrap();
        let rest: String = line.chars().skip(column).collect();
        rest.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(scope_of("Reader"), "read");
    assert_eq!(scope_of("Writer"), "calls:read,knowledge:write");
    assert_eq!(scope_of("Ingest"), "calls:write,calls:delete");
    assert_eq!(lines.len(), 4, "the bad one was not made: {out}");
}

crate::on_both_backends!(
    every_scope_is_allowed_exactly_its_operations,
    the_contracts_checks_answer_before_the_scope,
    a_refused_scope_is_counted_as_such,
    a_key_made_without_a_scope_has_full_access,
    the_migration_makes_existing_keys_full_access,
    a_custom_scope_chosen_in_the_dashboard_is_stored_and_shown,
    the_custom_picker_makes_a_calls_write_key,
    a_bad_access_choice_comes_back_with_its_error_next_to_the_field,
    the_command_line_creates_a_scoped_key_and_lists_its_scope,
);
