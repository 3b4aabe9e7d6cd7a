//! First-run setup, sign-in, sign-out, sessions and CSRF.

use crate::helpers::*;
use callem::db;

async fn a_fresh_install_sends_everyone_to_setup(app: TestApp) {
    let a = app.agent();
    let r = a.get("/").await;
    assert_eq!((r.status, r.location().as_str()), (303, "/setup"));
    assert_eq!(a.get("/login").await.location(), "/setup");
    let page = a.get(&app.setup_link()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Create owner and project"));
}

async fn setup_refuses_bad_input_next_to_each_field_and_stores_nothing(app: TestApp) {
    let a = app.agent();
    a.get(&app.setup_link()).await;
    let token = app.setup_token();
    let r = a
        .post_form(
            "/setup",
            &[
                ("setup_token", token),
                ("email", "not-an-email"),
                ("password", "short"),
                ("project_name", "  "),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body
            .contains(r#"id="email-error">Enter an email address like name@example.com."#),
        "{}",
        r.body
    );
    assert!(r
        .body
        .contains(r#"id="password-error">Password must be at least 12 characters."#));
    assert!(r
        .body
        .contains(r#"id="project-error">Project name is required."#));
    assert!(
        r.body.contains(r#"value="not-an-email""#),
        "the email is kept"
    );
    assert!(!r.body.contains("short"), "the password is never echoed");

    let long = "x".repeat(101);
    let r = a
        .post_form(
            "/setup",
            &[
                ("setup_token", token),
                ("email", ""),
                ("password", PASSWORD),
                ("project_name", &long),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Email is required."));
    assert!(r
        .body
        .contains("Project name must be at most 100 characters."));
    assert!(r.body.contains(&format!(r#"value="{long}""#)));

    assert_eq!(count_rows(&app, "users").await, 0);
    assert_eq!(count_rows(&app, "projects").await, 0);
}

async fn setup_creates_the_owner_and_project_then_disappears(app: TestApp) {
    let link = app.setup_link();
    let (owner, project_id) = app.setup_owner().await;
    assert_eq!(project_id.len(), 24);
    let r = owner.get("/").await;
    assert_eq!(r.location(), format!("/projects/{project_id}"));
    let page = owner
        .get(&format!("/projects/{project_id}/settings/api-keys"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(OWNER_EMAIL) && page.body.contains(">Owner<"));
    assert!(page.body.contains(">Acme</option>"));

    assert_eq!(app.agent().get("/setup").await.status, 404);
    assert_eq!(
        app.agent().get(&link).await.status,
        404,
        "the link is spent"
    );
    let late = app.agent();
    let r = late
        .send(
            "POST",
            "/setup",
            &[("origin", app.address.clone())],
            Some((
                "email=x%40y.io&password=aaaaaaaaaaaaaaa&project_name=X".into(),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_ne!(r.status, 303);
    assert_eq!(count_rows(&app, "users").await, 1);
    let role = app
        .db(move |c| {
            let uid = db::users::find_by_email(c, OWNER_EMAIL)?.unwrap().id;
            Ok(db::memberships::role_of(c, &uid, &project(&project_id))?)
        })
        .await;
    assert_eq!(role, Some(callem::domain::role::Role::Owner));
}

async fn wrong_password_and_unknown_email_get_the_same_answer(app: TestApp) {
    app.setup_owner().await;
    let a = app.agent();
    a.get("/login").await;
    let wrong = a
        .post_form(
            "/login",
            &[("email", OWNER_EMAIL), ("password", "wrong password!!")],
        )
        .await;
    let unknown = a
        .post_form(
            "/login",
            &[
                ("email", "nobody@example.com"),
                ("password", "wrong password!!"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert!(wrong.body.contains("Incorrect email or password."));
    assert!(unknown.body.contains("Incorrect email or password."));
    assert!(
        wrong.body.contains(&format!(r#"value="{OWNER_EMAIL}""#)),
        "email kept"
    );
    let empty = a
        .post_form("/login", &[("email", ""), ("password", "")])
        .await;
    assert_eq!(empty.status, 422);
    assert!(
        empty.body.contains("Email is required.") && empty.body.contains("Password is required.")
    );
    assert_eq!(a.get("/").await.location(), "/login", "still signed out");
}

async fn sign_in_attempts_are_limited_per_address(app: TestApp) {
    app.setup_owner().await;
    let a = app.agent();
    a.get("/login").await;
    for i in 0..10 {
        // Different accounts, so only the per-address limit is reached.
        let email = format!("nobody{i}@example.com");
        let r = a
            .post_form(
                "/login",
                &[("email", &email), ("password", "not the password")],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = a
        .post_form("/login", &[("email", OWNER_EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(
        r.status, 429,
        "even the right password waits once the limit is hit"
    );
    assert!(
        r.body
            .contains("Too many sign-in attempts from your address. Try again in 5 minutes."),
        "{}",
        r.body
    );
    assert!(r.header("retry-after").is_some());
    assert_eq!(a.get("/").await.location(), "/login", "not signed in");
}

async fn sign_in_and_sign_out(app: TestApp) {
    let (_, project_id) = app.setup_owner().await;
    let a = app.agent();
    a.login(OWNER_EMAIL, PASSWORD).await;
    assert_eq!(
        a.get("/").await.location(),
        format!("/projects/{project_id}")
    );
    assert_eq!(
        a.get("/login").await.location(),
        "/",
        "signed-in users skip the login page"
    );
    a.get(&format!("/projects/{project_id}/settings/api-keys"))
        .await;
    let r = a.post_form("/logout", &[]).await;
    assert_eq!((r.status, r.location().as_str()), (303, "/login"));
    assert_eq!(a.get("/").await.location(), "/login");
    let r = a
        .get(&format!("/projects/{project_id}/settings/api-keys"))
        .await;
    assert_eq!((r.status, r.location().as_str()), (303, "/login"));
    let r = a
        .get_htmx(&format!("/projects/{project_id}/settings/api-keys"))
        .await;
    assert_eq!(
        r.header("hx-redirect").as_deref(),
        Some("/login"),
        "htmx gets HX-Redirect, not a 303"
    );
}

async fn signing_out_makes_a_copied_cookie_worthless_on_every_server(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let replica = app.replica().await;
    let copy = owner.on(&replica);
    assert_eq!(
        copy.get(&format!("/projects/{pid}/calls")).await.status,
        200
    );
    owner.get(&format!("/projects/{pid}/calls")).await;
    assert_eq!(owner.post_form("/logout", &[]).await.location(), "/login");
    let r = copy.get(&format!("/projects/{pid}/calls")).await;
    assert_eq!(
        (r.status, r.location().as_str()),
        (303, "/login"),
        "the copied cookie no longer opens anything"
    );
    // Signing in again works and issues a fresh session.
    let again = app.agent();
    again.login(OWNER_EMAIL, PASSWORD).await;
    assert_eq!(
        again.get(&format!("/projects/{pid}/calls")).await.status,
        200
    );
}

async fn session_cookie_is_httponly_lax_and_never_holds_plain_data(app: TestApp) {
    let a = app.agent();
    let r = a.get(&app.setup_link()).await;
    let cookie = r.header("set-cookie").expect("a session cookie");
    assert!(cookie.starts_with("callem_session="));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(
        !cookie.contains("Secure"),
        "Secure only with CALLEM_SECURE_COOKIES=true"
    );
    let (owner, _) = app.setup_owner().await;
    let value = owner.cookie().unwrap();
    let user_id = app
        .db(|c| Ok(db::users::find_by_email(c, OWNER_EMAIL)?.unwrap().id))
        .await;
    assert!(!value.contains(user_id.as_str()), "the cookie is encrypted");
}

async fn sessions_survive_a_restart_and_work_on_another_replica(app: TestApp) {
    let (owner, project_id) = app.setup_owner().await;
    let replica = app.replica().await;
    let other = owner.on(&replica);
    let r = other
        .get(&format!("/projects/{project_id}/settings/api-keys"))
        .await;
    assert_eq!(
        r.status, 200,
        "a session made on one server works on another"
    );
    assert!(r.body.contains(OWNER_EMAIL));
    // A restart is a new process reading the key from the database: the same as a replica.
    let tampered = owner.cookie().unwrap().replace('=', "=x");
    owner.set_cookie(Some(tampered));
    assert_eq!(
        owner.get("/").await.location(),
        "/login",
        "a forged cookie is ignored"
    );
}

async fn forged_posts_are_refused_and_change_nothing(app: TestApp) {
    let (owner, project_id) = app.setup_owner().await;
    owner
        .get(&format!("/projects/{project_id}/settings/api-keys"))
        .await;
    // No token.
    let r = owner
        .send(
            "POST",
            "/logout",
            &[("origin", app.address.clone())],
            Some((String::new(), "application/x-www-form-urlencoded")),
        )
        .await;
    assert_eq!(r.status, 403);
    // Right token, foreign origin.
    let token = owner.csrf();
    let r = owner
        .send(
            "POST",
            "/logout",
            &[("origin", "https://evil.example".into())],
            Some((
                format!("csrf_token={token}"),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(r.status, 403);
    // Wrong token in the htmx header.
    let r = owner
        .send(
            "POST",
            &format!("/projects/{project_id}/settings/api-keys"),
            &[
                ("origin", app.address.clone()),
                ("hx-request", "true".into()),
                ("x-csrf-token", "0".repeat(48)),
            ],
            Some((
                "name=Forged&expires=never".into(),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(r.status, 403);
    // No Origin and no Referer.
    let r = owner
        .send(
            "POST",
            "/logout",
            &[],
            Some((
                format!("csrf_token={token}"),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(count_rows(&app, "api_keys").await, 0);
    assert_eq!(
        owner.get("/").await.location(),
        format!("/projects/{project_id}"),
        "still signed in"
    );
    // A same-origin Referer is accepted in place of Origin.
    let r = owner
        .send(
            "POST",
            "/logout",
            &[("referer", format!("{}/projects", app.address))],
            Some((
                format!("csrf_token={token}"),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(r.status, 303);
}

crate::on_both_backends!(
    a_fresh_install_sends_everyone_to_setup,
    setup_refuses_bad_input_next_to_each_field_and_stores_nothing,
    setup_creates_the_owner_and_project_then_disappears,
    wrong_password_and_unknown_email_get_the_same_answer,
    sign_in_attempts_are_limited_per_address,
    sign_in_and_sign_out,
    signing_out_makes_a_copied_cookie_worthless_on_every_server,
    session_cookie_is_httponly_lax_and_never_holds_plain_data,
    sessions_survive_a_restart_and_work_on_another_replica,
    forged_posts_are_refused_and_change_nothing,
    every_dashboard_post_route_refuses_a_forged_request_and_changes_nothing
);

/// Every POST route of the dashboard, listed from its route table (a route added later is
/// covered without touching this test), refuses the signed-in owner's request without the
/// token, with the token from a foreign origin, and with a wrong token in the htmx header;
/// the database is unchanged afterwards.
async fn every_dashboard_post_route_refuses_a_forged_request_and_changes_nothing(app: TestApp) {
    use callem::db::schema::invitations;
    use diesel::prelude::*;
    let (owner, pid) = app.setup_owner().await;
    // Real ids in every path, so each request names something a real one could change.
    let (key_id, secret) = app
        .issue_key(&pid, "", callem::domain::expiry::Expiry::Never)
        .await;
    app.import_calls(
        &pid,
        r#"{"id":"c1","status":"completed","duration":1,"createdAt":"2025-12-15T14:30:00.000Z"}"#,
    )
    .await;
    let item = app
        .create_knowledge(&secret, &serde_json::json!({"name": "n", "text": "t"}))
        .await;
    let item: serde_json::Value = serde_json::from_str(&item.body).unwrap();
    let item_id = item["id"].as_str().expect("a knowledge id").to_owned();
    app.user_with_role(&pid, "dev@example.com", "developer")
        .await;
    let dev_id = app
        .db(|c| Ok(db::users::find_by_email(c, "dev@example.com")?.unwrap().id))
        .await;
    let r = crate::team::invite(&owner, &pid, "invited@example.com", "member").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let invitation_id: String = app
        .db(|c| Ok(invitations::table.select(invitations::id).first(c)?))
        .await;
    owner.get(&keys_path(&pid)).await;
    let token = owner.csrf();
    let before = app.db(|c| Ok(dump_all_tables(c))).await;

    let posts: Vec<String> = callem::web::routes()
        .filter(|(m, _)| **m == actix_web::http::Method::POST)
        .map(|(_, p)| p)
        .collect();
    assert!(
        posts.len() >= 20,
        "the route table lists the POST routes: {posts:?}"
    );
    let form = "application/x-www-form-urlencoded";
    for pattern in &posts {
        let path = pattern
            .split('/')
            .map(|part| match part {
                "{project_id}" => pid.as_str(),
                "{key_id}" => key_id.as_str(),
                "{call_id}" => "c1",
                "{item_id}" => item_id.as_str(),
                "{invitation_id}" => invitation_id.as_str(),
                "{webhook_id}" => "w1",
                "{delivery_id}" => "msg_1",
                "{user_id}" => dev_id.as_str(),
                "{token}" => "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                p if p.starts_with('{') => panic!("no value for {p} in {pattern}: add one here"),
                p => p,
            })
            .collect::<Vec<_>>()
            .join("/");
        let same_origin = ("origin", app.address.clone());
        let attempts = [
            ("no token", vec![same_origin.clone()], String::new()),
            (
                "a foreign origin",
                vec![("origin", "https://evil.example".to_owned())],
                format!("csrf_token={token}"),
            ),
            (
                "a wrong htmx token",
                vec![
                    same_origin.clone(),
                    ("hx-request", "true".to_owned()),
                    ("x-csrf-token", "0".repeat(48)),
                ],
                String::new(),
            ),
            (
                "no origin or referer",
                vec![],
                format!("csrf_token={token}"),
            ),
        ];
        for (what, headers, body) in attempts {
            let r = owner
                .send("POST", &path, &headers, Some((body, form)))
                .await;
            assert_eq!(r.status, 403, "POST {pattern} with {what}: {}", r.body);
        }
    }
    let after = app.db(|c| Ok(dump_all_tables(c))).await;
    assert!(before == after, "a refused POST changed the database");
    assert_eq!(
        owner.get("/").await.location(),
        format!("/projects/{pid}"),
        "still signed in"
    );
    // The same token from the same origin is accepted (the 403s above are the forgery's).
    let r = owner
        .post_htmx(
            &format!("/projects/{pid}/knowledge/preview"),
            &[("text", "**hi**")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[actix_web::test]
async fn secure_cookies_setting_marks_the_cookie_secure() {
    let db = TestDb::create(Backend::Sqlite);
    let mut settings = settings_for(db.url());
    settings.secure_cookies = true;
    let app = callem::startup::Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let link = format!("/setup?token={}", app.setup_token().unwrap());
    actix_web::rt::spawn(app.run_until_stopped());
    let r = Agent::new(&base).get(&link).await;
    assert!(r.header("set-cookie").unwrap().contains("Secure"));
}
