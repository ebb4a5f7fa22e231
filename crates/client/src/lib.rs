//! # client: the blocking SMB 3.1.1 client for application threads
//!
//! What it is for: letting ordinary threads read and write files on an SMB server with plain
//! blocking calls, while the connection itself runs on the engine's reactors. A [`Client`] starts a
//! client-only [`engine::Engine`], connects, negotiates and logs on (NTLM) through the sans-I/O
//! [`smb_client_proto::ClientConnection`]; [`Tree`] and [`File`] then queue operations to the
//! connection through a bounded channel plus a wake, and wait on a one-slot channel for the answer.
//! Large reads and writes are cut into chunks of at most the negotiated size (1 MiB at most), with
//! several in flight; the connection sends each only when the credit window allows. Payloads are
//! touched as few times as the protocol allows: a sealed READ's data stays in the buffer it was
//! decrypted into ([`ReadBuf`], whose buffer goes back to the connection when dropped), and
//! [`File::start_write_shared`] encrypts a shared payload ([`Bytes`]) straight into its request.
//!
//! What it must not do: block a reactor (the driver only `try_send`s), wait without a bound (every
//! wait has [`ClientOptions::timeout`]), or touch SMB bytes itself (the protocol crate does).
//!
//! ```no_run
//! use client::{Client, ClientOptions, OpenMode};
//! let addr = "127.0.0.1:445".parse().unwrap();
//! let c = Client::connect(addr, "alice", "secret", ClientOptions::default())?;
//! let tree = c.tree("data")?;
//! let f = tree.open("hello.txt", OpenMode::Write)?;
//! f.write_at(0, b"hello")?;
//! f.close()?;
//! # Ok::<(), client::ClientError>(())
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

mod client;
mod driver;
pub mod error;
mod file;
pub mod metadata;
pub mod options;
mod rdma_stats;
mod read_buf;
mod tree;
mod write_spares;

pub use bytes::Bytes;
pub use client::Client;
pub use engine::PollMode;
pub use error::ClientError;
pub use file::{File, Pending};
pub use metadata::{DirEntry, Metadata};
pub use options::{ClientOptions, OpenMode, Transport};
pub use rdma_stats::RdmaStats;
pub use read_buf::ReadBuf;
pub use smb_crypto::{Cipher, SigningAlgorithm};
pub use smb_wire::negotiate::Dialect;
pub use tree::Tree;
