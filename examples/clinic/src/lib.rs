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
//!
//! It logs through `tracing`, with the facts as fields (an audit event's
//! `kind`, `organization`, `actor`, `subject`), and never a secret, code,
//! password or session id; the binaries choose where the events go
//! (`RUST_LOG`, standard error).
//!
//! The web layer is laid out as axum's examples and kanidm's web UI lay theirs:
//! `routes` (the router), `session` (the sign-in stage, one extractor per
//! stage), `handlers` (one module per area: sign-in, security, passkeys,
//! settings), `views` (askama templates, one per page, under `templates/`),
//! `error` (one error type, statuses mapped in one place) and `audit`.

mod assets;
mod audit;
mod csrf;
mod db;
mod error;
mod handlers;
mod keys;
mod lanes;
mod mail;
mod origin;
mod password;
mod policy;
mod routes;
mod session;
mod session_store;
mod slots;
mod throttle;
mod views;
mod words;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use twofold::{
    Clock, Keyring, Offload, OffloadError, OffloadPool, PasskeyConfig, SecretKey, TwoFactor,
    TwoFactorConfig,
};
use twofold_axum::{Paths, TwoFactorState};
use twofold_store_sqlx::SqlStore;

impl axum::extract::FromRef<App> for TwoFactorState {
    fn from_ref(app: &App) -> TwoFactorState {
        app.0.two_factor.clone()
    }
}

pub use db::{AuditEntry, AuditQuery, User};
pub use keys::{
    KeyError, NamedKey, load_or_create as load_or_create_keys, parse_key, parse_keys, private_dir,
    private_file,
};
pub use mail::{Mail, MailError};
pub use origin::{Origin, OriginError};
pub use routes::router;
pub use session_store::{DbSessions, IDLE_SECONDS, LIFETIME_SECONDS};

/// The demo clinic's id, as twofold's organization.
pub const CLINIC: &str = "smile-dental";

/// The seeded accounts: (email, name, role, test password). The app itself
/// seeds them with random passwords ([`App::seed`]); tests seed them with
/// these ([`App::seed_with`]).
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
pub enum StartError {
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// twofold's store failed.
    #[error("two-factor store error")]
    Store(#[from] twofold::StoreError),
    /// twofold's store could not be set up.
    #[error("two-factor store setup error")]
    StoreSetup(#[from] twofold_store_sqlx::SetupError),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The origin (`--origin`) is refused.
    #[error("invalid origin")]
    Origin(#[from] OriginError),
    /// The sealing keys are unusable.
    #[error("the keys in {place} are unusable")]
    Keys {
        /// Where they were read from: the key file or the variable.
        place: String,
        /// What is wrong with them.
        #[source]
        source: KeyError,
    },
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
    /// The mailer could not be set up.
    #[error("mail setup error")]
    Mail(#[from] MailError),
}

impl From<twofold::Failure> for StartError {
    fn from(failure: twofold::Failure) -> StartError {
        StartError::TwoFactor(failure.error)
    }
}

/// How to run the app.
pub struct Config {
    /// `sqlite://path?mode=rwc` or `postgres://…`.
    pub database_url: String,
    /// The origin users type into the browser (`http://localhost:3000`); passkeys are bound to it.
    pub origin: String,
    /// The keys that seal TOTP secrets at rest: the first is current, the
    /// others only open (see [`parse_keys`] for the format).
    pub keys: Vec<NamedKey>,
    /// The clock (injected so that tests and the load run can move time).
    pub clock: Arc<dyn Clock>,
    /// Where Argon2 runs (passwords and backup codes alike); `None`: an
    /// [`OffloadPool`] with a thread per core.
    pub offload: Option<Arc<dyn Offload>>,
    /// Whether the client's address is the last entry of `X-Forwarded-For`
    /// (behind a proxy that sets it) rather than the connection's peer.
    pub trust_forwarded_for: bool,
    /// Where security notifications go ([`Mail::Off`]: only listed on My Profile).
    pub mail: Mail,
}

/// The shared state behind every request.
#[derive(Clone)]
pub struct App(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    two_factor: TwoFactorState,
    pool: sqlx::AnyPool,
    audit: audit::Audit,
    sessions: DbSessions,
    offload: Arc<dyn Offload>,
    slot_key: [u8; 32],
    clock: Arc<dyn Clock>,
    secure_cookies: bool,
    trust_forwarded_for: bool,
    in_flight: throttle::InFlight,
    lanes: lanes::Lanes,
    mailer: Option<mail::Mailer>,
}

/// The clinic's name: the passkeys' relying party and the authenticator
/// apps' issuer.
pub(crate) const CLINIC_NAME: &str = "Smile Dental";

impl App {
    /// Connects to the database, creates the app's tables and twofold's, and
    /// builds the facade for `config.origin`.
    pub async fn start(config: Config) -> Result<App, StartError> {
        let origin = Origin::parse(&config.origin)?;
        let rp = origin.relying_party(CLINIC_NAME)?;
        let store = SqlStore::connect(&config.database_url).await?;
        // The app's own queries run on sqlx's Any driver (one code path for
        // both databases), in a pool beside the store's typed one.
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&config.database_url).await?;
        db::migrate(&pool).await?;
        let (current, older) = config
            .keys
            .split_first()
            .ok_or_else(|| StartError::Config("no sealing key".into()))?;
        let keyring = older.iter().fold(
            Keyring::new(SecretKey::new(&current.id, current.bytes)),
            |keyring, key| keyring.with_previous(SecretKey::new(&key.id, key.bytes)),
        );
        let offload = config
            .offload
            .unwrap_or_else(|| Arc::new(OffloadPool::default()));
        // The audit log is fed by the facade's event sink.
        let audit = audit::Audit::new(pool.clone());
        let two_factor = TwoFactor::new(
            Arc::new(store),
            keyring,
            TwoFactorConfig {
                default_policy: policy::clinic()?,
                ..TwoFactorConfig::new(CLINIC_NAME).with_passkeys(PasskeyConfig::new(rp))
            },
        )?
        .with_clock(config.clock.clone())
        .with_offload(Arc::clone(&offload))
        .with_event_sink(Arc::new(audit.clone()));
        let sessions = DbSessions::new(pool.clone(), config.clock.clone());
        let two_factor = TwoFactorState::new(Arc::new(two_factor))
            .with_clock(config.clock.clone())
            .with_paths(Paths {
                home: "/profile/security",
                ..Paths::default()
            })
            .with_fresh_password_seconds(password::REAUTH_SECONDS);
        let mailer = mail::Mailer::new(&config.mail, pool.clone())?;
        let app = App(Arc::new(Inner {
            two_factor,
            pool,
            audit,
            sessions,
            offload,
            slot_key: current.bytes,
            clock: config.clock,
            secure_cookies: origin.is_https(),
            trust_forwarded_for: config.trust_forwarded_for,
            in_flight: throttle::InFlight::default(),
            lanes: lanes::Lanes::default(),
            mailer,
        }));
        if app.0.mailer.is_some() {
            mail::spawn_worker(Arc::downgrade(&app.0));
        }
        Ok(app)
    }

    /// One round of security-notification delivery (the worker runs them
    /// every few seconds; tests call it to deliver now).
    pub async fn deliver_notifications(&self) -> Result<twofold::Delivered, twofold::Failure> {
        match &self.0.mailer {
            Some(mailer) => self.two_factor().deliver_notifications(mailer).await,
            None => Ok(twofold::Delivered::default()),
        }
    }

    /// The twofold facade.
    pub fn two_factor(&self) -> &TwoFactor {
        self.0.two_factor.two_factor()
    }

    /// The facade with the web settings of `twofold-axum` (stage paths, the
    /// fresh-password window).
    pub(crate) fn twofold(&self) -> &TwoFactorState {
        &self.0.two_factor
    }

    /// The database pool (the app's own tables sit beside twofold's).
    pub fn pool(&self) -> &sqlx::AnyPool {
        &self.0.pool
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> u64 {
        self.0.clock.now().as_unix_seconds()
    }

    /// Whether cookies are marked `Secure` (the origin is https, behind TLS).
    pub fn secure_cookies(&self) -> bool {
        self.0.secure_cookies
    }

    /// A log line from code that has no structured event of its own yet
    /// (`session.rs`); everything else calls `tracing` with fields.
    pub(crate) fn log(&self, line: &str) {
        tracing::info!("{line}");
    }

    /// The audit log.
    pub(crate) fn audit(&self) -> &audit::Audit {
        &self.0.audit
    }

    /// The sessions, for revoking a user's.
    pub fn sessions(&self) -> &DbSessions {
        &self.0.sessions
    }

    /// One Argon2 at a time per client address (see `lanes`).
    pub(crate) async fn hash_turn(&self, address: &str) -> lanes::Turn<'_> {
        self.0.lanes.turn(address).await
    }

    /// Password attempts in flight on this instance.
    pub(crate) fn in_flight(&self) -> &throttle::InFlight {
        &self.0.in_flight
    }

    pub(crate) fn slot_key(&self) -> &[u8; 32] {
        &self.0.slot_key
    }

    pub(crate) fn trust_forwarded_for(&self) -> bool {
        self.0.trust_forwarded_for
    }

    /// Runs `job` on the offload (off the executor, bounded with the facade's
    /// own Argon2 work).
    pub(crate) async fn offload<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, OffloadError> {
        let slot = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        self.0
            .offload
            .run(Box::new(move || {
                *out.lock().unwrap_or_else(PoisonError::into_inner) = Some(job());
            }))
            .await?;
        let value = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        value.ok_or(OffloadError::Lost)
    }

    /// Whether `password` matches `hash`, checked on the offload.
    pub(crate) async fn verify_password(
        &self,
        password: &str,
        hash: &str,
    ) -> Result<bool, OffloadError> {
        let (password, hash) = (
            zeroize::Zeroizing::new(password.to_string()),
            hash.to_string(),
        );
        self.offload(move || db::verify_password(&password, &hash))
            .await
    }

    async fn hash_password(&self, password: &str) -> Result<String, StartError> {
        let password = zeroize::Zeroizing::new(password.to_string());
        self.offload(move || db::hash_password(&password))
            .await
            .map_err(|error| StartError::Password(error.to_string()))?
    }

    /// Creates the demo clinic's accounts with fresh random passwords, if there
    /// are none yet: returns `(email, password)` of each, to show this once.
    pub async fn seed(&self) -> Result<Option<Vec<(String, String)>>, StartError> {
        let mut passwords = Vec::with_capacity(SEED.len());
        for _ in SEED {
            passwords.push(
                db::random_password().map_err(|error| StartError::Config(error.to_string()))?,
            );
        }
        let mut fresh = [""; 4];
        for (slot, password) in fresh.iter_mut().zip(&passwords) {
            *slot = password.as_str();
        }
        if !self.seed_with(&fresh).await? {
            return Ok(None);
        }
        Ok(Some(
            SEED.iter()
                .zip(passwords)
                .map(|((email, ..), password)| (email.to_string(), password))
                .collect(),
        ))
    }

    /// Creates the demo clinic's accounts with these passwords (in [`SEED`]'s
    /// order), if there are none yet. Returns whether it did.
    pub async fn seed_with(&self, passwords: &[&str; 4]) -> Result<bool, StartError> {
        if db::count_users(self.pool(), CLINIC).await? > 0 {
            return Ok(false);
        }
        for ((email, name, role, _), password) in SEED.iter().zip(passwords) {
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
    ) -> Result<String, StartError> {
        let hash = self.hash_password(password).await?;
        let id = db::random_id().map_err(|error| StartError::Config(error.to_string()))?;
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

    /// Sets a new password for the account with this email, and ends its
    /// sessions. Returns whether there is such an account.
    pub async fn set_password(&self, email: &str, password: &str) -> Result<bool, StartError> {
        let Some(user) = self.user_by_email(email).await? else {
            return Ok(false);
        };
        let hash = self.hash_password(password).await?;
        db::set_password_hash(self.pool(), &user.id, &hash).await?;
        self.sessions()
            .revoke_user(&user.id, None)
            .await
            .map_err(|error| StartError::Config(error.to_string()))?;
        Ok(true)
    }

    /// The account with this email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StartError> {
        Ok(db::user_by_email(self.pool(), email).await?)
    }

    /// The clinic's newest 500 audit entries.
    pub async fn audit_log(&self, clinic: &str) -> Result<Vec<AuditEntry>, StartError> {
        let query = AuditQuery {
            per_page: 500,
            ..AuditQuery::default()
        };
        Ok(db::audit_page(self.pool(), clinic, &query).await?.0)
    }

    /// Re-seals every TOTP secret under the current key (the key file format is in the README).
    pub async fn reseal(&self) -> Result<twofold::Resealed, StartError> {
        Ok(self.two_factor().reseal_all(100).await?)
    }
}

/// Serves `app` on `listener` until `shutdown` completes, with each request's
/// peer address (for password throttling).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
