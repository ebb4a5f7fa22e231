//! `smbdx serve` settings: from `--config smbdx.toml`, then command-line flags on top.
//!
//! ```toml
//! listen = ["127.0.0.1:4450"]
//! encrypt_data = false
//! allow_unencrypted_access = false
//! require_signing = false
//! ciphers = ["aes-128-gcm", "aes-256-gcm"]
//! reactors = 2
//! poll = "adaptive"
//! poll_spin_us = 50
//! write_threads = 4
//! rdma_transform = "on"
//! max_connections = 4096
//! max_connections_per_source = 256
//! max_sessions_per_connection = 64
//! max_opens_per_session = 4096
//! users = ["alice:nthash:0cb6948805f797bf2a82807973b89537"]
//! [[share]]
//! name = "data"
//! path = "/srv/data"
//! encrypt_data = true
//! ```

use serde::Deserialize;
use smb_crypto::{Backend, Cipher};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Toml { path: PathBuf, source: toml::de::Error },
    #[error("share spec {spec:?}: {why} (expected NAME=PATH[,encrypt-data][,read-only][,users=A+B])")]
    Share { spec: String, why: &'static str },
    #[error("share {name}: {path} is not a directory")]
    ShareRoot { name: String, path: PathBuf },
    #[error("unknown cipher {0:?} (aes-128-gcm, aes-256-gcm, aes-128-ccm, aes-256-ccm)")]
    Cipher(String),
    #[error("unknown crypto backend {0:?} (auto, aws-lc-rs, ring, rustcrypto)")]
    CryptoBackend(String),
    #[error("unknown read path {0:?} (map, copy)")]
    ReadPath(String),
    #[error("unknown poll mode {0:?} (busy, adaptive, interrupt)")]
    Poll(String),
    #[error("listen address {0:?} is not HOST:PORT")]
    Listen(String),
    #[error("logon throttle {0:?}: expected off or DELAY_AFTER,DELAY_MS,LOCKOUT_AFTER,LOCKOUT_SECS (lockout after no fewer failures than the delay)")]
    Throttle(String),
    #[error("no share configured (--share NAME=PATH)")]
    NoShares,
    #[error("user spec: {0}")]
    User(String),
    #[error("{0}")]
    Setting(String),
    #[error("{name} must be at least 1")]
    Limit { name: &'static str },
    #[error("max_credits must be at least {MIN_CREDITS} (one READ or WRITE of the largest size negotiated, 8 MiB, costs that many); {0} is less")]
    Credits(u16),
    #[error("memory_budget must be at least {MIN_MEMORY_BUDGET_MIB} MiB (several of the largest messages at once); {0} MiB is less")]
    MemoryBudget(u64),
    #[error("admin address {0:?} is not HOST:PORT")]
    Admin(String),
    #[error("admin address {0} is not loopback: give --admin-token-file, whose token other hosts must send")]
    AdminNeedsToken(std::net::SocketAddr),
}

/// One share.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShareConfig {
    pub name: String,
    pub path: PathBuf,
    #[serde(default)]
    pub encrypt_data: bool,
    #[serde(default)]
    pub read_only: bool,
    /// Who may connect (TREE_CONNECT); empty: every user.
    #[serde(default)]
    pub users: Vec<String>,
}

impl ShareConfig {
    /// `NAME=PATH[,encrypt-data][,read-only][,users=alice+bob]`.
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let err = |why| ConfigError::Share { spec: spec.to_string(), why };
        let (name, rest) = spec.split_once('=').ok_or_else(|| err("missing '='"))?;
        let mut parts = rest.split(',');
        let path = parts.next().filter(|p| !p.is_empty()).ok_or_else(|| err("missing path"))?;
        if name.is_empty() || name.contains(['\\', '/', ':']) {
            return Err(err("bad share name"));
        }
        let mut s = ShareConfig {
            name: name.into(),
            path: path.into(),
            encrypt_data: false,
            read_only: false,
            users: Vec::new(),
        };
        for opt in parts {
            match opt {
                "encrypt-data" | "encrypt_data" => s.encrypt_data = true,
                "read-only" | "read_only" => s.read_only = true,
                _ => match opt.strip_prefix("users=") {
                    Some(list) => {
                        s.users = list.split('+').map(str::to_string).collect();
                        if s.users.iter().any(|u| u.is_empty() || u.contains([',', ':', '\\', '/'])) {
                            return Err(err("bad user list"));
                        }
                    }
                    None => return Err(err("unknown option")),
                },
            }
        }
        Ok(s)
    }
}

/// Everything `smbdx serve` needs, after merging file and flags.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    #[serde(default)]
    pub listen: Vec<String>,
    #[serde(default, rename = "share")]
    pub shares: Vec<ShareConfig>,
    /// `user:password` or `user:nthash:<32 hex>`; prefer the hash form in files.
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub encrypt_data: bool,
    #[serde(default)]
    pub allow_unencrypted_access: bool,
    #[serde(default)]
    pub require_signing: bool,
    #[serde(default)]
    pub allow_anonymous: bool,
    #[serde(default)]
    pub ciphers: Vec<String>,
    /// The library that runs the ciphers: auto (default: the fastest on this CPU, measured at
    /// start-up, or the one SMBDX_CRYPTO_BACKEND names), aws-lc-rs, ring or rustcrypto.
    pub crypto_backend: Option<String>,
    /// How an encrypted READ gets its data: `map` (default: sealed straight from the file's page
    /// cache, one pass) or `copy` (read into the response, then sealed there: two).
    pub read_path: Option<String>,
    pub reactors: Option<usize>,
    pub poll: Option<String>,
    /// Adaptive polling's spin window after activity, in microseconds.
    pub poll_spin_us: Option<u64>,
    /// Threads per reactor that write O_DIRECT WRITEs to the files (the reactor goes on meanwhile).
    pub write_threads: Option<usize>,
    pub server_name: Option<String>,
    /// SMB Direct listen addresses (`--rdma`): an IP of an RDMA device, with a port, or without one
    /// for both 445 and 5445 (the Linux client tries 5445 first).
    #[serde(default)]
    pub rdma: Vec<String>,
    /// The operator's HTTP view (`--admin`): status page, `/metrics`, JSON API. Off when unset.
    pub admin: Option<String>,
    /// A file holding the admin token (`--admin-token-file`): requests from other hosts than
    /// loopback must carry `Authorization: Bearer <token>`. Without it the admin view serves loopback
    /// only.
    pub admin_token_file: Option<PathBuf>,
    /// The SMB 3.1.1 RDMA transform (`--rdma-transform`): `on` (default) answers clients that offer
    /// it, so encrypted and signed data keeps moving by RDMA, sealed or signed; `off` ignores the
    /// offer (such data rides inline); `required` also refuses SMB Direct clients without it.
    #[serde(default)]
    pub rdma_transform: RdmaTransformSetting,
    /// Logon throttling by source address (`--logon-throttle`): `off`, or
    /// `DELAY_AFTER,DELAY_MS,LOCKOUT_AFTER,LOCKOUT_SECS`; unset: `5,2000,30,300` (see
    /// [`crate::throttle`]).
    pub logon_throttle: Option<String>,
    /// Seconds a connection may go without establishing a session before it is closed
    /// (`--logon-timeout`; 0: never; unset: [`DEFAULT_LOGON_TIMEOUT_SECS`]).
    pub logon_timeout_secs: Option<u64>,
    /// Connections (TCP and SMB Direct) the server holds at once; one more is closed at accept
    /// (`--max-connections`; unset: [`engine::DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: Option<usize>,
    /// Connections one client address holds at once; one more from it is closed at accept
    /// (`--max-connections-per-source`; unset: [`engine::DEFAULT_MAX_CONNECTIONS_PER_SOURCE`]).
    pub max_connections_per_source: Option<usize>,
    /// Sessions (established or logging on) one connection holds at once; one more SESSION_SETUP
    /// is answered STATUS_REQUEST_NOT_ACCEPTED (`--max-sessions-per-connection`; unset:
    /// [`DEFAULT_MAX_SESSIONS_PER_CONNECTION`]).
    pub max_sessions_per_connection: Option<usize>,
    /// Files and directories one session holds open at once; one more CREATE is answered
    /// STATUS_INSUFFICIENT_RESOURCES and touches nothing on disk (`--max-opens-per-session`; unset:
    /// [`DEFAULT_MAX_OPENS_PER_SESSION`]).
    pub max_opens_per_session: Option<usize>,
    /// Seconds a connection may go without a request while it holds no open file before it is
    /// closed, its sessions with it (`--idle-timeout`; 0: never; unset:
    /// [`DEFAULT_IDLE_TIMEOUT_SECS`]).
    pub idle_timeout_secs: Option<u64>,
    /// Credits one connection may hold at once: the requests (and 64 KiB units of a large READ or
    /// WRITE) it may have outstanding (`--max-credits`; unset: [`DEFAULT_MAX_CREDITS`]).
    pub max_credits: Option<u16>,
    /// MiB the connections' buffers may hold together, server-wide (`--memory-budget`; unset:
    /// [`default_memory_budget`]); see [`iobuf::budget`].
    pub memory_budget_mib: Option<u64>,
    /// Seconds a connection may hold memory of a used-up budget without moving a byte before it is
    /// closed (`--stall-timeout`; unset: 30).
    pub stall_timeout_secs: Option<u64>,
}

/// Sessions per connection by default: clients open one per user on a connection (a multi-user
/// host, a cluster node's service accounts), so 64 is ample, and it bounds what one connection's
/// half-finished logons hold (each keeps an authentication exchange).
pub const DEFAULT_MAX_SESSIONS_PER_CONNECTION: usize = 64;

/// Opens per session by default. Each open holds one or two descriptors (the O_DIRECT companion of
/// a written file), and `deploy/smbdx.service` allows the process 65536: 4096 lets a busy session
/// (a VM host with many disks and their metadata files open) work, while a few runaway sessions
/// cannot take every descriptor.
pub const DEFAULT_MAX_OPENS_PER_SESSION: usize = 4096;

/// How long a connection may take to establish a session, by default: NTLM logs on in two round
/// trips (clients ask for passwords before they connect), so this is ample, and short enough that
/// silent or trickling connections do not pile up.
pub const DEFAULT_LOGON_TIMEOUT_SECS: u64 = 30;

/// How long a connection may sit idle, by default: Windows' AutoDisconnect default (15 minutes).
/// Like it (and Samba's `deadtime`), a connection with a file open is never idle: a client keeping
/// a handle expects it to last, and closing the connection would close the handle under it. Clients
/// that keep idle connections alive send ECHOs (the Linux client every 60 s), which count as requests.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 900;

/// Credits per connection by default: Windows Server's own range runs from Smb2CreditsMin (512) to
/// Smb2CreditsMax (8192). At 64 KiB a credit, 512 lets one connection have 32 MiB of
/// READs or WRITEs in flight, which fills a 100 Gb/s link at a millisecond's round trip, and no more
/// than the outbox that answers them holds.
pub const DEFAULT_MAX_CREDITS: u16 = 512;

/// The least `memory_budget_mib` may be: room for several of the largest messages (8 MiB) at once,
/// so a server under pressure still moves large I/O.
pub const MIN_MEMORY_BUDGET_MIB: u64 = 64;

/// The memory budget by default: a quarter of the machine's memory (what `MemTotal` in
/// `/proc/meminfo` says), at least 256 MiB and at most 16 GiB. A quarter leaves the rest to the
/// page cache the server reads and writes through, and to everything else on a storage node; 16
/// GiB is ~2,000 connections each with a whole 8 MiB message in flight both ways.
pub fn default_memory_budget() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(4 << 30, |kib| kib << 10);
    (total / 4).clamp(256 << 20, 16 << 30)
}

/// The least `max_credits` may be: a request costs a credit per 64 KiB, and the server negotiates
/// READs and WRITEs of up to 8 MiB; a window smaller than one of those would leave a client that
/// sizes its requests by MaxReadSize waiting for credits that never come.
pub const MIN_CREDITS: u16 = 128;

/// A timeout setting in seconds (`default` when unset), 0 meaning none.
fn secs_or_never(setting: Option<u64>, default: u64) -> Option<std::time::Duration> {
    match setting.unwrap_or(default) {
        0 => None,
        s => Some(std::time::Duration::from_secs(s)),
    }
}

/// How `smbdx serve` and the client treat the SMB 3.1.1 RDMA transform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RdmaTransformSetting {
    #[default]
    On,
    Off,
    Required,
}

impl RdmaTransformSetting {
    /// From `on`, `off` or `required`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "on" => Some(Self::On),
            "off" => Some(Self::Off),
            "required" => Some(Self::Required),
            _ => None,
        }
    }
}

impl ServeConfig {
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.into(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Toml { path: path.into(), source })
    }

    /// How long a connection may go without a session (`None`: no limit).
    pub fn logon_timeout(&self) -> Option<std::time::Duration> {
        secs_or_never(self.logon_timeout_secs, DEFAULT_LOGON_TIMEOUT_SECS)
    }

    /// How long a connection without open files may go without a request (`None`: no limit).
    pub fn idle_timeout(&self) -> Option<std::time::Duration> {
        secs_or_never(self.idle_timeout_secs, DEFAULT_IDLE_TIMEOUT_SECS)
    }

    /// Credits one connection may hold.
    pub fn max_credits(&self) -> u16 {
        self.max_credits.unwrap_or(DEFAULT_MAX_CREDITS)
    }

    /// The server-wide memory budget for connection buffers, in bytes.
    pub fn memory_budget(&self) -> u64 {
        self.memory_budget_mib.map_or_else(default_memory_budget, |m| m << 20)
    }

    /// How long a connection may hold memory of a used-up budget without progress.
    pub fn stall_timeout(&self) -> std::time::Duration {
        self.stall_timeout_secs.map_or(engine::DEFAULT_STALL_TIMEOUT, std::time::Duration::from_secs)
    }

    /// Connections the server holds at once.
    pub fn max_connections(&self) -> usize {
        self.max_connections.unwrap_or(engine::DEFAULT_MAX_CONNECTIONS)
    }

    /// Connections one client address holds at once.
    pub fn max_connections_per_source(&self) -> usize {
        self.max_connections_per_source.unwrap_or(engine::DEFAULT_MAX_CONNECTIONS_PER_SOURCE)
    }

    /// Sessions one connection holds at once.
    pub fn max_sessions_per_connection(&self) -> usize {
        self.max_sessions_per_connection.unwrap_or(DEFAULT_MAX_SESSIONS_PER_CONNECTION)
    }

    /// Opens one session holds at once.
    pub fn max_opens_per_session(&self) -> usize {
        self.max_opens_per_session.unwrap_or(DEFAULT_MAX_OPENS_PER_SESSION)
    }

    /// Each limit is at least 1 (0 would refuse every client: a mistake, not a policy).
    fn check_limits(&self) -> Result<(), ConfigError> {
        let limits = [
            ("max_connections", self.max_connections),
            ("max_connections_per_source", self.max_connections_per_source),
            ("max_sessions_per_connection", self.max_sessions_per_connection),
            ("max_opens_per_session", self.max_opens_per_session),
        ];
        for (name, v) in limits {
            if v == Some(0) {
                return Err(ConfigError::Limit { name });
            }
        }
        if let Some(c) = self.max_credits.filter(|&c| c < MIN_CREDITS) {
            return Err(ConfigError::Credits(c));
        }
        if let Some(m) = self.memory_budget_mib.filter(|&m| m < MIN_MEMORY_BUDGET_MIB) {
            return Err(ConfigError::MemoryBudget(m));
        }
        if self.stall_timeout_secs == Some(0) {
            return Err(ConfigError::Limit { name: "stall_timeout_secs" });
        }
        Ok(())
    }

    /// The logon throttling policy (default [`crate::throttle::ThrottleConfig::default`]).
    pub fn throttle(&self) -> Result<crate::throttle::ThrottleConfig, ConfigError> {
        match &self.logon_throttle {
            None => Ok(crate::throttle::ThrottleConfig::default()),
            Some(s) => {
                crate::throttle::ThrottleConfig::parse(s).ok_or_else(|| ConfigError::Throttle(s.clone()))
            }
        }
    }

    /// The cipher order, defaulting to AES-128-GCM, AES-256-GCM, AES-128-CCM, AES-256-CCM.
    pub fn cipher_order(&self) -> Result<Vec<Cipher>, ConfigError> {
        if self.ciphers.is_empty() {
            return Ok(vec![Cipher::Aes128Gcm, Cipher::Aes256Gcm, Cipher::Aes128Ccm, Cipher::Aes256Ccm]);
        }
        self.ciphers.iter().map(|c| Cipher::parse(c).ok_or_else(|| ConfigError::Cipher(c.clone()))).collect()
    }

    /// The crypto library asked for: the setting, else `auto` (which itself honours
    /// SMBDX_CRYPTO_BACKEND; a value there that names no library is refused here too).
    pub fn crypto_backend(&self) -> Result<Backend, ConfigError> {
        match &self.crypto_backend {
            Some(b) => Backend::parse(b).ok_or_else(|| ConfigError::CryptoBackend(b.clone())),
            None => match smb_crypto::select::env_error() {
                Some(v) => Err(ConfigError::CryptoBackend(format!("{}={v}", smb_crypto::select::ENV))),
                None => Ok(Backend::Auto),
            },
        }
    }

    /// Whether encrypted READs seal from the page cache (`read_path = "map"`, the default).
    pub fn map_reads(&self) -> Result<bool, ConfigError> {
        match self.read_path.as_deref() {
            None | Some("map") => Ok(true),
            Some("copy") => Ok(false),
            Some(other) => Err(ConfigError::ReadPath(other.into())),
        }
    }

    pub fn listen_addrs(&self) -> Result<Vec<std::net::SocketAddr>, ConfigError> {
        let list = if self.listen.is_empty() { vec!["0.0.0.0:445".to_string()] } else { self.listen.clone() };
        list.iter().map(|l| l.parse().map_err(|_| ConfigError::Listen(l.clone()))).collect()
    }

    /// Where to listen for SMB Direct: each `--rdma` address, on both 445 and 5445 when it names no
    /// port.
    pub fn rdma_addrs(&self) -> Result<Vec<std::net::SocketAddr>, ConfigError> {
        let mut out = Vec::new();
        for a in &self.rdma {
            if let Ok(sa) = a.parse::<std::net::SocketAddr>() {
                out.push(sa);
            } else if let Ok(ip) = a.parse::<std::net::IpAddr>() {
                out.push(std::net::SocketAddr::new(ip, 445));
                out.push(std::net::SocketAddr::new(ip, 5445));
            } else {
                return Err(ConfigError::Listen(a.clone()));
            }
        }
        Ok(out)
    }

    /// The admin view's address, if asked for: a non-loopback one only with a token file.
    pub fn admin_addr(&self) -> Result<Option<std::net::SocketAddr>, ConfigError> {
        let Some(a) = &self.admin else { return Ok(None) };
        let sa: std::net::SocketAddr = a.parse().map_err(|_| ConfigError::Admin(a.clone()))?;
        if !sa.ip().is_loopback() && self.admin_token_file.is_none() {
            return Err(ConfigError::AdminNeedsToken(sa));
        }
        Ok(Some(sa))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.shares.is_empty() {
            return Err(ConfigError::NoShares);
        }
        for s in &self.shares {
            if !s.path.is_dir() {
                return Err(ConfigError::ShareRoot { name: s.name.clone(), path: s.path.clone() });
            }
        }
        self.cipher_order()?;
        self.crypto_backend()?;
        self.map_reads()?;
        self.listen_addrs()?;
        self.rdma_addrs()?;
        self.admin_addr()?;
        self.throttle()?;
        self.check_limits()?;
        if let Some(p) = &self.poll {
            if !matches!(p.as_str(), "busy" | "adaptive" | "interrupt") {
                return Err(ConfigError::Poll(p.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_specs() {
        let s = ShareConfig::parse("data=/srv/data,encrypt-data").unwrap();
        assert_eq!(s.name, "data");
        assert!(s.encrypt_data && !s.read_only);
        assert!(ShareConfig::parse("data").is_err());
        assert!(ShareConfig::parse("=/x").is_err());
        assert!(ShareConfig::parse("a=/x,bogus").is_err());
        assert!(ShareConfig::parse("a\\b=/x").is_err());
        let s = ShareConfig::parse("p=/x,users=alice+Bob,read-only").unwrap();
        assert_eq!(s.users, ["alice", "Bob"]);
        assert!(s.read_only);
        assert!(ShareConfig::parse("p=/x").unwrap().users.is_empty());
        assert!(ShareConfig::parse("p=/x,users=").is_err());
        assert!(ShareConfig::parse("p=/x,users=alice++bob").is_err());
    }

    #[test]
    fn toml_file_parses_and_unknown_keys_are_refused() {
        let c: ServeConfig = toml::from_str(
            "listen = [\"127.0.0.1:4450\"]\nencrypt_data = true\nciphers = [\"aes-256-gcm\"]\n[[share]]\nname = \"d\"\npath = \"/tmp\"\n",
        )
        .unwrap();
        assert!(c.encrypt_data);
        assert_eq!(c.cipher_order().unwrap(), vec![Cipher::Aes256Gcm]);
        assert_eq!(c.shares[0].name, "d");
        assert!(toml::from_str::<ServeConfig>("nonsense = 1").is_err());
        assert!(ServeConfig { ciphers: vec!["rot13".into()], ..Default::default() }.cipher_order().is_err());
        let backend =
            |b: &str| ServeConfig { crypto_backend: Some(b.into()), ..Default::default() }.crypto_backend();
        assert_eq!(backend("ring").unwrap(), Backend::Ring);
        assert_eq!(backend("rustcrypto").unwrap(), Backend::RustCrypto);
        assert!(matches!(backend("openssl"), Err(ConfigError::CryptoBackend(_))));
    }

    #[test]
    fn limits_default_parse_and_refuse_zero() {
        let d = ServeConfig::default();
        assert_eq!(
            (d.max_connections(), d.max_connections_per_source()),
            (engine::DEFAULT_MAX_CONNECTIONS, engine::DEFAULT_MAX_CONNECTIONS_PER_SOURCE)
        );
        assert_eq!(d.max_sessions_per_connection(), DEFAULT_MAX_SESSIONS_PER_CONNECTION);
        assert_eq!(d.max_opens_per_session(), DEFAULT_MAX_OPENS_PER_SESSION);
        let c: ServeConfig = toml::from_str(
            "max_connections = 10\nmax_connections_per_source = 3\nmax_sessions_per_connection = 2\nmax_opens_per_session = 5\n",
        )
        .unwrap();
        assert_eq!(
            (
                c.max_connections(),
                c.max_connections_per_source(),
                c.max_sessions_per_connection(),
                c.max_opens_per_session()
            ),
            (10, 3, 2, 5)
        );
        let zero = ServeConfig { max_opens_per_session: Some(0), ..Default::default() };
        assert!(matches!(zero.check_limits(), Err(ConfigError::Limit { name: "max_opens_per_session" })));
        let few = ServeConfig { max_credits: Some(MIN_CREDITS - 1), ..Default::default() };
        assert!(matches!(few.check_limits(), Err(ConfigError::Credits(127))));
        let enough = ServeConfig { max_credits: Some(MIN_CREDITS), ..Default::default() };
        assert!(enough.check_limits().is_ok());
        let small = ServeConfig { memory_budget_mib: Some(MIN_MEMORY_BUDGET_MIB - 1), ..Default::default() };
        assert!(matches!(small.check_limits(), Err(ConfigError::MemoryBudget(63))));
        let d = default_memory_budget();
        assert!((256 << 20..=16 << 30).contains(&d), "default budget {d}");
    }

    #[test]
    fn rdma_addresses_without_a_port_listen_on_445_and_5445() {
        let c = ServeConfig { rdma: vec!["10.9.0.1".into(), "10.9.0.1:7445".into()], ..Default::default() };
        let want: Vec<std::net::SocketAddr> =
            ["10.9.0.1:445", "10.9.0.1:5445", "10.9.0.1:7445"].iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(c.rdma_addrs().unwrap(), want);
        assert!(ServeConfig { rdma: vec!["rxe0".into()], ..Default::default() }.rdma_addrs().is_err());
    }

    #[test]
    fn admin_off_the_loopback_needs_a_token_file() {
        let c: ServeConfig = toml::from_str("admin = \"127.0.0.1:9445\"\n").unwrap();
        assert_eq!(c.admin_addr().unwrap(), Some("127.0.0.1:9445".parse().unwrap()));
        let open = ServeConfig { admin: Some("0.0.0.0:9445".into()), ..Default::default() };
        assert!(matches!(open.admin_addr(), Err(ConfigError::AdminNeedsToken(_))));
        let tok = ServeConfig { admin_token_file: Some("/etc/smbdx/admin.token".into()), ..open };
        assert!(tok.admin_addr().unwrap().is_some());
        assert!(ServeConfig { admin: Some("nowhere".into()), ..Default::default() }.admin_addr().is_err());
        assert_eq!(ServeConfig::default().admin_addr().unwrap(), None);
    }
}
