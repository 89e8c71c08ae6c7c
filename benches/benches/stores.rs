//! Full TOTP second-step verifications through the facade on SQLite (a file in
//! WAL mode) and PostgreSQL, each beside MemoryStore, in one run.
//!
//! PostgreSQL is measured when `TWOFOLD_TEST_POSTGRES_URL` is set (CI sets it).
//! Run with `cargo bench -p twofold-benches --bench stores`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use twofold::{
    Account, Clock, Keyring, ManualClock, MemoryStore, PasskeyConfig, RelyingParty, SecretKey,
    SignInStep, Store, Timestamp, TwoFactor, TwoFactorConfig,
};
use twofold_store_sqlx::SqlStore;
use twofold_totp::{Secret, Totp, TotpParams};

fn bench_store(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    store: Arc<dyn Store>,
) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(
        1_767_225_615,
    )));
    let rp = RelyingParty::new("localhost", "Smile Dental", &["http://localhost:8080"]).unwrap();
    let twofold = TwoFactor::new(
        store,
        Keyring::new(SecretKey::new("k1", [7u8; 32])),
        TwoFactorConfig::new("Smile Dental").with_passkeys(PasskeyConfig::new(rp)),
    )
    .unwrap()
    .with_clock(clock.clone());
    let user = format!("bench-{name}-{}", std::process::id());
    let ana = Account {
        user: &user,
        organization: "bench",
        role: "staff",
        name: "ana",
    };
    let setup = runtime
        .block_on(twofold.begin_totp_enrollment(&ana, Some(clock.now())))
        .unwrap()
        .value;
    let totp = Totp::new(
        &Secret::from_base32(&setup.manual_entry_secret).unwrap(),
        TotpParams::default(),
    );
    let code_now = |clock: &ManualClock| {
        totp.generate(clock.now().as_unix_seconds())
            .unwrap()
            .to_string()
    };
    runtime
        .block_on(twofold.confirm_totp_enrollment(&ana, &code_now(&clock)))
        .unwrap();

    c.bench_function(&format!("totp_second_step_store/{name}"), |b| {
        b.iter_batched(
            || {
                clock.advance(90);
                let SignInStep::Challenge { challenge_id, .. } =
                    runtime.block_on(twofold.begin_sign_in(&ana)).unwrap().value
                else {
                    panic!("expected a challenge");
                };
                (challenge_id, code_now(&clock))
            },
            |(challenge_id, code)| {
                runtime
                    .block_on(twofold.verify_totp(&ana, black_box(&challenge_id), black_box(&code)))
                    .unwrap()
            },
            BatchSize::PerIteration,
        )
    });
}

fn stores(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    bench_store(c, &runtime, "memory", Arc::new(MemoryStore::new()));

    let dir = std::env::temp_dir().join(format!("twofold-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let sqlite = runtime.block_on(SqlStore::connect(&url)).unwrap();
    bench_store(c, &runtime, "sqlite_wal_file", Arc::new(sqlite));

    match std::env::var("TWOFOLD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let postgres = runtime.block_on(SqlStore::connect(&url)).unwrap();
            bench_store(c, &runtime, "postgres", Arc::new(postgres));
        }
        _ => eprintln!("SKIPPED: postgres (set TWOFOLD_TEST_POSTGRES_URL)"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, stores);
criterion_main!(benches);
