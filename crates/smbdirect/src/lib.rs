//! # smbdirect: SMB Direct (MS-SMBD) as a sans-I/O state machine
//!
//! What this crate is for: everything MS-SMBD decides, for both roles. The negotiate exchange and
//! its refusals ([`negotiate`]), send and receive credits with the last-credit rule ([`credits`]),
//! the send queue and fragmentation ([`send_queue`]), reassembly into a buffer capped by
//! MaxFragmentedRecvSize ([`reassembly`]), the idle timer and keepalives ([`keepalive`]), and the
//! validation and work-request planning of SMB2 READ/WRITE buffer descriptors ([`descriptors`]).
//! [`SmbdConnection`] ties them together in the style of quinn-proto: inputs
//! (`on_receive`, `on_receives_posted`, `on_send_completed`, `queue_message`), outputs
//! (`poll_transmit`, `poll_event`, `receives_wanted`) and timers (`poll_timeout`,
//! `handle_timeout`), with the time passed in.
//!
//! What it must not do: I/O, threads, clocks, or holding payloads. It never touches verbs, queue
//! pairs or memory registrations; it never reads the clock; upper-layer bytes stay with the
//! caller, which gathers them behind the header a [`Transmit`] carries. It must not trust the peer:
//! every length is checked before use, no allocation follows a length the peer claims, and any
//! protocol violation closes the connection with a typed [`Error`]. It allocates nothing per
//! message once its queue and reassembly buffer have grown.
//!
//! The transport's contract (post what [`SmbdConnection::receives_wanted`] asks before polling,
//! feed completions in order, post transmits in order, obey the timer) is written out in
//! [`connection`].
//!
//! ```
//! use std::time::Instant;
//! use smbdirect::{Config, Event, Received, Role, SmbdConnection};
//!
//! let now = Instant::now();
//! let mut client = SmbdConnection::new(Role::Client, Config::default(), now);
//! let mut server = SmbdConnection::new(Role::Server, Config::default(), now);
//!
//! // Each transport posts the receives its side asks for, then sends what it is given.
//! for side in [&mut client, &mut server] {
//!     let n = side.receives_wanted();
//!     side.on_receives_posted(n);
//! }
//! let request = client.poll_transmit(now).unwrap();
//! let mut wire = request.header().to_vec();
//! assert_eq!(server.on_receive(&mut wire, None, now)?, Received::Negotiated);
//!
//! let n = server.receives_wanted(); // the client asked for 255 credits
//! server.on_receives_posted(n);
//! let response = server.poll_transmit(now).unwrap();
//! let mut wire = response.header().to_vec();
//! client.on_receive(&mut wire, None, now)?;
//! let Some(Event::Established(params)) = client.poll_event() else { panic!("not established") };
//! assert_eq!(params.max_send_size, 1364);
//! assert_eq!(client.credits().send, 255);
//!
//! // An upper-layer message: the caller keeps the bytes and sends header + range.
//! let smb2 = b"\xfeSMB an SMB2 NEGOTIATE request";
//! let n = client.receives_wanted();
//! client.on_receives_posted(n);
//! let id = client.queue_message(smb2.len())?;
//! let t = client.poll_transmit(now).unwrap();
//! let (msg, range) = t.payload().unwrap();
//! assert_eq!(msg, id);
//! let mut wire = [t.header(), &smb2[range]].concat();
//! match server.on_receive(&mut wire, None, now)? {
//!     Received::Message { data, .. } => assert_eq!(data, smb2), // borrowed from `wire`
//!     other => panic!("{other:?}"),
//! }
//! // That message also granted the server its first send credits.
//! assert_eq!(server.credits().send, 255);
//! # Ok::<(), smbdirect::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod config;
pub mod connection;
pub mod credits;
pub mod descriptors;
pub mod error;
pub mod keepalive;
pub mod negotiate;
pub mod reassembly;
pub mod send_queue;

pub use config::Config;
pub use connection::{Event, Received, Role, SmbdConnection, Transmit, TransmitKind, MAX_HEADER_LEN};
pub use credits::Credits;
pub use descriptors::{DescriptorSource, Limits, Plan, RdmaPiece};
pub use error::{DescriptorError, Error};
pub use negotiate::Negotiated;
pub use send_queue::MessageId;
