//! Decisions: pure functions of the policy, the facts and `now`.

use core::fmt;

use crate::document::{Lockout, Mode};
use crate::methods::{Method, Methods};
use crate::policy::{CompiledRole, Policy, Rule};
use crate::time::Timestamp;

/// What the application knows about a user, borrowed for one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserFacts<'a> {
    /// The user's id (matched against the policy's exemption list).
    pub user: &'a str,
    /// The user's role id.
    pub role: &'a str,
    /// The second factors the user has enrolled.
    pub enrolled: Methods,
    /// Whether the user has unused backup codes (recovery only, never a factor).
    pub has_backup_codes: bool,
    /// The user's first sign-in after enforcement began, if there was one before
    /// this; the grace period counts from it.
    pub first_sign_in_since_enforcement: Option<Timestamp>,
    /// An exemption the application grants itself, besides the policy's list.
    pub exempt: bool,
}

impl<'a> UserFacts<'a> {
    /// A user with no second factor, no backup codes, no earlier sign-in since
    /// enforcement and no exemption.
    pub fn new(user: &'a str, role: &'a str) -> UserFacts<'a> {
        UserFacts {
            user,
            role,
            enrolled: Methods::NONE,
            has_backup_codes: false,
            first_sign_in_since_enforcement: None,
            exempt: false,
        }
    }
}

/// A decision: the outcome, the reason (fit for UI text through `Display`) and
/// the rule that produced it (for the audit log, through [`Policy::rule_path`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision<T> {
    /// What to do.
    pub outcome: T,
    /// Why.
    pub reason: Reason,
    /// Which rule decided.
    pub rule: Rule,
}

/// The second step of sign-in, after the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignIn {
    /// No second step.
    Allow,
    /// Ask for one of `methods` (those the user has and the policy allows);
    /// `recovery` says whether "use a backup code" may be offered.
    Challenge {
        /// Methods to offer.
        methods: Methods,
        /// Whether the user has backup codes to fall back on.
        recovery: bool,
    },
    /// The user must set up a second factor: one of `methods`, by `deadline`.
    /// While `can_defer`, the application may let them continue this time
    /// (the grace period runs); otherwise setup comes before anything else.
    MustEnroll {
        /// The end of the user's grace period.
        deadline: Timestamp,
        /// The methods that count.
        methods: Methods,
        /// Whether the grace period still runs.
        can_defer: bool,
    },
    /// Sign-in cannot continue.
    Blocked,
}

impl SignIn {
    /// How restrictive the outcome is, for comparing decisions: `Allow` < `Challenge`
    /// < `MustEnroll` (deferrable) < `MustEnroll` < `Blocked`.
    pub fn strictness(&self) -> u8 {
        match self {
            SignIn::Allow => 0,
            SignIn::Challenge { .. } => 1,
            SignIn::MustEnroll {
                can_defer: true, ..
            } => 2,
            SignIn::MustEnroll {
                can_defer: false, ..
            } => 3,
            SignIn::Blocked => 4,
        }
    }
}

/// Whether an action is permitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// It is.
    Allowed,
    /// It is not; the reason says why.
    Denied,
}

/// Whether an administrator may reset another user's 2FA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetPermission {
    /// They may. When `must_enroll_at_next_sign_in`, enforcement applies to the
    /// target, who will be sent into setup at their next sign-in.
    Allowed {
        /// Whether the target must enroll again at their next sign-in.
        must_enroll_at_next_sign_in: bool,
    },
    /// They may not; the reason says why.
    Denied,
}

/// The throttle's answer before verifying a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Throttle {
    /// Verify now.
    Allowed,
    /// Wait this many seconds first.
    RetryAfter {
        /// Seconds to wait.
        seconds: u64,
    },
    /// The account is locked: until `until`, or until an administrator resets it.
    Locked {
        /// When the lockout ends; `None` until an administrator resets it.
        until: Option<Timestamp>,
    },
}

/// Why a decision came out as it did. `Display` gives UI text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// 2FA is not required for this user and they have not set it up.
    NotRequired,
    /// The user has a second factor, so it is asked for.
    FactorEnrolled,
    /// The user is exempt from enforcement.
    Exempt,
    /// Enforcement is configured but starts later.
    RequiredFrom(Timestamp),
    /// Enforcement requires a second factor; the grace period runs until the deadline.
    EnrollmentDue(Timestamp),
    /// Enforcement requires a second factor now (no grace left).
    EnrollmentRequiredNow,
    /// The user's role is not in the policy, which refuses roles it does not name.
    UnknownRole,
    /// Self-disable is refused while enforcement applies.
    EnforcedForUser,
    /// The password must be re-entered (recently enough) first.
    ReauthenticationRequired,
    /// Nobody resets their own 2FA.
    CannotResetSelf,
    /// An admin reset needs a reason.
    ReasonRequired,
    /// The actor's role may not reset the target's role.
    RoleMayNotReset,
    /// The actor's role may not change enforcement.
    RoleMayNotChangeEnforcement,
    /// Requiring 2FA while the acting user has no second factor would lock them out.
    ActorHasNoSecondFactor,
    /// The policy permits it.
    Permitted,
    /// Fewer failures than any wait applies to.
    UnderLimit,
    /// Consecutive failures impose a wait.
    BackingOff,
    /// Too many consecutive failures: the account is locked.
    LockedOut,
    /// A lockout has ended.
    LockoutEnded,
    /// Consecutive failures reached the ceiling: only an administrator opens the account.
    FailureCeiling,
    /// The method is not one the policy allows for the user's role.
    MethodNotAllowed,
    /// The two accounts belong to different organizations.
    OtherOrganization,
    /// The actor's role may not unlock the target's role.
    RoleMayNotUnlock,
    /// Second factors are not offered to the user's role (enforcement is `off`).
    NotOffered,
    /// A passkey-first sign-in does not replace the password for the user's
    /// role (`passkeys.sign_in_without_password`, `roles.<id>.passkey_sign_in`).
    PasswordAlsoRequired,
    /// The user's role may not unlock their own account (`self_unlock`).
    SelfUnlockNotAllowed,
    /// Failures since the user unlocked themselves are under every limit.
    SelfUnlocked,
    /// The browser was trusted after an earlier second step, and still is.
    TrustedBrowser,
}

impl Reason {
    /// A stable machine name for the reason, in snake case (`enrollment_due`,
    /// `unknown_role`): for programs, logs and other languages, where
    /// `Display`'s UI text may be reworded. A reason's code never changes.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NotRequired => "not_required",
            Reason::FactorEnrolled => "factor_enrolled",
            Reason::Exempt => "exempt",
            Reason::RequiredFrom(_) => "required_from",
            Reason::EnrollmentDue(_) => "enrollment_due",
            Reason::EnrollmentRequiredNow => "enrollment_required_now",
            Reason::UnknownRole => "unknown_role",
            Reason::EnforcedForUser => "enforced_for_user",
            Reason::ReauthenticationRequired => "reauthentication_required",
            Reason::CannotResetSelf => "cannot_reset_self",
            Reason::ReasonRequired => "reason_required",
            Reason::RoleMayNotReset => "role_may_not_reset",
            Reason::RoleMayNotChangeEnforcement => "role_may_not_change_enforcement",
            Reason::ActorHasNoSecondFactor => "actor_has_no_second_factor",
            Reason::Permitted => "permitted",
            Reason::UnderLimit => "under_limit",
            Reason::BackingOff => "backing_off",
            Reason::LockedOut => "locked_out",
            Reason::LockoutEnded => "lockout_ended",
            Reason::FailureCeiling => "failure_ceiling",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::OtherOrganization => "other_organization",
            Reason::RoleMayNotUnlock => "role_may_not_unlock",
            Reason::NotOffered => "not_offered",
            Reason::PasswordAlsoRequired => "password_also_required",
            Reason::SelfUnlockNotAllowed => "self_unlock_not_allowed",
            Reason::SelfUnlocked => "self_unlocked",
            Reason::TrustedBrowser => "trusted_browser",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotRequired => f.write_str("Two-factor authentication is optional for your account."),
            Reason::FactorEnrolled => f.write_str("Your account requires a second factor on every sign-in."),
            Reason::Exempt => f.write_str("Your account is exempt from two-factor enforcement."),
            Reason::RequiredFrom(from) => write!(f, "Two-factor authentication will be required from {from}."),
            Reason::EnrollmentDue(deadline) => write!(f, "Set up two-factor authentication before {deadline}."),
            Reason::EnrollmentRequiredNow => f.write_str("Your organization requires two-factor authentication: set it up to continue."),
            Reason::UnknownRole => f.write_str("Your role is not covered by the security policy; contact your administrator."),
            Reason::EnforcedForUser => f.write_str("Two-factor authentication is required by your organization and cannot be disabled."),
            Reason::ReauthenticationRequired => f.write_str("Re-enter your password to continue."),
            Reason::CannotResetSelf => f.write_str("You cannot reset your own two-factor authentication."),
            Reason::ReasonRequired => f.write_str("A reason is required."),
            Reason::RoleMayNotReset => f.write_str("Your role may not reset two-factor authentication for this user."),
            Reason::RoleMayNotChangeEnforcement => f.write_str("Your role may not change two-factor enforcement."),
            Reason::ActorHasNoSecondFactor => f.write_str("Set up two-factor authentication on your own account before requiring it for everyone."),
            Reason::Permitted => f.write_str("Permitted."),
            Reason::UnderLimit => f.write_str("You may try again."),
            Reason::BackingOff => f.write_str("Too many incorrect codes: wait before trying again."),
            Reason::LockedOut => f.write_str("Too many incorrect codes: your account is locked."),
            Reason::LockoutEnded => f.write_str("The lockout has ended; you may try again."),
            Reason::FailureCeiling => f.write_str("Too many incorrect codes: your account is locked until an administrator unlocks it."),
            Reason::MethodNotAllowed => f.write_str("Your organization does not allow this sign-in method for your role."),
            Reason::OtherOrganization => f.write_str("That user belongs to another organization."),
            Reason::RoleMayNotUnlock => f.write_str("Your role may not unlock this user."),
            Reason::NotOffered => f.write_str("Your organization does not offer two-factor authentication."),
            Reason::PasswordAlsoRequired => f.write_str("Your organization asks for your password as well: enter it to continue."),
            Reason::SelfUnlockNotAllowed => f.write_str("Your organization does not let you unlock your account yourself; ask an administrator."),
            Reason::SelfUnlocked => f.write_str("You unlocked your account; you may try again."),
            Reason::TrustedBrowser => f.write_str("This browser is trusted, so no second factor was asked for."),
        }
    }
}

/// Who a proposed policy would affect: from [`Policy::dry_run`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DryRunReport {
    /// Users who would have to set up a second factor, with their deadline and whether they could defer.
    pub must_enroll: Vec<(String, Decision<SignIn>)>,
    /// Users who could not sign in at all.
    pub blocked: Vec<(String, Decision<SignIn>)>,
    /// Users whose sign-in goes on as allowed or challenged.
    pub unaffected: Vec<(String, Decision<SignIn>)>,
}

impl Policy {
    /// The second step of sign-in for a user whose password the application has verified.
    ///
    /// Never allocates. The most restrictive of the organization's and the role's
    /// rules applies; an exemption lifts only the requirement to enroll, never a
    /// factor the user already has.
    pub fn sign_in(&self, facts: &UserFacts<'_>, now: Timestamp) -> Decision<SignIn> {
        let Some(role) = self.role(facts.role) else {
            return decision(SignIn::Blocked, Reason::UnknownRole, Rule::Builtin);
        };
        let usable = facts.enrolled.intersection(role.methods);
        if !usable.is_empty() {
            let challenge = SignIn::Challenge {
                methods: usable,
                recovery: facts.has_backup_codes,
            };
            return decision(challenge, Reason::FactorEnrolled, role.methods_rule);
        }
        match self.requirement(role, facts, now) {
            Requirement::NotRequired(reason, rule) => {
                if facts.enrolled.is_empty() {
                    decision(SignIn::Allow, reason, rule)
                } else {
                    // A factor outside the allowed methods, where nothing is required:
                    // still asked for, never silently skipped.
                    let challenge = SignIn::Challenge {
                        methods: facts.enrolled,
                        recovery: facts.has_backup_codes,
                    };
                    decision(challenge, Reason::FactorEnrolled, rule)
                }
            }
            Requirement::Required => {
                let started = facts.first_sign_in_since_enforcement.unwrap_or(now);
                let deadline = started.plus_seconds(role.grace_seconds);
                let can_defer = now < deadline;
                let (reason, rule) = if can_defer {
                    (Reason::EnrollmentDue(deadline), role.grace_rule)
                } else {
                    (Reason::EnrollmentRequiredNow, role.mode_rule)
                };
                let outcome = SignIn::MustEnroll {
                    deadline,
                    methods: role.methods,
                    can_defer,
                };
                decision(outcome, reason, rule)
            }
        }
    }

    /// Whether to remind a user at sign-in to set up a second factor, given
    /// the sign-in decision for them and until when they asked to be
    /// reminded later. Setup that must come first ([`SignIn::MustEnroll`]
    /// with `can_defer: false`) is never a reminder: it is required.
    ///
    /// - [`SignIn::MustEnroll`] while the grace period runs: a reminder,
    ///   unless quieted until after `now`.
    /// - [`SignIn::Allow`] of a user with no factor whose role is offered
    ///   setup, where `reminders.skip_days` is not 0: the same.
    /// - Anything else: no reminder.
    pub fn reminder_due(
        &self,
        decision: &SignIn,
        facts: &UserFacts<'_>,
        quiet_until: Option<Timestamp>,
        now: Timestamp,
    ) -> bool {
        let quiet = quiet_until.is_some_and(|until| now < until);
        match decision {
            SignIn::MustEnroll {
                can_defer: true, ..
            } => !quiet,
            SignIn::Allow => {
                self.document.reminders.skip_days != 0
                    && facts.enrolled.is_empty()
                    && self.enrollment_offered(facts.role)
                    && !quiet
            }
            _ => false,
        }
    }

    /// Until when "remind me later" quiets the reminder: `reminders.skip_days`
    /// from `now`, never past the end of the user's grace period; `None` when
    /// the decision leaves nothing to put off (setup required now, or no
    /// reminder), or reminders are off.
    pub fn remind_later_until(&self, decision: &SignIn, now: Timestamp) -> Option<Timestamp> {
        let days = u64::from(self.document.reminders.skip_days);
        if days == 0 {
            return None;
        }
        let until = now.plus_seconds(days.saturating_mul(86_400));
        match decision {
            SignIn::MustEnroll {
                can_defer: true,
                deadline,
                ..
            } => Some(until.min(*deadline)),
            SignIn::Allow => Some(until),
            _ => None,
        }
    }

    /// Whether the check-up is due: `checkup.after_days` after the user's
    /// first factor was bound (`enrolled_at`), unless they confirmed it since.
    pub fn checkup_due(
        &self,
        enrolled_at: Timestamp,
        confirmed_at: Option<Timestamp>,
        now: Timestamp,
    ) -> bool {
        let days = u64::from(self.document.checkup.after_days);
        days != 0
            && confirmed_at.is_none_or(|confirmed| confirmed < enrolled_at)
            && now >= enrolled_at.plus_seconds(days.saturating_mul(86_400))
    }

    /// Whether a passkey-first (username-less) sign-in, with user verification,
    /// satisfies both the password and the second factor for this user:
    /// [`Permission::Denied`] with [`Reason::UnknownRole`] for a role the
    /// policy refuses, [`Reason::MethodNotAllowed`] where passkeys do not count
    /// for the role, [`Reason::PasswordAlsoRequired`] where the policy turned it
    /// off for the organization or the role. Where it is denied, the passkey
    /// only identifies the user: the password and the usual second step follow.
    /// The sign-in itself still follows [`sign_in`](Policy::sign_in) (a role
    /// it blocks is blocked here too) and the throttle.
    ///
    /// ```
    /// use twofold_policy::{Permission, Policy, Reason, UserFacts};
    ///
    /// let policy = Policy::from_toml(r#"
    ///     version = 1
    ///     [roles.staff]
    ///     [roles.admin]
    ///     passkey_sign_in = false
    /// "#)?;
    /// let staff = policy.passkey_sign_in(&UserFacts::new("ana", "staff"));
    /// assert_eq!(staff.outcome, Permission::Allowed);
    /// let admin = policy.passkey_sign_in(&UserFacts::new("ada", "admin"));
    /// assert_eq!((admin.outcome, admin.reason), (Permission::Denied, Reason::PasswordAlsoRequired));
    /// assert_eq!(policy.rule_path(admin.rule), "roles.admin");
    /// # Ok::<(), twofold_policy::PolicyError>(())
    /// ```
    pub fn passkey_sign_in(&self, facts: &UserFacts<'_>) -> Decision<Permission> {
        let Some(role) = self.role(facts.role) else {
            return decision(Permission::Denied, Reason::UnknownRole, Rule::Builtin);
        };
        if !role.methods.contains(Method::Passkey) {
            return decision(
                Permission::Denied,
                Reason::MethodNotAllowed,
                role.methods_rule,
            );
        }
        if !role.passkey_sign_in {
            return decision(
                Permission::Denied,
                Reason::PasswordAlsoRequired,
                role.passkey_sign_in_rule,
            );
        }
        decision(
            Permission::Allowed,
            Reason::Permitted,
            role.passkey_sign_in_rule,
        )
    }

    /// Whether enforcement requires a second factor of this user now (their role's
    /// mode is `required`, it has started, and they are not exempt).
    pub fn enforcement_applies(&self, facts: &UserFacts<'_>, now: Timestamp) -> bool {
        self.role(facts.role)
            .is_some_and(|role| matches!(self.requirement(role, facts, now), Requirement::Required))
    }

    fn requirement(
        &self,
        role: &CompiledRole,
        facts: &UserFacts<'_>,
        now: Timestamp,
    ) -> Requirement {
        if role.mode != Mode::Required {
            return Requirement::NotRequired(Reason::NotRequired, role.mode_rule);
        }
        if facts.exempt {
            return Requirement::NotRequired(Reason::Exempt, Rule::ApplicationExemption);
        }
        if let Some(index) = self.exemption(facts.user, now) {
            return Requirement::NotRequired(Reason::Exempt, Rule::Exemption(index));
        }
        match self.from {
            Some(from) if now < from => {
                Requirement::NotRequired(Reason::RequiredFrom(from), Rule::Organization)
            }
            _ => Requirement::Required,
        }
    }

    /// Whether a user may turn off their own 2FA: never while enforcement applies
    /// to them, and otherwise only with a password re-entry no older than the
    /// policy's freshness window (`reauthenticated_at` comes from the application).
    pub fn self_disable(
        &self,
        facts: &UserFacts<'_>,
        reauthenticated_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Decision<Permission> {
        let Some(role) = self.role(facts.role) else {
            return decision(Permission::Denied, Reason::UnknownRole, Rule::Builtin);
        };
        if matches!(self.requirement(role, facts, now), Requirement::Required) {
            return decision(Permission::Denied, Reason::EnforcedForUser, role.mode_rule);
        }
        if !self.reauthentication_is_fresh(reauthenticated_at, now) {
            return decision(
                Permission::Denied,
                Reason::ReauthenticationRequired,
                Rule::SelfDisable,
            );
        }
        decision(Permission::Allowed, Reason::Permitted, Rule::SelfDisable)
    }

    /// Whether a password re-entry at `reauthenticated_at` is recent enough for a
    /// sensitive action now (`self_disable.reauthentication_max_age_seconds`):
    /// turning 2FA off, regenerating backup codes.
    pub fn reauthentication_is_fresh(
        &self,
        reauthenticated_at: Option<Timestamp>,
        now: Timestamp,
    ) -> bool {
        reauthenticated_at.is_some_and(|at| {
            at <= now && now.seconds_since(at) <= self.reauthentication_max_age_seconds
        })
    }

    /// Whether `actor` may reset `target`'s 2FA, with `reason` for the audit log.
    /// Nobody resets their own; the actor's role must list the target's role.
    pub fn admin_reset(
        &self,
        actor: &UserFacts<'_>,
        target: &UserFacts<'_>,
        reason: &str,
        now: Timestamp,
    ) -> Decision<ResetPermission> {
        if actor.user == target.user {
            return decision(
                ResetPermission::Denied,
                Reason::CannotResetSelf,
                Rule::Builtin,
            );
        }
        if reason.trim().is_empty() {
            return decision(
                ResetPermission::Denied,
                Reason::ReasonRequired,
                Rule::Builtin,
            );
        }
        let (Some(actor_index), Some(target_index)) =
            (self.role_index(actor.role), self.role_index(target.role))
        else {
            let reason = self.powerless(actor.role, Reason::RoleMayNotReset);
            return decision(ResetPermission::Denied, reason, Rule::Builtin);
        };
        let allowed = self
            .roles
            .get(actor_index)
            .is_some_and(|role| role.may_reset.contains(&target_index));
        if !allowed {
            return decision(
                ResetPermission::Denied,
                Reason::RoleMayNotReset,
                Rule::Role(actor_index),
            );
        }
        // Whether enforcement applies does not depend on the factors the
        // target has, so it is the same after the reset as before it.
        decision(
            ResetPermission::Allowed {
                must_enroll_at_next_sign_in: self.enforcement_applies(target, now),
            },
            Reason::Permitted,
            Rule::Role(actor_index),
        )
    }

    /// Whether `actor` may unlock `target` (clear a lockout, keeping their
    /// factors), with `reason` for the audit log. Nobody unlocks themselves this
    /// way; the actor's role must list the target's role in `may_unlock` (or, if
    /// absent, in `may_reset`).
    pub fn admin_unlock(
        &self,
        actor: &UserFacts<'_>,
        target: &UserFacts<'_>,
        reason: &str,
    ) -> Decision<Permission> {
        if actor.user == target.user {
            return decision(Permission::Denied, Reason::CannotResetSelf, Rule::Builtin);
        }
        if reason.trim().is_empty() {
            return decision(Permission::Denied, Reason::ReasonRequired, Rule::Builtin);
        }
        let (Some(actor_index), Some(target_index)) =
            (self.role_index(actor.role), self.role_index(target.role))
        else {
            let reason = self.powerless(actor.role, Reason::RoleMayNotUnlock);
            return decision(Permission::Denied, reason, Rule::Builtin);
        };
        let allowed = self
            .roles
            .get(actor_index)
            .is_some_and(|role| role.may_unlock.contains(&target_index));
        if !allowed {
            return decision(
                Permission::Denied,
                Reason::RoleMayNotUnlock,
                Rule::Role(actor_index),
            );
        }
        decision(
            Permission::Allowed,
            Reason::Permitted,
            Rule::Role(actor_index),
        )
    }

    /// Whether `actor` may set the organization's mode to `new_mode`. Only roles
    /// granted it may; requiring 2FA is refused while the actor has no second
    /// factor that counts, so that they cannot lock themselves out.
    pub fn change_enforcement(
        &self,
        actor: &UserFacts<'_>,
        new_mode: Mode,
    ) -> Decision<Permission> {
        let Some(index) = self.role_index(actor.role) else {
            let reason = self.powerless(actor.role, Reason::RoleMayNotChangeEnforcement);
            return decision(Permission::Denied, reason, Rule::Builtin);
        };
        let Some(role) = self.roles.get(index) else {
            return decision(Permission::Denied, Reason::UnknownRole, Rule::Builtin);
        };
        if !role.may_change_enforcement {
            return decision(
                Permission::Denied,
                Reason::RoleMayNotChangeEnforcement,
                Rule::Role(index),
            );
        }
        if new_mode == Mode::Required && actor.enrolled.intersection(role.methods).is_empty() {
            return decision(
                Permission::Denied,
                Reason::ActorHasNoSecondFactor,
                Rule::Builtin,
            );
        }
        decision(Permission::Allowed, Reason::Permitted, Rule::Role(index))
    }

    /// The throttle before verifying a second factor, from the account's count of
    /// consecutive failures and the time of the last one. Waits never decrease as
    /// failures grow; at `max_failures` the account is locked, and at the
    /// `ceiling` it stays locked until an administrator resets or unlocks it.
    pub fn throttle(
        &self,
        consecutive_failures: u32,
        last_failure: Option<Timestamp>,
        now: Timestamp,
    ) -> Decision<Throttle> {
        self.throttle_since_unlock(
            consecutive_failures,
            consecutive_failures,
            last_failure,
            now,
        )
    }

    /// [`throttle`](Policy::throttle) for an account whose user unlocked it
    /// themselves ([`self_unlock`](Policy::self_unlock)) after some of its
    /// `consecutive_failures`: the back-off and the lockout count only the
    /// `since_unlock` failures after it, while the `ceiling` counts them all,
    /// so that no number of self-service unlocks reopens an account at the
    /// ceiling or lets more than `ceiling` failures through without a success.
    /// `since_unlock` above `consecutive_failures` counts as equal to it.
    pub fn throttle_since_unlock(
        &self,
        consecutive_failures: u32,
        since_unlock: u32,
        last_failure: Option<Timestamp>,
        now: Timestamp,
    ) -> Decision<Throttle> {
        if consecutive_failures == 0 {
            return decision(Throttle::Allowed, Reason::UnderLimit, Rule::Throttle);
        }
        // Failures without a time are treated as happening now: fail closed.
        let last_failure = last_failure.unwrap_or(now);
        if consecutive_failures >= self.ceiling {
            return decision(
                Throttle::Locked { until: None },
                Reason::FailureCeiling,
                Rule::Throttle,
            );
        }
        let counted = since_unlock.min(consecutive_failures);
        if counted == 0 {
            return decision(Throttle::Allowed, Reason::SelfUnlocked, Rule::Throttle);
        }
        if counted >= self.max_failures {
            return match self.lockout {
                Lockout::UntilReset => decision(
                    Throttle::Locked { until: None },
                    Reason::LockedOut,
                    Rule::Throttle,
                ),
                Lockout::ForSeconds(seconds) => {
                    let until = last_failure.plus_seconds(seconds);
                    if now < until {
                        decision(
                            Throttle::Locked { until: Some(until) },
                            Reason::LockedOut,
                            Rule::Throttle,
                        )
                    } else {
                        decision(Throttle::Allowed, Reason::LockoutEnded, Rule::Throttle)
                    }
                }
            };
        }
        let index = usize::try_from(counted - 1).unwrap_or(usize::MAX);
        let wait = self
            .backoff_seconds
            .get(index)
            .or(self.backoff_seconds.last())
            .copied()
            .unwrap_or(0);
        let retry_at = last_failure.plus_seconds(wait);
        if now < retry_at {
            decision(
                Throttle::RetryAfter {
                    seconds: retry_at.seconds_since(now),
                },
                Reason::BackingOff,
                Rule::Throttle,
            )
        } else {
            decision(Throttle::Allowed, Reason::UnderLimit, Rule::Throttle)
        }
    }

    /// Whether users of `role` may unlock their own second step with codes
    /// from their authenticator app ([`self_unlock_rules`](Policy::self_unlock_rules)
    /// says how): not for a role the policy refuses, not where the
    /// organization or the role forbids it, and not where the authenticator
    /// app does not count as a factor for the role. Which locks it may lift
    /// (a timed lockout only) is the caller's to check, with
    /// [`throttle`](Policy::throttle).
    pub fn self_unlock(&self, role: &str) -> Decision<Permission> {
        let Some(role) = self.role(role) else {
            return decision(Permission::Denied, Reason::UnknownRole, Rule::Builtin);
        };
        if !role.self_unlock {
            return decision(
                Permission::Denied,
                Reason::SelfUnlockNotAllowed,
                role.self_unlock_rule,
            );
        }
        if !role.methods.contains(Method::Totp) {
            return decision(
                Permission::Denied,
                Reason::MethodNotAllowed,
                role.methods_rule,
            );
        }
        decision(
            Permission::Allowed,
            Reason::Permitted,
            role.self_unlock_rule,
        )
    }

    /// Applies this (proposed) policy to `users` and reports who would have to
    /// enroll, who would be blocked and who would be unaffected.
    pub fn dry_run(&self, users: &[UserFacts<'_>], now: Timestamp) -> DryRunReport {
        let mut report = DryRunReport::default();
        for facts in users {
            let decision = self.sign_in(facts, now);
            let entry = (facts.user.to_string(), decision);
            match decision.outcome {
                SignIn::MustEnroll { .. } => report.must_enroll.push(entry),
                SignIn::Blocked => report.blocked.push(entry),
                SignIn::Allow | SignIn::Challenge { .. } => report.unaffected.push(entry),
            }
        }
        report
    }
}

impl Policy {
    /// Why an actor whose role, or whose target's role, the policy does not name
    /// is refused an administrative act: their own role is refused
    /// ([`Reason::UnknownRole`]), or else it holds no such power (`reason`), as
    /// every role outside `roles` does, and as no role holds over one outside it.
    fn powerless(&self, actor_role: &str, reason: Reason) -> Reason {
        if self.role(actor_role).is_some() {
            reason
        } else {
            Reason::UnknownRole
        }
    }
}

enum Requirement {
    NotRequired(Reason, Rule),
    Required,
}

pub(crate) fn decision<T>(outcome: T, reason: Reason, rule: Rule) -> Decision<T> {
    Decision {
        outcome,
        reason,
        rule,
    }
}
