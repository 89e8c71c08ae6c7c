//! The shared secret: generation, strength, base32 and manual entry.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::TryCryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{RandomError, SecretError};

/// The length of a generated secret: 160 bits, the HMAC-SHA1 output size that
/// RFC 4226 §4 recommends.
pub const GENERATED_SECRET_BYTES: usize = 20;
/// The floor for secrets by default: 128 bits (RFC 4226 §4, R6).
pub const MIN_SECRET_BITS: usize = 128;
/// The floor for legacy secrets, which need an explicit opt-in: 80 bits, the
/// length many sites still issue.
pub const LEGACY_MIN_SECRET_BITS: usize = 80;
/// The longest secret accepted: 128 bytes, the SHA-512 block size.
pub const MAX_SECRET_BYTES: usize = 128;
/// The longest base32 input accepted, before normalisation. Longer input is
/// refused before any work is done.
pub const MAX_BASE32_INPUT_BYTES: usize = 1024;

/// How strong a secret is, reported so that an application can re-enroll users
/// whose imported secret is weaker than the default floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Strength {
    /// At least [`MIN_SECRET_BITS`].
    Recommended {
        /// The secret's length in bits.
        bits: usize,
    },
    /// Between [`LEGACY_MIN_SECRET_BITS`] and [`MIN_SECRET_BITS`]: accepted only
    /// through the `*_legacy` constructors.
    Legacy {
        /// The secret's length in bits.
        bits: usize,
    },
}

impl Strength {
    /// The secret's length in bits.
    pub fn bits(self) -> usize {
        match self {
            Strength::Recommended { bits } | Strength::Legacy { bits } => bits,
        }
    }
}

/// A TOTP/HOTP shared secret.
///
/// The bytes are zeroized on drop, `Debug` prints `Secret(…)`, equality is
/// constant-time, and the only ways to get the bytes out are the explicitly
/// named [`expose_bytes`](Secret::expose_bytes), [`to_base32`](Secret::to_base32)
/// and [`to_manual_entry`](Secret::to_manual_entry).
///
/// ```
/// use twofold_totp::Secret;
///
/// let secret = Secret::from_base32("jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp")?;
/// assert_eq!(secret.to_base32(), "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
/// assert_eq!(format!("{secret:?}"), "Secret(…)");
/// # Ok::<(), twofold_totp::SecretError>(())
/// ```
#[derive(Clone)]
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
}

impl Secret {
    /// Generates a new 160-bit secret from the operating system's CSPRNG.
    #[cfg(feature = "std")]
    pub fn generate() -> Result<Secret, RandomError> {
        Secret::generate_with(&mut getrandom::SysRng)
    }

    /// Generates a new 160-bit secret from the given cryptographic RNG.
    pub fn generate_with<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Secret, RandomError> {
        let mut bytes = Zeroizing::new(alloc::vec![0u8; GENERATED_SECRET_BYTES]);
        rng.try_fill_bytes(&mut bytes).map_err(|_| RandomError)?;
        Ok(Secret { bytes })
    }

    /// Takes raw key bytes of at least [`MIN_SECRET_BITS`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Secret, SecretError> {
        Secret::checked(Zeroizing::new(bytes.to_vec()), MIN_SECRET_BITS)
    }

    /// Takes raw key bytes of at least [`LEGACY_MIN_SECRET_BITS`]: the explicit
    /// opt-in for importing weaker secrets. Check [`strength`](Secret::strength).
    pub fn from_bytes_legacy(bytes: &[u8]) -> Result<Secret, SecretError> {
        Secret::checked(Zeroizing::new(bytes.to_vec()), LEGACY_MIN_SECRET_BITS)
    }

    /// Decodes a base32 secret of at least [`MIN_SECRET_BITS`].
    ///
    /// Input is read leniently: lowercase, spaces, hyphens and `=` padding
    /// (present or not) are all accepted.
    pub fn from_base32(text: &str) -> Result<Secret, SecretError> {
        Secret::checked(decode_base32(text)?, MIN_SECRET_BITS)
    }

    /// Like [`from_base32`](Secret::from_base32), but accepts legacy secrets down to
    /// [`LEGACY_MIN_SECRET_BITS`]; check [`strength`](Secret::strength).
    pub fn from_base32_legacy(text: &str) -> Result<Secret, SecretError> {
        Secret::checked(decode_base32(text)?, LEGACY_MIN_SECRET_BITS)
    }

    fn checked(bytes: Zeroizing<Vec<u8>>, minimum: usize) -> Result<Secret, SecretError> {
        let bits = bytes.len() * 8;
        if bits < minimum {
            return Err(SecretError::TooShort { bits, minimum });
        }
        if bytes.len() > MAX_SECRET_BYTES {
            return Err(SecretError::TooLong {
                max_bytes: MAX_SECRET_BYTES,
            });
        }
        Ok(Secret { bytes })
    }

    /// The secret's strength.
    pub fn strength(&self) -> Strength {
        let bits = self.bytes.len() * 8;
        if bits >= MIN_SECRET_BITS {
            Strength::Recommended { bits }
        } else {
            Strength::Legacy { bits }
        }
    }

    /// The raw key bytes. Named so that every use is visible in review.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The secret as unpadded uppercase base32 (RFC 4648), as authenticator apps expect.
    pub fn to_base32(&self) -> String {
        base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &self.bytes)
    }

    /// The secret for typing by hand: base32 in groups of four, separated by spaces
    /// (`JBSW Y3DP EHPK 3PXP`).
    pub fn to_manual_entry(&self) -> String {
        let plain = Zeroizing::new(self.to_base32());
        let mut out = String::with_capacity(plain.len() + plain.len() / 4);
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.bytes.as_slice().ct_eq(other.bytes.as_slice()).into()
    }
}

impl Eq for Secret {}

/// Normalises and decodes lenient base32 into zeroizing bytes.
fn decode_base32(text: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    if text.len() > MAX_BASE32_INPUT_BYTES {
        return Err(SecretError::TooLong {
            max_bytes: MAX_SECRET_BYTES,
        });
    }
    let mut symbols = Zeroizing::new(String::with_capacity(text.len()));
    let mut padding_started = false;
    for (position, c) in text.chars().enumerate() {
        match c {
            ' ' | '\t' | '-' => {}
            '=' => padding_started = true,
            'A'..='Z' | 'a'..='z' | '2'..='7' if !padding_started => {
                symbols.push(c.to_ascii_uppercase());
            }
            _ => return Err(SecretError::InvalidCharacter { position }),
        }
    }
    // 8 symbols carry 5 bytes; 1, 3 and 6 trailing symbols encode no whole byte.
    if matches!(symbols.len() % 8, 1 | 3 | 6) {
        return Err(SecretError::InvalidLength {
            symbols: symbols.len(),
        });
    }
    base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &symbols)
        .map(Zeroizing::new)
        .ok_or(SecretError::InvalidLength {
            symbols: symbols.len(),
        })
}

/// Serde helpers for storing a [`Secret`] as base32, used only by naming them:
/// `#[serde(with = "twofold_totp::serde_secret")]`.
///
/// `Secret` deliberately implements neither `Serialize` nor `Deserialize`, so a
/// secret can never be written out by accident as part of a larger value.
#[cfg(feature = "serde")]
pub mod serde_secret {
    use super::Secret;
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    /// Serializes the secret as unpadded base32.
    pub fn serialize<S: Serializer>(secret: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&Zeroizing::new(secret.to_base32()))
    }

    /// Deserializes a base32 secret. Legacy (80 to 127-bit) secrets are accepted,
    /// because stored secrets were checked when they were first imported; check
    /// [`Secret::strength`].
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        let text = Zeroizing::new(alloc::string::String::deserialize(deserializer)?);
        Secret::from_base32_legacy(&text).map_err(serde::de::Error::custom)
    }
}
