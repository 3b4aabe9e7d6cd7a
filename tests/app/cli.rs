//! The `callem` command line, run as a real process.

use std::process::{Command, Stdio};

#[allow(unused_imports)]
use crate::helpers::*;

/// The binary, run with arguments on a database (the shared helper).
fn callem(db_url: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    run_callem(db_url, args, stdin)
}

async fn project_user_and_keys_commands_work_for_scripts(app: TestApp) {
    let url = app.db.url().to_owned();
    let (code, out, err) = callem(&url, &["project", "create", "--name", "Scripted"], None);
    assert_eq!(code, 0, "{err}");
    let project = out.trim().to_owned();
    assert_eq!(project.len(), 24, "only the id on stdout: {out:?}");

    let (code, out, err) = callem(
        &url,
        &[
            "user",
            "create",
            "--email",
            "dev@example.com",
            "--project",
            &project,
            "--role",
            "admin",
        ],
        Some("a piped password\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim().len(), 24);
    let agent = app.agent();
    agent.login("dev@example.com", "a piped password").await;
    assert_eq!(
        agent.get("/").await.location(),
        format!("/projects/{project}")
    );

    // An existing email joins another project with that role instead of failing.
    let (_, other, _) = callem(&url, &["project", "create", "--name", "Other"], None);
    let (code, _, err) = callem(
        &url,
        &[
            "user",
            "create",
            "--email",
            "DEV@example.com",
            "--project",
            other.trim(),
            "--role",
            "member",
        ],
        Some(""),
    );
    assert_eq!(code, 0, "{err}");
    let r = agent
        .get(&format!("/projects/{}/settings/api-keys", other.trim()))
        .await;
    assert!(r.body.contains(">Member<"));

    let (code, _, err) = callem(
        &url,
        &[
            "user",
            "create",
            "--email",
            "x@example.com",
            "--project",
            &project,
            "--role",
            "member",
        ],
        Some("short\n"),
    );
    assert_ne!(code, 0);
    assert!(err.contains("at least 12 characters"), "{err}");
    let (code, _, err) = callem(
        &url,
        &[
            "user",
            "create",
            "--email",
            "x@example.com",
            "--project",
            &project,
            "--role",
            "boss",
        ],
        Some("long enough password\n"),
    );
    assert_ne!(code, 0);
    assert!(err.contains("unknown role"), "{err}");

    // Keys.
    let (code, out, err) = callem(
        &url,
        &[
            "keys",
            "create",
            "--project",
            &project,
            "--name",
            "CI key",
            "--allowed-ips",
            "1.2.3.4, 10.0.0.0/24",
            "--expires",
            "30d",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let key = out.trim().to_owned();
    assert!(
        callem::domain::api_key::is_well_formed(&key),
        "stdout holds only the key: {out:?}"
    );
    assert_eq!(out, format!("{key}\n"));

    let (code, out, _) = callem(&url, &["keys", "list", "--project", &project], None);
    assert_eq!(code, 0);
    assert!(
        out.contains("CI key")
            && out.contains(&format!("{}••••••••", &key[..12]))
            && out.contains("2 rules")
            && out.contains("Never"),
        "{out}"
    );
    assert!(!out.contains(&key));
    let key_id = out
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let (code, _, err) = callem(
        &url,
        &[
            "keys",
            "create",
            "--project",
            &project,
            "--name",
            "Bad",
            "--allowed-ips",
            "10.0.0.5/24",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("10.0.0.0/24"), "{err}");
    let (code, _, err) = callem(
        &url,
        &[
            "keys",
            "create",
            "--project",
            &project,
            "--name",
            "Bad",
            "--expires",
            "2001-01-01",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("after today"), "{err}");

    let (code, out, err) = callem(
        &url,
        &["keys", "revoke", "--project", &project, &key_id],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revoked"));
    let (code, out, _) = callem(&url, &["keys", "list", "--project", &project], None);
    assert_eq!(code, 0);
    assert!(!out.contains("CI key"));
    let (code, _, err) = callem(
        &url,
        &["keys", "revoke", "--project", other.trim(), &key_id],
        None,
    );
    assert_ne!(code, 0, "another project's key is not found");
    assert!(err.contains("no key"), "{err}");
}

crate::on_both_backends!(project_user_and_keys_commands_work_for_scripts);

async fn names_with_control_or_direction_characters_are_refused_by_the_commands(app: TestApp) {
    let url = app.db.url().to_owned();
    let (code, out, err) = callem(&url, &["project", "create", "--name", "Acme\nEvil"], None);
    assert_ne!(code, 0);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("--name: Project name must not contain line breaks or control characters."),
        "{err}"
    );
    let (code, _, err) = callem(
        &url,
        &["project", "create", "--name", "Acme \u{202E}"],
        None,
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("--name: Project name must not contain text-direction control characters."),
        "{err}"
    );
    assert_eq!(count_rows(&app, "projects").await, 0);

    let (_, project, _) = callem(&url, &["project", "create", "--name", "Acme"], None);
    let (code, _, err) = callem(
        &url,
        &[
            "user",
            "create",
            "--email",
            "ada\u{202E}@example.com",
            "--project",
            project.trim(),
            "--role",
            "member",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("--email: Enter an email address"), "{err}");
    assert_eq!(count_rows(&app, "users").await, 0);
}

crate::on_both_backends!(names_with_control_or_direction_characters_are_refused_by_the_commands);

async fn import_validates_the_whole_file_before_storing_anything(app: TestApp) {
    let url = app.db.url().to_owned();
    let (_, project, _) = callem(&url, &["project", "create", "--name", "Imports"], None);
    let project = project.trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"status\":\"completed\",\"duration\":3}\n\n{\"status\":\"finished\",\"duration\":3}\n",
    )
    .unwrap();
    let (code, out, err) = callem(
        &url,
        &[
            "import",
            "calls",
            "--project",
            &project,
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(out.is_empty());
    assert!(
        err.contains("line 3: status must be \"completed\" or \"live\""),
        "{err}"
    );
    assert_eq!(count_rows(&app, "calls").await, 0, "nothing imported");

    let (code, _, err) = callem(
        &url,
        &["import", "calls", "--project", &project, "-"],
        Some("not json\n"),
    );
    assert_ne!(code, 0);
    assert!(err.contains("line 1: not valid JSON"), "{err}");

    let good = "{\"id\":\"c1\",\"status\":\"completed\",\"duration\":3}\n{\"status\":\"live\",\"duration\":1}\n";
    let (code, out, err) = callem(
        &url,
        &["import", "calls", "--project", &project, "-"],
        Some(good),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "imported 2 calls\n");
    assert!(
        err.contains("importing calls: 2/2"),
        "progress on stderr: {err}"
    );
    assert_eq!(count_rows(&app, "calls").await, 2);

    let (code, _, err) = callem(
        &url,
        &["import", "calls", "--project", &project, "-"],
        Some(good),
    );
    assert_ne!(code, 0, "ids are unique");
    assert!(
        err.contains("line 1: a call with id 'c1' already exists"),
        "{err}"
    );
    assert_eq!(count_rows(&app, "calls").await, 2);
    let (code, _, err) = callem(
        &url,
        &["import", "calls", "--project", "nope", "-"],
        Some(good),
    );
    assert_ne!(code, 0);
    assert!(err.contains("no project with id 'nope'"), "{err}");
}

crate::on_both_backends!(import_validates_the_whole_file_before_storing_anything);

#[test]
fn unknown_database_schemes_stop_the_start_without_creating_a_file() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "mysql://root@localhost/callem",
        "postgress://localhost/callem",
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_callem"));
        let out = cmd
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", url)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        let scheme = url.split(':').next().unwrap();
        assert!(err.contains(&format!("'{scheme}:'")), "{err}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file was created"
    );
}

#[test]
fn a_port_in_use_and_an_unreachable_database_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_callem"))
        .args(["serve", "--bind", &addr])
        .env("DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let port = busy.local_addr().unwrap().port();
    let line = format!(
        "error: port {port} is in use — set CALLEM_BIND or --bind, e.g. 127.0.0.1:{}",
        port + 1
    );
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("error:"))
            .collect::<Vec<_>>(),
        [line.as_str()],
        "one line, with the fix: {err}"
    );
    assert_eq!(err.matches("in use").count(), 1, "said once: {err}");

    let out = Command::new(env!("CARGO_BIN_EXE_callem"))
        .args(["serve"])
        .env("DATABASE_URL", &db)
        .env("CALLEM_BIND", "8080")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "error: CALLEM_BIND=8080 is a port without an address — use 127.0.0.1:8080 (this machine only) or 0.0.0.0:8080 (every interface)"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_callem"))
        .args(["migrate"])
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nothing")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot use the database"), "{err}");
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["project", "create", "--help"],
        vec!["user", "create", "--help"],
        vec!["keys", "create", "--help"],
        vec!["keys", "list", "--help"],
        vec!["keys", "revoke", "--help"],
        vec!["import", "calls", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_callem"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_callem"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("x.db").display()),
        )
        // Not the default 15 s drain: this is about exiting cleanly.
        .env("CALLEM_SHUTDOWN_DRAIN_SECS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.starts_with("Callem Studio is running at http://127.0.0.1:"),
        "{first}"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exits cleanly on SIGTERM: {status:?}");
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

async fn the_demo_lets_the_owner_made_at_setup_open_it(app: TestApp) {
    let (owner, _) = app.setup_owner().await;
    let url = app.db.url().to_owned();
    let (code, out, err) = callem(&url, &["demo"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "The existing owners can open it too (added as owners): {OWNER_EMAIL}"
        )),
        "{out}"
    );
    assert!(
        out.contains("cargo run --release -- serve"),
        "a command that works from the repository: {out}"
    );
    let link = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("project:"))
        .unwrap()
        .trim()
        .to_owned();
    let path = link
        .split_once("/projects/")
        .map(|(_, p)| format!("/projects/{p}"))
        .unwrap();
    let r = owner.get(&path).await;
    assert_eq!(r.status, 200, "the setup owner opens the Demo project");
    assert!(r.body.contains(">Demo</option>"));
    // Run again: nothing to add, nothing said.
    let (code, out, _) = callem(&url, &["demo"], None);
    assert_eq!(code, 0);
    assert!(!out.contains("existing owners"), "{out}");
}

crate::on_both_backends!(the_demo_lets_the_owner_made_at_setup_open_it);
