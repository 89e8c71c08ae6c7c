//! A store that fails at every possible point of each flow, in three ways:
//!
//! - **backend**: the call fails before it reaches the store (a dropped connection);
//! - **conflict**: a conditional write loses (another request wrote first);
//! - **lost acknowledgement**: the write commits, but its answer is lost, so the
//!   facade sees a failure for a change that happened.
//!
//! After each faulted run the whole stored state (users, organizations and
//! ceremonies) is compared: with the state before the run where nothing may have
//! changed, and with the state of a clean run of the same flow (random ids,
//! keys and ceremony states masked) where the flow must have completed. So a
//! write that is skipped but reported as done, a code spent twice, or a code
//! spent without a sign-in all fail here.
#![cfg(test)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{
    Call, Harness, Interpose, Wrapped, account, code, enroll_totp, harness_with_config,
    register_passkey, use_passkey,
};
use serde_json::{Value, json};
use twofold::store::{StoreError, StoreFuture, Version};
use twofold::{Clock, Mode, PolicyDocument, SignInStep, TwoFactorError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The call fails before it reaches the store.
    Backend,
    /// A conditional write loses its race.
    Conflict,
    /// The write commits, and then its acknowledgement is lost.
    LostAck,
}

/// Fails call number `fail_at` with `fault`; logs every call.
struct Faults {
    calls: AtomicUsize,
    fail_at: AtomicUsize,
    fault: Mutex<Fault>,
    log: Mutex<Vec<Call>>,
}

type FaultyStore = Wrapped<Faults>;

fn faulty_store() -> FaultyStore {
    Wrapped::new(Faults {
        calls: AtomicUsize::new(0),
        fail_at: AtomicUsize::new(usize::MAX),
        fault: Mutex::new(Fault::Backend),
        log: Mutex::new(Vec::new()),
    })
}

impl Faults {
    fn arm(&self, at: usize, fault: Fault) {
        self.calls.store(0, Ordering::SeqCst);
        self.log.lock().unwrap().clear();
        *self.fault.lock().unwrap() = fault;
        self.fail_at.store(at, Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.fail_at.store(usize::MAX, Ordering::SeqCst);
    }

    fn log(&self) -> Vec<Call> {
        self.log.lock().unwrap().clone()
    }
}

impl Interpose for Faults {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call,
        start: impl FnOnce() -> StoreFuture<'a, T> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        let index = self.calls.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push(call);
        if index != self.fail_at.load(Ordering::SeqCst) {
            return start();
        }
        match *self.fault.lock().unwrap() {
            Fault::Backend => Box::pin(async { Err(StoreError::Backend("injected fault".into())) }),
            Fault::Conflict if call.is_conditional_write() => {
                Box::pin(async { Err(StoreError::Conflict) })
            }
            Fault::LostAck if call.is_write() => {
                let started = start();
                Box::pin(async move {
                    // The write happens; only its answer is lost.
                    started.await?;
                    Err(StoreError::Backend("injected lost acknowledgement".into()))
                })
            }
            // Never armed (see `applies`).
            _ => start(),
        }
    }
}

fn applies(fault: Fault, call: Call) -> bool {
    match fault {
        Fault::Backend => true,
        Fault::Conflict => call.is_conditional_write(),
        Fault::LostAck => call.is_write(),
    }
}

// ----- whole-store snapshots -----

/// Everything stored, as JSON.
fn snapshot(store: &FaultyStore) -> Value {
    let contents = store.inner.contents();
    let credentials: std::collections::BTreeMap<String, &String> = contents
        .credentials
        .iter()
        .map(|(id, user)| (id.to_base64url(), user))
        .collect();
    let versioned = |version: Version, value: Value| json!({ "version": version, "value": value });
    json!({
        "users": contents.users.iter().map(|(id, v)| {
            (id.clone(), versioned(v.version, serde_json::to_value(&v.value).unwrap()))
        }).collect::<serde_json::Map<_, _>>(),
        "organizations": contents.organizations.iter().map(|(id, v)| {
            (id.clone(), versioned(v.version, serde_json::to_value(&v.value).unwrap()))
        }).collect::<serde_json::Map<_, _>>(),
        "ceremonies": contents.ceremonies.iter().map(|(id, c)| {
            (id.clone(), serde_json::to_value(c).unwrap())
        }).collect::<serde_json::Map<_, _>>(),
        // Which users hold credentials, how many each (the ids are random).
        "credentials": credentials.values().fold(serde_json::Map::new(), |mut map, user| {
            let count = map.get(user.as_str()).and_then(Value::as_u64).unwrap_or(0);
            map.insert((*user).clone(), json!(count + 1));
            map
        }),
    })
}

/// How much of a snapshot two runs must share.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Everything but random values: ids, keys, sealed secrets, ceremony states.
    Exact,
    /// Also without record versions, and with repeated ceremonies and
    /// notifications counted once: for an operation that ran twice (once
    /// unacknowledged, once retried).
    RanTwice,
}

/// A snapshot with the values that differ between two runs of one flow masked:
/// challenge and ceremony ids, credential ids and keys, sealed secrets, passkey
/// ceremony states. Backup-code sets become which slots are used.
fn masked(snapshot: &Value, compare: Compare) -> Value {
    fn walk(value: &Value, compare: Compare) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| {
                        let masked = match key.as_str() {
                            "id" | "nonce" | "ciphertext" | "public_key" | "state" => {
                                json!("<random>")
                            }
                            // The challenge's passkey ceremony state.
                            "passkey" if !value.is_null() => json!("<random>"),
                            "version" if compare == Compare::RanTwice => json!("<version>"),
                            // An operation that ran twice happened twice, and
                            // its notification says so twice: told once each.
                            "notifications" if compare == Compare::RanTwice => {
                                let mut told: Vec<Value> = value
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .map(|n| walk(n, compare))
                                    .collect();
                                told.dedup();
                                Value::Array(told)
                            }
                            "backup_codes" => match value.as_str() {
                                Some(text) => {
                                    let set = twofold_backup::BackupCodeSet::decode(text).unwrap();
                                    json!({
                                        "used": (0..set.len())
                                            .map(|slot| set.is_used(slot).unwrap())
                                            .collect::<Vec<_>>(),
                                    })
                                }
                                None => walk(value, compare),
                            },
                            _ => walk(value, compare),
                        };
                        (key.clone(), masked)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, compare)).collect()),
            other => other.clone(),
        }
    }
    let mut out = walk(snapshot, compare);
    // Ceremonies are keyed by random ids: keep their contents, in a stable order.
    let mut ceremonies: Vec<Value> = snapshot["ceremonies"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| walk(c, compare))
        .collect();
    ceremonies.sort_by_key(Value::to_string);
    if compare == Compare::RanTwice {
        ceremonies.dedup();
    }
    out["ceremonies"] = Value::Array(ceremonies);
    out
}

// ----- the cases -----

type Setup = fn(Arc<Harness>) -> Pin<Box<dyn Future<Output = Context> + Send>>;
type Operation =
    fn(Arc<Harness>, Context) -> Pin<Box<dyn Future<Output = Result<(), TwoFactorError>> + Send>>;

/// What a setup hands to its operation (the code to type, the challenge id, …).
#[derive(Clone, Default)]
struct Context {
    input: String,
    challenge: String,
    credential: Option<twofold::CredentialId>,
}

/// How a flow answers when it is retried after a lost acknowledgement.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// It can run again (a new QR code, a new challenge, the same settings).
    Repeatable,
    /// It spends something once (a code, a challenge, a pending setup): the
    /// retry is refused as already spent, and changes nothing.
    OneTime,
    /// Username-less passkey sign-in: it takes its ceremony before anything
    /// else, so a failure after the take spends the ceremony without signing
    /// in; the user starts a new ceremony.
    TakesCeremonyFirst,
}

struct Case {
    name: &'static str,
    kind: Kind,
    setup: Setup,
    operation: Operation,
}

fn spent(error: &TwoFactorError) -> bool {
    matches!(
        error,
        TwoFactorError::NoChallenge
            | TwoFactorError::CodeAlreadyUsed
            | TwoFactorError::NoPendingEnrollment
            | TwoFactorError::NotEnrolled(_)
    )
}

async fn fresh(case: &Case) -> (Arc<FaultyStore>, Arc<Harness>, Context) {
    let store = Arc::new(faulty_store());
    // The automatic sweep is best-effort (its failures never fail a request);
    // here it is off, and `purge_expired` is a case of its own.
    let mut config = common::config();
    config.sweep_interval_seconds = 0;
    let h = Arc::new(harness_with_config(
        store.clone(),
        common::keyring(),
        common::START,
        config,
    ));
    let context = (case.setup)(Arc::clone(&h)).await;
    (store, h, context)
}

/// Runs `case` with each fault at each store call in turn; returns how many
/// faulted runs it checked.
async fn inject_everywhere(case: &Case) -> usize {
    let name = case.name;
    // The clean run: its calls, and the state it leaves.
    let (store, h, context) = fresh(case).await;
    store.hook.arm(usize::MAX, Fault::Backend);
    (case.operation)(Arc::clone(&h), context)
        .await
        .unwrap_or_else(|e| panic!("{name}: the clean run failed: {e:?}"));
    let calls = store.hook.log();
    assert!(!calls.is_empty(), "{name}: {calls:?}");
    let clean = snapshot(&store);
    let take_at = calls.iter().position(|call| *call == Call::TakeCeremony);
    assert_eq!(
        take_at.is_some(),
        case.kind == Kind::TakesCeremonyFirst,
        "{name}: {calls:?}"
    );

    let mut checked = 0;
    for (at, &call) in calls.iter().enumerate() {
        for fault in [Fault::Backend, Fault::Conflict, Fault::LostAck] {
            if !applies(fault, call) {
                continue;
            }
            checked += 1;
            let what = format!("{name}: {fault:?} at call {at} ({call:?})");
            let (store, h, context) = fresh(case).await;
            let before = snapshot(&store);
            store.hook.arm(at, fault);
            let result = (case.operation)(Arc::clone(&h), context.clone()).await;
            store.hook.disarm();
            assert_eq!(
                store.hook.log().get(at).copied(),
                Some(call),
                "{what}: the faulted run took another path: {:?}",
                store.hook.log()
            );

            if fault == Fault::Conflict {
                // A lost race is retried inside the facade, to the same end.
                result.unwrap_or_else(|e| panic!("{what}: not retried: {e:?}"));
                assert_eq!(
                    masked(&snapshot(&store), Compare::Exact),
                    masked(&clean, Compare::Exact),
                    "{what}: the state differs from a clean run"
                );
                continue;
            }

            let error = result.expect_err(&format!("{what}: went unnoticed"));
            assert!(
                matches!(error, TwoFactorError::Store(_)),
                "{what}: {error:?}"
            );
            // Did this failure already spend the ceremony of a username-less sign-in?
            let ceremony_spent =
                take_at.is_some_and(|take| at > take || (at == take && fault == Fault::LostAck));
            let retry = (case.operation)(Arc::clone(&h), context).await;
            if fault == Fault::Backend && !ceremony_spent {
                // Nothing was written; the same request succeeds when retried.
                retry.unwrap_or_else(|e| panic!("{what}: the retry failed: {e:?}"));
                assert_eq!(
                    masked(&snapshot(&store), Compare::Exact),
                    masked(&clean, Compare::Exact),
                    "{what}: after the retry, the state differs from a clean run"
                );
            } else if fault == Fault::Backend {
                // The username-less ceremony is gone and nobody signed in:
                // the state is the state before, less the ceremony.
                let refused = retry.expect_err(&format!("{what}: a spent ceremony was reused"));
                assert!(
                    matches!(refused, TwoFactorError::NoChallenge),
                    "{what}: {refused:?}"
                );
                let mut expected = before.clone();
                expected["ceremonies"] = json!({});
                assert_eq!(snapshot(&store), expected, "{what}");
            } else {
                match case.kind {
                    Kind::Repeatable => {
                        retry.unwrap_or_else(|e| panic!("{what}: the retry failed: {e:?}"));
                        assert_eq!(
                            masked(&snapshot(&store), Compare::RanTwice),
                            masked(&clean, Compare::RanTwice),
                            "{what}: after the retry, the state differs from a clean run"
                        );
                    }
                    Kind::OneTime | Kind::TakesCeremonyFirst => {
                        // The change happened once; the retry finds it spent.
                        let refused = retry.expect_err(&format!("{what}: spent twice"));
                        assert!(spent(&refused), "{what}: the retry got {refused:?}");
                        let expected = if take_at == Some(at) {
                            // Only the take was acknowledged-lost: nobody signed in.
                            let mut expected = before.clone();
                            expected["ceremonies"] = json!({});
                            expected
                        } else {
                            clean.clone()
                        };
                        assert_eq!(
                            masked(&snapshot(&store), Compare::Exact),
                            masked(&expected, Compare::Exact),
                            "{what}: the state differs from a clean run"
                        );
                    }
                }
            }
        }
    }
    checked
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

fn ana() -> twofold::Account<'static> {
    account("ana", "staff")
}

async fn run(cases: &[Case]) {
    for case in cases {
        let checked = inject_everywhere(case).await;
        assert!(checked >= 2, "{}: only {checked} faulted runs", case.name);
    }
}

#[tokio::test]
async fn totp_enrollment_survives_faults() {
    run(&[
        Case {
            name: "begin TOTP enrollment",
            kind: Kind::Repeatable,
            setup: |_| Box::pin(async { Context::default() }),
            operation: |h, _| {
                Box::pin(async move {
                    h.twofold
                        .begin_totp_enrollment(&ana(), Some(h.clock.now()))
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "confirm TOTP enrollment",
            kind: Kind::OneTime,
            setup: |h| {
                Box::pin(async move {
                    let setup = h
                        .twofold
                        .begin_totp_enrollment(&ana(), Some(h.clock.now()))
                        .await
                        .unwrap()
                        .value;
                    Context {
                        input: code(&setup.manual_entry_secret, h.clock.now()),
                        ..Context::default()
                    }
                })
            },
            operation: |h, c| {
                Box::pin(async move {
                    h.twofold
                        .confirm_totp_enrollment(&ana(), &c.input)
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
    ])
    .await;
}

#[tokio::test]
async fn sign_in_with_each_factor_survives_faults_and_spends_each_code_once() {
    run(&[
        Case {
            name: "begin sign-in",
            kind: Kind::Repeatable,
            setup: |h| {
                Box::pin(async move {
                    enroll_totp(&h, &ana()).await;
                    Context::default()
                })
            },
            operation: |h, _| {
                Box::pin(async move {
                    h.twofold
                        .begin_sign_in(&ana())
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "verify a TOTP code",
            kind: Kind::OneTime,
            setup: |h| {
                Box::pin(async move {
                    let (secret, _) = enroll_totp(&h, &ana()).await;
                    let (id, _) = challenge(h.twofold.begin_sign_in(&ana()).await.unwrap().value);
                    Context {
                        input: code(&secret, h.clock.now()),
                        challenge: id,
                        ..Context::default()
                    }
                })
            },
            operation: |h, c| {
                Box::pin(async move {
                    h.twofold
                        .verify_totp(&ana(), &c.challenge, &c.input)
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "verify a backup code",
            kind: Kind::OneTime,
            setup: |h| {
                Box::pin(async move {
                    let (_, backup) = enroll_totp(&h, &ana()).await;
                    let (id, _) = challenge(h.twofold.begin_sign_in(&ana()).await.unwrap().value);
                    Context {
                        input: backup[0].clone(),
                        challenge: id,
                        ..Context::default()
                    }
                })
            },
            operation: |h, c| {
                Box::pin(async move {
                    h.twofold
                        .verify_backup_code(&ana(), &c.challenge, &c.input)
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "verify a passkey",
            kind: Kind::OneTime,
            setup: |h| {
                Box::pin(async move {
                    let (mut authenticator, _) = register_passkey(&h, &ana(), "key").await;
                    let (id, options) =
                        challenge(h.twofold.begin_sign_in(&ana()).await.unwrap().value);
                    Context {
                        input: use_passkey(&mut authenticator, options.unwrap()),
                        challenge: id,
                        ..Context::default()
                    }
                })
            },
            operation: |h, c| {
                Box::pin(async move {
                    h.twofold
                        .verify_passkey(&ana(), &c.challenge, &c.input)
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
    ])
    .await;
}

#[tokio::test]
async fn username_less_passkey_sign_in_survives_faults() {
    run(&[
        Case {
            name: "begin a username-less sign-in",
            kind: Kind::Repeatable,
            setup: |h| {
                Box::pin(async move {
                    register_passkey(&h, &ana(), "key").await;
                    Context::default()
                })
            },
            operation: |h, _| {
                Box::pin(async move {
                    h.twofold
                        .begin_passkey_sign_in(common::ORG)
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "finish a username-less sign-in",
            kind: Kind::TakesCeremonyFirst,
            setup: |h| {
                Box::pin(async move {
                    let (mut authenticator, added) = register_passkey(&h, &ana(), "key").await;
                    let id = added.value.credential_id.unwrap();
                    let start = h
                        .twofold
                        .begin_passkey_sign_in(common::ORG)
                        .await
                        .unwrap()
                        .value;
                    Context {
                        input: common::username_less_response(
                            &mut authenticator,
                            &start.options,
                            &id,
                            "ana",
                        ),
                        challenge: start.ceremony_id,
                        ..Context::default()
                    }
                })
            },
            operation: |h, c| {
                Box::pin(async move {
                    h.twofold
                        .finish_passkey_sign_in(&c.challenge, &c.input)
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
    ])
    .await;
}

#[tokio::test]
async fn passkey_management_survives_faults() {
    run(&[
        Case {
            name: "begin passkey registration",
            kind: Kind::Repeatable,
            setup: |h| {
                Box::pin(async move {
                    enroll_totp(&h, &ana()).await;
                    Context::default()
                })
            },
            operation: |h, _| {
                Box::pin(async move {
                    h.twofold
                        .begin_passkey_registration(&ana(), Some(h.clock.now()))
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "finish passkey registration",
            kind: Kind::OneTime,
            setup: |h| {
                Box::pin(async move {
                    let mut authenticator =
                        webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
                    let options = h
                        .twofold
                        .begin_passkey_registration(&ana(), Some(h.clock.now()))
                        .await
                        .unwrap()
                        .value;
                    Context {
                        input: common::create_passkey(&mut authenticator, options),
                        ..Context::default()
                    }
                })
            },
            operation: |h, c| {
                Box::pin(async move {
                    h.twofold
                        .finish_passkey_registration(&ana(), &c.input, "desk key")
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "rename a passkey",
            kind: Kind::Repeatable,
            setup: |h| {
                Box::pin(async move {
                    let (_, added) = register_passkey(&h, &ana(), "key").await;
                    Context {
                        credential: added.value.credential_id,
                        ..Context::default()
                    }
                })
            },
            operation: |h, c| {
                Box::pin(async move {
                    h.twofold
                        .rename_passkey(&ana(), c.credential.as_ref().unwrap(), "surgery key")
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "remove a passkey",
            kind: Kind::OneTime,
            setup: |h| {
                Box::pin(async move {
                    enroll_totp(&h, &ana()).await;
                    let (_, added) = register_passkey(&h, &ana(), "key").await;
                    Context {
                        credential: added.value.credential_id,
                        ..Context::default()
                    }
                })
            },
            operation: |h, c| {
                Box::pin(async move {
                    h.twofold
                        .remove_passkey(&ana(), c.credential.as_ref().unwrap(), Some(h.clock.now()))
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
    ])
    .await;
}

#[tokio::test]
async fn administration_survives_faults() {
    run(&[
        Case {
            name: "regenerate backup codes",
            kind: Kind::Repeatable,
            setup: |h| {
                Box::pin(async move {
                    enroll_totp(&h, &ana()).await;
                    Context::default()
                })
            },
            operation: |h, _| {
                Box::pin(async move {
                    h.twofold
                        .regenerate_backup_codes(&ana(), Some(h.clock.now()))
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "disable 2FA",
            kind: Kind::Repeatable,
            setup: |h| {
                Box::pin(async move {
                    enroll_totp(&h, &ana()).await;
                    Context::default()
                })
            },
            operation: |h, _| {
                Box::pin(async move {
                    h.twofold
                        .disable(&ana(), Some(h.clock.now()))
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "admin reset",
            kind: Kind::Repeatable,
            setup: |h| {
                Box::pin(async move {
                    enroll_totp(&h, &ana()).await;
                    Context::default()
                })
            },
            operation: |h, _| {
                Box::pin(async move {
                    h.twofold
                        .admin_reset(
                            &account("olga", "owner"),
                            &ana(),
                            "lost phone",
                            Some(h.clock.now()),
                        )
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "change enforcement",
            kind: Kind::Repeatable,
            setup: |h| {
                Box::pin(async move {
                    enroll_totp(&h, &account("olga", "owner")).await;
                    Context::default()
                })
            },
            operation: |h, _| {
                Box::pin(async move {
                    h.twofold
                        .change_enforcement(
                            &account("olga", "owner"),
                            Mode::Required,
                            Some(h.clock.now()),
                        )
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "purge expired state",
            kind: Kind::Repeatable,
            setup: |h| {
                Box::pin(async move {
                    h.twofold.begin_passkey_sign_in(common::ORG).await.unwrap();
                    h.twofold
                        .begin_totp_enrollment(&ana(), Some(h.clock.now()))
                        .await
                        .unwrap();
                    h.clock.advance(3600);
                    Context::default()
                })
            },
            operation: |h, _| {
                Box::pin(async move {
                    h.twofold
                        .purge_expired()
                        .await
                        .map(|_| ())
                        .map_err(|f| f.error)
                })
            },
        },
        Case {
            name: "set a policy",
            kind: Kind::Repeatable,
            setup: |_| Box::pin(async { Context::default() }),
            operation: |h, _| {
                Box::pin(async move {
                    let mut document = PolicyDocument::example_clinic();
                    document.throttle.max_failures = 5;
                    h.twofold
                        .set_policy(common::ORG, document)
                        .await
                        .map_err(|f| f.error)
                })
            },
        },
    ])
    .await;
}

#[tokio::test]
async fn the_snapshot_sees_what_a_flow_changes() {
    // Guards the comparisons above: masking must not hide the facts they check.
    let case = Case {
        name: "verify a backup code",
        kind: Kind::OneTime,
        setup: |h| {
            Box::pin(async move {
                let (_, backup) = enroll_totp(&h, &ana()).await;
                let (id, _) = challenge(h.twofold.begin_sign_in(&ana()).await.unwrap().value);
                Context {
                    input: backup[0].clone(),
                    challenge: id,
                    ..Context::default()
                }
            })
        },
        operation: |h, c| {
            Box::pin(async move {
                h.twofold
                    .verify_backup_code(&ana(), &c.challenge, &c.input)
                    .await
                    .map(|_| ())
                    .map_err(|f| f.error)
            })
        },
    };
    let (store, h, context) = fresh(&case).await;
    let before = masked(&snapshot(&store), Compare::Exact);
    (case.operation)(Arc::clone(&h), context).await.unwrap();
    let after = masked(&snapshot(&store), Compare::Exact);
    assert_ne!(before, after);
    let user = &after["users"]["ana"]["value"];
    assert_eq!(user["backup_codes"]["used"][0], json!(true));
    assert_eq!(user["backup_codes"]["used"][1], json!(false));
    assert!(user.get("challenge").is_none(), "{user}");
    assert_ne!(
        before["users"]["ana"]["version"],
        after["users"]["ana"]["version"]
    );
}
