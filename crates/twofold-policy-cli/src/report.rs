//! `dry-run` and `diff`: decisions over users.csv, as a table or JSON.

use std::collections::BTreeMap;
use std::io::{self, Write};

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

/// A policy applied to every user at one instant.
#[derive(Debug, Clone)]
pub struct DryRun<'a> {
    policy: &'a Policy,
    at: Timestamp,
    users: &'a [UserRow],
    decisions: Vec<Decision<SignIn>>,
    summary: Summary,
}

/// Decides sign-in for every user at `at`.
pub fn dry_run<'a>(policy: &'a Policy, users: &'a [UserRow], at: Timestamp) -> DryRun<'a> {
    let mut summary = Summary::default();
    let decisions: Vec<Decision<SignIn>> = users
        .iter()
        .map(|row| {
            let decision = policy.sign_in(&row.facts(), at);
            match Group::of(&decision) {
                Group::MustEnroll => summary.must_enroll += 1,
                Group::Blocked => summary.blocked += 1,
                Group::Exempt => {
                    summary.exempt += 1;
                    summary.unaffected += 1;
                }
                Group::Unaffected => summary.unaffected += 1,
            }
            decision
        })
        .collect();
    DryRun {
        policy,
        at,
        users,
        decisions,
        summary,
    }
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

impl DryRun<'_> {
    /// The counts.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Whether anyone would be blocked.
    pub fn blocks_anyone(&self) -> bool {
        self.summary.blocked > 0
    }

    /// Each user with their decision, in input order.
    pub fn decisions(&self) -> impl Iterator<Item = (&UserRow, &Decision<SignIn>)> {
        self.users.iter().zip(&self.decisions)
    }

    /// The summary line: `6 users at T: 2 must enroll, 1 blocked, 3 unaffected (1 of them exempt)`.
    pub fn summary_line(&self) -> String {
        let s = self.summary;
        format!(
            "{} user{} at {}: {} must enroll, {} blocked, {} unaffected ({} of them exempt)",
            self.users.len(),
            if self.users.len() == 1 { "" } else { "s" },
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
            self.decisions
                .iter()
                .enumerate()
                .filter(|(_, d)| Group::of(d) == group)
                .map(|(i, _)| i)
                .collect()
        };
        let row = |i: usize| self.users.get(i).zip(self.decisions.get(i));
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
                let (u, d) = row(i)?;
                let SignIn::MustEnroll {
                    deadline,
                    methods,
                    can_defer,
                } = d.outcome
                else {
                    return None;
                };
                Some([
                    u.user.clone(),
                    u.role.clone(),
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
                let (u, d) = row(i)?;
                Some([
                    u.user.clone(),
                    u.role.clone(),
                    rule(d),
                    d.reason.to_string(),
                ])
            },
        )?;
        let unaffected = |i| {
            let (u, d) = row(i)?;
            Some([
                u.user.clone(),
                u.role.clone(),
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
        for (i, (user, decision)) in self.decisions().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            let entry = UserDecisionJson {
                user: &user.user,
                role: &user.role,
                decision: DecisionJson::sign_in(self.policy, decision),
            };
            serde_json::to_writer(&mut *out, &entry).map_err(to_io)?;
        }
        out.write_all(b"]}\n")
    }
}

/// A group's title and table: columns padded to their widest cell, the
/// last one (the reason) unpadded.
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
        for (k, (cell, width)) in row.iter().zip(widths).enumerate() {
            line.push(' ');
            line.push_str(cell);
            if k + 1 < N {
                let pad = width.saturating_sub(cell.chars().count()) + 1;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
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

/// Two policies applied to the same users at one instant: whose outcome changes.
#[derive(Debug, Clone)]
pub struct Diff<'a> {
    old: DryRun<'a>,
    new: DryRun<'a>,
    changed: Vec<usize>,
    newly_blocked: usize,
}

/// Compares OLD and NEW over `users` at `at`.
pub fn diff<'a>(old: &'a Policy, new: &'a Policy, users: &'a [UserRow], at: Timestamp) -> Diff<'a> {
    let old = dry_run(old, users, at);
    let new = dry_run(new, users, at);
    let pairs = || old.decisions.iter().zip(&new.decisions).enumerate();
    let changed = pairs()
        .filter(|(_, (a, b))| !same_outcome(&a.outcome, &b.outcome))
        .map(|(i, _)| i)
        .collect();
    let newly_blocked = pairs()
        .filter(|(_, (a, b))| a.outcome != SignIn::Blocked && b.outcome == SignIn::Blocked)
        .count();
    Diff {
        old,
        new,
        changed,
        newly_blocked,
    }
}

#[derive(Serialize)]
struct ChangeJson<'a> {
    user: &'a str,
    role: &'a str,
    old: DecisionJson,
    new: DecisionJson,
}

#[derive(Serialize)]
struct BlockedJson {
    old: usize,
    new: usize,
}

impl Diff<'_> {
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
        self.changed.len()
    }

    fn change(&self, i: usize) -> Option<(&UserRow, &Decision<SignIn>, &Decision<SignIn>)> {
        Some((
            self.old.users.get(i)?,
            self.old.decisions.get(i)?,
            self.new.decisions.get(i)?,
        ))
    }

    /// Changes counted by outcome, `allow -> must_enroll`.
    fn transitions(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for &i in &self.changed {
            if let Some((_, old, new)) = self.change(i) {
                let key = format!(
                    "{} -> {}",
                    sign_in_name(&old.outcome),
                    sign_in_name(&new.outcome)
                );
                *counts.entry(key).or_insert(0) += 1;
            }
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
        for &i in &self.changed {
            if let Some((user, old, new)) = self.change(i) {
                writeln!(
                    out,
                    "{} ({}): {} -> {}",
                    user.user,
                    user.role,
                    outcome_text(&old.outcome),
                    outcome_text(&new.outcome)
                )?;
            }
        }
        if !self.changed.is_empty() {
            writeln!(out)?;
        }
        let transitions: Vec<String> = self
            .transitions()
            .into_iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        let users = self.old.users.len();
        write!(
            out,
            "{} of {} user{} change at {}",
            self.changed.len(),
            users,
            if users == 1 { "" } else { "s" },
            self.old.at
        )?;
        if transitions.is_empty() {
            writeln!(out)?;
        } else {
            writeln!(out, " ({})", transitions.join(", "))?;
        }
        writeln!(
            out,
            "blocked: {} under {old_name}, {} under {new_name} ({} newly blocked)",
            self.old.summary.blocked, self.new.summary.blocked, self.newly_blocked
        )
    }

    /// The diff as JSON: `{"at","users","changed","newly_blocked","blocked":{"old","new"},
    /// "transitions":{"allow -> must_enroll":n},"changes":[{"user","role","old":{..},"new":{..}}]}`.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        write!(
            out,
            "{{\"at\":{},\"users\":{},\"changed\":{},\"newly_blocked\":{},\"blocked\":",
            self.old.at.as_unix_seconds(),
            self.old.users.len(),
            self.changed.len(),
            self.newly_blocked
        )?;
        let blocked = BlockedJson {
            old: self.old.summary.blocked,
            new: self.new.summary.blocked,
        };
        serde_json::to_writer(&mut *out, &blocked).map_err(to_io)?;
        out.write_all(b",\"transitions\":")?;
        serde_json::to_writer(&mut *out, &self.transitions()).map_err(to_io)?;
        out.write_all(b",\"changes\":[")?;
        for (k, &i) in self.changed.iter().enumerate() {
            let Some((user, old, new)) = self.change(i) else {
                continue;
            };
            if k > 0 {
                out.write_all(b",")?;
            }
            let change = ChangeJson {
                user: &user.user,
                role: &user.role,
                old: DecisionJson::sign_in(self.old.policy, old),
                new: DecisionJson::sign_in(self.new.policy, new),
            };
            serde_json::to_writer(&mut *out, &change).map_err(to_io)?;
        }
        out.write_all(b"]}\n")
    }
}
