//! The credential id: all that a store's credential index needs, so it is
//! available without the `ceremonies` feature (and without webauthn-rs-core).

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A credential id: opaque bytes chosen by the authenticator. Serialized as
/// unpadded base64url, as in WebAuthn JSON.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(Vec<u8>);

impl CredentialId {
    /// Wraps raw id bytes.
    pub fn from_bytes(bytes: &[u8]) -> CredentialId {
        CredentialId(bytes.to_vec())
    }

    /// The raw id bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The id as unpadded base64url (the `id` of a WebAuthn response).
    pub fn to_base64url(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.0)
    }

    /// Reads an unpadded base64url id.
    pub fn from_base64url(text: &str) -> Option<CredentialId> {
        Base64UrlUnpadded::decode_vec(text).ok().map(CredentialId)
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({})", self.to_base64url())
    }
}

impl Serialize for CredentialId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64url())
    }
}

impl<'de> Deserialize<'de> for CredentialId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<CredentialId, D::Error> {
        let text = String::deserialize(deserializer)?;
        CredentialId::from_base64url(&text)
            .ok_or_else(|| serde::de::Error::custom("a credential id is unpadded base64url"))
    }
}
