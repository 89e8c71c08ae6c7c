#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod extract;
mod fresh;
#[cfg(feature = "passkey")]
#[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
pub mod passkey;
mod stage;
mod state;

pub use extract::{Enroller, Enrolling, SecondStep, SignedIn, StageRejection};
pub use fresh::{FreshPassword, FreshPasswordLayer};
#[cfg(feature = "passkey")]
#[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
pub use passkey::{PasskeyHooks, passkey_router};
pub use stage::{
    STAGE_KEY, SessionAccount, SessionError, SignInError, Stage, begin_sign_in,
    begin_sign_in_trusted, complete_sign_in, defer_enrollment, enter, forget, password_confirmed,
    sign_out, stage,
};
pub use state::{DEFAULT_FRESH_PASSWORD_SECONDS, Paths, TwoFactorState};
