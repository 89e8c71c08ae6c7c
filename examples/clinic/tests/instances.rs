//! Two clinic processes on one PostgreSQL database, the way a clinic group
//! deploys it behind a load balancer: a sign-in's password step on instance A
//! and its second step on instance B; setup begun on one and confirmed on the
//! other; and backup-code and TOTP races across the two, where exactly one
//! request may win.
//!
//! The database is a fresh one, created on the server that
//! `TWOFOLD_TEST_POSTGRES_URL` names and dropped afterwards. Without that
//! variable the test skips with a message (outside CI; in CI it fails).
#![cfg(test)]

mod common;

use common::{client, code_at, location, token};

use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::{Client, Response};

async fn post_form(client: &Client, base: &str, path: &str, form: &[(&str, &str)]) -> Response {
    let csrf_page = if path.starts_with("/signin/second-step") {
        "/signin/second-step"
    } else if path == "/signin" {
        "/signin"
    } else {
        "/profile/security"
    };
    let csrf = token(client, base, csrf_page).await;
    let mut fields = form.to_vec();
    fields.push(("csrf", &csrf));
    client
        .post(format!("{base}{path}"))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A database of its own on the test server, dropped when the test ends.
struct Database {
    admin: sqlx::AnyPool,
    name: String,
    url: String,
}

impl Database {
    async fn create(server_url: &str) -> Database {
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(server_url).await.unwrap();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("clinic_instances_{}_{nanos}", std::process::id());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        let (without_query, query) = match server_url.split_once('?') {
            Some((url, query)) => (url, format!("?{query}")),
            None => (server_url, String::new()),
        };
        let base = &without_query[..without_query.rfind('/').unwrap()];
        let url = format!("{base}/{name}{query}");
        Database { admin, name, url }
    }

    async fn drop_now(self) {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&self.admin)
        .await;
    }
}

struct Instance {
    child: Child,
    base: String,
    lines: Vec<String>,
    dir: std::path::PathBuf,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts the real binary on the shared database, with the shared keys and
/// origin, and reads its start-up output up to "Stop with Ctrl-C.".
fn start_instance(database_url: &str, keys: &str, origin: &str) -> Instance {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = common::temp_dir("twofold-clinic-instance");
    let mut child = Command::new(env!("CARGO_BIN_EXE_twofold-clinic"))
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(&dir)
        .args(["--database-url", database_url, "--origin", origin])
        .env("CLINIC_SECRET_KEYS", keys)
        .env_remove("CLINIC_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let line = receiver
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("the instance did not start; it printed {lines:#?}"));
        let done = line.starts_with("Stop with Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    // Keep draining the output so that the process never blocks on a full pipe.
    std::thread::spawn(move || while receiver.recv().is_ok() {});
    Instance {
        child,
        base: format!("http://127.0.0.1:{port}"),
        lines,
        dir,
    }
}

/// The demo passwords, as the first instance printed them at seeding.
fn printed_passwords(lines: &[String]) -> HashMap<String, String> {
    lines
        .iter()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(email), Some(password), None) if email.ends_with("@smile.example") => {
                    Some((email.to_string(), password.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

/// Password step on `base`; the browser is then at the second step.
async fn password_step(browser: &Client, base: &str, email: &str, password: &str) {
    let response = post_form(
        browser,
        base,
        "/signin",
        &[("email", email), ("password", password)],
    )
    .await;
    assert_eq!(
        location(&response),
        "/signin/second-step",
        "{email} on {base}"
    );
}

/// Whether a second-step post signed the browser in.
fn signed_in(response: &Response) -> bool {
    location(response) == "/profile/security"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sign_ins_sessions_and_one_time_codes() {
    let Ok(server_url) = std::env::var("TWOFOLD_TEST_POSTGRES_URL") else {
        assert!(
            !common::in_ci(),
            "TWOFOLD_TEST_POSTGRES_URL is not set in CI: .ci/run must set it"
        );
        common::skip_notice(
            "the several-instances test needs PostgreSQL: set TWOFOLD_TEST_POSTGRES_URL",
        );
        return;
    };
    let database = Database::create(&server_url).await;
    let keys = format!("k1:{}", "5a".repeat(32));
    // One origin for both, as behind one load balancer.
    let origin = "http://localhost:3000";
    let a = start_instance(&database.url, &keys, origin);
    // B starts on a database that A has already migrated and seeded.
    let b = start_instance(&database.url, &keys, origin);
    let passwords = printed_passwords(&a.lines);
    assert_eq!(passwords.len(), 4, "A seeds and prints: {:#?}", a.lines);
    assert!(
        printed_passwords(&b.lines).is_empty(),
        "B finds the accounts and prints no passwords: {:#?}",
        b.lines
    );
    let email = "sam@smile.example";
    let password = passwords[email].clone();

    // Setup: password on A, setup begun on B, confirmed on A, codes read on B.
    let sam = client();
    let response = post_form(
        &sam,
        &a.base,
        "/signin",
        &[("email", email), ("password", &password)],
    )
    .await;
    assert!(response.status().is_redirection(), "{}", response.status());
    let csrf = token(&sam, &b.base, "/profile/security").await;
    let setup = sam
        .post(format!("{}/security/totp/begin", b.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = setup.find(r#"id="manual-secret">"#).expect("a secret on B") + 19;
    let secret = setup[start..start + setup[start..].find('<').unwrap()].to_string();
    let enrolled_at = now();
    let confirmed = post_form(
        &sam,
        &a.base,
        "/security/totp/confirm",
        &[("code", &code_at(&secret, enrolled_at))],
    )
    .await;
    assert_eq!(location(&confirmed), "/security/backup-codes");
    let page = sam
        .get(format!("{}/security/backup-codes", b.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let codes: Vec<String> = page
        .split(r#"<li class="backup-code">"#)
        .skip(1)
        .map(|rest| rest[..rest.find('<').unwrap()].to_string())
        .collect();
    assert_eq!(codes.len(), 10, "B shows the codes A stashed: {page}");

    // A sign-in whose password step goes to A and whose second step goes to B;
    // the session then works on both.
    let browser = client();
    password_step(&browser, &a.base, email, &password).await;
    let response = post_form(
        &browser,
        &b.base,
        "/signin/second-step/backup",
        &[("code", &codes[0])],
    )
    .await;
    assert!(
        signed_in(&response),
        "B finishes A's sign-in: {}",
        location(&response)
    );
    for base in [&a.base, &b.base] {
        let page = browser
            .get(format!("{base}/profile/security"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "signed in on {base}");
    }
    // The spent code is spent on both instances.
    let again = client();
    password_step(&again, &b.base, email, &password).await;
    let response = post_form(
        &again,
        &a.base,
        "/signin/second-step/backup",
        &[("code", &codes[0])],
    )
    .await;
    assert!(
        !signed_in(&response),
        "a spent backup code works on the other instance"
    );

    // Backup-code races: the same code posted to A and to B at once.
    for (trial, code) in codes[1..6].iter().enumerate() {
        let (x, y) = (client(), client());
        password_step(&x, &a.base, email, &password).await;
        password_step(&y, &b.base, email, &password).await;
        let form = [("code", code.as_str())];
        let (on_a, on_b) = tokio::join!(
            post_form(&x, &a.base, "/signin/second-step/backup", &form),
            post_form(&y, &b.base, "/signin/second-step/backup", &form),
        );
        let winners = usize::from(signed_in(&on_a)) + usize::from(signed_in(&on_b));
        assert_eq!(winners, 1, "backup-code race {trial}: {winners} winners");
    }

    // The TOTP race: the next step's code (the window accepts one ahead; the
    // enrollment spent this one), posted to A and to B at once.
    let code = code_at(&secret, enrolled_at + 30);
    let (x, y) = (client(), client());
    password_step(&x, &a.base, email, &password).await;
    password_step(&y, &b.base, email, &password).await;
    let form = [("code", code.as_str())];
    let (on_a, on_b) = tokio::join!(
        post_form(&x, &a.base, "/signin/second-step/code", &form),
        post_form(&y, &b.base, "/signin/second-step/code", &form),
    );
    let winners = usize::from(signed_in(&on_a)) + usize::from(signed_in(&on_b));
    assert_eq!(winners, 1, "TOTP race: {winners} winners");

    // Throttling is shared too: failures on A and on B add up to one lockout.
    let guesses = client();
    let mut refused_with_wait = false;
    for attempt in 0..8 {
        let base = if attempt % 2 == 0 { &a.base } else { &b.base };
        let response = post_form(
            &guesses,
            base,
            "/signin",
            &[
                ("email", "sara@smile.example"),
                ("password", "not-the-password"),
            ],
        )
        .await;
        let body = response.text().await.unwrap();
        refused_with_wait |= body.contains("Too many");
    }
    assert!(
        refused_with_wait,
        "eight failures across A and B met no limit"
    );

    drop((a, b));
    database.drop_now().await;
}
