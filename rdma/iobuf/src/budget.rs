//! One server-wide budget for the memory connections hold (receive buffers grown for large
//! messages, queued answers, payloads waiting for the disk, buffers kept for reuse), shared by every
//! reactor and every connection's session layer, so that the process's resident size has a bound
//! whatever its peers do: many connections each sending large messages slowly, never reading their
//! answers, or streaming at once.
//!
//! Two kinds of holding, treated differently:
//! - **in flight** (a message being received, answers not yet sent, WRITEs on their way to disk):
//!   charged as it happens ([`Held::set`]); new work is not started while the budget is exhausted
//!   ([`MemoryBudget::exhausted`]), so in-flight memory overshoots the limit by at most what work
//!   already started adds;
//! - **kept for reuse** (spare buffers, a receive buffer left large after a large message): kept
//!   only while the budget is less than half used ([`MemoryBudget::pressed`]), and given back when
//!   it is.
//!
//! A budget is a few atomics: charging costs a relaxed atomic add and an atomic max (the peak), no
//! lock; a holder whose figure did not change touches none of them.

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// The limit and what is held against it.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
    /// Holders waiting for room (a receive buffer that could not grow).
    waiters: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            limit,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
        })
    }

    /// Someone waits for room / stopped waiting (the reactors count the connections they starve).
    pub fn wait(&self) {
        self.waiters.fetch_add(1, Relaxed);
    }

    pub fn unwait(&self) {
        self.waiters.fetch_sub(1, Relaxed);
    }

    /// Nobody can get what they need: the budget is used up, or more than half used with someone
    /// waiting for room. What makes holders that do not move give way.
    pub fn contended(&self) -> bool {
        self.exhausted() || (self.pressed() && self.waiters.load(Relaxed) > 0)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    /// The most ever held at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }

    /// Everything is spoken for: start no new work.
    pub fn exhausted(&self) -> bool {
        self.used() >= self.limit
    }

    /// More than half is used: keep nothing for reuse.
    pub fn pressed(&self) -> bool {
        self.used() > self.limit / 2
    }

    /// Takes `n` bytes if they fit under the limit.
    fn try_charge(&self, n: usize) -> bool {
        let mut cur = self.used.load(Relaxed);
        loop {
            let Some(next) = cur.checked_add(n).filter(|&v| v <= self.limit) else { return false };
            match self.used.compare_exchange_weak(cur, next, Relaxed, Relaxed) {
                Ok(_) => {
                    self.peak.fetch_max(next, Relaxed);
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }

    fn charge(&self, n: usize) {
        let now = self.used.fetch_add(n, Relaxed) + n;
        self.peak.fetch_max(now, Relaxed);
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Relaxed);
    }
}

/// What one holder (a connection's receive buffer, its outbox, its session's buffers) has charged
/// to a budget; given back when dropped. Without a budget it only remembers the figure.
#[derive(Debug, Default)]
pub struct Held {
    budget: Option<Arc<MemoryBudget>>,
    bytes: usize,
}

impl Held {
    pub fn new(budget: Option<Arc<MemoryBudget>>) -> Held {
        Held { budget, bytes: 0 }
    }

    pub fn budget(&self) -> Option<&MemoryBudget> {
        self.budget.as_deref()
    }

    /// Bytes this holder has charged.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Now holds `bytes`, whatever the budget says (memory in flight: already allocated).
    pub fn set(&mut self, bytes: usize) {
        if bytes == self.bytes {
            // The common case after every message: no change, no shared cache line touched.
            return;
        }
        if let Some(b) = &self.budget {
            if bytes > self.bytes {
                b.charge(bytes - self.bytes);
            } else {
                b.release(self.bytes - bytes);
            }
        }
        self.bytes = bytes;
    }

    /// Grows to `bytes` if the budget has room (always without a budget); false leaves it as it
    /// was.
    pub fn try_grow(&mut self, bytes: usize) -> bool {
        if bytes <= self.bytes {
            self.set(bytes);
            return true;
        }
        match &self.budget {
            Some(b) if !b.try_charge(bytes - self.bytes) => false,
            _ => {
                self.bytes = bytes;
                true
            }
        }
    }

    /// The budget is more than half used (false without one).
    pub fn pressed(&self) -> bool {
        self.budget.as_ref().is_some_and(|b| b.pressed())
    }

    /// The budget is used up (false without one).
    pub fn exhausted(&self) -> bool {
        self.budget.as_ref().is_some_and(|b| b.exhausted())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.set(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn growth_stops_at_the_limit_and_everything_comes_back_on_drop() {
        let b = MemoryBudget::new(100);
        let mut a = Held::new(Some(b.clone()));
        let mut c = Held::new(Some(b.clone()));
        assert!(a.try_grow(60));
        assert!(!c.try_grow(41), "41 more fit in the 40 left");
        assert_eq!(c.bytes(), 0);
        assert!(c.try_grow(40));
        assert!(b.exhausted() && b.pressed());
        // In-flight memory is charged regardless, and counted in the peak.
        a.set(90);
        assert_eq!(b.used(), 130);
        assert_eq!(b.peak(), 130);
        a.set(10);
        assert!(!b.exhausted() && !b.pressed());
        drop(a);
        drop(c);
        assert_eq!(b.used(), 0);
        assert_eq!(b.peak(), 130);
    }

    #[test]
    fn without_a_budget_every_growth_succeeds() {
        let mut h = Held::new(None);
        assert!(h.try_grow(usize::MAX));
        assert!(!h.pressed() && !h.exhausted());
    }

    proptest! {
        /// Whatever holders do, the budget's count is the sum of what they hold, and try_grow
        /// never takes it past the limit.
        #[test]
        fn the_count_is_the_sum_of_the_holders(ops in proptest::collection::vec((0usize..4, 0usize..300, any::<bool>()), 1..200)) {
            let b = MemoryBudget::new(500);
            let mut holders: Vec<Held> = (0..4).map(|_| Held::new(Some(b.clone()))).collect();
            for (i, n, soft) in ops {
                let before = b.used();
                if soft {
                    let prior = holders[i].bytes();
                    if holders[i].try_grow(n) {
                        prop_assert_eq!(holders[i].bytes(), n);
                        if n > prior {
                            prop_assert!(b.used() <= 500, "a growth took the budget to {}", b.used());
                        }
                    } else {
                        prop_assert_eq!(b.used(), before);
                        prop_assert_eq!(holders[i].bytes(), prior);
                        prop_assert!(before - prior + n > 500);
                    }
                } else {
                    holders[i].set(n);
                }
                prop_assert_eq!(b.used(), holders.iter().map(Held::bytes).sum::<usize>());
            }
            drop(holders);
            prop_assert_eq!(b.used(), 0);
        }
    }
}
