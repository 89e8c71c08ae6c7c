//! Our credential record: what the application stores for each passkey.

use core::fmt;

use serde::{Deserialize, Serialize};
use webauthn_rs_core::proto::{
    AttestationFormat, AuthenticatorTransport, COSEKey, Credential, ParsedAttestation,
    RegisteredExtensions, UserVerificationPolicy,
};

use crate::id::CredentialId;

/// A credential's public key. Opaque: its serialized form is that of the pinned
/// webauthn-rs-core version, whose type is not part of this crate's API.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PublicKey(COSEKey);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({:?})", self.0.type_)
    }
}

/// How the browser may reach the authenticator: a hint for sign-in, not a
/// security property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Transport {
    /// USB.
    Usb,
    /// NFC.
    Nfc,
    /// Bluetooth Low Energy.
    Ble,
    /// Built into the device (Touch ID, Face ID, Windows Hello).
    Internal,
    /// A phone, through a QR code and Bluetooth proximity.
    Hybrid,
}

impl Transport {
    fn from_core(transport: &AuthenticatorTransport) -> Option<Transport> {
        match transport {
            AuthenticatorTransport::Usb => Some(Transport::Usb),
            AuthenticatorTransport::Nfc => Some(Transport::Nfc),
            AuthenticatorTransport::Ble => Some(Transport::Ble),
            AuthenticatorTransport::Internal => Some(Transport::Internal),
            AuthenticatorTransport::Hybrid => Some(Transport::Hybrid),
            _ => None,
        }
    }

    fn to_core(self) -> AuthenticatorTransport {
        match self {
            Transport::Usb => AuthenticatorTransport::Usb,
            Transport::Nfc => AuthenticatorTransport::Nfc,
            Transport::Ble => AuthenticatorTransport::Ble,
            Transport::Internal => AuthenticatorTransport::Internal,
            Transport::Hybrid => AuthenticatorTransport::Hybrid,
        }
    }
}

/// One registered passkey, as the application stores it (serde).
///
/// Updated by [`Passkeys::finish_authentication`](crate::Passkeys::finish_authentication):
/// the counter is raised, the backup state copied, and a backup-eligibility
/// upgrade recorded. Store it back after every sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyCredential {
    id: CredentialId,
    public_key: PublicKey,
    counter: u32,
    backup_eligible: bool,
    backed_up: bool,
    #[serde(default)]
    transports: Vec<Transport>,
    name: String,
    created_at: u64,
    #[serde(default)]
    last_used_at: Option<u64>,
}

impl PasskeyCredential {
    pub(crate) fn from_core(credential: Credential, name: &str, now: u64) -> PasskeyCredential {
        PasskeyCredential {
            id: CredentialId::from_bytes(&credential.cred_id),
            public_key: PublicKey(credential.cred),
            counter: credential.counter,
            backup_eligible: credential.backup_eligible,
            backed_up: credential.backup_state,
            transports: credential
                .transports
                .iter()
                .flatten()
                .filter_map(Transport::from_core)
                .collect(),
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
        }
    }

    /// The record as webauthn-rs-core's credential, as registered by this crate:
    /// user verification required, no attestation kept.
    pub(crate) fn to_core(&self) -> Credential {
        Credential {
            cred_id: self.id.as_bytes().to_vec(),
            cred: self.public_key.0.clone(),
            counter: self.counter,
            transports: Some(self.transports.iter().map(|t| t.to_core()).collect()),
            user_verified: true,
            backup_eligible: self.backup_eligible,
            backup_state: self.backed_up,
            registration_policy: UserVerificationPolicy::Required,
            extensions: RegisteredExtensions::none(),
            attestation: ParsedAttestation::default(),
            attestation_format: AttestationFormat::None,
        }
    }

    pub(crate) fn record_use(
        &mut self,
        counter: u32,
        backup_eligible: bool,
        backed_up: bool,
        now: u64,
    ) {
        self.counter = self.counter.max(counter);
        // Eligibility may only be upgraded (the verifier refuses a downgrade).
        self.backup_eligible |= backup_eligible;
        self.backed_up = backed_up;
        self.last_used_at = Some(now);
    }

    /// The credential id.
    pub fn id(&self) -> &CredentialId {
        &self.id
    }

    /// The signature counter last seen (always 0 for most synced passkeys).
    pub fn counter(&self) -> u32 {
        self.counter
    }

    /// Whether the passkey may be backed up or synced between devices.
    pub fn backup_eligible(&self) -> bool {
        self.backup_eligible
    }

    /// Whether the passkey was backed up at its last use.
    pub fn backed_up(&self) -> bool {
        self.backed_up
    }

    /// Transport hints the authenticator reported.
    pub fn transports(&self) -> &[Transport] {
        &self.transports
    }

    /// The user's name for it ("MacBook Touch ID").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames it.
    pub fn rename(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// When it was registered (Unix seconds).
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// When it was last used to sign in (Unix seconds).
    pub fn last_used_at(&self) -> Option<u64> {
        self.last_used_at
    }
}
