//! Backup-code verification against sets of 1, 10 and 100 codes, side by side:
//! twofold-backup (one salt per set, one Argon2id evaluation per attempt) and the
//! naive design of Devise and GitLab (one salted hash per code, tried in turn
//! until one matches). Both use Argon2id with OWASP's parameters.
//!
//! Two cases: a wrong code (the naive design tries every stored hash) and a valid
//! code in the middle slot (the naive design's average for a valid code).
//!
//! Run with `cargo bench -p twofold-benches --bench backup`.

use std::hint::black_box;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use subtle::ConstantTimeEq;
use twofold_backup::{BackupCodeSet, BackupConfig, BackupVerification, NormalizedCode};

/// The naive design: each code stored as its own Argon2id hash with its own salt.
struct NaiveSet {
    hashes: Vec<([u8; 16], [u8; 32])>,
}

fn argon2_owasp() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, Some(32)).unwrap(),
    )
}

impl NaiveSet {
    fn new(codes: &[String]) -> NaiveSet {
        let argon2 = argon2_owasp();
        let hashes = codes
            .iter()
            .map(|code| {
                let mut salt = [0u8; 16];
                getrandom::fill(&mut salt).unwrap();
                let mut hash = [0u8; 32];
                argon2
                    .hash_password_into(code.as_bytes(), &salt, &mut hash)
                    .unwrap();
                (salt, hash)
            })
            .collect();
        NaiveSet { hashes }
    }

    /// Tries each stored hash in turn, as `codes.find { |c| BCrypt::Password.new(c) == code }` does.
    fn verify(&self, input: &str) -> Option<usize> {
        let code = NormalizedCode::parse(input).ok()?;
        let argon2 = argon2_owasp();
        self.hashes.iter().position(|(salt, stored)| {
            let mut hash = [0u8; 32];
            argon2
                .hash_password_into(code.as_str().as_bytes(), salt, &mut hash)
                .unwrap();
            bool::from(hash.ct_eq(stored))
        })
    }
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("backup_verify_argon2id_owasp");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for count in [1usize, 10, 100] {
        let config = BackupConfig::new(count, 10).unwrap();
        let (ours, codes) = BackupCodeSet::generate(&config).unwrap();
        let plain: Vec<String> = codes.iter().map(|c| c.replace('-', "")).collect();
        let naive = NaiveSet::new(&plain);
        let middle = codes.iter().nth(count / 2).unwrap().to_string();
        let wrong = "00000-00000";
        assert_eq!(ours.verify(wrong).unwrap(), BackupVerification::NoMatch);
        assert_eq!(
            ours.verify(&middle).unwrap(),
            BackupVerification::Matched { slot: count / 2 }
        );
        assert_eq!(naive.verify(wrong), None);
        assert_eq!(naive.verify(&middle), Some(count / 2));

        for (case, input) in [
            ("wrong_code", wrong),
            ("valid_code_middle_slot", middle.as_str()),
        ] {
            group.bench_with_input(
                BenchmarkId::new(format!("twofold_backup/{case}"), count),
                &input,
                |b, input| b.iter(|| ours.verify(black_box(input)).unwrap()),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("naive_hash_per_code/{case}"), count),
                &input,
                |b, input| b.iter(|| naive.verify(black_box(input))),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
