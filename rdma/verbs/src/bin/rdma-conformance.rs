//! The conformance suite (`rdma_verbs::conformance`) against a real device, one role per host:
//!
//! ```text
//! rdma-conformance --role server --addr 10.9.0.1:7471 --device rxe0
//! rdma-conformance --role client --addr 10.9.0.1:7471 --device rxe0
//! ```
//!
//! Prints one line per case and a `test result:` summary; exits 1 if any case failed.

use rdma_verbs::conformance::{self, Config};
use rdma_verbs::verbs::VerbsProvider;
use std::time::Duration;

struct Args {
    role: String,
    addr: std::net::SocketAddr,
    device: Option<String>,
    filter: String,
    timeout: u64,
}

fn parse() -> Result<Args, String> {
    let mut role = None;
    let mut addr = None;
    let mut device = None;
    let mut filter = String::new();
    let mut timeout = 60;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--role" => role = Some(val()?),
            "--addr" => addr = Some(val()?.parse().map_err(|e| format!("--addr: {e}"))?),
            "--device" => device = Some(val()?),
            "--filter" => filter = val()?,
            "--timeout" => timeout = val()?.parse().map_err(|e| format!("--timeout: {e}"))?,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    let role = role.ok_or("--role server|client is required")?;
    if role != "server" && role != "client" {
        return Err(format!("--role must be server or client, not {role}"));
    }
    Ok(Args { role, addr: addr.ok_or("--addr IP:PORT is required")?, device, filter, timeout })
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rdma-conformance: {e}\nusage: rdma-conformance --role server|client --addr IP:PORT [--device NAME] [--filter SUBSTRING] [--timeout SECONDS]");
            std::process::exit(2);
        }
    };
    let provider = VerbsProvider::new(args.device.clone());
    let cfg = Config {
        op_timeout: Duration::from_secs(args.timeout),
        connect_timeout: Duration::from_secs(args.timeout),
    };
    let outcomes = if args.role == "server" {
        match conformance::run_server(&provider, args.addr, &args.filter, &cfg) {
            Ok(o) => o,
            Err(e) => {
                println!("rdma-conformance server: listen on {}: {e}", args.addr);
                std::process::exit(1);
            }
        }
    } else {
        conformance::run_client(&provider, args.addr, &args.filter, &cfg)
    };
    let failed = conformance::report(&args.role, &outcomes);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
