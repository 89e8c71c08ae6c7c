//! `Policy`: a validated policy and every decision of the engine.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use twofold_policy::{Mode, Timestamp};

use crate::decisions::{
    DryRunReport, PermissionDecision, ResetDecision, SignInDecision, ThrottleDecision, Why,
};
use crate::facts::{UserFacts, method, py_str};
use crate::time::{instant, optional_instant};
use crate::{dict, errors};

/// A validated policy (from TOML, JSON or a dict), and its decisions.
#[pyclass(frozen, eq, module = "twofold_policy")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    inner: twofold_policy::Policy,
}

/// A mode by its exact name (`off`, `optional`, `required`), as in policy
/// documents, the stubs' `Literal` and the command-line tool: not
/// `Mode::from_str`, which also takes other cases and surrounding spaces.
fn mode(text: &str) -> PyResult<Mode> {
    Mode::ALL
        .into_iter()
        .find(|mode| mode.as_str() == text)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "mode: expected \"off\", \"optional\" or \"required\", got {}",
                py_str(text)
            ))
        })
}

fn permission(
    policy: &twofold_policy::Policy,
    decision: twofold_policy::Decision<twofold_policy::Permission>,
) -> PermissionDecision {
    PermissionDecision {
        outcome: decision.outcome,
        why: Why::new(policy, &decision),
    }
}

impl Policy {
    fn sign_in_decision(&self, facts: &UserFacts, now: Timestamp) -> SignInDecision {
        let decision = self.inner.sign_in(&facts.as_rust(), now);
        SignInDecision {
            outcome: decision.outcome,
            why: Why::new(&self.inner, &decision),
        }
    }
}

fn built(
    py: Python<'_>,
    result: Result<twofold_policy::Policy, twofold_policy::PolicyError>,
) -> PyResult<Policy> {
    result
        .map(|inner| Policy { inner })
        .map_err(|error| errors::from_rust(py, error))
}

#[pymethods]
impl Policy {
    /// Reads and validates a TOML policy document.
    #[staticmethod]
    fn from_toml(py: Python<'_>, text: &str) -> PyResult<Policy> {
        built(py, twofold_policy::Policy::from_toml(text))
    }

    /// Reads and validates a JSON policy document.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Policy> {
        built(py, twofold_policy::Policy::from_json(text))
    }

    /// Validates a policy document given as a dict (as `json.loads` or
    /// `tomllib.loads` would give it; dates may also be `date`s or
    /// timezone-aware `datetime`s).
    #[staticmethod]
    fn from_dict(document: &Bound<'_, PyAny>) -> PyResult<Policy> {
        let py = document.py();
        let document = dict::document(document)?;
        built(py, twofold_policy::Policy::from_document(document))
    }

    /// The clinic example: owner, admin and staff; enforcement optional.
    #[staticmethod]
    fn example_clinic(py: Python<'_>) -> PyResult<Policy> {
        built(py, twofold_policy::Policy::example_clinic())
    }

    /// The document as TOML.
    fn to_toml(&self) -> String {
        self.inner.to_toml()
    }

    /// The document as JSON.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// The organization-wide mode: `off`, `optional` or `required`.
    #[getter]
    fn mode(&self) -> &'static str {
        self.inner.mode().as_str()
    }

    /// A copy with the organization's mode changed (re-validated). `mode` is
    /// exactly `off`, `optional` or `required`.
    fn with_mode(&self, py: Python<'_>, mode: &str) -> PyResult<Policy> {
        built(py, self.inner.with_mode(self::mode(mode)?))
    }

    /// The second step of sign-in for a user whose password was verified.
    fn sign_in(
        &self,
        facts: &Bound<'_, UserFacts>,
        now: &Bound<'_, PyAny>,
    ) -> PyResult<SignInDecision> {
        let now = instant(now, "now")?;
        Ok(self.sign_in_decision(facts.get(), now))
    }

    /// Whether enforcement requires a second factor of this user now.
    fn enforcement_applies(
        &self,
        facts: &Bound<'_, UserFacts>,
        now: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let now = instant(now, "now")?;
        Ok(self.inner.enforcement_applies(&facts.get().as_rust(), now))
    }

    /// Whether a user may turn off their own 2FA, given when they last
    /// re-entered their password (None: not recently).
    #[pyo3(signature = (facts, reauthenticated_at, now))]
    fn self_disable(
        &self,
        facts: &Bound<'_, UserFacts>,
        reauthenticated_at: Option<&Bound<'_, PyAny>>,
        now: &Bound<'_, PyAny>,
    ) -> PyResult<PermissionDecision> {
        let at = optional_instant(reauthenticated_at, "reauthenticated_at")?;
        let now = instant(now, "now")?;
        let decision = self.inner.self_disable(&facts.get().as_rust(), at, now);
        Ok(permission(&self.inner, decision))
    }

    /// Whether `actor` may reset `target`'s 2FA, for `reason`.
    fn admin_reset(
        &self,
        actor: &Bound<'_, UserFacts>,
        target: &Bound<'_, UserFacts>,
        reason: &str,
        now: &Bound<'_, PyAny>,
    ) -> PyResult<ResetDecision> {
        let now = instant(now, "now")?;
        let decision =
            self.inner
                .admin_reset(&actor.get().as_rust(), &target.get().as_rust(), reason, now);
        Ok(ResetDecision {
            outcome: decision.outcome,
            why: Why::new(&self.inner, &decision),
        })
    }

    /// Whether `actor` may unlock `target` (clear a lockout), for `reason`.
    fn admin_unlock(
        &self,
        actor: &Bound<'_, UserFacts>,
        target: &Bound<'_, UserFacts>,
        reason: &str,
    ) -> PermissionDecision {
        let decision =
            self.inner
                .admin_unlock(&actor.get().as_rust(), &target.get().as_rust(), reason);
        permission(&self.inner, decision)
    }

    /// Whether `actor` may set the organization's mode to `mode` (exactly
    /// `off`, `optional` or `required`).
    fn change_enforcement(
        &self,
        actor: &Bound<'_, UserFacts>,
        mode: &str,
    ) -> PyResult<PermissionDecision> {
        let decision = self
            .inner
            .change_enforcement(&actor.get().as_rust(), self::mode(mode)?);
        Ok(permission(&self.inner, decision))
    }

    /// The throttle before verifying a second factor, from the count of
    /// consecutive failures and the time of the last one.
    #[pyo3(signature = (failures, last_failure, now))]
    fn throttle(
        &self,
        failures: &Bound<'_, PyAny>,
        last_failure: Option<&Bound<'_, PyAny>>,
        now: &Bound<'_, PyAny>,
    ) -> PyResult<ThrottleDecision> {
        let failures = count(failures, "failures")?;
        let last = optional_instant(last_failure, "last_failure")?;
        let now = instant(now, "now")?;
        let decision = self.inner.throttle(failures, last, now);
        Ok(ThrottleDecision {
            outcome: decision.outcome,
            why: Why::new(&self.inner, &decision),
        })
    }

    /// Whether a passkey-first sign-in is both the password and the second factor.
    fn passkey_sign_in(&self, facts: &Bound<'_, UserFacts>) -> PermissionDecision {
        let decision = self.inner.passkey_sign_in(&facts.get().as_rust());
        permission(&self.inner, decision)
    }

    /// Whether users of `role` may unlock themselves with authenticator codes.
    fn self_unlock(&self, role: &str) -> PermissionDecision {
        permission(&self.inner, self.inner.self_unlock(role))
    }

    /// Whether users of `role` may set up `method` (`totp` or `passkey`).
    fn enrollment(&self, role: &str, method: &Bound<'_, PyAny>) -> PyResult<PermissionDecision> {
        let method = self::method(method, "method")?;
        Ok(permission(&self.inner, self.inner.enrollment(role, method)))
    }

    /// How many days users of `role` may trust a browser (0: never).
    fn trusted_browser_days(&self, role: &str) -> u32 {
        self.inner.trusted_browser_days(role)
    }

    /// This (proposed) policy applied to `users` at `now`: who would have to
    /// enroll, who would be blocked, who is exempt, who is unaffected.
    fn dry_run(&self, users: &Bound<'_, PyAny>, now: &Bound<'_, PyAny>) -> PyResult<DryRunReport> {
        let py = users.py();
        let now = instant(now, "now")?;
        let Ok(items) = users.try_iter() else {
            return Err(PyTypeError::new_err(format!(
                "users: expected an iterable of UserFacts, got {}",
                users.get_type().name()?
            )));
        };
        let mut bound = Vec::new();
        for (index, item) in items.enumerate() {
            let item = item?;
            let Ok(facts) = item.cast_into::<UserFacts>() else {
                return Err(PyTypeError::new_err(format!(
                    "users[{index}]: expected UserFacts"
                )));
            };
            bound.push(facts);
        }
        let facts: Vec<twofold_policy::UserFacts<'_>> =
            bound.iter().map(|facts| facts.get().as_rust()).collect();
        let inner = &self.inner;
        // The decisions need no Python: other threads run meanwhile.
        let report = py.detach(|| inner.dry_run(&facts, now));
        let convert = |list: Vec<(String, twofold_policy::Decision<twofold_policy::SignIn>)>| {
            list.into_iter()
                .map(|(user, decision)| {
                    let entry = SignInDecision {
                        outcome: decision.outcome,
                        why: Why::new(inner, &decision),
                    };
                    (user, entry)
                })
                .collect::<Vec<_>>()
        };
        let unaffected = convert(report.unaffected);
        let exempt = unaffected
            .iter()
            .filter(|(_, decision)| decision.reason_code_is("exempt"))
            .cloned()
            .collect();
        Ok(DryRunReport {
            must_enroll: convert(report.must_enroll),
            blocked: convert(report.blocked),
            exempt,
            unaffected,
        })
    }

    fn __repr__(&self) -> String {
        let roles: Vec<String> = self
            .inner
            .document()
            .roles
            .keys()
            .map(|r| py_str(r))
            .collect();
        format!(
            "Policy(mode={}, roles=[{}])",
            py_str(self.inner.mode().as_str()),
            roles.join(", ")
        )
    }
}

/// A count of failures: an int from 0 to 2**32 - 1.
fn count(value: &Bound<'_, PyAny>, name: &str) -> PyResult<u32> {
    if value.is_instance_of::<pyo3::types::PyBool>()
        || !value.is_instance_of::<pyo3::types::PyInt>()
    {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected an int, got {}",
            value.get_type().name()?
        )));
    }
    value
        .extract::<u32>()
        .map_err(|_| PyValueError::new_err(format!("{name}: must be between 0 and {}", u32::MAX)))
}

/// The same sign-in and throttle decisions as `bench/decisions.py` makes
/// through the binding, made in Rust in a loop for `seconds`: for the
/// benchmark's Rust column, in the same build. Returns
/// `(sign_in per second, throttle per second)`.
#[pyfunction]
#[pyo3(name = "_rust_decisions_per_second")]
pub(crate) fn rust_decisions_per_second(
    py: Python<'_>,
    policy: &Bound<'_, Policy>,
    users: Vec<Bound<'_, UserFacts>>,
    now: &Bound<'_, PyAny>,
    seconds: f64,
) -> PyResult<(f64, f64)> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(PyValueError::new_err(format!(
            "seconds: expected a positive number of seconds, got {seconds}"
        )));
    }
    let now = instant(now, "now")?;
    let policy = &policy.get().inner;
    let facts: Vec<twofold_policy::UserFacts<'_>> =
        users.iter().map(|facts| facts.get().as_rust()).collect();
    // Finite and positive, then clamped: the conversion cannot fail.
    let budget = Duration::from_secs_f64(seconds.clamp(0.01, 60.0) / 2.0);
    let rates = py.detach(|| {
        // Each batch makes about 1,000 decisions (at least one call), and the
        // clock is read after each: a long list of users does not overrun it.
        let rate = |decide: &dyn Fn() -> usize, per_call: usize| {
            let calls = (1000 / per_call.max(1)).max(1);
            let start = Instant::now();
            let mut decisions = 0u64;
            while start.elapsed() < budget {
                for _ in 0..calls {
                    decisions = decisions.saturating_add(decide() as u64);
                }
            }
            decisions as f64 / start.elapsed().as_secs_f64()
        };
        let sign_in = rate(
            &|| {
                for facts in &facts {
                    black_box(policy.sign_in(black_box(facts), black_box(now)));
                }
                facts.len()
            },
            facts.len(),
        );
        let throttle = rate(
            &|| {
                black_box(policy.throttle(black_box(5), black_box(Some(now)), black_box(now)));
                1
            },
            1,
        );
        (sign_in, throttle)
    });
    Ok(rates)
}
