//! The dental-clinic demo: a small server-rendered web application that embeds
//! twofold exactly as a customer would, following the clinic's staff guide
//! (`two-factor-authentication.md`) page by page.
//!
//! Run with `cargo run -p twofold-clinic` (SQLite in `./clinic-data/`), or with
//! `--database-url postgres://…` for PostgreSQL.
//!
//! The application owns what twofold does not: accounts and their Argon2id
//! password hashes, sessions (tower-sessions), CSRF tokens, the pages, and an
//! audit log fed by twofold's events.

mod csrf;
mod db;
mod html;
mod web;

use std::sync::{Arc, Mutex};

use twofold::{Clock, Keyring, PasskeyConfig, RelyingParty, SecretKey, TwoFactor, TwoFactorConfig};
use twofold_store_sqlx::SqlStore;

pub use db::{AuditEntry, User};
pub use web::router;

/// The demo clinic's id, as twofold's organisation.
pub const CLINIC: &str = "smile-dental";

/// The seeded accounts: (email, name, role, demo password).
pub const SEED: [(&str, &str, &str, &str); 4] = [
    (
        "olivia@smile.example",
        "Olivia Owner",
        "owner",
        "owner-demo-pass",
    ),
    (
        "adam@smile.example",
        "Adam Admin",
        "admin",
        "admin-demo-pass",
    ),
    (
        "sam@smile.example",
        "Sam Staff",
        "staff",
        "staff-demo-pass-1",
    ),
    (
        "sara@smile.example",
        "Sara Staff",
        "staff",
        "staff-demo-pass-2",
    ),
];

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// twofold's store failed.
    #[error("two-factor store error")]
    Store(#[from] twofold::StoreError),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A password could not be hashed.
    #[error("password hashing failed: {0}")]
    Password(String),
    /// twofold refused an operation.
    #[error("two-factor error")]
    TwoFactor(#[from] twofold::TwoFactorError),
}

/// Where log lines go. The app logs audit events and request outcomes, never a
/// secret, code or password.
pub trait Log: Send + Sync {
    /// Writes one line.
    fn line(&self, line: &str);
}

/// Logs to standard output.
#[derive(Debug, Default)]
pub struct StdoutLog;

impl Log for StdoutLog {
    fn line(&self, line: &str) {
        println!("{line}");
    }
}

/// Keeps log lines in memory (for tests that check that no secret is logged).
#[derive(Debug, Default)]
pub struct MemoryLog(Mutex<Vec<String>>);

impl MemoryLog {
    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|lines| lines.clone()).unwrap_or_default()
    }
}

impl Log for MemoryLog {
    fn line(&self, line: &str) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line.to_string());
        }
    }
}

/// How to run the app.
pub struct Config {
    /// `sqlite://path?mode=rwc` or `postgres://…`.
    pub database_url: String,
    /// The origin users type into the browser (`http://localhost:3000`); passkeys are bound to it.
    pub origin: String,
    /// The 32-byte key that seals TOTP secrets at rest.
    pub secret_key: [u8; 32],
    /// The clock (injected so that tests and the load run can move time).
    pub clock: Arc<dyn Clock>,
    /// Where log lines go.
    pub log: Arc<dyn Log>,
}

/// The shared state behind every request.
#[derive(Clone)]
pub struct App(Arc<Inner>);

struct Inner {
    two_factor: TwoFactor,
    store: SqlStore,
    clock: Arc<dyn Clock>,
    log: Arc<dyn Log>,
    secure_cookies: bool,
}

impl App {
    /// Connects to the database, creates the app's tables and twofold's, and
    /// builds the facade for `config.origin`.
    pub async fn start(config: Config) -> Result<App, AppError> {
        let url = url_host(&config.origin)
            .ok_or_else(|| AppError::Config(format!("origin {:?} has no host", config.origin)))?;
        let rp = RelyingParty::new(&url, "Smile Dental", &[config.origin.as_str()])
            .map_err(|error| AppError::Config(error.to_string()))?;
        let store = SqlStore::connect(&config.database_url).await?;
        db::migrate(store.pool()).await?;
        let keyring = Keyring::new(SecretKey::new("clinic-1", config.secret_key));
        let two_factor = TwoFactor::new(
            Arc::new(store.clone()),
            keyring,
            TwoFactorConfig::new("Smile Dental", PasskeyConfig::new(rp)),
        )?
        .with_clock(config.clock.clone());
        Ok(App(Arc::new(Inner {
            two_factor,
            store,
            clock: config.clock,
            log: config.log,
            secure_cookies: config.origin.starts_with("https://"),
        })))
    }

    /// The twofold facade.
    pub fn two_factor(&self) -> &TwoFactor {
        &self.0.two_factor
    }

    /// The database pool (the app's own tables sit beside twofold's).
    pub fn pool(&self) -> &sqlx::AnyPool {
        self.0.store.pool()
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> u64 {
        self.0.clock.now()
    }

    /// Whether cookies are marked `Secure` (the origin is https, behind TLS).
    pub fn secure_cookies(&self) -> bool {
        self.0.secure_cookies
    }

    pub(crate) fn log(&self, line: &str) {
        self.0.log.line(line);
    }

    /// Creates the demo clinic's accounts if there are none yet. Returns whether it did.
    pub async fn seed(&self) -> Result<bool, AppError> {
        if db::count_users(self.pool(), CLINIC).await? > 0 {
            return Ok(false);
        }
        for (email, name, role, password) in SEED {
            self.create_user(CLINIC, email, name, role, password)
                .await?;
        }
        Ok(true)
    }

    /// Creates an account with an Argon2id password hash; returns its id.
    pub async fn create_user(
        &self,
        clinic: &str,
        email: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> Result<String, AppError> {
        let hash = db::hash_password(password)?;
        let id = db::random_id().map_err(|error| AppError::Config(error.to_string()))?;
        db::insert_user(
            self.pool(),
            &User {
                id: id.clone(),
                clinic: clinic.to_string(),
                email: email.to_string(),
                name: name.to_string(),
                role: role.to_string(),
                password_hash: hash,
            },
        )
        .await?;
        Ok(id)
    }

    /// The account with this email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, AppError> {
        Ok(db::user_by_email(self.pool(), email).await?)
    }

    /// The clinic's audit log, newest first.
    pub async fn audit_log(&self, clinic: &str) -> Result<Vec<AuditEntry>, AppError> {
        Ok(db::audit_log(self.pool(), clinic).await?)
    }
}

/// The host of an origin (`http://localhost:3000` → `localhost`).
fn url_host(origin: &str) -> Option<String> {
    let rest = origin.split_once("://")?.1;
    let host = rest.split(['/', ':']).next()?;
    (!host.is_empty()).then(|| host.to_string())
}

/// Reads the sealing key from `path` (64 hex digits), creating it with fresh
/// randomness on the first run.
pub fn load_or_create_key(path: &std::path::Path) -> Result<[u8; 32], AppError> {
    let io = |source| AppError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(text.trim()).ok_or_else(|| {
            AppError::Config(format!("{} does not hold 64 hex digits", path.display()))
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|error| AppError::Config(error.to_string()))?;
            let text: String = key.iter().map(|b| format!("{b:02x}")).collect();
            std::fs::write(path, text + "\n").map_err(io)?;
            Ok(key)
        }
        Err(error) => Err(io(error)),
    }
}

/// 64 hex digits → 32 bytes.
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_hosts() {
        assert_eq!(
            url_host("http://localhost:3000").as_deref(),
            Some("localhost")
        );
        assert_eq!(
            url_host("https://clinic.example/app").as_deref(),
            Some("clinic.example")
        );
        assert_eq!(url_host("localhost"), None);
        assert_eq!(url_host("http://"), None);
    }

    #[test]
    fn keys_parse() {
        let hex = "00ff".repeat(16);
        let key = parse_key(&hex).unwrap();
        assert_eq!(key[0], 0);
        assert_eq!(key[1], 0xff);
        assert_eq!(parse_key("00ff"), None);
        assert_eq!(parse_key(&"zz".repeat(32)), None);
        assert_eq!(parse_key(&"é".repeat(32)), None);
    }
}
