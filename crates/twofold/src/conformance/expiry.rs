//! Expiry (purging ceremonies, finding lapsed records) and paging.

use super::*;

pub(super) async fn expiry(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
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

/// Records with a notification due are found, earliest first; the index
/// follows both the insert and the conditional update of a record.
pub(super) async fn notifications(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
    let due = |times: &[Option<u64>]| UserRecord {
        notifications: times
            .iter()
            .enumerate()
            .map(|(i, next)| StoredNotification {
                id: format!("n{i}"),
                notice: Notice::TwoFactorDisabled,
                at: 1,
                attempts: 0,
                next_attempt_at: *next,
                delivered_at: next.is_none().then_some(1),
            })
            .collect(),
        ..UserRecord::default()
    };
    let (early, late, delivered) = (
        format!("{run}-notify-early"),
        format!("{run}-notify-late"),
        format!("{run}-notify-delivered"),
    );
    // `early` is created due at 10 and then updated to be due at 5 (the
    // earlier of two): the update must move its index entry.
    let records = [
        (&early, due(&[Some(10)])),
        (&late, due(&[None, Some(10), Some(12)])),
        (&delivered, due(&[None])),
    ];
    for (user, record) in &records {
        expect_ok(
            store
                .save_user(user, record, None, CredentialChanges::NONE)
                .await,
            "save records with notifications",
        )?;
    }
    let version = expect_ok(store.load_user(&early).await, "read a record")?.map(|v| v.version);
    expect_ok(
        store
            .save_user(
                &early,
                &due(&[Some(7), Some(5)]),
                version,
                CredentialChanges::NONE,
            )
            .await,
        "update a record's notifications",
    )?;
    let mine = |found: Vec<String>| -> Vec<String> {
        found.into_iter().filter(|u| u.starts_with(run)).collect()
    };
    let found = mine(expect_ok(
        store
            .users_to_notify(Timestamp::from_unix_seconds(6), 10_000)
            .await,
        "find records with a notification due",
    )?);
    check(
        found == [early.clone()],
        "find exactly the records with a notification due (after an update)",
        || format!("found {found:?}"),
    )?;
    let found = mine(expect_ok(
        store
            .users_to_notify(Timestamp::from_unix_seconds(20), 10_000)
            .await,
        "find records with a notification due",
    )?);
    check(
        found == [early.clone(), late.clone()],
        "records with a notification due come earliest first, never a delivered one",
        || format!("found {found:?}"),
    )?;
    let one = expect_ok(
        store
            .users_to_notify(Timestamp::from_unix_seconds(u64::MAX), 1)
            .await,
        "records to notify, limited",
    )?;
    check(one.len() == 1, "records to notify, limited", || {
        format!("{} for a limit of 1", one.len())
    })?;
    // Delivering everything takes the record off the list.
    let version = expect_ok(store.load_user(&early).await, "read a record")?.map(|v| v.version);
    expect_ok(
        store
            .save_user(
                &early,
                &due(&[None, None]),
                version,
                CredentialChanges::NONE,
            )
            .await,
        "mark notifications delivered",
    )?;
    let found = mine(expect_ok(
        store
            .users_to_notify(Timestamp::from_unix_seconds(20), 10_000)
            .await,
        "a delivered record has nothing due",
    )?);
    check(
        found == [late.clone()],
        "a record whose notifications were delivered is not listed",
        || format!("found {found:?}"),
    )?;
    // Nothing due is left behind in a shared database, where it would come
    // first for every later run's delivery.
    for user in [&early, &late, &delivered] {
        if let Some(current) = expect_ok(store.load_user(user).await, "read a record")? {
            expect_ok(
                store.delete_user(user, current.version).await,
                "delete the records with notifications",
            )?;
        }
    }
    Ok(())
}

pub(super) async fn paging(store: &dyn Store, run: &str) -> Result<(), ConformanceFailure> {
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
