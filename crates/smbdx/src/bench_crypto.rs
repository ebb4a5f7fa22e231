//! `smbdx bench crypto`: like `openssl speed`, one row per (operation, cipher, backend, size), each with
//! its ratio to memcpy of the same size measured in the same run on the same pinned core, plus two
//! anchors from the same run: AES-CTR of the same key size (aws-lc-rs), the ceiling for AES-GCM on
//! this CPU, and, per cipher, how the library `auto` chose compares with the fastest one measured
//! (`vs_fastest`; issue 18's goal is >= 0.95).
//!
//! Method: every figure is the best of `windows` timing windows of `window_ms` each (the best window is
//! the one least disturbed by other processes on a shared machine). Opening consumes its input, so the
//! open loop restores the ciphertext with a memcpy each time and the memcpy time measured for that size
//! is subtracted.

use crate::cli::CryptoBenchArgs;
use serde_json::json;
use smb_crypto::signing::{SigningAlgorithm, SigningKey};
use smb_crypto::{AeadKey, Backend, Cipher, NonceSequence};
use std::hint::black_box;
use std::time::{Duration, Instant};

struct Row {
    op: &'static str,
    cipher: String,
    backend: String,
    size: usize,
    secs_per_op: f64,
    /// The library `auto` runs for this cipher (seal/open rows only).
    chosen: bool,
    /// Chosen library's seal time over the fastest library's, per cipher (seal rows of the chosen).
    vs_fastest: Option<f64>,
}

pub fn run(args: &CryptoBenchArgs) -> i32 {
    let ciphers: Vec<Cipher> = if args.ciphers.is_empty() {
        Cipher::ALL.to_vec()
    } else {
        match args.ciphers.iter().map(|c| Cipher::parse(c).ok_or(c)).collect::<Result<Vec<_>, _>>() {
            Ok(v) => v,
            Err(c) => {
                eprintln!("smbdx bench crypto: unknown cipher {c:?} (aes-128-gcm, aes-256-gcm, aes-128-ccm, aes-256-ccm)");
                return 2;
            }
        }
    };
    let backends: Vec<Backend> = match &args.backend {
        None => Backend::ALL.to_vec(),
        Some(b) => match Backend::parse(b) {
            Some(b) => vec![b],
            None => {
                eprintln!("smbdx bench crypto: unknown backend {b:?} (auto, aws-lc-rs, ring, rustcrypto)");
                return 2;
            }
        },
    };
    if let Some(v) = smb_crypto::select::env_error() {
        eprintln!(
            "smbdx bench crypto: {}={v:?} names no backend (auto, aws-lc-rs, ring, rustcrypto)",
            smb_crypto::select::ENV
        );
        return 2;
    }
    // Resolved before any timing: the start-up measurement must not run inside a timed window.
    let selection = smb_crypto::select::selection();
    if args.sizes.iter().any(|&s| s == 0 || s > 1 << 30) {
        eprintln!("smbdx bench crypto: sizes must be between 1 byte and 1 GiB");
        return 2;
    }
    let core = pin(args.core);
    let window = Duration::from_millis(args.window_ms.max(1));
    let windows = args.windows.max(1);

    if !args.json {
        println!(
            "smbdx bench crypto: one core ({}), best of {windows} x {} ms per figure, memcpy measured in this run",
            core.map_or("not pinned".to_string(), |c| format!("pinned to cpu {c}")),
            window.as_millis()
        );
        println!(
            "{:<10} {:<12} {:<11} {:>8} {:>10} {:>9} {:>10}",
            "op", "cipher", "backend", "size", "GB/s", "x memcpy", "auto"
        );
    }
    for &size in &args.sizes {
        // Page-aligned like the engine's registered buffers.
        let mut src_store = PageAligned::new(size);
        let src = src_store.as_mut();
        src.iter_mut().enumerate().for_each(|(i, b)| *b = (i * 31 + 7) as u8);
        let src: &[u8] = src;
        let mut dst_store = PageAligned::new(size);
        let dst = dst_store.as_mut();
        let memcpy = best(window, windows, || {
            dst.copy_from_slice(black_box(src));
            black_box(&mut *dst);
        });
        let row = |op, cipher: &str, backend: &str, secs_per_op| Row {
            op,
            cipher: cipher.into(),
            backend: backend.into(),
            size,
            secs_per_op,
            chosen: false,
            vs_fastest: None,
        };
        let mut rows = vec![row("memcpy", "-", "-", memcpy)];
        let aad = [0u8; 32];
        for &cipher in &ciphers {
            let chosen = Backend::Auto.aead_impl(cipher);
            let first = rows.len();
            for &asked in &backends {
                // `auto` is measured under the library it resolves to.
                let backend = if asked == Backend::Auto { chosen } else { asked };
                // aws-lc-rs and ring have no CCM: never print RustCrypto's figure under their names.
                if backend.aead_impl(cipher) != backend {
                    continue;
                }
                let key = match AeadKey::new(backend, cipher, &[0x42u8; 32][..cipher.key_len()]) {
                    Ok(k) => k,
                    Err(e) => {
                        eprintln!("smbdx bench crypto: {cipher} on {backend}: {e}");
                        return 1;
                    }
                };
                let mut nonces = NonceSequence::new(0).expect("channel 0 is valid");
                let mut buf_store = PageAligned::new(size);
                let buf = buf_store.as_mut();
                buf.copy_from_slice(src);
                let seal = best(window, windows, || {
                    let n = nonces.next_nonce().expect("2^64 nonces outlast any benchmark");
                    black_box(key.seal_in_place(&n, &aad, black_box(&mut *buf)).expect("seal"));
                });
                let n = nonces.next_nonce().expect("nonce");
                let mut sealed = src.to_vec();
                let tag = key.seal_in_place(&n, &aad, &mut sealed).expect("seal");
                let mut work_store = PageAligned::new(size);
                let work = work_store.as_mut();
                let copy_open = best(window, windows, || {
                    work.copy_from_slice(&sealed);
                    key.open_in_place(&n, &aad, black_box(&mut *work), &tag)
                        .expect("open of our own ciphertext");
                });
                let open = (copy_open - memcpy).max(f64::MIN_POSITIVE);
                for (op, t) in [("seal", seal), ("open", open)] {
                    rows.push(Row { chosen: backend == chosen, ..row(op, cipher.name(), backend.name(), t) });
                }
            }
            compare_to_fastest(&mut rows[first..], "seal");
            if matches!(cipher, Cipher::Aes128Gcm | Cipher::Aes256Gcm) {
                match ctr_ceiling(cipher.key_len(), src, window, windows) {
                    Some(t) => {
                        rows.push(row("ctr", &format!("aes-{}-ctr", cipher.key_bits()), "aws-lc-rs", t))
                    }
                    None => eprintln!("smbdx bench crypto: AES-CTR on aws-lc-rs refused a key"),
                }
            }
        }
        for alg in SigningAlgorithm::ALL {
            let first = rows.len();
            let chosen =
                SigningKey::new(Backend::Auto, alg, &[0x24u8; 16]).expect("16-byte key").implementation();
            for &backend in &backends {
                let key = SigningKey::new(backend, alg, &[0x24u8; 16]).expect("16-byte key");
                // ring has GMAC only: its CMAC and HMAC are aws-lc-rs's, already measured.
                if backend != Backend::Auto && key.implementation() != backend {
                    continue;
                }
                // A PDU needs its 64-byte header; smaller sizes sign a header-sized message.
                let pdu = if size >= 64 { src } else { &[0u8; 64][..] };
                let t = best(window, windows, || {
                    black_box(key.mac(black_box(pdu)).expect("mac"));
                });
                let imp = key.implementation();
                rows.push(Row { chosen: imp == chosen, ..row("sign", alg.name(), imp.name(), t) });
            }
            compare_to_fastest(&mut rows[first..], "sign");
        }
        for r in &rows {
            let gbps = r.size as f64 / r.secs_per_op / 1e9;
            let ratio = memcpy / r.secs_per_op;
            if args.json {
                let mut o = json!({"op": r.op, "cipher": r.cipher, "backend": r.backend, "size": r.size,
                       "gbps": round3(gbps), "memcpy_ratio": round3(ratio), "chosen": r.chosen});
                if let Some(v) = r.vs_fastest {
                    o["vs_fastest"] = json!(round3(v));
                }
                println!("{o}");
            } else {
                let auto = match (r.chosen, r.vs_fastest) {
                    (true, Some(v)) => format!("* {v:.2}x"),
                    (true, None) => "*".into(),
                    _ => String::new(),
                };
                println!(
                    "{:<10} {:<12} {:<11} {:>8} {:>10.2} {:>9.3} {:>10}",
                    r.op,
                    r.cipher,
                    r.backend,
                    size_label(r.size),
                    gbps,
                    ratio,
                    auto
                );
            }
        }
    }
    if args.json {
        println!("{}", json!({"op": "auto", "choice": selection.describe()}));
    } else {
        println!("auto: {}", selection.describe());
        println!("'*' marks the library auto runs, with its speed over the fastest library's. ctr: AES-CTR alone (aws-lc-rs), the GCM ceiling unless a GCM row beats it (stitched GCM code can be wider than the library's CTR).");
        println!("aes-*-ccm: smbdx's one-pass CCM over RustCrypto's aes crate (aws-lc-rs and ring have no CCM). 'open' excludes the ciphertext restore (memcpy subtracted).");
    }
    0
}

/// Sets `vs_fastest` on the chosen library's `op` row among `rows` (one cipher or algorithm): the
/// fastest library's time over the chosen one's.
fn compare_to_fastest(rows: &mut [Row], op: &str) {
    let fastest = rows.iter().filter(|r| r.op == op).map(|r| r.secs_per_op).fold(f64::INFINITY, f64::min);
    if let Some(r) = rows.iter_mut().find(|r| r.op == op && r.chosen) {
        r.vs_fastest = Some(fastest / r.secs_per_op);
    }
}

/// Seconds per AES-CTR encryption of `src` in place (a copy of it) with a `key_len`-byte key on
/// aws-lc-rs: the keystream alone, what AES-GCM would cost without GHASH.
fn ctr_ceiling(key_len: usize, src: &[u8], window: Duration, windows: u32) -> Option<f64> {
    use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128, AES_256};
    let alg = if key_len == 16 { &AES_128 } else { &AES_256 };
    let key = EncryptingKey::ctr(UnboundCipherKey::new(alg, &[0x42u8; 32][..key_len]).ok()?).ok()?;
    let mut buf_store = PageAligned::new(src.len());
    let buf = buf_store.as_mut();
    buf.copy_from_slice(src);
    let mut failed = false;
    let t = best(window, windows, || {
        let iv = EncryptionContext::Iv128([7u8; 16].into());
        failed |= key.less_safe_encrypt(black_box(&mut *buf), iv).is_err();
    });
    (!failed).then_some(t)
}

/// Seconds per call of `f`: the best of `windows` windows, each calling `f` until `window` elapses.
fn best(window: Duration, windows: u32, mut f: impl FnMut()) -> f64 {
    f(); // warm caches and lazy CPU-feature dispatch outside the timing
    (0..windows)
        .map(|_| {
            let start = Instant::now();
            let mut n = 0u64;
            loop {
                for _ in 0..8 {
                    f();
                }
                n += 8;
                let e = start.elapsed();
                if e >= window {
                    break e.as_secs_f64() / n as f64;
                }
            }
        })
        .fold(f64::INFINITY, f64::min)
}

fn pin(core: Option<usize>) -> Option<usize> {
    let ids = core_affinity::get_core_ids()?;
    let id = match core {
        Some(c) => *ids.iter().find(|i| i.id == c)?,
        None => *ids.last()?,
    };
    core_affinity::set_for_current(id).then_some(id.id)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn size_label(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
        n => format!("{n}B"),
    }
}

/// A zeroed buffer whose first byte sits on a 4 KiB boundary (found inside a larger allocation, so no
/// unsafe allocation code is needed).
struct PageAligned {
    store: Vec<u8>,
    off: usize,
    len: usize,
}

impl PageAligned {
    fn new(len: usize) -> Self {
        let store = vec![0u8; len + 4096];
        let off = store.as_ptr().align_offset(4096);
        Self { store, off, len }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.store[self.off..self.off + self.len]
    }
}
