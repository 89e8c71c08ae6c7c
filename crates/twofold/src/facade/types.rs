//! The facade's inputs and outputs.

use std::fmt;

use serde_json::Value;
use twofold_backup::{BackupConfig, NewBackupCodes};
use twofold_passkey::CredentialId;
#[cfg(feature = "passkey")]
use twofold_passkey::PasskeyConfig;
use twofold_policy::{Decision, DryRunReport, Methods, PolicyDocument, Reason, SignIn, Timestamp};
use twofold_totp::TotpParams;

use crate::events::{Event, Factor};
use crate::lock::Lock;

/// Who the operation is for, as the application knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account<'a> {
    /// The application's stable user id.
    pub user: &'a str,
    /// The user's organization (clinic).
    pub organization: &'a str,
    /// The user's role id, as the policy names roles.
    pub role: &'a str,
    /// The account name shown in authenticator apps and passkey prompts ("ana@clinic.example").
    pub name: &'a str,
}

/// A successful operation's value and the audit events it produced (also given
/// to the `EventSink`).
#[derive(Debug)]
pub struct Done<T> {
    /// The result.
    pub value: T,
    /// What happened.
    pub events: Vec<Event>,
}

/// The second step of sign-in, after the application verified the password.
#[derive(Debug, Clone)]
pub enum SignInStep {
    /// Signed in: no second step for this user.
    Allow {
        /// Why (UI text through `Display`).
        reason: Reason,
    },
    /// Ask for a second factor, answering challenge `challenge_id`.
    Challenge {
        /// The single-use challenge id to send back with the answer.
        challenge_id: String,
        /// The factors the user may answer with.
        methods: Methods,
        /// Whether "use a backup code" may be offered.
        recovery: bool,
        /// For "use a passkey": the options for `parseRequestOptionsFromJSON`.
        passkey_options: Option<Value>,
        /// When the challenge lapses.
        expires_at: Timestamp,
    },
    /// The user must set up a second factor first (the guide: "every user must
    /// enable 2FA on their next sign-in"); while `can_defer`, they may skip it this time.
    MustEnroll {
        /// The end of their grace period.
        deadline: Timestamp,
        /// The methods that count.
        methods: Methods,
        /// Whether the grace period still runs.
        can_defer: bool,
        /// Why (UI text).
        reason: Reason,
    },
    /// Signed in, with a reminder to set up a second factor first (setup is
    /// optional, and the policy's `reminders.skip_days` turns reminders on):
    /// offer "Set up now" and "Remind me later"
    /// ([`TwoFactor::remind_me_later`](crate::TwoFactor::remind_me_later)).
    Remind {
        /// The methods the user may set up.
        methods: Methods,
        /// Until when "remind me later" would quiet the reminder.
        remind_later_until: Timestamp,
    },
    /// Too many wrong codes: wait, or ask an administrator.
    Locked {
        /// How long, or until whom.
        lock: Lock,
    },
    /// Sign-in cannot continue (for example, a role the policy does not know).
    Blocked {
        /// Why (UI text).
        reason: Reason,
    },
}

/// The check-up after enrolment: ask the user to confirm that their backup
/// codes are saved, showing how many remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checkup {
    /// When the user's first factor (of those bound now) was added.
    pub enrolled_at: Timestamp,
    /// Unused backup codes, if the user has a set.
    pub backup_codes_remaining: Option<usize>,
    /// Whether they are running low.
    pub backup_codes_low: bool,
}

/// A successful second step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    /// The factor used.
    pub factor: Factor,
    /// For a backup code: how many remain.
    pub backup_codes_remaining: Option<usize>,
}

/// A new authenticator-app setup, for the Security page. It shows the secret:
/// display it once, never log it (`Debug` is redacted).
pub struct TotpEnrollment {
    /// The `otpauth://` URI (inside the QR code).
    pub otpauth_uri: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
    /// The secret for manual entry, in groups of four ("QR code won't scan").
    pub manual_entry_secret: String,
    /// The issuer, as configured, for manual entry (the URI percent-encodes it).
    pub issuer: String,
    /// The account name, as given in [`Account::name`](crate::Account), for
    /// manual entry; colons and surrounding spaces included.
    pub account_name: String,
    /// When this setup lapses.
    pub expires_at: Timestamp,
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpEnrollment")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A confirmed factor, with the backup codes if this created the user's set.
#[derive(Debug)]
pub struct FactorConfirmed {
    /// For a passkey: its id.
    pub credential_id: Option<CredentialId>,
    /// The 10 one-time backup codes, shown this once, if a new set was created.
    pub backup_codes: Option<NewBackupCodes>,
}

/// A username-less passkey sign-in in progress.
#[cfg(feature = "passkey")]
#[derive(Debug, Clone)]
pub struct PasskeySignInStart {
    /// The single-use ceremony id to send back with the response.
    pub ceremony_id: String,
    /// The options for `parseRequestOptionsFromJSON`.
    pub options: Value,
}

/// One passkey, for the Security page.
#[cfg(feature = "passkey")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeySummary {
    /// Its id.
    pub id: CredentialId,
    /// The user's name for it.
    pub name: String,
    /// When it was added.
    pub created_at: Timestamp,
    /// When it was last used.
    pub last_used_at: Option<Timestamp>,
    /// Whether it is synced or backed up.
    pub backed_up: bool,
}

/// A user's second factors, for the Security page and the Staff list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Whether an authenticator app is set up.
    pub totp: bool,
    /// Registered passkeys.
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    pub passkeys: Vec<PasskeySummary>,
    /// Unused backup codes, if the user has a set.
    pub backup_codes_remaining: Option<usize>,
    /// Whether the backup codes are running low.
    pub backup_codes_low: bool,
    /// Whether enforcement requires a second factor of this user.
    pub enforced: bool,
    /// Whether 2FA is on (any factor).
    pub enabled: bool,
    /// If the second step is locked: how long, or until whom.
    pub locked: Option<Lock>,
}

/// Settings of the facade.
#[derive(Debug, Clone)]
pub struct TwoFactorConfig {
    /// The issuer shown in authenticator apps ("Smile Dental").
    pub issuer: String,
    /// Passkey relying party and ceremony settings: `None` (as
    /// [`new`](Self::new) leaves it) keeps passkeys off, and their operations
    /// fail with [`TwoFactorError::PasskeysOff`](crate::TwoFactorError::PasskeysOff).
    /// Set by [`with_passkeys`](Self::with_passkeys).
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    pub passkeys: Option<PasskeyConfig>,
    /// Backup-code count, length and Argon2 parameters.
    pub backup_codes: BackupConfig,
    /// The low-remaining threshold for backup codes.
    pub backup_codes_low_threshold: usize,
    /// TOTP parameters for new enrollments (the defaults every app supports).
    pub totp: TotpParams,
    /// What a confirming code is also tried with when it does not match the
    /// offered parameters: some authenticator apps silently use SHA-1, 6 digits
    /// and 30 s whatever the QR code says (google-authenticator-android #29,
    /// kanidm #501). A match stores the parameters the app really uses, and
    /// says so in [`Event::TotpParametersAdjusted`](crate::Event::TotpParametersAdjusted).
    /// By default only [`AppParameters::SHA1_6_30`]; at most
    /// [`MAX_TOTP_FALLBACKS`] (more fails [`TwoFactor::new`](crate::TwoFactor::new)).
    /// Empty: only the offered parameters.
    pub totp_fallbacks: Vec<AppParameters>,
    /// How far an authenticator's clock may drift, and how a drifted one is
    /// brought back ([`TotpDrift`]).
    pub totp_drift: TotpDrift,
    /// How long a begun setup may be confirmed, in seconds.
    pub enrollment_ttl_seconds: u64,
    /// How long a sign-in challenge may be answered, in seconds.
    pub challenge_ttl_seconds: u64,
    /// The policy of organizations that have not stored one. By default the
    /// neutral [`PolicyDocument::default`]: second factors optional for every
    /// user, whatever their role. An application with roles of its own sets its
    /// policy here (the clinic example reads its `policy.toml`).
    pub default_policy: PolicyDocument,
    /// How many username-less sign-in ceremonies one organization may have
    /// outstanding: they are created by a page anyone can open, so they are
    /// bounded. Beyond it, starting one fails with `Busy` until some expire.
    pub max_outstanding_ceremonies: u64,
    /// How often the facade sweeps expired state by itself (ceremonies, lapsed
    /// setups and challenges), in seconds; 0 turns the automatic sweep off (then
    /// schedule [`TwoFactor::purge_expired`](crate::TwoFactor::purge_expired) yourself).
    pub sweep_interval_seconds: u64,
    /// How long a delivery worker holds a notification it claimed before
    /// another worker may send it again, in seconds: longer than a send takes.
    /// A worker that dies mid-send delays the notification this long.
    pub notification_lease_seconds: u64,
}

impl TwoFactorConfig {
    /// Defaults: 10-minute setups, 5-minute challenges, 10 backup codes (low at 3),
    /// at most 1,000 outstanding username-less ceremonies per organization, a
    /// sweep of expired state every minute, the neutral policy
    /// ([`PolicyDocument::default`]: 2FA optional, any role name accepted).
    /// No passkeys: add them with [`with_passkeys`](Self::with_passkeys). The
    /// same call builds with and without the `passkey` feature, so a dependency
    /// that turns the feature on never breaks it.
    pub fn new(issuer: &str) -> TwoFactorConfig {
        TwoFactorConfig {
            issuer: issuer.to_string(),
            #[cfg(feature = "passkey")]
            passkeys: None,
            backup_codes: BackupConfig::default(),
            backup_codes_low_threshold: twofold_backup::DEFAULT_LOW_THRESHOLD,
            totp: TotpParams::default(),
            totp_fallbacks: vec![AppParameters::SHA1_6_30],
            totp_drift: TotpDrift::default(),
            enrollment_ttl_seconds: 600,
            challenge_ttl_seconds: 300,
            default_policy: PolicyDocument::default(),
            max_outstanding_ceremonies: 1_000,
            sweep_interval_seconds: 60,
            notification_lease_seconds: 300,
        }
    }

    /// Turns passkeys on, with their relying party and ceremony settings.
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    #[must_use]
    pub fn with_passkeys(mut self, passkeys: PasskeyConfig) -> TwoFactorConfig {
        self.passkeys = Some(passkeys);
        self
    }
}

/// The most [`TwoFactorConfig::totp_fallbacks`] there may be: each is one more
/// set of codes a confirming code is compared with.
pub const MAX_TOTP_FALLBACKS: usize = 3;

/// The largest [`TotpDrift::max_steps`] and [`TotpDrift::resync_steps`].
pub const MAX_TOTP_DRIFT_STEPS: u8 = 20;

/// The parameters an authenticator app generates codes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct AppParameters {
    /// The hash.
    pub algorithm: twofold_totp::Algorithm,
    /// The number of digits.
    pub digits: u8,
    /// The time step, in seconds.
    pub period: u64,
}

impl AppParameters {
    /// SHA-1, 6 digits, 30 seconds: what every app supports, and what some use
    /// whatever they are told.
    pub const SHA1_6_30: AppParameters = AppParameters {
        algorithm: twofold_totp::Algorithm::Sha1,
        digits: 6,
        period: 30,
    };

    /// Those of `params`.
    pub fn of(params: &TotpParams) -> AppParameters {
        AppParameters {
            algorithm: params.algorithm,
            digits: params.digits.get(),
            period: params.period.seconds(),
        }
    }

    /// `params` with these instead of its own (its window and T0 kept), or
    /// `None` if they are not valid TOTP parameters.
    pub fn apply(&self, params: &TotpParams) -> Option<TotpParams> {
        Some(TotpParams {
            algorithm: self.algorithm,
            digits: twofold_totp::Digits::new(u32::from(self.digits)).ok()?,
            period: twofold_totp::Period::new(self.period).ok()?,
            ..*params
        })
    }
}

/// How the facade follows an authenticator whose clock drifts (RFC 6238 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpDrift {
    /// The largest drift, in time steps either way, that is remembered per
    /// authenticator and that its next window is centred on (default 10, at
    /// most [`MAX_TOTP_DRIFT_STEPS`]). 0 turns drift tracking off.
    pub max_steps: u8,
    /// How far outside the window, in steps either way of the server's clock, a
    /// code still says that a resync is possible (default 10, at most
    /// [`MAX_TOTP_DRIFT_STEPS`]): it is not accepted, the answer is
    /// [`TwoFactorError::ResyncNeeded`](crate::TwoFactorError::ResyncNeeded), and
    /// the authenticator's next code, entered next, re-centres the window and
    /// signs in. 0 turns resync off.
    pub resync_steps: u8,
    /// How long the next code may take to come, in seconds (default 300).
    pub resync_ttl_seconds: u64,
}

impl Default for TotpDrift {
    fn default() -> TotpDrift {
        TotpDrift {
            max_steps: 10,
            resync_steps: 10,
            resync_ttl_seconds: 300,
        }
    }
}

/// What a sweep of expired state removed: from [`TwoFactor::purge_expired`](crate::TwoFactor::purge_expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purged {
    /// Expired username-less ceremonies deleted.
    pub ceremonies: u64,
    /// User records rewritten without their lapsed setups and challenges.
    pub users: u64,
}

/// What [`TwoFactor::reseal_all`](crate::TwoFactor::reseal_all) did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resealed {
    /// User records visited.
    pub users: u64,
    /// Records rewritten: secrets re-sealed under the current key, passkeys
    /// bound in the credential index.
    pub rewritten: u64,
    /// Users whose secret could not be opened with any key of the keyring, with
    /// the key id it is sealed under: the key that must not be retired yet.
    pub unreadable: Vec<(String, String)>,
}

/// What an enforcement change would do to an organization's members at their
/// next sign-in: from [`TwoFactor::preview_enforcement`](super::TwoFactor::preview_enforcement).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnforcementPreview {
    /// Each member's next sign-in under the policy as it is.
    pub current: DryRunReport,
    /// The same under the proposed mode.
    pub proposed: DryRunReport,
}

impl EnforcementPreview {
    /// Members who would have to set up a second factor under the proposed
    /// mode and need not now: whom the change sends into setup.
    pub fn newly_must_enroll(&self) -> Vec<&(String, Decision<SignIn>)> {
        newly(&self.proposed.must_enroll, &self.current.must_enroll)
    }

    /// Members who could not sign in under the proposed mode and can now.
    pub fn newly_blocked(&self) -> Vec<&(String, Decision<SignIn>)> {
        newly(&self.proposed.blocked, &self.current.blocked)
    }
}

/// The entries of `after` whose user `before` does not list.
fn newly<'a>(
    after: &'a [(String, Decision<SignIn>)],
    before: &[(String, Decision<SignIn>)],
) -> Vec<&'a (String, Decision<SignIn>)> {
    let before: std::collections::HashSet<&str> =
        before.iter().map(|(user, _)| user.as_str()).collect();
    after
        .iter()
        .filter(|(user, _)| !before.contains(user.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use twofold_policy::Rule;

    fn entry(user: &str, outcome: SignIn) -> (String, Decision<SignIn>) {
        let decision = Decision {
            outcome,
            reason: Reason::UnknownRole,
            rule: Rule::Builtin,
        };
        (user.to_string(), decision)
    }

    #[test]
    fn newly_lists_only_who_the_change_itself_affects() {
        let due = SignIn::MustEnroll {
            deadline: Timestamp::from_unix_seconds(100),
            methods: Methods::ALL,
            can_defer: false,
        };
        let preview = EnforcementPreview {
            current: DryRunReport {
                must_enroll: vec![entry("kim", due)],
                blocked: vec![entry("ivy", SignIn::Blocked)],
                unaffected: vec![entry("sam", SignIn::Allow), entry("zed", SignIn::Allow)],
            },
            proposed: DryRunReport {
                must_enroll: vec![entry("kim", due), entry("sam", due)],
                blocked: vec![entry("ivy", SignIn::Blocked), entry("zed", SignIn::Blocked)],
                unaffected: Vec::new(),
            },
        };
        fn users(list: Vec<&(String, Decision<SignIn>)>) -> Vec<&str> {
            list.into_iter().map(|(user, _)| user.as_str()).collect()
        }
        assert_eq!(users(preview.newly_must_enroll()), ["sam"]);
        assert_eq!(users(preview.newly_blocked()), ["zed"]);
    }
}
