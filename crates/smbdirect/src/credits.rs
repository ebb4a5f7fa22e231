//! Credits, MS-SMBD 3.1.5.1 (spending) and 3.1.5.9 (granting), with explicit posted/granted
//! accounting.
//!
//! One send credit is the right to consume one receive buffer the peer has posted. Each side
//! keeps two books:
//!
//! - `SendCredits`: credits the peer granted us and we have not spent (Connection.SendCredits).
//! - `RecvCredits`: receive buffers the transport has posted (`posted`) and how many of them
//!   the peer holds credits for (`granted`, the peer's SendCredits as we know them). The spec's
//!   single Connection.ReceiveCredits is split in two so that a grant can never name a buffer
//!   that is not posted: Linux's "grants before posting" bug class.
//!
//! Invariants (checked by the two-peer property tests):
//! - `granted <= posted`: a grant is computed from `posted - granted` only.
//! - Conservation: our `granted` = the peer's `SendCredits` + the peer's messages in flight to us
//!   + our grants in flight to the peer.
//! - Last-credit rule (3.1.5.1): the last send credit is spent only by a message that grants at
//!   least one credit back, so the peer can always answer. When we hold one credit, have
//!   something to send and nothing left to grant, `RecvCredits::wanted` (hence [`crate::SmbdConnection::receives_wanted`]) asks for one more
//!   receive even past the target (3.1.5.9 "MUST allocate and post at least one receive").
//!
//! Empty grant messages. 3.1.5.8 has a receiver with an empty send queue send an empty message
//! whenever credit management produced new credits. Taken literally, two idle peers then trade
//! empty messages forever: each empty message consumes a receive, whose re-post is a "new credit"
//! for the other side. Here an empty message is sent only to a peer whose credits fell to the
//! low-water mark `(target - 1) / 2` (`target >= 2`): a grant tops it up to `posted`, and the
//! one credit the peer's next empty message would cost us cannot take it back under the mark
//! once the transport has posted the target, so the exchange stops. Grants also ride on every
//! data message.

/// Credits we hold for sending (Connection.SendCredits, SendCreditTarget).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SendCredits {
    /// Unspent credits the peer granted.
    pub held: u32,
    /// CreditsRequested in every message we send.
    pub target: u16,
}

impl SendCredits {
    /// Credits the peer can grant us at most: more would mean it posted more than 65535 receives.
    const CAP: u32 = u16::MAX as u32;

    pub fn new(target: u16) -> Self {
        Self { held: 0, target }
    }

    /// Adds a grant from the peer (MS-SMBD 3.1.5.8).
    pub fn add(&mut self, granted: u16) -> Result<(), crate::Error> {
        let sum = self.held + u32::from(granted);
        if sum > Self::CAP {
            return Err(crate::Error::CreditOverflow { granted, held: self.held });
        }
        self.held = sum;
        Ok(())
    }

    /// Whether a message granting `grant` credits may be sent now (MS-SMBD 3.1.5.1).
    pub fn may_send(&self, grant: u16) -> bool {
        self.held >= 2 || (self.held == 1 && grant > 0)
    }

    /// Spends one credit for a message about to be sent.
    pub fn spend(&mut self) {
        debug_assert!(self.held > 0, "spending a credit we do not hold");
        self.held -= 1;
    }
}

/// Receive buffers posted by the transport and the credits granted over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecvCredits {
    /// Receive buffers posted and not yet completed.
    pub posted: u32,
    /// Of `posted`, how many the peer holds credits for.
    pub granted: u32,
    /// Connection.ReceiveCreditTarget: the CreditsRequested of the peer's latest message.
    pub peer_target: u16,
    /// Connection.ReceiveCreditMax.
    pub max: u16,
}

impl RecvCredits {
    pub fn new(max: u16) -> Self {
        Self { posted: 0, granted: 0, peer_target: 0, max }
    }

    /// How many credits the peer should hold: its request, at least 2 (one credit cannot carry
    /// traffic under the last-credit rule without an empty message per message) and at most our
    /// maximum (which [`crate::Config::validate`] keeps at 2 or more).
    pub fn target(&self) -> u32 {
        u32::from(self.peer_target).clamp(2, u32::from(self.max.max(2)))
    }

    /// Posted receives the peer holds no credit for: all a grant may hand out.
    pub fn ungranted(&self) -> u32 {
        self.posted - self.granted
    }

    /// The transport posted `n` more receive buffers.
    pub fn on_posted(&mut self, n: u32) {
        self.posted = self.posted.saturating_add(n);
    }

    /// A receive buffer completed with a message. `spends_credit` is false for the negotiate
    /// messages, which arrive in receives posted before any grant.
    pub fn on_received(&mut self, spends_credit: bool) -> Result<(), crate::Error> {
        if self.posted == 0 {
            return Err(crate::Error::NoReceivePosted);
        }
        self.posted -= 1;
        if spends_credit {
            if self.granted == 0 {
                return Err(crate::Error::NoCreditForReceive);
            }
            self.granted -= 1;
        }
        Ok(())
    }

    /// The CreditsGranted for the next message: what the peer lacks toward [`Self::target`],
    /// limited to posted receives not yet granted. With `last_credit` (we are about to spend our
    /// last send credit) at least one, if one is posted, so the message may go at all.
    pub fn grant(&self, last_credit: bool) -> u16 {
        let need = self.target().saturating_sub(self.granted);
        let mut g = self.ungranted().min(need);
        if last_credit && g == 0 {
            g = self.ungranted().min(1);
        }
        g.min(u32::from(u16::MAX)) as u16
    }

    /// Records a grant that went out in a message.
    pub fn commit_grant(&mut self, g: u16) {
        self.granted += u32::from(g);
        debug_assert!(self.granted <= self.posted, "granted more than posted");
    }

    /// Whether the peer's credits are at or below the low-water mark, so an empty message just to
    /// grant is worth a credit of ours (see the module doc).
    pub fn peer_starved(&self) -> bool {
        self.granted <= (self.target() - 1) / 2
    }

    /// How many more receives the transport should post: up to [`Self::target`], plus one past it
    /// when the last-credit rule would otherwise block `pending` sends (MS-SMBD 3.1.5.9).
    pub fn wanted(&self, last_credit_with_pending: bool) -> u32 {
        let base = self.target().saturating_sub(self.posted);
        if base == 0 && last_credit_with_pending && self.ungranted() == 0 {
            1
        } else {
            base
        }
    }
}

/// A snapshot of the credit books, for statistics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Credits {
    /// Send credits held (Connection.SendCredits).
    pub send: u32,
    /// Receive buffers posted and not completed.
    pub posted: u32,
    /// Of those, how many the peer holds credits for.
    pub granted: u32,
    /// How many credits we aim to give the peer (its CreditsRequested, clamped).
    pub receive_target: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn recv(posted: u32, granted: u32, peer_target: u16) -> RecvCredits {
        RecvCredits { posted, granted, peer_target, max: 255 }
    }

    #[test]
    fn grants_only_posted_ungranted_receives() {
        assert_eq!(recv(0, 0, 255).grant(false), 0);
        assert_eq!(recv(10, 0, 255).grant(false), 10);
        assert_eq!(recv(10, 4, 255).grant(false), 6);
        // Toward the target only...
        assert_eq!(recv(10, 4, 6).grant(false), 2);
        assert_eq!(recv(10, 6, 6).grant(false), 0);
        // ...unless the last credit needs a grant to be spent.
        assert_eq!(recv(10, 6, 6).grant(true), 1);
        assert_eq!(recv(6, 6, 6).grant(true), 0);
    }

    #[test]
    fn target_is_clamped_to_two_and_our_max() {
        assert_eq!(recv(0, 0, 1).target(), 2);
        assert_eq!(recv(0, 0, 0).target(), 2);
        assert_eq!(RecvCredits { max: 16, ..recv(0, 0, 255) }.target(), 16);
    }

    #[test]
    fn last_credit_rule() {
        let s = SendCredits { held: 1, target: 255 };
        assert!(!s.may_send(0));
        assert!(s.may_send(1));
        assert!(SendCredits { held: 2, target: 255 }.may_send(0));
        assert!(!SendCredits { held: 0, target: 255 }.may_send(5));
    }

    #[test]
    fn receives_spend_posted_and_granted() {
        let mut r = recv(2, 1, 10);
        r.on_received(true).unwrap();
        assert_eq!((r.posted, r.granted), (1, 0));
        assert_eq!(r.on_received(true), Err(Error::NoCreditForReceive));
        let mut r = recv(0, 0, 10);
        assert_eq!(r.on_received(false), Err(Error::NoReceivePosted));
        let mut r = recv(1, 0, 10);
        r.on_received(false).unwrap();
        assert_eq!(r.posted, 0);
    }

    #[test]
    fn wanted_fills_to_target_and_one_past_for_the_last_credit() {
        assert_eq!(recv(0, 0, 10).wanted(false), 10);
        assert_eq!(recv(4, 4, 10).wanted(false), 6);
        assert_eq!(recv(10, 10, 10).wanted(false), 0);
        assert_eq!(recv(10, 10, 10).wanted(true), 1);
        // Something is already free to grant: no extra receive needed.
        assert_eq!(recv(10, 9, 10).wanted(true), 0);
    }

    #[test]
    fn starvation_mark_is_below_target_minus_one() {
        for t in 2..=255u16 {
            let mut r = recv(u32::from(t), u32::from(t), t);
            assert!(!r.peer_starved(), "full peer at target {t}");
            // One credit below full is never starved: the empty-message exchange stops there.
            r.granted -= 1;
            assert!(!r.peer_starved(), "target {t}");
        }
        assert!(recv(10, 4, 10).peer_starved());
        assert!(!recv(10, 5, 10).peer_starved());
    }

    #[test]
    fn send_credits_overflow_is_refused() {
        let mut s = SendCredits { held: 65_000, target: 255 };
        assert_eq!(s.add(1000), Err(Error::CreditOverflow { granted: 1000, held: 65_000 }));
        s.add(535).unwrap();
        assert_eq!(s.held, 65_535);
    }
}
