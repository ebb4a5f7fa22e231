//! What a handler can do synchronously on its SMB Direct connection while the reactor calls it:
//! grant the peer access to exactly one of its buffers (an SMB2 client's READ or WRITE buffer,
//! MS-SMBD 3.1.4.3 Register Buffer). Everything else (RDMA READs and WRITEs, invalidations) is
//! queued in the outbox and happens in order with the messages.

use rdma_verbs::{Access, QpId, Sge};
use smb_wire::smbd::BufferDescriptorV1;

use crate::error::EngineError;
use crate::rdma::provider::DynDomain;

/// wr_id bit of the memory-window binds a handler posts (their completions only report errors).
pub(crate) const BIND_BIT: u64 = 1 << 61;

/// A handler's view of its connection's RDMA resources during one call.
pub struct RdmaCtx<'a> {
    pub(crate) domain: &'a mut dyn DynDomain,
    pub(crate) qp: QpId,
    pub(crate) peer: std::net::SocketAddr,
}

impl RdmaCtx<'_> {
    /// Grants the peer `access` (`Access::REMOTE_WRITE` for a READ's buffer, `REMOTE_READ` for a
    /// WRITE's) to exactly `len` bytes at `offset` of `lease`, through a memory window bound on the
    /// send queue now, so it precedes any message queued after this call. Returns the buffer
    /// descriptor to put in the request. The window lives until the peer invalidates it (SEND_WITH_
    /// INVALIDATE) or the handler revokes it ([`crate::Outbox::rdma_revoke`]).
    pub fn grant(
        &mut self,
        lease: &iobuf::Lease,
        offset: usize,
        len: usize,
        access: Access,
    ) -> Result<BufferDescriptorV1, EngineError> {
        let peer = self.peer;
        let sge: Sge = self.domain.lease_sge(lease, offset, len).map_err(|source| EngineError::Rdma {
            peer,
            op: "lease_sge",
            source,
        })?;
        let key = self
            .domain
            .bind_window(self.qp, BIND_BIT, sge, access)
            .map_err(|source| EngineError::Rdma { peer, op: "bind_window", source })?;
        let length = u32::try_from(key.len).map_err(|_| EngineError::Rdma {
            peer,
            op: "bind_window",
            source: rdma_verbs::Error::BadLength { len, why: "a descriptor covers at most 4 GiB" },
        })?;
        Ok(BufferDescriptorV1 { offset: key.addr, token: key.rkey, length })
    }
}
