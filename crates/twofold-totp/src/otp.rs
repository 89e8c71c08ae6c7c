//! HOTP (RFC 4226) and TOTP (RFC 6238): parameters, generation and verification.

use core::fmt;

use hmac::KeyInit;
use hmac::block_api::HmacCore;
use hmac::digest::Output;
use hmac::digest::block_api::{Buffer, EagerHash, FixedOutputCore};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::code::Code;
use crate::error::{CodeError, ParameterError};
use crate::secret::Secret;

/// The HMAC hash function (RFC 6238 §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "UPPERCASE"))]
pub enum Algorithm {
    /// HMAC-SHA-1: the default, and the only one every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in `otpauth://` URIs: `SHA1`, `SHA256` or `SHA512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// Reads a URI algorithm name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The number of digits in a code: 6, 7 or 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u32", into = "u32"))]
pub struct Digits(u8);

impl Digits {
    /// Six digits, the default.
    pub const SIX: Digits = Digits(6);
    /// Seven digits.
    pub const SEVEN: Digits = Digits(7);
    /// Eight digits.
    pub const EIGHT: Digits = Digits(8);

    /// Checks that `digits` is 6, 7 or 8.
    pub fn new(digits: u32) -> Result<Digits, ParameterError> {
        match digits {
            6..=8 => Ok(Digits(digits as u8)),
            _ => Err(ParameterError::Digits(digits)),
        }
    }

    /// The number of digits.
    pub fn get(self) -> u8 {
        self.0
    }

    /// `10^digits`, the modulus of dynamic truncation.
    pub(crate) fn modulus(self) -> u32 {
        10u32.pow(u32::from(self.0))
    }
}

impl Default for Digits {
    fn default() -> Digits {
        Digits::SIX
    }
}

impl TryFrom<u32> for Digits {
    type Error = ParameterError;
    fn try_from(value: u32) -> Result<Digits, ParameterError> {
        Digits::new(value)
    }
}

impl From<Digits> for u32 {
    fn from(digits: Digits) -> u32 {
        u32::from(digits.0)
    }
}

/// How far verification looks around the current time step: `back` steps into
/// the past and `ahead` steps into the future. The default is ±1 (RFC 6238 §5.2
/// recommends at most one step of network delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "WindowRepr", into = "WindowRepr"))]
pub struct Window {
    back: u8,
    ahead: u8,
}

impl Window {
    /// The largest window accepted in either direction. Every step a window
    /// adds multiplies a guesser's chance, so large windows are refused.
    pub const MAX_STEPS: u8 = 10;

    /// A window of `back` steps into the past and `ahead` into the future.
    pub fn new(back: u8, ahead: u8) -> Result<Window, ParameterError> {
        for steps in [back, ahead] {
            if steps > Window::MAX_STEPS {
                return Err(ParameterError::Window {
                    steps,
                    max: Window::MAX_STEPS,
                });
            }
        }
        Ok(Window { back, ahead })
    }

    /// Only the current step.
    pub const EXACT: Window = Window { back: 0, ahead: 0 };

    /// Steps accepted into the past.
    pub fn back(self) -> u8 {
        self.back
    }

    /// Steps accepted into the future.
    pub fn ahead(self) -> u8 {
        self.ahead
    }
}

impl Default for Window {
    fn default() -> Window {
        Window { back: 1, ahead: 1 }
    }
}

#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct WindowRepr {
    back: u8,
    ahead: u8,
}

#[cfg(feature = "serde")]
impl TryFrom<WindowRepr> for Window {
    type Error = ParameterError;
    fn try_from(repr: WindowRepr) -> Result<Window, ParameterError> {
        Window::new(repr.back, repr.ahead)
    }
}

#[cfg(feature = "serde")]
impl From<Window> for WindowRepr {
    fn from(window: Window) -> WindowRepr {
        WindowRepr {
            back: window.back,
            ahead: window.ahead,
        }
    }
}

/// The TOTP parameters that an authenticator app must share with the server.
///
/// The defaults are those of every authenticator app: SHA-1, 6 digits, a 30-second
/// period from the Unix epoch, and a ±1 step verification window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TotpParams {
    /// The HMAC hash function.
    pub algorithm: Algorithm,
    /// Code length.
    pub digits: Digits,
    /// Time step `X` of RFC 6238 §4.1, in seconds.
    pub period: Period,
    /// `T0` of RFC 6238 §4.1: the Unix time at which step 0 begins.
    pub t0: u64,
    /// How many steps around the current one verification accepts.
    pub window: Window,
}

impl Default for TotpParams {
    fn default() -> TotpParams {
        TotpParams {
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            period: Period::THIRTY_SECONDS,
            t0: 0,
            window: Window::default(),
        }
    }
}

/// The TOTP time step in seconds; at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u64", into = "u64"))]
pub struct Period(u64);

impl Period {
    /// Thirty seconds, the default of RFC 6238 §5.2.
    pub const THIRTY_SECONDS: Period = Period(30);

    /// Checks that the period is at least one second.
    pub fn new(seconds: u64) -> Result<Period, ParameterError> {
        if seconds == 0 {
            Err(ParameterError::Period)
        } else {
            Ok(Period(seconds))
        }
    }

    /// The period in seconds.
    pub fn seconds(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for Period {
    type Error = ParameterError;
    fn try_from(value: u64) -> Result<Period, ParameterError> {
        Period::new(value)
    }
}

impl From<Period> for u64 {
    fn from(period: Period) -> u64 {
        period.0
    }
}

/// An HMAC whose key schedule has already run: each code costs a copy of the two
/// keyed hash states and two compression calls, never a new key schedule.
///
/// This uses `hmac`'s block-level core rather than the buffered `Mac` wrapper: a
/// TOTP message is always one 8-byte counter, so the wrapper's buffer copies
/// would be the larger part of the work.
#[derive(Clone)]
enum KeyedMac {
    Sha1(HmacCore<Sha1>),
    Sha256(HmacCore<Sha256>),
    Sha512(HmacCore<Sha512>),
}

impl KeyedMac {
    fn new(algorithm: Algorithm, key: &[u8]) -> KeyedMac {
        // HMAC accepts keys of any length (RFC 2104 §2); `new_from_slice` cannot
        // fail for it, and an empty key would be refused by `Secret` long before.
        fn keyed<M: KeyInit>(key: &[u8]) -> M {
            M::new_from_slice(key).unwrap_or_else(|_| M::new(&Default::default()))
        }
        match algorithm {
            Algorithm::Sha1 => KeyedMac::Sha1(keyed(key)),
            Algorithm::Sha256 => KeyedMac::Sha256(keyed(key)),
            Algorithm::Sha512 => KeyedMac::Sha512(keyed(key)),
        }
    }

    /// HOTP(K, C) of RFC 4226 §5.3 before the modulus: the 31-bit dynamic truncation.
    fn truncated(&self, counter: u64) -> u32 {
        fn run<D: EagerHash>(keyed: &HmacCore<D>, counter: u64) -> u32 {
            let mut core = keyed.clone();
            let mut buffer = Buffer::<HmacCore<D>>::default();
            // Eight bytes never fill a block, so the closure is never called.
            buffer.digest_blocks(&counter.to_be_bytes(), |_| {});
            let mut out = Output::<HmacCore<D>>::default();
            core.finalize_fixed_core(&mut buffer, &mut out);
            dynamic_truncation(&out)
        }
        match self {
            KeyedMac::Sha1(core) => run(core, counter),
            KeyedMac::Sha256(core) => run(core, counter),
            KeyedMac::Sha512(core) => run(core, counter),
        }
    }
}

/// RFC 4226 §5.3 `DT`: the low nibble of the last byte picks four bytes, of which
/// the low 31 bits are the result.
fn dynamic_truncation(hs: &[u8]) -> u32 {
    let offset = hs.last().map_or(0, |b| usize::from(b & 0x0f));
    match hs.get(offset..offset + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a & 0x7f, b, c, d]),
        // Unreachable: every supported hash is at least 20 bytes and offset <= 15.
        _ => 0,
    }
}

/// The outcome of a TOTP verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verification {
    /// The code matched `step`, which is `drift` steps from the current one
    /// (negative: the authenticator's clock is behind). Store `step` as the new
    /// last accepted step.
    Accepted {
        /// The matched time step (the HOTP counter of RFC 6238 §4.2).
        step: u64,
        /// `step` minus the current step.
        drift: i64,
    },
    /// The code matched no step in the window.
    Rejected,
    /// The code matched only at or before the last accepted step: a replay,
    /// refused as RFC 6238 §5.2 requires.
    Replayed {
        /// The matched time step.
        step: u64,
    },
}

impl Verification {
    /// Whether the code was accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Verification::Accepted { .. })
    }
}

/// A TOTP generator and verifier for one secret (RFC 6238).
///
/// The HMAC key schedule runs once, in [`Totp::new`]; verification then costs
/// one HMAC per step of the window, and every step is evaluated whatever matches.
///
/// ```
/// use twofold_totp::{Secret, Totp, TotpParams, Verification};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let totp = Totp::new(&secret, TotpParams::default());
/// // RFC 6238 Appendix B, SHA-1, T = 59: 94287082 (8 digits); the 6-digit code is its tail.
/// assert_eq!(totp.generate(59)?.to_string(), "287082");
///
/// // The first sign-in: no step accepted before.
/// let outcome = totp.verify("287 082", 59, None)?;
/// assert_eq!(outcome, Verification::Accepted { step: 1, drift: 0 });
/// // The same code again is a replay.
/// assert_eq!(totp.verify("287082", 60, Some(1))?, Verification::Replayed { step: 1 });
/// # Ok::<(), twofold_totp::Error>(())
/// ```
#[derive(Clone)]
pub struct Totp {
    mac: KeyedMac,
    params: TotpParams,
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("secret", &"…")
            .field("params", &self.params)
            .finish()
    }
}

impl Totp {
    /// Prepares a verifier: runs the HMAC key schedule for `secret` once.
    pub fn new(secret: &Secret, params: TotpParams) -> Totp {
        Totp {
            mac: KeyedMac::new(params.algorithm, secret.expose_bytes()),
            params,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &TotpParams {
        &self.params
    }

    /// The time step that contains `unix_time`, or `None` before `T0`.
    pub fn step_at(&self, unix_time: u64) -> Option<u64> {
        unix_time
            .checked_sub(self.params.t0)
            .map(|elapsed| elapsed / self.params.period.seconds())
    }

    /// The code for the time step that contains `unix_time`.
    pub fn generate(&self, unix_time: u64) -> Result<Code, ParameterError> {
        let step = self
            .step_at(unix_time)
            .ok_or(ParameterError::TimeBeforeT0)?;
        Ok(self.generate_at_step(step))
    }

    /// The code for time step `step` (the HOTP counter `T` of RFC 6238 §4.2).
    pub fn generate_at_step(&self, step: u64) -> Code {
        let digits = self.params.digits;
        Code::from_value(self.mac.truncated(step) % digits.modulus(), digits)
    }

    /// The seconds left before the code at `unix_time` changes.
    pub fn seconds_remaining(&self, unix_time: u64) -> u64 {
        let period = self.params.period.seconds();
        match unix_time.checked_sub(self.params.t0) {
            Some(elapsed) => period - elapsed % period,
            None => self.params.t0 - unix_time,
        }
    }

    /// Reads a code typed by a person and verifies it at `unix_time`.
    ///
    /// `last_accepted_step` is the step stored from the user's previous accepted
    /// code, if any; a code that matches only at or before it is
    /// [`Verification::Replayed`].
    pub fn verify(
        &self,
        input: &str,
        unix_time: u64,
        last_accepted_step: Option<u64>,
    ) -> Result<Verification, CodeError> {
        let code = Code::parse(input, self.params.digits)?;
        Ok(self.verify_code(&code, unix_time, last_accepted_step))
    }

    /// Verifies an already parsed code at `unix_time`.
    ///
    /// Every step of the window is computed and compared in constant time; the
    /// latest matching step wins, so that a replay can never shadow a fresh match.
    pub fn verify_code(
        &self,
        code: &Code,
        unix_time: u64,
        last_accepted_step: Option<u64>,
    ) -> Verification {
        self.verify_code_with_drift(code, unix_time, last_accepted_step, 0)
    }

    /// [`verify_code`](Totp::verify_code) for an authenticator whose clock is
    /// known to be `drift` steps off (RFC 6238 §6: the drift of its last
    /// accepted code): the window is searched both around the current step and
    /// around the current step plus `drift`, so a phone that keeps its offset
    /// still matches, and one whose clock was put right matches too (once its
    /// steps are later than the last accepted one). The outcome's `drift` is,
    /// as always, relative to the current step.
    ///
    /// Bound `drift` (the facade keeps it within `TotpDrift::max_steps`, at
    /// most 20): the search grows by one window at most, whatever its value.
    pub fn verify_code_with_drift(
        &self,
        code: &Code,
        unix_time: u64,
        last_accepted_step: Option<u64>,
        drift: i64,
    ) -> Verification {
        let Some(current) = self.step_at(unix_time) else {
            return Verification::Rejected;
        };
        if code.digits() != self.params.digits {
            return Verification::Rejected;
        }
        let window = self.params.window;
        let around = |centre: u64| {
            (
                centre.saturating_sub(u64::from(window.back)),
                centre.saturating_add(u64::from(window.ahead)),
            )
        };
        let (first, last) = around(current);
        let mut found = self.latest_match(code, first, last);
        let centre = shift(current, drift);
        if centre != current {
            let (shifted_first, shifted_last) = around(centre);
            // Only the steps the unshifted window did not cover.
            let later = self.latest_match(
                code,
                shifted_first.max(last.saturating_add(1)),
                shifted_last,
            );
            let earlier = self.latest_match(
                code,
                shifted_first,
                shifted_last.min(first.saturating_sub(1)),
            );
            found = latest(latest(found, later), earlier);
        }
        let Some(matched_step) = found else {
            return Verification::Rejected;
        };
        match last_accepted_step {
            Some(last_accepted) if matched_step <= last_accepted => {
                Verification::Replayed { step: matched_step }
            }
            _ => Verification::Accepted {
                step: matched_step,
                drift: signed_difference(matched_step, current),
            },
        }
    }

    /// The latest step within `range` steps either side of the one at
    /// `unix_time` whose code is `code`, if any: for resynchronisation (RFC 6238
    /// §6), where a code outside the window is not accepted but says where the
    /// authenticator's clock is. Replays are the caller's to rule out.
    pub fn find_step(&self, code: &Code, unix_time: u64, range: u8) -> Option<u64> {
        let current = self.step_at(unix_time)?;
        if code.digits() != self.params.digits {
            return None;
        }
        self.latest_match(
            code,
            current.saturating_sub(u64::from(range)),
            current.saturating_add(u64::from(range)),
        )
    }

    /// Whether `code` is the code of exactly `step` (constant time).
    pub fn matches_step(&self, code: &Code, step: u64) -> bool {
        code.digits() == self.params.digits
            && bool::from(
                (self.mac.truncated(step) % self.params.digits.modulus()).ct_eq(&code.value()),
            )
    }

    /// The latest step in `first..=last` whose code is `code`: every step is
    /// computed and compared in constant time.
    fn latest_match(&self, code: &Code, first: u64, last: u64) -> Option<u64> {
        let modulus = self.params.digits.modulus();
        let mut matched_step = 0u64;
        let mut found = Choice::from(0);
        for step in first..=last {
            let candidate = self.mac.truncated(step) % modulus;
            let equal = candidate.ct_eq(&code.value());
            matched_step.conditional_assign(&step, equal);
            found |= equal;
        }
        bool::from(found).then_some(matched_step)
    }

    /// [`verify`](Totp::verify) at the system clock's current time.
    #[cfg(feature = "std")]
    pub fn verify_now(
        &self,
        input: &str,
        last_accepted_step: Option<u64>,
    ) -> Result<Verification, CodeError> {
        self.verify(input, crate::now(), last_accepted_step)
    }
}

/// `step + drift`, saturating at both ends.
fn shift(step: u64, drift: i64) -> u64 {
    if drift >= 0 {
        step.saturating_add(drift.unsigned_abs())
    } else {
        step.saturating_sub(drift.unsigned_abs())
    }
}

/// The later of two matches.
fn latest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// `a - b` for steps that lie at most a window apart.
fn signed_difference(a: u64, b: u64) -> i64 {
    if a >= b {
        i64::try_from(a - b).unwrap_or(i64::MAX)
    } else {
        i64::try_from(b - a).map_or(i64::MIN, |d| -d)
    }
}

/// The outcome of an HOTP verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HotpVerification {
    /// The code matched `counter`; store `counter + 1` as the next expected counter.
    Accepted {
        /// The matched counter value.
        counter: u64,
    },
    /// The code matched no counter in the look-ahead window.
    Rejected,
}

/// An HOTP generator and verifier for one secret (RFC 4226).
///
/// ```
/// use twofold_totp::{Digits, Hotp, HotpVerification, Secret};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let hotp = Hotp::new(&secret, Default::default(), Digits::SIX);
/// assert_eq!(hotp.generate(0).to_string(), "755224"); // RFC 4226 Appendix D
/// assert_eq!(hotp.verify("287082", 0, 3)?, HotpVerification::Accepted { counter: 1 });
/// # Ok::<(), twofold_totp::Error>(())
/// ```
#[derive(Clone)]
pub struct Hotp {
    mac: KeyedMac,
    digits: Digits,
}

impl fmt::Debug for Hotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hotp")
            .field("secret", &"…")
            .field("digits", &self.digits)
            .finish()
    }
}

impl Hotp {
    /// Prepares a verifier: runs the HMAC key schedule for `secret` once.
    pub fn new(secret: &Secret, algorithm: Algorithm, digits: Digits) -> Hotp {
        Hotp {
            mac: KeyedMac::new(algorithm, secret.expose_bytes()),
            digits,
        }
    }

    /// The code for `counter`.
    pub fn generate(&self, counter: u64) -> Code {
        Code::from_value(
            self.mac.truncated(counter) % self.digits.modulus(),
            self.digits,
        )
    }

    /// Reads a code typed by a person and verifies it against the counters
    /// `expected ..= expected + look_ahead` (the resynchronisation window of
    /// RFC 4226 §7.4). Every counter in the window is evaluated.
    pub fn verify(
        &self,
        input: &str,
        expected: u64,
        look_ahead: u8,
    ) -> Result<HotpVerification, CodeError> {
        let code = Code::parse(input, self.digits)?;
        Ok(self.verify_code(&code, expected, look_ahead))
    }

    /// Verifies an already parsed code; the earliest matching counter wins.
    pub fn verify_code(&self, code: &Code, expected: u64, look_ahead: u8) -> HotpVerification {
        if code.digits() != self.digits {
            return HotpVerification::Rejected;
        }
        let last = expected.saturating_add(u64::from(look_ahead));
        let mut matched = 0u64;
        let mut found = Choice::from(0);
        for counter in (expected..=last).rev() {
            let equal = (self.mac.truncated(counter) % self.digits.modulus()).ct_eq(&code.value());
            matched.conditional_assign(&counter, equal);
            found |= equal;
        }
        if bool::from(found) {
            HotpVerification::Accepted { counter: matched }
        } else {
            HotpVerification::Rejected
        }
    }
}
