//! # engine: the reactors that own smbdx's sockets
//!
//! What it is for: I/O. A fixed set of reactor threads, one per core (pinned with `core_affinity` when
//! asked), each owning its connections for their whole life and running them to completion: read
//! → cut MS-SMB2 2.1 Direct TCP frames → hand each whole message to the connection's sans-I/O handler
//! ([`Connection::on_message`]) → write the handler's [`Outbox`] → next. An acceptor thread spreads new
//! connections over the reactors through bounded crossbeam queues plus a mio waker.
//!
//! What it must not do: understand SMB. Negotiate, credits, signing and encryption live in the
//! handlers; the engine knows framing and sockets only. SMB Direct channels (queue pairs, registered
//! buffer pools, MS-SMBD through `smbdirect`) run on the same reactors ([`rdma`]).
//!
//! Concurrency model: a channel's socket, buffers and handler are touched only by its reactor thread,
//! so the request path takes no lock and crosses no core; other threads reach a reactor only through
//! its bounded hand-off queue. Per-reactor counters are atomics written by their reactor alone.
//!
//! Limits: a frame longer than [`EngineConfig::max_message`] or with a non-zero first byte closes that
//! connection only; each receive buffer grows to at most `max_message + 4`; a connection whose outbox
//! holds more than [`EngineConfig::max_outbox_bytes`] (owned buffers from [`Outbox::push_owned`]
//! included) is not read (nor its buffered messages delivered) until the peer drains it, so a peer
//! that never reads costs a bounded amount of memory. Large messages need not be copied into the
//! outbox: [`Outbox::push_owned`] takes the buffer they were built in, `writev` sends it from there,
//! and [`Outbox::reclaim`] gives it back for the next one.
//!
//! Application threads: [`Engine::connect`] returns a [`ConnectionHandle`]; its `wake` makes the
//! owning reactor call [`Connection::on_wake`], where the handler drains requests the application
//! queued in a bounded channel of the handler's own. Answers go back the same way, so the request
//! path crosses threads only through bounded queues.
//!
//! Work that waits for a device: a handler must not block its reactor, so a file write that would
//! wait goes to an [`Offload`] (one helper thread per reactor, bounded FIFO queue). Every connection
//! gets its own [`ConnectionHandle`] through [`Connection::attach`]; the job reports on a bounded
//! queue of the handler's and wakes the connection, which answers from [`Connection::on_wake`]. At
//! shutdown, [`Connection::on_drain`] lets such work finish and be answered before the close.
//!
//! Polling ([`PollMode`]): `Busy` never sleeps, `Adaptive` (default) spins briefly after activity then
//! blocks in epoll, `Interrupt` always blocks.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//! use engine::{Connection, Engine, EngineConfig, Flow, Outbox};
//!
//! struct Echo;
//! impl Connection for Echo {
//!     fn on_message(&mut self, msg: &mut [u8], out: &mut Outbox) -> Flow {
//!         out.push(msg);
//!         Flow::Continue
//!     }
//! }
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let factory = Arc::new(|_peer: &engine::PeerInfo, _reactor| Box::new(Echo) as Box<dyn Connection>);
//! let cfg = EngineConfig { reactors: 1, pin: false, ..EngineConfig::default() };
//! let engine = Engine::start(vec![listener], factory, cfg).unwrap();
//!
//! let mut client = std::net::TcpStream::connect(engine.local_addrs()[0]).unwrap();
//! client.write_all(&[0, 0, 0, 2, b'h', b'i']).unwrap();
//! let mut reply = [0; 6];
//! client.read_exact(&mut reply).unwrap();
//! assert_eq!(reply, [0, 0, 0, 2, b'h', b'i']);
//! engine.shutdown().unwrap();
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

mod acceptor;
mod admission;
mod channel;
mod config;
mod connection;
mod engine;
mod error;
mod handle;
mod handler_core;
mod input;
mod offload;
mod outbox;
pub mod rdma;
mod reactor;
mod shutdown;
mod spin;
mod stats;
mod tcp_channel;

pub use admission::{Refusal, Refused, RefusedCounts};
pub use config::{
    EngineConfig, PollMode, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_SOURCE, DEFAULT_MAX_MESSAGE,
    DEFAULT_STALL_TIMEOUT,
};
pub use connection::{Connection, ConnectionFactory, Flow, PeerInfo, RdmaLimits, Transport};
pub use engine::Engine;
pub use error::EngineError;
pub use handle::ConnectionHandle;
pub use offload::{Job, Offload};
pub use outbox::Outbox;
pub use shutdown::ShutdownHandle;
pub use stats::{ReactorStats, StatsReader};
