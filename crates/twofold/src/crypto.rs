//! TOTP secrets at rest: sealed with AES-256-GCM under the application's keys,
//! with the key id beside the ciphertext so that keys can be rotated.
//!
//! AES-256-GCM rather than ChaCha20-Poly1305: both are RustCrypto AEADs of the
//! same generation, but on a 20-byte secret Poly1305's fixed setup and
//! finalisation cost dominated a sign-in, and AES-NI with carry-less multiply
//! makes GCM several times cheaper on the servers this runs on. The nonce is
//! 96 random bits per seal; a user's secret is sealed once per enrollment.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use base64ct::{Base64Unpadded, Encoding};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use twofold_totp::Secret;
use zeroize::Zeroizing;

use crate::env::Randomness;
use crate::error::TwoFactorError;

/// A 256-bit encryption key for secrets at rest, with its id. Zeroized on drop,
/// redacted in `Debug`.
pub struct SecretKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl SecretKey {
    /// A key with an id (for example `"2026-11"`), from 32 bytes the application
    /// keeps in its secret manager.
    pub fn new(id: &str, bytes: [u8; 32]) -> SecretKey {
        SecretKey {
            id: id.to_string(),
            key: Zeroizing::new(bytes),
        }
    }

    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({:?}, …)", self.id)
    }
}

/// The application's keys: one current key that seals, and older keys that only
/// open, so that keys can be rotated without re-enrolling anyone.
#[derive(Debug)]
pub struct Keyring {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl Keyring {
    /// A keyring that seals and opens with `current`.
    pub fn new(current: SecretKey) -> Keyring {
        Keyring {
            current,
            previous: Vec::new(),
        }
    }

    /// Adds an older key that still opens records sealed under it.
    #[must_use]
    pub fn with_previous(mut self, key: SecretKey) -> Keyring {
        self.previous.push(key);
        self
    }

    fn key(&self, id: &str) -> Option<&SecretKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
    }

    /// Seals a secret for `user` under the current key. The user id is bound in as
    /// associated data, so a sealed secret copied to another user does not open.
    pub(crate) fn seal(
        &self,
        secret: &Secret,
        user: &str,
        random: &dyn Randomness,
    ) -> Result<SealedSecret, TwoFactorError> {
        let mut nonce = [0u8; 12];
        random.fill(&mut nonce)?;
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*self.current.key));
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.expose_bytes(),
                    aad: &aad(&self.current.id, user),
                },
            )
            .map_err(|_| TwoFactorError::SecretUnreadable)?;
        Ok(SealedSecret {
            key_id: self.current.id.clone(),
            nonce,
            ciphertext,
        })
    }

    /// Opens a sealed secret of `user`.
    pub(crate) fn open(&self, sealed: &SealedSecret, user: &str) -> Result<Secret, TwoFactorError> {
        let key = self
            .key(&sealed.key_id)
            .ok_or_else(|| TwoFactorError::UnknownKey {
                key_id: sealed.key_id.clone(),
            })?;
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key.key));
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(
                    &Nonce::from(sealed.nonce),
                    Payload {
                        msg: &sealed.ciphertext,
                        aad: &aad(&sealed.key_id, user),
                    },
                )
                .map_err(|_| TwoFactorError::SecretUnreadable)?,
        );
        Secret::from_bytes_legacy(&plaintext).map_err(|_| TwoFactorError::SecretUnreadable)
    }

    /// Whether a sealed secret is under an older key (re-seal it on the next write).
    pub fn needs_reseal(&self, sealed: &SealedSecret) -> bool {
        sealed.key_id != self.current.id
    }

    /// `sealed` under the current key, if it is under another key of the
    /// keyring (`None` if it is already under the current key).
    pub(crate) fn reseal(
        &self,
        sealed: &SealedSecret,
        user: &str,
        random: &dyn Randomness,
    ) -> Result<Option<SealedSecret>, TwoFactorError> {
        if !self.needs_reseal(sealed) {
            return Ok(None);
        }
        let secret = self.open(sealed, user)?;
        self.seal(&secret, user, random).map(Some)
    }
}

fn aad(key_id: &str, user: &str) -> Vec<u8> {
    format!("twofold totp secret v1 aes-256-gcm\0{key_id}\0{user}").into_bytes()
}

/// A TOTP secret sealed at rest: the key id, the nonce and the ciphertext (with
/// its tag). Serialized with base64 fields.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    key_id: String,
    nonce: [u8; 12],
    ciphertext: Vec<u8>,
}

impl SealedSecret {
    /// The id of the key it is sealed under.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret(key {:?}, …)", self.key_id)
    }
}

#[derive(Serialize, Deserialize)]
struct SealedRepr {
    key_id: String,
    nonce: String,
    ciphertext: String,
}

impl Serialize for SealedSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SealedRepr {
            key_id: self.key_id.clone(),
            nonce: Base64Unpadded::encode_string(&self.nonce),
            ciphertext: Base64Unpadded::encode_string(&self.ciphertext),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SealedSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SealedSecret, D::Error> {
        let repr = SealedRepr::deserialize(deserializer)?;
        let mut nonce = [0u8; 12];
        match Base64Unpadded::decode(&repr.nonce, &mut nonce) {
            Ok(decoded) if decoded.len() == 12 => {}
            _ => return Err(serde::de::Error::custom("the nonce is 12 bytes of base64")),
        }
        let ciphertext = Base64Unpadded::decode_vec(&repr.ciphertext)
            .map_err(|_| serde::de::Error::custom("the ciphertext is base64"))?;
        Ok(SealedSecret {
            key_id: repr.key_id,
            nonce,
            ciphertext,
        })
    }
}
