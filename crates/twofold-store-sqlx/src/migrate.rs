//! twofold's schema migrations, kept apart from the application's.
//!
//! sqlx's migrator runs them, but on twofold's **own** version table
//! (`twofold_schema_migrations`, named with the configured prefix and schema),
//! never on sqlx's shared `_sqlx_migrations`: an application's own
//! `sqlx::migrate!()` refuses a database whose `_sqlx_migrations` holds
//! versions it does not know (`VersionMissing`), so the two could not share one.
//!
//! The migrations are SQL templates (the table names are configurable), checked
//! like any sqlx migration: each applied version's checksum must match this
//! build's, or nothing runs ([`MigrationError::Changed`]).
//!
//! One run is one transaction that first takes a lock, so that processes that
//! start together migrate one after the other and the later ones find nothing to
//! do: on PostgreSQL a transaction-scoped advisory lock (released by the commit
//! or rollback, whatever happens, so a failed run never leaves a pooled
//! connection holding it), on SQLite `BEGIN IMMEDIATE` (the write lock). sqlx's
//! own locking is off: its SQLite lock does nothing, and its PostgreSQL lock
//! is session-scoped.
//!
//! Databases migrated before the version table was twofold's own recorded
//! twofold's versions in `_sqlx_migrations`. They are **adopted**: when the
//! tables have the original names, those tables exist, and `_sqlx_migrations`
//! records twofold's versions, the same versions are recorded in twofold's
//! table without running them again. `_sqlx_migrations` is only read, never
//! written: its rows may be the application's business.

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};

use crate::error::MigrationError;
use crate::names::Names;

/// twofold's migrations: version, description, SQL template.
const MIGRATIONS: [(i64, &str, &str); 3] = [
    (
        20261122000001,
        "create twofold tables",
        include_str!("../migrations/20261122000001_create_twofold_tables.sql"),
    ),
    (
        20261124000001,
        "credential index and expiry",
        include_str!("../migrations/20261124000001_credential_index_and_expiry.sql"),
    ),
    (
        20261207000001,
        "notification outbox",
        include_str!("../migrations/20261207000001_notification_outbox.sql"),
    ),
];

/// The advisory lock that serialises twofold's migrations on a PostgreSQL
/// server (an arbitrary constant: "twofold" in ASCII).
#[cfg(feature = "postgres")]
const ADVISORY_LOCK: i64 = 0x0074_776f_666f_6c64;

/// The name of twofold's version table, without prefix.
const VERSION_TABLE: &str = "schema_migrations";

/// A migration's SQL for `names`.
fn expand(template: &str, names: &Names) -> String {
    template
        .replace("{users}", &names.table("users"))
        .replace("{ceremonies}", &names.table("ceremonies"))
        .replace("{organizations}", &names.table("organizations"))
        .replace("{credentials}", &names.table("credentials"))
        .replace("{prefix}", &names.prefix)
}

/// sqlx's migrator over twofold's migrations, for `names`, on twofold's table.
///
/// It is run through `Migrator::run_direct` (what `run` and `skip` call): on a
/// connection, the futures of `run` and `skip` are not `Send` for every
/// lifetime (sqlx's "`Acquire` is not general enough"), and a store must be
/// set up from inside `tokio::spawn` or a request handler.
pub(crate) fn migrator(names: &Names) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, template)| {
            Migration::new(
                *version,
                (*description).into(),
                MigrationType::Simple,
                AssertSqlSafe(expand(template, names)).into_sql_str(),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    // "Dangerous" because renaming the table of an existing database loses its
    // history; this table has had this name since it was twofold's own, and
    // older databases are adopted (see the module docs).
    migrator.dangerous_set_table_name(names.table(VERSION_TABLE));
    // Locking is ours: one transaction, locked first.
    migrator.set_locking(false);
    migrator
}

/// The versions of twofold's migrations, for the adoption query.
fn versions() -> String {
    MIGRATIONS
        .iter()
        .map(|(version, _, _)| version.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite(pool: &sqlx::SqlitePool, names: &Names) -> Result<(), MigrationError> {
    let migrator = migrator(names);
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    if names.are_the_original_ones() {
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('_sqlx_migrations', $1)",
        )
        .bind(format!("{}users", names.prefix))
        .fetch_one(&mut *tx)
        .await?;
        if tables == 2 {
            let adopted: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT MAX(version) FROM _sqlx_migrations WHERE success AND version IN ({})",
                versions()
            )))
            .fetch_one(&mut *tx)
            .await?;
            if let Some(version) = adopted {
                migrator.run_direct(Some(version), &mut *tx, true).await?;
            }
        }
    }
    migrator.run_direct(None, &mut *tx, false).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(feature = "postgres")]
pub(crate) async fn postgres(pool: &sqlx::PgPool, names: &Names) -> Result<(), MigrationError> {
    let migrator = migrator(names);
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ADVISORY_LOCK)
        .execute(&mut *tx)
        .await?;
    if let (Some(name), Some(schema)) = (&names.schema, names.quoted_schema()) {
        // Created only when missing: a role that may not create schemas can
        // still use one that its DBA created.
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        if !exists {
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut *tx)
                .await?;
        }
    }
    if names.are_the_original_ones() {
        // The tables as this store names them, and `_sqlx_migrations` where an
        // unqualified name finds it (as the original store's did).
        let found: (bool, bool) = sqlx::query_as(
            "SELECT to_regclass('_sqlx_migrations') IS NOT NULL, to_regclass($1) IS NOT NULL",
        )
        .bind(names.table("users"))
        .fetch_one(&mut *tx)
        .await?;
        if found == (true, true) {
            let adopted: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT MAX(version) FROM _sqlx_migrations WHERE success AND version IN ({})",
                versions()
            )))
            .fetch_one(&mut *tx)
            .await?;
            if let Some(version) = adopted {
                migrator.run_direct(Some(version), &mut *tx, true).await?;
            }
        }
    }
    migrator.run_direct(None, &mut *tx, false).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled() {
        let names = Names {
            prefix: "auth_".into(),
            schema: Some("login".into()),
        };
        for (_, _, template) in MIGRATIONS {
            let sql = expand(template, &names);
            assert!(!sql.contains('{') && !sql.contains('}'), "{sql}");
            assert!(!sql.contains("twofold_"), "{sql}");
        }
        let migrator = migrator(&names);
        assert_eq!(migrator.table_name, r#""login"."auth_schema_migrations""#);
        assert!(!migrator.locking);
    }

    #[test]
    fn the_checksums_depend_on_the_names() {
        let a = migrator(&Names {
            prefix: "a_".into(),
            schema: None,
        });
        let b = migrator(&Names {
            prefix: "b_".into(),
            schema: None,
        });
        let checksums = |m: &Migrator| m.iter().map(|m| m.checksum.to_vec()).collect::<Vec<_>>();
        assert_ne!(checksums(&a), checksums(&b));
    }
}
