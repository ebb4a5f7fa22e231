//! `smbdx-hostile-peer`: runs the hostile SMB Direct cases against a server (see the library docs).
//! Prints `SMBD-CHECK ok|FAIL hostile: <case>: <what was seen>` per case (the VM scripts count
//! these lines) and exits 1 if any case failed.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Hostile SMB Direct cases against an smbdx server (tests only)")]
struct Args {
    /// The server's SMB Direct address.
    #[arg(long)]
    rdma: SocketAddr,
    /// The server's TCP address (adds the RDMA-channel-over-TCP case).
    #[arg(long)]
    tcp: Option<SocketAddr>,
    #[arg(long)]
    user: String,
    /// The password (default: $SMBDX_PASSWORD, so it stays off the command line).
    #[arg(long)]
    password: Option<String>,
    /// A share the user may write.
    #[arg(long)]
    share: String,
    /// A share with EncryptData (adds the encrypted-share case).
    #[arg(long)]
    encrypted_share: Option<String>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    #[cfg(feature = "rdma")]
    {
        run(a, rdma_verbs::verbs::VerbsProvider::default())
    }
    #[cfg(not(feature = "rdma"))]
    {
        let _ = a;
        eprintln!("smbdx-hostile-peer was built without RDMA support: build it with `--features rdma`");
        ExitCode::FAILURE
    }
}

#[cfg_attr(not(feature = "rdma"), allow(dead_code))]
fn run<P: rdma_verbs::DomainProvider>(a: Args, provider: P) -> ExitCode {
    let target = hostile_peer::Target {
        provider,
        rdma: a.rdma,
        tcp: a.tcp,
        user: a.user,
        password: a.password.or_else(|| std::env::var("SMBDX_PASSWORD").ok()).unwrap_or_default(),
        share: a.share,
        encrypted_share: a.encrypted_share,
        run: std::process::id().to_string(),
    };
    let mut failed = false;
    for o in hostile_peer::run_all(&target) {
        match o.result {
            Ok(seen) => println!("SMBD-CHECK ok hostile: {}: {seen}", o.name),
            Err(why) => {
                failed = true;
                println!("SMBD-CHECK FAIL hostile: {}: {why}", o.name);
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
