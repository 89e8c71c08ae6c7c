//! Real OS processes on one database:
//!
//! - two processes race with the same backup code and the same TOTP code, 100
//!   trials each, on one SQLite file and on one PostgreSQL database: exactly one
//!   succeeds in every trial;
//! - a process killed with SIGKILL in the middle of a burst of sign-ins leaves
//!   the database consistent, and the next process starts cleanly.
//!
//! The test binary re-runs itself as the worker (`worker_entry`, which does
//! nothing unless `TWOFOLD_WORKER` is set).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use twofold::{
    Account, Keyring, PasskeyConfig, RelyingParty, SecretKey, SignInStep, TwoFactor,
    TwoFactorConfig,
};
use twofold::{BackupConfig, HashParams, Store};
use twofold_store_sqlx::SqlStore;

const TRIALS: usize = 100;
const ORG: &str = "race-clinic";

fn facade(store: Arc<dyn Store>) -> TwoFactor {
    let rp = RelyingParty::new("localhost", "Smile Dental", &["http://localhost:8080"]).unwrap();
    let mut config = TwoFactorConfig::new("Smile Dental", PasskeyConfig::new(rp));
    let cheap = HashParams::new(64, 1, 1).unwrap();
    config.backup_codes = BackupConfig::default()
        .with_hash_params(cheap)
        .with_minimum_hash_params(cheap);
    TwoFactor::new(store, Keyring::new(SecretKey::new("k1", [7u8; 32])), config).unwrap()
}

fn account(user: &str) -> Account<'_> {
    Account {
        user,
        organization: ORG,
        role: "staff",
        name: user,
    }
}

fn code(secret: &str, time: u64) -> String {
    let secret = twofold_totp::Secret::from_base32(secret).unwrap();
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, secret.expose_bytes(), time)
}

fn run_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros()
    )
}

/// Enrols `count` users; returns (user, manual secret, backup codes) for each.
async fn enrol_users(
    twofold: &TwoFactor,
    prefix: &str,
    count: usize,
) -> Vec<(String, String, Vec<String>)> {
    let mut users = Vec::new();
    for i in 0..count {
        let user = format!("{prefix}-{i}");
        let setup = twofold
            .begin_totp_enrollment(&account(&user))
            .await
            .unwrap()
            .value;
        let now = twofold_totp::now();
        let confirmed = twofold
            .confirm_totp_enrollment(&account(&user), &code(&setup.manual_entry_secret, now))
            .await
            .unwrap()
            .value;
        let backup = confirmed
            .backup_codes
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        users.push((user, setup.manual_entry_secret, backup));
    }
    users
}

fn spawn_worker(url: &str, mode: &str, plan: &Value, start_at_ms: u128) -> Child {
    let plan_path = std::env::temp_dir().join(format!(
        "twofold-plan-{}-{mode}-{}.json",
        run_id(),
        rand_suffix()
    ));
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "worker_entry", "--nocapture", "--test-threads=1"])
        .env("TWOFOLD_WORKER", mode)
        .env("TWOFOLD_WORKER_URL", url)
        .env("TWOFOLD_WORKER_PLAN", &plan_path)
        .env("TWOFOLD_WORKER_START_MS", start_at_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// The worker: runs the plan and prints one line per attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_entry() {
    let Ok(mode) = std::env::var("TWOFOLD_WORKER") else {
        return;
    };
    let url = std::env::var("TWOFOLD_WORKER_URL").unwrap();
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(std::env::var("TWOFOLD_WORKER_PLAN").unwrap()).unwrap(),
    )
    .unwrap();
    let start: u128 = std::env::var("TWOFOLD_WORKER_START_MS")
        .unwrap()
        .parse()
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&url).await.unwrap());
    let twofold = facade(store);
    // Both racers begin at the same moment.
    while now_ms() < start {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for entry in plan.as_array().unwrap() {
        let user = entry["user"].as_str().unwrap();
        match mode.as_str() {
            "totp" | "backup" => {
                let challenge = entry["challenge"].as_str().unwrap();
                let input = entry["input"].as_str().unwrap();
                let result = if mode == "totp" {
                    twofold.verify_totp(&account(user), challenge, input).await
                } else {
                    twofold
                        .verify_backup_code(&account(user), challenge, input)
                        .await
                };
                match result {
                    Ok(_) => println!("RESULT {user} OK"),
                    Err(failure) => println!("RESULT {user} ERR {:?}", failure.error),
                }
            }
            "burst" => {
                let secret = entry["secret"].as_str().unwrap();
                let SignInStep::Challenge { challenge_id, .. } =
                    twofold.begin_sign_in(&account(user)).await.unwrap().value
                else {
                    panic!("expected a challenge");
                };
                let typed = code(secret, twofold_totp::now() + 30);
                twofold
                    .verify_totp(&account(user), &challenge_id, &typed)
                    .await
                    .unwrap();
                println!("DONE {user}");
            }
            other => panic!("unknown worker mode {other}"),
        }
    }
}

async fn race(url: &str, label: &str) {
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(url).await.unwrap());
    let twofold = facade(Arc::clone(&store));
    let prefix = format!("{label}-{}", run_id());
    let users = enrol_users(&twofold, &prefix, TRIALS).await;
    for mode in ["backup", "totp"] {
        let mut plan = Vec::new();
        for (user, secret, backup) in &users {
            let SignInStep::Challenge { challenge_id, .. } =
                twofold.begin_sign_in(&account(user)).await.unwrap().value
            else {
                panic!("expected a challenge");
            };
            let input = if mode == "totp" {
                // The confirming step is spent; the next step's code is inside the window.
                code(secret, twofold_totp::now() + 30)
            } else {
                backup[0].clone()
            };
            plan.push(json!({ "user": user, "challenge": challenge_id, "input": input }));
        }
        let plan = Value::Array(plan);
        let start = now_ms() + 1500;
        let workers = [
            spawn_worker(url, mode, &plan, start),
            spawn_worker(url, mode, &plan, start),
        ];
        let mut outcomes: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for worker in workers {
            let output = worker.wait_with_output().unwrap();
            assert!(output.status.success(), "{label} {mode}: a worker failed");
            // libtest may print "test worker_entry ... " in front of the first line.
            for line in String::from_utf8(output.stdout)
                .unwrap()
                .lines()
                .filter_map(|l| l.find("RESULT ").map(|i| &l[i..]))
            {
                let mut parts = line.splitn(3, ' ');
                let (_, user, outcome) =
                    (parts.next(), parts.next().unwrap(), parts.next().unwrap());
                outcomes
                    .entry(user.to_string())
                    .or_default()
                    .push(outcome.to_string());
            }
        }
        assert_eq!(outcomes.len(), TRIALS, "{label} {mode}: every trial ran");
        for (user, results) in &outcomes {
            assert_eq!(
                results.len(),
                2,
                "{label} {mode} {user}: both processes tried"
            );
            let wins = results.iter().filter(|r| *r == "OK").count();
            assert_eq!(wins, 1, "{label} {mode} {user}: {results:?}");
            let loser = results.iter().find(|r| *r != "OK").unwrap();
            assert!(
                loser.contains("NoChallenge") || loser.contains("CodeAlreadyUsed"),
                "{label} {mode} {user}: {loser}"
            );
        }
        if mode == "backup" {
            for (user, _, _) in &users {
                let status = twofold.status(&account(user)).await.unwrap();
                assert_eq!(
                    status.backup_codes_remaining,
                    Some(9),
                    "{label} {user}: exactly one slot spent"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_race_on_one_sqlite_file() {
    if std::env::var("TWOFOLD_WORKER").is_ok() {
        return;
    }
    let dir = support::temp_dir();
    race(&support::sqlite_url(&dir), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_race_on_one_postgres_database() {
    if std::env::var("TWOFOLD_WORKER").is_ok() {
        return;
    }
    let Some(url) = support::postgres_url() else {
        return;
    };
    race(&url, "postgres").await;
}

async fn crash(url: &str, label: &str) {
    const USERS: usize = 120;
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(url).await.unwrap());
    let twofold = facade(Arc::clone(&store));
    let prefix = format!("{label}-crash-{}", run_id());
    let users = enrol_users(&twofold, &prefix, USERS).await;
    let mut before = std::collections::HashMap::new();
    for (user, _, _) in &users {
        before.insert(
            user.clone(),
            store.load_user(user).await.unwrap().unwrap().value,
        );
    }
    let plan = Value::Array(
        users
            .iter()
            .map(|(user, secret, _)| json!({ "user": user, "secret": secret }))
            .collect(),
    );
    let mut worker = spawn_worker(url, "burst", &plan, now_ms());
    // Kill it (SIGKILL) in the middle of the burst.
    let stdout = worker.stdout.take().unwrap();
    let mut done = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().contains("DONE ") {
            done += 1;
        }
        if done == USERS / 3 || Instant::now() > deadline {
            break;
        }
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert!(
        (USERS / 3..USERS).contains(&done),
        "{label}: killed mid-burst after {done} sign-ins"
    );

    // A new process: the schema opens cleanly and every record reads back.
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(url).await.unwrap());
    let mut spent = 0;
    for (user, _, _) in &users {
        let after = store.load_user(user).await.unwrap().unwrap().value;
        let old = &before[user];
        let old_step = old.totp.as_ref().unwrap().last_step;
        let new_step = after.totp.as_ref().unwrap().last_step;
        // Either untouched, or a challenge was opened and not answered, or the
        // code was spent together with the challenge: never one without the other.
        let untouched = after == *old;
        let challenged = after.challenge.is_some() && new_step == old_step;
        let signed_in =
            after.challenge.is_none() && new_step > old_step && after.throttle.failures == 0;
        assert!(
            untouched || challenged || signed_in,
            "{label} {user}: inconsistent record {after:?}"
        );
        spent += usize::from(signed_in);
    }
    assert!(spent >= done, "{label}: {spent} spent, {done} reported");
    // And the next process signs users in as usual.
    let twofold = facade(store);
    for (user, secret, _) in users.iter().rev().take(3) {
        let SignInStep::Challenge { challenge_id, .. } =
            twofold.begin_sign_in(&account(user)).await.unwrap().value
        else {
            panic!("expected a challenge");
        };
        let typed = code(secret, twofold_totp::now() + 30);
        twofold
            .verify_totp(&account(user), &challenge_id, &typed)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_leaves_sqlite_consistent() {
    if std::env::var("TWOFOLD_WORKER").is_ok() {
        return;
    }
    let dir = support::temp_dir();
    let url = support::sqlite_url(&dir);
    crash(&url, "sqlite").await;
    let store = SqlStore::connect(&url).await.unwrap();
    let check: (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(check.0, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_leaves_postgres_consistent() {
    if std::env::var("TWOFOLD_WORKER").is_ok() {
        return;
    }
    let Some(url) = support::postgres_url() else {
        return;
    };
    crash(&url, "postgres").await;
}
