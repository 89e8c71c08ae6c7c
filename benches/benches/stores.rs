//! Full TOTP second-step verifications through the facade on SQLite (a file in
//! WAL mode, `synchronous=FULL`) and PostgreSQL, beside MemoryStore, and beside
//! each database's **floor**: a plain client (rusqlite on the same SQLite
//! build; tokio-postgres) doing a second step's statements alone, with the same
//! pragmas, on a record of the same size, in the same run, so that ratios can
//! be read from one run:
//!
//! - `floor_3_statements`: the shape of the store before it read the user and the
//!   organisation together (organisation SELECT, user SELECT, conditional UPDATE);
//! - `floor_2_statements`: the store's shape now (one SELECT of both, the UPDATE).
//!
//! `store/sqlite_wal_file` is `SqlStore::connect` (the second step's statements
//! on the store's own connections, `src/direct.rs`);
//! `store/sqlite_wal_file_from_pool` is `SqlStore::from_pool` on an
//! application's sqlx pool, where every statement goes through sqlx.
//!
//! PostgreSQL is measured when `TWOFOLD_TEST_POSTGRES_URL` is set (CI sets it).
//! Run with `cargo bench -p twofold-benches --bench stores` (add
//! `-- --measurement-time 3 --warm-up-time 1` for a short run).

use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, criterion_group, criterion_main};
use twofold::{
    Account, Clock, Keyring, ManualClock, MemoryStore, PasskeyConfig, RelyingParty, SecretKey,
    SignInStep, Store, Timestamp, TwoFactor, TwoFactorConfig,
};
use twofold_store_sqlx::SqlStore;
use twofold_totp::{Secret, Totp, TotpParams};

/// Benchmarks the facade's second step on `store`; returns the user's record as
/// stored (JSON), so that the floors write a record of the same size.
fn bench_store(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    store: Arc<dyn Store>,
) -> String {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(
        1_767_225_615,
    )));
    let rp = RelyingParty::new("localhost", "Smile Dental", &["http://localhost:8080"]).unwrap();
    let twofold = TwoFactor::new(
        Arc::clone(&store),
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

    group.bench_function(format!("store/{name}"), |b| {
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
    let record = runtime.block_on(store.load_user(&user)).unwrap().unwrap();
    serde_json::to_string(&record.value).unwrap()
}

/// The floor's schema: the store's tables, as its migrations make them.
const FLOOR_SCHEMA: &str = "
    CREATE TABLE floor_users (id TEXT PRIMARY KEY NOT NULL, version BIGINT NOT NULL,
                              record TEXT NOT NULL, expires_at BIGINT);
    CREATE TABLE floor_organizations (id TEXT PRIMARY KEY NOT NULL, version BIGINT NOT NULL,
                                      record TEXT NOT NULL);";
const FLOOR_PG_SCHEMA: &str = "twofold_bench_floor";
const SELECT_ORGANIZATION: &str = "SELECT version, record FROM floor_organizations WHERE id = $1";
const SELECT_USER: &str = "SELECT version, record FROM floor_users WHERE id = $1";
const SELECT_BOTH: &str = "SELECT u.version, u.record, o.version, o.record \
    FROM (SELECT 1 AS one) AS anchor \
    LEFT JOIN floor_users AS u ON u.id = $1 LEFT JOIN floor_organizations AS o ON o.id = $2";
const UPDATE_USER: &str = "UPDATE floor_users SET record = $1, expires_at = $2, \
    version = version + 1 WHERE id = $3 AND version = $4";

fn sqlite_floor(group: &mut BenchmarkGroup<'_, WallTime>, path: &std::path::Path, record: &str) {
    let db = rusqlite::Connection::open(path).unwrap();
    // The store's pragmas: WAL, and synchronous FULL (SQLite's default, which
    // sqlx keeps). The statement cache plays the part of sqlx's.
    let mode: String = db
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    db.execute_batch("PRAGMA synchronous = FULL;").unwrap();
    db.execute_batch(FLOOR_SCHEMA).unwrap();
    db.execute(
        "INSERT INTO floor_users (id, version, record) VALUES ('ana', 1, $1)",
        [record],
    )
    .unwrap();
    let mut version: i64 = 1;
    let update = |db: &rusqlite::Connection, version: &mut i64| {
        let updated = db
            .prepare_cached(UPDATE_USER)
            .unwrap()
            .execute(rusqlite::params![record, None::<i64>, "ana", *version])
            .unwrap();
        assert_eq!(updated, 1);
        *version += 1;
    };
    group.bench_function("floor_3_statements/sqlite_rusqlite", |b| {
        b.iter(|| {
            let org: Option<(i64, String)> = db
                .prepare_cached(SELECT_ORGANIZATION)
                .unwrap()
                .query_row(["bench"], |row| Ok((row.get(0)?, row.get(1)?)))
                .ok();
            let user: (i64, String) = db
                .prepare_cached(SELECT_USER)
                .unwrap()
                .query_row(["ana"], |row| Ok((row.get(0)?, row.get(1)?)))
                .unwrap();
            black_box((org, &user));
            update(&db, &mut version);
        })
    });
    group.bench_function("floor_2_statements/sqlite_rusqlite", |b| {
        b.iter(|| {
            let both: (Option<i64>, Option<String>, Option<i64>, Option<String>) = db
                .prepare_cached(SELECT_BOTH)
                .unwrap()
                .query_row(["ana", "bench"], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .unwrap();
            black_box(&both);
            update(&db, &mut version);
        })
    });
}

fn postgres_floor(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &tokio::runtime::Runtime,
    url: &str,
    record: &str,
) {
    let client = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        // A schema of the run's own (real tables: temporary ones skip the WAL).
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {FLOOR_PG_SCHEMA} CASCADE; CREATE SCHEMA {FLOOR_PG_SCHEMA}; SET search_path = {FLOOR_PG_SCHEMA}; {FLOOR_SCHEMA}"
            ))
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO floor_users (id, version, record) VALUES ('ana', 1, $1)",
                &[&record],
            )
            .await
            .unwrap();
        client
    });
    let (organization, user, both, update) = runtime.block_on(async {
        (
            client.prepare(SELECT_ORGANIZATION).await.unwrap(),
            client.prepare(SELECT_USER).await.unwrap(),
            client.prepare(SELECT_BOTH).await.unwrap(),
            client.prepare(UPDATE_USER).await.unwrap(),
        )
    });
    let mut version: i64 = 1;
    group.bench_function("floor_3_statements/postgres_tokio_postgres", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let org = client.query_opt(&organization, &[&"bench"]).await.unwrap();
                let row = client.query_one(&user, &[&"ana"]).await.unwrap();
                black_box((org, row));
                let updated = client
                    .execute(&update, &[&record, &None::<i64>, &"ana", &version])
                    .await
                    .unwrap();
                assert_eq!(updated, 1);
                version += 1;
            })
        })
    });
    group.bench_function("floor_2_statements/postgres_tokio_postgres", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let row = client.query_one(&both, &[&"ana", &"bench"]).await.unwrap();
                black_box(row);
                let updated = client
                    .execute(&update, &[&record, &None::<i64>, &"ana", &version])
                    .await
                    .unwrap();
                assert_eq!(updated, 1);
                version += 1;
            })
        })
    });
    runtime
        .block_on(client.batch_execute(&format!("DROP SCHEMA {FLOOR_PG_SCHEMA} CASCADE")))
        .unwrap();
}

fn stores(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("second_step");
    bench_store(&mut group, &runtime, "memory", Arc::new(MemoryStore::new()));

    let dir = std::env::temp_dir().join(format!("twofold-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let sqlite = runtime.block_on(SqlStore::connect(&url)).unwrap();
    assert!(sqlite.runs_sqlite_directly());
    let record = bench_store(&mut group, &runtime, "sqlite_wal_file", Arc::new(sqlite));
    // The same on an application's own sqlx pool (`from_pool`): every
    // statement through sqlx's worker thread.
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("from_pool.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let pool = runtime
        .block_on(
            sqlx::sqlite::SqlitePoolOptions::new()
                .test_before_acquire(false)
                .connect_with(options),
        )
        .unwrap();
    let from_pool = runtime.block_on(SqlStore::from_pool(pool)).unwrap();
    bench_store(
        &mut group,
        &runtime,
        "sqlite_wal_file_from_pool",
        Arc::new(from_pool),
    );
    sqlite_floor(&mut group, &dir.join("floor.db"), &record);

    match std::env::var("TWOFOLD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let postgres = runtime.block_on(SqlStore::connect(&url)).unwrap();
            let record = bench_store(&mut group, &runtime, "postgres", Arc::new(postgres));
            postgres_floor(&mut group, &runtime, &url, &record);
        }
        _ => eprintln!("SKIPPED: postgres (set TWOFOLD_TEST_POSTGRES_URL)"),
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, stores);
criterion_main!(benches);
