//! The reports through the library: what `DryRun` and `Diff` count and keep.
#![cfg(test)]

use twofold_policy::{Policy, SignIn};
use twofold_policy_cli::{Diff, DryRun, Summary, Timestamp, read_users};

const CLINIC: &str = include_str!("data/clinic.toml");
const OPTIONAL: &str = include_str!("data/clinic-optional.toml");
const USERS: &str = include_str!("data/users.csv");
/// 2026-12-07T09:00:00Z.
const AT: Timestamp = Timestamp::from_unix_seconds(1_796_634_000);

#[test]
fn dry_run_counts_and_keeps_each_user() {
    let policy = Policy::from_toml(CLINIC).unwrap();
    let mut report = DryRun::new(&policy, AT);
    for row in read_users("users.csv", USERS.as_bytes()).unwrap() {
        report.add(row);
    }
    assert_eq!(report.users(), 9);
    assert_eq!(
        report.summary(),
        Summary {
            must_enroll: 4,
            blocked: 1,
            exempt: 2,
            unaffected: 4
        }
    );
    assert!(report.blocks_anyone());
    let (user, role, decision) = report.decisions().nth(6).unwrap();
    assert_eq!(
        (user, role, decision.outcome),
        ("mia", "member", SignIn::Blocked)
    );
}

#[test]
fn diff_counts_and_keeps_the_changes() {
    let (old, new) = (
        Policy::from_toml(OPTIONAL).unwrap(),
        Policy::from_toml(CLINIC).unwrap(),
    );
    let rows = read_users("users.csv", USERS.as_bytes()).unwrap();
    let mut forward = Diff::new(&old, &new, AT);
    let mut back = Diff::new(&new, &old, AT);
    for row in rows {
        forward.add(row.clone());
        back.add(row);
    }
    assert_eq!((forward.users(), forward.changed()), (9, 5));
    assert_eq!(forward.newly_blocked(), 1);
    assert!(forward.blocks_anyone_new());
    let changed: Vec<&str> = forward.changes().map(|(user, ..)| user).collect();
    assert_eq!(changed, ["ada", "sam", "tom", "mia", "lee"]);
    let (_, role, was, is) = forward.changes().nth(3).unwrap();
    assert_eq!(
        (role, was.outcome, is.outcome),
        ("member", SignIn::Allow, SignIn::Blocked)
    );
    // Back again: the same users change, nobody is newly blocked.
    assert_eq!(
        (back.users(), back.changed(), back.newly_blocked()),
        (9, 5, 0)
    );
    assert!(!back.blocks_anyone_new());
}
