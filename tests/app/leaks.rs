//! When a key leaks: `POST /v1/leaked-keys` (no key needed), what the dashboard then shows,
//! `callem keys check`, and the gitleaks rule — over HTTP and real processes, on both backends.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::*;
use callem::db::{self, models::ApiKey, models::AuditEvent, schema::api_keys};
use callem::domain::api_key::ApiKeySecret;
use callem::domain::expiry::Expiry;
use callem::domain::ids::KeyId;

fn keys_path(pid: &str) -> String {
    format!("/projects/{pid}/settings/api-keys")
}

async fn report(app: &TestApp, body: &Value, headers: &[(&str, String)]) -> Resp {
    app.agent()
        .send(
            "POST",
            "/v1/leaked-keys",
            headers,
            Some((body.to_string(), "application/json")),
        )
        .await
}

async fn key_row(app: &TestApp, kid: &str) -> ApiKey {
    let id = KeyId::parse(kid).unwrap();
    app.db(move |conn| {
        Ok(api_keys::table
            .filter(api_keys::id.eq(&id))
            .select(ApiKey::as_select())
            .first(conn)?)
    })
    .await
}

async fn revoke(app: &TestApp, pid: &str, kid: &str) {
    let (pid, kid) = (project(pid), KeyId::parse(kid).unwrap());
    app.db(move |conn| {
        db::api_keys::revoke(
            conn,
            &pid,
            &kid,
            &callem::domain::actor::Actor::command_line(),
            callem::time::now(),
        )
    })
    .await;
}

fn days_from_today(n: i64) -> Expiry {
    Expiry::On(callem::time::now().date() + chrono::Duration::days(n))
}

async fn events_of(app: &TestApp, pid: &str, kid: &str) -> Vec<AuditEvent> {
    let (pid, kid) = (project(pid), KeyId::parse(kid).unwrap());
    app.db(move |conn| Ok(db::audit::for_key(conn, &pid, &kid)?))
        .await
}

async fn a_leak_report_revokes_the_active_keys_it_lists_and_reveals_nothing_else(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (active_id, active) = app.issue_key(&pid, "", Expiry::Never).await;
    let (revoked_id, revoked) = app.issue_key(&pid, "", Expiry::Never).await;
    revoke(&app, &pid, &revoked_id).await;
    let unknown = ApiKeySecret::generate();
    assert_eq!(app.list_calls(&active, "").await.status, 200);

    let r = report(
        &app,
        &json!({"keys": [&active, &revoked, unknown.expose_secret(), "ck_live_short", &active]}),
        &[],
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"received": 5, "revoked": 1}));
    assert_eq!(
        api_error(&app.list_calls(&active, "").await),
        (401, "Invalid API key".to_owned())
    );
    let row = key_row(&app, &active_id).await;
    assert!(row.revoked_at.is_some() && row.leak_reported_at == row.revoked_at);
    assert_eq!(row.revoked_by, None);
    let events = events_of(&app, &pid, &active_id).await;
    let leak = events
        .iter()
        .find(|e| e.action == "api_key.reported_leaked")
        .expect("the leak report's event");
    assert_eq!(leak.actor_kind, "leak_report");
    assert_eq!(leak.actor_user_id, None);
    assert_eq!(leak.actor_key_id, None);
    assert_eq!(leak.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(leak.target_type, "api_key");
    // The key revoked before is left as it was.
    let before = key_row(&app, &revoked_id).await;
    assert_eq!(before.leak_reported_at, None);
    assert!(events_of(&app, &pid, &revoked_id)
        .await
        .iter()
        .all(|e| e.action != "api_key.reported_leaked"));

    // The key's page says what happened, by whom and from where.
    let page = owner.get(&format!("{}/{active_id}", keys_path(&pid))).await;
    assert_eq!(page.status, 200);
    let history = page.body.split(r#"data-testid="history""#).nth(1).unwrap();
    assert!(history.contains("<td data-label=\"Event\">Reported leaked</td>"));
    assert!(history.contains("<td data-label=\"By\">a leak report</td>"));
    assert!(history.contains("<code>127.0.0.1</code>"));
    assert!(page.body.contains("after a leak report."), "{}", page.body);
    let other = owner
        .get(&format!("{}/{revoked_id}", keys_path(&pid)))
        .await;
    assert!(other.body.contains("by command line."));

    // The list's strip counts it and links to the revoked list, filtered to it.
    let list = owner.get(&keys_path(&pid)).await;
    let link = format!(
        r#"data-attention="leaked" href="{}?show=revoked&#38;attention=leaked"><strong>1</strong> reported leaked in the last 7 days</a>"#,
        keys_path(&pid)
    );
    assert!(list.body.contains(&link), "{}", list.body);
    let filtered = owner
        .get(&format!(
            "{}?show=revoked&attention=leaked",
            keys_path(&pid)
        ))
        .await;
    assert_eq!(filtered.status, 200);
    assert!(filtered
        .body
        .contains(&format!("data-key-id=\"{active_id}\"")));
    assert!(!filtered
        .body
        .contains(&format!("data-key-id=\"{revoked_id}\"")));
    assert!(filtered.body.contains("reported leaked in the last 7 days"));
    assert!(!filtered.body.contains("Revoke Key"), "read-only");
    // The plain revoked list keeps listing both.
    let all_revoked = owner
        .get(&format!("{}?show=revoked", keys_path(&pid)))
        .await;
    assert!(all_revoked
        .body
        .contains(&format!("data-key-id=\"{active_id}\"")));
    assert!(all_revoked
        .body
        .contains(&format!("data-key-id=\"{revoked_id}\"")));

    // Reported again: nothing left to revoke, and the same kind of answer.
    let again = report(&app, &json!({"keys": [&active]}), &[]).await;
    assert_eq!(again.json(), json!({"received": 1, "revoked": 0}));
    assert_eq!(
        events_of(&app, &pid, &active_id)
            .await
            .iter()
            .filter(|e| e.action == "api_key.reported_leaked")
            .count(),
        1
    );
}

async fn expired_keys_are_left_alone_and_keys_of_every_project_are_revoked(app: TestApp) {
    let (pa, pb) = (app.other_project("A").await, app.other_project("B").await);
    let (expired_id, expired) = app.issue_key(&pa, "", days_from_today(-2)).await;
    let (soon_id, soon) = app.issue_key(&pa, "", days_from_today(3)).await;
    let (other_id, other) = app.issue_key(&pb, "10.0.0.0/8", Expiry::Never).await;

    let r = report(&app, &json!({"keys": [&expired, &soon, &other]}), &[]).await;

    assert_eq!(r.json(), json!({"received": 3, "revoked": 2}));
    assert_eq!(key_row(&app, &expired_id).await.revoked_at, None);
    assert_eq!(key_row(&app, &expired_id).await.leak_reported_at, None);
    assert!(key_row(&app, &soon_id).await.leak_reported_at.is_some());
    assert!(key_row(&app, &other_id).await.leak_reported_at.is_some());
    let events = events_of(&app, &pb, &other_id).await;
    assert!(events.iter().any(|e| e.action == "api_key.reported_leaked"));
}

async fn malformed_leak_reports_get_the_contracts_400_naming_the_problem(app: TestApp) {
    let pid = app.other_project("P").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let a = app.agent();
    let send = |body: String, content_type: &'static str| {
        let a = &a;
        async move {
            a.send("POST", "/v1/leaked-keys", &[], Some((body, content_type)))
                .await
        }
    };
    let cases = [
        (
            json!([&key]),
            "body must be a JSON object with keys, an array of 1 to 100 API keys",
        ),
        (
            json!({"key": [&key]}),
            "keys is required: an array of 1 to 100 API keys",
        ),
        (
            json!({"keys": &key}),
            "keys must be an array of 1 to 100 strings",
        ),
        (
            json!({"keys": null}),
            "keys must be an array of 1 to 100 strings",
        ),
        (json!({"keys": []}), "keys must hold at least 1 key"),
        (
            json!({"keys": vec!["x"; 101]}),
            "keys must hold at most 100 keys (it has 101)",
        ),
        (json!({"keys": ["x", {"k": 1}]}), "keys[1] must be a string"),
        (
            json!({"keys": [&key, "x".repeat(201)]}),
            "keys[1] must be at most 200 characters",
        ),
    ];
    for (body, message) in cases {
        let r = send(body.to_string(), "application/json").await;
        assert_eq!(api_error(&r), (400, message.to_owned()), "{body}");
    }
    let r = send("{\"keys\": [".to_owned(), "application/json").await;
    let (status, message) = api_error(&r);
    assert_eq!(status, 400);
    assert!(
        message.starts_with("the body is not valid JSON: "),
        "{message}"
    );
    let r = send(json!({"keys": [&key]}).to_string(), "text/plain").await;
    assert_eq!(
        api_error(&r),
        (415, "Content-Type must be application/json".to_owned())
    );
    let huge = json!({"keys": ["x".repeat(1024 * 1024)]}).to_string();
    let r = send(huge, "application/json").await;
    assert_eq!(api_error(&r), (413, "Request body too large".to_owned()));
    // None of these revoked the key.
    assert_eq!(app.list_calls(&key, "").await.status, 200);

    // 1 and 100 strings are received; the answer is the same with any Authorization header.
    let one = json!({"keys": ["x"]});
    let hundred = json!({"keys": vec!["x"; 100]});
    for auth in [
        vec![],
        vec![("authorization", format!("Bearer {key}"))],
        vec![("authorization", "Bearer nope".to_owned())],
        vec![("authorization", "Basic abc".to_owned())],
    ] {
        let r = report(&app, &one, &auth).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json(), json!({"received": 1, "revoked": 0}));
        let r = report(&app, &hundred, &auth).await;
        assert_eq!(r.json(), json!({"received": 100, "revoked": 0}));
        assert_eq!(r.header("callem-key-expiration"), None);
    }
    assert_eq!(app.list_calls(&key, "").await.status, 200);

    // The readable reference documents it, as needing no key.
    let page = app.agent().get("/docs/api").await;
    let op = page
        .body
        .split(r#"id="reportLeakedKeys""#)
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .expect("documented");
    assert!(op.contains("/v1/leaked-keys") && op.contains("LeakReport"));
    assert!(op.contains("No key needed"), "{op}");
}

async fn leak_reports_are_rate_limited_like_the_rest_of_v1(app: TestApp) {
    let db = TestDb::create(app.backend());
    let limited = TestApp::spawn_configured(db, |s| s.rate_limit_per_minute = 2).await;
    let body = json!({"keys": ["x"]});
    for remaining in ["1", "0"] {
        let r = report(&limited, &body, &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("ratelimit-limit").as_deref(), Some("2"));
        assert_eq!(r.header("ratelimit-remaining").as_deref(), Some(remaining));
    }
    let r = report(&limited, &body, &[]).await;
    assert_eq!(api_error(&r), (429, "Too many requests".to_owned()));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(r.header("ratelimit-limit").as_deref(), Some("2"));
    assert_eq!(r.header("ratelimit-remaining").as_deref(), Some("0"));
    assert!(r.header("ratelimit-reset").is_some());
}

/// The status column of `keys check`'s line for the key with this prefix.
fn status_of(out: &str, key: &str) -> String {
    let prefix = &key[..12];
    let line = out
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line for {prefix} in {out}"));
    line.split_whitespace().last().unwrap().to_owned()
}

async fn keys_check_says_what_each_key_in_a_text_is_without_printing_it(app: TestApp) {
    let url = app.db.url().to_owned();
    let pid = app.other_project("Checked").await;
    let (_, active) = app.issue_key(&pid, "", Expiry::Never).await;
    let (_, lasting) = app.issue_key(&pid, "", days_from_today(30)).await;
    let (revoked_id, revoked) = app.issue_key(&pid, "", Expiry::Never).await;
    revoke(&app, &pid, &revoked_id).await;
    let (_, expired) = app.issue_key(&pid, "", days_from_today(-1)).await;
    let unknown = ApiKeySecret::generate().expose_secret().to_owned();
    let text = format!(
        "2026-12-01 GET /v1/calls Authorization: Bearer {active}\n\
         noise ck_live_short {revoked}, and again {active}\n\
         diff --git a/.env b/.env\n+CALLEM_KEY={unknown}\n\
         \"{expired}\" then {lasting}0 (61 characters: not a key) and {lasting}.\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leak.log");
    std::fs::write(&file, &text).unwrap();

    let (code, out, err) = run_callem(&url, &["keys", "check", file.to_str().unwrap()], None);

    assert_eq!(code, 1, "an active key was found: {out}\n{err}");
    assert_eq!(status_of(&out, &active), "active");
    assert_eq!(status_of(&out, &lasting), "active");
    assert_eq!(status_of(&out, &revoked), "revoked");
    assert_eq!(status_of(&out, &expired), "expired");
    assert_eq!(status_of(&out, &unknown), "unknown");
    assert_eq!(out.lines().count(), 6, "a header and each key once: {out}");
    let first: Vec<&str> = out.lines().skip(1).map(|l| &l[..12]).collect();
    let order = [&active, &revoked, &unknown, &expired, &lasting].map(|k| &k[..12]);
    assert_eq!(first, order, "in order of first appearance");
    let line = out.lines().find(|l| l.starts_with(&active[..12])).unwrap();
    assert!(line.contains(&pid) && line.contains("test key"), "{line}");
    assert!(line.contains(&format!("{}••••••••", &active[..12])));
    assert!(err.contains("found 5 keys, 2 of them active"), "{err}");
    for key in [&active, &lasting, &revoked, &expired, &unknown] {
        assert!(!out.contains(key.as_str()) && !err.contains(key.as_str()));
        assert!(!out.contains(&key[12..]) && !err.contains(&key[12..]));
    }

    // Only a revoked key: nothing to do, exit 0; stdin (`-` or no argument) works too.
    let only_revoked = format!("a log line with {revoked} in it\n");
    for args in [&["keys", "check", "-"][..], &["keys", "check"][..]] {
        let (code, out, err) = run_callem(&url, args, Some(only_revoked.as_str()));
        assert_eq!(code, 0, "{out}\n{err}");
        assert_eq!(status_of(&out, &revoked), "revoked");
        assert!(err.contains("found 1 key, 0 of them active"), "{err}");
    }
    let (code, out, err) = run_callem(&url, &["keys", "check", "-"], Some(active.as_str()));
    assert_eq!((code, status_of(&out, &active).as_str()), (1, "active"));
    assert!(!out.contains(&active) && !err.contains(&active));
    let (code, out, err) = run_callem(&url, &["keys", "check"], Some("nothing here\n"));
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(err.contains("no keys found"), "{err}");
    let (code, _, err) = run_callem(&url, &["keys", "check", "/no/such/file"], None);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read /no/such/file"), "{err}");
    let (code, help, _) = run_callem(&url, &["keys", "check", "--help"], None);
    assert_eq!(code, 0);
    assert!(
        help.contains("Exit status: 1 when an active key is found"),
        "{help}"
    );
}

async fn keys_check_reads_a_utf16_dump_of_forty_thousand_keys(app: TestApp) {
    let url = app.db.url().to_owned();
    let pid = app.other_project("Checked").await;
    let (_, active) = app.issue_key(&pid, "", Expiry::Never).await;
    let (revoked_id, revoked) = app.issue_key(&pid, "", Expiry::Never).await;
    revoke(&app, &pid, &revoked_id).await;
    // Past SQLite's 32,766 variables a statement, and quadratic time, had either remained.
    let mut text = String::from("key dump exported by a Windows tool\r\n");
    // The output names keys by their 12-character prefix, which one filler key in 40,000
    // shares with a key looked at about 5 % of the time: such a filler is made again.
    let prefix = |k: &str| k[..12].to_owned();
    let watched = [prefix(&active), prefix(&revoked)];
    let mut fillers = 0;
    while fillers < 40_000 {
        let filler = ApiKeySecret::generate();
        if watched.contains(&prefix(filler.expose_secret())) {
            continue;
        }
        text.push_str(filler.expose_secret());
        text.push_str("\r\n");
        fillers += 1;
    }
    text.push_str(&format!("{revoked}\r\nBearer {active}\r\n"));
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.txt");
    std::fs::write(&file, utf16).unwrap();

    let (code, out, err) = run_callem(&url, &["keys", "check", file.to_str().unwrap()], None);

    assert_eq!(code, 1, "an active key was found: {err}");
    assert!(err.contains("found 40002 keys, 1 of them active"), "{err}");
    assert_eq!(status_of(&out, &active), "active");
    assert_eq!(status_of(&out, &revoked), "revoked");
    assert_eq!(out.lines().count(), 40_003, "a header and each key once");
}

crate::on_both_backends!(
    keys_check_reads_a_utf16_dump_of_forty_thousand_keys,
    a_leak_report_revokes_the_active_keys_it_lists_and_reveals_nothing_else,
    expired_keys_are_left_alone_and_keys_of_every_project_are_revoked,
    malformed_leak_reports_get_the_contracts_400_naming_the_problem,
    leak_reports_are_rate_limited_like_the_rest_of_v1,
    keys_check_says_what_each_key_in_a_text_is_without_printing_it,
);

/// The rule of `.gitleaks.toml`, as docs/leaked-keys.md shows it too.
fn gitleaks_rule() -> (String, String) {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = std::fs::read_to_string(format!("{root}/.gitleaks.toml")).unwrap();
    let rule = config[config.find("[[rules]]").expect("a rule")..]
        .trim_end()
        .to_owned();
    let regex = rule
        .split("regex = '''")
        .nth(1)
        .and_then(|r| r.split("'''").next())
        .expect("a regex in triple single quotes")
        .to_owned();
    (rule, regex)
}

#[test]
fn the_gitleaks_rule_finds_keys_and_nothing_in_this_repository() {
    let (rule, pattern) = gitleaks_rule();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/leaked-keys.md"))
        .unwrap();
    assert!(
        doc.contains(&rule),
        "docs/leaked-keys.md shows the rule:\n{rule}"
    );
    assert!(rule.contains(r#"keywords = ["ck_live_"]"#));
    let re = regex::bytes::Regex::new(&pattern).expect("valid in Rust's syntax (and RE2's)");

    for around in [
        ("", ""),
        ("Bearer ", "\n"),
        ("KEY=\"", "\""),
        ("x", "X"),
        ("é", "é"),
    ] {
        let key = ApiKeySecret::generate();
        let text = format!("{}{}{}", around.0, key.expose_secret(), around.1);
        let m = re.find(text.as_bytes()).expect("a generated key is found");
        assert!(m.as_bytes().starts_with(key.expose_secret().as_bytes()));
    }
    let key = ApiKeySecret::generate();
    let k = key.expose_secret();
    for near in [
        k[..67].to_owned(),
        format!("{k}a"),
        format!("{k}0 and more"),
        k.replace("ck_live_", "ck_test_"),
        format!("ck_live_{}", k[8..].to_uppercase()),
        k.replacen("ck_live_", "ck-live-", 1),
    ] {
        assert!(!re.is_match(near.as_bytes()), "{near} is no key");
    }

    let root = env!("CARGO_MANIFEST_DIR");
    let listed = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("git runs");
    assert!(listed.status.success(), "git ls-files in {root}");
    let mut scanned = 0;
    for path in listed.stdout.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let path = format!("{root}/{}", String::from_utf8_lossy(path));
        // A tracked file deleted in the working tree is no content to scan.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        scanned += 1;
        assert!(
            !re.is_match(&bytes),
            "{path} holds a string the gitleaks rule flags: use a key built at run time"
        );
    }
    assert!(
        scanned > 50,
        "the repository's files were scanned ({scanned})"
    );
}
