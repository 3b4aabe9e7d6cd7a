//! The disk holding the database full: the command line says so in one line, naming the
//! file; the API and the dashboard answer 503 with `Retry-After`, and reads still work.
//!
//! The server's database is made "full" with SQLite's `max_page_count` (portable, and the
//! very `SQLITE_FULL` a full disk gives); the commands, separate processes, get a real full
//! disk: a small tmpfs mounted for the test.

use std::path::{Path, PathBuf};

use callem::domain::expiry::Expiry;

use crate::helpers::*;

/// An app on SQLite with one pooled connection, so a pragma set on it holds for every request.
async fn app_on_one_connection() -> TestApp {
    let db = TestDb::create(Backend::Sqlite);
    TestApp::spawn_configured(db, |s| s.db_pool_size = 1).await
}

/// No page may be added to the database file any more: the next write that needs one fails
/// with `SQLITE_FULL`, as on a full disk.
async fn fill_the_database(app: &TestApp) {
    use diesel::connection::SimpleConnection;
    use diesel::RunQueryDsl;
    app.db(|conn| {
        let callem::db::DbConnection::Sqlite(c) = conn else {
            unreachable!("SQLite")
        };
        // A checkpoint first, so the pages a write needs are counted against the file.
        c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?;
        let pages: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT page_count FROM pragma_page_count())",
        ))
        .get_result(c)?;
        c.batch_execute(&format!("PRAGMA max_page_count = {pages};"))?;
        Ok(())
    })
    .await;
}

/// A text no page in the file has room for.
fn big_text() -> String {
    "disk full ".repeat(2_000)
}

#[actix_web::test]
async fn an_api_write_on_a_full_disk_is_a_503_to_retry_and_reads_still_work() {
    let app = app_on_one_connection().await;
    let pid = app.other_project("P").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    fill_the_database(&app).await;

    let r = app
        .create_knowledge(
            &key,
            &serde_json::json!({"name": "Big", "text": big_text()}),
        )
        .await;

    assert_eq!(api_error(&r), (503, "Service unavailable".into()));
    assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    let list = app.list_knowledge(&key, "").await;
    assert_eq!(list.status, 200, "reads still work: {}", list.body);
    let again = app
        .create_knowledge(
            &key,
            &serde_json::json!({"name": "Big", "text": big_text()}),
        )
        .await;
    assert_eq!(again.status, 503, "not taken for a database that is down");
}

#[actix_web::test]
async fn a_dashboard_write_on_a_full_disk_says_so_with_a_503_page_and_toast() {
    let app = app_on_one_connection().await;
    let (owner, pid) = app.setup_owner().await;
    let path = format!("/projects/{pid}/knowledge");
    owner.get(&path).await;
    fill_the_database(&app).await;
    let text = big_text();
    let item = [("name", "Big"), ("content", text.as_str())];

    let toast = owner.post_htmx(&path, &item).await;
    let page = owner.post_form(&path, &item).await;

    assert_eq!(toast.status, 503, "{}", toast.body);
    assert!(toast.header("retry-after").is_some());
    assert_eq!(toast.header("hx-retarget").as_deref(), Some("#toasts"));
    assert!(
        toast.body.contains(r#"role="alert""#)
            && toast
                .body
                .contains("disk is full, so nothing could be saved"),
        "{}",
        toast.body
    );
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.header("retry-after").is_some());
    assert!(
        page.body.contains("<html") && page.body.contains("Disk full"),
        "{}",
        page.body
    );
}

/// A tmpfs of `kib` KiB mounted on a fresh directory, unmounted when dropped. The tests that
/// use it are compiled in only where they may mount (root, or CI: see build.rs), and listed
/// as ignored elsewhere; a mount that fails then fails the test.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(kib: u32) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cannot mount a small tmpfs (the disk-full tests need root)"
        );
        SmallDisk { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Takes all the free space but `keep` bytes.
    fn fill_leaving(&self, keep: u64) {
        let free = free_bytes(self.dir.path());
        let filler = std::fs::File::create(self.path("filler")).unwrap();
        filler.set_len(0).unwrap();
        let out = std::process::Command::new("fallocate")
            .args(["-l", &free.saturating_sub(keep).to_string()])
            .arg(self.path("filler"))
            .status()
            .unwrap();
        assert!(out.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

fn free_bytes(dir: &Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}

/// A database on a 1.5 MB disk, migrated, with a project; (disk, URL, file, project id).
fn database_on_a_small_disk() -> (SmallDisk, String, String, String) {
    let disk = SmallDisk::mount(1500);
    let file = disk.path("callem.db").display().to_string();
    let url = format!("sqlite://{file}");
    let (code, out, err) = run_callem(&url, &["project", "create", "--name", "P"], None);
    assert_eq!(code, 0, "{err}");
    (disk, url, file, out.trim().to_owned())
}

fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !l.starts_with("importing calls:"))
        .collect()
}

#[test]
#[cfg_attr(not(callem_mount_tests), ignore = "mounting a small tmpfs needs root")]
fn importing_calls_onto_a_full_disk_says_so_in_one_line_naming_the_file() {
    let (disk, url, file, pid) = database_on_a_small_disk();
    let calls = disk.dir.path().with_extension("jsonl");
    let lines: String = (0..20_000)
        .map(|i| {
            format!(
                "{{\"id\":\"c{i}\",\"status\":\"completed\",\"duration\":1,\
                 \"createdAt\":\"2025-12-15T14:30:00.000Z\",\"summary\":\"{}\"}}\n",
                "x".repeat(200)
            )
        })
        .collect();
    std::fs::write(&calls, lines).unwrap();

    let (code, _, err) = run_callem(
        &url,
        &[
            "import",
            "calls",
            "--project",
            &pid,
            calls.to_str().unwrap(),
        ],
        None,
    );
    let _ = std::fs::remove_file(&calls);

    assert_eq!(code, 1);
    assert_eq!(
        error_lines(&err),
        [format!(
            "error: the disk holding {file} is full: free some space on it and run the command again"
        )
        .as_str()],
        "{err}"
    );
    let (_, listed, _) = run_callem(&url, &["keys", "list", "--project", &pid], None);
    assert!(!listed.is_empty(), "the database still works");
}

#[test]
#[cfg_attr(not(callem_mount_tests), ignore = "mounting a small tmpfs needs root")]
fn creating_a_key_on_a_full_disk_says_so_once() {
    let (disk, url, file, pid) = database_on_a_small_disk();
    let expected = format!(
        "error: the disk holding {file} is full: free some space on it and run the command again"
    );
    // Room for the write-ahead log's first pages but not the write; then none at all (SQLite
    // then cannot even open its log, and says "disk I/O error").
    for keep in [32 * 1024, 0] {
        disk.fill_leaving(keep);

        let (code, out, err) = run_callem(
            &url,
            &["keys", "create", "--project", &pid, "--name", "K"],
            None,
        );

        assert_eq!(code, 1, "{out}");
        assert_eq!(
            err.lines().collect::<Vec<_>>(),
            [expected.as_str()],
            "{err}"
        );
        std::fs::remove_file(disk.path("filler")).unwrap();
    }
    let (code, out, err) = run_callem(
        &url,
        &["keys", "create", "--project", &pid, "--name", "K"],
        None,
    );
    assert_eq!(code, 0, "once space is freed the same command works: {err}");
    assert!(out.starts_with("ck_"), "{out}");
}

#[actix_web::test]
#[cfg_attr(not(callem_mount_tests), ignore = "mounting a small tmpfs needs root")]
async fn the_server_answers_503_on_a_really_full_disk_and_logs_why() {
    let (disk, url, _, pid) = database_on_a_small_disk();
    let (_, key, err) = run_callem(
        &url,
        &["keys", "create", "--project", &pid, "--name", "K"],
        None,
    );
    assert!(key.starts_with("ck_"), "{err}");
    let served = Served::start(&url, &[]);
    let a = Agent::new(&served.base);
    let auth = [("authorization", format!("Bearer {}", key.trim()))];
    assert_eq!(
        a.send("GET", "/v1/knowledge", &auth, None).await.status,
        200
    );
    disk.fill_leaving(32 * 1024);
    let item = serde_json::json!({"name": "Big", "text": "disk full ".repeat(20_000)});

    let r = a
        .send(
            "POST",
            "/v1/knowledge",
            &auth,
            Some((item.to_string(), "application/json")),
        )
        .await;

    assert_eq!(api_error(&r), (503, "Service unavailable".into()));
    assert!(r.header("retry-after").is_some());
    assert_eq!(
        a.send("GET", "/v1/knowledge", &auth, None).await.status,
        200,
        "reads still work"
    );
    let log = served.log_settled().await;
    assert!(
        log.lines()
            .any(|l| l.contains("the disk holding the database is full")
                && l.contains("database or disk is full")),
        "{log}"
    );
}
