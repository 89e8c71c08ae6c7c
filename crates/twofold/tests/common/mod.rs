//! Shared test harness: a controllable clock, a recording event sink, and an
//! independent TOTP implementation (totp-lite) for computing codes.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use twofold::{
    Account, BackupConfig, Clock, Event, EventSink, Keyring, MemoryStore, PasskeyConfig,
    PolicyDocument, RelyingParty, SecretKey, SinkFuture, Store, Timestamp, TwoFactor,
    TwoFactorConfig,
};
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

pub const START: u64 = 1_767_225_615; // 2026-01-01T00:00:15Z
pub const ORIGIN: &str = "https://app.clinic.example";
pub const ORG: &str = "smile-dental";

/// A time as tests write it: Unix seconds, or the facade's `Timestamp`.
pub trait UnixSeconds {
    fn unix_seconds(self) -> u64;
}

impl UnixSeconds for u64 {
    fn unix_seconds(self) -> u64 {
        self
    }
}

impl UnixSeconds for Timestamp {
    fn unix_seconds(self) -> u64 {
        self.as_unix_seconds()
    }
}

/// The facade's own `ManualClock` (behind `memory-store`).
pub type TestClock = twofold::ManualClock;

#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Event>>);

impl EventSink for Recorder {
    fn record<'a>(&'a self, event: &'a Event) -> SinkFuture<'a> {
        self.0.lock().unwrap().push(event.clone());
        Box::pin(std::future::ready(()))
    }
}

pub struct Harness {
    pub twofold: Arc<TwoFactor>,
    pub clock: Arc<TestClock>,
    pub events: Arc<Recorder>,
    pub store: Arc<dyn Store>,
    /// The store, when it is a `MemoryStore` (`harness()`), for `contents()`.
    pub memory: Option<Arc<MemoryStore>>,
}

pub fn keyring() -> Keyring {
    Keyring::new(SecretKey::new("k1", [7u8; 32]))
}

pub fn config() -> TwoFactorConfig {
    let rp = RelyingParty::new("clinic.example", "Smile Dental", &[ORIGIN]).unwrap();
    let mut config = TwoFactorConfig::new("Smile Dental").with_passkeys(PasskeyConfig::new(rp));
    // Cheap Argon2 so that tests are fast; the defaults are tested in twofold-backup.
    config.backup_codes = BackupConfig::dangerous_insecure_for_tests();
    // The suite is written around the clinic's roles (owner, admin, staff); the
    // library's own default, the neutral policy, is tested in `roles.rs`.
    config.default_policy = PolicyDocument::example_clinic();
    config
}

pub fn harness_with(store: Arc<dyn Store>) -> Harness {
    harness_with_keyring(store, keyring(), START)
}

/// A facade over `store` sealing with `keyring`, its clock at `now`.
pub fn harness_with_keyring(
    store: Arc<dyn Store>,
    keyring: Keyring,
    now: impl UnixSeconds,
) -> Harness {
    let now = now.unix_seconds();
    harness_with_config(store, keyring, now, config())
}

/// A facade over `store` with `config`.
pub fn harness_with_config(
    store: Arc<dyn Store>,
    keyring: Keyring,
    now: u64,
    config: TwoFactorConfig,
) -> Harness {
    harness_with_offload(store, keyring, now, config, None)
}

/// A facade over `store` with `config`, and `offload` if given.
pub fn harness_with_offload(
    store: Arc<dyn Store>,
    keyring: Keyring,
    now: impl UnixSeconds,
    config: TwoFactorConfig,
    offload: Option<Arc<dyn twofold::Offload>>,
) -> Harness {
    let clock = Arc::new(TestClock::new(Timestamp::from_unix_seconds(
        now.unix_seconds(),
    )));
    let events = Arc::new(Recorder::default());
    let mut twofold = TwoFactor::new(Arc::clone(&store), keyring, config)
        .unwrap()
        .with_clock(clock.clone())
        .with_event_sink(events.clone());
    if let Some(offload) = offload {
        twofold = twofold.with_offload(offload);
    }
    Harness {
        twofold: Arc::new(twofold),
        clock,
        events,
        store,
        memory: None,
    }
}

pub fn harness() -> Harness {
    let memory = Arc::new(MemoryStore::new());
    Harness {
        memory: Some(Arc::clone(&memory)),
        ..harness_with(memory)
    }
}

/// The harness's `MemoryStore`.
pub fn memory(h: &Harness) -> &MemoryStore {
    h.memory.as_deref().expect("a harness() over a MemoryStore")
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
pub fn code(manual_entry_secret: &str, time: impl UnixSeconds) -> String {
    let time = time.unix_seconds();
    let secret = twofold_totp::Secret::from_base32(manual_entry_secret).unwrap();
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, secret.expose_bytes(), time)
}

/// A 6-digit code that the authenticator app shows at no step within ±3 of
/// `time` (wider than any verification window here), so that it is wrong for certain.
pub fn wrong_code(manual_entry_secret: &str, time: impl UnixSeconds) -> String {
    let time = time.unix_seconds();
    let near: Vec<String> = (0..=6)
        .map(|k| code(manual_entry_secret, (time + k * 30).saturating_sub(90)))
        .collect();
    (0..1_000_000u32)
        .map(|n| format!("{:06}", (n * 7_919 + 123_456) % 1_000_000))
        .find(|candidate| !near.contains(candidate))
        .unwrap()
}

/// Sets up an authenticator app for `account`; returns the manual-entry secret and the backup codes.
pub async fn enroll_totp(h: &Harness, account: &Account<'_>) -> (String, Vec<String>) {
    let setup = h
        .twofold
        .begin_totp_enrollment(account, Some(h.clock.now()))
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
        .begin_passkey_registration(account, Some(h.clock.now()))
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

/// Which store call an [`Interpose`] sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    LoadUser,
    SaveUser,
    DeleteUser,
    CredentialOwner,
    ExpiredUsers,
    UsersToNotify,
    ListUsers,
    InsertCeremony,
    TakeCeremony,
    CountCeremonies,
    PurgeExpired,
    LoadOrganization,
    SaveOrganization,
}

impl Call {
    /// A write whose version or key can make it lose (`Conflict`).
    pub fn is_conditional_write(self) -> bool {
        matches!(
            self,
            Call::SaveUser | Call::DeleteUser | Call::InsertCeremony | Call::SaveOrganization
        )
    }

    /// A call that changes what is stored.
    pub fn is_write(self) -> bool {
        self.is_conditional_write() || matches!(self, Call::TakeCeremony | Call::PurgeExpired)
    }
}

/// Sees every call of a [`Wrapped`] store: `start` starts the inner call (a
/// MemoryStore does its work when called, so a call that must not reach the
/// store is never started).
pub trait Interpose: Send + Sync {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call,
        start: impl FnOnce() -> twofold::StoreFuture<'a, T> + Send + 'a,
    ) -> twofold::StoreFuture<'a, T>;
}

/// A MemoryStore whose every call passes through `hook`.
pub struct Wrapped<I> {
    pub inner: MemoryStore,
    pub hook: I,
}

impl<I: Interpose> Wrapped<I> {
    pub fn new(hook: I) -> Wrapped<I> {
        Wrapped {
            inner: MemoryStore::new(),
            hook,
        }
    }
}

impl<I: Interpose> Store for Wrapped<I> {
    fn load_user<'a>(
        &'a self,
        user: &'a str,
    ) -> twofold::StoreFuture<'a, Option<twofold::Versioned<twofold::store::UserRecord>>> {
        self.hook
            .call(Call::LoadUser, || self.inner.load_user(user))
    }
    fn save_user<'a>(
        &'a self,
        user: &'a str,
        record: &'a twofold::store::UserRecord,
        expected: Option<twofold::Version>,
        credentials: twofold::CredentialChanges<'a>,
    ) -> twofold::StoreFuture<'a, twofold::Version> {
        self.hook.call(Call::SaveUser, move || {
            self.inner.save_user(user, record, expected, credentials)
        })
    }
    fn delete_user<'a>(
        &'a self,
        user: &'a str,
        expected: twofold::Version,
    ) -> twofold::StoreFuture<'a, ()> {
        self.hook.call(Call::DeleteUser, move || {
            self.inner.delete_user(user, expected)
        })
    }
    fn credential_owner<'a>(
        &'a self,
        id: &'a twofold::CredentialId,
    ) -> twofold::StoreFuture<'a, Option<String>> {
        self.hook
            .call(Call::CredentialOwner, || self.inner.credential_owner(id))
    }
    fn expired_users<'a>(
        &'a self,
        now: Timestamp,
        limit: usize,
    ) -> twofold::StoreFuture<'a, Vec<String>> {
        self.hook.call(Call::ExpiredUsers, move || {
            self.inner.expired_users(now, limit)
        })
    }
    fn users_to_notify<'a>(
        &'a self,
        now: Timestamp,
        limit: usize,
    ) -> twofold::StoreFuture<'a, Vec<String>> {
        self.hook.call(Call::UsersToNotify, move || {
            self.inner.users_to_notify(now, limit)
        })
    }
    fn list_users<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> twofold::StoreFuture<'a, Vec<String>> {
        self.hook
            .call(Call::ListUsers, move || self.inner.list_users(after, limit))
    }
    fn insert_ceremony<'a>(
        &'a self,
        id: &'a str,
        ceremony: &'a twofold::store::CeremonyRecord,
    ) -> twofold::StoreFuture<'a, ()> {
        self.hook.call(Call::InsertCeremony, || {
            self.inner.insert_ceremony(id, ceremony)
        })
    }
    fn take_ceremony<'a>(
        &'a self,
        id: &'a str,
    ) -> twofold::StoreFuture<'a, Option<twofold::store::CeremonyRecord>> {
        self.hook
            .call(Call::TakeCeremony, || self.inner.take_ceremony(id))
    }
    fn count_ceremonies<'a>(&'a self, organization: &'a str) -> twofold::StoreFuture<'a, u64> {
        self.hook.call(Call::CountCeremonies, || {
            self.inner.count_ceremonies(organization)
        })
    }
    fn purge_expired<'a>(&'a self, now: Timestamp) -> twofold::StoreFuture<'a, u64> {
        self.hook
            .call(Call::PurgeExpired, move || self.inner.purge_expired(now))
    }
    fn load_organization<'a>(
        &'a self,
        organization: &'a str,
    ) -> twofold::StoreFuture<'a, Option<twofold::Versioned<twofold::store::OrganizationRecord>>>
    {
        self.hook.call(Call::LoadOrganization, || {
            self.inner.load_organization(organization)
        })
    }
    fn save_organization<'a>(
        &'a self,
        organization: &'a str,
        record: &'a twofold::store::OrganizationRecord,
        expected: Option<twofold::Version>,
    ) -> twofold::StoreFuture<'a, twofold::Version> {
        self.hook.call(Call::SaveOrganization, move || {
            self.inner.save_organization(organization, record, expected)
        })
    }
}

/// A registration response, rewritten to carry credential id `id`: an attacker
/// controls their authenticator and the browser side.
pub fn with_credential_id(registration_json: &str, id: &[u8]) -> String {
    let mut posted: serde_json::Value = serde_json::from_str(registration_json).unwrap();
    let object = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(
        posted["response"]["attestationObject"].as_str().unwrap(),
    )
    .unwrap();
    let mut cbor: serde_cbor_2::Value = serde_cbor_2::from_slice(&object).unwrap();
    let serde_cbor_2::Value::Map(map) = &mut cbor else {
        panic!("attestation object")
    };
    // The relying party asks for no attestation, so a browser may replace the
    // authenticator's statement with "none", as this does: then nothing signs
    // the authenticator data.
    map.insert(
        serde_cbor_2::Value::Text("fmt".into()),
        serde_cbor_2::Value::Text("none".into()),
    );
    map.insert(
        serde_cbor_2::Value::Text("attStmt".into()),
        serde_cbor_2::Value::Map(Default::default()),
    );
    let Some(serde_cbor_2::Value::Bytes(auth_data)) =
        map.get_mut(&serde_cbor_2::Value::Text("authData".into()))
    else {
        panic!("authData")
    };
    // rpIdHash 32, flags 1, signCount 4, AAGUID 16, then the id's length and the id.
    let length = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
    let mut forged = auth_data[..53].to_vec();
    forged.extend_from_slice(&u16::try_from(id.len()).unwrap().to_be_bytes());
    forged.extend_from_slice(id);
    forged.extend_from_slice(&auth_data[55 + length..]);
    *auth_data = forged;
    posted["response"]["attestationObject"] = serde_json::json!(
        <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(
            &serde_cbor_2::to_vec(&cbor).unwrap()
        )
    );
    posted["id"] =
        serde_json::json!(<base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(id));
    posted["rawId"] =
        serde_json::json!(<base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(id));
    posted.to_string()
}
