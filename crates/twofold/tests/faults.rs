//! A store that fails, or reports a conflict, at every possible point of each
//! flow. After each failure nothing is half-written, no code is spent without a
//! successful sign-in, and the operation can be retried.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{Harness, account, code, enrol_totp, harness_with, register_passkey, use_passkey};
use twofold::store::{
    CeremonyRecord, OrganizationRecord, Store, StoreError, StoreFuture, UserRecord, Version,
    Versioned,
};
use twofold::{Clock, MemoryStore, Mode, SignInStep};

/// Wraps a MemoryStore; call number `fail_at` fails (a backend error, or a
/// conflict for writes when `conflict` is set).
#[derive(Default)]
struct FaultyStore {
    inner: MemoryStore,
    calls: AtomicUsize,
    fail_at: AtomicUsize,
    conflict: AtomicBool,
}

impl FaultyStore {
    fn arm(&self, at: usize, conflict: bool) {
        self.calls.store(0, Ordering::SeqCst);
        self.fail_at.store(at, Ordering::SeqCst);
        self.conflict.store(conflict, Ordering::SeqCst);
    }
    fn disarm(&self) {
        self.fail_at.store(usize::MAX, Ordering::SeqCst);
    }
    /// Whether this call fails, and how.
    fn fault(&self, is_write: bool) -> Option<StoreError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call != self.fail_at.load(Ordering::SeqCst) {
            return None;
        }
        if self.conflict.load(Ordering::SeqCst) {
            is_write.then_some(StoreError::Conflict)
        } else {
            Some(StoreError::Backend("injected fault".into()))
        }
    }
}

macro_rules! faulty {
    ($self:ident, $write:expr, $call:expr) => {{
        match $self.fault($write) {
            Some(error) => Box::pin(async move { Err(error) }),
            None => $call,
        }
    }};
}

impl Store for FaultyStore {
    fn load_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Option<Versioned<UserRecord>>> {
        faulty!(self, false, self.inner.load_user(user))
    }
    fn save_user<'a>(
        &'a self,
        user: &'a str,
        record: &'a UserRecord,
        expected: Option<Version>,
    ) -> StoreFuture<'a, Version> {
        faulty!(self, true, self.inner.save_user(user, record, expected))
    }
    fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()> {
        faulty!(self, true, self.inner.delete_user(user, expected))
    }
    fn insert_ceremony<'a>(
        &'a self,
        id: &'a str,
        ceremony: &'a CeremonyRecord,
    ) -> StoreFuture<'a, ()> {
        faulty!(self, true, self.inner.insert_ceremony(id, ceremony))
    }
    fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>> {
        faulty!(self, true, self.inner.take_ceremony(id))
    }
    fn load_organization<'a>(
        &'a self,
        organization: &'a str,
    ) -> StoreFuture<'a, Option<Versioned<OrganizationRecord>>> {
        faulty!(self, false, self.inner.load_organization(organization))
    }
    fn save_organization<'a>(
        &'a self,
        organization: &'a str,
        record: &'a OrganizationRecord,
        expected: Option<Version>,
    ) -> StoreFuture<'a, Version> {
        faulty!(
            self,
            true,
            self.inner.save_organization(organization, record, expected)
        )
    }
}

type Setup = fn(Arc<Harness>) -> Pin<Box<dyn Future<Output = Context> + Send>>;
type Operation =
    fn(Arc<Harness>, Context) -> Pin<Box<dyn Future<Output = Result<(), twofold::Failure>> + Send>>;

/// What a setup hands to its operation (the code to type, the challenge id, …).
#[derive(Clone, Default)]
struct Context {
    input: String,
    challenge: String,
}

async fn snapshot(store: &FaultyStore) -> (Option<UserRecord>, Option<OrganizationRecord>) {
    (
        store.inner.load_user("ana").await.unwrap().map(|v| v.value),
        store
            .inner
            .load_organization(common::ORG)
            .await
            .unwrap()
            .map(|v| v.value),
    )
}

/// Runs `operation` with a fault injected at each store call in turn.
async fn inject_everywhere(name: &str, setup: Setup, operation: Operation) {
    // Count the calls of a clean run.
    let store = Arc::new(FaultyStore::default());
    store.disarm();
    let h = Arc::new(harness_with(store.clone()));
    let context = setup(Arc::clone(&h)).await;
    store.arm(usize::MAX, false);
    operation(Arc::clone(&h), context)
        .await
        .unwrap_or_else(|f| panic!("{name}: the clean run failed: {f:?}"));
    let calls = store.calls.load(Ordering::SeqCst);
    assert!(calls >= 2, "{name}: {calls} calls");

    for at in 0..calls {
        for conflict in [false, true] {
            let store = Arc::new(FaultyStore::default());
            store.disarm();
            let h = Arc::new(harness_with(store.clone()));
            let context = setup(Arc::clone(&h)).await;
            let before = snapshot(&store).await;
            store.arm(at, conflict);
            let result = operation(Arc::clone(&h), context.clone()).await;
            store.disarm();
            if conflict {
                // A lost conditional write is retried inside the facade.
                assert!(
                    result.is_ok(),
                    "{name}: a conflict at call {at} was not retried: {result:?}"
                );
                continue;
            }
            let failure =
                result.expect_err(&format!("{name}: a fault at call {at} went unnoticed"));
            assert!(
                matches!(failure.error, twofold::TwoFactorError::Store(_)),
                "{name}: call {at}: {failure:?}"
            );
            // Nothing half-written: the stored state is exactly as before.
            assert_eq!(
                snapshot(&store).await,
                before,
                "{name}: a fault at call {at} left a partial write"
            );
            // The same operation, with the same code, succeeds when retried.
            operation(Arc::clone(&h), context)
                .await
                .unwrap_or_else(|f| {
                    panic!("{name}: the retry after a fault at call {at} failed: {f:?}")
                });
        }
    }
}

fn challenge(step: SignInStep) -> (String, Option<serde_json::Value>) {
    match step {
        SignInStep::Challenge {
            challenge_id,
            passkey_options,
            ..
        } => (challenge_id, passkey_options),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn totp_enrollment_survives_faults() {
    inject_everywhere(
        "begin TOTP enrolment",
        |_| Box::pin(async { Context::default() }),
        |h, _| {
            Box::pin(async move {
                h.twofold
                    .begin_totp_enrollment(&account("ana", "staff"))
                    .await
                    .map(|_| ())
            })
        },
    )
    .await;
    inject_everywhere(
        "confirm TOTP enrolment",
        |h| {
            Box::pin(async move {
                let setup = h
                    .twofold
                    .begin_totp_enrollment(&account("ana", "staff"))
                    .await
                    .unwrap()
                    .value;
                Context {
                    input: code(&setup.manual_entry_secret, h.clock.now()),
                    ..Context::default()
                }
            })
        },
        |h, c| {
            Box::pin(async move {
                h.twofold
                    .confirm_totp_enrollment(&account("ana", "staff"), &c.input)
                    .await
                    .map(|_| ())
            })
        },
    )
    .await;
}

#[tokio::test]
async fn sign_in_with_each_factor_survives_faults_without_spending_a_code() {
    inject_everywhere(
        "begin sign-in",
        |h| {
            Box::pin(async move {
                enrol_totp(&h, &account("ana", "staff")).await;
                Context::default()
            })
        },
        |h, _| {
            Box::pin(async move {
                h.twofold
                    .begin_sign_in(&account("ana", "staff"))
                    .await
                    .map(|_| ())
            })
        },
    )
    .await;
    inject_everywhere(
        "verify a TOTP code",
        |h| {
            Box::pin(async move {
                let ana = account("ana", "staff");
                let (secret, _) = enrol_totp(&h, &ana).await;
                let (id, _) = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
                Context {
                    input: code(&secret, h.clock.now()),
                    challenge: id,
                }
            })
        },
        |h, c| {
            Box::pin(async move {
                h.twofold
                    .verify_totp(&account("ana", "staff"), &c.challenge, &c.input)
                    .await
                    .map(|_| ())
            })
        },
    )
    .await;
    inject_everywhere(
        "verify a backup code",
        |h| {
            Box::pin(async move {
                let ana = account("ana", "staff");
                let (_, backup) = enrol_totp(&h, &ana).await;
                let (id, _) = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
                Context {
                    input: backup[0].clone(),
                    challenge: id,
                }
            })
        },
        |h, c| {
            Box::pin(async move {
                h.twofold
                    .verify_backup_code(&account("ana", "staff"), &c.challenge, &c.input)
                    .await
                    .map(|_| ())
            })
        },
    )
    .await;
    inject_everywhere(
        "verify a passkey",
        |h| {
            Box::pin(async move {
                let ana = account("ana", "staff");
                let (mut authenticator, _) = register_passkey(&h, &ana, "key").await;
                let (id, options) = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
                Context {
                    input: use_passkey(&mut authenticator, options.unwrap()),
                    challenge: id,
                }
            })
        },
        |h, c| {
            Box::pin(async move {
                h.twofold
                    .verify_passkey(&account("ana", "staff"), &c.challenge, &c.input)
                    .await
                    .map(|_| ())
            })
        },
    )
    .await;
}

#[tokio::test]
async fn administration_survives_faults() {
    inject_everywhere(
        "regenerate backup codes",
        |h| {
            Box::pin(async move {
                enrol_totp(&h, &account("ana", "staff")).await;
                Context::default()
            })
        },
        |h, _| {
            Box::pin(async move {
                h.twofold
                    .regenerate_backup_codes(&account("ana", "staff"), Some(h.clock.now()))
                    .await
                    .map(|_| ())
            })
        },
    )
    .await;
    inject_everywhere(
        "disable 2FA",
        |h| {
            Box::pin(async move {
                enrol_totp(&h, &account("ana", "staff")).await;
                Context::default()
            })
        },
        |h, _| {
            Box::pin(async move {
                h.twofold
                    .disable(&account("ana", "staff"), Some(h.clock.now()))
                    .await
                    .map(|_| ())
            })
        },
    )
    .await;
    inject_everywhere(
        "admin reset",
        |h| {
            Box::pin(async move {
                enrol_totp(&h, &account("ana", "staff")).await;
                Context::default()
            })
        },
        |h, _| {
            Box::pin(async move {
                h.twofold
                    .admin_reset(
                        &account("olga", "owner"),
                        &account("ana", "staff"),
                        "lost phone",
                    )
                    .await
                    .map(|_| ())
            })
        },
    )
    .await;
    inject_everywhere(
        "change enforcement",
        |h| {
            Box::pin(async move {
                enrol_totp(&h, &account("ana", "owner")).await;
                Context::default()
            })
        },
        |h, _| {
            Box::pin(async move {
                h.twofold
                    .change_enforcement(&account("ana", "owner"), Mode::Required)
                    .await
                    .map(|_| ())
            })
        },
    )
    .await;
}
