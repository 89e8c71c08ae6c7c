//! What the reports hold in memory, counted by allocation-counter (bytes
//! allocated, not time): `diff` keeps only the users whose outcome changes.
#![cfg(test)]

use twofold_policy_cli::{Input, Status, Timestamp, diff_command};

const CLINIC: &str = include_str!("data/clinic.toml");
const OPTIONAL: &str = include_str!("data/clinic-optional.toml");

/// `n` staff without a second factor, with 200-byte ids.
fn users(n: usize) -> Vec<u8> {
    let mut csv = b"user,role,methods,first_sign_in\n".to_vec();
    for i in 0..n {
        csv.extend(format!("{i:0200},staff,,2026-12-01\n").bytes());
    }
    csv
}

/// The most bytes allocated at once by `twofold-policy diff OLD NEW` over `csv`.
fn peak(old: &str, new: &str, csv: &[u8]) -> (u64, Vec<u8>) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut status = None;
    let info = allocation_counter::measure(|| {
        status = Some(diff_command(
            Input::new("old.toml", old.as_bytes()),
            Input::new("new.toml", new.as_bytes()),
            Input::new("users.csv", csv),
            Timestamp::from_unix_seconds(1_796_634_000),
            false,
            &mut out,
            &mut err,
        ));
    });
    assert_eq!(
        status,
        Some(Status::Success),
        "{}",
        String::from_utf8_lossy(&err)
    );
    (info.bytes_max, out)
}

#[test]
fn diff_holds_only_the_users_whose_outcome_changes() {
    let csv = users(20_000);
    // Nobody changes: the users (4 MB of ids) pass through without being kept.
    let (unchanged, out) = peak(CLINIC, CLINIC, &csv);
    assert!(out.starts_with(b"0 of 20000 users change"));
    assert!(unchanged < 512 * 1024, "peak {unchanged} bytes");
    // Everyone changes (allow -> must_enroll): each is kept, with both decisions.
    let (changed, out) = peak(OPTIONAL, CLINIC, &csv);
    assert!(String::from_utf8_lossy(&out).contains("20000 of 20000 users change"));
    assert!(changed > 20_000 * 200, "peak {changed} bytes");
}
