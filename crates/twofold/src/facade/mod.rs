//! The facade: every flow of the guide, orchestrating the factor crates and the
//! policy over the application's `Store`. One module per flow; `record` holds
//! the plumbing they share (the one conditional-write loop, the throttle).

mod admin;
mod backup_codes;
mod checkup;
mod maintenance;
mod notifications;
#[cfg(feature = "passkey")]
mod passkey_first;
#[cfg(feature = "passkey")]
mod passkeys;
mod record;
mod self_unlock;
mod sign_in;
mod totp;
mod trusted;
mod types;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

#[cfg(feature = "passkey")]
use twofold_passkey::Passkeys;
use twofold_policy::Policy;

use crate::crypto::Keyring;
use crate::env::{Clock, OsRandomness, Randomness, SystemClock};
use crate::error::{ConfigError, Failure, TwoFactorError};
use crate::events::{Event, EventSink};
use crate::offload::{Offload, OffloadError, OffloadPool};
use crate::store::{OrganizationRecord, Store, UserRecord, Version, Versioned};

pub use notifications::FactorHistory;
#[cfg(feature = "passkey")]
pub use passkey_first::{
    AllAcceptedCredentials, CurrentUserDetails, PasskeyClaim, PasskeySignIn, PasskeySignals,
    UnknownCredential,
};
use record::*;
pub use self_unlock::{SelfUnlockOffer, UnlockProgress};
pub use trusted::{
    Answered, BrowserToken, MAX_BROWSER_LABEL_CHARS, MAX_TRUSTED_BROWSERS, NewTrustedBrowser,
    REUSE_GRACE_SECONDS, TrustedBrowserSummary, TrustedSignIn,
};
pub use types::*;

/// The two-factor facade. Cheap to share (`Arc<TwoFactor>`); every method is
/// async and safe to call concurrently from many requests and processes.
pub struct TwoFactor {
    store: Arc<dyn Store>,
    keyring: Keyring,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Randomness>,
    sink: Option<Arc<dyn EventSink>>,
    offload: Arc<dyn Offload>,
    #[cfg(feature = "passkey")]
    passkeys: Option<Passkeys>,
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
        if config.totp_fallbacks.len() > MAX_TOTP_FALLBACKS {
            return Err(TwoFactorError::Config(ConfigError::TooManyTotpFallbacks {
                max: MAX_TOTP_FALLBACKS,
            }));
        }
        if let Some(fallback) = config
            .totp_fallbacks
            .iter()
            .find(|fallback| fallback.apply(&config.totp).is_none())
        {
            return Err(TwoFactorError::Config(ConfigError::InvalidTotpFallback(
                *fallback,
            )));
        }
        if config.totp_drift.max_steps > MAX_TOTP_DRIFT_STEPS
            || config.totp_drift.resync_steps > MAX_TOTP_DRIFT_STEPS
        {
            return Err(TwoFactorError::Config(ConfigError::TotpDriftTooLarge {
                max: MAX_TOTP_DRIFT_STEPS,
            }));
        }
        Ok(TwoFactor {
            store,
            keyring,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandomness),
            sink: None,
            offload: Arc::new(OffloadPool::default()),
            #[cfg(feature = "passkey")]
            passkeys: config.passkeys.clone().map(Passkeys::new),
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

    /// Delivers every event to `sink` too: the audit log's way in, so that an
    /// application need not thread [`Done::events`] and [`Failure::events`]
    /// (which still carry them) through every handler.
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

    /// Gives `events` to the sink, in order, awaiting each: after the change
    /// is stored and before the operation returns, so that an audit row exists
    /// when the application answers.
    async fn emit(&self, events: &[Event]) {
        if let Some(sink) = &self.sink {
            for event in events {
                sink.record(event).await;
            }
        }
    }

    async fn done<T>(&self, value: T, events: Vec<Event>) -> Done<T> {
        self.emit(&events).await;
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

    async fn organization(&self, organization: &str) -> Result<OrgPolicy, TwoFactorError> {
        let record = self.store.load_organization(organization).await?;
        self.policy_of(organization, record)
    }

    /// The organization's policy and the user's record, read together (one
    /// statement on a SQL store): the second step's reads. The organization is
    /// read fresh every time, so a policy change applies at the next step; only
    /// its parsed policy is cached, by version.
    async fn organization_and_user(
        &self,
        account: &Account<'_>,
    ) -> Result<(OrgPolicy, Option<Versioned<UserRecord>>), TwoFactorError> {
        let (user, organization) = self
            .store
            .load_user_and_organization(account.user, account.organization)
            .await?;
        Ok((self.policy_of(account.organization, organization)?, user))
    }

    /// The policy of `organization`, from its stored settings (the default if none).
    fn policy_of(
        &self,
        organization: &str,
        record: Option<Versioned<OrganizationRecord>>,
    ) -> Result<OrgPolicy, TwoFactorError> {
        let Some(record) = record else {
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
    pub async fn policy(&self, organization: &str) -> Result<Arc<Policy>, Failure> {
        Ok(self.organization(organization).await?.policy)
    }
}
