//! New backup codes on their way from the action that made them to the page
//! that shows them, across one redirect: a one-time slot in the database,
//! bound to the user, its id kept in the session that made it, sealed with the
//! app's key (AES-256-GCM), deleted when read, and expired after ten minutes.
//! Nothing else keeps the codes: not the session, not a cookie.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use sqlx::{AnyPool, Row};
use zeroize::Zeroizing;

use crate::db::random_id;

/// How long a slot waits to be read.
const TTL_SECONDS: u64 = 600;

fn aad(slot: &str, user: &str) -> Vec<u8> {
    format!("clinic backup-code slot v1\0{slot}\0{user}").into_bytes()
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Seals `codes` for `user` into a new slot; returns its id (for the session).
pub(crate) async fn put(
    pool: &AnyPool,
    key: &[u8; 32],
    user: &str,
    codes: &[&str],
    now: u64,
) -> Result<String, sqlx::Error> {
    let protocol = |e: &dyn std::fmt::Display| sqlx::Error::Protocol(e.to_string());
    sqlx::query("DELETE FROM clinic_code_slots WHERE expires_at < $1")
        .bind(to_i64(now))
        .execute(pool)
        .await?;
    let slot = random_id().map_err(|e| protocol(&e))?;
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|e| protocol(&e))?;
    let plaintext = Zeroizing::new(codes.join("\n"));
    let sealed = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key))
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: &aad(&slot, user),
            },
        )
        .map_err(|_| sqlx::Error::Protocol("sealing the codes failed".into()))?;
    sqlx::query(
        "INSERT INTO clinic_code_slots (id, user_id, sealed, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&slot)
    .bind(user)
    .bind(format!("{}{}", hex::encode(nonce), hex::encode(sealed)))
    .bind(to_i64(now + TTL_SECONDS))
    .execute(pool)
    .await?;
    Ok(slot)
}

/// Takes the codes out of `user`'s slot `slot` (deleting it), if it exists,
/// has not expired, and opens under `key`.
pub(crate) async fn take(
    pool: &AnyPool,
    key: &[u8; 32],
    slot: &str,
    user: &str,
    now: u64,
) -> Result<Option<Vec<Zeroizing<String>>>, sqlx::Error> {
    let row = sqlx::query(
        "DELETE FROM clinic_code_slots WHERE id = $1 AND user_id = $2 RETURNING sealed, expires_at",
    )
    .bind(slot)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: i64 = row.try_get("expires_at")?;
    if to_i64(now) > expires_at {
        return Ok(None);
    }
    let sealed: String = row.try_get("sealed")?;
    let Ok(bytes) = hex::decode(sealed) else {
        return Ok(None);
    };
    let Some((nonce, ciphertext)) = bytes.split_at_checked(12) else {
        return Ok(None);
    };
    let Ok(nonce) = <[u8; 12]>::try_from(nonce) else {
        return Ok(None);
    };
    let opened = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)).decrypt(
        &Nonce::from(nonce),
        Payload {
            msg: ciphertext,
            aad: &aad(slot, user),
        },
    );
    let Ok(plain) = opened.map(Zeroizing::new) else {
        return Ok(None);
    };
    let Ok(text) = std::str::from_utf8(&plain) else {
        return Ok(None);
    };
    Ok(Some(
        text.lines()
            .map(|line| Zeroizing::new(line.to_string()))
            .collect(),
    ))
}
