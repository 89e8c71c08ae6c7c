//! A bounded load run of the second sign-in step, over loopback HTTP.
//!
//! Run with `cargo run --release -p twofold-clinic --bin clinic-load`
//! (add `-- --database-url postgres://root@127.0.0.1:5432/test` for PostgreSQL).
//!
//! It starts the clinic app in-process on a free port, creates `--users` staff
//! accounts in a fresh clinic and sets up an authenticator app for each. Then,
//! for each of at most `--rounds` rounds (and at most `--seconds` in all), every
//! user signs in with the password (untimed), and all of them submit their
//! 6-digit code to `POST /signin/second-step/code` at once. Only those second-step
//! requests are timed. The app's clock moves 30 s between rounds, so each round's
//! codes are fresh (a code is accepted once).
//!
//! It prints the second-step sign-ins per second and the latency percentiles.
//! `--help` lists the options.
//!
//! With `--mixed` it runs the mixed run instead (see `mixed.rs`): `--users`
//! (128) users signing in with password and TOTP, first alone and then while an
//! attacker posts wrong passwords and wrong backup codes at ten times their
//! rate, for `--seconds` (60) each, against a server in a child process whose
//! peak RSS it reports.

mod mixed;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::redirect::Policy;
use twofold::factors::totp::{Secret, Totp, TotpParams};
use twofold::{Account, Clock, Timestamp};
use twofold_clinic::{App, Config};

struct StepClock(AtomicU64);

impl StepClock {
    /// Unix seconds: what the load tool computes codes with.
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for StepClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_seconds(StepClock::now(self))
    }
}

/// A bounded load run of the clinic's second sign-in step, over loopback
/// HTTP (or, with `--mixed`, sign-ins beside an attacker).
#[derive(Debug, Parser)]
#[command(name = "clinic-load")]
struct Options {
    /// `postgres://…` to run on PostgreSQL (default: a fresh SQLite file).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// How many users sign in (default 64; 128 with `--mixed`).
    #[arg(long, value_name = "N", value_parser = count)]
    users: Option<u64>,
    /// The most rounds of the burst run.
    #[arg(long, value_name = "N", value_parser = count, default_value_t = 10)]
    rounds: u64,
    /// The most seconds of the burst run, or of each phase of the mixed run (default 60).
    #[arg(long, value_name = "N", value_parser = count)]
    seconds: Option<u64>,
    /// The mixed run: legitimate sign-ins alone, then beside an attacker.
    #[arg(long)]
    mixed: bool,
    /// What the mixed run's attacker posts.
    #[arg(long, value_enum, default_value_t = mixed::Attack::Both)]
    attack: mixed::Attack,
    /// The mixed run's server process (started by the mixed run itself).
    #[arg(long, hide = true)]
    serve: bool,
}

/// A count from 1 to 100000.
fn count(text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .ok()
        .filter(|n| (1..=100_000).contains(n))
        .ok_or_else(|| "a number from 1 to 100000".to_string())
}

/// A count as a `usize` (every count fits).
fn size(count: u64) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}

struct BurstOptions {
    database_url: Option<String>,
    users: usize,
    rounds: usize,
    seconds: u64,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

struct LoadUser {
    email: String,
    password: String,
    secret: Secret,
}

fn csrf_of(page: &str) -> Result<String, Error> {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).ok_or("no CSRF field on the page")? + marker.len();
    let rest = page.get(start..).ok_or("truncated page")?;
    let end = rest.find('"').ok_or("truncated CSRF field")?;
    Ok(rest.get(..end).ok_or("truncated CSRF field")?.to_string())
}

/// Signs in with the password; returns the client (holding the session) and the
/// second step's CSRF token.
async fn password_step(base: &str, user: &LoadUser) -> Result<(reqwest::Client, String), Error> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()?;
    let page = client
        .get(format!("{base}/signin"))
        .send()
        .await?
        .text()
        .await?;
    let token = csrf_of(&page)?;
    let response = client
        .post(format!("{base}/signin"))
        .form(&[
            ("email", user.email.as_str()),
            ("password", user.password.as_str()),
            ("csrf", token.as_str()),
        ])
        .send()
        .await?;
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("");
    if location != "/signin/second-step" {
        return Err(format!("the password step went to {location:?}").into());
    }
    let page = client
        .get(format!("{base}/signin/second-step"))
        .send()
        .await?
        .text()
        .await?;
    Ok((client, csrf_of(&page)?))
}

/// The timed request: the code, answered by a redirect to the profile.
async fn second_step(
    base: &str,
    client: &reqwest::Client,
    token: &str,
    code: &str,
) -> Result<Duration, Error> {
    let start = Instant::now();
    let response = client
        .post(format!("{base}/signin/second-step/code"))
        .form(&[("code", code), ("csrf", token)])
        .send()
        .await?;
    let elapsed = start.elapsed();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("");
    if location != "/profile/security" {
        return Err(format!("the code was not accepted (went to {location:?})").into());
    }
    Ok(elapsed)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(rank).copied().unwrap_or(Duration::ZERO)
}

async fn run(options: Options) -> Result<(), Error> {
    if options.serve {
        return mixed::serve(mixed::ServeOptions {
            database_url: options.database_url.ok_or("--serve needs --database-url")?,
            users: options.users.map_or(128, size),
        })
        .await;
    }
    if options.mixed {
        return mixed::run(mixed::MixedOptions {
            database_url: options.database_url,
            users: options.users.map_or(128, size),
            seconds: options.seconds.unwrap_or(60),
            attack: options.attack,
        })
        .await;
    }
    let options = BurstOptions {
        database_url: options.database_url,
        users: options.users.map_or(64, size),
        rounds: size(options.rounds),
        seconds: options.seconds.unwrap_or(60),
    };
    let temp = std::env::temp_dir().join(format!("twofold-clinic-load-{}", std::process::id()));
    std::fs::create_dir_all(&temp)?;
    let database_url = options
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", temp.join("load.sqlite3").display()));
    let backend = if database_url.starts_with("sqlite:") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let start_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        / 30
        * 30;
    let clock = Arc::new(StepClock(AtomicU64::new(start_time)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let base = format!("http://localhost:{port}");
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)?;
    let app = App::start(Config {
        database_url,
        origin: base.clone(),
        keys: vec![twofold_clinic::NamedKey {
            id: "load-1".into(),
            bytes: key,
        }],
        clock: clock.clone(),
        offload: None,
        trust_forwarded_for: false,
        mail: twofold_clinic::Mail::Off,
    })
    .await?;
    tokio::spawn(twofold_clinic::serve(
        listener,
        app.clone(),
        std::future::pending(),
    ));

    // A fresh clinic, so that runs against a shared database do not collide.
    let mut run_id = [0u8; 6];
    getrandom::fill(&mut run_id)?;
    let run_id: String = run_id.iter().map(|b| format!("{b:02x}")).collect();
    let clinic = format!("load-{run_id}");
    eprintln!(
        "setting up {} users on {backend} (Argon2id passwords and backup codes take a while)…",
        options.users
    );
    let mut setups = tokio::task::JoinSet::new();
    for i in 0..options.users {
        let app = app.clone();
        let clinic = clinic.clone();
        let clock = clock.clone();
        setups.spawn(
            async move { set_up(&app, &clinic, i, &run_id_for(&clinic), clock.now()).await },
        );
    }
    let mut users = Vec::new();
    while let Some(user) = setups.join_next().await {
        users.push(Arc::new(user??));
    }

    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let mut latencies = Vec::new();
    let mut failures = 0usize;
    let mut timed = Duration::ZERO;
    let mut rounds = 0;
    while rounds < options.rounds && Instant::now() < deadline {
        rounds += 1;
        clock.0.fetch_add(30, Ordering::SeqCst);
        let now = clock.now();
        // Untimed: the password step for every user.
        let mut ready = tokio::task::JoinSet::new();
        for user in &users {
            let user = user.clone();
            let base = base.clone();
            ready.spawn(async move {
                let (client, token) = password_step(&base, &user).await?;
                let code = Totp::new(&user.secret, TotpParams::default())
                    .generate(now)
                    .map_err(|e| e.to_string())?
                    .to_string();
                Ok::<_, Error>((client, token, code))
            });
        }
        let mut sessions = Vec::new();
        while let Some(session) = ready.join_next().await {
            sessions.push(session??);
        }
        // Timed: every second step at once.
        let burst = Instant::now();
        let mut answers = tokio::task::JoinSet::new();
        for (client, token, code) in sessions {
            let base = base.clone();
            answers.spawn(async move { second_step(&base, &client, &token, &code).await });
        }
        while let Some(answer) = answers.join_next().await {
            match answer? {
                Ok(latency) => latencies.push(latency),
                Err(error) => {
                    failures += 1;
                    if failures <= 3 {
                        eprintln!("a second step failed: {error}");
                    }
                }
            }
        }
        timed += burst.elapsed();
    }
    latencies.sort();
    let total = latencies.len();
    let rate = total as f64 / timed.as_secs_f64().max(f64::MIN_POSITIVE);
    println!(
        "clinic-load: {backend}: {total} second-step sign-ins ({failures} failed) from {} users \
         in {rounds} rounds; {:.0} sign-ins/s over {:.2} s of bursts; latency p50 {:.1} ms, \
         p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        users.len(),
        rate,
        timed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.90).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    let _ = std::fs::remove_dir_all(&temp);
    if failures > 0 || total == 0 {
        return Err(format!("{failures} second steps failed").into());
    }
    Ok(())
}

fn run_id_for(clinic: &str) -> String {
    clinic.trim_start_matches("load-").to_string()
}

/// One staff account with an authenticator app.
async fn set_up(
    app: &App,
    clinic: &str,
    i: usize,
    run_id: &str,
    now: u64,
) -> Result<LoadUser, Error> {
    let email = format!("user{i}-{run_id}@load.example");
    let password = format!("load-password-{i}");
    let id = app
        .create_user(clinic, &email, &format!("User {i}"), "staff", &password)
        .await?;
    let account = Account {
        user: &id,
        organization: clinic,
        role: "staff",
        name: &email,
    };
    let enrollment = app
        .two_factor()
        .begin_totp_enrollment(&account, Some(Timestamp::from_unix_seconds(app.now())))
        .await
        .map_err(|failure| failure.error)?
        .value;
    let secret = Secret::from_base32(&enrollment.manual_entry_secret)?;
    let code = Totp::new(&secret, TotpParams::default())
        .generate(now)?
        .to_string();
    app.two_factor()
        .confirm_totp_enrollment(&account, &code)
        .await
        .map_err(|failure| failure.error)?;
    Ok(LoadUser {
        email,
        password,
        secret,
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = Options::parse();
    // The app's own log events (warnings and errors unless `RUST_LOG` says
    // otherwise) to standard error: standard output is the report, and the
    // mixed run's server speaks to its parent there.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(options).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let mut message = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("clinic-load: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
