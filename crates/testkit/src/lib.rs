//! # testkit: the fixtures smbdx's tests share
//!
//! What it is for: testing the sans-I/O protocol crates against each other, deterministically, in
//! one thread, without copying fixtures from suite to suite:
//!
//! - [`MemFiles`]: an in-memory `smb_session::FileHandler` (shares, CREATE/CLOSE/FLUSH/READ/WRITE),
//!   with knobs for deferring READs and WRITEs and failing them on demand, that checks the
//!   session's side of the handler contract (page-aligned data) and records what reached it.
//! - [`Ntlm`]: real NTLMv2 (smb-auth's acceptor) as a session authenticator, reproducible;
//!   [`TwoLegAuth`]: a scripted exchange for tests about everything but authentication.
//! - [`Pair`]: a `smb_client_proto::ClientConnection` and a `smb_session::ServerConnection` over a
//!   simulated transport, Direct TCP framing or SMB Direct (two `smbdirect::SmbdConnection`s
//!   exchanging fragments and credits, RDMA READ/WRITE into memory the client granted), on a
//!   simulated [`Clock`], with every message in flight open to tampering.
//! - [`RawClient`]: requests built by hand, with the client's cryptography computed independently,
//!   for what a real client would never send; [`Recorder`]: a transport that records what a server
//!   connection asks of it (sends, owned buffers, RDMA WRITEs and READs against [`descriptors`]).
//! - [`data`]: recognisable bytes and a checksum.
//!
//! What it must not do: be used by non-test code (it is a dev-dependency only and never
//! published); do I/O beyond memory (no sockets, files, threads, or clocks: [`Clock`] reads the wall
//! clock once as an anchor and never moves with it); make a test pass by looking away: when the code
//! under test breaks a contract the kit can see (a credit, a page boundary, a deadlock), the kit
//! panics. The SMB Direct link runs the `smbdirect` state machines, not the engine's RDMA channels
//! over `rdma_verbs::loopback`: those need the engine's reactors, and are tested through the
//! engine (`crates/engine/tests/smbdirect.rs`, `crates/client/tests/over_smbdirect.rs`).
//!
//! ```
//! use smb_client_proto::Completion;
//! use testkit::{Pair, Transport};
//!
//! let mut pair = Pair::new(Transport::smbd());
//! assert!(matches!(pair.logon(), Completion::LoggedOn { .. }));
//! let (tree, _) = pair.tree("secret"); // EncryptData: everything from here on is sealed
//! let file = pair.open(tree, "a.txt");
//! let data = testkit::data::pattern(300_000);
//! let (_, req) = pair.client.write(file, 0, &data).unwrap();
//! assert!(matches!(pair.one(req), Completion::Written { count: 300_000, .. }));
//! // 300 KB sealed went over SMB Direct in fragments of at most 1364 bytes.
//! assert!(pair.smbd_stats().unwrap().fragments[0] > 220);
//! assert_eq!(pair.server.files_mut().file("secret", "a.txt"), Some(&data[..]));
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

pub mod auth;
pub mod clock;
pub mod data;
pub mod files;
pub mod pair;
pub mod raw_client;
pub mod rdma_memory;
mod server_tx;
mod smbd_link;
mod tcp_link;
pub mod transmit;

pub use auth::{Ntlm, TwoLegAuth, PASSWORD, USER};
pub use clock::Clock;
pub use files::{Lending, MemFiles, WriteSeen};
pub use pair::{Pair, Side, Transport};
pub use raw_client::{Offer, RawClient};
pub use rdma_memory::{Access, Memory};
pub use smbd_link::SmbdStats;
pub use transmit::{descriptors, Pull, Recorder, Sent};
