//! A second step is two store operations: one read of the user's record and
//! the organization's settings together, and the conditional write. And the
//! organization is read on every step, so that a policy change applies at the
//! next one.
#![cfg(test)]

use std::sync::{Arc, Mutex};

use twofold::store::{
    CeremonyRecord, CredentialChanges, OrganizationRecord, StoreFuture, UserAndOrganization,
    UserRecord,
};
use twofold::{
    Account, Clock, CredentialId, Keyring, ManualClock, MemoryStore, PasskeyConfig, RelyingParty,
    SecretKey, SignInStep, Store, Timestamp, TwoFactor, TwoFactorConfig, Version, Versioned,
};
use twofold_totp::{Secret, Totp, TotpParams};

/// MemoryStore, with a log of the operations called.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    calls: Mutex<Vec<&'static str>>,
}

impl Counting {
    fn log(&self, call: &'static str) {
        self.calls.lock().unwrap().push(call);
    }
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Store for Counting {
    fn load_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Option<Versioned<UserRecord>>> {
        self.log("load_user");
        self.inner.load_user(user)
    }
    fn save_user<'a>(
        &'a self,
        user: &'a str,
        record: &'a UserRecord,
        expected: Option<Version>,
        credentials: CredentialChanges<'a>,
    ) -> StoreFuture<'a, Version> {
        self.log("save_user");
        self.inner.save_user(user, record, expected, credentials)
    }
    fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()> {
        self.log("delete_user");
        self.inner.delete_user(user, expected)
    }
    fn credential_owner<'a>(&'a self, id: &'a CredentialId) -> StoreFuture<'a, Option<String>> {
        self.log("credential_owner");
        self.inner.credential_owner(id)
    }
    fn expired_users<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>> {
        self.log("expired_users");
        self.inner.expired_users(now, limit)
    }
    fn users_to_notify<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>> {
        self.log("users_to_notify");
        self.inner.users_to_notify(now, limit)
    }
    fn list_users<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<String>> {
        self.log("list_users");
        self.inner.list_users(after, limit)
    }
    fn insert_ceremony<'a>(
        &'a self,
        id: &'a str,
        ceremony: &'a CeremonyRecord,
    ) -> StoreFuture<'a, ()> {
        self.log("insert_ceremony");
        self.inner.insert_ceremony(id, ceremony)
    }
    fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>> {
        self.log("take_ceremony");
        self.inner.take_ceremony(id)
    }
    fn count_ceremonies<'a>(&'a self, organization: &'a str) -> StoreFuture<'a, u64> {
        self.log("count_ceremonies");
        self.inner.count_ceremonies(organization)
    }
    fn purge_expired<'a>(&'a self, now: Timestamp) -> StoreFuture<'a, u64> {
        self.log("purge_expired");
        self.inner.purge_expired(now)
    }
    fn load_organization<'a>(
        &'a self,
        organization: &'a str,
    ) -> StoreFuture<'a, Option<Versioned<OrganizationRecord>>> {
        self.log("load_organization");
        self.inner.load_organization(organization)
    }
    fn load_user_and_organization<'a>(
        &'a self,
        user: &'a str,
        organization: &'a str,
    ) -> StoreFuture<'a, UserAndOrganization> {
        self.log("load_user_and_organization");
        self.inner.load_user_and_organization(user, organization)
    }
    fn save_organization<'a>(
        &'a self,
        organization: &'a str,
        record: &'a OrganizationRecord,
        expected: Option<Version>,
    ) -> StoreFuture<'a, Version> {
        self.log("save_organization");
        self.inner.save_organization(organization, record, expected)
    }
}

#[tokio::test]
async fn a_second_step_reads_once_and_writes_once() {
    let store = Arc::new(Counting::default());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(
        1_767_225_615,
    )));
    let rp = RelyingParty::new("localhost", "Smile Dental", &["http://localhost:8080"]).unwrap();
    let twofold = TwoFactor::new(
        store.clone(),
        Keyring::new(SecretKey::new("k1", [7u8; 32])),
        TwoFactorConfig::new("Smile Dental").with_passkeys(PasskeyConfig::new(rp)),
    )
    .unwrap()
    .with_clock(clock.clone());
    let ana = Account {
        user: "ana",
        organization: "smile",
        role: "staff",
        name: "ana",
    };
    let setup = twofold
        .begin_totp_enrollment(&ana, Some(clock.now()))
        .await
        .unwrap()
        .value;
    let totp = Totp::new(
        &Secret::from_base32(&setup.manual_entry_secret).unwrap(),
        TotpParams::default(),
    );
    let code = |clock: &ManualClock| {
        totp.generate(clock.now().as_unix_seconds())
            .unwrap()
            .to_string()
    };
    twofold
        .confirm_totp_enrollment(&ana, &code(&clock))
        .await
        .unwrap();
    for _ in 0..3 {
        clock.advance(90);
        store.take();
        let SignInStep::Challenge { challenge_id, .. } =
            twofold.begin_sign_in(&ana).await.unwrap().value
        else {
            panic!("expected a challenge");
        };
        let begun = store.take();
        assert_eq!(
            begun
                .iter()
                .filter(|call| !matches!(**call, "expired_users" | "purge_expired"))
                .collect::<Vec<_>>(),
            [&"load_user_and_organization", &"save_user"],
            "{begun:?}"
        );
        twofold
            .verify_totp(&ana, &challenge_id, &code(&clock))
            .await
            .unwrap();
        assert_eq!(
            store.take(),
            ["load_user_and_organization", "save_user"],
            "the second step"
        );
    }
}
