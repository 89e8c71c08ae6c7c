//! A locked second step, as the policy's throttle decided it.

use std::fmt;

use twofold_policy::Timestamp;

/// Why a user may not answer a second step right now, and until when.
///
/// In [`Status::locked`](crate::Status::locked), in
/// [`TwoFactorError::Locked`](crate::TwoFactorError::Locked), in
/// [`SignInStep::Locked`](crate::SignInStep::Locked), and in
/// [`Failure::lock`](crate::Failure::lock) when a wrong answer starts one, so
/// that an app can say how long to wait without a second call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Lock {
    /// A back-off after a few failures: try again in `seconds`.
    RetryAfter {
        /// Seconds to wait from the moment of the answer.
        seconds: u64,
    },
    /// A timed lockout: no answer is taken before `at`.
    Until {
        /// When the lockout ends.
        at: Timestamp,
    },
    /// Locked until an administrator unlocks or resets the user's 2FA.
    UntilReset,
}

impl Lock {
    /// Seconds to wait from `now` (`None`: until an administrator acts).
    pub fn seconds_left(self, now: Timestamp) -> Option<u64> {
        match self {
            Lock::RetryAfter { seconds } => Some(seconds),
            Lock::Until { at } => Some(at.as_unix_seconds().saturating_sub(now.as_unix_seconds())),
            Lock::UntilReset => None,
        }
    }
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lock::RetryAfter { seconds } => write!(f, "try again in {seconds} s"),
            Lock::Until { at } => write!(f, "locked until {at}"),
            Lock::UntilReset => f.write_str("locked until an administrator unlocks it"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_left_and_words() {
        let now = Timestamp::from_unix_seconds(1_000);
        assert_eq!(Lock::RetryAfter { seconds: 30 }.seconds_left(now), Some(30));
        let until = Lock::Until {
            at: Timestamp::from_unix_seconds(1_300),
        };
        assert_eq!(until.seconds_left(now), Some(300));
        assert_eq!(
            until.seconds_left(Timestamp::from_unix_seconds(2_000)),
            Some(0)
        );
        assert_eq!(Lock::UntilReset.seconds_left(now), None);
        assert_eq!(until.to_string(), "locked until 1970-01-01T00:21:40Z");
        assert_eq!(
            Lock::RetryAfter { seconds: 30 }.to_string(),
            "try again in 30 s"
        );
    }
}
