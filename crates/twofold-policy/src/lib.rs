#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod decide;
mod document;
mod enrollment;
mod methods;
mod policy;
mod read;
mod time;

pub use decide::{
    Decision, DryRunReport, Permission, Reason, ResetPermission, SignIn, Throttle, UserFacts,
};
pub use document::{
    CheckupDocument, DOCUMENT_VERSION, EnforcementDocument, ExemptionDocument, Lockout,
    MAX_TRUSTED_BROWSER_DAYS, Mode, ModeError, PasskeysDocument, PolicyDocument, RemindersDocument,
    RoleDocument, SelfDisableDocument, SelfUnlockDocument, ThrottleDocument,
    TrustedBrowsersDocument, UnknownRoles,
};
pub use methods::{Method, Methods};
pub use policy::{MAX_FAILURES_LIMIT, Policy, PolicyError, Rule, SelfUnlockRules};
pub use time::{Timestamp, TimestampError};
