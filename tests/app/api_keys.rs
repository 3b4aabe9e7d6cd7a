//! Settings → API Keys over HTTP: full pages and htmx fragments, roles, CSRF, storage.

use chrono::Duration;

use crate::helpers::*;
use callem::db;

async fn the_empty_tab_explains_and_offers_to_create(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let page = owner.get(&keys_path(&pid)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.starts_with("<!doctype html>"));
    for needle in [
        "No API keys yet",
        "Create API Key",
        "Security best practices",
        "Restrict IPs in production",
        "Rotate every 90 days",
        "One key per environment",
        r#"href="/docs/api""#,
    ] {
        assert!(page.body.contains(needle), "missing {needle}");
    }
}

async fn the_create_modal_is_a_fragment_with_the_fields(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let r = owner.get_htmx(&format!("{}/new", keys_path(&pid))).await;
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("<html"), "a fragment, not a page");
    for needle in [
        r#"name="name""#,
        r#"name="allowed_ips""#,
        r#"name="expires""#,
        r#"<option value="90d" selected>90 days</option>"#,
        "30 days",
        "60 days",
        "1 year",
        "No expiration",
        "Custom date",
        r#"<dialog class="modal""#,
        "Create Key",
    ] {
        assert!(r.body.contains(needle), "missing {needle}");
    }
}

async fn invalid_input_rerenders_the_modal_with_messages_and_values_and_stores_nothing(
    app: TestApp,
) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let cases: [(&str, &str, &str, &str, &str); 6] = [
        ("", "", "90d", "", "Name is required."),
        (
            &"n".repeat(101),
            "",
            "90d",
            "",
            "Name must be at most 100 characters",
        ),
        (
            "Prod",
            "10.0.0.5/24",
            "90d",
            "",
            "10.0.0.5/24 has host bits set; use the network address 10.0.0.0/24.",
        ),
        (
            "Prod",
            "1.2.3.4, banana",
            "90d",
            "",
            "&#39;banana&#39; is not an IP address",
        ),
        (
            "Prod",
            "",
            "custom",
            "2001-01-01",
            "The expiration date must be after today.",
        ),
        ("Prod", "", "custom", "", "Pick the date the key expires."),
    ];
    for (name, ips, expires, on, message) in cases {
        let r = owner
            .create_key(
                &pid,
                &[
                    ("name", name),
                    ("allowed_ips", ips),
                    ("expires", expires),
                    ("expires_on", on),
                ],
            )
            .await;
        assert_eq!(r.status, 200);
        assert!(
            r.body.contains(message) || r.body.contains(&message.replace('\'', "&#x27;")),
            "expected {message} in {}",
            r.body
        );
        assert!(r.body.contains(r#"class="field-error""#));
        assert!(r.body.contains(&format!(r#"value="{name}""#)), "name kept");
        if !ips.is_empty() {
            assert!(r.body.contains(&format!(">{ips}</textarea>")), "IPs kept");
        }
        assert!(!r.body.contains("ck_live_"));
    }
    let r = owner
        .create_key(&pid, &[("name", "Prod"), ("expires", "45d")])
        .await;
    assert!(r.body.contains("Choose an expiration"));
    assert_eq!(count_rows(&app, "api_keys").await, 0);
    // Only setup's `project.created`: a refused key records nothing.
    assert_eq!(count_rows(&app, "audit_events").await, 1);
}

async fn creating_a_key_reveals_it_once_and_stores_only_prefix_and_hash(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let r = owner
        .create_key(
            &pid,
            &[
                ("name", "  Production CRM Integration "),
                ("allowed_ips", "203.0.113.7\n10.0.0.0/24, 10.0.0.0/24"),
                ("expires", "custom"),
                ("expires_on", "2030-03-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let key = revealed_key(&r.body);
    assert!(r.body.contains("It will not be shown again."));
    assert!(r.body.contains("Copy") && r.body.contains("Done"));
    assert!(
        r.body
            .contains(r#"id="keys-table" class="card" hx-swap-oob="true""#),
        "the list is refreshed out of band"
    );
    assert!(r.body.contains("Production CRM Integration"));

    let stored = app
        .db(move |c| Ok(db::api_keys::list_active(c, &project(&pid))?))
        .await;
    assert_eq!(stored.len(), 1);
    let k = &stored[0];
    assert_eq!(k.name, "Production CRM Integration");
    assert_eq!(k.prefix, &key[..12]);
    assert_eq!(k.key_hash, callem::domain::api_key::hash_token(&key));
    assert_eq!(
        k.allowed_ips, "203.0.113.7\n10.0.0.0/24",
        "duplicates folded"
    );
    assert_eq!(
        k.expires_at.unwrap().to_string(),
        "2030-03-01 23:59:59.999999"
    );
    assert!(k.created_by.is_some());

    let events = app
        .db({
            let pid = k.project_id.clone();
            move |c| Ok(db::audit::for_project(c, &pid)?)
        })
        .await;
    // Newest first, after setup's `project.created`.
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].action, "project.created");
    assert_eq!(events[0].action, "api_key.created");
    assert_eq!(events[0].target_id.as_deref(), Some(k.id.as_str()));
    assert_eq!(events[0].ip.as_deref(), Some("127.0.0.1"));

    let everything = app.db(|c| Ok(dump_all_tables(c))).await;
    assert!(
        everything.contains(k.key_hash.as_str()),
        "the dump sees the api_keys table"
    );
    assert!(
        !everything.contains(&key[12..]),
        "the full key is stored nowhere"
    );

    let page = owner.get(&keys_path(k.project_id.as_str())).await;
    assert!(
        !page.body.contains(&key),
        "a reload never shows the key again"
    );
    assert!(!page.body.contains(&key[12..]));
    assert!(owner
        .cookie()
        .map(|c| !c.contains(&key[12..]))
        .unwrap_or(true));
}

async fn the_list_shows_the_five_columns_in_their_formats(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    owner
        .create_key(&pid, &[("name", "Never expires"), ("expires", "never")])
        .await;
    owner
        .create_key(
            &pid,
            &[
                ("name", "Dated"),
                ("allowed_ips", "1.1.1.1 2.2.2.2 2001:db8::/32"),
                ("expires", "custom"),
                ("expires_on", "2031-03-01"),
            ],
        )
        .await;
    owner
        .create_key(
            &pid,
            &[
                ("name", "Old one"),
                ("allowed_ips", "*, 1.1.1.1"),
                ("expires", "30d"),
            ],
        )
        .await;
    let p = project(&pid);
    app.db(move |c| {
        use callem::db::schema::api_keys::dsl::*;
        use diesel::prelude::*;
        let now = callem::time::now();
        diesel::update(api_keys.filter(name.eq("Old one")))
            .set(expires_at.eq(Some(now - Duration::days(2))))
            .execute(c)?;
        let dated = db::api_keys::list_active(c, &p)?
            .into_iter()
            .find(|k| k.name == "Dated")
            .unwrap();
        db::key_usage::add(
            c,
            &[db::key_usage::HourlyCount {
                key_id: dated.id.clone(),
                hour: now,
                outcome: "allowed".into(),
                requests: 1,
            }],
            &[],
            &[db::key_usage::LastUse {
                key_id: dated.id.clone(),
                at: now - Duration::minutes(3),
                ip: "1.1.1.1".into(),
            }],
        )?;
        Ok(())
    })
    .await;
    let page = owner.get(&keys_path(&pid)).await.body;
    let row = |n: &str| {
        let start = page
            .find(&format!(">{n}</a></td>"))
            .unwrap_or_else(|| panic!("no row {n}"));
        page[start..page[start..].find("</tr>").unwrap() + start].to_owned()
    };
    let dated = row("Dated");
    assert!(dated.contains("••••••••</code>"));
    assert!(dated.contains(">3 rules<"));
    assert!(
        dated.contains(">3 minutes ago</time>") && dated.contains("title=\""),
        "{dated}"
    );
    assert!(dated.contains(">Mar 1, 2031<"));
    let never = row("Never expires");
    assert!(never.contains(">All IPs<"));
    assert!(
        never.contains(r#"<span class="muted">Never</span>"#),
        "last used Never"
    );
    assert!(never.contains(">Never</td>"), "expires Never: {never}");
    let old = row("Old one");
    assert!(old.contains(">All IPs<"), "* with others means all");
    assert!(old.contains(">Expired</span>"));
    // Newest first.
    assert!(page.find(">Old one<").unwrap() < page.find(">Dated<").unwrap());
}

async fn revoking_asks_by_name_removes_the_row_and_records_who(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    owner
        .create_key(&pid, &[("name", "Staging"), ("expires", "never")])
        .await;
    owner
        .create_key(&pid, &[("name", "Keep me"), ("expires", "never")])
        .await;
    let p = project(&pid);
    let key = app
        .db(move |c| Ok(db::api_keys::list_active(c, &p)?))
        .await
        .into_iter()
        .find(|k| k.name == "Staging")
        .unwrap();
    let confirm = owner
        .get_htmx(&format!("{}/{}/revoke", keys_path(&pid), key.id))
        .await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Revoke <strong>Staging</strong>? Applications using it lose access immediately. This cannot be undone."));
    let r = owner
        .post_htmx(&format!("{}/{}/revoke", keys_path(&pid), key.id), &[])
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains(r#"hx-swap-oob="true""#));
    assert!(!r.body.contains(">Staging<") && r.body.contains(">Keep me<"));
    let (p, kid) = (project(&pid), key.id.clone());
    let stored = app
        .db(move |c| Ok(db::api_keys::find_in_project(c, &p, &kid)?))
        .await
        .unwrap();
    assert!(stored.revoked_at.is_some());
    assert!(stored.revoked_by.is_some());
    let again = owner
        .post_htmx(&format!("{}/{}/revoke", keys_path(&pid), key.id), &[])
        .await;
    assert_eq!(again.status, 200, "revoking twice is harmless");
    let p = project(&pid);
    let events = app.db(move |c| Ok(db::audit::for_project(c, &p)?)).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "api_key.revoked")
            .count(),
        1
    );
    assert!(!owner.get(&keys_path(&pid)).await.body.contains(">Staging<"));
    assert_eq!(
        owner
            .get_htmx(&format!("{}/{}/revoke", keys_path(&pid), key.id))
            .await
            .status,
        404,
        "no confirmation for a revoked key"
    );
}

async fn keys_of_another_project_are_not_found(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let other = app.other_project("Other").await;
    let o = project(&other);
    let (foreign_id, _) = app
        .db(move |c| {
            db::api_keys::issue(
                c,
                &db::api_keys::KeyRequest {
                    project_id: &o,
                    name: &callem::domain::api_key::ApiKeyName::parse("Theirs").unwrap(),
                    rules: &Default::default(),
                    expiry: callem::domain::expiry::Expiry::Never,
                    scope: callem::domain::scope::Scope::FULL,
                    actor: &callem::domain::actor::Actor::command_line(),
                },
                callem::time::now(),
            )
        })
        .await;
    owner.get(&keys_path(&pid)).await;
    let r = owner
        .post_htmx(&format!("{}/{}/revoke", keys_path(&pid), foreign_id), &[])
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        owner
            .get_htmx(&format!("{}/{}/revoke", keys_path(&pid), foreign_id))
            .await
            .status,
        404
    );
    let fid = foreign_id.clone();
    let k = app
        .db(move |c| Ok(db::api_keys::find_in_project(c, &project(&other), &fid)?))
        .await
        .unwrap();
    assert!(k.revoked_at.is_none());
}

async fn developers_and_members_read_but_cannot_create_or_revoke(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    owner
        .create_key(&pid, &[("name", "Owner's key"), ("expires", "never")])
        .await;
    let p = project(&pid);
    let key_id = app.db(move |c| Ok(db::api_keys::list_active(c, &p)?)).await[0]
        .id
        .clone();
    let admin = app.user_with_role(&pid, "admin@example.com", "admin").await;
    let page = admin.get(&keys_path(&pid)).await;
    assert!(page.body.contains("data-testid=\"create-key\"") && page.body.contains("Revoke Key"));

    for (email, role) in [
        ("dev@example.com", "developer"),
        ("member@example.com", "member"),
    ] {
        let user = app.user_with_role(&pid, email, role).await;
        let page = user.get(&keys_path(&pid)).await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("Owner&#x27;s key") || page.body.contains("Owner&#39;s key"),
            "{role} sees the list"
        );
        assert!(
            !page.body.contains("data-testid=\"create-key\""),
            "{role} has no create button"
        );
        assert!(!page.body.contains("Revoke Key"), "{role} has no row menu");
        assert_eq!(
            user.get_htmx(&format!("{}/new", keys_path(&pid)))
                .await
                .status,
            403
        );
        let r = user
            .create_key(&pid, &[("name", "Sneaky"), ("expires", "never")])
            .await;
        assert_eq!(r.status, 403, "{role} create");
        let r = user
            .post_htmx(&format!("{}/{}/revoke", keys_path(&pid), key_id), &[])
            .await;
        assert_eq!(r.status, 403, "{role} revoke");
    }
    assert_eq!(count_rows(&app, "api_keys").await, 1);
    let p = project(&pid);
    assert!(
        app.db(move |c| Ok(db::api_keys::list_active(c, &p)?)).await[0]
            .revoked_at
            .is_none()
    );
}

crate::on_both_backends!(
    the_empty_tab_explains_and_offers_to_create,
    the_create_modal_is_a_fragment_with_the_fields,
    invalid_input_rerenders_the_modal_with_messages_and_values_and_stores_nothing,
    creating_a_key_reveals_it_once_and_stores_only_prefix_and_hash,
    the_list_shows_the_five_columns_in_their_formats,
    revoking_asks_by_name_removes_the_row_and_records_who,
    keys_of_another_project_are_not_found,
    developers_and_members_read_but_cannot_create_or_revoke,
    every_action_hidden_by_role_says_who_may_do_it
);

/// Where an action is hidden by role, the page says who may do it: the keys list, a key's
/// page, Team, the Knowledge Base and its items, and a call.
async fn every_action_hidden_by_role_says_who_may_do_it(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    owner
        .create_key(&pid, &[("name", "CRM"), ("expires", "never")])
        .await;
    let p = project(&pid);
    let key_id = app.db(move |c| Ok(db::api_keys::list_active(c, &p)?)).await[0]
        .id
        .to_string();
    app.import_calls(
        &pid,
        r#"{"id":"call_a","status":"completed","duration":145,"createdAt":"2025-12-15T14:30:00.000Z"}"#,
    )
    .await;
    let (_, secret) = app
        .issue_key(&pid, "", callem::domain::expiry::Expiry::Never)
        .await;
    let item = app
        .create_knowledge(
            &secret,
            &serde_json::json!({"name": "Hours", "text": "9 to 5"}),
        )
        .await
        .json();
    let item_id = item["id"].as_str().expect("the item's id").to_owned();
    let note = |who: &str, what: &str| format!("Only {who} can {what}.");
    let managers = "Owners and Admins";
    let editors = "Owners, Admins and Developers";
    // (page, the note, the action it stands for, whether a Developer sees the action)
    let pages = [
        (
            keys_path(&pid),
            note(managers, "create keys"),
            r#"data-testid="create-key""#,
            false,
        ),
        (
            key_path(&pid, &key_id),
            note(managers, "edit, roll or revoke keys"),
            r#"data-testid="edit-key""#,
            false,
        ),
        (
            format!("/projects/{pid}/settings/team"),
            note(managers, "invite members, change roles or remove members"),
            r#"data-testid="invite-member""#,
            false,
        ),
        (
            format!("/projects/{pid}/knowledge"),
            note(editors, "add, edit or delete knowledge"),
            r#"data-testid="add-knowledge""#,
            true,
        ),
        (
            format!("/projects/{pid}/knowledge/{item_id}"),
            note(editors, "edit or delete knowledge"),
            "/delete\"",
            true,
        ),
        (
            format!("/projects/{pid}/calls/call_a"),
            note(editors, "delete calls"),
            "/delete\"",
            true,
        ),
    ];
    let developer = app
        .user_with_role(&pid, "dev@example.com", "developer")
        .await;
    let member = app
        .user_with_role(&pid, "member@example.com", "member")
        .await;
    for (path, sentence, action, developer_may) in &pages {
        let page = owner.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.body.contains(action), "the owner has it: {path}");
        assert!(
            !page.body.contains("data-testid=\"role-note\""),
            "{path}: {}",
            page.body
        );
        for (agent, may) in [(&developer, *developer_may), (&member, false)] {
            let page = agent.get(path).await;
            assert_eq!(page.status, 200, "{path}");
            assert_eq!(page.body.contains(action), may, "{path}");
            assert_eq!(
                page.body.contains(sentence.as_str()),
                !may,
                "{path}: {sentence} {}",
                page.body
            );
        }
    }
}
