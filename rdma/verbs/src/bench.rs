//! A raw RDMA WRITE/READ throughput run through the provider interface, shaped like perftest's
//! `ib_write_bw`/`ib_read_bw` (one RC connection, one buffer of `size` bytes on each side,
//! `depth` work requests kept in flight, `iters` of them in all), so the two can run side by side
//! and be compared as a ratio. The client busy-polls as perftest does; the server only hands out
//! its key and sleeps until the client says it is done.

use crate::completion::{Completion, WcStatus};
use crate::error::{Error, Result};
use crate::provider::{poll_n, Endpoint, EndpointOptions, Listener, Provider};
use crate::work_request::{RecvWr, RemoteKey, SendOp, SendWr, Sge};
use crate::Access;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Which transfer to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchOp {
    /// The client RDMA-WRITEs into the server's buffer.
    Write,
    /// The client RDMA-READs from the server's buffer.
    Read,
}

impl BenchOp {
    /// The name `--op` takes.
    pub fn name(self) -> &'static str {
        match self {
            BenchOp::Write => "write",
            BenchOp::Read => "read",
        }
    }
}

impl std::str::FromStr for BenchOp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "write" => Ok(Self::Write),
            "read" => Ok(Self::Read),
            _ => Err(format!("unknown op {s:?} (write or read)")),
        }
    }
}

/// Sizes of one run.
#[derive(Clone, Copy, Debug)]
pub struct BenchParams {
    pub op: BenchOp,
    pub size: usize,
    pub iters: u64,
    pub depth: u32,
}

/// What the client measured.
#[derive(Clone, Copy, Debug)]
pub struct BenchResult {
    pub bytes: u64,
    /// From the first post to the last completion.
    pub elapsed: Duration,
}

impl BenchResult {
    /// MiB/s (2^20 bytes per second, the unit perftest's `MB/sec` columns use).
    pub fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / (1u64 << 20) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The server's result line, as `bench/rdma_vs_perftest.sh` parses it.
pub fn server_line(p: &BenchParams, cpu_s: f64) -> String {
    format!("rdma-bench-server op={} size={} cpu_s={cpu_s:.3}", p.op.name(), p.size)
}

/// The client's result line, as `bench/rdma_vs_perftest.sh` parses it.
pub fn client_line(p: &BenchParams, r: &BenchResult, cpu_s: f64) -> String {
    format!(
        "rdma-bench op={} size={} iters={} depth={} MiB/s={:.2} seconds={:.3} cpu_s={cpu_s:.3}",
        p.op.name(),
        p.size,
        p.iters,
        p.depth,
        r.mib_per_s(),
        r.elapsed.as_secs_f64()
    )
}

fn options(p: &BenchParams) -> EndpointOptions {
    // RDMA READ depth as deep as the device allows, like ib_read_bw's default `--outs`.
    EndpointOptions {
        max_send_wr: p.depth.max(4),
        max_recv_wr: 4,
        responder_resources: 255,
        initiator_depth: 255,
    }
}

/// Serves one run: accepts a connection, advertises a `size`-byte buffer, waits for "DONE".
pub fn serve<P: Provider>(p: &P, addr: SocketAddr, params: &BenchParams, timeout: Duration) -> Result<()> {
    let mut listener = p.listen(addr, options(params))?;
    let mut ep = listener.accept(b"smbdx rdma bench", timeout)?;
    let data = ep.register(params.size, Access::LOCAL_WRITE | Access::REMOTE_WRITE | Access::REMOTE_READ)?;
    let ctl = ep.register(64, Access::LOCAL_WRITE)?;
    ep.post_recv(&[RecvWr { wr_id: 1, sges: &[Sge::new(ctl, 0, 64)] }])?;
    let key = ep.remote_key(data, 0, params.size)?;
    let out = ep.register(16, Access::NONE)?;
    ep.bytes(out)?.copy_from_slice(&key.to_bytes());
    ep.post_send(&[SendWr { wr_id: 2, op: SendOp::Send, sges: &[Sge::new(out, 0, 16)] }])?;
    let mut done = [Completion::default(); 2];
    // Sleeps in `wait` between completions: the server's CPU time is not spent polling.
    let n = poll_n(&mut ep, &mut done, 2, timeout)?;
    if n < 2 {
        return Err(Error::Timeout { after: timeout, what: "the bench client's DONE" });
    }
    ep.disconnect()?;
    Ok(())
}

/// Runs the client side: `iters` transfers of `size` bytes with `depth` in flight.
pub fn run<P: Provider>(
    p: &P,
    addr: SocketAddr,
    params: &BenchParams,
    timeout: Duration,
) -> Result<BenchResult> {
    let deadline = Instant::now() + timeout;
    let mut ep = loop {
        match p.connect(addr, options(params), b"smbdx rdma bench", timeout) {
            Ok(ep) => break ep,
            Err(Error::ConnectFailed { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => return Err(e),
        }
    };
    let ctl = ep.register(64, Access::LOCAL_WRITE)?;
    ep.post_recv(&[RecvWr { wr_id: u64::MAX, sges: &[Sge::new(ctl, 0, 64)] }])?;
    let mut c = [Completion::default(); 32];
    if poll_n(&mut ep, &mut c, 1, timeout)? < 1 || !c[0].status.is_success() {
        return Err(Error::Timeout { after: timeout, what: "the bench server's key" });
    }
    let key = RemoteKey::from_bytes(&ep.bytes(ctl)?[..16]).expect("16 bytes");
    let local = ep.register(params.size, Access::LOCAL_WRITE)?;
    let sges = [Sge::new(local, 0, params.size)];
    let op = match params.op {
        BenchOp::Write => SendOp::RdmaWrite { remote: key.at(0) },
        BenchOp::Read => SendOp::RdmaRead { remote: key.at(0) },
    };
    let wr = SendWr { wr_id: 0, op, sges: &sges };
    let start = Instant::now();
    let (mut posted, mut completed) = (0u64, 0u64);
    let first = (params.depth as u64).min(params.iters);
    let batch: Vec<SendWr> = (0..first).map(|i| SendWr { wr_id: i, ..wr }).collect();
    ep.post_send(&batch)?;
    posted += first;
    while completed < params.iters {
        let n = ep.poll(&mut c)?;
        for done in &c[..n] {
            if done.status != WcStatus::SUCCESS {
                return Err(Error::Verb {
                    verb: "bench transfer",
                    args: format!("wr {} of {}", done.wr_id, params.iters),
                    source: std::io::Error::other(format!("completed with {:?}", done.status)),
                });
            }
        }
        completed += n as u64;
        // Refill the window in one batch (perftest posts as completions free room, too).
        let room = (n as u64).min(params.iters - posted);
        if room > 0 {
            let more: [SendWr; 32] = std::array::from_fn(|i| SendWr { wr_id: posted + i as u64, ..wr });
            ep.post_send(&more[..room as usize])?;
            posted += room;
        }
        if n == 0 && Instant::now() > deadline {
            return Err(Error::Timeout { after: timeout, what: "bench completions" });
        }
    }
    let elapsed = start.elapsed();
    let msg = ep.register(8, Access::NONE)?;
    ep.bytes(msg)?.copy_from_slice(b"DONE\0\0\0\0");
    ep.post_send(&[SendWr { wr_id: u64::MAX - 1, op: SendOp::Send, sges: &[Sge::new(msg, 0, 4)] }])?;
    poll_n(&mut ep, &mut c, 1, timeout)?;
    Ok(BenchResult { bytes: params.size as u64 * params.iters, elapsed })
}

/// CPU seconds (user + system) this process has used so far.
pub fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split(' ').collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loopback::Fabric;

    #[test]
    fn result_lines_carry_the_fields_the_comparison_script_reads() {
        let p = BenchParams { op: BenchOp::Read, size: 65536, iters: 32, depth: 128 };
        let r = BenchResult { bytes: 2 << 20, elapsed: Duration::from_secs(2) };
        assert_eq!(
            client_line(&p, &r, 0.25),
            "rdma-bench op=read size=65536 iters=32 depth=128 MiB/s=1.00 seconds=2.000 cpu_s=0.250"
        );
        assert_eq!(server_line(&p, 1.5), "rdma-bench-server op=read size=65536 cpu_s=1.500");
        assert_eq!("write".parse::<BenchOp>().map(BenchOp::name), Ok("write"));
    }

    #[test]
    fn moves_every_byte_over_loopback() {
        let fabric = Fabric::new();
        let addr = "10.9.0.1:7000".parse().unwrap();
        for op in [BenchOp::Write, BenchOp::Read] {
            let params = BenchParams { op, size: 4096, iters: 100, depth: 8 };
            let f2 = fabric.clone();
            let server = std::thread::spawn(move || serve(&f2, addr, &params, Duration::from_secs(5)));
            let r = run(&fabric, addr, &params, Duration::from_secs(5)).unwrap();
            server.join().unwrap().unwrap();
            assert_eq!(r.bytes, 4096 * 100);
            assert!(r.mib_per_s() > 0.0);
        }
    }
}
