//! SMB Direct on the reactors: each reactor owns one RDMA domain (protection domain, completion
//! queue, CM event channel; `rdma_verbs::Domain`) shared by all its RDMA channels, and a pool of
//! page-aligned buffers registered with that domain once. The reactor watches the domain's
//! descriptors in the same epoll as its sockets, polls its completion queue every turn while it has
//! RDMA channels, routes completions and CM events to channels by queue pair, and drives them like
//! TCP channels.

pub(crate) mod channel;
mod context;
mod provider;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use rdma_verbs::{EndpointOptions, QpCompletion, QpId};

pub use context::RdmaCtx;
pub use provider::{DynDomain, DynListener, DynRequest, RdmaProvider};
pub use rdma_verbs::Access;

/// What the engine needs to run SMB Direct (`EngineConfig::rdma`).
#[derive(Clone)]
pub struct RdmaSettings {
    /// Real devices (`rdma_verbs::verbs::VerbsProvider`, feature `rdma`) or the in-process loopback
    /// fabric (tests).
    pub provider: Arc<dyn RdmaProvider>,
    /// RDMA CM addresses to listen on (a local IP of an RDMA device and a port: 445, 5445).
    pub listen: Vec<SocketAddr>,
    /// MS-SMBD parameters of every connection.
    pub smbd: smbdirect::Config,
    /// Each reactor's buffer pool: its rings and its RDMA READ/WRITE data.
    pub pool: iobuf::PoolConfig,
    /// RDMA READs of this side's memory the peer may have outstanding (the responder resources
    /// offered when connecting or accepting; the device's limit caps it). 0 tells the peer to
    /// issue none: an RDMA READ queued towards such a peer fails its connection.
    pub responder_resources: u8,
}

impl RdmaSettings {
    pub fn new(provider: Arc<dyn RdmaProvider>) -> RdmaSettings {
        RdmaSettings {
            provider,
            listen: Vec::new(),
            smbd: smbdirect::Config::default(),
            pool: default_pool(),
            responder_resources: EndpointOptions::default().responder_resources,
        }
    }

    /// Queue sizes for every queue pair: the rings of SMB Direct plus room for RDMA reads and
    /// writes of file data.
    pub(crate) fn endpoint_options(&self) -> EndpointOptions {
        EndpointOptions {
            max_send_wr: self.smbd.send_queue_depth + RDMA_DATA_WRS,
            max_recv_wr: u32::from(self.smbd.receive_credit_max) + 1,
            responder_resources: self.responder_resources,
            ..EndpointOptions::default()
        }
    }
}

impl fmt::Debug for RdmaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdmaSettings").field("listen", &self.listen).field("smbd", &self.smbd).finish()
    }
}

/// Send-queue room for the RDMA READs and WRITEs of file data, beside the SMB Direct sends.
const RDMA_DATA_WRS: u32 = 128;

/// A reactor's pool: 512 KiB slots for the connections' send and receive rings (256 × 1364 bytes
/// each), 1 MiB and 8 MiB for READ and WRITE data. The data classes hold a page more than their
/// I/O size: a client seals a WRITE from the caller's bytes straight into its lease, and the seal
/// needs 16 bytes of scratch past the data (`ClientConnection::write_rdma_from`).
fn default_pool() -> iobuf::PoolConfig {
    const SLACK: usize = iobuf::PAGE;
    iobuf::PoolConfig {
        classes: vec![
            iobuf::ClassConfig { size: (64 << 10) + SLACK, per_batch: 32, max_batches: 8 },
            iobuf::ClassConfig { size: 512 << 10, per_batch: 16, max_batches: 32 },
            iobuf::ClassConfig { size: (1 << 20) + SLACK, per_batch: 8, max_batches: 8 },
            iobuf::ClassConfig { size: (8 << 20) + SLACK, per_batch: 2, max_batches: 8 },
        ],
    }
}

/// One reactor's RDMA state.
pub(crate) struct ReactorRdma {
    pub(crate) settings: Arc<RdmaSettings>,
    /// Opened with the first connection (on that connection's device).
    pub(crate) domain: Option<Box<dyn DynDomain>>,
    pub(crate) pool: iobuf::Pool,
    /// Queue pair → channel index in the reactor.
    pub(crate) qps: HashMap<QpId, usize>,
    pub(crate) scratch: Vec<QpCompletion>,
}

impl ReactorRdma {
    pub(crate) fn new(settings: Arc<RdmaSettings>) -> ReactorRdma {
        let pool = iobuf::Pool::new(&settings.pool);
        ReactorRdma {
            settings,
            domain: None,
            pool,
            qps: HashMap::new(),
            scratch: vec![QpCompletion::default(); 64],
        }
    }
}
