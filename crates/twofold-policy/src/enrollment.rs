//! Whether a user may set up a second factor.

use crate::decide::{Decision, Permission, Reason, decision};
use crate::document::Mode;
use crate::methods::Method;
use crate::policy::{Policy, Rule};

impl Policy {
    /// Whether users of `role` may set up `method`, and if not, why: their role
    /// is refused ([`Reason::UnknownRole`]), second factors are not offered
    /// (enforcement `off`: [`Reason::NotOffered`]), or the method does not count
    /// for their role ([`Reason::MethodNotAllowed`]).
    ///
    /// ```
    /// use twofold_policy::{Method, Permission, Policy, PolicyDocument, Reason};
    ///
    /// let clinic = Policy::example_clinic()?;
    /// assert_eq!(clinic.enrollment("staff", Method::Totp).outcome, Permission::Allowed);
    /// let member = clinic.enrollment("member", Method::Totp); // a role it does not name
    /// assert_eq!((member.outcome, member.reason), (Permission::Denied, Reason::UnknownRole));
    ///
    /// let neutral = Policy::from_document(PolicyDocument::default())?;
    /// assert_eq!(neutral.enrollment("member", Method::Totp).outcome, Permission::Allowed);
    /// # Ok::<(), twofold_policy::PolicyError>(())
    /// ```
    pub fn enrollment(&self, role: &str, method: Method) -> Decision<Permission> {
        let Some(role) = self.role(role) else {
            return decision(Permission::Denied, Reason::UnknownRole, Rule::Builtin);
        };
        if role.mode == Mode::Off {
            return decision(Permission::Denied, Reason::NotOffered, role.mode_rule);
        }
        if !role.methods.contains(method) {
            return decision(
                Permission::Denied,
                Reason::MethodNotAllowed,
                role.methods_rule,
            );
        }
        decision(Permission::Allowed, Reason::Permitted, role.methods_rule)
    }
}
