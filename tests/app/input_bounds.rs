//! Input at and past its bounds: page numbers and offsets that overflow, NUL characters in
//! ids, fields and imports, oversized import lines. Never a 500; the same on both backends.

use callem::domain::expiry::Expiry;
use serde_json::{json, Value};

use crate::helpers::*;

/// `n` calls, `c000`… one a day, for the table's pages.
fn calls_jsonl(n: usize) -> String {
    (0..n)
        .map(|i| {
            let day =
                chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Days::new(i as u64);
            json!({"id": format!("c{i:03}"), "status": "completed", "duration": 10,
                   "createdAt": format!("{day}T10:00:00.000Z")})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn add_knowledge(app: &TestApp, pid: &str, n: i64) {
    let p = project(pid);
    app.db(move |c| {
        for i in 0..n {
            callem::db::knowledge::insert(
                c,
                &callem::db::models::KnowledgeItem {
                    id: callem::domain::ids::KnowledgeId::generate(),
                    project_id: p.clone(),
                    name: format!("Item {i:02}"),
                    description: None,
                    text: "t".into(),
                    created_at: callem::time::now() - chrono::Duration::minutes(100 - i),
                },
            )?;
        }
        Ok(())
    })
    .await;
}

/// The `{statusCode, message}` of an API error.
fn error(r: &Resp) -> (u16, String) {
    let v: Value = r.json();
    assert_eq!(v["statusCode"], r.status, "{}", r.body);
    assert_eq!(v.as_object().map(|o| o.len()), Some(2), "{}", r.body);
    (
        r.status,
        v["message"].as_str().unwrap_or_default().to_owned(),
    )
}

fn showing(body: &str) -> String {
    let re = regex_lite::Regex::new(r"Showing (\S+)–(\S+) of (\d+)").unwrap();
    let c = re
        .captures(body)
        .unwrap_or_else(|| panic!("no Showing line in {body}"));
    format!("{}–{} of {}", &c[1], &c[2], &c[3])
}

async fn huge_and_negative_page_numbers_clamp_to_existing_pages_on_the_dashboard(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    app.import_calls(&pid, &calls_jsonl(60)).await;
    add_knowledge(&app, &pid, 55).await;

    for (query, expected) in [
        ("page=99999999999999999999", "51–60 of 60"),
        ("page=9223372036854775807", "51–60 of 60"),
        ("page=9223372036854775807&per_page=100", "1–60 of 60"),
        ("page=4611686018427387904&per_page=50", "51–60 of 60"),
        ("page=-5", "1–25 of 60"),
        ("page=-9223372036854775808", "1–25 of 60"),
        ("page=0", "1–25 of 60"),
    ] {
        let path = format!("/projects/{pid}/calls?{query}");
        for r in [owner.get(&path).await, owner.get_htmx(&path).await] {
            assert_eq!(r.status, 200, "{query}: {}", r.body);
            assert_eq!(showing(&r.body), expected, "{query}");
        }
    }
    // The clamped page is the current one in the pager, with no link past it.
    let last = owner
        .get(&format!("/projects/{pid}/calls?page=99999999999999999999"))
        .await
        .body;
    assert!(last.contains(r#"aria-current="page">3<"#), "{last}");
    assert!(!last.contains(r#"rel="next""#));

    for (query, expected, item) in [
        ("page=99999999999999999999", "51–55 of 55", ">Item 00<"),
        ("page=9223372036854775807", "51–55 of 55", ">Item 00<"),
        ("page=-5", "1–50 of 55", ">Item 54<"),
        ("page=-99999999999999999999", "1–50 of 55", ">Item 54<"),
    ] {
        let r = owner
            .get(&format!("/projects/{pid}/knowledge?{query}"))
            .await;
        assert_eq!(r.status, 200, "{query}: {}", r.body);
        assert_eq!(showing(&r.body), expected, "{query}");
        assert!(r.body.contains(item), "{query}: that page's items");
    }

    // An empty list at a huge page is the empty first page.
    let empty = app.other_project("Empty").await;
    let member = app
        .user_with_role(&empty, "member@example.com", "member")
        .await;
    let r = member
        .get(&format!("/projects/{empty}/calls?page=9223372036854775807"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("No calls yet") && r.body.contains("0 calls"));
    let r = member
        .get(&format!(
            "/projects/{empty}/knowledge?page=9223372036854775807"
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("No knowledge yet"));
}

async fn api_offsets_beyond_the_bound_are_a_400_naming_it(app: TestApp) {
    let pid = app.other_project("API").await;
    app.import_calls(&pid, &calls_jsonl(3)).await;
    add_knowledge(&app, &pid, 2).await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    for list in ["/v1/calls", "/v1/knowledge"] {
        for offset in [
            "9223372036854775807",
            "9223372036854775808",
            "99999999999999999999",
            "999999999999999999",
            "1000000001",
        ] {
            let r = app
                .api("GET", &format!("{list}?offset={offset}"), &key)
                .await;
            assert_eq!(
                error(&r),
                (
                    400,
                    "offset must be an integer between 0 and 1000000000".into()
                ),
                "{list} offset={offset}"
            );
        }
        let r = app
            .api("GET", &format!("{list}?offset=1000000000&limit=1000"), &key)
            .await;
        assert_eq!(r.status, 200, "{list}: {}", r.body);
        let v = r.json();
        assert_eq!(v["data"], json!([]));
        assert_eq!(v["pagination"]["offset"], 1_000_000_000);
    }
}

crate::on_both_backends!(
    huge_and_negative_page_numbers_clamp_to_existing_pages_on_the_dashboard,
    api_offsets_beyond_the_bound_are_a_400_naming_it
);

/// A project with the call `call_a`, a knowledge item (its id returned) and a key.
async fn project_with_data(app: &TestApp) -> (String, String, String) {
    let pid = app.other_project("NUL").await;
    app.import_calls(&pid, r#"{"id":"call_a","status":"completed","duration":3}"#)
        .await;
    add_knowledge(app, &pid, 1).await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let item = app.list_knowledge(&key, "").await.json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (pid, key, item)
}

async fn post_knowledge(app: &TestApp, key: &str, body: &Value) -> Resp {
    app.agent()
        .send(
            "POST",
            "/v1/knowledge",
            &[("authorization", format!("Bearer {key}"))],
            Some((body.to_string(), "application/json")),
        )
        .await
}

async fn api_ids_with_a_nul_are_not_found_but_only_after_authentication(app: TestApp) {
    let (_, key, item) = project_with_data(&app).await;
    let invented = format!("ck_live_{}", "z".repeat(60));
    let cases = [
        ("GET", "/v1/calls/abc%00".to_owned(), "Call not found"),
        ("GET", "/v1/calls/call_a%00".to_owned(), "Call not found"),
        ("GET", "/v1/calls/%00".to_owned(), "Call not found"),
        ("DELETE", "/v1/calls/call_a%00".to_owned(), "Call not found"),
        (
            "GET",
            format!("/v1/knowledge/{item}%00"),
            "Knowledge item not found",
        ),
        (
            "GET",
            "/v1/knowledge/%00abc".to_owned(),
            "Knowledge item not found",
        ),
        (
            "DELETE",
            format!("/v1/knowledge/{item}%00"),
            "Knowledge item not found",
        ),
    ];
    for (method, path, not_found) in cases {
        let r = app.api(method, &path, &key).await;
        assert_eq!(error(&r), (404, not_found.into()), "{method} {path}");
        let r = app.api(method, &path, &invented).await;
        assert_eq!(
            error(&r),
            (401, "Invalid API key".into()),
            "{method} {path}"
        );
        let r = app.agent().send(method, &path, &[], None).await;
        assert_eq!(
            error(&r),
            (401, "Missing or invalid Authorization header".into()),
            "{method} {path}"
        );
    }
    assert_eq!(
        app.get_call(&key, "call_a").await.status,
        200,
        "nothing was deleted"
    );
    assert_eq!(app.get_knowledge(&key, &item).await.status, 200);

    // Query parameters with a NUL: a 400 naming them, or ignored.
    let r = app.list_calls(&key, "?limit=%00").await;
    assert_eq!(
        error(&r),
        (400, "limit must be an integer between 1 and 1000".into())
    );
    let r = app.list_knowledge(&key, "?offset=1%00").await;
    assert_eq!(
        error(&r),
        (
            400,
            "offset must be an integer between 0 and 1000000000".into()
        )
    );
    assert_eq!(app.list_calls(&key, "?x%00=%00").await.status, 200);
}

async fn api_knowledge_fields_with_a_nul_are_a_400_naming_the_field(app: TestApp) {
    let (_, key, _) = project_with_data(&app).await;
    for (body, message) in [
        (
            json!({"name": "FA\u{0}Q", "text": "x"}),
            "name must not contain NUL characters",
        ),
        (
            json!({"name": "FAQ", "description": "a\u{0}", "text": "x"}),
            "description must not contain NUL characters",
        ),
        (
            json!({"name": "FAQ", "text": "\u{0}"}),
            "text must not contain NUL characters",
        ),
    ] {
        let r = post_knowledge(&app, &key, &body).await;
        assert_eq!(error(&r), (400, message.into()), "{body}");
        // The body is judged after authentication, as for any other bad body.
        let r = post_knowledge(&app, &format!("ck_live_{}", "z".repeat(60)), &body).await;
        assert_eq!(error(&r), (401, "Invalid API key".into()), "{body}");
    }
    assert_eq!(
        count_rows(&app, "knowledge_items").await,
        1,
        "nothing stored"
    );
    let ok = post_knowledge(&app, &key, &json!({"name": "FAQ", "text": "fine"})).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
}

async fn dashboard_nul_in_paths_filters_and_form_fields_is_never_a_500(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    app.import_calls(
        &pid,
        r#"{"id":"c1","status":"live","duration":3,"evaluation":"success"}"#,
    )
    .await;
    add_knowledge(&app, &pid, 1).await;
    let (key_id, _) = app.issue_key(&pid, "", Expiry::Never).await;
    owner.get(&format!("/projects/{pid}/knowledge")).await;

    for path in [
        format!("/projects/{pid}/calls/c1%00"),
        format!("/projects/{pid}/calls/%00/delete"),
        format!("/projects/{pid}/knowledge/%00"),
        format!("/projects/{pid}/knowledge/abc%00/delete"),
        format!("/projects/{pid}/settings/api-keys/{key_id}%00/revoke"),
        format!("/projects/{pid}%00/calls"),
    ] {
        let r = owner.get(&path).await;
        assert_eq!(r.status, 404, "GET {path}: {}", r.body);
    }
    for path in [
        format!("/projects/{pid}/calls/c1%00/delete"),
        format!("/projects/{pid}/knowledge/abc%00/delete"),
        format!("/projects/{pid}/settings/api-keys/{key_id}%00/revoke"),
    ] {
        let r = owner.post_htmx(&path, &[]).await;
        assert_eq!(r.status, 404, "POST {path}: {}", r.body);
    }
    assert_eq!(count_rows(&app, "calls").await, 1);
    assert_eq!(count_rows(&app, "knowledge_items").await, 1);

    // Filters with a NUL are ignored, like any other value they cannot hold.
    for query in [
        "evaluation=%00",
        "evaluation=success%00",
        "status=live%00",
        "from=%00",
        "page=%00",
        "per_page=25%00",
    ] {
        let r = owner.get(&format!("/projects/{pid}/calls?{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.body);
        assert!(
            r.body.contains("Showing 1–1 of 1"),
            "{query}: the filter is ignored"
        );
    }
    let r = owner
        .get(&format!("/projects/{pid}/knowledge?page=%00"))
        .await;
    assert_eq!(r.status, 200);

    // The add form shows the message next to the field at fault.
    owner.get(&format!("/projects/{pid}/knowledge/new")).await;
    for (fields, message) in [
        (
            [("name", "FA\u{0}Q"), ("description", ""), ("content", "x")],
            "Name must not contain NUL characters",
        ),
        (
            [("name", "FAQ"), ("description", "\u{0}"), ("content", "x")],
            "Description must not contain NUL characters",
        ),
        (
            [("name", "FAQ"), ("description", ""), ("content", "a\u{0}b")],
            "Content must not contain NUL characters",
        ),
    ] {
        let r = owner
            .post_htmx(&format!("/projects/{pid}/knowledge"), &fields)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains(message), "{message}: {}", r.body);
    }
    assert_eq!(
        count_rows(&app, "knowledge_items").await,
        1,
        "nothing stored"
    );
}

crate::on_both_backends!(
    api_ids_with_a_nul_are_not_found_but_only_after_authentication,
    api_knowledge_fields_with_a_nul_are_a_400_naming_the_field,
    dashboard_nul_in_paths_filters_and_form_fields_is_never_a_500
);

/// `callem import calls` of a file's content, run as a real process: (exit code, stdout, stderr).
fn import_file(app: &TestApp, project: &str, content: &[u8]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calls.jsonl");
    std::fs::write(&file, content).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callem"))
        .args([
            "import",
            "calls",
            "--project",
            project,
            file.to_str().unwrap(),
        ])
        .env("DATABASE_URL", app.db.url())
        .env_remove("RUST_LOG")
        .output()
        .expect("run callem");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn an_import_with_a_nul_names_the_line_and_imports_nothing(app: TestApp) {
    let pid = app.other_project("Imports").await;
    for (line, message) in [
        (
            r#"{"status":"live","duration":1,"summary":"a\u0000b"}"#,
            "line 2: summary must not contain NUL characters",
        ),
        (
            r#"{"status":"live","duration":1,"evaluation":"\u0000"}"#,
            "line 2: evaluation must not contain NUL characters",
        ),
        (
            r#"{"id":"c\u0000","status":"live","duration":1}"#,
            "line 2: id must be a string of 1 to 64 letters, digits, '-' or '_'",
        ),
        (
            r#"{"status":"live","duration":1,"transcript":[{"role":"user","content":"\u0000"}]}"#,
            "line 2: transcript[0]: content must not contain NUL characters",
        ),
    ] {
        let content = format!("{{\"status\":\"live\",\"duration\":1}}\n{line}\n");
        let (code, out, err) = import_file(&app, &pid, content.as_bytes());
        assert_ne!(code, 0, "{line}");
        assert!(out.is_empty());
        assert!(
            err.contains(&format!("{message}; nothing was imported")),
            "{line}: {err}"
        );
    }
    assert_eq!(count_rows(&app, "calls").await, 0, "nothing imported");
}

crate::on_both_backends!(an_import_with_a_nul_names_the_line_and_imports_nothing);
/// A call line of exactly `len` bytes, its summary padding it.
fn call_line_of(len: usize) -> String {
    let empty = r#"{"status":"live","duration":1,"summary":""}"#;
    format!(
        r#"{{"status":"live","duration":1,"summary":"{}"}}"#,
        "s".repeat(len - empty.len())
    )
}

const MIB: usize = 1024 * 1024;

async fn an_import_line_over_one_mebibyte_is_refused_by_its_number(app: TestApp) {
    let pid = app.other_project("Imports").await;
    let content = format!("{}\n{}\n", call_line_of(100), call_line_of(MIB + 1));
    let (code, out, err) = import_file(&app, &pid, content.as_bytes());
    assert_ne!(code, 0);
    assert!(out.is_empty());
    assert!(
        err.contains("line 2: longer than 1 MiB (1048576 bytes), the limit for one call; nothing was imported"),
        "{err}"
    );
    assert_eq!(count_rows(&app, "calls").await, 0, "nothing imported");

    // A call of exactly 1 MiB is within the bound, and stored whole.
    let content = format!("{}\r\n{}\n", call_line_of(MIB), call_line_of(100));
    let (code, out, err) = import_file(&app, &pid, content.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "imported 2 calls\n");
    assert_eq!(count_rows(&app, "calls").await, 2);
}

crate::on_both_backends!(an_import_line_over_one_mebibyte_is_refused_by_its_number);

async fn a_knowledge_item_of_nested_quote_markers_renders_bounded_in_the_dashboard(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let text = ">".repeat(500 * 1024) + "deep";
    let r = post_knowledge(&app, &key, &json!({"name": "Quotes", "text": text})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    let page = owner.get(&format!("/projects/{pid}/knowledge/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.len() < 100_000, "{} bytes", page.body.len());
    assert_eq!(
        page.body.matches("<blockquote>").count(),
        callem::markdown::MAX_NESTING
    );
    assert!(page.body.contains("deep"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

crate::on_both_backends!(a_knowledge_item_of_nested_quote_markers_renders_bounded_in_the_dashboard);

async fn sixty_thousand_ip_rules_are_refused_next_to_the_field_without_stalling(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner
        .get(&format!("/projects/{pid}/settings/api-keys"))
        .await;
    let rules: Vec<String> = (0..60_000u32)
        .map(|i| std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string())
        .collect();
    let rules = rules.join("\n");
    let started = std::time::Instant::now();
    let r = owner
        .post_htmx(
            &format!("/projects/{pid}/settings/api-keys"),
            &[
                ("name", "Many"),
                ("allowed_ips", &rules),
                ("expires", "never"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(500)]);
    assert!(
        r.body.contains(
            r#"id="key-ips-error">At most 100 IP rules are allowed; 60000 were given.</p>"#
        ),
        "the message is next to the field"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count_rows(&app, "api_keys").await, 0);
}

crate::on_both_backends!(sixty_thousand_ip_rules_are_refused_next_to_the_field_without_stalling);
