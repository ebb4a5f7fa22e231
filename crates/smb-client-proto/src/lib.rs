//! # smb-client-proto: the SMB 3.1.1 client connection, sans-I/O
//!
//! [`ClientConnection`] builds request messages (bytes for the transport, without the Direct TCP
//! prefix) and takes response messages, exactly as MS-SMB2 3.2 says: NEGOTIATE with the 3.1.1
//! contexts, the preauth integrity hash over NEGOTIATE and SESSION_SETUP, NTLM through
//! [`smb_auth::NtlmInitiator`], key derivation, the server's signature on the final SESSION_SETUP,
//! signing, the TRANSFORM_HEADER both ways, and MessageId/credit accounting (multi-credit charges for
//! large I/O). It refuses a downgraded dialect, and with `require_privacy` a server that cannot encrypt.
//!
//! What it must not do: sockets, threads, clocks or randomness (the salt seed and the initiator's
//! random bytes and time come in as arguments).
//!
//! ```ignore
//! let mut c = ClientConnection::new(ClientConfig::default(), guid, seed);
//! transport.send(&c.negotiate()?);
//! c.receive(&mut transport.recv())?;                     // [Completion::Negotiated { .. }]
//! transport.send(&c.session_setup(NtlmInitiator::new(..))?);
//! // feed responses; send each Completion::MoreAuth { bytes, .. } until Completion::LoggedOn
//! let (_, req) = c.tree_connect(r"\\srv\share")?;
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

pub mod completion;
pub mod config;
pub mod connection;
pub mod credits;
pub mod error;
pub mod read_data;

pub use completion::{Completion, CreateInfo, FileHandle, PlacedTransform, RequestId, TreeHandle};
pub use config::ClientConfig;
pub use connection::{ClientConnection, WRITE_PAYLOAD_AT};
pub use error::ClientError;
pub use read_data::ReadData;
