//! The exception hierarchy: `PolicyError(ValueError)` with `.field` (the path
//! of the field, or `None` where the text could not be read) and `.problem`, and a subclass
//! for each kind of `twofold_policy::PolicyError`.

use std::ffi::CStr;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// Defined in Python, so that they are ordinary exception classes with a
/// constructor and attributes (`str(error)` is the full message).
const SOURCE: &CStr = cr#"
class PolicyError(ValueError):
    """A policy document was refused. `field` is the path of the field
    (`roles.staff.methods`, `exemptions[0].until`), or None where the text
    could not be read at all; `problem` says what is wrong with it."""

    field = None
    problem = ""

    def __init__(self, message, field=None, problem=""):
        super().__init__(message)
        self.field = field
        self.problem = problem


class PolicySyntaxError(PolicyError):
    """The text is not TOML or JSON at all (the message gives the line and
    column): `field` is None. (A value of the wrong type, an unknown or a
    missing field is an InvalidFieldError, from text as from a dict.)"""


class UnsupportedVersionError(PolicyError):
    """The document's `version` is not one this build reads; `field` is
    "version"."""


class InvalidFieldError(PolicyError):
    """A field has a value the policy cannot use or a value of the wrong
    type, is not a field of the document, or is missing."""


class InvalidDateError(PolicyError):
    """A date field (`enforcement.from`, `exemptions[i].until`) is malformed,
    lacks its UTC offset, or falls outside 1970 to 9999."""
"#;

/// The exception classes, by name, in the order of [`SOURCE`].
pub(crate) const NAMES: [&str; 5] = [
    "PolicyError",
    "PolicySyntaxError",
    "UnsupportedVersionError",
    "InvalidFieldError",
    "InvalidDateError",
];

static CLASSES: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    CLASSES
        .get_or_try_init(py, || {
            let module = PyModule::from_code(
                py,
                SOURCE,
                c"twofold_policy/_errors.py",
                c"twofold_policy._errors",
            )?;
            for name in NAMES {
                module
                    .getattr(name)?
                    .setattr("__module__", "twofold_policy")?;
            }
            Ok::<_, PyErr>(module.unbind())
        })
        .map(|module| module.bind(py))
}

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let errors = classes(module.py())?;
    for name in NAMES {
        module.add(name, errors.getattr(name)?)?;
    }
    Ok(())
}

/// Which class of [`NAMES`] a `twofold_policy::PolicyError` becomes.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Base,
    Syntax,
    Version,
    Field,
    Date,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Base => "PolicyError",
            Kind::Syntax => "PolicySyntaxError",
            Kind::Version => "UnsupportedVersionError",
            Kind::Field => "InvalidFieldError",
            Kind::Date => "InvalidDateError",
        }
    }
}

/// A Python exception of `kind`.
pub(crate) fn policy_error(
    py: Python<'_>,
    kind: Kind,
    message: String,
    field: Option<String>,
    problem: String,
) -> PyErr {
    let class = match classes(py).and_then(|m| m.getattr(kind.name())) {
        Ok(class) => class,
        Err(error) => return error,
    };
    let Ok(class) = class.cast_into::<PyType>() else {
        return pyo3::exceptions::PyValueError::new_err(message);
    };
    match class.call1((message, field, problem)) {
        Ok(instance) => PyErr::from_value(instance),
        Err(error) => error,
    }
}

/// The Python exception for a refused document.
pub(crate) fn from_rust(py: Python<'_>, error: twofold_policy::PolicyError) -> PyErr {
    use twofold_policy::PolicyError as E;
    let message = error.to_string();
    match error {
        // The reader failed inside a field (a value of the wrong type, an
        // unknown field): the same error as a dict's, with the position.
        E::Syntax {
            message: inner,
            field: Some(field),
            ..
        } => policy_error(py, Kind::Field, message, Some(field), inner),
        E::Syntax { message: inner, .. } => policy_error(py, Kind::Syntax, message, None, inner),
        E::UnsupportedVersion { .. } => policy_error(
            py,
            Kind::Version,
            message.clone(),
            Some("version".into()),
            message,
        ),
        E::Instant { field, source } => {
            let problem = source.to_string();
            let message = format!("{message}: {problem}");
            policy_error(py, Kind::Date, message, Some(field), problem)
        }
        E::Invalid { field, problem } => {
            policy_error(py, Kind::Field, message, Some(field), problem)
        }
        // A kind this binding does not know yet.
        _ => policy_error(py, Kind::Base, message.clone(), None, message),
    }
}
