//! `MemoryStore` passes the public conformance suite, and a store that breaks the
//! contract is caught by it.
#![cfg(test)]

use twofold::store::{
    CeremonyRecord, OrganizationRecord, Store, StoreFuture, UserRecord, Version, Versioned,
};
use twofold::{CredentialChanges, CredentialId, MemoryStore, Timestamp};

#[tokio::test]
async fn memory_store_passes_the_conformance_suite() {
    twofold::conformance::run(&MemoryStore::new())
        .await
        .unwrap();
    // Twice on the same store: runs do not collide.
    let store = MemoryStore::new();
    twofold::conformance::run(&store).await.unwrap();
    twofold::conformance::run(&store).await.unwrap();
}

/// A store that breaks one part of the contract.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flaw {
    /// Conditional writes are not conditional: the last writer wins.
    LastWriterWins,
    /// The credential index is never written.
    ForgetfulIndex,
}

struct Broken(MemoryStore, Flaw);

impl Store for Broken {
    fn load_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Option<Versioned<UserRecord>>> {
        self.0.load_user(user)
    }
    fn save_user<'a>(
        &'a self,
        user: &'a str,
        record: &'a UserRecord,
        expected: Option<Version>,
        credentials: CredentialChanges<'a>,
    ) -> StoreFuture<'a, Version> {
        match self.1 {
            Flaw::LastWriterWins => Box::pin(async move {
                let current = self.0.load_user(user).await?.map(|v| v.version);
                self.0.save_user(user, record, current, credentials).await
            }),
            Flaw::ForgetfulIndex => {
                self.0
                    .save_user(user, record, expected, CredentialChanges::NONE)
            }
        }
    }
    fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()> {
        self.0.delete_user(user, expected)
    }
    fn credential_owner<'a>(&'a self, id: &'a CredentialId) -> StoreFuture<'a, Option<String>> {
        self.0.credential_owner(id)
    }
    fn expired_users<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>> {
        self.0.expired_users(now, limit)
    }
    fn users_to_notify<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>> {
        self.0.users_to_notify(now, limit)
    }
    fn list_users<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<String>> {
        self.0.list_users(after, limit)
    }
    fn insert_ceremony<'a>(
        &'a self,
        id: &'a str,
        ceremony: &'a CeremonyRecord,
    ) -> StoreFuture<'a, ()> {
        self.0.insert_ceremony(id, ceremony)
    }
    fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>> {
        self.0.take_ceremony(id)
    }
    fn count_ceremonies<'a>(&'a self, organization: &'a str) -> StoreFuture<'a, u64> {
        self.0.count_ceremonies(organization)
    }
    fn purge_expired<'a>(&'a self, now: Timestamp) -> StoreFuture<'a, u64> {
        self.0.purge_expired(now)
    }
    fn load_organization<'a>(
        &'a self,
        organization: &'a str,
    ) -> StoreFuture<'a, Option<Versioned<OrganizationRecord>>> {
        self.0.load_organization(organization)
    }
    fn save_organization<'a>(
        &'a self,
        organization: &'a str,
        record: &'a OrganizationRecord,
        expected: Option<Version>,
    ) -> StoreFuture<'a, Version> {
        self.0.save_organization(organization, record, expected)
    }
}

#[tokio::test]
async fn the_suite_catches_a_store_without_conditional_writes() {
    let failure = twofold::conformance::run(&Broken(MemoryStore::new(), Flaw::LastWriterWins))
        .await
        .unwrap_err();
    assert!(
        failure.check.contains("exist")
            || failure.check.contains("stale")
            || failure.check.contains("concurrent"),
        "{failure}"
    );
}

#[tokio::test]
async fn the_suite_catches_a_store_that_forgets_the_credential_index() {
    let failure = twofold::conformance::run(&Broken(MemoryStore::new(), Flaw::ForgetfulIndex))
        .await
        .unwrap_err();
    assert!(failure.check.contains("credential"), "{failure}");
}
