//! The clinic's staff guide, walked end to end in real headless Chromium (Debian's
//! `/usr/bin/chromium`), driven over the DevTools protocol by chromiumoxide.
//!
//! Chromium's virtual authenticators (CDP `WebAuthn.addVirtualAuthenticator`)
//! stand in for passkey devices: one backup-eligible and backed up, like a synced
//! passkey (iCloud Keychain, Google Password Manager), on one tab; one
//! hardware-bound (a security key) on another. TOTP codes come from `oathtool`
//! (or `totp-lite` where oathtool is missing), never from our crate; the secret
//! is read off the page, as a user typing it would.
//!
//! Screenshots of the key pages are saved to `target/tmp/clinic-screenshots/`.
//!
//! Without Chromium the test skips with a message (outside CI; in CI it fails).

#![cfg(test)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::page::{
    AddScriptToEvaluateOnNewDocumentParams, CaptureScreenshotFormat,
};
use chromiumoxide::cdp::browser_protocol::web_authn::{
    AddVirtualAuthenticatorParams, AuthenticatorProtocol, AuthenticatorTransport, EnableParams,
    VirtualAuthenticatorOptions,
};
use chromiumoxide::page::{Page, ScreenshotParams};
use futures_util::StreamExt;

use common::TestClock;

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium_present() -> bool {
    Path::new(CHROMIUM).exists()
}

/// One browser tab with its own virtual authenticator.
struct Tab {
    page: Page,
    base: String,
    shots: PathBuf,
}

fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

impl Tab {
    async fn eval<T: serde::de::DeserializeOwned>(&self, expression: &str) -> T {
        self.page
            .evaluate(expression)
            .await
            .unwrap_or_else(|error| panic!("evaluating {expression}: {error}"))
            .into_value()
            .unwrap_or_else(|error| panic!("reading the value of {expression}: {error}"))
    }

    async fn path(&self) -> String {
        self.eval("location.pathname").await
    }

    async fn text(&self) -> String {
        self.eval("document.body.innerText").await
    }

    async fn text_of(&self, selector: &str) -> String {
        let value: Option<String> = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); return e ? e.textContent : null; }})()",
                js(selector)
            ))
            .await;
        value.unwrap_or_else(|| panic!("no element {selector} on {}", self.base))
    }

    async fn count(&self, selector: &str) -> usize {
        self.eval(&format!(
            "document.querySelectorAll({}).length",
            js(selector)
        ))
        .await
    }

    async fn exists(&self, selector: &str) -> bool {
        self.count(selector).await > 0
    }

    async fn fill(&self, selector: &str, value: &str) {
        let done: bool = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); if (!e) return false; e.value = {}; return true; }})()",
                js(selector),
                js(value)
            ))
            .await;
        assert!(done, "no field {selector} on {}", self.path().await);
    }

    /// Waits until a new document has replaced the one marked before an action.
    async fn wait_for_new_document(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let fresh = self
                .page
                .evaluate("window.__stale !== true && document.readyState === 'complete'")
                .await
                .ok()
                .and_then(|value| value.into_value::<bool>().ok())
                .unwrap_or(false);
            if fresh {
                return;
            }
            if Instant::now() > deadline {
                let error: String = self
                    .eval("(document.getElementById('passkey-error') || {}).textContent || ''")
                    .await;
                panic!(
                    "{what}: no new page after 20 s (still on {}; page error: {error:?})",
                    self.path().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks and waits for the page it leads to.
    async fn click(&self, selector: &str) {
        let _: bool = self.eval("window.__stale = true").await;
        let found: bool = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
                js(selector)
            ))
            .await;
        assert!(found, "no element {selector} on {}", self.path().await);
        self.wait_for_new_document(selector).await;
    }

    /// Clicks a button whose script reports an error in the page (no navigation).
    async fn click_for_error(&self, selector: &str) -> String {
        let _: bool = self
            .eval("(() => { const e = document.getElementById('passkey-error'); e.hidden = true; e.textContent = ''; return true; })()")
            .await;
        let found: bool = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
                js(selector)
            ))
            .await;
        assert!(found, "no element {selector}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let error: String = self
                .eval("(() => { const e = document.getElementById('passkey-error'); return e.hidden ? '' : e.textContent; })()")
                .await;
            if !error.is_empty() {
                return error;
            }
            assert!(Instant::now() < deadline, "{selector}: no error shown");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn goto(&self, path: &str) {
        let _: bool = self.eval("window.__stale = true").await;
        self.page
            .goto(format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|error| panic!("opening {path}: {error}"));
        self.wait_for_new_document(path).await;
    }

    async fn shot(&self, name: &str) {
        let path = self.shots.join(format!("{name}.png"));
        self.page
            .save_screenshot(
                ScreenshotParams::builder()
                    .format(CaptureScreenshotFormat::Png)
                    .full_page(true)
                    .build(),
                &path,
            )
            .await
            .unwrap_or_else(|error| panic!("screenshot {name}: {error}"));
    }

    async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/signin").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("#signin-submit").await;
    }

    async fn sign_out(&self) {
        if self.exists("#sign-out").await {
            self.click("#sign-out").await;
        } else if self.exists("#cancel-sign-in").await {
            self.click("#cancel-sign-in").await;
        }
        assert_eq!(self.path().await, "/signin");
    }

    async fn expect_path(&self, path: &str) {
        let here = self.path().await;
        assert_eq!(here, path, "page text: {}", self.text().await);
    }

    async fn expect_text(&self, needle: &str) {
        let text = self.text().await;
        assert!(
            text.contains(needle),
            "expected {needle:?} on {}; the page says:\n{text}",
            self.path().await
        );
    }

    /// Reads the manual-entry secret off the setup page.
    async fn manual_secret(&self) -> String {
        let secret = self.text_of("#manual-secret").await;
        let secret: String = secret.split_whitespace().collect();
        assert!(secret.len() >= 26, "secret {secret:?}");
        secret
    }

    /// "Scan the code on screen": a picture of the QR code as the page shows
    /// it, decoded by an independent QR decoder (rqrr), as a phone's camera would.
    async fn scan_qr(&self) -> String {
        let element = self.page.find_element("#qr").await.unwrap();
        let picture = element
            .screenshot(CaptureScreenshotFormat::Png)
            .await
            .unwrap();
        std::fs::write(self.shots.join("03-qr-code-as-scanned.png"), &picture).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(picture));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let (width, height) = (info.width as usize, info.height as usize);
        let channels = info.color_type.samples();
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            pixels[(y * width + x) * channels]
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the picture");
        grids[0].decode().unwrap().1
    }

    async fn qr(&self) -> String {
        let svg: String = self
            .eval("(document.querySelector('#qr svg') || {}).outerHTML || ''")
            .await;
        assert!(svg.starts_with("<svg"), "no QR code on the page");
        svg
    }
}

/// Chromium's virtual authenticator answers an autofill (conditional
/// mediation) request at once, as if the user had picked the passkey in the
/// email field. A real browser holds it until the user picks: so does this
/// script, installed in every tab before page scripts run, unless the test
/// says that the user picks (`sessionStorage.__pick`).
const HOLD_CONDITIONAL: &str = r#"(() => {
  if (!navigator.credentials) { return; }
  const get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = (request) => {
    if (request && request.mediation === 'conditional' && !sessionStorage.getItem('__pick')) {
      return new Promise((_, reject) => {
        if (request.signal) {
          request.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }
      });
    }
    return get(request);
  };
})()"#;

async fn new_tab(browser: &Browser, base: &str, shots: &Path, synced: bool) -> Tab {
    let page = browser.new_page("about:blank").await.unwrap();
    page.execute(EnableParams::default()).await.unwrap();
    page.execute(AddScriptToEvaluateOnNewDocumentParams::new(
        HOLD_CONDITIONAL,
    ))
    .await
    .unwrap();
    let mut options = if synced {
        VirtualAuthenticatorOptions::new(
            AuthenticatorProtocol::Ctap2,
            AuthenticatorTransport::Internal,
        )
    } else {
        VirtualAuthenticatorOptions::new(AuthenticatorProtocol::Ctap2, AuthenticatorTransport::Usb)
    };
    options.has_resident_key = Some(true);
    options.has_user_verification = Some(true);
    options.is_user_verified = Some(true);
    options.automatic_presence_simulation = Some(true);
    options.default_backup_eligibility = Some(synced);
    options.default_backup_state = Some(synced);
    page.execute(AddVirtualAuthenticatorParams::new(options))
        .await
        .unwrap();
    let tab = Tab {
        page,
        base: base.to_string(),
        shots: shots.to_path_buf(),
    };
    tab.goto("/signin").await;
    tab
}

/// The TOTP code for `secret` (base32) at `time`, from an independent implementation.
fn code_at(secret: &str, time: u64) -> String {
    if let Ok(output) = Command::new("oathtool")
        .args(["--totp", "-b", "-N", &format!("@{time}"), secret])
        .output()
    {
        assert!(output.status.success(), "oathtool: {output:?}");
        return String::from_utf8(output.stdout).unwrap().trim().to_string();
    }
    let key = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret).unwrap();
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &key, time)
}

/// A code that is certainly wrong now.
fn wrong_code(secret: &str, time: u64) -> String {
    let right: u32 = code_at(secret, time).parse().unwrap();
    let before: u32 = code_at(secret, time - 30).parse().unwrap();
    let after: u32 = code_at(secret, time + 30).parse().unwrap();
    let mut wrong = (right + 1) % 1_000_000;
    while wrong == before || wrong == after || wrong == right {
        wrong = (wrong + 1) % 1_000_000;
    }
    format!("{wrong:06}")
}

/// Sets up an authenticator app from the setup page the tab is on; returns the secret
/// and the backup codes.
async fn confirm_totp(tab: &Tab, now: u64) -> (String, Vec<String>) {
    let secret = tab.manual_secret().await;
    tab.fill("#verify-code", &code_at(&secret, now)).await;
    tab.click("#verify-submit").await;
    tab.expect_path("/security/backup-codes").await;
    let codes: Vec<String> = tab
        .eval("[...document.querySelectorAll('li.backup-code')].map(e => e.textContent)")
        .await;
    (secret, codes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_end_to_end_in_chromium() {
    if !chromium_present() {
        if common::in_ci() {
            panic!("{CHROMIUM} is missing in CI: .ci/run must install Debian's chromium");
        }
        common::skip_notice(
            "the browser test needs Debian's Chromium (apt-get install chromium); .ci/run installs it",
        );
        return;
    }
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("clinic-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (mut browser, events, profile) = launch_chromium("twofold-clinic-chromium").await;

    let walk = walk(&running, &clock, &browser, &shots).await;

    let _ = browser.close().await;
    let _ = browser.wait().await;
    events.abort();
    let _ = std::fs::remove_dir_all(&profile);

    // No secret, backup code or password reached the log, in any spelling.
    let squash = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let log: Vec<String> = running
        .log
        .lines()
        .iter()
        .map(|line| squash(line))
        .collect();
    assert!(
        log.iter().any(|line| line.contains("adminreset")),
        "the log has the audit events"
    );
    for secret in walk.secrets.iter().chain(&walk.backup_codes) {
        let secret = squash(secret);
        assert!(
            !log.iter().any(|line| line.contains(&secret)),
            "{secret} was logged"
        );
    }
    for (_, _, _, password) in twofold_clinic::SEED {
        let password = squash(password);
        assert!(!log.iter().any(|line| line.contains(&password)));
    }
    let _ = std::fs::remove_dir_all(&running.dir);
    println!("screenshots: {}", shots.display());
}

/// What the walk saw that must never be logged.
struct Seen {
    secrets: Vec<String>,
    backup_codes: Vec<String>,
}

async fn walk(
    running: &common::Running,
    clock: &Arc<TestClock>,
    browser: &Browser,
    shots: &Path,
) -> Seen {
    let now = || common::seconds(clock);
    let [owner, admin, sam, sara] = twofold_clinic::SEED;
    let synced = new_tab(browser, &running.base, shots, true).await;
    let hardware = new_tab(browser, &running.base, shots, false).await;
    let mut seen = Seen {
        secrets: Vec::new(),
        backup_codes: Vec::new(),
    };

    // 1. Open Security settings: Avatar → My Profile → Security, or Settings → Security.
    let tab = &synced;
    tab.sign_in(owner.0, owner.3).await;
    tab.expect_path("/profile/security").await;
    tab.expect_text("Two-factor authentication: Off").await;
    assert!(tab.text_of("#avatar").await.contains("Olivia Owner"));
    // Avatar → My Profile → Security.
    tab.goto("/settings/staff").await;
    let _: bool = tab
        .eval("(() => { document.getElementById('avatar').click(); return true; })()")
        .await;
    let menu_open: bool = tab.eval("document.querySelector('details.who').open").await;
    assert!(menu_open, "the avatar opens its menu");
    tab.click("#nav-profile").await;
    tab.expect_path("/profile/security").await;
    tab.shot("01-my-profile-security").await;
    tab.click("#nav-settings-security").await;
    tab.expect_path("/settings/security").await;
    assert!(
        tab.exists("#enforcement-mode").await,
        "the owner can change enforcement"
    );
    assert!(tab.exists("#setup-totp").await);

    // 2. "Set up authenticator app": a QR code with the manual-entry secret beside it.
    tab.click("#setup-totp").await;
    let first_secret = tab.manual_secret().await;
    let first_qr = tab.qr().await;
    tab.shot("02-set-up-authenticator-app").await;
    // Starting again regenerates the QR code (the "network blip" row's fix).
    tab.click("#restart-totp").await;
    let secret = tab.manual_secret().await;
    assert_ne!(secret, first_secret, "a new secret on every setup");
    assert_ne!(tab.qr().await, first_qr, "a new QR code on every setup");
    seen.secrets.extend([first_secret, secret.clone()]);

    // 3. Scan the code on screen: it holds the same secret as the manual entry.
    let scanned = tab.scan_qr().await;
    assert!(scanned.starts_with("otpauth://totp/"), "{scanned}");
    assert!(
        scanned.contains(&format!("secret={secret}")),
        "{scanned} vs {secret}"
    );
    assert!(scanned.contains("issuer=Smile%20Dental"), "{scanned}");
    assert!(
        scanned.contains("Smile%20Dental:olivia@smile.example?"),
        "{scanned}"
    );

    // 4. Confirm with the app's code. Troubleshooting: "6-digit code rejected: time
    // skew on phone" – a phone five minutes slow gives a code the server refuses,
    // with the advice to sync the phone's clock.
    tab.fill("#verify-code", &code_at(&secret, now() - 300))
        .await;
    tab.click("#verify-submit").await;
    tab.expect_text("sync your phone's clock").await;
    tab.shot("04-code-rejected-time-skew").await;
    tab.fill("#verify-code", &code_at(&secret, now())).await;
    tab.click("#verify-submit").await;

    // 5. Ten one-time backup codes, shown once, with copy and download.
    tab.expect_path("/security/backup-codes").await;
    let codes: Vec<String> = tab
        .eval("[...document.querySelectorAll('li.backup-code')].map(e => e.textContent)")
        .await;
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(tab.exists("#copy-codes").await);
    let download: String = tab
        .eval("document.getElementById('download-codes').href")
        .await;
    assert!(download.starts_with("data:text/plain"), "{download}");
    assert!(
        download.contains(&codes[0].replace(' ', "%20")),
        "{download}"
    );
    tab.shot("05-backup-codes").await;
    seen.backup_codes.extend(codes.iter().cloned());
    tab.goto("/security/backup-codes").await;
    assert!(
        tab.exists("#codes-gone").await,
        "backup codes are shown only once"
    );
    tab.goto("/profile/security").await;
    tab.expect_text("Two-factor authentication: On").await;
    tab.expect_text("10 unused backup codes").await;
    // The change is told by email (the demo writes it to a file), and
    // listed under "Security activity".
    running.app.deliver_notifications().await.unwrap();
    assert!(
        common::mails(running).iter().any(|mail| mail
            .contains("To: \"Olivia Owner\" <olivia@smile.example>")
            && mail.contains("Subject: A sign-in method was added to your account")),
        "the new authenticator app was emailed"
    );
    tab.goto("/profile/security").await;
    let told = tab.text_of("#security-notices").await;
    assert!(
        told.contains("An authenticator app was added to your account. (emailed)"),
        "{told}"
    );
    tab.shot("05b-security-activity").await;

    // 6. Sign out and sign in: after the password, the 6-digit code.
    tab.sign_out().await;
    clock.advance(30);
    tab.sign_in(owner.0, owner.3).await;
    tab.expect_path("/signin/second-step").await;
    assert!(tab.exists("#totp-code").await);
    tab.shot("06-second-step-code").await;
    tab.fill("#totp-code", &code_at(&secret, now())).await;
    tab.click("#totp-submit").await;
    tab.expect_path("/profile/security").await;

    // … and with a backup code ("Backup codes available if you lose phone"); each works once.
    tab.sign_out().await;
    tab.sign_in(owner.0, owner.3).await;
    assert!(tab.exists("#use-backup-code").await);
    tab.fill("#backup-code", &codes[0]).await;
    tab.click("#backup-submit").await;
    tab.expect_path("/profile/security").await;
    tab.expect_text("9 backup codes remain").await;
    tab.sign_out().await;
    tab.sign_in(owner.0, owner.3).await;
    tab.fill("#backup-code", &codes[0]).await;
    tab.click("#backup-submit").await;
    tab.expect_path("/signin/second-step").await;
    tab.expect_text("already used").await;
    tab.sign_out().await;

    // 7. Optionally add a passkey too (the synced kind), and sign in with it – twice,
    // as a synced passkey's counter stays 0.
    clock.advance(30);
    tab.sign_in(owner.0, owner.3).await;
    tab.fill("#totp-code", &code_at(&secret, now())).await;
    tab.click("#totp-submit").await;
    // With 2FA on, adding a factor needs a fresh password: six minutes after
    // signing in, the page asks for it.
    clock.advance(360);
    tab.fill("#passkey-name", "Olivia's phone").await;
    let error = tab.click_for_error("#setup-passkey").await;
    assert!(error.contains("Re-enter your password"), "{error}");
    tab.fill("#passkey-password", owner.3).await;
    tab.click("#setup-passkey").await;
    tab.expect_path("/profile/security").await;
    assert_eq!(tab.text_of(".passkey-name").await, "Olivia's phone");
    assert_eq!(tab.text_of(".passkey-kind").await, "synced");
    assert_eq!(tab.text_of(".passkey-last-used").await, "never");
    tab.shot("07-passkey-added").await;
    for _ in 0..2 {
        tab.sign_out().await;
        tab.sign_in(owner.0, owner.3).await;
        assert!(tab.exists("#use-passkey").await);
        tab.click("#use-passkey").await;
        tab.expect_path("/profile/security").await;
    }
    assert_ne!(tab.text_of(".passkey-last-used").await, "never");

    // Regenerate the backup codes, after re-entering the password.
    tab.fill("#regenerate-password", "not my password").await;
    tab.click("#regenerate-codes").await;
    tab.expect_text("That password is not correct; backup codes were not changed.")
        .await;
    tab.expect_text("9 unused backup codes").await;
    tab.fill("#regenerate-password", owner.3).await;
    tab.click("#regenerate-codes").await;
    tab.expect_path("/security/backup-codes").await;
    let new_codes: Vec<String> = tab
        .eval("[...document.querySelectorAll('li.backup-code')].map(e => e.textContent)")
        .await;
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|code| !codes.contains(code)));
    seen.backup_codes.extend(new_codes);
    tab.goto("/profile/security").await;
    tab.expect_text("10 unused backup codes").await;

    // 8. Owner: Settings → Security → 2FA enforcement: Required. Before
    // confirming, the owner sees whom it affects (the dry run).
    tab.goto("/settings/security").await;
    tab.fill("#enforcement-mode", "Required").await;
    tab.click("#review-enforcement").await;
    tab.expect_text(
        "3 staff will have to set up 2FA at their next sign-in; nobody will be blocked.",
    )
    .await;
    tab.shot("08-enforcement-dry-run").await;
    tab.click("#save-enforcement").await;
    tab.expect_text("2FA enforcement is now Required").await;
    tab.shot("08-enforcement-required").await;
    tab.sign_out().await;

    // A staff user is forced into setup on the next sign-in. Troubleshooting: "Owner
    // enforced but staff can't enable: network blip during setup – re-try; the QR
    // is regenerated each time."
    let tab = &hardware;
    tab.sign_in(sam.0, sam.3).await;
    tab.expect_path("/signin/setup").await;
    tab.expect_text("Your clinic requires two-factor authentication")
        .await;
    tab.shot("09-forced-setup").await;
    tab.click("#setup-totp").await;
    let abandoned = tab.manual_secret().await;
    let abandoned_qr = tab.qr().await;
    tab.goto("/signin/setup").await; // the blip: the setup page is lost
    tab.click("#setup-totp").await;
    let retried = tab.manual_secret().await;
    assert_ne!(retried, abandoned);
    assert_ne!(tab.qr().await, abandoned_qr);
    seen.secrets.extend([abandoned, retried]);
    // Sam sets up a hardware-bound passkey (a security key) instead.
    tab.goto("/signin/setup").await;
    tab.fill("#passkey-name", "Sam's security key").await;
    tab.click("#setup-passkey").await;
    tab.expect_path("/security/backup-codes").await;
    let sam_codes: Vec<String> = tab
        .eval("[...document.querySelectorAll('li.backup-code')].map(e => e.textContent)")
        .await;
    assert_eq!(sam_codes.len(), 10);
    seen.backup_codes.extend(sam_codes);
    tab.goto("/profile/security").await;
    assert_eq!(tab.text_of(".passkey-kind").await, "this device only");

    // Troubleshooting: "Want to disable 2FA – possible if not enforced": refused now.
    tab.goto("/settings/security").await;
    assert!(
        tab.exists("#enforcement-readonly").await,
        "staff see enforcement read-only"
    );
    assert_eq!(tab.text_of("#enforcement-value").await, "Required");
    tab.fill("#disable-password", sam.3).await;
    tab.click("#disable-2fa").await;
    tab.expect_text("2FA cannot be disabled").await;
    tab.expect_text("requires 2FA").await;
    tab.expect_text("Two-factor authentication: On").await;
    tab.shot("09-disable-refused-while-enforced").await;
    // Removing the only passkey would turn 2FA off: refused too.
    tab.goto("/profile/security").await;
    tab.click(".remove-passkey").await;
    assert!(tab.exists("#notice-error").await, "{}", tab.text().await);
    tab.expect_text("Sam's security key").await;
    tab.expect_text("Two-factor authentication: On").await;
    // Signing in with the hardware-bound passkey.
    tab.sign_out().await;
    tab.sign_in(sam.0, sam.3).await;
    tab.expect_path("/signin/second-step").await;
    assert!(
        !tab.exists("#totp-code").await,
        "Sam has no authenticator app"
    );
    tab.click("#use-passkey").await;
    tab.expect_path("/profile/security").await;
    tab.sign_out().await;

    // Sara sets up the app; wrong codes lock her out with the time to wait.
    let tab = &synced;
    tab.sign_in(sara.0, sara.3).await;
    tab.expect_path("/signin/setup").await;
    tab.click("#setup-totp").await;
    let (sara_secret, sara_codes) = confirm_totp(tab, now()).await;
    seen.secrets.push(sara_secret.clone());
    seen.backup_codes.extend(sara_codes);
    tab.sign_out().await;
    clock.advance(30);
    tab.sign_in(sara.0, sara.3).await;
    for attempt in 1..=4 {
        tab.fill("#totp-code", &wrong_code(&sara_secret, now()))
            .await;
        tab.click("#totp-submit").await;
        tab.expect_text("That code is not correct").await;
        let waits = tab.text().await.contains("Too many wrong codes");
        assert_eq!(waits, attempt == 4, "attempt {attempt}");
    }
    // The fourth wrong code starts a back-off, told at once.
    tab.expect_text("Too many wrong codes. Try again in 30 seconds.")
        .await;
    tab.shot("10-locked-out").await;
    // Even the right code waits it out.
    tab.fill("#totp-code", &code_at(&sara_secret, now())).await;
    tab.click("#totp-submit").await;
    tab.expect_text("Too many wrong codes. Try again in 30 seconds.")
        .await;
    tab.sign_in(sara.0, sara.3).await;
    tab.expect_path("/signin").await;
    tab.expect_text("Too many wrong codes").await;
    clock.advance(31);
    tab.sign_in(sara.0, sara.3).await;
    tab.fill("#totp-code", &code_at(&sara_secret, now())).await;
    tab.click("#totp-submit").await;
    tab.expect_path("/profile/security").await;
    tab.sign_out().await;

    // Troubleshooting: "Lost phone, no backup codes – Owner/Admin can disable 2FA on
    // your user from Settings → Staff". The admin must set up 2FA first (enforced).
    tab.sign_in(admin.0, admin.3).await;
    tab.expect_path("/signin/setup").await;
    tab.click("#setup-totp").await;
    let (admin_secret, admin_codes) = confirm_totp(tab, now()).await;
    seen.secrets.push(admin_secret);
    seen.backup_codes.extend(admin_codes);
    tab.goto("/settings/staff").await;
    tab.shot("11-settings-staff").await;
    let row = |email: &str| format!("tr.staff-row[data-email=\"{email}\"]");
    assert_eq!(tab.text_of(&format!("{} .status", row(sara.0))).await, "On");
    assert!(
        !tab.exists(&format!("{} .disable-user-2fa", row(owner.0)))
            .await,
        "an admin cannot reset the owner"
    );
    tab.fill(
        &format!("{} .reset-reason", row(sara.0)),
        "Lost phone, no backup codes",
    )
    .await;
    tab.click(&format!("{} .disable-user-2fa", row(sara.0)))
        .await;
    tab.expect_text("2FA disabled for Sara Staff").await;
    assert_eq!(
        tab.text_of(&format!("{} .status", row(sara.0))).await,
        "Off (must set up at next sign-in)"
    );
    tab.click("#nav-audit").await;
    let reset = tab
        .text_of("tr.audit-entry[data-event=\"admin_reset\"]")
        .await;
    assert!(reset.contains("Adam Admin"), "{reset}");
    assert!(reset.contains("Sara Staff"), "{reset}");
    assert!(reset.contains("Lost phone, no backup codes"), "{reset}");
    assert!(
        tab.exists("tr.audit-entry[data-event=\"enforcement_changed\"]")
            .await
    );
    assert!(
        tab.exists("tr.audit-entry[data-event=\"sign_in_failed\"]")
            .await
    );
    tab.shot("11-audit-log").await;
    tab.sign_out().await;
    // Sara is back in at her next sign-in, straight into setup.
    tab.sign_in(sara.0, sara.3).await;
    tab.expect_path("/signin/setup").await;
    tab.sign_out().await;

    // "Want to disable 2FA": once enforcement is off, Settings → Security → Disable
    // 2FA → re-enter password. A wrong password changes nothing.
    clock.advance(30);
    tab.sign_in(owner.0, owner.3).await;
    tab.fill("#totp-code", &code_at(&secret, now())).await;
    tab.click("#totp-submit").await;
    tab.goto("/settings/security").await;
    tab.fill("#enforcement-mode", "Optional").await;
    tab.click("#review-enforcement").await;
    tab.expect_text(
        "Nobody will have to set up 2FA at their next sign-in; nobody will be blocked.",
    )
    .await;
    tab.click("#save-enforcement").await;
    tab.goto("/profile/security").await;
    tab.click(".remove-passkey").await;
    tab.expect_text("Passkey removed.").await;
    assert!(!tab.exists("tr.passkey").await);
    tab.goto("/settings/security").await;
    tab.fill("#disable-password", "not my password").await;
    tab.click("#disable-2fa").await;
    tab.expect_text("That password is not correct").await;
    tab.expect_text("Two-factor authentication: On").await;
    tab.fill("#disable-password", owner.3).await;
    tab.click("#disable-2fa").await;
    tab.expect_text("2FA is off for your account").await;
    tab.expect_text("Two-factor authentication: Off").await;
    tab.shot("12-disabled").await;
    tab.sign_out().await;
    tab.sign_in(owner.0, owner.3).await;
    tab.expect_path("/profile/security").await;
    tab.sign_out().await;
    seen
}

/// Records the page's WebAuthn Signal API calls in `window.__signals` (kept in
/// `sessionStorage` across the tab's pages), in place of the browser's own, and
/// the `mediation` of every `navigator.credentials.get` in `window.__gets`.
/// Installed before any page script runs.
const SIGNAL_HOOK: &str = r#"(() => {
  const load = (key) => { try { return JSON.parse(sessionStorage.getItem(key) || '[]'); } catch (e) { return []; } };
  window.__signals = load('__signals');
  window.__gets = load('__gets');
  if (!window.PublicKeyCredential) { return; }
  for (const method of ['signalUnknownCredential', 'signalAllAcceptedCredentials', 'signalCurrentUserDetails']) {
    PublicKeyCredential[method] = async (options) => {
      window.__signals.push({ method, options });
      sessionStorage.setItem('__signals', JSON.stringify(window.__signals));
    };
  }
  const create = navigator.credentials.create.bind(navigator.credentials);
  navigator.credentials.create = (request) => {
    const id = new Uint8Array(request.publicKey.user.id);
    const text = btoa(String.fromCharCode(...id));
    sessionStorage.setItem('__user_id', text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
    return create(request);
  };
  const get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = (request) => {
    window.__gets.push(request && request.mediation ? request.mediation : 'optional');
    sessionStorage.setItem('__gets', JSON.stringify(window.__gets));
    return get(request);
  };
})()"#;

/// Starts headless Chromium; returns it, its event loop and its profile directory.
async fn launch_chromium(name: &str) -> (Browser, tokio::task::JoinHandle<()>, PathBuf) {
    let profile = common::temp_dir(name);
    let config = BrowserConfig::builder()
        .chrome_executable(CHROMIUM)
        .new_headless_mode()
        .no_sandbox()
        .user_data_dir(&profile)
        .window_size(1100, 1000)
        .args([
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .build()
        .unwrap();
    let (browser, mut handler) = Browser::launch(config).await.unwrap();
    let events = tokio::spawn(async move { while let Some(_event) = handler.next().await {} });
    (browser, events, profile)
}

impl Tab {
    /// The Signal API calls recorded since the last `forget_signals`.
    async fn signals(&self) -> Vec<serde_json::Value> {
        self.eval("window.__signals").await
    }

    async fn forget_signals(&self) {
        let _: bool = self
            .eval("(() => { window.__signals = []; window.__gets = []; sessionStorage.removeItem('__signals'); sessionStorage.removeItem('__gets'); return true; })()")
            .await;
    }

    /// The recorded call of `method`, exactly one.
    async fn signal(&self, method: &str) -> serde_json::Value {
        let calls: Vec<serde_json::Value> = self
            .signals()
            .await
            .into_iter()
            .filter(|call| call["method"] == method)
            .collect();
        assert_eq!(calls.len(), 1, "{method}: {calls:?}");
        calls[0]["options"].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_first_sign_in_and_the_signal_api_in_chromium() {
    if !chromium_present() {
        if common::in_ci() {
            panic!("{CHROMIUM} is missing in CI: .ci/run must install Debian's chromium");
        }
        common::skip_notice("the browser test needs Debian's Chromium (apt-get install chromium)");
        return;
    }
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("clinic-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (mut browser, events, profile) = launch_chromium("twofold-clinic-chromium-passkey").await;
    // A synced passkey provider with a resident key and user verification.
    let tab = new_tab(&browser, &running.base, &shots, true).await;
    tab.page
        .execute(AddScriptToEvaluateOnNewDocumentParams::new(SIGNAL_HOOK))
        .await
        .unwrap();
    let (email, _, _, password) = twofold_clinic::SEED[1];
    let user_id: String = sqlx::query_scalar("SELECT id FROM clinic_users WHERE email = $1")
        .bind(email)
        .fetch_one(running.app.pool())
        .await
        .unwrap();
    let user_handle = base64url(user_id.as_bytes());

    // The sign-in page starts an autofill (conditional) request by itself.
    tab.goto("/signin").await;
    let autocomplete: String = tab
        .eval("document.getElementById('email').autocomplete")
        .await;
    assert_eq!(autocomplete, "username webauthn");
    wait_until(
        &tab,
        "window.__gets.includes('conditional')",
        "the conditional request",
    )
    .await;

    // A password sign-in (2FA is optional and Adam has none): the signals say
    // that no passkey is accepted, and Adam's name.
    tab.sign_in(email, password).await;
    tab.expect_path("/profile/security").await;
    let accepted = tab.signal("signalAllAcceptedCredentials").await;
    assert_eq!(
        accepted,
        serde_json::json!({ "rpId": "localhost", "userId": user_handle, "allAcceptedCredentialIds": [] })
    );

    // Adam adds a passkey (discoverable: the authenticator keeps a resident key).
    tab.fill("#passkey-name", "Adam's laptop").await;
    tab.click("#setup-passkey").await;
    tab.goto("/profile/security").await;
    let credential_id: String = tab
        .eval("document.querySelector('form[action=\"/security/passkeys/remove\"] input[name=id]').value")
        .await;
    tab.sign_out().await;

    // "Sign in with a passkey": no email, no password, no second step.
    tab.forget_signals().await;
    tab.click("#signin-passkey").await;
    tab.expect_path("/profile/security").await;
    tab.expect_text("Adam's laptop").await;
    tab.shot("30-signed-in-with-a-passkey-first").await;
    assert_eq!(
        tab.signal("signalAllAcceptedCredentials").await,
        serde_json::json!({
            "rpId": "localhost",
            "userId": user_handle,
            "allAcceptedCredentialIds": [credential_id],
        })
    );
    assert_eq!(
        tab.signal("signalCurrentUserDetails").await,
        serde_json::json!({
            "rpId": "localhost",
            "userId": user_handle,
            "name": email,
            "displayName": email,
        })
    );
    // The user handle is the one the registration gave the authenticator.
    let registered: String = tab.eval("sessionStorage.getItem('__user_id')").await;
    assert_eq!(registered, user_handle);

    // The same from the email field's autofill (conditional mediation): the
    // user picks the passkey there, and is signed in.
    tab.sign_out().await;
    tab.forget_signals().await;
    let _: bool = tab
        .eval("(() => { sessionStorage.setItem('__pick', '1'); return true; })()")
        .await;
    tab.page.goto(format!("{}/signin", tab.base)).await.unwrap();
    wait_until(
        &tab,
        "location.pathname === '/profile/security' && document.readyState === 'complete'",
        "the autofill sign-in",
    )
    .await;
    let gets: Vec<String> = tab.eval("window.__gets").await;
    // Only autofill requests (the sign-out's page may have started one too).
    assert!(
        !gets.is_empty() && gets.iter().all(|mediation| mediation == "conditional"),
        "{gets:?}"
    );
    assert_eq!(
        tab.signal("signalAllAcceptedCredentials").await["allAcceptedCredentialIds"],
        serde_json::json!([credential_id])
    );
    let _: bool = tab
        .eval("(() => { sessionStorage.removeItem('__pick'); return true; })()")
        .await;

    // Where the clinic's policy still asks admins for their password, the
    // passkey only says who is signing in: the password page comes back with
    // the email filled in, and the password and the second step follow.
    let twofold = running.app.two_factor();
    let mut policy = twofold
        .policy(twofold_clinic::CLINIC)
        .await
        .unwrap()
        .document()
        .clone();
    policy.roles.get_mut("admin").unwrap().passkey_sign_in = Some(false);
    twofold
        .set_policy(twofold_clinic::CLINIC, policy.clone())
        .await
        .unwrap();
    tab.sign_out().await;
    tab.click("#signin-passkey").await;
    tab.expect_path("/signin").await;
    tab.expect_text("Your clinic asks for your password as well")
        .await;
    let filled: String = tab.eval("document.getElementById('email').value").await;
    assert_eq!(filled, email);
    assert!(
        !tab.exists("#sign-out").await,
        "the passkey alone did not sign in"
    );
    tab.fill("#password", password).await;
    tab.click("#signin-submit").await;
    tab.expect_path("/signin/second-step").await;
    tab.click("#use-passkey").await;
    tab.expect_path("/profile/security").await;
    policy.roles.get_mut("admin").unwrap().passkey_sign_in = None;
    twofold
        .set_policy(twofold_clinic::CLINIC, policy)
        .await
        .unwrap();

    // Removing the passkey: the password manager is told it is no longer accepted.
    tab.forget_signals().await;
    tab.fill(".remove-password", password).await;
    tab.click(".remove-passkey").await;
    tab.expect_text("Passkey removed.").await;
    let accepted = tab.signal("signalAllAcceptedCredentials").await;
    assert_eq!(accepted["allAcceptedCredentialIds"], serde_json::json!([]));
    assert_eq!(accepted["userId"], user_handle.as_str());

    // The authenticator still offers it (the hook kept the signal from it):
    // the server does not know it, and says so with signalUnknownCredential.
    tab.sign_out().await;
    tab.forget_signals().await;
    let error = tab.click_for_error("#signin-passkey").await;
    assert!(error.contains("not registered"), "{error}");
    assert_eq!(
        tab.signal("signalUnknownCredential").await,
        serde_json::json!({ "rpId": "localhost", "credentialId": credential_id })
    );
    tab.expect_path("/signin").await;
    tab.shot("31-unknown-passkey-signalled").await;

    let _ = browser.close().await;
    let _ = browser.wait().await;
    events.abort();
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_dir_all(&running.dir);
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Polls `condition` (a JavaScript expression) for up to 20 s.
async fn wait_until(tab: &Tab, condition: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Between two documents, evaluating fails: not yet.
        let met = tab
            .page
            .evaluate(format!("!!({condition})"))
            .await
            .ok()
            .and_then(|value| value.into_value::<bool>().ok())
            .unwrap_or(false);
        if met {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not after 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue 18, self-service unlock: wrong codes lock Sam out; the locked page
/// takes three codes from successive time steps, one at a time, and the next
/// code signs him in. Its own browser and app, so that it runs beside the walk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_out_user_unlocks_with_codes_from_the_app_in_chromium() {
    if !chromium_present() {
        if common::in_ci() {
            panic!("{CHROMIUM} is missing in CI: .ci/run must install Debian's chromium");
        }
        common::skip_notice("the browser test needs Debian's Chromium (apt-get install chromium)");
        return;
    }
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("clinic-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (mut browser, events, profile) = launch_chromium("twofold-clinic-chromium-unlock").await;

    let now = || common::seconds(&clock);
    let sam = twofold_clinic::SEED[2];
    let tab = new_tab(&browser, &running.base, &shots, false).await;
    // Sam sets up the authenticator app.
    tab.sign_in(sam.0, sam.3).await;
    tab.expect_path("/profile/security").await;
    tab.click("#setup-totp").await;
    let (secret, _) = confirm_totp(&tab, now()).await;
    tab.sign_out().await;

    // Ten wrong codes lock him out for an hour (each after the last back-off).
    for attempt in 1..=10 {
        clock.advance(1000);
        tab.sign_in(sam.0, sam.3).await;
        tab.expect_path("/signin/second-step").await;
        tab.fill("#totp-code", &wrong_code(&secret, now())).await;
        tab.click("#totp-submit").await;
        if attempt < 10 {
            tab.expect_path("/signin/second-step").await;
            tab.sign_out().await;
        }
    }
    // The locked page: the lock, and the offer to unlock with the app.
    tab.expect_path("/signin/unlock").await;
    tab.expect_text("That code is not correct").await;
    tab.expect_text("Your account is locked until").await;
    tab.expect_text("Unlock it now with your authenticator app")
        .await;
    assert_eq!(tab.text_of("label[for=unlock-code]").await, "Code 1 of 3");
    tab.shot("20-locked-offers-unlock").await;

    // Three codes, each from a later step; the same code twice only waits.
    clock.advance(30);
    let first = code_at(&secret, now());
    tab.fill("#unlock-code", &first).await;
    tab.click("#unlock-submit").await;
    tab.expect_path("/signin/unlock").await;
    tab.expect_text("1 of 3 codes entered").await;
    tab.expect_text("Wait for the next code").await;
    tab.fill("#unlock-code", &first).await;
    tab.click("#unlock-submit").await;
    tab.expect_text("That code was just entered").await;
    assert_eq!(tab.text_of("label[for=unlock-code]").await, "Code 2 of 3");
    clock.advance(30);
    tab.fill("#unlock-code", &code_at(&secret, now())).await;
    tab.click("#unlock-submit").await;
    tab.expect_text("2 of 3 codes entered").await;
    tab.expect_text("Enter the rest within").await;
    tab.shot("21-unlock-two-of-three").await;
    clock.advance(30);
    tab.fill("#unlock-code", &code_at(&secret, now())).await;
    tab.click("#unlock-submit").await;

    // Unlocked: the second step asks for the next code, which signs him in.
    tab.expect_path("/signin/second-step").await;
    tab.expect_text("Your account is unlocked").await;
    tab.shot("22-unlocked").await;
    clock.advance(30);
    tab.fill("#totp-code", &code_at(&secret, now())).await;
    tab.click("#totp-submit").await;
    tab.expect_path("/profile/security").await;
    assert!(
        tab.exists("tr.audit-entry[data-event=\"self_unlocked\"]")
            .await,
        "his activity lists the unlock"
    );
    tab.sign_out().await;

    let _ = browser.close().await;
    let _ = browser.wait().await;
    events.abort();
    let _ = std::fs::remove_dir_all(&profile);
    // The secret never reached the log.
    let log = running.log.lines().join("\n");
    assert!(!log.contains(&secret), "the secret was logged");
    let _ = std::fs::remove_dir_all(&running.dir);
}

/// "Don't ask again on this browser": trusted after a code, signed in again
/// without one; then a factor change (new backup codes), and the code is
/// asked again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_browser_skips_the_code_until_a_factor_changes() {
    if !chromium_present() {
        if common::in_ci() {
            panic!("{CHROMIUM} is missing in CI: .ci/run must install Debian's chromium");
        }
        common::skip_notice("the browser test needs Debian's Chromium (apt-get install chromium)");
        return;
    }
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let now = || common::seconds(&clock);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("clinic-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (mut browser, events, profile) = launch_chromium("twofold-clinic-trusted").await;
    let tab = new_tab(&browser, &running.base, &shots, true).await;
    let owner = twofold_clinic::SEED[0];

    // Olivia sets up her authenticator app.
    tab.sign_in(owner.0, owner.3).await;
    tab.goto("/profile/security").await;
    tab.fill("#totp-password", owner.3).await;
    tab.click("#setup-totp").await;
    let (secret, _) = confirm_totp(&tab, now()).await;
    tab.goto("/profile/security").await;
    tab.sign_out().await;
    clock.advance(30);

    // Trust this browser at the second step.
    tab.sign_in(owner.0, owner.3).await;
    tab.expect_path("/signin/second-step").await;
    tab.expect_text("Don't ask again on this browser for 30 days")
        .await;
    tab.fill("#totp-code", &code_at(&secret, now())).await;
    let ticked: bool = tab
        .eval("(() => { const e = document.getElementById('trust-totp'); e.click(); return e.checked; })()")
        .await;
    assert!(ticked);
    tab.shot("20-trust-this-browser").await;
    tab.click("#totp-submit").await;
    tab.expect_path("/profile/security").await;
    tab.expect_text("This browser will not ask for a code until")
        .await;
    assert_eq!(
        tab.count("#trusted-browser-list tr.trusted-browser").await,
        1
    );
    assert_eq!(
        tab.text_of(".trusted-browser-label").await,
        "Chrome on Linux"
    );
    let script_sees: String = tab.eval("document.cookie").await;
    assert!(
        !script_sees.contains("clinic_trusted"),
        "the cookie is HttpOnly: {script_sees:?}"
    );
    tab.shot("21-trusted-browsers").await;
    tab.sign_out().await;
    clock.advance(30);

    // Signed in again with no code.
    tab.sign_in(owner.0, owner.3).await;
    tab.expect_path("/profile/security").await;
    tab.expect_text("This browser is trusted: no code was needed")
        .await;
    assert!(
        !tab.text_of(".trusted-browser td:nth-child(3)")
            .await
            .contains("never"),
        "its last use is shown"
    );

    // A factor change: new backup codes. Every trusted browser is forgotten.
    tab.fill("#regenerate-password", owner.3).await;
    tab.click("#regenerate-codes").await;
    tab.expect_path("/security/backup-codes").await;
    tab.goto("/profile/security").await;
    assert!(tab.exists("#no-trusted-browsers").await);
    tab.sign_out().await;
    clock.advance(30);

    tab.sign_in(owner.0, owner.3).await;
    tab.expect_path("/signin/second-step").await;
    assert!(tab.exists("#totp-code").await);
    tab.shot("22-code-asked-again").await;

    // With a passkey: add one (without trusting), then trust with it.
    tab.fill("#totp-code", &code_at(&secret, now())).await;
    tab.click("#totp-submit").await;
    tab.expect_path("/profile/security").await;
    tab.fill("#passkey-name", "Olivia's laptop").await;
    tab.click("#setup-passkey").await;
    tab.expect_path("/profile/security").await;
    tab.sign_out().await;
    clock.advance(30);
    tab.sign_in(owner.0, owner.3).await;
    tab.expect_path("/signin/second-step").await;
    let ticked: bool = tab
        .eval("(() => { const e = document.getElementById('trust-passkey'); e.click(); return e.checked; })()")
        .await;
    assert!(ticked);
    tab.click("#use-passkey").await;
    tab.expect_path("/profile/security").await;
    assert_eq!(
        tab.count("#trusted-browser-list tr.trusted-browser").await,
        1
    );
    tab.sign_out().await;
    clock.advance(30);
    tab.sign_in(owner.0, owner.3).await;
    tab.expect_path("/profile/security").await;
    tab.expect_text("This browser is trusted: no code was needed")
        .await;

    let _ = browser.close().await;
    let _ = browser.wait().await;
    events.abort();
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_dir_all(&running.dir);
}
