//! Records: CRUD, version conflicts, concurrent consumption, odd values.

use super::*;

pub(super) async fn users_crud(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
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

pub(super) async fn user_conflicts(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
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

pub(super) async fn ceremonies(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
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

pub(super) async fn organizations(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
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

pub(super) async fn concurrent_consumption(
    store: &dyn Store,
    run: &str,
) -> Result<(), ConformanceFailure> {
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

pub(super) async fn large_and_odd_values(
    store: &dyn Store,
    run: &str,
) -> Result<(), ConformanceFailure> {
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

/// Reading a user and an organization together gives what reading each gives,
/// whichever of them exists, and the latest versions.
pub(super) async fn user_and_organization(
    store: &dyn Store,
    run: &str,
) -> Result<(), ConformanceFailure> {
    const CHECK: &str = "read a user and an organization together";
    let user = format!("{run}-both-user");
    let org = format!("{run}-both-org");
    let record = rich_record(1)?;
    let mut settings = OrganizationRecord {
        policy: PolicyDocument::example_clinic(),
        enforcement_since: None,
    };
    let (user_id, org_id) = (user.as_str(), org.as_str());
    let same = |step: &'static str| async move {
        let both = expect_ok(
            store.load_user_and_organization(user_id, org_id).await,
            CHECK,
        )?;
        let user = expect_ok(store.load_user(user_id).await, CHECK)?;
        let org = expect_ok(store.load_organization(org_id).await, CHECK)?;
        check(both == (user.clone(), org.clone()), CHECK, || {
            format!("{step}: together {both:?}, apart {:?}", (user, org))
        })
    };
    same("neither exists").await?;
    let v1 = expect_ok(store.save_organization(&org, &settings, None).await, CHECK)?;
    same("only the organization exists").await?;
    expect_ok(
        store
            .save_user(&user, &record, None, CredentialChanges::NONE)
            .await,
        CHECK,
    )?;
    same("both exist").await?;
    settings.policy.enforcement.mode = Mode::Required;
    let v2 = expect_ok(
        store.save_organization(&org, &settings, Some(v1)).await,
        CHECK,
    )?;
    same("the organization changed").await?;
    let (_, read) = expect_ok(store.load_user_and_organization(&user, &org).await, CHECK)?;
    check(
        read.as_ref().map(|r| (&r.value, r.version)) == Some((&settings, v2)),
        CHECK,
        || format!("read {read:?} after the change"),
    )?;
    let (loaded, _) = expect_ok(
        store
            .load_user_and_organization(&user, &format!("{run}-no-org"))
            .await,
        CHECK,
    )?;
    check(
        loaded.is_some_and(|loaded| loaded.value == record),
        CHECK,
        || "only the user exists: the user was not read".into(),
    )
}
