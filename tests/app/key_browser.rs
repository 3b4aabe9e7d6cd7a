//! A key's page in a real browser (issue 19): the focus after Save changes, Stop now and
//! Revoke; Stop now's confirmation; the roll modal's expiry; the usage chart on a phone.

use serde_json::json;

use crate::browser::{assert_visible_to_a_person, Browser};
use crate::helpers::*;

/// What has the focus: `H1`, `BODY`, or a button's test id.
const FOCUSED: &str = "const e = document.activeElement; \
     return e ? (e.dataset.testid || e.tagName) : 'none';";

/// The usage chart's labels a person can see, at this width: each inside the viewport, none
/// overlapping another, none smaller than 10 px; 'ok' or what is wrong.
const CHART_LABELS_READ: &str = "
  const seen = [...document.querySelectorAll('.usage-chart text')]
    .filter(t => getComputedStyle(t).display !== 'none')
    .map(t => ({ text: t.textContent, date: t.classList.contains('chart-date'), r: t.getBoundingClientRect() }));
  const dates = seen.filter(l => l.date);
  if (dates.length < 3) return 'only ' + dates.length + ' dates';
  for (const l of seen) {
    if (l.r.left < 0 || l.r.right > innerWidth) return 'outside the viewport: ' + l.text + ' ' + l.r.left + '–' + l.r.right;
    if (l.r.height < 10) return 'too small: ' + l.text + ' ' + l.r.height + ' px';
  }
  for (let i = 0; i < seen.length; i++) for (let j = i + 1; j < seen.length; j++) {
    const a = seen[i].r, b = seen[j].r;
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
      return 'overlap: ' + seen[i].text + ' / ' + seen[j].text;
  }
  const last = dates.reduce((m, l) => l.r.right > m.r.right ? l : m);
  if (last.text !== document.querySelector('.usage-chart .chart-date:last-of-type').textContent) return 'the last date is hidden';
  return 'ok';";

#[actix_web::test]
#[cfg_attr(
    not(callem_browser_tests),
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn the_key_page_keeps_the_focus_confirms_stop_now_and_fits_a_phone() {
    let b = Browser::start().await;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let base = app.address.clone();
    let (_, pid) = app.setup_owner().await;
    let (kid, secret) = app
        .issue_key(&pid, "", callem::domain::expiry::Expiry::Never)
        .await;
    assert_eq!(app.list_calls(&secret, "").await.status, 200);
    app.flush_usage().await;
    let shots = "keys-issue19-";

    b.goto(&format!("{base}/login")).await;
    b.type_into("#email", OWNER_EMAIL).await;
    b.type_into("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Calls").await;
    let page = format!("{base}{}", key_path(&pid, &kid));

    // The usage chart at 360 px: the first, middle and last dates, inside the screen, apart,
    // readable; and nothing wider than the screen.
    b.resize(360, 800).await;
    b.goto(&page).await;
    b.find("[data-testid=usage-chart]").await;
    b.script("document.querySelector('[data-testid=usage-chart]').scrollIntoView()")
        .await;
    b.wait_for(CHART_LABELS_READ, json!("ok")).await;
    assert_eq!(
        b.script("return document.documentElement.scrollWidth <= innerWidth")
            .await,
        json!(true),
        "nothing scrolls sideways at 360 px"
    );
    b.screenshot(&format!("{shots}usage-chart-360px")).await;
    // At full width every date label is back, still inside the chart and apart.
    b.resize(1440, 900).await;
    b.goto(&page).await;
    b.wait_for(CHART_LABELS_READ, json!("ok")).await;
    assert_eq!(
        b.script("return [...document.querySelectorAll('.usage-chart .chart-date')].filter(t => getComputedStyle(t).display !== 'none').length")
            .await,
        json!(5)
    );

    // Save changes: the page reloads with its toast, and the focus is on its heading.
    b.click("[data-testid=edit-key]").await;
    b.wait_text(".modal", "Edit API Key").await;
    b.type_into("#key-name", "Production CRM").await;
    b.click(".modal button[type=submit]").await;
    b.wait_text("#toasts", "updated").await;
    b.wait_text("h1", "Production CRM").await;
    b.wait_for(FOCUSED, json!("H1")).await;

    // The roll modal shows the new key's expiry before it is made, as a field to change.
    b.click("[data-testid=roll-key]").await;
    b.wait_text(".modal", "Roll API Key").await;
    assert_visible_to_a_person(&b, ".modal #key-expires").await;
    assert_eq!(
        b.script("return document.querySelector('.modal #key-expires').value")
            .await,
        json!("never"),
        "a key that never expired rolls into one that never expires, unless changed"
    );
    b.screenshot(&format!("{shots}roll-modal")).await;
    b.select(".modal #key-expires", "30d").await;
    b.click(".modal button[type=submit]").await;
    b.wait_text(".modal", "API key rolled").await;
    b.click("[data-testid=reveal-done]").await;
    b.wait_text("[data-testid=rolling-panel]", "Is it safe to stop it now?")
        .await;

    // Stop now asks first, with the traffic since the roll; Cancel gives the focus back.
    b.click("[data-testid=stop-now]").await;
    b.wait_text(".modal", "Stop the old key now?").await;
    b.wait_text("[data-testid=stop-facts]", "since the roll")
        .await;
    assert_visible_to_a_person(&b, "[data-testid=confirm-stop]").await;
    b.screenshot(&format!("{shots}stop-now-confirm")).await;
    b.click(".modal [data-close-modal]").await;
    b.gone(".modal").await;
    b.wait_for(FOCUSED, json!("stop-now")).await;
    assert_eq!(app.list_calls(&secret, "").await.status, 200, "not stopped");
    b.click("[data-testid=stop-now]").await;
    b.click("[data-testid=confirm-stop]").await;
    b.wait_text("#toasts", "stopped working").await;
    b.wait_text("[data-testid=key-status]", "Expired").await;
    b.wait_for(FOCUSED, json!("H1")).await;
    assert_eq!(app.list_calls(&secret, "").await.status, 401);

    // The new key's page names the key it replaces by its prefix; Revoke there ends with the
    // focus on the heading too.
    b.click("[data-testid=replaced-by]").await;
    b.wait_text("[data-testid=replaces]", &secret[..12]).await;
    b.click("[data-testid=revoke-key]").await;
    b.wait_text(".modal", "Revoke API key").await;
    b.click(".modal .btn-danger").await;
    b.wait_text("#toasts", "revoked").await;
    b.wait_text("[data-testid=revoked-note]", "Revoked").await;
    b.wait_for(FOCUSED, json!("H1")).await;

    // A Member on a phone: where Create and a key's actions would be, the page says who may
    // use them, and nothing is wider than the screen.
    app.user_with_role(&pid, "member@example.com", "member")
        .await;
    b.click("form[action='/logout'] button").await;
    b.wait_text("h1", "Sign in").await;
    b.type_into("#email", "member@example.com").await;
    b.type_into("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Calls").await;
    b.resize(360, 800).await;
    for (path, sentence) in [
        (keys_path(&pid), "Only Owners and Admins can create keys."),
        (
            key_path(&pid, &kid),
            "Only Owners and Admins can edit, roll or revoke keys.",
        ),
    ] {
        b.goto(&format!("{base}{path}")).await;
        b.wait_text("[data-testid=role-note]", sentence).await;
        assert_visible_to_a_person(&b, "[data-testid=role-note]").await;
        let wide = b
            .script(
                "const w = [...document.querySelectorAll('main *')]
                   .filter(e => e.getBoundingClientRect().width > innerWidth - 20)
                   .filter(e => ![...e.children].some(c => c.getBoundingClientRect().width > innerWidth - 20));
                 return document.documentElement.scrollWidth <= innerWidth ? 'ok'
                   : w.slice(0, 3).map(e => e.outerHTML.slice(0, 160)).join(' | ');",
            )
            .await;
        assert_eq!(wide, json!("ok"), "{path} fits 360 px");
        let shot = if path.ends_with("api-keys") {
            "list"
        } else {
            "key-page"
        };
        b.screenshot(&format!("{shots}member-{shot}-360px")).await;
    }
    b.quit().await;
}
