//! The Python binding of [`twofold_policy`]: the `twofold_policy` module of the
//! `twofold-policy` wheel (built with maturin, one abi3 wheel for CPython 3.9
//! and later). Every decision of the engine, typed results, and Python
//! exceptions that name the field of a policy document that failed.
//!
//! Bad input from Python never panics: each conversion returns a `TypeError`,
//! `ValueError` or `PolicyError` that says what was wrong.

use pyo3::prelude::*;

mod decisions;
mod dict;
mod errors;
mod facts;
mod policy;
mod time;

/// The native module, `twofold_policy._native` (re-exported by the package).
#[pymodule]
#[pyo3(name = "_native")]
fn twofold_policy_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(module)?;
    module.add_class::<facts::UserFacts>()?;
    module.add_class::<policy::Policy>()?;
    module.add_class::<decisions::SignInDecision>()?;
    module.add_class::<decisions::PermissionDecision>()?;
    module.add_class::<decisions::ResetDecision>()?;
    module.add_class::<decisions::ThrottleDecision>()?;
    module.add_class::<decisions::DryRunReport>()?;
    module.add_function(wrap_pyfunction!(policy::rust_decisions_per_second, module)?)?;
    Ok(())
}
