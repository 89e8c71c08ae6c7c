//! CPU-heavy work (Argon2id for backup codes) off the async executor, bounded.
//!
//! An Argon2id evaluation with the OWASP parameters takes about 20 ms of CPU
//! and 19 MiB. Run inside an async fn, it stalls every task on that worker, and
//! a burst of wrong backup codes stalls the whole runtime. So the facade hands
//! such work to an [`Offload`]: a place where blocking is allowed, with a bound
//! on how many run at once, and a typed [`Busy`](crate::TwoFactorError::Busy)
//! when an attempt cannot start in time.
//!
//! The default is an [`OffloadPool`]: a fixed set of OS threads (as many as
//! the machine has cores) with a bounded queue. Why not the alternatives:
//!
//! - **`tokio::task::spawn_blocking` behind a semaphore:** Tokio's blocking pool
//!   starts a new thread whenever none is idle, and a thread that has just
//!   released its permit is not idle yet; each thread's allocator arena keeps
//!   its 19 MiB, so memory grows with the thread count, not with the bound. It
//!   also ties the library to one runtime.
//! - **the `blocking` crate:** a second pool of up to 500 threads, with no bound
//!   of ours and no deadline, so the bound and the `Busy` answer would still
//!   need building on top.
//!
//! A fixed pool makes the bound structural (at most `threads` evaluations, and
//! `threads` × 19 MiB, ever), needs no runtime and no timer (a job that waited
//! past its deadline is answered `Busy` when dequeued, without running), and
//! skips the jobs of callers that have gone. Applications that already run
//! such a pool implement [`Offload`] over it in a few lines.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use futures_channel::oneshot;

/// A unit of blocking work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// The future an [`Offload`] returns: it completes when the job has run.
pub type OffloadFuture = Pin<Box<dyn Future<Output = Result<(), OffloadError>> + Send + 'static>>;

/// Why offloaded work did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OffloadError {
    /// Too much work is in flight: the job could not start in time (or could
    /// not even be queued). It never runs.
    #[error("too many expensive checks are running; try again shortly")]
    Busy,
    /// The job did not complete (it panicked, or its thread was lost).
    #[error("the offloaded job did not complete")]
    Lost,
}

/// Runs blocking work away from the async executor, at most a bounded number
/// of jobs at once.
///
/// The contract: `run` returns at once; its future completes after `job` has
/// run on a thread where blocking is allowed, or fails with
/// [`OffloadError::Busy`] if the job could not start in time (then it never
/// runs). Dropping the future must not let more jobs run at once than the bound.
pub trait Offload: Send + Sync {
    /// Runs `job` off the executor.
    fn run(&self, job: Job) -> OffloadFuture;
}

/// Runs each job in place, on the calling task: **blocks the executor**.
///
/// Only for tests and for programs without an async runtime. Named so that a
/// reviewer sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DangerouslyInline;

impl Offload for DangerouslyInline {
    fn run(&self, job: Job) -> OffloadFuture {
        job();
        Box::pin(async { Ok(()) })
    }
}

/// The default [`Offload`]: a fixed pool of threads and a bounded queue.
///
/// At most `threads` jobs run at once, each on one of exactly `threads` OS
/// threads (started with the first job). A job waits in a queue of at most
/// `queue` jobs; when the queue is full, or the job has waited longer than
/// `max_wait` by the time a thread takes it, the caller gets
/// [`OffloadError::Busy`] and the job never runs. A job whose caller dropped
/// its future before it started is skipped. The threads end when the pool is
/// dropped.
pub struct OffloadPool {
    threads: usize,
    queue: usize,
    max_wait: Duration,
    sender: OnceLock<Mutex<Option<SyncSender<Queued>>>>,
}

struct Queued {
    job: Job,
    enqueued: Instant,
    done: oneshot::Sender<Result<(), OffloadError>>,
}

impl OffloadPool {
    /// A pool of `threads` threads (at least one), a queue of `queue` jobs (at
    /// least one), and `max_wait` for a queued job to start.
    pub fn new(threads: usize, queue: usize, max_wait: Duration) -> OffloadPool {
        OffloadPool {
            threads: threads.max(1),
            queue: queue.max(1),
            max_wait,
            sender: OnceLock::new(),
        }
    }

    /// The number of jobs that may run at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The queue's sender, starting the threads on first use; `None` if they
    /// could not be started.
    fn sender(&self) -> Option<SyncSender<Queued>> {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = sync_channel::<Queued>(self.queue);
            let receiver = Arc::new(Mutex::new(receiver));
            let mut started = 0;
            for index in 0..self.threads {
                let receiver = Arc::clone(&receiver);
                let max_wait = self.max_wait;
                let spawned = std::thread::Builder::new()
                    .name(format!("twofold-offload-{index}"))
                    .spawn(move || work(&receiver, max_wait));
                started += usize::from(spawned.is_ok());
            }
            Mutex::new((started > 0).then_some(sender))
        });
        sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One pool thread: takes jobs until the pool is dropped.
fn work(receiver: &Mutex<Receiver<Queued>>, max_wait: Duration) {
    loop {
        let next = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(queued) = next else {
            return;
        };
        if queued.done.is_canceled() {
            continue;
        }
        if queued.enqueued.elapsed() > max_wait {
            let _ = queued.done.send(Err(OffloadError::Busy));
            continue;
        }
        let outcome = catch_unwind(AssertUnwindSafe(queued.job)).map_err(|_| OffloadError::Lost);
        let _ = queued.done.send(outcome);
    }
}

impl Default for OffloadPool {
    /// As many threads as the machine has cores, a queue of 1,024 jobs, and ten
    /// seconds for a queued job to start.
    fn default() -> OffloadPool {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        OffloadPool::new(cores, 1024, Duration::from_secs(10))
    }
}

impl fmt::Debug for OffloadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OffloadPool")
            .field("threads", &self.threads)
            .field("queue", &self.queue)
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

impl Offload for OffloadPool {
    fn run(&self, job: Job) -> OffloadFuture {
        let Some(sender) = self.sender() else {
            return Box::pin(async { Err(OffloadError::Lost) });
        };
        let (done, finished) = oneshot::channel();
        let queued = Queued {
            job,
            enqueued: Instant::now(),
            done,
        };
        match sender.try_send(queued) {
            Ok(()) => Box::pin(async move { finished.await.unwrap_or(Err(OffloadError::Lost)) }),
            Err(TrySendError::Full(_)) => Box::pin(async { Err(OffloadError::Busy) }),
            Err(TrySendError::Disconnected(_)) => Box::pin(async { Err(OffloadError::Lost) }),
        }
    }
}
