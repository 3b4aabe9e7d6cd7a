//! The dashboard frame: project scoping, assets, health endpoints.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::*;

async fn other_projects_are_not_found(app: TestApp) {
    let (owner, project_id) = app.setup_owner().await;
    let foreign = app.other_project("Someone else").await;
    for path in [
        "",
        "/settings/api-keys",
        "/calls",
        "/knowledge",
        "/settings/api-keys/new",
    ] {
        let r = owner.get(&format!("/projects/{foreign}{path}")).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.body.contains("Someone else"));
    }
    assert_eq!(
        owner
            .get("/projects/000000000000000000000000/settings/api-keys")
            .await
            .status,
        404
    );
    assert_eq!(owner.get("/projects/not-an-id").await.status, 404);
    assert_eq!(
        owner
            .get(&format!("/projects/{project_id}/settings/api-keys"))
            .await
            .status,
        200
    );
}

async fn the_shell_has_the_sidebar_and_project_selector(app: TestApp) {
    let (owner, project_id) = app.setup_owner().await;
    let second = app.other_project("Second line").await;
    let (pid, oid) = (
        second.clone(),
        app.db(|c| {
            Ok(callem::db::users::find_by_email(c, OWNER_EMAIL)?
                .unwrap()
                .id)
        })
        .await,
    );
    app.db(move |c| {
        Ok(callem::db::memberships::upsert(
            c,
            &project(&pid),
            &oid,
            callem::domain::role::Role::Member,
            callem::time::now(),
        )?)
    })
    .await;
    let page = owner
        .get(&format!("/projects/{project_id}/knowledge"))
        .await;
    assert_eq!(page.status, 200);
    for needle in [
        "Knowledge Base",
        "Calls",
        "Settings",
        "Build",
        "Monitor",
        "Second line",
        "No knowledge yet",
    ] {
        assert!(page.body.contains(needle), "missing {needle}");
    }
    assert!(page.body.contains(&format!(
        r#"<option value="/projects/{second}">Second line</option>"#
    )));
    let r = owner
        .get(&format!("/projects/{second}/settings/api-keys"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains(">Member<"));
    assert_eq!(
        owner
            .get(&format!("/projects/{project_id}/calls"))
            .await
            .status,
        200
    );
    assert_eq!(
        owner
            .get(&format!("/projects/{project_id}"))
            .await
            .location(),
        format!("/projects/{project_id}/calls")
    );
}

async fn health_and_readiness_answer_json(app: TestApp) {
    let a = app.agent();
    let r = a.get("/healthz").await;
    assert_eq!(r.status, 200);
    let id = r
        .header("x-request-id")
        .expect("every response names its request id");
    assert_ne!(
        a.get("/healthz").await.header("x-request-id"),
        Some(id),
        "one id per request"
    );
    assert_eq!(r.json()["status"], "ok");
    let r = a.get("/readyz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["database"], "ok");
}

async fn assets_are_embedded_hashed_and_local(app: TestApp) {
    let a = app.agent();
    let page = a.get("/setup").await;
    let re = regex_lite::Regex::new(r#"(?:src|href)="([^"]+)""#).unwrap();
    let urls: Vec<String> = re
        .captures_iter(&page.body)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(urls.iter().any(|u| u.contains("htmx-2.0.11.")));
    for u in &urls {
        assert!(u.starts_with('/'), "external asset {u}");
    }
    for u in urls.iter().filter(|u| u.starts_with("/static/")) {
        let r = a.get(u).await;
        assert_eq!(r.status, 200, "{u}");
        assert!(r.header("cache-control").unwrap().contains("immutable"));
    }
    assert_eq!(
        a.get("/static/app.css").await.status,
        404,
        "only hashed names are served"
    );
    let r = a.get("/nowhere").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("Page not found"));
}

crate::on_both_backends!(
    other_projects_are_not_found,
    the_shell_has_the_sidebar_and_project_selector,
    health_and_readiness_answer_json,
    assets_are_embedded_hashed_and_local
);

/// A TCP relay in front of PostgreSQL that can be cut and restored, to take the real database
/// away from a running server without stopping the shared PostgreSQL.
pub struct Relay {
    pub port: u16,
    up: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

/// Copies one direction, holding still (the bytes stay unread, the socket open) while stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// A TCP relay in front of PostgreSQL that a test can cut (connections refused and closed:
/// the database is gone) or stall (connections stay open and nothing comes back: a frozen
/// primary, a partition).
impl Relay {
    pub async fn start(target: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let stalled = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (up2, stalled2, conns2) = (up.clone(), stalled.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    break;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let (target, stalled) = (target.clone(), stalled2.clone());
                let h = tokio::spawn(async move {
                    while stalled.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    if let Ok(outbound) = tokio::net::TcpStream::connect(target).await {
                        let (ir, iw) = inbound.into_split();
                        let (or, ow) = outbound.into_split();
                        tokio::join!(pump(ir, ow, stalled.clone()), pump(or, iw, stalled));
                    }
                });
                conns2.lock().unwrap().push(h);
            }
        });
        Relay {
            port,
            up,
            stalled,
            conns,
        }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }
}

#[actix_web::test]
#[cfg_attr(not(callem_pg_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn readiness_turns_503_when_postgres_goes_away_and_200_when_it_returns() {
    let db = TestDb::create(Backend::Postgres);
    let mut url = url::Url::parse(db.url()).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let relay = Relay::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.port)).unwrap();
    let app = callem::startup::Application::build(settings_for(url.as_str()))
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let a = Agent::new(&base);
    assert_eq!(a.get("/readyz").await.status, 200);

    relay.cut();
    let started = Instant::now();
    let r = a.get("/readyz").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["status"], "unavailable");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        a.get("/healthz").await.status,
        200,
        "the process is still up"
    );

    relay.restore();
    let mut ok = false;
    for _ in 0..20 {
        if a.get("/readyz").await.status == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ok, "readiness came back without a restart");
    drop(db);
}
