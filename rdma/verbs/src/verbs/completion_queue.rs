//! `struct ibv_comp_channel` and `struct ibv_cq`: completions, polled or waited for.

use super::device::DeviceContext;
use super::set_nonblocking;
use crate::error::{Error, Result};
use rdma_core_sys as sys;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Completion-channel events taken before they are acknowledged (`ibv_ack_cq_events` takes a lock).
const ACK_BATCH: u32 = 64;

/// The file descriptor a completion queue signals when armed (non-blocking).
pub(crate) struct CompletionChannel {
    raw: *mut sys::ibv_comp_channel,
    _ctx: Arc<DeviceContext>,
}

// SAFETY: verbs objects may be used from any thread.
unsafe impl Send for CompletionChannel {}
// SAFETY: see Send.
unsafe impl Sync for CompletionChannel {}

impl CompletionChannel {
    pub fn new(ctx: Arc<DeviceContext>) -> Result<Self> {
        // SAFETY: the context is live while ctx is held.
        let raw = unsafe { sys::ibv_create_comp_channel(ctx.raw()) };
        if raw.is_null() {
            return Err(Error::verb("ibv_create_comp_channel", format!("device {}", ctx.name()), None));
        }
        let ch = Self { raw, _ctx: ctx };
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

// SAFETY: ibv_poll_cq and friends are thread-safe; the domain polls from one thread.
unsafe impl Send for CompletionQueue {}
// SAFETY: see Send.
unsafe impl Sync for CompletionQueue {}

impl CompletionQueue {
    pub fn new(ctx: &DeviceContext, channel: Arc<CompletionChannel>, cqe: i32) -> Result<Self> {
        // SAFETY: context and channel are live; no cq_context.
        let raw = unsafe { sys::ibv_create_cq(ctx.raw(), cqe, ptr::null_mut(), channel.raw, 0) };
        if raw.is_null() {
            return Err(Error::verb(
                "ibv_create_cq",
                format!("device {}, cqe {cqe}, with a completion channel", ctx.name()),
                None,
            ));
        }
        Ok(Self { raw, channel, unacked: AtomicU32::new(0) })
    }

    pub fn raw(&self) -> *mut sys::ibv_cq {
        self.raw
    }

    pub fn channel_fd(&self) -> i32 {
        self.channel.fd()
    }

    /// Entries the CQ holds (the device may round the size asked for up).
    pub fn capacity(&self) -> u32 {
        // SAFETY: raw is live; cqe is set by create and resize.
        unsafe { (*self.raw).cqe.max(0) as u32 }
    }

    /// Grows the CQ to at least `cqe` entries; completions in it are kept.
    pub fn resize(&self, cqe: u32) -> Result<()> {
        // SAFETY: raw is live; the domain polls from the same thread, so nothing polls meanwhile.
        let r = unsafe { sys::ibv_resize_cq(self.raw, cqe as i32) };
        if r != 0 {
            return Err(Error::verb(
                "ibv_resize_cq",
                format!("from {} to {cqe} entries", self.capacity()),
                Some(r),
            ));
        }
        Ok(())
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

    /// Takes every pending event off the channel, so its fd is quiet until the CQ is armed again
    /// and completes something.
    pub fn take_events(&self) {
        loop {
            let mut cq = ptr::null_mut();
            let mut ctx = ptr::null_mut();
            // SAFETY: the channel is live and non-blocking; on success the event is counted for ack.
            if unsafe { sys::ibv_get_cq_event(self.channel.raw, &mut cq, &mut ctx) } != 0 {
                return; // EAGAIN: nothing more
            }
            let n = self.unacked.fetch_add(1, Ordering::Relaxed) + 1;
            if n >= ACK_BATCH {
                self.unacked.store(0, Ordering::Relaxed);
                // SAFETY: acknowledges events we took from this CQ's channel (its only CQ).
                unsafe { sys::ibv_ack_cq_events(self.raw, n) };
            }
        }
    }
}

impl Drop for CompletionQueue {
    fn drop(&mut self) {
        let n = self.unacked.swap(0, Ordering::Relaxed);
        // SAFETY: all events are acknowledged before destroying (ibv_destroy_cq waits for that);
        // the QPs using this CQ hold an Arc to it and are gone.
        unsafe {
            if n > 0 {
                sys::ibv_ack_cq_events(self.raw, n);
            }
            sys::ibv_destroy_cq(self.raw);
        }
    }
}
