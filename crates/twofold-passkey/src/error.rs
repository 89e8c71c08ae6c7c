//! Few, typed errors, mapped from webauthn-rs-core's many.

use core::fmt;

use webauthn_rs_core::error::WebauthnError;

/// Why a passkey ceremony failed. Every variant says what the caller can do;
/// webauthn-rs-core's own error stays reachable through `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasskeyError {
    /// The response answers a different challenge: a stale, replayed or foreign response.
    #[error("the response does not answer this ceremony's challenge")]
    ChallengeMismatch(#[source] CoreError),
    /// The response comes from an origin or for a relying party id that is not ours.
    #[error("the response comes from an origin or relying party that is not allowed")]
    OriginMismatch(#[source] CoreError),
    /// The authenticator did not verify the user (PIN or biometrics), which passkeys require.
    #[error("the authenticator did not verify the user")]
    UserVerificationMissing(#[source] CoreError),
    /// The signature counter went backwards: the authenticator may have been cloned.
    #[error("the signature counter went backwards; the authenticator may have been cloned")]
    CounterRegression(#[source] CoreError),
    /// The response body is larger than any WebAuthn response; it was not parsed.
    #[error("the passkey response is larger than {max_bytes} bytes")]
    ResponseTooLarge {
        /// The largest accepted body.
        max_bytes: usize,
    },
    /// The ceremony state is older than the configured time to live.
    #[error("the ceremony expired; start again")]
    Expired,
    /// The credential is not one this ceremony or policy accepts.
    #[error("this passkey is not allowed here: {reason}")]
    CredentialNotAllowed {
        /// Why, in words.
        reason: &'static str,
    },
    /// The response is not valid WebAuthn JSON, CBOR or data, or its signature is invalid.
    #[error("the passkey response is malformed or its signature is invalid")]
    MalformedResponse(#[source] CoreError),
    /// The ceremony could not be started (for example, an empty user name).
    #[error("the ceremony could not be started: {0}")]
    InvalidRequest(&'static str),
    /// Any other refusal by the WebAuthn verifier.
    #[error("the passkey was refused")]
    Rejected(#[source] CoreError),
}

/// A webauthn-rs-core error, wrapped so that its type is not part of our API.
/// It is reached through `source()` and printed by `Display`.
pub struct CoreError(WebauthnError);

impl CoreError {
    pub(crate) fn new(error: WebauthnError) -> CoreError {
        CoreError(error)
    }
}

impl fmt::Debug for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CoreError({:?})", self.0)
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "webauthn-rs-core: {}", self.0)
    }
}

impl std::error::Error for CoreError {}

impl From<WebauthnError> for PasskeyError {
    fn from(error: WebauthnError) -> PasskeyError {
        use WebauthnError as E;
        match error {
            E::MismatchedChallenge => PasskeyError::ChallengeMismatch(CoreError::new(error)),
            E::InvalidRPOrigin | E::InvalidRPIDHash => {
                PasskeyError::OriginMismatch(CoreError::new(error))
            }
            E::UserNotVerified | E::UserNotPresent => {
                PasskeyError::UserVerificationMissing(CoreError::new(error))
            }
            E::CredentialPossibleCompromise => {
                PasskeyError::CounterRegression(CoreError::new(error))
            }
            E::CredentialNotFound => PasskeyError::CredentialNotAllowed {
                reason: "it is not one of the credentials offered for this sign-in",
            },
            E::CredentialExcludedFromRequest | E::CredentialAlreadyExists => {
                PasskeyError::CredentialNotAllowed {
                    reason: "it is already registered",
                }
            }
            E::CredentialMayNotBeHardwareBound => PasskeyError::CredentialNotAllowed {
                reason: "its backup flags are not allowed here (hardware-bound only, or backed up without eligibility)",
            },
            E::CredentialBackupEligibilityInconsistent => PasskeyError::CredentialNotAllowed {
                reason: "its backup eligibility changed",
            },
            E::CredentialAlteredAlgFromRequest | E::CredentialInsecureCryptography => {
                PasskeyError::CredentialNotAllowed {
                    reason: "it uses an algorithm that is not allowed",
                }
            }
            E::ParseNOMFailure
            | E::ParseCBORFailure(_)
            | E::ParseJSONFailure(_)
            | E::ParseInsufficientBytesAvailable
            | E::InvalidClientDataType
            | E::MissingAttestationCredentialData
            | E::COSEKeyInvalidType
            | E::COSEKeyInvalidCBORValue
            | E::COSEKeyInvalidAlgorithm
            | E::COSEKeyECDSAXYInvalid
            | E::COSEKeyECDSAInvalidCurve
            | E::COSEKeyRSANEInvalid
            | E::COSEKeyEDDSAInvalidCurve
            | E::COSEKeyEDDSAXInvalid
            | E::COSEKeyEDUnsupported
            | E::AuthenticationFailure
            | E::SignatureInvalid
            | E::EcdsaPointInvalid
            | E::RsaParametersInvalid
            | E::ParseBase64Failure(_)
            | E::AttestationStatementMapInvalid
            | E::AttestationStatementSigMissing
            | E::AttestationStatementSigInvalid
            | E::AttestationStatementAlgMissing
            | E::AttestationStatementAlgMismatch
            | E::AttestationStatementAlgInvalid
            | E::InvalidExtensions => PasskeyError::MalformedResponse(CoreError::new(error)),
            other => PasskeyError::Rejected(CoreError::new(other)),
        }
    }
}

/// Why a relying-party configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The relying party id is not a valid domain.
    #[error("the relying party id {id:?} is invalid: {reason}")]
    InvalidRpId {
        /// The id.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An origin is unusable for this relying party.
    #[error("the origin {origin:?} is not allowed: {reason}")]
    InvalidOrigin {
        /// The origin as given.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A duration is out of range.
    #[error("{field} must be between 1 second and 1 day")]
    InvalidDuration {
        /// The setting.
        field: &'static str,
    },
}
