//! The memory a loopback region stands for: a buffer the endpoint (or domain) registered and owns,
//! or a batch of an [`iobuf::Pool`] registered once for its leases. The link copies into and out of
//! either, as a device would DMA.

use iobuf::{AlignedBuf, BatchRef};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub(crate) enum Mem {
    /// Registered memory the provider allocated and owns (locked while copied, or while borrowed
    /// through `bytes`).
    Owned(Arc<Mutex<AlignedBuf>>),
    /// A pool batch: its leases hand its bytes to their holders, and the protocol orders their
    /// accesses with the device's (as on real hardware).
    Batch(BatchRef),
}

impl Mem {
    pub fn owned(buf: AlignedBuf) -> Mem {
        Mem::Owned(Arc::new(Mutex::new(buf)))
    }

    /// The address a peer names this memory by (the first byte's, as a device would use).
    pub fn base(&self) -> u64 {
        match self {
            Mem::Owned(m) => m.lock().unwrap_or_else(|p| p.into_inner()).as_ptr() as u64,
            Mem::Batch(b) => b.as_ptr() as u64,
        }
    }

    /// Appends `len` bytes at `offset` to `out`. The caller checked the range against the region.
    pub fn read_into(&self, offset: usize, len: usize, out: &mut Vec<u8>) {
        match self {
            Mem::Owned(m) => {
                let m = m.lock().unwrap_or_else(|p| p.into_inner());
                out.extend_from_slice(&m.as_slice()[offset..offset + len]);
            }
            Mem::Batch(b) => {
                assert!(offset.checked_add(len).is_some_and(|end| end <= b.len()), "range checked before");
                // SAFETY: the range lies in the batch (asserted), which `b` keeps alive; the bytes are
                // initialised (batches are zeroed when made). A lease holder may write them at the
                // same time only if the protocol above broke its own ordering, as with real DMA.
                let src = unsafe { std::slice::from_raw_parts(b.as_ptr().add(offset), len) };
                out.extend_from_slice(src);
            }
        }
    }

    /// Copies `data` to `offset`. The caller checked the range against the region.
    pub fn write(&self, offset: usize, data: &[u8]) {
        match self {
            Mem::Owned(m) => {
                let mut m = m.lock().unwrap_or_else(|p| p.into_inner());
                m.as_mut_slice()[offset..offset + data.len()].copy_from_slice(data);
            }
            Mem::Batch(b) => {
                assert!(
                    offset.checked_add(data.len()).is_some_and(|end| end <= b.len()),
                    "range checked before"
                );
                // SAFETY: as in `read_into`: in bounds of the live batch; the write stands for the
                // device's DMA into memory the protocol granted it.
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), b.as_ptr().add(offset), data.len()) };
            }
        }
    }
}
