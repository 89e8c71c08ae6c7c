//! The dental-clinic demo app.
//!
//! Run with `cargo run -p twofold-clinic`, then open http://localhost:3000.
//! `--help` lists the options; see the clinic README for keys and passwords.
//! Log events go to standard error, filtered by `RUST_LOG` (default `info`).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use twofold::SystemClock;
use twofold_clinic::{App, Config, Mail, StartError};

/// The Smile Dental demo: sign-in with a second factor, as the clinic's staff
/// guide describes it.
#[derive(Debug, Parser)]
#[command(name = "twofold-clinic", version)]
struct Options {
    /// The port to serve on (on 127.0.0.1).
    #[arg(long, env = "CLINIC_PORT", default_value_t = 3000)]
    port: u16,
    /// Where the SQLite database and the key file live (created private: 0700).
    #[arg(long, env = "CLINIC_DATA_DIR", default_value = "clinic-data")]
    data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of the SQLite file.
    #[arg(long, env = "CLINIC_DATABASE_URL")]
    database_url: Option<String>,
    /// The address users type (default `http://localhost:PORT`); an `https://`
    /// origin (behind a TLS proxy) makes cookies `Secure`.
    #[arg(long, env = "CLINIC_ORIGIN")]
    origin: Option<String>,
    /// Sealing keys instead of the key file: `ID:HEX,ID:HEX`, the first current.
    #[arg(long, env = "CLINIC_SECRET_KEYS", hide_env_values = true)]
    secret_keys: Option<String>,
    /// Take the client's address from `X-Forwarded-For` (behind a proxy that sets it).
    #[arg(long, env = "CLINIC_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// Send security notifications through this SMTP server
    /// (`smtps://user:password@mail.example:465`); without it they are
    /// written as `.eml` files under `--mail-dir`.
    #[arg(long, env = "CLINIC_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Where notification emails are written when there is no SMTP server
    /// (default: `mail` in the data directory).
    #[arg(long, env = "CLINIC_MAIL_DIR")]
    mail_dir: Option<PathBuf>,
    /// Set the password of the account with this email, read from standard
    /// input (one line), end its sessions, and exit.
    #[arg(long, value_name = "EMAIL")]
    set_password: Option<String>,
    /// Re-seal every TOTP secret under the current key, report, and exit.
    #[arg(long)]
    reseal: bool,
}

async fn run(options: Options) -> Result<(), StartError> {
    twofold_clinic::private_dir(&options.data_dir)?;
    let database_url = match options.database_url.clone() {
        Some(url) => url,
        None => {
            let file = options.data_dir.join("clinic.sqlite3");
            twofold_clinic::private_file(&file)?;
            format!("sqlite://{}?mode=rwc", file.display())
        }
    };
    let keys = match &options.secret_keys {
        Some(text) => twofold_clinic::parse_keys(text, ',').map_err(|source| StartError::Keys {
            place: "--secret-keys (CLINIC_SECRET_KEYS)".into(),
            source,
        })?,
        None => twofold_clinic::load_or_create_keys(&options.data_dir.join("secret.key"))?,
    };
    let origin = options
        .origin
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{}", options.port));
    let app = App::start(Config {
        database_url: database_url.clone(),
        origin: origin.clone(),
        keys,
        clock: Arc::new(SystemClock),
        offload: None,
        trust_forwarded_for: options.trust_forwarded_for,
        mail: match (&options.smtp_url, &options.mail_dir) {
            (Some(url), _) => Mail::Smtp(url.clone()),
            (None, Some(dir)) => Mail::Files(dir.clone()),
            (None, None) => Mail::Files(options.data_dir.join("mail")),
        },
    })
    .await?;
    if let Some(email) = &options.set_password {
        let mut password = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut password)
            .map_err(|source| StartError::Io {
                path: "standard input".into(),
                source,
            })?;
        let password = password.trim_end_matches(['\r', '\n']);
        if password.chars().count() < 12 {
            return Err(StartError::Config(
                "a password has at least 12 characters".into(),
            ));
        }
        if !app.set_password(email, password).await? {
            return Err(StartError::Config(format!(
                "no account has the email {email}"
            )));
        }
        println!("The password of {email} is set; its sessions are ended.");
        return Ok(());
    }
    if options.reseal {
        let report = app.reseal().await?;
        println!(
            "Re-sealed {} of {} records under the current key.",
            report.rewritten, report.users
        );
        for (user, key) in &report.unreadable {
            println!("  user {user}: sealed under key {key:?}, which is not given: keep that key");
        }
        return Ok(());
    }
    let seeded = app.seed().await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .map_err(|source| StartError::Io {
            path: format!("127.0.0.1:{}", options.port),
            source,
        })?;
    let storage = if database_url.starts_with("sqlite:") {
        format!(
            "SQLite ({})",
            options.data_dir.join("clinic.sqlite3").display()
        )
    } else {
        "PostgreSQL".to_string()
    };
    println!("Smile Dental demo: {origin}  (storage: {storage})");
    match seeded {
        Some(accounts) => {
            println!("Created the demo accounts. Their passwords are shown this once:");
            for (email, password) in accounts {
                println!("  {email:<22} {password}");
            }
            println!(
                "Change one with: twofold-clinic --set-password EMAIL  (reads the new one from stdin)"
            );
        }
        None => println!(
            "Demo accounts: olivia@, adam@, sam@ and sara@smile.example (passwords as first printed)."
        ),
    }
    println!("Stop with Ctrl-C.");
    twofold_clinic::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|source| StartError::Io {
        path: "server".into(),
        source,
    })
}

/// Log events to standard error (standard output is the start-up printout),
/// as `RUST_LOG` says, or every `info` event and above.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    init_logging();
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("twofold-clinic: {message}");
            ExitCode::FAILURE
        }
    }
}
