//! # iobuf: page-aligned I/O memory, lent as leases
//!
//! What it is for: the memory that request and response data live in. A [`Pool`] hands out
//! [`Lease`]s of page-aligned bytes (O_DIRECT file I/O works on them); each pool batch stays at one
//! address for the pool's life, so an RDMA domain registers it once and every lease of it can be
//! named in work requests ([`Lease::location`]) without registering memory per I/O. [`AlignedBuf`]
//! is the allocation underneath, also used for memory a domain owns outright (receive rings).
//! [`budget`] counts what connections hold against one server-wide limit.
//!
//! What it must not do: I/O, devices, or protocol. It knows bytes and where they lie; `rdma-verbs`
//! registers them, `engine` and `smb-session` fill and send them.
//!
//! Ownership: a lease is the only way to its slot's bytes until it is dropped (on any thread), which
//! returns the slot. A device may still write memory it was told about (an RDMA WRITE into a
//! window): the protocol, not the type system, orders that, as on any RDMA device.
//!
//! ```
//! use iobuf::{Pool, PoolConfig};
//! let pool = Pool::new(&PoolConfig::default());
//! let mut lease = pool.take(1 << 20)?;
//! lease.fill(0xAB);
//! assert_eq!(lease.as_ptr() as usize % iobuf::PAGE, 0);
//! let moved = std::thread::spawn(move || lease.iter().all(|&b| b == 0xAB)).join().unwrap();
//! assert!(moved);
//! assert_eq!(pool.lent(), 0);
//! # Ok::<(), iobuf::Error>(())
//! ```

// Every unsafe block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks, unsafe_op_in_unsafe_fn)]

mod aligned;
pub mod budget;
mod error;
mod pool;

pub use aligned::{AlignedBuf, PAGE};
pub use error::{Error, Result};
pub use pool::{Batch, BatchRef, ClassConfig, Lease, Location, Pool, PoolConfig};
