//! Turning 2FA off, administration, erasure and enforcement.

use std::sync::Arc;

use twofold_policy::{
    Mode, Permission, Policy, PolicyDocument, Reason, ResetPermission, Timestamp, UserFacts,
};

use crate::error::{Failure, TwoFactorError};
use crate::events::{Event, TrustRevocation};
use crate::store::{OrganizationRecord, RemovedBy, ThrottleState};

use super::TwoFactor;
use super::record::*;
use super::trusted::revoke_browsers;
use super::types::*;

impl TwoFactor {
    /// "Disable 2FA": only if the policy allows it, with the application's proof
    /// that the password was just re-entered. Deletes every factor and the
    /// backup codes.
    pub async fn disable(
        &self,
        account: &Account<'_>,
        reauthenticated_at: Option<Timestamp>,
    ) -> Result<Done<()>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now().as_unix_seconds();
        let events = self
            .update_user(account.user, |record| {
                let (facts, _, _) = Self::facts(account, record, &org, 0);
                let decision = org.policy.self_disable(
                    &facts,
                    reauthenticated_at,
                    Timestamp::from_unix_seconds(now),
                );
                if decision.outcome == Permission::Denied {
                    return Err(Failure::from(TwoFactorError::Denied(decision.reason)));
                }
                let mut events = vec![Event::TwoFactorDisabled {
                    user: account.user.to_string(),
                    at: Timestamp::from_unix_seconds(now),
                }];
                revoke_browsers(
                    record,
                    account.user,
                    TrustRevocation::TwoFactorDisabled,
                    now,
                    &mut events,
                );
                clear_factors(record, &RemovedBy::User, now);
                self.announce(record, &events, now)?;
                Ok(Change::Write(events))
            })
            .await?;
        Ok(self.done((), events).await)
    }

    /// An owner or admin resets another user's 2FA ("Settings → Staff"), with a
    /// reason, per policy, after re-entering their own password. Both accounts
    /// must belong to one organization. Returns whether the user must enroll at
    /// their next sign-in.
    pub async fn admin_reset(
        &self,
        actor: &Account<'_>,
        target: &Account<'_>,
        reason: &str,
        reauthenticated_at: Option<Timestamp>,
    ) -> Result<Done<bool>, Failure> {
        same_organization(actor, target)?;
        let org = self.organization(target.organization).await?;
        let now = self.clock.now().as_unix_seconds();
        require_fresh(&org.policy, reauthenticated_at, now)?;
        let (must_enroll, events) = self
            .update_user(target.user, |record| {
                let (facts, _, _) = Self::facts(target, record, &org, 0);
                let decision = org.policy.admin_reset(
                    &UserFacts::new(actor.user, actor.role),
                    &facts,
                    reason,
                    Timestamp::from_unix_seconds(now),
                );
                let ResetPermission::Allowed {
                    must_enroll_at_next_sign_in,
                } = decision.outcome
                else {
                    return Err(Failure::from(TwoFactorError::Denied(decision.reason)));
                };
                let mut events = vec![Event::AdminReset {
                    actor: actor.user.to_string(),
                    target: target.user.to_string(),
                    reason: reason.to_string(),
                    at: Timestamp::from_unix_seconds(now),
                }];
                revoke_browsers(
                    record,
                    target.user,
                    TrustRevocation::AdminReset,
                    now,
                    &mut events,
                );
                clear_factors(
                    record,
                    &RemovedBy::Administrator {
                        actor: actor.user.to_string(),
                    },
                    now,
                );
                record.throttle = ThrottleState::default();
                self.announce(record, &events, now)?;
                Ok(Change::Write((must_enroll_at_next_sign_in, events)))
            })
            .await?;
        Ok(self.done(must_enroll, events).await)
    }

    /// An owner or admin unlocks another user's second step (after too many
    /// wrong codes), keeping their factors: with a reason, per policy
    /// (`may_unlock`), after re-entering their own password; both accounts in
    /// one organization. The only way out of a lockout at the failure ceiling
    /// besides a reset.
    pub async fn admin_unlock(
        &self,
        actor: &Account<'_>,
        target: &Account<'_>,
        reason: &str,
        reauthenticated_at: Option<Timestamp>,
    ) -> Result<Done<()>, Failure> {
        same_organization(actor, target)?;
        let org = self.organization(target.organization).await?;
        let now = self.clock.now().as_unix_seconds();
        require_fresh(&org.policy, reauthenticated_at, now)?;
        let decision = org.policy.admin_unlock(
            &UserFacts::new(actor.user, actor.role),
            &UserFacts::new(target.user, target.role),
            reason,
        );
        if decision.outcome == Permission::Denied {
            return Err(Failure::from(TwoFactorError::Denied(decision.reason)));
        }
        let events = self
            .update_user(target.user, |record| {
                record.throttle = ThrottleState::default();
                let events = vec![Event::Unlocked {
                    actor: actor.user.to_string(),
                    target: target.user.to_string(),
                    reason: reason.to_string(),
                    at: Timestamp::from_unix_seconds(now),
                }];
                self.announce(record, &events, now)?;
                Ok(Change::Write(events))
            })
            .await?;
        Ok(self.done((), events).await)
    }

    /// Forgets a user entirely, for an application that deletes the account:
    /// the record (factors, backup codes, pending setups, the throttle) is
    /// deleted and every passkey credential id bound to the user is unbound, so
    /// that nothing of them stays in the store ([`Store::delete_user`](crate::Store::delete_user)).
    /// Idempotent: a user without a record is already forgotten. It asks no
    /// policy: deleting the account is the application's decision.
    pub async fn forget_user(&self, account: &Account<'_>) -> Result<Done<()>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let forgotten = retry!({
            let Some(loaded) = self.store.load_user(account.user).await? else {
                return Ok(Attempt::Settled(false));
            };
            let deleted = self.store.delete_user(account.user, loaded.version).await;
            Ok(attempted(deleted)?.map(|()| true))
        })?;
        let events = if forgotten {
            vec![Event::UserForgotten {
                user: account.user.to_string(),
                at: Timestamp::from_unix_seconds(now),
            }]
        } else {
            Vec::new()
        };
        Ok(self.done((), events).await)
    }

    /// The owner changes the organization's enforcement ("Settings → Security →
    /// 2FA enforcement"), per policy, with its lock-out guard, after re-entering
    /// their password.
    pub async fn change_enforcement(
        &self,
        actor: &Account<'_>,
        mode: Mode,
        reauthenticated_at: Option<Timestamp>,
    ) -> Result<Done<()>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let actor_record = self
            .store
            .load_user(actor.user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        let from = retry!({
            let loaded = self.store.load_organization(actor.organization).await?;
            let (mut record, version) = match loaded {
                Some(v) => (v.value, Some(v.version)),
                None => (
                    OrganizationRecord {
                        policy: self.config.default_policy.clone(),
                        enforcement_since: None,
                    },
                    None,
                ),
            };
            let policy =
                Policy::from_document(record.policy.clone()).map_err(TwoFactorError::Policy)?;
            require_fresh(&policy, reauthenticated_at, now)?;
            let org = OrgPolicy {
                policy: Arc::new(policy),
                enforcement_since: record.enforcement_since,
            };
            let (facts, _, _) = Self::facts(actor, &actor_record, &org, 0);
            let decision = org.policy.change_enforcement(&facts, mode);
            if decision.outcome == Permission::Denied {
                return Err(TwoFactorError::Denied(decision.reason).into());
            }
            let from = record.policy.enforcement.mode;
            record.policy.enforcement.mode = mode;
            if mode == Mode::Required && from != Mode::Required {
                record.enforcement_since = Some(now);
            }
            Policy::from_document(record.policy.clone()).map_err(TwoFactorError::Policy)?;
            let saved = self
                .store
                .save_organization(actor.organization, &record, version)
                .await;
            Ok(attempted(saved)?.map(|_| from))
        })?;
        let events = vec![Event::EnforcementChanged {
            actor: actor.user.to_string(),
            organization: actor.organization.to_string(),
            from,
            to: mode,
            at: Timestamp::from_unix_seconds(now),
        }];
        Ok(self.done((), events).await)
    }

    /// What setting the organization's enforcement to `mode` would do to
    /// `members` at their next sign-in, shown to `actor` before they confirm
    /// [`change_enforcement`](Self::change_enforcement): the policy's
    /// [`dry_run`](Policy::dry_run) over the facts of each member's record,
    /// now and as the change would leave them (a change to `required` starts
    /// every grace period afresh, so deadlines count from the next sign-in).
    /// [`EnforcementPreview::newly_must_enroll`] and
    /// [`newly_blocked`](EnforcementPreview::newly_blocked) are whom the
    /// change itself affects; exemptions show in each decision's reason.
    ///
    /// Reads one record per member and writes nothing. Refused as the change
    /// itself would be ([`Policy::change_enforcement`]): a role that may not
    /// change enforcement ([`Reason::RoleMayNotChangeEnforcement`], or
    /// [`Reason::UnknownRole`]), or an actor without a second factor asking
    /// about `required` ([`Reason::ActorHasNoSecondFactor`]); and members of
    /// another organization ([`Reason::OtherOrganization`]).
    pub async fn preview_enforcement(
        &self,
        actor: &Account<'_>,
        mode: Mode,
        members: &[Account<'_>],
    ) -> Result<EnforcementPreview, Failure> {
        if members
            .iter()
            .any(|member| member.organization != actor.organization)
        {
            return Err(TwoFactorError::Denied(Reason::OtherOrganization).into());
        }
        let now = self.clock.now();
        let current = self.organization(actor.organization).await?;
        let actor_record = self
            .store
            .load_user(actor.user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        let (facts, _, _) = Self::facts(actor, &actor_record, &current, 0);
        let decision = current.policy.change_enforcement(&facts, mode);
        if decision.outcome == Permission::Denied {
            return Err(TwoFactorError::Denied(decision.reason).into());
        }
        // As change_enforcement leaves it: a change to required starts now.
        let enforcement_since = if mode == Mode::Required && current.policy.mode() != Mode::Required
        {
            Some(now.as_unix_seconds())
        } else {
            current.enforcement_since
        };
        let proposed = OrgPolicy {
            policy: Arc::new(
                current
                    .policy
                    .with_mode(mode)
                    .map_err(TwoFactorError::Policy)?,
            ),
            enforcement_since,
        };
        let mut records = Vec::with_capacity(members.len());
        for member in members {
            let record = self.store.load_user(member.user).await?;
            records.push(record.map(|v| v.value).unwrap_or_default());
        }
        let report = |org: &OrgPolicy| {
            let facts: Vec<UserFacts<'_>> = members
                .iter()
                .zip(&records)
                .map(|(member, record)| Self::facts(member, record, org, 0).0)
                .collect();
            org.policy.dry_run(&facts, now)
        };
        Ok(EnforcementPreview {
            current: report(&current),
            proposed: report(&proposed),
        })
    }

    /// Stores a whole policy document for an organization (validated first).
    pub async fn set_policy(
        &self,
        organization: &str,
        document: PolicyDocument,
    ) -> Result<(), Failure> {
        Policy::from_document(document.clone()).map_err(TwoFactorError::Policy)?;
        retry!({
            let loaded = self.store.load_organization(organization).await?;
            let version = loaded.as_ref().map(|v| v.version);
            let enforcement_since = loaded.and_then(|v| v.value.enforcement_since);
            let record = OrganizationRecord {
                policy: document.clone(),
                enforcement_since,
            };
            let saved = self
                .store
                .save_organization(organization, &record, version)
                .await;
            Ok(attempted(saved)?.map(|_| ()))
        })
    }
}
