//! The policy document: what operators write, in TOML or JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::methods::Method;
use crate::time::Timestamp;

/// The document format version this build reads and writes.
pub const DOCUMENT_VERSION: u32 = 1;

/// The policy as written: serde (TOML and JSON), validated into a
/// [`Policy`](crate::Policy) by [`Policy::from_document`](crate::Policy::from_document).
///
/// ```toml
/// version = 1
/// unknown_roles = "refuse"   # refuse | organization: a role not named under [roles]
///
/// [enforcement]
/// mode = "required"          # off | optional | required
/// from = 2027-01-01          # optional: required from then (a date, or a date and
///                            # time with its offset, 2027-01-01T08:00:00Z; quoted or not)
/// grace_seconds = 0          # per user, from their first sign-in after enforcement began
/// methods = ["totp", "passkey"]
///
/// [roles.owner]
/// may_reset = ["admin", "staff"]
/// may_change_enforcement = true
///
/// [roles.admin]
/// may_reset = ["staff"]
///
/// [roles.staff]
///
/// [[exemptions]]
/// user = "front-desk-kiosk"
/// reason = "shared kiosk until badge readers arrive"
/// until = "2027-03-01"
///
/// [throttle]
/// max_failures = 10
/// backoff_seconds = [0, 0, 0, 30, 60, 120, 300, 600, 900]
/// lockout = { for_seconds = 3600 }
/// ceiling = 100              # then locked until an administrator unlocks
///
/// [self_disable]
/// reauthentication_max_age_seconds = 300
///
/// [passkeys]
/// sign_in_without_password = true   # a passkey with user verification is both factors
/// [self_unlock]              # a locked user unlocks with codes from their app
/// allowed = true             # roles may forbid it: [roles.admin] self_unlock = false
/// codes = 3                  # consecutive codes, each from a later time step: 2 to 10
/// cooldown_seconds = 300     # after a wrong unlock code, before the next try
/// deadline_seconds = 600     # for the whole sequence, from its first code
/// [trusted_browsers]
/// max_days = 30              # "don't ask again on this browser"; 0 forbids it
/// ```
///
/// A role may shorten or forbid trusted browsers (`trusted_browser_days = 0`
/// under `[roles.admin]`), never lengthen them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// The format version; must be [`DOCUMENT_VERSION`].
    pub version: u32,
    /// Organization-wide enforcement.
    #[serde(default)]
    pub enforcement: EnforcementDocument,
    /// Per-role rules, by role id. Roles are the application's own ids.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleDocument>,
    /// What a role that `roles` does not name gets. Absent:
    /// [`UnknownRoles::Organization`] when `roles` is empty (no role is special),
    /// [`UnknownRoles::Refuse`] when it names any role, since a role missing from
    /// a list of roles is more likely a typo or a new role than one meant to get
    /// the loosest rule. See [`PolicyDocument::unknown_role_rule`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_roles: Option<UnknownRoles>,
    /// Users exempted from enforcement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exemptions: Vec<ExemptionDocument>,
    /// Second-factor failure throttling.
    #[serde(default)]
    pub throttle: ThrottleDocument,
    /// Rules for users turning off their own 2FA.
    #[serde(default)]
    pub self_disable: SelfDisableDocument,
    /// "Don't ask again on this browser": allowed, and for how long.
    #[serde(default)]
    pub trusted_browsers: TrustedBrowsersDocument,
    /// Passkey-first (username-less) sign-in.
    #[serde(default)]
    pub passkeys: PasskeysDocument,
    /// Self-service unlock: a locked user unlocks their second step with
    /// consecutive codes from their authenticator app.
    #[serde(default, skip_serializing_if = "SelfUnlockDocument::is_default")]
    pub self_unlock: SelfUnlockDocument,
    /// The check-up after enrolment: confirm the backup codes are saved.
    #[serde(default, skip_serializing_if = "CheckupDocument::is_default")]
    pub checkup: CheckupDocument,
    /// Reminders to set up a second factor, and "remind me later".
    #[serde(default, skip_serializing_if = "RemindersDocument::is_default")]
    pub reminders: RemindersDocument,
}

/// The check-up after enrolment (as GitHub does 28 days after 2FA is turned
/// on): at the first sign-in this long after a user's first factor, they are
/// asked to confirm that their backup codes are saved, and shown how many remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckupDocument {
    /// Days after enrolment; 0: no check-up. At most 3650.
    pub after_days: u32,
}

impl CheckupDocument {
    fn is_default(&self) -> bool {
        *self == CheckupDocument::default()
    }
}

impl Default for CheckupDocument {
    fn default() -> CheckupDocument {
        CheckupDocument { after_days: 28 }
    }
}

/// Reminders to set up a second factor (as Zitadel's "MFA init skip
/// lifetime"): a user who could set one up and has none is reminded at
/// sign-in, and "remind me later" quiets the reminder for `skip_days`. Under
/// required enforcement, the quiet never reaches past the user's grace
/// period: at its end, setup comes first whatever they chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemindersDocument {
    /// Days "remind me later" lasts; 0 (the default): no reminder where
    /// setup is optional, and a reminder at every sign-in of a grace period.
    /// At most 365.
    pub skip_days: u32,
}

impl RemindersDocument {
    fn is_default(&self) -> bool {
        *self == RemindersDocument::default()
    }
}

/// What a role the policy does not name gets (`unknown_roles` in the document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownRoles {
    /// Its users are refused: sign-in is [`Blocked`](crate::SignIn::Blocked) and
    /// setup denied, with [`Reason::UnknownRole`](crate::Reason::UnknownRole).
    /// Nobody gets a weaker rule than intended because of a misspelt role.
    Refuse,
    /// Its users get the organization's rules (`enforcement`, the floor that
    /// every named role can only tighten) and no administrative power: they
    /// reset, unlock and change enforcement for nobody, and nobody's role may
    /// reset or unlock them (a role must be named to be listed in `may_reset`).
    Organization,
}

/// How strongly the organization asks for a second factor.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Second factors are not offered. Users who already have one are still asked for it.
    Off,
    /// Users may add a second factor; nobody must.
    #[default]
    Optional,
    /// Every user (not exempt) must have a second factor.
    Required,
}

impl Mode {
    /// Every mode, from the least to the most strict.
    pub const ALL: [Mode; 3] = [Mode::Off, Mode::Optional, Mode::Required];

    /// The name used in policy documents: `off`, `optional`, `required`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Optional => "optional",
            Mode::Required => "required",
        }
    }
}

impl std::fmt::Display for Mode {
    /// The name used in policy documents (`optional`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mode name that is not `off`, `optional` or `required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected an enforcement mode: off, optional or required")]
#[non_exhaustive]
pub struct ModeError;

impl std::str::FromStr for Mode {
    type Err = ModeError;

    /// Reads a mode name, ignoring ASCII case and surrounding spaces (so that a
    /// form's `Required` reads as `required`).
    fn from_str(text: &str) -> Result<Mode, ModeError> {
        let text = text.trim();
        Mode::ALL
            .into_iter()
            .find(|mode| mode.as_str().eq_ignore_ascii_case(text))
            .ok_or(ModeError)
    }
}

/// Organization-wide enforcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnforcementDocument {
    /// The mode.
    #[serde(default)]
    pub mode: Mode,
    /// When `required` takes effect; immediately if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// Seconds a user may still sign in without a second factor, counted from their
    /// first sign-in after enforcement began. 0: on the next sign-in.
    #[serde(default)]
    pub grace_seconds: u64,
    /// The methods that count as a second factor.
    #[serde(default = "all_methods")]
    pub methods: Vec<Method>,
}

fn all_methods() -> Vec<Method> {
    Method::ALL.to_vec()
}

impl Default for EnforcementDocument {
    fn default() -> EnforcementDocument {
        EnforcementDocument {
            mode: Mode::Optional,
            from: None,
            grace_seconds: 0,
            methods: all_methods(),
        }
    }
}

/// The rules of one role. Enforcement overrides can only tighten the
/// organization's: the most restrictive rule wins.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDocument {
    /// A stricter mode for this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<Mode>,
    /// A shorter grace period for this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_seconds: Option<u64>,
    /// A narrower set of methods for this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<Method>>,
    /// The roles whose users this role may reset 2FA for (never the actor's own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub may_reset: Vec<String>,
    /// Whether this role may change the organization's enforcement.
    #[serde(default, skip_serializing_if = "is_false")]
    pub may_change_enforcement: bool,
    /// The roles whose users this role may unlock (clear a lockout, keeping their
    /// factors). Absent: the roles of `may_reset`, since a reset is the harsher act.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_unlock: Option<Vec<String>>,
    /// `false`: a passkey-first sign-in of this role's users still asks for the
    /// password. It can only tighten `passkeys.sign_in_without_password`:
    /// `true` where the organization says `false` is refused. Absent: the
    /// organization's rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey_sign_in: Option<bool>,
    /// `false`: this role's users may not unlock themselves (`self_unlock`),
    /// whatever the organization allows. A role can only tighten: `true`
    /// where the organization forbids it changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_unlock: Option<bool>,
    /// The longest this role's users may trust a browser, in days: a cap
    /// below the organization's `trusted_browsers.max_days` (a larger value
    /// does not lengthen it); 0 forbids trusted browsers for the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_browser_days: Option<u32>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// One user exempted from enforcement, with the reason (for the audit log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExemptionDocument {
    /// The user id.
    pub user: String,
    /// Why, in words.
    pub reason: String,
    /// When the exemption ends; never if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

/// How a lockout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lockout {
    /// This many seconds after the failure that caused it.
    ForSeconds(u64),
    /// When an administrator resets the user's 2FA (or their failure count).
    UntilReset,
}

/// Throttling of consecutive second-factor failures, per account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleDocument {
    /// Consecutive failures that lock the account: 1 to 100 (NIST SP 800-63B rev. 4 §3.2.2).
    pub max_failures: u32,
    /// `backoff_seconds[k]`: the wait after `k + 1` consecutive failures; the last
    /// entry applies beyond. Must never decrease.
    #[serde(default)]
    pub backoff_seconds: Vec<u64>,
    /// How a lockout ends.
    pub lockout: Lockout,
    /// Consecutive failures, across timed lockouts, after which only an
    /// administrator's reset or unlock opens the account: at most 100 (NIST SP
    /// 800-63B rev. 4 §3.2.2), and at least `max_failures`. Without it, a timed lockout
    /// would let one guess an hour through forever.
    #[serde(default = "default_ceiling")]
    pub ceiling: u32,
}

fn default_ceiling() -> u32 {
    crate::MAX_FAILURES_LIMIT
}

impl Default for ThrottleDocument {
    fn default() -> ThrottleDocument {
        ThrottleDocument {
            max_failures: 10,
            backoff_seconds: vec![0, 0, 0, 30, 60, 120, 300, 600, 900],
            lockout: Lockout::ForSeconds(3600),
            ceiling: default_ceiling(),
        }
    }
}

/// Rules for a user turning off their own 2FA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfDisableDocument {
    /// How recent the password re-entry must be, in seconds.
    pub reauthentication_max_age_seconds: u64,
}

impl Default for SelfDisableDocument {
    fn default() -> SelfDisableDocument {
        SelfDisableDocument {
            reauthentication_max_age_seconds: 300,
        }
    }
}

/// Passkey-first (username-less) sign-in, organization-wide (`[passkeys]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeysDocument {
    /// Whether a passkey-first sign-in with user verification (something the
    /// user has, unlocked by something they know or are) satisfies both the
    /// password and the second factor. `false`: it only identifies the user,
    /// who then enters their password and takes the usual second step.
    /// Default `true`. A role may set `passkey_sign_in = false` to tighten it.
    #[serde(default = "yes")]
    pub sign_in_without_password: bool,
}

fn yes() -> bool {
    true
}

impl Default for PasskeysDocument {
    fn default() -> PasskeysDocument {
        PasskeysDocument {
            sign_in_without_password: true,
        }
    }
}

/// Self-service unlock (Rodauth's `otp_unlock`, stricter): a user whose second
/// step is under a timed lockout, and who has an authenticator app, unlocks it
/// by entering `codes` consecutive valid codes, each from a later time step
/// than the one before, within `deadline_seconds` of the first. A wrong code
/// ends the sequence, counts as a failure, and starts a cooldown of
/// `cooldown_seconds`. It never lifts a lock at the failure ceiling, nor one
/// that lasts until an administrator acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfUnlockDocument {
    /// Whether users may unlock themselves (roles may forbid it for theirs).
    #[serde(default = "yes")]
    pub allowed: bool,
    /// Consecutive valid codes needed: 2 to 10.
    #[serde(default = "default_unlock_codes")]
    pub codes: u32,
    /// After a wrong unlock code, the seconds before the next code is taken:
    /// 30 to 86400 (at least one time step between guesses).
    #[serde(default = "default_unlock_cooldown")]
    pub cooldown_seconds: u64,
    /// The seconds the whole sequence may take, from its first code: at least
    /// 30 per code (one time step each), at most 86400.
    #[serde(default = "default_unlock_deadline")]
    pub deadline_seconds: u64,
}

impl SelfUnlockDocument {
    fn is_default(&self) -> bool {
        *self == SelfUnlockDocument::default()
    }
}

fn default_unlock_codes() -> u32 {
    3
}

fn default_unlock_cooldown() -> u64 {
    300
}

fn default_unlock_deadline() -> u64 {
    600
}

impl Default for SelfUnlockDocument {
    /// Allowed; 3 codes; a 5-minute cooldown; 10 minutes for the sequence.
    fn default() -> SelfUnlockDocument {
        SelfUnlockDocument {
            allowed: yes(),
            codes: default_unlock_codes(),
            cooldown_seconds: default_unlock_cooldown(),
            deadline_seconds: default_unlock_deadline(),
        }
    }
}

/// The largest `trusted_browsers.max_days` and `trusted_browser_days`: about
/// thirteen months (the longest a browser keeps a cookie, in Chromium).
pub const MAX_TRUSTED_BROWSER_DAYS: u32 = 400;

/// "Don't ask again on this browser": after a second step, a browser may be
/// trusted to skip it for a while (never while the user is locked, and never
/// in place of setting up a factor that enforcement requires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedBrowsersDocument {
    /// How long a browser stays trusted, in days, from when it was trusted:
    /// 0 to [`MAX_TRUSTED_BROWSER_DAYS`]; 0 forbids trusted browsers. Default 30.
    #[serde(default = "default_trusted_days")]
    pub max_days: u32,
}

fn default_trusted_days() -> u32 {
    30
}

impl Default for TrustedBrowsersDocument {
    fn default() -> TrustedBrowsersDocument {
        TrustedBrowsersDocument {
            max_days: default_trusted_days(),
        }
    }
}

impl Default for PolicyDocument {
    /// The neutral policy: second factors optional for everyone (TOTP and
    /// passkeys), every role name accepted under the organization's rules, the
    /// default throttle and self-disable rules, and no administrative powers.
    /// It is the policy of an organization that has not stored one, unless the
    /// application configures another (as the clinic example does).
    ///
    /// ```
    /// use twofold_policy::{Policy, PolicyDocument, SignIn, Timestamp, UserFacts};
    ///
    /// let policy = Policy::from_document(PolicyDocument::default())?;
    /// let member = UserFacts::new("mo", "member");
    /// let decision = policy.sign_in(&member, Timestamp::from_unix_seconds(1_800_000_000));
    /// assert_eq!(decision.outcome, SignIn::Allow);
    /// assert_eq!(decision.reason.to_string(), "Two-factor authentication is optional for your account.");
    /// # Ok::<(), twofold_policy::PolicyError>(())
    /// ```
    fn default() -> PolicyDocument {
        PolicyDocument {
            version: DOCUMENT_VERSION,
            enforcement: EnforcementDocument::default(),
            roles: BTreeMap::new(),
            unknown_roles: None,
            exemptions: Vec::new(),
            throttle: ThrottleDocument::default(),
            self_disable: SelfDisableDocument::default(),
            self_unlock: SelfUnlockDocument::default(),
            checkup: CheckupDocument::default(),
            reminders: RemindersDocument::default(),
            passkeys: PasskeysDocument::default(),
            trusted_browsers: TrustedBrowsersDocument::default(),
        }
    }
}

impl PolicyDocument {
    /// What a role that `roles` does not name gets: `unknown_roles` if given,
    /// otherwise [`UnknownRoles::Organization`] when no role is named and
    /// [`UnknownRoles::Refuse`] when some are.
    pub fn unknown_role_rule(&self) -> UnknownRoles {
        match self.unknown_roles {
            Some(rule) => rule,
            None if self.roles.is_empty() => UnknownRoles::Organization,
            None => UnknownRoles::Refuse,
        }
    }

    /// An example of roles, the clinic demo's policy: `owner` may reset `admin`
    /// and `staff` and change enforcement; `admin` may reset `staff`; any other
    /// role is refused. Enforcement is optional until an owner requires it. Not a
    /// default: the library's default is the neutral [`PolicyDocument::default`].
    pub fn example_clinic() -> PolicyDocument {
        let role = |may_reset: &[&str], may_change_enforcement| RoleDocument {
            may_reset: may_reset.iter().map(|r| (*r).to_string()).collect(),
            may_change_enforcement,
            ..RoleDocument::default()
        };
        PolicyDocument {
            version: DOCUMENT_VERSION,
            enforcement: EnforcementDocument::default(),
            roles: BTreeMap::from([
                ("owner".to_string(), role(&["admin", "staff"], true)),
                ("admin".to_string(), role(&["staff"], false)),
                ("staff".to_string(), role(&[], false)),
            ]),
            unknown_roles: None,
            exemptions: Vec::new(),
            throttle: ThrottleDocument::default(),
            self_disable: SelfDisableDocument::default(),
            self_unlock: SelfUnlockDocument::default(),
            checkup: CheckupDocument::default(),
            reminders: RemindersDocument::default(),
            passkeys: PasskeysDocument::default(),
            trusted_browsers: TrustedBrowsersDocument::default(),
        }
    }
}
