//! The idle connection timer and keepalives, MS-SMBD 3.1.6.2 (expiry), 3.1.5.5 (any receive
//! resets it), 3.1.5.1 (the RESPONSE_REQUESTED flag on the next send) and 3.1.5.8 (answering a
//! peer's request promptly).
//!
//! Two separate questions, where MS-SMBD uses one variable (Connection.KeepaliveRequested) for
//! both:
//! - Our probe: after KeepaliveInterval without a message from the peer, the next message we send
//!   (an empty one if nothing is queued) carries SMB_DIRECT_RESPONSE_REQUESTED and the timer is
//!   cut to the keepalive timeout (5 s, MS-SMBD <4>). If it expires again before anything
//!   arrives, the peer is gone.
//! - The peer's probe: a received RESPONSE_REQUESTED makes us send promptly (Connection.
//!   SendImmediate); any message answers it. The answer does **not** carry RESPONSE_REQUESTED
//!   itself: with the spec's shared variable a received request becomes PENDING and sets the flag
//!   on the answer, so two literal peers would ask each other for answers forever.

use std::time::{Duration, Instant};

use crate::error::Error;

/// Connection.KeepaliveRequested for our own probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Heard from the peer within the interval.
    None,
    /// The idle timer expired: the next message we send asks for a response.
    Pending,
    /// A message asking for a response went out; waiting for anything from the peer.
    Sent,
}

/// The idle timer and both keepalive directions.
#[derive(Debug, Clone)]
pub(crate) struct Idle {
    deadline: Instant,
    probe: Probe,
    /// The peer asked for a response that we have not sent yet.
    answer_owed: bool,
    interval: Duration,
    timeout: Duration,
}

impl Idle {
    /// Starts the idle timer (MS-SMBD 3.1.5.6/3.1.5.7: at the end of negotiation).
    pub fn new(now: Instant, interval: Duration, timeout: Duration) -> Self {
        Self { deadline: now + interval, probe: Probe::None, answer_owed: false, interval, timeout }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    #[cfg(test)]
    pub fn probe(&self) -> Probe {
        self.probe
    }

    /// A message arrived: the peer is alive (3.1.5.5); if it asked, we owe it a message (3.1.5.8).
    pub fn on_received(&mut self, now: Instant, response_requested: bool) {
        self.probe = Probe::None;
        self.deadline = now + self.interval;
        self.answer_owed |= response_requested;
    }

    /// The timer may have expired (3.1.6.2). Returns the fatal error if the peer did not answer.
    pub fn on_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if now < self.deadline {
            return Ok(());
        }
        if self.probe != Probe::None {
            return Err(Error::KeepaliveTimeout);
        }
        self.probe = Probe::Pending;
        // Until the probe can go out (credits permitting) give the peer another interval.
        self.deadline = now + self.interval;
        Ok(())
    }

    /// Whether something must be sent even with an empty queue: a probe or an answer.
    pub fn wants_send(&self) -> bool {
        self.answer_owed || self.probe == Probe::Pending
    }

    /// A message is being sent now: it answers any request of the peer, and carries our probe if
    /// one is pending. Returns whether to set SMB_DIRECT_RESPONSE_REQUESTED.
    pub fn on_send(&mut self, now: Instant) -> bool {
        self.answer_owed = false;
        if self.probe == Probe::Pending {
            self.probe = Probe::Sent;
            self.deadline = now + self.timeout;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: Duration = Duration::from_secs(120);
    const T: Duration = Duration::from_secs(5);

    #[test]
    fn idle_probe_then_answer_keeps_the_connection() {
        let t0 = Instant::now();
        let mut k = Idle::new(t0, I, T);
        assert_eq!(k.deadline(), t0 + I);
        k.on_timeout(t0 + I - Duration::from_millis(1)).unwrap();
        assert!(!k.wants_send());
        k.on_timeout(t0 + I).unwrap();
        assert_eq!(k.probe(), Probe::Pending);
        assert!(k.wants_send());
        assert!(k.on_send(t0 + I));
        assert_eq!(k.deadline(), t0 + I + T);
        // Only one message carries the request.
        assert!(!k.on_send(t0 + I));
        k.on_received(t0 + I + T - Duration::from_millis(1), false);
        assert_eq!(k.probe(), Probe::None);
        k.on_timeout(t0 + I + T).unwrap();
    }

    #[test]
    fn no_answer_within_the_timeout_is_fatal() {
        let t0 = Instant::now();
        let mut k = Idle::new(t0, I, T);
        k.on_timeout(t0 + I).unwrap();
        k.on_send(t0 + I);
        assert_eq!(k.on_timeout(t0 + I + T), Err(Error::KeepaliveTimeout));
    }

    #[test]
    fn a_probe_that_never_went_out_times_out_after_another_interval() {
        let t0 = Instant::now();
        let mut k = Idle::new(t0, I, T);
        k.on_timeout(t0 + I).unwrap();
        k.on_timeout(t0 + I + T).unwrap();
        assert_eq!(k.on_timeout(t0 + I + I), Err(Error::KeepaliveTimeout));
    }

    #[test]
    fn a_peer_request_is_owed_an_answer_without_the_flag() {
        let t0 = Instant::now();
        let mut k = Idle::new(t0, I, T);
        k.on_received(t0, true);
        assert!(k.wants_send());
        assert!(!k.on_send(t0));
        assert!(!k.wants_send());
    }
}
