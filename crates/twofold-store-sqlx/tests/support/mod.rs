//! Test support: temporary SQLite files and the PostgreSQL test database.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use twofold_store_sqlx::SqlStore;

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
