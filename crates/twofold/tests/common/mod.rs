//! Shared test harness: a controllable clock, a recording event sink, and an
//! independent TOTP implementation (totp-lite) for computing codes.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use twofold::{
    Account, BackupConfig, Clock, Event, EventSink, HashParams, Keyring, MemoryStore,
    PasskeyConfig, RelyingParty, SecretKey, Store, TwoFactor, TwoFactorConfig,
};
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

pub const START: u64 = 1_767_225_615; // 2026-01-01T00:00:15Z
pub const ORIGIN: &str = "https://app.clinic.example";
pub const ORG: &str = "smile-dental";

pub struct TestClock(AtomicU64);

impl TestClock {
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Event>>);

impl EventSink for Recorder {
    fn record(&self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

pub struct Harness {
    pub twofold: Arc<TwoFactor>,
    pub clock: Arc<TestClock>,
    pub events: Arc<Recorder>,
    pub store: Arc<dyn Store>,
}

pub fn keyring() -> Keyring {
    Keyring::new(SecretKey::new("k1", [7u8; 32]))
}

pub fn config() -> TwoFactorConfig {
    let rp = RelyingParty::new("clinic.example", "Smile Dental", &[ORIGIN]).unwrap();
    let mut config = TwoFactorConfig::new("Smile Dental", PasskeyConfig::new(rp));
    // Cheap Argon2 so that tests are fast; the defaults are tested in twofold-backup.
    config.backup_codes = BackupConfig::default()
        .with_hash_params(HashParams::new(64, 1, 1).unwrap())
        .with_minimum_hash_params(HashParams::new(64, 1, 1).unwrap());
    config
}

pub fn harness_with(store: Arc<dyn Store>) -> Harness {
    let clock = Arc::new(TestClock(AtomicU64::new(START)));
    let events = Arc::new(Recorder::default());
    let twofold = TwoFactor::new(Arc::clone(&store), keyring(), config())
        .unwrap()
        .with_clock(clock.clone())
        .with_event_sink(events.clone());
    Harness {
        twofold: Arc::new(twofold),
        clock,
        events,
        store,
    }
}

pub fn harness() -> Harness {
    harness_with(Arc::new(MemoryStore::new()))
}

pub fn account<'a>(user: &'a str, role: &'a str) -> Account<'a> {
    Account {
        user,
        organization: ORG,
        role,
        name: user,
    }
}

/// The code an authenticator app shows at `time` for a manual-entry secret,
/// computed by totp-lite, not by twofold.
pub fn code(manual_entry_secret: &str, time: u64) -> String {
    let secret = twofold_totp::Secret::from_base32(manual_entry_secret).unwrap();
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, secret.expose_bytes(), time)
}

/// A 6-digit code that the authenticator app shows at no step within ±3 of
/// `time` (wider than any verification window here), so that it is wrong for certain.
pub fn wrong_code(manual_entry_secret: &str, time: u64) -> String {
    let near: Vec<String> = (0..=6)
        .map(|k| code(manual_entry_secret, (time + k * 30).saturating_sub(90)))
        .collect();
    (0..1_000_000u32)
        .map(|n| format!("{:06}", (n * 7_919 + 123_456) % 1_000_000))
        .find(|candidate| !near.contains(candidate))
        .unwrap()
}

/// Sets up an authenticator app for `account`; returns the manual-entry secret and the backup codes.
pub async fn enrol_totp(h: &Harness, account: &Account<'_>) -> (String, Vec<String>) {
    let setup = h
        .twofold
        .begin_totp_enrollment(account)
        .await
        .unwrap()
        .value;
    let now = h.clock.now();
    let confirmed = h
        .twofold
        .confirm_totp_enrollment(account, &code(&setup.manual_entry_secret, now))
        .await
        .unwrap()
        .value;
    let codes = confirmed
        .backup_codes
        .map(|c| c.iter().map(str::to_string).collect())
        .unwrap_or_default();
    // The confirming code's step is spent; move to the next step for sign-in tests.
    h.clock.advance(30);
    (setup.manual_entry_secret, codes)
}

/// What the page does for "Set up passkey": `create()` with the options, then
/// posts `credential.toJSON()`.
pub fn create_passkey(authenticator: &mut SoftPasskey, options: serde_json::Value) -> String {
    let request = serde_json::from_value(serde_json::json!({ "publicKey": options })).unwrap();
    let created = authenticator
        .do_registration(Url::parse(ORIGIN).unwrap(), request)
        .unwrap();
    serde_json::to_string(&created).unwrap()
}

/// What the page does for "use a passkey": `get()` with the options, then posts
/// `credential.toJSON()`.
pub fn use_passkey(authenticator: &mut SoftPasskey, options: serde_json::Value) -> String {
    let request = serde_json::from_value(serde_json::json!({ "publicKey": options })).unwrap();
    let assertion = authenticator
        .do_authentication(Url::parse(ORIGIN).unwrap(), request)
        .unwrap();
    serde_json::to_string(&assertion).unwrap()
}

/// Registers a new SoftPasskey named `name` for `account`.
pub async fn register_passkey(
    h: &Harness,
    account: &Account<'_>,
    name: &str,
) -> (SoftPasskey, twofold::Done<twofold::FactorConfirmed>) {
    let mut authenticator = SoftPasskey::new(true);
    let options = h
        .twofold
        .begin_passkey_registration(account)
        .await
        .unwrap()
        .value;
    let posted = create_passkey(&mut authenticator, options);
    let added = h
        .twofold
        .finish_passkey_registration(account, &posted, name)
        .await
        .unwrap();
    (authenticator, added)
}

/// A username-less sign-in response. SoftPasskey keeps no discoverable
/// credentials, so it is offered its key, as a browser would after the user
/// picks it, and given the user handle it does not store.
pub fn username_less_response(
    authenticator: &mut SoftPasskey,
    options: &serde_json::Value,
    id: &twofold::CredentialId,
    user: &str,
) -> String {
    let mut options = options.clone();
    options["allowCredentials"] =
        serde_json::json!([{ "type": "public-key", "id": id.to_base64url() }]);
    let mut posted: serde_json::Value =
        serde_json::from_str(&use_passkey(authenticator, options)).unwrap();
    posted["response"]["userHandle"] = serde_json::json!(
        <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(user.as_bytes())
    );
    posted.to_string()
}
