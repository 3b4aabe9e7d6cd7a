//! Settings → Team: invitations (made, emailed, accepted once), role changes, removal and
//! leaving, the role rules and their audit events.

use std::time::Duration;

use crate::helpers::*;
use callem::db;
use callem::domain::ids::UserId;

const INVALID: &str = "This invitation is no longer valid. Ask for a new one.";

fn team_path(project_id: &str) -> String {
    format!("/projects/{project_id}/settings/team")
}

/// The path of the invitation link shown in an invite response.
fn invitation_path(body: &str) -> String {
    let re = regex_lite::Regex::new(r"https?://[^\s<]+?(/invitations/[0-9a-f]{64})").unwrap();
    re.captures(body)
        .unwrap_or_else(|| panic!("no invitation link in: {body}"))[1]
        .to_owned()
}

/// Invites `email` with `role` from the Team tab's modal (htmx, as the page does).
pub(crate) async fn invite(agent: &Agent, project_id: &str, email: &str, role: &str) -> Resp {
    agent.get(&team_path(project_id)).await;
    agent
        .post_htmx(
            &format!("{}/invitations", team_path(project_id)),
            &[("email", email), ("role", role)],
        )
        .await
}

/// Whether a page holds an invitation link (a token, not the panel's revoke URLs).
fn has_invitation_link(body: &str) -> bool {
    regex_lite::Regex::new(r"/invitations/[0-9a-f]{64}")
        .unwrap()
        .is_match(body)
}

/// Invites and returns the link's path.
async fn invited(agent: &Agent, project_id: &str, email: &str, role: &str) -> String {
    let r = invite(agent, project_id, email, role).await;
    assert_eq!(r.status, 200, "{}", r.body);
    invitation_path(&r.body)
}

async fn user_id(app: &TestApp, email: &str) -> UserId {
    let email = email.to_owned();
    app.db(move |c| Ok(db::users::find_by_email(c, &email)?))
        .await
        .expect("user exists")
        .id
}

async fn role_in(app: &TestApp, project_id: &str, email: &str) -> Option<String> {
    let uid = user_id(app, email).await;
    let pid = project(project_id);
    app.db(move |c| Ok(db::memberships::role_of(c, &uid, &pid)?))
        .await
        .map(|r| r.as_str().to_owned())
}

/// The project's events as (action, actor user id, target id, detail), oldest first.
async fn events(
    app: &TestApp,
    project_id: &str,
) -> Vec<(String, Option<String>, String, Option<String>)> {
    let pid = project(project_id);
    let mut all: Vec<_> = app
        .db(move |c| Ok(db::audit::for_project(c, &pid)?))
        .await
        .into_iter()
        // The project's own creation (at setup) is not a team event.
        .filter(|e| e.action != "project.created")
        .map(|e| {
            (
                e.action,
                e.actor_user_id.map(UserId::into_string),
                e.target_id.unwrap_or_default(),
                e.detail,
            )
        })
        .collect();
    all.reverse();
    all
}

/// Accepts as a new account; returns the response.
async fn accept_new(agent: &Agent, path: &str, password: &str, name: &str) -> Resp {
    let page = agent.get(path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    agent
        .post_form(path, &[("password", password), ("display_name", name)])
        .await
}

async fn an_invited_person_without_an_account_creates_one_and_is_signed_in_with_the_role(
    app: TestApp,
) {
    let (owner, pid) = app.setup_owner().await;
    let r = invite(&owner, &pid, "  Bob@Example.com ", "developer").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert!(r.body.contains("Email is not set up"), "{}", r.body);
    assert!(r.body.contains("data-copy=\"invitation-link\""));
    let path = invitation_path(&r.body);
    let token = path.trim_start_matches("/invitations/").to_owned();
    let team = owner.get(&team_path(&pid)).await;
    assert!(
        team.body.contains(r#"data-invitation="bob@example.com""#),
        "normalised"
    );

    let bob = app.agent();
    let page = bob.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Acme") && page.body.contains("Developer"));
    assert!(page.body.contains(OWNER_EMAIL), "who invited");
    let short = bob.post_form(&path, &[("password", "short")]).await;
    assert_eq!(short.status, 422);
    assert!(short
        .body
        .contains("Password must be at least 12 characters."));

    let r = bob
        .post_form(&path, &[("password", PASSWORD), ("display_name", "Bob B.")])
        .await;
    assert_eq!(
        (r.status, r.location()),
        (303, format!("/projects/{pid}/calls"))
    );
    let tab = bob.get(&team_path(&pid)).await;
    assert_eq!(tab.status, 200, "signed in and a member");
    assert!(tab
        .body
        .contains(r#"<span class="badge badge-muted">Developer</span>"#));
    assert!(
        !tab.body.contains("data-testid=\"invite-member\""),
        "no actions"
    );
    assert_eq!(
        role_in(&app, &pid, "bob@example.com").await.as_deref(),
        Some("developer")
    );
    let listed = owner.get(&team_path(&pid)).await.body;
    assert!(listed.contains("<strong>Bob B.</strong>"), "display name");
    assert!(
        !listed.contains(r#"data-invitation="bob@example.com""#),
        "no longer pending"
    );

    let dump = app.db(|c| Ok(dump_all_tables(c))).await;
    assert!(
        !dump.contains(&token),
        "the token is stored nowhere in clear"
    );
    let bob_id = user_id(&app, "bob@example.com").await.into_string();
    let owner_id = user_id(&app, OWNER_EMAIL).await.into_string();
    let ev = events(&app, &pid).await;
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[0].0, "member.invited");
    assert_eq!(ev[0].1.as_deref(), Some(owner_id.as_str()));
    assert!(ev[0].3.as_deref().unwrap().contains("bob@example.com"));
    assert_eq!(
        (
            ev[1].0.as_str(),
            ev[1].1.as_deref(),
            ev[1].2.as_str(),
            ev[1].3.as_deref()
        ),
        (
            "member.joined",
            Some(bob_id.as_str()),
            bob_id.as_str(),
            Some(r#"{"role":[null,"developer"]}"#)
        )
    );
}

async fn an_invited_account_joins_by_signing_in_or_in_one_click(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let elsewhere = app.other_project("Elsewhere").await;
    app.user_with_role(&elsewhere, "carol@example.com", "member")
        .await;
    let path = invited(&owner, &pid, "carol@example.com", "admin").await;
    let carol = app.agent();
    let page = carol.get(&path).await;
    assert!(page.body.contains(r#"name="password""#), "{}", page.body);
    let wrong = carol
        .post_form(&path, &[("password", "not the password")])
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(role_in(&app, &pid, "carol@example.com").await, None);
    let r = carol.post_form(&path, &[("password", PASSWORD)]).await;
    assert_eq!(
        (r.status, r.location()),
        (303, format!("/projects/{pid}/calls"))
    );
    assert_eq!(carol.get(&team_path(&pid)).await.status, 200);
    assert_eq!(
        role_in(&app, &pid, "carol@example.com").await.as_deref(),
        Some("admin")
    );

    // Signed in already, as the invited email: one click.
    let dave = app
        .user_with_role(&elsewhere, "dave@example.com", "member")
        .await;
    let path = invited(&owner, &pid, "dave@example.com", "member").await;
    let page = dave.get(&path).await;
    assert!(page.body.contains("Join Acme"), "{}", page.body);
    let r = dave.post_form(&path, &[]).await;
    assert_eq!(
        (r.status, r.location()),
        (303, format!("/projects/{pid}/calls"))
    );
    assert_eq!(
        role_in(&app, &pid, "dave@example.com").await.as_deref(),
        Some("member")
    );
    // Used now.
    let again = dave.get(&path).await;
    assert_eq!(again.status, 404);
}

async fn unknown_used_revoked_and_expired_invitations_all_get_one_page(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let visitor = app.agent();
    let mut dead = vec![
        format!("/invitations/{}", "ab".repeat(32)),
        "/invitations/not-a-token".to_owned(),
    ];
    let used = invited(&owner, &pid, "used@example.com", "member").await;
    let r = accept_new(&app.agent(), &used, PASSWORD, "").await;
    assert_eq!(r.status, 303);
    dead.push(used);

    let revoked = invited(&owner, &pid, "revoked@example.com", "member").await;
    let inv_id = {
        let pid = project(&pid);
        app.db(move |c| Ok(db::invitations::pending(c, &pid, callem::time::now())?))
            .await
            .into_iter()
            .find(|p| p.email == "revoked@example.com")
            .unwrap()
            .id
    };
    let r = owner
        .post_htmx(
            &format!("{}/invitations/{}/revoke", team_path(&pid), inv_id.as_str()),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !r.body.contains("revoked@example.com"),
        "gone from the list"
    );
    dead.push(revoked);

    let expired = invited(&owner, &pid, "late@example.com", "member").await;
    app.db(|c| {
        use db::schema::invitations::dsl::*;
        use diesel::prelude::*;
        diesel::update(invitations.filter(email.eq("late@example.com")))
            .set(expires_at.eq(callem::time::now() - chrono::Duration::seconds(1)))
            .execute(c)?;
        Ok(())
    })
    .await;
    dead.push(expired);

    let mut bodies = Vec::new();
    // A session with a CSRF token, as a browser that opened a valid link earlier has.
    visitor.get("/login").await;
    for (i, path) in dead.iter().enumerate() {
        let page = visitor.get(path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
        assert!(page.body.contains(INVALID), "{path}: {}", page.body);
        bodies.push(page.body.replace(path.as_str(), ""));
        if i < 3 {
            let post = visitor.post_form(path, &[("password", PASSWORD)]).await;
            assert_eq!(post.status, 404, "{path}");
            assert!(post.body.contains(INVALID));
        }
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "one page for all");
    // Attempts are counted per address like sign-ins: 9 so far (the accept included).
    assert_eq!(visitor.get(&dead[0]).await.status, 404);
    let limited = visitor.get(&dead[0]).await;
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    assert_eq!(
        count_rows(&app, "memberships").await,
        2,
        "only the used one joined"
    );
    let ev = events(&app, &pid).await;
    assert!(ev
        .iter()
        .any(|e| e.0 == "invitation.revoked" && e.2 == inv_id.as_str()));
}

async fn a_signed_in_user_with_another_email_is_told_so_and_joins_nothing(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let elsewhere = app.other_project("Elsewhere").await;
    let erin = app
        .user_with_role(&elsewhere, "erin@example.com", "member")
        .await;
    let path = invited(&owner, &pid, "frank@example.com", "admin").await;
    let page = erin.get(&path).await;
    assert_eq!(page.status, 403);
    assert!(page
        .body
        .contains("You are signed in as <strong>erin@example.com</strong>"));
    let r = erin.post_form(&path, &[("password", PASSWORD)]).await;
    assert_eq!(r.status, 403);
    assert_eq!(role_in(&app, &pid, "erin@example.com").await, None);
    assert_eq!(erin.get(&team_path(&pid)).await.status, 404);
    assert_eq!(count_rows(&app, "users").await, 2, "frank has no account");
    // Still pending for Frank.
    assert_eq!(app.agent().get(&path).await.status, 200);
}

async fn inviting_a_member_is_refused_and_inviting_again_replaces_the_pending_one(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let r = invite(&owner, &pid, OWNER_EMAIL, "member").await;
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains(r#"id="invite-email-error">This person is already a member of the project."#),
        "{}",
        r.body
    );
    let bad = invite(&owner, &pid, "nope", "member").await;
    assert!(bad
        .body
        .contains("Enter an email address like name@example.com."));
    let first = invited(&owner, &pid, "gina@example.com", "member").await;
    let second = invited(&owner, &pid, "Gina@example.com", "developer").await;
    assert_ne!(first, second);
    assert_eq!(app.agent().get(&first).await.status, 404, "replaced");
    let page = app.agent().get(&second).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Developer"));
    let pending = owner.get(&team_path(&pid)).await.body;
    assert_eq!(
        pending
            .matches(r#"data-invitation="gina@example.com""#)
            .count(),
        1
    );
}

async fn admins_cannot_grant_owner_and_the_last_owner_cannot_go(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let admin = app.user_with_role(&pid, "admin@example.com", "admin").await;
    app.user_with_role(&pid, "dev@example.com", "developer")
        .await;
    let (owner_id, admin_id, dev_id) = (
        user_id(&app, OWNER_EMAIL).await,
        user_id(&app, "admin@example.com").await,
        user_id(&app, "dev@example.com").await,
    );
    let member =
        |id: &UserId, what: &str| format!("{}/members/{}/{what}", team_path(&pid), id.as_str());

    // The Admin's modal offers no Owner, and a forged Owner invitation is refused.
    admin.get(&team_path(&pid)).await;
    let modal = admin.get_htmx(&format!("{}/invite", team_path(&pid))).await;
    assert!(!modal.body.contains(r#"value="owner""#), "{}", modal.body);
    let r = invite(&admin, &pid, "x@example.com", "owner").await;
    assert!(r
        .body
        .contains("Only an Owner can grant or remove the Owner role."));
    assert_eq!(count_rows(&app, "invitations").await, 0);
    let r = admin
        .post_htmx(&member(&dev_id, "role"), &[("role", "owner")])
        .await;
    assert_eq!(r.status, 403);
    let r = admin
        .post_htmx(&member(&owner_id, "role"), &[("role", "member")])
        .await;
    assert_eq!(r.status, 403);
    let r = admin.post_htmx(&member(&owner_id, "remove"), &[]).await;
    assert_eq!(r.status, 403);
    // An Admin does change other roles.
    let r = admin
        .post_htmx(&member(&dev_id, "role"), &[("role", "member")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        role_in(&app, &pid, "dev@example.com").await.as_deref(),
        Some("member")
    );

    // The last Owner stays, whoever tries.
    owner.get(&team_path(&pid)).await;
    for (path, fields) in [
        (member(&owner_id, "role"), vec![("role", "admin")]),
        (member(&owner_id, "remove"), vec![]),
        (format!("{}/leave", team_path(&pid)), vec![]),
    ] {
        let r = owner.post_htmx(&path, &fields).await;
        assert_eq!(r.status, 409, "{path}");
        assert!(
            r.body.contains("Make someone else Owner first."),
            "{path}: {}",
            r.body
        );
    }
    assert_eq!(
        role_in(&app, &pid, OWNER_EMAIL).await.as_deref(),
        Some("owner")
    );

    // With a second Owner, the first may step down.
    let r = owner
        .post_htmx(&member(&admin_id, "role"), &[("role", "owner")])
        .await;
    assert_eq!(r.status, 200);
    let r = owner
        .post_htmx(&member(&owner_id, "role"), &[("role", "admin")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        role_in(&app, &pid, OWNER_EMAIL).await.as_deref(),
        Some("admin")
    );

    let ev = events(&app, &pid).await;
    let changes: Vec<_> = ev
        .iter()
        .filter(|e| e.0 == "member.role_changed")
        .map(|e| (e.1.clone().unwrap(), e.2.clone(), e.3.clone().unwrap()))
        .collect();
    assert_eq!(
        changes,
        vec![
            (
                admin_id.clone().into_string(),
                dev_id.into_string(),
                r#"{"role":["developer","member"]}"#.to_owned()
            ),
            (
                owner_id.clone().into_string(),
                admin_id.into_string(),
                r#"{"role":["admin","owner"]}"#.to_owned()
            ),
            (
                owner_id.clone().into_string(),
                owner_id.into_string(),
                r#"{"role":["owner","admin"]}"#.to_owned()
            ),
        ]
    );
}

async fn two_owners_demoting_each_other_at_once_leave_one_owner(app: TestApp) {
    let (a, pid) = app.setup_owner().await;
    let b = app.user_with_role(&pid, "b@example.com", "owner").await;
    let (a_id, b_id) = (
        user_id(&app, OWNER_EMAIL).await,
        user_id(&app, "b@example.com").await,
    );
    a.get(&team_path(&pid)).await;
    b.get(&team_path(&pid)).await;
    let pa = format!("{}/members/{}/role", team_path(&pid), b_id.as_str());
    let pb = format!("{}/members/{}/role", team_path(&pid), a_id.as_str());
    let (ra, rb) = futures_util::future::join(
        a.post_htmx(&pa, &[("role", "member")]),
        b.post_htmx(&pb, &[("role", "member")]),
    )
    .await;
    // The one that comes second finds itself no longer Owner (403), or the other the last
    // Owner (409): never both done.
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert!(
        statuses == [200, 403] || statuses == [200, 409],
        "{statuses:?}: {} / {}",
        ra.body,
        rb.body
    );
    let owners = [
        role_in(&app, &pid, OWNER_EMAIL).await,
        role_in(&app, &pid, "b@example.com").await,
    ];
    assert_eq!(
        owners
            .iter()
            .filter(|r| r.as_deref() == Some("owner"))
            .count(),
        1
    );
}

async fn developers_and_members_see_the_team_and_their_forged_changes_get_403(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let path = invited(&owner, &pid, "pending@example.com", "member").await;
    let inv = {
        let pid = project(&pid);
        app.db(move |c| Ok(db::invitations::pending(c, &pid, callem::time::now())?))
            .await[0]
            .id
            .clone()
    };
    let owner_id = user_id(&app, OWNER_EMAIL).await;
    for (email, role) in [
        ("dev@example.com", "developer"),
        ("mem@example.com", "member"),
    ] {
        let agent = app.user_with_role(&pid, email, role).await;
        let tab = agent.get(&team_path(&pid)).await;
        assert_eq!(tab.status, 200);
        assert!(tab.body.contains(OWNER_EMAIL) && tab.body.contains("pending@example.com"));
        assert!(!tab.body.contains("invite-member") && !tab.body.contains("Revoke"));
        let t = team_path(&pid);
        let o = owner_id.as_str();
        for (p, f) in [
            (
                format!("{t}/invitations"),
                vec![("email", "z@example.com"), ("role", "member")],
            ),
            (format!("{t}/invitations/{}/revoke", inv.as_str()), vec![]),
            (format!("{t}/members/{o}/role"), vec![("role", "member")]),
            (format!("{t}/members/{o}/remove"), vec![]),
        ] {
            let r = agent.post_htmx(&p, &f).await;
            assert_eq!(r.status, 403, "{role} {p}");
            let plain = agent.post_form(&p, &f).await;
            assert_eq!(plain.status, 403, "{role} {p}");
        }
        assert_eq!(
            agent
                .get_htmx(&format!("{}/invite", team_path(&pid)))
                .await
                .status,
            403
        );
    }
    assert_eq!(count_rows(&app, "invitations").await, 1);
    assert_eq!(app.agent().get(&path).await.status, 200, "still valid");
    assert_eq!(
        role_in(&app, &pid, OWNER_EMAIL).await.as_deref(),
        Some("owner")
    );
}

async fn a_removed_member_is_told_at_once_on_every_replica_and_their_keys_stay(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let admin = app.user_with_role(&pid, "admin@example.com", "admin").await;
    let replica = app.replica().await;
    admin.get(&keys_path(&pid)).await;
    let created = admin
        .create_key(&pid, &[("name", "Admin's key"), ("expires", "never")])
        .await;
    let key = revealed_key(&created.body);
    let on_replica = admin.on(&replica);
    assert_eq!(on_replica.get(&keys_path(&pid)).await.status, 200);

    let admin_id = user_id(&app, "admin@example.com").await;
    owner.get(&team_path(&pid)).await;
    let confirm = owner
        .get_htmx(&format!(
            "{}/members/{}/remove",
            team_path(&pid),
            admin_id.as_str()
        ))
        .await;
    assert!(confirm.body.contains("admin@example.com"), "names them");
    let r = owner
        .post_htmx(
            &format!("{}/members/{}/remove", team_path(&pid), admin_id.as_str()),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains(r#"data-member="admin@example.com""#));

    for r in [
        admin.get(&keys_path(&pid)).await,
        on_replica.get(&keys_path(&pid)).await,
        on_replica.get(&team_path(&pid)).await,
    ] {
        assert_eq!(r.status, 403);
        assert!(
            r.body.contains("You no longer belong to Acme"),
            "{}",
            r.body
        );
    }
    assert_eq!(app.list_calls(&key, "").await.status, 200, "the key stays");
    let owner_id = user_id(&app, OWNER_EMAIL).await.into_string();
    let ev = events(&app, &pid).await;
    let last = ev.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_deref(), last.2.as_str()),
        ("member.removed", Some(owner_id.as_str()), admin_id.as_str())
    );
}

async fn any_member_can_leave_with_a_confirmation(app: TestApp) {
    let (_owner, pid) = app.setup_owner().await;
    let member = app.user_with_role(&pid, "mem@example.com", "member").await;
    member.get(&team_path(&pid)).await;
    let confirm = member.get_htmx(&format!("{}/leave", team_path(&pid))).await;
    assert!(confirm.body.contains("Leave Acme?"), "{}", confirm.body);
    let r = member
        .post_htmx(&format!("{}/leave", team_path(&pid)), &[])
        .await;
    assert_eq!(
        (r.status, r.header("hx-redirect").as_deref()),
        (200, Some("/"))
    );
    assert_eq!(member.get(&team_path(&pid)).await.status, 404);
    let mem_id = user_id(&app, "mem@example.com").await.into_string();
    let ev = events(&app, &pid).await;
    let last = ev.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_deref(), last.2.as_str()),
        ("member.left", Some(mem_id.as_str()), mem_id.as_str())
    );
}

/// A replica whose email is set up but cannot send (a port nothing listens on): invitations
/// are counted and treated as emailed, and each send fails.
async fn replica_with_failing_email(app: &TestApp) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    app.replica_configured(|s| {
        s.smtp = callem::email::SmtpConfig::parse(
            &format!("smtp://127.0.0.1:{port}"),
            "Callem <callem@example.com>",
        )
        .unwrap();
    })
    .await
    .0
}

async fn with_email_set_up_a_failed_send_is_reported_and_no_link_is_shown(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let elsewhere = app.other_project("Elsewhere").await;
    app.user_with_role(&elsewhere, "has-account@example.com", "member")
        .await;
    let replica = replica_with_failing_email(&app).await;
    for address in ["hank@example.com", "has-account@example.com"] {
        let r = invite(&owner.on(&replica), &pid, address, "member").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("could not be sent"), "{}", r.body);
        assert!(
            !has_invitation_link(&r.body) && !r.body.contains("data-copy"),
            "the link goes by email only, account or not: {}",
            r.body
        );
    }
}

async fn two_accepts_of_one_invitation_at_once_make_one_member(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let path = invited(&owner, &pid, "twice@example.com", "developer").await;
    let replica = app.replica().await;
    let (a, b) = (app.agent(), Agent::new(&replica));
    // Both have the form open before either sends it.
    for agent in [&a, &b] {
        assert_eq!(agent.get(&path).await.status, 200);
    }
    let form = [("password", PASSWORD), ("display_name", "Twice")];
    let (ra, rb) =
        futures_util::future::join(a.post_form(&path, &form), b.post_form(&path, &form)).await;
    let mut statuses = [ra.status, rb.status];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [303, 404],
        "one joins, the other finds the link used"
    );
    let joined = events(&app, &pid)
        .await
        .into_iter()
        .filter(|e| e.0 == "member.joined")
        .count();
    assert_eq!(joined, 1);
    let users = app
        .db(|c| {
            use callem::db::schema::users::dsl::*;
            use diesel::prelude::*;
            Ok(users
                .filter(email.eq("twice@example.com"))
                .count()
                .get_result::<i64>(c)?)
        })
        .await;
    assert_eq!(users, 1, "one account");
}

/// The id of the project's pending invitation to `email`.
async fn pending_id(app: &TestApp, project_id: &str, email: &str) -> String {
    let (pid, email) = (project(project_id), email.to_owned());
    app.db(move |c| Ok(db::invitations::pending(c, &pid, callem::time::now())?))
        .await
        .into_iter()
        .find(|p| p.email == email)
        .unwrap_or_else(|| panic!("a pending invitation to {email}"))
        .id
        .into_string()
}

async fn a_removed_admins_invitations_are_revoked_and_their_links_no_longer_work(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let admin = app.user_with_role(&pid, "admin@example.com", "admin").await;
    let mallory = app
        .user_with_role(&pid, "mallory@example.com", "admin")
        .await;
    // About to be removed, Mallory invites an address she controls, as Admin.
    let back_door = invited(&mallory, &pid, "mallory.alt@example.com", "admin").await;
    let other = invited(&mallory, &pid, "someone@example.com", "member").await;
    let kept = invited(&admin, &pid, "kept@example.com", "member").await;
    let mallory_id = user_id(&app, "mallory@example.com").await;

    owner.get(&team_path(&pid)).await;
    let r = owner
        .post_htmx(
            &format!("{}/members/{}/remove", team_path(&pid), mallory_id.as_str()),
            &[],
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !r.body.contains("mallory.alt@example.com"),
        "no longer pending"
    );
    for path in [&back_door, &other] {
        let visitor = app.agent();
        // A session with a CSRF token, as a browser that opened the link before has.
        visitor.get("/login").await;
        let page = visitor.get(path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.body.contains(INVALID));
        let post = visitor
            .post_form(path, &[("password", PASSWORD), ("display_name", "")])
            .await;
        assert_eq!(post.status, 404, "{path}");
    }
    assert!(
        app.db(|c| Ok(db::users::find_by_email(c, "mallory.alt@example.com")?))
            .await
            .is_none(),
        "no account was made"
    );
    assert_eq!(app.agent().get(&kept).await.status, 200, "others' stay");
    let owner_id = user_id(&app, OWNER_EMAIL).await.into_string();
    let revoked: Vec<_> = events(&app, &pid)
        .await
        .into_iter()
        .filter(|e| e.0 == "invitation.revoked")
        .collect();
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    assert!(revoked
        .iter()
        .all(|e| e.1.as_deref() == Some(owner_id.as_str())));

    // Leaving takes one's pending invitations along too.
    let left = invited(&admin, &pid, "left@example.com", "developer").await;
    admin
        .post_htmx(&format!("{}/leave", team_path(&pid)), &[])
        .await;
    assert_eq!(app.agent().get(&left).await.status, 404);
    assert_eq!(app.agent().get(&kept).await.status, 404);
}

async fn a_demoted_inviters_invitations_above_their_new_role_are_revoked(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let second = app
        .user_with_role(&pid, "second@example.com", "owner")
        .await;
    let as_owner = invited(&second, &pid, "o@example.com", "owner").await;
    let as_admin = invited(&second, &pid, "a@example.com", "admin").await;
    let second_id = user_id(&app, "second@example.com").await;
    let role_path = format!("{}/members/{}/role", team_path(&pid), second_id.as_str());
    owner.get(&team_path(&pid)).await;

    let r = owner.post_htmx(&role_path, &[("role", "admin")]).await;

    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.agent().get(&as_owner).await.status,
        404,
        "an Admin cannot grant Owner"
    );
    assert_eq!(
        app.agent().get(&as_admin).await.status,
        200,
        "an Admin can grant Admin"
    );

    let r = owner.post_htmx(&role_path, &[("role", "developer")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.agent().get(&as_admin).await.status,
        404,
        "a Developer grants nothing"
    );
    assert_eq!(
        count_rows(&app, "memberships").await,
        2,
        "nobody joined through them"
    );
}

async fn an_invitation_whose_inviter_lost_the_right_to_grant_it_is_no_longer_valid(app: TestApp) {
    let (_owner, pid) = app.setup_owner().await;
    let admin = app.user_with_role(&pid, "admin@example.com", "admin").await;
    let path = invited(&admin, &pid, "friend@example.com", "admin").await;
    let visitor = app.agent();
    assert_eq!(
        visitor.get(&path).await.status,
        200,
        "valid while the inviter is an Admin"
    );
    // The inviter loses the role by a path that revoked nothing (a change racing the
    // invitation, or made directly in the database): the check at accept time still holds.
    let admin_id = user_id(&app, "admin@example.com").await;
    let p = project(&pid);
    app.db(move |c| {
        db::memberships::upsert(
            c,
            &p,
            &admin_id,
            callem::domain::role::Role::Member,
            callem::time::now(),
        )?;
        Ok(())
    })
    .await;

    let page = visitor.get(&path).await;
    let post = visitor
        .post_form(&path, &[("password", PASSWORD), ("display_name", "")])
        .await;

    assert_eq!(page.status, 404);
    assert!(page.body.contains(INVALID));
    assert_eq!(post.status, 404);
    assert!(post.body.contains(INVALID));
    assert_eq!(count_rows(&app, "users").await, 2, "no account was made");
    assert_eq!(count_rows(&app, "memberships").await, 2);
}

async fn the_invitation_page_reads_the_same_whether_or_not_the_account_exists(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let elsewhere = app.other_project("Elsewhere").await;
    app.user_with_role(&elsewhere, "known@example.com", "member")
        .await;
    let known = invited(&owner, &pid, "known@example.com", "member").await;
    let unknown = invited(&owner, &pid, "nobody@example.com", "member").await;
    let same = |body: &str, path: &str, email: &str| {
        body.replace(path, "")
            .replace(email, "EMAIL")
            .replace(&csrf_in(body), "CSRF")
    };

    let (a, b) = (app.agent(), app.agent());
    let (pa, pb) = (a.get(&known).await, b.get(&unknown).await);
    let short_a = a.post_form(&known, &[("password", "short")]).await;
    let short_b = b.post_form(&unknown, &[("password", "short")]).await;

    assert_eq!((pa.status, pb.status), (200, 200));
    assert_eq!(
        same(&pa.body, &known, "known@example.com"),
        same(&pb.body, &unknown, "nobody@example.com"),
        "the page does not tell whether the account exists"
    );
    assert_eq!((short_a.status, short_b.status), (422, 422));
    assert_eq!(
        same(&short_a.body, &known, "known@example.com"),
        same(&short_b.body, &unknown, "nobody@example.com")
    );
    // Once a password is checked, the answers differ: the account's own, or a new account.
    let wrong = a
        .post_form(&known, &[("password", "a wrong but long password")])
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Incorrect password."));
    assert_eq!(role_in(&app, &pid, "known@example.com").await, None);
    let right = a.post_form(&known, &[("password", PASSWORD)]).await;
    assert_eq!(right.status, 303, "{}", right.body);
    assert_eq!(
        role_in(&app, &pid, "known@example.com").await.as_deref(),
        Some("member")
    );
}

/// The CSRF token in a page's form.
fn csrf_in(body: &str) -> String {
    let re = regex_lite::Regex::new(r#"name="csrf_token" value="([^"]+)""#).unwrap();
    re.captures(body)
        .map(|c| c[1].to_owned())
        .unwrap_or_default()
}

async fn an_account_made_from_a_shown_link_is_adopted_by_user_create_only_with_a_new_password(
    app: TestApp,
) {
    // Email is off: the link is shown to whoever invites, who can accept it themselves.
    let (owner, pid) = app.setup_owner().await;
    let path = invited(&owner, &pid, "ceo@corp.test", "member").await;
    let squatter = app.agent();
    let r = accept_new(&squatter, &path, "the squatter's password", "").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let url = app.db.url().to_owned();
    let args = [
        "user",
        "create",
        "--email",
        "ceo@corp.test",
        "--project",
        pid.as_str(),
        "--role",
        "admin",
    ];

    let (code, _, err) = run_callem(&url, &args, Some(""));

    assert_ne!(code, 0, "refused");
    assert!(err.contains("--reset-password"), "{err}");
    assert_eq!(
        role_in(&app, &pid, "ceo@corp.test").await.as_deref(),
        Some("member"),
        "unchanged"
    );
    assert_eq!(squatter.get(&team_path(&pid)).await.status, 200);

    let mut reset = args.to_vec();
    reset.push("--reset-password");
    let (code, _, err) = run_callem(&url, &reset, Some("the real ceo's password\n"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        role_in(&app, &pid, "ceo@corp.test").await.as_deref(),
        Some("admin")
    );
    let out = squatter.get(&team_path(&pid)).await;
    assert_eq!(out.status, 303, "the squatter's session ended");
    assert!(out.location().starts_with("/login"), "{}", out.location());
    let again = app.agent();
    again.get("/login").await;
    let r = again
        .post_form(
            "/login",
            &[
                ("email", "ceo@corp.test"),
                ("password", "the squatter's password"),
            ],
        )
        .await;
    assert_ne!(r.status, 303, "the old password no longer works");
    let r = again
        .login("ceo@corp.test", "the real ceo's password")
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Vouched for now: adding it elsewhere keeps the password.
    added_elsewhere_keeping_the_password(&url, "ceo@corp.test");
    // The operator's new password is in the account's audit trail, by the command line.
    let changed: Vec<_> = events(&app, &pid)
        .await
        .into_iter()
        .filter(|e| e.0 == "user.password_changed")
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
}

/// `callem user create` adds the account to a new project and keeps its password.
fn added_elsewhere_keeping_the_password(url: &str, email: &str) {
    let (_, other, _) = run_callem(url, &["project", "create", "--name", "Other"], None);
    let args = [
        "user",
        "create",
        "--email",
        email,
        "--project",
        other.trim(),
        "--role",
        "member",
    ];
    let (code, _, err) = run_callem(url, &args, Some(""));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("password unchanged"), "{err}");
}

async fn a_used_reset_link_vouches_for_an_unverified_accounts_email(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let path = invited(&owner, &pid, "ceo@corp.test", "member").await;
    let r = accept_new(&app.agent(), &path, "the squatter's password", "").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let url = app.db.url().to_owned();
    // The real owner of the mailbox (or the operator for them) resets the password.
    let (code, link, err) = run_callem(
        &url,
        &["user", "reset-password", "--email", "ceo@corp.test"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let reset_path = format!(
        "/reset-password/{}",
        link.trim().rsplit('/').next().unwrap()
    );
    let ceo = app.agent();
    assert_eq!(ceo.get(&reset_path).await.status, 200);
    let r = ceo
        .post_form(
            &reset_path,
            &[
                ("new", "the real ceo's password"),
                ("confirm", "the real ceo's password"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Vouched for now: `user create` adds the account and keeps its password.
    added_elsewhere_keeping_the_password(&url, "ceo@corp.test");
}

async fn invitations_are_limited_per_inviter_and_per_project_each_hour(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let admin = app.user_with_role(&pid, "admin@example.com", "admin").await;
    for i in 0..10 {
        invited(&owner, &pid, &format!("o{i}@example.com"), "member").await;
        invited(&admin, &pid, &format!("a{i}@example.com"), "member").await;
    }

    // The project has sent 20, though the Admin only 10.
    let r = invite(&admin, &pid, "one-more@example.com", "member").await;

    assert_eq!(r.status, 200);
    assert!(
        r.body.contains(
            r#"id="invite-email-error">This project has sent 20 invitations in the last hour"#
        ),
        "{}",
        r.body
    );
    assert!(!has_invitation_link(&r.body));
    assert_eq!(count_rows(&app, "invitations").await, 20);

    // In another project of the Owner's, the Owner's own 20 an hour count across projects.
    owner.get("/projects/new").await;
    let made = owner
        .post_form("/projects/new", &[("name", "Second")])
        .await;
    let second = made.location().trim_start_matches("/projects/").to_owned();
    for i in 0..10 {
        invited(&owner, &second, &format!("s{i}@example.com"), "member").await;
    }
    let r = invite(&owner, &second, "s10@example.com", "member").await;
    assert!(
        r.body
            .contains(r#"id="invite-email-error">You have sent 20 invitations in the last hour"#),
        "{}",
        r.body
    );
    assert_eq!(count_rows(&app, "invitations").await, 30);

    // An hour later, they may invite again.
    app.db(|c| {
        use db::schema::invitations::dsl::*;
        use diesel::prelude::*;
        diesel::update(invitations)
            .set(created_at.eq(callem::time::now() - chrono::Duration::minutes(61)))
            .execute(c)?;
        Ok(())
    })
    .await;
    invited(&owner, &second, "s10@example.com", "member").await;
}

async fn invitation_emails_to_one_address_are_limited_to_three_a_day_across_projects(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get("/projects/new").await;
    let made = owner
        .post_form("/projects/new", &[("name", "Second")])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let second = made.location().trim_start_matches("/projects/").to_owned();
    let emailing = owner.on(&replica_with_failing_email(&app).await);
    for project_id in [&pid, &pid, &second] {
        let r = invite(&emailing, project_id, "target@example.com", "member").await;
        assert!(r.body.contains("could not be sent"), "{}", r.body);
    }

    let r = invite(&emailing, &pid, "Target@example.com", "developer").await;

    assert!(
        r.body.contains(
            r#"id="invite-email-error">This address has been sent 3 invitations in the last day"#
        ),
        "{}",
        r.body
    );
    assert_eq!(count_rows(&app, "invitations").await, 3);
    // Other addresses are not held up by it.
    let r = invite(&emailing, &pid, "other@example.com", "member").await;
    assert!(r.body.contains("could not be sent"), "{}", r.body);
    // Without email, nothing is sent, so the address's limit does not apply.
    invited(&owner, &pid, "target@example.com", "member").await;
}

async fn accepting_as_an_existing_member_says_the_role_did_not_change(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let elsewhere = app.other_project("Elsewhere").await;
    let dev = app
        .user_with_role(&elsewhere, "dev@example.com", "member")
        .await;
    let path = invited(&owner, &pid, "dev@example.com", "admin").await;
    // Added another way meanwhile, as Developer.
    app.user_with_role(&pid, "dev@example.com", "developer")
        .await;

    assert!(dev.get(&path).await.body.contains("Join Acme"));
    let r = dev.post_form(&path, &[]).await;

    assert_eq!(r.status, 303, "{}", r.body);
    let toast = r.header("x-callem-toast").unwrap();
    let toast = url::form_urlencoded::parse(format!("t={toast}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        toast,
        "You are already a member of Acme as Developer; the invitation did not change your role."
    );
    // A browser's plain POST loses the header at the redirect: the page it lands on says it,
    // once.
    let landed = dev.get(&r.location()).await;
    assert!(
        landed.body.contains(
            "<div class=\"toast\" data-toast data-testid=\"flash\">You are already a member of Acme as Developer; the invitation did not change your role.</div>"
        ),
        "{}",
        landed.body
    );
    assert!(!dev
        .get(&r.location())
        .await
        .body
        .contains("data-testid=\"flash\""));
    assert_eq!(
        role_in(&app, &pid, "dev@example.com").await.as_deref(),
        Some("developer")
    );
    assert!(
        !events(&app, &pid)
            .await
            .iter()
            .any(|e| e.0 == "member.joined"),
        "nobody joined"
    );

    // A real join says so.
    let path = invited(&owner, &pid, "new@example.com", "admin").await;
    let r = accept_new(&app.agent(), &path, PASSWORD, "").await;
    assert_eq!(
        r.header("x-callem-toast").as_deref(),
        Some("You+joined+Acme+as+Admin.")
    );
}

async fn only_an_owner_revokes_or_replaces_an_invitation_to_the_owner_role(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let admin = app.user_with_role(&pid, "admin@example.com", "admin").await;
    let path = invited(&owner, &pid, "co-owner@example.com", "owner").await;
    let id = pending_id(&app, &pid, "co-owner@example.com").await;
    let revoke = format!("{}/invitations/{id}/revoke", team_path(&pid));

    let tab = admin.get(&team_path(&pid)).await;
    let forged = admin.post_htmx(&revoke, &[]).await;
    let replaced = invite(&admin, &pid, "co-owner@example.com", "member").await;

    assert!(tab
        .body
        .contains(r#"data-invitation="co-owner@example.com""#));
    assert!(
        !tab.body
            .contains("Revoke the invitation of co-owner@example.com"),
        "no Revoke for an Admin"
    );
    assert_eq!(forged.status, 403);
    assert!(
        replaced.body.contains(
            r#"id="invite-email-error">This address has a pending invitation as Owner: only an Owner can revoke or replace it."#
        ),
        "{}",
        replaced.body
    );
    let page = app.agent().get(&path).await;
    assert_eq!(page.status, 200, "still valid");
    assert!(page.body.contains("Owner"));
    // An Admin's own invitations to other roles it still revokes; the Owner revokes this one.
    let theirs = invited(&admin, &pid, "dev@example.com", "developer").await;
    let theirs_id = pending_id(&app, &pid, "dev@example.com").await;
    let r = admin
        .post_htmx(
            &format!("{}/invitations/{theirs_id}/revoke", team_path(&pid)),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(app.agent().get(&theirs).await.status, 404);
    owner.get(&team_path(&pid)).await;
    let r = owner.post_htmx(&revoke, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.agent().get(&path).await.status, 404);
}

async fn invitations_sent_at_once_through_two_replicas_stop_at_the_limit(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&team_path(&pid)).await;
    let replica = app.replica().await;
    let there = owner.on(&replica);
    let url = format!("{}/invitations", team_path(&pid));
    let emails: Vec<String> = (0..25).map(|i| format!("burst{i}@example.com")).collect();
    let sends = emails.iter().enumerate().map(|(i, email)| {
        let (agent, url) = (if i % 2 == 0 { &owner } else { &there }, &url);
        async move {
            agent
                .post_htmx(url, &[("email", email.as_str()), ("role", "member")])
                .await
        }
    });

    let answers = futures_util::future::join_all(sends).await;

    let made = answers
        .iter()
        .filter(|r| has_invitation_link(&r.body))
        .count();
    let refused = answers
        .iter()
        .filter(|r| {
            r.body
                .contains("invitations in the last hour, the most allowed")
        })
        .count();
    assert_eq!((made, refused), (20, 5));
    assert_eq!(count_rows(&app, "invitations").await, 20);
}

crate::on_both_backends!(
    two_accepts_of_one_invitation_at_once_make_one_member,
    an_invited_person_without_an_account_creates_one_and_is_signed_in_with_the_role,
    an_invited_account_joins_by_signing_in_or_in_one_click,
    unknown_used_revoked_and_expired_invitations_all_get_one_page,
    a_signed_in_user_with_another_email_is_told_so_and_joins_nothing,
    inviting_a_member_is_refused_and_inviting_again_replaces_the_pending_one,
    admins_cannot_grant_owner_and_the_last_owner_cannot_go,
    two_owners_demoting_each_other_at_once_leave_one_owner,
    developers_and_members_see_the_team_and_their_forged_changes_get_403,
    a_removed_member_is_told_at_once_on_every_replica_and_their_keys_stay,
    any_member_can_leave_with_a_confirmation,
    with_email_set_up_a_failed_send_is_reported_and_no_link_is_shown,
    a_removed_admins_invitations_are_revoked_and_their_links_no_longer_work,
    a_demoted_inviters_invitations_above_their_new_role_are_revoked,
    an_invitation_whose_inviter_lost_the_right_to_grant_it_is_no_longer_valid,
    the_invitation_page_reads_the_same_whether_or_not_the_account_exists,
    an_account_made_from_a_shown_link_is_adopted_by_user_create_only_with_a_new_password,
    a_used_reset_link_vouches_for_an_unverified_accounts_email,
    invitations_are_limited_per_inviter_and_per_project_each_hour,
    invitation_emails_to_one_address_are_limited_to_three_a_day_across_projects,
    accepting_as_an_existing_member_says_the_role_did_not_change,
    only_an_owner_revokes_or_replaces_an_invitation_to_the_owner_role,
    invitations_sent_at_once_through_two_replicas_stop_at_the_limit,
);

/// A real SMTP server (Python's aiosmtpd, from `target/ci-venv`) writing each message it
/// receives into a maildir.
pub(crate) struct SmtpSink {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    fn python() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv/bin/python")
    }

    pub(crate) fn start() -> SmtpSink {
        let python = Self::python();
        let has_it = std::process::Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            has_it,
            "aiosmtpd is not installed in target/ci-venv: python3 -m venv target/ci-venv && \
             target/ci-venv/bin/pip install aiosmtpd (.ci/run does this)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("mail"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        // Dropped (killed and waited for) on every path from here.
        let sink = SmtpSink { child, port, dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sink;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("aiosmtpd did not listen on {port}");
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, as text.
    pub(crate) fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("mail/new");
        std::fs::read_dir(new)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn an_invitation_is_emailed_when_smtp_is_configured_and_its_link_opens_the_invitation(
    app: TestApp,
) {
    let sink = SmtpSink::start();
    let (owner, pid) = app.setup_owner().await;
    let url = sink.url();
    let (replica, _) = app
        .replica_configured(move |s| {
            s.smtp = callem::email::SmtpConfig::parse(&url, "Callem Studio <callem@example.com>")
                .unwrap();
        })
        .await;
    let on_replica = owner.on(&replica);
    let r = invite(&on_replica, &pid, "ivy@example.com", "developer").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Sent to ivy@example.com."), "{}", r.body);
    assert!(
        !has_invitation_link(&r.body),
        "with email, the link goes to the address only: {}",
        r.body
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "one message, received before the answer");
    let m = &messages[0];
    assert!(m.contains("X-RcptTo: ivy@example.com"), "{m}");
    assert!(m.contains("Subject: Join Acme on Callem Studio"), "{m}");
    assert!(m.contains("callem@example.com"), "from: {m}");
    // Quoted-printable, as the mail client reads it.
    let decoded = m
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let mailed = invitation_path(&decoded);
    let ivy = app.agent().on(&replica);
    let page = ivy.get(&mailed).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Join Acme"));
    let r = ivy.post_form(&mailed, &[("password", PASSWORD)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let verified = app
        .db(|c| Ok(db::users::find_by_email(c, "ivy@example.com")?))
        .await
        .unwrap()
        .email_verified_at;
    assert!(verified.is_some(), "reading the mailbox verified the email");

    // Without email configured, nothing is sent.
    let r = invite(&owner, &pid, "jo@example.com", "member").await;
    assert!(r.body.contains("Email is not set up"));
    assert_eq!(sink.messages().len(), 1);
}

mod emailed {
    #[actix_web::test]
    #[cfg_attr(
        not(callem_smtp_tests),
        ignore = "aiosmtpd is not installed in target/ci-venv"
    )]
    async fn sqlite() {
        let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Sqlite).await;
        super::an_invitation_is_emailed_when_smtp_is_configured_and_its_link_opens_the_invitation(
            app,
        )
        .await
    }

    #[actix_web::test]
    #[cfg_attr(
        any(not(callem_smtp_tests), not(callem_pg_tests)),
        ignore = "aiosmtpd is not installed in target/ci-venv, or TEST_DATABASE_URL is not set"
    )]
    async fn postgres() {
        super::an_invitation_is_emailed_when_smtp_is_configured_and_its_link_opens_the_invitation(
            crate::helpers::TestApp::spawn_postgres().await,
        )
        .await
    }
}

#[actix_web::test]
async fn the_invitation_token_is_in_no_log_line() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (owner, pid) = app.setup_owner().await;
    let served = Served::start(app.db.url(), &[("RUST_LOG", "info")]);
    let path = invited(&owner.on(&served.base), &pid, "kim@example.com", "member").await;
    let token = path.trim_start_matches("/invitations/").to_owned();
    let r = accept_new(&Agent::new(&served.base), &path, PASSWORD, "Kim").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let log = served.log_settled().await;
    assert!(
        log.contains("path=/invitations/…"),
        "the accept is in the access log: {log}"
    );
    assert!(!log.contains(&token), "{log}");
}

async fn a_removed_members_next_click_says_they_no_longer_belong_and_strangers_learn_nothing(
    app: TestApp,
) {
    let (owner, pid) = app.setup_owner().await;
    let member = app.user_with_role(&pid, "mem@example.com", "member").await;
    let leaver = app
        .user_with_role(&pid, "leaver@example.com", "member")
        .await;
    let stranger = app
        .user_with_role(
            &app.other_project("Elsewhere").await,
            "x@example.com",
            "owner",
        )
        .await;
    let calls = format!("/projects/{pid}/calls");
    assert_eq!(member.get(&calls).await.status, 200);

    let mem_id = user_id(&app, "mem@example.com").await;
    owner.get(&team_path(&pid)).await;
    let r = owner
        .post_htmx(
            &format!("{}/members/{}/remove", team_path(&pid), mem_id.as_str()),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Any page of the project, full or htmx, a GET or a POST.
    for path in [
        format!("/projects/{pid}"),
        calls.clone(),
        format!("{calls}/no-such-call"),
        format!("/projects/{pid}/knowledge"),
        team_path(&pid),
    ] {
        let page = member.get(&path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(
            page.body.contains("You no longer belong to Acme")
                && page
                    .body
                    .contains("An owner or admin removed you from this project on"),
            "{path}: {}",
            page.body
        );
        let fragment = member.get_htmx(&path).await;
        assert_eq!(
            (fragment.status, fragment.header("hx-redirect")),
            (200, Some(format!("/projects/{pid}"))),
            "{path}: the page then says it in full"
        );
    }
    let post = member
        .post_htmx(&format!("{}/leave", team_path(&pid)), &[])
        .await;
    assert_eq!(post.header("hx-redirect"), Some(format!("/projects/{pid}")));

    // Someone who never belonged, or who left on their own, gets the page as before.
    leaver.get(&team_path(&pid)).await;
    leaver
        .post_htmx(&format!("{}/leave", team_path(&pid)), &[])
        .await;
    for (who, agent) in [("stranger", &stranger), ("leaver", &leaver)] {
        let page = agent.get(&calls).await;
        assert_eq!(page.status, 404, "{who}");
        assert!(!page.body.contains("Acme"), "{who}: {}", page.body);
        let fragment = agent.get_htmx(&calls).await;
        assert_eq!(fragment.status, 404, "{who}");
        assert!(fragment.header("hx-redirect").is_none(), "{who}");
    }

    // Invited back, they are a member again.
    let mem = project(&pid);
    app.db(move |c| {
        db::users::add_to_project(
            c,
            "mem@example.com",
            None,
            &mem,
            callem::domain::role::Role::Member,
            callem::time::now(),
        )
    })
    .await;
    assert_eq!(member.get(&calls).await.status, 200);
}

async fn the_owner_sees_their_own_last_sign_in_right_after_setup(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let recorded = app
        .db(|c| Ok(db::users::find_by_email(c, OWNER_EMAIL)?))
        .await
        .unwrap()
        .last_sign_in_at;
    assert!(recorded.is_some(), "setup signs the Owner in, and says so");
    let admin = app.user_with_role(&pid, "admin@example.com", "admin").await;
    let page = owner.get(&team_path(&pid)).await;
    let row = |body: &str, email: &str| {
        let start = body.find(&format!(r#"data-member="{email}""#)).unwrap();
        body[start..start + body[start..].find("</tr>").unwrap()].to_owned()
    };
    let own = row(&page.body, OWNER_EMAIL);
    assert!(
        own.contains("<time title=") && !own.contains("Never"),
        "{own}"
    );
    assert!(
        !row(&page.body, "admin@example.com").contains("Never"),
        "signed in by the helper"
    );

    // An account whose sign-in was never recorded (made before setup recorded it): while
    // its Owner is signed in, their own row does not say "Never"; others' rows still may.
    app.db(|c| {
        use callem::db::schema::users::dsl::*;
        use diesel::prelude::*;
        Ok(diesel::update(users)
            .set(last_sign_in_at.eq(None::<chrono::NaiveDateTime>))
            .execute(c)?)
    })
    .await;
    let page = owner.get(&team_path(&pid)).await;
    let own = row(&page.body, OWNER_EMAIL);
    assert!(own.contains(">Now</time>"), "{own}");
    assert!(row(&page.body, "admin@example.com").contains("Never"));
    let theirs = admin.get(&team_path(&pid)).await;
    assert!(row(&theirs.body, "admin@example.com").contains(">Now</time>"));
    assert!(row(&theirs.body, OWNER_EMAIL).contains("Never"));
}

crate::on_both_backends!(
    a_removed_members_next_click_says_they_no_longer_belong_and_strangers_learn_nothing,
    the_owner_sees_their_own_last_sign_in_right_after_setup,
);
