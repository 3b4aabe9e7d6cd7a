//! The sweep: every dashboard page and every modal, in real headless Chromium, as a visitor,
//! as an Owner and as a Member, at 1440 px, at 360 px and in dark mode, on data that fills the
//! pages (the demo's calls and knowledge, keys in every state, members of every role, a
//! pending invitation, the audit events all that made, and an empty project). On each page
//! and each modal it checks what a person would meet:
//! - nothing is wider than the window (and which element is, when something is);
//! - each primary action (buttons, row links, the sidebar, the project selector, tabs) is what
//!   a click at its centre hits, once scrolled into view (and what covers it, when covered);
//! - its headings skip no level (h1 then h3);
//! - axe-core finds no `serious` or `critical` violation (its own test, so that without axe
//!   it is reported as ignored, never as passed; with CI=true a missing axe fails it).
//!
//! Screenshots land in target/screenshots/sweep/{who}-{mode}-{page}.png.
//!
//! The pages come from the route table (`callem::web::routes()`): a dashboard GET route that
//! no visit reaches fails the sweep, so a new page cannot be forgotten. A new page is one
//! line in [`pages`]; a new modal needs nothing, if its button opens it like the others do
//! (`hx-get` into `#modal-root`): the sweep opens every such button it finds on a page.
//!
//! It runs on SQLite only: it is about what the pages look like, which does not depend on
//! the database (the other tests run every query on both backends).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::json;

use crate::browser::{Browser, DIALOG_OPEN};
use crate::helpers::*;
use callem::db::{self, schema::api_keys};

/// Dashboard GET routes the sweep does not open as pages, and why.
const NOT_PAGES: &[(&str, &str)] = &[
    (
        "/projects/{project_id}/settings/audit-log/export.csv",
        "a download (CSV), not a page",
    ),
    (
        "/projects/{project_id}/settings/audit-log/export.jsonl",
        "a download (JSON Lines), not a page",
    ),
];

/// The ways a page is looked at.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Wide,
    Phone,
    Dark,
}

const MODES: [Mode; 3] = [Mode::Wide, Mode::Phone, Mode::Dark];

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Wide => "1440px",
            Mode::Phone => "360px",
            Mode::Dark => "1440px-dark",
        }
    }

    async fn apply(self, b: &Browser) {
        let (w, h, scheme) = match self {
            Mode::Wide => (1440, 900, "light"),
            Mode::Phone => (360, 780, "light"),
            Mode::Dark => (1440, 900, "dark"),
        };
        b.resize(w, h).await;
        b.color_scheme(scheme).await;
        // The window's size includes its frame: make the page's own width the one asked for.
        let inner = b.script("return innerWidth").await.as_u64().unwrap_or(0);
        if inner != u64::from(w) && inner > 0 {
            let outer = b.script("return outerWidth").await.as_u64().unwrap_or(0);
            b.resize(u32::try_from(outer + u64::from(w) - inner).unwrap(), h)
                .await;
        }
    }
}

/// What one run of the sweep checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// Widths, what covers the actions, screenshots.
    Layout,
    /// axe-core's serious and critical violations.
    Axe,
}

/// Who looks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Visitor,
    Owner,
    Member,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Visitor => "visitor",
            Who::Owner => "owner",
            Who::Member => "member",
        }
    }
}

/// One page to open: a name for its screenshots, its path, and who opens it.
struct Page {
    name: &'static str,
    path: String,
    who: &'static [Who],
}

const SIGNED_IN: &[Who] = &[Who::Owner, Who::Member];
const OWNER: &[Who] = &[Who::Owner];
const VISITOR: &[Who] = &[Who::Visitor];

/// What the sweep made to fill the pages.
struct Data {
    project: String,
    empty_project: String,
    call: String,
    item: String,
    /// (name for screenshots, key id) of a key in each state.
    keys: Vec<(&'static str, String)>,
    invitation: String,
    reset: String,
    /// A webhook with deliveries in each state, and one delivery of it with attempts.
    webhook: String,
    delivery: String,
}

/// Every page the sweep opens, one line each.
fn pages(d: &Data) -> Vec<Page> {
    let p = format!("/projects/{}", d.project);
    let e = format!("/projects/{}", d.empty_project);
    let page = |name, path: String, who| Page { name, path, who };
    let mut pages = vec![
        page("root", "/".into(), SIGNED_IN),
        page("project", p.clone(), SIGNED_IN),
        page("calls", format!("{p}/calls"), SIGNED_IN),
        page(
            "calls-filtered",
            format!("{p}/calls?status=failed&per_page=10&page=2"),
            SIGNED_IN,
        ),
        page("call", format!("{p}/calls/{}", d.call), SIGNED_IN),
        page("knowledge", format!("{p}/knowledge"), SIGNED_IN),
        page(
            "knowledge-item",
            format!("{p}/knowledge/{}", d.item),
            SIGNED_IN,
        ),
        page(
            "knowledge-edit",
            format!("{p}/knowledge/{}/edit", d.item),
            OWNER,
        ),
        page(
            "knowledge-search",
            format!("{p}/knowledge?q=refund"),
            SIGNED_IN,
        ),
        page("calls-search", format!("{p}/calls?q=06+12"), SIGNED_IN),
        page("settings", format!("{p}/settings"), SIGNED_IN),
        page("api-keys", format!("{p}/settings/api-keys"), SIGNED_IN),
        page("team", format!("{p}/settings/team"), SIGNED_IN),
        page("audit-log", format!("{p}/settings/audit-log"), SIGNED_IN),
        page("webhooks", format!("{p}/settings/webhooks"), SIGNED_IN),
        page(
            "webhook",
            format!("{p}/settings/webhooks/{}", d.webhook),
            SIGNED_IN,
        ),
        page(
            "webhook-delivery",
            format!(
                "{p}/settings/webhooks/{}/deliveries/{}",
                d.webhook, d.delivery
            ),
            SIGNED_IN,
        ),
        page("empty-webhooks", format!("{e}/settings/webhooks"), OWNER),
        page("account", "/account".into(), SIGNED_IN),
        page("new-project", "/projects/new".into(), SIGNED_IN),
        page("api-docs", "/docs/api".into(), SIGNED_IN),
        page("not-found", format!("{p}/calls/no-such-call"), SIGNED_IN),
        page("empty-calls", format!("{e}/calls"), OWNER),
        page("empty-knowledge", format!("{e}/knowledge"), OWNER),
        page("empty-api-keys", format!("{e}/settings/api-keys"), OWNER),
        page("empty-audit-log", format!("{e}/settings/audit-log"), OWNER),
        page("login", "/login".into(), VISITOR),
        page("forgot-password", "/forgot-password".into(), VISITOR),
        page("reset-password", d.reset.clone(), VISITOR),
        page(
            "reset-password-invalid",
            format!("/reset-password/{}", "0".repeat(64)),
            VISITOR,
        ),
        page("invitation", d.invitation.clone(), VISITOR),
        page(
            "invitation-invalid",
            format!("/invitations/{}", "0".repeat(64)),
            VISITOR,
        ),
        page("no-project", "/no-project".into(), VISITOR),
        page("api-docs", "/docs/api".into(), VISITOR),
    ];
    for (name, id) in &d.keys {
        pages.push(page(name, format!("{p}/settings/api-keys/{id}"), SIGNED_IN));
    }
    pages
}

/// What a person can click: the actions whose centre must be theirs.
const ACTIONS: &str = "nav.sidebar a, nav.sidebar select, nav.sidebar button, .tabs a, \
     main button, main a.btn, main a.row-link, main a.key-link, main summary, main select, \
     main .attention-item, main .pages a, .auth-card button, .auth-card a, .docs-header a";
/// The same, in an open dialog.
const MODAL_ACTIONS: &str = "dialog[open] button, dialog[open] a, dialog[open] select, \
     dialog[open] input:not([type=hidden]), dialog[open] textarea";

/// Returns "ok" or which elements stick out past the window's right edge.
const OVERFLOW_JS: &str = r#"
const desc = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
  (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\s+/).join('.') : '') +
  ' "' + (e.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40) + '"';
const problems = [];
const doc = document.documentElement;
if (doc.scrollWidth > innerWidth) {
  const wide = [...document.body.querySelectorAll('*')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.right > innerWidth + 0.5 && !e.closest('svg');
  });
  // The innermost ones: the cause, not every box that holds it.
  const inner = wide.filter(e => !wide.some(o => o !== e && e.contains(o)));
  problems.push('the page is ' + doc.scrollWidth + ' px wide in a ' + innerWidth + ' px window; sticking out: ' +
    inner.slice(0, 4).map(e => desc(e) + ' (right edge ' + Math.round(e.getBoundingClientRect().right) + ' px)').join(', '));
}
for (const d of document.querySelectorAll('dialog[open], dialog[open] .modal-body')) {
  if (d.scrollWidth > d.clientWidth + 1) {
    problems.push(desc(d) + ' scrolls sideways (' + d.scrollWidth + ' px in ' + d.clientWidth + ' px)');
  }
}
return problems;
"#;

/// Returns the headings that skip a level (an h3 right under an h1), outside dialogs: a
/// screen reader's outline of the page has no holes.
const HEADINGS_JS: &str = r#"
let last = 0;
const problems = [];
for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
  if (h.closest('dialog') || !h.checkVisibility()) continue;
  const level = Number(h.tagName[1]);
  if (level > last + 1) problems.push('h' + level + ' "' + h.textContent.trim().slice(0, 40) + '" follows ' + (last ? 'an h' + last : 'no heading'));
  last = level;
}
return problems;
"#;

/// Returns how many actions it looked at and the ones a click at their centre would miss.
const COVERED_JS: &str = r#"
const desc = e => !e ? 'nothing' : e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
  (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\s+/).join('.') : '') +
  ' "' + (e.textContent || e.value || e.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ').slice(0, 40) + '"';
const els = [...document.querySelectorAll(arguments[0])].filter(e =>
  e.checkVisibility({visibilityProperty: true, opacityProperty: true}) && e.getClientRects().length &&
  !e.closest('.visually-hidden, .skip-link') && e.type !== 'hidden');
const problems = [];
for (const el of els) {
  el.scrollIntoView({block: 'center', inline: 'nearest', behavior: 'instant'});
  const r = el.getBoundingClientRect();
  if (r.width < 2 || r.height < 2) continue;
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) {
    problems.push(desc(el) + ' cannot be scrolled on screen (centre at ' + Math.round(x) + ',' + Math.round(y) + ')');
    continue;
  }
  const hit = document.elementFromPoint(x, y);
  const label = el.labels && [...el.labels].some(l => l.contains(hit));
  if (!hit || !(hit === el || el.contains(hit) || label)) {
    problems.push(desc(el) + ' is covered by ' + desc(hit));
  }
}
window.scrollTo({top: 0, left: 0, behavior: 'instant'});
for (const d of document.querySelectorAll('dialog[open], dialog[open] .modal-body')) d.scrollTop = 0;
return {count: els.length, app: !!document.querySelector('nav.sidebar'), problems};
"#;

/// Runs axe-core on the page (injected if needed): its serious and critical violations.
const AXE_JS: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => v.id + ' (' + v.impact + '): ' + v.help + ': ' + v.nodes.slice(0, 6).map(n =>
     n.target.join(' ') + (n.any[0] ? ' [' + n.any[0].message + ']' : '')).join('; '))))
 .catch(e => done(['axe failed: ' + e]));
"#;

struct Sweep<'a> {
    b: &'a Browser,
    base: String,
    checks: Checks,
    axe: String,
    problems: Vec<String>,
    /// Paths opened (pages, and modals' URLs).
    visited: BTreeSet<String>,
    looked_at: usize,
}

impl Sweep<'_> {
    fn problem(&mut self, at: &str, what: String) {
        eprintln!("sweep: {at}: {what}");
        self.problems.push(format!("{at}: {what}"));
    }

    /// The checks on what is on screen now (a page, or a page with a dialog open).
    async fn check(&mut self, at: &str, actions: &str) {
        self.looked_at += 1;
        match self.checks {
            Checks::Layout => {
                let wide = self.b.script(OVERFLOW_JS).await;
                for p in wide.as_array().unwrap() {
                    self.problem(at, format!("overflow: {}", p.as_str().unwrap()));
                }
                if !at.contains("--") {
                    let skipped = self.b.script(HEADINGS_JS).await;
                    for p in skipped.as_array().unwrap() {
                        self.problem(at, format!("heading order: {}", p.as_str().unwrap()));
                    }
                }
                let covered = self
                    .b
                    .client
                    .execute(COVERED_JS, vec![json!(actions)])
                    .await
                    .expect("the actions' check");
                if covered["count"] == 0 && covered["app"] == true {
                    self.problem(at, "no action found to check".into());
                }
                for p in covered["problems"].as_array().unwrap() {
                    self.problem(at, format!("covered: {}", p.as_str().unwrap()));
                }
                self.b.full_page_screenshot(&format!("sweep/{at}")).await;
            }
            Checks::Axe => {
                let injected = self.b.script("return !!window.axe").await;
                if injected != true {
                    self.b.script(&format!("{}\nreturn true;", self.axe)).await;
                }
                let found = self
                    .b
                    .client
                    .execute_async(AXE_JS, vec![])
                    .await
                    .expect("axe ran");
                for v in found.as_array().unwrap() {
                    self.problem(at, format!("axe: {}", v.as_str().unwrap()));
                }
            }
        }
    }

    async fn settle(&self) {
        self.b
            .wait_for(
                "return document.readyState === 'complete' && !!window.htmx && !document.querySelector('.htmx-request')
                   && document.getAnimations().every(a => a.playState !== 'running')",
                json!(true),
            )
            .await;
    }

    async fn page(&mut self, who: Who, mode: Mode, page: &Page) {
        let at = format!("{}-{}-{}", who.name(), mode.name(), page.name);
        self.b.goto(&format!("{}{}", self.base, page.path)).await;
        self.settle().await;
        let path = page.path.split('?').next().unwrap().to_owned();
        self.visited.insert(path);
        let landed = self.b.current_url().await;
        let landed = url::Url::parse(&landed).unwrap();
        self.visited.insert(landed.path().to_owned());
        // A page may open with a toast (a flash): it goes in a few seconds, and is not the page.
        self.b
            .script("document.querySelectorAll('#toasts .toast').forEach(t => t.remove())")
            .await;
        self.check(&at, ACTIONS).await;
        self.modals(&at).await;
        if page.name.starts_with("key-") {
            self.usage_switch(&at).await;
        }
    }

    /// Opens each kind of modal the page offers (one per URL pattern), from its button.
    async fn modals(&mut self, at: &str) {
        let triggers = self
            .b
            .script(
                "return [...document.querySelectorAll(\"[hx-get][hx-target='#modal-root']\")]
                   .map(e => e.getAttribute('hx-get'))",
            )
            .await;
        let mut seen = BTreeSet::new();
        for url in triggers.as_array().unwrap() {
            let url = url.as_str().unwrap().to_owned();
            let path = url.split('?').next().unwrap().to_owned();
            let shape = pattern_of(&path).unwrap_or_else(|| path.clone());
            if !seen.insert(shape.clone()) {
                continue;
            }
            let name = shape.rsplit('/').take(2).collect::<Vec<_>>();
            let name = format!("{at}--{}-{}", name[1].trim_matches(['{', '}']), name[0]);
            // Its button, made findable; a menu holding it is opened first, as a person would.
            let found = self
                .b
                .client
                .execute(
                    "const el = [...document.querySelectorAll(\"[hx-get][hx-target='#modal-root']\")]
                       .find(e => e.getAttribute('hx-get') === arguments[0]);
                     document.querySelectorAll('[data-sweep], [data-sweep-menu]').forEach(e => {
                       e.removeAttribute('data-sweep'); e.removeAttribute('data-sweep-menu'); });
                     el.setAttribute('data-sweep', '');
                     const menu = el.closest('details');
                     if (menu && !menu.open) {
                       menu.querySelector('summary').setAttribute('data-sweep-menu', '');
                       return 'menu';
                     }
                     return 'button';",
                    vec![json!(url)],
                )
                .await
                .expect("the modal's button");
            if found == "menu" {
                if let Err(e) = self.click("[data-sweep-menu]").await {
                    self.problem(&name, format!("its menu cannot be clicked: {e}"));
                    continue;
                }
            }
            if let Err(e) = self.click("[data-sweep]").await {
                self.problem(&name, format!("its button cannot be clicked: {e}"));
                continue;
            }
            if !self.wait(DIALOG_OPEN).await {
                self.problem(&name, format!("{url} opened no dialog"));
                self.b.goto(&self.b.current_url().await).await;
                continue;
            }
            self.visited.insert(path);
            self.settle().await;
            self.check(&name, MODAL_ACTIONS).await;
            self.b.press(Key::Escape).await;
            if !self
                .wait("return !document.querySelector('#modal-root dialog')")
                .await
            {
                self.problem(&name, "Escape does not close it".into());
                self.b.goto(&self.b.current_url().await).await;
                self.settle().await;
            }
            self.b
                .script("document.querySelectorAll('details[open]').forEach(d => d.open = false)")
                .await;
        }
    }

    /// The key page's usage switch swaps in the 24-hour chart (its own route).
    async fn usage_switch(&mut self, at: &str) {
        let url = self
            .b
            .script("const s = document.querySelector('#key-usage .segment:not(.active)'); return s && s.getAttribute('hx-get')")
            .await;
        let Some(url) = url.as_str() else {
            return;
        };
        let path = url.split('?').next().unwrap().to_owned();
        if let Err(e) = self.click("#key-usage .segment:not(.active)").await {
            self.problem(at, format!("the usage switch cannot be clicked: {e}"));
            return;
        }
        self.settle().await;
        self.visited.insert(path);
        self.check(&format!("{at}--usage-24h"), ACTIONS).await;
    }

    /// A WebDriver click, which fails when something covers the element.
    async fn click(&self, css: &str) -> Result<(), String> {
        let el = self
            .b
            .client
            .find(Locator::Css(css))
            .await
            .map_err(|e| e.to_string())?;
        self.b
            .script(&format!(
                "document.querySelector({css:?}).scrollIntoView({{block: 'center', behavior: 'instant'}})"
            ))
            .await;
        el.click().await.map_err(|e| e.to_string())
    }

    /// Waits (a few seconds) for a script to return true.
    async fn wait(&self, js: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.b.script(js).await == true {
                return true;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    async fn sign_in(&self, email: &str) {
        self.b.client.delete_all_cookies().await.unwrap();
        self.b.goto(&format!("{}/login", self.base)).await;
        self.b.type_into("#email", email).await;
        self.b.type_into("#password", PASSWORD).await;
        self.b.click("button[type=submit]").await;
        if !self
            .wait("return location.pathname.startsWith('/projects/')")
            .await
        {
            let text = self
                .b
                .script("return location.href + ' ' + document.body.innerText")
                .await;
            panic!("{email} could not sign in: {text}");
        }
    }
}

/// The dashboard's GET patterns that no visited path was routed to (less the excused ones).
fn unvisited(visited: &BTreeSet<String>) -> Vec<String> {
    for (p, _) in NOT_PAGES {
        assert!(
            callem::web::routes().any(|(_, r)| r == *p),
            "{p} is excused from the sweep but is no route"
        );
    }
    callem::web::routes()
        .filter(|(m, _)| **m == actix_web::http::Method::GET)
        .map(|(_, p)| p)
        .filter(|p| !NOT_PAGES.iter().any(|(n, _)| n == p))
        .filter(|p| !visited.iter().any(|v| pattern_of(v).as_ref() == Some(p)))
        .collect()
}

/// The GET route pattern (`/projects/{project_id}/calls/{call_id}`) a path is routed to: the
/// first that matches, in the table's order, as the router picks it (`/knowledge/new` is not
/// an item).
fn pattern_of(path: &str) -> Option<String> {
    callem::web::routes()
        .filter(|(m, _)| **m == actix_web::http::Method::GET)
        .map(|(_, p)| p)
        .find(|p| matches(p, path))
}

fn matches(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len()
        && p.iter()
            .zip(&q)
            .all(|(p, q)| p == q || (p.starts_with('{') && !q.is_empty()))
}

/// Fills a project as the pages expect to be filled; returns what the pages need.
async fn fill(app: &TestApp, owner: &Agent, pid: &str) -> Data {
    let now = callem::time::now();
    let project_id = project(pid);
    let (calls, items) = (
        callem::demo::calls(&project_id, 120, now, 19),
        callem::demo::knowledge(&project_id, now),
    );
    let (call, item) = (
        calls[0].id.as_str().to_owned(),
        items[0].id.as_str().to_owned(),
    );
    app.db(move |conn| {
        db::calls::insert_all(conn, &calls, None, |_| {})?;
        for item in &items {
            db::knowledge::insert(conn, item)?;
        }
        Ok(())
    })
    .await;

    owner.get(&keys_path(pid)).await;
    let key = |name: &'static str, extra: &'static [(&'static str, &'static str)]| async move {
        let mut fields = vec![("name", name), ("expires", "never")];
        fields.extend_from_slice(extra);
        if !extra.iter().any(|(f, _)| *f == "access") {
            fields.push(("access", "full"));
        }
        let r = owner.create_key(pid, &fields).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let hash = callem::domain::api_key::hash_token(&revealed_key(&r.body));
        let id = app
            .db(move |c| {
                Ok(api_keys::table
                    .filter(api_keys::key_hash.eq(hash))
                    .select(api_keys::id)
                    .first::<String>(c)?)
            })
            .await;
        (id, revealed_key(&r.body))
    };
    let set_expiry = |id: String, at: chrono::NaiveDateTime| async move {
        app.db(move |c| {
            diesel::update(api_keys::table.find(&id))
                .set(api_keys::expires_at.eq(Some(at)))
                .execute(c)?;
            Ok(())
        })
        .await;
    };
    let (restricted, restricted_key) = key(
        "Production CRM Integration",
        &[("allowed_ips", "203.0.113.0/24\n198.51.100.7")],
    )
    .await;
    let (scoped, scoped_key) = key(
        "Reporting dashboard (read only)",
        &[
            ("access", "custom"),
            ("calls_access", "read"),
            ("knowledge_access", "none"),
        ],
    )
    .await;
    let (soon, _) = key("Staging", &[]).await;
    set_expiry(soon.clone(), now + chrono::Duration::days(3)).await;
    let (expired, _) = key("Old importer", &[]).await;
    set_expiry(expired.clone(), now - chrono::Duration::days(2)).await;
    let (revoked, _) = key("Leaked in a screenshot", &[]).await;
    owner.revoke_key(pid, &revoked).await;
    let (rolled, rolled_key) = key("Zapier", &[]).await;
    // Traffic on the keys: allowed, and refused by the address rule (the tests call from
    // 127.0.0.1), so the key pages show their chart, addresses and the rolling panel's facts.
    for k in [&restricted_key, &scoped_key, &rolled_key] {
        app.list_calls(k, "").await;
    }
    let r = owner
        .post_htmx(
            &format!("{}/roll", key_path(pid, &rolled)),
            &[("overlap", "7d")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_key = revealed_key(&r.body);
    app.list_calls(&rolled_key, "").await;
    app.list_calls(&new_key, "").await;
    let hash = callem::domain::api_key::hash_token(&new_key);
    let replacement = app
        .db(move |c| {
            Ok(api_keys::table
                .filter(api_keys::key_hash.eq(hash))
                .select(api_keys::id)
                .first::<String>(c)?)
        })
        .await;
    app.flush_usage().await;

    for (email, role) in [
        ("admin@example.com", "admin"),
        ("developer@example.com", "developer"),
        ("member@example.com", "member"),
        (
            "a.very.long.address.for.wrapping@subsidiary.example.com",
            "member",
        ),
    ] {
        // Added as `callem user create` does: signing each in would spend the address's
        // sign-in attempts, which the browser needs.
        let (email, pid) = (email.to_owned(), project(pid));
        let role: callem::domain::role::Role = role.parse().unwrap();
        let hash = callem::auth::password::hash(
            &callem::domain::account::Password::parse(PASSWORD).unwrap(),
        )
        .unwrap();
        app.db(move |conn| {
            db::users::add_to_project(conn, &email, Some(&hash), &pid, role, callem::time::now())
        })
        .await;
    }
    owner.get(&format!("/projects/{pid}/settings/team")).await;
    let r = owner
        .post_htmx(
            &format!("/projects/{pid}/settings/team/invitations"),
            &[
                ("email", "new.colleague@example.com"),
                ("role", "developer"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let invitation = regex_lite::Regex::new(r"(/invitations/[0-9a-f]{64})")
        .unwrap()
        .captures(&r.body)
        .expect("an invitation link")[1]
        .to_owned();

    owner.get("/projects/new").await;
    let r = owner
        .post_form("/projects/new", &[("name", "Empty sandbox")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let empty_project = r
        .location()
        .trim_start_matches("/projects/")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let (_, reset) = crate::account_pages::reset_link(app, "developer@example.com");
    let (webhook, delivery) = fill_webhooks(app, owner, pid).await;

    Data {
        project: pid.to_owned(),
        empty_project,
        call,
        item,
        keys: vec![
            ("key-ip-restricted", restricted),
            ("key-scoped", scoped),
            ("key-expiring-soon", soon),
            ("key-expired", expired),
            ("key-revoked", revoked),
            ("key-rolled-old", rolled),
            ("key-rolled-new", replacement),
        ],
        invitation,
        reset,
        webhook,
        delivery,
    }
}

/// A webhook added through the form (to a receiver that never resolves), with a delivery in
/// each state; returns its id and that of a failed delivery with two attempts.
async fn fill_webhooks(app: &TestApp, owner: &Agent, pid: &str) -> (String, String) {
    use callem::db::models::{Attempt, Webhook};
    use callem::db::schema::{webhook_attempts, webhook_deliveries};
    owner
        .get(&format!("/projects/{pid}/settings/webhooks"))
        .await;
    let r = owner
        .post_htmx(
            &format!("/projects/{pid}/settings/webhooks"),
            &[
                (
                    "url",
                    "https://crm.receiver.invalid/webhooks/callem/a-rather-long-path-to-wrap",
                ),
                ("description", "CRM sync (calls and keys)"),
                ("events", "call_started"),
                ("events", "call_ended"),
                ("events", "call_analyzed"),
                ("events", "api_key_revoked"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = project(pid);
    let hook: Webhook = app
        .db(move |c| Ok(db::webhooks::list(c, &p)?.remove(0)))
        .await;
    let webhook = hook.id.as_str().to_owned();
    let delivery = app
        .db(move |c| {
            let now = callem::time::now();
            let mut failed = None;
            for (i, (state, attempts)) in [("delivered", 1), ("pending", 2), ("failed", 4), ("pending", 0)]
                .into_iter()
                .enumerate()
            {
                let id = db::webhook_outbox::enqueue_test(c, &hook, now)?;
                diesel::update(webhook_deliveries::table.find(&id))
                    .set((
                        webhook_deliveries::state.eq(state),
                        webhook_deliveries::attempts.eq(attempts),
                        webhook_deliveries::created_at.eq(now - chrono::Duration::hours(i as i64)),
                        webhook_deliveries::next_attempt_at.eq(now + chrono::Duration::days(1)),
                    ))
                    .execute(c)?;
                if state == "failed" {
                    failed = Some(id);
                }
            }
            let id = failed.expect("a failed delivery");
            for (n, (status, error, body)) in [
                (Some(503), None, "<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>"),
                (None, Some("connection refused (receiver.invalid:443)"), ""),
            ]
            .into_iter()
            .enumerate()
            {
                diesel::insert_into(webhook_attempts::table)
                    .values(Attempt {
                        id: format!("att_{n}_{id}"),
                        delivery_id: id.clone(),
                        attempted_at: now - chrono::Duration::minutes(30 - n as i64),
                        duration_ms: 15_000,
                        status,
                        error: error.map(str::to_owned),
                        response_body: body.to_owned(),
                        request_headers: serde_json::json!([
                            ["content-type", "application/json"],
                            ["user-agent", "Callem-Webhooks/0.1.0"],
                            ["webhook-id", id.as_str()],
                            ["webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="],
                            ["x-callem-event", "test"]
                        ])
                        .to_string(),
                    })
                    .execute(c)?;
            }
            Ok(id.into_string())
        })
        .await;
    (webhook, delivery)
}

async fn sweep(checks: Checks) {
    let b = Browser::start().await;
    let axe = match checks {
        Checks::Layout => String::new(),
        Checks::Axe => {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/axe/node_modules/axe-core/axe.min.js");
            std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "axe-core is not installed ({}: {e}): npm install --prefix target/axe axe-core@4 --no-save",
                    path.display()
                )
            })
        }
    };
    if checks == Checks::Layout {
        // This run's screenshots only.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/sweep");
        let _ = std::fs::remove_dir_all(dir);
    }
    let app = TestApp::spawn(Backend::Sqlite).await;
    let started = Instant::now();
    let mut s = Sweep {
        b: &b,
        base: app.address.clone(),
        checks,
        axe,
        problems: Vec::new(),
        visited: BTreeSet::new(),
        looked_at: 0,
    };

    // Before anyone has an account: the page asking for the setup link, and the setup form.
    for mode in MODES {
        mode.apply(&b).await;
        for (name, path) in [
            ("setup-link-needed", "/setup".to_owned()),
            ("setup", app.setup_link()),
        ] {
            let page = Page {
                name,
                path,
                who: VISITOR,
            };
            s.page(Who::Visitor, mode, &page).await;
        }
    }
    let (owner, pid) = app.setup_owner().await;
    let data = fill(&app, &owner, &pid).await;
    let pages = pages(&data);

    for who in [Who::Visitor, Who::Owner, Who::Member] {
        match who {
            Who::Visitor => b.client.delete_all_cookies().await.unwrap(),
            Who::Owner => s.sign_in(OWNER_EMAIL).await,
            Who::Member => s.sign_in("member@example.com").await,
        }
        for mode in MODES {
            mode.apply(&b).await;
            for page in pages.iter().filter(|p| p.who.contains(&who)) {
                s.page(who, mode, page).await;
            }
        }
    }
    eprintln!("sweep: {} views in {:?}", s.looked_at, started.elapsed());

    let missed = unvisited(&s.visited);
    let report = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "target/screenshots/sweep/problems-{}.txt",
        if checks == Checks::Axe {
            "axe"
        } else {
            "layout"
        }
    ));
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();
    std::fs::write(&report, s.problems.join("\n")).unwrap();
    let problems = std::mem::take(&mut s.problems);
    drop(s);
    b.quit().await;
    assert!(
        missed.is_empty(),
        "dashboard pages the sweep never opens (add a line to `pages`): {missed:?}"
    );
    assert!(
        problems.is_empty(),
        "{} problems (also in {}):\n{}",
        problems.len(),
        report.display(),
        problems.join("\n")
    );
}

#[actix_web::test]
#[cfg_attr(
    not(callem_browser_tests),
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn every_page_and_modal_fits_the_window_and_its_actions_can_be_clicked() {
    sweep(Checks::Layout).await;
}

#[actix_web::test]
#[cfg_attr(
    not(all(callem_browser_tests, callem_axe_tests)),
    ignore = "needs a chromedriver and axe-core (npm install --prefix target/axe axe-core@4 --no-save)"
)]
async fn every_page_and_modal_has_no_serious_accessibility_violation() {
    sweep(Checks::Axe).await;
}

#[test]
fn the_route_table_lists_the_dashboard_pages() {
    let get: Vec<_> = callem::web::routes()
        .filter(|(m, _)| **m == actix_web::http::Method::GET)
        .map(|(_, p)| p)
        .collect();
    for page in [
        "/projects/{project_id}/calls",
        "/projects/{project_id}/knowledge/{item_id}",
        "/projects/{project_id}/settings/api-keys/{key_id}/roll",
        "/account",
        "/login",
    ] {
        assert!(get.iter().any(|p| p == page), "{page} in {get:?}");
    }
    assert!(matches(
        "/projects/{project_id}/calls/{call_id}",
        "/projects/p1/calls/c1"
    ));
    assert!(!matches(
        "/projects/{project_id}/calls/{call_id}",
        "/projects/p1/calls"
    ));
    assert!(!matches(
        "/projects/{project_id}/calls",
        "/projects/p1/knowledge"
    ));
    // The sweep's coverage check: a route no visit reaches is named; excused ones are not.
    let all: BTreeSet<String> = get
        .iter()
        .map(|p| p.replace("{project_id}", "p1").replace(['{', '}'], ""))
        .collect();
    assert_eq!(unvisited(&all), Vec::<String>::new());
    let mut without_one = all.clone();
    without_one.remove("/projects/p1/knowledge/item_id");
    assert_eq!(
        unvisited(&without_one),
        vec!["/projects/{project_id}/knowledge/{item_id}".to_owned()]
    );
    assert!(!get.is_empty() && NOT_PAGES.iter().all(|(p, _)| get.contains(&p.to_string())));
}

/// Browsers ask every site for `/favicon.ico`: it is the brand mark, an ICO, cached a day.
#[actix_web::test]
async fn the_favicon_is_served() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let r = app.agent().get("/favicon.ico").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").as_deref(), Some("image/x-icon"));
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("public, max-age=86400")
    );
    assert!(
        r.body.as_bytes().starts_with(&[0, 0, 1, 0]),
        "an ICO file's header"
    );
    // The pages link it under its hashed name too.
    let login = app.agent().get("/setup").await;
    assert!(
        regex_lite::Regex::new(r#"<link rel="icon" href="/static/favicon\.[0-9a-f]{10}\.ico""#)
            .unwrap()
            .is_match(&login.body),
        "{}",
        login.body
    );
}

/// Issue 19's blocker: on a Knowledge list with items, every click opened the last item (its
/// rows' link overlay covered the whole page). Here a person clicks "Add item", a row, the
/// sidebar and the project selector, at 1440 px and 360 px, and each does what it says
/// (a WebDriver click fails when something else would receive it).
#[actix_web::test]
#[cfg_attr(
    not(callem_browser_tests),
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn on_a_knowledge_list_with_items_each_click_does_what_it_says() {
    let b = Browser::start().await;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (owner, pid) = app.setup_owner().await;
    let items = callem::demo::knowledge(&project(&pid), callem::time::now());
    let names = items.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    app.db(move |conn| {
        for item in &items {
            db::knowledge::insert(conn, item)?;
        }
        Ok(())
    })
    .await;
    owner.get("/projects/new").await;
    let r = owner
        .post_form("/projects/new", &[("name", "Second")])
        .await;
    let second = r.location();
    let base = app.address.clone();
    b.goto(&format!("{base}/login")).await;
    b.type_into("#email", OWNER_EMAIL).await;
    b.type_into("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Calls").await;
    let knowledge = format!("{base}/projects/{pid}/knowledge");
    for (width, height) in [(1440, 900), (360, 780)] {
        b.resize(width, height).await;
        b.goto(&knowledge).await;
        b.click("[data-testid=add-knowledge]").await;
        b.wait_for(DIALOG_OPEN, json!(true)).await;
        b.find(".modal #item-name").await;
        b.press(Key::Escape).await;
        b.gone(".modal").await;

        // A row opens its own item, not the last one.
        let name = b.text("tbody tr:nth-child(3) a.row-link").await;
        assert!(names.contains(&name), "{name}");
        b.click("tbody tr:nth-child(3) a.row-link").await;
        b.wait_text("h1", &name).await;

        b.goto(&knowledge).await;
        b.click("nav.sidebar a[href$='/calls']").await;
        b.wait_text("h1", "Calls").await;

        b.goto(&knowledge).await;
        b.click(".project-select select").await;
        b.select(".project-select select", &second).await;
        b.wait_for(
            &format!("return location.pathname.startsWith({second:?})"),
            json!(true),
        )
        .await;
    }
    b.quit().await;
}

/// Issue 19: on a phone the key page broke its creator's email mid-word ("…example.co / m").
/// An email too long for the line breaks before its `@`, and nowhere else.
#[actix_web::test]
#[cfg_attr(
    not(callem_browser_tests),
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn an_email_too_long_for_a_phone_line_breaks_before_its_at_sign() {
    let b = Browser::start().await;
    let app = TestApp::spawn(Backend::Sqlite).await;
    const EMAIL: &str = "claire.martin-dubois@example.com";
    let owner = app.agent();
    owner.get(&app.setup_link()).await;
    let r = owner
        .post_form(
            "/setup",
            &[
                ("setup_token", app.setup_token()),
                ("email", EMAIL),
                ("password", PASSWORD),
                ("project_name", "Acme"),
            ],
        )
        .await;
    let pid = r.location().trim_start_matches("/projects/").to_owned();
    owner.get(&keys_path(&pid)).await;
    let r = owner
        .create_key(
            &pid,
            &[("name", "CRM"), ("expires", "never"), ("access", "full")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let kid = app
        .db(|c| Ok(api_keys::table.select(api_keys::id).first::<String>(c)?))
        .await;
    b.goto(&format!("{}/login", app.address)).await;
    b.type_into("#email", EMAIL).await;
    b.type_into("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Calls").await;
    b.resize(360, 780).await;
    b.goto(&format!("{}{}", app.address, key_path(&pid, &kid)))
        .await;
    b.wait_text(".facts", EMAIL).await;
    // Each character's line (its box's top), in the order they read.
    let lines = b
        .script(
            "const dd = document.querySelector('.facts dd');
             const walker = document.createTreeWalker(dd, NodeFilter.SHOW_TEXT);
             let text = '', tops = [];
             for (let n; (n = walker.nextNode());) {
               for (let i = 0; i < n.length; i++) {
                 const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 1);
                 text += n.data[i]; tops.push(Math.round(r.getBoundingClientRect().top));
               }
             }
             return [text, tops];",
        )
        .await;
    let text = lines[0].as_str().unwrap();
    let tops: Vec<i64> = lines[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect();
    let start = text.find(EMAIL).expect("the email in the Created line");
    let email_tops = &tops[start..start + EMAIL.len()];
    let breaks: Vec<usize> = (1..EMAIL.len())
        .filter(|&i| email_tops[i] != email_tops[i - 1])
        .collect();
    let at = EMAIL.find('@').unwrap();
    assert!(
        breaks.iter().all(|&i| i == at),
        "{EMAIL} breaks at {breaks:?} (only before the @, at {at}, is sensible)"
    );
    b.screenshot("sweep-email-wrap-360px").await;
    b.quit().await;
}
