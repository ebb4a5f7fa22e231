//! # smbdx-server: the SMB 3.1.1 file server
//!
//! Shares mapped to directories, served over the core-pinned engine: each accepted connection gets a
//! sans-I/O [`smb_session::ServerConnection`] with an NTLMv2/SPNEGO authenticator ([`auth`]) and the
//! share files ([`files`]). Policies (EncryptData server-wide and per share, RejectUnencryptedAccess,
//! RequireSigning, cipher order, logon throttling by source in [`throttle`]) come from
//! [`config::ServeConfig`]. What the operator sees and may
//! change while it runs (connections, sessions, security events, each share's EncryptData) is kept
//! in [`live`], read through [`serve::Observer`] by `smbdx serve --admin` (the admin crate).
//!
//! What it must not do: protocol decisions (those are smb-session's) or socket handling (the engine's).
//!
//! ```no_run
//! let cfg = server::config::ServeConfig {
//!     listen: vec!["127.0.0.1:4450".into()],
//!     shares: vec![server::config::ShareConfig::parse("data=/srv/data,encrypt-data").unwrap()],
//!     users: vec!["alice:secret".into()],
//!     ..Default::default()
//! };
//! let srv = server::serve::Server::start(&cfg).unwrap();
//! srv.shutdown().unwrap();
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod connection;
pub mod delay;
pub mod files;
pub mod io_offload;
pub mod live;
pub mod netif;
pub mod serve;
pub mod throttle;
pub mod time;
