//! `/account` (display name, password, projects), New project, and password resets from
//! `callem user reset-password`, over HTTP on both backends.

use crate::helpers::*;
use callem::db;

const NEW_PASSWORD: &str = "a brand new passphrase";

fn calls(pid: &str) -> String {
    format!("/projects/{pid}/calls")
}

async fn changing_the_password_ends_other_sessions_and_keeps_this_one(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let replica = app.replica().await;
    let copied = owner.on(&replica);
    let elsewhere = app.agent();
    elsewhere.login(OWNER_EMAIL, PASSWORD).await;
    assert_eq!(copied.get(&calls(&pid)).await.status, 200);
    assert_eq!(elsewhere.get(&calls(&pid)).await.status, 200);

    let page = owner.get("/account").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(OWNER_EMAIL) && page.body.contains("Change password"));

    for (current, new, confirm, message) in [
        (
            "",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "Enter your current password.",
        ),
        (PASSWORD, "short", "short", "at least 12 characters"),
        (
            PASSWORD,
            NEW_PASSWORD,
            "something else entirely",
            "The two new passwords differ.",
        ),
        (
            "not my password at all",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "That is not your current password.",
        ),
    ] {
        let r = owner
            .post_form(
                "/account/password",
                &[("current", current), ("new", new), ("confirm", confirm)],
            )
            .await;
        assert_eq!(r.status, 422, "{message}");
        assert!(r.body.contains(message), "{message}: {}", r.body);
    }
    assert_eq!(
        copied.get(&calls(&pid)).await.status,
        200,
        "nothing changed yet"
    );

    let r = owner
        .post_form(
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.location().as_str()),
        (303, "/account?saved=password")
    );
    assert_eq!(
        owner.get(&calls(&pid)).await.status,
        200,
        "this session goes on"
    );
    assert!(owner
        .get("/account?saved=password")
        .await
        .body
        .contains("Password changed."));
    for (who, agent) in [
        ("a copied cookie", &copied),
        ("another session", &elsewhere),
    ] {
        let r = agent.get(&calls(&pid)).await;
        assert_eq!(
            (r.status, r.location().as_str()),
            (303, "/login"),
            "{who} is signed out"
        );
    }
    let fresh = app.agent();
    fresh.get("/login").await;
    let r = fresh
        .post_form("/login", &[("email", OWNER_EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 401, "the old password no longer works");
    fresh.login(OWNER_EMAIL, NEW_PASSWORD).await;
}

async fn the_display_name_is_checked_and_saved(app: TestApp) {
    let (owner, _) = app.setup_owner().await;
    owner.get("/account").await;
    let long = "x".repeat(101);
    let r = owner
        .post_form("/account/profile", &[("display_name", &long)])
        .await;
    assert_eq!(r.status, 422);
    assert!(r
        .body
        .contains("Display name must be at most 100 characters (it has 101)."));
    let r = owner
        .post_form("/account/profile", &[("display_name", "  Ada Lovelace ")])
        .await;
    assert_eq!(r.location(), "/account?saved=profile");
    let page = owner.get("/account?saved=profile").await;
    assert!(page.body.contains(r#"value="Ada Lovelace""#));
    assert!(page.body.contains("Your display name was saved."));
    let stored = app
        .db(|c| Ok(db::users::find_by_email(c, OWNER_EMAIL)?))
        .await
        .unwrap();
    assert_eq!(stored.display_name.as_deref(), Some("Ada Lovelace"));
    owner
        .post_form("/account/profile", &[("display_name", " ")])
        .await;
    let stored = app
        .db(|c| Ok(db::users::find_by_email(c, OWNER_EMAIL)?))
        .await
        .unwrap();
    assert_eq!(stored.display_name, None, "an empty name clears it");
}

async fn a_new_project_makes_its_creator_its_owner(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let page = owner.get(&calls(&pid)).await;
    assert!(
        page.body
            .contains(&format!(r#"value="/projects/new?from={pid}""#)),
        "in the project selector"
    );
    assert!(
        page.body
            .contains(&format!(r#"href="/account?project={pid}""#)),
        "the account link"
    );
    assert_eq!(
        owner.get(&format!("/projects/new?from={pid}")).await.status,
        200
    );
    let r = owner.post_form("/projects/new", &[("name", "  ")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Project name is required."));
    let before = count_rows(&app, "projects").await;
    assert_eq!(before, 1);

    let r = owner
        .post_form("/projects/new", &[("name", "Second line")])
        .await;
    assert_eq!(r.status, 303);
    let new_pid = r.location().trim_start_matches("/projects/").to_owned();
    assert_eq!(owner.get(&calls(&new_pid)).await.status, 200);
    let settings = owner
        .get(&format!("/projects/{new_pid}/settings/api-keys"))
        .await;
    assert!(
        settings.body.contains("Create API Key"),
        "the creator is an Owner"
    );
    let account = owner.get(&format!("/account?project={new_pid}")).await;
    assert!(account.body.contains("Second line") && account.body.contains("Acme"));
    assert!(account.body.contains("← Back to Second line"));
    let events = app
        .db(move |c| Ok(db::audit::for_project(c, &project(&new_pid))?))
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "project.created");

    // A member of the first project only does not see the new one.
    let member = app.user_with_role(&pid, "m@example.com", "member").await;
    let r = member
        .get(&calls(r.location().trim_start_matches("/projects/")))
        .await;
    assert_eq!(r.status, 404);
}

/// The link `callem user reset-password` prints, and its path.
pub(crate) fn reset_link(app: &TestApp, email: &str) -> (String, String) {
    let (code, out, err) = run_callem(
        app.db.url(),
        &[
            "user",
            "reset-password",
            "--email",
            email,
            "--public-url",
            "https://callem.example.com",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let link = out.trim().to_owned();
    assert_eq!(out.lines().count(), 1, "the link alone on stdout: {out:?}");
    assert!(err.contains("valid for 1 hour, once"), "{err}");
    let path = link
        .strip_prefix("https://callem.example.com")
        .unwrap_or_else(|| panic!("{link}"))
        .to_owned();
    (link, path)
}

const NO_LONGER_VALID: &str = "This link is no longer valid";

async fn a_reset_link_works_once_and_within_its_hour_only(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (link, path) = reset_link(&app, "OWNER@example.com");
    let token = path.trim_start_matches("/reset-password/").to_owned();
    assert_eq!(token.len(), 64, "32 bytes, hex");
    let everything = app.db(|c| Ok(dump_all_tables(c))).await;
    assert!(
        !everything.contains(&token),
        "the token is stored only as its hash"
    );
    assert!(!link.contains(OWNER_EMAIL));

    let visitor = app.agent();
    let form = visitor.get(&path).await;
    assert_eq!(form.status, 200);
    assert_eq!(form.header("cache-control").as_deref(), Some("no-store"));
    assert!(form.body.contains(OWNER_EMAIL));
    let r = visitor
        .post_form(
            &path,
            &[("new", NEW_PASSWORD), ("confirm", "different words here")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("The two passwords differ."));
    let r = visitor
        .post_form(&path, &[("new", NEW_PASSWORD), ("confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(
        (r.status, r.location().as_str()),
        (303, "/login?reset=done")
    );
    assert!(visitor
        .get("/login?reset=done")
        .await
        .body
        .contains("Your password was changed."));
    let r = owner.get(&calls(&pid)).await;
    assert_eq!(r.location(), "/login", "a reset ends every session");
    app.agent().login(OWNER_EMAIL, NEW_PASSWORD).await;

    // Once only.
    for r in [
        visitor.get(&path).await,
        visitor
            .post_form(
                &path,
                &[
                    ("new", "yet another passphrase"),
                    ("confirm", "yet another passphrase"),
                ],
            )
            .await,
    ] {
        assert_eq!(r.status, 404);
        assert!(r.body.contains(NO_LONGER_VALID));
    }

    // Within its hour only, and an unknown token looks the same.
    let (_, late) = reset_link(&app, OWNER_EMAIL);
    app.db(|c| {
        use callem::db::schema::password_resets::dsl::*;
        use diesel::prelude::*;
        diesel::update(password_resets.filter(used_at.is_null()))
            .set(expires_at.eq(callem::time::now() - chrono::Duration::seconds(1)))
            .execute(c)?;
        Ok(())
    })
    .await;
    let unknown = format!("/reset-password/{}", "ab".repeat(32));
    for p in [late, unknown, "/reset-password/short".to_owned()] {
        let r = visitor.get(&p).await;
        assert_eq!(r.status, 404, "{p}");
        assert!(r.body.contains(NO_LONGER_VALID));
    }

    let (code, out, err) = run_callem(
        app.db.url(),
        &["user", "reset-password", "--email", "nobody@example.com"],
        None,
    );
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("no account with the email 'nobody@example.com'"),
        "{err}"
    );
}

async fn guessing_reset_tokens_is_limited_like_sign_in(app: TestApp) {
    app.setup_owner().await;
    let guesser = app.agent();
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = guesser.get(&format!("/reset-password/{:064x}", i)).await;
        statuses.push(r.status);
    }
    assert!(statuses[..10].iter().all(|s| *s == 404), "{statuses:?}");
    assert_eq!(statuses[10..], [429, 429], "{statuses:?}");
}

async fn names_with_control_or_direction_characters_are_refused_next_to_the_field(app: TestApp) {
    // At setup, the project name (PostgreSQL used to answer 500 for a NUL).
    let a = app.agent();
    a.get(&app.setup_link()).await;
    for bad in ["Acme\0", "Acme\r\nBcc: everyone@example.com"] {
        let r = a
            .post_form(
                "/setup",
                &[
                    ("setup_token", app.setup_token()),
                    ("email", OWNER_EMAIL),
                    ("password", PASSWORD),
                    ("project_name", bad),
                ],
            )
            .await;
        assert_eq!(r.status, 422, "{bad:?}: {}", r.body);
        assert!(
            r.body.contains(
                r#"id="project-error">Project name must not contain line breaks or control characters."#
            ),
            "{bad:?}: {}",
            r.body
        );
    }
    assert_eq!(count_rows(&app, "projects").await, 0);
    let (owner, _) = app.setup_owner().await;

    // A new project's name.
    owner.get("/projects/new").await;
    let r = owner
        .post_form("/projects/new", &[("name", "Acme\0Evil")])
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains(
        r#"id="project-name-error">Project name must not contain line breaks or control characters."#
    ));
    let r = owner
        .post_form("/projects/new", &[("name", "Invoices \u{202E}fdp.exe")])
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains(
        r#"id="project-name-error">Project name must not contain text-direction control characters."#
    ));
    assert_eq!(count_rows(&app, "projects").await, 1);

    // The display name, on /account.
    owner.get("/account").await;
    for (bad, why) in [
        ("Ada\0", "line breaks or control characters"),
        ("Ada\nLovelace", "line breaks or control characters"),
        ("\u{202E}ecalevoL adA", "text-direction control characters"),
    ] {
        let r = owner
            .post_form("/account/profile", &[("display_name", bad)])
            .await;
        assert_eq!(r.status, 422, "{bad:?}");
        assert!(
            r.body.contains(&format!(
                r#"id="display-name-error">Display name must not contain {why}."#
            )),
            "{bad:?}: {}",
            r.body
        );
    }
    let stored = app
        .db(|c| Ok(db::users::find_by_email(c, OWNER_EMAIL)?))
        .await
        .unwrap();
    assert_eq!(stored.display_name, None, "nothing saved");
}

crate::on_both_backends!(
    names_with_control_or_direction_characters_are_refused_next_to_the_field,
    changing_the_password_ends_other_sessions_and_keeps_this_one,
    the_display_name_is_checked_and_saved,
    a_new_project_makes_its_creator_its_owner,
    a_reset_link_works_once_and_within_its_hour_only,
    guessing_reset_tokens_is_limited_like_sign_in
);

/// A real `callem serve`: the reset link's token never reaches its log, opened or used.
#[actix_web::test]
async fn a_reset_token_is_in_no_log_line() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.setup_owner().await;
    let served = Served::start(app.db.url(), &[("RUST_LOG", "debug")]);
    let (_, path) = reset_link(&app, OWNER_EMAIL);
    let token = path.trim_start_matches("/reset-password/").to_owned();
    let visitor = Agent::new(&served.base);
    assert_eq!(visitor.get(&path).await.status, 200);
    let r = visitor
        .post_form(&path, &[("new", NEW_PASSWORD), ("confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let log = served.log_settled().await;
    assert!(
        log.matches("path=/reset-password/…").count() >= 2,
        "both requests are in the access log: {log}"
    );
    assert!(!log.contains(&token), "{log}");
}

/// Quoted-printable undone, as a mail client reads the message.
fn decoded(message: &str) -> String {
    message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

const SENT: &str = "If an account uses that email, a link to set a new password is on its way";

async fn forgot_password_emails_a_link_and_answers_the_same_for_unknown_emails(app: TestApp) {
    let (_, pid) = app.setup_owner().await;
    let login = app.agent().get("/login").await;
    assert!(
        !login.body.contains("Forgot your password?"),
        "no email, no offer"
    );
    assert_eq!(app.agent().get("/forgot-password").await.status, 404);

    let sink = crate::team::SmtpSink::start();
    let url = sink.url();
    let (replica, _) = app
        .replica_configured(move |s| {
            s.smtp = callem::email::SmtpConfig::parse(&url, "Callem Studio <callem@example.com>")
                .unwrap();
        })
        .await;
    let visitor = Agent::new(&replica);
    assert!(visitor
        .get("/login")
        .await
        .body
        .contains("Forgot your password?"));
    assert_eq!(visitor.get("/forgot-password").await.status, 200);
    let r = visitor
        .post_form("/forgot-password", &[("email", "not an email")])
        .await;
    assert_eq!(r.status, 422);
    let known = visitor
        .post_form("/forgot-password", &[("email", " Owner@Example.com ")])
        .await;
    assert_eq!(known.status, 200);
    assert!(known.body.contains(SENT), "{}", known.body);
    let messages = crate::resets::wait_for_messages(&sink, 1).await;
    assert_eq!(messages.len(), 1);
    let m = decoded(&messages[0]);
    assert!(m.contains(&format!("X-RcptTo: {OWNER_EMAIL}")), "{m}");
    assert!(
        m.contains("Subject: Reset your Callem Studio password"),
        "{m}"
    );
    let re = regex_lite::Regex::new(r"/reset-password/[0-9a-f]{64}").unwrap();
    let path = re
        .find(&m)
        .expect("the link is in the message")
        .as_str()
        .to_owned();
    let unknown = visitor
        .post_form("/forgot-password", &[("email", "nobody@example.com")])
        .await;
    assert_eq!(unknown.status, known.status);
    assert!(unknown.body.contains(SENT));
    // The jobs run in order: once a later email has arrived, the unknown one was handled.
    app.user_with_role(&pid, "marker@example.com", "member")
        .await;
    visitor
        .post_form("/forgot-password", &[("email", "marker@example.com")])
        .await;
    let messages = crate::resets::wait_for_messages(&sink, 2).await;
    assert!(
        messages.iter().all(|m| !m.contains("nobody@example.com")),
        "nothing is sent to an unknown email"
    );

    assert!(visitor.get(&path).await.body.contains(OWNER_EMAIL));
    let r = visitor
        .post_form(&path, &[("new", NEW_PASSWORD), ("confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(r.location(), "/login?reset=done");

    // The mail server down: the answer is the same (it came before any mail work).
    drop(sink);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (down, _) = app
        .replica_configured(move |s| {
            s.smtp = callem::email::SmtpConfig::parse(
                &format!("smtp://127.0.0.1:{port}"),
                "Callem Studio <callem@example.com>",
            )
            .unwrap();
        })
        .await;
    let asker = Agent::new(&down);
    asker.get("/forgot-password").await;
    for email in [OWNER_EMAIL, "nobody@example.com"] {
        let r = asker
            .post_form("/forgot-password", &[("email", email)])
            .await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains(SENT), "{email}: {}", r.body);
    }
}

mod emailed {
    #[actix_web::test]
    #[cfg_attr(
        not(callem_smtp_tests),
        ignore = "aiosmtpd is not installed in target/ci-venv"
    )]
    async fn sqlite() {
        let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Sqlite).await;
        super::forgot_password_emails_a_link_and_answers_the_same_for_unknown_emails(app).await
    }

    #[actix_web::test]
    #[cfg_attr(
        any(not(callem_smtp_tests), not(callem_pg_tests)),
        ignore = "aiosmtpd is not installed in target/ci-venv, or TEST_DATABASE_URL is not set"
    )]
    async fn postgres() {
        super::forgot_password_emails_a_link_and_answers_the_same_for_unknown_emails(
            crate::helpers::TestApp::spawn_postgres().await,
        )
        .await
    }
}

async fn a_wrong_current_password_and_a_short_new_one_are_said_together(app: TestApp) {
    let (owner, _pid) = app.setup_owner().await;
    owner.get("/account").await;
    let r = owner
        .post_form(
            "/account/password",
            &[
                ("current", "not my password at all"),
                ("new", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("That is not your current password.")
            && r.body.contains("at least 12 characters"),
        "both, next to their fields: {}",
        r.body
    );
    let failures = app
        .db(|c| Ok(db::sign_in_failures::find(c, OWNER_EMAIL)?))
        .await;
    assert_eq!(
        failures.map(|(n, _)| n),
        Some(1),
        "a wrong current password spends the account's sign-in budget all the same"
    );
    // A right current password with a short new one: only the new one is wrong.
    let r = owner
        .post_form(
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("at least 12 characters"));
    assert!(!r.body.contains("That is not your current password."));
}

async fn the_sign_in_page_after_a_reset_is_filled_with_the_accounts_email(app: TestApp) {
    let (_owner, _pid) = app.setup_owner().await;
    let (_, path) = reset_link(&app, "OWNER@example.com");
    let visitor = app.agent();
    let before = visitor.get("/login").await;
    assert!(
        before.body.contains(r#"value="" required autofocus"#),
        "{}",
        before.body
    );
    visitor.get(&path).await;
    let r = visitor
        .post_form(&path, &[("new", NEW_PASSWORD), ("confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(r.location(), "/login?reset=done");
    let login = visitor.get("/login?reset=done").await;
    assert!(
        login
            .body
            .contains(&format!(r#"value="{OWNER_EMAIL}" required aria"#))
            || login
                .body
                .contains(&format!(r#"value="{OWNER_EMAIL}" required>"#)),
        "{}",
        login.body
    );
    assert!(
        login
            .body
            .contains(r#"autocomplete="current-password" required autofocus"#),
        "the password is what is left to type"
    );
    assert!(login.body.contains("Your password was changed."));
    let r = visitor
        .post_form(
            "/login",
            &[("email", OWNER_EMAIL), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 303);
    // Another browser learns nothing of it.
    assert!(!app.agent().get("/login").await.body.contains(OWNER_EMAIL));
}

crate::on_both_backends!(
    a_wrong_current_password_and_a_short_new_one_are_said_together,
    the_sign_in_page_after_a_reset_is_filled_with_the_accounts_email,
);
