//! `MemoryStore` passes the public conformance suite, and a store that breaks the
//! contract is caught by it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use twofold::MemoryStore;
use twofold::store::{
    CeremonyRecord, OrganizationRecord, Store, StoreFuture, UserRecord, Version, Versioned,
};

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

/// A store whose conditional writes are not conditional.
struct LastWriterWins(MemoryStore);

impl Store for LastWriterWins {
    fn load_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Option<Versioned<UserRecord>>> {
        self.0.load_user(user)
    }
    fn save_user<'a>(
        &'a self,
        user: &'a str,
        record: &'a UserRecord,
        _expected: Option<Version>,
    ) -> StoreFuture<'a, Version> {
        Box::pin(async move {
            let current = self.0.load_user(user).await?.map(|v| v.version);
            self.0.save_user(user, record, current).await
        })
    }
    fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()> {
        self.0.delete_user(user, expected)
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
    let failure = twofold::conformance::run(&LastWriterWins(MemoryStore::new()))
        .await
        .unwrap_err();
    assert!(
        failure.check.contains("exist")
            || failure.check.contains("stale")
            || failure.check.contains("concurrent"),
        "{failure}"
    );
}
