//! Sessions in the app's database (SQLite or PostgreSQL), so that they hold
//! across restarts and across instances, end when idle or too old, and can be
//! revoked for a user.
//!
//! - The cookie carries a random session id; the table keeps only its SHA-256,
//!   so a copy of the database signs nobody in.
//! - Idle timeout and absolute lifetime are checked on the app's clock at every
//!   load (the browser's cookie lives only for the browser session).
//! - Each row names the signed-in user, so that all of a user's sessions can
//!   be ended at once (an admin reset, turning 2FA off, removing a factor).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result};
use twofold::Clock;

/// How long a session lives without a request.
pub const IDLE_SECONDS: u64 = 60 * 60;
/// How long a session lives at most, however active.
pub const LIFETIME_SECONDS: u64 = 12 * 60 * 60;
/// `last_seen` is written at most this often per session.
const TOUCH_SECONDS: u64 = 60;

/// The session store.
#[derive(Clone)]
pub struct DbSessions {
    pool: AnyPool,
    clock: Arc<dyn Clock>,
    /// When expired sessions were last purged.
    purged_at: Arc<AtomicU64>,
}

impl std::fmt::Debug for DbSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSessions")
    }
}

fn key(id: &Id) -> String {
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

fn backend(error: impl std::fmt::Display) -> Error {
    Error::Backend(error.to_string())
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The signed-in user a session's data names, if any.
fn user_of(record: &Record) -> Option<String> {
    record
        .data
        .get(twofold_axum::STAGE_KEY)?
        .get("account")?
        .get("user")?
        .as_str()
        .map(str::to_string)
}

impl DbSessions {
    pub(crate) fn new(pool: AnyPool, clock: Arc<dyn Clock>) -> DbSessions {
        DbSessions {
            pool,
            clock,
            purged_at: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Ends every session of `user` but `keep` (the caller's own, if given).
    /// Returns how many ended.
    pub async fn revoke_user(&self, user: &str, keep: Option<&Id>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM clinic_sessions WHERE user_id = $1 AND id <> $2")
            .bind(user)
            .bind(keep.map(key).unwrap_or_default())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    /// Deletes sessions that are idle or too old; returns how many.
    pub async fn purge(&self) -> Result<u64> {
        let now = self.clock.now().as_unix_seconds();
        let done =
            sqlx::query("DELETE FROM clinic_sessions WHERE last_seen < $1 OR created_at < $2")
                .bind(to_i64(now.saturating_sub(IDLE_SECONDS)))
                .bind(to_i64(now.saturating_sub(LIFETIME_SECONDS)))
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn insert(&self, record: &Record) -> std::result::Result<(), sqlx::Error> {
        let now = to_i64(self.clock.now().as_unix_seconds());
        let data = serde_json::to_string(&record.data)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        sqlx::query(
            "INSERT INTO clinic_sessions (id, user_id, data, created_at, last_seen) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(key(&record.id))
        .bind(user_of(record))
        .bind(data)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|database| database.is_unique_violation())
}

#[async_trait::async_trait]
impl SessionStore for DbSessions {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // Purge at most once a minute, when sessions are made: the table stays bounded.
        let (now, last) = (
            self.clock.now().as_unix_seconds(),
            self.purged_at.load(Ordering::Relaxed),
        );
        if now >= last.saturating_add(60)
            && self
                .purged_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let _ = self.purge().await;
        }
        for _ in 0..8 {
            match self.insert(record).await {
                Ok(()) => return Ok(()),
                Err(error) if is_unique_violation(&error) => record.id = Id::default(),
                Err(error) => return Err(backend(error)),
            }
        }
        Err(Error::Backend("no free session id".into()))
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let now = to_i64(self.clock.now().as_unix_seconds());
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        // An update keeps the session's creation time; a session that was
        // revoked or expired meanwhile is not brought back.
        sqlx::query(
            "UPDATE clinic_sessions SET user_id = $1, data = $2, last_seen = $3 WHERE id = $4",
        )
        .bind(user_of(record))
        .bind(data)
        .bind(now)
        .bind(key(&record.id))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let now = self.clock.now().as_unix_seconds();
        let row =
            sqlx::query("SELECT data, created_at, last_seen FROM clinic_sessions WHERE id = $1")
                .bind(key(id))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let created: i64 = row.try_get("created_at").map_err(backend)?;
        let seen: i64 = row.try_get("last_seen").map_err(backend)?;
        let (created, seen) = (
            u64::try_from(created).unwrap_or(0),
            u64::try_from(seen).unwrap_or(0),
        );
        if now.saturating_sub(seen) >= IDLE_SECONDS
            || now.saturating_sub(created) >= LIFETIME_SECONDS
        {
            self.delete(id).await?;
            return Ok(None);
        }
        if now.saturating_sub(seen) >= TOUCH_SECONDS {
            sqlx::query("UPDATE clinic_sessions SET last_seen = $1 WHERE id = $2")
                .bind(to_i64(now))
                .bind(key(id))
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        }
        let text: String = row.try_get("data").map_err(backend)?;
        let data = serde_json::from_str(&text).map_err(|e| Error::Decode(e.to_string()))?;
        let expiry_date = tower_sessions::cookie::time::OffsetDateTime::now_utc()
            + tower_sessions::cookie::time::Duration::seconds(to_i64(IDLE_SECONDS));
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        sqlx::query("DELETE FROM clinic_sessions WHERE id = $1")
            .bind(key(id))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
