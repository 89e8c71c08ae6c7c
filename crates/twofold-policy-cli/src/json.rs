//! Decisions as JSON, with the field names of the shared interface (the Python
//! binding uses the same).

use serde::{Serialize, Serializer};
use twofold_policy::{
    Decision, Methods, Permission, Policy, Reason, ResetPermission, SignIn, Throttle,
};

/// A set of methods as a JSON list, in the order totp, passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodsJson(pub Methods);

impl Serialize for MethodsJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|m| m.as_str()))
    }
}

fn reason_text<S: Serializer>(reason: &Reason, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(reason)
}

/// One decision: `outcome`, the outcome's own fields, `reason` (UI text),
/// `reason_code` and `rule` (the rule's path in the document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DecisionJson {
    /// `allow`, `challenge`, `must_enroll`, `blocked`, `allowed`, `denied`,
    /// `retry_after` or `locked`.
    pub outcome: &'static str,
    /// must_enroll: the end of the grace period, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<u64>,
    /// challenge, must_enroll: the methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methods: Option<MethodsJson>,
    /// must_enroll: whether the grace period still runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_defer: Option<bool>,
    /// challenge: whether a backup code may be offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<bool>,
    /// admin_reset allowed: whether the target enrolls again at next sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub must_enroll_at_next_sign_in: Option<bool>,
    /// retry_after: seconds to wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    /// locked: when the lockout ends (Unix seconds), or null until an
    /// administrator unlocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Option<u64>>,
    /// The reason's UI text.
    #[serde(serialize_with = "reason_text")]
    pub reason: Reason,
    /// The reason's stable code (`enrollment_due`).
    pub reason_code: &'static str,
    /// The rule's path (`roles.staff`).
    pub rule: String,
}

impl DecisionJson {
    fn new<T>(policy: &Policy, decision: &Decision<T>, outcome: &'static str) -> DecisionJson {
        DecisionJson {
            outcome,
            deadline: None,
            methods: None,
            can_defer: None,
            recovery: None,
            must_enroll_at_next_sign_in: None,
            seconds: None,
            until: None,
            reason: decision.reason,
            reason_code: decision.reason.code(),
            rule: policy.rule_path(decision.rule),
        }
    }

    /// A sign-in decision.
    pub fn sign_in(policy: &Policy, decision: &Decision<SignIn>) -> DecisionJson {
        let mut json = DecisionJson::new(policy, decision, sign_in_name(&decision.outcome));
        match decision.outcome {
            SignIn::Allow | SignIn::Blocked => {}
            SignIn::Challenge { methods, recovery } => {
                json.methods = Some(MethodsJson(methods));
                json.recovery = Some(recovery);
            }
            SignIn::MustEnroll {
                deadline,
                methods,
                can_defer,
            } => {
                json.deadline = Some(deadline.as_unix_seconds());
                json.methods = Some(MethodsJson(methods));
                json.can_defer = Some(can_defer);
            }
        }
        json
    }

    /// A permission (self_disable, admin_unlock, change_enforcement, ...).
    pub fn permission(policy: &Policy, decision: &Decision<Permission>) -> DecisionJson {
        let outcome = match decision.outcome {
            Permission::Allowed => "allowed",
            Permission::Denied => "denied",
        };
        DecisionJson::new(policy, decision, outcome)
    }

    /// An admin reset.
    pub fn reset(policy: &Policy, decision: &Decision<ResetPermission>) -> DecisionJson {
        match decision.outcome {
            ResetPermission::Allowed {
                must_enroll_at_next_sign_in,
            } => {
                let mut json = DecisionJson::new(policy, decision, "allowed");
                json.must_enroll_at_next_sign_in = Some(must_enroll_at_next_sign_in);
                json
            }
            ResetPermission::Denied => DecisionJson::new(policy, decision, "denied"),
        }
    }

    /// A throttle decision.
    pub fn throttle(policy: &Policy, decision: &Decision<Throttle>) -> DecisionJson {
        match decision.outcome {
            Throttle::Allowed => DecisionJson::new(policy, decision, "allowed"),
            Throttle::RetryAfter { seconds } => {
                let mut json = DecisionJson::new(policy, decision, "retry_after");
                json.seconds = Some(seconds);
                json
            }
            Throttle::Locked { until } => {
                let mut json = DecisionJson::new(policy, decision, "locked");
                json.until = Some(until.map(|t| t.as_unix_seconds()));
                json
            }
        }
    }
}

/// The outcome's name: `allow`, `challenge`, `must_enroll`, `blocked`.
pub fn sign_in_name(outcome: &SignIn) -> &'static str {
    match outcome {
        SignIn::Allow => "allow",
        SignIn::Challenge { .. } => "challenge",
        SignIn::MustEnroll { .. } => "must_enroll",
        SignIn::Blocked => "blocked",
    }
}
