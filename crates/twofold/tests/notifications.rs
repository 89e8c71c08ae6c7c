//! Security notifications: written in the same conditional write as the change
//! they report (so that a lost write sends none), delivered at least once with
//! a stable id (so that a worker killed mid-delivery loses none), bounded; and
//! the history of every factor a user has had.
#![cfg(test)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{
    Call, Interpose, ORG, Wrapped, account, code, config, enroll_totp, harness, harness_with,
    keyring, register_passkey, wrong_code,
};
use twofold::store::{StoreError, StoreFuture};
use twofold::{
    Clock, Factor, Mode, Notice, Notification, NotificationSender, PolicyDocument, RemovedBy,
    SendError, SendFuture, SignInStep, TwoFactor,
};

/// A mailer that records what it is given; fails while `failing` is set.
#[derive(Default)]
struct Mailer {
    sent: Mutex<Vec<Notification>>,
    failing: std::sync::atomic::AtomicBool,
}

impl NotificationSender for Mailer {
    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        Box::pin(async move {
            if self.failing.load(Ordering::SeqCst) {
                return Err(SendError::new("the SMTP server is down"));
            }
            self.sent.lock().unwrap().push(notification.clone());
            Ok(())
        })
    }
}

impl Mailer {
    fn ids(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.id.clone())
            .collect()
    }
}

/// A mailer that takes the notification and then never answers: the worker
/// is stopped (killed) while it waits.
#[derive(Default)]
struct Stalled {
    taken: Mutex<Vec<String>>,
}

impl NotificationSender for Stalled {
    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        self.taken.lock().unwrap().push(notification.id.clone());
        Box::pin(std::future::pending())
    }
}

fn challenge_id(step: SignInStep) -> String {
    match step {
        SignInStep::Challenge { challenge_id, .. } => challenge_id,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn every_change_a_user_must_hear_about_is_delivered_once() {
    let h = harness();
    let (olga, ana) = (account("olga", "owner"), account("ana", "staff"));
    enroll_totp(&h, &olga).await;
    let (secret, backup) = enroll_totp(&h, &ana).await;
    register_passkey(&h, &ana, "Work laptop").await;
    // A backup code signs in; 9 remain.
    let id = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_backup_code(&ana, &id, &backup[0])
        .await
        .unwrap();
    // Ten wrong codes lock the second step.
    for _ in 0..10 {
        let now = h.clock.now();
        if let Ok(step) = h.twofold.begin_sign_in(&ana).await
            && let SignInStep::Challenge { challenge_id, .. } = step.value
        {
            let _ = h
                .twofold
                .verify_totp(&ana, &challenge_id, &wrong_code(&secret, now))
                .await;
        }
        h.clock.advance(901);
    }
    h.twofold
        .admin_unlock(
            &olga,
            &ana,
            "called from the front desk",
            Some(h.clock.now()),
        )
        .await
        .unwrap();
    let passkey = h.twofold.status(&ana).await.unwrap().passkeys[0].id.clone();
    h.twofold
        .remove_passkey(&ana, &passkey, Some(h.clock.now()))
        .await
        .unwrap();
    h.twofold
        .regenerate_backup_codes(&ana, Some(h.clock.now()))
        .await
        .unwrap();
    h.twofold
        .admin_reset(&olga, &ana, "lost phone", Some(h.clock.now()))
        .await
        .unwrap();

    let expected = [
        "factor_added",
        "factor_added",
        "backup_code_used",
        "locked_out",
        "admin_unlocked",
        "factor_removed",
        "backup_codes_regenerated",
        "admin_reset",
    ];
    let activity = h.twofold.security_activity(&ana).await.unwrap();
    let listed: Vec<&str> = activity.iter().rev().map(|a| a.notice.kind()).collect();
    assert_eq!(listed, expected);
    assert!(activity.iter().all(|a| a.delivered_at.is_none()));
    let details: Vec<&Notice> = activity.iter().rev().map(|a| &a.notice).collect();
    assert_eq!(
        details[1],
        &Notice::FactorAdded {
            factor: Factor::Passkey,
            name: Some("Work laptop".into())
        }
    );
    assert_eq!(
        details[2],
        &Notice::BackupCodeUsed {
            remaining: 9,
            low: false
        }
    );
    assert!(matches!(details[3], Notice::LockedOut { until: Some(_) }));
    assert_eq!(
        details[5],
        &Notice::FactorRemoved {
            factor: Factor::Passkey,
            name: Some("Work laptop".into())
        }
    );
    assert_eq!(
        details[7],
        &Notice::AdminReset {
            actor: "olga".into()
        }
    );

    let mailer = Mailer::default();
    // At most 4 of a record per round: Ana's first 4, and Olga's one; then the rest.
    let round = h.twofold.deliver_notifications(&mailer).await.unwrap();
    assert_eq!((round.sent, round.failed, round.skipped), (5, 0, 0));
    let round = h.twofold.deliver_notifications(&mailer).await.unwrap();
    assert_eq!((round.sent, round.failed, round.skipped), (4, 0, 0));
    let anas: Vec<&'static str> = mailer
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|n| n.user == "ana")
        .map(|n| n.notice.kind())
        .collect();
    assert_eq!(anas, expected);
    // Olga heard of her own authenticator app (and of nobody else's changes).
    let olgas: Vec<&'static str> = mailer
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|n| n.user == "olga")
        .map(|n| n.notice.kind())
        .collect();
    assert_eq!(olgas, ["factor_added"]);
    // The ids match the activity's, and each is sent once: the next round has nothing.
    let mut ids = mailer.ids();
    ids.sort();
    let mut listed: Vec<String> = activity.iter().map(|a| a.id.clone()).collect();
    listed.extend(
        h.twofold
            .security_activity(&olga)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id),
    );
    listed.sort();
    assert_eq!(ids, listed);
    h.clock.advance(86_400);
    let again = h.twofold.deliver_notifications(&mailer).await.unwrap();
    assert_eq!(again.sent, 0);
    let activity = h.twofold.security_activity(&ana).await.unwrap();
    assert!(activity.iter().all(|a| a.delivered_at.is_some()));
}

#[tokio::test]
async fn backup_codes_running_low_say_so() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, backup) = enroll_totp(&h, &ana).await;
    // 10 codes, low at 3: the 7th use leaves 3.
    for code in &backup[..7] {
        let id = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        h.twofold.verify_backup_code(&ana, &id, code).await.unwrap();
    }
    let activity = h.twofold.security_activity(&ana).await.unwrap();
    assert_eq!(
        activity[0].notice,
        Notice::BackupCodeUsed {
            remaining: 3,
            low: true
        }
    );
    assert_eq!(
        activity[1].notice,
        Notice::BackupCodeUsed {
            remaining: 4,
            low: false
        }
    );
}

/// The outbox crash test: the worker is killed after it claimed the
/// notifications and while the mailer holds them, before any delivery is
/// recorded. A restarted worker (a new process: a new facade over the same
/// store) sends each of them again once the claim's lease is over, with the
/// same id, exactly once; nothing is lost and nothing is sent twice after.
#[tokio::test]
async fn a_worker_killed_mid_delivery_loses_nothing_and_repeats_the_same_ids() {
    let h = harness();
    let ana = account("ana", "staff");
    enroll_totp(&h, &ana).await;
    register_passkey(&h, &ana, "Phone").await;
    let written: Vec<String> = h
        .twofold
        .security_activity(&ana)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(written.len(), 2);

    let stalled = Arc::new(Stalled::default());
    let worker = {
        let (twofold, stalled) = (Arc::clone(&h.twofold), Arc::clone(&stalled));
        tokio::spawn(async move { twofold.deliver_notifications(&*stalled).await })
    };
    while stalled.taken.lock().unwrap().is_empty() {
        tokio::task::yield_now().await;
    }
    worker.abort();
    assert!(worker.await.unwrap_err().is_cancelled());

    // The restarted worker: the same store and clock, a new facade.
    let restarted = TwoFactor::new(Arc::clone(&h.store), keyring(), config())
        .unwrap()
        .with_clock(h.clock.clone());
    let mailer = Mailer::default();
    // Within the lease, nothing is sent twice at once.
    let round = restarted.deliver_notifications(&mailer).await.unwrap();
    assert_eq!(round.sent, 0);
    h.clock.advance(299);
    assert_eq!(
        restarted.deliver_notifications(&mailer).await.unwrap().sent,
        0
    );
    h.clock.advance(1);
    let round = restarted.deliver_notifications(&mailer).await.unwrap();
    assert_eq!(round.sent, 2);
    let mut sent = mailer.ids();
    sent.sort();
    let mut expected = written.clone();
    expected.sort();
    assert_eq!(sent, expected);
    // The second attempt says so.
    assert!(mailer.sent.lock().unwrap().iter().all(|n| n.attempt == 2));
    h.clock.advance(86_400);
    assert_eq!(
        restarted.deliver_notifications(&mailer).await.unwrap().sent,
        0
    );
    assert_eq!(mailer.ids().len(), 2);
}

#[tokio::test]
async fn a_failed_send_is_retried_with_back_off_under_the_same_id() {
    let h = harness();
    let ana = account("ana", "staff");
    enroll_totp(&h, &ana).await;
    let mailer = Mailer::default();
    mailer.failing.store(true, Ordering::SeqCst);
    let round = h.twofold.deliver_notifications(&mailer).await.unwrap();
    assert_eq!((round.sent, round.failed), (0, 1));
    // 30 s, then 60 s.
    h.clock.advance(29);
    assert_eq!(
        h.twofold
            .deliver_notifications(&mailer)
            .await
            .unwrap()
            .failed,
        0
    );
    h.clock.advance(1);
    assert_eq!(
        h.twofold
            .deliver_notifications(&mailer)
            .await
            .unwrap()
            .failed,
        1
    );
    h.clock.advance(59);
    assert_eq!(
        h.twofold
            .deliver_notifications(&mailer)
            .await
            .unwrap()
            .failed,
        0
    );
    h.clock.advance(1);
    mailer.failing.store(false, Ordering::SeqCst);
    let round = h.twofold.deliver_notifications(&mailer).await.unwrap();
    assert_eq!((round.sent, round.failed), (1, 0));
    let sent = mailer.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].attempt, 3);
    let activity = h.twofold.security_activity(&ana).await.unwrap();
    assert_eq!(activity[0].id, sent[0].id);
    assert_eq!(activity[0].delivered_at, Some(h.clock.now()));
}

#[tokio::test]
async fn concurrent_workers_send_each_notification_once() {
    let h = harness();
    for user in ["ana", "ben", "cy", "di"] {
        enroll_totp(&h, &account(user, "staff")).await;
    }
    let mailer = Mailer::default();
    let rounds =
        futures_util::future::join_all((0..4).map(|_| h.twofold.deliver_notifications(&mailer)))
            .await;
    let sent: u64 = rounds.into_iter().map(|r| r.unwrap().sent).sum();
    assert_eq!(sent, 4);
    let mut ids = mailer.ids();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

/// Loses the first user write it sees (a concurrent writer came first).
struct LoseFirstWrite {
    armed: AtomicUsize,
}

impl Interpose for LoseFirstWrite {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call,
        start: impl FnOnce() -> StoreFuture<'a, T> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        if call == Call::SaveUser && self.armed.swap(0, Ordering::SeqCst) == 1 {
            return Box::pin(async { Err(StoreError::Conflict) });
        }
        start()
    }
}

#[tokio::test]
async fn a_write_that_lost_its_race_sends_nothing() {
    let store = Arc::new(Wrapped::new(LoseFirstWrite {
        armed: AtomicUsize::new(0),
    }));
    let h = harness_with(store.clone());
    let ana = account("ana", "staff");
    enroll_totp(&h, &ana).await;
    h.twofold
        .begin_passkey_registration(&ana, Some(h.clock.now()))
        .await
        .unwrap();
    // Regenerating loses its first write and retries: one notification.
    store.hook.armed.store(1, Ordering::SeqCst);
    h.twofold
        .regenerate_backup_codes(&ana, Some(h.clock.now()))
        .await
        .unwrap();
    assert_eq!(
        store.hook.armed.load(Ordering::SeqCst),
        0,
        "a write was lost"
    );
    let kinds: Vec<&str> = h
        .twofold
        .security_activity(&ana)
        .await
        .unwrap()
        .iter()
        .map(|a| a.notice.kind())
        .collect();
    assert_eq!(kinds, ["backup_codes_regenerated", "factor_added"]);
}

#[tokio::test]
async fn two_racing_uses_of_one_backup_code_tell_of_one() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, backup) = enroll_totp(&h, &ana).await;
    let id = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let (a, b) = tokio::join!(
        h.twofold.verify_backup_code(&ana, &id, &backup[0]),
        h.twofold.verify_backup_code(&ana, &id, &backup[0]),
    );
    assert!(a.is_ok() != b.is_ok(), "exactly one of the two signs in");
    let used = h
        .twofold
        .security_activity(&ana)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.notice.kind() == "backup_code_used")
        .count();
    assert_eq!(used, 1);
}

#[tokio::test]
async fn a_user_reached_by_enforcement_is_told_once() {
    let h = harness();
    let (olga, sam) = (account("olga", "owner"), account("sam", "staff"));
    enroll_totp(&h, &olga).await;
    let mut policy = PolicyDocument::example_clinic();
    policy.enforcement.grace_seconds = 7 * 86_400;
    h.twofold.set_policy(ORG, policy).await.unwrap();
    h.twofold
        .change_enforcement(&olga, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap();
    h.twofold.begin_sign_in(&sam).await.unwrap();
    h.clock.advance(86_400);
    h.twofold.begin_sign_in(&sam).await.unwrap();
    let activity = h.twofold.security_activity(&sam).await.unwrap();
    assert_eq!(activity.len(), 1);
    let Notice::EnrollmentRequired { deadline } = activity[0].notice else {
        panic!("{activity:?}");
    };
    assert_eq!(deadline, activity[0].at.plus_seconds(7 * 86_400));
    // A user who already has a factor is not told to set one up.
    assert!(
        h.twofold
            .security_activity(&olga)
            .await
            .unwrap()
            .iter()
            .all(|a| a.notice.kind() != "enrollment_required")
    );
}

#[tokio::test]
async fn an_outbox_nobody_delivers_stays_bounded() {
    let h = harness();
    let ana = account("ana", "staff");
    enroll_totp(&h, &ana).await;
    for _ in 0..40 {
        h.twofold
            .regenerate_backup_codes(&ana, Some(h.clock.now()))
            .await
            .unwrap();
    }
    let activity = h.twofold.security_activity(&ana).await.unwrap();
    assert_eq!(activity.len(), 32);
    // The newest are kept.
    assert!(
        activity
            .iter()
            .all(|a| a.notice.kind() == "backup_codes_regenerated")
    );
}

#[tokio::test]
async fn every_factor_ever_bound_is_kept_with_who_removed_it() {
    let h = harness();
    let (olga, ana) = (account("olga", "owner"), account("ana", "staff"));
    enroll_totp(&h, &olga).await;
    let enrolled = h.clock.now().as_unix_seconds() - 30;
    let (secret, _) = enroll_totp(&h, &ana).await;
    let (_, first) = register_passkey(&h, &ana, "Old phone").await;
    register_passkey(&h, &ana, "New phone").await;
    // Signed in with the app: its last use is that code's step.
    let id = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let used = h.clock.now();
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, used))
        .await
        .unwrap();
    h.clock.advance(60);
    let removed_at = h.clock.now();
    h.twofold
        .remove_passkey(
            &ana,
            &first.value.credential_id.unwrap(),
            Some(h.clock.now()),
        )
        .await
        .unwrap();
    let history = h.twofold.authenticator_history(&ana).await.unwrap();
    let rows: Vec<(Factor, Option<&str>, bool)> = history
        .iter()
        .map(|f| (f.factor, f.name.as_deref(), f.removed_at.is_some()))
        .collect();
    assert_eq!(
        rows,
        [
            (Factor::Totp, None, false),
            (Factor::Passkey, Some("New phone"), false),
            (Factor::Passkey, Some("Old phone"), true),
        ]
    );
    assert_eq!(history[2].removed_at, Some(removed_at));
    assert_eq!(history[2].removed_by, Some(RemovedBy::User));
    let step_start = used.as_unix_seconds() / 30 * 30;
    assert_eq!(
        history[0].last_used_at.map(|t| t.as_unix_seconds()),
        Some(step_start)
    );

    h.clock.advance(60);
    let reset_at = h.clock.now();
    h.twofold
        .admin_reset(&olga, &ana, "lost bag", Some(h.clock.now()))
        .await
        .unwrap();
    let history = h.twofold.authenticator_history(&ana).await.unwrap();
    let by_olga = RemovedBy::Administrator {
        actor: "olga".into(),
    };
    assert_eq!(history.len(), 3);
    assert!(history.iter().all(|f| f.removed_at.is_some()));
    assert_eq!(history[0].removed_at, Some(reset_at));
    assert_eq!(history[0].removed_by, Some(by_olga.clone()));
    assert_eq!(history[1].removed_by, Some(by_olga));
    // Newest removal first: the reset's two, then the passkey removed before.
    assert_eq!(history[2].name.as_deref(), Some("Old phone"));
    let totp = history.iter().find(|f| f.factor == Factor::Totp).unwrap();
    assert_eq!(
        totp.added_at.as_unix_seconds(),
        enrolled + 30,
        "the app's enrolment time is kept"
    );
    assert_eq!(
        totp.last_used_at.map(|t| t.as_unix_seconds()),
        Some(step_start)
    );

    // Turning 2FA off oneself is the user's removal.
    let (_, _) = enroll_totp(&h, &ana).await;
    h.twofold.disable(&ana, Some(h.clock.now())).await.unwrap();
    let history = h.twofold.authenticator_history(&ana).await.unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(history[0].factor, Factor::Totp);
    assert_eq!(history[0].removed_by, Some(RemovedBy::User));
    // Its confirming code was its last use.
    assert!(history[0].last_used_at.is_some());
}

#[tokio::test]
async fn a_trusted_browser_and_a_self_unlock_are_told() {
    let h = harness();
    let mut policy = PolicyDocument::example_clinic();
    policy.throttle.max_failures = 3;
    policy.throttle.backoff_seconds = Vec::new();
    h.twofold.set_policy(ORG, policy).await.unwrap();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    // Trusted at a second step: told, with the browser's label.
    let id = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_totp_trusting(
            &ana,
            &id,
            &code(&secret, h.clock.now()),
            Some("Firefox on Linux"),
        )
        .await
        .unwrap();
    // Locked by three wrong codes, then unlocked with three codes from the app.
    h.clock.advance(30);
    let id = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    for _ in 0..3 {
        let _ = h
            .twofold
            .verify_totp(&ana, &id, &wrong_code(&secret, h.clock.now()))
            .await;
    }
    for _ in 0..3 {
        h.clock.advance(30);
        h.twofold
            .self_unlock(&ana, &code(&secret, h.clock.now()))
            .await
            .unwrap();
    }
    let notices: Vec<Notice> = h
        .twofold
        .security_activity(&ana)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|a| a.notice)
        .collect();
    assert_eq!(notices.len(), 4, "{notices:?}");
    assert_eq!(
        notices[1],
        Notice::BrowserTrusted {
            label: "Firefox on Linux".into()
        }
    );
    assert!(matches!(notices[2], Notice::LockedOut { .. }));
    assert_eq!(notices[3], Notice::SelfUnlocked);
}

#[tokio::test]
async fn a_lockout_is_told_once_however_many_failures_follow_it() {
    let h = harness();
    let mut policy = PolicyDocument::example_clinic();
    policy.throttle.max_failures = 3;
    policy.throttle.backoff_seconds = Vec::new();
    h.twofold.set_policy(ORG, policy).await.unwrap();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let id = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    for _ in 0..3 {
        let _ = h
            .twofold
            .verify_totp(&ana, &id, &wrong_code(&secret, h.clock.now()))
            .await;
    }
    // Wrong self-unlock codes while locked, one per cooldown: counted, not told again.
    for _ in 0..3 {
        assert!(
            h.twofold
                .self_unlock(&ana, &wrong_code(&secret, h.clock.now()))
                .await
                .is_err()
        );
        h.clock.advance(301);
    }
    let lockouts = h
        .twofold
        .security_activity(&ana)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.notice.kind() == "locked_out")
        .count();
    assert_eq!(lockouts, 1);
}

#[tokio::test]
async fn a_new_phone_retires_the_old_app_and_says_so() {
    let h = harness();
    let ana = account("ana", "staff");
    let first = h.clock.now();
    enroll_totp(&h, &ana).await;
    h.clock.advance(3600);
    enroll_totp(&h, &ana).await;
    let history = h.twofold.authenticator_history(&ana).await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0].removed_at, None);
    assert_eq!(history[1].added_at, first);
    assert_eq!(history[1].removed_by, Some(RemovedBy::User));
    let kinds: Vec<&str> = h
        .twofold
        .security_activity(&ana)
        .await
        .unwrap()
        .iter()
        .map(|a| a.notice.kind())
        .collect();
    assert_eq!(kinds, ["factor_added", "factor_removed", "factor_added"]);
}
