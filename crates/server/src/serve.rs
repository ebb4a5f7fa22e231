//! `smbdx serve`: build the server from its configuration, run the engine, stop on request.

use crate::auth::NtlmAuth;
use crate::config::{ConfigError, ServeConfig};
use crate::connection::SmbConnection;
use crate::files::ServerFiles;
use crate::io_offload::IoOffload;
use crate::live::{Live, Settings};
use engine::{Connection, ConnectionFactory, Engine, EngineConfig, Offload, PollMode};
use smb_auth::UserDb;
use smb_fs::Share;
use smb_session::ServerConfig;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("listening on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("engine: {0}")]
    Engine(std::io::Error),
    /// `--rdma` without an RDMA provider (a build without the `rdma` feature).
    #[error("SMB Direct (--rdma) is not in this build: rebuild with `--features rdma` (needs rdma-core), and get an RDMA device (an RNIC, or SoftRoCE: `modprobe rdma_rxe && rdma link add rxe0 type rxe netdev <nic>`, or the VM harness scripts/rxe-vm.sh)")]
    NoRdma,
}

/// Everything a connection needs, shared by all of them.
struct Factory {
    cfg: Arc<ServerConfig>,
    shares: Arc<Vec<Share>>,
    users: Arc<UserDb>,
    /// Each reactor's helper threads for WRITEs and READs (see `io_offload`).
    helpers: Vec<Arc<Offload>>,
    /// The CPUs the process may run on, counted before the reactors were pinned.
    cpus: usize,
    live: Arc<Live>,
    throttle: Arc<crate::throttle::LogonThrottle>,
    delayer: crate::delay::Delayer,
    logon_timeout: Option<std::time::Duration>,
    idle_timeout: Option<std::time::Duration>,
    /// Encrypted READs seal from the page cache (`read_path`).
    map_reads: bool,
    /// Opens one session may hold (`max_opens_per_session`).
    max_opens: usize,
}

/// Requests one connection has in flight on the helpers at most (the session layer bounds their
/// bytes).
const DEFERRED_WRITES_PER_CONNECTION: usize = 16;
/// Jobs queued on a helper at most, from all its reactor's connections; beyond, a reactor writes
/// itself.
const HELPER_QUEUE: usize = 64;

impl ConnectionFactory for Factory {
    fn accept(&self, peer: &engine::PeerInfo, reactor: usize) -> Box<dyn Connection> {
        let mut files = ServerFiles::new(Arc::clone(&self.shares), Arc::new(crate::netif::interfaces))
            .with_map_reads(self.map_reads)
            .with_max_opens(self.max_opens);
        if let Some(h) = self.helpers.get(reactor) {
            files = files.with_io_offload(IoOffload::new(
                Arc::clone(h),
                DEFERRED_WRITES_PER_CONNECTION,
                self.cpus,
            ));
        }
        let entry = self.live.open(peer.addr, reactor, peer.is_rdma());
        let files = files.with_live(Arc::clone(&self.live)).with_open_files(Arc::clone(&entry.open_files));
        let auth = NtlmAuth::new(Arc::clone(&self.users), &self.cfg.server_name);
        let live = Some((Arc::clone(&self.live), entry));
        let guard = crate::connection::LogonGuard {
            table: Arc::clone(&self.throttle),
            delayer: self.delayer.clone(),
            logon_timeout: self.logon_timeout,
            idle_timeout: self.idle_timeout,
        };
        Box::new(SmbConnection::new(peer, Arc::clone(&self.cfg), files, auth, live, guard))
    }

    /// Closed at accept over a connection limit: counted for /metrics, and the first refusal of
    /// each episode logged as an event for the operator (a flood adds to the count, not the ring).
    fn refused(&self, r: &engine::Refused) {
        self.live.connection_refused(r);
    }
}

/// Writer threads per reactor (`--write-threads`).
const DEFAULT_WRITE_THREADS: usize = 4;

/// Adaptive polling's default spin window (`--poll-spin-us`).
const DEFAULT_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// The server as another thread sees it while it runs (cheap to clone): what `smbdx serve
/// --admin` serves. Reading it never blocks a reactor.
#[derive(Clone)]
pub struct Observer {
    pub live: Arc<Live>,
    pub reactors: engine::StatsReader,
    /// Weak: a view kept past the server's end must not keep its helper threads.
    helpers: Vec<std::sync::Weak<Offload>>,
    /// The memory budget connections' buffers are charged to.
    pub budget: Arc<iobuf::budget::MemoryBudget>,
}

impl Observer {
    /// Jobs queued on each reactor's helper threads and not started yet.
    pub fn helper_queue_depths(&self) -> Vec<usize> {
        self.helpers.iter().map(|h| h.upgrade().map_or(0, |h| h.queued())).collect()
    }

    /// READs and WRITEs the helper threads have run so far.
    pub fn helper_jobs_run(&self) -> u64 {
        self.helpers.iter().filter_map(std::sync::Weak::upgrade).map(|h| h.jobs_run()).sum()
    }
}

/// A running server.
pub struct Server {
    engine: Engine,
    helpers: Vec<Arc<Offload>>,
    live: Arc<Live>,
    budget: Arc<iobuf::budget::MemoryBudget>,
    delayer: crate::delay::Delayer,
}

impl Server {
    /// Wakes the server's timer thread holds (logon deadlines, idle checks, throttled logons).
    pub fn pending_wakes(&self) -> usize {
        self.delayer.pending()
    }

    /// Starts the server; `--rdma` addresses need [`Server::start_with_rdma`].
    pub fn start(cfg: &ServeConfig) -> Result<Server, ServeError> {
        Server::start_with_rdma(cfg, None)
    }

    /// Starts the server, with SMB Direct listeners on `cfg.rdma` through `rdma` (the verbs
    /// provider on real devices; the loopback provider in tests).
    pub fn start_with_rdma(
        cfg: &ServeConfig,
        rdma: Option<Arc<dyn engine::rdma::RdmaProvider>>,
    ) -> Result<Server, ServeError> {
        cfg.validate()?;
        let rdma_addrs = cfg.rdma_addrs()?;
        let rdma = match (rdma, rdma_addrs.is_empty()) {
            (None, false) => return Err(ServeError::NoRdma),
            (Some(p), false) => {
                let mut r = engine::rdma::RdmaSettings::new(p);
                r.listen = rdma_addrs;
                Some(r)
            }
            (_, true) => None,
        };
        let mut users = UserDb::new();
        for u in &cfg.users {
            users.add_spec(u).map_err(|e| ConfigError::User(e.to_string()))?;
        }
        users.allow_anonymous(cfg.allow_anonymous);
        let server_name = cfg.server_name.clone().unwrap_or_else(|| "SMBDX".into());
        let budget = iobuf::budget::MemoryBudget::new(cfg.memory_budget() as usize);
        let session_cfg = ServerConfig {
            server_name: server_name.clone(),
            server_guid: server_guid(&server_name),
            ciphers: cfg.cipher_order()?,
            crypto_backend: cfg.crypto_backend()?,
            encrypt_data: cfg.encrypt_data,
            reject_unencrypted_access: !cfg.allow_unencrypted_access,
            require_signing: cfg.require_signing,
            rdma_transform: cfg.rdma_transform != crate::config::RdmaTransformSetting::Off,
            require_rdma_transform: cfg.rdma_transform == crate::config::RdmaTransformSetting::Required,
            max_sessions: cfg.max_sessions_per_connection(),
            max_credits: cfg.max_credits(),
            memory_budget: Some(Arc::clone(&budget)),
            ..ServerConfig::default()
        };
        let mut listeners = Vec::new();
        for addr in cfg.listen_addrs()? {
            let l =
                std::net::TcpListener::bind(addr).map_err(|source| ServeError::Listen { addr, source })?;
            listeners.push(l);
        }
        let poll = match cfg.poll.as_deref() {
            Some("busy") => PollMode::Busy,
            Some("interrupt") => PollMode::Interrupt,
            _ => PollMode::Adaptive {
                spin: cfg.poll_spin_us.map_or(DEFAULT_SPIN, std::time::Duration::from_micros),
            },
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let engine_cfg = EngineConfig {
            reactors: cfg.reactors.unwrap_or(cores).clamp(1, cores),
            pin: true,
            poll,
            // 8 MiB I/O plus headers and a transform header.
            max_message: (8 << 20) + (64 << 10),
            max_outbox_bytes: 32 << 20,
            max_connections_per_reactor: 4096,
            max_connections: cfg.max_connections(),
            max_connections_per_source: cfg.max_connections_per_source(),
            shutdown_grace: std::time::Duration::from_secs(5),
            rdma,
            memory_budget: Some(Arc::clone(&budget)),
            stall_timeout: cfg.stall_timeout(),
            ..EngineConfig::default()
        };
        // Several writers per reactor: one 1 MiB O_DIRECT write at a time reached 3.1 GB/s on the
        // test VM's virtio disk (320 us each), four at a time 3.9 GB/s.
        // 0: no helpers, every READ and WRITE is done on its reactor.
        let writers = cfg.write_threads.unwrap_or(DEFAULT_WRITE_THREADS);
        let helpers = (0..if writers == 0 { 0 } else { engine_cfg.reactors })
            .map(|i| Offload::start(&format!("smbdx-writer-{i}"), writers, HELPER_QUEUE).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ServeError::Engine)?;
        let mut settings = Settings::of(&session_cfg);
        if session_cfg.crypto_backend == smb_crypto::Backend::Auto {
            // Resolved here, before any reactor runs: the measurement takes tens of milliseconds.
            tracing::info!(choice = %smb_crypto::select::selection().describe(), "crypto backend auto");
        } else {
            tracing::info!(backend = %session_cfg.crypto_backend, "crypto backend set");
        }
        settings.listen = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
        // The SMB Direct listeners' ports are known once the engine runs; shown as configured.
        settings.rdma_listen = cfg.rdma_addrs()?;
        let live = Arc::new(Live::new(settings, &cfg.shares));
        let delayer = crate::delay::Delayer::start().map_err(ServeError::Engine)?;
        let factory = Factory {
            live: Arc::clone(&live),
            cfg: Arc::new(session_cfg),
            shares: Arc::new(ServerFiles::shares(&cfg.shares)),
            users: Arc::new(users),
            helpers: helpers.clone(),
            cpus: cores,
            throttle: Arc::new(crate::throttle::LogonThrottle::new(cfg.throttle()?)),
            delayer: delayer.clone(),
            logon_timeout: cfg.logon_timeout(),
            idle_timeout: cfg.idle_timeout(),
            map_reads: cfg.map_reads()?,
            max_opens: cfg.max_opens_per_session(),
        };
        let engine = Engine::start(listeners, Arc::new(factory), engine_cfg).map_err(ServeError::Engine)?;
        for a in engine.local_addrs() {
            tracing::info!(listen = %a, shares = cfg.shares.len(), encrypt_data = cfg.encrypt_data, "smbdx serving");
        }
        for a in engine.local_rdma_addrs() {
            tracing::info!(rdma = %a, shares = cfg.shares.len(), encrypt_data = cfg.encrypt_data, "smbdx serving SMB Direct");
        }
        Ok(Server { engine, helpers, live, budget, delayer })
    }

    /// Connections closed at accept so far, over the server's or a source's limit.
    pub fn refused_connections(&self) -> engine::RefusedCounts {
        self.engine.refused()
    }

    /// Accepted connections open now, as the connection limits count them.
    pub fn accepted_open(&self) -> usize {
        self.engine.accepted_open()
    }

    /// READs and WRITEs the helper threads have done so far (0 with `--write-threads 0`).
    pub fn offloaded_io(&self) -> u64 {
        self.helpers.iter().map(|h| h.jobs_run()).sum()
    }

    /// What the operator sees and may change while the server runs (the admin view's source).
    pub fn live(&self) -> Arc<Live> {
        Arc::clone(&self.live)
    }

    /// What an admin thread reads while the server runs: the live state, the reactors' counters
    /// and the helpers' queues.
    pub fn observer(&self) -> Observer {
        Observer {
            live: Arc::clone(&self.live),
            reactors: self.engine.stats_reader(),
            helpers: self.helpers.iter().map(Arc::downgrade).collect(),
            budget: Arc::clone(&self.budget),
        }
    }

    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.engine.local_addrs()
    }

    /// Leases of registered memory out now (see `Engine::rdma_leases_out`).
    pub fn rdma_leases_out(&self) -> usize {
        self.engine.rdma_leases_out()
    }

    /// File data moved by RDMA so far: (RDMA WRITE into clients' buffers for READs, RDMA READ from
    /// them for WRITEs).
    pub fn rdma_bytes(&self) -> (u64, u64) {
        self.engine.stats().iter().fold((0, 0), |(w, r), s| (w + s.rdma_write_bytes, r + s.rdma_read_bytes))
    }

    /// RDMA READs and WRITEs that failed with a remote access error (a client's token that was
    /// not, or no longer, granted).
    pub fn rdma_access_errors(&self) -> u64 {
        self.engine.stats().iter().map(|s| s.rdma_access_errors).sum()
    }

    /// The SMB Direct listeners' addresses.
    pub fn local_rdma_addrs(&self) -> Vec<SocketAddr> {
        self.engine.local_rdma_addrs()
    }

    pub fn shutdown_handle(&self) -> engine::ShutdownHandle {
        self.engine.shutdown_handle()
    }

    /// Stops accepting, finishes in-flight requests, closes files.
    pub fn shutdown(self) -> Result<(), ServeError> {
        self.engine.shutdown().map_err(ServeError::Engine)
    }
}

/// A stable ServerGuid per server name (clients use it to recognise the same server on several
/// channels).
fn server_guid(name: &str) -> [u8; 16] {
    let h = smb_crypto::hash::sha512(smb_crypto::Backend::PORTABLE, &[b"smbdx server guid", name.as_bytes()]);
    let mut g = [0u8; 16];
    g.copy_from_slice(&h[..16]);
    g
}
