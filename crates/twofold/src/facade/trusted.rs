//! Trusted browsers ("Don't ask again on this browser"): a token issued only
//! by the conditional write of a successful second step, presented at the
//! next sign-in after the password, replaced on every use, and revoked by
//! every change of the user's factors.
//!
//! The browser keeps a random 256-bit token; the record keeps its SHA-256
//! (a high-entropy token needs no slow hash). A token is only ever looked up
//! in the record of the user whose password was just verified, so one user's
//! token never helps, or names, another.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use twofold_policy::{Policy, Timestamp};
use zeroize::Zeroizing;

use crate::env::{Randomness, random_id};
use crate::error::{Failure, TwoFactorError};
use crate::events::{Event, TrustRevocation};
use crate::store::{TrustedBrowser, UserRecord};

use super::TwoFactor;
use super::record::*;
use super::types::*;

/// The most browsers one user may trust at once; trusting one more forgets
/// the least recently used ([`TrustRevocation::Evicted`]).
pub const MAX_TRUSTED_BROWSERS: usize = 10;

/// The longest browser label kept, in characters.
pub const MAX_BROWSER_LABEL_CHARS: usize = 64;

/// How long after a trusted browser's token was replaced its previous token
/// is refused without revoking the browser (two requests of one browser that
/// raced with one cookie): seconds. Later, the previous token means a copy.
pub const REUSE_GRACE_SECONDS: u64 = 60;

const DAY_SECONDS: u64 = 86_400;
/// The length of a token's text: 32 random bytes, base64url without padding.
const TOKEN_CHARS: usize = 43;

/// A trusted browser's token: the value of the application's cookie. It is a
/// bearer secret: zeroized on drop, redacted in `Debug`, and read only through
/// [`expose_to_cookie`](Self::expose_to_cookie).
pub struct BrowserToken(Zeroizing<String>);

impl BrowserToken {
    /// The token's text, to set as the cookie's value (and nowhere else).
    pub fn expose_to_cookie(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BrowserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserToken(..)")
    }
}

/// A browser just trusted, or a trusted browser's replaced token: set the
/// cookie to `token`, until `expires_at`.
#[derive(Debug)]
pub struct NewTrustedBrowser {
    /// The trusted browser's id (as in [`TrustedBrowserSummary::id`]).
    pub id: String,
    /// The new token; the one presented, if any, no longer works.
    pub token: BrowserToken,
    /// When the trust ends: the cookie's expiry.
    pub expires_at: Timestamp,
}

/// A successful second step, and the browser trusted with it if it was asked
/// for and the policy allows it for the user's role.
#[derive(Debug)]
pub struct Answered {
    /// The second step.
    pub signed_in: SignedIn,
    /// The trusted browser's token, to set in its cookie; `None` when it was
    /// not asked for or the policy forbids it for the user's role.
    pub trusted_browser: Option<NewTrustedBrowser>,
}

/// The step after the password, when the browser presented a trusted
/// browser's token ([`TwoFactor::begin_sign_in_trusted`]).
#[derive(Debug)]
pub struct TrustedSignIn {
    /// The step. A trusted browser turns a challenge into
    /// [`SignInStep::Allow`] with [`Reason::TrustedBrowser`](crate::Reason::TrustedBrowser), and nothing else.
    pub step: SignInStep,
    /// The token that replaces the presented one, when it was accepted: set
    /// it in the cookie (the presented one no longer works).
    pub renewed: Option<NewTrustedBrowser>,
}

/// One trusted browser, for the Security page (never its token or hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedBrowserSummary {
    /// Its id, to forget it by.
    pub id: String,
    /// Its label.
    pub label: String,
    /// When it was trusted.
    pub created_at: Timestamp,
    /// When it last skipped a second step.
    pub last_used_at: Option<Timestamp>,
    /// When the trust ends.
    pub expires_at: Timestamp,
}

/// A fresh token and the hash that the record keeps of it.
fn new_token(random: &dyn Randomness) -> Result<(BrowserToken, String), TwoFactorError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    random.fill(bytes.as_mut())?;
    let text = Zeroizing::new(Base64UrlUnpadded::encode_string(bytes.as_ref()));
    let hash = token_hash(&text);
    Ok((BrowserToken(text), hash))
}

fn token_hash(token: &str) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(token.as_bytes()))
}

/// A label fit to store and show: no control characters, runs of white
/// space as one space, at most [`MAX_BROWSER_LABEL_CHARS`] characters.
fn sanitized_label(label: &str) -> String {
    let words: Vec<&str> = label.split_whitespace().collect();
    let clean: String = words
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_BROWSER_LABEL_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "Browser".to_string()
    } else {
        clean.to_string()
    }
}

/// Which of the record's browsers a presented token's hash is: its current
/// token, or the one its last use replaced. Every hash is compared, each in
/// constant time.
enum Presented {
    Current(usize),
    Previous(usize),
    Unknown,
}

fn find(record: &UserRecord, hash: &str) -> Presented {
    let mut found = Presented::Unknown;
    for (index, browser) in record.trusted_browsers.iter().enumerate() {
        let current = browser.token_hash.as_bytes().ct_eq(hash.as_bytes());
        let previous = browser
            .previous_hash
            .as_deref()
            .unwrap_or_default()
            .as_bytes()
            .ct_eq(hash.as_bytes());
        if bool::from(current) {
            found = Presented::Current(index);
        } else if bool::from(previous) {
            found = Presented::Previous(index);
        }
    }
    found
}

/// When a browser trusted at `created_at` stops being trusted under the
/// current policy (a policy shortened since caps it), or `None` if the
/// policy forbids trusted browsers for the role.
fn trusted_until(browser: &TrustedBrowser, days: u32) -> Option<u64> {
    if days == 0 {
        return None;
    }
    let cap = browser
        .created_at
        .saturating_add(u64::from(days).saturating_mul(DAY_SECONDS));
    Some(browser.expires_at.min(cap))
}

fn revoked(user: &str, browser: &TrustedBrowser, reason: TrustRevocation, now: u64) -> Event {
    Event::TrustedBrowserRevoked {
        user: user.to_string(),
        browser: browser.id.clone(),
        reason,
        at: Timestamp::from_unix_seconds(now),
    }
}

/// Forgets every trusted browser of the record, with an event each: every
/// change of the user's factors calls it, in the write of the change.
pub(super) fn revoke_browsers(
    record: &mut UserRecord,
    user: &str,
    reason: TrustRevocation,
    now: u64,
    events: &mut Vec<Event>,
) {
    for browser in record.trusted_browsers.drain(..) {
        events.push(revoked(user, &browser, reason, now));
    }
}

impl TwoFactor {
    /// Trusts the browser that just passed the second step, in the write that
    /// records the success (the only way a token is issued): if the policy
    /// allows it for the user's role, for its number of days.
    pub(super) fn trust_browser(
        &self,
        record: &mut UserRecord,
        account: &Account<'_>,
        policy: &Policy,
        label: &str,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<Option<NewTrustedBrowser>, Failure> {
        let days = policy.trusted_browser_days(account.role);
        if days == 0 {
            return Ok(None);
        }
        let (token, hash) = new_token(&*self.random)?;
        let id = random_id(&*self.random)?;
        let expires_at = now.saturating_add(u64::from(days).saturating_mul(DAY_SECONDS));
        while record.trusted_browsers.len() >= MAX_TRUSTED_BROWSERS {
            let least_recent = record
                .trusted_browsers
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.last_used_at.unwrap_or(b.created_at))
                .map(|(index, _)| index);
            let Some(index) = least_recent else { break };
            let evicted = record.trusted_browsers.remove(index);
            events.push(revoked(
                account.user,
                &evicted,
                TrustRevocation::Evicted,
                now,
            ));
        }
        let label = sanitized_label(label);
        events.push(Event::BrowserTrusted {
            user: account.user.to_string(),
            browser: id.clone(),
            label: label.clone(),
            expires_at: Timestamp::from_unix_seconds(expires_at),
            at: Timestamp::from_unix_seconds(now),
        });
        record.trusted_browsers.push(TrustedBrowser {
            id: id.clone(),
            label,
            token_hash: hash,
            previous_hash: None,
            created_at: now,
            last_used_at: None,
            expires_at,
        });
        Ok(Some(NewTrustedBrowser {
            id,
            token,
            expires_at: Timestamp::from_unix_seconds(expires_at),
        }))
    }

    /// A presented token, where the policy would challenge the user (never
    /// while locked: that is decided before): its replacement if it is a
    /// trusted browser's current token, still trusted under the current
    /// policy; `None` otherwise (then the challenge is made). A browser's
    /// previous token, presented later than [`REUSE_GRACE_SECONDS`] after it
    /// was replaced, revokes the browser.
    pub(super) fn use_trusted_browser(
        &self,
        record: &mut UserRecord,
        account: &Account<'_>,
        policy: &Policy,
        presented: &str,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<Option<NewTrustedBrowser>, Failure> {
        if presented.len() != TOKEN_CHARS {
            return Ok(None);
        }
        let days = policy.trusted_browser_days(account.role);
        match find(record, &token_hash(presented)) {
            Presented::Unknown => Ok(None),
            Presented::Previous(index) => {
                let Some(browser) = record.trusted_browsers.get(index) else {
                    return Ok(None);
                };
                let replaced_at = browser.last_used_at.unwrap_or(browser.created_at);
                if now < replaced_at.saturating_add(REUSE_GRACE_SECONDS) {
                    return Ok(None);
                }
                let browser = record.trusted_browsers.remove(index);
                events.push(revoked(
                    account.user,
                    &browser,
                    TrustRevocation::ReuseDetected,
                    now,
                ));
                Ok(None)
            }
            Presented::Current(index) => {
                let Some(browser) = record.trusted_browsers.get_mut(index) else {
                    return Ok(None);
                };
                let Some(until) = trusted_until(browser, days).filter(|until| now < *until) else {
                    return Ok(None);
                };
                let (token, hash) = new_token(&*self.random)?;
                browser.previous_hash = Some(std::mem::replace(&mut browser.token_hash, hash));
                browser.last_used_at = Some(now);
                events.push(Event::TrustedBrowserUsed {
                    user: account.user.to_string(),
                    browser: browser.id.clone(),
                    at: Timestamp::from_unix_seconds(now),
                });
                Ok(Some(NewTrustedBrowser {
                    id: browser.id.clone(),
                    token,
                    expires_at: Timestamp::from_unix_seconds(until),
                }))
            }
        }
    }

    /// The step after the password, as [`begin_sign_in`](Self::begin_sign_in),
    /// for a browser that presents a trusted browser's token (`presented`:
    /// its cookie's value, if any). Where the user would be challenged, a
    /// token of this user's, still trusted under the current policy for
    /// their role, skips the challenge ([`SignInStep::Allow`] with
    /// [`Reason::TrustedBrowser`](crate::Reason::TrustedBrowser)) and is replaced in the same conditional
    /// write: set [`TrustedSignIn::renewed`] in the cookie. Anything else
    /// (locked, must enrol, blocked, an unknown or expired token) is exactly
    /// what `begin_sign_in` answers: a trusted browser is never a factor.
    pub async fn begin_sign_in_trusted(
        &self,
        account: &Account<'_>,
        presented: Option<&str>,
    ) -> Result<Done<TrustedSignIn>, Failure> {
        self.sign_in_step(account, presented).await
    }

    /// The browsers the user trusts, for the Security page: never a token or
    /// its hash. Those whose trust has ended are left out.
    pub async fn trusted_browsers(
        &self,
        account: &Account<'_>,
    ) -> Result<Vec<TrustedBrowserSummary>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let (org, loaded) = self.organization_and_user(account).await?;
        let days = org.policy.trusted_browser_days(account.role);
        let Some(record) = loaded else {
            return Ok(Vec::new());
        };
        Ok(record
            .value
            .trusted_browsers
            .iter()
            .filter_map(|browser| {
                let until = trusted_until(browser, days).filter(|until| now < *until)?;
                Some(TrustedBrowserSummary {
                    id: browser.id.clone(),
                    label: browser.label.clone(),
                    created_at: Timestamp::from_unix_seconds(browser.created_at),
                    last_used_at: browser.last_used_at.map(Timestamp::from_unix_seconds),
                    expires_at: Timestamp::from_unix_seconds(until),
                })
            })
            .collect())
    }

    /// Forgets one of the user's trusted browsers ("Remove" on the Security
    /// page): its token stops working at once.
    pub async fn forget_trusted_browser(
        &self,
        account: &Account<'_>,
        id: &str,
    ) -> Result<Done<()>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let events = self
            .update_user(account.user, |record| {
                let Some(index) = record.trusted_browsers.iter().position(|b| b.id == id) else {
                    return Err(Failure::from(TwoFactorError::NotEnrolled(
                        "that trusted browser",
                    )));
                };
                let browser = record.trusted_browsers.remove(index);
                Ok(Change::Write(vec![revoked(
                    account.user,
                    &browser,
                    TrustRevocation::Removed,
                    now,
                )]))
            })
            .await?;
        Ok(self.done((), events).await)
    }

    /// Forgets every browser the user trusts ("Forget all browsers"); returns
    /// how many.
    pub async fn forget_all_trusted_browsers(
        &self,
        account: &Account<'_>,
    ) -> Result<Done<usize>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let events = self
            .update_user(account.user, |record| {
                if record.trusted_browsers.is_empty() {
                    return Ok(Change::Keep(Vec::new()));
                }
                let mut events = Vec::new();
                revoke_browsers(
                    record,
                    account.user,
                    TrustRevocation::ForgetAll,
                    now,
                    &mut events,
                );
                Ok(Change::Write(events))
            })
            .await?;
        let count = events.len();
        Ok(self.done(count, events).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_cleaned_and_bounded() {
        assert_eq!(sanitized_label("  Chrome \n on\tLinux "), "Chrome on Linux");
        assert_eq!(sanitized_label("a\u{7}b"), "ab");
        assert_eq!(sanitized_label(" \u{0} "), "Browser");
        assert_eq!(sanitized_label(&"é".repeat(100)).chars().count(), 64);
    }

    #[test]
    fn a_policy_shortened_since_caps_the_trust() {
        let browser = TrustedBrowser {
            id: "b".into(),
            label: "l".into(),
            token_hash: String::new(),
            previous_hash: None,
            created_at: 1_000,
            last_used_at: None,
            expires_at: 1_000 + 30 * DAY_SECONDS,
        };
        assert_eq!(trusted_until(&browser, 0), None);
        assert_eq!(trusted_until(&browser, 7), Some(1_000 + 7 * DAY_SECONDS));
        assert_eq!(trusted_until(&browser, 90), Some(1_000 + 30 * DAY_SECONDS));
    }
}
