//! `struct ibv_mr` over a buffer it owns, and `struct ibv_mw` (type 2 windows) bound on it.

use super::protection_domain::ProtectionDomain;
use crate::error::{Error, Result};
use crate::Access;
use iobuf::AlignedBuf;
use rdma_core_sys as sys;
use std::sync::Arc;

/// A registered buffer. The buffer is deregistered before it is freed (Drop runs first, then the
/// fields), and it never moves: the device holds its address.
pub(crate) struct MemoryRegion {
    raw: *mut sys::ibv_mr,
    pub buf: AlignedBuf,
    _pd: Arc<ProtectionDomain>,
}

// SAFETY: the MR is immutable after registration; the buffer is accessed through &/&mut self.
unsafe impl Send for MemoryRegion {}
// SAFETY: see Send.
unsafe impl Sync for MemoryRegion {}

impl MemoryRegion {
    pub fn new(pd: Arc<ProtectionDomain>, len: usize, access: Access) -> Result<Self> {
        let buf = AlignedBuf::zeroed(len)?;
        // SAFETY: pd is live; buf is a live allocation of len bytes that outlives the MR.
        let raw = unsafe { sys::ibv_reg_mr(pd.raw(), buf.as_ptr().cast(), len, access.0 as i32) };
        if raw.is_null() {
            return Err(Error::verb("ibv_reg_mr", format!("{len} bytes, access {access:?}"), None));
        }
        Ok(Self { raw, buf, _pd: pd })
    }

    pub fn raw(&self) -> *mut sys::ibv_mr {
        self.raw
    }

    pub fn lkey(&self) -> u32 {
        // SAFETY: raw is live until drop.
        unsafe { (*self.raw).lkey }
    }

    pub fn rkey(&self) -> u32 {
        // SAFETY: as above.
        unsafe { (*self.raw).rkey }
    }

    pub fn addr(&self) -> u64 {
        self.buf.as_ptr() as u64
    }
}

impl Drop for MemoryRegion {
    fn drop(&mut self) {
        // SAFETY: the endpoint destroys the QP before any region and refuses to deregister a
        // region with work requests or windows outstanding, so the device no longer uses it.
        unsafe { sys::ibv_dereg_mr(self.raw) };
    }
}

/// A type 2 memory window: a narrow, invalidatable grant on part of a region.
pub(crate) struct MemoryWindow {
    raw: *mut sys::ibv_mw,
    _pd: Arc<ProtectionDomain>,
}

// SAFETY: as for MemoryRegion.
unsafe impl Send for MemoryWindow {}
// SAFETY: see Send.
unsafe impl Sync for MemoryWindow {}

impl MemoryWindow {
    pub fn new(pd: Arc<ProtectionDomain>) -> Result<Self> {
        // SAFETY: pd is live.
        let raw = unsafe { sys::ibv_alloc_mw(pd.raw(), sys::ibv_mw_type::IBV_MW_TYPE_2) };
        if raw.is_null() {
            return Err(Error::verb("ibv_alloc_mw", "IBV_MW_TYPE_2".into(), None));
        }
        Ok(Self { raw, _pd: pd })
    }

    pub fn raw(&self) -> *mut sys::ibv_mw {
        self.raw
    }

    /// The rkey to bind with next: the window's key with its low byte stepped (`ibv_inc_rkey`).
    pub fn next_rkey(&self) -> u32 {
        // SAFETY: raw is live; ibv_inc_rkey is a pure function of the key.
        unsafe { sys::ibv_inc_rkey((*self.raw).rkey) }
    }
}

impl Drop for MemoryWindow {
    fn drop(&mut self) {
        // SAFETY: windows are dropped after the QP (or once invalidated); the PD outlives them.
        unsafe { sys::ibv_dealloc_mw(self.raw) };
    }
}
