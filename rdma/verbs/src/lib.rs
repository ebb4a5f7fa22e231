//! Safe RDMA verbs for smbdx: the provider interface the SMB Direct layer programs against, an
//! in-process loopback provider for deterministic tests, and (feature `rdma`) the verbs provider
//! over rdma-core: devices, protection domains, completion queues and channels, RC queue pairs,
//! memory regions and windows, and RDMA CM connections.
//!
//! What it must not do: know SMB. It moves bytes between registered regions and reports
//! completions; credits, descriptors and encryption live above it.
//!
//! Ownership, in the types and checked at run time:
//! - An [`Endpoint`] owns its regions' buffers (page-aligned, never moved). Work requests name
//!   memory as [`Sge`]s (region, offset, len); posting checks bounds and access and counts the
//!   region as in flight until its completion is polled. A busy region cannot be deregistered
//!   and its bytes cannot be borrowed ([`Error::RegionBusy`]).
//! - Dropping an endpoint destroys its queue pair before anything it references, so the device
//!   never touches freed memory; verbs objects hold `Arc`s to their parents.
//! - Completions are `Copy` values polled into the caller's slice: nothing allocates per poll.
//! - Values from C (completion status and opcode, CM events) are newtypes, never Rust enums.
//!
//! ```
//! use rdma_verbs::{loopback::Fabric, Access, Completion, Endpoint, EndpointOptions, Listener,
//!                  Provider, RecvWr, SendOp, SendWr, Sge, WcStatus};
//! use std::time::Duration;
//! let fabric = Fabric::new();
//! let addr = "10.9.0.1:5445".parse().unwrap();
//! let mut listener = fabric.listen(addr, EndpointOptions::default())?;
//! let t = Duration::from_secs(5);
//! let server = std::thread::spawn(move || listener.accept(b"hello", t));
//! let mut client = fabric.connect(addr, EndpointOptions::default(), b"hi", t)?;
//! let mut server = server.join().unwrap()?;
//! assert_eq!(server.peer_private_data(), b"hi");
//!
//! let rx = server.register(4096, Access::LOCAL_WRITE)?;
//! server.post_recv(&[RecvWr { wr_id: 1, sges: &[Sge::new(rx, 0, 4096)] }])?;
//! let tx = client.register(4096, Access::NONE)?;
//! client.bytes(tx)?[..5].copy_from_slice(b"smbdx");
//! client.post_send(&[SendWr { wr_id: 2, op: SendOp::Send, sges: &[Sge::new(tx, 0, 5)] }])?;
//!
//! let mut done = [Completion::default(); 4];
//! let n = rdma_verbs::poll_n(&mut server, &mut done, 1, t)?;
//! assert_eq!((n, done[0].status, done[0].byte_len), (1, WcStatus::SUCCESS, 5));
//! assert_eq!(&server.bytes(rx)?[..5], b"smbdx");
//! # Ok::<(), rdma_verbs::Error>(())
//! ```

#![warn(clippy::undocumented_unsafe_blocks)]

mod access;
pub mod bench;
mod blocking;
mod cm_state;
mod completion;
pub mod conformance;
pub mod domain;
mod error;
pub mod loopback;
mod provider;
mod region;
#[cfg(feature = "rdma")]
pub mod verbs;
mod work_request;

pub use access::Access;
pub use blocking::{Blocking, BlockingListener, DomainEndpoint};
pub use cm_state::{CmCall, CmEvent, CmState};
pub use completion::{Completion, WcOpcode, WcStatus};
pub use domain::{ConnectRequest, Domain, DomainProvider, PassiveListener, QpCompletion, QpEvent, QpId};
pub use error::{Error, Result};
pub use provider::{
    poll_n, Endpoint, EndpointOptions, Listener, Provider, MAX_ACCEPT_PRIVATE_DATA, MAX_CONNECT_PRIVATE_DATA,
};
pub use region::{RegionId, MAX_SGE};
pub use work_request::{RecvWr, RemoteAddr, RemoteKey, SendOp, SendWr, Sge};
