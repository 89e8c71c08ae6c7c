//! The facade: every flow of the guide, orchestrating the factor crates and the
//! policy over the application's `Store`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use twofold_backup::{BackupCodeSet, BackupConfig, BackupVerification, NewBackupCodes};
use twofold_passkey::{
    AuthenticationResponse, CredentialId, PasskeyConfig, PasskeyError, PasskeyUser, Passkeys,
};
use twofold_policy::{
    Decision, Method, Methods, Mode, Permission, Policy, PolicyDocument, Reason, ResetPermission,
    SignIn, Throttle, Timestamp, UserFacts,
};
use twofold_totp::{Code, OtpAuthUri, Secret, Totp, TotpParams, Verification};

use crate::crypto::Keyring;
use crate::env::{Clock, OsRandomness, Randomness, RngAdapter, SystemClock, random_id};
use crate::error::{Failure, TwoFactorError};
use crate::events::{Event, EventSink, Factor};
use crate::store::{
    CeremonyRecord, OrganizationRecord, PendingPasskey, PendingTotp, SignInChallenge, Store,
    StoreError, ThrottleState, TotpFactor, UserRecord, Version,
};

/// How many times an operation re-reads and retries after losing a conditional write.
const MAX_ATTEMPTS: usize = 16;

/// Who the operation is for, as the application knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account<'a> {
    /// The application's stable user id.
    pub user: &'a str,
    /// The user's organisation (clinic).
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
        expires_at: u64,
    },
    /// The user must set up a second factor first (the guide: "every user must
    /// enable 2FA on their next sign-in"); while `can_defer`, they may skip it this time.
    MustEnrol {
        /// The end of their grace period.
        deadline: u64,
        /// The methods that count.
        methods: Methods,
        /// Whether the grace period still runs.
        can_defer: bool,
        /// Why (UI text).
        reason: Reason,
    },
    /// Too many wrong codes: wait, or ask an administrator.
    Locked {
        /// Seconds to wait, or `None` until an administrator resets it.
        retry_after_seconds: Option<u64>,
    },
    /// Sign-in cannot continue (for example, a role the policy does not know).
    Blocked {
        /// Why (UI text).
        reason: Reason,
    },
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
    /// When this setup lapses.
    pub expires_at: u64,
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
#[derive(Debug, Clone)]
pub struct PasskeySignInStart {
    /// The single-use ceremony id to send back with the response.
    pub ceremony_id: String,
    /// The options for `parseRequestOptionsFromJSON`.
    pub options: Value,
}

/// One passkey, for the Security page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeySummary {
    /// Its id.
    pub id: CredentialId,
    /// The user's name for it.
    pub name: String,
    /// When it was added.
    pub created_at: u64,
    /// When it was last used.
    pub last_used_at: Option<u64>,
    /// Whether it is synced or backed up.
    pub backed_up: bool,
}

/// A user's second factors, for the Security page and the Staff list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Whether an authenticator app is set up.
    pub totp: bool,
    /// Registered passkeys.
    pub passkeys: Vec<PasskeySummary>,
    /// Unused backup codes, if the user has a set.
    pub backup_codes_remaining: Option<usize>,
    /// Whether the backup codes are running low.
    pub backup_codes_low: bool,
    /// Whether enforcement requires a second factor of this user.
    pub enforced: bool,
    /// Whether 2FA is on (any factor).
    pub enabled: bool,
    /// If the second step is locked: seconds to wait (`Some(None)`: until an administrator resets it).
    pub locked: Option<Option<u64>>,
}

/// Settings of the facade.
#[derive(Debug, Clone)]
pub struct TwoFactorConfig {
    /// The issuer shown in authenticator apps ("Smile Dental").
    pub issuer: String,
    /// Passkey relying party and ceremony settings.
    pub passkeys: PasskeyConfig,
    /// Backup-code count, length and Argon2 parameters.
    pub backup_codes: BackupConfig,
    /// The low-remaining threshold for backup codes.
    pub backup_codes_low_threshold: usize,
    /// TOTP parameters for new enrolments (the defaults every app supports).
    pub totp: TotpParams,
    /// How long a begun setup may be confirmed, in seconds.
    pub enrollment_ttl_seconds: u64,
    /// How long a sign-in challenge may be answered, in seconds.
    pub challenge_ttl_seconds: u64,
    /// The policy of organisations that have not stored one.
    pub default_policy: PolicyDocument,
}

impl TwoFactorConfig {
    /// Defaults: 10-minute setups, 5-minute challenges, 10 backup codes (low at 3),
    /// the clinic example policy.
    pub fn new(issuer: &str, passkeys: PasskeyConfig) -> TwoFactorConfig {
        TwoFactorConfig {
            issuer: issuer.to_string(),
            passkeys,
            backup_codes: BackupConfig::default(),
            backup_codes_low_threshold: twofold_backup::DEFAULT_LOW_THRESHOLD,
            totp: TotpParams::default(),
            enrollment_ttl_seconds: 600,
            challenge_ttl_seconds: 300,
            default_policy: PolicyDocument::example_clinic(),
        }
    }
}

/// The two-factor facade. Cheap to share (`Arc<TwoFactor>`); every method is
/// async and safe to call concurrently from many requests and processes.
pub struct TwoFactor {
    store: Arc<dyn Store>,
    keyring: Keyring,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Randomness>,
    sink: Option<Arc<dyn EventSink>>,
    passkeys: Passkeys,
    config: TwoFactorConfig,
    default_policy: Arc<Policy>,
    policies: Mutex<HashMap<String, (Version, Arc<Policy>)>>,
}

impl fmt::Debug for TwoFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactor")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

enum Change<T> {
    /// Nothing to write.
    Keep(T),
    /// Write the record, then succeed.
    Write(T),
    /// Nothing to write; fail.
    Fail(Failure),
    /// Write the record (a failure count), then fail.
    WriteThenFail(Failure),
}

fn fail<T>(error: TwoFactorError) -> Change<T> {
    Change::Fail(Failure::from(error))
}

struct OrgPolicy {
    policy: Arc<Policy>,
    enforcement_since: Option<u64>,
}

impl TwoFactor {
    /// A facade over `store`, sealing TOTP secrets with `keyring`, on the system
    /// clock and the OS CSPRNG. Fails if the default policy is invalid.
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Keyring,
        config: TwoFactorConfig,
    ) -> Result<TwoFactor, TwoFactorError> {
        let default_policy = Arc::new(
            Policy::from_document(config.default_policy.clone()).map_err(TwoFactorError::Policy)?,
        );
        Ok(TwoFactor {
            store,
            keyring,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandomness),
            sink: None,
            passkeys: Passkeys::new(config.passkeys.clone()),
            config,
            default_policy,
            policies: Mutex::new(HashMap::new()),
        })
    }

    /// Uses `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> TwoFactor {
        self.clock = clock;
        self
    }

    /// Uses `random` instead of the OS CSPRNG (passkey challenges still come from
    /// webauthn-rs-core's own generator).
    #[must_use]
    pub fn with_randomness(mut self, random: Arc<dyn Randomness>) -> TwoFactor {
        self.random = random;
        self
    }

    /// Delivers every event to `sink` too.
    #[must_use]
    pub fn with_event_sink(mut self, sink: Arc<dyn EventSink>) -> TwoFactor {
        self.sink = Some(sink);
        self
    }

    /// The settings.
    pub fn config(&self) -> &TwoFactorConfig {
        &self.config
    }

    fn emit(&self, events: &[Event]) {
        if let Some(sink) = &self.sink {
            for event in events {
                sink.record(event);
            }
        }
    }

    fn done<T>(&self, value: T, events: Vec<Event>) -> Done<T> {
        self.emit(&events);
        Done { value, events }
    }

    async fn organization(&self, organization: &str) -> Result<OrgPolicy, TwoFactorError> {
        let Some(record) = self.store.load_organization(organization).await? else {
            return Ok(OrgPolicy {
                policy: Arc::clone(&self.default_policy),
                enforcement_since: None,
            });
        };
        let mut cache = self.policies.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((version, policy)) = cache.get(organization)
            && *version == record.version
        {
            return Ok(OrgPolicy {
                policy: Arc::clone(policy),
                enforcement_since: record.value.enforcement_since,
            });
        }
        let policy =
            Arc::new(Policy::from_document(record.value.policy).map_err(TwoFactorError::Policy)?);
        cache.insert(
            organization.to_string(),
            (record.version, Arc::clone(&policy)),
        );
        Ok(OrgPolicy {
            policy,
            enforcement_since: record.value.enforcement_since,
        })
    }

    /// The organisation's current policy (its stored one, or the default).
    pub async fn policy(&self, organization: &str) -> Result<Arc<Policy>, TwoFactorError> {
        Ok(self.organization(organization).await?.policy)
    }

    async fn update_user<T>(
        &self,
        user: &str,
        mut change: impl FnMut(&mut UserRecord) -> Change<T>,
    ) -> Result<T, Failure> {
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.store.load_user(user).await?;
            let (mut record, version) = match loaded {
                Some(versioned) => (versioned.value, Some(versioned.version)),
                None => (UserRecord::default(), None),
            };
            let (failure, value) = match change(&mut record) {
                Change::Keep(value) => return Ok(value),
                Change::Fail(failure) => return Err(failure),
                Change::Write(value) => (None, Some(value)),
                Change::WriteThenFail(failure) => (Some(failure), None),
            };
            match self.store.save_user(user, &record, version).await {
                Ok(_) => {
                    return match (failure, value) {
                        (Some(failure), _) => {
                            self.emit(&failure.events);
                            Err(failure)
                        }
                        (None, Some(value)) => Ok(value),
                        (None, None) => Err(Failure::from(TwoFactorError::Contended)),
                    };
                }
                Err(StoreError::Conflict) => continue,
                Err(error) => return Err(Failure::from(error)),
            }
        }
        Err(Failure::from(TwoFactorError::Contended))
    }

    fn facts<'a>(
        account: &Account<'a>,
        record: &UserRecord,
        org: &OrgPolicy,
        low: usize,
    ) -> (UserFacts<'a>, Option<usize>, bool) {
        let mut enrolled = Methods::NONE;
        if record.totp.is_some() {
            enrolled = enrolled.with(Method::Totp);
        }
        if !record.passkeys.is_empty() {
            enrolled = enrolled.with(Method::Passkey);
        }
        let remaining = record
            .backup_codes
            .as_deref()
            .and_then(|text| BackupCodeSet::decode(text).ok())
            .map(|set| set.remaining());
        let first = record
            .first_sign_in_since_enforcement
            .filter(|first| org.enforcement_since.is_none_or(|since| *first >= since))
            .map(Timestamp::from_unix_seconds);
        let facts = UserFacts {
            user: account.user,
            role: account.role,
            enrolled,
            has_backup_codes: remaining.is_some_and(|r| r > 0),
            first_sign_in_since_enforcement: first,
            exempt: false,
        };
        (facts, remaining, remaining.is_some_and(|r| r <= low))
    }

    fn throttled(policy: &Policy, record: &UserRecord, now: u64) -> Option<Option<u64>> {
        let decision = policy.throttle(
            record.throttle.failures,
            record
                .throttle
                .last_failure
                .map(Timestamp::from_unix_seconds),
            Timestamp::from_unix_seconds(now),
        );
        match decision.outcome {
            Throttle::Allowed => None,
            Throttle::RetryAfter { seconds } => Some(Some(seconds)),
            Throttle::Locked { until } => {
                Some(until.map(|u| u.as_unix_seconds().saturating_sub(now)))
            }
        }
    }

    /// Counts a failed second step; returns the failure to report after the write.
    fn count_failure(
        policy: &Policy,
        record: &mut UserRecord,
        account: &Account<'_>,
        factor: Factor,
        error: TwoFactorError,
        now: u64,
    ) -> Failure {
        record.throttle.failures = record.throttle.failures.saturating_add(1);
        record.throttle.last_failure = Some(now);
        let mut events = vec![Event::SignInFailed {
            user: account.user.to_string(),
            factor,
            reason: error.to_string(),
            failures: record.throttle.failures,
            at: now,
        }];
        let after = policy.throttle(
            record.throttle.failures,
            Some(Timestamp::from_unix_seconds(now)),
            Timestamp::from_unix_seconds(now),
        );
        if let Throttle::Locked { until } = after.outcome {
            events.push(Event::LockedOut {
                user: account.user.to_string(),
                until: until.map(Timestamp::as_unix_seconds),
                at: now,
            });
        }
        Failure { error, events }
    }

    /// The open challenge `challenge_id`, if it exists, has not expired, and the
    /// throttle lets the user answer now. Borrowed, not cloned: it is on the hot path.
    fn answerable<'r>(
        policy: &Policy,
        record: &'r UserRecord,
        challenge_id: &str,
        now: u64,
    ) -> Result<&'r SignInChallenge, TwoFactorError> {
        let challenge = record
            .challenge
            .as_ref()
            .filter(|c| c.id == challenge_id)
            .ok_or(TwoFactorError::NoChallenge)?;
        if now >= challenge.expires_at {
            return Err(TwoFactorError::Expired);
        }
        if let Some(retry_after_seconds) = Self::throttled(policy, record, now) {
            return Err(TwoFactorError::Locked {
                retry_after_seconds,
            });
        }
        Ok(challenge)
    }

    fn new_backup_codes(&self) -> Result<(String, NewBackupCodes), TwoFactorError> {
        let (set, codes) =
            BackupCodeSet::generate_with(&self.config.backup_codes, &mut RngAdapter(&*self.random))
                .map_err(|error| match error {
                    twofold_backup::Error::Random => TwoFactorError::RandomnessUnavailable,
                    other => TwoFactorError::Enrollment(other.to_string()),
                })?;
        Ok((set.encode(), codes))
    }

    /// A new backup-code set if the user has no unused codes (their first factor,
    /// or all codes spent): stored in `record`, returned to show once.
    fn backup_codes_for_first_factor(
        &self,
        record: &mut UserRecord,
        account: &Account<'_>,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<Option<NewBackupCodes>, TwoFactorError> {
        let has_unused = record
            .backup_codes
            .as_deref()
            .and_then(|text| BackupCodeSet::decode(text).ok())
            .is_some_and(|set| set.remaining() > 0);
        if has_unused {
            return Ok(None);
        }
        let (stored, codes) = self.new_backup_codes()?;
        record.backup_codes = Some(stored);
        events.push(Event::BackupCodesRegenerated {
            user: account.user.to_string(),
            at: now,
        });
        Ok(Some(codes))
    }

    // ----- status -----

    /// A user's second factors, for the Security page and the Staff list.
    pub async fn status(&self, account: &Account<'_>) -> Result<Status, TwoFactorError> {
        let org = self.organization(account.organization).await?;
        let record = self
            .store
            .load_user(account.user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        let now = self.clock.now();
        let (facts, remaining, low) = Self::facts(
            account,
            &record,
            &org,
            self.config.backup_codes_low_threshold,
        );
        Ok(Status {
            totp: record.totp.is_some(),
            passkeys: record
                .passkeys
                .iter()
                .map(|p| PasskeySummary {
                    id: p.id().clone(),
                    name: p.name().to_string(),
                    created_at: p.created_at(),
                    last_used_at: p.last_used_at(),
                    backed_up: p.backed_up(),
                })
                .collect(),
            backup_codes_remaining: remaining,
            backup_codes_low: low,
            enforced: org
                .policy
                .enforcement_applies(&facts, Timestamp::from_unix_seconds(now)),
            enabled: !facts.enrolled.is_empty(),
            locked: Self::throttled(&org.policy, &record, now),
        })
    }

    // ----- sign-in -----

    /// The second step, after the application verified the password: allow, a
    /// challenge (single-use, expiring), setup first, or locked.
    pub async fn begin_sign_in(&self, account: &Account<'_>) -> Result<Done<SignInStep>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        let step = self
            .update_user(account.user, |record| {
                if let Some(retry_after_seconds) = Self::throttled(&org.policy, record, now) {
                    return Change::Keep(SignInStep::Locked {
                        retry_after_seconds,
                    });
                }
                let low = self.config.backup_codes_low_threshold;
                let (mut facts, _, _) = Self::facts(account, record, &org, low);
                let at = Timestamp::from_unix_seconds(now);
                let mut changed = false;
                if org.policy.enforcement_applies(&facts, at)
                    && facts.first_sign_in_since_enforcement.is_none()
                {
                    // This sign-in starts the user's grace period.
                    record.first_sign_in_since_enforcement = Some(now);
                    facts = Self::facts(account, record, &org, low).0;
                    changed = true;
                }
                let decision: Decision<SignIn> = org.policy.sign_in(&facts, at);
                let step = match decision.outcome {
                    SignIn::Allow => SignInStep::Allow {
                        reason: decision.reason,
                    },
                    SignIn::Blocked => SignInStep::Blocked {
                        reason: decision.reason,
                    },
                    SignIn::MustEnrol {
                        deadline,
                        methods,
                        can_defer,
                    } => SignInStep::MustEnrol {
                        deadline: deadline.as_unix_seconds(),
                        methods,
                        can_defer,
                        reason: decision.reason,
                    },
                    SignIn::Challenge { methods, recovery } => {
                        let challenge_id = match random_id(&*self.random) {
                            Ok(id) => id,
                            Err(error) => return fail(error),
                        };
                        let (passkey_options, passkey_state) =
                            if methods.contains(Method::Passkey) && !record.passkeys.is_empty() {
                                match self.passkeys.start_authentication(&record.passkeys, now) {
                                    Ok((options, state)) => (Some(options), Some(state)),
                                    Err(error) => return fail(TwoFactorError::Passkey(error)),
                                }
                            } else {
                                (None, None)
                            };
                        let expires_at = now.saturating_add(self.config.challenge_ttl_seconds);
                        record.challenge = Some(SignInChallenge {
                            id: challenge_id.clone(),
                            expires_at,
                            passkey: passkey_state,
                        });
                        return Change::Write(SignInStep::Challenge {
                            challenge_id,
                            methods,
                            recovery,
                            passkey_options,
                            expires_at,
                        });
                    }
                };
                if changed {
                    Change::Write(step)
                } else {
                    Change::Keep(step)
                }
            })
            .await?;
        Ok(self.done(step, Vec::new()))
    }

    /// Answers challenge `challenge_id` with a 6-digit code from the authenticator app.
    pub async fn verify_totp(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        input: &str,
    ) -> Result<Done<SignedIn>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        let events = self
            .update_user(account.user, |record| {
                if let Err(error) = Self::answerable(&org.policy, record, challenge_id, now) {
                    return fail(error);
                }
                let Some(factor) = &record.totp else {
                    return fail(TwoFactorError::NotEnrolled("an authenticator app"));
                };
                let secret = match self.keyring.open(&factor.secret, account.user) {
                    Ok(secret) => secret,
                    Err(error) => return fail(error),
                };
                let code = match Code::parse(input, factor.params.digits) {
                    Ok(code) => code,
                    Err(error) => return fail(TwoFactorError::InvalidCode(error.to_string())),
                };
                let outcome =
                    Totp::new(&secret, factor.params).verify_code(&code, now, factor.last_step);
                match outcome {
                    Verification::Accepted { step, .. } => {
                        if let Some(factor) = record.totp.as_mut() {
                            factor.last_step = Some(step);
                        }
                        record.challenge = None;
                        record.throttle = ThrottleState::default();
                        Change::Write(vec![Event::SignInSucceeded {
                            user: account.user.to_string(),
                            factor: Factor::Totp,
                            at: now,
                        }])
                    }
                    Verification::Replayed { .. } => Change::WriteThenFail(Self::count_failure(
                        &org.policy,
                        record,
                        account,
                        Factor::Totp,
                        TwoFactorError::CodeAlreadyUsed,
                        now,
                    )),
                    Verification::Rejected => Change::WriteThenFail(Self::count_failure(
                        &org.policy,
                        record,
                        account,
                        Factor::Totp,
                        TwoFactorError::WrongCode,
                        now,
                    )),
                }
            })
            .await?;
        Ok(self.done(
            SignedIn {
                factor: Factor::Totp,
                backup_codes_remaining: None,
            },
            events,
        ))
    }

    /// Answers challenge `challenge_id` with a backup code ("use a backup code").
    pub async fn verify_backup_code(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        input: &str,
    ) -> Result<Done<SignedIn>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        let (remaining, events) = self
            .update_user(account.user, |record| {
                if let Err(error) = Self::answerable(&org.policy, record, challenge_id, now) {
                    return fail(error);
                }
                let Some(text) = record.backup_codes.as_deref() else {
                    return fail(TwoFactorError::NotEnrolled("backup codes"));
                };
                let mut set = match BackupCodeSet::decode(text) {
                    Ok(set) => set,
                    Err(error) => {
                        return fail(TwoFactorError::Corrupt(format!("backup codes: {error}")));
                    }
                };
                let outcome = match set.consume(input) {
                    Ok(outcome) => outcome,
                    Err(twofold_backup::Error::Input(error)) => {
                        return fail(TwoFactorError::InvalidCode(error.to_string()));
                    }
                    Err(error) => {
                        return fail(TwoFactorError::Corrupt(format!("backup codes: {error}")));
                    }
                };
                match outcome {
                    BackupVerification::Matched { .. } => {
                        let remaining = set.remaining();
                        record.backup_codes = Some(set.encode());
                        record.challenge = None;
                        record.throttle = ThrottleState::default();
                        Change::Write((
                            remaining,
                            vec![
                                Event::BackupCodeUsed {
                                    user: account.user.to_string(),
                                    remaining,
                                    at: now,
                                },
                                Event::SignInSucceeded {
                                    user: account.user.to_string(),
                                    factor: Factor::BackupCode,
                                    at: now,
                                },
                            ],
                        ))
                    }
                    BackupVerification::AlreadyUsed { .. } => {
                        Change::WriteThenFail(Self::count_failure(
                            &org.policy,
                            record,
                            account,
                            Factor::BackupCode,
                            TwoFactorError::CodeAlreadyUsed,
                            now,
                        ))
                    }
                    BackupVerification::NoMatch => Change::WriteThenFail(Self::count_failure(
                        &org.policy,
                        record,
                        account,
                        Factor::BackupCode,
                        TwoFactorError::WrongCode,
                        now,
                    )),
                }
            })
            .await?;
        Ok(self.done(
            SignedIn {
                factor: Factor::BackupCode,
                backup_codes_remaining: Some(remaining),
            },
            events,
        ))
    }

    /// Answers challenge `challenge_id` with a passkey (the JSON of `credential.toJSON()`).
    pub async fn verify_passkey(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        response_json: &str,
    ) -> Result<Done<SignedIn>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        let response = AuthenticationResponse::from_json(response_json)
            .map_err(|error| Failure::from(TwoFactorError::Passkey(error)))?;
        let events = self
            .update_user(account.user, |record| {
                let passkey_state = match Self::answerable(&org.policy, record, challenge_id, now) {
                    Ok(challenge) => challenge.passkey.clone(),
                    Err(error) => return fail(error),
                };
                let Some(state) = passkey_state else {
                    return fail(TwoFactorError::NotEnrolled("a passkey"));
                };
                match self.passkeys.finish_authentication(
                    &response,
                    &state,
                    &mut record.passkeys,
                    now,
                ) {
                    Ok(_) => {
                        record.challenge = None;
                        record.throttle = ThrottleState::default();
                        Change::Write(vec![Event::SignInSucceeded {
                            user: account.user.to_string(),
                            factor: Factor::Passkey,
                            at: now,
                        }])
                    }
                    Err(
                        error @ (PasskeyError::MalformedResponse(_)
                        | PasskeyError::ResponseTooLarge { .. }
                        | PasskeyError::Expired),
                    ) => fail(TwoFactorError::Passkey(error)),
                    Err(error) => Change::WriteThenFail(Self::count_failure(
                        &org.policy,
                        record,
                        account,
                        Factor::Passkey,
                        TwoFactorError::Passkey(error),
                        now,
                    )),
                }
            })
            .await?;
        Ok(self.done(
            SignedIn {
                factor: Factor::Passkey,
                backup_codes_remaining: None,
            },
            events,
        ))
    }

    /// Starts a username-less passkey sign-in for `organization`'s sign-in page.
    pub async fn begin_passkey_sign_in(
        &self,
        organization: &str,
    ) -> Result<Done<PasskeySignInStart>, Failure> {
        let now = self.clock.now();
        let (options, state) = self
            .passkeys
            .start_discoverable_authentication(now)
            .map_err(|error| Failure::from(TwoFactorError::Passkey(error)))?;
        let record = CeremonyRecord {
            organization: organization.to_string(),
            state,
            expires_at: now.saturating_add(self.config.challenge_ttl_seconds),
        };
        // A conflict means the id is taken (never, with 128 random bits, unless a
        // store reports a lost race): draw another.
        for _ in 0..MAX_ATTEMPTS {
            let ceremony_id = random_id(&*self.random)?;
            match self.store.insert_ceremony(&ceremony_id, &record).await {
                Ok(()) => {
                    return Ok(self.done(
                        PasskeySignInStart {
                            ceremony_id,
                            options,
                        },
                        Vec::new(),
                    ));
                }
                Err(StoreError::Conflict) => continue,
                Err(error) => return Err(Failure::from(error)),
            }
        }
        Err(Failure::from(TwoFactorError::Contended))
    }

    /// Finishes a username-less passkey sign-in; returns the user id (check that
    /// it belongs to the organisation). The ceremony is taken from the store
    /// first, so it is used at most once.
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony_id: &str,
        response_json: &str,
    ) -> Result<Done<String>, Failure> {
        let now = self.clock.now();
        let response = AuthenticationResponse::from_json(response_json)
            .map_err(|error| Failure::from(TwoFactorError::Passkey(error)))?;
        let ceremony = self
            .store
            .take_ceremony(ceremony_id)
            .await?
            .ok_or(Failure::from(TwoFactorError::NoChallenge))?;
        if now >= ceremony.expires_at {
            return Err(Failure::from(TwoFactorError::Expired));
        }
        let organization = ceremony.organization.as_str();
        let org = self.organization(organization).await?;
        let user = response
            .user_handle()
            .and_then(|handle| std::str::from_utf8(handle).ok())
            .map(str::to_string)
            .ok_or(Failure::from(TwoFactorError::Passkey(
                PasskeyError::CredentialNotAllowed {
                    reason: "the response names no user",
                },
            )))?;
        let account = Account {
            user: &user,
            organization,
            role: "",
            name: "",
        };
        let events = self
            .update_user(&user, |record| {
                if record.passkeys.is_empty() {
                    return fail(TwoFactorError::Passkey(
                        PasskeyError::CredentialNotAllowed {
                            reason: "it is not registered to this user",
                        },
                    ));
                }
                if let Some(retry_after_seconds) = Self::throttled(&org.policy, record, now) {
                    return fail(TwoFactorError::Locked {
                        retry_after_seconds,
                    });
                }
                match self.passkeys.finish_authentication(
                    &response,
                    &ceremony.state,
                    &mut record.passkeys,
                    now,
                ) {
                    Ok(_) => {
                        record.throttle = ThrottleState::default();
                        Change::Write(vec![Event::SignInSucceeded {
                            user: user.clone(),
                            factor: Factor::Passkey,
                            at: now,
                        }])
                    }
                    Err(error @ (PasskeyError::MalformedResponse(_) | PasskeyError::Expired)) => {
                        fail(TwoFactorError::Passkey(error))
                    }
                    Err(error) => Change::WriteThenFail(Self::count_failure(
                        &org.policy,
                        record,
                        &account,
                        Factor::Passkey,
                        TwoFactorError::Passkey(error),
                        now,
                    )),
                }
            })
            .await?;
        Ok(self.done(user, events))
    }

    // ----- enrolment -----

    /// Setup is refused where the policy does not offer second factors (`off`).
    async fn check_enrolment_offered(&self, account: &Account<'_>) -> Result<(), Failure> {
        let org = self.organization(account.organization).await?;
        if org.policy.enrolment_offered(account.role) {
            Ok(())
        } else {
            Err(Failure::from(TwoFactorError::Denied(Reason::NotRequired)))
        }
    }

    /// "Set up authenticator app": a new secret, as QR code and manual-entry text.
    /// Beginning again replaces the previous pending secret ("the QR is
    /// regenerated each time"); a pending setup expires.
    pub async fn begin_totp_enrollment(
        &self,
        account: &Account<'_>,
    ) -> Result<Done<TotpEnrollment>, Failure> {
        self.check_enrolment_offered(account).await?;
        let now = self.clock.now();
        let expires_at = now.saturating_add(self.config.enrollment_ttl_seconds);
        let (enrollment, events) = self
            .update_user(account.user, |record| {
                let secret = match Secret::generate_with(&mut RngAdapter(&*self.random)) {
                    Ok(secret) => secret,
                    Err(_) => return fail(TwoFactorError::RandomnessUnavailable),
                };
                let sealed = match self.keyring.seal(&secret, account.user, &*self.random) {
                    Ok(sealed) => sealed,
                    Err(error) => return fail(error),
                };
                let uri =
                    match OtpAuthUri::totp(Some(&self.config.issuer), account.name, secret.clone())
                    {
                        Ok(uri) => uri
                            .with_algorithm(self.config.totp.algorithm)
                            .with_digits(self.config.totp.digits),
                        Err(error) => return fail(TwoFactorError::Enrollment(error.to_string())),
                    };
                let qr_svg = match uri.to_qr_svg() {
                    Ok(svg) => svg,
                    Err(error) => return fail(TwoFactorError::Enrollment(error.to_string())),
                };
                record.pending_totp = Some(PendingTotp {
                    secret: sealed,
                    created_at: now,
                    expires_at,
                    params: self.config.totp,
                });
                Change::Write((
                    TotpEnrollment {
                        otpauth_uri: uri.to_uri_string(),
                        qr_svg,
                        manual_entry_secret: secret.to_manual_entry(),
                        expires_at,
                    },
                    vec![Event::EnrollmentBegun {
                        user: account.user.to_string(),
                        factor: Factor::Totp,
                        at: now,
                    }],
                ))
            })
            .await?;
        Ok(self.done(enrollment, events))
    }

    /// Confirms the pending authenticator app with a code from it. On success the
    /// factor is active, the confirming code can never sign in, and, if the user
    /// had none, 10 backup codes are returned this once.
    pub async fn confirm_totp_enrollment(
        &self,
        account: &Account<'_>,
        input: &str,
    ) -> Result<Done<FactorConfirmed>, Failure> {
        let now = self.clock.now();
        let (confirmed, events) = self
            .update_user(account.user, |record| {
                let Some(pending) = record.pending_totp.clone() else {
                    return fail(TwoFactorError::NoPendingEnrollment);
                };
                if now >= pending.expires_at {
                    return fail(TwoFactorError::Expired);
                }
                let secret = match self.keyring.open(&pending.secret, account.user) {
                    Ok(secret) => secret,
                    Err(error) => return fail(error),
                };
                let code = match Code::parse(input, pending.params.digits) {
                    Ok(code) => code,
                    Err(error) => return fail(TwoFactorError::InvalidCode(error.to_string())),
                };
                let Verification::Accepted { step, .. } =
                    Totp::new(&secret, pending.params).verify_code(&code, now, None)
                else {
                    return fail(TwoFactorError::WrongCode);
                };
                let mut events = vec![
                    Event::EnrollmentConfirmed {
                        user: account.user.to_string(),
                        factor: Factor::Totp,
                        at: now,
                    },
                    Event::FactorAdded {
                        user: account.user.to_string(),
                        factor: Factor::Totp,
                        name: None,
                        at: now,
                    },
                ];
                let backup_codes =
                    match self.backup_codes_for_first_factor(record, account, now, &mut events) {
                        Ok(codes) => codes,
                        Err(error) => return fail(error),
                    };
                record.totp = Some(TotpFactor {
                    secret: pending.secret,
                    last_step: Some(step),
                    enrolled_at: now,
                    params: pending.params,
                });
                record.pending_totp = None;
                Change::Write((
                    FactorConfirmed {
                        credential_id: None,
                        backup_codes,
                    },
                    events,
                ))
            })
            .await?;
        Ok(self.done(confirmed, events))
    }

    /// "Set up passkey": the options for `parseCreationOptionsFromJSON`, excluding
    /// the user's existing passkeys.
    pub async fn begin_passkey_registration(
        &self,
        account: &Account<'_>,
    ) -> Result<Done<Value>, Failure> {
        self.check_enrolment_offered(account).await?;
        let now = self.clock.now();
        let user = PasskeyUser {
            id: account.user.as_bytes(),
            name: account.name,
            display_name: account.name,
        };
        let (options, events) = self
            .update_user(account.user, |record| {
                match self
                    .passkeys
                    .start_registration(&user, &record.passkeys, now)
                {
                    Ok((options, state)) => {
                        record.pending_passkey = Some(PendingPasskey {
                            state,
                            expires_at: now
                                .saturating_add(self.passkeys.config().ceremony_ttl_seconds()),
                        });
                        Change::Write((
                            options,
                            vec![Event::EnrollmentBegun {
                                user: account.user.to_string(),
                                factor: Factor::Passkey,
                                at: now,
                            }],
                        ))
                    }
                    Err(error) => fail(TwoFactorError::Passkey(error)),
                }
            })
            .await?;
        Ok(self.done(options, events))
    }

    /// Finishes "Set up passkey" with the browser's `credential.toJSON()`, naming
    /// it `name`. The registration state is used once, whatever the outcome.
    pub async fn finish_passkey_registration(
        &self,
        account: &Account<'_>,
        response_json: &str,
        name: &str,
    ) -> Result<Done<FactorConfirmed>, Failure> {
        let now = self.clock.now();
        let (confirmed, events) = self
            .update_user(account.user, |record| {
                let Some(pending) = record.pending_passkey.take() else {
                    return fail(TwoFactorError::NoPendingEnrollment);
                };
                let existing: Vec<CredentialId> =
                    record.passkeys.iter().map(|p| p.id().clone()).collect();
                let credential = match self.passkeys.finish_registration(
                    response_json,
                    &pending.state,
                    name,
                    now,
                    |id| existing.contains(id),
                ) {
                    Ok(credential) => credential,
                    Err(error) => {
                        return Change::WriteThenFail(Failure::from(TwoFactorError::Passkey(
                            error,
                        )));
                    }
                };
                let credential_id = credential.id().clone();
                record.passkeys.push(credential);
                let mut events = vec![
                    Event::EnrollmentConfirmed {
                        user: account.user.to_string(),
                        factor: Factor::Passkey,
                        at: now,
                    },
                    Event::FactorAdded {
                        user: account.user.to_string(),
                        factor: Factor::Passkey,
                        name: Some(name.to_string()),
                        at: now,
                    },
                ];
                let backup_codes =
                    match self.backup_codes_for_first_factor(record, account, now, &mut events) {
                        Ok(codes) => codes,
                        Err(error) => return fail(error),
                    };
                Change::Write((
                    FactorConfirmed {
                        credential_id: Some(credential_id),
                        backup_codes,
                    },
                    events,
                ))
            })
            .await?;
        Ok(self.done(confirmed, events))
    }

    /// Renames one of the user's passkeys.
    pub async fn rename_passkey(
        &self,
        account: &Account<'_>,
        id: &CredentialId,
        name: &str,
    ) -> Result<Done<()>, Failure> {
        self.update_user(account.user, |record| {
            match record.passkeys.iter_mut().find(|p| p.id() == id) {
                Some(passkey) => {
                    passkey.rename(name);
                    Change::Write(())
                }
                None => fail(TwoFactorError::NotEnrolled("that passkey")),
            }
        })
        .await?;
        Ok(self.done((), Vec::new()))
    }

    /// Removes one of the user's passkeys. Removing the last factor turns 2FA
    /// off, so it follows the self-disable rules (policy and fresh re-authentication).
    pub async fn remove_passkey(
        &self,
        account: &Account<'_>,
        id: &CredentialId,
        reauthenticated_at: Option<u64>,
    ) -> Result<Done<()>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        let events = self
            .update_user(account.user, |record| {
                let Some(index) = record.passkeys.iter().position(|p| p.id() == id) else {
                    return fail(TwoFactorError::NotEnrolled("that passkey"));
                };
                let last_factor = record.totp.is_none() && record.passkeys.len() == 1;
                if last_factor {
                    let (facts, _, _) = Self::facts(account, record, &org, 0);
                    let decision = org.policy.self_disable(
                        &facts,
                        reauthenticated_at.map(Timestamp::from_unix_seconds),
                        Timestamp::from_unix_seconds(now),
                    );
                    if decision.outcome == Permission::Denied {
                        return fail(TwoFactorError::Denied(decision.reason));
                    }
                }
                record.passkeys.remove(index);
                Change::Write(vec![Event::FactorRemoved {
                    user: account.user.to_string(),
                    factor: Factor::Passkey,
                    at: now,
                }])
            })
            .await?;
        Ok(self.done((), events))
    }

    /// Replaces the backup codes (after a fresh password re-entry); the old set is then worthless.
    pub async fn regenerate_backup_codes(
        &self,
        account: &Account<'_>,
        reauthenticated_at: Option<u64>,
    ) -> Result<Done<NewBackupCodes>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        if !org.policy.reauthentication_is_fresh(
            reauthenticated_at.map(Timestamp::from_unix_seconds),
            Timestamp::from_unix_seconds(now),
        ) {
            return Err(Failure::from(TwoFactorError::Denied(
                Reason::ReauthenticationRequired,
            )));
        }
        let (codes, events) = self
            .update_user(account.user, |record| {
                if record.totp.is_none() && record.passkeys.is_empty() {
                    return fail(TwoFactorError::NotEnrolled("a second factor"));
                }
                match self.new_backup_codes() {
                    Ok((stored, codes)) => {
                        record.backup_codes = Some(stored);
                        Change::Write((
                            codes,
                            vec![Event::BackupCodesRegenerated {
                                user: account.user.to_string(),
                                at: now,
                            }],
                        ))
                    }
                    Err(error) => fail(error),
                }
            })
            .await?;
        Ok(self.done(codes, events))
    }

    // ----- turning 2FA off -----

    /// "Disable 2FA": only if the policy allows it, with the application's proof
    /// that the password was just re-entered.
    pub async fn disable(
        &self,
        account: &Account<'_>,
        reauthenticated_at: Option<u64>,
    ) -> Result<Done<()>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        let events = self
            .update_user(account.user, |record| {
                let (facts, _, _) = Self::facts(account, record, &org, 0);
                let decision = org.policy.self_disable(
                    &facts,
                    reauthenticated_at.map(Timestamp::from_unix_seconds),
                    Timestamp::from_unix_seconds(now),
                );
                if decision.outcome == Permission::Denied {
                    return fail(TwoFactorError::Denied(decision.reason));
                }
                clear_factors(record);
                Change::Write(vec![Event::TwoFactorDisabled {
                    user: account.user.to_string(),
                    at: now,
                }])
            })
            .await?;
        Ok(self.done((), events))
    }

    /// An owner or admin resets another user's 2FA ("Settings → Staff"), with a
    /// reason, per policy. Returns whether the user must enrol at their next sign-in.
    pub async fn admin_reset(
        &self,
        actor: &Account<'_>,
        target: &Account<'_>,
        reason: &str,
    ) -> Result<Done<bool>, Failure> {
        let org = self.organization(target.organization).await?;
        let now = self.clock.now();
        let (must_enrol, events) = self
            .update_user(target.user, |record| {
                let (facts, _, _) = Self::facts(target, record, &org, 0);
                let decision = org.policy.admin_reset(
                    &UserFacts::new(actor.user, actor.role),
                    &facts,
                    reason,
                    Timestamp::from_unix_seconds(now),
                );
                let ResetPermission::Allowed {
                    must_enrol_at_next_sign_in,
                } = decision.outcome
                else {
                    return fail(TwoFactorError::Denied(decision.reason));
                };
                clear_factors(record);
                record.throttle = ThrottleState::default();
                Change::Write((
                    must_enrol_at_next_sign_in,
                    vec![Event::AdminReset {
                        actor: actor.user.to_string(),
                        target: target.user.to_string(),
                        reason: reason.to_string(),
                        at: now,
                    }],
                ))
            })
            .await?;
        Ok(self.done(must_enrol, events))
    }

    // ----- enforcement -----

    /// The owner changes the organisation's enforcement ("Settings → Security →
    /// 2FA enforcement"), per policy, with its lock-out guard.
    pub async fn change_enforcement(
        &self,
        actor: &Account<'_>,
        mode: Mode,
    ) -> Result<Done<()>, Failure> {
        let now = self.clock.now();
        let actor_record = self
            .store
            .load_user(actor.user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.store.load_organization(actor.organization).await?;
            let (mut record, version) = match loaded {
                Some(v) => (v.value, Some(v.version)),
                None => (
                    OrganizationRecord {
                        policy: self.config.default_policy.clone(),
                        enforcement_since: None,
                    },
                    None,
                ),
            };
            let policy = Policy::from_document(record.policy.clone())
                .map_err(|e| Failure::from(TwoFactorError::Policy(e)))?;
            let org = OrgPolicy {
                policy: Arc::new(policy),
                enforcement_since: record.enforcement_since,
            };
            let (facts, _, _) = Self::facts(actor, &actor_record, &org, 0);
            let decision = org.policy.change_enforcement(&facts, mode);
            if decision.outcome == Permission::Denied {
                return Err(Failure::from(TwoFactorError::Denied(decision.reason)));
            }
            let from = record.policy.enforcement.mode;
            record.policy.enforcement.mode = mode;
            if mode == Mode::Required && from != Mode::Required {
                record.enforcement_since = Some(now);
            }
            Policy::from_document(record.policy.clone())
                .map_err(|e| Failure::from(TwoFactorError::Policy(e)))?;
            match self
                .store
                .save_organization(actor.organization, &record, version)
                .await
            {
                Ok(_) => {
                    let events = vec![Event::EnforcementChanged {
                        actor: actor.user.to_string(),
                        organization: actor.organization.to_string(),
                        from,
                        to: mode,
                        at: now,
                    }];
                    return Ok(self.done((), events));
                }
                Err(StoreError::Conflict) => continue,
                Err(error) => return Err(Failure::from(error)),
            }
        }
        Err(Failure::from(TwoFactorError::Contended))
    }

    /// Stores a whole policy document for an organisation (validated first).
    pub async fn set_policy(
        &self,
        organization: &str,
        document: PolicyDocument,
    ) -> Result<(), TwoFactorError> {
        Policy::from_document(document.clone()).map_err(TwoFactorError::Policy)?;
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.store.load_organization(organization).await?;
            let version = loaded.as_ref().map(|v| v.version);
            let enforcement_since = loaded.and_then(|v| v.value.enforcement_since);
            let record = OrganizationRecord {
                policy: document.clone(),
                enforcement_since,
            };
            match self
                .store
                .save_organization(organization, &record, version)
                .await
            {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(TwoFactorError::Contended)
    }
}

fn clear_factors(record: &mut UserRecord) {
    record.totp = None;
    record.pending_totp = None;
    record.backup_codes = None;
    record.passkeys.clear();
    record.pending_passkey = None;
    record.challenge = None;
}
