//! A key's own page, the list's "Needs attention" strip, its filters, the revoked keys, the
//! amber expiry, and `callem keys list`'s status column, over HTTP on both backends.

use chrono::{Duration, NaiveDateTime, Timelike};
use diesel::prelude::*;

use crate::helpers::*;
use callem::db::key_usage::{ClientCount, HourlyCount};
use callem::db::{self, schema::api_keys};
use callem::domain::expiry::Expiry;
use callem::domain::ids::KeyId;

fn this_hour() -> NaiveDateTime {
    let now = callem::time::now();
    now.date().and_hms_opt(now.hour(), 0, 0).unwrap()
}

fn hourly(kid: &str, hour: NaiveDateTime, outcome: &str, requests: i64) -> HourlyCount {
    HourlyCount {
        key_id: KeyId::parse(kid).unwrap(),
        hour,
        outcome: outcome.to_owned(),
        requests,
    }
}

fn client(
    kid: &str,
    ip: &str,
    last_seen: NaiveDateTime,
    requests: i64,
    refused: i64,
) -> ClientCount {
    ClientCount {
        key_id: KeyId::parse(kid).unwrap(),
        ip: ip.to_owned(),
        first_seen: last_seen - Duration::days(3),
        last_seen,
        requests,
        refused,
        allowed_by_operation: Default::default(),
    }
}

async fn add_usage(app: &TestApp, hours: Vec<HourlyCount>, clients: Vec<ClientCount>) {
    app.db(move |conn| db::key_usage::add(conn, &hours, &clients, &[]))
        .await;
}

/// A key named `name`, created `created_days_ago`, last used `used_days_ago` (or never).
async fn make_key(
    app: &TestApp,
    pid: &str,
    name: &str,
    ips: &str,
    expiry: Expiry,
    created_days_ago: i64,
    used_days_ago: Option<i64>,
) -> String {
    let (kid, _) = app.issue_key(pid, ips, expiry).await;
    let (id, name) = (KeyId::parse(&kid).unwrap(), name.to_owned());
    let now = callem::time::now();
    app.db(move |conn| {
        diesel::update(api_keys::table.filter(api_keys::id.eq(&id)))
            .set((
                api_keys::name.eq(name),
                api_keys::created_at.eq(now - Duration::days(created_days_ago)),
                api_keys::last_used_at.eq(used_days_ago.map(|d| now - Duration::days(d))),
                api_keys::last_used_ip.eq(used_days_ago.map(|_| "10.0.0.1".to_owned())),
            ))
            .execute(conn)?;
        Ok(())
    })
    .await;
    kid
}

fn in_days(n: u64) -> Expiry {
    Expiry::On(callem::time::now().date() + chrono::Days::new(n))
}

async fn the_chart_draws_a_bar_per_day_with_traffic_the_total_and_a_text_alternative(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (kid, _) = app.issue_key(&pid, "", Expiry::Never).await;
    let now = this_hour();
    let two_days_ago = now - Duration::days(2);
    add_usage(
        &app,
        vec![
            hourly(&kid, now, "allowed", 12_000),
            hourly(&kid, now, "refused_ip", 30),
            hourly(&kid, now, "refused_revoked", 7),
            hourly(&kid, two_days_ago, "allowed", 394),
            // Older than 30 days: not drawn, not counted.
            hourly(&kid, now - Duration::days(40), "allowed", 5),
        ],
        vec![],
    )
    .await;

    let page = owner.get(&key_path(&pid, &kid)).await;

    assert_eq!(page.status, 200, "{}", page.body);
    let b = &page.body;
    assert!(
        b.contains("12,431 requests in the last 30 days, 37 refused"),
        "{b}"
    );
    assert_eq!(b.matches(r#"class="bar-allowed""#).count(), 2);
    assert_eq!(b.matches(r#"class="bar-refused""#).count(), 1);
    assert_eq!(b.matches(r#"<g class="chart-bar">"#).count(), 30);
    let today = now.format("%a, %b %-d").to_string();
    let earlier = two_days_ago.format("%a, %b %-d").to_string();
    assert!(
        b.contains(&format!(
            "<title>{today}: 12,037 requests, 37 refused</title>"
        )),
        "{b}"
    );
    assert!(b.contains(&format!(
        "<title>{earlier}: 394 requests, 0 refused</title>"
    )));
    // The y-axis scale and the date axis.
    assert!(
        b.contains(r#"class="chart-tick""#) && b.contains(">15,000</text>"),
        "{b}"
    );
    assert!(b.contains(&format!(">{}</text>", now.format("%b %-d"))));
    // The text alternative lists the days with traffic.
    assert!(b.contains(&format!(
        r#"<tr><th scope="row">{today}</th><td>12000</td><td>37</td></tr>"#
    )));
    assert!(!b.contains("No requests in"));

    // The toggle: the last 24 hours by hour, as a fragment.
    let r = owner
        .get_htmx(&format!("{}/usage?range=24h", key_path(&pid, &kid)))
        .await;
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("<html"), "a fragment");
    assert!(
        r.body
            .contains("12,037 requests in the last 24 hours, 37 refused"),
        "{}",
        r.body
    );
    assert_eq!(r.body.matches(r#"<g class="chart-bar">"#).count(), 24);
    assert!(
        r.body.contains(
            r#"aria-pressed="true"
              hx-get"#
        ) || r.body.contains("segment active")
    );
}

async fn a_key_without_use_shows_an_empty_state(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (kid, _) = app.issue_key(&pid, "", Expiry::Never).await;

    let page = owner.get(&key_path(&pid, &kid)).await;

    assert_eq!(page.status, 200);
    assert!(page.body.contains("No requests in the last 30 days"));
    assert!(!page.body.contains(r#"data-testid="usage-chart""#));
    assert!(page
        .body
        .contains("No client address has used this key yet."));
    assert!(page
        .body
        .contains("0 requests in the last 30 days, 0 refused"));
    // The facts: created by the command line, never expires, all IPs, never used.
    for needle in [
        "by command line",
        "<dd>Never</dd>",
        "All IPs",
        "Never</span>",
    ] {
        assert!(page.body.contains(needle), "missing {needle}");
    }
}

async fn every_member_sees_the_page_and_only_owners_and_admins_its_actions(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let kid = make_key(
        &app,
        &pid,
        "Shared key",
        "10.0.0.0/24",
        in_days(90),
        1,
        None,
    )
    .await;
    let admin = app.user_with_role(&pid, "admin@example.com", "admin").await;
    let dev = app
        .user_with_role(&pid, "dev@example.com", "developer")
        .await;
    let member = app
        .user_with_role(&pid, "member@example.com", "member")
        .await;

    for (agent, can_act) in [
        (&owner, true),
        (&admin, true),
        (&dev, false),
        (&member, false),
    ] {
        let page = agent.get(&key_path(&pid, &kid)).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Shared key"));
        assert!(page.body.contains("<code>10.0.0.0/24</code>"));
        assert!(page.body.contains(r#"data-testid="key-actions""#));
        assert_eq!(
            page.body.contains(r#"data-testid="revoke-key""#),
            can_act,
            "actions shown to the right roles"
        );
        // The list links each name to its page.
        let list = agent.get(&keys_path(&pid)).await;
        assert!(list.body.contains(&format!(
            r#"href="{}">Shared key</a></td>"#,
            key_path(&pid, &kid)
        )));
    }
}

async fn revoking_from_the_key_page_reloads_it_read_only(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let kid = make_key(&app, &pid, "To go", "", Expiry::Never, 1, None).await;
    owner.get(&key_path(&pid, &kid)).await;
    let confirm = owner
        .get_htmx(&format!("{}/revoke?from=page", key_path(&pid, &kid)))
        .await;
    assert_eq!(confirm.status, 200);
    let action = format!("{}/revoke?from=page", key_path(&pid, &kid));
    assert!(confirm.body.contains(&format!(r#"hx-post="{action}""#)));

    let r = owner.post_htmx(&action, &[]).await;

    assert_eq!(r.status, 200);
    assert_eq!(r.header("hx-redirect"), Some(key_path(&pid, &kid)));
    assert!(r.header("x-callem-toast").is_some());
    let page = owner.get(&key_path(&pid, &kid)).await;
    assert!(page.body.contains("Revoked on"));
    // A member cannot revoke from the page either.
    let member = app.user_with_role(&pid, "m@example.com", "member").await;
    member.get(&key_path(&pid, &kid)).await;
    assert_eq!(member.post_htmx(&action, &[]).await.status, 403);
}

async fn another_projects_key_is_not_found(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let other = app.other_project("Elsewhere").await;
    let (theirs, _) = app.issue_key(&other, "", Expiry::Never).await;

    assert_eq!(owner.get(&key_path(&pid, &theirs)).await.status, 404);
    assert_eq!(
        owner
            .get_htmx(&format!("{}/usage?range=24h", key_path(&pid, &theirs)))
            .await
            .status,
        404
    );
    assert_eq!(owner.get(&key_path(&pid, "not-a-key")).await.status, 404);
    // Nor through the other project's URL, of which the owner is no member.
    assert_eq!(owner.get(&key_path(&other, &theirs)).await.status, 404);
}

async fn a_revoked_keys_page_stays_read_only_and_show_revoked_lists_it(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let kid = make_key(&app, &pid, "Old integration", "", Expiry::Never, 3, None).await;
    let keep = make_key(&app, &pid, "Current one", "", Expiry::Never, 3, None).await;
    owner.get(&keys_path(&pid)).await;
    assert_eq!(owner.revoke_key(&pid, &kid).await.status, 200);

    let page = owner.get(&key_path(&pid, &kid)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Revoked on"), "{}", page.body);
    assert!(page.body.contains(&format!("by {OWNER_EMAIL}.")));
    assert!(page.body.contains(r#"data-testid="key-status">Revoked<"#));
    assert!(!page.body.contains(r#"data-testid="revoke-key""#));
    // Its history: created by the command line, revoked by the owner from an address.
    assert!(page.body.contains("<td data-label=\"Event\">Revoked</td>"));
    assert!(page.body.contains("<td data-label=\"Event\">Created</td>"));
    assert!(page
        .body
        .contains(&format!("<td data-label=\"By\">{OWNER_EMAIL}</td>")));
    assert!(page.body.contains("<code>127.0.0.1</code>"));

    let list = owner.get(&keys_path(&pid)).await;
    assert!(!list.body.contains("Old integration"));
    assert!(list
        .body
        .contains(&format!(r#"href="{}?show=revoked""#, keys_path(&pid))));

    let revoked = owner
        .get(&format!("{}?show=revoked", keys_path(&pid)))
        .await;
    assert_eq!(revoked.status, 200);
    assert!(revoked.body.contains(&format!(
        r#"href="{}">Old integration</a>"#,
        key_path(&pid, &kid)
    )));
    assert!(!revoked.body.contains("Current one"));
    assert!(!revoked.body.contains("Actions for"), "read-only");
    assert!(revoked.body.contains("Revoked keys, read-only."));
    let _ = keep;
}

async fn the_attention_strip_counts_each_category_and_its_links_filter_the_list(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let ip = "10.0.0.1";
    make_key(&app, &pid, "alpha-unused", ip, in_days(60), 8, None).await;
    make_key(&app, &pid, "bravo-new", ip, in_days(60), 2, None).await;
    make_key(&app, &pid, "charlie-idle", ip, in_days(60), 200, Some(100)).await;
    make_key(&app, &pid, "delta-open", "", in_days(60), 20, Some(0)).await;
    make_key(&app, &pid, "echo-forever", ip, Expiry::Never, 20, Some(0)).await;
    let refused = make_key(&app, &pid, "foxtrot-refused", ip, in_days(60), 20, Some(0)).await;
    let golf = make_key(&app, &pid, "golf-healthy", ip, in_days(60), 20, Some(1)).await;
    let gone = make_key(&app, &pid, "hotel-revoked", "", Expiry::Never, 20, None).await;
    owner.get(&keys_path(&pid)).await;
    assert_eq!(owner.revoke_key(&pid, &gone).await.status, 200);
    add_usage(
        &app,
        vec![hourly(&refused, this_hour(), "refused_ip", 4)],
        vec![],
    )
    .await;
    // Refused two days ago only: not in the last 24 hours.
    let golf_refused_earlier = hourly(&golf, this_hour() - Duration::days(2), "refused_ip", 9);
    add_usage(&app, vec![golf_refused_earlier], vec![]).await;

    let list = owner.get(&keys_path(&pid)).await;

    let strip = list
        .body
        .split(r#"data-testid="attention""#)
        .nth(1)
        .and_then(|s| s.split("</nav>").next())
        .unwrap_or_else(|| panic!("no strip in {}", list.body));
    for (slug, n) in [
        ("never_used", 1),
        ("idle", 1),
        ("all_ips", 1),
        ("never_expires", 1),
        ("refused", 1),
    ] {
        let link = format!(
            r#"data-attention="{slug}" href="{}?attention={slug}"><strong>{n}</strong>"#,
            keys_path(&pid)
        );
        assert!(strip.contains(&link), "missing {link} in {strip}");
    }

    for (slug, only) in [
        ("never_used", "alpha-unused"),
        ("idle", "charlie-idle"),
        ("all_ips", "delta-open"),
        ("never_expires", "echo-forever"),
        ("refused", "foxtrot-refused"),
    ] {
        let page = owner
            .get(&format!("{}?attention={slug}", keys_path(&pid)))
            .await;
        assert_eq!(page.status, 200);
        let names = [
            "alpha-unused",
            "bravo-new",
            "charlie-idle",
            "delta-open",
            "echo-forever",
            "foxtrot-refused",
            "golf-healthy",
            "hotel-revoked",
        ];
        for name in names {
            assert_eq!(
                page.body.contains(&format!(">{name}</a></td>")),
                name == only,
                "{slug}: {name}"
            );
        }
        assert!(page.body.contains("Show all keys"));
    }
}

async fn a_project_with_healthy_keys_shows_no_attention_strip(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    make_key(&app, &pid, "fine", "10.0.0.1", in_days(60), 20, Some(1)).await;
    let list = owner.get(&keys_path(&pid)).await;
    assert!(list.body.contains(">fine</a></td>"));
    assert!(!list.body.contains("Needs attention"));
}

async fn keys_expiring_within_two_weeks_are_amber_and_past_ones_expired(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let soon = make_key(&app, &pid, "soon", "", in_days(6), 1, None).await;
    make_key(&app, &pid, "later", "", in_days(15), 1, None).await;
    let past = make_key(&app, &pid, "past", "", in_days(6), 1, None).await;
    let id = KeyId::parse(&past).unwrap();
    let yesterday = callem::time::now() - Duration::days(1);
    app.db(move |conn| {
        diesel::update(api_keys::table.filter(api_keys::id.eq(&id)))
            .set(api_keys::expires_at.eq(Some(yesterday)))
            .execute(conn)?;
        Ok(())
    })
    .await;

    let list = owner.get(&keys_path(&pid)).await;
    assert!(
        list.body
            .contains(r#"<span class="badge badge-warning" title="Expires on "#),
        "{}",
        list.body
    );
    assert_eq!(list.body.matches("badge-warning").count(), 1);
    assert!(list.body.contains(">Expires in 6 days</span>"));
    assert!(list
        .body
        .contains(r#"<span class="badge badge-danger" title="Expired on "#));
    let later = (callem::time::now().date() + chrono::Days::new(15))
        .format("%b %-d, %Y")
        .to_string();
    assert!(list.body.contains(&format!(">{later}</td>")));

    let page = owner.get(&key_path(&pid, &soon)).await;
    let six = (callem::time::now().date() + chrono::Days::new(6))
        .format("%b %-d, %Y")
        .to_string();
    assert!(
        page.body.contains(&format!(">{six}</time></dd>")),
        "{}",
        page.body
    );
    assert!(page.body.contains(
        r#"<span class="badge badge-warning" data-testid="key-status">Expires in 6 days</span>"#
    ));
    let page = owner.get(&key_path(&pid, &past)).await;
    assert!(page
        .body
        .contains(r#"<span class="badge badge-danger" data-testid="key-status">Expired</span>"#));
}

async fn the_address_table_lists_newest_first_and_marks_what_the_rules_refuse(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let kid = make_key(
        &app,
        &pid,
        "office",
        "10.0.0.0/24",
        in_days(60),
        20,
        Some(0),
    )
    .await;
    let now = callem::time::now();
    add_usage(
        &app,
        vec![hourly(&kid, this_hour(), "allowed", 1)],
        vec![
            client(&kid, "10.0.0.7", now - Duration::hours(2), 1_200, 0),
            client(&kid, "203.0.113.9", now - Duration::minutes(5), 15, 15),
        ],
    )
    .await;

    let page = owner.get(&key_path(&pid, &kid)).await;

    let table = page
        .body
        .split(r#"data-testid="clients""#)
        .nth(1)
        .unwrap()
        .split("</section>")
        .next()
        .unwrap();
    let outsider = table.find("203.0.113.9").expect("outsider listed");
    let office = table.find("10.0.0.7").expect("office listed");
    assert!(outsider < office, "newest first");
    assert_eq!(table.matches("Refused by rules").count(), 1);
    let marked_row = table[..table.find("Refused by rules").unwrap()]
        .rsplit("<tr")
        .next()
        .unwrap();
    assert!(marked_row.contains("203.0.113.9"), "{marked_row}");
    assert!(table.contains(r#"<td data-label="Requests" class="num">1,200</td>"#));
    assert!(table.contains("5 minutes ago"));
}

async fn keys_list_on_the_command_line_prints_the_status_column(app: TestApp) {
    let (_owner, pid) = app.setup_owner().await;
    make_key(&app, &pid, "forever", "", Expiry::Never, 1, None).await;
    make_key(&app, &pid, "soon", "", in_days(6), 1, None).await;
    let url = app.db.url().to_owned();

    let (code, out, err) = run_callem(&url, &["keys", "list", "--project", &pid], None);

    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap();
    assert!(header.trim_end().ends_with("STATUS"), "{out}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .trim_end()
            .to_owned()
    };
    assert!(line("forever").ends_with("Active"), "{out}");
    assert!(line("soon").ends_with("Expires in 6 days"), "{out}");
}

crate::on_both_backends!(
    the_chart_draws_a_bar_per_day_with_traffic_the_total_and_a_text_alternative,
    a_key_without_use_shows_an_empty_state,
    every_member_sees_the_page_and_only_owners_and_admins_its_actions,
    another_projects_key_is_not_found,
    revoking_from_the_key_page_reloads_it_read_only,
    a_revoked_keys_page_stays_read_only_and_show_revoked_lists_it,
    the_attention_strip_counts_each_category_and_its_links_filter_the_list,
    a_project_with_healthy_keys_shows_no_attention_strip,
    keys_expiring_within_two_weeks_are_amber_and_past_ones_expired,
    the_address_table_lists_newest_first_and_marks_what_the_rules_refuse,
    keys_list_on_the_command_line_prints_the_status_column,
);
