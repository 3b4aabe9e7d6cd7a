//! The HTTP client deliveries go out through. It dials only addresses it has checked: a host
//! name is resolved once, every answer is filtered by the same rule the URL was checked with
//! at creation ([`AllowedRanges::permits`]), and the connection goes to a checked address
//! itself, so a name re-pointed at an internal address (DNS rebinding) is never reached. No
//! redirect is followed (a 3xx is a failed attempt), no proxy variable is read, certificates
//! are verified, and the whole attempt (resolving, connecting, TLS, the response's head and
//! the first 4 KiB of its body) has one deadline.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::domain::webhook::{AllowedRanges, RESPONSE_KEPT_BYTES};

/// An attempt's deadline.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// Answers which addresses a host name has.
pub trait Resolve: Send + Sync {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>>;
}

/// The system's resolver (getaddrinfo, on a blocking thread).
#[derive(Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, port)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// `Retry-After` in seconds (or an HTTP date), when the response had one.
    pub retry_after: Option<Duration>,
    /// The body's first 4 KiB, as text (invalid UTF-8 replaced).
    pub body: String,
}

/// Why no response came.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Refused(String),
    #[error("could not resolve {host}: {cause}")]
    Resolve { host: String, cause: String },
    #[error("could not connect to {addr}: {cause}")]
    Connect { addr: SocketAddr, cause: String },
    #[error("TLS handshake with {host} failed: {cause}")]
    Tls { host: String, cause: String },
    #[error("HTTP error: {0}")]
    Http(String),
    #[error("no response within {} s", TIMEOUT.as_secs())]
    Timeout,
}

/// Sends deliveries. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    resolver: Arc<dyn Resolve>,
    allowed: AllowedRanges,
    tls: tokio_native_tls::TlsConnector,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("allowed", &self.allowed)
            .finish()
    }
}

impl Client {
    /// A client with the system's resolver and trust store.
    pub fn new(allowed: AllowedRanges) -> Result<Self, String> {
        Self::with_resolver(allowed, Arc::new(SystemResolver))
    }

    pub fn with_resolver(
        allowed: AllowedRanges,
        resolver: Arc<dyn Resolve>,
    ) -> Result<Self, String> {
        let tls = tokio_native_tls::native_tls::TlsConnector::builder()
            .build()
            .map_err(|e| format!("cannot set up TLS for webhooks: {e}"))?;
        Ok(Client {
            resolver,
            allowed,
            tls: tls.into(),
            timeout: TIMEOUT,
        })
    }

    /// POSTs `body` to `url` with `headers`, within the attempt's deadline.
    pub async fn post(
        &self,
        url: &url::Url,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, SendError> {
        tokio::time::timeout(self.timeout, self.post_now(url, headers, body))
            .await
            .unwrap_or(Err(SendError::Timeout))
    }

    /// The addresses this URL may be dialled at, in the resolver's order.
    pub async fn addresses(&self, url: &url::Url) -> Result<Vec<SocketAddr>, SendError> {
        let port = url
            .port_or_known_default()
            .ok_or_else(|| SendError::Refused("the URL has no port".to_owned()))?;
        let (host, answers) = match url.host() {
            Some(url::Host::Ipv4(v4)) => (v4.to_string(), vec![IpAddr::V4(v4)]),
            Some(url::Host::Ipv6(v6)) => (v6.to_string(), vec![IpAddr::V6(v6)]),
            Some(url::Host::Domain(name)) => (
                name.to_owned(),
                self.resolver
                    .resolve(name, port)
                    .await
                    .map_err(|e| SendError::Resolve {
                        host: name.to_owned(),
                        cause: e.to_string(),
                    })?,
            ),
            None => return Err(SendError::Refused("the URL has no host".to_owned())),
        };
        let plain = url.scheme() == "http";
        let checked: Vec<SocketAddr> = answers
            .iter()
            .copied()
            .filter(|&ip| {
                if plain {
                    self.allowed.allows_on_purpose(ip)
                } else {
                    self.allowed.permits(ip)
                }
            })
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        if checked.is_empty() {
            let shown: Vec<String> = answers.iter().map(ToString::to_string).collect();
            return Err(SendError::Refused(format!(
                "{host} resolves only to addresses webhooks may not reach ({})",
                if shown.is_empty() {
                    "none".to_owned()
                } else {
                    shown.join(", ")
                }
            )));
        }
        Ok(checked)
    }

    async fn post_now(
        &self,
        url: &url::Url,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, SendError> {
        let addrs = self.addresses(url).await?;
        let stream = connect(&addrs).await?;
        let host = url.host_str().unwrap_or_default().to_owned();
        match url.scheme() {
            "https" => {
                // SNI and certificate check against the URL's host, not the address dialled.
                let name = host.trim_start_matches('[').trim_end_matches(']');
                let tls = self
                    .tls
                    .connect(name, stream)
                    .await
                    .map_err(|e| SendError::Tls {
                        host: host.clone(),
                        cause: e.to_string(),
                    })?;
                exchange(TokioIo::new(tls), url, headers, body).await
            }
            "http" => exchange(TokioIo::new(stream), url, headers, body).await,
            other => Err(SendError::Refused(format!(
                "the scheme {other}: is not sent to"
            ))),
        }
    }
}

/// Connects to the first checked address that answers.
async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, SendError> {
    let mut last = None;
    for &addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => {
                last = Some(SendError::Connect {
                    addr,
                    cause: e.to_string(),
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| SendError::Refused("no address to connect to".to_owned())))
}

/// One request on a fresh connection, and the response's status, `Retry-After` and first
/// 4 KiB.
async fn exchange<T>(
    io: TokioIo<T>,
    url: &url::Url,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<Response, SendError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let http = |e: hyper::Error| SendError::Http(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(http)?;
    // The connection is driven on its own task; it ends when the sender is dropped.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut request = http::Request::post(path)
        .header(http::header::HOST, authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, super::USER_AGENT)
        .header(http::header::CONNECTION, "close");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| SendError::Http(e.to_string()))?;
    let response = sender.send_request(request).await.map_err(http)?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut body = response.into_body();
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_KEPT_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    kept.extend_from_slice(data);
                }
            }
            // A body cut short still leaves the status, which decides the attempt.
            Some(Err(_)) | None => break,
        }
    }
    kept.truncate(RESPONSE_KEPT_BYTES);
    Ok(Response {
        status,
        retry_after,
        body: String::from_utf8_lossy(&kept).into_owned(),
    })
}

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver that answers what it is told to.
    struct Answers(Vec<IpAddr>);

    impl Resolve for Answers {
        fn resolve<'a>(
            &'a self,
            _host: &'a str,
            _port: u16,
        ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>> {
            let answers = self.0.clone();
            Box::pin(async move { Ok(answers) })
        }
    }

    fn client(answers: &[&str], allowed: &str) -> Client {
        let ips = answers.iter().map(|a| a.parse().unwrap()).collect();
        Client::with_resolver(
            AllowedRanges::parse(allowed).unwrap(),
            Arc::new(Answers(ips)),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_internal_addresses_is_never_dialled() {
        let url = url::Url::parse("https://hooks.example.com/x").unwrap();
        for answer in [
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:0101::1",
            "fd00::1",
            "fe80::1",
        ] {
            let c = client(&[answer], "");
            let e = c.post(&url, &[], b"{}".to_vec()).await.unwrap_err();
            assert!(
                matches!(&e, SendError::Refused(m) if m.contains(answer) || m.contains("may not reach")),
                "{answer}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn only_the_checked_answers_are_kept_in_the_resolvers_order() {
        let url = url::Url::parse("https://hooks.example.com:8443/x").unwrap();
        let c = client(&["10.0.0.1", "93.184.216.34", "::1", "2606:4700::1111"], "");
        let addrs = c.addresses(&url).await.unwrap();
        assert_eq!(
            addrs,
            [
                "93.184.216.34:8443".parse().unwrap(),
                "[2606:4700::1111]:8443".parse().unwrap()
            ]
        );
    }

    #[tokio::test]
    async fn plain_http_goes_only_to_ranges_allowed_on_purpose() {
        let url = url::Url::parse("http://receiver.internal:9000/x").unwrap();
        let c = client(&["93.184.216.34", "127.0.0.1"], "127.0.0.0/8");
        assert_eq!(
            c.addresses(&url).await.unwrap(),
            ["127.0.0.1:9000".parse().unwrap()]
        );
        let none = client(&["93.184.216.34"], "127.0.0.0/8");
        assert!(none.addresses(&url).await.is_err());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("30"), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
