//! `dry-run` and `diff`: decisions over users.csv, as a table or JSON.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;
use twofold_policy::{Decision, Methods, Policy, Reason, SignIn, Timestamp};

use crate::json::{DecisionJson, sign_in_name};
use crate::users::UserRow;

/// Where a user falls in a dry run. `Exempt` users are also unaffected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Must set up a second factor.
    MustEnroll,
    /// Cannot sign in.
    Blocked,
    /// Unaffected because exempt (reason code `exempt`).
    Exempt,
    /// Allowed or challenged as before, and not exempt.
    Unaffected,
}

impl Group {
    /// The group of a sign-in decision.
    pub fn of(decision: &Decision<SignIn>) -> Group {
        match decision.outcome {
            SignIn::MustEnroll { .. } => Group::MustEnroll,
            SignIn::Blocked => Group::Blocked,
            SignIn::Allow | SignIn::Challenge { .. } if decision.reason == Reason::Exempt => {
                Group::Exempt
            }
            SignIn::Allow | SignIn::Challenge { .. } => Group::Unaffected,
        }
    }
}

/// The counts of a dry run: `must_enroll + blocked + unaffected` is the
/// number of users; `exempt` counts the unaffected who are exempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Users who must set up a second factor.
    pub must_enroll: usize,
    /// Users who cannot sign in.
    pub blocked: usize,
    /// Unaffected users who are exempt.
    pub exempt: usize,
    /// Users allowed or challenged (exempt ones included).
    pub unaffected: usize,
}

/// Role ids, each held once however many users have it.
#[derive(Debug, Clone, Default)]
struct Roles {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, usize>,
}

impl Roles {
    fn intern(&mut self, role: &str) -> usize {
        if let Some(&i) = self.index.get(role) {
            return i;
        }
        let i = self.names.len();
        // One allocation, shared by the list and the index.
        let name: Arc<str> = role.into();
        self.names.push(Arc::clone(&name));
        self.index.insert(name, i);
        i
    }

    fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or("", |name| name)
    }
}

/// What a report keeps of a user: the id, the role (an index into
/// [`Roles`]) and the decision; the rest of the row is dropped once decided.
#[derive(Debug, Clone)]
struct Entry {
    user: Box<str>,
    role: usize,
    decision: Decision<SignIn>,
}

/// A policy applied to every user at one instant. Built a row at a time
/// ([`DryRun::add`]), keeping of each user only their id, role and decision.
#[derive(Debug, Clone)]
pub struct DryRun<'a> {
    policy: &'a Policy,
    at: Timestamp,
    roles: Roles,
    entries: Vec<Entry>,
    summary: Summary,
}

/// Decides sign-in for every user at `at`.
///
/// ```
/// use twofold_policy::Policy;
/// use twofold_policy_cli::{Timestamp, UsersReader, dry_run};
///
/// let policy = Policy::from_toml("version = 1\n[enforcement]\nmode = \"required\"\ngrace_seconds = 0\n")?;
/// let csv = "user,role,methods,first_sign_in\nana,staff,totp,\nsam,staff,,\n";
/// let rows = UsersReader::new("users.csv", csv.as_bytes()).collect::<Result<Vec<_>, _>>()?;
/// let report = dry_run(&policy, rows, Timestamp::from_unix_seconds(1_796_634_000));
/// assert_eq!(report.summary().must_enroll, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn dry_run(
    policy: &Policy,
    users: impl IntoIterator<Item = UserRow>,
    at: Timestamp,
) -> DryRun<'_> {
    let mut report = DryRun::new(policy, at);
    for row in users {
        report.add(row);
    }
    report
}

#[derive(Serialize)]
struct UserDecisionJson<'a> {
    user: &'a str,
    role: &'a str,
    #[serde(flatten)]
    decision: DecisionJson,
}

fn to_io(error: serde_json::Error) -> io::Error {
    io::Error::other(error)
}

impl<'a> DryRun<'a> {
    /// An empty dry run of `policy` at `at`: add the users with [`DryRun::add`].
    pub fn new(policy: &'a Policy, at: Timestamp) -> DryRun<'a> {
        DryRun {
            policy,
            at,
            roles: Roles::default(),
            entries: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// Decides sign-in for one more user and keeps what the report shows.
    pub fn add(&mut self, row: UserRow) {
        let decision = self.policy.sign_in(&row.facts(), self.at);
        match Group::of(&decision) {
            Group::MustEnroll => self.summary.must_enroll += 1,
            Group::Blocked => self.summary.blocked += 1,
            Group::Exempt => {
                self.summary.exempt += 1;
                self.summary.unaffected += 1;
            }
            Group::Unaffected => self.summary.unaffected += 1,
        }
        let role = self.roles.intern(&row.role);
        self.entries.push(Entry {
            user: row.user.into_boxed_str(),
            role,
            decision,
        });
    }

    /// The number of users.
    pub fn users(&self) -> usize {
        self.entries.len()
    }

    /// The counts.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Whether anyone would be blocked.
    pub fn blocks_anyone(&self) -> bool {
        self.summary.blocked > 0
    }

    /// Each user's id, role and decision, in input order.
    pub fn decisions(&self) -> impl Iterator<Item = (&str, &str, &Decision<SignIn>)> {
        self.entries
            .iter()
            .map(|e| (&*e.user, self.roles.name(e.role), &e.decision))
    }

    /// The summary line: `6 users at T: 2 must enroll, 1 blocked, 3 unaffected (1 of them exempt)`.
    pub fn summary_line(&self) -> String {
        let s = self.summary;
        format!(
            "{} user{} at {}: {} must enroll, {} blocked, {} unaffected ({} of them exempt)",
            self.users(),
            if self.users() == 1 { "" } else { "s" },
            self.at,
            s.must_enroll,
            s.blocked,
            s.unaffected,
            s.exempt
        )
    }

    /// The report as aligned plain-text tables, one per group (must enroll,
    /// blocked, exempt, the other unaffected), then the summary line.
    pub fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        let members = |group: Group| -> Vec<usize> {
            self.entries
                .iter()
                .enumerate()
                .filter(|(_, e)| Group::of(&e.decision) == group)
                .map(|(i, _)| i)
                .collect()
        };
        let row = |i: usize| {
            let entry = self.entries.get(i)?;
            Some((&*entry.user, self.roles.name(entry.role), &entry.decision))
        };
        let rule = |d: &Decision<SignIn>| self.policy.rule_path(d.rule);

        write_group(
            out,
            "must enroll",
            [
                "USER",
                "ROLE",
                "DEADLINE",
                "CAN DEFER",
                "METHODS",
                "RULE",
                "REASON",
            ],
            &members(Group::MustEnroll),
            |i| {
                let (u, role, d) = row(i)?;
                let SignIn::MustEnroll {
                    deadline,
                    methods,
                    can_defer,
                } = d.outcome
                else {
                    return None;
                };
                Some([
                    u.to_string(),
                    role.to_string(),
                    deadline.to_string(),
                    if can_defer { "yes" } else { "no" }.to_string(),
                    methods.to_string(),
                    rule(d),
                    d.reason.to_string(),
                ])
            },
        )?;
        write_group(
            out,
            "blocked",
            ["USER", "ROLE", "RULE", "REASON"],
            &members(Group::Blocked),
            |i| {
                let (u, role, d) = row(i)?;
                Some([
                    u.to_string(),
                    role.to_string(),
                    rule(d),
                    d.reason.to_string(),
                ])
            },
        )?;
        let unaffected = |i| {
            let (u, role, d) = row(i)?;
            Some([
                u.to_string(),
                role.to_string(),
                outcome_text(&d.outcome),
                rule(d),
                d.reason.to_string(),
            ])
        };
        let headers = ["USER", "ROLE", "OUTCOME", "RULE", "REASON"];
        write_group(out, "exempt", headers, &members(Group::Exempt), unaffected)?;
        write_group(
            out,
            "unaffected, not exempt",
            headers,
            &members(Group::Unaffected),
            unaffected,
        )?;
        writeln!(out, "{}", self.summary_line())
    }

    /// The report as JSON (`{"at":..,"summary":{..},"users":[..]}`, users in
    /// input order), written one user at a time.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        write!(out, "{{\"at\":{},\"summary\":", self.at.as_unix_seconds())?;
        serde_json::to_writer(&mut *out, &self.summary).map_err(to_io)?;
        out.write_all(b",\"users\":[")?;
        for (i, (user, role, decision)) in self.decisions().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            let entry = UserDecisionJson {
                user,
                role,
                decision: DecisionJson::sign_in(self.policy, decision),
            };
            serde_json::to_writer(&mut *out, &entry).map_err(to_io)?;
        }
        out.write_all(b"]}\n")
    }
}

/// A group's title and table: columns padded to their widest cell, the
/// last one (the reason) with nothing after it.
fn write_group<const N: usize>(
    out: &mut impl Write,
    title: &str,
    headers: [&str; N],
    members: &[usize],
    cells: impl Fn(usize) -> Option<[String; N]>,
) -> io::Result<()> {
    if members.is_empty() {
        return writeln!(out, "{title}: none\n");
    }
    writeln!(out, "{title} ({}):", members.len())?;
    let mut widths = headers.map(|h| h.chars().count());
    for &i in members {
        for (width, cell) in widths.iter_mut().zip(cells(i).iter().flatten()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let write_row = |out: &mut dyn Write, row: &[&str]| -> io::Result<()> {
        let mut line = String::from(" ");
        for (cell, width) in row.iter().zip(widths) {
            line.push(' ');
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count()) + 1;
            line.extend(std::iter::repeat_n(' ', pad));
        }
        // The last column (the reason) ends the line: no padding after it.
        writeln!(out, "{}", line.trim_end())
    };
    write_row(out, &headers)?;
    for &i in members {
        if let Some(row) = cells(i) {
            write_row(out, &row.each_ref().map(String::as_str))?;
        }
    }
    writeln!(out)
}

/// An outcome in words, for tables and diffs: `allow`, `challenge (totp)`,
/// `must_enroll by 2026-12-14T09:00:00Z`, `must_enroll now`, `blocked`. A
/// must_enroll whose methods are not both says which (`(passkey only)`).
pub fn outcome_text(outcome: &SignIn) -> String {
    match outcome {
        SignIn::Allow => "allow".to_string(),
        SignIn::Challenge { methods, .. } => format!("challenge ({methods})"),
        SignIn::Blocked => "blocked".to_string(),
        SignIn::MustEnroll {
            deadline,
            methods,
            can_defer,
        } => {
            let when = if *can_defer {
                format!("must_enroll by {deadline}")
            } else {
                "must_enroll now".to_string()
            };
            if *methods == Methods::ALL {
                when
            } else {
                format!("{when} ({methods} only)")
            }
        }
    }
}

/// Whether two outcomes differ for the user (a deadline that has passed no
/// longer matters).
fn same_outcome(old: &SignIn, new: &SignIn) -> bool {
    match (old, new) {
        (
            SignIn::MustEnroll {
                can_defer: false,
                methods: a,
                ..
            },
            SignIn::MustEnroll {
                can_defer: false,
                methods: b,
                ..
            },
        ) => a == b,
        _ => old == new,
    }
}

/// A user whose outcome changes.
#[derive(Debug, Clone)]
struct Change {
    user: Box<str>,
    role: usize,
    old: Decision<SignIn>,
    new: Decision<SignIn>,
}

/// Two policies applied to the same users at one instant: whose outcome
/// changes. Built a row at a time ([`Diff::add`]), keeping only the users
/// whose outcome changes and the counts.
#[derive(Debug, Clone)]
pub struct Diff<'a> {
    old: &'a Policy,
    new: &'a Policy,
    at: Timestamp,
    users: usize,
    roles: Roles,
    changes: Vec<Change>,
    blocked: BlockedJson,
    newly_blocked: usize,
}

/// Compares OLD and NEW over `users` at `at`.
pub fn diff<'a>(
    old: &'a Policy,
    new: &'a Policy,
    users: impl IntoIterator<Item = UserRow>,
    at: Timestamp,
) -> Diff<'a> {
    let mut report = Diff::new(old, new, at);
    for row in users {
        report.add(row);
    }
    report
}

#[derive(Serialize)]
struct ChangeJson<'a> {
    user: &'a str,
    role: &'a str,
    old: DecisionJson,
    new: DecisionJson,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
struct BlockedJson {
    old: usize,
    new: usize,
}

impl<'a> Diff<'a> {
    /// An empty comparison of OLD and NEW at `at`: add the users with [`Diff::add`].
    pub fn new(old: &'a Policy, new: &'a Policy, at: Timestamp) -> Diff<'a> {
        Diff {
            old,
            new,
            at,
            users: 0,
            roles: Roles::default(),
            changes: Vec::new(),
            blocked: BlockedJson::default(),
            newly_blocked: 0,
        }
    }

    /// Decides sign-in for one more user under both policies; keeps the user
    /// only if the outcome changes.
    pub fn add(&mut self, row: UserRow) {
        let facts = row.facts();
        let old = self.old.sign_in(&facts, self.at);
        let new = self.new.sign_in(&facts, self.at);
        self.users += 1;
        let (was, is) = (
            old.outcome == SignIn::Blocked,
            new.outcome == SignIn::Blocked,
        );
        self.blocked.old += usize::from(was);
        self.blocked.new += usize::from(is);
        self.newly_blocked += usize::from(!was && is);
        if !same_outcome(&old.outcome, &new.outcome) {
            let role = self.roles.intern(&row.role);
            self.changes.push(Change {
                user: row.user.into_boxed_str(),
                role,
                old,
                new,
            });
        }
    }

    /// The number of users compared.
    pub fn users(&self) -> usize {
        self.users
    }

    /// Whether NEW blocks anyone OLD did not.
    pub fn blocks_anyone_new(&self) -> bool {
        self.newly_blocked > 0
    }

    /// How many users NEW blocks and OLD did not.
    pub fn newly_blocked(&self) -> usize {
        self.newly_blocked
    }

    /// How many users' outcomes change.
    pub fn changed(&self) -> usize {
        self.changes.len()
    }

    /// Each user whose outcome changes: id, role, decision under OLD and
    /// under NEW, in input order.
    pub fn changes(
        &self,
    ) -> impl Iterator<Item = (&str, &str, &Decision<SignIn>, &Decision<SignIn>)> {
        self.changes
            .iter()
            .map(|c| (&*c.user, self.roles.name(c.role), &c.old, &c.new))
    }

    /// Changes counted by outcome, `allow -> must_enroll`.
    fn transitions(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for change in &self.changes {
            let key = format!(
                "{} -> {}",
                sign_in_name(&change.old.outcome),
                sign_in_name(&change.new.outcome)
            );
            *counts.entry(key).or_insert(0) += 1;
        }
        counts
    }

    /// One line per changed user (`sam (staff): allow -> must_enroll by T`),
    /// then the counts.
    pub fn write_text(
        &self,
        old_name: &str,
        new_name: &str,
        out: &mut impl Write,
    ) -> io::Result<()> {
        for (user, role, old, new) in self.changes() {
            writeln!(
                out,
                "{user} ({role}): {} -> {}",
                outcome_text(&old.outcome),
                outcome_text(&new.outcome)
            )?;
        }
        if !self.changes.is_empty() {
            writeln!(out)?;
        }
        let transitions: Vec<String> = self
            .transitions()
            .into_iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        let users = self.users;
        write!(
            out,
            "{} of {} user{} change at {}",
            self.changes.len(),
            users,
            if users == 1 { "" } else { "s" },
            self.at
        )?;
        if transitions.is_empty() {
            writeln!(out)?;
        } else {
            writeln!(out, " ({})", transitions.join(", "))?;
        }
        writeln!(
            out,
            "blocked: {} under {old_name}, {} under {new_name} ({} newly blocked)",
            self.blocked.old, self.blocked.new, self.newly_blocked
        )
    }

    /// The diff as JSON: `{"at","users","changed","newly_blocked","blocked":{"old","new"},
    /// "transitions":{"allow -> must_enroll":n},"changes":[{"user","role","old":{..},"new":{..}}]}`.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        write!(
            out,
            "{{\"at\":{},\"users\":{},\"changed\":{},\"newly_blocked\":{},\"blocked\":",
            self.at.as_unix_seconds(),
            self.users,
            self.changes.len(),
            self.newly_blocked
        )?;
        serde_json::to_writer(&mut *out, &self.blocked).map_err(to_io)?;
        out.write_all(b",\"transitions\":")?;
        serde_json::to_writer(&mut *out, &self.transitions()).map_err(to_io)?;
        out.write_all(b",\"changes\":[")?;
        for (k, (user, role, old, new)) in self.changes().enumerate() {
            if k > 0 {
                out.write_all(b",")?;
            }
            let change = ChangeJson {
                user,
                role,
                old: DecisionJson::sign_in(self.old, old),
                new: DecisionJson::sign_in(self.new, new),
            };
            serde_json::to_writer(&mut *out, &change).map_err(to_io)?;
        }
        out.write_all(b"]}\n")
    }
}
