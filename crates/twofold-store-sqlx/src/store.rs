//! `Store` for [`SqlStore`]: each operation on the pool's own database.

use twofold::store::{
    CeremonyRecord, CredentialChanges, OrganizationRecord, Store, StoreFuture, UserAndOrganization,
    UserRecord, Version, Versioned,
};
use twofold::{CredentialId, Timestamp};

use crate::backend::to_sql_time;
use crate::{SqlPool, SqlStore};

/// Runs `backend::<database>::$operation(pool, $args…)` on the store's pool.
macro_rules! on_pool {
    ($store:expr, $operation:ident($($arg:expr),* $(,)?)) => {
        match $store.pool {
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(ref pool) => crate::backend::sqlite::$operation(pool, $($arg),*).await,
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(ref pool) => {
                crate::backend::postgres::$operation(pool, $($arg),*).await
            }
        }
    };
}

impl Store for SqlStore {
    fn load_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Option<Versioned<UserRecord>>> {
        Box::pin(async move {
            #[cfg(feature = "sqlite")]
            if let Some(direct) = &self.direct {
                return direct
                    .load_versioned(|queries| &queries.load_user, "user record", user)
                    .await;
            }
            on_pool!(
                self,
                load_versioned(&self.queries.load_user, "user record", user)
            )
        })
    }

    fn save_user<'a>(
        &'a self,
        user: &'a str,
        record: &'a UserRecord,
        expected: Option<Version>,
        credentials: CredentialChanges<'a>,
    ) -> StoreFuture<'a, Version> {
        Box::pin(async move {
            #[cfg(feature = "sqlite")]
            if let (Some(direct), Some(version), true) =
                (&self.direct, expected, credentials.is_empty())
            {
                // The common write (a second step): one conditional UPDATE.
                let text = crate::backend::encode(record)?;
                let times = (
                    record.expires_at().map(to_sql_time),
                    record.notify_at().map(to_sql_time),
                );
                return direct.update_user(user, text, times, version).await;
            }
            on_pool!(
                self,
                save_user(&self.queries, user, record, expected, credentials)
            )
        })
    }

    fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()> {
        Box::pin(async move { on_pool!(self, delete_user(&self.queries, user, expected)) })
    }

    fn credential_owner<'a>(&'a self, id: &'a CredentialId) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move { on_pool!(self, credential_owner(&self.queries, id)) })
    }

    fn expired_users<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let now = to_sql_time(now.as_unix_seconds());
            on_pool!(self, expired_users(&self.queries, now, limit))
        })
    }

    fn users_to_notify<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let now = to_sql_time(now.as_unix_seconds());
            on_pool!(self, users_to_notify(&self.queries, now, limit))
        })
    }

    fn list_users<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move { on_pool!(self, list_users(&self.queries, after, limit)) })
    }

    fn insert_ceremony<'a>(
        &'a self,
        id: &'a str,
        ceremony: &'a CeremonyRecord,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move { on_pool!(self, insert_ceremony(&self.queries, id, ceremony)) })
    }

    fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>> {
        Box::pin(async move { on_pool!(self, take_ceremony(&self.queries, id)) })
    }

    fn count_ceremonies<'a>(&'a self, organization: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move { on_pool!(self, count_ceremonies(&self.queries, organization)) })
    }

    fn purge_expired<'a>(&'a self, now: Timestamp) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let now = to_sql_time(now.as_unix_seconds());
            on_pool!(self, purge_expired(&self.queries, now))
        })
    }

    fn load_organization<'a>(
        &'a self,
        organization: &'a str,
    ) -> StoreFuture<'a, Option<Versioned<OrganizationRecord>>> {
        Box::pin(async move {
            #[cfg(feature = "sqlite")]
            if let Some(direct) = &self.direct {
                return direct
                    .load_versioned(
                        |queries| &queries.load_organization,
                        "organization record",
                        organization,
                    )
                    .await;
            }
            on_pool!(
                self,
                load_versioned(
                    &self.queries.load_organization,
                    "organization record",
                    organization
                )
            )
        })
    }

    fn load_user_and_organization<'a>(
        &'a self,
        user: &'a str,
        organization: &'a str,
    ) -> StoreFuture<'a, UserAndOrganization> {
        // One statement, so that a second step is two: this read and the write.
        Box::pin(async move {
            #[cfg(feature = "sqlite")]
            if let Some(direct) = &self.direct {
                return direct.load_user_and_organization(user, organization).await;
            }
            on_pool!(
                self,
                load_user_and_organization(&self.queries, user, organization)
            )
        })
    }

    fn save_organization<'a>(
        &'a self,
        organization: &'a str,
        record: &'a OrganizationRecord,
        expected: Option<Version>,
    ) -> StoreFuture<'a, Version> {
        Box::pin(async move {
            on_pool!(
                self,
                save_organization(&self.queries, organization, record, expected)
            )
        })
    }
}
