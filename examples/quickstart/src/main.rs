//! Enroll an authenticator app from the terminal.
//!
//! Run with `cargo run -p twofold-quickstart`. It prints a fresh `otpauth://`
//! URI, its QR code (scan it with Google Authenticator, Authy or 1Password), the
//! manual-entry secret and the current code, which the app should show too.

use std::process::ExitCode;

use twofold_totp::{OtpAuthUri, Secret, Totp};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), twofold_totp::Error> {
    let secret = Secret::generate()?;
    let uri = OtpAuthUri::totp(Some("Smile Dental"), "ana@clinic.example", secret.clone())?;
    let params = uri.totp_params().unwrap_or_default();
    let totp = Totp::new(&secret, params);
    let now = twofold_totp::now();

    println!("otpauth URI:\n  {}\n", uri.to_uri_string());
    println!("{}", uri.to_qr_terminal()?);
    println!("Manual-entry secret: {}", secret.to_manual_entry());
    println!(
        "Current code:        {} (changes in {} s)",
        totp.generate(now)?,
        totp.seconds_remaining(now)
    );
    Ok(())
}
