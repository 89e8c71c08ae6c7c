//! The registration and authentication ceremonies.

use core::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticationState as CoreAuthenticationState, COSEAlgorithm,
    PublicKeyCredential, RegisterPublicKeyCredential, RegistrationState as CoreRegistrationState,
    UserVerificationPolicy,
};

use crate::config::PasskeyConfig;
use crate::credential::PasskeyCredential;
use crate::error::{CoreError, PasskeyError};
use crate::id::CredentialId;

/// The largest response JSON read, in bytes; larger bodies are refused unparsed.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How far in the future a state's creation time may lie (clock differences
/// between application servers) before the state is treated as invalid.
const CLOCK_TOLERANCE_SECONDS: u64 = 60;

/// The user a passkey is registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyUser<'a> {
    /// A stable, opaque, unique id (the WebAuthn user handle): never an email
    /// address or anything personal, at most 64 bytes.
    pub id: &'a [u8],
    /// The account name the authenticator shows ("ana@clinic.example").
    pub name: &'a str,
    /// The person's name ("Ana Lee").
    pub display_name: &'a str,
}

/// A registration in progress.
///
/// **Keep it server-side** (in the session store or database, never in a
/// cookie or the page) and **use it once**: delete it when the ceremony
/// finishes, whatever the outcome. webauthn-rs-core would accept the same
/// state twice; the `twofold` facade deletes it with a conditional write.
#[derive(Clone, Serialize, Deserialize)]
pub struct RegistrationState {
    core: CoreRegistrationState,
    created_at: u64,
}

/// A sign-in in progress. The same rules apply as for [`RegistrationState`]:
/// server-side only, used once.
#[derive(Clone, Serialize, Deserialize)]
pub struct AuthenticationState {
    core: CoreAuthenticationState,
    created_at: u64,
    /// The credentials offered, or `None` for a discoverable (username-less) sign-in.
    allowed: Option<Vec<CredentialId>>,
}

impl RegistrationState {
    /// When the ceremony started (Unix seconds).
    pub fn created_at(&self) -> u64 {
        self.created_at
    }
}

impl AuthenticationState {
    /// When the ceremony started (Unix seconds).
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Whether this is a discoverable (username-less) sign-in.
    pub fn is_discoverable(&self) -> bool {
        self.allowed.is_none()
    }
}

impl fmt::Debug for RegistrationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationState")
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AuthenticationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationState")
            .field("created_at", &self.created_at)
            .field("discoverable", &self.is_discoverable())
            .finish_non_exhaustive()
    }
}

/// A sign-in response from the browser (`credential.toJSON()`), parsed once so
/// that a discoverable sign-in can look up the user before finishing.
#[derive(Clone)]
pub struct AuthenticationResponse(PublicKeyCredential);

impl AuthenticationResponse {
    /// Parses the JSON the browser posts. Bodies over [`MAX_RESPONSE_BYTES`] are refused.
    pub fn from_json(json: &str) -> Result<AuthenticationResponse, PasskeyError> {
        parse_json(json).map(AuthenticationResponse)
    }

    /// The credential id the authenticator used.
    pub fn credential_id(&self) -> CredentialId {
        CredentialId::from_bytes(&self.0.raw_id)
    }

    /// The user handle, present in discoverable sign-ins: the
    /// [`PasskeyUser::id`] given at registration.
    pub fn user_handle(&self) -> Option<&[u8]> {
        self.0.response.user_handle.as_deref()
    }
}

impl fmt::Debug for AuthenticationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationResponse")
            .field("credential_id", &self.credential_id())
            .finish_non_exhaustive()
    }
}

/// A successful sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationOutcome {
    /// Which of the given credentials was used; it has been updated in place.
    pub index: usize,
    /// Its id.
    pub credential_id: CredentialId,
    /// The counter the authenticator reported.
    pub counter: u32,
    /// Whether the passkey is backed up or synced.
    pub backed_up: bool,
}

fn parse_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, PasskeyError> {
    if json.len() > MAX_RESPONSE_BYTES {
        return Err(PasskeyError::ResponseTooLarge {
            max_bytes: MAX_RESPONSE_BYTES,
        });
    }
    serde_json::from_str(json).map_err(|error| {
        PasskeyError::MalformedResponse(CoreError::new(WebauthnError::ParseJSONFailure(error)))
    })
}

/// Passkey ceremonies for one relying party, with webauthn-rs's passkey
/// defaults. Time is an argument (Unix seconds); webauthn-rs-core draws the
/// challenges from its own CSPRNG.
///
/// ```
/// use twofold_passkey::{PasskeyConfig, PasskeyUser, Passkeys, RelyingParty};
///
/// let rp = RelyingParty::new("localhost", "Smile Dental", &["http://localhost:8080"])?;
/// let passkeys = Passkeys::new(PasskeyConfig::new(rp));
/// let user = PasskeyUser { id: b"user-0001", name: "ana@clinic.example", display_name: "Ana Lee" };
/// let (options, state) = passkeys.start_registration(&user, &[], 1_767_225_600)?;
/// // Send `options` to the page: PublicKeyCredential.parseCreationOptionsFromJSON(options).
/// assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
/// assert_eq!(options["attestation"], "none");
/// // Keep `state` server-side until the browser posts credential.toJSON() back.
/// # let _ = state;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Passkeys {
    core: WebauthnCore,
    config: PasskeyConfig,
}

impl fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passkeys")
            .field("config", &self.config)
            .finish()
    }
}

impl Passkeys {
    /// Ceremonies for the configured relying party.
    pub fn new(config: PasskeyConfig) -> Passkeys {
        let rp = config.relying_party();
        let core = WebauthnCore::new_unsafe_experts_only(
            rp.name(),
            rp.id(),
            rp.origins.clone(),
            // Sent to the browser as `timeout`; the state's TTL is what we enforce.
            Duration::from_secs(config.ceremony_ttl_seconds()),
            Some(false),
            Some(false),
        );
        Passkeys { core, config }
    }

    /// The settings.
    pub fn config(&self) -> &PasskeyConfig {
        &self.config
    }

    /// Starts registering a passkey for `user`, excluding the user's `existing`
    /// credentials. Returns the browser-facing options (the `publicKey` object for
    /// `PublicKeyCredential.parseCreationOptionsFromJSON`) and the state to keep
    /// server-side.
    pub fn start_registration(
        &self,
        user: &PasskeyUser<'_>,
        existing: &[PasskeyCredential],
        now: u64,
    ) -> Result<(Value, RegistrationState), PasskeyError> {
        if user.id.is_empty() || user.id.len() > 64 {
            return Err(PasskeyError::InvalidRequest(
                "the user id must be 1 to 64 bytes",
            ));
        }
        let exclude = existing
            .iter()
            .map(|credential| credential.id().as_bytes().to_vec())
            .collect();
        let builder = self
            .core
            .new_challenge_register_builder(user.id, user.name, user.display_name)
            .map_err(|_| {
                PasskeyError::InvalidRequest("the user name and display name must not be empty")
            })?
            .attestation(AttestationConveyancePreference::None)
            .credential_algorithms(vec![
                COSEAlgorithm::ES256,
                COSEAlgorithm::ES384,
                COSEAlgorithm::RS256,
            ])
            .user_verification_policy(UserVerificationPolicy::Required)
            .require_resident_key(false)
            .authenticator_attachment(None)
            .reject_synchronised_authenticators(self.config.is_hardware_bound_only())
            .exclude_credentials(Some(exclude));
        let (challenge, core) = self.core.generate_challenge_register(builder)?;
        let mut options = serde_json::to_value(&challenge.public_key).map_err(|error| {
            PasskeyError::Rejected(CoreError::new(WebauthnError::ParseJSONFailure(error)))
        })?;
        // Ask for a discoverable credential where the authenticator can store one,
        // so that username-less sign-in works, without refusing those that cannot.
        if let Some(selection) = options
            .get_mut("authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".into(), Value::from("preferred"));
        }
        Ok((
            options,
            RegistrationState {
                core,
                created_at: now,
            },
        ))
    }

    /// Finishes a registration with the JSON the browser posted
    /// (`credential.toJSON()`), naming the passkey `name`. `is_registered` is
    /// asked whether the credential id already belongs to any user; if so the
    /// registration is refused.
    pub fn finish_registration(
        &self,
        response_json: &str,
        state: &RegistrationState,
        name: &str,
        now: u64,
        is_registered: impl FnOnce(&CredentialId) -> bool,
    ) -> Result<PasskeyCredential, PasskeyError> {
        self.check_fresh(state.created_at, now)?;
        let response: RegisterPublicKeyCredential = parse_json(response_json)?;
        let credential = self
            .core
            .register_credential(&response, &state.core, None)?;
        if self.config.is_hardware_bound_only() && credential.backup_eligible {
            return Err(PasskeyError::CredentialNotAllowed {
                reason: "only hardware-bound authenticators are accepted",
            });
        }
        let record = PasskeyCredential::from_core(credential, name, now);
        if is_registered(record.id()) {
            return Err(PasskeyError::CredentialNotAllowed {
                reason: "it is already registered",
            });
        }
        Ok(record)
    }

    /// Starts a sign-in with one of the user's `credentials`.
    pub fn start_authentication(
        &self,
        credentials: &[PasskeyCredential],
        now: u64,
    ) -> Result<(Value, AuthenticationState), PasskeyError> {
        if credentials.is_empty() {
            return Err(PasskeyError::InvalidRequest("the user has no passkey"));
        }
        let core_credentials = credentials.iter().map(PasskeyCredential::to_core).collect();
        let allowed = credentials.iter().map(|c| c.id().clone()).collect();
        self.start_authentication_inner(core_credentials, Some(allowed), now)
    }

    /// Starts a discoverable (username-less) sign-in: the browser offers any
    /// passkey of this relying party; the response names the user.
    pub fn start_discoverable_authentication(
        &self,
        now: u64,
    ) -> Result<(Value, AuthenticationState), PasskeyError> {
        self.start_authentication_inner(Vec::new(), None, now)
    }

    fn start_authentication_inner(
        &self,
        credentials: Vec<webauthn_rs_core::proto::Credential>,
        allowed: Option<Vec<CredentialId>>,
        now: u64,
    ) -> Result<(Value, AuthenticationState), PasskeyError> {
        let builder = self
            .core
            .new_challenge_authenticate_builder(
                credentials,
                Some(UserVerificationPolicy::Required),
            )?
            .allow_backup_eligible_upgrade(!self.config.is_hardware_bound_only());
        let (challenge, core) = self.core.generate_challenge_authenticate(builder)?;
        let options = serde_json::to_value(&challenge.public_key).map_err(|error| {
            PasskeyError::Rejected(CoreError::new(WebauthnError::ParseJSONFailure(error)))
        })?;
        Ok((
            options,
            AuthenticationState {
                core,
                created_at: now,
                allowed,
            },
        ))
    }

    /// Finishes a sign-in. `credentials` are the passkeys of the user being
    /// signed in (for a discoverable sign-in, of the user the response's
    /// [`user_handle`](AuthenticationResponse::user_handle) names). The one used
    /// is updated in place (counter, backup state, last use): store it back.
    pub fn finish_authentication(
        &self,
        response: &AuthenticationResponse,
        state: &AuthenticationState,
        credentials: &mut [PasskeyCredential],
        now: u64,
    ) -> Result<AuthenticationOutcome, PasskeyError> {
        self.check_fresh(state.created_at, now)?;
        let used = response.credential_id();
        if let Some(allowed) = &state.allowed
            && !allowed.contains(&used)
        {
            return Err(PasskeyError::CredentialNotAllowed {
                reason: "it is not one of the credentials offered for this sign-in",
            });
        }
        let index = credentials
            .iter()
            .position(|credential| *credential.id() == used)
            .ok_or(PasskeyError::CredentialNotAllowed {
                reason: "it is not registered to this user",
            })?;
        let credential = credentials
            .get_mut(index)
            .ok_or(PasskeyError::CredentialNotAllowed {
                reason: "it is not registered to this user",
            })?;
        let hardware_only = self.config.is_hardware_bound_only();
        if hardware_only && credential.backup_eligible() {
            return Err(PasskeyError::CredentialNotAllowed {
                reason: "only hardware-bound authenticators are accepted",
            });
        }
        let result = self.core.authenticate_single_credential(
            &response.0,
            &state.core,
            &credential.to_core(),
        )?;
        if hardware_only && result.backup_eligible() {
            return Err(PasskeyError::CredentialNotAllowed {
                reason: "only hardware-bound authenticators are accepted",
            });
        }
        credential.record_use(
            result.counter(),
            result.backup_eligible(),
            result.backup_state(),
            now,
        );
        Ok(AuthenticationOutcome {
            index,
            credential_id: used,
            counter: result.counter(),
            backed_up: result.backup_state(),
        })
    }

    fn check_fresh(&self, created_at: u64, now: u64) -> Result<(), PasskeyError> {
        let too_old = now.saturating_sub(created_at) > self.config.ceremony_ttl_seconds();
        let from_the_future = created_at > now.saturating_add(CLOCK_TOLERANCE_SECONDS);
        if too_old || from_the_future {
            return Err(PasskeyError::Expired);
        }
        Ok(())
    }
}
