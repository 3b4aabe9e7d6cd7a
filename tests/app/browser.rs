//! The dashboard in real headless Chromium, driven over WebDriver (chromedriver) with
//! fantoccini. Screenshots land in target/screenshots/. Outside CI the test skips, saying so,
//! when no chromedriver is installed; with CI=true a missing chromedriver fails it.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::helpers::*;

/// How long a helper waits for the page to show what it expects.
const PATIENCE: Duration = Duration::from_secs(10);

/// chromedriver running on a free port, in a process group of its own with the Chromium it
/// starts; the whole group is killed on drop, so a failed test leaves no browser behind.
struct Driver {
    child: Child,
    url: String,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Ok(group) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is touched.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(-group, libc::SIGKILL)
            };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_chromedriver() -> Option<String> {
    let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    std::path::Path::new(&path).exists().then_some(path)
}

/// chromedriver's own command for the DevTools protocol (for `prefers-color-scheme`).
#[derive(Debug)]
struct DevTools(Value);

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

/// A fantoccini session on its own chromedriver, with the few waits the walk-through needs:
/// every helper that looks for something waits for it (htmx swaps land a moment later).
pub struct Browser {
    pub(crate) client: Client,
    _driver: Driver,
}

impl Browser {
    /// Fails the test when there is no chromedriver: the browser tests are `ignore`d when
    /// compiled without one, so they get here only under `--include-ignored` or `CI=true`.
    pub(crate) async fn start() -> Browser {
        let chromedriver = find_chromedriver().unwrap_or_else(|| {
            panic!("this test needs a browser: apt-get install chromium chromium-driver (or set CHROMEDRIVER)")
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile: tempfile::tempdir().unwrap(),
        };
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-component-update",
                         "--disable-sync", "--window-size=1440,900",
                         format!("--user-data-dir={}", driver.profile.path().display())]
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps);
        // chromedriver takes a moment to listen.
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match builder.connect(&driver.url).await {
                Ok(client) => break client,
                Err(e) => assert!(Instant::now() < deadline, "no WebDriver session: {e}"),
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        Browser {
            client,
            _driver: driver,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current URL")
            .to_string()
    }

    /// Waits for an element matching the CSS selector.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|all| all.len())
            .unwrap_or(0)
    }

    /// Waits until nothing matches the selector.
    pub async fn gone(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.count(css).await > 0 {
            assert!(Instant::now() < deadline, "{css} is still there");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A WebDriver click: it fails when the element is hidden or something covers it.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// A real mouse click at a point of the window (CSS pixels from its top left).
    pub async fn click_at(&self, x: f64, y: f64) {
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveTo {
                duration: None,
                x,
                y,
            })
            .then(PointerAction::Down {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            });
        self.client
            .perform_actions(mouse)
            .await
            .expect("click at a point");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_default()
    }

    /// Waits until the element's text contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let t = self.text(css).await;
            if t.contains(needle) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed {needle:?}; it shows {t:?}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn script(&self, js: &str) -> Value {
        self.client
            .execute(js, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {js}: {e}"))
    }

    /// Waits until a script returns `expected`.
    pub async fn wait_for(&self, js: &str, expected: Value) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let got = self.script(js).await;
            if got == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{js} returned {got}, not {expected}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Presses a key where the focus is, as a keyboard would.
    pub async fn press(&self, key: Key) {
        let value = char::from(key);
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
        self.client
            .perform_actions(keys)
            .await
            .expect("press a key");
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {value} in {css}: {e}"));
    }

    /// Saves a screenshot as target/screenshots/{name}.png (`name` may hold a folder).
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/screenshots")
            .join(format!("{name}.png"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, png).unwrap();
    }

    /// Saves the whole page (up to 5000 px of it), not only the window, as
    /// target/screenshots/{name}.png (Chromium's DevTools protocol).
    pub async fn full_page_screenshot(&self, name: &str) {
        use base64::Engine as _;
        let size = self
            .script("return [document.documentElement.scrollWidth, Math.min(document.documentElement.scrollHeight, 5000)]")
            .await;
        let body = json!({"cmd": "Page.captureScreenshot",
                          "params": {"format": "png", "captureBeyondViewport": true,
                                     "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}}});
        let shot = self
            .client
            .issue_cmd(DevTools(body))
            .await
            .expect("a full-page screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(
                shot["value"]["data"]
                    .as_str()
                    .or(shot["data"].as_str())
                    .expect("its data"),
            )
            .expect("base64");
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/screenshots")
            .join(format!("{name}.png"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, png).unwrap();
    }

    /// Emulates `prefers-color-scheme` (Chromium's DevTools protocol through chromedriver).
    pub async fn color_scheme(&self, scheme: &str) {
        let body = json!({"cmd": "Emulation.setEmulatedMedia",
                          "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]}});
        self.client
            .issue_cmd(DevTools(body))
            .await
            .expect("emulate a colour scheme");
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
    }

    pub async fn quit(self) {
        self.client
            .close()
            .await
            .expect("end the WebDriver session");
    }
}

#[actix_web::test]
#[cfg_attr(
    not(callem_browser_tests),
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn the_dashboard_in_a_real_browser_on_sqlite() {
    let b = Browser::start().await;
    walk_through(b, TestApp::spawn(Backend::Sqlite).await, "").await;
}

#[actix_web::test]
#[cfg_attr(
    not(all(callem_pg_tests, callem_browser_tests)),
    ignore = "needs TEST_DATABASE_URL and a chromedriver"
)]
async fn the_dashboard_in_a_real_browser_on_postgres() {
    let app = TestApp::spawn_postgres().await;
    let b = Browser::start().await;
    walk_through(b, app, "pg-").await;
}

/// Fails unless each element `css` names is on screen and is what a click at its centre
/// would hit (not clipped by a scroll box, not covered by something else).
pub(crate) async fn assert_visible_to_a_person(b: &Browser, css: &str) {
    let js = format!(
        "const els = [...document.querySelectorAll({css:?})];
         if (!els.length) return 'nothing matches';
         for (const el of els) {{
           const r = el.getBoundingClientRect();
           const x = r.left + r.width / 2, y = r.top + r.height / 2;
           if (r.width === 0 || r.height === 0) return 'zero-sized: ' + el.textContent;
           if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) return 'off screen: ' + el.textContent;
           const hit = document.elementFromPoint(x, y);
           if (!hit || !(hit === el || el.contains(hit))) return 'covered or clipped: ' + el.textContent + ' (hit ' + (hit && hit.outerHTML.slice(0, 80)) + ')';
         }}
         return 'ok';"
    );
    b.wait_for(&js, json!("ok")).await;
}

/// Fails unless a click at the centre of `css` would land on something else (the page behind
/// an open dialog is covered by its backdrop).
async fn assert_covered(b: &Browser, css: &str) {
    let js = format!(
        "const el = document.querySelector({css:?});
         const r = el.getBoundingClientRect();
         const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
         return !!hit && hit !== el && !el.contains(hit);"
    );
    b.wait_for(&js, json!(true)).await;
}

/// Whether a dialog is open (shown with showModal, so the page behind is inert).
pub(crate) const DIALOG_OPEN: &str = "return !!document.querySelector('#modal-root dialog[open]') && document.querySelector('#modal-root dialog').matches(':modal')";
/// A call with a transcript, as `callem import calls` reads it.
const DEMO_CALL: &str = r#"{"id":"demo_call","status":"completed","duration":145,"summary":"Booked a check-up for Tuesday.","evaluation":"success","endedReason":"user_hangup","callerNumber":"+33612345678","calledNumber":"+14155550100","isEngaged":true,"callAnalysis":{"sentiment":"positive","appointmentBooked":true},"transcript":[{"role":"assistant","content":"Hello, Northwind Dental, how can I help?"},{"role":"user","content":"I'd like a check-up next week."},{"role":"assistant","content":"Tuesday at 10:00 works. Shall I book it?"},{"role":"user","content":"Yes please."}]}"#;
/// The message an action on something gone gets from the server.
const GONE: &str = "There is nothing here, or you do not have access to it.";

/// Setup, sign-in, the API Keys tab end to end (with the key tried on /v1), a call's
/// transcript, a knowledge item added and deleted, the small-screen layout, and a restart.
async fn walk_through(b: Browser, app: TestApp, shots: &str) {
    let base = app.address.clone();

    // A fresh install opens on /setup, which asks for the printed link; the link opens the
    // form, and a bad submit keeps the values and says why.
    b.goto(&base).await;
    b.wait_text("h1", "Open the setup link").await;
    assert!(b.current_url().await.ends_with("/setup"));
    b.screenshot(&format!("{shots}00-setup-link-needed")).await;
    b.goto(&format!("{base}{}", app.setup_link())).await;
    b.find("input[name=email]").await;
    b.type_into("#email", OWNER_EMAIL).await;
    b.type_into("#password", "short").await;
    b.type_into("#project_name", "Acme Support").await;
    b.click("button[type=submit]").await;
    b.wait_text("#password-error", "at least 12 characters")
        .await;
    b.type_into("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Calls").await;
    // The empty project says what to do first; reading the API reference ticks its step.
    b.wait_text(".first-steps", "Create an API key").await;
    assert_visible_to_a_person(&b, ".first-steps a[href='/docs/api']").await;
    b.screenshot(&format!("{shots}00b-first-steps")).await;
    b.click(".first-steps a[href='/docs/api']").await;
    b.wait_text("h1", "API").await;
    b.script("history.back()").await;
    b.wait_for(
        "return !!document.querySelector('.first-steps li[data-done-when].done')",
        json!(true),
    )
    .await;
    b.click("nav.sidebar a[href$='/settings/api-keys']").await;
    b.wait_text("h1", "Settings").await;
    assert!(b.current_url().await.contains("/settings/api-keys"));
    // The CSP refuses inline styles: htmx, loaded, added none (it would, unconfigured).
    b.wait_for(
        "return !!window.htmx && document.querySelectorAll('style').length === 0",
        json!(true),
    )
    .await;
    b.screenshot(&format!("{shots}00-landing")).await;

    // Sign out and in again.
    b.click("form[action='/logout'] button").await;
    b.wait_text("h1", "Sign in").await;
    b.type_into("#email", OWNER_EMAIL).await;
    b.type_into("#password", "wrong password here").await;
    b.click("button[type=submit]").await;
    b.wait_text(".alert-error", "Incorrect email or password.")
        .await;
    b.type_into("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Calls").await;
    b.click("nav.sidebar a[href$='/settings/api-keys']").await;
    b.wait_text("h1", "Settings").await;
    b.wait_text("#keys-table", "No API keys yet").await;
    b.screenshot(&format!("{shots}01-api-keys-empty")).await;

    // The modal is a dialog: the focus moves into it, the page behind is covered, and Escape
    // or a click beside it closes it, with the focus back on the button that opened it.
    b.click("[data-testid=create-key]").await;
    b.find(".modal #key-name").await;
    b.wait_for(DIALOG_OPEN, json!(true)).await;
    b.wait_for("return document.activeElement.id", json!("key-name"))
        .await;
    assert_covered(&b, "nav.sidebar a[href$='/calls']").await;
    b.press(Key::Escape).await;
    b.gone(".modal").await;
    b.wait_for(
        "return document.activeElement.dataset.testid",
        json!("create-key"),
    )
    .await;
    b.click("[data-testid=create-key]").await;
    b.wait_for(DIALOG_OPEN, json!(true)).await;
    b.click_at(8.0, 8.0).await;
    b.gone(".modal").await;
    b.click("[data-testid=create-key]").await;
    // A bad IP rule is refused next to its field, values kept, the dialog still open.
    b.type_into("#key-name", "Production CRM Integration").await;
    b.type_into("#key-ips", "203.0.113.7, 10.0.0.5/24").await;
    b.click(".modal button[type=submit]").await;
    b.wait_text("#key-ips-error", "use the network address 10.0.0.0/24")
        .await;
    let kept = b
        .script("return document.querySelector('#key-name').value")
        .await;
    assert_eq!(kept, "Production CRM Integration");
    b.wait_for(DIALOG_OPEN, json!(true)).await;
    b.wait_for("return document.activeElement.id", json!("key-ips"))
        .await;
    // Tab goes round the dialog and never reaches the page behind.
    let mut reached_submit = false;
    for _ in 0..12 {
        b.press(Key::Tab).await;
        let behind = b
            .script("return document.querySelector('.app').contains(document.activeElement)")
            .await;
        assert_eq!(behind, false, "Tab reached the page behind the dialog");
        reached_submit |= b
            .script("return document.activeElement.matches('.modal button[type=submit]')")
            .await
            == true;
    }
    assert!(reached_submit, "Tab moves through the dialog's controls");
    b.screenshot(&format!("{shots}02-create-modal-error")).await;

    // Custom access reveals its two selects; another choice hides them again (the focus
    // stays on the radio, so the arrow keys still walk the group).
    const CUSTOM_SHOWN: &str = "return !document.getElementById('key-access-custom').hidden";
    b.wait_for(CUSTOM_SHOWN, json!(false)).await;
    b.click(".modal input[name=access][value=custom]").await;
    b.wait_for(CUSTOM_SHOWN, json!(true)).await;
    b.wait_for("return document.activeElement.value", json!("custom"))
        .await;
    b.script("document.querySelector('.modal select[name=knowledge_access]').scrollIntoView({block: 'nearest'})")
        .await;
    assert_visible_to_a_person(&b, ".modal .access-custom select").await;
    b.screenshot(&format!("{shots}02a-create-modal-custom-access"))
        .await;
    b.color_scheme("dark").await;
    b.screenshot(&format!("{shots}02a-create-modal-custom-access-dark"))
        .await;
    b.color_scheme("light").await;
    b.click(".modal input[name=access][value=full]").await;
    b.wait_for(CUSTOM_SHOWN, json!(false)).await;

    // Fix it, choose an expiry, create.
    b.type_into("#key-ips", "127.0.0.1\n10.0.0.0/24").await;
    b.select("#key-expires", "custom").await;
    b.type_into("#key-expires-on", "03/01/2031").await;
    let date = b
        .script("return document.querySelector('#key-expires-on').value")
        .await;
    if date != "2031-03-01" {
        b.script("document.querySelector('#key-expires-on').value='2031-03-01'")
            .await;
    }
    b.click(".modal button[type=submit]").await;
    let key = b.wait_text("#revealed-key", "ck_live_").await;
    assert!(callem::domain::api_key::is_well_formed(key.trim()), "{key}");
    b.wait_text(".modal", "It will not be shown again.").await;
    // The key is shown once: neither Escape (twice, which Chromium would let close any
    // dialog) nor a click beside the panel throws it away; each says how to close it.
    const HINT_SHOWN: &str = "return !document.querySelector('[data-static-hint]').hidden";
    b.press(Key::Escape).await;
    b.wait_for(HINT_SHOWN, json!(true)).await;
    b.press(Key::Escape).await;
    b.wait_for(DIALOG_OPEN, json!(true)).await;
    b.script("document.querySelector('[data-static-hint]').hidden = true")
        .await;
    b.click_at(8.0, 8.0).await;
    b.wait_for(HINT_SHOWN, json!(true)).await;
    b.wait_for(DIALOG_OPEN, json!(true)).await;
    assert_eq!(b.count("#revealed-key").await, 1, "still revealed");
    b.screenshot(&format!("{shots}03a-reveal-kept-1440px"))
        .await;
    b.resize(360, 780).await;
    assert_visible_to_a_person(&b, ".modal [data-close-modal]").await;
    b.screenshot(&format!("{shots}03a-reveal-kept-360px")).await;
    b.resize(1440, 900).await;
    b.wait_for(
        "return document.activeElement.hasAttribute('data-close-modal')",
        json!(true),
    )
    .await;
    b.click("[data-copy]").await;
    b.wait_text("[data-copy]", "Copied").await;
    b.screenshot(&format!("{shots}03-reveal-panel")).await;
    b.click(".modal-footer [data-close-modal]").await;
    b.gone(".modal").await;
    b.wait_for(
        "return document.activeElement.dataset.testid",
        json!("create-key"),
    )
    .await;

    // The row and its five columns.
    let row = b.text("#keys-table tbody tr").await;
    assert!(row.contains("Production CRM Integration"), "{row}");
    assert!(
        row.contains(&format!("{}••••••••", &key.trim()[..12])),
        "{row}"
    );
    assert!(row.contains("2 rules"), "{row}");
    assert!(row.contains("Never"), "{row}");
    assert!(row.contains("Mar 1, 2031"), "{row}");
    let page = b.script("return document.documentElement.outerHTML").await;
    assert!(
        !page.as_str().unwrap().contains(key.trim()),
        "the key is gone from the page"
    );

    // The revealed key opens the API.
    let api = |k: String| {
        let base = base.clone();
        async move {
            Agent::new(&base)
                .send(
                    "GET",
                    "/v1/calls",
                    &[("authorization", format!("Bearer {k}"))],
                    None,
                )
                .await
                .status
        }
    };
    let key = key.trim().to_owned();
    assert_eq!(api(key.clone()).await, 200, "the revealed key works");

    // With one key, its row is the last: the menu must still be where a person can click it,
    // at full width and on a phone.
    for (width, height) in [(1440, 900), (360, 780)] {
        b.resize(width, height).await;
        b.click("#keys-table details.menu summary").await;
        assert_visible_to_a_person(&b, "#keys-table details.menu[open] [role=menuitem]").await;
        b.screenshot(&format!("{shots}04a-row-menu-{width}px"))
            .await;
        b.press(Key::Escape).await;
        b.wait_for(
            "return document.querySelector('#keys-table details.menu').open",
            json!(false),
        )
        .await;
    }
    b.resize(1440, 900).await;

    // Revoke through the menu and the confirmation, by keyboard alone.
    b.script("document.querySelector('#keys-table details.menu summary').focus()")
        .await;
    b.press(Key::Enter).await;
    b.wait_for(
        "return !!document.querySelector('#keys-table details.menu').open",
        json!(true),
    )
    .await;
    b.press(Key::Down).await;
    b.wait_for(
        "return document.activeElement.getAttribute('role')",
        json!("menuitem"),
    )
    .await;
    // Edit…, Roll key…, then Revoke Key.
    for _ in 0..2 {
        b.press(Key::Down).await;
    }
    b.wait_for(
        "return document.activeElement.textContent.trim()",
        json!("Revoke Key"),
    )
    .await;
    b.press(Key::Enter).await;
    b.wait_text(".modal", "Revoke Production CRM Integration?")
        .await;
    b.screenshot(&format!("{shots}04-revoke-confirmation"))
        .await;
    b.click(".modal .btn-danger").await;
    b.gone(".modal").await;
    b.wait_text("#keys-table", "No API keys yet").await;
    b.wait_text("#toasts", "Key “Production CRM Integration” revoked")
        .await;
    assert_visible_to_a_person(&b, "#toasts .toast").await;
    b.screenshot(&format!("{shots}04b-revoked-toast-1440px"))
        .await;
    assert_eq!(b.count("#keys-table tbody tr").await, 0);
    assert_eq!(
        api(key.clone()).await,
        401,
        "refused right after the revoke"
    );

    // Another tab revokes a key this one still lists: revoking it here says so in a toast
    // with the server's message, and no dialog opens.
    let project_id = b
        .current_url()
        .await
        .split("/projects/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let keys_page = format!("/projects/{project_id}/settings/api-keys");
    let (other_key, _) = app
        .issue_key(&project_id, "", callem::domain::expiry::Expiry::Never)
        .await;
    b.goto(&format!("{base}{keys_page}")).await;
    b.wait_text("#keys-table", "test key").await;
    let other_tab = Agent::new(&base);
    other_tab.login(OWNER_EMAIL, PASSWORD).await;
    other_tab.get(&keys_page).await;
    let r = other_tab
        .post_htmx(&format!("{keys_page}/{other_key}/revoke"), &[])
        .await;
    assert_eq!(r.status, 200, "revoked in the other tab");
    b.click("#keys-table details.menu summary").await;
    b.click("#keys-table details.menu[open] [role=menuitem]")
        .await;
    b.wait_text("#toasts [role=alert]", GONE).await;
    assert_visible_to_a_person(&b, "#toasts [role=alert]").await;
    assert_eq!(b.count("#modal-root dialog").await, 0, "no dialog");
    b.screenshot(&format!("{shots}04c-error-toast")).await;

    // A key's page, opened from its name in the list: the usage chart and the addresses it
    // is used from are on screen, in light and dark. The key has a custom scope, shown as a
    // badge under its name and in the page's head.
    let (used_key, _) = app
        .issue_scoped_key(
            &project_id,
            "10.0.0.0/24",
            callem::domain::expiry::Expiry::Never,
            "calls:read,knowledge:write".parse().unwrap(),
        )
        .await;
    let kid = callem::domain::ids::KeyId::parse(&used_key).unwrap();
    app.db(move |conn| {
        use callem::db::key_usage::{ClientCount, HourlyCount};
        let now = callem::time::now();
        let hour = |h: i64| {
            let t = now - chrono::Duration::hours(h);
            t.date()
                .and_hms_opt(chrono::Timelike::hour(&t), 0, 0)
                .unwrap()
        };
        let mut hourly = Vec::new();
        for day in 0..30i64 {
            let n = 200 + (day * 37) % 180;
            hourly.push(HourlyCount {
                key_id: kid.clone(),
                hour: hour(day * 24),
                outcome: "allowed".into(),
                requests: n,
            });
            if day % 6 == 2 {
                hourly.push(HourlyCount {
                    key_id: kid.clone(),
                    hour: hour(day * 24),
                    outcome: "refused_ip".into(),
                    requests: 40,
                });
            }
        }
        let client = |ip: &str, seen: i64, requests: i64, refused: i64| ClientCount {
            key_id: kid.clone(),
            ip: ip.into(),
            first_seen: now - chrono::Duration::days(29),
            last_seen: now - chrono::Duration::minutes(seen),
            requests,
            refused,
            allowed_by_operation: Default::default(),
        };
        let clients = [
            client("10.0.0.12", 3, 7_900, 0),
            client("203.0.113.77", 50, 200, 200),
        ];
        callem::db::key_usage::add(conn, &hourly, &clients, &[])
    })
    .await;
    b.goto(&format!("{base}{keys_page}")).await;
    b.wait_text("#keys-table", "test key").await;
    b.wait_text("[data-testid=attention]", "never expire").await;
    b.wait_text(
        &format!("#key-{used_key} [data-testid=key-scope]"),
        "Calls: read",
    )
    .await;
    assert_visible_to_a_person(&b, "[data-testid=attention] a").await;
    b.screenshot(&format!("{shots}05-keys-needs-attention"))
        .await;
    b.color_scheme("dark").await;
    b.screenshot(&format!("{shots}05-keys-needs-attention-dark"))
        .await;
    b.color_scheme("light").await;
    // A person clicks the name; the link stretches over its cell.
    b.click(&format!("#key-{used_key} td.cell-name")).await;
    b.wait_text("h1", "test key").await;
    b.wait_text(
        "h1 [data-testid=key-scope]",
        "Calls: read · Knowledge: read and write",
    )
    .await;
    b.wait_text("[data-testid=usage-total]", "refused").await;
    assert_eq!(b.count("[data-testid=usage-chart] .bar-allowed").await, 30);
    assert_visible_to_a_person(&b, "[data-testid=usage-chart]").await;
    b.screenshot(&format!("{shots}05-key-page")).await;
    b.script("document.querySelector('[data-testid=clients]').scrollIntoView({block: 'center'})")
        .await;
    assert_visible_to_a_person(&b, "[data-testid=clients] table").await;
    assert_eq!(b.count("[data-testid=clients] .row-refused").await, 1);
    b.wait_text("[data-testid=clients] .row-refused", "203.0.113.77")
        .await;
    b.screenshot(&format!("{shots}05a-key-page-addresses"))
        .await;
    b.script("window.scrollTo(0, 0)").await;
    b.click("#key-usage .segment:nth-child(2)").await;
    b.wait_text("[data-testid=usage-total]", "in the last 24 hours")
        .await;
    assert_visible_to_a_person(&b, "[data-testid=usage-chart]").await;
    b.color_scheme("dark").await;
    b.screenshot(&format!("{shots}05b-key-page-24h-dark")).await;
    b.color_scheme("light").await;
    b.resize(360, 780).await;
    b.script(
        "document.querySelector('[data-testid=usage-chart]').scrollIntoView({block: 'center'})",
    )
    .await;
    assert_visible_to_a_person(&b, "[data-testid=usage-chart]").await;
    let wide = b
        .script(
            "if (document.documentElement.scrollWidth <= innerWidth) return 'ok';
             const w = [...document.querySelectorAll('main *')]
               .filter(e => e.getBoundingClientRect().right > innerWidth + 1);
             return w.slice(-3).map(e => e.outerHTML.slice(0, 120)).join(' | ');",
        )
        .await;
    assert_eq!(wide, json!("ok"), "nothing scrolls sideways at 360 px");
    b.screenshot(&format!("{shots}05c-key-page-360px")).await;
    b.resize(1440, 900).await;

    // Roll a key from its row menu: the new key is revealed once and copied, both keys work
    // during the overlap, and the old one is stopped from its page.
    let (rolled_id, old_key) = app
        .issue_key(&project_id, "", callem::domain::expiry::Expiry::Never)
        .await;
    b.goto(&format!("{base}{keys_page}")).await;
    b.click(&format!("#key-{rolled_id} details.menu summary"))
        .await;
    let roll_item = format!("#key-{rolled_id} details.menu[open] [hx-get$='/roll']");
    assert_visible_to_a_person(&b, &roll_item).await;
    b.click(&roll_item).await;
    b.wait_text(".modal", "The old key stops working").await;
    assert_eq!(
        b.script("return document.querySelector('.modal input[name=overlap]:checked').value")
            .await,
        json!("24h"),
        "24 hours is the default"
    );
    assert_visible_to_a_person(&b, ".modal button[type=submit]").await;
    b.screenshot(&format!("{shots}05d-roll-modal")).await;
    b.click(".modal button[type=submit]").await;
    let new_key = b
        .wait_text("#revealed-key", "ck_live_")
        .await
        .trim()
        .to_owned();
    assert!(callem::domain::api_key::is_well_formed(&new_key));
    b.wait_text(".modal", "API key rolled").await;
    b.click("[data-copy]").await;
    b.wait_text("[data-copy]", "Copied").await;
    b.screenshot(&format!("{shots}05e-rolled-key-revealed"))
        .await;
    b.click(".modal-footer [data-close-modal]").await;
    b.gone(".modal").await;
    assert_eq!(api(old_key.clone()).await, 200, "the old key still works");
    assert_eq!(api(new_key.clone()).await, 200, "the new key works at once");
    b.wait_text(&format!("#key-{rolled_id}"), "Rolling · stops in 23 h")
        .await;
    b.screenshot(&format!("{shots}05f-keys-rolling")).await;
    b.click(&format!("#key-{rolled_id} td.cell-name")).await;
    b.wait_text("[data-testid=rolling-panel]", "Is it safe to stop it now?")
        .await;
    assert_visible_to_a_person(&b, "[data-testid=stop-now]").await;
    assert_visible_to_a_person(&b, "[data-testid=extend]").await;
    b.screenshot(&format!("{shots}05g-rolling-key-page")).await;
    b.color_scheme("dark").await;
    b.screenshot(&format!("{shots}05g-rolling-key-page-dark"))
        .await;
    b.color_scheme("light").await;
    b.click("[data-testid=stop-now]").await;
    b.wait_text(".modal", "Stop the old key now?").await;
    b.click("[data-testid=confirm-stop]").await;
    b.wait_text("#toasts", "stopped working").await;
    b.wait_text("[data-testid=key-status]", "Expired").await;
    assert_eq!(b.count("[data-testid=rolling-panel]").await, 0);
    assert_eq!(api(old_key).await, 401, "stopped");
    assert_eq!(api(new_key.clone()).await, 200, "the new key goes on");

    // Edit the new key from its page: rules that would cut off the address it was just used
    // from are listed before saving, and saving them takes "Save anyway".
    app.flush_usage().await;
    b.click("[data-testid=replaced-by]").await;
    b.wait_for(
        "return !!document.querySelector('[data-testid=edit-key]') && !document.querySelector('[data-testid=replaced-by]')",
        json!(true),
    )
    .await;
    b.click("[data-testid=edit-key]").await;
    b.wait_text(".modal", "Edit API Key").await;
    b.type_into("#key-ips", "10.0.0.0/24").await;
    b.click(".modal button[type=submit]").await;
    b.wait_text("[data-testid=would-be-refused]", "127.0.0.1")
        .await;
    assert_visible_to_a_person(&b, "[data-testid=would-be-refused]").await;
    assert_visible_to_a_person(&b, "[data-testid=save-anyway]").await;
    b.screenshot(&format!("{shots}05h-edit-would-be-refused"))
        .await;
    assert_eq!(api(new_key.clone()).await, 200, "nothing saved yet");
    b.click("[data-testid=save-anyway]").await;
    b.wait_text("#toasts", "updated").await;
    b.wait_text(".facts", "10.0.0.0/24").await;
    assert_eq!(api(new_key).await, 403, "the new rule applies at once");

    // Settings → Team: invite a developer; the link opens in a second browser (its own
    // profile, so its own session), where they set a password and land in the project with
    // that role.
    b.goto(&format!("{base}/projects/{project_id}/settings/team"))
        .await;
    assert_visible_to_a_person(&b, "[data-testid=invite-member]").await;
    b.click("[data-testid=invite-member]").await;
    b.wait_text(".modal", "Invite member").await;
    b.type_into("#invite-email", "dana@example.com").await;
    b.select("#invite-role", "developer").await;
    b.click(".modal button[type=submit]").await;
    let link = b
        .wait_text("#invitation-link", "/invitations/")
        .await
        .trim()
        .to_owned();
    b.wait_text("[data-testid=invite-delivery]", "Email is not set up")
        .await;
    assert_visible_to_a_person(&b, ".modal [data-copy]").await;
    b.click(".modal [data-copy]").await;
    b.wait_text(".modal [data-copy]", "Copied").await;
    b.screenshot(&format!("{shots}05i-invitation-link")).await;
    b.click(".modal-footer [data-close-modal]").await;
    b.gone(".modal").await;
    b.wait_text("[data-testid=pending-invitations]", "dana@example.com")
        .await;
    b.screenshot(&format!("{shots}05j-team")).await;

    let second = Browser::start().await;
    second.goto(&link).await;
    second
        .wait_text("[data-testid=invitation-summary]", "Developer")
        .await;
    second.type_into("#display_name", "Dana").await;
    second
        .type_into("#password", "dana's long passphrase")
        .await;
    assert_visible_to_a_person(&second, "button[type=submit]").await;
    second
        .screenshot(&format!("{shots}05k-accept-invitation"))
        .await;
    second.click("button[type=submit]").await;
    second.wait_text(".account .badge", "Developer").await;
    // The page she lands on says what happened, where she can read it.
    second
        .wait_text("#toasts .toast", "You joined Acme Support as Developer.")
        .await;
    assert_visible_to_a_person(&second, "#toasts .toast").await;
    assert!(
        second
            .current_url()
            .await
            .contains(&format!("/projects/{project_id}")),
        "in the project"
    );
    second.screenshot(&format!("{shots}05l-joined")).await;
    second.quit().await;
    b.goto(&format!("{base}/projects/{project_id}/settings/team"))
        .await;
    b.wait_text("tr[data-member='dana@example.com']", "Developer")
        .await;
    // Change her role from the row menu.
    let dana = "tr[data-member='dana@example.com']";
    b.click(&format!("{dana} details.menu summary")).await;
    let change = format!("{dana} details.menu[open] [hx-get$='/role']");
    assert_visible_to_a_person(&b, &change).await;
    b.click(&change).await;
    b.wait_text(".modal", "Change role").await;
    b.select("#member-role", "member").await;
    assert_visible_to_a_person(&b, ".modal button[type=submit]").await;
    b.click(".modal button[type=submit]").await;
    b.gone(".modal").await;
    b.wait_text(&format!("{dana} [data-testid=member-role]"), "Member")
        .await;
    b.screenshot(&format!("{shots}05j-team-role-changed")).await;

    // Settings → Audit log: what was just done, in words, newest first.
    assert_visible_to_a_person(&b, "[data-testid=audit-log-tab]").await;
    b.click("[data-testid=audit-log-tab]").await;
    b.wait_text("[data-testid=audit-results]", "dana@example.com")
        .await;
    let log = b.text("[data-testid=audit-results]").await;
    for needle in ["invited", "joined", "rolled", "revoked", OWNER_EMAIL] {
        assert!(log.contains(needle), "{needle} in the audit log: {log}");
    }
    b.screenshot(&format!("{shots}05m-audit-log")).await;
    // The downloads sit with the pager, under the events: a person scrolls to them.
    b.script(
        "document.querySelector('[data-testid=download-csv]').scrollIntoView({block: 'center'})",
    )
    .await;
    assert_visible_to_a_person(&b, "[data-testid=download-csv]").await;
    assert_visible_to_a_person(&b, "[data-testid=download-jsonl]").await;
    b.script("window.scrollTo(0, 0)").await;
    b.color_scheme("dark").await;
    b.screenshot(&format!("{shots}05m-audit-log-dark")).await;
    b.color_scheme("light").await;

    // Calls: the table, then a call's transcript.
    app.import_calls(&project_id, DEMO_CALL).await;
    b.click("nav.sidebar a[href$='/calls']").await;
    b.wait_text("#calls-results", "Showing 1–1 of 1").await;
    b.screenshot(&format!("{shots}06-calls")).await;
    // A reversed range is said next to the field, and the inputs keep what was typed.
    b.type_into("input[name=from]", "03/10/2025").await;
    b.type_into("input[name=to]", "03/01/2025").await;
    b.script(
        "const f = document.querySelector('input[name=from]'), t = document.querySelector('input[name=to]');
         if (f.value !== '2025-03-10' || t.value !== '2025-03-01') {
           f.value = '2025-03-10'; t.value = '2025-03-01';
           t.dispatchEvent(new Event('change', {bubbles: true}));
         }",
    )
    .await;
    b.wait_text("#date-range-error", "“To” is before “From”")
        .await;
    assert_visible_to_a_person(&b, "#date-range-error").await;
    b.wait_text("#calls-results", "No calls match these filters")
        .await;
    assert_eq!(
        b.script("return document.querySelector('input[name=from]').value")
            .await,
        json!("2025-03-10"),
        "shown as typed"
    );
    b.screenshot(&format!("{shots}06a-reversed-range-1440px"))
        .await;
    b.resize(360, 780).await;
    assert_visible_to_a_person(&b, "#date-range-error").await;
    b.screenshot(&format!("{shots}06a-reversed-range-360px"))
        .await;
    b.resize(1440, 900).await;
    b.click(".filter-clear a").await;
    b.wait_text("#calls-results", "Showing 1–1 of 1").await;
    b.click("#calls-results a.row-link").await;
    b.wait_text(".transcript", "I'd like a check-up next week.")
        .await;
    assert_eq!(b.count(".turn-assistant").await, 2);
    assert_eq!(b.count(".turn-user").await, 2);
    b.screenshot(&format!("{shots}07-call-transcript")).await;

    // The other tab deletes the call while this one asks to confirm it: the refusal is a
    // toast above the dialog, where a person reads it, and the dialog stays until closed.
    b.click("button[hx-get$='/delete']").await;
    b.wait_text(".modal", "Delete the call").await;
    b.wait_for(DIALOG_OPEN, json!(true)).await;
    let call_page = format!("/projects/{project_id}/calls/demo_call");
    other_tab.get(&call_page).await;
    let r = other_tab
        .post_htmx(&format!("{call_page}/delete"), &[])
        .await;
    assert!(
        r.header("hx-redirect").is_some(),
        "deleted in the other tab"
    );
    b.click(".modal .btn-danger").await;
    b.wait_text("#toasts [role=alert]", GONE).await;
    assert_visible_to_a_person(&b, "#toasts [role=alert]").await;
    b.wait_for(DIALOG_OPEN, json!(true)).await;
    b.screenshot(&format!("{shots}07a-error-toast-over-dialog"))
        .await;
    b.press(Key::Escape).await;
    b.gone(".modal").await;
    b.wait_for(
        "return document.activeElement.matches(\"button[hx-get$='/delete']\")",
        json!(true),
    )
    .await;
    app.import_calls(&project_id, DEMO_CALL).await;

    // Knowledge: add an item through the modal, read it, delete it.
    b.click("nav.sidebar a[href$='/knowledge']").await;
    b.click("[data-testid=add-knowledge]").await;
    b.click(".modal button[type=submit]").await;
    b.wait_text("#item-name-error", "Name is required").await;
    b.type_into("#item-name", "Refund policy").await;
    b.type_into("#item-description", "When customers get their money back")
        .await;
    b.type_into(
        "#item-content",
        "## Refunds\nWithin **30 days** of delivery.\n\n<script>window.pwned=1</script>",
    )
    .await;
    b.click(".modal button[type=submit]").await;
    b.wait_text("h1", "Refund policy").await;
    b.wait_text(".prose h2", "Refunds").await;
    b.wait_text("#toasts", "“Refund policy” added to the knowledge base.")
        .await;
    assert_eq!(
        b.script("return window.pwned === undefined").await,
        true,
        "no script ran"
    );
    b.screenshot(&format!("{shots}08-knowledge-item")).await;
    b.click("button[hx-get$='/delete']").await;
    b.wait_text(".modal", "Delete “Refund policy”?").await;
    b.click(".modal .btn-danger").await;
    b.wait_text("main", "No knowledge yet").await;
    b.wait_text("#toasts", "Knowledge item deleted.").await;
    b.resize(360, 780).await;
    assert_visible_to_a_person(&b, "#toasts .toast").await;
    b.screenshot(&format!("{shots}08a-deleted-toast-360px"))
        .await;
    b.resize(1440, 900).await;

    // The dark theme.
    b.color_scheme("dark").await;
    b.click("nav.sidebar a[href$='/calls']").await;
    b.wait_text("#calls-results", "Showing").await;
    let bg = b
        .script("return getComputedStyle(document.body).backgroundColor")
        .await;
    assert_eq!(bg, json!("rgb(15, 17, 21)"), "dark background");
    b.screenshot(&format!("{shots}09-calls-dark")).await;
    b.color_scheme("light").await;

    // Small screens still work.
    b.resize(360, 780).await;
    b.goto(&format!("{base}/")).await;
    b.wait_text("h1", "Calls").await;
    b.screenshot(&format!("{shots}05-api-keys-360px")).await;

    // A restart (another server on the same database) keeps the session.
    let replica = app.replica().await;
    b.goto(&format!("{replica}/")).await;
    b.wait_text("h1", "Calls").await;
    b.quit().await;
}

/// Knowledge (issue 19): an item edited with its live preview, a refused field's message gone
/// as soon as the field changes (on this htmx form and on a plain one), block quotes with a
/// visible rule in both themes, the list searched, and phone cards whose name and description
/// line up.
#[actix_web::test]
#[cfg_attr(
    not(callem_browser_tests),
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn knowledge_is_edited_with_a_live_preview_in_a_real_browser() {
    let b = Browser::start().await;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let base = app.address.clone();
    let (_, pid) = app.setup_owner().await;
    let (_, key) = app
        .issue_key(&pid, "", callem::domain::expiry::Expiry::Never)
        .await;
    let quoted = app
        .create_knowledge(
            &key,
            &json!({"name": "Tone of voice", "description": "How agents speak to callers, in a few words", "text": "> Be brief.\n\nAnd kind."}),
        )
        .await
        .json();
    app.create_knowledge(
        &key,
        &json!({"name": "Opening hours", "description": "When we answer", "text": "9 to 5"}),
    )
    .await;
    let item = format!(
        "{base}/projects/{pid}/knowledge/{}",
        quoted["id"].as_str().unwrap()
    );

    b.goto(&format!("{base}/login")).await;
    b.type_into("#email", OWNER_EMAIL).await;
    b.type_into("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Calls").await;

    // A block quote has a rule, light and dark.
    b.goto(&item).await;
    b.wait_text("h1", "Tone of voice").await;
    let rule = "const q = document.querySelector('.prose blockquote');
        const s = getComputedStyle(q), bg = getComputedStyle(document.querySelector('.card')).backgroundColor;
        return s.borderLeftStyle === 'solid' && parseFloat(s.borderLeftWidth) >= 3 && s.borderLeftColor !== bg;";
    b.wait_for(rule, json!(true)).await;
    b.color_scheme("dark").await;
    b.wait_for(rule, json!(true)).await;
    b.screenshot("kb-01-quote-dark").await;
    b.color_scheme("light").await;

    // Edit: the preview follows the typing.
    assert_visible_to_a_person(&b, "a[data-testid=edit-knowledge]").await;
    b.click("a[data-testid=edit-knowledge]").await;
    b.wait_text("h1", "Edit").await;
    b.wait_text("#item-preview blockquote", "Be brief.").await;
    b.type_into("#item-content", "## Tone\n> Be brief, always.")
        .await;
    b.wait_text("#item-preview h2", "Tone").await;
    b.wait_text("#item-preview blockquote", "Be brief, always.")
        .await;
    b.screenshot("kb-02-edit-preview").await;

    // A refused name is said under it, and goes as soon as the name changes.
    b.type_into("#item-name", " ").await;
    b.click("#knowledge-edit button[type=submit]").await;
    b.wait_text("#item-name-error", "Name is required").await;
    b.screenshot("kb-03-edit-refused").await;
    b.find("#item-name")
        .await
        .send_keys("Voice")
        .await
        .expect("type a name");
    b.gone("#item-name-error").await;
    b.wait_for(
        "const f = document.querySelector('#item-name'); return !f.hasAttribute('aria-invalid') && !f.closest('.has-error');",
        json!(true),
    )
    .await;
    b.click("#knowledge-edit button[type=submit]").await;
    b.wait_text("#toasts", "saved").await;
    b.wait_text("h1", "Voice").await;
    assert!(b.current_url().await.ends_with(&item[base.len()..]));

    // The same on a plain form elsewhere: the account's password.
    b.goto(&format!("{base}/account")).await;
    b.type_into("#current-password", "not my password").await;
    b.type_into("#new-password", "short").await;
    b.type_into("#confirm-password", "short").await;
    b.click("#password-title ~ form button[type=submit]").await;
    b.find(".field-error").await;
    let cleared = b
        .script(
            "const e = document.querySelector('.field-error');
             const f = document.querySelector('[aria-describedby~=\"' + e.id + '\"]');
             f.focus(); f.value += 'x';
             f.dispatchEvent(new Event('input', {bubbles: true}));
             return !document.getElementById(e.id) && !f.hasAttribute('aria-invalid');",
        )
        .await;
    assert_eq!(cleared, json!(true), "the message went with the change");

    // The list, searched; on a phone, each card's name and description end on one line.
    b.goto(&format!("{base}/projects/{pid}/knowledge")).await;
    b.find("#knowledge-q")
        .await
        .send_keys("HOURS")
        .await
        .expect("type a search");
    b.wait_for(
        "const rows = document.querySelectorAll('#knowledge-results tbody tr'); return rows.length === 1 && rows[0].textContent.includes('Opening hours');",
        json!(true),
    )
    .await;
    assert!(
        b.current_url().await.contains("q=HOURS"),
        "the search is in the address"
    );
    b.goto(&format!("{base}/projects/{pid}/knowledge")).await;
    b.resize(360, 780).await;
    let aligned = "const row = document.querySelector('.table-knowledge tbody tr');
        const name = row.querySelector('td.cell-name a').getBoundingClientRect().right;
        const range = document.createRange();
        range.selectNodeContents(row.querySelectorAll('td')[1]);
        const desc = Math.max(...[...range.getClientRects()].map(r => r.right));
        return Math.abs(name - desc) < 2;";
    b.wait_for(aligned, json!(true)).await;
    b.screenshot("kb-04-list-360px").await;
    b.resize(1440, 900).await;
    b.quit().await;
}
