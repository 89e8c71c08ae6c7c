#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "ceremonies")]
mod ceremony;
#[cfg(feature = "ceremonies")]
mod config;
#[cfg(feature = "ceremonies")]
mod credential;
#[cfg(feature = "ceremonies")]
mod error;
mod id;

#[cfg(feature = "ceremonies")]
#[cfg_attr(docsrs, doc(cfg(feature = "ceremonies")))]
pub use ceremony::{
    AuthenticationOutcome, AuthenticationResponse, AuthenticationState, MAX_RESPONSE_BYTES,
    PasskeyUser, Passkeys, RegistrationState,
};
#[cfg(feature = "ceremonies")]
#[cfg_attr(docsrs, doc(cfg(feature = "ceremonies")))]
pub use config::{PasskeyConfig, RelyingParty};
#[cfg(feature = "ceremonies")]
#[cfg_attr(docsrs, doc(cfg(feature = "ceremonies")))]
pub use credential::{PasskeyCredential, PublicKey, Transport};
#[cfg(feature = "ceremonies")]
#[cfg_attr(docsrs, doc(cfg(feature = "ceremonies")))]
pub use error::{ConfigError, CoreError, PasskeyError};
pub use id::CredentialId;
