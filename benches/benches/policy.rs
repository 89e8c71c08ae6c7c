//! `sign_in` decisions per second on one core, over a mix of users: enrolled,
//! not enrolled within and past the grace period, exempt, and of an unknown role.
//! The target is at least 10 million per second (≤ 100 ns each).
//!
//! Run with `cargo bench -p twofold-benches --bench policy`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use twofold_policy::{Method, Methods, Policy, Timestamp, UserFacts};

fn sign_in(c: &mut Criterion) {
    let policy = Policy::from_toml(
        r#"
        version = 1
        [enforcement]
        mode = "required"
        grace_seconds = 604800
        [roles.owner]
        may_reset = ["admin", "staff"]
        may_change_enforcement = true
        [roles.admin]
        may_reset = ["staff"]
        grace_seconds = 86400
        [roles.staff]
        [roles.hygienist]
        methods = ["passkey"]
        [[exemptions]]
        user = "front-desk-kiosk"
        reason = "shared terminal"
        [[exemptions]]
        user = "lab-scanner"
        reason = "device account"
        "#,
    )
    .unwrap();
    let now = Timestamp::from_unix_seconds(1_800_000_000);
    let week_ago = Some(Timestamp::from_unix_seconds(1_800_000_000 - 8 * 86_400));
    let users = [
        UserFacts {
            enrolled: Methods::ALL,
            has_backup_codes: true,
            ..UserFacts::new("olga", "owner")
        },
        UserFacts {
            first_sign_in_since_enforcement: week_ago,
            ..UserFacts::new("sam", "staff")
        },
        UserFacts::new("adam", "admin"),
        UserFacts {
            enrolled: Method::Totp.into(),
            ..UserFacts::new("hy", "hygienist")
        },
        UserFacts::new("front-desk-kiosk", "staff"),
        UserFacts::new("x", "dentist"),
        UserFacts {
            enrolled: Method::Passkey.into(),
            ..UserFacts::new("sue", "staff")
        },
        UserFacts::new("lab-scanner", "staff"),
    ];
    let mut group = c.benchmark_group("policy");
    group.throughput(Throughput::Elements(users.len() as u64));
    group.bench_function("sign_in_mixed_8_users", |b| {
        b.iter(|| {
            for facts in &users {
                black_box(policy.sign_in(black_box(facts), black_box(now)));
            }
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("throttle", |b| {
        b.iter(|| policy.throttle(black_box(5), black_box(Some(now)), black_box(now)))
    });
    group.finish();
}

criterion_group!(benches, sign_in);
criterion_main!(benches);
