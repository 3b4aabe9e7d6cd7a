//! How the dashboard tells a person that a request failed: a plain request gets the error
//! page; an htmx request gets the server's message as a toast that htmx adds to `#toasts`.

use callem::domain::expiry::Expiry;

use crate::helpers::*;

const GONE: &str = "There is nothing here, or you do not have access to it.";
const NOT_ALLOWED: &str = "Your role in this project does not allow this action.";

/// The response is the error toast with `message`, sent to `#toasts` rather than swapped
/// where the request's answer would have gone.
fn assert_error_toast(r: &Resp, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.header("hx-retarget").as_deref(), Some("#toasts"));
    assert_eq!(r.header("hx-reswap").as_deref(), Some("beforeend"));
    assert!(
        r.body.contains(r#"role="alert""#) && r.body.contains(message),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<html"), "a fragment, not a page");
}

fn assert_error_page(r: &Resp, status: u16, title: &str, message: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.header("hx-retarget"), None);
    assert!(r.body.contains("<html"), "a whole page: {}", r.body);
    assert!(
        r.body.contains(title) && r.body.contains(message),
        "{}",
        r.body
    );
}

async fn an_htmx_action_on_something_another_tab_removed_gets_a_not_found_toast(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (key_id, _) = app.issue_key(&pid, "", Expiry::Never).await;
    app.import_calls(&pid, r#"{"id":"c1","status":"completed","duration":5}"#)
        .await;
    let keys = format!("/projects/{pid}/settings/api-keys");
    owner.get(&keys).await;
    // Another tab revokes the key and deletes the call.
    owner
        .post_htmx(&format!("{keys}/{key_id}/revoke"), &[])
        .await;
    let delete = format!("/projects/{pid}/calls/c1/delete");
    assert!(owner
        .post_htmx(&delete, &[])
        .await
        .header("hx-redirect")
        .is_some());

    // This tab still shows them.
    let r = owner.get_htmx(&format!("{keys}/{key_id}/revoke")).await;
    assert_error_toast(&r, 404, GONE);
    let r = owner.post_htmx(&delete, &[]).await;
    assert_error_toast(&r, 404, GONE);
    let r = owner
        .get_htmx(&format!("/projects/{pid}/no-such-page"))
        .await;
    assert_error_toast(&r, 404, GONE);
}

async fn an_htmx_action_the_role_forbids_gets_a_not_allowed_toast(app: TestApp) {
    let (_owner, pid) = app.setup_owner().await;
    app.import_calls(&pid, r#"{"id":"c1","status":"completed","duration":5}"#)
        .await;
    let member = app
        .user_with_role(&pid, "member@example.com", "member")
        .await;
    member.get(&format!("/projects/{pid}/calls")).await;
    let r = member
        .get_htmx(&format!("/projects/{pid}/knowledge/new"))
        .await;
    assert_error_toast(&r, 403, NOT_ALLOWED);
    let r = member
        .post_htmx(&format!("/projects/{pid}/calls/c1/delete"), &[])
        .await;
    assert_error_toast(&r, 403, NOT_ALLOWED);
    assert_eq!(count_rows(&app, "calls").await, 1, "nothing deleted");
}

async fn a_stale_htmx_form_gets_the_csrf_refusal_as_a_toast(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&format!("/projects/{pid}/calls")).await;
    let r = owner
        .send(
            "POST",
            &format!("/projects/{pid}/knowledge"),
            &[
                ("origin", owner.base.clone()),
                ("hx-request", "true".into()),
                ("x-csrf-token", "0".repeat(48)),
            ],
            Some((
                "name=A&content=B".into(),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_error_toast(
        &r,
        403,
        "Your session expired or this form is stale. Reload the page and try again.",
    );
    assert_eq!(count_rows(&app, "knowledge_items").await, 0);
}

async fn a_plain_request_that_fails_gets_the_whole_error_page(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    let (key_id, _) = app.issue_key(&pid, "", Expiry::Never).await;
    let keys = format!("/projects/{pid}/settings/api-keys");
    owner.get(&keys).await;
    owner
        .post_htmx(&format!("{keys}/{key_id}/revoke"), &[])
        .await;
    let r = owner.get(&format!("{keys}/{key_id}/revoke")).await;
    assert_error_page(&r, 404, "Page not found", GONE);
    let r = owner.get(&format!("/projects/{pid}/no-such-page")).await;
    assert_error_page(&r, 404, "Page not found", GONE);

    let member = app
        .user_with_role(&pid, "member@example.com", "member")
        .await;
    let r = member.get(&format!("/projects/{pid}/knowledge/new")).await;
    assert_error_page(&r, 403, "Not allowed", NOT_ALLOWED);
}

async fn an_invalid_htmx_form_is_still_sent_back_where_it_was_asked_for(app: TestApp) {
    let (owner, pid) = app.setup_owner().await;
    owner.get(&format!("/projects/{pid}/knowledge")).await;
    let r = owner
        .post_htmx(
            &format!("/projects/{pid}/knowledge"),
            &[("name", ""), ("content", "x")],
        )
        .await;
    assert!(r.status < 300 || r.status == 422, "{}", r.status);
    assert_eq!(r.header("hx-retarget"), None, "not a toast");
    assert!(r.body.contains("Name is required"), "{}", r.body);
}

crate::on_both_backends!(
    an_htmx_action_on_something_another_tab_removed_gets_a_not_found_toast,
    an_htmx_action_the_role_forbids_gets_a_not_allowed_toast,
    a_stale_htmx_form_gets_the_csrf_refusal_as_a_toast,
    a_plain_request_that_fails_gets_the_whole_error_page,
    an_invalid_htmx_form_is_still_sent_back_where_it_was_asked_for
);
