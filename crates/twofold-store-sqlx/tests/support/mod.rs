//! Test support: temporary SQLite files and the PostgreSQL test database.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use twofold_store_sqlx::{SqlPool, SqlStore};

/// The variable that names the PostgreSQL test database.
pub const POSTGRES_URL: &str = "TWOFOLD_TEST_POSTGRES_URL";

/// A fresh directory under the target dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir() -> TempDir {
    let mut bytes = [0u8; 8];
    getrandom_fill(&mut bytes);
    let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("twofold-sqlx-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn getrandom_fill(bytes: &mut [u8]) {
    // Process id and time are enough to keep parallel test runs apart.
    let seed = std::process::id() as u128
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (seed >> (i * 8)) as u8;
    }
}

pub fn sqlite_url(dir: &TempDir) -> String {
    sqlite_url_for(&dir.0.join("twofold.db"))
}

pub fn sqlite_url_for(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

pub async fn sqlite_store() -> (TempDir, SqlStore) {
    let dir = temp_dir();
    let store = SqlStore::connect(&sqlite_url(&dir)).await.unwrap();
    (dir, store)
}

pub fn postgres_url() -> Option<String> {
    if cfg!(not(feature = "postgres")) {
        skip_notice("SKIPPED: the PostgreSQL store tests need the `postgres` feature");
        return None;
    }
    match std::env::var(POSTGRES_URL) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // In CI a skipped database test is a test that did not run: fail.
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_URL} is not set in CI: .ci/run must set it (the machine's PostgreSQL)"
            );
            skip_notice(&format!(
                "SKIPPED: {POSTGRES_URL} is not set; the PostgreSQL store tests need a database (CI sets it)"
            ));
            None
        }
    }
}

pub async fn postgres_store() -> Option<SqlStore> {
    let url = postgres_url()?;
    Some(SqlStore::connect(&url).await.unwrap())
}

/// Prints a skip notice where a person sees it: libtest captures test output,
/// so it is written to the process's stderr file directly.
fn skip_notice(message: &str) {
    use std::io::Write;
    match std::fs::OpenOptions::new().write(true).open("/dev/stderr") {
        Ok(mut stderr) => {
            let _ = writeln!(stderr, "{message}");
        }
        Err(_) => eprintln!("{message}"),
    }
}

/// A database of its own on the PostgreSQL test server, for tests that need an
/// empty one (migrations); [`FreshDatabase::drop`] removes it.
#[cfg(feature = "postgres")]
pub struct FreshDatabase {
    /// Its URL.
    pub url: String,
    name: String,
    admin_url: String,
}

#[cfg(feature = "postgres")]
impl FreshDatabase {
    /// Creates one, or `None` when the test server is not configured (skip).
    pub async fn create() -> Option<FreshDatabase> {
        use sqlx::Connection;
        let admin_url = postgres_url()?;
        let mut bytes = [0u8; 8];
        getrandom_fill(&mut bytes);
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("twofold_test_{}_{suffix}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let (base, query) = match admin_url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin_url.as_str(), String::new()),
        };
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        Some(FreshDatabase {
            url: format!("{server}/{name}{query}"),
            name,
            admin_url,
        })
    }

    /// Removes it (closing any connection still open to it).
    pub async fn drop(self) {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
}

/// Runs `sql` with text arguments on whichever database `pool` is.
pub async fn execute(pool: &SqlPool, sql: &'static str, arguments: &[&str]) {
    match pool {
        #[cfg(feature = "sqlite")]
        SqlPool::Sqlite(pool) => {
            let mut query = sqlx::query(sql);
            for argument in arguments {
                query = query.bind(*argument);
            }
            query.execute(pool).await.unwrap();
        }
        #[cfg(feature = "postgres")]
        SqlPool::Postgres(pool) => {
            let mut query = sqlx::query(sql);
            for argument in arguments {
                query = query.bind(*argument);
            }
            query.execute(pool).await.unwrap();
        }
        _ => unreachable!("a pool of another database"),
    }
}
