//! Instants from and to Python: Unix seconds (`int`) or a timezone-aware
//! `datetime` in, timezone-aware UTC `datetime`s out.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyType};
use twofold_policy::Timestamp;

/// The latest instant accepted (9999-12-31T23:59:59Z), as in policy documents.
pub(crate) const LATEST: u64 = 253_402_300_799;

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UTC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static EPOCH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

pub(crate) fn datetime_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    DATETIME.import(py, "datetime", "datetime")
}

pub(crate) fn date_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    DATE.import(py, "datetime", "date")
}

fn utc(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    UTC.get_or_try_init(py, || {
        Ok::<_, PyErr>(
            py.import("datetime")?
                .getattr("timezone")?
                .getattr("utc")?
                .unbind(),
        )
    })
    .map(|utc| utc.bind(py))
}

fn epoch(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    EPOCH
        .get_or_try_init(py, || {
            let utc = utc(py)?;
            Ok::<_, PyErr>(
                datetime_class(py)?
                    .call1((1970, 1, 1, 0, 0, 0, 0, utc))?
                    .unbind(),
            )
        })
        .map(|epoch| epoch.bind(py))
}

fn out_of_range(name: &str, shown: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!(
        "{name}: {shown} is out of range: an instant must fall between \
         1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z (Unix seconds 0 to {LATEST})"
    ))
}

/// Reads `value` (the argument `name`) as an instant.
pub(crate) fn instant(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Timestamp> {
    let py = value.py();
    if value.is_exact_instance_of::<PyInt>()
        || (value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>())
    {
        return match value.extract::<i64>() {
            Ok(seconds) => match u64::try_from(seconds) {
                Ok(seconds) if seconds <= LATEST => Ok(Timestamp::from_unix_seconds(seconds)),
                _ => Err(out_of_range(name, seconds)),
            },
            Err(_) => Err(out_of_range(name, "this integer")),
        };
    }
    if value.is_instance(datetime_class(py)?)? {
        if value.call_method0("utcoffset")?.is_none() {
            return Err(PyValueError::new_err(format!(
                "{name}: a naive datetime (without tzinfo) is ambiguous: give it a time \
                 zone, such as datetime.timezone.utc"
            )));
        }
        // Exact whole seconds (rounded down), without a float's rounding.
        let delta = value.sub(epoch(py)?)?;
        let days: i64 = delta.getattr("days")?.extract()?;
        let seconds: i64 = delta.getattr("seconds")?.extract()?;
        let total = days
            .checked_mul(86_400)
            .and_then(|s| s.checked_add(seconds));
        return match total.and_then(|t| u64::try_from(t).ok()) {
            Some(total) if total <= LATEST => Ok(Timestamp::from_unix_seconds(total)),
            _ => Err(out_of_range(name, value.repr()?)),
        };
    }
    let kind = value.get_type().name()?;
    let hint = if value.is_instance_of::<PyBool>() {
        " (a bool is not a time)"
    } else if value.is_instance_of::<PyFloat>() {
        " (use int(...) for Unix seconds: fractions are not kept)"
    } else if value.is_instance(date_class(py)?)? {
        " (a date is not an instant: use a datetime with a tzinfo)"
    } else {
        ""
    };
    Err(PyTypeError::new_err(format!(
        "{name}: expected a timezone-aware datetime or Unix seconds (int), got {kind}{hint}"
    )))
}

/// Reads an optional instant (`None` is `None`).
pub(crate) fn optional_instant(
    value: Option<&Bound<'_, PyAny>>,
    name: &str,
) -> PyResult<Option<Timestamp>> {
    match value {
        Some(value) if !value.is_none() => instant(value, name).map(Some),
        _ => Ok(None),
    }
}

/// A timezone-aware UTC `datetime` for `time`.
pub(crate) fn to_datetime<'py>(py: Python<'py>, time: Timestamp) -> PyResult<Bound<'py, PyAny>> {
    let seconds = time.as_unix_seconds();
    if seconds > LATEST {
        return Err(PyValueError::new_err(format!(
            "{seconds} seconds after 1970 falls after 9999-12-31, beyond what a Python \
             datetime can hold"
        )));
    }
    datetime_class(py)?.call_method1("fromtimestamp", (seconds, utc(py)?))
}
