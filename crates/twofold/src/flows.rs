//! The facade: every flow of the guide, orchestrating the factor crates and the
//! policy over the application's `Store`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use twofold_backup::{
    BackupCodeSet, BackupConfig, BackupVerification, HashMemory, InputError, NewBackupCodes,
    NormalizedCode,
};
use twofold_passkey::{
    AuthenticationResponse, CredentialId, PasskeyConfig, PasskeyError, PasskeyUser, Passkeys,
};
use twofold_policy::{
    Decision, Method, Methods, Mode, Permission, Policy, PolicyDocument, Reason, ResetPermission,
    SignIn, Throttle, Timestamp, UserFacts,
};
use twofold_totp::{Code, OtpAuthUri, Secret, Totp, TotpParams, Verification};

use crate::crypto::{Keyring, SealedSecret};
use crate::env::{Clock, OsRandomness, Randomness, RngAdapter, SystemClock, random_id};
use crate::error::{Failure, TwoFactorError};
use crate::events::{Event, EventSink, Factor};
use crate::lock::Lock;
use crate::offload::{Offload, OffloadError, OffloadPool};
use crate::store::{
    CeremonyRecord, CredentialChanges, OrganizationRecord, PendingPasskey, PendingTotp,
    SignInChallenge, Store, StoreError, ThrottleState, TotpFactor, UserRecord, Version,
};

std::thread_local! {
    /// Argon2id's working memory, kept per thread: on the offload's threads,
    /// the process holds one block per thread, however many codes it hashes.
    static HASH_MEMORY: std::cell::RefCell<HashMemory> =
        std::cell::RefCell::new(HashMemory::new());
}

/// Runs `hash` with this thread's kept Argon2id memory.
fn with_hash_memory<T>(hash: impl FnOnce(&mut HashMemory) -> T) -> T {
    HASH_MEMORY.with(|memory| match memory.try_borrow_mut() {
        Ok(mut memory) => hash(&mut memory),
        // Never re-entered; if it were, fresh memory is correct, only slower.
        Err(_) => hash(&mut HashMemory::new()),
    })
}

/// How many times an operation re-reads and retries after losing a conditional write.
const MAX_ATTEMPTS: usize = 16;
/// The most user records one automatic sweep rewrites.
const SWEEP_BATCH: usize = 64;

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
        expires_at: u64,
    },
    /// The user must set up a second factor first (the guide: "every user must
    /// enable 2FA on their next sign-in"); while `can_defer`, they may skip it this time.
    MustEnroll {
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
        /// How long, or until whom.
        lock: Lock,
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
    /// If the second step is locked: how long, or until whom.
    pub locked: Option<Lock>,
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
    /// TOTP parameters for new enrollments (the defaults every app supports).
    pub totp: TotpParams,
    /// How long a begun setup may be confirmed, in seconds.
    pub enrollment_ttl_seconds: u64,
    /// How long a sign-in challenge may be answered, in seconds.
    pub challenge_ttl_seconds: u64,
    /// The policy of organizations that have not stored one.
    pub default_policy: PolicyDocument,
    /// How many username-less sign-in ceremonies one organization may have
    /// outstanding: they are created by a page anyone can open, so they are
    /// bounded. Beyond it, starting one fails with `Busy` until some expire.
    pub max_outstanding_ceremonies: u64,
    /// How often the facade sweeps expired state by itself (ceremonies, lapsed
    /// setups and challenges), in seconds; 0 turns the automatic sweep off (then
    /// schedule [`TwoFactor::purge_expired`] yourself).
    pub sweep_interval_seconds: u64,
}

impl TwoFactorConfig {
    /// Defaults: 10-minute setups, 5-minute challenges, 10 backup codes (low at 3),
    /// at most 1,000 outstanding username-less ceremonies per organization, a
    /// sweep of expired state every minute, the clinic example policy.
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
            max_outstanding_ceremonies: 1_000,
            sweep_interval_seconds: 60,
        }
    }
}

/// What a sweep of expired state removed: from [`TwoFactor::purge_expired`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purged {
    /// Expired username-less ceremonies deleted.
    pub ceremonies: u64,
    /// User records rewritten without their lapsed setups and challenges.
    pub users: u64,
}

/// What [`TwoFactor::reseal_all`] did.
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

/// The two-factor facade. Cheap to share (`Arc<TwoFactor>`); every method is
/// async and safe to call concurrently from many requests and processes.
pub struct TwoFactor {
    store: Arc<dyn Store>,
    keyring: Keyring,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Randomness>,
    sink: Option<Arc<dyn EventSink>>,
    offload: Arc<dyn Offload>,
    passkeys: Passkeys,
    config: TwoFactorConfig,
    default_policy: Arc<Policy>,
    policies: Mutex<HashMap<String, (Version, Arc<Policy>)>>,
    /// When the last automatic sweep ran (Unix seconds).
    last_sweep: AtomicU64,
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

/// What a user write does to the credential index besides the record's own changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Index {
    /// Bind what the write added, unbind what it removed.
    Changes,
    /// Also (re)bind every credential of the record: for records written
    /// before the index existed.
    BindAll,
}

/// The error for a credential id that another user holds.
fn credential_in_use() -> TwoFactorError {
    TwoFactorError::Passkey(PasskeyError::CredentialNotAllowed {
        reason: "it is already registered",
    })
}

/// Requires a password re-entry within the policy's freshness window.
fn require_fresh(
    policy: &Policy,
    reauthenticated_at: Option<u64>,
    now: u64,
) -> Result<(), TwoFactorError> {
    if policy.reauthentication_is_fresh(
        reauthenticated_at.map(Timestamp::from_unix_seconds),
        Timestamp::from_unix_seconds(now),
    ) {
        Ok(())
    } else {
        Err(TwoFactorError::Denied(Reason::ReauthenticationRequired))
    }
}

/// Refuses an action by one account on another of a different organization.
fn same_organization(actor: &Account<'_>, target: &Account<'_>) -> Result<(), TwoFactorError> {
    if actor.organization == target.organization {
        Ok(())
    } else {
        Err(TwoFactorError::Denied(Reason::OtherOrganization))
    }
}

/// The stored backup-code set, if any; a set that does not decode is corrupt.
fn backup_set(record: &UserRecord) -> Result<Option<BackupCodeSet>, TwoFactorError> {
    record
        .backup_codes
        .as_deref()
        .map(|text| {
            BackupCodeSet::decode(text)
                .map_err(|error| TwoFactorError::Corrupt(format!("backup codes: {error}")))
        })
        .transpose()
}

/// Whether a user needs a new backup-code set with their next factor: they have
/// no unused codes.
fn needs_backup_codes(record: &UserRecord) -> Result<bool, TwoFactorError> {
    Ok(backup_set(record)?.is_none_or(|set| set.remaining() == 0))
}

impl TwoFactor {
    /// A facade over `store`, sealing TOTP secrets with `keyring`, on the system
    /// clock and the OS CSPRNG, with Argon2 on an [`OffloadPool`] (as many
    /// threads as there are cores). Fails if the default policy is invalid.
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
            offload: Arc::new(OffloadPool::default()),
            passkeys: Passkeys::new(config.passkeys.clone()),
            config,
            default_policy,
            policies: Mutex::new(HashMap::new()),
            last_sweep: AtomicU64::new(0),
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

    /// Runs Argon2 (backup codes) on `offload` instead of the default.
    #[must_use]
    pub fn with_offload(mut self, offload: Arc<dyn Offload>) -> TwoFactor {
        self.offload = offload;
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

    /// Runs `job` on the offload (off the executor, bounded) and returns its result.
    async fn offload<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, TwoFactorError> {
        let slot = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        self.offload
            .run(Box::new(move || {
                let value = job();
                *out.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
            }))
            .await
            .map_err(|error| match error {
                OffloadError::Busy => TwoFactorError::Busy,
                _ => TwoFactorError::OffloadLost,
            })?;
        let value = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        value.ok_or(TwoFactorError::OffloadLost)
    }

    /// A new backup-code set, generated on the offload (one Argon2id evaluation
    /// per code): its stored form and the codes to show once.
    async fn generate_backup_codes(&self) -> Result<(String, NewBackupCodes), TwoFactorError> {
        let config = self.config.backup_codes;
        let random = Arc::clone(&self.random);
        self.offload(move || {
            with_hash_memory(|memory| {
                BackupCodeSet::generate_in(&config, &mut RngAdapter(&*random), memory)
            })
            .map(|(set, codes)| (set.encode(), codes))
            .map_err(|error| match error {
                twofold_backup::Error::Random => TwoFactorError::RandomnessUnavailable,
                other => TwoFactorError::Enrollment(other.to_string()),
            })
        })
        .await?
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

    /// The organization's current policy (its stored one, or the default).
    pub async fn policy(&self, organization: &str) -> Result<Arc<Policy>, TwoFactorError> {
        Ok(self.organization(organization).await?.policy)
    }

    async fn update_user<T>(
        &self,
        user: &str,
        change: impl FnMut(&mut UserRecord) -> Change<T>,
    ) -> Result<T, Failure> {
        self.write_user(user, Index::Changes, change).await
    }

    /// The one conditional-write loop for user records: read, change, write if
    /// still at the version read, else again. Every write also drops what has
    /// lapsed, re-seals secrets under the current key, and updates the
    /// credential index in the same atomic step.
    async fn write_user<T>(
        &self,
        user: &str,
        index: Index,
        mut change: impl FnMut(&mut UserRecord) -> Change<T>,
    ) -> Result<T, Failure> {
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.store.load_user(user).await?;
            let (mut record, version) = match loaded {
                Some(versioned) => (versioned.value, Some(versioned.version)),
                None => (UserRecord::default(), None),
            };
            let before = record.credential_ids();
            let (failure, value) = match change(&mut record) {
                Change::Keep(value) => return Ok(value),
                Change::Fail(failure) => return Err(failure),
                Change::Write(value) => (None, Some(value)),
                Change::WriteThenFail(failure) => (Some(failure), None),
            };
            self.tidy(&mut record, user, self.clock.now());
            let after = record.credential_ids();
            let bind: Vec<CredentialId> = match index {
                Index::BindAll => after.clone(),
                Index::Changes => after
                    .iter()
                    .filter(|id| !before.contains(id))
                    .cloned()
                    .collect(),
            };
            let unbind: Vec<CredentialId> = before
                .iter()
                .filter(|id| !after.contains(id))
                .cloned()
                .collect();
            let changes = CredentialChanges {
                bind: &bind,
                unbind: &unbind,
            };
            match self.store.save_user(user, &record, version, changes).await {
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
                Err(StoreError::CredentialInUse) => {
                    return Err(Failure::from(credential_in_use()));
                }
                Err(error) => return Err(Failure::from(error)),
            }
        }
        Err(Failure::from(TwoFactorError::Contended))
    }

    /// Before a record is written: drops lapsed setups and challenges, and
    /// re-seals secrets sealed under an older key of the keyring. A secret under
    /// a key the keyring lacks is left as it is (opening it reports the key id).
    fn tidy(&self, record: &mut UserRecord, user: &str, now: u64) {
        if record
            .pending_totp
            .as_ref()
            .is_some_and(|p| now >= p.expires_at)
        {
            record.pending_totp = None;
        }
        if record
            .pending_passkey
            .as_ref()
            .is_some_and(|p| now >= p.expires_at)
        {
            record.pending_passkey = None;
        }
        if record
            .challenge
            .as_ref()
            .is_some_and(|c| now >= c.expires_at)
        {
            record.challenge = None;
        }
        let reseal = |sealed: &mut SealedSecret| {
            if self.keyring.needs_reseal(sealed)
                && let Ok(Some(fresh)) = self.keyring.reseal(sealed, user, &*self.random)
            {
                *sealed = fresh;
            }
        };
        if let Some(totp) = record.totp.as_mut() {
            reseal(&mut totp.secret);
        }
        if let Some(pending) = record.pending_totp.as_mut() {
            reseal(&mut pending.secret);
        }
    }

    /// What the policy needs to know about a user. A backup-code set that does
    /// not decode counts as none here, so that it never blocks signing in with
    /// a factor; [`status`](Self::status) and
    /// [`verify_backup_code`](Self::verify_backup_code) report it as corrupt.
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
        let remaining = backup_set(record).ok().flatten().map(|set| set.remaining());
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

    fn throttled(policy: &Policy, record: &UserRecord, now: u64) -> Option<Lock> {
        let decision = policy.throttle(
            record.throttle.failures,
            record
                .throttle
                .last_failure
                .map(Timestamp::from_unix_seconds),
            Timestamp::from_unix_seconds(now),
        );
        Self::lock_of(decision.outcome)
    }

    /// The lock a throttle decision imposes, if any.
    fn lock_of(outcome: Throttle) -> Option<Lock> {
        match outcome {
            Throttle::Allowed => None,
            Throttle::RetryAfter { seconds } => Some(Lock::RetryAfter { seconds }),
            Throttle::Locked { until: Some(at) } => Some(Lock::Until { at }),
            Throttle::Locked { until: None } => Some(Lock::UntilReset),
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
        Failure {
            error,
            events,
            lock: Self::lock_of(after.outcome),
        }
    }

    /// The open challenge `challenge_id`, if it exists, has not expired, offered
    /// `method` (`None`: a backup code, offered as recovery), and the throttle
    /// lets the user answer now. Borrowed, not cloned: it is on the hot path.
    fn answerable<'r>(
        policy: &Policy,
        record: &'r UserRecord,
        challenge_id: &str,
        method: Option<Method>,
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
        let offered = match method {
            Some(method) => challenge.methods.contains(&method),
            None => challenge.recovery,
        };
        if !offered {
            return Err(TwoFactorError::Denied(Reason::MethodNotAllowed));
        }
        if let Some(lock) = Self::throttled(policy, record, now) {
            return Err(TwoFactorError::Locked { lock });
        }
        Ok(challenge)
    }

    /// Puts the pre-generated backup-code set (its stored form) into `record` if
    /// the user has no unused codes (their first factor, or all codes spent);
    /// returns whether it did, so that the caller shows the codes once.
    /// Generation is costly, so it happens before the write loop; if a
    /// concurrent change made new codes necessary after all, the write gives up.
    fn backup_codes_for_first_factor(
        record: &mut UserRecord,
        generated: Option<&str>,
        account: &Account<'_>,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<bool, TwoFactorError> {
        if !needs_backup_codes(record)? {
            return Ok(false);
        }
        let stored = generated.ok_or(TwoFactorError::Contended)?;
        record.backup_codes = Some(stored.to_string());
        events.push(Event::BackupCodesCreated {
            user: account.user.to_string(),
            at: now,
        });
        Ok(true)
    }

    /// Backup codes for a user's next factor, generated only if they will need them.
    async fn backup_codes_if_needed(
        &self,
        user: &str,
    ) -> Result<Option<(String, NewBackupCodes)>, TwoFactorError> {
        let record = self
            .store
            .load_user(user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        if needs_backup_codes(&record)? {
            Ok(Some(self.generate_backup_codes().await?))
        } else {
            Ok(None)
        }
    }

    // ----- maintenance -----

    /// Sweeps expired state: deletes expired username-less ceremonies, and
    /// rewrites the records of users whose setups or challenges have lapsed,
    /// without them. The facade also does this by itself, at most once per
    /// `sweep_interval_seconds` and a bounded batch at a time; call this to
    /// schedule maintenance yourself (it sweeps until nothing expired is left).
    pub async fn purge_expired(&self) -> Result<Purged, TwoFactorError> {
        let now = self.clock.now();
        let mut purged = Purged {
            ceremonies: self.store.purge_expired(now).await?,
            users: 0,
        };
        loop {
            let batch = self.sweep_users(now, SWEEP_BATCH).await?;
            purged.users += batch;
            if batch < SWEEP_BATCH as u64 {
                return Ok(purged);
            }
        }
    }

    /// Rewrites up to `limit` records holding lapsed state; returns how many.
    async fn sweep_users(&self, now: u64, limit: usize) -> Result<u64, TwoFactorError> {
        let mut swept = 0;
        for user in self.store.expired_users(now, limit).await? {
            // Rewritten only if something in it has still lapsed (another
            // request may have cleaned it meanwhile); `tidy` drops it.
            let rewritten = self
                .update_user(&user, |record| {
                    if record.expires_at().is_some_and(|at| at <= now) {
                        Change::Write(true)
                    } else {
                        Change::Keep(false)
                    }
                })
                .await
                .map_err(|failure| failure.error)?;
            swept += u64::from(rewritten);
        }
        Ok(swept)
    }

    /// The automatic sweep: at most once per interval, one bounded batch.
    /// Its failures never fail the request that triggered it; the next one retries.
    async fn sweep_if_due(&self, now: u64) {
        let interval = self.config.sweep_interval_seconds;
        if interval == 0 {
            return;
        }
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now < last.saturating_add(interval)
            || self
                .last_sweep
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if self.store.purge_expired(now).await.is_ok() {
            let _ = self.sweep_users(now, SWEEP_BATCH).await;
        }
    }

    /// Rewrites every user record in its current form, so that an old key can
    /// be retired on purpose: TOTP secrets are re-sealed under the keyring's
    /// current key (records are re-sealed at their next write anyway), and
    /// passkeys registered before the credential index existed are bound in it.
    /// Pages through the store `batch` users at a time.
    pub async fn reseal_all(&self, batch: usize) -> Result<Resealed, TwoFactorError> {
        let batch = batch.max(1);
        let mut report = Resealed::default();
        let mut after: Option<String> = None;
        loop {
            let users = self.store.list_users(after.as_deref(), batch).await?;
            for user in &users {
                report.users += 1;
                let outcome = self
                    .write_user(user, Index::BindAll, |record| {
                        let sealed = [
                            record.totp.as_ref().map(|t| &t.secret),
                            record.pending_totp.as_ref().map(|p| &p.secret),
                        ];
                        let mut stale = false;
                        for secret in sealed.into_iter().flatten() {
                            if self.keyring.open(secret, user).is_err() {
                                return Change::Keep(Err(secret.key_id().to_string()));
                            }
                            stale |= self.keyring.needs_reseal(secret);
                        }
                        if stale || !record.passkeys.is_empty() {
                            Change::Write(Ok(true))
                        } else {
                            Change::Keep(Ok(false))
                        }
                    })
                    .await
                    .map_err(|failure| failure.error)?;
                match outcome {
                    Ok(rewritten) => report.rewritten += u64::from(rewritten),
                    Err(key_id) => report.unreadable.push((user.clone(), key_id)),
                }
            }
            if users.len() < batch {
                return Ok(report);
            }
            after = users.last().cloned();
        }
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
        backup_set(&record)?;
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
    /// challenge (single-use, expiring, bound to the methods it offers), setup
    /// first, or locked.
    pub async fn begin_sign_in(&self, account: &Account<'_>) -> Result<Done<SignInStep>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        self.sweep_if_due(now).await;
        let step = self
            .update_user(account.user, |record| {
                if let Some(lock) = Self::throttled(&org.policy, record, now) {
                    return Change::Keep(SignInStep::Locked { lock });
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
                    facts.first_sign_in_since_enforcement = Some(at);
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
                    SignIn::MustEnroll {
                        deadline,
                        methods,
                        can_defer,
                    } => SignInStep::MustEnroll {
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
                            methods: methods.iter().collect(),
                            recovery,
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

    /// Answers challenge `challenge_id` with a 6-digit code from the authenticator
    /// app; only if the challenge offered the authenticator app.
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
                if let Err(error) =
                    Self::answerable(&org.policy, record, challenge_id, Some(Method::Totp), now)
                {
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
    ///
    /// The code is hashed once (Argon2id, on the offload), before the
    /// conditional write, which then only compares digests however often it
    /// retries. A request that would be refused anyway (no such challenge,
    /// throttled, unreadable input) is refused before any hashing.
    pub async fn verify_backup_code(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        input: &str,
    ) -> Result<Done<SignedIn>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        let record = self
            .store
            .load_user(account.user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        let set = backup_set(&record)?;
        Self::answerable(&org.policy, &record, challenge_id, None, now)?;
        let set = set.ok_or(TwoFactorError::NotEnrolled("backup codes"))?;
        let typed = NormalizedCode::parse(input)
            .map_err(|error| TwoFactorError::InvalidCode(error.to_string()))?;
        if typed.len() != set.code_length() {
            return Err(Failure::from(TwoFactorError::InvalidCode(
                InputError::WrongLength {
                    expected: set.code_length(),
                    found: typed.len(),
                }
                .to_string(),
            )));
        }
        let input = input.to_string();
        let hashed = self
            .offload(move || with_hash_memory(|memory| set.hash_input_in(&input, memory)))
            .await?
            .map_err(|error| match error {
                twofold_backup::Error::Input(error) => {
                    TwoFactorError::InvalidCode(error.to_string())
                }
                other => TwoFactorError::Corrupt(format!("backup codes: {other}")),
            })?;
        let (remaining, events) = self
            .update_user(account.user, |record| {
                if let Err(error) = Self::answerable(&org.policy, record, challenge_id, None, now) {
                    return fail(error);
                }
                let mut set = match backup_set(record) {
                    Ok(Some(set)) => set,
                    Ok(None) => return fail(TwoFactorError::NotEnrolled("backup codes")),
                    Err(error) => return fail(error),
                };
                let outcome = match set.consume_hashed(&hashed) {
                    Ok(outcome) => outcome,
                    // The set was regenerated since the code was hashed.
                    Err(twofold_backup::Error::OtherSet) => return fail(TwoFactorError::Contended),
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

    /// Answers challenge `challenge_id` with a passkey (the JSON of
    /// `credential.toJSON()`). A response whose user handle names another user
    /// is refused.
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
        if response
            .user_handle()
            .is_some_and(|handle| handle != account.user.as_bytes())
        {
            return Err(Failure::from(another_users_handle()));
        }
        let events = self
            .update_user(account.user, |record| {
                let passkey_state = match Self::answerable(
                    &org.policy,
                    record,
                    challenge_id,
                    Some(Method::Passkey),
                    now,
                ) {
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
    ///
    /// Anyone can open that page, so ceremonies are bounded: single use, expiring,
    /// swept, and at most `max_outstanding_ceremonies` per organization (beyond
    /// it: [`TwoFactorError::Busy`]).
    pub async fn begin_passkey_sign_in(
        &self,
        organization: &str,
    ) -> Result<Done<PasskeySignInStart>, Failure> {
        let now = self.clock.now();
        self.sweep_if_due(now).await;
        let cap = self.config.max_outstanding_ceremonies;
        if self.store.count_ceremonies(organization).await? >= cap {
            self.store.purge_expired(now).await?;
            if self.store.count_ceremonies(organization).await? >= cap {
                return Err(Failure::from(TwoFactorError::Busy));
            }
        }
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
    /// it belongs to the organization).
    ///
    /// The ceremony is taken from the store first, so it is used at most once.
    /// The user is found through the store's credential index, never through
    /// the response's unsigned user handle (which, if present, must name the
    /// same user). The caller has proved nothing yet, so an answer that does
    /// not verify changes no user's record: it is refused, never counted.
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
        let Some(user) = self
            .store
            .credential_owner(&response.credential_id())
            .await?
        else {
            return Err(Failure::from(TwoFactorError::Passkey(
                PasskeyError::CredentialNotAllowed {
                    reason: "it is not registered",
                },
            )));
        };
        if response
            .user_handle()
            .is_some_and(|handle| handle != user.as_bytes())
        {
            return Err(Failure::from(another_users_handle()));
        }
        let org = self.organization(&ceremony.organization).await?;
        let events = self
            .update_user(&user, |record| {
                if let Some(lock) = Self::throttled(&org.policy, record, now) {
                    return fail(TwoFactorError::Locked { lock });
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
                    Err(error) => fail(TwoFactorError::Passkey(error)),
                }
            })
            .await?;
        Ok(self.done(user, events))
    }

    // ----- enrollment -----

    /// Adding a factor needs the policy to offer `method` to the user's role,
    /// and (when `fresh` says so) a recent password re-entry.
    async fn check_enrollment(
        &self,
        account: &Account<'_>,
        method: Method,
        reauthenticated_at: Option<u64>,
        now: u64,
    ) -> Result<(), Failure> {
        let org = self.organization(account.organization).await?;
        if !org.policy.enrollment_offered(account.role) {
            return Err(Failure::from(TwoFactorError::Denied(Reason::NotRequired)));
        }
        if !org
            .policy
            .methods_for(account.role)
            .is_some_and(|methods| methods.contains(method))
        {
            return Err(Failure::from(TwoFactorError::Denied(
                Reason::MethodNotAllowed,
            )));
        }
        require_fresh(&org.policy, reauthenticated_at, now)?;
        Ok(())
    }

    /// "Set up authenticator app": a new secret, as QR code and manual-entry text.
    /// Beginning again replaces the previous pending secret ("the QR is
    /// regenerated each time"); a pending setup expires.
    ///
    /// Needs a password re-entry within the policy's window (`reauthenticated_at`,
    /// from the application; the sign-in's own password counts right after it),
    /// and a policy that allows the authenticator app for the user's role.
    pub async fn begin_totp_enrollment(
        &self,
        account: &Account<'_>,
        reauthenticated_at: Option<u64>,
    ) -> Result<Done<TotpEnrollment>, Failure> {
        let now = self.clock.now();
        self.check_enrollment(account, Method::Totp, reauthenticated_at, now)
            .await?;
        self.sweep_if_due(now).await;
        let expires_at = now.saturating_add(self.config.enrollment_ttl_seconds);
        let secret = Secret::generate_with(&mut RngAdapter(&*self.random))
            .map_err(|_| TwoFactorError::RandomnessUnavailable)?;
        let sealed = self.keyring.seal(&secret, account.user, &*self.random)?;
        let enrollment = self
            .totp_enrollment_view(account, secret, self.config.totp, expires_at)
            .await?;
        self.update_user(account.user, |record| {
            record.pending_totp = Some(PendingTotp {
                secret: sealed.clone(),
                created_at: now,
                expires_at,
                params: self.config.totp,
            });
            Change::Write(())
        })
        .await?;
        let events = vec![Event::EnrollmentBegun {
            user: account.user.to_string(),
            factor: Factor::Totp,
            at: now,
        }];
        Ok(self.done(enrollment, events))
    }

    /// The QR code and manual-entry secret of a TOTP setup in progress, again:
    /// for the page that shows a wrong code's error beside the same QR code, so
    /// that a mistyped code does not cost the user a new secret. `None` when no
    /// setup is pending or it has lapsed.
    pub async fn pending_totp_enrollment(
        &self,
        account: &Account<'_>,
    ) -> Result<Option<TotpEnrollment>, TwoFactorError> {
        let now = self.clock.now();
        let Some(loaded) = self.store.load_user(account.user).await? else {
            return Ok(None);
        };
        let Some(pending) = loaded.value.pending_totp else {
            return Ok(None);
        };
        if now >= pending.expires_at {
            return Ok(None);
        }
        let secret = self.keyring.open(&pending.secret, account.user)?;
        self.totp_enrollment_view(account, secret, pending.params, pending.expires_at)
            .await
            .map(Some)
    }

    /// The URI, QR code and manual-entry text of `secret` for `account`.
    async fn totp_enrollment_view(
        &self,
        account: &Account<'_>,
        secret: Secret,
        params: TotpParams,
        expires_at: u64,
    ) -> Result<TotpEnrollment, TwoFactorError> {
        let manual_entry_secret = secret.to_manual_entry();
        let uri = OtpAuthUri::totp(Some(&self.config.issuer), account.name, secret)
            .map_err(|error| TwoFactorError::Enrollment(error.to_string()))?
            .with_algorithm(params.algorithm)
            .with_digits(params.digits);
        // Rendering the QR code takes about a millisecond: off the executor too.
        let (otpauth_uri, qr_svg) = self
            .offload(move || uri.to_qr_svg().map(|svg| (uri.to_uri_string(), svg)))
            .await?
            .map_err(|error| TwoFactorError::Enrollment(error.to_string()))?;
        Ok(TotpEnrollment {
            otpauth_uri,
            qr_svg,
            manual_entry_secret,
            expires_at,
        })
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
        let org = self.organization(account.organization).await?;
        if !org
            .policy
            .methods_for(account.role)
            .is_some_and(|methods| methods.contains(Method::Totp))
        {
            return Err(Failure::from(TwoFactorError::Denied(
                Reason::MethodNotAllowed,
            )));
        }
        let generated = self.backup_codes_if_needed(account.user).await?;
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
                let codes_installed = match Self::backup_codes_for_first_factor(
                    record,
                    generated.as_ref().map(|(stored, _)| stored.as_str()),
                    account,
                    now,
                    &mut events,
                ) {
                    Ok(installed) => installed,
                    Err(error) => return fail(error),
                };
                record.totp = Some(TotpFactor {
                    secret: pending.secret,
                    last_step: Some(step),
                    enrolled_at: now,
                    params: pending.params,
                });
                record.pending_totp = None;
                Change::Write((codes_installed, events))
            })
            .await?;
        let confirmed = FactorConfirmed {
            credential_id: None,
            backup_codes: generated.filter(|_| confirmed).map(|(_, codes)| codes),
        };
        Ok(self.done(confirmed, events))
    }

    /// "Set up passkey": the options for `parseCreationOptionsFromJSON`, excluding
    /// the user's existing passkeys. Needs a fresh password re-entry and a
    /// policy that allows passkeys for the user's role, as
    /// [`begin_totp_enrollment`](Self::begin_totp_enrollment) does.
    pub async fn begin_passkey_registration(
        &self,
        account: &Account<'_>,
        reauthenticated_at: Option<u64>,
    ) -> Result<Done<Value>, Failure> {
        let now = self.clock.now();
        self.check_enrollment(account, Method::Passkey, reauthenticated_at, now)
            .await?;
        self.sweep_if_due(now).await;
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
    /// it `name`. The registration state is used once, whatever the outcome. A
    /// credential id already registered to anyone is refused (WebAuthn §7.1
    /// step 22), atomically with the write, through the store's credential index.
    pub async fn finish_passkey_registration(
        &self,
        account: &Account<'_>,
        response_json: &str,
        name: &str,
    ) -> Result<Done<FactorConfirmed>, Failure> {
        let now = self.clock.now();
        let org = self.organization(account.organization).await?;
        if !org
            .policy
            .methods_for(account.role)
            .is_some_and(|methods| methods.contains(Method::Passkey))
        {
            return Err(Failure::from(TwoFactorError::Denied(
                Reason::MethodNotAllowed,
            )));
        }
        let generated = self.backup_codes_if_needed(account.user).await?;
        let (confirmed, events) = self
            .update_user(account.user, |record| {
                let Some(pending) = record.pending_passkey.take() else {
                    return fail(TwoFactorError::NoPendingEnrollment);
                };
                let existing: Vec<CredentialId> = record.credential_ids();
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
                let codes_installed = match Self::backup_codes_for_first_factor(
                    record,
                    generated.as_ref().map(|(stored, _)| stored.as_str()),
                    account,
                    now,
                    &mut events,
                ) {
                    Ok(installed) => installed,
                    Err(error) => return fail(error),
                };
                Change::Write(((credential_id, codes_installed), events))
            })
            .await?;
        let (credential_id, codes_installed) = confirmed;
        let confirmed = FactorConfirmed {
            credential_id: Some(credential_id),
            backup_codes: generated
                .filter(|_| codes_installed)
                .map(|(_, codes)| codes),
        };
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

    /// Removes one of the user's passkeys, after a fresh password re-entry.
    /// Removing the last factor turns 2FA off, so it also follows the
    /// self-disable rules, and deletes the backup codes with it.
    pub async fn remove_passkey(
        &self,
        account: &Account<'_>,
        id: &CredentialId,
        reauthenticated_at: Option<u64>,
    ) -> Result<Done<()>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        require_fresh(&org.policy, reauthenticated_at, now)?;
        let events = self
            .update_user(account.user, |record| {
                let Some(index) = record.passkeys.iter().position(|p| p.id() == id) else {
                    return fail(TwoFactorError::NotEnrolled("that passkey"));
                };
                let last_factor = record.totp.is_none() && record.passkeys.len() == 1;
                let mut events = vec![Event::FactorRemoved {
                    user: account.user.to_string(),
                    factor: Factor::Passkey,
                    at: now,
                }];
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
                    clear_factors(record);
                    events.push(Event::TwoFactorDisabled {
                        user: account.user.to_string(),
                        at: now,
                    });
                } else {
                    record.passkeys.remove(index);
                }
                Change::Write(events)
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
        require_fresh(&org.policy, reauthenticated_at, now)?;
        let (stored, codes) = self.generate_backup_codes().await?;
        let events = self
            .update_user(account.user, |record| {
                if record.totp.is_none() && record.passkeys.is_empty() {
                    return fail(TwoFactorError::NotEnrolled("a second factor"));
                }
                record.backup_codes = Some(stored.clone());
                Change::Write(vec![Event::BackupCodesRegenerated {
                    user: account.user.to_string(),
                    at: now,
                }])
            })
            .await?;
        Ok(self.done(codes, events))
    }

    // ----- turning 2FA off, and administration -----

    /// "Disable 2FA": only if the policy allows it, with the application's proof
    /// that the password was just re-entered. Deletes every factor and the
    /// backup codes.
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
    /// reason, per policy, after re-entering their own password. Both accounts
    /// must belong to one organization. Returns whether the user must enroll at
    /// their next sign-in.
    pub async fn admin_reset(
        &self,
        actor: &Account<'_>,
        target: &Account<'_>,
        reason: &str,
        reauthenticated_at: Option<u64>,
    ) -> Result<Done<bool>, Failure> {
        same_organization(actor, target)?;
        let org = self.organization(target.organization).await?;
        let now = self.clock.now();
        require_fresh(&org.policy, reauthenticated_at, now)?;
        let (must_enroll, events) = self
            .update_user(target.user, |record| {
                let (facts, _, _) = Self::facts(target, record, &org, 0);
                let decision = org.policy.admin_reset(
                    &UserFacts::new(actor.user, actor.role),
                    &facts,
                    reason,
                    Timestamp::from_unix_seconds(now),
                );
                let ResetPermission::Allowed {
                    must_enroll_at_next_sign_in,
                } = decision.outcome
                else {
                    return fail(TwoFactorError::Denied(decision.reason));
                };
                clear_factors(record);
                record.throttle = ThrottleState::default();
                Change::Write((
                    must_enroll_at_next_sign_in,
                    vec![Event::AdminReset {
                        actor: actor.user.to_string(),
                        target: target.user.to_string(),
                        reason: reason.to_string(),
                        at: now,
                    }],
                ))
            })
            .await?;
        Ok(self.done(must_enroll, events))
    }

    /// An owner or admin unlocks another user's second step (after too many
    /// wrong codes), keeping their factors: with a reason, per policy
    /// (`may_unlock`), after re-entering their own password; both accounts in
    /// one organization. The only way out of a lockout at the failure ceiling
    /// besides a reset.
    pub async fn admin_unlock(
        &self,
        actor: &Account<'_>,
        target: &Account<'_>,
        reason: &str,
        reauthenticated_at: Option<u64>,
    ) -> Result<Done<()>, Failure> {
        same_organization(actor, target)?;
        let org = self.organization(target.organization).await?;
        let now = self.clock.now();
        require_fresh(&org.policy, reauthenticated_at, now)?;
        let decision = org.policy.admin_unlock(
            &UserFacts::new(actor.user, actor.role),
            &UserFacts::new(target.user, target.role),
            reason,
        );
        if decision.outcome == Permission::Denied {
            return Err(Failure::from(TwoFactorError::Denied(decision.reason)));
        }
        let events = self
            .update_user(target.user, |record| {
                record.throttle = ThrottleState::default();
                Change::Write(vec![Event::Unlocked {
                    actor: actor.user.to_string(),
                    target: target.user.to_string(),
                    reason: reason.to_string(),
                    at: now,
                }])
            })
            .await?;
        Ok(self.done((), events))
    }

    // ----- erasure -----

    /// Forgets a user entirely, for an application that deletes the account:
    /// the record (factors, backup codes, pending setups, the throttle) is
    /// deleted and every passkey credential id bound to the user is unbound, so
    /// that nothing of them stays in the store ([`Store::delete_user`]).
    /// Idempotent: a user without a record is already forgotten. It asks no
    /// policy: deleting the account is the application's decision.
    pub async fn forget_user(&self, account: &Account<'_>) -> Result<Done<()>, Failure> {
        let now = self.clock.now();
        for _ in 0..MAX_ATTEMPTS {
            let Some(loaded) = self.store.load_user(account.user).await? else {
                return Ok(self.done((), Vec::new()));
            };
            match self.store.delete_user(account.user, loaded.version).await {
                Ok(()) => {
                    let events = vec![Event::UserForgotten {
                        user: account.user.to_string(),
                        at: now,
                    }];
                    return Ok(self.done((), events));
                }
                Err(StoreError::Conflict) => {}
                Err(error) => return Err(Failure::from(error)),
            }
        }
        Err(Failure::from(TwoFactorError::Contended))
    }

    // ----- enforcement -----

    /// The owner changes the organization's enforcement ("Settings → Security →
    /// 2FA enforcement"), per policy, with its lock-out guard, after re-entering
    /// their password.
    pub async fn change_enforcement(
        &self,
        actor: &Account<'_>,
        mode: Mode,
        reauthenticated_at: Option<u64>,
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
            require_fresh(&policy, reauthenticated_at, now)?;
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

    /// Stores a whole policy document for an organization (validated first).
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

/// The error for a passkey response whose user handle names another user.
fn another_users_handle() -> TwoFactorError {
    TwoFactorError::Passkey(PasskeyError::CredentialNotAllowed {
        reason: "its user handle names another user",
    })
}

/// Turns 2FA off in a record: every factor, the backup codes, anything pending.
fn clear_factors(record: &mut UserRecord) {
    record.totp = None;
    record.pending_totp = None;
    record.backup_codes = None;
    record.passkeys.clear();
    record.pending_passkey = None;
    record.challenge = None;
}
