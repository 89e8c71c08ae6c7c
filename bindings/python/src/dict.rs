//! A policy document from a Python dict, converted value by value (no JSON
//! text in between), with the path of any value that cannot be converted.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};
use serde_path_to_error::Segment;
use twofold_policy::{PolicyDocument, Timestamp};

use crate::errors::{Kind, policy_error};
use crate::time::{date_class, datetime_class};

/// Nesting deeper than any policy document.
const MAX_DEPTH: usize = 32;

fn refuse(py: Python<'_>, path: &str, problem: String) -> PyErr {
    let field = if path.is_empty() {
        "(the document)"
    } else {
        path
    };
    policy_error(
        py,
        Kind::Field,
        format!("{field}: {problem}"),
        Some(field.to_string()),
        problem,
    )
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The document value of a Python object.
fn value(object: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<Value> {
    let py = object.py();
    if depth > MAX_DEPTH {
        return Err(refuse(py, path, "is nested too deeply".into()));
    }
    if object.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(flag) = object.cast::<PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if object.is_instance_of::<PyInt>() {
        if let Ok(n) = object.extract::<u64>() {
            return Ok(Value::Number(n.into()));
        }
        if let Ok(n) = object.extract::<i64>() {
            return Ok(Value::Number(n.into()));
        }
        return Err(refuse(
            py,
            path,
            format!("the integer {} is too large", object.repr()?),
        ));
    }
    if let Ok(float) = object.cast::<PyFloat>() {
        return match Number::from_f64(float.value()) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(refuse(
                py,
                path,
                format!("{} is not a number a document can hold", object.repr()?),
            )),
        };
    }
    if let Ok(text) = object.cast::<PyString>() {
        return Ok(Value::String(text.to_cow()?.into_owned()));
    }
    // Dates become the text the document format reads: a datetime keeps its
    // offset (a naive one has none, and is refused as in TOML), a date is midnight UTC.
    if object.is_instance(datetime_class(py)?)? || object.is_instance(date_class(py)?)? {
        let text: String = object.call_method0("isoformat")?.extract()?;
        return Ok(Value::String(text));
    }
    // Dicts and lists are read from a snapshot (`PyDict_Items`, `PyList_AsTuple`,
    // neither of which runs Python code): the Python code this walk calls
    // (`isinstance` may read a `__class__` property, `isoformat` may be a
    // subclass's) could change the dict or list meanwhile, and PyO3's dict
    // iterator panics when its dict changes size.
    if let Ok(dict) = object.cast::<PyDict>() {
        let mut map = Map::new();
        for entry in dict.items().iter() {
            let entry = entry.cast_into::<PyTuple>()?;
            let (key, item) = (entry.get_item(0)?, entry.get_item(1)?);
            let Ok(key) = key.cast::<PyString>() else {
                return Err(refuse(
                    py,
                    path,
                    format!(
                        "has the key {} ({}): keys must be strings",
                        key.repr()?,
                        key.get_type().name()?
                    ),
                ));
            };
            let key = key.to_cow()?;
            map.insert(
                key.to_string(),
                value(&item, &child(path, &key), depth + 1)?,
            );
        }
        return Ok(Value::Object(map));
    }
    let snapshot = if let Ok(list) = object.cast::<PyList>() {
        Some(list.to_tuple())
    } else {
        object.cast::<PyTuple>().ok().cloned()
    };
    if let Some(tuple) = snapshot {
        let mut items = Vec::with_capacity(tuple.len());
        for (index, item) in tuple.iter().enumerate() {
            items.push(value(&item, &format!("{path}[{index}]"), depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    Err(refuse(
        py,
        path,
        format!(
            "a {} cannot be part of a policy document (expected a dict, list, str, int, \
             float, bool, date or datetime)",
            object.get_type().name()?
        ),
    ))
}

fn path_text(path: &serde_path_to_error::Path) -> String {
    let mut text = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Map { key } => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Seq { index } => text.push_str(&format!("[{index}]")),
            Segment::Enum { variant } => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(variant);
            }
            Segment::Unknown => text.push('?'),
        }
    }
    text
}

/// Whether `path` is one of the document's dates.
fn is_date_field(path: &serde_path_to_error::Path) -> bool {
    let segments: Vec<&Segment> = path.iter().collect();
    match segments.as_slice() {
        [Segment::Map { key: table }, Segment::Map { key }] => {
            table == "enforcement" && key == "from"
        }
        [
            Segment::Map { key: table },
            Segment::Seq { .. },
            Segment::Map { key },
        ] => table == "exemptions" && key == "until",
        _ => false,
    }
}

fn lookup<'a>(document: &'a Value, path: &serde_path_to_error::Path) -> Option<&'a Value> {
    let mut value = document;
    for segment in path.iter() {
        value = match segment {
            Segment::Map { key } => value.get(key.as_str())?,
            Segment::Seq { index } => value.get(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Reads a dict into a document; every error names its field.
pub(crate) fn document(object: &Bound<'_, PyAny>) -> PyResult<PolicyDocument> {
    let py = object.py();
    if !object.is_instance_of::<PyDict>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "expected a dict, got {}",
            object.get_type().name()?
        )));
    }
    let document = value(object, "", 0)?;
    serde_path_to_error::deserialize::<_, PolicyDocument>(&document).map_err(|error| {
        let field = path_text(error.path());
        if is_date_field(error.path())
            && let Some(Value::String(text)) = lookup(&document, error.path())
            && let Err(source) = text.parse::<Timestamp>()
        {
            let problem = source.to_string();
            return policy_error(
                py,
                Kind::Date,
                format!("{field}: this date cannot be used: {problem}"),
                Some(field),
                problem,
            );
        }
        let problem = error.into_inner().to_string();
        // A missing field is named by the message, not the path.
        let field = match problem
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(missing) => child(&field, missing),
            None => field,
        };
        refuse(py, &field, problem)
    })
}
