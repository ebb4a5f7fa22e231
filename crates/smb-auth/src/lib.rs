//! # smb-auth: NTLMSSP (NTLMv2) and SPNEGO for SMB2 SESSION_SETUP
//!
//! Both ends of the authentication that SMB2 SESSION_SETUP carries in its security buffer:
//!
//! - [`NtlmAcceptor`] (server): answers a bare NTLMSSP exchange (what Linux cifs.ko sends) or one wrapped
//!   in SPNEGO (Windows, Samba) in the form it came in, verifies NTLMv2 against a [`UserDb`] of NT hashes,
//!   checks the NTLM MIC and the SPNEGO mechListMIC, and yields the [`SessionKey`] SMB derives its keys
//!   from. [`spnego_server_init_token`] is the NEGOTIATE response's security buffer.
//! - [`NtlmInitiator`] (client): NEGOTIATE, then AUTHENTICATE (with MIC and mechListMIC), then checks the
//!   server's final token.
//!
//! What it must not do: I/O, clocks or randomness (challenges, client randomness and the time come in as
//! arguments, so every exchange is reproducible in tests); NTLMv1 or LM authentication (refused); keep a
//! password (only its NT hash); print a key. Hostile input: every token is capped at [`MAX_TOKEN_LEN`],
//! parsed by the offsets and lengths it declares with bounds checks, and AV pair and mechanism lists are
//! walked with count caps. Parsers never panic.
//!
//! ```
//! use std::sync::Arc;
//! use smb_auth::{AcceptStep, NtlmAcceptor, NtlmInitiator, UserDb};
//!
//! let mut db = UserDb::new();
//! db.add_spec("alice:s3cret").unwrap();
//! let now = 0x01DB_0000_0000_0000; // FILETIME, from the caller's clock
//! let mut server = NtlmAcceptor::new(Arc::new(db), "NODE1", "WORKGROUP", [7; 8], now);
//! let mut client = NtlmInitiator::new("alice", "s3cret", "WORKGROUP", "CLIENT", [9; 24], now, true);
//!
//! let negotiate = client.step(&smb_auth::spnego_server_init_token()).unwrap();
//! let AcceptStep::Continue { token: challenge } = server.step(&negotiate).unwrap() else { panic!() };
//! let authenticate = client.step(&challenge).unwrap();
//! let AcceptStep::Done { token, session_key, user, .. } = server.step(&authenticate).unwrap() else { panic!() };
//! client.finish(&token).unwrap();
//! assert_eq!(user, "alice");
//! assert_eq!(client.session_key().unwrap().as_bytes(), session_key.as_bytes());
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

pub mod acceptor;
pub mod av_pairs;
mod der;
pub mod error;
pub mod flags;
pub mod initiator;
pub mod message;
pub mod ntlmv2;
mod secbuf;
pub mod session_key;
pub mod session_security;
pub mod spnego;
mod text;
pub mod user_db;

pub use acceptor::{AcceptStep, NtlmAcceptor};
pub use error::AuthError;
pub use initiator::NtlmInitiator;
pub use ntlmv2::nt_hash;
pub use session_key::SessionKey;
pub use user_db::UserDb;

/// Largest security token accepted from a peer (64 KiB); real NTLM/SPNEGO tokens are under 2 KiB.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The server's initial SPNEGO negTokenInit (NEGOTIATE response security buffer) offering NTLMSSP.
pub fn spnego_server_init_token() -> Vec<u8> {
    spnego::server_init_token()
}
