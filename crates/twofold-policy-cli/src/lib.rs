#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod decide;
mod instant;
mod json;
mod policy_file;
mod report;
mod users;

use std::io::{BufRead, Read, Write};

pub use decide::{MAX_LINE_BYTES, Response, answer, decide};
pub use instant::{InstantError, parse_instant};
pub use json::{DecisionJson, MethodsJson, sign_in_name};
pub use policy_file::{
    CheckError, MAX_POLICY_BYTES, PolicyFileError, PolicyFormat, check, error_path, load_policy,
    summary,
};
pub use report::{Diff, DryRun, Group, Summary, diff, dry_run, outcome_text};
pub use twofold_policy::Timestamp;
pub use users::{
    FieldProblem, MAX_FIELD_BYTES, MAX_ROW_BYTES, MAX_USERS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS,
    RowProblem, UserRow, UsersError, UsersReader, read_users,
};

/// How a command ended: its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 0: valid, nobody blocked, no one newly blocked.
    Success,
    /// 1: the policy is invalid (`check`), someone would be blocked
    /// (`dry-run`), or NEW blocks someone OLD did not (`diff`).
    Refused,
    /// 2: bad input: a file that cannot be read, an invalid policy where one
    /// is needed, a bad row of users.csv, a bad `--at`.
    BadInput,
}

impl Status {
    /// The process exit code: 0, 1 or 2.
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Refused => 1,
            Status::BadInput => 2,
        }
    }
}

/// A named input: the name used in messages (a path, or `-` for stdin) and its reader.
#[derive(Debug)]
pub struct Input<R> {
    /// The path as given, or `-`.
    pub name: String,
    /// The contents.
    pub reader: R,
}

impl<R> Input<R> {
    /// An input named `name`.
    pub fn new(name: impl Into<String>, reader: R) -> Input<R> {
        Input {
            name: name.into(),
            reader,
        }
    }
}

/// Writes `message` to `err` and returns [`Status::BadInput`]. If `err` itself
/// fails there is nowhere left to report to.
fn bad_input(err: &mut impl Write, message: impl std::fmt::Display) -> Status {
    let _ = writeln!(err, "{message}");
    Status::BadInput
}

/// `twofold-policy check POLICY`.
pub fn check_command(
    policy: Input<impl Read>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Status {
    match check(&policy.name, policy.reader, out, err) {
        Ok(true) => Status::Success,
        Ok(false) => Status::Refused,
        Err(error) => bad_input(err, error),
    }
}

/// `twofold-policy dry-run POLICY --users USERS [--at DATE] [--json]`, at `at`.
pub fn dry_run_command(
    policy: Input<impl Read>,
    users: Input<impl Read>,
    at: Timestamp,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Status {
    let policy = match load_policy(&policy.name, policy.reader) {
        Ok(policy) => policy,
        Err(error) => return bad_input(err, error),
    };
    // Row by row: the report keeps of each user only what it shows.
    let mut report = DryRun::new(&policy, at);
    for row in UsersReader::new(&users.name, users.reader) {
        match row {
            Ok(row) => report.add(row),
            Err(error) => return bad_input(err, error),
        }
    }
    let written = if json {
        report.write_json(out)
    } else {
        report.write_table(out)
    };
    match written.and_then(|()| out.flush()) {
        Err(error) => bad_input(err, format_args!("writing the report: {error}")),
        Ok(()) if report.blocks_anyone() => Status::Refused,
        Ok(()) => Status::Success,
    }
}

/// `twofold-policy diff OLD NEW --users USERS [--at DATE] [--json]`, at `at`.
pub fn diff_command(
    old: Input<impl Read>,
    new: Input<impl Read>,
    users: Input<impl Read>,
    at: Timestamp,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Status {
    let old_policy = match load_policy(&old.name, old.reader) {
        Ok(policy) => policy,
        Err(error) => return bad_input(err, error),
    };
    let new_policy = match load_policy(&new.name, new.reader) {
        Ok(policy) => policy,
        Err(error) => return bad_input(err, error),
    };
    // Row by row: the report keeps only the users whose outcome changes.
    let mut report = Diff::new(&old_policy, &new_policy, at);
    for row in UsersReader::new(&users.name, users.reader) {
        match row {
            Ok(row) => report.add(row),
            Err(error) => return bad_input(err, error),
        }
    }
    let written = if json {
        report.write_json(out)
    } else {
        report.write_text(&old.name, &new.name, out)
    };
    match written.and_then(|()| out.flush()) {
        Err(error) => bad_input(err, format_args!("writing the report: {error}")),
        Ok(()) if report.blocks_anyone_new() => Status::Refused,
        Ok(()) => Status::Success,
    }
}

/// `twofold-policy decide POLICY`: requests from `input`, answers to `out`.
pub fn decide_command(
    policy: Input<impl Read>,
    input: impl BufRead,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Status {
    let policy = match load_policy(&policy.name, policy.reader) {
        Ok(policy) => policy,
        Err(error) => return bad_input(err, error),
    };
    match decide(&policy, input, out) {
        Ok(()) => Status::Success,
        Err(error) => bad_input(err, format_args!("decide: {error}")),
    }
}
