//! `smbdx bench smb://…`: throughput, IOPS and latency of SMB reads and writes through the client
//! library, one row per configuration (cipher × operation × size), in a table like perftest's or
//! as JSON lines. Each row says what it measured: transport, cipher, sizes, queue depth, threads,
//! and CPU seconds per GB on every side this process can see.
//!
//! Each thread has its own connection and keeps `depth` requests in flight on one file, at
//! sequential offsets that wrap within the file. The file is written once per cipher before the
//! timed runs, so reads read data that is really there.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use client::{Bytes, Cipher, Client, ClientError, ClientOptions, OpenMode, Pending, ReadBuf};

use crate::cli::{BenchSmbArgs, IoOp};
use crate::cpu;
use crate::credentials;
use crate::failure::{Failure, USAGE};
use crate::remote;
use crate::tcp_anchor;

/// One configuration to measure.
#[derive(Debug, Clone)]
pub struct Config {
    pub cipher: Option<Cipher>,
    pub op: IoOp,
    pub size: usize,
    pub depth: usize,
    pub threads: usize,
    pub duration: Duration,
}

/// Where and as whom.
pub struct Target {
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
    pub share: String,
    /// The test file, share-relative.
    pub path: String,
    pub file_size: u64,
    pub base: ClientOptions,
    /// A local server process whose CPU time (with its children) is reported.
    pub server_pid: Option<u32>,
    /// The server runs inside this process (the demo): CPU is reported for both sides together.
    pub in_process_server: bool,
}

/// One measured configuration.
#[derive(Debug, Clone)]
pub struct Row {
    pub config: Config,
    /// tcp, or rdma (SMB Direct).
    pub transport: &'static str,
    pub bytes: u64,
    pub ios: u64,
    pub seconds: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub client_cpu_s_per_gb: f64,
    pub server_cpu_s_per_gb: Option<f64>,
}

impl Row {
    pub fn gbps(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e9
    }

    pub fn iops(&self) -> f64 {
        self.ios as f64 / self.seconds
    }

    pub fn cipher_name(&self) -> &'static str {
        self.config.cipher.map_or("none", Cipher::name)
    }
}

fn options(base: &ClientOptions, cipher: Option<Cipher>) -> ClientOptions {
    match cipher {
        // Encrypt whatever the share says: the row is labelled with the cipher it used.
        Some(c) => ClientOptions { ciphers: vec![c], require_privacy: true, ..base.clone() },
        None => ClientOptions { ciphers: Vec::new(), require_privacy: false, ..base.clone() },
    }
}

fn connect(t: &Target, cipher: Option<Cipher>) -> Result<Client, ClientError> {
    Client::connect(t.addr, &t.user, &t.password, options(&t.base, cipher))
}

/// Writes the test file (random bytes, `file_size` of them) so reads find real data.
pub fn prepare(t: &Target, cipher: Option<Cipher>) -> Result<(), ClientError> {
    let c = connect(t, cipher)?;
    let tree = c.tree(&t.share)?;
    let f = tree.open(&t.path, OpenMode::Write)?;
    let mut chunk = vec![0u8; 8 << 20];
    fill_noise(&mut chunk, 1);
    let mut off = 0u64;
    while off < t.file_size {
        let n = chunk.len().min((t.file_size - off) as usize);
        f.write_at(off, &chunk[..n])?;
        off += n as u64;
    }
    f.close()
}

/// Incompressible filler (xorshift64*): benchmark data need not be secret, only not all zeros.
fn fill_noise(buf: &mut [u8], seed: u64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// What one thread measured.
struct ThreadResult {
    bytes: u64,
    ios: u64,
    latencies_ns: Vec<u64>,
    /// When its measured part began and ended.
    span: Option<(Instant, Instant)>,
}

/// The time each thread runs its configuration before the measured part: a tenth of the measured
/// time, like the TCP anchor's warm-up.
fn warmup(duration: Duration) -> Duration {
    duration / 10
}

fn run_thread(
    t: &Target,
    cfg: &Config,
    index: usize,
    start_gate: &std::sync::Barrier,
) -> Result<ThreadResult, ClientError> {
    let opened = connect(t, cfg.cipher).and_then(|c| {
        let tree = c.tree(&t.share)?;
        let f = tree.open(&t.path, OpenMode::ReadWrite)?;
        Ok((c, tree, f))
    });
    let (_c, _tree, f) = match opened {
        Ok(o) => o,
        Err(e) => {
            start_gate.wait();
            return Err(e);
        }
    };
    let size = cfg.size as u64;
    let slots = (t.file_size / size).max(1);
    // Threads start in different parts of the file.
    let mut next_slot = (slots / cfg.threads as u64) * index as u64;
    let mut payload = vec![0u8; cfg.size];
    fill_noise(&mut payload, index as u64 + 2);
    // Shared with the connection, which seals each WRITE straight from it.
    let payload = Bytes::from(payload);
    let mut n = 0u64;
    let mut issue = |n: &mut u64| -> Result<(Instant, Issued), ClientError> {
        let offset = (next_slot % slots) * size;
        next_slot += 1;
        let write = match cfg.op {
            IoOp::Read => false,
            IoOp::Write => true,
            IoOp::Mixed => *n % 2 == 1,
        };
        *n += 1;
        let now = Instant::now();
        Ok(if write {
            (now, Issued::Write(f.start_write_shared(offset, payload.clone())?))
        } else {
            (now, Issued::Read(f.start_read(offset, cfg.size as u32)?))
        })
    };
    // Keeps `depth` requests in flight for `time`, then waits for them all.
    let mut run = |time: Duration, res: &mut ThreadResult| -> Result<(), ClientError> {
        let mut inflight: std::collections::VecDeque<(Instant, Issued)> = std::collections::VecDeque::new();
        let start = Instant::now();
        while start.elapsed() < time || !inflight.is_empty() {
            while inflight.len() < cfg.depth && start.elapsed() < time {
                inflight.push_back(issue(&mut n)?);
            }
            let Some((at, op)) = inflight.pop_front() else { break };
            let got = match op {
                Issued::Read(p) => p.wait()?.len(),
                Issued::Write(p) => p.wait()? as usize,
            };
            if got != cfg.size {
                return Err(ClientError::Unexpected { op: "benchmark I/O came back short" });
            }
            res.latencies_ns.push(at.elapsed().as_nanos() as u64);
            res.bytes += got as u64;
            res.ios += 1;
        }
        Ok(())
    };
    // Not counted: the first pass over data the previous row overwrote with O_DIRECT WRITEs (which
    // drop it from the server's page cache) reads from the disk, and the credit window and socket
    // buffers grow.
    let warmed = run(
        warmup(cfg.duration),
        &mut ThreadResult { bytes: 0, ios: 0, latencies_ns: Vec::new(), span: None },
    );
    // Every thread meets the others at the gate, failed or not, so none waits there forever.
    start_gate.wait();
    warmed?;
    let mut res = ThreadResult { bytes: 0, ios: 0, latencies_ns: Vec::with_capacity(1 << 16), span: None };
    let began = Instant::now();
    run(cfg.duration, &mut res)?;
    res.span = Some((began, Instant::now()));
    drop(f);
    Ok(res)
}

enum Issued {
    Read(Pending<ReadBuf>),
    Write(Pending<u32>),
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Measures one configuration.
pub fn measure(t: &Target, cfg: &Config) -> Result<Row, ClientError> {
    let gate = std::sync::Barrier::new(cfg.threads + 1);
    let mut cpu0 = 0.0;
    let mut srv0 = None;
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cfg.threads)
            .map(|i| {
                s.spawn({
                    let gate = &gate;
                    move || run_thread(t, cfg, i, gate)
                })
            })
            .collect();
        gate.wait();
        // Connected and warmed up: from here on it counts.
        let start = Instant::now();
        cpu0 = cpu::own_seconds();
        srv0 = t.server_pid.and_then(|p| cpu::seconds(p, true));
        let r: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(ClientError::Unexpected { op: "benchmark thread panicked" })))
            .collect();
        (r, start.elapsed())
    });
    let (results, elapsed) = results;
    if t.server_pid.is_some() {
        // A forked server (Samba) is reaped a moment after its client leaves: wait for its time.
        std::thread::sleep(Duration::from_millis(300));
    }
    let cpu = cpu::own_seconds() - cpu0;
    let srv = match (srv0, t.server_pid.and_then(|p| cpu::seconds(p, true))) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let mut lat = Vec::new();
    let (mut bytes, mut ios) = (0, 0);
    // The measured time: from the first thread's start to the last one's end (the main thread's own
    // clock, started after the gate, may start late on a busy machine).
    let mut span: Option<(Instant, Instant)> = None;
    for r in results {
        let r = r?;
        bytes += r.bytes;
        ios += r.ios;
        lat.extend(r.latencies_ns);
        if let Some((b, e)) = r.span {
            span = Some(span.map_or((b, e), |(b0, e0)| (b0.min(b), e0.max(e))));
        }
    }
    let elapsed = span.map_or(elapsed, |(b, e)| e - b);
    lat.sort_unstable();
    let gb = (bytes as f64 / 1e9).max(1e-9);
    Ok(Row {
        config: cfg.clone(),
        transport: match t.base.transport {
            client::Transport::Tcp => "tcp",
            client::Transport::Rdma(_) => "rdma",
        },
        bytes,
        ios,
        seconds: elapsed.as_secs_f64(),
        p50_us: percentile(&lat, 0.50),
        p99_us: percentile(&lat, 0.99),
        p999_us: percentile(&lat, 0.999),
        client_cpu_s_per_gb: cpu / gb,
        server_cpu_s_per_gb: srv.map(|s| s / gb),
    })
}

/// What each row is read against: raw loopback TCP (1 MiB writes, one stream) measured in the same
/// run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Anchor {
    /// None (the target is not on loopback, or `--no-anchor`).
    None,
    /// Measured once before the rows, in GB/s (`smbdx demo`: all its rows fit in a minute).
    Once(f64),
    /// Measured for this long just before and just after each row, which is read against their
    /// mean. A shared machine's speed drifts by tens of percent within a minute (the anchor alone
    /// measured 3.6-5.7 GB/s in consecutive runs here), so an anchor taken once, before rows that
    /// run for minutes, says little about the later ones.
    Bracket(Duration),
}

/// The anchor figures of one row, GB/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnchorReading {
    pub before: f64,
    /// `None` for [`Anchor::Once`].
    pub after: Option<f64>,
}

impl AnchorReading {
    /// What the row is compared with.
    pub fn gbps(&self) -> f64 {
        self.after.map_or(self.before, |a| (self.before + a) / 2.0)
    }
}

/// How long [`Anchor::Bracket`] measures on each side of a row: half the row's time, within
/// 0.2-2 s.
pub fn bracket_time(row: Duration) -> Duration {
    (row / 2).clamp(Duration::from_millis(200), Duration::from_secs(2))
}

/// Raw loopback TCP for `time`, in GB/s.
pub fn measure_anchor(time: Duration) -> Result<f64, Failure> {
    tcp_anchor::loopback_bytes_per_sec(time)
        .map(|bps| bps / 1e9)
        .map_err(|e| Failure::new(1, format!("TCP anchor: {e}")))
}

/// Prints the table header and the statement of what is measured.
pub fn print_header(target: &str, t: &Target, anchor: Anchor) {
    println!("# smbdx bench: SMB 3.1.1 over TCP to {target}, file {} ({} MiB)", t.path, t.file_size >> 20);
    match anchor {
        Anchor::Once(a) => println!(
            "# anchor: raw loopback TCP {a:.2} GB/s, measured in this run (1 MiB writes, one stream)"
        ),
        Anchor::Bracket(time) => println!(
            "# anchor: raw loopback TCP (1 MiB writes, one stream) for {:.1}s just before and just after \
             each row; \"vs TCP\" is the row against their mean",
            time.as_secs_f64()
        ),
        Anchor::None => println!("# anchor: none (raw TCP can only be measured here for a loopback target)"),
    }
    let cpu = if t.in_process_server {
        "CPU-s/GB: client and server together (one process)"
    } else if t.server_pid.is_some() {
        "CPU-s/GB: client (this process) and server (--server-pid and its children)"
    } else {
        "CPU-s/GB: client (this process); the server's is not visible from here"
    };
    println!("# {cpu}; each row measured after a warm-up of a tenth of its duration, not counted");
    println!(
        "{:<9} {:<11} {:<5} {:>7} {:>5} {:>3} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7}",
        "transport",
        "cipher",
        "op",
        "size",
        "depth",
        "thr",
        "GB/s",
        "IOPS",
        "p50 us",
        "p99 us",
        "p999 us",
        "cli s/GB",
        "srv s/GB",
        "TCP GB/s",
        "vs TCP"
    );
}

pub fn size_label(size: usize) -> String {
    if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
        format!("{}m", size >> 20)
    } else if size >= 1 << 10 && size.is_multiple_of(1 << 10) {
        format!("{}k", size >> 10)
    } else {
        size.to_string()
    }
}

/// A row as `--json` prints it (and `--plot` draws it).
pub fn row_json(r: &Row, anchor: Option<AnchorReading>) -> serde_json::Value {
    let c = &r.config;
    let anchor_gbps = anchor.map(|a| a.gbps());
    let vs_tcp = anchor_gbps.map(|a| r.gbps() / a);
    serde_json::json!({
            "transport": r.transport,
            "cipher": r.cipher_name(),
            "op": c.op.name(),
            "size": c.size,
            "depth": c.depth,
            "threads": c.threads,
            "seconds": r.seconds,
            "bytes": r.bytes,
            "ios": r.ios,
            "gbps": r.gbps(),
            "iops": r.iops(),
            "p50_us": r.p50_us,
            "p99_us": r.p99_us,
            "p999_us": r.p999_us,
            "client_cpu_s_per_gb": r.client_cpu_s_per_gb,
            "server_cpu_s_per_gb": r.server_cpu_s_per_gb,
            "anchor_tcp_gbps": anchor_gbps,
            "anchor_tcp_gbps_before": anchor.map(|a| a.before),
            "anchor_tcp_gbps_after": anchor.and_then(|a| a.after),
            "vs_tcp": vs_tcp,
    })
}

pub fn print_row(r: &Row, anchor: Option<AnchorReading>, json: bool) {
    let c = &r.config;
    let anchor_gbps = anchor.map(|a| a.gbps());
    let vs_tcp = anchor_gbps.map(|a| r.gbps() / a);
    if json {
        println!("{}", row_json(r, anchor));
        return;
    }
    let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
    println!(
        "{:<9} {:<11} {:<5} {:>7} {:>5} {:>3} {:>8.3} {:>9.0} {:>8.0} {:>8.0} {:>8.0} {:>9.2} {:>9} {:>8} {:>7}",
        r.transport,
        r.cipher_name(),
        c.op.name(),
        size_label(c.size),
        c.depth,
        c.threads,
        r.gbps(),
        r.iops(),
        r.p50_us,
        r.p99_us,
        r.p999_us,
        r.client_cpu_s_per_gb,
        opt(r.server_cpu_s_per_gb, 2),
        opt(anchor_gbps, 2),
        opt(vs_tcp, 2),
    );
}

/// Runs every configuration against `t`: for each cipher, write the file, then each op and size.
/// Returns the rows as `--json` prints them.
pub fn run_all(
    t: &Target,
    configs: &[Config],
    anchor: Anchor,
    json: bool,
) -> Result<Vec<serde_json::Value>, Failure> {
    let mut rows = Vec::new();
    let mut prepared: Option<Option<Cipher>> = None;
    for cfg in configs {
        if prepared != Some(cfg.cipher) {
            prepare(t, cfg.cipher).map_err(|e| Failure::client("bench: writing the test file", e))?;
            prepared = Some(cfg.cipher);
        }
        let before = match anchor {
            Anchor::None => None,
            Anchor::Once(a) => Some(a),
            Anchor::Bracket(time) => Some(measure_anchor(time)?),
        };
        let row = measure(t, cfg).map_err(|e| {
            Failure::client(
                &format!(
                    "bench {} {} {}",
                    cfg.cipher.map_or("none", Cipher::name),
                    cfg.op.name(),
                    size_label(cfg.size)
                ),
                e,
            )
        })?;
        let after = match anchor {
            Anchor::Bracket(time) => Some(measure_anchor(time)?),
            _ => None,
        };
        let reading = before.map(|before| AnchorReading { before, after });
        print_row(&row, reading, json);
        rows.push(row_json(&row, reading));
    }
    Ok(rows)
}

/// The configurations of a run: every cipher × op × size.
pub fn plan(
    ciphers: &[Option<Cipher>],
    ops: &[IoOp],
    sizes: &[usize],
    depth: usize,
    threads: usize,
    duration: Duration,
) -> Vec<Config> {
    let mut v = Vec::new();
    for &cipher in ciphers {
        for &op in ops {
            for &size in sizes {
                v.push(Config { cipher, op, size, depth, threads, duration });
            }
        }
    }
    v
}

pub fn run(args: &BenchSmbArgs) -> Result<(), Failure> {
    let url = remote::parse_url(args.url.as_deref().unwrap_or_default())?;
    let base = remote::options(&args.conn)?;
    let creds =
        credentials::resolve(args.conn.user.as_deref(), args.conn.credentials_file.as_deref(), Some(&url))
            .map_err(|e| Failure::new(USAGE, e.to_string()))?;
    let addr = remote::target_addr(&url, &args.conn)?;
    let ciphers: Vec<Option<Cipher>> = if args.cipher.is_empty() {
        vec![Some(Cipher::Aes128Gcm)]
    } else {
        args.cipher
            .iter()
            .map(|n| match n.as_str() {
                "none" => Ok(None),
                n => {
                    Cipher::parse(n).map(Some).ok_or_else(|| Failure::usage(format!("unknown cipher {n:?}")))
                }
            })
            .collect::<Result<_, _>>()?
    };
    let max_size = args.size.iter().copied().max().unwrap_or(1 << 20);
    if max_size > 8 << 20 || args.size.contains(&0) {
        return Err(Failure::usage("--size must be between 1 byte and 8 MiB"));
    }
    let file_size =
        (args.file_size as u64).max(max_size as u64 * args.depth.max(1) as u64 * args.threads.max(1) as u64);
    let path = if url.path.is_empty() { "smbdx-bench.dat".to_string() } else { url.path.clone() };
    let t = Target {
        addr,
        user: creds.user.clone(),
        password: creds.password.to_string(),
        share: url.share.clone(),
        path,
        file_size,
        base,
        server_pid: args.server_pid,
        in_process_server: false,
    };
    let anchor = if addr.ip().is_loopback() && !args.no_anchor {
        Anchor::Bracket(bracket_time(Duration::from_secs_f64(args.duration)))
    } else {
        Anchor::None
    };
    if !args.json {
        print_header(&url.to_string(), &t, anchor);
    }
    let configs = plan(
        &ciphers,
        &args.op,
        &args.size,
        args.depth.max(1),
        args.threads.max(1),
        Duration::from_secs_f64(args.duration),
    );
    let rows = run_all(&t, &configs, anchor, args.json)?;
    if let Some(path) = &args.plot {
        crate::plot::write(path, &rows)?;
    }
    if !args.keep {
        if let Ok(c) = connect(&t, ciphers[0]) {
            let _ = c.tree(&t.share).and_then(|tree| tree.remove_file(&t.path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_from_sorted_latencies() {
        let v: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 0.5), 501.0);
        assert_eq!(percentile(&v, 0.99), 990.0);
        assert_eq!(percentile(&v, 0.999), 999.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn a_bracketed_row_is_read_against_the_mean_of_its_two_anchors() {
        assert_eq!(AnchorReading { before: 4.0, after: Some(6.0) }.gbps(), 5.0);
        assert_eq!(AnchorReading { before: 4.0, after: None }.gbps(), 4.0);
        assert_eq!(bracket_time(Duration::from_secs(10)), Duration::from_secs(2));
        assert_eq!(bracket_time(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(bracket_time(Duration::from_millis(100)), Duration::from_millis(200));
    }

    #[test]
    fn sizes_label_like_the_flags() {
        assert_eq!(size_label(65536), "64k");
        assert_eq!(size_label(1 << 20), "1m");
        assert_eq!(size_label(1000), "1000");
    }

    #[test]
    fn the_plan_is_the_cross_product() {
        let p = plan(
            &[None, Some(Cipher::Aes128Gcm)],
            &[IoOp::Read, IoOp::Write],
            &[4096, 65536],
            4,
            1,
            Duration::from_secs(1),
        );
        assert_eq!(p.len(), 8);
        assert!(p.iter().all(|c| c.depth == 4));
    }
}
