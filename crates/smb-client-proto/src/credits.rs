//! MS-SMB2 3.2.4.1.5 / 3.2.5.1.4 the client's side of credits: which MessageIds it may use.
//!
//! Every granted credit is one MessageId; a request costs `max(1, CreditCharge)` consecutive ids and
//! is refused here, before it is built, when fewer are held, so the server never sees an id outside
//! its window.

/// MessageIds granted and used so far.
#[derive(Debug)]
pub struct CreditWindow {
    /// Next MessageId to hand out.
    next: u64,
    /// One past the highest MessageId granted.
    high: u64,
}

/// How many credits a client tries to keep in hand (asked for on every request): room for four 8 MiB
/// requests (128 credits each) in flight. With fewer, a request of the largest size could never be
/// sent (64 held, 128 needed, nothing in flight to grant more).
pub const CREDIT_TARGET: u64 = 512;
// The largest request (8 MiB, 128 credits) fits in what the client asks to hold.
const _: () = assert!(CREDIT_TARGET >= 128);

impl Default for CreditWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl CreditWindow {
    /// A fresh connection holds one credit: MessageId 0, for NEGOTIATE.
    pub fn new() -> Self {
        Self { next: 0, high: 1 }
    }

    pub fn available(&self) -> u64 {
        self.high - self.next
    }

    /// Takes `charge` ids; returns the first, or `None` (nothing taken) when fewer are held.
    pub fn take(&mut self, charge: u16) -> Option<u64> {
        let n = u64::from(charge.max(1));
        if n > self.available() {
            return None;
        }
        let first = self.next;
        self.next += n;
        Some(first)
    }

    /// Adds the CreditResponse of a response.
    pub fn grant(&mut self, credits: u16) {
        self.high = self.high.saturating_add(u64::from(credits));
    }

    /// The CreditRequest for a request costing `charge`: enough to get back to [`CREDIT_TARGET`].
    pub fn request_for(&self, charge: u16) -> u16 {
        let after = self.available().saturating_sub(u64::from(charge.max(1)));
        let want = u64::from(charge.max(1)) + CREDIT_TARGET.saturating_sub(after);
        u16::try_from(want).unwrap_or(u16::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_hands_out_more_than_granted() {
        let mut w = CreditWindow::new();
        assert_eq!(w.take(1), Some(0));
        assert_eq!(w.take(1), None);
        w.grant(3);
        assert_eq!(w.take(4), None, "a refused request takes nothing");
        assert_eq!(w.take(2), Some(1));
        assert_eq!(w.take(0), Some(3), "charge 0 costs one id");
        assert_eq!(w.available(), 0);
    }

    #[test]
    fn asks_to_get_back_to_the_target() {
        let mut w = CreditWindow::new();
        assert_eq!(w.request_for(1), 1 + CREDIT_TARGET as u16);
        w.grant(CREDIT_TARGET as u16 + 100);
        assert_eq!(w.request_for(4), 4);
    }
}
