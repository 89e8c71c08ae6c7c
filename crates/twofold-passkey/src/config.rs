//! The relying party and the ceremony settings, validated.

use url::Url;

use crate::error::ConfigError;

/// The relying party: its id (a domain), its name, and the origins its pages are
/// served from. Validated: every origin's host is the id or a subdomain of it,
/// and only `https://` is accepted, except `http://localhost` for development.
///
/// ```
/// use twofold_passkey::RelyingParty;
///
/// let rp = RelyingParty::new("clinic.example", "Smile Dental", &["https://app.clinic.example"])?;
/// let dev = RelyingParty::new("localhost", "Smile Dental (dev)", &["http://localhost:8080"])?;
/// assert!(RelyingParty::new("clinic.example", "x", &["https://evil.example"]).is_err());
/// # Ok::<(), twofold_passkey::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) origins: Vec<Url>,
}

impl RelyingParty {
    /// Checks and builds a relying party.
    pub fn new(id: &str, name: &str, origins: &[&str]) -> Result<RelyingParty, ConfigError> {
        check_rp_id(id)?;
        if origins.is_empty() {
            return Err(ConfigError::InvalidOrigin {
                origin: String::new(),
                reason: "at least one origin is needed",
            });
        }
        let origins = origins
            .iter()
            .map(|origin| check_origin(id, origin))
            .collect::<Result<Vec<Url>, ConfigError>>()?;
        Ok(RelyingParty {
            id: id.to_string(),
            name: name.to_string(),
            origins,
        })
    }

    /// The relying party id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The name shown by authenticators.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The allowed origins, as `scheme://host[:port]`.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.origins
            .iter()
            .map(|origin| origin.as_str().trim_end_matches('/'))
    }
}

fn check_rp_id(id: &str) -> Result<(), ConfigError> {
    let invalid = |reason| ConfigError::InvalidRpId {
        id: id.to_string(),
        reason,
    };
    if id.is_empty() || id.len() > 253 {
        return Err(invalid("it must be a domain of 1 to 253 characters"));
    }
    if id.parse::<std::net::IpAddr>().is_ok() {
        return Err(invalid("an IP address cannot be a relying party id"));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !id.split('.').all(label_ok) {
        return Err(invalid(
            "it must be a lowercase domain name (letters, digits, hyphens and dots)",
        ));
    }
    if id != "localhost" && !id.contains('.') {
        return Err(invalid(
            "a single-label id other than localhost is not a registrable domain",
        ));
    }
    Ok(())
}

fn check_origin(rp_id: &str, origin: &str) -> Result<Url, ConfigError> {
    let invalid = |reason| ConfigError::InvalidOrigin {
        origin: origin.to_string(),
        reason,
    };
    let url = Url::parse(origin).map_err(|_| invalid("it is not a URL"))?;
    let Some(url::Host::Domain(host)) = url.host() else {
        return Err(invalid("its host must be a domain name"));
    };
    let is_localhost = host == "localhost" || host.ends_with(".localhost");
    match url.scheme() {
        "https" => {}
        "http" if is_localhost => {}
        "http" => return Err(invalid("only https is allowed, except http://localhost")),
        _ => return Err(invalid("the scheme must be https")),
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("an origin has no path, query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("an origin has no user information"));
    }
    let registrable_suffix = host == rp_id
        || host
            .strip_suffix(rp_id)
            .is_some_and(|prefix| prefix.ends_with('.'));
    if !registrable_suffix {
        return Err(invalid(
            "the relying party id must be its host or a parent domain of it",
        ));
    }
    Ok(url)
}

/// The passkey settings. The defaults are webauthn-rs's passkey defaults: user
/// verification required, no attestation, ES256/ES384/RS256, synced passkeys
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyConfig {
    pub(crate) rp: RelyingParty,
    pub(crate) ceremony_ttl_seconds: u64,
    pub(crate) hardware_bound_only: bool,
}

impl PasskeyConfig {
    /// Settings for `rp` with the defaults: a ceremony must finish within five
    /// minutes, and synced passkeys are accepted.
    pub fn new(rp: RelyingParty) -> PasskeyConfig {
        PasskeyConfig {
            rp,
            ceremony_ttl_seconds: 300,
            hardware_bound_only: false,
        }
    }

    /// How long a started ceremony may be finished, in seconds (1 to 86400).
    pub fn with_ceremony_ttl_seconds(mut self, seconds: u64) -> Result<PasskeyConfig, ConfigError> {
        if !(1..=86_400).contains(&seconds) {
            return Err(ConfigError::InvalidDuration {
                field: "ceremony_ttl_seconds",
            });
        }
        self.ceremony_ttl_seconds = seconds;
        Ok(self)
    }

    /// Accept only hardware-bound authenticators (security keys): passkeys that
    /// can be backed up or synced (iCloud Keychain, Google Password Manager,
    /// 1Password) are refused at registration and at sign-in.
    #[must_use]
    pub fn hardware_bound_only(mut self) -> PasskeyConfig {
        self.hardware_bound_only = true;
        self
    }

    /// The relying party.
    pub fn relying_party(&self) -> &RelyingParty {
        &self.rp
    }

    /// The ceremony time to live in seconds.
    pub fn ceremony_ttl_seconds(&self) -> u64 {
        self.ceremony_ttl_seconds
    }

    /// Whether only hardware-bound authenticators are accepted.
    pub fn is_hardware_bound_only(&self) -> bool {
        self.hardware_bound_only
    }
}
