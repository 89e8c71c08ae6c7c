//! The default offload, `OffloadPool`: its bound, its queue, its deadline, and
//! what it does with work nobody waits for any more.
#![cfg(test)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use twofold::{Offload, OffloadError, OffloadPool};

/// A job that says it started, then waits to be released.
fn held(started: Sender<()>, release: Arc<Mutex<Receiver<()>>>) -> twofold::Job {
    Box::new(move || {
        started.send(()).unwrap();
        release.lock().unwrap().recv().unwrap();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_jobs_at_once_than_threads() {
    let pool = Arc::new(OffloadPool::new(2, 100, Duration::from_secs(60)));
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let jobs: Vec<_> = (0..40)
        .map(|_| {
            let (running, most, threads) = (
                Arc::clone(&running),
                Arc::clone(&most),
                Arc::clone(&threads),
            );
            pool.run(Box::new(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                threads.lock().unwrap().insert(std::thread::current().id());
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
            }))
        })
        .collect();
    for job in jobs {
        job.await.unwrap();
    }
    assert!(most.load(Ordering::SeqCst) <= 2, "{most:?} at once");
    assert_eq!(
        threads.lock().unwrap().len(),
        2,
        "exactly the pool's threads ran them"
    );
}

#[tokio::test]
async fn a_full_queue_answers_busy_at_once() {
    let pool = OffloadPool::new(1, 1, Duration::from_secs(60));
    let (started, running) = channel();
    let (release, held_back) = channel();
    let held_back = Arc::new(Mutex::new(held_back));
    let first = pool.run(held(started, Arc::clone(&held_back)));
    running.recv().unwrap();
    // The thread is busy with the first; the second fills the queue.
    let ran = Arc::new(AtomicBool::new(false));
    let second = pool.run(Box::new({
        let ran = Arc::clone(&ran);
        move || ran.store(true, Ordering::SeqCst)
    }));
    let third = pool.run(Box::new(|| panic!("a job beyond the queue ran")));
    assert_eq!(third.await, Err(OffloadError::Busy));
    release.send(()).unwrap();
    first.await.unwrap();
    second.await.unwrap();
    assert!(ran.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_job_that_waited_past_the_deadline_is_busy_and_never_runs() {
    let pool = OffloadPool::new(1, 10, Duration::from_millis(50));
    let (started, running) = channel();
    let (release, held_back) = channel();
    let first = pool.run(held(started, Arc::new(Mutex::new(held_back))));
    running.recv().unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let late = pool.run(Box::new({
        let ran = Arc::clone(&ran);
        move || ran.store(true, Ordering::SeqCst)
    }));
    // Hold the only thread well past the deadline of the queued job.
    std::thread::sleep(Duration::from_millis(200));
    release.send(()).unwrap();
    first.await.unwrap();
    assert_eq!(late.await, Err(OffloadError::Busy));
    assert!(!ran.load(Ordering::SeqCst), "a job past its deadline ran");
    // The pool goes on.
    pool.run(Box::new(|| {})).await.unwrap();
}

#[tokio::test]
async fn the_job_of_a_caller_that_left_is_skipped() {
    let pool = OffloadPool::new(1, 10, Duration::from_secs(60));
    let (started, running) = channel();
    let (release, held_back) = channel();
    let first = pool.run(held(started, Arc::new(Mutex::new(held_back))));
    running.recv().unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let abandoned = pool.run(Box::new({
        let ran = Arc::clone(&ran);
        move || ran.store(true, Ordering::SeqCst)
    }));
    drop(abandoned);
    release.send(()).unwrap();
    first.await.unwrap();
    // A later job runs after the abandoned one would have.
    pool.run(Box::new(|| {})).await.unwrap();
    assert!(!ran.load(Ordering::SeqCst), "the abandoned job ran");
}

#[tokio::test]
async fn a_panicking_job_is_lost_and_the_pool_goes_on() {
    let pool = OffloadPool::new(1, 10, Duration::from_secs(60));
    let lost = pool.run(Box::new(|| panic!("a job that panics")));
    assert_eq!(lost.await, Err(OffloadError::Lost));
    pool.run(Box::new(|| {})).await.unwrap();
}

#[test]
fn the_pool_says_its_size_and_has_at_least_one_thread() {
    let pool = OffloadPool::new(3, 10, Duration::from_secs(1));
    assert_eq!(pool.threads(), 3);
    assert_eq!(OffloadPool::new(0, 0, Duration::ZERO).threads(), 1);
    let shown = format!("{pool:?}");
    assert!(
        shown.starts_with("OffloadPool") && shown.contains("threads: 3"),
        "{shown}"
    );
}
