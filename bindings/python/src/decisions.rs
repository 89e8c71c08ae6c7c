//! The typed results of decisions: an outcome name, the reason (UI text and
//! a stable code), the rule's path, and the outcome's own fields.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use twofold_policy::{Decision, Permission, Reason, ResetPermission, SignIn, Throttle};

use crate::facts::{method_names, py_bool, py_methods, py_str};
use crate::time;

/// What every decision carries besides its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Why {
    reason: Reason,
    rule: String,
}

impl Why {
    pub(crate) fn new<T>(policy: &twofold_policy::Policy, decision: &Decision<T>) -> Why {
        Why {
            reason: decision.reason,
            rule: policy.rule_path(decision.rule),
        }
    }

    fn repr_tail(&self) -> String {
        format!(
            "reason_code={}, rule={}",
            py_str(self.reason.code()),
            py_str(&self.rule)
        )
    }
}

fn time_or_none<'py>(
    py: Python<'py>,
    time: Option<twofold_policy::Timestamp>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    time.map(|t| time::to_datetime(py, t)).transpose()
}

/// The second step of sign-in: `outcome` is `allow`, `challenge` (with
/// `methods` and `recovery`), `must_enroll` (with `deadline`, `deadline_unix`,
/// `methods` and `can_defer`) or `blocked`. Fields that do not belong to the outcome are None.
#[pyclass(frozen, eq, hash, module = "twofold_policy")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SignInDecision {
    pub(crate) outcome: SignIn,
    pub(crate) why: Why,
}

impl SignInDecision {
    pub(crate) fn reason_code_is(&self, code: &str) -> bool {
        self.why.reason.code() == code
    }

    fn deadline_time(&self) -> Option<twofold_policy::Timestamp> {
        match self.outcome {
            SignIn::MustEnroll { deadline, .. } => Some(deadline),
            _ => None,
        }
    }

    pub(crate) fn outcome_name(&self) -> &'static str {
        match self.outcome {
            SignIn::Allow => "allow",
            SignIn::Challenge { .. } => "challenge",
            SignIn::MustEnroll { .. } => "must_enroll",
            SignIn::Blocked => "blocked",
        }
    }
}

#[pymethods]
impl SignInDecision {
    /// `allow`, `challenge`, `must_enroll` or `blocked`.
    #[getter]
    fn outcome(&self) -> &'static str {
        self.outcome_name()
    }

    /// Why, as UI text.
    #[getter]
    fn reason(&self) -> String {
        self.why.reason.to_string()
    }

    /// Why, as a stable snake-case code (`enrollment_due`).
    #[getter]
    fn reason_code(&self) -> &'static str {
        self.why.reason.code()
    }

    /// The path of the rule that decided (`roles.staff`, `enforcement`).
    #[getter]
    fn rule(&self) -> &str {
        &self.why.rule
    }

    /// `challenge`: the methods to offer; `must_enroll`: the methods that count.
    #[getter]
    fn methods<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        match self.outcome {
            SignIn::Challenge { methods, .. } | SignIn::MustEnroll { methods, .. } => {
                PyTuple::new(py, method_names(methods)).map(Some)
            }
            SignIn::Allow | SignIn::Blocked => Ok(None),
        }
    }

    /// `challenge`: whether "use a backup code" may be offered.
    #[getter]
    fn recovery(&self) -> Option<bool> {
        match self.outcome {
            SignIn::Challenge { recovery, .. } => Some(recovery),
            _ => None,
        }
    }

    /// `must_enroll`: the end of the user's grace period (a UTC datetime).
    /// A deadline past 9999-12-31, which a datetime cannot hold, raises
    /// ValueError: `deadline_unix` holds every deadline.
    #[getter]
    fn deadline<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        time_or_none(py, self.deadline_time())
    }

    /// `must_enroll`: the end of the user's grace period, in Unix seconds.
    #[getter]
    fn deadline_unix(&self) -> Option<u64> {
        self.deadline_time().map(|t| t.as_unix_seconds())
    }

    /// `must_enroll`: whether the user may still continue this time.
    #[getter]
    fn can_defer(&self) -> Option<bool> {
        match self.outcome {
            SignIn::MustEnroll { can_defer, .. } => Some(can_defer),
            _ => None,
        }
    }

    /// How restrictive the outcome is: allow 0, challenge 1, must_enroll that
    /// can be deferred 2, must_enroll 3, blocked 4.
    #[getter]
    fn strictness(&self) -> u8 {
        self.outcome.strictness()
    }

    fn __repr__(&self) -> String {
        let fields = match self.outcome {
            SignIn::Challenge { methods, recovery } => format!(
                ", methods={}, recovery={}",
                py_methods(methods),
                py_bool(recovery)
            ),
            SignIn::MustEnroll {
                deadline,
                methods,
                can_defer,
            } => format!(
                ", deadline='{deadline}', methods={}, can_defer={}",
                py_methods(methods),
                py_bool(can_defer)
            ),
            SignIn::Allow | SignIn::Blocked => String::new(),
        };
        format!(
            "SignInDecision(outcome={}{fields}, {})",
            py_str(self.outcome_name()),
            self.why.repr_tail()
        )
    }
}

/// A permission: `outcome` is `allowed` or `denied`.
#[pyclass(frozen, eq, hash, module = "twofold_policy")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PermissionDecision {
    pub(crate) outcome: Permission,
    pub(crate) why: Why,
}

impl PermissionDecision {
    fn outcome_name(&self) -> &'static str {
        match self.outcome {
            Permission::Allowed => "allowed",
            Permission::Denied => "denied",
        }
    }
}

#[pymethods]
impl PermissionDecision {
    /// `allowed` or `denied`.
    #[getter]
    fn outcome(&self) -> &'static str {
        self.outcome_name()
    }

    /// Whether the outcome is `allowed`.
    #[getter]
    fn allowed(&self) -> bool {
        self.outcome == Permission::Allowed
    }

    /// Why, as UI text.
    #[getter]
    fn reason(&self) -> String {
        self.why.reason.to_string()
    }

    /// Why, as a stable snake-case code.
    #[getter]
    fn reason_code(&self) -> &'static str {
        self.why.reason.code()
    }

    /// The path of the rule that decided.
    #[getter]
    fn rule(&self) -> &str {
        &self.why.rule
    }

    fn __repr__(&self) -> String {
        format!(
            "PermissionDecision(outcome={}, {})",
            py_str(self.outcome_name()),
            self.why.repr_tail()
        )
    }
}

/// An administrator's reset of another user's 2FA: `outcome` is `allowed`
/// (with `must_enroll_at_next_sign_in`) or `denied`.
#[pyclass(frozen, eq, hash, module = "twofold_policy")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ResetDecision {
    pub(crate) outcome: ResetPermission,
    pub(crate) why: Why,
}

impl ResetDecision {
    fn outcome_name(&self) -> &'static str {
        match self.outcome {
            ResetPermission::Allowed { .. } => "allowed",
            ResetPermission::Denied => "denied",
        }
    }
}

#[pymethods]
impl ResetDecision {
    /// `allowed` or `denied`.
    #[getter]
    fn outcome(&self) -> &'static str {
        self.outcome_name()
    }

    /// Whether the outcome is `allowed`.
    #[getter]
    fn allowed(&self) -> bool {
        matches!(self.outcome, ResetPermission::Allowed { .. })
    }

    /// `allowed`: whether the user must enroll again at their next sign-in.
    #[getter]
    fn must_enroll_at_next_sign_in(&self) -> Option<bool> {
        match self.outcome {
            ResetPermission::Allowed {
                must_enroll_at_next_sign_in,
            } => Some(must_enroll_at_next_sign_in),
            ResetPermission::Denied => None,
        }
    }

    /// Why, as UI text.
    #[getter]
    fn reason(&self) -> String {
        self.why.reason.to_string()
    }

    /// Why, as a stable snake-case code.
    #[getter]
    fn reason_code(&self) -> &'static str {
        self.why.reason.code()
    }

    /// The path of the rule that decided.
    #[getter]
    fn rule(&self) -> &str {
        &self.why.rule
    }

    fn __repr__(&self) -> String {
        let fields = match self.outcome {
            ResetPermission::Allowed {
                must_enroll_at_next_sign_in,
            } => format!(
                ", must_enroll_at_next_sign_in={}",
                py_bool(must_enroll_at_next_sign_in)
            ),
            ResetPermission::Denied => String::new(),
        };
        format!(
            "ResetDecision(outcome={}{fields}, {})",
            py_str(self.outcome_name()),
            self.why.repr_tail()
        )
    }
}

/// The throttle before verifying a second factor: `outcome` is `allowed`,
/// `retry_after` (with `seconds`) or `locked` (with `until`, a UTC datetime,
/// and `until_unix`; None until an administrator resets it).
#[pyclass(frozen, eq, hash, module = "twofold_policy")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ThrottleDecision {
    pub(crate) outcome: Throttle,
    pub(crate) why: Why,
}

impl ThrottleDecision {
    fn until_time(&self) -> Option<twofold_policy::Timestamp> {
        match self.outcome {
            Throttle::Locked { until } => until,
            _ => None,
        }
    }

    fn outcome_name(&self) -> &'static str {
        match self.outcome {
            Throttle::Allowed => "allowed",
            Throttle::RetryAfter { .. } => "retry_after",
            Throttle::Locked { .. } => "locked",
        }
    }
}

#[pymethods]
impl ThrottleDecision {
    /// `allowed`, `retry_after` or `locked`.
    #[getter]
    fn outcome(&self) -> &'static str {
        self.outcome_name()
    }

    /// `retry_after`: the seconds to wait.
    #[getter]
    fn seconds(&self) -> Option<u64> {
        match self.outcome {
            Throttle::RetryAfter { seconds } => Some(seconds),
            _ => None,
        }
    }

    /// `locked`: when the lockout ends (None: at an administrator's reset).
    /// An end past 9999-12-31, which a datetime cannot hold, raises
    /// ValueError: `until_unix` holds every end.
    #[getter]
    fn until<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        time_or_none(py, self.until_time())
    }

    /// `locked`: when the lockout ends, in Unix seconds (None: at an
    /// administrator's reset).
    #[getter]
    fn until_unix(&self) -> Option<u64> {
        self.until_time().map(|t| t.as_unix_seconds())
    }

    /// Why, as UI text.
    #[getter]
    fn reason(&self) -> String {
        self.why.reason.to_string()
    }

    /// Why, as a stable snake-case code.
    #[getter]
    fn reason_code(&self) -> &'static str {
        self.why.reason.code()
    }

    /// The path of the rule that decided (`throttle`).
    #[getter]
    fn rule(&self) -> &str {
        &self.why.rule
    }

    fn __repr__(&self) -> String {
        let fields = match self.outcome {
            Throttle::RetryAfter { seconds } => format!(", seconds={seconds}"),
            Throttle::Locked { until: Some(until) } => format!(", until='{until}'"),
            Throttle::Locked { until: None } => ", until=None".into(),
            Throttle::Allowed => String::new(),
        };
        format!(
            "ThrottleDecision(outcome={}{fields}, {})",
            py_str(self.outcome_name()),
            self.why.repr_tail()
        )
    }
}

/// Who a proposed policy would affect, from `Policy.dry_run`: lists of
/// `(user id, SignInDecision)` in input order.
#[pyclass(frozen, eq, module = "twofold_policy")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DryRunReport {
    pub(crate) must_enroll: Vec<(String, SignInDecision)>,
    pub(crate) blocked: Vec<(String, SignInDecision)>,
    pub(crate) exempt: Vec<(String, SignInDecision)>,
    pub(crate) unaffected: Vec<(String, SignInDecision)>,
}

fn entries<'py>(
    py: Python<'py>,
    list: &[(String, SignInDecision)],
) -> PyResult<Bound<'py, PyList>> {
    let items = list
        .iter()
        .map(|(user, decision)| {
            let decision = Bound::new(py, decision.clone())?;
            PyTuple::new(
                py,
                [user.into_pyobject(py)?.into_any(), decision.into_any()],
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

#[pymethods]
impl DryRunReport {
    /// Users who would have to set up a second factor.
    #[getter]
    fn must_enroll<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        entries(py, &self.must_enroll)
    }

    /// Users who could not sign in at all.
    #[getter]
    fn blocked<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        entries(py, &self.blocked)
    }

    /// Users exempt from enforcement (reason_code `exempt`; also unaffected).
    #[getter]
    fn exempt<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        entries(py, &self.exempt)
    }

    /// Users whose sign-in goes on as allowed or challenged.
    #[getter]
    fn unaffected<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        entries(py, &self.unaffected)
    }

    /// The counts: `{"must_enroll": n, "blocked": n, "exempt": n, "unaffected": n}`.
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let summary = PyDict::new(py);
        summary.set_item("must_enroll", self.must_enroll.len())?;
        summary.set_item("blocked", self.blocked.len())?;
        summary.set_item("exempt", self.exempt.len())?;
        summary.set_item("unaffected", self.unaffected.len())?;
        Ok(summary)
    }

    fn __repr__(&self) -> String {
        format!(
            "DryRunReport(must_enroll={}, blocked={}, exempt={}, unaffected={})",
            self.must_enroll.len(),
            self.blocked.len(),
            self.exempt.len(),
            self.unaffected.len()
        )
    }
}
