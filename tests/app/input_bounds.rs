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
    let p = pid.to_owned();
    app.db(move |c| {
        for i in 0..n {
            callem::db::knowledge::insert(
                c,
                &callem::db::models::KnowledgeItem {
                    id: callem::domain::ids::new_id(),
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

crate::on_both_backends! {
    async fn huge_and_negative_page_numbers_clamp_to_existing_pages_on_the_dashboard(app) {
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
        let last = owner.get(&format!("/projects/{pid}/calls?page=99999999999999999999")).await.body;
        assert!(last.contains(r#"aria-current="page">3<"#), "{last}");
        assert!(!last.contains(r#"rel="next""#));

        for (query, expected, item) in [
            ("page=99999999999999999999", "51–55 of 55", ">Item 00<"),
            ("page=9223372036854775807", "51–55 of 55", ">Item 00<"),
            ("page=-5", "1–50 of 55", ">Item 54<"),
            ("page=-99999999999999999999", "1–50 of 55", ">Item 54<"),
        ] {
            let r = owner.get(&format!("/projects/{pid}/knowledge?{query}")).await;
            assert_eq!(r.status, 200, "{query}: {}", r.body);
            assert_eq!(showing(&r.body), expected, "{query}");
            assert!(r.body.contains(item), "{query}: that page's items");
        }

        // An empty list at a huge page is the empty first page.
        let empty = app.other_project("Empty").await;
        let member = app.user_with_role(&empty, "member@example.com", "member").await;
        let r = member.get(&format!("/projects/{empty}/calls?page=9223372036854775807")).await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("No calls yet") && r.body.contains("0 calls"));
        let r = member.get(&format!("/projects/{empty}/knowledge?page=9223372036854775807")).await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("No knowledge yet"));
    }

    async fn api_offsets_beyond_the_bound_are_a_400_naming_it(app) {
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
                let r = app.api("GET", &format!("{list}?offset={offset}"), &key).await;
                assert_eq!(
                    error(&r),
                    (400, "offset must be an integer between 0 and 1000000000".into()),
                    "{list} offset={offset}"
                );
            }
            let r = app.api("GET", &format!("{list}?offset=1000000000&limit=1000"), &key).await;
            assert_eq!(r.status, 200, "{list}: {}", r.body);
            let v = r.json();
            assert_eq!(v["data"], json!([]));
            assert_eq!(v["pagination"]["offset"], 1_000_000_000);
        }
    }
}
