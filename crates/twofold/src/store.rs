//! The storage seam: the `Store` trait, its records, and `MemoryStore`.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use twofold_passkey::{AuthenticationState, PasskeyCredential, RegistrationState};
use twofold_policy::PolicyDocument;
use twofold_totp::TotpParams;

use crate::crypto::SealedSecret;

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

/// The one error type of a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A conditional write lost: the record changed (or appeared, or vanished)
    /// since it was read. The facade re-reads and retries, or reports it.
    #[error("the record changed since it was read")]
    Conflict,
    /// A stored record could not be read back (corrupt or tampered with).
    #[error("the stored {what} is corrupt: {reason}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The backend failed (connection, I/O, …); its error is the source.
    #[error("the store backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passkeys: Vec<PasskeyCredential>,
    /// A passkey registration in progress.
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
    /// Its parameters, as the authenticator app was given them, so that changing
    /// the configuration never breaks an existing enrolment.
    #[serde(default)]
    pub params: TotpParams,
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingPasskey {
    /// The ceremony state (server-side only).
    pub state: RegistrationState,
    /// When it lapses.
    pub expires_at: u64,
}

impl PartialEq for PendingPasskey {
    fn eq(&self, other: &PendingPasskey) -> bool {
        self.expires_at == other.expires_at
            && serde_json::to_value(&self.state).ok() == serde_json::to_value(&other.state).ok()
    }
}

impl Eq for PendingPasskey {}

/// An open second-step challenge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignInChallenge {
    /// Its id, given to the browser.
    pub id: String,
    /// When it lapses.
    pub expires_at: u64,
    /// The passkey ceremony state, if a passkey was offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<AuthenticationState>,
}

impl PartialEq for SignInChallenge {
    fn eq(&self, other: &SignInChallenge) -> bool {
        self.id == other.id
            && self.expires_at == other.expires_at
            && serde_json::to_value(&self.passkey).ok() == serde_json::to_value(&other.passkey).ok()
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
}

/// A single-use ceremony that belongs to no user yet: a username-less passkey sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CeremonyRecord {
    /// The organisation whose sign-in page started it (its policy throttles the answer).
    #[serde(default)]
    pub organization: String,
    /// The passkey ceremony state.
    pub state: AuthenticationState,
    /// When it lapses.
    pub expires_at: u64,
}

/// An organisation's 2FA settings.
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
/// Implementations must pass [`conformance::run`](crate::conformance::run).
pub trait Store: Send + Sync {
    /// Reads a user's record.
    fn load_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Option<Versioned<UserRecord>>>;

    /// Writes a user's record conditionally; returns the new version.
    fn save_user<'a>(
        &'a self,
        user: &'a str,
        record: &'a UserRecord,
        expected: Option<Version>,
    ) -> StoreFuture<'a, Version>;

    /// Deletes a user's record if it is still at `expected` (`Conflict` otherwise).
    fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()>;

    /// Stores a new single-use ceremony under a fresh id (`Conflict` if the id exists).
    fn insert_ceremony<'a>(
        &'a self,
        id: &'a str,
        ceremony: &'a CeremonyRecord,
    ) -> StoreFuture<'a, ()>;

    /// Reads and deletes a ceremony atomically: of any number of concurrent
    /// calls with one id, at most one gets it.
    fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>>;

    /// Reads an organisation's settings.
    fn load_organization<'a>(
        &'a self,
        organization: &'a str,
    ) -> StoreFuture<'a, Option<Versioned<OrganizationRecord>>>;

    /// Writes an organisation's settings conditionally; returns the new version.
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
mod memory {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Mutex, PoisonError};

    use super::{
        CeremonyRecord, OrganizationRecord, Store, StoreError, StoreFuture, UserRecord, Version,
        Versioned,
    };

    /// A store in memory, **for tests and demos**: everything is lost when the
    /// process ends, and nothing is shared between processes. It is a faithful
    /// implementation of the contract (conditional writes, atomic take).
    #[derive(Debug, Default)]
    pub struct MemoryStore {
        users: Mutex<HashMap<String, Versioned<UserRecord>>>,
        ceremonies: Mutex<HashMap<String, CeremonyRecord>>,
        organizations: Mutex<HashMap<String, Versioned<OrganizationRecord>>>,
    }

    /// A copy of everything a [`MemoryStore`] holds, from
    /// [`MemoryStore::contents`]: for tests that compare whole stored states.
    #[derive(Debug, Clone, Default)]
    #[non_exhaustive]
    pub struct MemoryContents {
        /// User records by user id.
        pub users: BTreeMap<String, Versioned<UserRecord>>,
        /// Open username-less ceremonies by id.
        pub ceremonies: BTreeMap<String, CeremonyRecord>,
        /// Organisation records by organisation id.
        pub organizations: BTreeMap<String, Versioned<OrganizationRecord>>,
    }

    impl MemoryStore {
        /// An empty store.
        pub fn new() -> MemoryStore {
            MemoryStore::default()
        }

        /// A copy of everything stored, sorted by key.
        pub fn contents(&self) -> MemoryContents {
            fn copy<T: Clone>(map: &Mutex<HashMap<String, T>>) -> BTreeMap<String, T> {
                map.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect()
            }
            MemoryContents {
                users: copy(&self.users),
                ceremonies: copy(&self.ceremonies),
                organizations: copy(&self.organizations),
            }
        }
    }

    fn conditional_put<T: Clone>(
        map: &Mutex<HashMap<String, Versioned<T>>>,
        key: &str,
        value: &T,
        expected: Option<Version>,
    ) -> Result<Version, StoreError> {
        let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
        let current = map.get(key).map(|v| v.version);
        if current != expected {
            return Err(StoreError::Conflict);
        }
        let version = expected.map_or(1, |v| v + 1);
        map.insert(
            key.to_string(),
            Versioned {
                value: value.clone(),
                version,
            },
        );
        Ok(version)
    }

    impl Store for MemoryStore {
        fn load_user<'a>(
            &'a self,
            user: &'a str,
        ) -> StoreFuture<'a, Option<Versioned<UserRecord>>> {
            let found = self
                .users
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(user)
                .cloned();
            Box::pin(async move { Ok(found) })
        }

        fn save_user<'a>(
            &'a self,
            user: &'a str,
            record: &'a UserRecord,
            expected: Option<Version>,
        ) -> StoreFuture<'a, Version> {
            let result = conditional_put(&self.users, user, record, expected);
            Box::pin(async move { result })
        }

        fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()> {
            let mut map = self.users.lock().unwrap_or_else(PoisonError::into_inner);
            let result = if map.get(user).map(|v| v.version) == Some(expected) {
                map.remove(user);
                Ok(())
            } else {
                Err(StoreError::Conflict)
            };
            Box::pin(async move { result })
        }

        fn insert_ceremony<'a>(
            &'a self,
            id: &'a str,
            ceremony: &'a CeremonyRecord,
        ) -> StoreFuture<'a, ()> {
            let mut map = self
                .ceremonies
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let result = if map.contains_key(id) {
                Err(StoreError::Conflict)
            } else {
                map.insert(id.to_string(), ceremony.clone());
                Ok(())
            };
            Box::pin(async move { result })
        }

        fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>> {
            let taken = self
                .ceremonies
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(id);
            Box::pin(async move { Ok(taken) })
        }

        fn load_organization<'a>(
            &'a self,
            organization: &'a str,
        ) -> StoreFuture<'a, Option<Versioned<OrganizationRecord>>> {
            let found = self
                .organizations
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(organization)
                .cloned();
            Box::pin(async move { Ok(found) })
        }

        fn save_organization<'a>(
            &'a self,
            organization: &'a str,
            record: &'a OrganizationRecord,
            expected: Option<Version>,
        ) -> StoreFuture<'a, Version> {
            let result = conditional_put(&self.organizations, organization, record, expected);
            Box::pin(async move { result })
        }
    }
}
