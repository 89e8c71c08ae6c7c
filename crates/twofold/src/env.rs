//! Time and randomness, injected so that every window, expiry and lockout is
//! testable without sleeping.

use rand_core::{TryCryptoRng, TryRng};
use twofold_policy::Timestamp;

use crate::error::TwoFactorError;

/// The current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_seconds(twofold_totp::now())
    }
}

/// A clock that moves only when told: for tests and demos, beside
/// [`MemoryStore`](crate::MemoryStore). Share it (`Arc<ManualClock>`) between
/// the facade and the test that moves it.
///
/// ```
/// use std::sync::Arc;
/// use twofold::{Clock, ManualClock, Timestamp};
///
/// let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(1_000)));
/// clock.advance(30);
/// assert_eq!(clock.now(), Timestamp::from_unix_seconds(1_030));
/// ```
#[cfg(feature = "memory-store")]
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicU64);

#[cfg(feature = "memory-store")]
impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: Timestamp) -> ManualClock {
        ManualClock(std::sync::atomic::AtomicU64::new(now.as_unix_seconds()))
    }

    /// Moves the clock `seconds` forward.
    pub fn advance(&self, seconds: u64) {
        self.0
            .fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }

    /// Sets the clock to `now` (backwards too: a clock that steps back).
    pub fn set(&self, now: Timestamp) {
        self.0
            .store(now.as_unix_seconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(feature = "memory-store")]
impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_seconds(self.0.load(std::sync::atomic::Ordering::SeqCst))
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
