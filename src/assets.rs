//! Static files embedded in the binary and served under content-hashed names, so browsers
//! may cache them for a year and a new build is never served stale.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// The name with the content hash, as linked from pages (`app.3f2a9c1b.css`).
    pub hashed_name: String,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

struct Embedded {
    css: Asset,
    js: Asset,
    htmx: Asset,
    favicon: Asset,
}

fn asset(stem: &str, ext: &str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    let digest = hex::encode(Sha256::digest(bytes));
    Asset {
        hashed_name: format!("{stem}.{}.{ext}", &digest[..10]),
        content_type,
        bytes,
    }
}

// The hashes depend only on bytes compiled into the binary, so computing them once is safe.
static EMBEDDED: LazyLock<Embedded> = LazyLock::new(|| Embedded {
    css: asset(
        "app",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("../static/app.css"),
    ),
    js: asset(
        "app",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/app.js"),
    ),
    htmx: asset(
        "htmx-2.0.11",
        "min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/htmx-2.0.11.min.js"),
    ),
    // The brand mark (a white C on the indigo square), 32 px, a PNG in an ICO.
    favicon: asset(
        "favicon",
        "ico",
        "image/x-icon",
        include_bytes!("../static/favicon.ico"),
    ),
});

/// URL path of the stylesheet.
pub fn css_url() -> String {
    format!("/static/{}", EMBEDDED.css.hashed_name)
}

/// URL path of the app's small script.
pub fn js_url() -> String {
    format!("/static/{}", EMBEDDED.js.hashed_name)
}

/// URL path of the vendored htmx.
pub fn htmx_url() -> String {
    format!("/static/{}", EMBEDDED.htmx.hashed_name)
}

/// URL path of the icon, as pages link it (browsers also ask for `/favicon.ico`).
pub fn favicon_url() -> String {
    format!("/static/{}", EMBEDDED.favicon.hashed_name)
}

/// The icon, for `/favicon.ico`.
pub fn favicon() -> &'static Asset {
    &EMBEDDED.favicon
}

/// The asset with this hashed name, if any.
pub fn find(hashed_name: &str) -> Option<&'static Asset> {
    let e = &*EMBEDDED;
    [&e.css, &e.js, &e.htmx, &e.favicon]
        .into_iter()
        .find(|a| a.hashed_name == hashed_name)
}
