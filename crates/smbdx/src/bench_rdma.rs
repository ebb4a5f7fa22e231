//! `smbdx bench-rdma`: raw RDMA WRITE/READ throughput through rdma-verbs, shaped like perftest's
//! `ib_write_bw`/`ib_read_bw` so both can run in the same place with the same size, iterations and
//! queue depth (`bench/rdma_vs_perftest.sh` does that in SoftRoCE VMs and prints the ratio).

use clap::Args;

#[derive(Debug, Args)]
pub struct BenchRdmaArgs {
    /// server (hands out a buffer) or client (moves the data and reports).
    #[arg(long)]
    pub role: String,
    /// The server's RDMA address, e.g. 10.9.0.1:7472.
    #[arg(long)]
    pub addr: std::net::SocketAddr,
    /// write or read.
    #[arg(long, default_value = "write")]
    pub op: String,
    /// Bytes per work request.
    #[arg(long, default_value = "64k", value_parser = crate::cli::parse_size)]
    pub size: usize,
    /// Work requests in all.
    #[arg(long, default_value_t = 1000)]
    pub iters: u64,
    /// Work requests kept in flight (perftest's --tx-depth).
    #[arg(long, default_value_t = 128)]
    pub depth: u32,
    /// Only use this RDMA device (e.g. rxe0).
    #[arg(long)]
    pub device: Option<String>,
}

#[cfg(feature = "rdma")]
pub fn run(args: &BenchRdmaArgs) -> i32 {
    use rdma_verbs::bench::{self, BenchParams};
    let op = match args.op.parse() {
        Ok(op) => op,
        Err(e) => {
            eprintln!("smbdx bench-rdma: {e}");
            return 2;
        }
    };
    let params = BenchParams { op, size: args.size, iters: args.iters, depth: args.depth };
    let p = rdma_verbs::verbs::VerbsProvider::new(args.device.clone());
    let timeout = std::time::Duration::from_secs(120);
    let cpu0 = bench::cpu_seconds();
    let result = match args.role.as_str() {
        "server" => bench::serve(&p, args.addr, &params, timeout)
            .map(|()| println!("{}", bench::server_line(&params, bench::cpu_seconds() - cpu0))),
        "client" => bench::run(&p, args.addr, &params, timeout)
            .map(|r| println!("{}", bench::client_line(&params, &r, bench::cpu_seconds() - cpu0))),
        other => {
            eprintln!("smbdx bench-rdma: --role must be server or client, not {other}");
            return 2;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("smbdx bench-rdma: {e}");
            1
        }
    }
}

#[cfg(not(feature = "rdma"))]
pub fn run(_args: &BenchRdmaArgs) -> i32 {
    eprintln!("smbdx bench-rdma: this smbdx was built without RDMA support (cargo build --features rdma)");
    2
}
