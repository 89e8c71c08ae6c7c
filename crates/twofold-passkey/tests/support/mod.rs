//! Test support: a browser-like JSON round trip, and a synced-passkey software
//! authenticator.
//!
//! webauthn-authenticator-rs's SoftPasskey and SoftToken are hardware-like (no
//! backup flags, a rising counter, no resident keys). `SyncedPasskey` is a small
//! but real authenticator of the other kind, built on the same crates
//! (crypto-glue's P-256 ECDSA, CBOR): it generates keys, signs real assertions,
//! reports backup-eligible + backed-up with a signature counter of 0, and stores
//! discoverable credentials with their user handle, like iCloud Keychain or
//! Google Password Manager. The browser side (client data, origin and RP checks)
//! is webauthn-authenticator-rs's, through `AuthenticatorBackendHashedClientData`.
#![allow(dead_code)]

use std::collections::BTreeMap;

use crypto_glue::ecdsa_p256::{
    self, EcdsaP256PrivateKey, EcdsaP256PublicSec1Point, EcdsaP256Signature, EcdsaP256SigningKey,
};
use crypto_glue::traits::Signer;
use serde_cbor_2::Value;
use serde_json::json;
use webauthn_authenticator_rs::AuthenticatorBackendHashedClientData;
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator, WebauthnCError};
use webauthn_rs_core::proto::{
    AuthenticationExtensionsClientOutputs, AuthenticatorAssertionResponseRaw,
    AuthenticatorAttestationResponseRaw, CreationChallengeResponse, PublicKeyCredential,
    PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions,
    RegisterPublicKeyCredential, RegistrationExtensionsClientOutputs, RequestChallengeResponse,
};

pub const ORIGIN: &str = "https://app.clinic.example";
pub const RP_ID: &str = "clinic.example";
pub const NOW: u64 = 1_767_225_600;

/// What the page does: `parseCreationOptionsFromJSON(options)`, `create()`,
/// then `credential.toJSON()` posted back as text.
pub fn register(
    authenticator: &mut impl WebauthnAuthenticator,
    origin: &str,
    options: &serde_json::Value,
) -> Result<String, WebauthnCError> {
    let request: CreationChallengeResponse =
        serde_json::from_value(json!({ "publicKey": options })).unwrap();
    let credential = authenticator.do_registration(Url::parse(origin).unwrap(), request)?;
    Ok(serde_json::to_string(&credential).unwrap())
}

/// The same for `get()`.
pub fn authenticate(
    authenticator: &mut impl WebauthnAuthenticator,
    origin: &str,
    options: &serde_json::Value,
) -> Result<String, WebauthnCError> {
    let request: RequestChallengeResponse =
        serde_json::from_value(json!({ "publicKey": options })).unwrap();
    let credential = authenticator.do_authentication(Url::parse(origin).unwrap(), request)?;
    Ok(serde_json::to_string(&credential).unwrap())
}

struct Stored {
    key_der: Vec<u8>,
    rp_id: String,
    user_handle: Vec<u8>,
}

/// A synced-passkey authenticator: backup-eligible and backed up, counter 0,
/// discoverable credentials, user verification performed.
pub struct SyncedPasskey {
    credentials: BTreeMap<Vec<u8>, Stored>,
    /// The backup-eligible flag it reports.
    pub backup_eligible: bool,
    /// The backed-up flag it reports.
    pub backed_up: bool,
}

impl Default for SyncedPasskey {
    fn default() -> SyncedPasskey {
        SyncedPasskey {
            credentials: BTreeMap::new(),
            backup_eligible: true,
            backed_up: true,
        }
    }
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

impl SyncedPasskey {
    /// The same authenticator, but hardware-bound (no backup flags), like a security key.
    pub fn security_key() -> SyncedPasskey {
        SyncedPasskey {
            backup_eligible: false,
            backed_up: false,
            ..SyncedPasskey::default()
        }
    }

    fn flags(&self) -> u8 {
        let mut flags = UP | UV;
        if self.backup_eligible {
            flags |= BE;
        }
        if self.backed_up {
            flags |= BS;
        }
        flags
    }
}

fn sign(key_der: &[u8], data: &[u8]) -> Vec<u8> {
    let key = EcdsaP256PrivateKey::from_sec1_der(key_der).unwrap();
    let signer = EcdsaP256SigningKey::from(&key);
    let signature: EcdsaP256Signature = signer.try_sign(data).unwrap();
    signature.to_der().to_bytes().to_vec()
}

impl AuthenticatorBackendHashedClientData for SyncedPasskey {
    fn perform_register(
        &mut self,
        client_data_hash: Vec<u8>,
        options: PublicKeyCredentialCreationOptions,
        _timeout_ms: u32,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        let key = ecdsa_p256::new_key();
        let point = EcdsaP256PublicSec1Point::from(key.public_key());
        let mut cose = BTreeMap::new();
        cose.insert(Value::Integer(1), Value::Integer(2)); // kty: EC2
        cose.insert(Value::Integer(3), Value::Integer(-7)); // alg: ES256
        cose.insert(Value::Integer(-1), Value::Integer(1)); // crv: P-256
        cose.insert(
            Value::Integer(-2),
            Value::Bytes(point.x().unwrap().to_vec()),
        );
        cose.insert(
            Value::Integer(-3),
            Value::Bytes(point.y().unwrap().to_vec()),
        );
        let cose = serde_cbor_2::to_vec(&Value::Map(cose)).unwrap();

        // A 16-byte id derived from the fresh public key: unique per credential.
        let credential_id =
            webauthn_rs_core::crypto::compute_sha256(point.as_bytes())[..16].to_vec();
        let rp_id_hash = webauthn_rs_core::crypto::compute_sha256(options.rp.id.as_bytes());
        let mut auth_data = rp_id_hash.to_vec();
        auth_data.push(self.flags() | AT);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&(credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&credential_id);
        auth_data.extend_from_slice(&cose);

        let mut attestation = BTreeMap::new();
        attestation.insert(Value::Text("fmt".into()), Value::Text("none".into()));
        attestation.insert(Value::Text("attStmt".into()), Value::Map(BTreeMap::new()));
        attestation.insert(Value::Text("authData".into()), Value::Bytes(auth_data));
        let attestation_object = serde_cbor_2::to_vec(&Value::Map(attestation)).unwrap();
        let _ = client_data_hash; // "none" attestation signs nothing

        self.credentials.insert(
            credential_id.clone(),
            Stored {
                key_der: key.to_sec1_der().unwrap().to_vec(),
                rp_id: options.rp.id.clone(),
                user_handle: options.user.id.to_vec(),
            },
        );
        Ok(RegisterPublicKeyCredential {
            id: base64_url(&credential_id),
            raw_id: credential_id,
            response: AuthenticatorAttestationResponseRaw {
                attestation_object,
                client_data_json: Vec::new(),
                transports: None,
            },
            type_: "public-key".into(),
            extensions: RegistrationExtensionsClientOutputs::default(),
        })
    }

    fn perform_auth(
        &mut self,
        client_data_hash: Vec<u8>,
        options: PublicKeyCredentialRequestOptions,
        _timeout_ms: u32,
    ) -> Result<PublicKeyCredential, WebauthnCError> {
        // Offered credentials, or any discoverable one of this RP.
        let (credential_id, stored) = self
            .credentials
            .iter()
            .find(|(id, stored)| {
                stored.rp_id == options.rp_id
                    && (options.allow_credentials.is_empty()
                        || options
                            .allow_credentials
                            .iter()
                            .any(|c| c.id.as_slice() == id.as_slice()))
            })
            .ok_or(WebauthnCError::NoSelectedToken)?;
        let rp_id_hash = webauthn_rs_core::crypto::compute_sha256(options.rp_id.as_bytes());
        let mut auth_data = rp_id_hash.to_vec();
        auth_data.push(self.flags());
        auth_data.extend_from_slice(&0u32.to_be_bytes()); // synced passkeys keep the counter at 0
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&client_data_hash);
        let signature = sign(&stored.key_der, &signed);
        Ok(PublicKeyCredential {
            id: base64_url(credential_id),
            raw_id: credential_id.clone(),
            response: AuthenticatorAssertionResponseRaw {
                authenticator_data: auth_data,
                client_data_json: Vec::new(),
                signature,
                user_handle: Some(stored.user_handle.clone()),
            },
            type_: "public-key".into(),
            extensions: AuthenticationExtensionsClientOutputs::default(),
        })
    }
}

pub fn base64_url(bytes: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(bytes)
}
