//! The request edge under attack: client addresses behind proxies, forged hosts and origins,
//! the setup link, sign-in limits, and the headers on every response.

use callem::domain::expiry::Expiry;

use crate::helpers::*;

/// The app of the test's backend again, with the proxy on 127.0.0.1 trusted.
async fn behind_proxy(app: &TestApp, limit: u32) -> TestApp {
    let db = TestDb::create(app.backend());
    TestApp::spawn_configured(db, |s| {
        s.trusted_proxies = callem::config::parse_trusted_proxies("127.0.0.1/32").unwrap();
        s.rate_limit_per_minute = limit;
    })
    .await
}

fn with_key(key: &str, xff: &[&str]) -> Vec<(&'static str, String)> {
    let mut h = vec![("authorization", format!("Bearer {key}"))];
    h.extend(xff.iter().map(|v| ("x-forwarded-for", (*v).to_owned())));
    h
}

async fn every_forwarded_for_line_is_read_and_a_silent_proxy_opens_no_ip_rule(app: TestApp) {
    let proxied = behind_proxy(&app, 100_000).await;
    let pid = proxied.other_project("P").await;
    let a = proxied.agent();

    // A key allowed only for the proxy's own address: a request that names no client
    // is not "from the proxy".
    let (_, for_proxy) = proxied.issue_key(&pid, "127.0.0.1", Expiry::Never).await;
    for xff in [
        &[][..],
        &[""],
        &["unknown"],
        &["1.2.3.4:99999"],
        &["junk, 10.0.0.1"],
    ] {
        let r = a
            .send("GET", "/v1/calls", &with_key(&for_proxy, xff), None)
            .await;
        assert_eq!(
            api_error(&r),
            (403, "IP address not allowed".into()),
            "{xff:?}"
        );
    }

    // The client sends its own line; the proxy appends the real address on a second one.
    let (kid, allowed) = proxied.issue_key(&pid, "198.51.100.7", Expiry::Never).await;
    let r = a
        .send(
            "GET",
            "/v1/calls",
            &with_key(&allowed, &["10.1.2.3", "198.51.100.7"]),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = a
        .send(
            "GET",
            "/v1/calls",
            &with_key(&allowed, &["198.51.100.7", "6.6.6.6"]),
            None,
        )
        .await;
    assert_eq!(
        api_error(&r),
        (403, "IP address not allowed".into()),
        "a first line of the client's choosing is not the client"
    );
    proxied.flush_usage().await;
    let (p, k) = (
        project(&pid),
        callem::domain::ids::KeyId::parse(&kid).unwrap(),
    );
    let stored = proxied
        .db(move |c| Ok(callem::db::api_keys::find_in_project(c, &p, &k)?))
        .await
        .unwrap();
    assert_eq!(
        stored.last_used_ip.as_deref(),
        Some("198.51.100.7"),
        "last used names the resolved client"
    );

    // Ports, written the two exact ways.
    let (_, v4) = proxied.issue_key(&pid, "192.0.2.1", Expiry::Never).await;
    assert_eq!(
        a.send(
            "GET",
            "/v1/calls",
            &with_key(&v4, &["192.0.2.1:51234"]),
            None
        )
        .await
        .status,
        200
    );
    let (_, v6) = proxied.issue_key(&pid, "2001:db8::1", Expiry::Never).await;
    assert_eq!(
        a.send(
            "GET",
            "/v1/calls",
            &with_key(&v6, &["[2001:db8::1]:443"]),
            None
        )
        .await
        .status,
        200
    );

    // A key without rules still opens for an unknown client.
    let (_, open) = proxied.issue_key(&pid, "", Expiry::Never).await;
    assert_eq!(
        a.send("GET", "/v1/calls", &with_key(&open, &["unknown"]), None)
            .await
            .status,
        200
    );
}

async fn unknown_clients_share_their_proxys_budget_and_ipv6_hosts_count_by_64(app: TestApp) {
    let proxied = behind_proxy(&app, 3).await;
    let pid = proxied.other_project("P").await;
    let (_, key) = proxied.issue_key(&pid, "", Expiry::Never).await;
    let a = proxied.agent();
    for xff in [&[][..], &["unknown"], &["garbage"]] {
        assert_eq!(
            a.send("GET", "/v1/calls", &with_key(&key, xff), None)
                .await
                .status,
            200
        );
    }
    let r = a.send("GET", "/v1/calls", &with_key(&key, &[]), None).await;
    assert_eq!(
        api_error(&r),
        (429, "Too many requests".into()),
        "all three were counted under the proxy"
    );
    assert_eq!(
        a.send("GET", "/v1/calls", &with_key(&key, &["198.51.100.9"]), None)
            .await
            .status,
        200,
        "a named client has its own budget"
    );

    for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"] {
        assert_eq!(
            a.send("GET", "/v1/calls", &with_key(&key, &[host]), None)
                .await
                .status,
            200
        );
    }
    let r = a
        .send(
            "GET",
            "/v1/calls",
            &with_key(&key, &["2001:db8:1:2:abcd::1"]),
            None,
        )
        .await;
    assert_eq!(
        r.status, 429,
        "the fourth address of the same /64 is over the budget"
    );
    assert_eq!(
        a.send(
            "GET",
            "/v1/calls",
            &with_key(&key, &["2001:db8:1:3::1"]),
            None
        )
        .await
        .status,
        200
    );
}

async fn a_forged_forwarded_host_or_a_scheme_mismatch_is_not_same_origin(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner
        .get(&format!("/projects/{pid}/settings/api-keys"))
        .await;
    let create = |origin: String, extra: Vec<(&'static str, String)>| {
        let mut h = vec![
            ("origin", origin),
            ("hx-request", "true".into()),
            ("x-csrf-token", owner.csrf()),
        ];
        h.extend(extra);
        h
    };
    let body = || {
        Some((
            "name=Forged&allowed_ips=&expires=30d".to_owned(),
            "application/x-www-form-urlencoded",
        ))
    };
    let path = format!("/projects/{pid}/settings/api-keys");
    let r = owner
        .send(
            "POST",
            &path,
            &create(
                "http://evil.example".into(),
                vec![("x-forwarded-host", "evil.example".into())],
            ),
            body(),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "X-Forwarded-Host from an untrusted peer is ignored"
    );
    let r = owner
        .send(
            "POST",
            &path,
            &create(
                "http://evil.example".into(),
                vec![("forwarded", "host=evil.example;proto=http".into())],
            ),
            body(),
        )
        .await;
    assert_eq!(r.status, 403, "so is Forwarded");
    let https = app.address.replace("http://", "https://");
    let r = owner
        .send("POST", &path, &create(https, vec![]), body())
        .await;
    assert_eq!(r.status, 403, "the scheme must match too");
    assert_eq!(count_rows(&app, "api_keys").await, 0);
    let r = owner
        .send("POST", &path, &create(app.address.clone(), vec![]), body())
        .await;
    assert_eq!(r.status, 200, "the real origin works: {}", r.body);
    assert_eq!(count_rows(&app, "api_keys").await, 1);
}

async fn a_trusted_proxy_may_name_the_public_host_and_scheme(app: TestApp) {
    let proxied = behind_proxy(&app, 100_000).await;
    let (owner, pid) = proxied.setup_owner().await;
    owner
        .get(&format!("/projects/{pid}/settings/api-keys"))
        .await;
    let h = vec![
        ("origin", "https://dash.example".to_owned()),
        ("x-forwarded-host", "dash.example".to_owned()),
        ("x-forwarded-proto", "https".to_owned()),
        ("hx-request", "true".to_owned()),
        ("x-csrf-token", owner.csrf()),
    ];
    let r = owner
        .send(
            "POST",
            &format!("/projects/{pid}/settings/api-keys"),
            &h,
            Some((
                "name=Proxied&allowed_ips=&expires=30d".to_owned(),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn setup_needs_the_printed_link_and_a_new_start_prints_a_new_one(app: TestApp) {
    let a = app.agent();
    let r = a.get("/setup").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Open the setup link"), "{}", r.body);
    assert_eq!(a.get("/setup?token=0000").await.status, 403);
    // A page that rebinds its own name to this server: same-origin by construction,
    // but it does not know the token.
    a.get(&app.setup_link()).await;
    let forged = [
        ("origin", "http://rebound.example:80".to_owned()),
        ("host", "rebound.example".to_owned()),
    ];
    let body = format!(
        "csrf_token={}&email=evil%40example.com&password=aaaaaaaaaaaaaaa&project_name=Pwned",
        a.csrf()
    );
    let r = a
        .send(
            "POST",
            "/setup",
            &forged,
            Some((body, "application/x-www-form-urlencoded")),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("Open the setup link"),
        "refused for want of the token: {}",
        r.body
    );
    let r = a
        .post_form(
            "/setup",
            &[
                ("setup_token", "wrong"),
                ("email", "evil@example.com"),
                ("password", "aaaaaaaaaaaaaaa"),
                ("project_name", "Pwned"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "a wrong token creates nothing");
    assert_eq!(count_rows(&app, "users").await, 0);

    // Another start (a restart, or a replica) prints a new link; the old one stops working.
    let old = app.setup_link();
    let db_url = app.db.url().to_owned();
    let second = callem::startup::Application::build(settings_for(&db_url))
        .await
        .unwrap();
    let new_token = second.setup_token().expect("still no user").to_owned();
    assert_ne!(format!("/setup?token={new_token}"), old);
    assert_eq!(a.get(&old).await.status, 403);
    assert_eq!(
        a.get(&format!("/setup?token={new_token}")).await.status,
        200
    );
    let stored = app
        .db(|c| {
            Ok(callem::db::settings::get(
                c,
                callem::db::settings::SETUP_TOKEN,
            )?)
        })
        .await
        .unwrap();
    assert!(!stored.contains(&new_token), "only the hash is stored");
}

async fn the_public_url_is_the_only_host_and_origin(app: TestApp) {
    let db = TestDb::create(app.backend());
    let public = TestApp::spawn_configured(db, |s| {
        s.public_origin = callem::origin::parse_public_url("https://dash.example").unwrap();
    })
    .await;
    let a = public.agent();
    let r = a.get("/login").await;
    assert_eq!(
        r.status, 400,
        "the Host 127.0.0.1:port is not the public one"
    );
    assert!(r.body.contains("CALLEM_PUBLIC_URL"));
    let api = a.get("/v1/calls").await;
    assert_eq!(api_error(&api).0, 400, "/v1 says so in JSON");
    assert_eq!(
        api.body,
        r#"{"statusCode":400,"message":"This server does not answer for that host name (see CALLEM_PUBLIC_URL)."}"#,
        "the edge's own error is the contract's body, byte for byte"
    );
    assert_eq!(
        api.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(
        a.get("/healthz").await.status,
        200,
        "probes answer any host"
    );
    assert_eq!(a.get("/readyz").await.status, 200);
    let host = [("host", "dash.example".to_owned())];
    let link = public.setup_link();
    let r = a.send("GET", &link, &host, None).await;
    assert_eq!(r.status, 200);
    let form = format!("csrf_token={}&setup_token={}&email=o%40example.com&password=aaaaaaaaaaaaaaa&project_name=P", a.csrf(), public.setup_token());
    let post = |origin: &str| {
        vec![
            ("host", "dash.example".to_owned()),
            ("origin", origin.to_owned()),
        ]
    };
    let r = a
        .send(
            "POST",
            "/setup",
            &post("http://dash.example"),
            Some((form.clone(), "application/x-www-form-urlencoded")),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "the Origin must be the public URL, scheme included"
    );
    let r = a
        .send(
            "POST",
            "/setup",
            &post("https://dash.example"),
            Some((form, "application/x-www-form-urlencoded")),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}

async fn repeated_failures_make_the_account_wait_from_any_address_and_replica(app: TestApp) {
    let proxied = behind_proxy(&app, 100_000).await;
    proxied.setup_owner().await;
    let replica = proxied.replica().await;
    let from = |i: usize| vec![("x-forwarded-for", format!("198.51.100.{i}"))];
    let attempt = |agent: &Agent, i: usize, password: &str| {
        let body = serde_urlencoded::to_string([
            ("csrf_token", agent.csrf()),
            ("email", OWNER_EMAIL.into()),
            ("password", password.into()),
        ])
        .unwrap();
        let mut h = from(i);
        h.push(("origin", agent.base.clone()));
        (h, body)
    };
    for i in 0..5 {
        // Spread over three addresses and two servers: each address stays under its own limit.
        let agent = if i % 2 == 0 {
            proxied.agent()
        } else {
            Agent::new(&replica)
        };
        agent.send("GET", "/login", &from(i % 3), None).await;
        let (h, body) = attempt(&agent, i % 3, "wrong password!!");
        let r = agent
            .send(
                "POST",
                "/login",
                &h,
                Some((body, "application/x-www-form-urlencoded")),
            )
            .await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let agent = Agent::new(&replica);
    agent.send("GET", "/login", &from(50), None).await;
    let (h, body) = attempt(&agent, 50, PASSWORD);
    let r = agent
        .send(
            "POST",
            "/login",
            &h,
            Some((body, "application/x-www-form-urlencoded")),
        )
        .await;
    assert_eq!(
        r.status, 429,
        "even the right password waits, from a fresh address"
    );
    assert!(
        r.body
            .contains("Too many failed sign-ins for this account. Try again in 1 minute."),
        "{}",
        r.body
    );
    assert_eq!(
        r.header("retry-after")
            .as_deref()
            .map(|s| s.parse::<i64>().unwrap() <= 30),
        Some(true)
    );

    // The wait ends: once it is over, the owner signs in and the count starts over.
    proxied
        .db(|c| {
            use callem::db::schema::sign_in_failures as f;
            use diesel::prelude::*;
            diesel::update(f::table)
                .set(f::last_failure_at.eq(callem::time::now() - chrono::Duration::seconds(31)))
                .execute(c)?;
            Ok(())
        })
        .await;
    let (h, body) = attempt(&agent, 50, PASSWORD);
    let r = agent
        .send(
            "POST",
            "/login",
            &h,
            Some((body, "application/x-www-form-urlencoded")),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        count_rows(&proxied, "sign_in_failures").await,
        0,
        "a success resets the count"
    );
}

/// The CSP allows no inline style, so no template may hold one (a `style` attribute or a
/// `<style>` element), and htmx is told not to inject its own.
#[test]
fn no_template_holds_an_inline_style_and_htmx_injects_none() {
    fn walk(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "html") {
                found.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut templates = Vec::new();
    walk(&root, &mut templates);
    assert!(templates.len() > 20, "{templates:?}");
    let inline = regex::Regex::new(r"(?i)(\sstyle\s*=|<style)").unwrap();
    for path in &templates {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            !inline.is_match(&text),
            "{} holds an inline style",
            path.display()
        );
    }
    let base = std::fs::read_to_string(root.join("layouts/base.html")).unwrap();
    assert!(
        base.contains(r#"<meta name="htmx-config" content='{"includeIndicatorStyles":false}'>"#)
    );
}

async fn security_headers_are_on_every_response_and_data_is_never_cached(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let page = owner.get(&format!("/projects/{pid}/calls")).await;
    let api = app.list_calls(&key, "").await;
    let refused_csrf = owner.send("POST", "/logout", &[], None).await;
    let not_found = owner.get("/nowhere").await;
    let method = app.api("PUT", "/v1/calls", &key).await;
    let unauth = app.agent().get("/v1/calls").await;
    for (what, r) in [
        ("page", &page),
        ("api", &api),
        ("csrf refusal", &refused_csrf),
        ("404", &not_found),
        ("405", &method),
        ("401", &unauth),
    ] {
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            r.header("x-frame-options").as_deref(),
            Some("DENY"),
            "{what}"
        );
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("style-src 'self';"), "{what}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
        assert_eq!(
            r.header("cache-control").as_deref(),
            Some("no-store"),
            "{what}"
        );
        assert!(
            r.header("strict-transport-security").is_none(),
            "no HSTS over plain HTTP: {what}"
        );
    }
    assert_eq!(refused_csrf.status, 403);
    assert_eq!(method.status, 405);
    assert_eq!(method.header("allow").as_deref(), Some("GET, POST"));
    assert_eq!(
        app.api("PUT", "/v1/knowledge/x", &key)
            .await
            .header("allow")
            .as_deref(),
        Some("GET, PATCH, DELETE")
    );
    let re = regex_lite::Regex::new(r#"href="(/static/[^"]+\.css)""#).unwrap();
    let css = re.captures(&page.body).unwrap()[1].to_owned();
    let asset = owner.get(&css).await;
    assert!(
        asset.header("cache-control").unwrap().contains("immutable"),
        "hashed assets stay cacheable"
    );

    let db = TestDb::create(app.backend());
    let secure = TestApp::spawn_configured(db, |s| s.secure_cookies = true).await;
    let r = secure.agent().get("/login").await;
    assert!(r
        .header("strict-transport-security")
        .unwrap()
        .contains("max-age="));
}

crate::on_both_backends!(
    every_forwarded_for_line_is_read_and_a_silent_proxy_opens_no_ip_rule,
    unknown_clients_share_their_proxys_budget_and_ipv6_hosts_count_by_64,
    a_forged_forwarded_host_or_a_scheme_mismatch_is_not_same_origin,
    a_trusted_proxy_may_name_the_public_host_and_scheme,
    setup_needs_the_printed_link_and_a_new_start_prints_a_new_one,
    the_public_url_is_the_only_host_and_origin,
    repeated_failures_make_the_account_wait_from_any_address_and_replica,
    security_headers_are_on_every_response_and_data_is_never_cached
);

#[actix_web::test]
async fn the_access_log_names_the_resolved_client_and_quotes_the_user_agent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("log.db").display());
    let served = Served::start(&url, &[("RUST_LOG", "info")]);
    let a = Agent::new(&served.base);
    let ua = "evil\" client=6.6.6.6\tx";
    a.send(
        "GET",
        "/healthz",
        &[
            ("x-forwarded-for", "203.0.113.5".into()),
            ("user-agent", ua.into()),
        ],
        None,
    )
    .await;
    let mut line = String::new();
    for _ in 0..50 {
        if let Some(l) = served
            .log()
            .lines()
            .find(|l| l.contains("path=/healthz") && l.contains("close"))
        {
            line = l.to_owned();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(line.contains("client=127.0.0.1"), "{line}");
    assert!(
        !line.contains("203.0.113.5"),
        "an untrusted X-Forwarded-For is not logged as the client: {line}"
    );
    assert!(
        line.contains(r#"user_agent="evil\" client=6.6.6.6\tx""#),
        "{line}"
    );
    assert!(line.contains("status=200"), "{line}");
}

#[actix_web::test]
async fn sixty_four_concurrent_sign_ins_keep_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rss.db").display());
    let (_, pid, _) = run_callem(&url, &["project", "create", "--name", "P"], None);
    let (code, _, err) = run_callem(
        &url,
        &[
            "user",
            "create",
            "--email",
            OWNER_EMAIL,
            "--project",
            pid.trim(),
            "--role",
            "owner",
        ],
        Some(PASSWORD),
    );
    assert_eq!(code, 0, "{err}");
    let served = Served::start(&url, &[("CALLEM_TRUSTED_PROXIES", "127.0.0.1")]);
    // 64 different addresses and accounts: neither sign-in limit spares a hash.
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let base = served.base.clone();
            actix_web::rt::spawn(async move {
                let a = Agent::new(&base);
                let from = vec![("x-forwarded-for", format!("198.51.100.{i}"))];
                a.send("GET", "/login", &from, None).await;
                let body = serde_urlencoded::to_string([
                    ("csrf_token", a.csrf()),
                    ("email", format!("guess{i}@example.com")),
                    ("password", "wrong password!!".into()),
                ])
                .unwrap();
                let mut h = from;
                h.push(("origin", base.clone()));
                let r = a
                    .send(
                        "POST",
                        "/login",
                        &h,
                        Some((body, "application/x-www-form-urlencoded")),
                    )
                    .await;
                (r.status, r.header("retry-after"))
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert!(
        statuses
            .iter()
            .all(|(s, retry)| *s == 401 || (*s == 503 && retry.is_some())),
        "{statuses:?}"
    );
    assert!(statuses.iter().any(|(s, _)| *s == 401));
    let peak = served.peak_rss_mib();
    assert!(peak < 300, "peak resident memory {peak} MiB");
}

#[actix_web::test]
async fn a_password_set_by_the_demo_ends_that_users_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let (code, out, err) = run_callem(&url, &["demo"], None);
    assert_eq!(code, 0, "{err}");
    let password = |out: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix("password:"))
            .unwrap()
            .trim()
            .to_owned()
    };
    let email = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("email:"))
        .unwrap()
        .trim()
        .to_owned();
    let db = TestDb::Sqlite {
        _dir: dir,
        url: url.clone(),
    };
    let app = TestApp::spawn_on(db).await;
    let a = app.agent();
    a.login(&email, &password(&out)).await;
    assert_eq!(a.get("/").await.status, 303);
    let home = a.get("/").await.location();
    assert!(home.starts_with("/projects/"), "{home}");
    let (code, _, err) = run_callem(&url, &["demo"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        a.get(&home).await.location(),
        "/login",
        "the old session ended with the old password"
    );
}

#[actix_web::test]
async fn serve_prints_a_setup_link_whose_token_opens_setup() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("link.db").display());
    let served = Served::start(&url, &[]);
    let mut link = None;
    for _ in 0..50 {
        link = served
            .stdout
            .lock()
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("No user yet: finish setting up at "))
            .map(str::to_owned);
        if link.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let link = link.expect("serve prints the setup link");
    let path = link.strip_prefix(&served.base).unwrap().to_owned();
    assert!(path.starts_with("/setup?token="), "{link}");
    let a = Agent::new(&served.base);
    assert_eq!(a.get(&path).await.status, 200);
    assert_eq!(a.get("/setup").await.status, 403);
    assert!(
        !served
            .log_settled()
            .await
            .contains(path.trim_start_matches("/setup?token=")),
        "the token is in no log"
    );
}
