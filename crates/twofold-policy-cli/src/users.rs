//! users.csv: one user per row, read into owned rows with bounded memory.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read};

use twofold_policy::{Method, Methods, Timestamp, UserFacts};

use crate::instant::{InstantError, parse_instant};

/// The longest row accepted, in bytes (a real row is well under 1 KiB).
pub const MAX_ROW_BYTES: u64 = 4096;
/// The longest field accepted, in bytes (user ids, roles).
pub const MAX_FIELD_BYTES: usize = 256;
/// The most users read from one file. A dry run keeps each user's id, role
/// and decision (about 120 bytes a user besides the id): at 2 million users
/// its peak resident memory was 250 MiB with 25-byte ids and 680 MiB with
/// 256-byte ids. `diff` keeps only the users whose outcome changes: 3 MiB if
/// nobody's does, 750 MiB if all 2 million users' with 256-byte ids do
/// (`bash benches/policy-memory.sh`). Each distinct role is held once: a
/// file whose every row has a role of its own adds about its length again
/// per user (up to some 600 MiB more with 256-byte roles).
pub const MAX_USERS: usize = 2_000_000;
/// The CSV reader's buffer: with [`MAX_ROW_BYTES`], the most it ever holds.
const BUFFER_BYTES: usize = 8 * 1024;

/// The columns every users.csv has.
pub const REQUIRED_COLUMNS: [&str; 4] = ["user", "role", "methods", "first_sign_in"];
/// The columns a users.csv may have (false if absent).
pub const OPTIONAL_COLUMNS: [&str; 2] = ["backup_codes", "exempt"];

/// One user of users.csv, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    /// The user's id.
    pub user: String,
    /// The user's role id.
    pub role: String,
    /// The second factors they have.
    pub methods: Methods,
    /// Whether they have unused backup codes.
    pub backup_codes: bool,
    /// Their first sign-in since enforcement began, if any.
    pub first_sign_in: Option<Timestamp>,
    /// Whether the application exempts them.
    pub exempt: bool,
}

impl UserRow {
    /// The facts the engine decides on.
    pub fn facts(&self) -> UserFacts<'_> {
        UserFacts {
            user: &self.user,
            role: &self.role,
            enrolled: self.methods,
            has_backup_codes: self.backup_codes,
            first_sign_in_since_enforcement: self.first_sign_in,
            exempt: self.exempt,
        }
    }
}

/// A row of users.csv that could not be read: `users.csv:4: first_sign_in: ...`.
#[derive(Debug, thiserror::Error)]
#[error("{name}:{line}: {problem}")]
#[non_exhaustive]
pub struct UsersError {
    /// The file name as given (`-` for stdin).
    pub name: String,
    /// The line the problem is on (1: the header).
    pub line: u64,
    /// What was wrong.
    #[source]
    pub problem: RowProblem,
}

/// What was wrong with a row of users.csv.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RowProblem {
    /// The file is empty: it needs a header row.
    #[error("no header row (expected the columns user,role,methods,first_sign_in)")]
    NoHeader,
    /// A required column is missing from the header.
    #[error("the header has no `{0}` column (required: user, role, methods, first_sign_in)")]
    MissingColumn(&'static str),
    /// The header names a column this tool does not read.
    #[error(
        "unknown column {0:?} (the columns are user, role, methods, first_sign_in, backup_codes, exempt)"
    )]
    UnknownColumn(String),
    /// The header names a column twice.
    #[error("the column `{0}` appears twice")]
    DuplicateColumn(&'static str),
    /// A row has more or fewer fields than the header.
    #[error("{found} fields, but the header has {expected}")]
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// A row is longer than [`MAX_ROW_BYTES`].
    #[error("the row is longer than {MAX_ROW_BYTES} bytes")]
    RowTooLong,
    /// More than [`MAX_USERS`] rows.
    #[error("more than {MAX_USERS} users: split the file")]
    TooManyUsers,
    /// A field's value cannot be used.
    #[error("{column}: {problem}")]
    Field {
        /// The column.
        column: &'static str,
        /// What is wrong with the value.
        problem: FieldProblem,
    },
    /// The CSV itself is malformed (the reader's message).
    #[error("{0}")]
    Csv(String),
    /// The file could not be read.
    #[error("cannot be read: {0}")]
    Io(#[source] io::Error),
}

/// What is wrong with one field of users.csv.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldProblem {
    /// Required and empty.
    #[error("must not be empty")]
    Empty,
    /// Longer than [`MAX_FIELD_BYTES`].
    #[error("longer than {MAX_FIELD_BYTES} bytes")]
    TooLong,
    /// Not UTF-8 text.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// Holds a control character (a tab, a terminal escape).
    #[error("holds a control character")]
    ControlCharacter,
    /// A method other than `totp` or `passkey`.
    #[error("{0:?} is not a method (expected totp, passkey, separated by `;` or spaces)")]
    UnknownMethod(String),
    /// Backup codes listed as a method.
    #[error("backup codes are not a second-factor method: use the backup_codes column")]
    BackupCodesAsMethod,
    /// Not a yes/no value.
    #[error("{0:?} is not true, false, yes, no, 1, 0 or empty")]
    NotABool(String),
    /// Not a date.
    #[error("{value:?}: {source}")]
    Date {
        /// The field's text (its first 40 characters).
        value: String,
        /// Why it is not a date.
        #[source]
        source: InstantError,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    User,
    Role,
    Methods,
    FirstSignIn,
    BackupCodes,
    Exempt,
}

impl Column {
    const ALL: [Column; 6] = [
        Column::User,
        Column::Role,
        Column::Methods,
        Column::FirstSignIn,
        Column::BackupCodes,
        Column::Exempt,
    ];

    fn name(self) -> &'static str {
        match self {
            Column::User => "user",
            Column::Role => "role",
            Column::Methods => "methods",
            Column::FirstSignIn => "first_sign_in",
            Column::BackupCodes => "backup_codes",
            Column::Exempt => "exempt",
        }
    }

    fn required(self) -> bool {
        !matches!(self, Column::BackupCodes | Column::Exempt)
    }
}

/// Where [`Bounded`] is in the CSV, as the csv crate's parser would be (its
/// default dialect: `,`, `"` doubled to escape, CR, LF or CRLF ending a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Between rows: line breaks here are blank lines, which CSV skips.
    BetweenRows,
    /// At the start of a field, where a quote opens a quoted field.
    FieldStart,
    /// In an unquoted field (a quote here is text).
    Unquoted,
    /// In a quoted field (line breaks here are the field's text).
    Quoted,
    /// A quote in a quoted field: a doubled quote, or the closing one.
    QuoteInQuoted,
}

/// The input, refusing to supply more than [`MAX_ROW_BYTES`] of one row, so
/// that no row, however long, makes the CSV reader allocate without bound.
/// It follows the rows as the parser does, so that blank lines between rows
/// (skipped by CSV, and any number of them) do not count, while line breaks
/// inside a quoted field do; and it counts lines as the parser does (each LF),
/// noting the line each row starts on. (The csv crate's record position is
/// where its search for the row began, before any blank lines.)
struct Bounded<R> {
    inner: R,
    scan: Scan,
    /// Bytes of the current row so far (its line break not included).
    row_bytes: u64,
    /// The current line (1 + the LFs read).
    line: u64,
    /// The line the current row starts on.
    row_line: u64,
    /// The lines the rows read ahead of the CSV reader start on, in order: at
    /// most one per two bytes of its buffer.
    starts: VecDeque<u64>,
    /// The line of a row found longer than [`MAX_ROW_BYTES`]: nothing more is supplied.
    exceeded: Option<u64>,
}

impl<R> Bounded<R> {
    fn new(inner: R) -> Bounded<R> {
        Bounded {
            inner,
            scan: Scan::BetweenRows,
            row_bytes: 0,
            line: 1,
            row_line: 1,
            starts: VecDeque::new(),
            exceeded: None,
        }
    }

    /// Follows `bytes`; returns how many of them may be supplied (all, or those
    /// before the byte that makes a row too long).
    fn follow(&mut self, bytes: &[u8]) -> usize {
        let mut i = 0;
        while let Some(&byte) = bytes.get(i) {
            // A run of the field's text, in one step: it leaves the state as
            // it is and only makes the row longer.
            let rest = bytes.get(i..).unwrap_or_default();
            let run = match self.scan {
                Scan::Unquoted => rest
                    .iter()
                    .position(|&b| matches!(b, b',' | b'\n' | b'\r'))
                    .unwrap_or(rest.len()),
                Scan::Quoted => rest.iter().position(|&b| b == b'"').unwrap_or(rest.len()),
                _ => 0,
            };
            if run > 0 {
                let room = MAX_ROW_BYTES.saturating_sub(self.row_bytes);
                if run as u64 > room {
                    self.exceeded = Some(self.row_line);
                    return i + usize::try_from(room).unwrap_or(0);
                }
                let text = rest.get(..run).unwrap_or_default();
                self.row_bytes += run as u64;
                self.line += text.iter().filter(|&&b| b == b'\n').count() as u64;
                i += run;
                continue;
            }
            let line_break = byte == b'\n' || byte == b'\r';
            self.scan = match (self.scan, byte) {
                (Scan::BetweenRows, _) if line_break => Scan::BetweenRows,
                (Scan::BetweenRows, _) => {
                    self.row_line = self.line;
                    self.row_bytes = 0;
                    self.starts.push_back(self.line);
                    match byte {
                        b'"' => Scan::Quoted,
                        b',' => Scan::FieldStart,
                        _ => Scan::Unquoted,
                    }
                }
                (Scan::FieldStart | Scan::Unquoted | Scan::QuoteInQuoted, _) if line_break => {
                    Scan::BetweenRows
                }
                (Scan::FieldStart, b'"') => Scan::Quoted,
                (Scan::FieldStart | Scan::Unquoted | Scan::QuoteInQuoted, b',') => Scan::FieldStart,
                (Scan::FieldStart | Scan::Unquoted, _) => Scan::Unquoted,
                (Scan::Quoted, b'"') => Scan::QuoteInQuoted,
                (Scan::Quoted, _) => Scan::Quoted,
                (Scan::QuoteInQuoted, b'"') => Scan::Quoted,
                (Scan::QuoteInQuoted, _) => Scan::Unquoted,
            };
            if self.scan != Scan::BetweenRows {
                self.row_bytes += 1;
                if self.row_bytes > MAX_ROW_BYTES {
                    self.exceeded = Some(self.row_line);
                    return i;
                }
            }
            self.line += u64::from(byte == b'\n');
            i += 1;
        }
        bytes.len()
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.exceeded.is_some() {
            return Err(io::Error::other("row too long"));
        }
        let read = self.inner.read(buf)?;
        let bytes = buf.get(..read).unwrap_or_default();
        let supplied = self.follow(bytes);
        if supplied == 0 && read > 0 {
            return Err(io::Error::other("row too long"));
        }
        Ok(supplied)
    }
}

/// Reads users.csv row by row: an iterator of [`UserRow`]s that stops at the
/// first error.
///
/// ```
/// use twofold_policy_cli::UsersReader;
///
/// let csv = "user,role,methods,first_sign_in\nana,staff,totp;passkey,2026-12-01\nsam,staff,,\n";
/// let rows = UsersReader::new("users.csv", csv.as_bytes()).collect::<Result<Vec<_>, _>>()?;
/// assert_eq!(rows.len(), 2);
/// assert_eq!(rows[1].user, "sam");
/// assert_eq!(rows[1].line, 3);
/// # Ok::<(), twofold_policy_cli::UsersError>(())
/// ```
pub struct UsersReader<R> {
    name: String,
    csv: csv::Reader<Bounded<R>>,
    record: csv::ByteRecord,
    /// Field index of each column, once the header is read.
    columns: Option<[Option<usize>; 6]>,
    width: usize,
    rows: usize,
    done: bool,
}

impl<R: Read> fmt::Debug for UsersReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsersReader")
            .field("name", &self.name)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl<R: Read> UsersReader<R> {
    /// A reader of the CSV in `reader`, named `name` in errors.
    pub fn new(name: &str, reader: R) -> UsersReader<R> {
        let bounded = Bounded::new(reader);
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .buffer_capacity(BUFFER_BYTES)
            .from_reader(bounded);
        UsersReader {
            name: name.to_string(),
            csv,
            record: csv::ByteRecord::new(),
            columns: None,
            width: 0,
            rows: 0,
            done: false,
        }
    }

    fn error(&self, line: u64, problem: RowProblem) -> UsersError {
        UsersError {
            name: self.name.clone(),
            line,
            problem,
        }
    }

    /// Reads the next record into `self.record`; `Ok(None)` at the end.
    fn next_record(&mut self) -> Result<Option<u64>, UsersError> {
        match self.csv.read_byte_record(&mut self.record) {
            Ok(true) => {
                let start = self.csv.get_mut().starts.pop_front();
                Ok(Some(start.unwrap_or_else(|| {
                    self.record.position().map_or(0, |p| p.line())
                })))
            }
            Ok(false) => Ok(None),
            Err(error) => {
                if let Some(line) = self.csv.get_ref().exceeded {
                    return Err(self.error(line, RowProblem::RowTooLong));
                }
                let line = error
                    .position()
                    .map_or_else(|| self.csv.position().line(), |p| p.line());
                let problem = if error.is_io_error() {
                    match error.into_kind() {
                        csv::ErrorKind::Io(error) => RowProblem::Io(error),
                        other => RowProblem::Csv(format!("{other:?}")),
                    }
                } else {
                    RowProblem::Csv(error.to_string())
                };
                Err(self.error(line, problem))
            }
        }
    }

    fn read_header(&mut self) -> Result<[Option<usize>; 6], UsersError> {
        let Some(line) = self.next_record()? else {
            return Err(self.error(1, RowProblem::NoHeader));
        };
        let mut columns = [None; 6];
        for (index, raw) in self.record.iter().enumerate() {
            let name = std::str::from_utf8(raw).unwrap_or("");
            // A UTF-8 byte-order mark before the first column name.
            let name = name.trim_start_matches('\u{feff}');
            let Some(position) = Column::ALL.iter().position(|c| c.name() == name) else {
                let shown: String = String::from_utf8_lossy(raw).chars().take(40).collect();
                return Err(self.error(line, RowProblem::UnknownColumn(shown)));
            };
            let (Some(slot), Some(column)) = (columns.get_mut(position), Column::ALL.get(position))
            else {
                continue;
            };
            if slot.is_some() {
                return Err(self.error(line, RowProblem::DuplicateColumn(column.name())));
            }
            *slot = Some(index);
        }
        for (slot, column) in columns.iter().zip(Column::ALL) {
            if slot.is_none() && column.required() {
                return Err(self.error(line, RowProblem::MissingColumn(column.name())));
            }
        }
        self.width = self.record.len();
        Ok(columns)
    }

    fn row(&mut self) -> Result<Option<UserRow>, UsersError> {
        let columns = match self.columns {
            Some(columns) => columns,
            None => {
                let columns = self.read_header()?;
                self.columns = Some(columns);
                columns
            }
        };
        let Some(line) = self.next_record()? else {
            return Ok(None);
        };
        if self.record.len() != self.width {
            let problem = RowProblem::FieldCount {
                expected: self.width,
                found: self.record.len(),
            };
            return Err(self.error(line, problem));
        }
        if self.rows >= MAX_USERS {
            return Err(self.error(line, RowProblem::TooManyUsers));
        }
        let record = &self.record;
        let field = |column: Column| -> Result<&str, RowProblem> {
            let index = columns.get(column as usize).copied().flatten();
            let raw = index.and_then(|i| record.get(i)).unwrap_or_default();
            let problem = |problem| RowProblem::Field {
                column: column.name(),
                problem,
            };
            if raw.len() > MAX_FIELD_BYTES {
                return Err(problem(FieldProblem::TooLong));
            }
            let text = std::str::from_utf8(raw).map_err(|_| problem(FieldProblem::NotUtf8))?;
            // Methods are split on whitespace, line breaks included.
            if column != Column::Methods && text.chars().any(char::is_control) {
                return Err(problem(FieldProblem::ControlCharacter));
            }
            Ok(text)
        };
        let parsed = (|| {
            let id = |column: Column| -> Result<String, RowProblem> {
                let text = field(column)?;
                if text.is_empty() {
                    return Err(RowProblem::Field {
                        column: column.name(),
                        problem: FieldProblem::Empty,
                    });
                }
                Ok(text.to_string())
            };
            let in_column = |column: Column| {
                move |problem| RowProblem::Field {
                    column: column.name(),
                    problem,
                }
            };
            Ok::<UserRow, RowProblem>(UserRow {
                line,
                user: id(Column::User)?,
                role: id(Column::Role)?,
                methods: parse_methods(field(Column::Methods)?)
                    .map_err(in_column(Column::Methods))?,
                first_sign_in: parse_optional_instant(field(Column::FirstSignIn)?)
                    .map_err(in_column(Column::FirstSignIn))?,
                backup_codes: parse_bool(field(Column::BackupCodes)?)
                    .map_err(in_column(Column::BackupCodes))?,
                exempt: parse_bool(field(Column::Exempt)?).map_err(in_column(Column::Exempt))?,
            })
        })();
        let row = parsed.map_err(|problem| self.error(line, problem))?;
        self.rows += 1;
        Ok(Some(row))
    }
}

impl<R: Read> Iterator for UsersReader<R> {
    type Item = Result<UserRow, UsersError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.row().transpose();
        if !matches!(next, Some(Ok(_))) {
            self.done = true;
        }
        next
    }
}

/// Reads every row of users.csv, stopping at the first bad one.
pub fn read_users(name: &str, reader: impl Read) -> Result<Vec<UserRow>, UsersError> {
    UsersReader::new(name, reader).collect()
}

fn parse_methods(text: &str) -> Result<Methods, FieldProblem> {
    text.split(|c: char| c == ';' || c.is_whitespace())
        .filter(|name| !name.is_empty())
        .map(|name| {
            if name.eq_ignore_ascii_case("totp") {
                Ok(Method::Totp)
            } else if name.eq_ignore_ascii_case("passkey") {
                Ok(Method::Passkey)
            } else if name.to_ascii_lowercase().starts_with("backup") {
                Err(FieldProblem::BackupCodesAsMethod)
            } else {
                Err(FieldProblem::UnknownMethod(name.chars().take(40).collect()))
            }
        })
        .collect()
}

fn parse_bool(text: &str) -> Result<bool, FieldProblem> {
    const TRUE: [&str; 3] = ["true", "yes", "1"];
    const FALSE: [&str; 4] = ["false", "no", "0", ""];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(text)) {
        Ok(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(text)) {
        Ok(false)
    } else {
        Err(FieldProblem::NotABool(text.chars().take(40).collect()))
    }
}

fn parse_optional_instant(text: &str) -> Result<Option<Timestamp>, FieldProblem> {
    if text.is_empty() {
        return Ok(None);
    }
    parse_instant(text)
        .map(Some)
        .map_err(|source| FieldProblem::Date {
            value: text.chars().take(40).collect(),
            source,
        })
}
