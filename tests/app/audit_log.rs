//! Settings → Audit log: events from every surface in words, filters and pages, the streamed
//! downloads, who may see it, and the hash chain that `callem audit verify` checks.

use std::collections::BTreeSet;

use callem::db::audit::{self, Change, Event};
use callem::db::{self, DbConnection};
use callem::domain::action::Action;
use callem::domain::actor::{Actor, Who};
use callem::domain::client_ip::ClientAddr;
use callem::domain::ids::UserId;
use chrono::NaiveDate;

use crate::helpers::{keys_path, project, revealed_key, run_callem, TestApp, OWNER_EMAIL};

fn audit_path(pid: &str) -> String {
    format!("/projects/{pid}/settings/audit-log")
}

/// Rows of the results table (`data-event-id="…"`), in page order.
fn event_ids(body: &str) -> Vec<String> {
    let re = regex_lite::Regex::new(r#"data-event-id="([^"]+)""#).unwrap();
    re.captures_iter(body).map(|c| c[1].to_owned()).collect()
}

/// Runs raw SQL on either backend (arrange: the test plays the tamperer).
fn exec(conn: &mut DbConnection, sql: &str) -> usize {
    use diesel::RunQueryDsl;
    match conn {
        DbConnection::Pg(c) => diesel::sql_query(sql).execute(c).unwrap(),
        DbConnection::Sqlite(c) => diesel::sql_query(sql).execute(c).unwrap(),
    }
}

/// A project with no event yet, and an Owner signed in on it.
async fn quiet_project(app: &TestApp) -> (crate::helpers::Agent, String) {
    let pid = app.other_project("Quiet").await;
    let owner = app.user_with_role(&pid, OWNER_EMAIL, "owner").await;
    (owner, pid)
}

/// Records `n` events directly through `audited`, as `make(i)` says: (action, target type,
/// target id, actor user or command line, day).
async fn record_events(
    app: &TestApp,
    pid: &str,
    n: usize,
    make: fn(usize) -> (Action, String, bool, NaiveDate),
    user: Option<UserId>,
) {
    // In chunks: one database task stays well within the server's deadline.
    for start in (0..n).step_by(100) {
        let (pid, user) = (project(pid), user.clone());
        app.db(move |conn| {
            for i in start..n.min(start + 100) {
                let (action, target_id, by_user, day) = make(i);
                let who = match (&user, by_user) {
                    (Some(u), true) => Who::User(u.clone()),
                    _ => Who::CommandLine,
                };
                let from = Some(ClientAddr::Known("192.0.2.1".parse().unwrap()));
                let actor = Actor { who, from };
                let event = Event::new(&pid, &actor, action, &target_id);
                let at = day.and_hms_opt(12, 0, 0).unwrap() + chrono::Duration::seconds(i as i64);
                audit::audited(conn, &event, at, |_| Ok(Change::Made(())))?;
            }
            Ok(())
        })
        .await;
    }
}

async fn user_id_of(app: &TestApp, email: &str) -> UserId {
    let email = email.to_owned();
    app.db(move |c| Ok(db::users::find_by_email(c, &email)?.unwrap().id))
        .await
}

fn verify(app: &TestApp, pid: &str) -> (i32, String) {
    let (code, out, err) = run_callem(app.db.url(), &["audit", "verify", "--project", pid], None);
    (code, format!("{out}{err}"))
}

async fn changes_from_the_dashboard_the_api_and_the_command_line_read_in_words(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    // The dashboard: create, then revoke, a key.
    owner.get(&keys_path(&pid)).await;
    let created = owner
        .create_key(
            &pid,
            &[("name", "Production CRM Integration"), ("expires", "90d")],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let p = project(&pid);
    let dashboard_key = app
        .db(move |c| Ok(db::api_keys::list_active(c, &p)?.remove(0)))
        .await;
    owner.revoke_key(&pid, dashboard_key.id.as_str()).await;
    // /v1: a key adds a knowledge item.
    let (_, secret) = app
        .issue_key(&pid, "", callem::domain::expiry::Expiry::Never)
        .await;
    let r = app
        .create_knowledge(
            &secret,
            &serde_json::json!({"name": "Opening hours", "text": "9 to 5"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The command line.
    let (code, _, err) = run_callem(
        app.db.url(),
        &[
            "keys",
            "create",
            "--project",
            &pid,
            "--name",
            "Nightly export",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");

    let page = owner.get(&audit_path(&pid)).await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    // A key is named by its name and masked prefix, linked to its page.
    let p = project(&pid);
    let all_keys = app.db(move |c| Ok(db::api_keys::names(c, &p)?)).await;
    let key_words = |verb: &str, name: &str| {
        let (id, prefix, _) = all_keys
            .iter()
            .find(|(id, _, _)| {
                body.contains(&format!(
                    "href=\"{}/{id}\" class=\"event-target\"><em>{name} (",
                    keys_path(&pid)
                ))
            })
            .unwrap_or_else(|| panic!("no linked event names {name}: {body}"));
        format!(
            "{verb} the API key <a href=\"{}/{id}\" class=\"event-target\"><em>{name} ({prefix}••••)</em></a>",
            keys_path(&pid)
        )
    };
    let row = |actor: &str, words: &str| {
        format!(
            "<td data-label=\"Actor\">{actor}</td>\n        <td data-label=\"What happened\">{words}"
        )
    };
    assert!(
        body.contains(&row(
            OWNER_EMAIL,
            &key_words("revoked", "Production CRM Integration")
        )),
        "{body}"
    );
    assert!(body.contains(&row(
        OWNER_EMAIL,
        &key_words("created", "Production CRM Integration")
    )));
    assert!(key_words("revoked", "Production CRM Integration")
        .contains(&format!("({}••••)", dashboard_key.prefix)));
    assert!(body.contains(&row(OWNER_EMAIL, "created the project <em>Acme</em>")));
    let key_actor = format!("API key test key ({}…)", &secret[..12]);
    assert!(key_actor.starts_with("API key test key (ck_live_"));
    assert!(
        body.contains(&row(
            &key_actor,
            "added the knowledge item <em>Opening hours</em>"
        )),
        "{body}"
    );
    assert!(body.contains(&row(
        "Command line",
        &key_words("created", "Nightly export")
    )));
    assert!(body.contains("<code>127.0.0.1</code>"));
    // Never the full key, anywhere on the page.
    assert!(!body.contains(&secret));
    // Newest first: the command line's key, then the API's item, …, the project last.
    let ids = event_ids(body);
    assert_eq!(ids.len(), 6, "{body}");
    let first = body.find("Nightly export").unwrap();
    let last = body.find("created the project").unwrap();
    assert!(first < last);
}

crate::on_both_backends!(changes_from_the_dashboard_the_api_and_the_command_line_read_in_words);

fn mixed(i: usize) -> (Action, String, bool, NaiveDate) {
    let day = NaiveDate::from_ymd_opt(2026, 1, 1 + (i % 20) as u32).unwrap();
    match i % 3 {
        0 => (Action::ApiKeyRevoked, format!("k{i}"), true, day),
        1 => (Action::CallDeleted, format!("call_{i}"), false, day),
        _ => (Action::KnowledgeDeleted, format!("kn{i}"), true, day),
    }
}

async fn the_tab_pages_by_fifty_and_filters_by_kind_actor_and_dates_kept_in_the_url(app: TestApp) {
    let (owner, pid) = quiet_project(&app).await;
    let uid = user_id_of(&app, OWNER_EMAIL).await;
    record_events(&app, &pid, 120, mixed, Some(uid)).await;
    let base = audit_path(&pid);

    let page1 = owner.get(&base).await;
    assert_eq!(event_ids(&page1.body).len(), 50);
    assert!(page1.body.contains("Showing 1–50 of 120"));
    let page2 = owner.get(&format!("{base}?page=2")).await;
    assert_eq!(event_ids(&page2.body).len(), 50);
    let page3 = owner.get(&format!("{base}?page=3")).await;
    assert_eq!(event_ids(&page3.body).len(), 20);
    assert!(page3.body.contains("Showing 101–120 of 120"));
    let all: BTreeSet<String> = [&page1, &page2, &page3]
        .iter()
        .flat_map(|p| event_ids(&p.body))
        .collect();
    assert_eq!(all.len(), 120, "no event on two pages");

    // Kind: the 40 deleted calls, all by the command line.
    let calls = owner.get_htmx(&format!("{base}?kind=calls")).await;
    assert!(calls.body.contains("Showing 1–40 of 40"), "{}", calls.body);
    assert!(!calls.body.contains("<html"), "htmx gets the results alone");
    assert!(calls.body.contains("deleted the call <em>call_1</em>"));
    assert!(!calls.body.contains("revoked the API key"));
    // Actor: the owner's 80; its pages keep the filter in their links.
    let mine = owner
        .get(&format!("{base}?actor={}", urlencoding(OWNER_EMAIL)))
        .await;
    assert!(mine.body.contains("Showing 1–50 of 80"), "{}", mine.body);
    assert!(mine
        .body
        .contains(&format!("{base}?actor=owner%40example.com&#38;page=2")));
    assert!(mine
        .body
        .contains(r#"<option value="owner@example.com" selected>"#));
    // Dates: Jan 1 and 2 hold events 0, 1, 20, 21, 40, 41, … (12 of them).
    let q = "kind=knowledge&from=2026-01-01&to=2026-01-02";
    let days = owner.get(&format!("{base}?{q}")).await;
    let expected = (0..120).filter(|i| i % 20 < 2 && i % 3 == 2).count();
    assert!(
        days.body
            .contains(&format!("Showing 1–{expected} of {expected}")),
        "{}",
        days.body
    );
    // A reload of the URL shows the same filters chosen.
    assert!(days.body.contains(r#"<option value="knowledge" selected>"#));
    assert!(days.body.contains(r#"name="from" value="2026-01-01""#));
    assert!(days.body.contains(r#"name="to" value="2026-01-02""#));
    assert!(days.body.contains(&format!(
        "{base}/export.csv?kind=knowledge&#38;from=2026-01-01&#38;to=2026-01-02"
    )));

    // Bad values are named next to their field.
    let reversed = owner
        .get_htmx(&format!("{base}?from=2026-02-01&to=2026-01-01"))
        .await;
    assert_eq!(reversed.status, 200);
    assert!(reversed.body.contains(
        r#"id="audit-to-error" class="field-error filter-error" role="alert" hx-swap-oob="true">“To” is before “From”"#
    ), "{}", reversed.body);
    assert!(event_ids(&reversed.body).is_empty());
    let unknown = owner.get(&format!("{base}?kind=everything")).await;
    assert!(unknown
        .body
        .contains("“everything” is not a kind of event: choose one from the list."));
    let not_a_date = owner.get(&format!("{base}?from=yesterday")).await;
    assert!(not_a_date
        .body
        .contains("“From” must be a date like 2026-12-31."));
}

crate::on_both_backends!(
    the_tab_pages_by_fifty_and_filters_by_kind_actor_and_dates_kept_in_the_url
);

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A minimal RFC 4180 reader: records of cells, quotes doubled inside quoted cells.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        cell.is_empty() && record.is_empty(),
        "the CSV ends with CRLF"
    );
    records
}

fn many(i: usize) -> (Action, String, bool, NaiveDate) {
    let day = NaiveDate::from_ymd_opt(2026, 3, 1 + (i % 28) as u32).unwrap();
    match i % 4 {
        0 => (Action::CallDeleted, format!("call_{i}"), true, day),
        _ => (Action::ApiKeyRevoked, format!("k{i}"), i % 2 == 1, day),
    }
}

async fn downloads_hold_exactly_the_filtered_events_streamed_in_batches(app: TestApp) {
    let (owner, pid) = quiet_project(&app).await;
    let uid = user_id_of(&app, OWNER_EMAIL).await;
    // 1,200 events: the filtered 600 take two batches of the download.
    record_events(&app, &pid, 1200, many, Some(uid)).await;
    // A key whose name a spreadsheet would run, with a comma and a quote.
    assert_eq!(owner.get(&keys_path(&pid)).await.status, 200);
    let r = owner
        .create_key(
            &pid,
            &[("name", "=HYPERLINK(\"x\"), \"evil\""), ("expires", "90d")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let p = project(&pid);
    let events = app.db(move |c| Ok(audit::for_project(c, &p)?)).await;
    let wanted: BTreeSet<String> = events
        .iter()
        .filter(|e| e.action.starts_with("api_key.") && e.actor_label == OWNER_EMAIL)
        .filter(|e| e.created_at.date() <= NaiveDate::from_ymd_opt(2026, 12, 31).unwrap())
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(
        wanted.len(),
        601,
        "the revocations by the owner, and the new key"
    );

    // The tab's links carry the filters.
    let filters = "kind=api_keys&actor=owner%40example.com&to=2026-12-31";
    let tab = owner.get(&format!("{}?{filters}", audit_path(&pid))).await;
    let csv_url = format!("{}/export.csv?{filters}", audit_path(&pid));
    let jsonl_url = format!("{}/export.jsonl?{filters}", audit_path(&pid));
    assert!(
        tab.body.contains(&csv_url.replace('&', "&#38;")),
        "{}",
        tab.body
    );
    assert!(tab.body.contains(&jsonl_url.replace('&', "&#38;")));
    assert!(tab.body.contains("Download CSV"));
    assert!(tab.body.contains("Download JSON Lines"));

    let csv = owner.get(&csv_url).await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let disposition = csv.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"audit-log-"),
        "{disposition}"
    );
    assert!(disposition.ends_with(".csv\""));
    let records = parse_csv(&csv.body);
    let header = &records[0];
    assert_eq!(header[0], "seq");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let ids: BTreeSet<String> = records[1..].iter().map(|r| r[col("id")].clone()).collect();
    assert_eq!(records.len() - 1, wanted.len(), "each event once");
    assert_eq!(ids, wanted);
    let evil = records
        .iter()
        .find(|r| r[col("action")] == "api_key.created")
        .unwrap();
    assert_eq!(evil[col("target")], "'=HYPERLINK(\"x\"), \"evil\"");
    assert!(evil[col("what_happened")].starts_with("created the API key ="));

    let jsonl = owner.get(&jsonl_url).await;
    assert_eq!(jsonl.status, 200);
    assert_eq!(
        jsonl.header("content-type").as_deref(),
        Some("application/x-ndjson")
    );
    assert!(jsonl
        .header("content-disposition")
        .unwrap()
        .ends_with(".jsonl\""));
    let lines: Vec<serde_json::Value> = jsonl
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: BTreeSet<String> = lines
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lines.len(), wanted.len());
    assert_eq!(ids, wanted);
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in the chain's order");
    // The batches themselves, seen on the wire: each one goes out as its own HTTP chunk, so
    // the 601 events arrive as a first batch of 500 and then the other 101.
    let chunks = raw_chunks(&app, &owner.cookie().unwrap(), &jsonl_url).await;
    let per_chunk: Vec<usize> = chunks.iter().map(|c| c.lines().count()).collect();
    assert_eq!(per_chunk, [500, 101], "events per chunk of the download");
    assert_eq!(chunks.concat(), jsonl.body, "the same download");
    for field in [
        "hash",
        "prev_hash",
        "actor_label",
        "target_label",
        "created_at",
        "project_id",
    ] {
        assert!(lines[0][field].is_string(), "{field}: {}", lines[0]);
    }
    let event = events
        .iter()
        .find(|e| e.id.to_string() == lines[0]["id"])
        .unwrap();
    assert_eq!(lines[0]["hash"], event.hash);

    // A filter that cannot be applied is refused, not ignored.
    let bad = owner
        .get(&format!(
            "{}/export.csv?from=2026-02-01&to=2026-01-01",
            audit_path(&pid)
        ))
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("“To” is before “From”"));
}

crate::on_both_backends!(downloads_hold_exactly_the_filtered_events_streamed_in_batches);

/// The body of a GET as the chunks of its chunked encoding, read off the socket (an HTTP
/// client would join or split them).
async fn raw_chunks(app: &TestApp, cookie: &str, path: &str) -> Vec<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, mut body) = raw.split_once("\r\n\r\n").expect("a response head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let mut chunks = Vec::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hex chunk size");
        if size == 0 {
            return chunks;
        }
        chunks.push(rest[..size].to_owned());
        body = rest[size..].strip_prefix("\r\n").expect("a chunk's end");
    }
}

async fn no_piece_of_the_csv_export_is_a_formula_whichever_separator_a_spreadsheet_uses(
    app: TestApp,
) {
    let (owner, pid) = quiet_project(&app).await;
    assert_eq!(owner.get(&keys_path(&pid)).await.status, 200);
    // Names a European spreadsheet (splitting on `;`) or a TAB-split paste would run.
    for name in [
        "Team;=HYPERLINK(\"http://evil.example\")",
        "Ops; @SUM(A1)",
        "CRM,-2+3",
    ] {
        let r = owner
            .create_key(&pid, &[("name", name), ("expires", "90d")])
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    let csv = owner
        .get(&format!("{}/export.csv?kind=api_keys", audit_path(&pid)))
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.contains("HYPERLINK"), "{}", csv.body);
    for sep in [',', ';', '\t'] {
        for line in csv.body.split("\r\n") {
            for piece in line.split(sep) {
                let start = piece.trim_start_matches(['"', ' ']);
                assert!(
                    !start.starts_with(['=', '+', '-', '@']),
                    "{piece:?} of {line:?}, split on {sep:?}"
                );
            }
        }
    }
    // Split as RFC 4180 says, each name is still whole and readable.
    let records = parse_csv(&csv.body);
    let col = records[0].iter().position(|h| h == "target").unwrap();
    let targets: Vec<&str> = records[1..].iter().map(|r| r[col].as_str()).collect();
    assert!(
        targets.contains(&"Team;'=HYPERLINK(\"http://evil.example\")"),
        "{targets:?}"
    );
    assert!(targets.contains(&"Ops;' @SUM(A1)"), "{targets:?}");
}

crate::on_both_backends!(
    no_piece_of_the_csv_export_is_a_formula_whichever_separator_a_spreadsheet_uses
);

async fn developers_and_members_get_403_and_see_no_tab(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let admin = app.user_with_role(&pid, "admin@example.com", "admin").await;
    for (agent, allowed) in [(&owner, true), (&admin, true)] {
        assert_eq!(agent.get(&audit_path(&pid)).await.status, 200);
        assert!(
            agent
                .get(&keys_path(&pid))
                .await
                .body
                .contains(r#"data-testid="audit-log-tab""#)
                == allowed
        );
    }
    for role in ["developer", "member"] {
        let agent = app
            .user_with_role(&pid, &format!("{role}@example.com"), role)
            .await;
        for path in ["", "/export.csv", "/export.jsonl"] {
            let r = agent.get(&format!("{}{path}", audit_path(&pid))).await;
            assert_eq!(r.status, 403, "{role} {path}");
            assert!(!r.body.contains("created the project"));
        }
        let keys = agent.get(&keys_path(&pid)).await;
        assert_eq!(keys.status, 200);
        assert!(!keys.body.contains("audit-log"), "{role} sees no tab");
    }
}

crate::on_both_backends!(developers_and_members_get_403_and_see_no_tab);

fn keys(i: usize) -> (Action, String, bool, NaiveDate) {
    let day = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
    (Action::ApiKeyRevoked, format!("k{i}"), false, day)
}

async fn verify_says_ok_then_names_an_altered_event_and_a_gap(app: TestApp) {
    let (_, pid) = app.setup_owner().await;
    record_events(&app, &pid, 9, keys, None).await;
    let (code, out) = verify(&app, &pid);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().next(), Some("ok: 10 events"));
    // The head, to record elsewhere: the same seq and hash the Audit log tab shows.
    let head_line = out.lines().nth(1).unwrap().to_owned();
    let hash = head_line.strip_prefix("chain head: seq 10, hash ").unwrap();
    assert_eq!(hash.len(), 64, "{head_line}");
    let owner = app.agent();
    owner.login(OWNER_EMAIL, crate::helpers::PASSWORD).await;
    let tab = owner.get(&audit_path(&pid)).await;
    assert!(
        tab.body.contains(&format!(
            "Chain head: <strong>10 events</strong>, last hash <code class=\"hash\">{hash}</code>"
        )),
        "{}",
        tab.body
    );

    // Someone edits an event in SQL: its hash no longer matches.
    let p = project(&pid);
    let fourth = app
        .db(move |c| {
            let events = audit::for_project(c, &p)?;
            Ok(events.into_iter().find(|e| e.seq == 4).unwrap())
        })
        .await;
    let id = fourth.id.to_string();
    let sql = format!("UPDATE audit_events SET ip = '203.0.113.66' WHERE id = '{id}'");
    assert_eq!(app.db(move |c| Ok(exec(c, &sql))).await, 1);
    let (code, out) = verify(&app, &pid);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("event seq 4 (id {id}, ")), "{out}");
    assert!(out.contains("api_key.revoked"));
    assert!(out.contains("hash mismatch"), "{out}");
    let sql = format!(
        "UPDATE audit_events SET action = 'api_key.created', ip = '192.0.2.1' WHERE id = '{id}'"
    );
    app.db(move |c| Ok(exec(c, &sql))).await;
    let (code, out) = verify(&app, &pid);
    assert_eq!(code, 1);
    assert!(out.contains("hash mismatch"), "{out}");

    // Put back, it holds again; then a deleted event leaves a gap that is named.
    let sql = format!("UPDATE audit_events SET action = 'api_key.revoked' WHERE id = '{id}'");
    app.db(move |c| Ok(exec(c, &sql))).await;
    assert_eq!(verify(&app, &pid).0, 0);
    let sql = format!("DELETE FROM audit_events WHERE project_id = '{pid}' AND seq = 7");
    app.db(move |c| Ok(exec(c, &sql))).await;
    let (code, out) = verify(&app, &pid);
    assert_eq!(code, 1);
    assert!(out.contains("event seq 8 ("), "{out}");
    assert!(
        out.contains("missing seq: the event with seq 7 is gone"),
        "{out}"
    );

    // The newest events deleted: the chain's head still knows where it ended.
    let other = app.other_project("Other").await;
    record_events(&app, &other, 3, keys, None).await;
    assert_eq!(verify(&app, &other).1.lines().next(), Some("ok: 3 events"));
    let sql = format!("DELETE FROM audit_events WHERE project_id = '{other}' AND seq = 3");
    app.db(move |c| Ok(exec(c, &sql))).await;
    let (code, out) = verify(&app, &other);
    assert_eq!(code, 1);
    assert!(out.contains("the event with seq 3 is gone"), "{out}");

    let (code, out) = verify(&app, "nope");
    assert_eq!(code, 1);
    assert!(out.contains("no project with id 'nope'"), "{out}");

    // Every project starts with project.created: a chain with no event at all was emptied.
    let sql = format!("DELETE FROM audit_events WHERE project_id = '{pid}'");
    app.db(move |c| Ok(exec(c, &sql))).await;
    let sql = format!(
        "UPDATE audit_chain_heads SET last_seq = 0, last_hash = '{}' WHERE project_id = '{pid}'",
        "0".repeat(64)
    );
    app.db(move |c| Ok(exec(c, &sql))).await;
    let (code, out) = verify(&app, &pid);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("broken: the chain is empty"), "{out}");
}

crate::on_both_backends!(verify_says_ok_then_names_an_altered_event_and_a_gap);

async fn concurrent_changes_through_two_servers_leave_one_unbroken_chain(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let replica = app.replica().await;
    let other = owner.on(&replica);
    let creations = (0..20).map(|i| {
        let agent = if i % 2 == 0 { &owner } else { &other };
        let pid = pid.clone();
        async move {
            let name = format!("Parallel {i}");
            agent
                .create_key(&pid, &[("name", &name), ("expires", "90d")])
                .await
        }
    });
    let answers = futures_util::future::join_all(creations).await;
    for r in &answers {
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(revealed_key(&r.body).starts_with("ck_live_"));
    }
    let p = project(&pid);
    let mut seqs: Vec<i64> = app
        .db(move |c| Ok(audit::for_project(c, &p)?))
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=21).collect::<Vec<i64>>(), "no gap, no duplicate");
    assert_eq!(verify(&app, &pid).1.lines().next(), Some("ok: 21 events"));
}

crate::on_both_backends!(concurrent_changes_through_two_servers_leave_one_unbroken_chain);

async fn later_changes_to_an_email_or_a_key_name_leave_recorded_events_as_they_were(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    owner
        .create_key(&pid, &[("name", "Original name"), ("expires", "90d")])
        .await;
    app.db(|c| {
        Ok(exec(c, "UPDATE users SET email = 'renamed@example.com'")
            + exec(c, "UPDATE api_keys SET name = 'New name'"))
    })
    .await;
    let page = owner.get(&audit_path(&pid)).await;
    assert!(page
        .body
        .contains(&format!("<td data-label=\"Actor\">{OWNER_EMAIL}</td>")));
    // The name as it was; the prefix (which never changes) tells the key apart.
    assert!(
        page.body
            .contains("class=\"event-target\"><em>Original name (ck_live_"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("renamed@example.com</td>"));
    assert!(!page.body.contains("<em>New name"));
    assert_eq!(verify(&app, &pid).1.lines().next(), Some("ok: 2 events"));
}

crate::on_both_backends!(
    later_changes_to_an_email_or_a_key_name_leave_recorded_events_as_they_were
);

async fn events_recorded_before_the_chain_are_chained_at_start_up(app: TestApp) {
    let (_, pid) = app.setup_owner().await;
    let uid = user_id_of(&app, OWNER_EMAIL).await;
    let sql = format!(
        "INSERT INTO audit_events (id, project_id, actor_user_id, action, target_type, target_id, \
         ip, created_at, actor_kind, actor_key_id, detail) VALUES \
         ('old1', '{pid}', '{uid}', 'call.deleted', 'call', 'call_1', '10.0.0.1', \
          '2026-11-01 10:00:00', 'user', NULL, NULL), \
         ('old2', '{pid}', NULL, 'knowledge.deleted', 'knowledge_item', 'kn_1', NULL, \
          '2026-11-02 10:00:00', 'command_line', NULL, NULL)"
    );
    app.db(move |conn| {
        use diesel_migrations::MigrationHarness;
        // Back to the schema before the chain (the migrations after it, then it).
        loop {
            let reverted = match conn {
                DbConnection::Pg(pg) => pg.revert_last_migration(db::migrations::POSTGRES),
                DbConnection::Sqlite(lite) => lite.revert_last_migration(db::migrations::SQLITE),
            }
            .unwrap();
            if reverted.to_string().contains("000007") {
                break;
            }
        }
        exec(conn, &sql);
        db::migrations::run_pending(conn)?;
        Ok(())
    })
    .await;
    let (code, out) = verify(&app, &pid);
    assert_eq!(
        (code, out.lines().next()),
        (0, Some("ok: 3 events")),
        "setup's event and two old ones"
    );
    let p = project(&pid);
    let events = app.db(move |c| Ok(audit::for_project(c, &p)?)).await;
    let old = events.iter().find(|e| e.id.as_str() == "old1").unwrap();
    assert_eq!(old.actor_label, OWNER_EMAIL);
    assert_eq!(old.target_label, "call_1");
    let cli = events.iter().find(|e| e.id.as_str() == "old2").unwrap();
    assert_eq!(cli.actor_label, "Command line");
    assert_eq!(
        cli.target_label, "kn_1",
        "a deleted item is named by its id"
    );
}

crate::on_both_backends!(events_recorded_before_the_chain_are_chained_at_start_up);
