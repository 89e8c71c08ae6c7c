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
//! consumption (many conditional writes or takes racing; exactly one wins), and
//! large and odd values. Keys are prefixed with a random run id, so it can run
//! repeatedly against a shared database.

use std::fmt;

use futures_util::future::join_all;
use twofold_passkey::{PasskeyConfig, PasskeyCredential, Passkeys, RelyingParty};
use twofold_policy::{Mode, PolicyDocument};

use crate::env::{OsRandomness, random_id};
use crate::store::{
    CeremonyRecord, OrganizationRecord, Store, StoreError, ThrottleState, UserRecord,
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
        },
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
        organization: "conformance".into(),
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
    users_crud(store, &run).await?;
    user_conflicts(store, &run).await?;
    ceremonies(store, &run).await?;
    organizations(store, &run).await?;
    concurrent_consumption(store, &run).await?;
    large_and_odd_values(store, &run).await?;
    Ok(())
}

async fn users_crud(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    let user = format!("{run}-crud");
    let missing = expect_ok(store.load_user(&user).await, "read a missing user")?;
    check(missing.is_none(), "read a missing user", || {
        format!("got {missing:?}")
    })?;

    let first = rich_record(2)?;
    let v1 = expect_ok(store.save_user(&user, &first, None).await, "create a user")?;
    let read = expect_ok(store.load_user(&user).await, "read a created user")?;
    check(
        read.as_ref().map(|r| (&r.value, r.version)) == Some((&first, v1)),
        "read a created user",
        || format!("wrote {first:?} at {v1}, read {read:?}"),
    )?;

    let mut second = first.clone();
    second.passkeys.clear();
    second.throttle = ThrottleState::default();
    let v2 = expect_ok(
        store.save_user(&user, &second, Some(v1)).await,
        "update a user",
    )?;
    check(v2 != v1, "update a user", || {
        format!("the version stayed {v1}")
    })?;
    let read = expect_ok(store.load_user(&user).await, "read an updated user")?;
    check(
        read.as_ref().map(|r| (&r.value, r.version)) == Some((&second, v2)),
        "read an updated user",
        || format!("read {read:?}"),
    )?;

    expect_ok(store.delete_user(&user, v2).await, "delete a user")?;
    let gone = expect_ok(store.load_user(&user).await, "read a deleted user")?;
    check(gone.is_none(), "read a deleted user", || {
        format!("got {gone:?}")
    })?;
    // A deleted user can be created again.
    expect_ok(
        store.save_user(&user, &first, None).await,
        "re-create a deleted user",
    )?;
    Ok(())
}

async fn user_conflicts(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    let user = format!("{run}-conflicts");
    let record = UserRecord::default();
    let v1 = expect_ok(
        store.save_user(&user, &record, None).await,
        "create for conflicts",
    )?;
    expect_conflict(
        store.save_user(&user, &record, None).await,
        "create an existing user",
    )?;
    let v2 = expect_ok(
        store.save_user(&user, &record, Some(v1)).await,
        "update at the current version",
    )?;
    expect_conflict(
        store.save_user(&user, &record, Some(v1)).await,
        "update at a stale version",
    )?;
    expect_conflict(
        store
            .save_user(&format!("{run}-nobody"), &record, Some(v1))
            .await,
        "update a missing user",
    )?;
    expect_conflict(
        store.delete_user(&user, v1).await,
        "delete at a stale version",
    )?;
    let still = expect_ok(
        store.load_user(&user).await,
        "a failed write changes nothing",
    )?;
    check(
        still.map(|r| r.version) == Some(v2),
        "a failed write changes nothing",
        || "the version moved".into(),
    )?;
    Ok(())
}

async fn ceremonies(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    let id = format!("{run}-ceremony");
    let record = ceremony(42)?;
    expect_ok(
        store.insert_ceremony(&id, &record).await,
        "insert a ceremony",
    )?;
    expect_conflict(
        store.insert_ceremony(&id, &record).await,
        "insert a ceremony id twice",
    )?;
    let taken = expect_ok(store.take_ceremony(&id).await, "take a ceremony")?;
    check(
        taken.as_ref().map(|c| c.expires_at) == Some(42),
        "take a ceremony",
        || format!("got {taken:?}"),
    )?;
    let same_state = taken.as_ref().map(|c| serde_json::to_value(&c.state).ok())
        == Some(serde_json::to_value(&record.state).ok());
    check(same_state, "take a ceremony", || {
        "the state changed in the store".into()
    })?;
    let again = expect_ok(store.take_ceremony(&id).await, "take a ceremony twice")?;
    check(again.is_none(), "take a ceremony twice", || {
        "a ceremony was taken twice".into()
    })?;
    let missing = expect_ok(
        store.take_ceremony(&format!("{run}-never")).await,
        "take a missing ceremony",
    )?;
    check(missing.is_none(), "take a missing ceremony", || {
        "got one".into()
    })?;
    Ok(())
}

async fn organizations(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    let org = format!("{run}-org");
    let missing = expect_ok(
        store.load_organization(&org).await,
        "read a missing organisation",
    )?;
    check(missing.is_none(), "read a missing organisation", || {
        format!("got {missing:?}")
    })?;
    let mut record = OrganizationRecord {
        policy: PolicyDocument::example_clinic(),
        enforcement_since: None,
    };
    let v1 = expect_ok(
        store.save_organization(&org, &record, None).await,
        "create an organisation",
    )?;
    expect_conflict(
        store.save_organization(&org, &record, None).await,
        "create an existing organisation",
    )?;
    record.policy.enforcement.mode = Mode::Required;
    record.enforcement_since = Some(1_767_225_600);
    let v2 = expect_ok(
        store.save_organization(&org, &record, Some(v1)).await,
        "update an organisation",
    )?;
    expect_conflict(
        store.save_organization(&org, &record, Some(v1)).await,
        "update an organisation at a stale version",
    )?;
    let read = expect_ok(store.load_organization(&org).await, "read an organisation")?;
    check(
        read.as_ref().map(|r| (&r.value, r.version)) == Some((&record, v2)),
        "read an organisation",
        || format!("read {read:?}"),
    )?;
    Ok(())
}

async fn concurrent_consumption(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    const RACERS: usize = 32;
    for round in 0..5 {
        let user = format!("{run}-race-{round}");
        let base = expect_ok(
            store.save_user(&user, &UserRecord::default(), None).await,
            "race setup",
        )?;
        let records: Vec<UserRecord> = (0..RACERS)
            .map(|i| UserRecord {
                first_sign_in_since_enforcement: Some(i as u64),
                ..UserRecord::default()
            })
            .collect();
        let results = join_all(
            records
                .iter()
                .map(|record| store.save_user(&user, record, Some(base))),
        )
        .await;
        let winners: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_ok())
            .map(|(i, _)| i)
            .collect();
        check(
            winners.len() == 1,
            "concurrent conditional writes: exactly one wins",
            || format!("{} won", winners.len()),
        )?;
        for result in &results {
            check(
                matches!(result, Ok(_) | Err(StoreError::Conflict)),
                "concurrent conditional writes: losers see Conflict",
                || format!("{result:?}"),
            )?;
        }
        let stored = expect_ok(store.load_user(&user).await, "race result")?;
        let winner = winners.first().copied();
        check(
            stored.map(|s| s.value.first_sign_in_since_enforcement)
                == Some(winner.map(|w| w as u64)),
            "concurrent conditional writes: the winner's record is stored",
            || "another record is stored".into(),
        )?;

        let id = format!("{run}-race-ceremony-{round}");
        expect_ok(
            store.insert_ceremony(&id, &ceremony(7)?).await,
            "race setup",
        )?;
        let takes = join_all((0..RACERS).map(|_| store.take_ceremony(&id))).await;
        let got = takes.iter().filter(|t| matches!(t, Ok(Some(_)))).count();
        check(
            got == 1,
            "concurrent takes: exactly one gets the ceremony",
            || format!("{got} got it"),
        )?;
    }
    Ok(())
}

async fn large_and_odd_values(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    let odd_ids = [
        format!("{run}-ünïcødé-ユーザー-🔑"),
        format!("{run}-o'brien\"; DROP TABLE users; --"),
        format!("{run}-{}", "long".repeat(120)),
        format!("{run}-with spaces and\ttabs"),
        format!("{run}-%_*?\\"),
    ];
    let large = rich_record(50)?;
    for id in &odd_ids {
        let version = expect_ok(
            store.save_user(id, &large, None).await,
            "odd user ids and a large record",
        )?;
        let read = expect_ok(
            store.load_user(id).await,
            "read back odd ids and a large record",
        )?;
        check(
            read.as_ref().map(|r| (&r.value, r.version)) == Some((&large, version)),
            "read back odd ids and a large record",
            || format!("id {id:?} read back differently"),
        )?;
    }
    // Similar ids are distinct keys (no prefix or pattern matching).
    let prefix = format!("{run}-%");
    let none = expect_ok(store.load_user(&prefix).await, "ids are exact keys")?;
    check(none.is_none(), "ids are exact keys", || {
        "a pattern matched another id".into()
    })?;
    let ceremony_id = format!("{run}-ceremony-ünï-'\"");
    expect_ok(
        store
            .insert_ceremony(&ceremony_id, &ceremony(u64::MAX)?)
            .await,
        "odd ceremony ids",
    )?;
    let taken = expect_ok(store.take_ceremony(&ceremony_id).await, "odd ceremony ids")?;
    check(
        taken.map(|c| c.expires_at) == Some(u64::MAX),
        "odd ceremony ids and large times",
        || "read back differently".into(),
    )?;
    Ok(())
}
