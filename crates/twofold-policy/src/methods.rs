//! Second-factor methods and sets of them.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A second factor that counts towards enforcement. Backup codes are not one:
/// they count only as recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// An authenticator app (TOTP).
    Totp,
    /// A passkey (WebAuthn).
    Passkey,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 2] = [Method::Totp, Method::Passkey];

    /// The name used in policy documents: `totp` or `passkey`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::Passkey => "passkey",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Method::Totp => 1,
            Method::Passkey => 2,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Method {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Method, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "totp" => Ok(Method::Totp),
            "passkey" => Ok(Method::Passkey),
            "backup_codes" | "backup_code" | "backup" => Err(serde::de::Error::custom(
                "backup codes count only as recovery, not as a second-factor method",
            )),
            _ => Err(serde::de::Error::unknown_variant(
                &name,
                &["totp", "passkey"],
            )),
        }
    }
}

/// A set of [`Method`]s, as a bit set: copying and testing it never allocates.
///
/// ```
/// use twofold_policy::{Method, Methods};
///
/// let enrolled = Methods::from(Method::Totp);
/// assert!(enrolled.contains(Method::Totp));
/// assert_eq!(enrolled.intersection(Methods::ALL), enrolled);
/// assert!(enrolled.intersection(Method::Passkey.into()).is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Methods(u8);

impl Methods {
    /// No method.
    pub const NONE: Methods = Methods(0);
    /// Every method.
    pub const ALL: Methods = Methods(Method::Totp.bit() | Method::Passkey.bit());

    /// Whether `method` is in the set.
    pub fn contains(self, method: Method) -> bool {
        self.0 & method.bit() != 0
    }

    /// The set with `method` added.
    #[must_use]
    pub fn with(self, method: Method) -> Methods {
        Methods(self.0 | method.bit())
    }

    /// Methods in both sets.
    #[must_use]
    pub fn intersection(self, other: Methods) -> Methods {
        Methods(self.0 & other.0)
    }

    /// Methods in either set.
    #[must_use]
    pub fn union(self, other: Methods) -> Methods {
        Methods(self.0 | other.0)
    }

    /// Whether every method of `self` is in `other`.
    pub fn is_subset(self, other: Methods) -> bool {
        self.0 & !other.0 == 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The methods, in a fixed order.
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }
}

impl From<Method> for Methods {
    fn from(method: Method) -> Methods {
        Methods(method.bit())
    }
}

impl FromIterator<Method> for Methods {
    fn from_iter<I: IntoIterator<Item = Method>>(methods: I) -> Methods {
        methods.into_iter().fold(Methods::NONE, Methods::with)
    }
}

impl fmt::Display for Methods {
    /// `totp, passkey`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, method) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(method.as_str())?;
        }
        Ok(())
    }
}
