//! The mixed run: legitimate sign-ins while an attacker posts wrong passwords
//! and wrong backup codes at ten times their rate.
//!
//! The server runs in a child process (this program with `--serve`), so that
//! its peak RSS is its own (`VmHWM`), on the real clock: the throttles' waits
//! are measured as deployed.
//!
//! - Legitimate users (`--users`, 128 by default): a code is accepted once, so
//!   each signs in once per 30-second TOTP step, at a random moment in it: GET
//!   the sign-in page, POST the password, GET the second step, POST the
//!   current code. A sign-in is timed from the first GET to the redirect that
//!   signs in.
//! - Phase 1, for `--seconds`: the users alone. Phase 2, as long: the users
//!   while an attacker from another loopback address (a random 127.x.y.z) posts,
//!   open-loop at ten times phase 1's sign-in rate, alternately a wrong
//!   password (for a known account, or an unknown one) and a wrong backup code
//!   in the session of an account whose password it holds (signing in again,
//!   with that password, whenever the challenge is gone).
//!
//! Printed: sign-ins per second, p50 and p99 of each phase, their ratio, what
//! the attacker's posts were answered, and the server's peak RSS.

use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::redirect::Policy;
use twofold::Clock;
use twofold::factors::totp::{Secret, Totp, TotpParams};
use twofold_clinic::{App, Config};

use crate::{Error, csrf_of, percentile};

/// The length of a TOTP step.
const STEP: f64 = 30.0;
/// The attacker's address: a loopback address of its own (any reaches the
/// server), fresh for each run, so that a shared database's throttle rows
/// from an earlier run do not stop it early.
fn attacker_address() -> IpAddr {
    let mut bytes = [0u8; 3];
    let _ = getrandom::fill(&mut bytes);
    IpAddr::V4(Ipv4Addr::new(
        127,
        bytes[0].max(1),
        bytes[1],
        bytes[2].max(2),
    ))
}
/// The most attack requests in flight; more are counted as not sent.
const MAX_IN_FLIGHT: usize = 4096;

/// Unix time in seconds, as the server's clock reads it.
fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A random fraction in [0, 1).
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// `--serve`: the server side, in the child process.
pub(crate) struct ServeOptions {
    pub(crate) database_url: String,
    pub(crate) users: usize,
}

/// Starts the app on a free port, creates the users (and
/// the account whose password the attacker holds), prints them for the parent,
/// and serves until its standard input closes.
pub(crate) async fn serve(options: ServeOptions) -> Result<(), Error> {
    let clock = Arc::new(twofold::SystemClock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)?;
    let app = App::start(Config {
        database_url: options.database_url,
        origin: format!("http://localhost:{port}"),
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
    let mut run_id = [0u8; 6];
    getrandom::fill(&mut run_id)?;
    let run_id: String = run_id.iter().map(|b| format!("{b:02x}")).collect();
    let clinic = format!("load-{run_id}");
    let mut setups = tokio::task::JoinSet::new();
    // A few at a time: setup is not what is measured, and the facade bounds
    // the enrollments in flight per organization.
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    // One more than asked: the last is the account whose password the attacker holds.
    for i in 0..=options.users {
        let (app, clinic, run_id) = (app.clone(), clinic.clone(), run_id.clone());
        let (clock, permits) = (clock.clone(), permits.clone());
        setups.spawn(async move {
            let _permit = permits.acquire().await?;
            let now = clock.now().as_unix_seconds();
            let user = crate::set_up(&app, &clinic, i, &run_id, now).await?;
            Ok::<_, Error>((user, now / 30))
        });
    }
    let mut lines = Vec::new();
    while let Some(user) = setups.join_next().await {
        let (user, step) = user??;
        lines.push(format!(
            "user {} {} {} {step}",
            user.email,
            user.password,
            user.secret.to_base32()
        ));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "port {port}")?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);
    // Serve until the parent closes our standard input (or dies).
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin()
            .lock()
            .read_line(&mut sink)
            .is_ok_and(|n| n > 0)
        {
            sink.clear();
        }
    })
    .await?;
    Ok(())
}

/// The mixed run's options.
pub(crate) struct MixedOptions {
    pub(crate) database_url: Option<String>,
    pub(crate) users: usize,
    pub(crate) seconds: u64,
    pub(crate) attack: Attack,
}

/// What the attacker posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Attack {
    /// Wrong passwords and wrong backup codes, alternately.
    Both,
    /// Only wrong passwords.
    Passwords,
    /// Only wrong backup codes.
    Codes,
}

struct User {
    email: String,
    password: String,
    secret: Secret,
    /// The TOTP step of the user's last sign-in (a code is accepted once).
    last_step: AtomicU64,
}

/// The server child; killed on drop.
struct Server {
    child: std::process::Child,
}

impl Server {
    /// The child's peak resident set (`VmHWM`), in KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(local: Option<IpAddr>) -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .local_address(local)
        .timeout(Duration::from_secs(60))
        .build()?)
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn csrf(client: &reqwest::Client, url: &str) -> Result<String, Error> {
    csrf_of(&client.get(url).send().await?.text().await?)
}

/// The password step; `Ok(location)` of its answer.
async fn password_step(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Result<String, Error> {
    let token = csrf(client, &format!("{base}/signin")).await?;
    let response = client
        .post(format!("{base}/signin"))
        .form(&[("email", email), ("password", password), ("csrf", &token)])
        .send()
        .await?;
    Ok(location(&response))
}

/// One legitimate sign-in, timed from the first request to the one that signs in.
async fn sign_in(base: &str, user: &User) -> Result<(Duration, u64), Error> {
    let start = Instant::now();
    let client = client(None)?;
    let token = csrf(&client, &format!("{base}/signin")).await?;
    let response = client
        .post(format!("{base}/signin"))
        .form(&[
            ("email", user.email.as_str()),
            ("password", user.password.as_str()),
            ("csrf", token.as_str()),
        ])
        .send()
        .await?;
    let went = location(&response);
    if went != "/signin/second-step" {
        let status = response.status();
        let notice = notice(&response.text().await.unwrap_or_default());
        return Err(format!("the password step went to {went:?} ({status}: {notice})").into());
    }
    let token = csrf(&client, &format!("{base}/signin/second-step")).await?;
    let now = wall() as u64;
    let code = Totp::new(&user.secret, TotpParams::default())
        .generate(now)?
        .to_string();
    let response = client
        .post(format!("{base}/signin/second-step/code"))
        .form(&[("code", code.as_str()), ("csrf", token.as_str())])
        .send()
        .await?;
    let went = location(&response);
    if went != "/profile/security" {
        let page = client
            .get(format!("{base}/signin/second-step"))
            .send()
            .await?
            .text()
            .await?;
        return Err(format!("the code went to {went:?} ({})", notice(&page)).into());
    }
    Ok((start.elapsed(), now / 30))
}

/// The first notice on a page (what the user is told).
fn notice(page: &str) -> String {
    page.find(r#"class="notice"#)
        .and_then(|start| page.get(start..))
        .and_then(|rest| Some(rest.get(rest.find('>')? + 1..rest.find("</")?)?.to_string()))
        .unwrap_or_else(|| "no notice".to_string())
}

#[derive(Default)]
struct Phase {
    latencies: Vec<Duration>,
    /// (seconds into the phase, latency) of each sign-in, for the slowest list.
    timeline: Vec<(f64, Duration)>,
    failures: usize,
    elapsed: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
    fn p(&self, p: f64) -> f64 {
        percentile(&self.latencies, p).as_secs_f64() * 1e3
    }
}

/// Every user signs in once per TOTP step, at a random moment in it, until
/// `seconds` have passed.
async fn legitimate(base: &str, users: &[Arc<User>], seconds: u64) -> Phase {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for user in users {
        let (user, base) = (user.clone(), base.to_string());
        workers.spawn(async move {
            let mut phase = Phase::default();
            // A random moment, from now on, in the first step after the last
            // one used (never a burst of everyone whose moment has passed).
            let next_moment = |last: u64| {
                let now = wall();
                let step = (last + 1).max((now / STEP) as u64) as f64;
                let from = (step * STEP).max(now);
                let next = from + random_fraction() * ((step + 1.0) * STEP - from);
                tokio::time::Instant::now() + Duration::from_secs_f64((next - now).max(0.0))
            };
            let mut at = next_moment(user.last_step.load(Ordering::SeqCst));
            while at < deadline {
                tokio::time::sleep_until(at).await;
                match sign_in(&base, &user).await {
                    Ok((latency, step)) => {
                        phase.latencies.push(latency);
                        phase.timeline.push((
                            started.elapsed().as_secs_f64() - latency.as_secs_f64(),
                            latency,
                        ));
                        user.last_step.store(step, Ordering::SeqCst);
                        at = next_moment(step);
                    }
                    Err(error) => {
                        phase.failures += 1;
                        if phase.failures <= 2 {
                            eprintln!("a legitimate sign-in failed: {error}");
                        }
                        at = tokio::time::Instant::now() + Duration::from_secs(1);
                    }
                }
            }
            phase
        });
    }
    let mut all = Phase::default();
    while let Some(phase) = workers.join_next().await {
        if let Ok(phase) = phase {
            all.latencies.extend(phase.latencies);
            all.timeline.extend(phase.timeline);
            all.failures += phase.failures;
        }
    }
    all.elapsed = started.elapsed();
    all.latencies.sort();
    all.timeline.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    if std::env::var_os("CLINIC_LOAD_SLOWEST").is_some() {
        for (at, latency) in all.timeline.iter().take(8) {
            eprintln!("  slow: {:.1} ms at {at:.2} s", latency.as_secs_f64() * 1e3);
        }
    }
    all
}

/// How the attacker's posts were answered.
#[derive(Default)]
struct Answers {
    sent: AtomicUsize,
    not_sent: AtomicUsize,
    refused_password: AtomicUsize,
    refused_code: AtomicUsize,
    throttled: AtomicUsize,
    busy: AtomicUsize,
    errors: AtomicUsize,
    /// The attacker got in: must stay 0.
    signed_in: AtomicUsize,
    password_steps: AtomicUsize,
}

fn random_backup_code() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = [0u8; 10];
    let _ = getrandom::fill(&mut bytes);
    let symbols: String = bytes
        .iter()
        .filter_map(|b| ALPHABET.get(usize::from(*b) % ALPHABET.len()).copied())
        .map(char::from)
        .collect();
    format!("{}-{}", &symbols[..5], &symbols[5..])
}

/// One wrong password: for the known account, or a fresh unknown one.
async fn wrong_password(
    base: &str,
    i: u64,
    foothold: &Foothold,
    answers: &Answers,
) -> Result<(), Error> {
    let known = &foothold.email;
    let client = client(Some(foothold.address))?;
    let email = if i.is_multiple_of(4) {
        known.to_string()
    } else {
        format!("nobody-{i}@load.example")
    };
    let token = csrf(&client, &format!("{base}/signin")).await?;
    let response = client
        .post(format!("{base}/signin"))
        .form(&[
            ("email", email.as_str()),
            ("password", "not-the-password"),
            ("csrf", token.as_str()),
        ])
        .send()
        .await?;
    let status = response.status();
    let went = location(&response);
    let body = response.text().await.unwrap_or_default();
    let counter = if went == "/signin/second-step" || went == "/profile/security" {
        &answers.signed_in
    } else if body.contains("Too many") {
        &answers.throttled
    } else if status == 503 || body.contains("busy") {
        &answers.busy
    } else {
        &answers.refused_password
    };
    counter.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// The attacker's session at the second step of the account it holds the password of.
struct Foothold {
    /// The attacker's address.
    address: IpAddr,
    client: reqwest::Client,
    token: tokio::sync::Mutex<Option<String>>,
    renewing: AtomicBool,
    email: String,
    password: String,
}

impl Foothold {
    /// (Re)does the password step, at most one at a time.
    async fn renew(&self, base: &str, answers: &Answers) -> Result<(), Error> {
        if self.renewing.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        answers.password_steps.fetch_add(1, Ordering::Relaxed);
        let result = async {
            password_step(&self.client, base, &self.email, &self.password).await?;
            let token = csrf(&self.client, &format!("{base}/signin/second-step")).await?;
            *self.token.lock().await = Some(token);
            Ok::<_, Error>(())
        }
        .await;
        self.renewing.store(false, Ordering::SeqCst);
        result
    }
}

/// One wrong backup code in the attacker's session.
async fn wrong_code(base: &str, foothold: &Foothold, answers: &Answers) -> Result<(), Error> {
    let Some(token) = foothold.token.lock().await.clone() else {
        return foothold.renew(base, answers).await;
    };
    let response = foothold
        .client
        .post(format!("{base}/signin/second-step/backup"))
        .form(&[("code", random_backup_code()), ("csrf", token)])
        .send()
        .await?;
    let went = location(&response);
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if went == "/profile/security" {
        answers.signed_in.fetch_add(1, Ordering::Relaxed);
    } else if went == "/signin" || went.is_empty() && status == 403 {
        // The challenge is gone (or the token went stale): sign in again.
        *foothold.token.lock().await = None;
        answers.refused_code.fetch_add(1, Ordering::Relaxed);
    } else if status == 503 || body.contains("busy") {
        answers.busy.fetch_add(1, Ordering::Relaxed);
    } else {
        answers.refused_code.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Posts, open-loop, `rate` attacks per second until `stop` is set.
async fn attacker(
    base: String,
    rate: f64,
    attack: Attack,
    foothold: Arc<Foothold>,
    answers: Arc<Answers>,
    stop: Arc<AtomicBool>,
) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let start = tokio::time::Instant::now();
    let mut i: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at).await;
        i += 1;
        if in_flight.load(Ordering::SeqCst) >= MAX_IN_FLIGHT {
            answers.not_sent.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        answers.sent.fetch_add(1, Ordering::Relaxed);
        in_flight.fetch_add(1, Ordering::SeqCst);
        let (base, foothold, answers, in_flight) = (
            base.clone(),
            foothold.clone(),
            answers.clone(),
            in_flight.clone(),
        );
        tokio::spawn(async move {
            let password = match attack {
                Attack::Both => i.is_multiple_of(2),
                Attack::Passwords => true,
                Attack::Codes => false,
            };
            let result = if password {
                wrong_password(&base, i, &foothold, &answers).await
            } else {
                wrong_code(&base, &foothold, &answers).await
            };
            if result.is_err() {
                answers.errors.fetch_add(1, Ordering::Relaxed);
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Starts the server child and reads its users.
fn start_server(
    database_url: &str,
    users: usize,
) -> Result<(Server, String, Vec<Arc<User>>), Error> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "--serve",
            "--database-url",
            database_url,
            "--users",
            &users.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let server = Server { child };
    let mut port = None;
    let mut all = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["port", p] => port = Some(p.parse::<u16>()?),
            ["user", email, password, secret, step] => all.push(Arc::new(User {
                email: (*email).to_string(),
                password: (*password).to_string(),
                secret: Secret::from_base32(secret)?,
                // The setup spent the code of this step.
                last_step: AtomicU64::new(step.parse()?),
            })),
            ["ready"] => break,
            _ => return Err(format!("the server printed {line:?}").into()),
        }
    }
    let port = port.ok_or("the server exited before it was ready")?;
    Ok((server, format!("http://localhost:{port}"), all))
}

pub(crate) async fn run(options: MixedOptions) -> Result<(), Error> {
    let temp = std::env::temp_dir().join(format!("twofold-clinic-mixed-{}", std::process::id()));
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
    eprintln!(
        "mixed run on {backend}: setting up {} users in the server process…",
        options.users
    );
    let (server, base, mut users) = start_server(&database_url, options.users)?;
    let setup_rss = server.peak_rss_kib().unwrap_or(0);
    let held = users.pop().ok_or("no users")?;
    let address = attacker_address();
    let foothold = Arc::new(Foothold {
        address,
        client: client(Some(address))?,
        token: tokio::sync::Mutex::new(None),
        renewing: AtomicBool::new(false),
        email: held.email.clone(),
        password: held.password.clone(),
    });

    eprintln!("baseline: {} s…", options.seconds);
    let baseline = legitimate(&base, &users, options.seconds).await;
    let baseline_rss = server.peak_rss_kib().unwrap_or(0);

    // Ten times the legitimate rate: as measured, or as designed (each user
    // once per step) if the phase was too short to reach it.
    let attack_rate = (baseline.rate().max(users.len() as f64 / STEP) * 10.0).max(10.0);
    eprintln!(
        "with the attacker at {attack_rate:.0} posts/s: {} s…",
        options.seconds
    );
    let answers = Arc::new(Answers::default());
    let stop = Arc::new(AtomicBool::new(false));
    let attack = tokio::spawn(attacker(
        base.clone(),
        attack_rate,
        options.attack,
        foothold.clone(),
        answers.clone(),
        stop.clone(),
    ));
    let attacked = legitimate(&base, &users, options.seconds).await;
    stop.store(true, Ordering::SeqCst);
    let _ = attack.await;
    let peak_rss = server.peak_rss_kib().unwrap_or(0);
    let sent = answers.sent.load(Ordering::Relaxed);

    let ratio = attacked.p(0.99) / baseline.p(0.99).max(f64::MIN_POSITIVE);
    println!(
        "clinic-load mixed: {backend}: {} users, {} s per phase\n  \
         without the attacker: {} sign-ins ({} failed), {:.1}/s, p50 {:.1} ms, p99 {:.1} ms\n  \
         with the attacker:    {} sign-ins ({} failed), {:.1}/s, p50 {:.1} ms, p99 {:.1} ms\n  \
         p99 with / without: {ratio:.2} (target ≤ 2)\n  \
         attacker (from {}): {sent} posts at {attack_rate:.0}/s ({:.1}× the sign-in rate; {} not sent, in-flight cap); \
         answered: {} wrong password, {} throttled, {} wrong backup code, {} busy, {} errors, {} signed in; {} password steps of its own\n  \
         server peak RSS: {:.1} MiB after the setup, {:.1} MiB after the baseline, {:.1} MiB after the attack",
        users.len(),
        options.seconds,
        baseline.latencies.len(),
        baseline.failures,
        baseline.rate(),
        baseline.p(0.50),
        baseline.p(0.99),
        attacked.latencies.len(),
        attacked.failures,
        attacked.rate(),
        attacked.p(0.50),
        attacked.p(0.99),
        foothold.address,
        sent as f64 / options.seconds as f64 / baseline.rate().max(f64::MIN_POSITIVE),
        answers.not_sent.load(Ordering::Relaxed),
        answers.refused_password.load(Ordering::Relaxed),
        answers.throttled.load(Ordering::Relaxed),
        answers.refused_code.load(Ordering::Relaxed),
        answers.busy.load(Ordering::Relaxed),
        answers.errors.load(Ordering::Relaxed),
        answers.signed_in.load(Ordering::Relaxed),
        answers.password_steps.load(Ordering::Relaxed),
        setup_rss as f64 / 1024.0,
        baseline_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&temp);
    if baseline.latencies.is_empty() || attacked.latencies.is_empty() {
        return Err("no legitimate sign-in succeeded".into());
    }
    if answers.signed_in.load(Ordering::Relaxed) > 0 {
        return Err("the attacker signed in".into());
    }
    Ok(())
}
