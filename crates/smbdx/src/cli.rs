//! Command-line grammar. Each subcommand's options live beside its name so `--help` reads like a manual.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "smbdx", version, about = "SMB 3.1.1 + SMB Direct (RDMA) data-plane engine")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a server on loopback in this process and benchmark it (read/write, 64 KiB and 1 MiB,
    /// unencrypted, AES-128-GCM, AES-256-GCM) beside raw loopback TCP. Needs nothing installed.
    Demo(DemoArgs),
    /// Serve shares over SMB 3.1.1 (TCP).
    Serve(ServeArgs),
    /// List a remote directory: smbdx ls smb://[user@]host[:port]/share[/path]
    Ls(PathArgs),
    /// Show a remote file's or directory's attributes.
    Stat(PathArgs),
    /// Create a remote directory.
    Mkdir(PathArgs),
    /// Remove a remote file (-d: an empty directory, -r: a whole tree).
    Rm(RmArgs),
    /// Rename or move within one share: smbdx mv smb://host/share/a smb://host/share/b (or a bare path b).
    Mv(MvArgs),
    /// Copy between local and remote, either direction: smbdx cp [-r] SRC DST
    Cp(CpArgs),
    /// Measure throughput next to an anchor measured in the same run: `smbdx bench smb://host/share`
    /// for SMB, `smbdx bench crypto` for the ciphers.
    Bench(BenchArgs),
    /// List RDMA devices with their attributes (needs the `rdma` feature).
    Devices,
    /// Raw RDMA WRITE/READ throughput against a peer running the other role (needs the `rdma` feature).
    BenchRdma(crate::bench_rdma::BenchRdmaArgs),
    /// A running server's sessions, shares, settings and recent security events, from its admin
    /// view (`smbdx serve --admin`), like smbstatus.
    Status(StatusArgs),
    /// Change a share of a running server through its admin view.
    Share(ShareArgs),
    /// Draw saved `smbdx bench --json` rows as an SVG (what `bench --plot` draws).
    Plot(PlotArgs),
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A file of `smbdx bench --json` lines (other lines are skipped).
    pub rows: std::path::PathBuf,
    /// The SVG to write.
    pub svg: std::path::PathBuf,
}

/// Where a running server's admin view is (`smbdx serve --admin ADDR:PORT`).
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// The admin view's address.
    #[arg(long, default_value = "127.0.0.1:9445")]
    pub admin: String,
    /// A file holding the admin token (needed when the admin view is not on this host's loopback).
    #[arg(long)]
    pub token_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The API's JSON as it is.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(Debug, Args)]
pub struct ShareArgs {
    #[command(subcommand)]
    pub action: ShareAction,
}

#[derive(Debug, Subcommand)]
pub enum ShareAction {
    /// smbdx share set NAME --encrypt-data on|off (applies to new tree connects, like
    /// Set-SmbShare -EncryptData).
    Set(ShareSetArgs),
}

#[derive(Debug, Args)]
pub struct ShareSetArgs {
    /// The share's name.
    pub name: String,
    /// The share's EncryptData: on or off.
    #[arg(long, value_parser = ["on", "off"])]
    pub encrypt_data: String,
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// How to reach and log on to the server (every remote command takes these).
///
/// Exit codes: 0 success, 1 other failure, 2 bad usage, 3 cannot connect, 4 logon failure,
/// 5 access denied (e.g. the share requires encryption), 6 not found, 7 already exists or not
/// empty, 8 security refusal (privacy unavailable, tampered negotiation, bad signature),
/// 9 local file error.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// User, or DOMAIN\user (default: the URL's user, then SMBDX_USER). The password comes from
    /// SMBDX_PASSWORD, --credentials-file, or a prompt; it is never taken from the command line.
    #[arg(long, short = 'U')]
    pub user: Option<String>,
    /// smbclient-style file with `username =`, `password =` and `domain =` lines.
    #[arg(long, short = 'A')]
    pub credentials_file: Option<std::path::PathBuf>,
    /// Encrypt everything, whatever the server asks, and refuse a server that cannot
    /// (like New-SmbMapping -RequirePrivacy).
    #[arg(long)]
    pub require_privacy: bool,
    /// Ciphers to offer, best first (aes-128-gcm, aes-256-gcm, aes-128-ccm, aes-256-ccm), or none.
    #[arg(long, value_delimiter = ',')]
    pub ciphers: Vec<String>,
    /// The library that runs the ciphers: auto (default: the fastest on this CPU, measured at start-up;
    /// SMBDX_CRYPTO_BACKEND may force one), aws-lc-rs, ring or rustcrypto. `smbdx bench crypto` compares them.
    #[arg(long)]
    pub crypto_backend: Option<String>,
    /// Require signed answers on sessions that do not encrypt (on by default over TCP; over SMB
    /// Direct only when given, as signing then costs a MAC over every byte moved by RDMA).
    #[arg(long)]
    pub require_signing: bool,
    /// Signing algorithms to offer, best first (aes-gmac, aes-cmac, hmac-sha256); default aes-gmac,aes-cmac.
    #[arg(long, value_delimiter = ',')]
    pub signing: Vec<String>,
    /// Over SMB Direct, the SMB 3.1.1 RDMA transform: on (default: encrypted or signed data moves by
    /// RDMA, sealed or signed before placement, when the server agrees; else inline), off (such data
    /// rides inline), or required (refuse a server without it).
    #[arg(long, value_name = "on|off|required", default_value = "on")]
    pub rdma_transform: String,
    /// Seconds to wait for any one answer.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// How the client's reactor waits: busy, adaptive (default) or interrupt.
    #[arg(long)]
    pub poll: Option<String>,
    /// Adaptive polling: microseconds of polling after the last activity before blocking (default 50).
    #[arg(long, value_name = "US")]
    pub poll_spin_us: Option<u64>,
    /// tcp (default) or rdma (SMB Direct: READs and WRITEs of 4 KiB and more move by RDMA, through
    /// the RDMA transform where the data must be encrypted or signed; needs the `rdma` feature and
    /// an RDMA device).
    #[arg(long, default_value = "tcp")]
    pub transport: String,
    /// The server's SMB Direct port (default: the URL's port, else 445).
    #[arg(long)]
    pub rdma_port: Option<u16>,
    /// The local RDMA device to use (default: the one the server's address routes through).
    #[arg(long)]
    pub rdma_device: Option<String>,
}

#[derive(Debug, Args)]
pub struct PathArgs {
    /// smb://[user@]host[:port]/share[/path]
    pub url: String,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    pub url: String,
    /// Remove a directory and everything in it.
    #[arg(short, long)]
    pub recursive: bool,
    /// Remove an empty directory.
    #[arg(short, long)]
    pub dir: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct MvArgs {
    pub from: String,
    /// A URL on the same share, or a share-relative path.
    pub to: String,
    /// Replace the target if it exists.
    #[arg(short, long)]
    pub force: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// A local path or an smb:// URL.
    pub src: String,
    /// A local path or an smb:// URL (the other kind than SRC).
    pub dst: String,
    /// Copy directories and everything in them.
    #[arg(short, long)]
    pub recursive: bool,
    /// No progress bar (it is shown only on a terminal anyway).
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seconds per measured configuration (12 of them).
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Requests in flight.
    #[arg(long, default_value_t = 8)]
    pub depth: usize,
    /// Size of the test file.
    #[arg(long, default_value = "256m", value_parser = parse_size)]
    pub file_size: usize,
}

/// What a benchmark row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IoOp {
    Read,
    Write,
    /// Reads and writes alternating.
    Mixed,
}

impl IoOp {
    pub fn name(self) -> &'static str {
        match self {
            IoOp::Read => "read",
            IoOp::Write => "write",
            IoOp::Mixed => "mixed",
        }
    }
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: Option<BenchWhat>,
    #[command(flatten)]
    pub smb: BenchSmbArgs,
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// SMB 3.x seal/open/sign throughput per cipher and backend, against memcpy of the same size.
    Crypto(CryptoBenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchSmbArgs {
    /// smb://[user@]host[:port]/share[/file] (default file: smbdx-bench.dat, removed afterwards).
    pub url: Option<String>,
    /// Operations, e.g. read,write.
    #[arg(long, value_delimiter = ',', default_value = "read,write")]
    pub op: Vec<IoOp>,
    /// I/O sizes, 4k..8m.
    #[arg(long, value_delimiter = ',', default_value = "64k,1m", value_parser = parse_size)]
    pub size: Vec<usize>,
    /// Requests in flight per thread.
    #[arg(long, default_value_t = 8)]
    pub depth: usize,
    /// Threads, each with its own connection.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seconds per configuration.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Ciphers to measure, one row set each: aes-128-gcm, aes-256-gcm, aes-128-ccm, aes-256-ccm, none.
    #[arg(long, value_delimiter = ',')]
    pub cipher: Vec<String>,
    /// Size of the test file (written before the runs).
    #[arg(long, default_value = "1g", value_parser = parse_size)]
    pub file_size: usize,
    /// One JSON object per configuration instead of the table.
    #[arg(long)]
    pub json: bool,
    /// A server process on this host whose CPU time (with its children) is reported per GB.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Skip the raw loopback TCP anchor.
    #[arg(long)]
    pub no_anchor: bool,
    /// Keep the test file afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Also draw the rows into this SVG file: throughput by size, a line per transport × cipher ×
    /// op, the anchor as a reference line.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct CryptoBenchArgs {
    /// One JSON object per row (keys: op, cipher, backend, size, gbps, memcpy_ratio).
    #[arg(long)]
    pub json: bool,
    /// Message sizes, e.g. 4k,64k,1m.
    #[arg(long, value_delimiter = ',', default_value = "4k,64k,1m", value_parser = parse_size)]
    pub sizes: Vec<usize>,
    /// Only these ciphers (aes-128-gcm, aes-256-gcm, aes-128-ccm, aes-256-ccm).
    #[arg(long, value_delimiter = ',')]
    pub ciphers: Vec<String>,
    /// Only this backend (auto, aws-lc-rs, ring or rustcrypto).
    #[arg(long)]
    pub backend: Option<String>,
    /// Length of one timing window in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub window_ms: u64,
    /// Timing windows per figure; the best one is reported (the least disturbed by other processes).
    #[arg(long, default_value_t = 3)]
    pub windows: u32,
    /// Pin the measuring thread to this core (default: the last core).
    #[arg(long)]
    pub core: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Settings file (TOML); flags given here override it.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Address to listen on (repeatable). Default 0.0.0.0:445.
    #[arg(long)]
    pub listen: Vec<String>,
    /// NAME=PATH[,encrypt-data][,read-only][,users=alice+bob] (repeatable).
    #[arg(long)]
    pub share: Vec<String>,
    /// user:password or user:nthash:<32 hex> (repeatable). Passwords are hashed at start and never stored.
    #[arg(long)]
    pub user: Vec<String>,
    /// Server-wide EncryptData: every session must encrypt.
    #[arg(long)]
    pub encrypt_data: bool,
    /// Serve clients that cannot encrypt even where encryption is required (turns RejectUnencryptedAccess off).
    #[arg(long)]
    pub allow_unencrypted_access: bool,
    /// Cipher preference, e.g. aes-256-gcm,aes-128-gcm.
    #[arg(long, value_delimiter = ',')]
    pub ciphers: Vec<String>,
    /// How encrypted READs get their data: map (default: sealed straight from the file's page cache,
    /// one pass over the data) or copy (read into the response, then sealed there).
    #[arg(long)]
    pub read_path: Option<String>,
    /// The library that runs the ciphers: auto (default: the fastest on this CPU, measured at start-up;
    /// SMBDX_CRYPTO_BACKEND may force one), aws-lc-rs, ring or rustcrypto. `smbdx bench crypto` compares them.
    #[arg(long)]
    pub crypto_backend: Option<String>,
    /// Require signing on sessions that do not encrypt.
    #[arg(long)]
    pub require_signing: bool,
    /// Allow anonymous (null session) logons.
    #[arg(long)]
    pub allow_anonymous: bool,
    /// Reactor threads (default: one per core).
    #[arg(long)]
    pub reactors: Option<usize>,
    /// busy, adaptive (default) or interrupt.
    #[arg(long)]
    pub poll: Option<String>,
    /// Adaptive polling: how long a reactor keeps polling after its last activity before it blocks,
    /// in microseconds (default 50).
    #[arg(long, value_name = "US")]
    pub poll_spin_us: Option<u64>,
    /// SMB Direct listen address (repeatable): an IP of an RDMA device, alone (ports 445 and 5445) or
    /// with a port. Needs the `rdma` feature and an RDMA device.
    #[arg(long)]
    pub rdma: Vec<String>,
    /// The RDMA device to serve on (default: the one each --rdma address belongs to).
    #[arg(long)]
    pub rdma_device: Option<String>,
    /// The SMB 3.1.1 RDMA transform: on (default: encrypted and signed data moves by RDMA, sealed or
    /// signed before placement, with clients that offer it), off (such data rides inline), or
    /// required (SMB Direct clients that do not offer it are refused).
    #[arg(long, value_name = "on|off|required")]
    pub rdma_transform: Option<String>,
    /// Logon throttling by client address: after DELAY_AFTER failed logons (within 10 minutes) every
    /// logon from that address is answered DELAY_MS late; after LOCKOUT_AFTER it is refused for
    /// LOCKOUT_SECS; each step is logged as a security event (9001, 9002). Default 5,2000,30,300;
    /// `off` disables it.
    #[arg(long, value_name = "off|DELAY_AFTER,DELAY_MS,LOCKOUT_AFTER,LOCKOUT_SECS")]
    pub logon_throttle: Option<String>,
    /// Seconds a connection may take to establish a session before it is closed, however it
    /// trickles bytes meanwhile (default 30; 0: no limit).
    #[arg(long, value_name = "SECS")]
    pub logon_timeout: Option<u64>,
    /// Connections the server holds at once (TCP and SMB Direct); one more is closed at accept
    /// (default 4096).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Connections one client address holds at once; one more from it is closed at accept
    /// (default 256).
    #[arg(long, value_name = "N")]
    pub max_connections_per_source: Option<usize>,
    /// Sessions one connection holds at once; one more SESSION_SETUP is answered
    /// STATUS_REQUEST_NOT_ACCEPTED (default 64).
    #[arg(long, value_name = "N")]
    pub max_sessions_per_connection: Option<usize>,
    /// Files one session holds open at once; one more CREATE is answered
    /// STATUS_INSUFFICIENT_RESOURCES (default 4096).
    #[arg(long, value_name = "N")]
    pub max_opens_per_session: Option<usize>,
    /// Seconds a connection with no open file may go without a request before it is closed, its
    /// sessions with it (default 900, Windows' AutoDisconnect; 0: never).
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// Credits one connection may hold: the requests (64 KiB units of large ones) it may have
    /// outstanding (default 512).
    #[arg(long, value_name = "N")]
    pub max_credits: Option<u16>,
    /// MiB all connections' buffers may hold together (receive buffers, queued answers, payloads
    /// on their way to disk, buffers kept for reuse); while it is used up no connection starts a
    /// new message (default: a quarter of the machine's memory, 256 MiB to 16 GiB; at least 64).
    #[arg(long, value_name = "MIB")]
    pub memory_budget: Option<u64>,
    /// Seconds a connection may hold memory of a used-up budget without moving a byte (its peer
    /// reads none of its answers) before it is closed (default 30).
    #[arg(long, value_name = "SECS")]
    pub stall_timeout: Option<u64>,
    /// Helper threads per reactor that do large READs and WRITEs while the reactor goes on (default
    /// 4: a disk takes several writes at a time faster than one; 0: the reactor does them itself).
    #[arg(long, value_name = "N")]
    pub write_threads: Option<usize>,
    /// human (default) or json.
    #[arg(long, default_value = "human")]
    pub log_format: String,
    /// Serve the operator's view on ADDR:PORT: a status page at /, Prometheus /metrics and a JSON
    /// API (off by default). Loopback only, unless --admin-token-file is given.
    #[arg(long, value_name = "ADDR:PORT")]
    pub admin: Option<String>,
    /// A file holding a token (16 characters or more) that requests from other hosts than
    /// loopback must send as `Authorization: Bearer <token>`.
    #[arg(long, value_name = "PATH")]
    pub admin_token_file: Option<std::path::PathBuf>,
}

/// Parses sizes like `4096`, `4k`, `64KiB`, `1m`, `8MiB`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t.strip_suffix("kib").or_else(|| t.strip_suffix('k')) {
        (n, 1usize << 10)
    } else if let Some(n) = t.strip_suffix("mib").or_else(|| t.strip_suffix('m')) {
        (n, 1 << 20)
    } else if let Some(n) = t.strip_suffix("gib").or_else(|| t.strip_suffix('g')) {
        (n, 1 << 30)
    } else {
        (t.as_str(), 1)
    };
    let n: usize = num.trim().parse().map_err(|_| format!("not a size: {s}"))?;
    n.checked_mul(mult).ok_or_else(|| format!("size too large: {s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn bench_takes_a_url_or_the_crypto_subcommand() {
        let c = Cli::try_parse_from(["smbdx", "bench", "crypto", "--json"]).unwrap();
        assert!(matches!(c.command, Command::Bench(BenchArgs { what: Some(BenchWhat::Crypto(_)), .. })));
        let c =
            Cli::try_parse_from(["smbdx", "bench", "smb://h/s", "--op", "read", "--size", "4k,8m"]).unwrap();
        let Command::Bench(b) = c.command else { panic!() };
        assert!(b.what.is_none());
        assert_eq!(b.smb.url.as_deref(), Some("smb://h/s"));
        assert_eq!(b.smb.op, vec![IoOp::Read]);
        assert_eq!(b.smb.size, vec![4096, 8 << 20]);
    }

    #[test]
    fn remote_commands_take_connection_options() {
        let c =
            Cli::try_parse_from(["smbdx", "cp", "-r", "a", "smb://h/s/", "--require-privacy", "-U", "bob"])
                .unwrap();
        let Command::Cp(cp) = c.command else { panic!() };
        assert!(cp.recursive && cp.conn.require_privacy);
        assert_eq!(cp.conn.user.as_deref(), Some("bob"));
        assert!(Cli::try_parse_from(["smbdx", "ls"]).is_err(), "a URL is required");
    }

    #[test]
    fn status_and_share_set_parse() {
        let c = Cli::try_parse_from(["smbdx", "status", "--json", "--admin", "127.0.0.1:1"]).unwrap();
        let Command::Status(s) = c.command else { panic!() };
        assert!(s.json);
        assert_eq!(s.admin.admin, "127.0.0.1:1");
        let c = Cli::try_parse_from(["smbdx", "share", "set", "data", "--encrypt-data", "on"]).unwrap();
        let Command::Share(ShareArgs { action: ShareAction::Set(a) }) = c.command else { panic!() };
        assert_eq!((a.name.as_str(), a.encrypt_data.as_str()), ("data", "on"));
        assert!(Cli::try_parse_from(["smbdx", "share", "set", "data", "--encrypt-data", "maybe"]).is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
