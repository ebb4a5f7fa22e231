//! `struct ibv_pd`: the protection domain that ties regions, windows and the queue pair together.

use super::cm::CmId;
use crate::error::{Error, Result};
use rdma_core_sys as sys;
use std::sync::Arc;

pub(crate) struct ProtectionDomain {
    raw: *mut sys::ibv_pd,
    /// Keeps the device context (owned through the id) alive.
    _id: Arc<CmId>,
}

// SAFETY: verbs objects may be used from any thread; the PD is never mutated through Rust.
unsafe impl Send for ProtectionDomain {}
// SAFETY: see Send.
unsafe impl Sync for ProtectionDomain {}

impl ProtectionDomain {
    pub fn new(id: Arc<CmId>) -> Result<Self> {
        // SAFETY: the id's context is live (checked non-null by the caller's resolution).
        let raw = unsafe { sys::ibv_alloc_pd(id.context()) };
        if raw.is_null() {
            return Err(Error::verb("ibv_alloc_pd", format!("device {:?}", id.device_name()), None));
        }
        Ok(Self { raw, _id: id })
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
