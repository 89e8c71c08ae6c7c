//! The attack burst: a facade on a 2-worker Tokio runtime while 1,000 wrong
//! backup-code attempts from 100 users are in flight, with the OWASP Argon2id
//! parameters (about 20 ms and 19 MiB each). Beside it:
//!
//! - a heartbeat task that sleeps 5 ms at a time: its worst lateness says how
//!   long the executor was stalled;
//! - legitimate TOTP second steps (begin + verify) of 200 other users: their p99;
//! - the peak RSS of the process (`VmHWM`);
//! - Argon2id evaluations per attempt: on this commit, the jobs its offload
//!   runs (each backup-code check is one job of one evaluation); on the parent,
//!   which hashes in place and allocates its 19 MiB block per evaluation, the
//!   allocations of at least 16 MiB, counted by this binary's allocator.
//!
//! Run `bash benches/attack-burst.sh` for this commit beside its parent, in one
//! run; `cargo bench -p twofold-benches --bench attack_burst` for this commit
//! alone. Under `cargo test` it runs at a tiny scale, as a smoke test.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tracking_allocator::{AllocationGroupId, AllocationRegistry, AllocationTracker, Allocator};
use twofold::store::Store;
use twofold::{
    Account, BackupConfig, HashParams, Keyring, ManualClock, MemoryStore, PasskeyConfig,
    PolicyDocument, RelyingParty, SecretKey, SignInStep, Timestamp, TwoFactor, TwoFactorConfig,
};
use twofold_totp::{Secret, Totp, TotpParams};

#[global_allocator]
static ALLOCATOR: Allocator<std::alloc::System> = Allocator::system();

/// Counts allocations of at least 16 MiB: one per Argon2id evaluation at
/// 19 MiB, and nothing else in this program is that large.
struct LargeAllocations;

static LARGE_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
const LARGE: usize = 16 * 1024 * 1024;

impl AllocationTracker for LargeAllocations {
    fn allocated(&self, _addr: usize, size: usize, _wrapped: usize, _group: AllocationGroupId) {
        if size >= LARGE {
            LARGE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn deallocated(
        &self,
        _addr: usize,
        _size: usize,
        _wrapped: usize,
        _source: AllocationGroupId,
        _current: AllocationGroupId,
    ) {
    }
}

const START: u64 = 1_767_225_615;

struct Scale {
    attackers: usize,
    attempts_each: usize,
    legitimate: usize,
    hash: HashParams,
}

fn account(user: &str) -> Account<'_> {
    Account {
        user,
        organization: "smile",
        role: "staff",
        name: user,
    }
}

/// Jobs run by the offload (this commit's builds only).
static OFFLOADED: AtomicUsize = AtomicUsize::new(0);

#[cfg(not(twofold_parent))]
struct CountingOffload(twofold::OffloadPool);

#[cfg(not(twofold_parent))]
impl twofold::Offload for CountingOffload {
    fn run(&self, job: twofold::Job) -> twofold::OffloadFuture {
        OFFLOADED.fetch_add(1, Ordering::SeqCst);
        self.0.run(job)
    }
}

/// Argon2id evaluations so far, as this build can count them.
fn evaluations() -> usize {
    if cfg!(twofold_parent) {
        LARGE_ALLOCATIONS.load(Ordering::SeqCst)
    } else {
        OFFLOADED.load(Ordering::SeqCst)
    }
}

fn facade(store: Arc<dyn Store>, clock: Arc<ManualClock>, hash: HashParams) -> TwoFactor {
    let rp = RelyingParty::new("localhost", "Smile Dental", &["http://localhost:8080"]).unwrap();
    let mut config = TwoFactorConfig::new("Smile Dental").with_passkeys(PasskeyConfig::new(rp));
    config.backup_codes = BackupConfig::default()
        .with_hash_params(hash)
        .with_minimum_hash_params(hash);
    let twofold = TwoFactor::new(store, Keyring::new(SecretKey::new("k1", [7u8; 32])), config)
        .unwrap()
        .with_clock(clock);
    #[cfg(not(twofold_parent))]
    let twofold = twofold.with_offload(Arc::new(CountingOffload(twofold::OffloadPool::default())));
    twofold
}

async fn enroll(twofold: &TwoFactor, user: &str, now: u64) -> String {
    #[cfg(twofold_parent)]
    let setup = twofold.begin_totp_enrollment(&account(user)).await;
    #[cfg(not(twofold_parent))]
    let setup = twofold
        .begin_totp_enrollment(
            &account(user),
            Some(twofold::Timestamp::from_unix_seconds(now)),
        )
        .await;
    let secret = setup.unwrap().value.manual_entry_secret;
    twofold
        .confirm_totp_enrollment(&account(user), &code(&secret, now))
        .await
        .unwrap();
    secret
}

fn code(secret: &str, time: u64) -> String {
    let totp = Totp::new(&Secret::from_base32(secret).unwrap(), TotpParams::default());
    totp.generate(time).unwrap().to_string()
}

fn challenge(step: SignInStep) -> String {
    match step {
        SignInStep::Challenge { challenge_id, .. } => challenge_id,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn run(scale: Scale) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(START)));
    // Setup with cheap hashing; then every attacked user gets one set hashed
    // with the parameters under test (their codes are all wrong anyway).
    let cheap = HashParams::new(64, 1, 1).unwrap();
    let setup = facade(Arc::clone(&store), Arc::clone(&clock), cheap);
    let twofold = Arc::new(facade(Arc::clone(&store), Arc::clone(&clock), scale.hash));
    // A throttle that never refuses, so that every attempt is checked: the
    // figure is the cost of checking, not of refusing.
    let mut lenient = PolicyDocument::example_clinic();
    lenient.throttle.max_failures = 100;
    lenient.throttle.backoff_seconds = vec![0];
    setup.set_policy("smile", lenient).await.unwrap();
    let (set, _) = twofold_backup::BackupCodeSet::generate(
        &BackupConfig::default().with_hash_params(scale.hash),
    )
    .unwrap();
    let attackers: Vec<String> = (0..scale.attackers)
        .map(|i| format!("victim-{i}"))
        .collect();
    for user in &attackers {
        enroll(&setup, user, START).await;
        let mut record = store.load_user(user).await.unwrap().unwrap();
        record.value.backup_codes = Some(set.encode());
        #[cfg(twofold_parent)]
        store
            .save_user(user, &record.value, Some(record.version))
            .await
            .unwrap();
        #[cfg(not(twofold_parent))]
        store
            .save_user(
                user,
                &record.value,
                Some(record.version),
                twofold::CredentialChanges::NONE,
            )
            .await
            .unwrap();
    }
    let mut legitimate = Vec::new();
    for i in 0..scale.legitimate {
        let user = format!("staff-{i}");
        let secret = enroll(&setup, &user, START).await;
        legitimate.push((user, secret));
    }
    // One step later: the confirming codes are spent.
    clock.set(Timestamp::from_unix_seconds(START + 30));
    let mut challenges = Vec::new();
    for user in &attackers {
        challenges.push(challenge(
            twofold.begin_sign_in(&account(user)).await.unwrap().value,
        ));
    }
    let rss_before = peak_rss_mib();

    // The heartbeat.
    let lateness = Arc::new(AtomicU64::new(0));
    let beating = Arc::new(AtomicUsize::new(1));
    let heartbeat = tokio::spawn({
        let (lateness, beating) = (Arc::clone(&lateness), Arc::clone(&beating));
        async move {
            while beating.load(Ordering::SeqCst) == 1 {
                let asked = Instant::now();
                tokio::time::sleep(Duration::from_millis(5)).await;
                let late = asked.elapsed().saturating_sub(Duration::from_millis(5));
                lateness.fetch_max(late.as_micros() as u64, Ordering::SeqCst);
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;

    // The attack: every attempt in flight at once.
    let evaluations_before = evaluations();
    let attack_started = Instant::now();
    let mut attack = Vec::new();
    for (user, challenge_id) in attackers.iter().zip(&challenges) {
        for attempt in 0..scale.attempts_each {
            let (twofold, user, challenge_id) =
                (Arc::clone(&twofold), user.clone(), challenge_id.clone());
            attack.push(tokio::spawn(async move {
                let typed = format!("AAAAA-{:05}", attempt + 10_000);
                twofold
                    .verify_backup_code(&account(&user), &challenge_id, &typed)
                    .await
                    .map_err(|failure| format!("{:?}", failure.error))
            }));
        }
    }

    // Legitimate second steps, one every 10 ms, while the attack runs.
    let mut legit = Vec::new();
    for (user, secret) in legitimate {
        let twofold = Arc::clone(&twofold);
        // From the request, not from when a worker gets to it: queueing counts.
        let started = Instant::now();
        legit.push(tokio::spawn(async move {
            let step = twofold.begin_sign_in(&account(&user)).await.unwrap().value;
            twofold
                .verify_totp(
                    &account(&user),
                    &challenge(step),
                    &code(&secret, START + 30),
                )
                .await
                .unwrap();
            started.elapsed().as_secs_f64() * 1000.0
        }));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut latencies = Vec::new();
    for step in legit {
        latencies.push(step.await.unwrap());
    }
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for attempt in attack {
        let outcome = match attempt.await.unwrap() {
            Ok(_) => "accepted".to_string(),
            Err(error) => error
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or("")
                .to_string(),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    let attack_seconds = attack_started.elapsed().as_secs_f64();
    let evaluations = evaluations() - evaluations_before;
    beating.store(0, Ordering::SeqCst);
    heartbeat.await.unwrap();
    latencies.sort_by(f64::total_cmp);
    let attempts = scale.attackers * scale.attempts_each;
    println!(
        "build: {}",
        if cfg!(twofold_parent) {
            "parent"
        } else {
            "this commit"
        }
    );
    println!(
        "attempts in flight: {attempts} from {} users",
        scale.attackers
    );
    println!("attack outcomes: {outcomes:?} in {attack_seconds:.1} s");
    println!(
        "heartbeat worst lateness: {:.1} ms",
        lateness.load(Ordering::SeqCst) as f64 / 1000.0
    );
    println!(
        "legitimate TOTP second steps: {} , p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0)
    );
    println!(
        "peak RSS: {:.0} MiB (before the attack: {rss_before:.0} MiB)",
        peak_rss_mib()
    );
    println!(
        "Argon2id evaluations: {evaluations}, per attempt {:.2}",
        evaluations as f64 / attempts as f64
    );
}

fn main() {
    AllocationRegistry::set_global_tracker(LargeAllocations).unwrap();
    AllocationRegistry::enable_tracking();
    // `cargo bench` passes --bench; `cargo test --benches` does not: then a smoke run.
    let full = std::env::args().any(|arg| arg == "--bench");
    let scale = if full {
        Scale {
            attackers: 100,
            attempts_each: 10,
            legitimate: 200,
            hash: HashParams::default(),
        }
    } else {
        Scale {
            attackers: 2,
            attempts_each: 2,
            legitimate: 2,
            hash: HashParams::new(16 * 1024 + 1024, 1, 1).unwrap(),
        }
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(scale));
}
