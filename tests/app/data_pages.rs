//! Monitor → Calls and Build → Knowledge Base in the dashboard, and `callem demo`.

use callem::domain::expiry::Expiry;
use serde_json::json;

use crate::helpers::*;

/// `n` calls, one a day from 2025-01-01, alternating live/completed and success/fail/none.
fn calls_jsonl(n: usize) -> String {
    (0..n)
        .map(|i| {
            let day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Days::new(i as u64);
            json!({
                "id": format!("c{i:03}"),
                "status": if i % 10 == 0 { "live" } else { "completed" },
                "duration": 145 + i,
                "evaluation": match i % 3 { 0 => json!("success"), 1 => json!("fail"), _ => json!(null) },
                "callerNumber": format!("+336000000{i:02}"),
                "calledNumber": "+14155550100",
                "isEngaged": i % 2 == 0,
                "createdAt": format!("{day}T10:00:00.000Z"),
            })
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ids_in(body: &str) -> Vec<String> {
    let re = regex_lite::Regex::new(r#"/calls/(c\d{3})[?"]"#).unwrap();
    re.captures_iter(body).map(|c| c[1].to_owned()).collect()
}

async fn the_calls_table_pages_newest_first_and_links_survive_reload(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    app.import_calls(&pid, &calls_jsonl(60)).await;
    let page = owner.get(&format!("/projects/{pid}/calls")).await;
    assert_eq!(page.status, 200);
    let ids = ids_in(&page.body);
    assert_eq!(ids.len(), 25, "25 a page by default");
    assert_eq!(ids[0], "c059", "newest first");
    assert!(page.body.contains("Showing 1–25 of 60"));
    assert!(page.body.contains(">Mar 1, 2025, 10:00<"), "date and time");
    assert!(page.body.contains(">3m 24s<"), "c059 lasted 204 s");
    assert!(
        page.body.contains("+33 6 00 00 00 59"),
        "grouped for reading"
    );
    for head in [
        "Date",
        "Status",
        "Duration",
        "Caller",
        "Called",
        "Evaluation",
        "Engaged",
    ] {
        assert!(
            page.body
                .contains(&format!(r#"<th scope="col">{head}</th>"#)),
            "{head}"
        );
    }
    // Page 2 as a link a person can reload.
    let second = owner
        .get(&format!("/projects/{pid}/calls?per_page=25&page=2"))
        .await;
    assert!(second.body.starts_with("<!doctype html>"));
    assert_eq!(ids_in(&second.body)[0], "c034");
    assert!(second.body.contains("Showing 26–50 of 60"));
    // htmx gets only the results.
    let partial = owner
        .get_htmx(&format!("/projects/{pid}/calls?per_page=50&page=2"))
        .await;
    assert!(!partial.body.contains("<html") && partial.body.contains(r#"id="calls-results""#));
    assert_eq!(ids_in(&partial.body).len(), 10);
    assert!(partial.body.contains("Showing 51–60 of 60"));
    let hundred = owner
        .get(&format!("/projects/{pid}/calls?per_page=100"))
        .await;
    assert_eq!(ids_in(&hundred.body).len(), 60);
}

async fn calls_filter_by_status_evaluation_and_dates(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    app.import_calls(&pid, &calls_jsonl(30)).await;
    let get = |q: &'static str| {
        let (owner, pid) = (&owner, pid.clone());
        async move {
            ids_in(
                &owner
                    .get_htmx(&format!("/projects/{pid}/calls?{q}"))
                    .await
                    .body,
            )
        }
    };
    assert_eq!(get("status=live").await, ["c020", "c010", "c000"]);
    let fails = get("evaluation=fail&per_page=100").await;
    assert_eq!(fails.len(), 10);
    assert!(fails
        .iter()
        .all(|id| id[1..].parse::<usize>().unwrap() % 3 == 1));
    assert_eq!(get("evaluation=none&per_page=100").await.len(), 10);
    assert_eq!(
        get("from=2025-01-05&to=2025-01-07").await,
        ["c006", "c005", "c004"]
    );
    assert_eq!(get("status=live&from=2025-01-05").await, ["c020", "c010"]);
    let none = owner
        .get_htmx(&format!("/projects/{pid}/calls?from=2030-01-01"))
        .await;
    assert!(none.body.contains("No calls match these filters"));
    let page = owner
        .get(&format!(
            "/projects/{pid}/calls?status=live&evaluation=success"
        ))
        .await;
    assert!(
        page.body.contains(r#"<option value="live" selected>"#),
        "the form keeps the filter"
    );
    assert!(page.body.contains(r#"<option value="success" selected>"#));
}

async fn a_reversed_date_range_is_shown_as_applied_and_said_next_to_the_field(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    app.import_calls(&pid, &calls_jsonl(30)).await;
    let page = owner
        .get(&format!(
            "/projects/{pid}/calls?from=2025-01-07&to=2025-01-05"
        ))
        .await;
    assert!(
        page.body.contains(r#"name="from" value="2025-01-07""#),
        "the inputs keep what was typed"
    );
    assert!(page.body.contains(r#"name="to" value="2025-01-05""#));
    assert!(
        page.body
            .contains("“To” is before “From”, so no call can match."),
        "said next to the field"
    );
    assert!(
        ids_in(&page.body).is_empty(),
        "and applied as shown: nothing matches"
    );
    let partial = owner
        .get_htmx(&format!(
            "/projects/{pid}/calls?from=2025-01-07&to=2025-01-05"
        ))
        .await;
    assert!(partial.body.contains(r#"id="date-range-error" class="field-error filter-error" role="alert" hx-swap-oob="true">“To” is before"#), "{}", partial.body);
    let fixed = owner
        .get_htmx(&format!(
            "/projects/{pid}/calls?from=2025-01-05&to=2025-01-07"
        ))
        .await;
    assert!(
        fixed.body.contains(r#"hx-swap-oob="true"></p>"#),
        "the message goes away"
    );
    assert_eq!(ids_in(&fixed.body), ["c006", "c005", "c004"]);
}

async fn the_calls_pager_reads_well_and_a_call_leads_back_to_the_same_view(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    app.import_calls(&pid, &calls_jsonl(300)).await;
    let page = owner.get(&format!("/projects/{pid}/calls?page=6")).await;
    let pager = &page.body[page.body.find(r#"class="pages""#).unwrap()..];
    let labels: Vec<String> = regex_lite::Regex::new(r#"class="page(?: [a-z]+)?"[^>]*>([^<]+)<"#)
        .unwrap()
        .captures_iter(pager)
        .map(|c| c[1].to_owned())
        .collect();
    assert_eq!(labels, ["1", "…", "4", "5", "6", "7", "8", "…", "12"]);
    assert!(
        page.body.contains(">Success</span>") && page.body.contains(">Fail</span>"),
        "evaluations read as words"
    );
    assert!(!page.body.contains(">success</span>"));
    assert!(
        page.body.contains("show:#calls-results:top"),
        "a page change scrolls back up"
    );
    // A call opened from page 6 of the live calls leads back there.
    let filtered = owner
        .get(&format!("/projects/{pid}/calls?status=live&page=2"))
        .await;
    assert!(filtered.body.contains(">Clear filters</a>"));
    let id = ids_in(&filtered.body)[0].clone();
    let call = owner
        .get(&format!(
            "/projects/{pid}/calls/{id}?status=live&per_page=25&page=2"
        ))
        .await;
    assert!(
        call.body.contains(&format!(
            r#"<a href="/projects/{pid}/calls?status=live&#38;per_page=25&#38;page=2">Calls</a>"#
        )),
        "{}",
        call.body
            .split("breadcrumb")
            .nth(1)
            .unwrap_or(&call.body)
            .chars()
            .take(300)
            .collect::<String>()
    );
    let unfiltered = owner.get(&format!("/projects/{pid}/calls")).await;
    assert!(!unfiltered.body.contains(">Clear filters</a>"));
}

async fn an_empty_project_lists_its_first_steps_until_calls_arrive(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let page = owner.get(&format!("/projects/{pid}/calls")).await;
    assert!(page.body.contains(r#"<ol class="first-steps""#));
    assert!(
        page.body
            .contains(&format!("callem import calls --project {pid} calls.jsonl")),
        "the command for this project"
    );
    assert!(
        !page.body.contains("callem demo"),
        "no hint that fills another project"
    );
    assert!(page.body.contains(r#"<li class="">"#), "no key yet");
    app.issue_key(&pid, "", Expiry::Never).await;
    let page = owner.get(&format!("/projects/{pid}/calls")).await;
    assert!(
        page.body.contains(r#"<li class="done">"#),
        "the key step is done"
    );
    let filtered = owner
        .get(&format!("/projects/{pid}/calls?status=live"))
        .await;
    assert!(
        !filtered.body.contains("first-steps"),
        "not for a filter that matches nothing"
    );
    app.import_calls(&pid, &calls_jsonl(1)).await;
    let page = owner.get(&format!("/projects/{pid}/calls")).await;
    assert!(
        !page.body.contains("first-steps"),
        "gone once calls are there"
    );
}

async fn a_calls_page_shows_summary_analysis_and_the_conversation(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    app.import_calls(&pid, &json!({
        "id": "talk", "status": "completed", "duration": 145, "summary": "Booked a demo <b>now</b>",
        "evaluation": "success", "endedReason": "user_hangup", "callerNumber": "+33612345678",
        "callAnalysis": {"leadQuality": "hot", "appointmentBooked": true},
        "transcript": [{"role": "assistant", "content": "Bonjour !"}, {"role": "user", "content": "<script>alert('x')</script>"}],
        "createdAt": "2025-12-15T14:30:00.000Z"
    }).to_string()).await;
    let page = owner.get(&format!("/projects/{pid}/calls/talk")).await;
    assert_eq!(page.status, 200);
    for needle in [
        "Booked a demo &#60;b&#62;now&#60;/b&#62;",
        "user_hangup",
        "Lead quality",
        ">hot<",
        "Appointment booked",
        ">Yes<",
        "2m 25s",
    ] {
        assert!(page.body.contains(needle), "missing {needle}");
    }
    assert!(page.body.contains(r#"<li class="turn turn-assistant">"#));
    assert!(page.body.contains(r#"<li class="turn turn-user">"#));
    assert!(
        page.body
            .contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"),
        "a transcript shows script as text"
    );
    assert!(!page.body.contains("<script>alert"));
    let other = app.other_project("Other").await;
    app.import_calls(&other, r#"{"id":"hidden","status":"live","duration":1}"#)
        .await;
    assert_eq!(
        owner
            .get(&format!("/projects/{pid}/calls/hidden"))
            .await
            .status,
        404
    );
}

async fn deleting_a_call_removes_it_everywhere_and_members_cannot(app: TestApp) {
    let (_, pid) = app.setup_owner().await;
    app.import_calls(&pid, &calls_jsonl(3)).await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let member = app
        .user_with_role(&pid, "member@example.com", "member")
        .await;
    let page = member.get(&format!("/projects/{pid}/calls/c001")).await;
    assert!(!page.body.contains("Delete call"), "no button for members");
    assert_eq!(
        member
            .get_htmx(&format!("/projects/{pid}/calls/c001/delete"))
            .await
            .status,
        403
    );
    assert_eq!(
        member
            .post_htmx(&format!("/projects/{pid}/calls/c001/delete"), &[])
            .await
            .status,
        403
    );
    assert_eq!(app.get_call(&key, "c001").await.status, 200);

    let dev = app
        .user_with_role(&pid, "dev@example.com", "developer")
        .await;
    dev.get(&format!("/projects/{pid}/calls/c001")).await;
    let confirm = dev
        .get_htmx(&format!("/projects/{pid}/calls/c001/delete"))
        .await;
    assert!(
        confirm
            .body
            .contains("Delete the call of Jan 2, 2025, 10:00 from +33 6 00 00 00 01?"),
        "{}",
        confirm.body
    );
    let r = dev
        .post_htmx(&format!("/projects/{pid}/calls/c001/delete"), &[])
        .await;
    assert_eq!(
        r.header("hx-redirect"),
        Some(format!("/projects/{pid}/calls"))
    );
    assert_eq!(
        r.header("x-callem-toast").as_deref(),
        Some("Call+deleted."),
        "a confirmation after the redirect"
    );
    assert_eq!(
        dev.get(&format!("/projects/{pid}/calls/c001")).await.status,
        404
    );
    assert_eq!(
        app.get_call(&key, "c001").await.status,
        404,
        "gone from the API too"
    );
    let p = project(&pid);
    let events = app
        .db(move |c| Ok(callem::db::audit::for_project(c, &p)?))
        .await;
    assert!(events
        .iter()
        .any(|e| e.action == "call.deleted" && e.target_id.as_deref() == Some("c001")));
    assert_eq!(
        dev.post_htmx(&format!("/projects/{pid}/calls/c001/delete"), &[])
            .await
            .status,
        404
    );
}

async fn knowledge_items_are_added_viewed_safely_and_deleted(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let list = owner.get(&format!("/projects/{pid}/knowledge")).await;
    assert!(list.body.contains("No knowledge yet"));
    let modal = owner
        .get_htmx(&format!("/projects/{pid}/knowledge/new"))
        .await;
    assert!(modal.body.contains(r#"name="content""#) && !modal.body.contains("<html"));

    let long = "n".repeat(201);
    let r = owner
        .post_htmx(
            &format!("/projects/{pid}/knowledge"),
            &[("name", &long), ("description", "d"), ("content", "  ")],
        )
        .await;
    assert!(r.body.contains("Name must be at most 200 characters"));
    assert!(
        r.body
            .contains("Content is required and must not be blank."),
        "a sentence, like the others"
    );
    assert!(
        r.body.contains(&format!(r#"value="{long}""#)),
        "values kept"
    );
    assert_eq!(count_rows(&app, "knowledge_items").await, 0);

    let text = "## Refunds\nWithin **30 days**.\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1))";
    let r = owner
        .post_htmx(
            &format!("/projects/{pid}/knowledge"),
            &[
                ("name", "Refund policy"),
                ("description", "Money back"),
                ("content", text),
            ],
        )
        .await;
    let location = r.header("hx-redirect").expect("redirect to the new item");
    let toast = r.header("x-callem-toast").expect("a confirmation to show");
    assert_eq!(
        url::form_urlencoded::parse(format!("t={toast}").as_bytes())
            .next()
            .unwrap()
            .1,
        "“Refund policy” added to the knowledge base."
    );
    let id = location.rsplit('/').next().unwrap().to_owned();
    let view = owner.get(&location).await;
    assert!(
        view.body.contains("<h2>Refunds</h2>") && view.body.contains("<strong>30 days</strong>")
    );
    assert!(!view.body.contains("<script>alert"), "raw HTML never runs");
    assert!(!view.body.contains("javascript:"));
    let api = app.get_knowledge(&key, &id).await.json();
    assert_eq!(api["name"], "Refund policy");
    assert_eq!(api["description"], "Money back");
    assert_eq!(
        api["text"], text,
        "the API serves what the dashboard stored"
    );

    let a = app.agent();
    a.send(
        "POST",
        "/v1/knowledge",
        &[("authorization", format!("Bearer {key}"))],
        Some((
            json!({"name": "From the API", "text": "hello"}).to_string(),
            "application/json",
        )),
    )
    .await;
    let list = owner.get(&format!("/projects/{pid}/knowledge")).await;
    assert!(list.body.contains(">From the API<") && list.body.contains(">Refund policy<"));
    assert!(
        list.body.contains(">Money back<") && list.body.contains(">&#60; 0.1 KB<"),
        "sizes in KB"
    );

    let member = app
        .user_with_role(&pid, "member@example.com", "member")
        .await;
    assert!(!member
        .get(&format!("/projects/{pid}/knowledge"))
        .await
        .body
        .contains("Add item"));
    assert_eq!(
        member
            .post_htmx(
                &format!("/projects/{pid}/knowledge"),
                &[("name", "x"), ("content", "y")]
            )
            .await
            .status,
        403
    );
    assert_eq!(
        member
            .post_htmx(&format!("/projects/{pid}/knowledge/{id}/delete"), &[])
            .await
            .status,
        403
    );

    owner.get(&location).await;
    let confirm = owner.get_htmx(&format!("{location}/delete")).await;
    assert!(confirm.body.contains("Delete “Refund policy”?"));
    let r = owner.post_htmx(&format!("{location}/delete"), &[]).await;
    assert_eq!(
        r.header("hx-redirect"),
        Some(format!("/projects/{pid}/knowledge"))
    );
    assert_eq!(
        r.header("x-callem-toast").as_deref(),
        Some("Knowledge+item+deleted.")
    );
    assert_eq!(app.get_knowledge(&key, &id).await.status, 404);
    let p = project(&pid);
    let events = app
        .db(move |c| Ok(callem::db::audit::for_project(c, &p)?))
        .await;
    assert!(events.iter().any(|e| e.action == "knowledge.created"));
    assert!(events.iter().any(|e| e.action == "knowledge.deleted"));
}

async fn the_knowledge_list_pages_through_every_item(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let p = project(&pid);
    app.db(move |c| {
        for i in 0..55 {
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
    let first = owner.get(&format!("/projects/{pid}/knowledge")).await.body;
    assert!(
        first.contains("Showing 1–50 of 55")
            && first.contains(">Item 54<")
            && !first.contains(">Item 04<")
    );
    assert!(first.contains("?page=2\">Next</a>") && !first.contains(">Previous<"));
    let second = owner
        .get(&format!("/projects/{pid}/knowledge?page=2"))
        .await
        .body;
    assert!(
        second.contains("Showing 51–55 of 55")
            && second.contains(">Item 00<")
            && !second.contains(">Next<")
    );
    assert!(owner
        .get(&format!("/projects/{pid}/knowledge?page=abc"))
        .await
        .body
        .contains("Showing 1–50 of 55"));
}

/// A toast header as the person reads it.
fn toast_text(r: &Resp) -> String {
    let raw = r.header("x-callem-toast").expect("a confirmation to show");
    url::form_urlencoded::parse(format!("t={raw}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

async fn a_knowledge_item_is_edited_in_place_with_a_preview_and_an_audit_event(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let made = app
        .create_knowledge(
            &key,
            &json!({"name": "Refunds", "description": "Money back", "text": "## Old\nWithin 14 days."}),
        )
        .await
        .json();
    let id = made["id"].as_str().unwrap().to_owned();
    let item = format!("/projects/{pid}/knowledge/{id}");

    // The item's page leads to the edit page, which holds the fields and the rendered text.
    let show = owner.get(&item).await;
    assert!(show.body.contains(&format!(r#"href="{item}/edit""#)));
    let edit = owner.get(&format!("{item}/edit")).await;
    assert_eq!(edit.status, 200);
    assert!(
        edit.body.contains(r#"value="Refunds""#) && edit.body.contains(r#"value="Money back""#)
    );
    assert!(edit.body.contains("## Old\nWithin 14 days.</textarea>"));
    assert!(edit.body.contains("<h2>Old</h2>"), "the preview, rendered");
    assert!(edit
        .body
        .contains(&format!(r#"hx-post="/projects/{pid}/knowledge/preview""#)));

    // The preview renders as the item's page will, made safe.
    let preview = owner
        .post_htmx(
            &format!("/projects/{pid}/knowledge/preview"),
            &[("content", "> Quoted **rule**\n\n<script>alert(1)</script>")],
        )
        .await;
    assert_eq!(preview.status, 200);
    assert!(
        preview.body.contains("<blockquote>") && preview.body.contains("<strong>rule</strong>")
    );
    assert!(!preview.body.contains("<script>alert"));

    // Refused fields: said next to each, values kept, nothing written.
    let r = owner
        .post_htmx(
            &format!("{item}/edit"),
            &[("name", " "), ("description", "d"), ("content", "\u{0}")],
        )
        .await;
    assert!(
        r.body.contains("Name is required and must not be blank."),
        "{}",
        r.body
    );
    assert!(r.body.contains("Content must not contain NUL characters."));
    assert!(!r.body.contains("<html"), "the form alone, for htmx");
    let unchanged = app.get_knowledge(&key, &id).await.json();
    assert_eq!(unchanged, made);
    // Without htmx, the whole page again.
    let r = owner
        .post_form(&format!("{item}/edit"), &[("name", ""), ("content", "x")])
        .await;
    assert!(r.body.contains("<html") && r.body.contains("Name is required"));

    // Saved: the same id and date, the new values, an event saying what changed.
    let r = owner
        .post_htmx(
            &format!("{item}/edit"),
            &[
                ("name", "Refund policy"),
                ("description", ""),
                ("content", "## New\nWithin **30 days**."),
            ],
        )
        .await;
    assert_eq!(r.header("hx-redirect"), Some(item.clone()));
    assert_eq!(toast_text(&r), "“Refund policy” saved.");
    let after = app.get_knowledge(&key, &id).await.json();
    assert_eq!(after["id"], made["id"]);
    assert_eq!(after["createdAt"], made["createdAt"]);
    assert_eq!(after["name"], "Refund policy");
    assert_eq!(after["description"], serde_json::Value::Null);
    assert_eq!(after["text"], "## New\nWithin **30 days**.");
    assert!(owner.get(&item).await.body.contains("<h2>New</h2>"));
    let p = project(&pid);
    let events = app
        .db(move |c| Ok(callem::db::audit::for_project(c, &p)?))
        .await;
    let updated: Vec<_> = events
        .iter()
        .filter(|e| e.action == "knowledge.updated")
        .collect();
    assert_eq!(updated.len(), 1);
    let detail: serde_json::Value =
        serde_json::from_str(updated[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["name"], json!(["Refunds", "Refund policy"]));
    assert_eq!(detail["description"], json!(["Money back", null]));
    assert!(detail["text"].is_array(), "{detail}");
    // Named as it now is, like a renamed key; the detail says what it was.
    assert_eq!(updated[0].target_label, "Refund policy");
    let log = owner
        .get(&format!("/projects/{pid}/settings/audit-log"))
        .await
        .body;
    assert!(log.contains("edited the knowledge item"), "{log}");
    assert!(log.contains("Description") && log.contains("Content"));

    // Saving what is already there writes nothing.
    let r = owner
        .post_htmx(
            &format!("{item}/edit"),
            &[
                ("name", "Refund policy"),
                ("content", "## New\nWithin **30 days**."),
            ],
        )
        .await;
    assert!(toast_text(&r).contains("nothing to save"));
    let p = project(&pid);
    let events = app
        .db(move |c| Ok(callem::db::audit::for_project(c, &p)?))
        .await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "knowledge.updated")
            .count(),
        1
    );

    // Members read, they do not edit (nor preview); an unknown item is a 404.
    let member = app
        .user_with_role(&pid, "member@example.com", "member")
        .await;
    assert!(!member.get(&item).await.body.contains("/edit\""));
    assert_eq!(member.get(&format!("{item}/edit")).await.status, 403);
    let refused = member
        .post_htmx(
            &format!("{item}/edit"),
            &[("name", "Mine"), ("content", "x")],
        )
        .await;
    assert_eq!(refused.status, 403);
    let preview = member
        .post_htmx(
            &format!("/projects/{pid}/knowledge/preview"),
            &[("content", "x")],
        )
        .await;
    assert_eq!(preview.status, 403);
    assert_eq!(
        app.get_knowledge(&key, &id).await.json()["name"],
        "Refund policy"
    );
    let unknown = format!("/projects/{pid}/knowledge/000000000000000000000000/edit");
    assert_eq!(owner.get(&unknown).await.status, 404);
    let r = owner
        .post_htmx(&unknown, &[("name", "n"), ("content", "x")])
        .await;
    assert_eq!(r.status, 404);
    // Another project's item is not found from this one.
    let other = app.other_project("Elsewhere").await;
    let moved = format!("/projects/{other}/knowledge/{id}/edit");
    assert_eq!(owner.get(&moved).await.status, 404);
}

/// Inserts items straight into the database, oldest first, one a minute.
async fn insert_items(app: &TestApp, pid: &str, items: &[(&str, &str)]) {
    let p = project(pid);
    let items: Vec<(String, String)> = items
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    app.db(move |c| {
        let count = items.len() as i64;
        for (i, (name, text)) in items.into_iter().enumerate() {
            callem::db::knowledge::insert(
                c,
                &callem::db::models::KnowledgeItem {
                    id: callem::domain::ids::KnowledgeId::generate(),
                    project_id: p.clone(),
                    name,
                    description: None,
                    text,
                    created_at: callem::time::now() - chrono::Duration::minutes(count - i as i64),
                },
            )?;
        }
        Ok(())
    })
    .await;
}

fn names_in(body: &str) -> Vec<String> {
    let re = regex_lite::Regex::new(r#"class="row-link" href="[^"]+">([^<]+)</a>"#).unwrap();
    re.captures_iter(body).map(|c| c[1].to_owned()).collect()
}

async fn the_knowledge_list_is_searched_by_name_and_text_in_any_case(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    insert_items(
        &app,
        &pid,
        &[
            ("Refund policy", "Money back within 30 days."),
            ("Opening hours", "We open at 9. Refunds at the desk."),
            ("Discounts", "Up to 50% off for members."),
            ("Codes", "Use code A_B at checkout."),
            ("Plain", "Nothing special: 50 percent, AxB."),
            ("Back\\slash", "a path"),
            ("Horaires d’Été", "Fermé le lundi."),
        ],
    )
    .await;
    let base = format!("/projects/{pid}/knowledge");
    let search = |q: &str| {
        let url = format!(
            "{base}?q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let owner = &owner;
        async move { names_in(&owner.get(&url).await.body) }
    };
    assert_eq!(
        search("REFUND").await,
        ["Opening hours", "Refund policy"],
        "name or text, any case"
    );
    assert_eq!(
        search("refunds DESK").await,
        ["Opening hours"],
        "every word"
    );
    assert_eq!(
        search("50%").await,
        ["Discounts"],
        "% is a character, not a wildcard"
    );
    assert_eq!(
        search("a_b").await,
        ["Codes"],
        "_ is a character, not a wildcard"
    );
    assert_eq!(search("\\").await, ["Back\\slash"]);
    assert_eq!(
        search("été FERMÉ").await,
        ["Horaires d’Été"],
        "any case beyond ASCII, on SQLite too"
    );
    assert_eq!(search("  ").await.len(), 7, "blank: every item");
    let none = owner.get(&format!("{base}?q=zebra")).await.body;
    assert!(none.contains("No items match “zebra”"), "{none}");
    assert!(!none.contains("No knowledge yet"));
    // The box keeps the search; htmx gets the results alone.
    let page = owner.get(&format!("{base}?q=refund")).await.body;
    assert!(page.contains(r#"name="q" value="refund""#), "{page}");
    let partial = owner.get_htmx(&format!("{base}?q=refund")).await.body;
    assert!(partial.contains(r#"id="knowledge-results""#) && !partial.contains("<html"));
    assert!(!partial.contains(r#"name="q""#));
}

async fn a_knowledge_search_pages_through_its_matches(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let mut items: Vec<(String, String)> = (0..55)
        .map(|i| (format!("Item {i:02}"), "Apple pie".to_owned()))
        .collect();
    items.extend((0..5).map(|i| (format!("Other {i}"), "pear".to_owned())));
    let refs: Vec<(&str, &str)> = items
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    insert_items(&app, &pid, &refs).await;
    let base = format!("/projects/{pid}/knowledge");
    let first = owner.get(&format!("{base}?q=apple")).await.body;
    assert!(
        first.contains("Showing 1–50 of 55 matching “apple”"),
        "{first}"
    );
    assert!(first.contains("?q=apple&#38;page=2\">Next</a>"), "{first}");
    let second = owner.get(&format!("{base}?q=apple&page=2")).await.body;
    assert!(second.contains("Showing 51–55 of 55"));
    assert_eq!(
        names_in(&second).first().map(String::as_str),
        Some("Item 04")
    );
    assert!(second.contains("?q=apple\">Previous</a>"), "{second}");
    // A page past the end shows the last page of the matches.
    let past = owner.get(&format!("{base}?q=apple&page=9")).await.body;
    assert!(past.contains("Showing 51–55 of 55"));
    let pears = owner.get(&format!("{base}?q=PEAR&page=2")).await.body;
    assert!(pears.contains("Showing 1–5 of 5"));
}

async fn the_demo_is_realistic_and_safe_to_run_twice(app: TestApp) {
    let url = app.db.url().to_owned();
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_callem"))
            .arg("demo")
            .env("DATABASE_URL", &url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run();
    let out = run();
    assert!(
        out.contains("Demo project ready: 3000 calls and 20 knowledge items."),
        "{out}"
    );
    let password = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(
        count_rows(&app, "calls").await,
        3000,
        "refreshed, not doubled"
    );
    assert_eq!(count_rows(&app, "knowledge_items").await, 20);
    assert_eq!(count_rows(&app, "projects").await, 1);
    let agent = app.agent();
    agent.login("demo@callem.local", &password).await;
    let r = agent.get("/").await;
    let calls = agent.get(&format!("{}/calls", r.location())).await;
    assert!(calls.body.contains("Showing 1–25 of 3000"));
}

crate::on_both_backends!(
    the_calls_table_pages_newest_first_and_links_survive_reload,
    calls_filter_by_status_evaluation_and_dates,
    a_reversed_date_range_is_shown_as_applied_and_said_next_to_the_field,
    the_calls_pager_reads_well_and_a_call_leads_back_to_the_same_view,
    an_empty_project_lists_its_first_steps_until_calls_arrive,
    a_calls_page_shows_summary_analysis_and_the_conversation,
    deleting_a_call_removes_it_everywhere_and_members_cannot,
    knowledge_items_are_added_viewed_safely_and_deleted,
    the_knowledge_list_pages_through_every_item,
    the_demo_is_realistic_and_safe_to_run_twice,
    a_knowledge_item_is_edited_in_place_with_a_preview_and_an_audit_event,
    the_knowledge_list_is_searched_by_name_and_text_in_any_case,
    a_knowledge_search_pages_through_its_matches
);

/// `pagination.total` of a list endpoint, as an API client reads it.
async fn api_total(app: &TestApp, key: &str, list: &str) -> i64 {
    app.api("GET", &format!("/v1/{list}?limit=1"), key)
        .await
        .json()["pagination"]["total"]
        .as_i64()
        .unwrap()
}

async fn totals_follow_every_create_and_delete_path(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let auth = || vec![("authorization", format!("Bearer {key}"))];
    let a = app.agent();
    let mut api_ids = Vec::new();
    for name in ["one", "two"] {
        let r = a
            .send(
                "POST",
                "/v1/knowledge",
                &auth(),
                Some((
                    json!({"name": name, "text": "t"}).to_string(),
                    "application/json",
                )),
            )
            .await;
        api_ids.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(api_total(&app, &key, "knowledge").await, 2, "API creates");
    a.send(
        "DELETE",
        &format!("/v1/knowledge/{}", api_ids[0]),
        &auth(),
        None,
    )
    .await;
    assert_eq!(api_total(&app, &key, "knowledge").await, 1, "API delete");
    owner.get(&format!("/projects/{pid}/knowledge")).await;
    let r = owner
        .post_htmx(
            &format!("/projects/{pid}/knowledge"),
            &[("name", "three"), ("content", "x")],
        )
        .await;
    let location = r.header("hx-redirect").unwrap();
    assert_eq!(
        api_total(&app, &key, "knowledge").await,
        2,
        "dashboard create"
    );
    owner.post_htmx(&format!("{location}/delete"), &[]).await;
    assert_eq!(
        api_total(&app, &key, "knowledge").await,
        1,
        "dashboard delete"
    );
    let list = owner.get(&format!("/projects/{pid}/knowledge")).await;
    assert!(list.body.contains("· 1 item"), "the dashboard's count too");

    app.import_calls(&pid, &calls_jsonl(5)).await;
    assert_eq!(api_total(&app, &key, "calls").await, 5, "import");
    a.send("DELETE", "/v1/calls/c004", &auth(), None).await;
    assert_eq!(api_total(&app, &key, "calls").await, 4, "API delete");
    owner.get(&format!("/projects/{pid}/calls/c003")).await;
    owner
        .post_htmx(&format!("/projects/{pid}/calls/c003/delete"), &[])
        .await;
    assert_eq!(api_total(&app, &key, "calls").await, 3, "dashboard delete");

    // The demo, created and then refreshed: its totals are its rows, not their sum.
    let url = app.db.url().to_owned();
    for _ in 0..2 {
        let (code, _, err) = run_callem(&url, &["demo"], None);
        assert_eq!(code, 0, "{err}");
    }
    let demo = app
        .db(|c| Ok(callem::db::projects::find_by_name(c, "Demo")?))
        .await
        .unwrap();
    let (_, demo_key) = app.issue_key(demo.id.as_str(), "", Expiry::Never).await;
    assert_eq!(api_total(&app, &demo_key, "calls").await, 3000);
    assert_eq!(api_total(&app, &demo_key, "knowledge").await, 20);
    assert_eq!(
        api_total(&app, &key, "calls").await,
        3,
        "other projects untouched"
    );
}

crate::on_both_backends!(totals_follow_every_create_and_delete_path);

/// The ids of the calls a search finds, as the list shows them (htmx, as typing does).
async fn found(agent: &Agent, pid: &str, query: &str) -> Vec<String> {
    let q = serde_urlencoded::to_string([("q", query)]).unwrap();
    let r = agent
        .get_htmx(&format!("/projects/{pid}/calls?{q}&status="))
        .await;
    assert_eq!(r.status, 200, "{query}");
    let mut ids = ids_in(&r.body);
    ids.sort();
    ids
}

async fn calls_are_found_by_a_number_typed_in_any_format_or_by_their_id(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let calls = [
        ("c001", "completed", "+33652429856", "+14155550100"),
        ("c002", "live", "+33612345678", "+442079460000"),
        ("c003", "completed", "+14155550199", "+33652429800"),
        ("c004", "completed", "anonymous", "+33612345678"),
    ];
    let jsonl: Vec<String> = calls
        .iter()
        .map(|(id, status, from, to)| {
            json!({"id": id, "status": status, "duration": 60, "callerNumber": from,
                   "calledNumber": to, "createdAt": "2025-03-01T10:00:00.000Z"})
            .to_string()
        })
        .collect();
    app.import_calls(&pid, &jsonl.join("\n")).await;
    for (typed, expected) in [
        ("06 52 42 98 56", vec!["c001"]),
        ("+33 6 52 42 98 56", vec!["c001"]),
        ("0033652429856", vec!["c001"]),
        ("+33 (0)6 52 42 98 56", vec!["c001"]),
        ("+33652429856", vec!["c001"]),
        ("(415) 555-0100", vec!["c001"]),
        ("+1 415 555 0199", vec!["c003"]),
        ("06 12 34 56 78", vec!["c002", "c004"]),
        ("+44 20 7946 0000", vec!["c002"]),
        ("98 56", vec!["c001"]),
        ("+33 6 52 42", vec!["c001", "c003"]),
        ("c003", vec!["c003"]),
        ("c00", vec![]),
        ("+1 212 555 0000", vec![]),
        ("hello world", vec![]),
    ] {
        assert_eq!(found(&owner, &pid, typed).await, expected, "{typed:?}");
    }

    let list = owner
        .get(&format!("/projects/{pid}/calls?q=06+52+42+98+56"))
        .await;
    assert!(
        list.body.contains(r#"value="06 52 42 98 56""#),
        "the search stays in its field"
    );
    assert!(
        list.body.contains(">+33 6 52 42 98 56<") && list.body.contains(">+1 415-555-0100<"),
        "numbers grouped for reading: {}",
        list.body
    );
    assert!(!list.body.contains("+33652429856"), "never raw in the list");
    assert!(list.body.contains(">Completed</span>"), "status as a word");
    assert!(
        list.body.contains(&format!(
            "/projects/{pid}/calls/c001?q=06+52+42+98+56&#38;per_page=25&#38;page=1"
        )),
        "the call's page leads back to this search"
    );
    let none = owner.get(&format!("/projects/{pid}/calls?q=hello")).await;
    assert!(none.body.contains("No call matches “hello”"));
    assert!(none
        .body
        .contains("Search by a phone number, in any format"));

    let live = owner
        .get(&format!("/projects/{pid}/calls?q=%2B33&status=live"))
        .await;
    assert_eq!(ids_in(&live.body), ["c002"], "with the other filters");
    assert!(live.body.contains(">Live</span>"));
    assert!(
        live.body.contains("data-filters-toggle")
            && live
                .body
                .contains(r#"<span class="badge badge-muted">1</span>"#),
        "the phone's Filters button says one filter is set"
    );

    let call = owner.get(&format!("/projects/{pid}/calls/c001")).await;
    assert!(call
        .body
        .contains(">+33 6 52 42 98 56</span> → <span class=\"mono phone\">+1 415-555-0100<"));
    assert!(call.body.contains(">Completed</span>"));
    let odd = owner.get(&format!("/projects/{pid}/calls/c004")).await;
    assert!(odd.body.contains(">anonymous<"), "not a number: as stored");
    let api = app.get_call(&key, "c001").await;
    assert!(
        api.body.contains(r#""callerNumber":"+33652429856""#),
        "raw E.164 in the API: {}",
        api.body
    );
}

async fn deleting_a_call_opened_from_a_filtered_list_returns_to_that_list_and_page(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    app.import_calls(&pid, &calls_jsonl(60)).await;
    let view = "status=completed&per_page=25&page=2";
    let list = owner.get(&format!("/projects/{pid}/calls?{view}")).await;
    let id = ids_in(&list.body)[0].clone();
    let escaped = view.replace('&', "&#38;");
    let call = owner
        .get(&format!("/projects/{pid}/calls/{id}?{view}"))
        .await;
    assert!(
        call.body.contains(&format!(
            r#"hx-get="/projects/{pid}/calls/{id}/delete?{escaped}""#
        )),
        "Delete carries the view"
    );
    let confirm = owner
        .get_htmx(&format!("/projects/{pid}/calls/{id}/delete?{view}"))
        .await;
    assert!(
        confirm.body.contains(&format!(
            r#"hx-post="/projects/{pid}/calls/{id}/delete?{escaped}""#
        )),
        "{}",
        confirm.body
    );
    let r = owner
        .post_htmx(&format!("/projects/{pid}/calls/{id}/delete?{view}"), &[])
        .await;
    assert_eq!(
        r.header("hx-redirect"),
        Some(format!("/projects/{pid}/calls?{view}")),
        "back to the filtered list, at its page"
    );
    let back = owner.get(&format!("/projects/{pid}/calls?{view}")).await;
    assert!(!ids_in(&back.body).contains(&id));
    assert!(back.body.contains("Showing 26–"), "still page 2");

    // Whatever the query says, the way back is this project's list: never elsewhere.
    let other = ids_in(&back.body)[0].clone();
    owner.get(&format!("/projects/{pid}/calls/{other}")).await;
    let r = owner
        .post_form(
            &format!(
                "/projects/{pid}/calls/{other}/delete?next=https://evil.example&page=//evil.example&status=%2F%2Fevil"
            ),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location(),
        format!("/projects/{pid}/calls"),
        "the list's first view"
    );
}

crate::on_both_backends!(
    calls_are_found_by_a_number_typed_in_any_format_or_by_their_id,
    deleting_a_call_opened_from_a_filtered_list_returns_to_that_list_and_page
);

/// At 360 px the calls' filters other than the search fold behind one button, which shows
/// them; nothing scrolls sideways; a number typed as people write it finds its call, shown
/// grouped. At 1440 px the button is gone and the filters are all there.
#[actix_web::test]
#[cfg_attr(
    not(callem_browser_tests),
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn on_a_phone_the_calls_filters_fold_behind_one_button_and_a_typed_number_finds_its_call() {
    use crate::browser::{assert_visible_to_a_person, Browser};
    let b = Browser::start().await;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_owner, pid) = app.setup_owner().await;
    app.import_calls(&pid, &calls_jsonl(30)).await;
    b.goto(&format!("{}/login", app.address)).await;
    b.type_into("#email", OWNER_EMAIL).await;
    b.type_into("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("#calls-results", "Showing 1–25 of 30").await;

    b.resize(360, 780).await;
    let shown = |css: &str| {
        format!("const r = document.querySelector({css:?}).getBoundingClientRect(); return r.width > 0 && r.height > 0")
    };
    b.wait_for(&shown("select[name=status]"), json!(false))
        .await;
    assert_visible_to_a_person(&b, "#calls-search").await;
    assert_visible_to_a_person(&b, "[data-filters-toggle]").await;
    b.screenshot("calls-filters-folded-360px").await;
    b.click("[data-filters-toggle]").await;
    assert_visible_to_a_person(&b, "select[name=status]").await;
    // The last filter is below the fold on a phone: a person scrolls to it.
    b.script("document.querySelector('input[name=to]').scrollIntoView({block: 'center'})")
        .await;
    assert_visible_to_a_person(&b, "input[name=to]").await;
    assert_eq!(
        b.script(
            "return document.querySelector('[data-filters-toggle]').getAttribute('aria-expanded')"
        )
        .await,
        json!("true")
    );
    b.select("select[name=status]", "completed").await;
    b.wait_text("#calls-results", "Showing 1–25 of 27").await;
    b.wait_text("[data-filters-toggle]", "1").await;
    b.screenshot("calls-filters-open-360px").await;

    b.type_into("#calls-search", "06 00 00 00 07").await;
    b.wait_text("#calls-results", "Showing 1–1 of 1").await;
    assert!(b.text("#calls-results").await.contains("+33 6 00 00 00 07"));
    assert_eq!(
        b.script("return document.documentElement.scrollWidth <= innerWidth")
            .await,
        json!(true),
        "nothing scrolls sideways at 360 px"
    );
    assert!(
        b.current_url().await.contains("q=06"),
        "the search is in the URL"
    );
    b.screenshot("calls-search-360px").await;

    b.resize(1440, 900).await;
    b.wait_for(&shown("[data-filters-toggle]"), json!(false))
        .await;
    assert_visible_to_a_person(&b, "select[name=evaluation]").await;
    b.quit().await;
}
