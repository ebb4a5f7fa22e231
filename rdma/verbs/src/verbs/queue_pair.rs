//! The RC queue pair of a CM id (`rdma_create_qp`), with the objects it posts against.

use super::cm::CmId;
use super::completion_queue::CompletionQueue;
use super::protection_domain::ProtectionDomain;
use crate::error::{Error, Result};
use crate::region::MAX_SGE;
use rdma_core_sys as sys;
use std::sync::Arc;

pub(crate) struct QueuePair {
    raw: *mut sys::ibv_qp,
    id: Arc<CmId>,
    _pd: Arc<ProtectionDomain>,
    _cq: Arc<CompletionQueue>,
}

// SAFETY: posting is thread-safe in libibverbs; the domain posts from one thread.
unsafe impl Send for QueuePair {}

impl QueuePair {
    pub fn new(
        id: Arc<CmId>,
        pd: Arc<ProtectionDomain>,
        cq: Arc<CompletionQueue>,
        max_send_wr: u32,
        max_recv_wr: u32,
    ) -> Result<Self> {
        let mut attr = sys::ibv_qp_init_attr {
            send_cq: cq.raw(),
            recv_cq: cq.raw(),
            cap: sys::ibv_qp_cap {
                max_send_wr,
                max_recv_wr,
                max_send_sge: MAX_SGE as u32,
                max_recv_sge: MAX_SGE as u32,
                max_inline_data: 0,
            },
            qp_type: sys::ibv_qp_type::IBV_QPT_RC,
            // Every work request yields a completion: the domain releases regions on them.
            sq_sig_all: 1,
            ..Default::default()
        };
        // SAFETY: id, pd and cq are live; attr is valid for the call.
        if unsafe { sys::rdma_create_qp(id.raw(), pd.raw(), &mut attr) } != 0 {
            return Err(Error::verb(
                "rdma_create_qp",
                format!("RC, max_send_wr {max_send_wr}, max_recv_wr {max_recv_wr}, {MAX_SGE} SGEs"),
                None,
            ));
        }
        // SAFETY: rdma_create_qp succeeded, so the id now holds the QP.
        let raw = unsafe { (*id.raw()).qp };
        Ok(Self { raw, id, _pd: pd, _cq: cq })
    }

    pub fn post_send(
        &self,
        wr: *mut sys::ibv_send_wr,
    ) -> std::result::Result<(), (i32, *mut sys::ibv_send_wr)> {
        let mut bad = std::ptr::null_mut();
        // SAFETY: raw is live; wr is a valid list whose SGEs point into registered regions.
        let r = unsafe { sys::ibv_post_send(self.raw, wr, &mut bad) };
        if r != 0 {
            return Err((r, bad));
        }
        Ok(())
    }

    pub fn post_recv(
        &self,
        wr: *mut sys::ibv_recv_wr,
    ) -> std::result::Result<(), (i32, *mut sys::ibv_recv_wr)> {
        let mut bad = std::ptr::null_mut();
        // SAFETY: as for post_send.
        let r = unsafe { sys::ibv_post_recv(self.raw, wr, &mut bad) };
        if r != 0 {
            return Err((r, bad));
        }
        Ok(())
    }
}

impl Drop for QueuePair {
    fn drop(&mut self) {
        // SAFETY: the QP belongs to the id; destroying it first stops all device access to the
        // domain's memory before regions, windows, CQ and PD go.
        unsafe { sys::rdma_destroy_qp(self.id.raw()) };
    }
}
