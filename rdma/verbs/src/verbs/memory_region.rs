//! `struct ibv_mr` over memory it keeps alive (a buffer it owns, or a pool batch), and
//! `struct ibv_mw` (type 2 windows) bound on it.

use super::protection_domain::ProtectionDomain;
use crate::error::{Error, Result};
use crate::Access;
use iobuf::{AlignedBuf, BatchRef};
use rdma_core_sys as sys;
use std::sync::Arc;

/// The memory a region registers. It never moves: the device holds its address.
pub(crate) enum Memory {
    /// Zeroed bytes the domain allocated and owns (rings, bench buffers).
    Owned(AlignedBuf),
    /// A pool batch, registered once for all its leases; the reference keeps it alive.
    Batch(BatchRef),
}

/// A registered buffer. It is deregistered before its memory is released (Drop runs first, then
/// the fields).
pub(crate) struct MemoryRegion {
    raw: *mut sys::ibv_mr,
    pub mem: Memory,
    _pd: Arc<ProtectionDomain>,
}

// SAFETY: the MR is immutable after registration; owned bytes are accessed through &/&mut self,
// a batch's through its leases.
unsafe impl Send for MemoryRegion {}
// SAFETY: see Send.
unsafe impl Sync for MemoryRegion {}

impl MemoryRegion {
    /// Registers `len` zeroed bytes it allocates.
    pub fn owned(pd: Arc<ProtectionDomain>, len: usize, access: Access) -> Result<Self> {
        let buf = AlignedBuf::zeroed(len)?;
        Self::register(pd, Memory::Owned(buf), access)
    }

    /// Registers a pool batch.
    pub fn batch(pd: Arc<ProtectionDomain>, batch: BatchRef, access: Access) -> Result<Self> {
        Self::register(pd, Memory::Batch(batch), access)
    }

    fn register(pd: Arc<ProtectionDomain>, mem: Memory, access: Access) -> Result<Self> {
        let (ptr, len) = match &mem {
            Memory::Owned(b) => (b.as_ptr(), b.len()),
            Memory::Batch(b) => (b.as_ptr(), b.len()),
        };
        // SAFETY: pd is live; ptr..ptr+len is a live allocation that `mem`, stored in the region,
        // keeps alive and in place until after ibv_dereg_mr in Drop.
        let raw = unsafe { sys::ibv_reg_mr(pd.raw(), ptr.cast(), len, access.0 as i32) };
        if raw.is_null() {
            let what = if matches!(mem, Memory::Batch(_)) { "pool batch" } else { "buffer" };
            return Err(Error::verb(
                "ibv_reg_mr",
                format!("{what} of {len} bytes at {ptr:p}, access {access:?}"),
                None,
            ));
        }
        Ok(Self { raw, mem, _pd: pd })
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
        match &self.mem {
            Memory::Owned(b) => b.as_ptr() as u64,
            Memory::Batch(b) => b.as_ptr() as u64,
        }
    }
}

impl Drop for MemoryRegion {
    fn drop(&mut self) {
        // SAFETY: the domain destroys the QPs before any region and refuses to deregister a
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
        // SAFETY: windows are dropped after their QP (or once invalidated); the PD outlives them.
        unsafe { sys::ibv_dealloc_mw(self.raw) };
    }
}
