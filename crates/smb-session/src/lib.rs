//! # smb-session: the SMB 3.1.1 server connection, sans-I/O
//!
//! [`ServerConnection`] takes the bytes of one transport message (a Direct TCP payload or an SMB
//! Direct upper-layer message) and produces the response messages, exactly as MS-SMB2 3.3.5 says:
//! NEGOTIATE with preauth integrity and the cipher/signing contexts, SESSION_SETUP legs through an
//! [`Authenticator`], key derivation, signing and verification, the TRANSFORM_HEADER both ways, the
//! credit window, compounds, trees, and the EncryptData / RejectUnencryptedAccess / RequireSigning
//! policies. File commands go to a [`FileHandler`]; security-relevant happenings come out as
//! [`Event`]s (event 1003 for refused unencrypted access, 1005 for a tampered negotiation), and
//! requests and responses are counted by command and status into [`stats::CommandCounters`] when
//! the server asks ([`ServerConnection::with_counters`]).
//!
//! A handler may take a large WRITE or READ over and finish it later (on another thread, so the
//! reactor never waits for the disk): the connection answers it from
//! [`ServerConnection::answer_deferred`] once the handler reports it done, signed or sealed like any
//! other response.
//!
//! What it must not do: sockets, threads, clocks or randomness (time and seeds come in as arguments),
//! and file I/O (that is the handler's).
//!
//! ```ignore
//! let mut conn = ServerConnection::new(cfg, files, auth, seed);
//! let mut out: Vec<Vec<u8>> = Vec::new();
//! if conn.on_message(&mut msg, now_filetime, &mut out) == Flow::Close { /* drop the socket */ }
//! for e in conn.drain_events() { log(e) }
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

pub mod config;
pub mod connection;
pub mod credits;
pub mod events;
pub mod handler;
mod session;
pub mod stats;

pub use config::ServerConfig;
pub use connection::{put_body, Flow, RdmaTransmit, ServerConnection, Transmit};
pub use events::Event;
pub use handler::{
    AuthFactory, AuthFailure, AuthStep, Authenticator, FileContext, FileHandler, FileResult, IoBuf, IoBuffer,
    IoDone, IoStart, LentBytes, PlacedOutcome, TreeGrant, WriteArgs,
};
pub use stats::CommandCounters;
