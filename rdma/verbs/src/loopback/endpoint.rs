//! A loopback endpoint: a [`LoopbackDomain`] with one queue pair, used blockingly; and the fault
//! injector of one side of a loopback connection.

use super::domain::LoopbackDomain;
use super::link::Link;
use crate::blocking::DomainEndpoint;
use crate::completion::WcStatus;
use iobuf::AlignedBuf;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

/// A connected loopback endpoint (see [`super`]).
pub type LoopbackEndpoint = DomainEndpoint<LoopbackDomain>;

impl DomainEndpoint<LoopbackDomain> {
    /// Fault injection for this side of the connection.
    pub fn faults(&mut self) -> Faults {
        let qp = self.qp();
        self.domain().faults(qp).expect("an established endpoint has a link")
    }
}

/// The bytes of an idle loopback region.
pub struct LoopbackBytes<'a>(pub(super) MutexGuard<'a, AlignedBuf>);

impl Deref for LoopbackBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl DerefMut for LoopbackBytes<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.0.as_mut_slice()
    }
}

/// Injects faults into one side of a loopback connection.
pub struct Faults {
    pub(super) link: Arc<Link>,
    pub(super) side: usize,
}

impl Faults {
    /// The next `n` completions of this side vanish, as if the device lost them. Their work
    /// requests stay in flight (their regions stay busy) until the endpoint is dropped.
    pub fn drop_completions(&self, n: u32) {
        self.link.lock().sides[self.side].faults.drop_next = n;
    }

    /// The next send-queue work request of this side completes with `status` (and, being an
    /// error, puts the queue pair in the error state so later requests flush).
    pub fn fail_next(&self, status: WcStatus) {
        self.link.lock().sides[self.side].faults.fail_next = Some(status);
    }

    /// Completions of this side become visible `delay` after they happen (`None`: at once).
    pub fn delay_completions(&self, delay: Option<Duration>) {
        self.link.lock().sides[self.side].faults.delay = delay;
    }

    /// The link breaks: both sides see a disconnect without either asking for it.
    pub fn break_link(&self) {
        self.link.lock().disconnect();
        self.link.cv.notify_all();
    }
}
