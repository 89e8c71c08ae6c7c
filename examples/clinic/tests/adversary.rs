//! The clinic app as an attacker meets it, over real HTTP (and, for what is
//! about the deployed program, the real binary): one test per hole of the
//! clinic hardening issue, named after it.
#![cfg(test)]

mod common;

use common::{client, code_at, location, token};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestClock;
use reqwest::{Client, Response, StatusCode};

async fn post_sign_in(client: &Client, base: &str, email: &str, password: &str) -> Response {
    let csrf = token(client, base, "/signin").await;
    client
        .post(format!("{base}/signin"))
        .form(&[("email", email), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
}

/// Sets up an authenticator app for `email` over HTTP, signed in on `client`,
/// without opening the backup-codes page; returns the secret.
async fn set_up_app(client: &Client, base: &str, clock: &TestClock, now: u64) -> String {
    let csrf = token(client, base, "/profile/security").await;
    let setup = client
        .post(format!("{base}/security/totp/begin"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = setup.find(r#"id="manual-secret">"#).expect("a secret") + 19;
    let secret = setup[start..start + setup[start..].find('<').unwrap()].to_string();
    let csrf = token(client, base, "/profile/security").await;
    let confirmed = client
        .post(format!("{base}/security/totp/confirm"))
        .form(&[
            ("code", code_at(&secret, now).as_str()),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        confirmed.status().is_redirection() || confirmed.status().is_success(),
        "{}",
        confirmed.status()
    );
    let _ = clock;
    secret
}

// ----- 1. unlimited password guessing -----

#[tokio::test]
async fn unlimited_password_guessing_is_throttled_per_account_and_audited() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let (email, _, _, password) = twofold_clinic::SEED[0];
    let attacker = client();
    for _ in 0..40 {
        post_sign_in(&attacker, base, email, "wrong guess").await;
    }
    // The right password, right away, does not get in: the account backs off.
    let response = post_sign_in(&client(), base, email, password).await;
    assert!(
        !location(&response).starts_with("/profile")
            && !location(&response).starts_with("/signin/"),
        "40 wrong guesses, then the right password signed in: {} {}",
        response.status(),
        location(&response)
    );
    let audit = running.app.audit_log(twofold_clinic::CLINIC).await.unwrap();
    assert!(
        audit.iter().any(|entry| entry.event.contains("password")),
        "password failures are not in the audit log"
    );
}

/// Guesses sent at once must not each pass the throttle before any of them is
/// counted: the free failures are a budget that concurrency cannot stretch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlimited_password_guessing_in_parallel_gets_no_more_than_the_free_guesses() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = running.base.clone();
    let (email, _, _, password) = twofold_clinic::SEED[1];
    // Forty browsers, each with its sign-in form open, post a guess at once.
    let mut ready = Vec::new();
    for _ in 0..40 {
        let browser = client();
        let csrf = token(&browser, &base, "/signin").await;
        ready.push((browser, csrf));
    }
    let guesses = ready.into_iter().map(|(browser, csrf)| {
        let base = base.clone();
        tokio::spawn(async move {
            browser
                .post(format!("{base}/signin"))
                .form(&[
                    ("email", email),
                    ("password", "wrong guess"),
                    ("csrf", &csrf),
                ])
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    for guess in guesses.collect::<Vec<_>>() {
        guess.await.unwrap();
    }
    let audit = running.app.audit_log(twofold_clinic::CLINIC).await.unwrap();
    let checked = audit
        .iter()
        .filter(|entry| entry.event == "password_failed")
        .count();
    assert!(
        checked <= 5,
        "{checked} of 40 parallel guesses were checked; the account allows 5 before it waits"
    );
    let response = post_sign_in(&client(), &base, email, password).await;
    assert!(
        !location(&response).starts_with("/signin/")
            && !location(&response).starts_with("/profile"),
        "after 40 parallel guesses the right password signed in"
    );
}

#[tokio::test]
async fn unlimited_password_guessing_on_re_entry_is_throttled_too() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let (email, _, _, password) = twofold_clinic::SEED[0];
    let owner = client();
    let response = post_sign_in(&owner, base, email, password).await;
    assert_eq!(location(&response), "/profile/security");
    let csrf = token(&owner, base, "/profile/security").await;
    for _ in 0..40 {
        owner
            .post(format!("{base}/security/backup-codes/regenerate"))
            .form(&[("password", "wrong guess"), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
    }
    let page = owner
        .post(format!("{base}/security/disable"))
        .form(&[("password", password), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let text = owner
        .get(format!("{base}{}", location(&page)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("Too many"),
        "the right password went through after 40 wrong re-entries"
    );
}

// ----- 3. data carried across users -----

#[tokio::test]
async fn data_carried_across_users_the_next_user_never_sees_backup_codes() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let browser = client();
    let adam = twofold_clinic::SEED[1];
    let response = post_sign_in(&browser, base, adam.0, adam.3).await;
    assert_eq!(location(&response), "/profile/security");
    set_up_app(&browser, base, &clock, running.app.now()).await;
    // Adam walks away without opening the codes page. Olivia signs in.
    let olivia = twofold_clinic::SEED[0];
    let response = post_sign_in(&browser, base, olivia.0, olivia.3).await;
    assert_eq!(location(&response), "/profile/security");
    let page = browser
        .get(format!("{base}/security/backup-codes"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("backup-code-list"),
        "Olivia was shown Adam's backup codes"
    );
}

// ----- 4. sessions that outlive a reset -----

#[tokio::test]
async fn sessions_that_outlive_a_reset_are_revoked() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let sam = twofold_clinic::SEED[2];
    let sams_browser = client();
    let response = post_sign_in(&sams_browser, base, sam.0, sam.3).await;
    assert_eq!(location(&response), "/profile/security");
    set_up_app(&sams_browser, base, &clock, running.app.now()).await;
    // The owner resets Sam's 2FA.
    let owner = twofold_clinic::SEED[0];
    let owners_browser = client();
    post_sign_in(&owners_browser, base, owner.0, owner.3).await;
    let sam_id = running.app.user_by_email(sam.0).await.unwrap().unwrap().id;
    let csrf = token(&owners_browser, base, "/settings/staff").await;
    let reset = owners_browser
        .post(format!("{base}/settings/staff/disable"))
        .form(&[
            ("user", sam_id.as_str()),
            ("reason", "lost phone"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&reset), "/settings/staff");
    let still = sams_browser
        .get(format!("{base}/profile/security"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&still),
        "/signin",
        "Sam's session still worked after the reset"
    );
}

#[tokio::test]
async fn sessions_have_an_absolute_lifetime() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let sam = twofold_clinic::SEED[2];
    let browser = client();
    post_sign_in(&browser, base, sam.0, sam.3).await;
    // Active every ten minutes, for a day.
    let mut signed_out_after = None;
    for step in 1..=144 {
        clock.advance(600);
        let page = browser
            .get(format!("{base}/profile/security"))
            .send()
            .await
            .unwrap();
        if location(&page) == "/signin" {
            signed_out_after = Some(step * 600);
            break;
        }
    }
    let after = signed_out_after.expect("an active session lived for a day");
    assert!(after <= 12 * 3600, "signed out only after {after} s");
}

// ----- 5. readable secrets -----

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the real binary on a data directory until it prints that it serves
/// (`Some(output)`) or exits (`None`, with its output in the error).
fn run_binary(data_dir: &std::path::Path) -> Result<(Server, String), String> {
    use std::io::Read;
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_twofold-clinic"))
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .env_remove("CLINIC_SECRET_KEY")
        .env_remove("CLINIC_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut output = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut output)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut output)
                .unwrap();
            return Err(format!("exited with {status}: {output}"));
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the app did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let server = Server(child);
    std::thread::sleep(Duration::from_millis(200));
    let mut server = server;
    let _ = server.0.kill();
    let _ = server.0.wait();
    let mut output = String::new();
    server
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    Ok((server, output))
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn readable_secrets_the_data_directory_and_key_are_private() {
    let dir = common::temp_dir("twofold-clinic-perms").join("data");
    run_binary(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700, "data directory");
    assert_eq!(mode(&dir.join("secret.key")), 0o600, "secret.key");
    assert_eq!(mode(&dir.join("clinic.sqlite3")), 0o600, "database");
    // A key file that others can read: the app refuses to start, and says why.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("secret.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let refused = run_binary(&dir)
        .err()
        .expect("started with a readable key file");
    assert!(refused.contains("secret.key"), "{refused}");
}

// ----- 6. who may see what -----

#[tokio::test]
async fn who_may_see_what_staff_see_neither_the_audit_log_nor_the_staff_list() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let sam = twofold_clinic::SEED[2];
    let browser = client();
    post_sign_in(&browser, base, sam.0, sam.3).await;
    for path in ["/settings/audit", "/settings/staff"] {
        let response = browser.get(format!("{base}{path}")).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(
            status == StatusCode::FORBIDDEN || status.is_redirection(),
            "staff reached {path}: {status}"
        );
        assert!(!body.contains("olivia@smile.example"), "{path}");
    }
}

#[tokio::test]
async fn who_may_see_what_nothing_is_pushed_out_of_the_audit_log() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let browser = client();
    post_sign_in(&browser, base, owner.0, owner.3).await;
    let csrf = token(&browser, base, "/settings/staff").await;
    let sam_id = running
        .app
        .user_by_email(twofold_clinic::SEED[2].0)
        .await
        .unwrap()
        .unwrap()
        .id;
    // An old admin action, then 250 setup starts by someone else.
    browser
        .post(format!("{base}/settings/staff/disable"))
        .form(&[
            ("user", sam_id.as_str()),
            ("reason", "lost phone"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let sara = twofold_clinic::SEED[3];
    let staff = client();
    post_sign_in(&staff, base, sara.0, sara.3).await;
    let csrf = token(&staff, base, "/profile/security").await;
    for _ in 0..250 {
        staff
            .post(format!("{base}/security/totp/begin"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
    }
    // Filtered by kind, the reset is on the first page.
    let page = browser
        .get(format!("{base}/settings/audit?kind=admin_reset"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("lost phone"),
        "the reset was pushed out of view"
    );
}

// ----- 7. browser security headers -----

#[tokio::test]
async fn browser_security_headers_on_every_page() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let browser = client();
    let mut pages = vec![browser.get(format!("{base}/signin")).send().await.unwrap()];
    post_sign_in(&browser, base, owner.0, owner.3).await;
    for path in ["/profile/security", "/settings/security"] {
        pages.push(browser.get(format!("{base}{path}")).send().await.unwrap());
    }
    for page in pages {
        let headers = page.headers().clone();
        let csp = headers
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "CSP: {csp:?}");
        assert!(
            !csp.contains("unsafe-inline") || !csp.contains("script-src 'self' 'unsafe-inline'")
        );
        assert!(csp.contains("frame-ancestors 'none'"), "CSP: {csp:?}");
        assert!(headers.contains_key("referrer-policy"));
        assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
        let body = page.text().await.unwrap();
        // No inline script (data blocks aside), no inline event handlers.
        for script in body.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap()];
            assert!(
                tag.contains("src=") || tag.contains("application/json"),
                "an inline script: <script{tag}>"
            );
        }
        assert!(!body.contains(" onclick="), "an inline event handler");
    }
    // Pages that show a secret are never cached.
    let csrf = token(&browser, base, "/profile/security").await;
    let setup = browser
        .post(format!("{base}/security/totp/begin"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(setup.headers().get("cache-control").unwrap(), "no-store");
}

// ----- 9. demo passwords -----

#[test]
fn demo_passwords_are_generated_at_seeding_and_printed_once() {
    let first = common::temp_dir("twofold-clinic-seed-a").join("data");
    let second = common::temp_dir("twofold-clinic-seed-b").join("data");
    let (_, output) = run_binary(&first).unwrap();
    let (_, other) = run_binary(&second).unwrap();
    let (_, again) = run_binary(&first).unwrap();
    let passwords = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.contains("@smile.example"))
            .filter_map(|line| line.split_whitespace().nth(1).map(str::to_string))
            .collect()
    };
    let (created, elsewhere, later) = (passwords(&output), passwords(&other), passwords(&again));
    assert_eq!(created.len(), 4, "{output}");
    for (seeded, fixed) in created.iter().zip(twofold_clinic::SEED) {
        assert_ne!(seeded, fixed.3, "a fixed demo password");
    }
    assert_ne!(created, elsewhere, "two installations share passwords");
    assert!(
        later.iter().all(|p| !created.contains(p)),
        "the passwords were printed again at a later start: {again}"
    );
}

// ----- 2. Argon2 for passwords on the executor -----

/// The default offload, with each job held until the ticker has ticked: a job
/// that runs off the executor lets the ticker run meanwhile; one on the
/// executor could never see it tick (it gives up after a while).
struct HeldUntilTicked {
    inner: twofold::OffloadPool,
    ticks: std::sync::Arc<std::sync::atomic::AtomicU64>,
    waited_out: std::sync::Arc<std::sync::atomic::AtomicBool>,
    jobs: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl twofold::Offload for HeldUntilTicked {
    fn run(&self, job: twofold::Job) -> twofold::OffloadFuture {
        use std::sync::atomic::Ordering;
        self.jobs.fetch_add(1, Ordering::SeqCst);
        let (ticks, waited_out) = (self.ticks.clone(), self.waited_out.clone());
        let start = ticks.load(Ordering::SeqCst);
        self.inner.run(Box::new(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while ticks.load(Ordering::SeqCst) == start {
                if Instant::now() > deadline {
                    waited_out.store(true, Ordering::SeqCst);
                    break;
                }
                std::thread::yield_now();
            }
            job();
        }))
    }
}

/// On a current-thread runtime (`#[tokio::test]`'s), where the app, the client
/// and a ticker share one thread: a password checked on that thread would stop
/// the ticker until it finished.
#[tokio::test]
async fn argon2_for_passwords_on_the_executor_a_ticker_runs_during_a_sign_in() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let ticks = Arc::new(AtomicU64::new(0));
    let waited_out = Arc::new(AtomicBool::new(false));
    let jobs = Arc::new(AtomicU64::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                ticks.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        }
    });
    let running = common::start_custom(common::Options {
        clock: common::clock_at(common::aligned_now()),
        offload: Some(Arc::new(HeldUntilTicked {
            inner: twofold::OffloadPool::default(),
            ticks: ticks.clone(),
            waited_out: waited_out.clone(),
            jobs: jobs.clone(),
        })),
        ..common::Options::default()
    })
    .await;
    let (email, _, _, password) = twofold_clinic::SEED[0];
    let before = ticks.load(Ordering::SeqCst);
    let jobs_before = jobs.load(Ordering::SeqCst);
    let response = post_sign_in(&client(), &running.base, email, password).await;
    assert_eq!(location(&response), "/profile/security");
    ticker.abort();
    assert_eq!(
        jobs.load(Ordering::SeqCst) - jobs_before,
        1,
        "the password was not checked on the offload"
    );
    assert!(ticks.load(Ordering::SeqCst) > before);
    assert!(
        !waited_out.load(Ordering::SeqCst),
        "a password was hashed where the ticker could not run"
    );
}

// ----- 8. key rotation in the app -----

/// Signs `email` in with the password and a code from `secret`; returns the
/// second step's response.
async fn sign_in_with_code(
    base: &str,
    email: &str,
    password: &str,
    secret: &str,
    now: u64,
) -> Response {
    let browser = client();
    let response = post_sign_in(&browser, base, email, password).await;
    assert_eq!(location(&response), "/signin/second-step");
    let csrf = token(&browser, base, "/signin/second-step").await;
    browser
        .post(format!("{base}/signin/second-step/code"))
        .form(&[
            ("code", code_at(secret, now).as_str()),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

async fn sealed_under(running: &common::Running, email: &str) -> String {
    use sqlx::Row;
    let user = running.app.user_by_email(email).await.unwrap().unwrap();
    let row = sqlx::query("SELECT record FROM twofold_users WHERE id = $1")
        .bind(user.id)
        .fetch_one(running.app.pool())
        .await
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(&row.get::<String, _>("record")).unwrap();
    record["totp"]["secret"]["key_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn key_rotation_in_the_app_old_keys_open_records_are_resealed_a_missing_key_is_a_clear_page()
{
    let clock = common::clock_at(common::aligned_now());
    let first = common::start_custom(common::Options {
        clock: clock.clone(),
        keys: vec![common::key("2026-10", 1)],
        ..common::Options::default()
    })
    .await;
    let (email, _, _, password) = twofold_clinic::SEED[2];
    let browser = client();
    post_sign_in(&browser, &first.base, email, password).await;
    let secret = set_up_app(&browser, &first.base, &clock, first.app.now()).await;
    let restart = |keys| {
        common::start_custom(common::Options {
            clock: clock.clone(),
            dir: Some(first.dir.clone()),
            keys,
            ..common::Options::default()
        })
    };
    // A new key without the old one: a clear page, not a server error.
    let forgot = restart(vec![common::key("2026-11", 2)]).await;
    clock.advance(30);
    let response =
        sign_in_with_code(&forgot.base, email, password, &secret, forgot.app.now()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await.unwrap().contains("administrator"));
    // The new key current, the old one kept: the sign-in works and re-seals.
    let rotated = restart(vec![common::key("2026-11", 2), common::key("2026-10", 1)]).await;
    clock.advance(30);
    let response =
        sign_in_with_code(&rotated.base, email, password, &secret, rotated.app.now()).await;
    assert_eq!(location(&response), "/profile/security");
    assert_eq!(sealed_under(&rotated, email).await, "2026-11");
    // So the old key can go.
    let retired = restart(vec![common::key("2026-11", 2)]).await;
    clock.advance(30);
    let response =
        sign_in_with_code(&retired.base, email, password, &secret, retired.app.now()).await;
    assert_eq!(location(&response), "/profile/security");
}
