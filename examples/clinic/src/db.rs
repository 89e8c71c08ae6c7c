//! The app's own tables: accounts (with Argon2id password hashes) and the audit log.
//! They live in the same database as twofold's tables, through the same pool.

use std::sync::atomic::{AtomicU64, Ordering};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::AppError;

/// An account, as the app stores it.
#[derive(Debug, Clone)]
pub struct User {
    /// Stable id (random hex).
    pub id: String,
    /// The clinic (twofold's organisation).
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
    /// The user the event is about, or who acted.
    pub actor: String,
    /// The event as JSON (never a secret: twofold's events carry none).
    pub detail: String,
}

const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS clinic_users (
        id TEXT PRIMARY KEY,
        clinic TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS clinic_audit (
        id TEXT PRIMARY KEY,
        clinic TEXT NOT NULL,
        at BIGINT NOT NULL,
        n BIGINT NOT NULL,
        event TEXT NOT NULL,
        actor TEXT NOT NULL,
        detail TEXT NOT NULL
    )",
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

/// Argon2id with the crate's recommended parameters (19 MiB, t = 2).
pub(crate) fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| AppError::Password(error.to_string()))
}

/// Whether `password` matches the stored hash (false for a malformed hash, too).
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
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

pub(crate) async fn append_audit(
    pool: &AnyPool,
    clinic: &str,
    at: u64,
    event: &str,
    actor: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let id = random_id().map_err(|error| sqlx::Error::Protocol(error.to_string()))?;
    sqlx::query(
        "INSERT INTO clinic_audit (id, clinic, at, n, event, actor, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(clinic)
    .bind(to_i64(at))
    .bind(to_i64(SEQUENCE.fetch_add(1, Ordering::Relaxed)))
    .bind(event)
    .bind(actor)
    .bind(detail)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn audit_log(
    pool: &AnyPool,
    clinic: &str,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query(
        "SELECT at, event, actor, detail FROM clinic_audit WHERE clinic = $1 \
         ORDER BY at DESC, n DESC LIMIT 200",
    )
    .bind(clinic)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        Ok(AuditEntry {
            at: u64::try_from(row.try_get::<i64, _>("at")?).unwrap_or(0),
            event: row.try_get("event")?,
            actor: row.try_get("actor")?,
            detail: row.try_get("detail")?,
        })
    })
    .collect()
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
}
