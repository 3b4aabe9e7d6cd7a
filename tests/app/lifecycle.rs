//! Changing a key without breaking its clients, over HTTP on both backends: edit (with the
//! "would be refused" warnings — addresses, clients with no address, kinds of operation — and
//! their second step; a replaced key's expiry stays the roll's), roll with each overlap, Stop
//! now and Extend, and `callem keys roll`.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::helpers::*;
use callem::db::{self, models::ApiKey, schema::api_keys};
use callem::domain::ids::KeyId;

async fn stored(app: &TestApp, pid: &str, kid: &str) -> ApiKey {
    let (p, k) = (project(pid), KeyId::parse(kid).unwrap());
    app.db(move |c| Ok(db::api_keys::find_in_project(c, &p, &k)?))
        .await
        .expect("the key row")
}

async fn events(app: &TestApp, pid: &str, kid: &str) -> Vec<db::models::AuditEvent> {
    let (p, k) = (project(pid), KeyId::parse(kid).unwrap());
    app.db(move |c| Ok(db::audit::for_key(c, &p, &k)?)).await
}

/// Creates a key from the dashboard; (id, full key).
async fn dashboard_key(
    app: &TestApp,
    owner: &Agent,
    pid: &str,
    fields: &[(&str, &str)],
) -> (String, String) {
    let r = owner.create_key(pid, fields).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let key = revealed_key(&r.body);
    let hash = callem::domain::api_key::hash_token(&key);
    let id = app
        .db(move |c| {
            Ok(api_keys::table
                .filter(api_keys::key_hash.eq(hash))
                .select(api_keys::id)
                .first::<String>(c)?)
        })
        .await;
    (id, key)
}

fn edit_path(pid: &str, kid: &str) -> String {
    format!("{}/edit", key_path(pid, kid))
}

/// The edit form as the modal posts it, with `changes` over the defaults.
fn edit_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("name", "CRM"),
        ("allowed_ips", ""),
        ("expires", "keep"),
        ("expires_on", ""),
        ("access", "full"),
        ("calls_access", "delete"),
        ("knowledge_access", "write"),
    ];
    for (k, v) in changes {
        match form.iter_mut().find(|(f, _)| f == k) {
            Some(slot) => slot.1 = v,
            None => form.push((k, v)),
        }
    }
    form
}

/// The addresses the edit modal's warning lists.
fn warned(body: &str) -> Vec<String> {
    let re = regex_lite::Regex::new(r#"<li data-ip="([^"]+)">"#).unwrap();
    re.captures_iter(body).map(|c| c[1].to_owned()).collect()
}

/// A request to `/v1/calls` from `ip`, through a trusted proxy at 127.0.0.1.
async fn list_calls_from(base: &str, key: &str, ip: &str) -> u16 {
    Agent::new(base)
        .send(
            "GET",
            "/v1/calls",
            &[
                ("authorization", format!("Bearer {key}")),
                ("x-forwarded-for", ip.to_owned()),
            ],
            None,
        )
        .await
        .status
}

async fn an_edit_applies_to_the_very_next_request_on_every_server(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (kid, key) =
        dashboard_key(&app, &owner, &pid, &[("name", "CRM"), ("expires", "never")]).await;
    let replica = app.replica().await;
    let on_replica = || async {
        Agent::new(&replica)
            .send(
                "GET",
                "/v1/calls",
                &[("authorization", format!("Bearer {key}"))],
                None,
            )
            .await
    };
    assert_eq!(app.list_calls(&key, "").await.status, 200);
    assert_eq!(on_replica().await.status, 200);

    // Nobody has used it from 127.0.0.1 in the usage tables yet (nothing flushed): no warning.
    let r = owner
        .post_htmx(
            &edit_path(&pid, &kid),
            &edit_form(&[("allowed_ips", "192.0.2.1")]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(warned(&r.body).is_empty(), "{}", r.body);
    assert_eq!(stored(&app, &pid, &kid).await.allowed_ips, "192.0.2.1");
    for r in [app.list_calls(&key, "").await, on_replica().await] {
        assert_eq!(api_error(&r), (403, "IP address not allowed".to_owned()));
    }

    let r = owner
        .post_htmx(
            &edit_path(&pid, &kid),
            &edit_form(&[("allowed_ips", ""), ("access", "read")]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let k = stored(&app, &pid, &kid).await;
    assert_eq!((k.allowed_ips.as_str(), k.scope.as_str()), ("", "read"));
    for base in [app.address.as_str(), replica.as_str()] {
        let a = Agent::new(base);
        let auth = [("authorization", format!("Bearer {key}"))];
        assert_eq!(a.send("GET", "/v1/calls", &auth, None).await.status, 200);
        let r = a.send("DELETE", "/v1/calls/nope", &auth, None).await;
        assert_eq!(
            api_error(&r),
            (
                403,
                "API key does not have permission for this request".to_owned()
            ),
            "on {base}"
        );
    }
    let history = events(&app, &pid, &kid).await;
    let updates: Vec<_> = history
        .iter()
        .filter(|e| e.action == "api_key.updated")
        .collect();
    assert_eq!(updates.len(), 2);
    let latest: serde_json::Value =
        serde_json::from_str(updates[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(
        latest,
        serde_json::json!({"allowed_ips": ["192.0.2.1", null], "scope": ["full", "read"]})
    );
    assert_eq!(updates[0].ip.as_deref(), Some("127.0.0.1"));
}

async fn the_warning_lists_exactly_the_clients_that_would_be_refused_and_needs_a_second_step(
    app: TestApp,
) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let rules = "203.0.113.0/24, 10.0.0.0/24";
    let (kid, key) = dashboard_key(
        &app,
        &owner,
        &pid,
        &[
            ("name", "CRM"),
            ("allowed_ips", rules),
            ("expires", "never"),
        ],
    )
    .await;
    let (proxied, usage) = app
        .replica_configured(|s| {
            s.trusted_proxies = callem::config::parse_trusted_proxies("127.0.0.1/32").unwrap()
        })
        .await;
    for (ip, n, status) in [
        ("203.0.113.9", 3, 200),
        ("10.0.0.5", 2, 200),
        ("192.0.2.50", 2, 403),
    ] {
        for _ in 0..n {
            assert_eq!(list_calls_from(&proxied, &key, ip).await, status, "{ip}");
        }
    }
    usage.flush(&app.pool).await.unwrap();
    // Older sightings: one inside the 7 days, one outside.
    let k = kid.clone();
    app.db(move |c| {
        use callem::db::schema::key_usage_client_days as d;
        let today = callem::time::now().date().and_hms_opt(0, 0, 0).unwrap();
        for (ip, days_ago, n) in [("203.0.113.200", 6, 11_204), ("203.0.113.201", 7, 5)] {
            diesel::insert_into(d::table)
                .values((
                    d::key_id.eq(&k),
                    d::ip.eq(ip),
                    d::day.eq(today - Duration::days(days_ago)),
                    d::allowed.eq(n),
                ))
                .execute(c)?;
        }
        Ok(())
    })
    .await;
    let before = stored(&app, &pid, &kid).await;

    let ask = edit_form(&[("name", "CRM"), ("allowed_ips", "10.0.0.0/24")]);
    let r = owner.post_htmx(&edit_path(&pid, &kid), &ask).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        warned(&r.body),
        ["203.0.113.200", "203.0.113.9"],
        "{}",
        r.body
    );
    assert!(r.body.contains(
        "<code>203.0.113.200</code> — 11,204 requests in the last 7 days — would be refused"
    ));
    assert!(r
        .body
        .contains("<code>203.0.113.9</code> — 3 requests in the last 7 days — would be refused"));
    assert!(r.body.contains("Save anyway"));
    assert_eq!(
        stored(&app, &pid, &kid).await.allowed_ips,
        before.allowed_ips,
        "nothing saved"
    );

    // "Save anyway" covers the addresses it was shown, not others a changed rule cuts off.
    let mut wider = edit_form(&[("allowed_ips", "192.0.2.0/24")]);
    wider.push(("acknowledged", "203.0.113.200,203.0.113.9"));
    let r = owner.post_htmx(&edit_path(&pid, &kid), &wider).await;
    assert_eq!(
        warned(&r.body),
        ["203.0.113.200", "203.0.113.9", "10.0.0.5"]
    );
    assert_eq!(
        stored(&app, &pid, &kid).await.allowed_ips,
        before.allowed_ips
    );

    let mut anyway = ask.clone();
    anyway.push(("acknowledged", "203.0.113.200,203.0.113.9"));
    let r = owner.post_htmx(&edit_path(&pid, &kid), &anyway).await;
    assert_eq!(r.status, 200);
    assert!(warned(&r.body).is_empty(), "{}", r.body);
    assert_eq!(stored(&app, &pid, &kid).await.allowed_ips, "10.0.0.0/24");
    assert_eq!(list_calls_from(&proxied, &key, "203.0.113.9").await, 403);
    assert_eq!(list_calls_from(&proxied, &key, "10.0.0.5").await, 200);

    let page = owner.get(&key_path(&pid, &kid)).await;
    assert!(
        page.body
            .contains("Allowed IPs:</span> 203.0.113.0/24, 10.0.0.0/24 → 10.0.0.0/24"),
        "the history shows before → after: {}",
        page.body
    );
}

async fn an_edit_is_validated_like_creation_and_a_no_change_writes_nothing(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (kid, _) = dashboard_key(&app, &owner, &pid, &[("name", "CRM"), ("expires", "30d")]).await;
    let before = stored(&app, &pid, &kid).await;

    let modal = owner.get_htmx(&edit_path(&pid, &kid)).await;
    assert_eq!(modal.status, 200);
    assert!(modal.body.contains(r#"value="CRM""#));
    assert!(modal.body.contains(&format!(
        "Keep: {}",
        callem::time::date_label(before.expires_at.unwrap())
    )));

    let r = owner
        .post_htmx(
            &edit_path(&pid, &kid),
            &edit_form(&[
                ("name", " "),
                ("allowed_ips", "10.0.0.0/99"),
                ("expires", "custom"),
                ("expires_on", "2020-01-01"),
                ("access", "custom"),
                ("calls_access", "none"),
                ("knowledge_access", "none"),
            ]),
        )
        .await;
    assert_eq!(r.status, 200);
    for message in [
        "Name is required.",
        "The expiration date must be after today.",
        "A custom scope must allow calls or knowledge (or both).",
    ] {
        assert!(r.body.contains(message), "missing {message}: {}", r.body);
    }
    assert!(r.body.contains(r#"id="key-ips-error""#));
    let after = stored(&app, &pid, &kid).await;
    assert_eq!(
        (after.name, after.allowed_ips, after.expires_at, after.scope),
        (
            before.name.clone(),
            before.allowed_ips.clone(),
            before.expires_at,
            before.scope
        )
    );

    let r = owner
        .post_htmx(&edit_path(&pid, &kid), &edit_form(&[]))
        .await;
    assert_eq!(
        r.header("x-callem-toast").as_deref(),
        Some("Nothing+changed.")
    );
    assert!(events(&app, &pid, &kid)
        .await
        .iter()
        .all(|e| e.action != "api_key.updated"));

    let r = owner
        .post_htmx(
            &edit_path(&pid, &kid),
            &edit_form(&[("name", "CRM v2"), ("expires", "never")]),
        )
        .await;
    assert!(
        r.body.contains(r#"id="keys-table""#),
        "the list is swapped in"
    );
    let after = stored(&app, &pid, &kid).await;
    assert_eq!((after.name.as_str(), after.expires_at), ("CRM v2", None));

    let developer = app
        .user_with_role(&pid, "dev@example.com", "developer")
        .await;
    developer.get(&keys_path(&pid)).await;
    let r = developer
        .post_htmx(&edit_path(&pid, &kid), &edit_form(&[("name", "Mine now")]))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(stored(&app, &pid, &kid).await.name, "CRM v2");
}

fn roll_path(pid: &str, kid: &str) -> String {
    format!("{}/roll", key_path(pid, kid))
}

/// How far `at` is from `now + expected` (rolls are stamped with the server's clock).
fn off_by(at: NaiveDateTime, expected: Duration) -> Duration {
    (at - (callem::time::now() + expected)).abs()
}

async fn a_roll_keeps_the_old_key_until_its_overlap_ends_and_the_new_one_works_at_once(
    app: TestApp,
) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    for (overlap, length) in [
        ("0", Duration::zero()),
        ("1h", Duration::hours(1)),
        ("24h", Duration::hours(24)),
        ("7d", Duration::days(7)),
    ] {
        let (old_id, old) = dashboard_key(
            &app,
            &owner,
            &pid,
            &[
                ("name", "Warehouse"),
                ("allowed_ips", "127.0.0.1, 10.0.0.0/24"),
                ("expires", "never"),
            ],
        )
        .await;
        let r = owner
            .post_htmx(
                &roll_path(&pid, &old_id),
                &[("overlap", overlap), ("expires", "keep")],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
        assert!(
            r.body.contains("API key rolled") && r.body.contains("It will not be shown again.")
        );
        let new = revealed_key(&r.body);
        assert_ne!(new, old);

        assert_eq!(
            app.list_calls(&new, "").await.status,
            200,
            "the new key works at once"
        );
        let old_row = stored(&app, &pid, &old_id).await;
        let new_id = old_row
            .replaced_by
            .clone()
            .expect("replaced_by is set")
            .into_string();
        let new_row = stored(&app, &pid, &new_id).await;
        assert_eq!(
            (
                new_row.name.as_str(),
                new_row.allowed_ips.as_str(),
                new_row.scope
            ),
            ("Warehouse", old_row.allowed_ips.as_str(), old_row.scope)
        );
        assert_eq!(new_row.expires_at, None, "the old key never expired");
        assert!(off_by(old_row.expires_at.unwrap(), length) < Duration::seconds(10));

        if overlap == "0" {
            let r = app.list_calls(&old, "").await;
            assert_eq!(api_error(&r), (401, "API key has expired".to_owned()));
            assert!(r.body.len() < 80);
        } else {
            assert_eq!(
                app.list_calls(&old, "").await.status,
                200,
                "{overlap}: still works"
            );
            let page = owner.get(&keys_path(&pid)).await;
            let label = callem::domain::key_change::stops_in(
                old_row.expires_at.unwrap() - callem::time::now(),
            );
            assert!(
                page.body.contains(&format!("Rolling · {label}")),
                "{overlap}: {label}"
            );
            // The overlap ends (as if the time had come).
            let k = old_id.clone();
            app.db(move |c| {
                diesel::update(api_keys::table.find(&k))
                    .set(api_keys::expires_at.eq(Some(callem::time::now() - Duration::seconds(1))))
                    .execute(c)?;
                Ok(())
            })
            .await;
            let r = app.list_calls(&old, "").await;
            assert_eq!(api_error(&r), (401, "API key has expired".to_owned()));
        }
        assert_eq!(app.list_calls(&new, "").await.status, 200);
        for id in [&old_id, &new_id] {
            let rolled: Vec<_> = events(&app, &pid, id)
                .await
                .into_iter()
                .filter(|e| e.action == "api_key.rolled")
                .collect();
            assert_eq!(rolled.len(), 1, "api_key.rolled on both keys");
            assert_eq!(rolled[0].ip.as_deref(), Some("127.0.0.1"));
        }
    }
}

async fn a_rolled_key_with_an_expiry_gets_as_long_and_the_earlier_end_wins(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (old_id, _) =
        dashboard_key(&app, &owner, &pid, &[("name", "Dated"), ("expires", "30d")]).await;
    let old_before = stored(&app, &pid, &old_id).await;
    let lifetime = old_before.expires_at.unwrap() - old_before.created_at;
    // The modal shows the new key's expiry before it is made: as long after today as the
    // old one had, as a date the admin can change, or "Keep" the old key's own.
    let modal = owner.get_htmx(&roll_path(&pid, &old_id)).await;
    let prefilled = (callem::time::now() + lifetime).date().to_string();
    assert!(
        modal.body.contains(r#"name="expires_on" type="date""#)
            && modal.body.contains(&format!(r#"value="{prefilled}""#))
            && modal.body.contains(r#"<option value="custom" selected>"#),
        "{}",
        modal.body
    );
    let old_date = callem::time::date_label(old_before.expires_at.unwrap());
    assert!(modal.body.contains(&format!("Keep: {old_date}")));
    // A bad date is refused next to the field, and no key is made.
    let keys_before = count_rows(&app, "api_keys").await;
    let r = owner
        .post_htmx(
            &roll_path(&pid, &old_id),
            &[
                ("overlap", "7d"),
                ("expires", "custom"),
                ("expires_on", "2001-01-01"),
            ],
        )
        .await;
    assert!(r.body.contains(r#"id="key-expires-error""#), "{}", r.body);
    assert!(!r.body.contains("API key rolled"));
    assert_eq!(count_rows(&app, "api_keys").await, keys_before);
    // The roll uses exactly the date submitted (it works until the end of that day, UTC).
    let chosen = (callem::time::now() + Duration::days(45)).date();
    let r = owner
        .post_htmx(
            &roll_path(&pid, &old_id),
            &[
                ("overlap", "7d"),
                ("expires", "custom"),
                ("expires_on", &chosen.to_string()),
            ],
        )
        .await;
    revealed_key(&r.body);
    let old = stored(&app, &pid, &old_id).await;
    let new = stored(&app, &pid, old.replaced_by.as_ref().unwrap().as_str()).await;
    assert_eq!(
        new.expires_at
            .map(|t| (t.date(), t.format("%H:%M:%S").to_string())),
        Some((chosen, "23:59:59".to_owned()))
    );
    // "Keep" gives the new key the old key's expiry, unchanged (a contract's end).
    let (kept_id, _) = dashboard_key(
        &app,
        &owner,
        &pid,
        &[("name", "Contract"), ("expires", "60d")],
    )
    .await;
    let contract_end = stored(&app, &pid, &kept_id).await.expires_at;
    let r = owner
        .post_htmx(
            &roll_path(&pid, &kept_id),
            &[("overlap", "1h"), ("expires", "keep")],
        )
        .await;
    assert!(r.body.contains("API key rolled"), "{}", r.body);
    revealed_key(&r.body);
    let kept_new = stored(&app, &pid, &kept_id).await.replaced_by.unwrap();
    assert_eq!(
        stored(&app, &pid, kept_new.as_str()).await.expires_at,
        contract_end
    );
    assert!(off_by(old.expires_at.unwrap(), Duration::days(7)) < Duration::seconds(10));

    // A key that expires before the overlap would end keeps its own expiry.
    let (soon_id, _) = dashboard_key(
        &app,
        &owner,
        &pid,
        &[("name", "Soon"), ("expires", "never")],
    )
    .await;
    let soon_at = callem::time::now() + Duration::hours(2);
    let k = soon_id.clone();
    app.db(move |c| {
        diesel::update(api_keys::table.find(&k))
            .set(api_keys::expires_at.eq(Some(soon_at)))
            .execute(c)?;
        Ok(())
    })
    .await;
    let r = owner
        .post_htmx(
            &roll_path(&pid, &soon_id),
            &[("overlap", "24h"), ("expires", "keep")],
        )
        .await;
    // The roll happened (an unchanged expiry alone would also pass if it had been refused).
    assert!(r.body.contains("API key rolled"), "{}", r.body);
    let new_secret = revealed_key(&r.body);
    let soon = stored(&app, &pid, &soon_id).await;
    assert_eq!(soon.expires_at, Some(soon_at));
    let soon_new = soon.replaced_by.expect("the old key names its replacement");
    // "Keep" gives the replacement the same end, and it works at once.
    assert_eq!(
        stored(&app, &pid, soon_new.as_str()).await.expires_at,
        Some(soon_at)
    );
    assert_eq!(app.list_calls(&new_secret, "").await.status, 200);
}

async fn an_expired_revoked_or_already_rolled_key_cannot_be_rolled(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (expired, _) =
        dashboard_key(&app, &owner, &pid, &[("name", "Old"), ("expires", "never")]).await;
    let k = expired.clone();
    app.db(move |c| {
        diesel::update(api_keys::table.find(&k))
            .set(api_keys::expires_at.eq(Some(callem::time::now() - Duration::seconds(1))))
            .execute(c)?;
        Ok(())
    })
    .await;
    let (revoked, _) = dashboard_key(
        &app,
        &owner,
        &pid,
        &[("name", "Gone"), ("expires", "never")],
    )
    .await;
    owner.revoke_key(&pid, &revoked).await;
    let (rolled, _) = dashboard_key(
        &app,
        &owner,
        &pid,
        &[("name", "Twice"), ("expires", "never")],
    )
    .await;
    owner
        .post_htmx(
            &roll_path(&pid, &rolled),
            &[("overlap", "24h"), ("expires", "keep")],
        )
        .await;
    let (fine, _) = dashboard_key(
        &app,
        &owner,
        &pid,
        &[("name", "Fine"), ("expires", "never")],
    )
    .await;
    let keys_before = count_rows(&app, "api_keys").await;

    for (kid, message) in [
        (
            &expired,
            "An expired key cannot be rolled: create a new key instead.",
        ),
        (
            &rolled,
            "This key was already rolled: roll its replacement instead.",
        ),
    ] {
        let r = owner
            .post_htmx(
                &roll_path(&pid, kid),
                &[("overlap", "1h"), ("expires", "keep")],
            )
            .await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains(message), "{}", r.body);
        assert!(!r.body.contains("ck_live_"), "no key revealed");
    }
    assert_eq!(
        owner
            .post_htmx(
                &roll_path(&pid, &revoked),
                &[("overlap", "1h"), ("expires", "keep")]
            )
            .await
            .status,
        404
    );
    assert_eq!(owner.get_htmx(&roll_path(&pid, &revoked)).await.status, 404);
    let r = owner
        .post_htmx(
            &roll_path(&pid, &fine),
            &[("overlap", "2h"), ("expires", "keep")],
        )
        .await;
    assert!(
        r.body
            .contains("&#39;2h&#39; is not an overlap: use 0, 1h, 24h or 7d."),
        "{}",
        r.body
    );
    assert_eq!(
        count_rows(&app, "api_keys").await,
        keys_before,
        "no key was made"
    );

    let list = owner.get(&keys_path(&pid)).await;
    let roll_items = list.body.matches("/roll\"").count();
    assert_eq!(
        roll_items, 2,
        "only the active keys not rolled yet offer Roll: {}",
        list.body
    );

    let (code, out, err) = run_callem(
        app.db.url(),
        &["keys", "roll", "--project", &pid, &expired],
        None,
    );
    assert_ne!(code, 0);
    assert!(out.is_empty());
    assert!(err.contains("An expired key cannot be rolled"), "{err}");
}

async fn stop_now_and_extend_answer_is_it_safe_to_stop(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (old_id, old) =
        dashboard_key(&app, &owner, &pid, &[("name", "CRM"), ("expires", "never")]).await;
    for _ in 0..2 {
        app.list_calls(&old, "").await;
    }
    app.flush_usage().await;
    let r = owner
        .post_htmx(
            &format!("{}?from=page", roll_path(&pid, &old_id)),
            &[("overlap", "24h"), ("expires", "keep")],
        )
        .await;
    let new = revealed_key(&r.body);
    assert!(
        r.body
            .contains(&format!(r#"href="{}""#, key_path(&pid, &old_id))),
        "Done goes back to the page"
    );

    let page = owner.get(&key_path(&pid, &old_id)).await;
    assert!(page.body.contains("Is it safe to stop it now?"));
    assert!(
        page.body.contains("No request since the roll."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Rolling · stops in 23 h"));

    for _ in 0..3 {
        assert_eq!(app.list_calls(&old, "").await.status, 200);
    }
    app.flush_usage().await;
    let page = owner.get(&key_path(&pid, &old_id)).await;
    assert!(
        page.body
            .contains("<strong>3 requests since the roll</strong>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("from <code>127.0.0.1</code>"));

    let before = stored(&app, &pid, &old_id).await.expires_at.unwrap();
    let r = owner
        .post_htmx(&format!("{}/extend", key_path(&pid, &old_id)), &[])
        .await;
    assert_eq!(r.header("hx-redirect"), Some(key_path(&pid, &old_id)));
    assert_eq!(
        stored(&app, &pid, &old_id).await.expires_at,
        Some(before + Duration::hours(24))
    );
    assert!(owner
        .get(&key_path(&pid, &old_id))
        .await
        .body
        .contains("Rolling · stops in 47 h"));

    // Stop now asks first, repeating what the panel says of the traffic.
    let confirm = owner
        .get_htmx(&format!("{}/stop", key_path(&pid, &old_id)))
        .await;
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.body.contains("Stop the old key now?")
            && confirm
                .body
                .contains("<strong>3 requests since the roll</strong>")
            && confirm.body.contains("from <code>127.0.0.1</code>"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains(r#"data-testid="confirm-stop""#));
    assert_eq!(
        stored(&app, &pid, &old_id).await.expires_at,
        Some(before + Duration::hours(24)),
        "asking changes nothing"
    );
    let r = owner
        .post_htmx(&format!("{}/stop", key_path(&pid, &old_id)), &[])
        .await;
    assert!(r.header("x-callem-toast").unwrap().contains("stopped"));
    let r = app.list_calls(&old, "").await;
    assert_eq!(api_error(&r), (401, "API key has expired".to_owned()));
    assert_eq!(app.list_calls(&new, "").await.status, 200);
    let page = owner.get(&key_path(&pid, &old_id)).await;
    assert!(!page.body.contains("Is it safe to stop it now?"));
    assert!(page.body.contains(">Expired<"));

    // Once stopped (or on a key never rolled), Stop and Extend change nothing.
    let stopped_at = stored(&app, &pid, &old_id).await.expires_at;
    let new_id = stored(&app, &pid, &old_id)
        .await
        .replaced_by
        .unwrap()
        .into_string();
    for kid in [&old_id, &new_id] {
        let r = owner
            .post_htmx(&format!("{}/extend", key_path(&pid, kid)), &[])
            .await;
        assert!(
            r.header("x-callem-toast").unwrap().contains("overlap"),
            "{r:?}"
        );
    }
    assert_eq!(stored(&app, &pid, &old_id).await.expires_at, stopped_at);
    assert_eq!(stored(&app, &pid, &new_id).await.expires_at, None);
    let updates = events(&app, &pid, &old_id)
        .await
        .into_iter()
        .filter(|e| e.action == "api_key.updated")
        .count();
    assert_eq!(updates, 1, "the extension is an update");
    let stops = events(&app, &pid, &old_id)
        .await
        .into_iter()
        .filter(|e| e.action == "api_key.stopped")
        .count();
    assert_eq!(stops, 1, "stopping is its own event");
    let page = owner.get(&key_path(&pid, &old_id)).await;
    assert!(
        page.body.contains("Stopped the old key"),
        "the key's history says it"
    );
    let log = owner
        .get(&format!("/projects/{pid}/settings/audit-log"))
        .await;
    assert!(log.body.contains("stopped the old key"), "{}", log.body);
    // Once stopped, the confirmation says why nothing can be stopped.
    let confirm = owner
        .get_htmx(&format!("{}/stop", key_path(&pid, &old_id)))
        .await;
    assert!(
        confirm
            .body
            .contains("not in a roll&#39;s overlap any more"),
        "{}",
        confirm.body
    );
    assert!(!confirm.body.contains("confirm-stop"));
}

async fn a_rolled_key_is_shown_once_and_stored_or_printed_nowhere(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (old_id, _) =
        dashboard_key(&app, &owner, &pid, &[("name", "CRM"), ("expires", "never")]).await;
    let r = owner
        .post_htmx(
            &roll_path(&pid, &old_id),
            &[("overlap", "1h"), ("expires", "keep")],
        )
        .await;
    let new = revealed_key(&r.body);
    let new_id = stored(&app, &pid, &old_id)
        .await
        .replaced_by
        .unwrap()
        .into_string();
    app.list_calls(&new, "").await;
    app.flush_usage().await;

    let url = app.db.url().to_owned();
    let (code, cli_key, err) = run_callem(
        &url,
        &["keys", "roll", "--project", &pid, &new_id, "--overlap", "0"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let cli_key = cli_key.trim().to_owned();
    assert!(
        callem::domain::api_key::is_well_formed(&cli_key),
        "the new key alone on stdout"
    );
    assert!(!err.contains(&cli_key[12..]), "{err}");
    assert!(err.contains("rolled") && err.contains(&new_id), "{err}");
    assert_eq!(app.list_calls(&cli_key, "").await.status, 200);
    assert_eq!(
        app.list_calls(&new, "").await.status,
        401,
        "overlap 0 from the command line"
    );

    let everything = app.db(|c| Ok(dump_all_tables(c))).await;
    for key in [&new, &cli_key] {
        assert!(!everything.contains(&key[12..]), "stored nowhere");
        for path in [
            keys_path(&pid),
            key_path(&pid, &old_id),
            key_path(&pid, &new_id),
        ] {
            assert!(!owner.get(&path).await.body.contains(&key[12..]), "{path}");
        }
        assert!(owner
            .cookie()
            .map(|c| !c.contains(&key[12..]))
            .unwrap_or(true));
    }
    let (code, _, err) = run_callem(
        &url,
        &[
            "keys",
            "roll",
            "--project",
            &pid,
            &old_id,
            "--overlap",
            "2h",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("--overlap: '2h' is not an overlap: use 0, 1h, 24h or 7d."),
        "{err}"
    );
}

/// The row of the keys list for `kid`.
fn list_row<'a>(page: &'a str, kid: &str) -> &'a str {
    let start = page
        .find(&format!(r#"<tr id="key-{kid}""#))
        .unwrap_or_else(|| panic!("no row for {kid}: {page}"));
    let end = page[start..].find("</tr>").unwrap() + start;
    &page[start..end]
}

async fn a_replaced_key_cannot_be_given_a_new_expiry_after_or_during_its_overlap_but_can_be_renamed(
    app: TestApp,
) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (old_id, old) =
        dashboard_key(&app, &owner, &pid, &[("name", "CRM"), ("expires", "never")]).await;
    let r = owner
        .post_htmx(
            &roll_path(&pid, &old_id),
            &[("overlap", "24h"), ("expires", "keep")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // During the overlap: Stop now and Extend decide when it stops, not a new expiry.
    let modal = owner
        .get_htmx(&format!("{}?from=page", edit_path(&pid, &old_id)))
        .await;
    assert!(modal.body.contains(r#"data-testid="expiry-locked""#));
    assert!(
        !modal.body.contains(r#"id="key-expires""#),
        "no expiry choices"
    );
    assert!(modal.body.contains("Stop now or Extend"), "{}", modal.body);
    let rolling_until = stored(&app, &pid, &old_id).await.expires_at;
    let r = owner
        .post_htmx(
            &edit_path(&pid, &old_id),
            &edit_form(&[("expires", "never")]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains(r#"id="key-expires-error""#), "{}", r.body);
    assert_eq!(stored(&app, &pid, &old_id).await.expires_at, rolling_until);

    let r = owner
        .post_htmx(&format!("{}/stop", key_path(&pid, &old_id)), &[])
        .await;
    assert!(r.header("x-callem-toast").unwrap().contains("stopped"));
    let stopped_at = stored(&app, &pid, &old_id).await.expires_at;
    assert_eq!(
        api_error(&app.list_calls(&old, "").await),
        (401, "API key has expired".to_owned())
    );

    // After Stop now: the modal offers no expiry and says why.
    let modal = owner.get_htmx(&edit_path(&pid, &old_id)).await;
    assert!(modal.body.contains(r#"data-testid="expiry-locked""#));
    assert!(
        !modal.body.contains(r#"id="key-expires""#),
        "no expiry choices"
    );
    assert!(
        modal.body.contains("its overlap has ended"),
        "{}",
        modal.body
    );
    assert!(modal.body.contains(r#"name="expires" value="keep""#));

    // Every expiry choice is refused next to the Expiration field; nothing is saved.
    for choice in [
        &[("expires", "never")][..],
        &[("expires", "30d")],
        &[("expires", "custom"), ("expires_on", "2099-01-01")],
    ] {
        let r = owner
            .post_htmx(&edit_path(&pid, &old_id), &edit_form(choice))
            .await;
        assert_eq!(r.status, 200);
        assert!(
            r.body.contains(
                r#"<p class="field-error" id="key-expires-error">This key was replaced by a roll and its overlap has ended: it cannot be given a new expiry."#
            ),
            "{choice:?}: {}",
            r.body
        );
        assert_eq!(stored(&app, &pid, &old_id).await.expires_at, stopped_at);
        assert_eq!(
            api_error(&app.list_calls(&old, "").await),
            (401, "API key has expired".to_owned()),
            "{choice:?}"
        );
    }
    let list = owner.get(&keys_path(&pid)).await.body;
    let row = list_row(&list, &old_id);
    assert!(row.contains(">Expired<"), "{row}");
    assert!(!row.contains("Rolling"), "{row}");

    // Any other path to the same write meets the same rule.
    let (p, k) = (project(&pid), KeyId::parse(&old_id).unwrap());
    let refused = app
        .db(move |c| {
            let by = callem::domain::actor::Actor::command_line();
            Ok(
                match db::api_keys::update(c, &p, &k, &by, callem::time::now(), |s| {
                    callem::domain::key_change::KeySettings {
                        expires_at: None,
                        ..s.clone()
                    }
                })? {
                    db::api_keys::KeyChange::Refused(why) => Some(why),
                    _ => None,
                },
            )
        })
        .await;
    assert!(refused.is_some_and(|why| why.contains("cannot be given a new expiry")));
    assert_eq!(stored(&app, &pid, &old_id).await.expires_at, stopped_at);

    // Renaming stays possible, and brings nothing back.
    let r = owner
        .post_htmx(
            &edit_path(&pid, &old_id),
            &edit_form(&[("name", "CRM (replaced)")]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("x-callem-toast").unwrap().contains("Name"),
        "{r:?}"
    );
    let k = stored(&app, &pid, &old_id).await;
    assert_eq!(
        (k.name.as_str(), k.expires_at),
        ("CRM (replaced)", stopped_at)
    );
    assert_eq!(app.list_calls(&old, "").await.status, 401);
    let list = owner.get(&keys_path(&pid)).await.body;
    assert!(list_row(&list, &old_id).contains(">Expired<"));
}

/// A request to `/v1/calls` through the trusted proxy at 127.0.0.1 with no client address.
async fn list_calls_with_no_address(base: &str, key: &str) -> u16 {
    Agent::new(base)
        .send(
            "GET",
            "/v1/calls",
            &[("authorization", format!("Bearer {key}"))],
            None,
        )
        .await
        .status
}

async fn clients_behind_a_proxy_that_sent_no_address_are_in_the_warning_and_its_acknowledgement(
    app: TestApp,
) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (kid, key) =
        dashboard_key(&app, &owner, &pid, &[("name", "CRM"), ("expires", "never")]).await;
    let (proxied, usage) = app
        .replica_configured(|s| {
            s.trusted_proxies = callem::config::parse_trusted_proxies("127.0.0.1/32").unwrap()
        })
        .await;
    for _ in 0..3 {
        assert_eq!(list_calls_with_no_address(&proxied, &key).await, 200);
    }
    assert_eq!(list_calls_from(&proxied, &key, "10.0.0.5").await, 200);
    usage.flush(&app.pool).await.unwrap();

    let ask = edit_form(&[("allowed_ips", "10.0.0.0/24")]);
    let r = owner.post_htmx(&edit_path(&pid, &kid), &ask).await;
    assert_eq!(r.status, 200);
    assert_eq!(warned(&r.body), ["unknown"], "{}", r.body);
    assert!(
        r.body.contains(
            "clients behind the proxy that sent no address — 3 requests in the last 7 days"
        ),
        "{}",
        r.body
    );
    assert!(r.body.contains(r#"name="acknowledged" value="unknown""#));
    assert_eq!(
        stored(&app, &pid, &kid).await.allowed_ips,
        "",
        "nothing saved"
    );

    // An acknowledgement that leaves them out does not cover them.
    let mut partly = ask.clone();
    partly.push(("acknowledged", "10.0.0.5"));
    let r = owner.post_htmx(&edit_path(&pid, &kid), &partly).await;
    assert_eq!(warned(&r.body), ["unknown"]);
    assert_eq!(stored(&app, &pid, &kid).await.allowed_ips, "");

    let mut anyway = ask.clone();
    anyway.push(("acknowledged", "unknown"));
    let r = owner.post_htmx(&edit_path(&pid, &kid), &anyway).await;
    assert!(warned(&r.body).is_empty(), "{}", r.body);
    assert_eq!(stored(&app, &pid, &kid).await.allowed_ips, "10.0.0.0/24");
    assert_eq!(list_calls_with_no_address(&proxied, &key).await, 403);
    assert_eq!(list_calls_from(&proxied, &key, "10.0.0.5").await, 200);
    let page = owner.get(&key_path(&pid, &kid)).await.body;
    assert!(
        page.contains("<code>unknown</code> <span class=\"badge badge-danger\""),
        "the key page marks them refused by the rules too: {page}"
    );
}

/// The kinds of operation the edit modal's access warning lists.
fn kinds_warned(body: &str) -> Vec<String> {
    let re = regex_lite::Regex::new(r#"<li data-need="([^"]+)">"#).unwrap();
    re.captures_iter(body).map(|c| c[1].to_owned()).collect()
}

async fn a_narrower_access_warns_of_the_operations_of_the_last_7_days_it_would_refuse(
    app: TestApp,
) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (kid, key) =
        dashboard_key(&app, &owner, &pid, &[("name", "CRM"), ("expires", "never")]).await;
    for _ in 0..3 {
        assert_eq!(app.list_calls(&key, "").await.status, 200);
    }
    for _ in 0..2 {
        assert_eq!(app.delete_call(&key, "call_missing").await.status, 404);
    }
    let missing_knowledge = "000000000000000000000000";
    assert_eq!(
        app.delete_knowledge(&key, missing_knowledge).await.status,
        404
    );
    app.flush_usage().await;

    let read_only = edit_form(&[("access", "read")]);
    let r = owner.post_htmx(&edit_path(&pid, &kid), &read_only).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        kinds_warned(&r.body),
        ["calls:delete", "knowledge:write"],
        "{}",
        r.body
    );
    assert!(r
        .body
        .contains("2 calls delete requests in the last 7 days would be refused"));
    assert!(r
        .body
        .contains("1 knowledge write request in the last 7 days would be refused"));
    assert!(r.body.contains("Save anyway"));
    assert!(warned(&r.body).is_empty(), "no address is cut off");
    assert_eq!(stored(&app, &pid, &kid).await.scope.as_str(), "full");

    // "Save anyway" covers the kinds it was shown: a scope that also refuses reads warns again.
    let mut knowledge_only = edit_form(&[
        ("access", "custom"),
        ("calls_access", "none"),
        ("knowledge_access", "write"),
    ]);
    knowledge_only.push(("acknowledged", "calls:delete,knowledge:write"));
    let r = owner
        .post_htmx(&edit_path(&pid, &kid), &knowledge_only)
        .await;
    assert_eq!(kinds_warned(&r.body), ["calls:read", "calls:delete"]);
    assert!(r
        .body
        .contains("3 calls read requests in the last 7 days would be refused"));
    assert_eq!(stored(&app, &pid, &kid).await.scope.as_str(), "full");

    let mut anyway = read_only.clone();
    anyway.push(("acknowledged", "calls:delete,knowledge:write"));
    let r = owner.post_htmx(&edit_path(&pid, &kid), &anyway).await;
    assert_eq!(r.status, 200);
    assert!(kinds_warned(&r.body).is_empty(), "{}", r.body);
    assert_eq!(stored(&app, &pid, &kid).await.scope.as_str(), "read");
    assert_eq!(app.delete_call(&key, "call_missing").await.status, 403);
    assert_eq!(app.list_calls(&key, "").await.status, 200);

    // Only allowed requests count by kind: the refused delete is of none.
    app.flush_usage().await;
    let k = KeyId::parse(&kid).unwrap();
    let (by_kind, unknown) = app
        .db(move |c| {
            let since = callem::time::now() - Duration::days(6);
            Ok(db::key_usage::allowed_by_operation_since(c, &k, since)?)
        })
        .await;
    let [calls_read, calls_write, calls_delete, knowledge_read, knowledge_write] =
        by_kind.by_need();
    assert_eq!(
        [
            calls_read.1,
            calls_write.1,
            calls_delete.1,
            knowledge_read.1,
            knowledge_write.1,
            unknown
        ],
        [4, 0, 2, 0, 1, 0]
    );
}

async fn usage_counted_before_operation_kinds_were_never_warns_of_a_narrower_access(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (kid, _) =
        dashboard_key(&app, &owner, &pid, &[("name", "CRM"), ("expires", "never")]).await;
    // A row as the flush wrote it before kinds were counted: allowed requests, no kind.
    let k = kid.clone();
    app.db(move |c| {
        use callem::db::schema::key_usage_client_days as d;
        let today = callem::time::now().date().and_hms_opt(0, 0, 0).unwrap();
        diesel::insert_into(d::table)
            .values((
                d::key_id.eq(&k),
                d::ip.eq("203.0.113.9"),
                d::day.eq(today - Duration::days(1)),
                d::allowed.eq(1_204),
            ))
            .execute(c)?;
        Ok(())
    })
    .await;

    let r = owner
        .post_htmx(&edit_path(&pid, &kid), &edit_form(&[("access", "read")]))
        .await;
    assert_eq!(r.status, 200);
    assert!(kinds_warned(&r.body).is_empty(), "{}", r.body);
    assert!(!r.body.contains("Save anyway"));
    assert_eq!(stored(&app, &pid, &kid).await.scope.as_str(), "read");
}

crate::on_both_backends!(
    an_edit_applies_to_the_very_next_request_on_every_server,
    the_warning_lists_exactly_the_clients_that_would_be_refused_and_needs_a_second_step,
    an_edit_is_validated_like_creation_and_a_no_change_writes_nothing,
    a_roll_keeps_the_old_key_until_its_overlap_ends_and_the_new_one_works_at_once,
    a_rolled_key_with_an_expiry_gets_as_long_and_the_earlier_end_wins,
    an_expired_revoked_or_already_rolled_key_cannot_be_rolled,
    stop_now_and_extend_answer_is_it_safe_to_stop,
    a_rolled_key_is_shown_once_and_stored_or_printed_nowhere,
    a_replaced_key_cannot_be_given_a_new_expiry_after_or_during_its_overlap_but_can_be_renamed,
    clients_behind_a_proxy_that_sent_no_address_are_in_the_warning_and_its_acknowledgement,
    a_narrower_access_warns_of_the_operations_of_the_last_7_days_it_would_refuse,
    usage_counted_before_operation_kinds_were_never_warns_of_a_narrower_access,
    after_a_roll_both_keys_are_named_by_their_prefix_and_linked_everywhere,
    only_owners_and_admins_may_ask_to_stop_a_rolling_key
);

async fn after_a_roll_both_keys_are_named_by_their_prefix_and_linked_everywhere(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (old_id, old) = dashboard_key(
        &app,
        &owner,
        &pid,
        &[("name", "Production CRM"), ("expires", "never")],
    )
    .await;
    let r = owner
        .post_htmx(
            &roll_path(&pid, &old_id),
            &[("overlap", "24h"), ("expires", "keep")],
        )
        .await;
    let new = revealed_key(&r.body);
    let new_id = stored(&app, &pid, &old_id)
        .await
        .replaced_by
        .unwrap()
        .into_string();
    owner.revoke_key(&pid, &old_id).await;
    let (old_short, new_short) = (format!("{}••••", &old[..12]), format!("{}••••", &new[..12]));
    let link = |id: &str| format!(r#"href="{}""#, key_path(&pid, id));

    // The audit log: each event names its key by name and prefix, links to its page, and the
    // roll's details name the other key by its prefix, never by its internal id.
    let log = owner
        .get(&format!("/projects/{pid}/settings/audit-log"))
        .await;
    assert!(
        log.body.contains(&format!("Production CRM ({old_short})")),
        "{}",
        log.body
    );
    assert!(log.body.contains(&format!("Production CRM ({new_short})")));
    assert!(log.body.contains(&link(&old_id)) && log.body.contains(&link(&new_id)));
    for id in [&old_id, &new_id] {
        assert!(
            !log.body.contains(&format!(">{id}<")) && !log.body.contains(&format!(" {id}")),
            "no raw id shown: {id}"
        );
    }
    assert!(log.body.contains("Replaced by:") && log.body.contains("Replaces:"));
    // The download's sentence too.
    let csv = owner
        .get(&format!("/projects/{pid}/settings/audit-log/export.csv"))
        .await;
    assert!(
        csv.body
            .contains(&format!("revoked the API key Production CRM ({old_short})")),
        "{}",
        csv.body
    );

    // Both keys' pages say which key replaced which, linked.
    let old_page = owner.get(&key_path(&pid, &old_id)).await;
    assert!(old_page.body.contains("Replaced by") && old_page.body.contains(&new_short));
    assert!(old_page.body.contains(&link(&new_id)));
    assert!(
        !old_page.body.contains(&format!(">{new_id}<")),
        "no raw id in the history"
    );
    let new_page = owner.get(&key_path(&pid, &new_id)).await;
    assert!(new_page.body.contains("Replaces") && new_page.body.contains(&old_short));
    assert!(new_page.body.contains(&link(&old_id)));

    // And the list's rows (the revoked key in the revoked list).
    let list = owner.get(&keys_path(&pid)).await;
    assert!(list.body.contains(r#"data-testid="row-replaces""#) && list.body.contains(&old_short));
    let revoked = owner
        .get(&format!("{}?show=revoked", keys_path(&pid)))
        .await;
    assert!(
        revoked.body.contains(r#"data-testid="row-replaced-by""#)
            && revoked.body.contains(&new_short),
        "{}",
        revoked.body
    );
}

async fn only_owners_and_admins_may_ask_to_stop_a_rolling_key(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&keys_path(&pid)).await;
    let (old_id, _) =
        dashboard_key(&app, &owner, &pid, &[("name", "CRM"), ("expires", "never")]).await;
    owner
        .post_htmx(
            &roll_path(&pid, &old_id),
            &[("overlap", "24h"), ("expires", "keep")],
        )
        .await;
    for role in ["developer", "member"] {
        let agent = app
            .user_with_role(&pid, &format!("{role}@example.com"), role)
            .await;
        let page = agent.get(&key_path(&pid, &old_id)).await;
        assert!(!page.body.contains("stop-now"), "{role}");
        assert!(
            page.body
                .contains("Only Owners and Admins can stop or extend a roll."),
            "{role}: {}",
            page.body
        );
        let r = agent
            .get_htmx(&format!("{}/stop", key_path(&pid, &old_id)))
            .await;
        assert_eq!(r.status, 403, "{role}");
        assert!(!r.body.contains("Stop the old key now?"));
    }
}

/// The server's own log (a real `callem serve`, at debug level) never holds a rolled key.
#[actix_web::test]
async fn a_rolled_key_never_reaches_the_servers_log() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("roll.db").display());
    let (code, pid, err) = run_callem(&url, &["project", "create", "--name", "Logged"], None);
    assert_eq!(code, 0, "{err}");
    let pid = pid.trim().to_owned();
    run_callem(
        &url,
        &[
            "user",
            "create",
            "--email",
            "owner@example.com",
            "--project",
            &pid,
            "--role",
            "owner",
        ],
        Some("a long enough password\n"),
    );
    let (_, old, _) = run_callem(
        &url,
        &["keys", "create", "--project", &pid, "--name", "CRM"],
        None,
    );
    let served = Served::start(&url, &[("RUST_LOG", "debug")]);
    let owner = Agent::new(&served.base);
    owner
        .login("owner@example.com", "a long enough password")
        .await;
    owner.get(&keys_path(&pid)).await;
    let (_, list, _) = run_callem(&url, &["keys", "list", "--project", &pid], None);
    let old_id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(!list.contains(&old.trim()[12..]));
    let r = owner
        .post_htmx(
            &roll_path(&pid, &old_id),
            &[("overlap", "1h"), ("expires", "keep")],
        )
        .await;
    let new = revealed_key(&r.body);
    let a = Agent::new(&served.base);
    assert_eq!(
        a.send(
            "GET",
            "/v1/calls",
            &[("authorization", format!("Bearer {new}"))],
            None
        )
        .await
        .status,
        200
    );
    let log = served.log_settled().await;
    assert!(log.contains("API key rolled"), "the roll is logged: {log}");
    assert!(!log.contains(&new[12..]), "the new key is never logged");
}
