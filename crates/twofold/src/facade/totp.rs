//! The authenticator app: setup and its confirmation.

use twofold_backup::NewBackupCodes;
use twofold_policy::{Method, Timestamp};
use twofold_totp::{Code, OtpAuthUri, OtpKind, Secret, Totp, TotpParams, Verification};

use crate::env::RngAdapter;
use crate::error::{Failure, TwoFactorError};
use crate::events::{Event, Factor, TrustRevocation};
use crate::store::{PendingTotp, RemovedBy, TotpFactor, UserRecord};

use super::TwoFactor;
use super::notifications::{retire, retired_totp};
use super::record::*;
use super::trusted::revoke_browsers;
use super::types::*;

impl TwoFactor {
    /// "Set up authenticator app": a new secret, as QR code and manual-entry text.
    /// Beginning again replaces the previous pending secret ("the QR is
    /// regenerated each time"); a pending setup expires.
    ///
    /// Needs a password re-entry within the policy's window (`reauthenticated_at`,
    /// from the application; the sign-in's own password counts right after it),
    /// and a policy that allows the authenticator app for the user's role.
    pub async fn begin_totp_enrollment(
        &self,
        account: &Account<'_>,
        reauthenticated_at: Option<Timestamp>,
    ) -> Result<Done<TotpEnrollment>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        self.check_enrollment(account, Method::Totp, reauthenticated_at, now)
            .await?;
        self.sweep_if_due(now).await;
        let expires_at = now.saturating_add(self.config.enrollment_ttl_seconds);
        let secret = Secret::generate_with(&mut RngAdapter(&*self.random))
            .map_err(|_| TwoFactorError::RandomnessUnavailable)?;
        let sealed = self.keyring.seal(&secret, account.user, &*self.random)?;
        let enrollment = self
            .totp_enrollment_view(account, secret, self.config.totp, expires_at)
            .await?;
        self.update_user(account.user, |record| {
            record.pending_totp = Some(PendingTotp {
                secret: sealed.clone(),
                created_at: now,
                expires_at,
                params: self.config.totp,
            });
            Ok(Change::Write(()))
        })
        .await?;
        let events = vec![Event::EnrollmentBegun {
            user: account.user.to_string(),
            factor: Factor::Totp,
            at: Timestamp::from_unix_seconds(now),
        }];
        Ok(self.done(enrollment, events).await)
    }

    /// The QR code and manual-entry secret of a TOTP setup in progress, again:
    /// for the page that shows a wrong code's error beside the same QR code, so
    /// that a mistyped code does not cost the user a new secret. `None` when no
    /// setup is pending or it has lapsed.
    ///
    /// It shows a secret, so it needs what showing it the first time needed: a
    /// password re-entry within the policy's window (`reauthenticated_at`). A
    /// pending setup outlives that window, and whoever holds only the session
    /// must not read the secret with a wrong code.
    pub async fn pending_totp_enrollment(
        &self,
        account: &Account<'_>,
        reauthenticated_at: Option<Timestamp>,
    ) -> Result<Option<TotpEnrollment>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let org = self.organization(account.organization).await?;
        require_fresh(&org.policy, reauthenticated_at, now)?;
        let Some(loaded) = self.store.load_user(account.user).await? else {
            return Ok(None);
        };
        let Some(pending) = loaded.value.pending_totp else {
            return Ok(None);
        };
        if now >= pending.expires_at {
            return Ok(None);
        }
        let secret = self.keyring.open(&pending.secret, account.user)?;
        let view = self
            .totp_enrollment_view(account, secret, pending.params, pending.expires_at)
            .await?;
        Ok(Some(view))
    }

    /// The URI, QR code and manual-entry text of `secret` for `account`.
    pub(super) async fn totp_enrollment_view(
        &self,
        account: &Account<'_>,
        secret: Secret,
        params: TotpParams,
        expires_at: u64,
    ) -> Result<TotpEnrollment, TwoFactorError> {
        let manual_entry_secret = secret.to_manual_entry();
        // The period too: a configured period other than 30 s used to reach the
        // stored parameters but not the QR code.
        let kind = OtpKind::Totp {
            period: params.period,
        };
        let uri = OtpAuthUri::new(kind, Some(&self.config.issuer), account.name, secret)
            .map_err(|error| TwoFactorError::Enrollment(error.into()))?
            .with_algorithm(params.algorithm)
            .with_digits(params.digits);
        // Rendering the QR code takes about a millisecond: off the executor too.
        let (otpauth_uri, qr_svg) = self
            .offload(move || uri.to_qr_svg().map(|svg| (uri.to_uri_string(), svg)))
            .await?
            .map_err(|error| TwoFactorError::Enrollment(error.into()))?;
        Ok(TotpEnrollment {
            otpauth_uri,
            qr_svg,
            manual_entry_secret,
            issuer: self.config.issuer.clone(),
            account_name: account.name.to_string(),
            expires_at: Timestamp::from_unix_seconds(expires_at),
        })
    }

    /// Confirms the pending authenticator app with a code from it. On success the
    /// factor is active, the confirming code can never sign in, and, if the user
    /// had none, 10 backup codes are returned this once.
    pub async fn confirm_totp_enrollment(
        &self,
        account: &Account<'_>,
        input: &str,
    ) -> Result<Done<FactorConfirmed>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let org = self.organization(account.organization).await?;
        offered(&org.policy, account.role, Method::Totp)?;
        let generated = self.backup_codes_if_needed(account.user).await?;
        let (confirmed, events) = self
            .update_user(account.user, |record| {
                let Some(pending) = record.pending_totp.clone() else {
                    return Err(Failure::from(TwoFactorError::NoPendingEnrollment));
                };
                if now >= pending.expires_at {
                    return Err(Failure::from(TwoFactorError::Expired));
                }
                let secret = self.keyring.open(&pending.secret, account.user)?;
                let (params, step) = self.confirming_match(&secret, pending.params, input, now)?;
                let mut events = Vec::new();
                if params != pending.params {
                    events.push(Event::TotpParametersAdjusted {
                        user: account.user.to_string(),
                        offered: AppParameters::of(&pending.params),
                        used: AppParameters::of(&params),
                        at: Timestamp::from_unix_seconds(now),
                    });
                }
                events.push(Event::EnrollmentConfirmed {
                    user: account.user.to_string(),
                    factor: Factor::Totp,
                    at: Timestamp::from_unix_seconds(now),
                });
                let factor = TotpFactor::new(pending.secret, params, now, Some(step));
                let codes_installed =
                    Self::install_totp(record, factor, generated.as_ref(), account, &mut events)?;
                self.announce(record, &events, now)?;
                Ok(Change::Write((codes_installed, events)))
            })
            .await?;
        let confirmed = FactorConfirmed {
            credential_id: None,
            backup_codes: generated.filter(|_| confirmed).map(|(_, codes)| codes),
        };
        Ok(self.done(confirmed, events).await)
    }

    /// Installs an authenticator app the user already has, from its
    /// `otpauth://` URI (`OtpAuthUri::parse_legacy`, or an entry of
    /// `twofold_totp::read_import` for a Google Authenticator export): for
    /// moving staff to the platform with the authenticators they use, without
    /// scanning a new QR code.
    ///
    /// What setting one up needs, it needs too: a policy that offers the
    /// authenticator app to the user's role, and a password re-entry within
    /// the policy's window (`reauthenticated_at`). It never replaces an
    /// existing authenticator ([`TwoFactorError::AlreadyEnrolled`]), and an
    /// HOTP entry is refused ([`TwoFactorError::NotTotp`]). The URI's
    /// algorithm, digits and period are kept; the window and T0 are the
    /// configuration's. The current time step, and those the window looks
    /// ahead to, count as spent, so that a code the old system just accepted
    /// cannot be used again here. If it is the
    /// user's first factor, 10 backup codes are returned this once.
    pub async fn import_totp(
        &self,
        account: &Account<'_>,
        uri: &OtpAuthUri,
        reauthenticated_at: Option<Timestamp>,
    ) -> Result<Done<FactorConfirmed>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        self.check_enrollment(account, Method::Totp, reauthenticated_at, now)
            .await?;
        let Some(imported) = uri.totp_params() else {
            return Err(Failure::from(TwoFactorError::NotTotp));
        };
        let params = TotpParams {
            algorithm: imported.algorithm,
            digits: imported.digits,
            period: imported.period,
            ..self.config.totp
        };
        // Spent: the current step and those the window looks ahead to, which
        // the old system may already have accepted.
        let spent = Totp::new(uri.secret(), params)
            .step_at(now)
            .map(|step| step.saturating_add(u64::from(params.window.ahead())));
        let sealed = self
            .keyring
            .seal(uri.secret(), account.user, &*self.random)?;
        let generated = self.backup_codes_if_needed(account.user).await?;
        let (installed, events) = self
            .update_user(account.user, |record| {
                if record.totp.is_some() {
                    return Err(Failure::from(TwoFactorError::AlreadyEnrolled(
                        "an authenticator app",
                    )));
                }
                let mut events = Vec::new();
                let factor = TotpFactor::new(sealed.clone(), params, now, spent);
                let codes_installed =
                    Self::install_totp(record, factor, generated.as_ref(), account, &mut events)?;
                self.announce(record, &events, now)?;
                Ok(Change::Write((codes_installed, events)))
            })
            .await?;
        let confirmed = FactorConfirmed {
            credential_id: None,
            backup_codes: generated.filter(|_| installed).map(|(_, codes)| codes),
        };
        Ok(self.done(confirmed, events).await)
    }

    /// Makes `factor` the user's authenticator app (a confirmed setup or an
    /// import): `FactorAdded`, and the backup codes if it is the first factor.
    /// Returns whether the codes were installed.
    fn install_totp(
        record: &mut UserRecord,
        factor: TotpFactor,
        generated: Option<&(String, NewBackupCodes)>,
        account: &Account<'_>,
        events: &mut Vec<Event>,
    ) -> Result<bool, TwoFactorError> {
        let now = factor.enrolled_at;
        if let Some(replaced) = record.totp.take() {
            // A new phone: the old app is removed, kept as history, and told.
            retire(record, retired_totp(&replaced, RemovedBy::User, now));
            events.push(Event::FactorRemoved {
                user: account.user.to_string(),
                factor: Factor::Totp,
                name: None,
                at: Timestamp::from_unix_seconds(now),
            });
        }
        events.push(Event::FactorAdded {
            user: account.user.to_string(),
            factor: Factor::Totp,
            name: None,
            at: Timestamp::from_unix_seconds(now),
        });
        let codes_installed = Self::backup_codes_for_first_factor(
            record,
            generated.map(|(stored, _)| stored.as_str()),
            account,
            now,
            events,
        )?;
        record.totp = Some(factor);
        record.pending_totp = None;
        revoke_browsers(
            record,
            account.user,
            TrustRevocation::FactorChanged,
            now,
            events,
        );
        Ok(codes_installed)
    }

    /// The parameters a confirming code matches, and its step: the offered
    /// ones first, then each configured fallback in turn (a short list, at most
    /// [`MAX_TOTP_FALLBACKS`]), with the offered window and T0. A code that
    /// matches none is wrong; one that cannot be read as any is invalid.
    fn confirming_match(
        &self,
        secret: &Secret,
        offered: TotpParams,
        input: &str,
        now: u64,
    ) -> Result<(TotpParams, u64), Failure> {
        let fallbacks = self
            .config
            .totp_fallbacks
            .iter()
            .filter_map(|fallback| fallback.apply(&offered))
            .filter(|params| AppParameters::of(params) != AppParameters::of(&offered));
        let mut unreadable = None;
        let mut readable = false;
        for params in std::iter::once(offered).chain(fallbacks) {
            let code = match Code::parse(input, params.digits) {
                Ok(code) => code,
                Err(error) => {
                    unreadable.get_or_insert(error);
                    continue;
                }
            };
            readable = true;
            if let Verification::Accepted { step, .. } =
                Totp::new(secret, params).verify_code(&code, now, None)
            {
                return Ok((params, step));
            }
        }
        match unreadable {
            Some(error) if !readable => {
                Err(Failure::from(TwoFactorError::InvalidCode(error.into())))
            }
            _ => Err(Failure::from(TwoFactorError::WrongCode)),
        }
    }
}
