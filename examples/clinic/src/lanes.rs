//! One Argon2 evaluation at a time per client address.
//!
//! The offload pool bounds how many hashes run at once, first come first
//! served. Without lanes, one address that posts thirty wrong passwords at once
//! (all within its free budget) fills the queue, and every other user's
//! sign-in waits behind all thirty. With a lane per address, an address has at
//! most one hash queued or running; its other requests wait in its own lane, so
//! that other addresses wait behind at most one hash of each busy address.
//!
//! A lane exists only while some request holds or waits for it, so the map is
//! bounded by the requests in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The lanes, by client address.
#[derive(Debug, Default)]
pub(crate) struct Lanes(Mutex<HashMap<String, Arc<Semaphore>>>);

/// A turn in an address's lane, held while its hash is queued or running.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    lanes: &'a Lanes,
    address: String,
    permit: Option<OwnedSemaphorePermit>,
}

impl Lanes {
    /// Waits for `address`'s turn.
    pub(crate) async fn turn(&self, address: &str) -> Turn<'_> {
        let lane = {
            let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                map.entry(address.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(1))),
            )
        };
        // The semaphore is never closed, so acquiring cannot fail; if it did,
        // the request goes ahead without a turn rather than failing.
        let permit = lane.acquire_owned().await.ok();
        Turn {
            lanes: self,
            address: address.to_string(),
            permit,
        }
    }

    /// Lanes in the map (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut map = self.lanes.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Only the map holds the lane now: nobody waits for it.
        if map
            .get(&self.address)
            .is_some_and(|lane| Arc::strong_count(lane) == 1)
        {
            map.remove(&self.address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_turn_per_address_and_nothing_left_behind() {
        let lanes = Lanes::default();
        let first = lanes.turn("10.0.0.1").await;
        // Another address goes ahead at once.
        let other = lanes.turn("10.0.0.2").await;
        // The same address waits until the first turn ends.
        let waiting = lanes.turn("10.0.0.1");
        tokio::pin!(waiting);
        assert!(
            futures_poll_once(waiting.as_mut()).await.is_none(),
            "a second turn began while the first was held"
        );
        drop(first);
        let second = waiting.await;
        drop((second, other));
        assert_eq!(lanes.len(), 0, "lanes outlived their requests");
    }

    /// Polls a future once.
    async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
                std::task::Poll::Ready(value) => Some(value),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
