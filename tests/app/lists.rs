//! Lists of large rows are streamed in batches: the same JSON as a whole page, with memory
//! bounded whatever the page's size and the number of clients.

use std::io::{Read, Write};

use callem::db::models::KnowledgeItem;
use callem::domain::expiry::Expiry;
use serde_json::Value;

use crate::helpers::*;

/// Stores `n` items of `size` bytes of text, two at each second (newest last; ties broken
/// by id).
async fn big_items(app: &TestApp, pid: &str, n: usize, size: usize) {
    let pid = project(pid);
    app.db(move |conn| {
        let base = callem::time::now() - chrono::Duration::seconds(n as i64);
        for i in 0..n {
            callem::db::knowledge::insert(
                conn,
                &KnowledgeItem {
                    id: callem::domain::ids::KnowledgeId::generate(),
                    project_id: pid.clone(),
                    name: format!("item {i:03}"),
                    description: None,
                    text: format!("{i:03}") + &"\"x".repeat(size / 2),
                    created_at: base + chrono::Duration::seconds(i as i64 / 2),
                },
            )?;
        }
        Ok(())
    })
    .await;
}

async fn a_page_larger_than_a_batch_is_the_same_json_as_a_small_one(app: TestApp) {
    let pid = app.other_project("P").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    // 30 items of 300 KiB: about 9 MiB, several batches.
    big_items(&app, &pid, 30, 300 * 1024).await;
    let all = app.list_knowledge(&key, "?limit=1000").await;
    assert_eq!(all.status, 200);
    assert_eq!(
        all.header("content-type").as_deref(),
        Some("application/json")
    );
    let v: Value = all.json();
    let names: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    // The same order as pages small enough to be one query each.
    let mut paged = Vec::new();
    for offset in (0..30).step_by(3) {
        let p = app
            .list_knowledge(&key, &format!("?limit=3&offset={offset}"))
            .await
            .json();
        paged.extend(
            p["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(names, paged, "newest first, every item once");
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 30);
    assert!(
        names[0] == "item 029" || names[0] == "item 028",
        "{names:?}"
    );
    assert_eq!(
        v["pagination"],
        serde_json::json!({"total": 30, "limit": 1000, "offset": 0})
    );
    assert_eq!(v["data"][0]["text"].as_str().unwrap().len(), 3 + 300 * 1024);

    let page = app.list_knowledge(&key, "?limit=5&offset=10").await.json();
    let names5: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names5,
        names[10..15].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        page["pagination"],
        serde_json::json!({"total": 30, "limit": 5, "offset": 10})
    );
}

crate::on_both_backends!(a_page_larger_than_a_batch_is_the_same_json_as_a_small_one);

/// Reads a whole response over a plain socket, keeping none of it; returns its length.
fn drain(base: &str, path: &str, key: &str) -> usize {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    total
}

#[actix_web::test]
async fn sixteen_clients_listing_maximum_size_items_keep_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("big.db").display());
    let app = TestApp::spawn_on(TestDb::Sqlite {
        _dir: dir,
        url: url.clone(),
    })
    .await;
    let pid = app.other_project("P").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    // 100 items at the 512 KiB limit: each full page is 75 MiB of JSON.
    big_items(&app, &pid, 100, 512 * 1024).await;
    let served = Served::start(&url, &[]);
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let (base, key) = (served.base.clone(), key.clone());
            std::thread::spawn(move || drain(&base, "/v1/knowledge?limit=1000", &key))
        })
        .collect();
    for r in readers {
        let bytes = r.join().unwrap();
        // Each item is 768 KiB once its quotes are escaped.
        assert!(
            bytes > 100 * 768 * 1024,
            "a whole page arrived ({bytes} bytes)"
        );
    }
    let peak = served.peak_rss_mib();
    assert!(peak < 512, "peak resident memory {peak} MiB");
}
