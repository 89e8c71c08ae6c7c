//! Settings → Security shows the dry run of an enforcement change before the
//! owner confirms it ("3 staff will have to set up 2FA at their next sign-in;
//! nobody will be blocked"), and the change then does what it said. Nobody
//! else sees it.

#![cfg(test)]

mod common;

use common::{client, code_at, location, token};
use reqwest::Client;

async fn sign_in(client: &Client, base: &str, who: (&str, &str, &str, &str)) -> String {
    let csrf = token(client, base, "/signin").await;
    let response = client
        .post(format!("{base}/signin"))
        .form(&[("email", who.0), ("password", who.3), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    location(&response)
}

async fn page(client: &Client, base: &str, path: &str) -> String {
    client
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The text of the element with this id (no markup inside it).
fn text_of<'a>(page: &'a str, id: &str) -> Option<&'a str> {
    let start = page.find(&format!("id=\"{id}\""))?;
    let open = start + page[start..].find('>')? + 1;
    let close = open + page[open..].find('<')?;
    Some(&page[open..close])
}

#[tokio::test]
async fn the_owner_sees_who_must_set_up_2fa_before_confirming_and_the_change_does_that() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let [owner, admin, sam, sara] = twofold_clinic::SEED;
    let secret = common::enroll(&running, owner.0).await;
    clock.advance(30);
    let browser = client();
    assert_eq!(sign_in(&browser, base, owner).await, "/signin/second-step");
    let csrf = token(&browser, base, "/signin/second-step").await;
    let code = code_at(&secret, common::seconds(&clock));
    browser
        .post(format!("{base}/signin/second-step/code"))
        .form(&[("code", code.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();

    // The form alone shows no preview; choosing Required shows the dry run.
    let settings = page(&browser, base, "/settings/security").await;
    assert!(settings.contains("id=\"review-enforcement\""), "{settings}");
    assert!(!settings.contains("enforcement-preview"));
    let preview = page(&browser, base, "/settings/security?mode=Required").await;
    assert_eq!(
        text_of(&preview, "enforcement-dry-run"),
        Some("3 staff will have to set up 2FA at their next sign-in; nobody will be blocked."),
        "{preview}"
    );
    assert!(preview.contains("Change 2FA enforcement from Optional to Required?"));
    for name in [admin.1, sam.1, sara.1] {
        assert!(preview.contains(name), "{name} is listed");
    }
    assert!(
        preview.contains("Must set up 2FA before continuing"),
        "the clinic's policy has no grace period"
    );
    assert!(preview.contains("<option value=\"Required\" selected>"));
    // Nothing changed yet.
    let settings = page(&browser, base, "/settings/security").await;
    assert!(settings.contains("<option value=\"Optional\" selected>"));
    assert_eq!(sign_in(&client(), base, sam).await, "/profile/security");

    // The current mode, or one that does not parse, previews nothing.
    for mode in ["Optional", "Mandatory", "%00"] {
        let page = page(&browser, base, &format!("/settings/security?mode={mode}")).await;
        assert!(!page.contains("enforcement-preview"), "{mode}");
    }

    // A staff member whose role the policy does not cover cannot sign in
    // under any mode: listed, but not counted as blocked by the change.
    running
        .app
        .create_user(
            twofold_clinic::CLINIC,
            "ivy@smile.example",
            "Ivy Intern",
            "intern",
            "intern-pass-1",
        )
        .await
        .unwrap();
    let preview = page(&browser, base, "/settings/security?mode=Required").await;
    assert_eq!(
        text_of(&preview, "enforcement-dry-run"),
        Some(
            "3 staff will have to set up 2FA at their next sign-in; nobody new will be blocked (1 already cannot sign in)."
        ),
        "{preview}"
    );
    assert!(preview.contains("Ivy Intern"));
    assert!(
        preview.contains(
            "Cannot sign in now either: the role \u{201c}intern\u{201d} is not in the clinic"
        ),
        "{preview}"
    );
    assert!(
        preview.contains(r#"id="enforcement-dry-run" class="notice info""#),
        "not a warning: the change blocks nobody"
    );

    // Confirmed: each of the three is sent into setup at their next sign-in.
    let csrf = common::csrf_of(&preview);
    let saved = browser
        .post(format!("{base}/settings/security/enforcement"))
        .form(&[("mode", "Required"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&saved), "/settings/security");
    for who in [admin, sam, sara] {
        assert_eq!(
            sign_in(&client(), base, who).await,
            "/signin/setup",
            "{}",
            who.0
        );
    }
}

#[tokio::test]
async fn an_owner_without_2fa_is_told_first_and_offered_nothing_to_confirm() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let browser = client();
    assert_eq!(sign_in(&browser, base, owner).await, "/profile/security");
    let preview = page(&browser, base, "/settings/security?mode=Required").await;
    assert_eq!(
        text_of(&preview, "enforcement-refused"),
        Some(
            "Set up two-factor authentication on your own account before requiring it for everyone."
        ),
        "{preview}"
    );
    assert!(!preview.contains("save-enforcement"), "{preview}");
    assert!(!preview.contains("will have to set up 2FA"));
}

#[tokio::test]
async fn only_the_owner_sees_the_preview() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let [_, admin, sam, _] = twofold_clinic::SEED;
    for who in [admin, sam] {
        let browser = client();
        assert_eq!(sign_in(&browser, base, who).await, "/profile/security");
        let page = page(&browser, base, "/settings/security?mode=Required").await;
        assert!(
            page.contains("Only the clinic's owner can change this."),
            "{page}"
        );
        assert!(!page.contains("enforcement-preview"), "{}", who.0);
        assert!(!page.contains("will have to set up 2FA"), "{}", who.0);
    }
}
