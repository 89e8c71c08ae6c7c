//! `MemoryStore`: the store for tests and demos.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use twofold_passkey::CredentialId;
use twofold_policy::Timestamp;

use super::{
    CeremonyRecord, CredentialChanges, OrganizationRecord, Store, StoreError, StoreFuture,
    UserRecord, Version, Versioned,
};

/// A store in memory, **for tests and demos**: everything is lost when the
/// process ends, and nothing is shared between processes. It is a faithful
/// implementation of the contract (conditional writes, atomic take, the
/// credential index updated with its record).
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<MemoryContents>,
}

/// A copy of everything a [`MemoryStore`] holds, from
/// [`MemoryStore::contents`]: for tests that compare whole stored states.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MemoryContents {
    /// User records by user id.
    pub users: BTreeMap<String, Versioned<UserRecord>>,
    /// The credential index: credential id → user id.
    pub credentials: HashMap<CredentialId, String>,
    /// Open username-less ceremonies by id.
    pub ceremonies: BTreeMap<String, CeremonyRecord>,
    /// Organization records by organization id.
    pub organizations: BTreeMap<String, Versioned<OrganizationRecord>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A copy of everything stored.
    pub fn contents(&self) -> MemoryContents {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, MemoryContents> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn conditional_put<T: Clone>(
    map: &mut BTreeMap<String, Versioned<T>>,
    key: &str,
    value: &T,
    expected: Option<Version>,
) -> Result<Version, StoreError> {
    let current = map.get(key).map(|v| v.version);
    if current != expected {
        return Err(StoreError::Conflict);
    }
    let version = expected.map_or(1, |v| v + 1);
    map.insert(
        key.to_string(),
        Versioned {
            value: value.clone(),
            version,
        },
    );
    Ok(version)
}

fn ready<'a, T: Send + 'a>(result: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(async move { result })
}

impl Store for MemoryStore {
    fn load_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Option<Versioned<UserRecord>>> {
        ready(Ok(self.lock().users.get(user).cloned()))
    }

    fn save_user<'a>(
        &'a self,
        user: &'a str,
        record: &'a UserRecord,
        expected: Option<Version>,
        credentials: CredentialChanges<'a>,
    ) -> StoreFuture<'a, Version> {
        let mut state = self.lock();
        let taken = credentials
            .bind
            .iter()
            .any(|id| state.credentials.get(id).is_some_and(|owner| owner != user));
        let result = if taken {
            // The version check comes first: a stale write is a conflict either way.
            if state.users.get(user).map(|v| v.version) == expected {
                Err(StoreError::CredentialInUse)
            } else {
                Err(StoreError::Conflict)
            }
        } else {
            conditional_put(&mut state.users, user, record, expected)
        };
        if result.is_ok() {
            for id in credentials.unbind {
                if state.credentials.get(id).is_some_and(|owner| owner == user) {
                    state.credentials.remove(id);
                }
            }
            for id in credentials.bind {
                state.credentials.insert(id.clone(), user.to_string());
            }
        }
        ready(result)
    }

    fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()> {
        let mut state = self.lock();
        let result = if state.users.get(user).map(|v| v.version) == Some(expected) {
            state.users.remove(user);
            state.credentials.retain(|_, owner| owner != user);
            Ok(())
        } else {
            Err(StoreError::Conflict)
        };
        ready(result)
    }

    fn credential_owner<'a>(&'a self, id: &'a CredentialId) -> StoreFuture<'a, Option<String>> {
        ready(Ok(self.lock().credentials.get(id).cloned()))
    }

    fn expired_users<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>> {
        let expired = self
            .lock()
            .users
            .iter()
            .filter(|(_, record)| {
                record
                    .value
                    .expires_at()
                    .is_some_and(|at| at <= now.as_unix_seconds())
            })
            .map(|(id, _)| id.clone())
            .take(limit)
            .collect();
        ready(Ok(expired))
    }

    fn users_to_notify<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>> {
        let mut due: Vec<(u64, String)> = self
            .lock()
            .users
            .iter()
            .filter_map(|(id, record)| {
                record
                    .value
                    .notify_at()
                    .filter(|at| *at <= now.as_unix_seconds())
                    .map(|at| (at, id.clone()))
            })
            .collect();
        due.sort();
        ready(Ok(due.into_iter().take(limit).map(|(_, id)| id).collect()))
    }

    fn list_users<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<String>> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let ids = self
            .lock()
            .users
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(id, _)| id.clone())
            .take(limit)
            .collect();
        ready(Ok(ids))
    }

    fn insert_ceremony<'a>(
        &'a self,
        id: &'a str,
        ceremony: &'a CeremonyRecord,
    ) -> StoreFuture<'a, ()> {
        let mut state = self.lock();
        let result = if state.ceremonies.contains_key(id) {
            Err(StoreError::Conflict)
        } else {
            state.ceremonies.insert(id.to_string(), ceremony.clone());
            Ok(())
        };
        ready(result)
    }

    fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>> {
        ready(Ok(self.lock().ceremonies.remove(id)))
    }

    fn count_ceremonies<'a>(&'a self, organization: &'a str) -> StoreFuture<'a, u64> {
        let count = self
            .lock()
            .ceremonies
            .values()
            .filter(|c| c.organization == organization)
            .count();
        ready(Ok(u64::try_from(count).unwrap_or(u64::MAX)))
    }

    fn purge_expired<'a>(&'a self, now: Timestamp) -> StoreFuture<'a, u64> {
        let mut state = self.lock();
        let before = state.ceremonies.len();
        state
            .ceremonies
            .retain(|_, c| c.expires_at > now.as_unix_seconds());
        let purged = before - state.ceremonies.len();
        ready(Ok(u64::try_from(purged).unwrap_or(u64::MAX)))
    }

    fn load_organization<'a>(
        &'a self,
        organization: &'a str,
    ) -> StoreFuture<'a, Option<Versioned<OrganizationRecord>>> {
        ready(Ok(self.lock().organizations.get(organization).cloned()))
    }

    fn save_organization<'a>(
        &'a self,
        organization: &'a str,
        record: &'a OrganizationRecord,
        expected: Option<Version>,
    ) -> StoreFuture<'a, Version> {
        let result = conditional_put(
            &mut self.lock().organizations,
            organization,
            record,
            expected,
        );
        ready(result)
    }
}
