//! The clinic's 2FA policy, from `policy.toml`: the roles are the clinic's, so
//! the clinic sets its policy itself (twofold's default is neutral).

use twofold::{Policy, PolicyDocument, TwoFactorError};

use crate::StartError;

/// The policy of `policy.toml`, built into the binary.
const POLICY: &str = include_str!("../policy.toml");

/// The clinic's policy document, validated.
pub(crate) fn clinic() -> Result<PolicyDocument, StartError> {
    Policy::from_toml(POLICY)
        .map(|policy| policy.document().clone())
        .map_err(|error| StartError::TwoFactor(TwoFactorError::Policy(error)))
}

#[cfg(test)]
mod tests {
    use twofold::factors::policy::{SignIn, UnknownRoles, UserFacts};
    use twofold::{Reason, Timestamp};

    use super::*;

    /// The file states the example's roles, and refuses any other role.
    #[test]
    fn the_clinic_states_its_roles_and_refuses_others() {
        let document = clinic().unwrap();
        assert_eq!(document.roles, PolicyDocument::example_clinic().roles);
        assert_eq!(document.unknown_role_rule(), UnknownRoles::Refuse);
        let policy = Policy::from_document(document).unwrap();
        let member = policy.sign_in(&UserFacts::new("m", "member"), Timestamp::default());
        assert_eq!(
            (member.outcome, member.reason),
            (SignIn::Blocked, Reason::UnknownRole)
        );
    }
}
