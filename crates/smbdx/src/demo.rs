//! `smbdx demo`: the whole engine on one machine with nothing installed. A server on loopback
//! with a temporary share, inside this process, benchmarked by the client: reads and writes of
//! 64 KiB and 1 MiB, unencrypted, AES-128-GCM and AES-256-GCM, beside raw loopback TCP measured in
//! the same run. Then where to go next.

use std::time::Duration;

use client::{Cipher, ClientOptions};
use server::config::{ServeConfig, ShareConfig};
use server::serve::Server;

use crate::bench_smb::{self, Anchor, Target};
use crate::cli::{DemoArgs, IoOp};
use crate::failure::Failure;

pub fn run(args: &DemoArgs) -> Result<(), Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::new(1, format!("demo: temporary directory: {e}")))?;
    let mut secret = [0u8; 12];
    getrandom::fill(&mut secret).map_err(|e| Failure::new(1, format!("demo: random password: {e}")))?;
    let password: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let cfg = ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        shares: vec![ShareConfig::parse(&format!("demo={}", dir.path().display()))
            .map_err(|e| Failure::new(1, format!("demo: share: {e}")))?],
        users: vec![format!("demo:{password}")],
        reactors: Some(1),
        ..Default::default()
    };
    let server =
        Server::start(&cfg).map_err(|e| Failure::new(1, format!("demo: starting the server: {e}")))?;
    let addr = server.local_addrs()[0];
    println!("smbdx demo: server on {addr} (in this process), share \"demo\" in {}", dir.path().display());
    let secs = args.seconds.max(0.2);
    let anchor = Anchor::Once(bench_smb::measure_anchor(Duration::from_secs_f64(secs))?);
    let t = Target {
        addr,
        user: "demo".into(),
        password,
        share: "demo".into(),
        path: "demo.dat".into(),
        file_size: args.file_size as u64,
        base: ClientOptions::default(),
        server_pid: None,
        in_process_server: true,
    };
    bench_smb::print_header(&format!("smb://{addr}/demo"), &t, anchor);
    let configs = bench_smb::plan(
        &[None, Some(Cipher::Aes128Gcm), Some(Cipher::Aes256Gcm)],
        &[IoOp::Read, IoOp::Write],
        &[64 << 10, 1 << 20],
        args.depth.max(1),
        1,
        Duration::from_secs_f64(secs),
    );
    let result = bench_smb::run_all(&t, &configs, anchor, false);
    let stopped = server.shutdown();
    result?;
    stopped.map_err(|e| Failure::new(1, format!("demo: stopping the server: {e}")))?;
    println!();
    println!("Where next:");
    println!("  serve a directory:   smbdx serve --listen 0.0.0.0:445 --share data=/srv/data,encrypt-data --user alice:secret");
    println!(
        "  copy files:          smbdx cp -r ./dir smb://alice@host/data/   (SMBDX_PASSWORD or a prompt)"
    );
    println!("  benchmark a server:  smbdx bench smb://alice@host/data --op read,write --size 64k,1m --cipher aes-128-gcm,none");
    println!("  crypto throughput:   smbdx bench crypto");
    println!("  RDMA (SoftRoCE VMs): scripts/rxe-vm.sh, see README \"RDMA\"");
    Ok(())
}
