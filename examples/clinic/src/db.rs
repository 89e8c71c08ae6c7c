//! The app's own tables: accounts (with Argon2id password hashes) and the audit log.
//! They live in the same database as twofold's tables, through the same pool.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::StartError;

/// An account, as the app stores it.
#[derive(Debug, Clone)]
pub struct User {
    /// Stable id (random hex).
    pub id: String,
    /// The clinic (twofold's organization).
    pub clinic: String,
    /// Sign-in name.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `owner`, `admin` or `staff`: the policy's role ids.
    pub role: String,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// One audit-log line.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: u64,
    /// The event's name (`admin_reset`, …).
    pub event: String,
    /// Who acted.
    pub actor: String,
    /// Whom it is about (the actor, for what users do themselves).
    pub subject: String,
    /// The event as JSON (never a secret: twofold's events carry none).
    pub detail: String,
}

const SCHEMA: [&str; 10] = [
    "CREATE TABLE IF NOT EXISTS clinic_users (
        id TEXT PRIMARY KEY,
        clinic TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL
    )",
    // The audit log: `actor` did it, `subject` is whom it is about.
    "CREATE TABLE IF NOT EXISTS clinic_events (
        id TEXT PRIMARY KEY,
        clinic TEXT NOT NULL,
        at BIGINT NOT NULL,
        n BIGINT NOT NULL,
        event TEXT NOT NULL,
        actor TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS clinic_events_by_time ON clinic_events (clinic, at, n)",
    // Sessions, by the SHA-256 of their id (the cookie's value is never stored).
    "CREATE TABLE IF NOT EXISTS clinic_sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT,
        data TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS clinic_sessions_by_user ON clinic_sessions (user_id)",
    "CREATE INDEX IF NOT EXISTS clinic_sessions_by_last_seen ON clinic_sessions (last_seen)",
    // Failed password entries, per account and per client address.
    "CREATE TABLE IF NOT EXISTS clinic_password_failures (
        key TEXT PRIMARY KEY,
        failures BIGINT NOT NULL,
        last_failure BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS clinic_password_failures_by_time ON clinic_password_failures (last_failure)",
    // New backup codes on their way to the page that shows them, sealed: read once.
    "CREATE TABLE IF NOT EXISTS clinic_code_slots (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        sealed TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS clinic_code_slots_by_expiry ON clinic_code_slots (expires_at)",
];

pub(crate) async fn migrate(pool: &AnyPool) -> Result<(), sqlx::Error> {
    for statement in SCHEMA {
        sqlx::query(statement).execute(pool).await?;
    }
    Ok(())
}

/// A random 128-bit id in hex.
pub(crate) fn random_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A fresh password for a seeded demo account: 15 random characters from an
/// unambiguous alphabet of 32, in groups of five (75 bits).
pub(crate) fn random_password() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789#";
    let mut bytes = [0u8; 15];
    getrandom::fill(&mut bytes)?;
    let symbols: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET.get(usize::from(b & 31)).copied().unwrap_or(b'a')))
        .collect();
    Ok(format!(
        "{}-{}-{}",
        symbols.get(..5).unwrap_or_default(),
        symbols.get(5..10).unwrap_or_default(),
        symbols.get(10..).unwrap_or_default()
    ))
}

pub(crate) async fn set_password_hash(
    pool: &AnyPool,
    user: &str,
    hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE clinic_users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user)
        .execute(pool)
        .await?;
    Ok(())
}

std::thread_local! {
    /// Argon2id's working memory, kept per thread (the offload's threads), as
    /// the library does for backup codes. Allocating 19 MiB per check and
    /// freeing it makes glibc's allocator raise its mmap threshold and keep
    /// the freed blocks: a run of 128 users' sign-ups held 400 MiB that way;
    /// kept memory holds one block per thread.
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The most Argon2 memory a stored hash may ask for (64 MiB).
const MAX_BLOCKS: usize = 64 * 1024;

/// Runs Argon2 with this thread's kept memory of exactly `count` blocks.
fn with_memory<T>(count: usize, run: impl FnOnce(&mut [argon2::Block]) -> T) -> Option<T> {
    if count > MAX_BLOCKS {
        return None;
    }
    let fit = |blocks: &mut Vec<argon2::Block>| {
        if blocks.len() != count {
            *blocks = Vec::new();
            blocks.try_reserve_exact(count).ok()?;
            blocks.resize(count, argon2::Block::default());
        }
        Some(())
    };
    MEMORY.with(|memory| match memory.try_borrow_mut() {
        Ok(mut blocks) => {
            fit(&mut blocks)?;
            Some(run(&mut blocks))
        }
        Err(_) => {
            let mut blocks = Vec::new();
            fit(&mut blocks)?;
            Some(run(&mut blocks))
        }
    })
}

/// Argon2id with the crate's recommended parameters (19 MiB, t = 2), as a
/// PHC string.
pub(crate) fn hash_password(password: &str) -> Result<String, StartError> {
    use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
    let failed = |what: &str| StartError::Password(format!("hashing the password: {what}"));
    let salt = argon2::password_hash::try_generate_salt().map_err(|_| failed("no randomness"))?;
    let params = argon2::Params::default();
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    with_memory(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
    })
    .ok_or_else(|| failed("no memory"))?
    .map_err(|error| failed(&error.to_string()))?;
    let hash = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|error| failed(&error.to_string()))?,
        salt: Some(Salt::new(&salt).map_err(|error| failed(&error.to_string()))?),
        hash: Some(Output::new(&out).map_err(|error| failed(&error.to_string()))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC hash (false for a malformed
/// hash, too), compared in constant time.
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let argon = argon2::Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.as_bytes().len()];
    let computed = with_memory(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
    });
    matches!(computed, Some(Ok(()))) && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn user_from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        clinic: row.try_get("clinic")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        password_hash: row.try_get("password_hash")?,
    })
}

pub(crate) async fn insert_user(pool: &AnyPool, user: &User) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO clinic_users (id, clinic, email, name, role, password_hash) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&user.id)
    .bind(&user.clinic)
    .bind(user.email.trim().to_lowercase())
    .bind(&user.name)
    .bind(&user.role)
    .bind(&user.password_hash)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn count_users(pool: &AnyPool, clinic: &str) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM clinic_users WHERE clinic = $1")
        .bind(clinic)
        .fetch_one(pool)
        .await?
        .try_get("n")
}

pub(crate) async fn user_by_email(
    pool: &AnyPool,
    email: &str,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query(
        "SELECT id, clinic, email, name, role, password_hash FROM clinic_users WHERE email = $1",
    )
    .bind(email.trim().to_lowercase())
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(user_from_row)
    .transpose()
}

pub(crate) async fn user_by_id(pool: &AnyPool, id: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query(
        "SELECT id, clinic, email, name, role, password_hash FROM clinic_users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(user_from_row)
    .transpose()
}

pub(crate) async fn users_of(pool: &AnyPool, clinic: &str) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query("SELECT id, clinic, email, name, role, password_hash FROM clinic_users WHERE clinic = $1 ORDER BY email")
    .bind(clinic)
    .fetch_all(pool)
    .await?
    .iter()
    .map(user_from_row)
    .collect()
}

/// Orders entries written in the same second by one process.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// One audit-log entry to write.
pub(crate) struct NewAuditEntry<'a> {
    pub clinic: &'a str,
    pub at: u64,
    pub event: &'a str,
    pub actor: &'a str,
    pub subject: &'a str,
    pub detail: &'a str,
}

pub(crate) async fn append_audit(
    pool: &AnyPool,
    entry: &NewAuditEntry<'_>,
) -> Result<(), sqlx::Error> {
    let id = random_id().map_err(|error| sqlx::Error::Protocol(error.to_string()))?;
    sqlx::query(
        "INSERT INTO clinic_events (id, clinic, at, n, event, actor, subject, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(entry.clinic)
    .bind(to_i64(entry.at))
    .bind(to_i64(SEQUENCE.fetch_add(1, Ordering::Relaxed)))
    .bind(entry.event)
    .bind(entry.actor)
    .bind(entry.subject)
    .bind(entry.detail)
    .execute(pool)
    .await?;
    Ok(())
}

/// Which audit entries to read: optionally only those by or about `user`, and
/// only of `kind`; page `page` (from 0) of `per_page`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries by or about this user id.
    pub user: Option<String>,
    /// Only entries of this event name.
    pub kind: Option<String>,
    /// The page, from 0, newest first.
    pub page: u64,
    /// Entries per page.
    pub per_page: u64,
}

/// A page of the audit log, newest first, and whether older entries follow.
pub(crate) async fn audit_page(
    pool: &AnyPool,
    clinic: &str,
    query: &AuditQuery,
) -> Result<(Vec<AuditEntry>, bool), sqlx::Error> {
    let per_page = query.per_page.clamp(1, 500);
    let rows = sqlx::query(
        "SELECT at, event, actor, subject, detail FROM clinic_events WHERE clinic = $1 \
         AND ($2 = '' OR actor = $2 OR subject = $2) AND ($3 = '' OR event = $3) \
         ORDER BY at DESC, n DESC LIMIT $4 OFFSET $5",
    )
    .bind(clinic)
    .bind(query.user.clone().unwrap_or_default())
    .bind(query.kind.clone().unwrap_or_default())
    .bind(to_i64(per_page + 1))
    .bind(to_i64(query.page.saturating_mul(per_page)))
    .fetch_all(pool)
    .await?;
    let more = rows.len() as u64 > per_page;
    let entries = rows
        .iter()
        .take(usize::try_from(per_page).unwrap_or(usize::MAX))
        .map(|row| {
            Ok(AuditEntry {
                at: u64::try_from(row.try_get::<i64, _>("at")?).unwrap_or(0),
                event: row.try_get("event")?,
                actor: row.try_get("actor")?,
                subject: row.try_get("subject")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((entries, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    /// The oracle is the argon2 crate's own PHC hasher and verifier (which
    /// allocate their memory): each side reads what the other writes.
    #[test]
    fn the_kept_memory_path_agrees_with_the_argon2_crate() {
        use argon2::Argon2;
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_password("correct horse").unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", ours.as_str())
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong horse", ours.as_str())
                .is_err()
        );
        let theirs = Argon2::default()
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(verify_password("correct horse", &theirs));
        assert!(!verify_password("wrong horse", &theirs));
        // Other parameters in the stored hash are honoured (t = 1, 8 MiB).
        let light = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"x")
        .unwrap()
        .to_string();
        assert!(verify_password("x", &light));
        assert!(!verify_password("y", &light));
        // A hash asking for more memory than the cap is refused, not run.
        let heavy = light.replace("m=8192", "m=4194304");
        assert!(!verify_password("x", &heavy));
    }

    #[test]
    fn the_memory_is_kept_between_checks() {
        let hash = hash_password("p").unwrap();
        assert!(verify_password("p", &hash));
        let kept = MEMORY.with(|memory| memory.borrow().as_ptr() as usize);
        assert!(verify_password("p", &hash));
        assert_eq!(
            kept,
            MEMORY.with(|memory| memory.borrow().as_ptr() as usize)
        );
        assert_eq!(
            MEMORY.with(|memory| memory.borrow().len()),
            argon2::Params::default().block_count()
        );
    }
}
