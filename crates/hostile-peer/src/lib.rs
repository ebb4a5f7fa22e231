//! # hostile-peer: an SMB Direct peer that misbehaves on purpose
//!
//! What it is for: showing what an smbdx server does with the requests a correct client never
//! sends, over a real RDMA transport: tokens replayed after the server revoked them, buffer
//! descriptors MS-SMB2 3.3.5.12 / 3.3.5.13 refuse, RDMA on a share whose data must be encrypted,
//! an RDMA channel over TCP, and malformed MS-SMBD headers. The same cases run in `cargo test`
//! against an in-process server on the loopback RDMA provider (`tests/loopback.rs`) and, as the
//! `smbdx-hostile-peer` binary, against `smbdx serve --rdma` over rdma_rxe in the VM pair
//! (`scripts/vm/smbdx-rdma-client.sh`).
//!
//! How: [`Peer`] is a client connection on the engine's reactors, driven job by job from the
//! calling thread (the sans-I/O `ClientConnection` builds the requests, so they are well formed
//! except where a case says); [`raw_smbd`] speaks MS-SMBD by hand over a blocking queue pair.
//!
//! What it must not do: be used by anything but tests and the VM scripts (never published, never
//! linked into `smbdx`); decide a case by timing (every wait is for an event, bounded only so a
//! silent server fails instead of hanging); report a case passed that it could not run.

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

pub mod cases;
pub mod puppet;
pub mod raw_smbd;
mod requests;

use std::net::SocketAddr;
use std::sync::Arc;

pub use puppet::{Over, Peer};

/// The server under attack and what the cases may use on it.
pub struct Target<P> {
    /// The RDMA provider of this side (verbs on a host, the loopback fabric in tests).
    pub provider: P,
    /// The server's SMB Direct address.
    pub rdma: SocketAddr,
    /// The server's TCP address, for the case that needs TCP.
    pub tcp: Option<SocketAddr>,
    pub user: String,
    pub password: String,
    /// A share the user may write, without EncryptData.
    pub share: String,
    /// A share with EncryptData, if the server has one.
    pub encrypted_share: Option<String>,
    /// Distinguishes this run's files from another's on the same share.
    pub run: String,
}

impl<P: rdma_verbs::DomainProvider> Target<P> {
    fn over_rdma(&self) -> Over {
        Over::Rdma { provider: Arc::new(self.provider.clone()), addr: self.rdma }
    }

    fn unc(&self, share: &str) -> String {
        format!(r"\\{}\{share}", self.rdma.ip())
    }

    fn file_name(&self, case: &str) -> String {
        format!("hostile-{}-{case}.bin", self.run)
    }
}

/// One case's outcome: what was seen, or why it failed.
pub struct Outcome {
    pub name: &'static str,
    pub result: Result<String, String>,
}

/// Runs every case the target allows, in order.
pub fn run_all<P: rdma_verbs::DomainProvider>(t: &Target<P>) -> Vec<Outcome> {
    let mut out = vec![
        Outcome { name: "replayed READ token", result: cases::replayed_read_token(t) },
        Outcome { name: "replayed WRITE token", result: cases::replayed_write_token(t) },
        Outcome { name: "bad buffer descriptors", result: cases::bad_descriptors(t) },
        Outcome { name: "malformed SMBD headers", result: cases::malformed_smbd_header(t) },
    ];
    if let Some(share) = &t.encrypted_share {
        out.push(Outcome {
            name: "RDMA on an encrypted share",
            result: cases::rdma_on_encrypted_share(t, share),
        });
    }
    if let Some(tcp) = t.tcp {
        out.push(Outcome { name: "RDMA channel over TCP", result: cases::rdma_channel_over_tcp(t, tcp) });
    }
    out
}
