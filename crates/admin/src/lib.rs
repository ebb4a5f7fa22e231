//! # smbdx-admin: the operator's view of a running server
//!
//! `smbdx serve --admin ADDR:PORT` starts [`AdminServer`]: a status page at `/` (settings, shares,
//! sessions, reactors, recent security events, live throughput per transport), `/metrics` in the
//! Prometheus text format, and the JSON API behind the page, through which the operator also sets a
//! share's EncryptData and closes sessions while the server runs. `smbdx status` and `smbdx share
//! set` use the same API ([`client`]).
//!
//! Who may ask ([`auth`]): loopback always; other hosts only with the token of
//! `--admin-token-file`, as `Authorization: Bearer <token>`.
//!
//! What it must not do: read or list file data (it sees share names and paths, sessions and
//! counters only), run on a reactor or make a reactor wait (it reads the counters the reactors keep
//! anyway, through [`server::serve::Observer`]), or take a lock on the request path.
//!
//! ```no_run
//! let srv = server::serve::Server::start(&Default::default()).unwrap();
//! let admin = admin::AdminServer::start("127.0.0.1:9445".parse().unwrap(), None, srv.observer()).unwrap();
//! println!("http://{}/", admin.local_addr());
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod http;
pub mod metrics;
pub mod status;

pub use auth::Token;
pub use http::{AdminError, AdminServer};
