//! Raw RDMA WRITE/READ throughput through rdma-verbs, to run beside perftest's
//! `ib_write_bw`/`ib_read_bw` with the same size, iterations and queue depth:
//!
//! ```text
//! rdma-bench --role server --addr 10.9.0.1:7472 --op write --size 65536 --iters 2000 --depth 128
//! rdma-bench --role client --addr 10.9.0.1:7472 --op write --size 65536 --iters 2000 --depth 128
//! ```
//!
//! The client prints `rdma-bench op=… size=… iters=… depth=… MiB/s=… cpu_s=…`; the server prints
//! its CPU seconds. Both exit non-zero on failure.

use rdma_verbs::bench::{self, BenchParams};
use rdma_verbs::verbs::VerbsProvider;
use std::time::Duration;

fn main() {
    let mut role = String::new();
    let mut addr = None;
    let mut device = None;
    let mut params = BenchParams { op: bench::BenchOp::Write, size: 65536, iters: 1000, depth: 128 };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().unwrap_or_else(|| die(&format!("{a} needs a value")));
        match a.as_str() {
            "--role" => role = v,
            "--addr" => addr = Some(v.parse().unwrap_or_else(|e| die(&format!("--addr: {e}")))),
            "--device" => device = Some(v),
            "--op" => params.op = v.parse().unwrap_or_else(|e: String| die(&e)),
            "--size" => params.size = v.parse().unwrap_or_else(|e| die(&format!("--size: {e}"))),
            "--iters" => params.iters = v.parse().unwrap_or_else(|e| die(&format!("--iters: {e}"))),
            "--depth" => params.depth = v.parse().unwrap_or_else(|e| die(&format!("--depth: {e}"))),
            _ => die(&format!("unknown argument {a}")),
        }
    }
    let addr = addr.unwrap_or_else(|| die("--addr IP:PORT is required"));
    let p = VerbsProvider::new(device);
    let timeout = Duration::from_secs(120);
    let cpu0 = bench::cpu_seconds();
    match role.as_str() {
        "server" => match bench::serve(&p, addr, &params, timeout) {
            Ok(()) => println!("{}", bench::server_line(&params, bench::cpu_seconds() - cpu0)),
            Err(e) => die(&e.to_string()),
        },
        "client" => match bench::run(&p, addr, &params, timeout) {
            Ok(r) => println!("{}", bench::client_line(&params, &r, bench::cpu_seconds() - cpu0)),
            Err(e) => die(&e.to_string()),
        },
        _ => die("--role server|client is required"),
    }
}

fn die(msg: &str) -> ! {
    eprintln!("rdma-bench: {msg}");
    std::process::exit(1);
}
