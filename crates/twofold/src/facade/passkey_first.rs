//! Passkey-first (username-less) sign-in, and the WebAuthn Signal API payloads
//! (WebAuthn Level 3 §5.1.10) that keep the user's password manager in step
//! with the passkeys the server accepts.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use twofold_passkey::{AuthenticationResponse, PasskeyError};
use twofold_policy::{Permission, Reason, SignIn, Timestamp};

use crate::error::{Failure, TwoFactorError};
use crate::events::{Event, Factor};
use crate::store::{CeremonyRecord, ThrottleState, UserRecord};

use super::TwoFactor;
use super::record::*;
use super::types::*;

/// The options of `PublicKeyCredential.signalUnknownCredential()`: the
/// credential the browser answered with is not registered here, so the
/// password manager may hide or delete it. Member names as in WebAuthn
/// (`rpId`, `credentialId`), the id in base64url. It only repeats the id that
/// the browser sent: it says nothing of any account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnknownCredential {
    /// The relying party id.
    pub rp_id: String,
    /// The credential id, base64url without padding.
    pub credential_id: String,
}

/// The options of `PublicKeyCredential.signalAllAcceptedCredentials()`: every
/// passkey the server accepts for the user, so that the password manager can
/// hide the others (one removed on the Security page, say). Member names as in
/// WebAuthn (`rpId`, `userId`, `allAcceptedCredentialIds`), ids in base64url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllAcceptedCredentials {
    /// The relying party id.
    pub rp_id: String,
    /// The user handle the passkeys were registered with, base64url.
    pub user_id: String,
    /// The ids of the user's passkeys, base64url; empty when they have none.
    pub all_accepted_credential_ids: Vec<String>,
}

/// The options of `PublicKeyCredential.signalCurrentUserDetails()`: the names
/// the password manager shows for the user's passkeys. Member names as in
/// WebAuthn (`rpId`, `userId`, `name`, `displayName`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentUserDetails {
    /// The relying party id.
    pub rp_id: String,
    /// The user handle the passkeys were registered with, base64url.
    pub user_id: String,
    /// The account name ([`Account::name`]).
    pub name: String,
    /// The name shown ([`Account::name`], as at registration).
    pub display_name: String,
}

/// The signals to give the page after a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeySignals {
    /// For `signalAllAcceptedCredentials`.
    pub all_accepted_credentials: AllAcceptedCredentials,
    /// For `signalCurrentUserDetails`.
    pub current_user_details: CurrentUserDetails,
}

/// A username-less passkey answer whose owner is known, not yet verified: from
/// [`TwoFactor::identify_passkey_sign_in`]. It proves nothing; look up the
/// owner's account and pass both to [`TwoFactor::finish_passkey_sign_in`].
pub struct PasskeyClaim {
    user: String,
    ceremony: CeremonyRecord,
    response: AuthenticationResponse,
}

impl PasskeyClaim {
    /// The user whose passkey (by the store's credential index) answered.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The organization whose sign-in page started the ceremony.
    pub fn organization(&self) -> &str {
        &self.ceremony.organization
    }
}

impl fmt::Debug for PasskeyClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyClaim")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// What a verified passkey-first sign-in comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasskeySignIn {
    /// The passkey, with user verification, satisfied both factors: the user is
    /// signed in. Give the page the signals.
    SignedIn {
        /// For the page's Signal API calls.
        signals: PasskeySignals,
    },
    /// The policy does not let a passkey replace the password for the user's
    /// role: it identified the user only. Ask for their password, then take
    /// the usual second step ([`TwoFactor::begin_sign_in`]).
    PasswordRequired {
        /// Why (UI text).
        reason: Reason,
    },
}

impl TwoFactor {
    /// The first half of a username-less passkey sign-in: whose passkey
    /// answered ceremony `ceremony_id`. Verifies nothing yet.
    ///
    /// The ceremony is taken from the store first, so it is used at most once.
    /// The user is found through the store's credential index, never through
    /// the response's unsigned user handle (which, if present, must name the
    /// same user). A credential that is not registered fails with
    /// [`TwoFactorError::UnknownCredential`], carrying the
    /// `signalUnknownCredential` options for the page.
    pub async fn identify_passkey_sign_in(
        &self,
        ceremony_id: &str,
        response_json: &str,
    ) -> Result<PasskeyClaim, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let rp_id = self.rp_id()?;
        let response = AuthenticationResponse::from_json(response_json)
            .map_err(|error| Failure::from(TwoFactorError::Passkey(error)))?;
        let ceremony = self
            .store
            .take_ceremony(ceremony_id)
            .await?
            .ok_or(Failure::from(TwoFactorError::NoChallenge))?;
        if now >= ceremony.expires_at {
            return Err(Failure::from(TwoFactorError::Expired));
        }
        let credential_id = response.credential_id();
        let Some(user) = self.store.credential_owner(&credential_id).await? else {
            return Err(Failure::from(TwoFactorError::UnknownCredential(
                UnknownCredential {
                    rp_id,
                    credential_id: credential_id.to_base64url(),
                },
            )));
        };
        if response
            .user_handle()
            .is_some_and(|handle| handle != user.as_bytes())
        {
            return Err(Failure::from(another_users_handle()));
        }
        Ok(PasskeyClaim {
            user,
            ceremony,
            response,
        })
    }

    /// The second half of a username-less passkey sign-in: verifies the answer
    /// (user verification required) for `account`, the claim's owner as the
    /// application knows them, and decides with the policy
    /// ([`Policy::passkey_sign_in`](twofold_policy::Policy::passkey_sign_in)):
    /// signed in, or the password is still required.
    ///
    /// A locked user is refused, and so is a role the policy blocks; both only
    /// once the answer verified, so that a mere credential id tells nothing of
    /// its owner. The caller has proved nothing yet, so an answer that does not
    /// verify changes no user's record: it is refused, never counted (counting
    /// it would let anyone who saw a credential id lock its owner out). A
    /// refusal stores nothing, not even the passkey's use.
    pub async fn finish_passkey_sign_in(
        &self,
        claim: PasskeyClaim,
        account: &Account<'_>,
    ) -> Result<Done<PasskeySignIn>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        if claim.user != account.user {
            return Err(Failure::from(TwoFactorError::Passkey(
                PasskeyError::CredentialNotAllowed {
                    reason: "it is registered to another user",
                },
            )));
        }
        if claim.ceremony.organization != account.organization {
            return Err(Failure::from(TwoFactorError::Denied(
                Reason::OtherOrganization,
            )));
        }
        let rp_id = self.rp_id()?;
        let org = self.organization(account.organization).await?;
        let at = Timestamp::from_unix_seconds(now);
        let (outcome, events) = self
            .update_user(account.user, |record| {
                // Verified first: until then the caller has shown a credential
                // id at most, and learns nothing of its owner (locked, blocked).
                if let Err(error) = self.ceremonies()?.finish_authentication(
                    &claim.response,
                    &claim.ceremony.state,
                    &mut record.passkeys,
                    now,
                ) {
                    return Err(Failure::from(TwoFactorError::Passkey(error)));
                }
                if let Some(lock) = Self::throttled(&org.policy, record, now) {
                    return Err(Failure::from(TwoFactorError::Locked { lock }));
                }
                let (facts, _, _) = Self::facts(account, record, &org, 0);
                let sign_in = org.policy.sign_in(&facts, at);
                if sign_in.outcome == SignIn::Blocked {
                    return Err(Failure::from(TwoFactorError::Denied(sign_in.reason)));
                }
                // A role the policy refuses is blocked above, by `sign_in`.
                let decision = org.policy.passkey_sign_in(&facts);
                if decision.outcome == Permission::Denied {
                    // The passkey's use is stored (counter, last use); the
                    // throttle is not reset: no sign-in happened yet.
                    return Ok(Change::Write((
                        PasskeySignIn::PasswordRequired {
                            reason: decision.reason,
                        },
                        Vec::new(),
                    )));
                }
                record.challenge = None;
                record.throttle = ThrottleState::default();
                let signals = signals(&rp_id, account, record);
                Ok(Change::Write((
                    PasskeySignIn::SignedIn { signals },
                    vec![Event::SignInSucceeded {
                        user: account.user.to_string(),
                        factor: Factor::Passkey,
                        at,
                    }],
                )))
            })
            .await?;
        Ok(self.done(outcome, events).await)
    }

    /// The Signal API payloads for `account` as stored now: for the page after
    /// any sign-in (with a password and a second step too), so that the
    /// password manager shows the user's passkeys, and only those, under their
    /// current name.
    pub async fn passkey_signals(&self, account: &Account<'_>) -> Result<PasskeySignals, Failure> {
        let rp_id = self.rp_id()?;
        let record = self
            .store
            .load_user(account.user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        Ok(signals(&rp_id, account, &record))
    }

    /// The relying party id, or `PasskeysOff`.
    fn rp_id(&self) -> Result<String, Failure> {
        Ok(self.ceremonies()?.config().relying_party().id().to_string())
    }
}

/// The user handle registrations use ([`Account::user`]'s bytes), base64url.
fn user_id(account: &Account<'_>) -> String {
    Base64UrlUnpadded::encode_string(account.user.as_bytes())
}

/// `signalAllAcceptedCredentials`' options for the user of `record`.
pub(super) fn all_accepted(
    rp_id: &str,
    account: &Account<'_>,
    record: &UserRecord,
) -> AllAcceptedCredentials {
    AllAcceptedCredentials {
        rp_id: rp_id.to_string(),
        user_id: user_id(account),
        all_accepted_credential_ids: record
            .passkeys
            .iter()
            .map(|passkey| passkey.id().to_base64url())
            .collect(),
    }
}

fn signals(rp_id: &str, account: &Account<'_>, record: &UserRecord) -> PasskeySignals {
    PasskeySignals {
        all_accepted_credentials: all_accepted(rp_id, account, record),
        current_user_details: CurrentUserDetails {
            rp_id: rp_id.to_string(),
            user_id: user_id(account),
            name: account.name.to_string(),
            display_name: account.name.to_string(),
        },
    }
}
