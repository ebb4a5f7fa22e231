//! `struct ibv_comp_channel` and `struct ibv_cq`: completions, polled or waited for.

use super::cm::CmId;
use super::set_nonblocking;
use crate::error::{Error, Result};
use rdma_core_sys as sys;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The file descriptor a completion queue signals when armed (adaptive/interrupt polling).
pub(crate) struct CompletionChannel {
    raw: *mut sys::ibv_comp_channel,
    _id: Arc<CmId>,
}

// SAFETY: verbs objects may be used from any thread.
unsafe impl Send for CompletionChannel {}
// SAFETY: see Send.
unsafe impl Sync for CompletionChannel {}

impl CompletionChannel {
    pub fn new(id: Arc<CmId>) -> Result<Self> {
        // SAFETY: the id's context is live.
        let raw = unsafe { sys::ibv_create_comp_channel(id.context()) };
        if raw.is_null() {
            return Err(Error::verb(
                "ibv_create_comp_channel",
                format!("device {:?}", id.device_name()),
                None,
            ));
        }
        let ch = Self { raw, _id: id };
        set_nonblocking(ch.fd(), "ibv_create_comp_channel")?;
        Ok(ch)
    }

    pub fn fd(&self) -> i32 {
        // SAFETY: raw is live until drop.
        unsafe { (*self.raw).fd }
    }
}

impl Drop for CompletionChannel {
    fn drop(&mut self) {
        // SAFETY: the CQ using this channel holds an Arc to it, so it is destroyed already.
        unsafe { sys::ibv_destroy_comp_channel(self.raw) };
    }
}

pub(crate) struct CompletionQueue {
    raw: *mut sys::ibv_cq,
    channel: Arc<CompletionChannel>,
    /// Events taken from the channel and not yet acknowledged (acknowledged in batches).
    unacked: AtomicU32,
}

// SAFETY: ibv_poll_cq and friends are thread-safe; the endpoint polls from one thread.
unsafe impl Send for CompletionQueue {}
// SAFETY: see Send.
unsafe impl Sync for CompletionQueue {}

impl CompletionQueue {
    pub fn new(id: &CmId, channel: Arc<CompletionChannel>, cqe: i32) -> Result<Self> {
        // SAFETY: context and channel are live; no cq_context.
        let raw = unsafe { sys::ibv_create_cq(id.context(), cqe, ptr::null_mut(), channel.raw, 0) };
        if raw.is_null() {
            return Err(Error::verb("ibv_create_cq", format!("cqe {cqe}, with a completion channel"), None));
        }
        Ok(Self { raw, channel, unacked: AtomicU32::new(0) })
    }

    pub fn raw(&self) -> *mut sys::ibv_cq {
        self.raw
    }

    pub fn channel_fd(&self) -> i32 {
        self.channel.fd()
    }

    /// Polls up to `wc.len()` completions into `wc`.
    pub fn poll(&self, wc: &mut [sys::ibv_wc]) -> Result<usize> {
        // SAFETY: raw is live; wc has room for wc.len() entries.
        let n = unsafe { sys::ibv_poll_cq(self.raw, wc.len() as i32, wc.as_mut_ptr()) };
        if n < 0 {
            return Err(Error::verb("ibv_poll_cq", format!("{} entries", wc.len()), Some(-n)));
        }
        Ok(n as usize)
    }

    /// Arms the CQ: the channel becomes readable at the next completion.
    pub fn arm(&self) -> Result<()> {
        // SAFETY: raw is live.
        let r = unsafe { sys::ibv_req_notify_cq(self.raw, 0) };
        if r != 0 {
            return Err(Error::verb("ibv_req_notify_cq", "solicited_only 0".into(), Some(r)));
        }
        Ok(())
    }

    /// Consumes the channel's pending event (if any), so the fd is quiet until re-armed.
    pub fn take_event(&self) {
        let mut cq = ptr::null_mut();
        let mut ctx = ptr::null_mut();
        // SAFETY: the channel is live and non-blocking; on success the event is counted for ack.
        if unsafe { sys::ibv_get_cq_event(self.channel.raw, &mut cq, &mut ctx) } == 0 {
            let n = self.unacked.fetch_add(1, Ordering::Relaxed) + 1;
            if n >= 64 {
                self.unacked.store(0, Ordering::Relaxed);
                // SAFETY: acknowledges events we took from this CQ's channel.
                unsafe { sys::ibv_ack_cq_events(self.raw, n) };
            }
        }
    }
}

impl Drop for CompletionQueue {
    fn drop(&mut self) {
        let n = self.unacked.swap(0, Ordering::Relaxed);
        // SAFETY: all events are acknowledged before destroying (ibv_destroy_cq waits for that);
        // the QP using this CQ holds an Arc to it and is gone.
        unsafe {
            if n > 0 {
                sys::ibv_ack_cq_events(self.raw, n);
            }
            sys::ibv_destroy_cq(self.raw);
        }
    }
}
