//! The validated, compiled policy.

use crate::document::{
    DOCUMENT_VERSION, Lockout, MAX_TRUSTED_BROWSER_DAYS, Mode, PolicyDocument, UnknownRoles,
};
use crate::methods::Methods;
use crate::time::{Timestamp, TimestampError};

/// The largest `throttle.max_failures` and `throttle.ceiling`: NIST SP 800-63B
/// rev. 4 §3.2.2 allows at most 100 consecutive failed attempts on one account.
pub const MAX_FAILURES_LIMIT: u32 = 100;
/// The latest instant a document may name (9999-12-31T23:59:59Z).
const LATEST: u64 = 253_402_300_799;
const MAX_ROLE_ID_BYTES: usize = 64;
const MAX_DURATION_SECONDS: u64 = 10 * 366 * 86_400;
const MIN_UNLOCK_CODES: u32 = 2;
const MAX_UNLOCK_CODES: u32 = 10;
/// One TOTP time step: the shortest cooldown, and the least time per unlock code.
const UNLOCK_STEP_SECONDS: u64 = 30;
const MAX_UNLOCK_SECONDS: u64 = 86_400;

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The TOML or JSON could not be read; the message gives the position.
    #[error("the policy {format} could not be read{}: {message}", at_field(.field.as_deref()))]
    #[non_exhaustive]
    Syntax {
        /// `"TOML"` or `"JSON"`.
        format: &'static str,
        /// The field the reader failed at, as a path (`throttle.max_failures`
        /// for a value of the wrong type, `trusted_browsers.extra` for a field
        /// the document does not have, `throttle.lockout` or `version` for one
        /// it lacks); `None` where the text itself is not TOML or JSON (a
        /// missing quote, text after a JSON document) or the document as a
        /// whole has the wrong type (a JSON array).
        field: Option<String>,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The document's `version` is not one this build reads.
    #[error("policy version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The document's version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A field holds a date the policy cannot read (`enforcement.from`,
    /// `exemptions[0].until`): malformed, without its UTC offset, or out of range.
    #[error("{field}: this date cannot be used")]
    Instant {
        /// The field, as a path: `exemptions[0].until`.
        field: String,
        /// Why the date cannot be read.
        #[source]
        source: TimestampError,
    },
    /// A field has a value the policy cannot use.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field, as a path: `roles.staff.methods`, `throttle.max_failures`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// " at `field`" for [`PolicyError::Syntax`]'s message, where there is one.
fn at_field(field: Option<&str>) -> String {
    field
        .map(|field| format!(" at {field}"))
        .unwrap_or_default()
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Which rule of the policy produced a decision, for the audit log. Turn it into
/// the rule's path with [`Policy::rule_path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `enforcement`: the organization-wide settings.
    Organization,
    /// `roles.<id>`: a role's rule (by index into the policy's roles).
    Role(usize),
    /// `exemptions[i]`.
    Exemption(usize),
    /// An exemption the application asserted in the user's facts.
    ApplicationExemption,
    /// `throttle`.
    Throttle,
    /// `self_disable`.
    SelfDisable,
    /// `passkeys`: the organization's passkey-first sign-in rule.
    Passkeys,
    /// `self_unlock`: the organization's self-service unlock settings.
    SelfUnlock,
    /// A rule built into the engine, not configurable (nobody resets their own 2FA,
    /// a role the policy refuses (see `unknown_roles`), a reason is required).
    Builtin,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRole {
    pub(crate) id: String,
    pub(crate) mode: Mode,
    pub(crate) mode_rule: Rule,
    pub(crate) grace_seconds: u64,
    pub(crate) grace_rule: Rule,
    pub(crate) methods: Methods,
    pub(crate) methods_rule: Rule,
    pub(crate) may_reset: Vec<usize>,
    pub(crate) may_unlock: Vec<usize>,
    pub(crate) may_change_enforcement: bool,
    /// How long its users may trust a browser, in days (0: never).
    pub(crate) trusted_browser_days: u32,
    /// Whether a passkey-first sign-in is both factors for this role.
    pub(crate) passkey_sign_in: bool,
    pub(crate) passkey_sign_in_rule: Rule,
    pub(crate) self_unlock: bool,
    pub(crate) self_unlock_rule: Rule,
}

/// The numbers of self-service unlock (`self_unlock` in the document), validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SelfUnlockRules {
    /// Consecutive valid codes needed (2 to 10).
    pub codes: u32,
    /// Seconds after a wrong unlock code before the next is taken.
    pub cooldown_seconds: u64,
    /// Seconds the whole sequence may take, from its first code.
    pub deadline_seconds: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledExemption {
    pub(crate) user: String,
    pub(crate) until: Option<Timestamp>,
    pub(crate) index: usize,
}

/// A validated policy, compiled for decisions that never allocate.
///
/// ```
/// use twofold_policy::{Methods, Policy, SignIn, Timestamp, UserFacts};
///
/// let policy = Policy::from_toml(r#"
///     version = 1
///     [enforcement]
///     mode = "required"
///     [roles.staff]
/// "#)?;
/// let facts = UserFacts::new("ana", "staff");
/// let decision = policy.sign_in(&facts, Timestamp::from_unix_seconds(1_800_000_000));
/// assert!(matches!(decision.outcome, SignIn::MustEnroll { can_defer: false, .. }));
/// println!("{}", decision.reason); // UI text
/// # Ok::<(), twofold_policy::PolicyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) document: PolicyDocument,
    pub(crate) org_mode: Mode,
    pub(crate) from: Option<Timestamp>,
    pub(crate) roles: Vec<CompiledRole>,
    /// The rule of roles that `roles` does not name, unless they are refused.
    pub(crate) unknown_role: Option<CompiledRole>,
    /// Sorted by user id for binary search.
    pub(crate) exemptions: Vec<CompiledExemption>,
    pub(crate) max_failures: u32,
    pub(crate) ceiling: u32,
    pub(crate) backoff_seconds: Vec<u64>,
    pub(crate) lockout: Lockout,
    pub(crate) reauthentication_max_age_seconds: u64,
    pub(crate) self_unlock: SelfUnlockRules,
}

impl PartialEq for Policy {
    fn eq(&self, other: &Policy) -> bool {
        self.document == other.document
    }
}

impl Eq for Policy {}

impl Policy {
    /// The clinic example ([`PolicyDocument::example_clinic`]), validated.
    pub fn example_clinic() -> Result<Policy, PolicyError> {
        Policy::from_document(PolicyDocument::example_clinic())
    }

    /// The document as TOML.
    pub fn to_toml(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        toml::to_string(&self.document).unwrap_or_default()
    }

    /// The document as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.document).unwrap_or_default()
    }

    /// The document this policy was built from.
    pub fn document(&self) -> &PolicyDocument {
        &self.document
    }

    /// Validates a document and compiles it. Every error names its field.
    pub fn from_document(document: PolicyDocument) -> Result<Policy, PolicyError> {
        if document.version != DOCUMENT_VERSION {
            return Err(PolicyError::UnsupportedVersion {
                found: document.version,
                supported: DOCUMENT_VERSION,
            });
        }
        let enforcement = &document.enforcement;
        let org_methods: Methods = enforcement.methods.iter().copied().collect();
        if org_methods.is_empty() {
            return Err(invalid(
                "enforcement.methods",
                "must allow at least one of totp, passkey",
            ));
        }
        check_instant("enforcement.from", enforcement.from)?;
        check_duration("enforcement.grace_seconds", enforcement.grace_seconds)?;
        let org_trusted_days = document.trusted_browsers.max_days;
        check_trusted_days("trusted_browsers.max_days", org_trusted_days)?;

        let org_passkey_sign_in = document.passkeys.sign_in_without_password;
        let role_ids: Vec<&String> = document.roles.keys().collect();
        let mut roles = Vec::with_capacity(role_ids.len());
        for (index, (id, role)) in document.roles.iter().enumerate() {
            let field = |name: &str| format!("roles.{id}.{name}");
            if id.is_empty()
                || id.len() > MAX_ROLE_ID_BYTES
                || id.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(invalid(
                    format!("roles.{id:?}"),
                    "a role id is 1 to 64 characters without spaces",
                ));
            }
            // The most restrictive rule wins: a role can tighten, never relax.
            let (mode, mode_rule) = match role.enforcement {
                Some(mode) if mode > enforcement.mode => (mode, Rule::Role(index)),
                _ => (enforcement.mode, Rule::Organization),
            };
            if let Some(grace) = role.grace_seconds {
                check_duration(&field("grace_seconds"), grace)?;
            }
            let (grace_seconds, grace_rule) = match role.grace_seconds {
                Some(grace) if grace < enforcement.grace_seconds => (grace, Rule::Role(index)),
                _ => (enforcement.grace_seconds, Rule::Organization),
            };
            let (methods, methods_rule) = match &role.methods {
                None => (org_methods, Rule::Organization),
                Some(list) => {
                    let narrowed = list
                        .iter()
                        .copied()
                        .collect::<Methods>()
                        .intersection(org_methods);
                    if narrowed.is_empty() {
                        return Err(invalid(
                            field("methods"),
                            format!(
                                "allows no method that the organization allows ({org_methods})"
                            ),
                        ));
                    }
                    let rule = if narrowed == org_methods {
                        Rule::Organization
                    } else {
                        Rule::Role(index)
                    };
                    (narrowed, rule)
                }
            };
            let role_indexes = |name: &str, targets: &[String]| {
                targets
                    .iter()
                    .map(|target| {
                        role_ids
                            .iter()
                            .position(|known| *known == target)
                            .ok_or_else(|| {
                                invalid(
                                    field(name),
                                    format!("names the role {target:?}, which is not defined"),
                                )
                            })
                    })
                    .collect::<Result<Vec<usize>, PolicyError>>()
            };
            // A role can only forbid what the organization allows.
            let (self_unlock, self_unlock_rule) = match role.self_unlock {
                Some(false) if document.self_unlock.allowed => (false, Rule::Role(index)),
                _ => (document.self_unlock.allowed, Rule::SelfUnlock),
            };
            if let Some(days) = role.trusted_browser_days {
                check_trusted_days(&field("trusted_browser_days"), days)?;
            }
            // Like the grace period: a role can shorten it, never lengthen it.
            let trusted_browser_days = role
                .trusted_browser_days
                .map_or(org_trusted_days, |days| days.min(org_trusted_days));
            let may_reset = role_indexes("may_reset", &role.may_reset)?;
            let may_unlock = match &role.may_unlock {
                Some(targets) => role_indexes("may_unlock", targets)?,
                None => may_reset.clone(),
            };
            let (passkey_sign_in, passkey_sign_in_rule) = match role.passkey_sign_in {
                Some(true) if !org_passkey_sign_in => {
                    return Err(invalid(
                        field("passkey_sign_in"),
                        "cannot allow what passkeys.sign_in_without_password forbids \
                         (a role can only tighten it)",
                    ));
                }
                Some(false) => (false, Rule::Role(index)),
                _ => (org_passkey_sign_in, Rule::Passkeys),
            };
            roles.push(CompiledRole {
                id: id.clone(),
                mode,
                mode_rule,
                grace_seconds,
                grace_rule,
                methods,
                methods_rule,
                may_reset,
                may_unlock,
                may_change_enforcement: role.may_change_enforcement,
                passkey_sign_in,
                passkey_sign_in_rule,
                self_unlock,
                self_unlock_rule,
                trusted_browser_days,
            });
        }

        let unknown_role = match document.unknown_role_rule() {
            UnknownRoles::Refuse if roles.is_empty() => {
                return Err(invalid(
                    "unknown_roles",
                    "refuses every role, since `roles` names none",
                ));
            }
            UnknownRoles::Refuse => None,
            // The organization's floor, and no power over anyone.
            UnknownRoles::Organization => Some(CompiledRole {
                id: String::new(),
                mode: enforcement.mode,
                mode_rule: Rule::Organization,
                grace_seconds: enforcement.grace_seconds,
                grace_rule: Rule::Organization,
                methods: org_methods,
                methods_rule: Rule::Organization,
                may_reset: Vec::new(),
                may_unlock: Vec::new(),
                may_change_enforcement: false,
                passkey_sign_in: org_passkey_sign_in,
                passkey_sign_in_rule: Rule::Passkeys,
                self_unlock: document.self_unlock.allowed,
                self_unlock_rule: Rule::SelfUnlock,
                trusted_browser_days: org_trusted_days,
            }),
        };

        let mut exemptions = Vec::with_capacity(document.exemptions.len());
        for (index, exemption) in document.exemptions.iter().enumerate() {
            let field = |name: &str| format!("exemptions[{index}].{name}");
            if exemption.user.is_empty() {
                return Err(invalid(field("user"), "must name a user"));
            }
            if exemption.reason.trim().is_empty() {
                return Err(invalid(
                    field("reason"),
                    "an exemption needs a reason, for the audit log",
                ));
            }
            check_instant(&field("until"), exemption.until)?;
            if exemptions
                .iter()
                .any(|earlier: &CompiledExemption| earlier.user == exemption.user)
            {
                return Err(invalid(field("user"), "this user is already exempted"));
            }
            exemptions.push(CompiledExemption {
                user: exemption.user.clone(),
                until: exemption.until,
                index,
            });
        }
        exemptions.sort_by(|a, b| a.user.cmp(&b.user));

        let throttle = &document.throttle;
        if throttle.max_failures == 0 || throttle.max_failures > MAX_FAILURES_LIMIT {
            return Err(invalid(
                "throttle.max_failures",
                "must be between 1 and 100 (NIST SP 800-63B rev. 4 §3.2.2)",
            ));
        }
        if throttle.ceiling < throttle.max_failures || throttle.ceiling > MAX_FAILURES_LIMIT {
            return Err(invalid(
                "throttle.ceiling",
                "must be at least max_failures and at most 100 (NIST SP 800-63B rev. 4 §3.2.2)",
            ));
        }
        if throttle.backoff_seconds.len() > MAX_FAILURES_LIMIT as usize {
            return Err(invalid(
                "throttle.backoff_seconds",
                "has more than 100 entries",
            ));
        }
        if throttle
            .backoff_seconds
            .windows(2)
            .any(|w| w.first() > w.get(1))
        {
            return Err(invalid(
                "throttle.backoff_seconds",
                "must never decrease: each wait is at least the one before",
            ));
        }
        if let Some(&longest) = throttle.backoff_seconds.iter().max() {
            check_duration("throttle.backoff_seconds", longest)?;
        }
        if let Lockout::ForSeconds(seconds) = throttle.lockout {
            if seconds == 0 {
                return Err(invalid(
                    "throttle.lockout.for_seconds",
                    "must be at least 1",
                ));
            }
            check_duration("throttle.lockout.for_seconds", seconds)?;
        }
        let max_age = document.self_disable.reauthentication_max_age_seconds;
        if max_age == 0 || max_age > 86_400 {
            return Err(invalid(
                "self_disable.reauthentication_max_age_seconds",
                "must be between 1 and 86400 seconds",
            ));
        }
        let unlock = &document.self_unlock;
        if !(MIN_UNLOCK_CODES..=MAX_UNLOCK_CODES).contains(&unlock.codes) {
            return Err(invalid("self_unlock.codes", "must be between 2 and 10"));
        }
        if !(UNLOCK_STEP_SECONDS..=MAX_UNLOCK_SECONDS).contains(&unlock.cooldown_seconds) {
            return Err(invalid(
                "self_unlock.cooldown_seconds",
                "must be between 30 and 86400 seconds (at least one time step between guesses)",
            ));
        }
        let shortest = UNLOCK_STEP_SECONDS * u64::from(unlock.codes);
        if !(shortest..=MAX_UNLOCK_SECONDS).contains(&unlock.deadline_seconds) {
            return Err(invalid(
                "self_unlock.deadline_seconds",
                format!(
                    "must be between {shortest} and 86400 seconds (30 seconds, one time step, for each of the {} codes)",
                    unlock.codes
                ),
            ));
        }

        if document.checkup.after_days > 3650 {
            return Err(invalid(
                "checkup.after_days",
                "must be at most 3650 (ten years)",
            ));
        }
        if document.reminders.skip_days > 365 {
            return Err(invalid("reminders.skip_days", "must be at most 365"));
        }

        Ok(Policy {
            org_mode: enforcement.mode,
            from: enforcement.from,
            roles,
            unknown_role,
            exemptions,
            max_failures: throttle.max_failures,
            ceiling: throttle.ceiling,
            backoff_seconds: throttle.backoff_seconds.clone(),
            lockout: throttle.lockout,
            reauthentication_max_age_seconds: max_age,
            self_unlock: SelfUnlockRules {
                codes: unlock.codes,
                cooldown_seconds: unlock.cooldown_seconds,
                deadline_seconds: unlock.deadline_seconds,
            },
            document,
        })
    }

    /// The path of the rule in the document, for the audit log:
    /// `enforcement`, `roles.staff`, `exemptions[0]`, `throttle`, …
    pub fn rule_path(&self, rule: Rule) -> String {
        match rule {
            Rule::Organization => "enforcement".to_string(),
            Rule::Role(index) => match self.roles.get(index) {
                Some(role) => format!("roles.{}", role.id),
                None => format!("roles[{index}]"),
            },
            Rule::Exemption(index) => format!("exemptions[{index}]"),
            Rule::ApplicationExemption => "application exemption".to_string(),
            Rule::Throttle => "throttle".to_string(),
            Rule::SelfDisable => "self_disable".to_string(),
            Rule::Passkeys => "passkeys".to_string(),
            Rule::SelfUnlock => "self_unlock".to_string(),
            Rule::Builtin => "built-in rule".to_string(),
        }
    }

    /// The numbers of self-service unlock: how many codes, the cooldown after
    /// a wrong one, the deadline of a sequence. [`Policy::self_unlock`] says
    /// whether a role may use it.
    pub fn self_unlock_rules(&self) -> SelfUnlockRules {
        self.self_unlock
    }

    /// The organization-wide mode.
    pub fn mode(&self) -> Mode {
        self.org_mode
    }

    /// The methods that count as a second factor for `role`, or `None` for a
    /// role the policy refuses.
    pub fn methods_for(&self, role: &str) -> Option<Methods> {
        self.role(role).map(|r| r.methods)
    }

    /// Whether users of `role` may add a second factor (every mode but `off`;
    /// never for a role the policy refuses). [`Policy::enrollment`] says why not.
    pub fn enrollment_offered(&self, role: &str) -> bool {
        self.role(role).is_some_and(|r| r.mode != Mode::Off)
    }

    /// How long users of `role` may trust a browser to skip the second step,
    /// in days: the organization's `trusted_browsers.max_days`, or the role's
    /// `trusted_browser_days` if shorter. 0: never (forbidden for the role, or
    /// a role the policy refuses).
    pub fn trusted_browser_days(&self, role: &str) -> u32 {
        self.role(role).map_or(0, |r| r.trusted_browser_days)
    }

    /// Whether users of `role` may change the organization's enforcement
    /// (false for a role the policy does not know).
    pub fn may_change_enforcement(&self, role: &str) -> bool {
        self.role(role).is_some_and(|r| r.may_change_enforcement)
    }

    /// Whether users of `actor_role` may reset the 2FA of users of
    /// `target_role`: the role question only. [`admin_reset`](Policy::admin_reset)
    /// decides an actual reset (never one's own, with a reason, and more).
    pub fn may_reset(&self, actor_role: &str, target_role: &str) -> bool {
        self.role_may(actor_role, target_role, |r| &r.may_reset)
    }

    /// Whether users of `actor_role` may unlock users of `target_role` (their
    /// `may_unlock`, or else `may_reset`): the role question only;
    /// [`admin_unlock`](Policy::admin_unlock) decides an actual unlock.
    pub fn may_unlock(&self, actor_role: &str, target_role: &str) -> bool {
        self.role_may(actor_role, target_role, |r| &r.may_unlock)
    }

    fn role_may(
        &self,
        actor_role: &str,
        target_role: &str,
        list: impl Fn(&CompiledRole) -> &Vec<usize>,
    ) -> bool {
        match (self.role(actor_role), self.role_index(target_role)) {
            (Some(actor), Some(target)) => list(actor).contains(&target),
            _ => false,
        }
    }

    /// A copy of this policy's document with the organization's mode changed: what
    /// an owner's "2FA enforcement: Required" produces, to store and re-validate.
    pub fn with_mode(&self, mode: Mode) -> Result<Policy, PolicyError> {
        let mut document = self.document.clone();
        document.enforcement.mode = mode;
        Policy::from_document(document)
    }

    /// The rule of `id`: its own if the policy names it, else that of unknown
    /// roles, unless they are refused.
    pub(crate) fn role(&self, id: &str) -> Option<&CompiledRole> {
        self.roles
            .iter()
            .find(|role| role.id == id)
            .or(self.unknown_role.as_ref())
    }

    pub(crate) fn role_index(&self, id: &str) -> Option<usize> {
        self.roles.iter().position(|role| role.id == id)
    }

    pub(crate) fn exemption(&self, user: &str, now: Timestamp) -> Option<usize> {
        let position = self
            .exemptions
            .binary_search_by(|e| e.user.as_str().cmp(user))
            .ok()?;
        let exemption = self.exemptions.get(position)?;
        match exemption.until {
            Some(until) if now >= until => None,
            _ => Some(exemption.index),
        }
    }
}

fn check_instant(field: &str, instant: Option<Timestamp>) -> Result<(), PolicyError> {
    match instant {
        Some(t) if t.as_unix_seconds() > LATEST => {
            Err(invalid(field, "must be no later than 9999-12-31"))
        }
        _ => Ok(()),
    }
}

fn check_trusted_days(field: &str, days: u32) -> Result<(), PolicyError> {
    if days > MAX_TRUSTED_BROWSER_DAYS {
        return Err(invalid(field, "must be at most 400 days (0 forbids it)"));
    }
    Ok(())
}

fn check_duration(field: &str, seconds: u64) -> Result<(), PolicyError> {
    if seconds > MAX_DURATION_SECONDS {
        return Err(invalid(
            field,
            "must be at most ten years (316224000 seconds)",
        ));
    }
    Ok(())
}
