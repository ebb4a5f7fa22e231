//! `struct ibv_pd`: the protection domain that ties regions, windows and the queue pair together.

use super::device::DeviceContext;
use crate::error::{Error, Result};
use rdma_core_sys as sys;
use std::sync::Arc;

pub(crate) struct ProtectionDomain {
    raw: *mut sys::ibv_pd,
    _ctx: Arc<DeviceContext>,
}

// SAFETY: verbs objects may be used from any thread; the PD is never mutated through Rust.
unsafe impl Send for ProtectionDomain {}
// SAFETY: see Send.
unsafe impl Sync for ProtectionDomain {}

impl ProtectionDomain {
    pub fn new(ctx: Arc<DeviceContext>) -> Result<Self> {
        // SAFETY: the context is live while ctx is held.
        let raw = unsafe { sys::ibv_alloc_pd(ctx.raw()) };
        if raw.is_null() {
            return Err(Error::verb("ibv_alloc_pd", format!("device {}", ctx.name()), None));
        }
        Ok(Self { raw, _ctx: ctx })
    }

    pub fn raw(&self) -> *mut sys::ibv_pd {
        self.raw
    }
}

impl Drop for ProtectionDomain {
    fn drop(&mut self) {
        // SAFETY: regions, windows and the QP hold Arcs to this PD, so none remain.
        unsafe { sys::ibv_dealloc_pd(self.raw) };
    }
}
