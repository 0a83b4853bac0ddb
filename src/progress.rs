//! How far a long piece of work has come, for a caller that shows it.
//!
//! The long loops (`route batch`, a replay, reading and comparing recorded
//! events, running scenarios) add to a [`Progress`] now and then: once per
//! chunk of input, or once per few hundred items, never once per event, and
//! never under a lock. The caller reads the counters from another thread and
//! draws what it likes; nothing here draws or prints. Adding is a relaxed
//! atomic addition, so a loop with nobody watching pays next to nothing.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of work done: bytes of input read, and items (events, cases)
/// done out of a total when the work knows it.
#[derive(Debug, Default)]
pub struct Progress {
    bytes: AtomicU64,
    items: AtomicU64,
    /// 0 while the total is not known.
    total_items: AtomicU64,
}

/// How often the loops that count items one by one add them: every this
/// many items (a power of two, so the test is a mask).
pub const EVERY: u64 = 256;

impl Progress {
    /// Nothing done yet, no total known.
    pub const fn new() -> Progress {
        Progress {
            bytes: AtomicU64::new(0),
            items: AtomicU64::new(0),
            total_items: AtomicU64::new(0),
        }
    }

    /// `bytes` more of the input were read and `items` more items done.
    pub fn add(&self, bytes: u64, items: u64) {
        if bytes > 0 {
            self.bytes.fetch_add(bytes, Relaxed);
        }
        if items > 0 {
            self.items.fetch_add(items, Relaxed);
        }
    }

    /// The work now counts items up to `total` (a new phase, such as
    /// comparing events that were read before): the item count starts again
    /// from 0.
    pub fn begin_items(&self, total: u64) {
        self.items.store(0, Relaxed);
        self.total_items.store(total, Relaxed);
    }

    /// Bytes of input read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Relaxed)
    }

    /// Items done so far (in this phase).
    pub fn items(&self) -> u64 {
        self.items.load(Relaxed)
    }

    /// How many items the work will do, when it knows.
    pub fn total_items(&self) -> Option<u64> {
        Some(self.total_items.load(Relaxed)).filter(|&n| n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_a_new_phase_starts_the_items_again() {
        let p = Progress::new();
        assert_eq!((p.bytes(), p.items(), p.total_items()), (0, 0, None));
        p.add(100, 2);
        p.add(50, 0);
        assert_eq!((p.bytes(), p.items()), (150, 2));
        p.begin_items(10);
        p.add(0, 3);
        assert_eq!((p.bytes(), p.items(), p.total_items()), (150, 3, Some(10)));
    }
}
