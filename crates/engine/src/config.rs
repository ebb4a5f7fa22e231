//! Engine settings: how many reactors, how they wait for work, and the limits that keep a hostile or
//! slow peer from making the server buffer without bound.

use std::time::Duration;

/// How a reactor waits when it has nothing to do (docs/ARCHITECTURE.md, "Reactors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMode {
    /// Never sleep: poll with a zero timeout forever. Lowest latency; burns its core.
    Busy,
    /// Keep polling with a zero timeout for up to `spin` after the last activity, yielding the core
    /// to any other runnable thread between polls, then block in epoll until a socket or the waker
    /// fires. The window tunes itself below `spin` to what spinning catches (see `spin.rs`).
    /// The default: on a 2-core machine a client and a server process (and the server's writer
    /// threads) can share the cores without starving each other.
    Adaptive { spin: Duration },
    /// Always block in epoll until something happens.
    Interrupt,
}

impl Default for PollMode {
    fn default() -> Self {
        PollMode::Adaptive { spin: Duration::from_micros(50) }
    }
}

/// Settings for [`crate::Engine::start`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Reactor threads; clamped to 1..=available cores.
    pub reactors: usize,
    /// Pin reactor `i` to core `i` (`core_affinity`).
    pub pin: bool,
    pub poll: PollMode,
    /// Largest Direct TCP message (prefix excluded) a peer may send; a longer one closes that
    /// connection. Also caps each connection's receive buffer at `max_message + 4`. Clamped to the
    /// 24-bit limit of the prefix.
    pub max_message: usize,
    /// A reactor stops reading a connection whose outbox holds more than this until the peer drains
    /// it, so a peer that never reads costs at most this plus one handler's output.
    pub max_outbox_bytes: usize,
    /// Connections one reactor owns at most; new ones beyond that (on every reactor) are refused.
    pub max_connections_per_reactor: usize,
    /// Accepted connections (TCP and SMB Direct) the server holds at once; one more is closed at
    /// accept, before any reactor sees it. Outgoing connections (`Engine::connect`) are not counted.
    pub max_connections: usize,
    /// Accepted connections one source address holds at once; one more from it is closed at
    /// accept. An IPv4 peer on a dual-stack listener counts as its IPv4 address.
    pub max_connections_per_source: usize,
    /// How long [`crate::Engine::shutdown`] lets outboxes drain before closing regardless.
    pub shutdown_grace: Duration,
    /// SO_SNDBUF for every connection (the kernel doubles it); `None` leaves the kernel's autotuning
    /// alone, and so does a size above `net.core.wmem_max` that the process may not force (the
    /// kernel would cut it to that cap). A fixed, large buffer takes a whole 8 MiB READ
    /// response in one `writev`: with autotuning (at most `tcp_wmem`'s 4 MiB) the reactor sent each
    /// in pieces, woken to write the next one as the peer drained the last. Measured with
    /// `smbclient get` of 1 GiB, AES-128-GCM, 8 runs each, interleaved: 0.23-0.27 server CPU-s/GiB
    /// at 2.45-2.85 GB/s with 4 MiB against 0.29-0.36 at 2.15-2.50 GB/s autotuned.
    pub send_buffer: Option<usize>,
    /// SMB Direct: the RDMA provider, listen addresses and MS-SMBD parameters; `None`: TCP only.
    pub rdma: Option<crate::rdma::RdmaSettings>,
    /// The server-wide memory budget connections' buffers are charged to (`iobuf::budget`): receive
    /// buffers past their first 64 KiB and queued answers here, the session layer's buffers by the
    /// handlers. While it is used up no connection starts a new message; `None`: no budget.
    pub memory_budget: Option<std::sync::Arc<iobuf::budget::MemoryBudget>>,
    /// While the budget is used up, a connection that holds part of it and has moved no byte for
    /// this long (its peer reads none of its answers, or sends none of the rest of its message) is
    /// closed ([`crate::EngineError::Stalled`]).
    pub stall_timeout: Duration,
}

/// The default [`EngineConfig::stall_timeout`]: far longer than any live peer goes without taking
/// a byte (a 8 MiB answer at 10 Mb/s takes 7 s), short enough that a server starved of memory by
/// peers that stopped reading recovers in well under a minute.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The default [`EngineConfig::send_buffer`]: 8 MiB of buffer once doubled, one largest READ
/// response (a larger one measured no better).
pub const DEFAULT_SEND_BUFFER: usize = 4 * 1024 * 1024;

/// The default [`EngineConfig::max_connections`]. Each connection costs a descriptor for its socket
/// and some for its open files, plus its buffers (up to `max_outbox_bytes` when its peer stops
/// reading): 4096 fits the 65536 descriptors `deploy/smbdx.service` allows and the memory of a
/// small node, and is far more than the cluster peers of a storage node open (a few per peer, per
/// interface with multichannel).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The default [`EngineConfig::max_connections_per_source`]: one address cannot take more than a
/// sixteenth of [`DEFAULT_MAX_CONNECTIONS`], while a busy client host (many users' sessions, one
/// connection each, several channels) or a NAT gateway stays well below it.
pub const DEFAULT_MAX_CONNECTIONS_PER_SOURCE: usize = 256;

/// 8 MiB of READ/WRITE payload plus headroom for headers, transforms and compounding.
pub const DEFAULT_MAX_MESSAGE: usize = 8 * 1024 * 1024 + 64 * 1024;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            reactors: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pin: true,
            poll: PollMode::default(),
            max_message: DEFAULT_MAX_MESSAGE,
            max_outbox_bytes: 4 * 1024 * 1024,
            max_connections_per_reactor: 4096,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
            shutdown_grace: Duration::from_secs(2),
            send_buffer: Some(DEFAULT_SEND_BUFFER),
            rdma: None,
            memory_budget: None,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
    }
}
