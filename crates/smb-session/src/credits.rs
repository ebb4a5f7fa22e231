//! MS-SMB2 3.3.1.1 Algorithm for Handling Available Message Sequence Numbers by the Server.
//!
//! The server grants credits; each credit lets the client use one MessageId. A request consumes
//! `max(1, CreditCharge)` consecutive ids, each at most once, from the window of ids granted so far.
//! Ids may arrive out of order (clients send from many threads), so used ids are tracked in a bitmap
//! that slides as the low end fills in.

/// The sliding window of MessageIds a connection may use.
#[derive(Debug)]
pub struct CreditWindow {
    /// Lowest id not yet used; everything below it has been used.
    low: u64,
    /// One past the highest id granted.
    high: u64,
    /// used[i] = id (low + i) has been used. Length is bounded by `max`.
    used: std::collections::VecDeque<bool>,
    max: u64,
}

/// Why a request's MessageId was refused (MS-SMB2 3.3.5.2.3: the server may drop the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditError {
    /// An id outside the window, or already used.
    InvalidMessageId { message_id: u64 },
    /// CreditCharge larger than what is outstanding.
    ChargeTooLarge { charge: u16 },
}

impl CreditWindow {
    /// A fresh connection: id 0 is granted (for NEGOTIATE).
    pub fn new(max: u16) -> Self {
        Self { low: 0, high: 1, used: std::collections::VecDeque::from([false]), max: u64::from(max.max(1)) }
    }

    /// Credits the client still holds.
    pub fn outstanding(&self) -> u64 {
        self.high - self.low - self.used.iter().filter(|&&u| u).count() as u64
    }

    /// Consumes `[message_id, message_id + max(1, charge))`.
    pub fn consume(&mut self, message_id: u64, charge: u16) -> Result<(), CreditError> {
        let n = u64::from(charge.max(1));
        let bad = CreditError::InvalidMessageId { message_id };
        let end = message_id.checked_add(n).ok_or(bad)?;
        if message_id < self.low || message_id >= self.high {
            return Err(bad);
        }
        if end > self.high {
            return Err(CreditError::ChargeTooLarge { charge });
        }
        let start = (message_id - self.low) as usize;
        if self.used.range(start..start + n as usize).any(|&u| u) {
            return Err(bad);
        }
        self.used.range_mut(start..start + n as usize).for_each(|u| *u = true);
        while self.used.front() == Some(&true) {
            self.used.pop_front();
            self.low += 1;
        }
        Ok(())
    }

    /// Grants up to `requested` more credits (at least 1 when the client would otherwise hold none),
    /// keeping at most `max` outstanding. Returns the number granted, for CreditResponse.
    pub fn grant(&mut self, requested: u16) -> u16 {
        let room = self.max.saturating_sub(self.high - self.low);
        let mut n = u64::from(requested).min(room);
        if n == 0 && self.outstanding() == 0 && room > 0 {
            n = 1;
        }
        self.high += n;
        self.used.extend(std::iter::repeat_n(false, n as usize));
        n as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn each_id_once_and_only_granted_ids() {
        let mut w = CreditWindow::new(16);
        w.consume(0, 0).unwrap();
        assert_eq!(w.consume(0, 0), Err(CreditError::InvalidMessageId { message_id: 0 }));
        assert_eq!(w.consume(1, 1), Err(CreditError::InvalidMessageId { message_id: 1 }));
        assert_eq!(w.grant(4), 4);
        w.consume(3, 1).unwrap(); // out of order is fine
        w.consume(1, 2).unwrap(); // multi-credit: 1 and 2
        assert_eq!(w.consume(2, 1), Err(CreditError::InvalidMessageId { message_id: 2 }));
        w.consume(4, 1).unwrap();
        assert_eq!(w.outstanding(), 0);
    }

    #[test]
    fn window_is_capped() {
        let mut w = CreditWindow::new(8);
        assert_eq!(w.grant(1000), 7);
        assert_eq!(w.grant(1), 0);
        assert_eq!(w.consume(1, 8), Err(CreditError::ChargeTooLarge { charge: 8 }));
        w.consume(0, 8).unwrap();
        assert_eq!(w.grant(100), 8);
    }

    #[test]
    fn never_leaves_the_client_without_credit() {
        let mut w = CreditWindow::new(4);
        w.consume(0, 1).unwrap();
        assert_eq!(w.grant(0), 1);
        assert_eq!(w.outstanding(), 1);
    }

    proptest! {
        #[test]
        fn random_use_never_reuses_an_id(ops in prop::collection::vec((0u64..80, 0u16..4, 0u16..6), 0..200)) {
            let mut w = CreditWindow::new(32);
            let mut seen = std::collections::HashSet::new();
            for (id, charge, grant) in ops {
                if w.consume(id, charge).is_ok() {
                    for i in id..id + u64::from(charge.max(1)) {
                        prop_assert!(seen.insert(i), "id {} used twice", i);
                    }
                }
                w.grant(grant);
                prop_assert!(w.high - w.low <= 32);
            }
        }
    }
}
