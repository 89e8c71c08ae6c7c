#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod ceremony;
mod config;
mod credential;
mod error;

pub use ceremony::{
    AuthenticationOutcome, AuthenticationResponse, AuthenticationState, MAX_RESPONSE_BYTES,
    PasskeyUser, Passkeys, RegistrationState,
};
pub use config::{PasskeyConfig, RelyingParty};
pub use credential::{CredentialId, PasskeyCredential, PublicKey, Transport};
pub use error::{ConfigError, CoreError, PasskeyError};
