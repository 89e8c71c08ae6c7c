//! `otpauth://` URIs in the Key URI Format that authenticator apps scan.
//!
//! Format: `otpauth://TYPE/ISSUER:ACCOUNT?secret=…&issuer=ISSUER&algorithm=…&digits=…&period=…`
//! (Google Authenticator's "Key Uri Format", with names percent-encoded per RFC 3986).

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::error::UriError;
use crate::otp::{Algorithm, Digits, Period, TotpParams, Window};
use crate::secret::Secret;

/// The longest URI the parser reads.
pub const MAX_URI_BYTES: usize = 4096;
/// The longest issuer or account name, in bytes. With percent-encoding (at most
/// three bytes per byte) every URI this crate writes stays under [`MAX_URI_BYTES`],
/// so whatever it writes it can read back.
pub const MAX_NAME_BYTES: usize = 256;

/// What RFC 3986 lets stand unencoded in a path segment or query value, less the
/// characters that have a meaning in this format (`:`, `&`, `=`, `+`, `?`, `#`, `/`).
const NAME_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// The type of one-time password a URI describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OtpKind {
    /// Time-based (RFC 6238), with its period.
    Totp {
        /// The time step.
        period: Period,
    },
    /// Counter-based (RFC 4226), with the initial counter.
    Hotp {
        /// The counter the next code is generated from.
        counter: u64,
    },
}

/// A parsed or to-be-generated `otpauth://` URI.
///
/// ```
/// use twofold_totp::{OtpAuthUri, Secret};
///
/// let secret = Secret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")?;
/// let uri = OtpAuthUri::totp(Some("Smile Dental"), "ana@clinic.example", secret)?;
/// let text = uri.to_uri_string();
/// assert_eq!(
///     text,
///     "otpauth://totp/Smile%20Dental:ana@clinic.example?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\
///      &issuer=Smile%20Dental&algorithm=SHA1&digits=6&period=30"
/// );
/// assert_eq!(OtpAuthUri::parse(&text)?, uri);
/// # Ok::<(), twofold_totp::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpAuthUri {
    kind: OtpKind,
    issuer: Option<String>,
    account: String,
    secret: Secret,
    algorithm: Algorithm,
    digits: Digits,
    ambiguous_label: bool,
}

impl OtpAuthUri {
    /// A TOTP URI with the defaults of every authenticator app (SHA-1, 6 digits, 30 s).
    ///
    /// Names may hold any text, colons and surrounding spaces included (they
    /// are percent-encoded); they may not be empty or longer than
    /// [`MAX_NAME_BYTES`].
    pub fn totp(
        issuer: Option<&str>,
        account: &str,
        secret: Secret,
    ) -> Result<OtpAuthUri, UriError> {
        OtpAuthUri::new(
            OtpKind::Totp {
                period: Period::THIRTY_SECONDS,
            },
            issuer,
            account,
            secret,
        )
    }

    /// A URI of the given kind with SHA-1 and 6 digits; see
    /// [`with_algorithm`](OtpAuthUri::with_algorithm) and [`with_digits`](OtpAuthUri::with_digits).
    pub fn new(
        kind: OtpKind,
        issuer: Option<&str>,
        account: &str,
        secret: Secret,
    ) -> Result<OtpAuthUri, UriError> {
        if let Some(issuer) = issuer {
            check_name("issuer", issuer)?;
        }
        check_name("account", account)?;
        Ok(OtpAuthUri {
            kind,
            issuer: issuer.map(ToString::to_string),
            account: account.to_string(),
            secret,
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            ambiguous_label: false,
        })
    }

    /// Sets the hash algorithm.
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> OtpAuthUri {
        self.algorithm = algorithm;
        self
    }

    /// Sets the number of digits.
    #[must_use]
    pub fn with_digits(mut self, digits: Digits) -> OtpAuthUri {
        self.digits = digits;
        self
    }

    /// The kind (TOTP with period, or HOTP with counter).
    pub fn kind(&self) -> OtpKind {
        self.kind
    }

    /// The issuer (the service name shown in the app), if any.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The shared secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The hash algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits.
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// The TOTP parameters this URI describes (T0 = 0 and the default window, which
    /// URIs do not carry), or `None` for an HOTP URI.
    pub fn totp_params(&self) -> Option<TotpParams> {
        match self.kind {
            OtpKind::Totp { period } => Some(TotpParams {
                algorithm: self.algorithm,
                digits: self.digits,
                period,
                t0: 0,
                window: Window::default(),
            }),
            OtpKind::Hotp { .. } => None,
        }
    }

    /// The URI text. It contains the secret; the name says so where it is called.
    ///
    /// The issuer is written both as the label prefix and as the `issuer`
    /// parameter, as the Key URI Format recommends. Every character of a name
    /// but letters, digits and `-._~@` is percent-encoded (a colon as `%3A`, a
    /// space as `%20`), so the label's one literal `:` is the separator and the
    /// URI is never ambiguous.
    pub fn to_uri_string(&self) -> String {
        let (kind, tail) = match self.kind {
            OtpKind::Totp { period } => ("totp", format!("&period={}", period.seconds())),
            OtpKind::Hotp { counter } => ("hotp", format!("&counter={counter}")),
        };
        let account = utf8_percent_encode(&self.account, NAME_ENCODE_SET);
        let secret = Zeroizing::new(self.secret.to_base32());
        let (label, issuer_parameter) = match &self.issuer {
            Some(issuer) => {
                let issuer = utf8_percent_encode(issuer, NAME_ENCODE_SET).to_string();
                (format!("{issuer}:{account}"), format!("&issuer={issuer}"))
            }
            // A colon in the account, and no issuer: an empty `issuer`
            // parameter says so, so that no reader need guess whether the
            // colon was a separator (pyotp and others skip the empty value).
            None if self.account.contains(':') => (account.to_string(), "&issuer=".to_string()),
            None => (account.to_string(), String::new()),
        };
        format!(
            "otpauth://{kind}/{label}?secret={}{issuer_parameter}&algorithm={}&digits={}{tail}",
            secret.as_str(),
            self.algorithm.as_str(),
            self.digits.get(),
        )
    }

    /// Parses a `totp` or `hotp` URI whose secret has at least 128 bits.
    ///
    /// Reads what the common writers produce (pyotp, otplib, totp-rs, Google's
    /// Key URI Format examples, the apps' exports): the label's issuer prefix is
    /// matched against the `issuer` parameter, so colons inside the issuer or
    /// the account read right whether literal or percent-encoded; without the
    /// parameter, see [`label_is_ambiguous`](OtpAuthUri::label_is_ambiguous).
    /// A lowercase algorithm and `+` for a space in the `issuer` parameter are
    /// accepted; unknown parameters are ignored. An issuer that differs between
    /// label and parameter, a repeated known parameter and a bad value each get
    /// their own [`UriError`].
    pub fn parse(text: &str) -> Result<OtpAuthUri, UriError> {
        OtpAuthUri::parse_inner(text, Secret::from_base32)
    }

    /// Like [`parse`](OtpAuthUri::parse), but accepts legacy secrets of 80 to 127
    /// bits: the explicit opt-in for migrating users from older systems.
    pub fn parse_legacy(text: &str) -> Result<OtpAuthUri, UriError> {
        OtpAuthUri::parse_inner(text, Secret::from_base32_legacy)
    }

    fn parse_inner(
        text: &str,
        read_secret: fn(&str) -> Result<Secret, crate::SecretError>,
    ) -> Result<OtpAuthUri, UriError> {
        if text.len() > MAX_URI_BYTES {
            return Err(UriError::TooLong {
                max_bytes: MAX_URI_BYTES,
            });
        }
        const SCHEME: &str = "otpauth://";
        let rest = match text.get(..SCHEME.len()) {
            Some(scheme) if scheme.eq_ignore_ascii_case(SCHEME) => text.get(SCHEME.len()..),
            _ => None,
        }
        .ok_or(UriError::NotOtpauth)?;
        let rest = rest.split('#').next().unwrap_or_default();
        let (kind, rest) = rest.split_once('/').ok_or(UriError::MissingAccount)?;
        let is_totp = if kind.eq_ignore_ascii_case("totp") {
            true
        } else if kind.eq_ignore_ascii_case("hotp") {
            false
        } else {
            return Err(UriError::UnknownType);
        };
        let (label, query) = rest.split_once('?').unwrap_or((rest, ""));

        let mut parameters = Parameters::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            parameters.set(name, value)?;
        }

        let secret_text = parameters.secret.ok_or(UriError::MissingSecret)?;
        let secret_text = Zeroizing::new(decode("secret", secret_text, false)?);
        let secret = read_secret(&secret_text).map_err(UriError::Secret)?;

        let issuer_parameter = parameters
            .issuer
            .map(|raw| decode("issuer", raw, true))
            .transpose()?;
        let (issuer, account, ambiguous_label) = read_label(label, issuer_parameter)?;

        let algorithm = match parameters.algorithm {
            None => Algorithm::Sha1,
            Some(name) => Algorithm::from_name(name).ok_or(UriError::InvalidParameter {
                name: "algorithm",
                reason: "expected SHA1, SHA256 or SHA512",
            })?,
        };
        let digits = match parameters.digits {
            None => Digits::SIX,
            Some(value) => value
                .parse::<u32>()
                .ok()
                .and_then(|n| Digits::new(n).ok())
                .ok_or(UriError::InvalidParameter {
                    name: "digits",
                    reason: "expected 6, 7 or 8",
                })?,
        };
        let kind = if is_totp {
            let period = match parameters.period {
                None => Period::THIRTY_SECONDS,
                Some(value) => value
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| Period::new(n).ok())
                    .ok_or(UriError::InvalidParameter {
                        name: "period",
                        reason: "expected a whole number of seconds, at least 1",
                    })?,
            };
            OtpKind::Totp { period }
        } else {
            let counter = parameters
                .counter
                .ok_or(UriError::MissingCounter)?
                .parse::<u64>()
                .map_err(|_| UriError::InvalidParameter {
                    name: "counter",
                    reason: "expected a whole number",
                })?;
            OtpKind::Hotp { counter }
        };

        let mut uri = OtpAuthUri::new(kind, issuer.as_deref(), &account, secret)?
            .with_algorithm(algorithm)
            .with_digits(digits);
        uri.ambiguous_label = ambiguous_label;
        Ok(uri)
    }

    /// Whether the label was read by a rule rather than known, because there
    /// was no `issuer` parameter to match it against:
    /// - a literal `:` was read as the separator (issuer before it, account
    ///   after it), as the Key URI Format says, though a writer may have meant
    ///   it as part of an account name (`staff:42`);
    /// - a `%3A` was read as part of the account name, as RFC 3986 and pyotp
    ///   read it, though older writers also encoded the separator so.
    ///
    /// Show the reading to the user to confirm. Never true of a URI this crate
    /// writes: an account with a colon and no issuer gets an empty `issuer=`.
    pub fn label_is_ambiguous(&self) -> bool {
        self.ambiguous_label
    }
}

/// Each place where the raw label may split into issuer and account, as
/// (start, width): first each literal `:` (the separator the format names),
/// then each percent-encoded `%3A` (for writers that encode the separator).
fn separators(label: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let literal = label.match_indices(':').map(|(at, _)| (at, 1));
    let encoded = label.char_indices().filter_map(|(at, _)| {
        label
            .get(at..at + 3)
            .is_some_and(|s| s.eq_ignore_ascii_case("%3a"))
            .then_some((at, 3))
    });
    literal.chain(encoded)
}

/// The account part of a label: the raw text after the separator, less the
/// spaces that the Key URI Format allows there (`label = issuer (":" / "%3A")
/// *"%20" accountname`): literal ones always, and `%20`s after an encoded
/// `%3A` (the fully encoded form of older writers). After a literal `:`, a
/// `%20` is the name's own, as pyotp and this crate write a leading space.
fn read_account(raw: &str, encoded_separator: bool) -> Result<String, UriError> {
    let mut raw = raw.trim_start_matches(' ');
    if encoded_separator {
        while let Some(rest) = raw.strip_prefix("%20") {
            raw = rest;
        }
    }
    let account = decode("label", raw, false)?;
    if account.is_empty() {
        return Err(UriError::MissingAccount);
    }
    Ok(account)
}

/// Reads a raw (still percent-encoded) label into issuer and account, with
/// the `issuer` parameter if there is one; the third value says whether the
/// reading is [ambiguous](OtpAuthUri::label_is_ambiguous).
///
/// - With an `issuer` parameter: the label's prefix is matched against it, at
///   each `:` or `%3A` in turn, so that colons inside the issuer or the account
///   read right whether the writer encoded them or not. A label with no
///   separator is the account alone. A label whose literal `:` starts no
///   prefix equal to the parameter names another issuer: [`UriError::IssuerMismatch`].
///   (A `%3A` that starts no matching prefix is part of the account.)
/// - With an empty one (`issuer=`, "no issuer", as this crate writes it for an
///   account with a colon): a `%3A` is the account's own colon.
/// - Without one: a literal `:` separates issuer and account, and a `%3A` is
///   a colon in the account's name (as RFC 3986 reads a percent-encoded
///   delimiter, and as pyotp writes and reads it); both readings are flagged
///   ambiguous, since older writers also encoded the separator.
fn read_label(
    label: &str,
    issuer_parameter: Option<String>,
) -> Result<(Option<String>, String, bool), UriError> {
    match issuer_parameter {
        Some(issuer) if !issuer.is_empty() => {
            for (at, width) in separators(label) {
                let (Some(prefix), Some(rest)) = (label.get(..at), label.get(at + width..)) else {
                    continue;
                };
                if decode("label", prefix, false)? == issuer {
                    return Ok((Some(issuer), read_account(rest, width == 3)?, false));
                }
            }
            if let Some(at) = label.find(':') {
                let prefix = label.get(..at).unwrap_or_default();
                return Err(UriError::IssuerMismatch {
                    label: decode("label", prefix, false)?,
                    parameter: issuer,
                });
            }
            Ok((Some(issuer), read_account(label, false)?, false))
        }
        issuer_parameter => {
            let confirmed_none = issuer_parameter.is_some();
            match label.split_once(':') {
                Some((prefix, rest)) => {
                    let issuer = decode("label", prefix, false)?;
                    let account = read_account(rest, false)?;
                    Ok((
                        Some(issuer).filter(|issuer| !issuer.is_empty()),
                        account,
                        true,
                    ))
                }
                None => {
                    let encoded_colon = separators(label).next().is_some();
                    Ok((
                        None,
                        read_account(label, false)?,
                        encoded_colon && !confirmed_none,
                    ))
                }
            }
        }
    }
}

/// Percent-decodes one part; in query values `+` also stands for a space
/// (form encoding, which many generators use). We never write a bare `+`.
fn decode(part: &'static str, raw: &str, plus_is_space: bool) -> Result<String, UriError> {
    let raw = if plus_is_space {
        Cow::Owned(raw.replace('+', " "))
    } else {
        Cow::Borrowed(raw)
    };
    percent_decode_str(&raw)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| UriError::InvalidEncoding { part })
}

fn check_name(part: &'static str, name: &str) -> Result<(), UriError> {
    // Colons and surrounding spaces are fine: the writer percent-encodes them,
    // so the label's one literal `:` is always the separator.
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_NAME_BYTES {
        "it is longer than 256 bytes"
    } else {
        return Ok(());
    };
    Err(UriError::InvalidName { part, reason })
}

#[derive(Default)]
struct Parameters<'a> {
    secret: Option<&'a str>,
    issuer: Option<&'a str>,
    algorithm: Option<&'a str>,
    digits: Option<&'a str>,
    period: Option<&'a str>,
    counter: Option<&'a str>,
}

impl<'a> Parameters<'a> {
    fn set(&mut self, name: &str, value: &'a str) -> Result<(), UriError> {
        let (slot, name) = if name.eq_ignore_ascii_case("secret") {
            (&mut self.secret, "secret")
        } else if name.eq_ignore_ascii_case("issuer") {
            (&mut self.issuer, "issuer")
        } else if name.eq_ignore_ascii_case("algorithm") {
            (&mut self.algorithm, "algorithm")
        } else if name.eq_ignore_ascii_case("digits") {
            (&mut self.digits, "digits")
        } else if name.eq_ignore_ascii_case("period") {
            (&mut self.period, "period")
        } else if name.eq_ignore_ascii_case("counter") {
            (&mut self.counter, "counter")
        } else {
            return Ok(()); // unknown parameters (image, color, …) are ignored
        };
        if slot.replace(value).is_some() {
            return Err(UriError::DuplicateParameter { name });
        }
        Ok(())
    }
}
