//! A dashboard session's server-side life: 14 days from sign-in at most, and only while used
//! within the idle limit; a copied cookie dies on the same schedule, and the person lands on
//! `/login` with a sentence saying why. The limits are shortened here to seconds.

use std::time::Duration;

use callem::domain::session_policy::SessionPolicy;

use crate::helpers::{keys_path, Agent, Backend, TestApp, TestDb};

async fn app_with(backend: Backend, lifetime_secs: i64, idle_secs: i64) -> TestApp {
    let db = TestDb::create(backend);
    TestApp::spawn_configured(db, |s| {
        s.session_policy = SessionPolicy {
            lifetime_secs,
            idle_secs,
        }
    })
    .await
}

async fn an_idle_session_ends_and_login_says_why(backend: Backend) {
    let app = app_with(backend, 3600, 2).await;
    let (owner, pid) = app.setup_owner().await;
    assert_eq!(owner.get(&keys_path(&pid)).await.status, 200);
    // A copy of the cookie, as an attacker who lifted it would hold it.
    let copy = Agent::new(&app.address);
    copy.set_cookie(owner.cookie());
    assert_eq!(copy.get(&keys_path(&pid)).await.status, 200);

    tokio::time::sleep(Duration::from_millis(2600)).await;

    let r = copy.get(&keys_path(&pid)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/login?ended=idle");
    let r = owner.get_htmx(&keys_path(&pid)).await;
    assert_eq!(
        r.header("hx-redirect").as_deref(),
        Some("/login?ended=idle")
    );
    let login = owner.get("/login?ended=idle").await;
    assert_eq!(login.status, 200);
    assert!(
        login
            .body
            .contains("You were signed out after 2 seconds without activity."),
        "{}",
        login.body
    );
    // Nothing but the fixed sentences is ever shown from the query.
    let odd = owner.get("/login?ended=%3Cb%3Ehi").await;
    assert!(!odd.body.contains("session-ended"), "{}", odd.body);
}

async fn use_slides_the_idle_limit_but_not_the_lifetime(backend: Backend) {
    let app = app_with(backend, 8, 2).await;
    let (owner, pid) = app.setup_owner().await;
    let signed_in = std::time::Instant::now();
    // Used every 900 ms: never idle for 2 s, so it lives on until its lifetime ends.
    let r = loop {
        let r = owner.get(&keys_path(&pid)).await;
        if r.status != 200 {
            break r;
        }
        assert!(signed_in.elapsed() < Duration::from_secs(12), "never ended");
        tokio::time::sleep(Duration::from_millis(900)).await;
    };
    assert!(
        signed_in.elapsed() > Duration::from_secs(5),
        "outlived the 2 s idle limit by being used: {:?}",
        signed_in.elapsed()
    );
    assert_eq!(r.location(), "/login?ended=lifetime", "{}", r.body);
    let login = owner.get(&r.location()).await;
    assert!(
        login
            .body
            .contains("You were signed out: a session lasts 8 seconds from sign-in."),
        "{}",
        login.body
    );
    // Signing in again starts a fresh session.
    let r = owner
        .login(crate::helpers::OWNER_EMAIL, crate::helpers::PASSWORD)
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(owner.get(&keys_path(&pid)).await.status, 200);
}

mod an_idle_session_ends_and_login_says_why {
    #[actix_web::test]
    async fn sqlite() {
        super::an_idle_session_ends_and_login_says_why(crate::helpers::Backend::Sqlite).await
    }

    #[actix_web::test]
    #[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
    async fn postgres() {
        super::an_idle_session_ends_and_login_says_why(crate::helpers::Backend::Postgres).await
    }
}

mod use_slides_the_idle_limit_but_not_the_lifetime {
    #[actix_web::test]
    async fn sqlite() {
        super::use_slides_the_idle_limit_but_not_the_lifetime(crate::helpers::Backend::Sqlite).await
    }

    #[actix_web::test]
    #[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
    async fn postgres() {
        super::use_slides_the_idle_limit_but_not_the_lifetime(crate::helpers::Backend::Postgres)
            .await
    }
}
