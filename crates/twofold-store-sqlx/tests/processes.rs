//! Real OS processes on one database:
//!
//! - two processes race with the same backup code and the same TOTP code, 100
//!   trials each, on one SQLite file and on one PostgreSQL database: exactly one
//!   succeeds in every trial;
//! - a process killed with SIGKILL in the middle of a burst of sign-ins leaves
//!   the database consistent, and the next process starts cleanly.
//!
//! The test binary re-runs itself as the worker (`worker_entry`, ignored in a
//! normal run, so that it never counts as a passing test). Every process uses
//! one fixed, injected clock, so that no result depends on when a step of the
//! wall clock turns over; the racers start on a signal from the parent, and a
//! worker that hangs is killed and fails the test.
// Each file runs SQLite tests, so needs the (default) `sqlite` feature.
#![cfg(test)]
#![cfg(feature = "sqlite")]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use twofold::{
    Account, Keyring, ManualClock, PasskeyConfig, RelyingParty, SecretKey, SignInStep, Timestamp,
    TwoFactor, TwoFactorConfig,
};
use twofold::{BackupConfig, HashParams, Store};
use twofold_store_sqlx::SqlStore;

const TRIALS: usize = 100;
const ORG: &str = "race-clinic";
/// The one time every process of a test runs at: 2026-01-01T00:00:15Z. Users
/// enroll at `NOW`; the race's codes are those of the next step.
const NOW: u64 = 1_767_225_615;
/// How long a worker may take before it counts as hung.
const WORKER_DEADLINE: Duration = Duration::from_secs(180);

fn facade(store: Arc<dyn Store>, now: u64) -> TwoFactor {
    let rp = RelyingParty::new("localhost", "Smile Dental", &["http://localhost:8080"]).unwrap();
    let mut config = TwoFactorConfig::new("Smile Dental").with_passkeys(PasskeyConfig::new(rp));
    let cheap = HashParams::new(64, 1, 1).unwrap();
    config.backup_codes = BackupConfig::default()
        .with_hash_params(cheap)
        .with_minimum_hash_params(cheap);
    TwoFactor::new(store, Keyring::new(SecretKey::new("k1", [7u8; 32])), config)
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(Timestamp::from_unix_seconds(
            now,
        ))))
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

/// Enrolls `count` users; returns (user, manual secret, backup codes) for each.
async fn enroll_users(
    twofold: &TwoFactor,
    prefix: &str,
    count: usize,
) -> Vec<(String, String, Vec<String>)> {
    let mut users = Vec::new();
    for i in 0..count {
        let user = format!("{prefix}-{i}");
        let setup = twofold
            .begin_totp_enrollment(
                &account(&user),
                Some(twofold::Timestamp::from_unix_seconds(NOW)),
            )
            .await
            .unwrap()
            .value;
        let confirmed = twofold
            .confirm_totp_enrollment(&account(&user), &code(&setup.manual_entry_secret, NOW))
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

/// A worker process, stopped when dropped (so that a failing test leaves none behind).
struct Worker {
    child: Child,
    label: String,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Worker {
    fn spawn(url: &str, mode: &str, plan: &Value, now: u64) -> Worker {
        let plan_path = std::env::temp_dir().join(format!(
            "twofold-plan-{}-{mode}-{}.json",
            run_id(),
            rand_suffix()
        ));
        std::fs::write(&plan_path, plan.to_string()).unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "worker_entry",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("TWOFOLD_WORKER", mode)
            .env("TWOFOLD_WORKER_URL", url)
            .env("TWOFOLD_WORKER_PLAN", &plan_path)
            .env("TWOFOLD_WORKER_NOW", now.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Worker {
            child,
            label: format!("{mode} worker"),
        }
    }

    /// Its output, line by line, through a channel that can time out.
    fn lines(&mut self) -> Receiver<String> {
        let stdout: ChildStdout = self.child.stdout.take().unwrap();
        let (send, receive) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        receive
    }

    /// Tells a waiting worker to start.
    fn go(&mut self) {
        let mut stdin = self.child.stdin.take().unwrap();
        writeln!(stdin, "go").unwrap();
    }

    /// Waits for the worker to exit; fails the test if it hangs or fails.
    fn finish(mut self, deadline: Instant) {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{}: exited with {status}", self.label);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: still running after {WORKER_DEADLINE:?}; killed",
                self.label
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The next line containing `marker`, or a failure after the deadline.
fn next_line(
    lines: &Receiver<String>,
    marker: &str,
    deadline: Instant,
    who: &str,
) -> Option<String> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(marker) => return Some(line),
            Ok(_) => continue,
            Err(RecvTimeoutError::Disconnected) => return None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{who}: no {marker:?} line within {WORKER_DEADLINE:?}; the worker hangs")
            }
        }
    }
}

fn run_id() -> String {
    format!("{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u128 {
    // Only keeps the names of parallel runs apart; nothing depends on its value.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The worker: waits for "go" on stdin, runs the plan, and prints one line per
/// attempt. Ignored in a normal run: it is started by the tests below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the worker process of the multi-process tests, which start it"]
async fn worker_entry() {
    let mode = std::env::var("TWOFOLD_WORKER").expect("started by a multi-process test");
    let url = std::env::var("TWOFOLD_WORKER_URL").unwrap();
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(std::env::var("TWOFOLD_WORKER_PLAN").unwrap()).unwrap(),
    )
    .unwrap();
    let now: u64 = std::env::var("TWOFOLD_WORKER_NOW")
        .unwrap()
        .parse()
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&url).await.unwrap());
    let twofold = facade(store, now);
    // Both racers begin together, when the parent says so.
    println!("READY");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
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
                twofold
                    .verify_totp(&account(user), &challenge_id, &code(secret, now))
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
    let twofold = facade(Arc::clone(&store), NOW);
    let prefix = format!("{label}-{}", run_id());
    let users = enroll_users(&twofold, &prefix, TRIALS).await;
    // The race runs one step later: the confirming step is spent.
    let race_at = NOW + 30;
    let twofold = facade(Arc::clone(&store), race_at);
    for mode in ["backup", "totp"] {
        let mut plan = Vec::new();
        for (user, secret, backup) in &users {
            let SignInStep::Challenge { challenge_id, .. } =
                twofold.begin_sign_in(&account(user)).await.unwrap().value
            else {
                panic!("expected a challenge");
            };
            let input = if mode == "totp" {
                code(secret, race_at)
            } else {
                backup[0].clone()
            };
            plan.push(json!({ "user": user, "challenge": challenge_id, "input": input }));
        }
        let plan = Value::Array(plan);
        let deadline = Instant::now() + WORKER_DEADLINE;
        let mut workers = [
            Worker::spawn(url, mode, &plan, race_at),
            Worker::spawn(url, mode, &plan, race_at),
        ];
        let outputs: Vec<Receiver<String>> = workers.iter_mut().map(Worker::lines).collect();
        for output in &outputs {
            next_line(output, "READY", deadline, label).expect("the worker started");
        }
        for worker in &mut workers {
            worker.go();
        }
        let mut outcomes: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for output in &outputs {
            // libtest may print "test worker_entry ... " in front of the first line.
            while let Some(line) = next_line(output, "RESULT ", deadline, label) {
                let line = &line[line.find("RESULT ").unwrap()..];
                let mut parts = line.splitn(3, ' ');
                let (_, user, outcome) =
                    (parts.next(), parts.next().unwrap(), parts.next().unwrap());
                outcomes
                    .entry(user.to_string())
                    .or_default()
                    .push(outcome.to_string());
            }
        }
        for worker in workers {
            worker.finish(deadline);
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
        for (user, _, _) in &users {
            let record = store.load_user(user).await.unwrap().unwrap().value;
            if mode == "backup" {
                let status = twofold.status(&account(user)).await.unwrap();
                assert_eq!(
                    status.backup_codes_remaining,
                    Some(9),
                    "{label} {user}: exactly one slot spent"
                );
            } else {
                assert_eq!(
                    record.totp.unwrap().last_step,
                    Some(race_at / 30),
                    "{label} {user}: the race's step is spent"
                );
            }
            assert!(record.challenge.is_none(), "{label} {user}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_race_on_one_sqlite_file() {
    let dir = support::temp_dir();
    race(&support::sqlite_url(&dir), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_race_on_one_postgres_database() {
    let Some(url) = support::postgres_url() else {
        return;
    };
    race(&url, "postgres").await;
}

async fn crash(url: &str, label: &str) {
    const USERS: usize = 120;
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(url).await.unwrap());
    let twofold = facade(Arc::clone(&store), NOW);
    let prefix = format!("{label}-crash-{}", run_id());
    let users = enroll_users(&twofold, &prefix, USERS).await;
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
    let burst_at = NOW + 30;
    let mut worker = Worker::spawn(url, "burst", &plan, burst_at);
    let output = worker.lines();
    let deadline = Instant::now() + WORKER_DEADLINE;
    next_line(&output, "READY", deadline, label).expect("the worker started");
    worker.go();
    // Kill it (SIGKILL) in the middle of the burst.
    let mut done = 0;
    while done < USERS / 3 {
        next_line(&output, "DONE ", deadline, label).expect("the worker is still signing in");
        done += 1;
    }
    worker.child.kill().unwrap();
    worker.child.wait().unwrap();
    // Lines it printed before it died.
    while let Ok(line) = output.recv_timeout(Duration::from_secs(1)) {
        done += usize::from(line.contains("DONE "));
    }
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
        let signed_in = after.challenge.is_none()
            && new_step == Some(burst_at / 30)
            && after.throttle.failures == 0;
        assert!(
            untouched || challenged || signed_in,
            "{label} {user}: inconsistent record {after:?}"
        );
        spent += usize::from(signed_in);
    }
    assert!(spent >= done, "{label}: {spent} spent, {done} reported");
    // And the next process signs users in as usual.
    let twofold = facade(store, burst_at);
    for (user, secret, _) in users.iter().rev().take(3) {
        let SignInStep::Challenge { challenge_id, .. } =
            twofold.begin_sign_in(&account(user)).await.unwrap().value
        else {
            panic!("expected a challenge");
        };
        twofold
            .verify_totp(&account(user), &challenge_id, &code(secret, burst_at))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_leaves_sqlite_consistent() {
    let dir = support::temp_dir();
    let url = support::sqlite_url(&dir);
    crash(&url, "sqlite").await;
    let store = SqlStore::connect(&url).await.unwrap();
    let check: (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(store.pool().as_sqlite().unwrap())
        .await
        .unwrap();
    assert_eq!(check.0, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_leaves_postgres_consistent() {
    let Some(url) = support::postgres_url() else {
        return;
    };
    crash(&url, "postgres").await;
}
