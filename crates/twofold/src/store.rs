//! The storage seam: the `Store` trait, its records, and `MemoryStore`.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use twofold_passkey::CredentialId;
#[cfg(feature = "passkey")]
use twofold_passkey::{AuthenticationState, PasskeyCredential, RegistrationState};
use twofold_policy::{Method, PolicyDocument, Timestamp};
use twofold_totp::TotpParams;

use crate::crypto::SealedSecret;
use crate::events::Factor;
use crate::notify::Notice;

/// A record's version, for optimistic concurrency. Every successful write
/// returns the next one.
pub type Version = u64;

/// The future a [`Store`] method returns: boxed, so that the trait is object-safe
/// and usable as `Arc<dyn Store>`, and `Send`, so that it runs on any executor.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A value and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version: pass it back to write conditionally.
    pub version: Version,
}

/// A user's record and an organization's settings, each if it exists:
/// what [`Store::load_user_and_organization`] reads.
pub type UserAndOrganization = (
    Option<Versioned<UserRecord>>,
    Option<Versioned<OrganizationRecord>>,
);

/// The one error type of a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A conditional write lost: the record changed (or appeared, or vanished)
    /// since it was read. The facade re-reads and retries, or reports it.
    #[error("the record changed since it was read")]
    Conflict,
    /// A stored record could not be read back (corrupt or tampered with).
    #[error("the stored {what} is corrupt")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// What is wrong (the decoder's error).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A write would bind a passkey credential id that is already bound to
    /// another user; nothing was written.
    #[error("the passkey credential is registered to another user")]
    CredentialInUse,
    /// The backend failed (connection, I/O, …); its error is the source.
    #[error("the store backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Passkey credential ids that a user write binds to its user, or unbinds, in
/// the same atomic step as the record: the store's credential index (credential
/// id → user), which keeps every credential id bound to at most one user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CredentialChanges<'a> {
    /// Ids to bind to the user (already bound to the same user: nothing to do).
    pub bind: &'a [CredentialId],
    /// Ids to unbind from the user.
    pub unbind: &'a [CredentialId],
}

impl CredentialChanges<'_> {
    /// No change to the index: the common write.
    pub const NONE: CredentialChanges<'static> = CredentialChanges {
        bind: &[],
        unbind: &[],
    };

    /// Whether there is nothing to bind or unbind.
    pub fn is_empty(&self) -> bool {
        self.bind.is_empty() && self.unbind.is_empty()
    }
}

/// Everything twofold keeps about one user's second factors. It never holds a
/// plaintext TOTP secret or backup code: secrets are sealed with the
/// application's key, backup codes are Argon2id digests.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserRecord {
    /// The confirmed authenticator app, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpFactor>,
    /// An authenticator app being set up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_totp: Option<PendingTotp>,
    /// The backup-code set, in `twofold-backup`'s stored form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_codes: Option<String>,
    /// Registered passkeys.
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passkeys: Vec<PasskeyCredential>,
    /// Registered passkeys, kept as stored: a build without the `passkey`
    /// feature cannot use them, but never drops them from a record it rewrites,
    /// and counts them as a factor, so their user is never taken for one
    /// without a second factor (who could then set one up with a password alone).
    #[cfg(not(feature = "passkey"))]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passkeys: Vec<StoredPasskey>,
    /// A passkey registration in progress.
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_passkey: Option<PendingPasskey>,
    /// The open sign-in challenge (single-use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<SignInChallenge>,
    /// Consecutive second-factor failures.
    #[serde(default)]
    pub throttle: ThrottleState,
    /// The user's first sign-in after enforcement began (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_sign_in_since_enforcement: Option<u64>,
    /// A self-service unlock under way, or its cooldown after a wrong code
    /// ([`TwoFactor::self_unlock`](crate::TwoFactor::self_unlock)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_unlock: Option<SelfUnlockState>,
    /// Until when "remind me later" quiets the reminder to set up a second
    /// factor (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_quiet_until: Option<u64>,
    /// When the user last confirmed the check-up (their backup codes are
    /// saved), Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkup_confirmed_at: Option<u64>,
    /// Security notifications: the outbox (undelivered), and the latest
    /// delivered ones, for the user's security activity. Written in the same
    /// conditional write as the change each reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<StoredNotification>,
    /// The factors the user had and no longer has: the record of every
    /// authenticator ever bound (NIST SP 800-63B rev. 4 §4.1), besides the
    /// ones still bound.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_factors: Vec<RetiredFactor>,
    /// Browsers the user trusted to skip the second step ("don't ask again
    /// on this browser"): at most [`MAX_TRUSTED_BROWSERS`](crate::MAX_TRUSTED_BROWSERS),
    /// only their tokens' hashes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_browsers: Vec<TrustedBrowser>,
}

/// A browser trusted to skip the second step until `expires_at`. The browser
/// holds a random token (256 bits); the record holds only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedBrowser {
    /// Its id (random, unrelated to the token), for listing and forgetting it.
    pub id: String,
    /// What the user sees it as ("Chrome on Windows"), sanitized and bounded.
    pub label: String,
    /// The SHA-256 of its current token, base64url without padding.
    pub token_hash: String,
    /// The SHA-256 of the token its last use replaced: presented again, that
    /// token was copied (a theft's sign), and the browser is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_hash: Option<String>,
    /// When it was trusted (Unix seconds).
    pub created_at: u64,
    /// When it last skipped a second step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<u64>,
    /// When the trust ends, whatever the use: set when it was trusted.
    pub expires_at: u64,
}

impl UserRecord {
    /// The earliest time at which something in the record lapses (a pending
    /// setup, an open challenge, a trusted browser), if anything does: stores index it so that
    /// [`Store::expired_users`] finds records to clean.
    pub fn expires_at(&self) -> Option<u64> {
        [
            self.pending_totp.as_ref().map(|p| p.expires_at),
            #[cfg(feature = "passkey")]
            self.pending_passkey.as_ref().map(|p| p.expires_at),
            self.challenge.as_ref().map(|c| c.expires_at),
            self.self_unlock.as_ref().map(SelfUnlockState::expires_at),
        ]
        .into_iter()
        .flatten()
        .chain(self.trusted_browsers.iter().map(|b| b.expires_at))
        .min()
    }

    /// When the record's next undelivered notification is due, if it has
    /// one: stores index it so that [`Store::users_to_notify`] finds records
    /// with something to deliver.
    pub fn notify_at(&self) -> Option<u64> {
        self.notifications
            .iter()
            .filter_map(|n| n.next_attempt_at)
            .min()
    }

    /// The ids of the record's passkeys.
    #[cfg(feature = "passkey")]
    pub fn credential_ids(&self) -> Vec<CredentialId> {
        self.passkeys.iter().map(|p| p.id().clone()).collect()
    }

    /// The ids of the record's passkeys (kept as stored without the `passkey` feature).
    #[cfg(not(feature = "passkey"))]
    pub fn credential_ids(&self) -> Vec<CredentialId> {
        self.passkeys.iter().map(|p| p.id.clone()).collect()
    }

    /// Whether the record holds a registered passkey.
    #[cfg(feature = "passkey")]
    pub fn has_passkeys(&self) -> bool {
        !self.passkeys.is_empty()
    }

    /// Whether the record holds a registered passkey (registered by a build
    /// with the `passkey` feature, kept as stored by this one).
    #[cfg(not(feature = "passkey"))]
    pub fn has_passkeys(&self) -> bool {
        !self.passkeys.is_empty()
    }
}

/// A registered passkey as a build without the `passkey` feature keeps it: its
/// credential id (for the credential index), and the rest of its stored form
/// unread, written back unchanged.
#[cfg(not(feature = "passkey"))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPasskey {
    id: CredentialId,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

#[cfg(not(feature = "passkey"))]
impl std::fmt::Debug for StoredPasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredPasskey(..)")
    }
}

/// A security notification in a user's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredNotification {
    /// Its id: the same on every delivery attempt.
    pub id: String,
    /// What happened.
    #[serde(flatten)]
    pub notice: Notice,
    /// When it happened.
    pub at: u64,
    /// Delivery attempts so far (claimed by a worker).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub attempts: u32,
    /// When a worker may (next) take it; `None` once delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<u64>,
    /// When it was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<u64>,
}

fn is_zero_u32(value: &u32) -> bool {
    *value == 0
}

/// A factor the user no longer has, kept as history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredFactor {
    /// Which kind.
    pub factor: Factor,
    /// A passkey's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it was bound.
    pub added_at: u64,
    /// When it was last used, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<u64>,
    /// When it was removed.
    pub removed_at: u64,
    /// Who removed it.
    pub removed_by: RemovedBy,
}

/// Who removed a factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RemovedBy {
    /// The user, on their Security page.
    User,
    /// An administrator, resetting the user's 2FA.
    Administrator {
        /// The administrator's user id.
        actor: String,
    },
}

/// A confirmed authenticator app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpFactor {
    /// The sealed secret.
    pub secret: SealedSecret,
    /// The last accepted time step: codes at or before it are replays.
    pub last_step: Option<u64>,
    /// When it was confirmed.
    pub enrolled_at: u64,
    /// Its parameters, as the authenticator app was given them (or as it
    /// turned out to use them), so that changing the configuration never
    /// breaks an existing enrollment.
    #[serde(default)]
    pub params: TotpParams,
    /// Where the app's clock was at its last accepted code, in time steps from
    /// the server's, when that was beyond the plain window (within it: 0), and
    /// bounded by [`TotpDrift::max_steps`](crate::TotpDrift): the next window
    /// is centred there as well as on the server's step.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub drift: i64,
    /// A resync under way: the step an out-of-window code matched, waiting for
    /// the app's next code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resync: Option<TotpResync>,
    /// Future steps whose codes a resync's first code revealed to be the
    /// app's (the answer was `ResyncNeeded`): never accepted by the window
    /// when their time comes, so that the answer cannot turn a guess into a
    /// code that works later. Dropped once past.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub burned_steps: Vec<u64>,
}

impl TotpFactor {
    /// A newly installed authenticator app: no drift, no resync under way,
    /// nothing burned; `last_step`: the last step counted as spent.
    pub fn new(
        secret: SealedSecret,
        params: TotpParams,
        enrolled_at: u64,
        last_step: Option<u64>,
    ) -> TotpFactor {
        TotpFactor {
            secret,
            last_step,
            enrolled_at,
            params,
            drift: 0,
            resync: None,
            burned_steps: Vec::new(),
        }
    }
}

fn is_zero(drift: &i64) -> bool {
    *drift == 0
}

/// The first code of a resync (RFC 6238 §6): outside the window, within the
/// resync range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpResync {
    /// The app's step that the code matched.
    pub step: u64,
    /// The server's step when it was entered.
    pub server_step: u64,
    /// Until when the next code may come.
    pub expires_at: u64,
}

/// An authenticator app being set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTotp {
    /// The sealed secret shown as QR code and manual entry.
    pub secret: SealedSecret,
    /// When setup began.
    pub created_at: u64,
    /// When it lapses.
    pub expires_at: u64,
    /// The parameters in the QR code.
    #[serde(default)]
    pub params: TotpParams,
}

/// A passkey registration in progress.
#[cfg(feature = "passkey")]
#[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingPasskey {
    /// The ceremony state (server-side only).
    pub state: RegistrationState,
    /// When it lapses.
    pub expires_at: u64,
}

#[cfg(feature = "passkey")]
impl PartialEq for PendingPasskey {
    fn eq(&self, other: &PendingPasskey) -> bool {
        self.expires_at == other.expires_at
            && serde_json::to_value(&self.state).ok() == serde_json::to_value(&other.state).ok()
    }
}

#[cfg(feature = "passkey")]
impl Eq for PendingPasskey {}

/// An open second-step challenge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignInChallenge {
    /// Its id, given to the browser.
    pub id: String,
    /// When it lapses.
    pub expires_at: u64,
    /// The passkey ceremony state, if a passkey was offered.
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<AuthenticationState>,
    /// The methods the challenge offered: only these may answer it.
    #[serde(default)]
    pub methods: Vec<Method>,
    /// Whether a backup code may answer it.
    #[serde(default)]
    pub recovery: bool,
}

impl PartialEq for SignInChallenge {
    fn eq(&self, other: &SignInChallenge) -> bool {
        self.id == other.id
            && self.expires_at == other.expires_at
            && self.methods == other.methods
            && self.recovery == other.recovery
            && self.same_passkey_state(other)
    }
}

impl SignInChallenge {
    #[cfg(feature = "passkey")]
    fn same_passkey_state(&self, other: &SignInChallenge) -> bool {
        serde_json::to_value(&self.passkey).ok() == serde_json::to_value(&other.passkey).ok()
    }

    #[cfg(not(feature = "passkey"))]
    fn same_passkey_state(&self, _: &SignInChallenge) -> bool {
        true
    }
}

impl Eq for SignInChallenge {}

/// Consecutive second-factor failures, across all factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ThrottleState {
    /// Failures since the last success or reset.
    pub failures: u32,
    /// When the last one happened.
    pub last_failure: Option<u64>,
    /// `failures` when the user last unlocked their second step themselves
    /// (0: never since the last success or reset): the back-off and the
    /// lockout count only the failures after it, the ceiling counts them all
    /// (`Policy::throttle_since_unlock`). Only a success or an
    /// administrator's unlock or reset sets both back to 0.
    #[serde(default, skip_serializing_if = "is_zero_count")]
    pub unlocked_at: u32,
}

fn is_zero_count(count: &u32) -> bool {
    *count == 0
}

impl ThrottleState {
    /// Failures since the user last unlocked themselves (all of them if never).
    pub fn since_unlock(&self) -> u32 {
        self.failures.saturating_sub(self.unlocked_at)
    }
}

/// Self-service unlock's state in a user record: a sequence of codes under
/// way, or the cooldown after a wrong one. One per user, and it lapses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SelfUnlockState {
    /// Codes accepted so far; the last one's step is the factor's `last_step`.
    Sequence {
        /// How many codes were accepted.
        entered: u32,
        /// When the sequence lapses (its first code's time plus the deadline).
        deadline: u64,
        /// The throttle's failure count when it began, and its last
        /// failure's time: a sequence belongs to one lockout, and any change
        /// of them (a success, an administrator's unlock, another failure) ends it.
        failures: u32,
        /// See `failures`.
        last_failure: Option<u64>,
    },
    /// After a wrong unlock code, no code is taken before `until`.
    Cooldown {
        /// When the cooldown ends.
        until: u64,
    },
}

impl SelfUnlockState {
    /// When it lapses: the sequence's deadline, or the cooldown's end.
    pub fn expires_at(&self) -> u64 {
        match self {
            SelfUnlockState::Sequence { deadline, .. } => *deadline,
            SelfUnlockState::Cooldown { until } => *until,
        }
    }
}

/// A single-use ceremony that belongs to no user yet: a username-less passkey sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CeremonyRecord {
    /// The organization whose sign-in page started it (its policy throttles the answer).
    #[serde(default)]
    pub organization: String,
    /// The passkey ceremony state.
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    pub state: AuthenticationState,
    /// When it lapses.
    pub expires_at: u64,
}

/// An organization's 2FA settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationRecord {
    /// The policy document.
    pub policy: PolicyDocument,
    /// When enforcement last became `required`: sign-ins before it do not start grace periods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement_since: Option<u64>,
}

/// Where twofold keeps its state: the application's own database.
///
/// Every write is conditional. `save_*` with `expected: None` creates the record
/// and fails with [`StoreError::Conflict`] if it exists; with `Some(version)` it
/// replaces the record only if it is still at that version, and fails with
/// `Conflict` otherwise. `take_ceremony` reads and deletes in one atomic step.
/// Together these let the facade spend every one-time thing exactly once.
///
/// The store also keeps a **credential index** (passkey credential id → user),
/// updated in the same atomic step as the user record it belongs to, so that a
/// credential id is never bound to two users and a username-less sign-in finds
/// its user without trusting the browser.
///
/// Implementations must pass `twofold::conformance::run` (the `conformance` feature).
pub trait Store: Send + Sync {
    /// Reads a user's record.
    fn load_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Option<Versioned<UserRecord>>>;

    /// Writes a user's record conditionally and, in the same atomic step,
    /// applies `credentials` to the credential index; returns the new version.
    ///
    /// If an id in `credentials.bind` is bound to another user, nothing is
    /// written and the write fails with [`StoreError::CredentialInUse`]; of two
    /// concurrent writes binding one id to two users, at most one succeeds.
    /// Index the record's [`UserRecord::expires_at`] for
    /// [`expired_users`](Store::expired_users).
    fn save_user<'a>(
        &'a self,
        user: &'a str,
        record: &'a UserRecord,
        expected: Option<Version>,
        credentials: CredentialChanges<'a>,
    ) -> StoreFuture<'a, Version>;

    /// Deletes a user's record if it is still at `expected` (`Conflict`
    /// otherwise), and unbinds every credential id bound to the user: the
    /// erasure path, called by [`TwoFactor::forget_user`](crate::TwoFactor::forget_user)
    /// when an application deletes an account. Nothing of the user may remain.
    fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()>;

    /// The user a passkey credential id is bound to, if any.
    fn credential_owner<'a>(&'a self, id: &'a CredentialId) -> StoreFuture<'a, Option<String>>;

    /// Up to `limit` ids of users whose record's [`UserRecord::expires_at`] is at
    /// or before `now`: records holding lapsed setups or challenges, to clean.
    fn expired_users<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>>;

    /// Up to `limit` ids of users whose record's [`UserRecord::notify_at`] is
    /// at or before `now`, earliest first: records with a notification to
    /// deliver. Index it as for `expired_users`.
    fn users_to_notify<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>>;

    /// Up to `limit` user ids, in the store's order of ids, after `after` (from
    /// the start if `None`): paging through every user, for bulk maintenance.
    fn list_users<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<String>>;

    /// Stores a new single-use ceremony under a fresh id (`Conflict` if the id exists).
    fn insert_ceremony<'a>(
        &'a self,
        id: &'a str,
        ceremony: &'a CeremonyRecord,
    ) -> StoreFuture<'a, ()>;

    /// Reads and deletes a ceremony atomically: of any number of concurrent
    /// calls with one id, at most one gets it.
    fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>>;

    /// How many ceremonies of `organization` are stored (expired or not).
    fn count_ceremonies<'a>(&'a self, organization: &'a str) -> StoreFuture<'a, u64>;

    /// Deletes every ceremony whose `expires_at` is at or before `now`; returns
    /// how many it deleted.
    fn purge_expired<'a>(&'a self, now: Timestamp) -> StoreFuture<'a, u64>;

    /// Reads an organization's settings.
    fn load_organization<'a>(
        &'a self,
        organization: &'a str,
    ) -> StoreFuture<'a, Option<Versioned<OrganizationRecord>>>;

    /// Reads a user's record and an organization's settings together: the
    /// second step of sign-in needs both, and a store that can read them in one
    /// round trip (one statement) should, since the organization's settings
    /// must be read fresh on every step (a policy change applies at the next
    /// one). The default reads them one after the other.
    fn load_user_and_organization<'a>(
        &'a self,
        user: &'a str,
        organization: &'a str,
    ) -> StoreFuture<'a, UserAndOrganization> {
        Box::pin(async move {
            let user = self.load_user(user).await?;
            let organization = self.load_organization(organization).await?;
            Ok((user, organization))
        })
    }

    /// Writes an organization's settings conditionally; returns the new version.
    fn save_organization<'a>(
        &'a self,
        organization: &'a str,
        record: &'a OrganizationRecord,
        expected: Option<Version>,
    ) -> StoreFuture<'a, Version>;
}

#[cfg(feature = "memory-store")]
pub use memory::{MemoryContents, MemoryStore};

#[cfg(feature = "memory-store")]
mod memory;
