//! The credential index, including concurrent registrations.

use super::*;

pub(super) fn credential(run: &str, name: &str) -> CredentialId {
    CredentialId::from_bytes(format!("{run}-credential-{name}").as_bytes())
}

pub(super) async fn owner(
    store: &dyn Store,
    id: &CredentialId,
    check: &'static str,
) -> Result<Option<String>, ConformanceFailure> {
    expect_ok(store.credential_owner(id).await, check)
}

pub(super) async fn credential_index(
    store: &dyn Store,
    run: &str,
) -> Result<(), ConformanceFailure> {
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

pub(super) async fn concurrent_registrations(
    store: &dyn Store,
    run: &str,
) -> Result<(), ConformanceFailure> {
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
