//! The conformance suite every [`Store`] implementation runs from its own tests:
//!
//! ```
//! # async fn example() -> Result<(), twofold::conformance::ConformanceFailure> {
//! let store = twofold::MemoryStore::new();
//! twofold::conformance::run(&store).await?;
//! # Ok(()) }
//! ```
//!
//! It covers create, read, update and delete, version conflicts, concurrent
//! consumption (many conditional writes or takes racing; exactly one wins), the
//! credential index (bound with its record, never to two users, even when
//! registrations race), expiry (purging ceremonies, finding records with lapsed
//! state), finding records with a notification due, paging through users, and large and odd values. Keys are prefixed
//! with a random run id, so it can run repeatedly against a shared database.

mod expiry;
mod index;
mod records;

use std::fmt;

use futures_util::future::join_all;
use twofold_passkey::{CredentialId, PasskeyConfig, PasskeyCredential, Passkeys, RelyingParty};
use twofold_policy::{Mode, PolicyDocument, Timestamp};

use crate::env::{OsRandomness, random_id};
use crate::notify::Notice;
use crate::store::{
    CeremonyRecord, CredentialChanges, OrganizationRecord, SelfUnlockState, SignInChallenge, Store,
    StoreError, StoredNotification, ThrottleState, UserRecord,
};

/// A failed conformance check: which one, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConformanceFailure {
    /// The check.
    pub check: &'static str,
    /// What happened instead.
    pub detail: String,
}

impl fmt::Display for ConformanceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "store conformance check {:?} failed: {}",
            self.check, self.detail
        )
    }
}

impl std::error::Error for ConformanceFailure {}

fn check(
    condition: bool,
    check: &'static str,
    detail: impl FnOnce() -> String,
) -> Result<(), ConformanceFailure> {
    if condition {
        Ok(())
    } else {
        Err(ConformanceFailure {
            check,
            detail: detail(),
        })
    }
}

fn expect_ok<T>(
    result: Result<T, StoreError>,
    check: &'static str,
) -> Result<T, ConformanceFailure> {
    result.map_err(|error| ConformanceFailure {
        check,
        detail: format!("unexpected error: {error}"),
    })
}

fn expect_conflict<T: fmt::Debug>(
    result: Result<T, StoreError>,
    check: &'static str,
) -> Result<(), ConformanceFailure> {
    match result {
        Err(StoreError::Conflict) => Ok(()),
        other => Err(ConformanceFailure {
            check,
            detail: format!("expected Conflict, got {other:?}"),
        }),
    }
}

/// A record with every field filled, some of them large.
fn rich_record(passkey_count: usize) -> Result<UserRecord, ConformanceFailure> {
    let mut record = UserRecord {
        backup_codes: Some(format!("twofold-backup-v1${}", "x".repeat(4096))),
        throttle: ThrottleState {
            failures: u32::MAX,
            last_failure: Some(u64::MAX),
            unlocked_at: u32::MAX,
        },
        // Lapses in 2100: a future expiry, as a real one is.
        self_unlock: Some(SelfUnlockState::Sequence {
            entered: u32::MAX,
            deadline: 4_102_444_800,
            failures: u32::MAX,
            last_failure: Some(u64::MAX),
        }),
        first_sign_in_since_enforcement: Some(1_767_225_600),
        ..UserRecord::default()
    };
    for i in 0..passkey_count {
        let json = format!(
            r#"{{"id":"{}","public_key":{{"type_":"ES256","key":{{"EC_EC2":{{"curve":"SECP256R1","x":"dVE-8r0wYTQ4A05Pf0WkM7yqdnjWTsBgqJFrOvVXBHY","y":"Yq1hgNUSdT3yD6h-bhCYYxd6_dbi2yWAKtqa6W1Dnto"}}}}}},"counter":{i},"backup_eligible":true,"backed_up":false,"transports":["usb","internal"],"name":"ключ «{i}» 🔑 'quoted'","created_at":1767225600,"last_used_at":null}}"#,
            base64_id(i)
        );
        let credential: PasskeyCredential =
            serde_json::from_str(&json).map_err(|error| ConformanceFailure {
                check: "fixture",
                detail: error.to_string(),
            })?;
        record.passkeys.push(credential);
    }
    Ok(record)
}

fn base64_id(i: usize) -> String {
    twofold_passkey::CredentialId::from_bytes(format!("conformance-credential-{i:04}").as_bytes())
        .to_base64url()
}

fn ceremony(expires_at: u64) -> Result<CeremonyRecord, ConformanceFailure> {
    ceremony_of("conformance", expires_at)
}

fn ceremony_of(organization: &str, expires_at: u64) -> Result<CeremonyRecord, ConformanceFailure> {
    let rp =
        RelyingParty::new("localhost", "conformance", &["http://localhost"]).map_err(|error| {
            ConformanceFailure {
                check: "fixture",
                detail: error.to_string(),
            }
        })?;
    let (_, state) = Passkeys::new(PasskeyConfig::new(rp))
        .start_discoverable_authentication(expires_at)
        .map_err(|error| ConformanceFailure {
            check: "fixture",
            detail: error.to_string(),
        })?;
    Ok(CeremonyRecord {
        organization: organization.into(),
        state,
        expires_at,
    })
}

/// Runs every check against `store`.
pub async fn run(store: &dyn Store) -> Result<(), ConformanceFailure> {
    let run = random_id(&OsRandomness).map_err(|error| ConformanceFailure {
        check: "fixture",
        detail: error.to_string(),
    })?;
    records::users_crud(store, &run).await?;
    records::user_conflicts(store, &run).await?;
    records::ceremonies(store, &run).await?;
    records::organizations(store, &run).await?;
    records::user_and_organization(store, &run).await?;
    records::concurrent_consumption(store, &run).await?;
    index::credential_index(store, &run).await?;
    index::concurrent_registrations(store, &run).await?;
    expiry::expiry(store, &run).await?;
    expiry::paging(store, &run).await?;
    expiry::notifications(store, &run).await?;
    records::large_and_odd_values(store, &run).await?;
    Ok(())
}
