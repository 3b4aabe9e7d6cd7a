//! An origin (scheme and host), as an `Origin` header or `CALLEM_PUBLIC_URL` names it: a plain
//! value that settings, state, the edge and the CSRF check all share.

/// A scheme and a host (with its port when not the scheme's default), lower-cased: what an
/// `Origin` header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
}

impl Origin {
    /// The origin of an absolute `http`/`https` URL.
    pub fn of_url(s: &str) -> Option<Origin> {
        let u = url::Url::parse(s).ok()?;
        if !matches!(u.scheme(), "http" | "https") {
            return None;
        }
        let host = match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => return None,
        };
        Some(Origin {
            scheme: u.scheme().to_owned(),
            host: host.to_ascii_lowercase(),
        })
    }

    /// An origin from a scheme and a `Host`-style value (`example.com:8080`); a default port
    /// is dropped, as browsers drop it from `Origin`.
    pub fn from_parts(scheme: &str, host: &str) -> Option<Origin> {
        Origin::of_url(&format!("{scheme}://{host}/"))
    }
}

/// Parses `CALLEM_PUBLIC_URL`: an `http(s)://host[:port]` URL with no path.
pub fn parse_public_url(s: &str) -> Result<Option<Origin>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || {
        format!(
            "CALLEM_PUBLIC_URL must be the address people open, like https://callem.example.com \
             (http or https, no path); got '{s}'"
        )
    };
    let u = url::Url::parse(s).map_err(|_| bad())?;
    if !matches!(u.path(), "" | "/") || u.query().is_some() || !u.username().is_empty() {
        return Err(bad());
    }
    Origin::of_url(s).map(Some).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_drop_default_ports_and_case() {
        let o = Origin::of_url("HTTPS://Callem.Example.com:443/x").unwrap();
        assert_eq!(
            o,
            Origin {
                scheme: "https".into(),
                host: "callem.example.com".into()
            }
        );
        assert_eq!(
            Origin::of_url("http://127.0.0.1:8080").unwrap().host,
            "127.0.0.1:8080"
        );
        assert_eq!(Origin::of_url("null"), None);
        assert_eq!(Origin::of_url("file:///etc/passwd"), None);
    }

    #[test]
    fn the_public_url_is_an_origin_without_a_path() {
        assert_eq!(parse_public_url("").unwrap(), None);
        assert_eq!(
            parse_public_url("https://callem.example.com/")
                .unwrap()
                .unwrap()
                .host,
            "callem.example.com"
        );
        for bad in [
            "callem.example.com",
            "ftp://x",
            "https://x/app",
            "https://x/?a=1",
        ] {
            assert!(
                parse_public_url(bad)
                    .unwrap_err()
                    .contains("CALLEM_PUBLIC_URL"),
                "{bad}"
            );
        }
    }
}
