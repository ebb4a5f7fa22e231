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
    /// Serve shares over SMB 3.1.1 (TCP).
    Serve(ServeArgs),
    /// Measure throughput next to an anchor measured in the same run.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// List RDMA devices with their attributes (needs the `rdma` feature).
    Devices,
    /// Raw RDMA WRITE/READ throughput against a peer running the other role (needs the `rdma` feature).
    BenchRdma(crate::bench_rdma::BenchRdmaArgs),
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// SMB 3.x seal/open/sign throughput per cipher and backend, against memcpy of the same size.
    Crypto(CryptoBenchArgs),
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
    /// Only this backend (aws-lc-rs or rustcrypto).
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
    /// NAME=PATH[,encrypt-data][,read-only] (repeatable).
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
    /// human (default) or json.
    #[arg(long, default_value = "human")]
    pub log_format: String,
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
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
