//! Slow and stalled clients over real TCP: every request head and body has a deadline, a client
//! that stops reading is cut off, an unknown key holds no connection, and one address cannot
//! take every connection.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use callem::conn_limits::ConnLimits;
use callem::domain::expiry::Expiry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;

/// The test's app again, with short (2 s) connection limits and the given per-address cap.
async fn with_short_limits(app: &TestApp, max_per_client: usize) -> TestApp {
    with_limits(app, max_per_client, Duration::from_secs(2)).await
}

/// [`with_short_limits`] with the given write idle timeout.
async fn with_limits(app: &TestApp, max_per_client: usize, write_idle: Duration) -> TestApp {
    let db = TestDb::create(app.backend());
    TestApp::spawn_configured(db, |s| {
        s.conn_limits = ConnLimits {
            head_timeout: Duration::from_secs(2),
            body_timeout: Duration::from_secs(2),
            write_idle_timeout: write_idle,
            keep_alive: Duration::from_secs(5),
            max_connections_per_client: max_per_client,
        };
    })
    .await
}

fn server_addr(app: &TestApp) -> SocketAddr {
    app.address
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address")
}

/// A connection from `from` (any 127.x address is this machine), with a small receive buffer
/// so that a client that reads nothing stalls the server's writes soon.
async fn connect_from(app: &TestApp, from: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(server_addr(app)).await.unwrap()
}

async fn connect(app: &TestApp) -> TcpStream {
    connect_from(app, "127.0.0.1").await
}

/// Reads one response with a `Content-Length` body; its status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string();
                return (status, body);
            }
        }
        let n = stream.read(&mut chunk).await.expect("a response");
        assert!(n > 0, "the connection closed before a whole response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Whether the server has closed the connection (a read sees its end, or a reset).
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut chunk = [0u8; 4096];
    let until = Instant::now() + wait;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Sends `bytes` one every `every`, until the server ends the connection (then: how long it
/// took) or all are sent (`None`).
async fn trickle(stream: &mut TcpStream, bytes: &[u8], every: Duration) -> Option<Duration> {
    let started = Instant::now();
    for b in bytes {
        if stream.write_all(&[*b]).await.is_err() {
            return Some(started.elapsed());
        }
        if closed_within(stream, every).await {
            return Some(started.elapsed());
        }
    }
    None
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

async fn a_slow_second_request_head_on_a_keep_alive_connection_is_cut_within_the_head_timeout(
    app: TestApp,
) {
    let app = with_short_limits(&app, 64).await;
    let mut conn = connect(&app).await;
    conn.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut conn).await.0, 200);
    // A quick second request on the same connection is served: it is kept alive.
    conn.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut conn).await.0, 200);

    // The third head, one byte every 0.5 s (it would take 20 s).
    let cut = trickle(&mut conn, HEALTHZ, Duration::from_millis(500)).await;

    let cut = cut.expect("the slow head was let through");
    assert!(
        cut >= Duration::from_millis(1500) && cut < Duration::from_millis(3500),
        "cut after {cut:?}, the head timeout is 2 s"
    );
}

async fn a_body_sent_too_slowly_is_cut_within_the_body_timeout(app: TestApp) {
    let app = with_short_limits(&app, 64).await;
    let pid = app.other_project("P").await;
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    let body = br#"{"name":"slow","text":"a body sent one byte at a time, for far too long"}"#;
    let mut conn = connect(&app).await;
    let head = format!(
        "POST /v1/knowledge HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();

    let cut = trickle(&mut conn, body, Duration::from_millis(300)).await;

    let cut = cut.expect("the slow body was let through");
    assert!(
        cut < Duration::from_millis(3500),
        "cut after {cut:?}, the body timeout is 2 s"
    );
    let listed = app.list_knowledge(&key, "").await;
    assert!(!listed.body.contains("slow"), "{}", listed.body);
}

async fn a_post_with_an_unknown_key_is_refused_before_its_body_is_sent(app: TestApp) {
    let unknown = format!("ck_live_{}", "a".repeat(60));
    let mut conn = connect(&app).await;
    let head = format!(
        "POST /v1/knowledge HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {unknown}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    );

    conn.write_all(head.as_bytes()).await.unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(2), read_response(&mut conn)).await;

    let (status, body) = answered.expect("no answer without the body");
    assert_eq!(status, 401, "{body}");
}

async fn connections_beyond_the_cap_of_one_address_are_closed_at_once(app: TestApp) {
    let app = with_short_limits(&app, 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = connect_from(&app, "127.0.0.2").await;
        c.write_all(HEALTHZ).await.unwrap();
        assert_eq!(read_response(&mut c).await.0, 200);
        held.push(c);
    }

    let mut fourth = connect_from(&app, "127.0.0.2").await;
    let _ = fourth.write_all(HEALTHZ).await;

    assert!(
        closed_within(&mut fourth, Duration::from_secs(1)).await,
        "a fourth connection from the same address was kept"
    );
    // Another address is served meanwhile.
    let mut other = connect(&app).await;
    other.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut other).await.0, 200);
    // A slot freed is a slot again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from(&app, "127.0.0.2").await;
    again.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut again).await.0, 200);
}

async fn a_trusted_proxy_is_not_capped_as_one_client(app: TestApp) {
    let db = TestDb::create(app.backend());
    let app = TestApp::spawn_configured(db, |s| {
        s.conn_limits.max_connections_per_client = 3;
        s.trusted_proxies = callem::config::parse_trusted_proxies("127.0.0.3").unwrap();
    })
    .await;

    // The proxy carries many clients: ten connections at once are all served.
    let mut held = Vec::new();
    for _ in 0..10 {
        let mut c = connect_from(&app, "127.0.0.3").await;
        c.write_all(HEALTHZ).await.unwrap();
        assert_eq!(read_response(&mut c).await.0, 200);
        held.push(c);
    }
    // Anyone else still is capped.
    let mut direct = Vec::new();
    for _ in 0..3 {
        let mut c = connect_from(&app, "127.0.0.2").await;
        c.write_all(HEALTHZ).await.unwrap();
        assert_eq!(read_response(&mut c).await.0, 200);
        direct.push(c);
    }
    let mut fourth = connect_from(&app, "127.0.0.2").await;
    let _ = fourth.write_all(HEALTHZ).await;
    assert!(closed_within(&mut fourth, Duration::from_secs(1)).await);
}

/// As the server does at start-up: enough descriptors for 500 connections at both ends.
#[allow(unsafe_code)]
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < 8192 {
            limit.rlim_cur = limit.rlim_max.min(8192);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

async fn five_hundred_slow_connections_leave_healthz_answering_within_a_second(app: TestApp) {
    raise_descriptor_limit();
    let app = with_short_limits(&app, 10_000).await;
    let mut slow = Vec::new();
    for _ in 0..500 {
        let mut c = connect(&app).await;
        c.write_all(HEALTHZ).await.unwrap();
        assert_eq!(read_response(&mut c).await.0, 200);
        // The start of a second head, never finished.
        c.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        slow.push(c);
    }

    let mut slowest = Duration::ZERO;
    for _ in 0..8 {
        let started = Instant::now();
        let mut probe = connect(&app).await;
        probe.write_all(HEALTHZ).await.unwrap();
        let (status, _) = read_response(&mut probe).await;
        assert_eq!(status, 200);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(slowest < Duration::from_secs(1), "a probe took {slowest:?}");
    // By now (2 s after their last byte, and more) every slow head is past its timeout.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut still_open = 0;
    for c in &mut slow {
        if !closed_within(c, Duration::from_millis(20)).await {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "slow connections outlived the head timeout");
}

/// 1,000 calls of about 8 KB each: an 8 MB list, more than the sockets' buffers hold.
async fn a_large_list(app: &TestApp) -> String {
    let pid = app.other_project("Big").await;
    let summary = "s".repeat(8 * 1024);
    let lines: Vec<String> = (0..1000)
        .map(|_| format!(r#"{{"status":"completed","duration":1,"summary":"{summary}"}}"#))
        .collect();
    assert_eq!(app.import_calls(&pid, &lines.join("\n")).await, 1000);
    let (_, key) = app.issue_key(&pid, "", Expiry::Never).await;
    key
}

fn list_request(key: &str) -> String {
    format!(
        "GET /v1/calls?limit=1000 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\r\n"
    )
}

/// Reads to the end of the connection, pausing `pause` after every `step` bytes; all bytes read.
async fn read_all(stream: &mut TcpStream, step: usize, pause: Duration) -> Vec<u8> {
    let mut all = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut since_pause = 0;
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return all,
            Ok(Ok(n)) => {
                all.extend_from_slice(&chunk[..n]);
                since_pause += n;
                if all.ends_with(b"\r\n0\r\n\r\n") {
                    return all;
                }
                if since_pause >= step {
                    since_pause = 0;
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

async fn a_client_that_reads_nothing_of_a_large_list_is_cut_after_the_write_idle_timeout(
    app: TestApp,
) {
    let app = with_short_limits(&app, 64).await;
    let key = a_large_list(&app).await;
    let mut conn = connect(&app).await;
    conn.write_all(list_request(&key).as_bytes()).await.unwrap();

    // Reads nothing for well over the 2 s write idle timeout, then whatever is left.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let got = read_all(&mut conn, usize::MAX, Duration::ZERO).await;

    assert!(got.starts_with(b"HTTP/1.1 200"), "the list had started");
    assert!(
        !got.ends_with(b"\r\n0\r\n\r\n"),
        "the whole list ({} bytes) waited for a client that read nothing",
        got.len()
    );
    assert!(got.len() < 8_000_000, "{} bytes", got.len());
}

async fn a_slow_reader_still_receives_the_whole_list(app: TestApp) {
    // The server's writes wait while the client empties the kernel's buffers (up to 4 MB with
    // Linux defaults, a write wakes when half is free): at 1 MB/s, 2 s between writes. The
    // default (30 s) leaves room for readers of 70 KB/s; this test's 4 s, for 0.5 MB/s.
    let app = with_limits(&app, 64, Duration::from_secs(4)).await;
    let key = a_large_list(&app).await;
    let mut conn = connect(&app).await;
    conn.write_all(list_request(&key).as_bytes()).await.unwrap();

    // About 1 MB/s: 64 KB, then 64 ms of rest; over 8 s for the 8 MB list.
    let started = Instant::now();
    let got = read_all(&mut conn, 64 * 1024, Duration::from_millis(64)).await;
    eprintln!(
        "slow reader: {} bytes in {:?}",
        got.len(),
        started.elapsed()
    );

    assert!(got.starts_with(b"HTTP/1.1 200"));
    assert!(
        got.ends_with(b"\r\n0\r\n\r\n"),
        "the list was cut after {} bytes",
        got.len()
    );
    assert!(got.len() > 8_000_000, "{} bytes", got.len());
}

crate::on_both_backends!(
    a_slow_second_request_head_on_a_keep_alive_connection_is_cut_within_the_head_timeout,
    a_body_sent_too_slowly_is_cut_within_the_body_timeout,
    a_post_with_an_unknown_key_is_refused_before_its_body_is_sent,
    connections_beyond_the_cap_of_one_address_are_closed_at_once,
    a_trusted_proxy_is_not_capped_as_one_client,
    five_hundred_slow_connections_leave_healthz_answering_within_a_second,
    a_client_that_reads_nothing_of_a_large_list_is_cut_after_the_write_idle_timeout,
    a_slow_reader_still_receives_the_whole_list,
);
