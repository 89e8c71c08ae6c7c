//! Starts the clinic app in-process on a free loopback port, with a clock the
//! test moves and a log the test reads.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use twofold::Clock;
use twofold_clinic::{App, Config};

/// The log events of every app in this test binary, formatted as the binary
/// prints them (one subscriber per process: the apps of parallel tests share
/// it, which only makes "nothing secret was logged" checks stricter).
#[derive(Debug, Default)]
pub struct Log(Mutex<Vec<u8>>);

impl Log {
    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

struct LogWriter(Arc<Log>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log, with the subscriber that fills it installed on first use.
pub fn log() -> Arc<Log> {
    static LOG: OnceLock<Arc<Log>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Log::default());
        let sink = Arc::clone(&log);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(move || LogWriter(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        log
    })
    .clone()
}

/// A clock the test moves: twofold's `ManualClock`.
pub type TestClock = twofold::ManualClock;

/// A clock standing at `now` (Unix seconds), to share with the app.
pub fn clock_at(now: u64) -> Arc<TestClock> {
    Arc::new(TestClock::new(twofold::Timestamp::from_unix_seconds(now)))
}

/// The clock's time in Unix seconds, as codes are computed.
pub fn seconds(clock: &TestClock) -> u64 {
    clock.now().as_unix_seconds()
}

/// A running app.
pub struct Running {
    /// `http://localhost:PORT`.
    pub base: String,
    /// The app.
    pub app: App,
    /// Every log line (of every app in this test binary).
    pub log: Arc<Log>,
    /// The data directory (removed by the test when it passes).
    pub dir: PathBuf,
}

/// A fresh temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts the app on SQLite in a temporary directory, seeded, with `origin_scheme` "http".
pub async fn start(clock: Arc<dyn Clock>) -> Running {
    start_with(clock, None).await
}

/// Starts the app with an explicit origin (for example `https://localhost:PORT`).
pub async fn start_with(clock: Arc<dyn Clock>, https: Option<()>) -> Running {
    start_custom(Options {
        clock,
        https: https.is_some(),
        ..Options::default()
    })
    .await
}

/// How to start the app in a test.
pub struct Options {
    pub clock: Arc<dyn Clock>,
    pub https: bool,
    /// An existing data directory (a restart), or a fresh one.
    pub dir: Option<PathBuf>,
    pub keys: Vec<twofold_clinic::NamedKey>,
    pub offload: Option<Arc<dyn twofold::Offload>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            clock: Arc::new(twofold::SystemClock),
            https: false,
            dir: None,
            keys: vec![key("test-1", 7)],
            offload: None,
        }
    }
}

/// A sealing key named `id`, every byte `byte`.
pub fn key(id: &str, byte: u8) -> twofold_clinic::NamedKey {
    twofold_clinic::NamedKey {
        id: id.into(),
        bytes: [byte; 32],
    }
}

/// Starts the app as `options` say, seeded with the test passwords (unless
/// the directory holds a seeded database already).
pub async fn start_custom(options: Options) -> Running {
    let dir = options
        .dir
        .clone()
        .unwrap_or_else(|| temp_dir("twofold-clinic-test"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let scheme = if options.https { "https" } else { "http" };
    let base = format!("http://localhost:{port}");
    let log = log();
    let app = App::start(Config {
        database_url: format!("sqlite://{}?mode=rwc", dir.join("clinic.sqlite3").display()),
        origin: format!("{scheme}://localhost:{port}"),
        keys: options.keys,
        clock: options.clock,
        offload: options.offload,
        trust_forwarded_for: false,
        mail: twofold_clinic::Mail::Files(dir.join("mail")),
    })
    .await
    .unwrap();
    let seeded = app.seed_with(&test_passwords()).await.unwrap();
    assert_eq!(
        seeded,
        options.dir.is_none(),
        "seeded only a fresh directory"
    );
    let served = app.clone();
    tokio::spawn(async move {
        let _ = twofold_clinic::serve(listener, served, std::future::pending()).await;
    });
    Running {
        base,
        app,
        log,
        dir,
    }
}

/// The emails the app wrote to its mail directory (the demo's file
/// transport), as text, in no particular order.
pub fn mails(running: &Running) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(running.dir.join("mail")) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect()
}

/// Sets up an authenticator app for `email` through the facade (as another
/// session would); returns the secret.
pub async fn enroll(running: &Running, email: &str) -> String {
    enroll_with_codes(running, email).await.0
}

/// The same; returns the secret and the backup codes.
pub async fn enroll_with_codes(running: &Running, email: &str) -> (String, Vec<String>) {
    let user = running.app.user_by_email(email).await.unwrap().unwrap();
    let account = twofold::Account {
        user: &user.id,
        organization: &user.clinic,
        role: &user.role,
        name: &user.email,
    };
    let tf = running.app.two_factor();
    let setup = tf
        .begin_totp_enrollment(
            &account,
            Some(twofold::Timestamp::from_unix_seconds(running.app.now())),
        )
        .await
        .unwrap()
        .value;
    let code = code_at(&setup.manual_entry_secret, running.app.now());
    let confirmed = tf.confirm_totp_enrollment(&account, &code).await.unwrap();
    let codes = confirmed
        .value
        .backup_codes
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    (setup.manual_entry_secret, codes)
}

/// The seeded accounts' passwords in tests: those of `SEED`.
pub fn test_passwords() -> [&'static str; 4] {
    twofold_clinic::SEED.map(|(_, _, _, password)| password)
}

/// Now, aligned to 5 s into a 30 s TOTP step (so that a code computed "now"
/// stays in its step while the test works).
pub fn aligned_now() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    now / 30 * 30 + 5
}

/// Whether this run must not skip tests that need outside tools (CI sets `CI`).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A skip notice that shows even when the test harness captures output.
pub fn skip_notice(message: &str) {
    use std::io::Write;
    let line = format!("SKIPPED: {message}\n");
    if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/stderr") {
        let _ = tty.write_all(line.as_bytes());
    } else {
        eprint!("{line}");
    }
}

// ----- HTTP helpers shared by the test files -----

/// A browser: a cookie jar, and redirects left to the test.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A response's `Location` (empty if none).
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The CSRF token of a page (its `csrf-token` meta tag, on every page).
pub fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf-token" content=""#;
    let start = page.find(marker).expect("a CSRF meta tag") + marker.len();
    page[start..][..page[start..].find('"').unwrap()].to_string()
}

/// The CSRF token of the page at `path`, fetched with `client`.
pub async fn token(client: &reqwest::Client, base: &str, path: &str) -> String {
    csrf_of(
        &client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
}

/// The TOTP code of a base32 `secret` (spaces allowed) at `time`, from
/// totp-lite (an independent implementation).
pub fn code_at(secret: &str, time: u64) -> String {
    let secret: String = secret.split_whitespace().collect();
    let key = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &secret).unwrap();
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &key, time)
}
