//! `smbdx demo`: the whole engine on one machine with nothing installed. A server on loopback
//! with a temporary share, inside this process, benchmarked by the client: reads and writes of
//! 64 KiB and 1 MiB, unencrypted, AES-128-GCM and AES-256-GCM, beside raw loopback TCP measured in
//! the same run. On a host with an RDMA device (an RNIC, or SoftRoCE), the same server also listens
//! for SMB Direct on that device's address and the unencrypted rows are measured over it too; on
//! any other host the demo says in one line how to get a device. (The in-process loopback RDMA
//! provider is never used here: it says nothing about RDMA performance.) Then where to go next.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use client::{Cipher, ClientOptions, Transport};
use engine::rdma::{RdmaProvider, RdmaSettings};
use server::config::{ServeConfig, ShareConfig};
use server::serve::Server;
use smb_wire::fsctl::{interface_capability::RDMA_CAPABLE, InterfaceAddress};

use crate::bench_smb::{self, Anchor, Target};
use crate::cli::{DemoArgs, IoOp};
use crate::failure::Failure;
use crate::rdma_provider;

/// The demo's SMB Direct port: not 445 or 5445, which a real server on the host may hold.
const DEMO_RDMA_PORT: u16 = 54445;

/// The provider and an IPv4 address of an interface an RDMA device sits on, or why there is none.
fn rdma_target() -> Result<(Arc<dyn RdmaProvider>, IpAddr), String> {
    let provider = rdma_provider::provider(None)?;
    let ip = server::netif::interfaces()
        .into_iter()
        .filter(|i| i.capability & RDMA_CAPABLE != 0)
        .find_map(|i| match i.address {
            InterfaceAddress::Ip(a) if a.is_ipv4() && !a.ip().is_loopback() => Some(a.ip()),
            _ => None,
        })
        .ok_or_else(|| "an RDMA device, but no IPv4 address on its network interface".to_string())?;
    Ok((provider, ip))
}

/// Whether the host's RDMA devices are software ones (rxe, siw: they name a `parent` netdev).
fn software_rdma() -> bool {
    std::fs::read_dir("/sys/class/infiniband")
        .map(|d| d.flatten().any(|e| e.path().join("parent").exists()))
        .unwrap_or(false)
}

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
    let mut rdma = rdma_target();
    let server = match &rdma {
        Ok((provider, ip)) => {
            let with = ServeConfig { rdma: vec![format!("{ip}:{DEMO_RDMA_PORT}")], ..cfg.clone() };
            match Server::start_with_rdma(&with, Some(provider.clone())) {
                Ok(s) => Ok(s),
                Err(e) => {
                    rdma = Err(format!("SMB Direct could not listen on {ip}:{DEMO_RDMA_PORT}: {e}"));
                    Server::start(&cfg)
                }
            }
        }
        Err(_) => Server::start(&cfg),
    }
    .map_err(|e| Failure::new(1, format!("demo: starting the server: {e}")))?;
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
    let mut result = bench_smb::run_all(&t, &configs, anchor, false).map(|_| ());
    println!();
    match (&rdma, server.local_rdma_addrs().first()) {
        (Ok((provider, _)), Some(&raddr)) if result.is_ok() => {
            let kind = if software_rdma() {
                "software RDMA (SoftRoCE): through the kernel's network stack, these rows say nothing about an RNIC"
            } else {
                "an RDMA device"
            };
            println!("# SMB Direct: the same server over {raddr}, {kind}; READ and WRITE data move by RDMA");
            println!("# (its own anchor, perftest on the same link: bench/smbdirect_vs_perftest.sh)");
            let over_rdma = Target {
                addr: raddr,
                base: ClientOptions {
                    transport: Transport::Rdma(RdmaSettings::new(provider.clone())),
                    require_signing: false,
                    ..ClientOptions::default()
                },
                ..t
            };
            let configs = bench_smb::plan(
                &[None],
                &[IoOp::Read, IoOp::Write],
                &[64 << 10, 1 << 20],
                args.depth.max(1),
                1,
                Duration::from_secs_f64(secs),
            );
            result = bench_smb::run_all(&over_rdma, &configs, anchor, false).map(|_| ());
        }
        (Err(why), _) => println!("# SMB Direct: not measured: {why}"),
        _ => {}
    }
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
    println!(
        "  SMB Direct:          smbdx serve --rdma <device IP> ...; smbdx cp/bench --transport rdma ..."
    );
    println!("  RDMA (SoftRoCE VMs): scripts/rxe-vm.sh, see README \"RDMA\"");
    Ok(())
}
