//! What the extractors, the layer and the router need from the application's
//! state: the facade, a clock, and where to send a browser at the wrong stage.

use std::fmt;
use std::sync::Arc;

use twofold::{Clock, SystemClock, Timestamp, TwoFactor};

/// Where a browser at the wrong stage is sent (see
/// [`StageRejection`](crate::StageRejection)). Paths, not URLs: the
/// rejections redirect within the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paths {
    /// The password form (no stage, or a stage that ended).
    pub sign_in: &'static str,
    /// The second-step page (password entered, a second factor asked for).
    pub second_step: &'static str,
    /// The forced setup (the policy requires a factor the user has not set up).
    pub enroll: &'static str,
    /// Where a signed-in user lands.
    pub home: &'static str,
}

impl Default for Paths {
    /// `/signin`, `/signin/second-step`, `/signin/setup` and `/`.
    fn default() -> Paths {
        Paths {
            sign_in: "/signin",
            second_step: "/signin/second-step",
            enroll: "/signin/setup",
            home: "/",
        }
    }
}

/// How long a password entry counts as fresh for changing a factor, by
/// default: five minutes, the default policy's re-authentication window.
pub const DEFAULT_FRESH_PASSWORD_SECONDS: u64 = 300;

/// The facade and its settings, as the application's state provides them
/// (`impl FromRef<AppState> for TwoFactorState`). Cheap to clone.
///
/// ```
/// # use std::sync::Arc;
/// # use twofold_axum::TwoFactorState;
/// # fn make(two_factor: Arc<twofold::TwoFactor>) {
/// #[derive(Clone)]
/// struct AppState {
///     two_factor: TwoFactorState,
/// }
///
/// impl axum::extract::FromRef<AppState> for TwoFactorState {
///     fn from_ref(state: &AppState) -> TwoFactorState {
///         state.two_factor.clone()
///     }
/// }
/// let state = AppState { two_factor: TwoFactorState::new(two_factor) };
/// # }
/// ```
#[derive(Clone)]
pub struct TwoFactorState {
    two_factor: Arc<TwoFactor>,
    clock: Arc<dyn Clock>,
    paths: Paths,
    fresh_password_seconds: u64,
}

impl fmt::Debug for TwoFactorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactorState")
            .field("paths", &self.paths)
            .field("fresh_password_seconds", &self.fresh_password_seconds)
            .finish_non_exhaustive()
    }
}

impl TwoFactorState {
    /// The facade, on the system clock, with the default [`Paths`] and a
    /// five-minute password freshness.
    pub fn new(two_factor: Arc<TwoFactor>) -> TwoFactorState {
        TwoFactorState {
            two_factor,
            clock: Arc::new(SystemClock),
            paths: Paths::default(),
            fresh_password_seconds: DEFAULT_FRESH_PASSWORD_SECONDS,
        }
    }

    /// Uses `clock` (give it the facade's own, so that both agree on "now").
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> TwoFactorState {
        self.clock = clock;
        self
    }

    /// Sends browsers at the wrong stage to `paths`.
    #[must_use]
    pub fn with_paths(mut self, paths: Paths) -> TwoFactorState {
        self.paths = paths;
        self
    }

    /// How long a password entry counts as fresh for changing a factor (the
    /// [`FreshPasswordLayer`](crate::FreshPasswordLayer) and the passkey
    /// registration). The facade also applies the policy's own window, so a
    /// longer value here does not weaken it.
    #[must_use]
    pub fn with_fresh_password_seconds(mut self, seconds: u64) -> TwoFactorState {
        self.fresh_password_seconds = seconds;
        self
    }

    /// The facade.
    pub fn two_factor(&self) -> &TwoFactor {
        &self.two_factor
    }

    /// Where browsers at the wrong stage go.
    pub fn paths(&self) -> Paths {
        self.paths
    }

    /// How long a password entry counts as fresh, in seconds.
    pub fn fresh_password_seconds(&self) -> u64 {
        self.fresh_password_seconds
    }

    /// Now, on the injected clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Whether a password entered at `at` is still fresh now.
    pub fn is_fresh(&self, at: Timestamp) -> bool {
        self.now().seconds_since(at) <= self.fresh_password_seconds
    }
}
