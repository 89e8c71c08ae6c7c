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
//! state), paging through users, and large and odd values. Keys are prefixed
//! with a random run id, so it can run repeatedly against a shared database.

use std::fmt;

use futures_util::future::join_all;
use twofold_passkey::{CredentialId, PasskeyConfig, PasskeyCredential, Passkeys, RelyingParty};
use twofold_policy::{Mode, PolicyDocument, Timestamp};

use crate::env::{OsRandomness, random_id};
use crate::store::{
    CeremonyRecord, CredentialChanges, OrganizationRecord, SignInChallenge, Store, StoreError,
    ThrottleState, UserRecord,
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
    users_crud(store, &run).await?;
    user_conflicts(store, &run).await?;
    ceremonies(store, &run).await?;
    organizations(store, &run).await?;
    concurrent_consumption(store, &run).await?;
    credential_index(store, &run).await?;
    concurrent_registrations(store, &run).await?;
    expiry(store, &run).await?;
    paging(store, &run).await?;
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
    let v1 = expect_ok(
        store
            .save_user(&user, &first, None, CredentialChanges::NONE)
            .await,
        "create a user",
    )?;
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
        store
            .save_user(&user, &second, Some(v1), CredentialChanges::NONE)
            .await,
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
        store
            .save_user(&user, &first, None, CredentialChanges::NONE)
            .await,
        "re-create a deleted user",
    )?;
    Ok(())
}

async fn user_conflicts(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    let user = format!("{run}-conflicts");
    let record = UserRecord::default();
    let v1 = expect_ok(
        store
            .save_user(&user, &record, None, CredentialChanges::NONE)
            .await,
        "create for conflicts",
    )?;
    expect_conflict(
        store
            .save_user(&user, &record, None, CredentialChanges::NONE)
            .await,
        "create an existing user",
    )?;
    let v2 = expect_ok(
        store
            .save_user(&user, &record, Some(v1), CredentialChanges::NONE)
            .await,
        "update at the current version",
    )?;
    expect_conflict(
        store
            .save_user(&user, &record, Some(v1), CredentialChanges::NONE)
            .await,
        "update at a stale version",
    )?;
    expect_conflict(
        store
            .save_user(
                &format!("{run}-nobody"),
                &record,
                Some(v1),
                CredentialChanges::NONE,
            )
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
        "read a missing organization",
    )?;
    check(missing.is_none(), "read a missing organization", || {
        format!("got {missing:?}")
    })?;
    let mut record = OrganizationRecord {
        policy: PolicyDocument::example_clinic(),
        enforcement_since: None,
    };
    let v1 = expect_ok(
        store.save_organization(&org, &record, None).await,
        "create an organization",
    )?;
    expect_conflict(
        store.save_organization(&org, &record, None).await,
        "create an existing organization",
    )?;
    record.policy.enforcement.mode = Mode::Required;
    record.enforcement_since = Some(1_767_225_600);
    let v2 = expect_ok(
        store.save_organization(&org, &record, Some(v1)).await,
        "update an organization",
    )?;
    expect_conflict(
        store.save_organization(&org, &record, Some(v1)).await,
        "update an organization at a stale version",
    )?;
    let read = expect_ok(store.load_organization(&org).await, "read an organization")?;
    check(
        read.as_ref().map(|r| (&r.value, r.version)) == Some((&record, v2)),
        "read an organization",
        || format!("read {read:?}"),
    )?;
    Ok(())
}

async fn concurrent_consumption(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    const RACERS: usize = 32;
    for round in 0..5 {
        let user = format!("{run}-race-{round}");
        let base = expect_ok(
            store
                .save_user(&user, &UserRecord::default(), None, CredentialChanges::NONE)
                .await,
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
                .map(|record| store.save_user(&user, record, Some(base), CredentialChanges::NONE)),
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
            store
                .save_user(id, &large, None, CredentialChanges::NONE)
                .await,
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

fn credential(run: &str, name: &str) -> CredentialId {
    CredentialId::from_bytes(format!("{run}-credential-{name}").as_bytes())
}

async fn owner(
    store: &dyn Store,
    id: &CredentialId,
    check: &'static str,
) -> Result<Option<String>, ConformanceFailure> {
    expect_ok(store.credential_owner(id).await, check)
}

async fn credential_index(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    let ana = format!("{run}-index-ana");
    let bob = format!("{run}-index-bob");
    let (one, two) = (credential(run, "one"), credential(run, "two"));
    let nobody = owner(store, &one, "an unbound credential has no owner").await?;
    check(
        nobody.is_none(),
        "an unbound credential has no owner",
        || format!("{nobody:?}"),
    )?;
    let record = UserRecord::default();
    let bind_one = [one.clone()];
    let v1 = expect_ok(
        store
            .save_user(
                &ana,
                &record,
                None,
                CredentialChanges {
                    bind: &bind_one,
                    unbind: &[],
                },
            )
            .await,
        "bind a credential with a new record",
    )?;
    let found = owner(store, &one, "a bound credential names its user").await?;
    check(
        found.as_deref() == Some(ana.as_str()),
        "a bound credential names its user",
        || format!("{found:?}"),
    )?;
    // Another user cannot bind it: nothing is written.
    let taken = store
        .save_user(
            &bob,
            &record,
            None,
            CredentialChanges {
                bind: &bind_one,
                unbind: &[],
            },
        )
        .await;
    check(
        matches!(taken, Err(StoreError::CredentialInUse)),
        "a credential bound to another user is refused",
        || format!("got {taken:?}"),
    )?;
    let bob_record = expect_ok(store.load_user(&bob).await, "a refused bind writes nothing")?;
    check(
        bob_record.is_none(),
        "a refused bind writes nothing",
        || format!("{bob_record:?}"),
    )?;
    // Binding one's own credential again is no change; moving to another works.
    let v2 = expect_ok(
        store
            .save_user(
                &ana,
                &record,
                Some(v1),
                CredentialChanges {
                    bind: &bind_one,
                    unbind: &[],
                },
            )
            .await,
        "bind one's own credential again",
    )?;
    let v3 = expect_ok(
        store
            .save_user(
                &ana,
                &record,
                Some(v2),
                CredentialChanges {
                    bind: std::slice::from_ref(&two),
                    unbind: &bind_one,
                },
            )
            .await,
        "bind one credential and unbind another",
    )?;
    let (first, second) = (
        owner(store, &one, "an unbound credential is free").await?,
        owner(store, &two, "a bound credential names its user").await?,
    );
    check(
        first.is_none() && second.as_deref() == Some(ana.as_str()),
        "an unbound credential is free",
        || format!("one: {first:?}, two: {second:?}"),
    )?;
    // The freed credential can go to Bob; a stale write binds nothing.
    let bob_v1 = expect_ok(
        store
            .save_user(
                &bob,
                &record,
                None,
                CredentialChanges {
                    bind: &bind_one,
                    unbind: &[],
                },
            )
            .await,
        "bind a freed credential",
    )?;
    let stale = store
        .save_user(
            &ana,
            &record,
            Some(v1),
            CredentialChanges {
                bind: &[credential(run, "three")],
                unbind: &[],
            },
        )
        .await;
    check(
        matches!(stale, Err(StoreError::Conflict)),
        "a stale write binds nothing",
        || format!("got {stale:?}"),
    )?;
    let three = owner(
        store,
        &credential(run, "three"),
        "a stale write binds nothing",
    )
    .await?;
    check(three.is_none(), "a stale write binds nothing", || {
        format!("{three:?}")
    })?;
    // Bob cannot take Ana's credential with an update either; his record stays.
    let taken = store
        .save_user(
            &bob,
            &record,
            Some(bob_v1),
            CredentialChanges {
                bind: std::slice::from_ref(&two),
                unbind: &[],
            },
        )
        .await;
    check(
        matches!(taken, Err(StoreError::CredentialInUse)),
        "an update binding another user's credential is refused",
        || format!("got {taken:?}"),
    )?;
    let bob_now = expect_ok(store.load_user(&bob).await, "a refused bind writes nothing")?;
    check(
        bob_now.map(|r| r.version) == Some(bob_v1),
        "a refused bind writes nothing",
        || "the version moved".into(),
    )?;
    // Deleting a user frees their credentials.
    expect_ok(
        store.delete_user(&ana, v3).await,
        "delete a user with credentials",
    )?;
    let freed = owner(store, &two, "deleting a user unbinds their credentials").await?;
    check(
        freed.is_none(),
        "deleting a user unbinds their credentials",
        || format!("{freed:?}"),
    )?;
    Ok(())
}

async fn concurrent_registrations(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    const RACERS: usize = 16;
    for round in 0..5 {
        let id = [credential(run, &format!("race-{round}"))];
        let users: Vec<String> = (0..RACERS)
            .map(|i| format!("{run}-registrar-{round}-{i}"))
            .collect();
        let record = UserRecord::default();
        let results = join_all(users.iter().map(|user| {
            store.save_user(
                user,
                &record,
                None,
                CredentialChanges {
                    bind: &id,
                    unbind: &[],
                },
            )
        }))
        .await;
        let winners: Vec<&String> = users
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(user, _)| user)
            .collect();
        check(
            winners.len() == 1,
            "concurrent registrations of one credential: exactly one wins",
            || format!("{} won: {results:?}", winners.len()),
        )?;
        for result in &results {
            check(
                matches!(result, Ok(_) | Err(StoreError::CredentialInUse)),
                "concurrent registrations: losers see CredentialInUse",
                || format!("{result:?}"),
            )?;
        }
        let bound = owner(store, &id[0], "concurrent registrations").await?;
        check(
            bound.as_ref() == winners.first().copied(),
            "concurrent registrations: the winner owns the credential",
            || format!("{bound:?}"),
        )?;
    }
    Ok(())
}

async fn expiry(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    // Ceremonies: counted per organization, purged when expired. Times are
    // tiny, so that nothing else in a shared database expires with them.
    let (a, b) = (format!("{run}-org-a"), format!("{run}-org-b"));
    let ceremonies = [(&a, 1), (&a, 2), (&a, 3), (&b, 2)];
    for (i, (org, expires_at)) in ceremonies.iter().enumerate() {
        expect_ok(
            store
                .insert_ceremony(
                    &format!("{run}-expiring-{i}"),
                    &ceremony_of(org, *expires_at)?,
                )
                .await,
            "insert ceremonies that expire",
        )?;
    }
    let counts = (
        expect_ok(store.count_ceremonies(&a).await, "count ceremonies")?,
        expect_ok(store.count_ceremonies(&b).await, "count ceremonies")?,
    );
    check(
        counts == (3, 1),
        "count ceremonies per organization",
        || format!("got {counts:?}, expected (3, 1)"),
    )?;
    let purged = expect_ok(
        store.purge_expired(Timestamp::from_unix_seconds(2)).await,
        "purge expired ceremonies",
    )?;
    check(purged >= 3, "purge expired ceremonies", || {
        format!("{purged} purged, expected at least this run's 3")
    })?;
    let counts = (
        expect_ok(store.count_ceremonies(&a).await, "count after a purge")?,
        expect_ok(store.count_ceremonies(&b).await, "count after a purge")?,
    );
    check(
        counts == (1, 0),
        "a purge deletes exactly the ceremonies expired at that time",
        || format!("got {counts:?}, expected (1, 0)"),
    )?;
    let again = expect_ok(
        store.purge_expired(Timestamp::from_unix_seconds(2)).await,
        "purge again",
    )?;
    check(again == 0, "a purge returns how many it deleted", || {
        format!("the second purge deleted {again}")
    })?;
    let left = expect_ok(
        store.take_ceremony(&format!("{run}-expiring-2")).await,
        "an unexpired ceremony survives a purge",
    )?;
    check(
        left.map(|c| c.expires_at) == Some(3),
        "an unexpired ceremony survives a purge",
        || "it was purged".into(),
    )?;

    // Users: records whose lapsed state needs cleaning are found.
    let lapsing = |expires_at| UserRecord {
        challenge: Some(SignInChallenge {
            id: "c".into(),
            expires_at,
            passkey: None,
            methods: Vec::new(),
            recovery: false,
        }),
        ..UserRecord::default()
    };
    let users = [
        (format!("{run}-lapsed-5"), lapsing(5)),
        (format!("{run}-lapsed-10"), lapsing(10)),
        (format!("{run}-lapsed-never"), UserRecord::default()),
    ];
    for (user, record) in &users {
        expect_ok(
            store
                .save_user(user, record, None, CredentialChanges::NONE)
                .await,
            "save records with lapsing state",
        )?;
    }
    let found = expect_ok(
        store
            .expired_users(Timestamp::from_unix_seconds(7), 10_000)
            .await,
        "find lapsed records",
    )?;
    let mine: Vec<&String> = found.iter().filter(|u| u.starts_with(run)).collect();
    check(
        mine == [&users[0].0],
        "find exactly the records with lapsed state",
        || format!("found {mine:?}"),
    )?;
    let one = expect_ok(
        store
            .expired_users(Timestamp::from_unix_seconds(u64::MAX), 1)
            .await,
        "lapsed records, limited",
    )?;
    check(one.len() == 1, "lapsed records, limited", || {
        format!("{} for a limit of 1", one.len())
    })?;
    // Cleaning the record takes it off the list.
    let version =
        expect_ok(store.load_user(&users[0].0).await, "read a lapsed record")?.map(|v| v.version);
    expect_ok(
        store
            .save_user(
                &users[0].0,
                &UserRecord::default(),
                version,
                CredentialChanges::NONE,
            )
            .await,
        "clean a lapsed record",
    )?;
    let found = expect_ok(
        store
            .expired_users(Timestamp::from_unix_seconds(7), 10_000)
            .await,
        "a cleaned record is not lapsed",
    )?;
    check(
        !found.contains(&users[0].0),
        "a cleaned record is not lapsed",
        || "it was still listed".into(),
    )?;
    Ok(())
}

async fn paging(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    let prefix = format!("{run}-list-");
    let ids: Vec<String> = (0..5).map(|i| format!("{prefix}{i}")).collect();
    for id in &ids {
        expect_ok(
            store
                .save_user(id, &UserRecord::default(), None, CredentialChanges::NONE)
                .await,
            "save users to page through",
        )?;
    }
    // In byte order, nothing sorts between "<prefix>" and this run's ids.
    let mut after = format!("{run}-list");
    let mut seen = Vec::new();
    loop {
        let page = expect_ok(
            store.list_users(Some(&after), 2).await,
            "page through users",
        )?;
        check(page.len() <= 2, "a page holds at most the limit", || {
            format!("{} ids", page.len())
        })?;
        let mine: Vec<String> = page
            .iter()
            .filter(|id| id.starts_with(&prefix))
            .cloned()
            .collect();
        let done = mine.len() < page.len() || page.len() < 2;
        seen.extend(mine);
        match page.last() {
            Some(last) if !done => after = last.clone(),
            _ => break,
        }
    }
    check(
        seen == ids,
        "paging visits every user once, in order",
        || format!("saw {seen:?}"),
    )?;
    Ok(())
}
