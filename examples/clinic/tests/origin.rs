//! The origin (`--origin`, `CLINIC_ORIGIN`) as the app reads it: the address
//! users type, which passkeys are bound to.

#![cfg(test)]

mod common;

use std::sync::Arc;

use twofold_clinic::{App, Config, OriginError, StartError};

async fn start(origin: &str) -> Result<App, StartError> {
    let dir = common::temp_dir("twofold-clinic-origin");
    App::start(Config {
        database_url: format!("sqlite://{}?mode=rwc", dir.join("clinic.sqlite3").display()),
        origin: origin.to_string(),
        keys: vec![common::key("test-1", 7)],
        clock: Arc::new(twofold::SystemClock),
        offload: None,
        trust_forwarded_for: false,
        mail: twofold_clinic::Mail::Off,
    })
    .await
}

fn chain(error: &StartError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn an_ipv6_loopback_origin_is_read_as_its_address() {
    let error = start("http://[::1]:3000").await.err().unwrap();
    let text = chain(&error);
    assert!(
        text.contains("::1") && text.contains("IP address"),
        "{text}"
    );
}

#[tokio::test]
async fn an_ip_address_origin_is_refused_with_a_typed_error() {
    for (origin, address) in [
        ("http://[::1]:3000", "::1"),
        ("http://127.0.0.1:3000", "127.0.0.1"),
    ] {
        let error = start(origin).await.err().unwrap();
        assert!(
            matches!(&error, StartError::Origin(OriginError::IpAddress { address: a, .. })
                if a.to_string() == address),
            "{origin}: {error:?}"
        );
    }
}

#[tokio::test]
async fn localhost_and_an_https_domain_start_the_app() {
    let local = start("http://localhost:3000").await.unwrap();
    assert!(!local.secure_cookies());
    let behind_tls = start("https://clinic.example").await.unwrap();
    assert!(behind_tls.secure_cookies());
    // A trailing slash is the same origin.
    assert!(start("https://clinic.example/").await.is_ok());
}

#[tokio::test]
async fn malformed_origins_are_refused_with_a_typed_error() {
    for origin in [
        "",
        "localhost:3000",
        "http://",
        "ftp://clinic.example",
        "http://localhost:70000",
    ] {
        let error = start(origin).await.err().unwrap();
        assert!(
            matches!(
                &error,
                StartError::Origin(OriginError::NotAUrl { .. } | OriginError::Scheme { .. })
            ),
            "{origin:?}: {error:?}"
        );
    }
    for origin in [
        "https://clinic.example/app",
        "https://olivia@clinic.example",
    ] {
        let error = start(origin).await.err().unwrap();
        assert!(
            matches!(&error, StartError::Origin(OriginError::NotAnOrigin { .. })),
            "{origin:?}: {error:?}"
        );
    }
    // Plain http away from localhost: passkeys would not work there.
    let error = start("http://clinic.example").await.err().unwrap();
    assert!(
        matches!(&error, StartError::Origin(OriginError::Passkeys { .. })),
        "{error:?}"
    );
}
