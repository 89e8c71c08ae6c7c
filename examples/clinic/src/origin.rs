//! The origin users type into the browser (`--origin`), read with `url`:
//! passkeys are bound to its host, and an `https` origin makes the cookies
//! `Secure`.

use std::net::IpAddr;

use twofold::RelyingParty;
use twofold::factors::passkey::ConfigError;
use url::{Host, Url};

/// A checked origin: `http` or `https`, a domain name, an optional port, and
/// nothing after them.
///
/// ```
/// use twofold_clinic::Origin;
///
/// let origin = Origin::parse("https://Clinic.Example/")?;
/// assert_eq!(origin.domain(), "clinic.example");
/// assert_eq!(origin.serialized(), "https://clinic.example");
/// assert!(origin.is_https());
/// assert!(Origin::parse("http://[::1]:3000").is_err());
/// # Ok::<(), twofold_clinic::OriginError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    url: Url,
    domain: String,
}

/// Why an origin is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// It is not a URL (no scheme, no host, a port out of range…).
    #[error("the origin {origin:?} is not a URL")]
    NotAUrl {
        /// The origin as given.
        origin: String,
        /// What the URL parser found.
        #[source]
        source: url::ParseError,
    },
    /// Its scheme is neither `http` nor `https`.
    #[error("the origin {origin:?} is not http:// or https://")]
    Scheme {
        /// The origin as given.
        origin: String,
    },
    /// It has a path, query, fragment or user name after the host.
    #[error("the origin {origin:?} has more than a scheme, a host and a port")]
    NotAnOrigin {
        /// The origin as given.
        origin: String,
    },
    /// Its host is an IP address: passkeys are bound to a domain name.
    #[error(
        "the origin {origin:?} names the IP address {address}, and passkeys are bound to a \
         domain name: use http://localhost:PORT on this computer"
    )]
    IpAddress {
        /// The origin as given.
        origin: String,
        /// The address.
        address: IpAddr,
    },
    /// The passkey library refuses it (plain `http` to a host other than
    /// `localhost`, for example).
    #[error("passkeys cannot be bound to the origin {origin:?}")]
    Passkeys {
        /// The origin as given.
        origin: String,
        /// Why.
        #[source]
        source: ConfigError,
    },
}

impl Origin {
    /// Reads and checks an origin.
    pub fn parse(text: &str) -> Result<Origin, OriginError> {
        let origin = || text.to_string();
        let url = Url::parse(text).map_err(|source| OriginError::NotAUrl {
            origin: origin(),
            source,
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OriginError::Scheme { origin: origin() });
        }
        if url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(OriginError::NotAnOrigin { origin: origin() });
        }
        let domain = match url.host() {
            Some(Host::Domain(domain)) => domain.to_string(),
            Some(Host::Ipv4(address)) => {
                return Err(OriginError::IpAddress {
                    origin: origin(),
                    address: address.into(),
                });
            }
            Some(Host::Ipv6(address)) => {
                return Err(OriginError::IpAddress {
                    origin: origin(),
                    address: address.into(),
                });
            }
            // http and https URLs always have a host; kept as a refusal.
            None => return Err(OriginError::NotAnOrigin { origin: origin() }),
        };
        Ok(Origin { url, domain })
    }

    /// The host: the passkeys' relying party id.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether the scheme is `https` (the app is behind TLS: cookies are `Secure`).
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// `scheme://host[:port]`, as browsers send it in `Origin` (the default
    /// port left out).
    pub fn serialized(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// The relying party that passkeys are bound to: this origin's domain.
    pub fn relying_party(&self, name: &str) -> Result<RelyingParty, OriginError> {
        let serialized = self.serialized();
        RelyingParty::new(&self.domain, name, &[serialized.as_str()]).map_err(|source| {
            OriginError::Passkeys {
                origin: serialized.clone(),
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_that_work() {
        for (text, domain, serialized, https) in [
            (
                "http://localhost:3000",
                "localhost",
                "http://localhost:3000",
                false,
            ),
            (
                "https://clinic.example",
                "clinic.example",
                "https://clinic.example",
                true,
            ),
            (
                "https://clinic.example:443/",
                "clinic.example",
                "https://clinic.example",
                true,
            ),
            (
                "HTTPS://App.Clinic.Example:8443",
                "app.clinic.example",
                "https://app.clinic.example:8443",
                true,
            ),
        ] {
            let origin = Origin::parse(text).unwrap();
            assert_eq!(origin.domain(), domain, "{text}");
            assert_eq!(origin.serialized(), serialized, "{text}");
            assert_eq!(origin.is_https(), https, "{text}");
            let rp = origin.relying_party("Smile Dental").unwrap();
            assert_eq!(rp.id(), domain);
            assert_eq!(rp.origins().collect::<Vec<_>>(), [serialized]);
        }
    }

    #[test]
    fn an_ip_address_is_refused_by_name() {
        for (text, address) in [
            ("http://[::1]:3000", "::1"),
            ("http://127.0.0.1:3000", "127.0.0.1"),
            ("https://[2001:db8::1]", "2001:db8::1"),
        ] {
            let error = Origin::parse(text).unwrap_err();
            assert!(
                matches!(&error, OriginError::IpAddress { address: a, .. }
                    if a.to_string() == address),
                "{text}: {error:?}"
            );
        }
    }

    #[test]
    fn malformed_origins_are_refused_with_their_reason() {
        for text in [
            "",
            "localhost",
            "http://",
            "http://localhost:99999",
            "http://a b",
        ] {
            let error = Origin::parse(text).unwrap_err();
            assert!(
                matches!(error, OriginError::NotAUrl { .. }),
                "{text}: {error:?}"
            );
        }
        // "localhost:3000" reads as the scheme "localhost".
        for text in ["localhost:3000", "ftp://clinic.example", "file:///tmp"] {
            let error = Origin::parse(text).unwrap_err();
            assert!(
                matches!(error, OriginError::Scheme { .. }),
                "{text}: {error:?}"
            );
        }
        for text in [
            "https://clinic.example/app",
            "https://clinic.example/?a=1",
            "https://clinic.example/#top",
            "https://olivia@clinic.example",
            "https://olivia:pw@clinic.example",
        ] {
            let error = Origin::parse(text).unwrap_err();
            assert!(
                matches!(error, OriginError::NotAnOrigin { .. }),
                "{text}: {error:?}"
            );
        }
        // A domain, but plain http away from localhost: passkeys refuse it.
        let origin = Origin::parse("http://clinic.example").unwrap();
        let error = origin.relying_party("Smile Dental").unwrap_err();
        assert!(matches!(error, OriginError::Passkeys { .. }), "{error:?}");
    }
}
