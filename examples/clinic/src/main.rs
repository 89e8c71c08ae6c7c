//! The dental-clinic demo app.
//!
//! Run with `cargo run -p twofold-clinic`, then open http://localhost:3000.
//!
//! Options (or environment variables):
//! - `--port N` (`CLINIC_PORT`, default 3000);
//! - `--data-dir DIR` (`CLINIC_DATA_DIR`, default `./clinic-data`): the SQLite
//!   database and the key that seals TOTP secrets;
//! - `--database-url URL` (`CLINIC_DATABASE_URL`): `postgres://…` for PostgreSQL
//!   instead of the SQLite file;
//! - `--origin URL` (`CLINIC_ORIGIN`, default `http://localhost:PORT`): the address
//!   users type; an `https://` origin (behind a TLS proxy) makes cookies `Secure`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use twofold::SystemClock;
use twofold_clinic::{App, AppError, Config, SEED, StdoutLog};

struct Options {
    port: u16,
    data_dir: PathBuf,
    database_url: Option<String>,
    origin: Option<String>,
}

fn options() -> Result<Options, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut options = Options {
        port: 3000,
        data_dir: PathBuf::from(env("CLINIC_DATA_DIR").unwrap_or_else(|| "clinic-data".into())),
        database_url: env("CLINIC_DATABASE_URL"),
        origin: env("CLINIC_ORIGIN"),
    };
    let mut port = env("CLINIC_PORT");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = Some(value()?),
            "--data-dir" => options.data_dir = PathBuf::from(value()?),
            "--database-url" => options.database_url = Some(value()?),
            "--origin" => options.origin = Some(value()?),
            "-h" | "--help" => {
                return Err(
                    "usage: twofold-clinic [--port N] [--data-dir DIR] [--database-url URL] [--origin URL]"
                        .into(),
                );
            }
            other => return Err(format!("unknown option {other:?} (try --help)")),
        }
    }
    if let Some(port) = port {
        options.port = port
            .parse()
            .map_err(|_| format!("the port must be a number from 1 to 65535, not {port:?}"))?;
    }
    Ok(options)
}

async fn run(options: Options) -> Result<(), AppError> {
    std::fs::create_dir_all(&options.data_dir).map_err(|source| AppError::Io {
        path: options.data_dir.display().to_string(),
        source,
    })?;
    let database_url = options.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            options.data_dir.join("clinic.sqlite3").display()
        )
    });
    let secret_key = match std::env::var("CLINIC_SECRET_KEY") {
        Ok(hex) => twofold_clinic::parse_key(hex.trim())
            .ok_or_else(|| AppError::Config("CLINIC_SECRET_KEY must be 64 hex digits".into()))?,
        Err(_) => twofold_clinic::load_or_create_key(&options.data_dir.join("secret.key"))?,
    };
    let origin = options
        .origin
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{}", options.port));
    let app = App::start(Config {
        database_url: database_url.clone(),
        origin: origin.clone(),
        secret_key,
        clock: Arc::new(SystemClock),
        log: Arc::new(StdoutLog),
    })
    .await?;
    let seeded = app.seed().await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .map_err(|source| AppError::Io {
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
    println!(
        "{} demo accounts (email / password):",
        if seeded { "Created the" } else { "The" }
    );
    for (email, name, role, password) in SEED {
        println!("  {email:<22} {password:<18} {name} ({role})");
    }
    println!("Stop with Ctrl-C.");
    axum::serve(listener, twofold_clinic::router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|source| AppError::Io {
            path: "server".into(),
            source,
        })
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
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
