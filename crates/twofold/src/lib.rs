#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "conformance")]
pub mod conformance;
mod crypto;
mod env;
mod error;
mod events;
mod facade;
mod lock;
mod notify;
mod offload;
pub mod store;

pub use crypto::{Keyring, SealedSecret, SecretKey};
#[cfg(feature = "memory-store")]
pub use env::ManualClock;
pub use env::{Clock, OsRandomness, Randomness, RandomnessUnavailable, SystemClock};
pub use error::{
    ConfigError, Corrupt, EnrollmentError, ErrorKind, Failure, InvalidCode, SelfUnlockError,
    TwoFactorError,
};
pub use events::{Event, EventSink, Factor, SinkFuture, TrustRevocation};
pub use facade::{
    Account, AppParameters, Checkup, Done, EnforcementPreview, FactorConfirmed, FactorHistory,
    MAX_TOTP_DRIFT_STEPS, MAX_TOTP_FALLBACKS, Purged, Resealed, SelfUnlockOffer, SignInStep,
    SignedIn, Status, TotpDrift, TotpEnrollment, TwoFactor, TwoFactorConfig, UnlockProgress,
};
#[cfg(feature = "passkey")]
#[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
pub use facade::{
    AllAcceptedCredentials, CurrentUserDetails, PasskeyClaim, PasskeySignIn, PasskeySignInStart,
    PasskeySignals, PasskeySummary, UnknownCredential,
};
pub use facade::{
    Answered, BrowserToken, MAX_BROWSER_LABEL_CHARS, MAX_TRUSTED_BROWSERS, NewTrustedBrowser,
    REUSE_GRACE_SECONDS, TrustedBrowserSummary, TrustedSignIn,
};
pub use lock::Lock;
pub use notify::{
    Activity, Delivered, Notice, Notification, NotificationSender, SendError, SendFuture,
};
pub use offload::{DangerouslyInline, Job, Offload, OffloadError, OffloadFuture, OffloadPool};
pub use store::{CredentialChanges, RemovedBy, Store, StoreError, StoreFuture, Version, Versioned};
#[cfg(feature = "memory-store")]
pub use store::{MemoryContents, MemoryStore};

// The factor crates' types that appear in this crate's API.
pub use twofold_backup::{BackupConfig, HashParams, NewBackupCodes};
pub use twofold_passkey::CredentialId;
#[cfg(feature = "passkey")]
#[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
pub use twofold_passkey::{PasskeyConfig, RelyingParty};
pub use twofold_policy::{
    Decision, DryRunReport, Method, Methods, Mode, Policy, PolicyDocument, Reason, SignIn,
    Timestamp,
};
pub use twofold_totp::TotpParams;

/// The factor crates, whole, for what the facade does not wrap (a load tool
/// computing codes, say), so that an application depends on `twofold` alone.
pub mod factors {
    pub use twofold_backup as backup;
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    pub use twofold_passkey as passkey;
    pub use twofold_policy as policy;
    pub use twofold_totp as totp;
}
