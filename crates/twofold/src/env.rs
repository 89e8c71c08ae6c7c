//! Time and randomness, injected so that every window, expiry and lockout is
//! testable without sleeping.

use rand_core::{TryCryptoRng, TryRng};

use crate::error::TwoFactorError;

/// The current time.
pub trait Clock: Send + Sync {
    /// Unix seconds.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        twofold_totp::now()
    }
}

/// A cryptographically secure source of random bytes.
pub trait Randomness: Send + Sync {
    /// Fills `buffer`; fails only if the source is unavailable.
    fn fill(&self, buffer: &mut [u8]) -> Result<(), RandomnessUnavailable>;
}

/// The randomness source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the randomness source is unavailable")]
pub struct RandomnessUnavailable;

/// The operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandomness;

impl Randomness for OsRandomness {
    fn fill(&self, buffer: &mut [u8]) -> Result<(), RandomnessUnavailable> {
        getrandom::fill(buffer).map_err(|_| RandomnessUnavailable)
    }
}

impl From<RandomnessUnavailable> for TwoFactorError {
    fn from(_: RandomnessUnavailable) -> TwoFactorError {
        TwoFactorError::RandomnessUnavailable
    }
}

/// Adapts a [`Randomness`] to the `rand_core` traits the factor crates take.
pub(crate) struct RngAdapter<'a>(pub(crate) &'a dyn Randomness);

impl TryRng for RngAdapter<'_> {
    type Error = RandomnessUnavailable;

    fn try_next_u32(&mut self) -> Result<u32, RandomnessUnavailable> {
        let mut bytes = [0u8; 4];
        self.0.fill(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, RandomnessUnavailable> {
        let mut bytes = [0u8; 8];
        self.0.fill(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RandomnessUnavailable> {
        self.0.fill(dst)
    }
}

impl TryCryptoRng for RngAdapter<'_> {}

/// A random id for challenges and ceremonies: 128 bits, as lowercase hex.
pub(crate) fn random_id(random: &dyn Randomness) -> Result<String, TwoFactorError> {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
