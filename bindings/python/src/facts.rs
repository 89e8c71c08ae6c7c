//! `UserFacts`: what the application knows about a user.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use twofold_policy::{Method, Methods, Timestamp};

use crate::time;

/// What the application knows about a user, for one or many decisions.
#[pyclass(frozen, eq, hash, module = "twofold_policy")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct UserFacts {
    pub(crate) user: String,
    pub(crate) role: String,
    pub(crate) methods: Methods,
    pub(crate) backup_codes: bool,
    pub(crate) first_sign_in: Option<Timestamp>,
    pub(crate) exempt: bool,
}

impl UserFacts {
    /// The engine's borrowed view.
    pub(crate) fn as_rust(&self) -> twofold_policy::UserFacts<'_> {
        twofold_policy::UserFacts {
            user: &self.user,
            role: &self.role,
            enrolled: self.methods,
            has_backup_codes: self.backup_codes,
            first_sign_in_since_enforcement: self.first_sign_in,
            exempt: self.exempt,
        }
    }
}

/// A method name: `totp` or `passkey`.
pub(crate) fn method(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Method> {
    let Ok(text) = value.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected a method name (str: \"totp\" or \"passkey\"), got {}",
            value.get_type().name()?
        )));
    };
    match text.to_cow()?.as_ref() {
        "totp" => Ok(Method::Totp),
        "passkey" => Ok(Method::Passkey),
        "backup_codes" | "backup_code" | "backup" => Err(PyValueError::new_err(format!(
            "{name}: backup codes count only as recovery, not as a second-factor method \
             (UserFacts(backup_codes=True) says a user has them)"
        ))),
        other => Err(PyValueError::new_err(format!(
            "{name}: unknown method {other:?}: expected \"totp\" or \"passkey\""
        ))),
    }
}

/// A set of methods from an iterable of names (not a single string).
pub(crate) fn methods(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Methods> {
    if value.is_instance_of::<PyString>() || value.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected a list of method names, such as [\"totp\"], not a single string"
        )));
    }
    let Ok(items) = value.try_iter() else {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected a list of method names, got {}",
            value.get_type().name()?
        )));
    };
    let mut set = Methods::NONE;
    for (index, item) in items.enumerate() {
        set = set.with(method(&item?, &format!("{name}[{index}]"))?);
    }
    Ok(set)
}

/// Method names in the engine's order (totp, passkey).
pub(crate) fn method_names(set: Methods) -> Vec<&'static str> {
    set.iter().map(Method::as_str).collect()
}

#[pymethods]
impl UserFacts {
    /// `user` and `role` are the application's ids; `methods` the second
    /// factors the user has (`"totp"`, `"passkey"`); `backup_codes` whether
    /// they have unused backup codes; `first_sign_in` their first sign-in
    /// since enforcement began (a timezone-aware datetime or Unix seconds);
    /// `exempt` an exemption the application grants.
    #[new]
    #[pyo3(signature = (user, role, *, methods = None, backup_codes = false, first_sign_in = None, exempt = false))]
    fn new(
        user: String,
        role: String,
        methods: Option<&Bound<'_, PyAny>>,
        backup_codes: bool,
        first_sign_in: Option<&Bound<'_, PyAny>>,
        exempt: bool,
    ) -> PyResult<UserFacts> {
        let methods = match methods {
            Some(value) if !value.is_none() => self::methods(value, "methods")?,
            _ => Methods::NONE,
        };
        Ok(UserFacts {
            user,
            role,
            methods,
            backup_codes,
            first_sign_in: time::optional_instant(first_sign_in, "first_sign_in")?,
            exempt,
        })
    }

    /// The user's id.
    #[getter]
    fn user(&self) -> &str {
        &self.user
    }

    /// The user's role id.
    #[getter]
    fn role(&self) -> &str {
        &self.role
    }

    /// The second factors the user has, in the order totp, passkey.
    #[getter]
    fn methods<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, method_names(self.methods))
    }

    /// Whether the user has unused backup codes (recovery only).
    #[getter]
    fn backup_codes(&self) -> bool {
        self.backup_codes
    }

    /// The user's first sign-in since enforcement began, or None.
    #[getter]
    fn first_sign_in<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.first_sign_in
            .map(|t| time::to_datetime(py, t))
            .transpose()
    }

    /// Whether the application exempts the user from enforcement.
    #[getter]
    fn exempt(&self) -> bool {
        self.exempt
    }

    fn __repr__(&self) -> String {
        let first = match self.first_sign_in {
            Some(t) => format!("'{t}'"),
            None => "None".into(),
        };
        format!(
            "UserFacts(user={}, role={}, methods={}, backup_codes={}, first_sign_in={first}, exempt={})",
            py_str(&self.user),
            py_str(&self.role),
            py_methods(self.methods),
            py_bool(self.backup_codes),
            py_bool(self.exempt),
        )
    }
}

pub(crate) fn py_bool(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

/// A string as Python's `repr` writes it (for `__repr__`).
pub(crate) fn py_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A set of methods as Python's `repr` writes the tuple of their names.
pub(crate) fn py_methods(set: Methods) -> String {
    let names: Vec<String> = method_names(set).into_iter().map(py_str).collect();
    match names.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", names.join(", ")),
    }
}
