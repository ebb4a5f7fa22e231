//! Which library runs AES-GCM (each key size) and AES-GMAC on this CPU: [`Backend::Auto`] resolves
//! here.
//!
//! The fastest AES-GCM differs by CPU (issue 18: ring's VAES/AVX2 code beat aws-lc-rs by 1.5-2x on an
//! AMD EPYC without AVX-512; aws-lc-rs's AVX-512 code beat ring by 1.5x on an Intel CPU with it), and a
//! table keyed by CPU features would go stale with every library release. So the first use measures:
//! each library seals 64 KiB and 1 MiB messages (and MACs them, for GMAC, which is chosen on its own:
//! ring's GMAC ran at a fifteenth of aws-lc-rs's speed where its GCM was half as fast, `smbdx bench
//! crypto` on an AMD EPYC with AVX-512) in interleaved rounds, and the one with the lowest
//! median time wins, unless it beats aws-lc-rs (the incumbent, listed first) by less than
//! [`MARGIN`], which keeps a noisy machine from flipping between equals. It costs about 30 ms once per
//! process; servers and clients resolve it at start-up, before any reactor runs.
//!
//! `SMBDX_CRYPTO_BACKEND=aws-lc-rs|ring|rustcrypto` forces a library instead (`auto` or unset measures);
//! a configuration that names a library does not come here at all. AES-CCM always runs on the
//! `aes` crate ([`crate::ccm`]), the only CCM there is.

use crate::backend::Backend;
use crate::cipher::{AeadKey, Cipher};
use crate::nonce::NonceSequence;
use std::sync::OnceLock;
use std::time::Instant;

/// The environment variable that forces a library for [`Backend::Auto`].
pub const ENV: &str = "SMBDX_CRYPTO_BACKEND";
/// A challenger must be this much faster (median time) than the incumbent to be chosen.
pub const MARGIN: f64 = 0.03;
/// What is chosen: AES-GCM of each key size, then AES-128-GMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    Gcm(Cipher),
    Gmac,
}

impl Primitive {
    const CHOSEN: [Primitive; 3] =
        [Primitive::Gcm(Cipher::Aes128Gcm), Primitive::Gcm(Cipher::Aes256Gcm), Primitive::Gmac];

    pub fn name(self) -> &'static str {
        match self {
            Primitive::Gcm(c) => c.name(),
            Primitive::Gmac => "aes-gmac",
        }
    }
}
const ROUNDS: usize = 7;

/// One library's measured AES-GCM seal speed on this CPU (medians of the start-up rounds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    pub primitive: Primitive,
    pub backend: Backend,
    pub gbps: f64,
}

/// What [`Backend::Auto`] means in this process, and why.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The library `SMBDX_CRYPTO_BACKEND` named, when it named one.
    pub forced: Option<Backend>,
    /// The variable's value when it named no library (then the choice was measured).
    pub env_error: Option<String>,
    /// The start-up measurement (empty when forced).
    pub measured: Vec<Measurement>,
    chosen: [Backend; 3],
}

impl Selection {
    /// The library that seals `cipher` under [`Backend::Auto`].
    pub fn aead(&self, cipher: Cipher) -> Backend {
        match cipher {
            Cipher::Aes128Gcm => self.chosen[0],
            Cipher::Aes256Gcm => self.chosen[1],
            Cipher::Aes128Ccm | Cipher::Aes256Ccm => Backend::RustCrypto,
        }
    }

    /// The library that computes AES-128-GMAC signatures under [`Backend::Auto`].
    pub fn gmac(&self) -> Backend {
        self.chosen[2]
    }

    /// One line for logs and `smbdx bench crypto`: the choice per cipher and what it rests on.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (i, p) in Primitive::CHOSEN.iter().enumerate() {
            let why = match self.forced {
                Some(_) => format!("forced by {ENV}"),
                None => self
                    .measured
                    .iter()
                    .filter(|m| m.primitive == *p)
                    .map(|m| format!("{} {:.2} GB/s", m.backend, m.gbps))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            parts.push(format!("{}: {} ({why})", p.name(), self.chosen[i]));
        }
        parts.push("aes-*-ccm: rustcrypto (one-pass CCM on the aes crate, the only CCM)".into());
        parts.join("; ")
    }
}

/// The process-wide selection, made on first use.
pub fn selection() -> &'static Selection {
    static SELECTION: OnceLock<Selection> = OnceLock::new();
    SELECTION.get_or_init(|| choose(std::env::var(ENV).ok().as_deref(), measure))
}

/// Checks `SMBDX_CRYPTO_BACKEND` without resolving anything: the value when it names no backend, so
/// a server or CLI can refuse to start instead of silently measuring.
pub fn env_error() -> Option<String> {
    let v = std::env::var(ENV).ok()?;
    match Backend::parse(&v) {
        Some(_) => None,
        None => Some(v),
    }
}

/// How much of the data [`measure`] times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// One 64 KiB message: enough to drop a library far behind before the real rounds.
    Screen,
    /// [`ROUND_BYTES`].
    Full,
}

/// A library whose screening time is more than this many times the best one's is not timed further
/// (RustCrypto's GCM, 15x behind here: and in a debug build, whose generic code is not optimised,
/// its rounds took two seconds of every start).
const SCREEN_FACTOR: f64 = 3.0;

/// The choice, given the environment variable's value and a way to time a library's primitive
/// (seconds for `measure(backend, primitive, round)`, `None` when the library lacks it).
fn choose(env: Option<&str>, mut measure: impl FnMut(Backend, Primitive, Round) -> Option<f64>) -> Selection {
    let parsed = env.map(|v| (v, Backend::parse(v)));
    let forced = match parsed {
        Some((_, Some(b))) if b != Backend::Auto => Some(b),
        _ => None,
    };
    let env_error = match parsed {
        Some((v, None)) => Some(v.to_string()),
        _ => None,
    };
    if let Some(b) = forced {
        let chosen = [b.aead_impl(Cipher::Aes128Gcm), b.aead_impl(Cipher::Aes256Gcm), b.gmac_impl()];
        return Selection { forced, env_error, measured: Vec::new(), chosen };
    }
    let mut measured = Vec::new();
    let mut chosen = [Backend::AwsLc; 3];
    for (i, &primitive) in Primitive::CHOSEN.iter().enumerate() {
        let screen: Vec<Option<f64>> =
            Backend::ALL.iter().map(|&b| measure(b, primitive, Round::Screen)).collect();
        let fastest = screen.iter().flatten().copied().fold(f64::INFINITY, f64::min);
        // Interleaved: each round times every contender once, so a burst of load hits them alike.
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); Backend::ALL.len()];
        for _ in 0..ROUNDS {
            for (j, &b) in Backend::ALL.iter().enumerate() {
                if screen[j].is_some_and(|t| t <= fastest * SCREEN_FACTOR) {
                    if let Some(t) = measure(b, primitive, Round::Full) {
                        times[j].push(t);
                    }
                }
            }
        }
        let mut best: Option<(Backend, f64)> = None;
        for (j, &b) in Backend::ALL.iter().enumerate() {
            let Some(t) = median(&mut times[j]) else {
                // Out after screening: its screening figure, never chosen.
                if let Some(t) = screen[j] {
                    measured.push(Measurement { primitive, backend: b, gbps: SMALL as f64 / t / 1e9 });
                }
                continue;
            };
            measured.push(Measurement { primitive, backend: b, gbps: ROUND_BYTES as f64 / t / 1e9 });
            best = match best {
                Some((_, bt)) if t < bt * (1.0 - MARGIN) => Some((b, t)),
                None => Some((b, t)),
                keep => keep,
            };
        }
        if let Some((b, _)) = best {
            chosen[i] = b;
        }
    }
    Selection { forced: None, env_error, measured, chosen }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

const SMALL: usize = 64 << 10;
const LARGE: usize = 1 << 20;
const SMALL_PER_ROUND: usize = 8;
/// Bytes sealed per round: the record sizes SMB moves most (64 KiB) and the largest (1 MiB).
const ROUND_BYTES: usize = SMALL * SMALL_PER_ROUND + LARGE;

/// Seconds for `backend` running `primitive` over a `round`; `None` when the library cannot.
fn measure(backend: Backend, primitive: Primitive, round: Round) -> Option<f64> {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0x5a; LARGE]);
    }
    let (cipher, gmac) = match primitive {
        Primitive::Gcm(c) => (c, false),
        // GMAC is GCM over associated data alone: the same calls the signing key makes.
        Primitive::Gmac => (Cipher::Aes128Gcm, true),
    };
    if backend.aead_impl(cipher) != backend {
        return None;
    }
    let key = AeadKey::new(backend, cipher, &[0x42; 32][..cipher.key_len()]).ok()?;
    let mut nonces = NonceSequence::new(0).ok()?;
    BUF.with_borrow_mut(|buf| {
        let mut once = |len: usize| -> Option<()> {
            let n = nonces.next_nonce().ok()?;
            let r = if gmac {
                key.seal_in_place(&n, &buf[..len], &mut [])
            } else {
                key.seal_in_place(&n, &[], &mut buf[..len])
            };
            r.ok().map(|_| ())
        };
        // Warm the key and the library's CPU dispatch outside the timing.
        once(SMALL)?;
        let start = Instant::now();
        if round == Round::Screen {
            once(SMALL)?;
            return Some(start.elapsed().as_secs_f64());
        }
        for _ in 0..SMALL_PER_ROUND {
            once(SMALL)?;
        }
        once(LARGE)?;
        Some(start.elapsed().as_secs_f64())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(speeds: &'static [(Backend, f64)]) -> impl FnMut(Backend, Primitive, Round) -> Option<f64> {
        move |b, _, _| speeds.iter().find(|(x, _)| *x == b).map(|(_, t)| *t)
    }

    #[test]
    fn the_fastest_library_wins_by_more_than_the_margin() {
        let s =
            choose(None, fake(&[(Backend::AwsLc, 2.0), (Backend::Ring, 1.0), (Backend::RustCrypto, 4.0)]));
        assert_eq!(s.aead(Cipher::Aes128Gcm), Backend::Ring);
        assert_eq!(s.aead(Cipher::Aes256Gcm), Backend::Ring);
        assert_eq!(s.aead(Cipher::Aes128Ccm), Backend::RustCrypto);
        assert_eq!(s.gmac(), Backend::Ring);
        assert_eq!(s.measured.len(), 9);
        assert!(s.describe().contains("aes-128-gcm: ring"), "{}", s.describe());
    }

    #[test]
    fn a_library_far_behind_at_screening_is_not_timed_further() {
        let mut full_rounds = Vec::new();
        let s = choose(None, |b, _, round| {
            if round == Round::Full {
                full_rounds.push(b);
            }
            Some(if b == Backend::RustCrypto { 10.0 } else { 1.0 })
        });
        assert!(!full_rounds.contains(&Backend::RustCrypto), "{full_rounds:?}");
        assert_eq!(full_rounds.len(), 2 * ROUNDS * 3);
        assert_eq!(s.measured.len(), 9, "the screened-out library still has its figure");
        assert_eq!(s.aead(Cipher::Aes128Gcm), Backend::AwsLc);
    }

    #[test]
    fn a_near_tie_keeps_the_incumbent() {
        let s =
            choose(None, fake(&[(Backend::AwsLc, 1.0), (Backend::Ring, 0.99), (Backend::RustCrypto, 3.0)]));
        assert_eq!(s.aead(Cipher::Aes128Gcm), Backend::AwsLc);
    }

    #[test]
    fn the_environment_forces_a_library_without_measuring() {
        let s = choose(Some("ring"), |_, _, _| panic!("a forced choice measures nothing"));
        assert_eq!(s.forced, Some(Backend::Ring));
        assert_eq!(s.aead(Cipher::Aes256Gcm), Backend::Ring);
        assert_eq!(s.gmac(), Backend::Ring);
        let s = choose(Some("rustcrypto"), |_, _, _| panic!("a forced choice measures nothing"));
        assert_eq!(s.aead(Cipher::Aes128Gcm), Backend::RustCrypto);
    }

    #[test]
    fn a_bad_value_is_reported_and_the_choice_measured() {
        let s = choose(Some("openssl"), fake(&[(Backend::AwsLc, 1.0), (Backend::Ring, 2.0)]));
        assert_eq!(s.env_error.as_deref(), Some("openssl"));
        assert_eq!(s.forced, None);
        assert_eq!(s.aead(Cipher::Aes128Gcm), Backend::AwsLc);
        let s = choose(Some("auto"), fake(&[(Backend::AwsLc, 2.0), (Backend::Ring, 1.0)]));
        assert_eq!((s.forced, s.env_error), (None, None));
    }

    #[test]
    fn the_real_measurement_picks_a_library_that_seals() {
        let s = choose(None, measure);
        for c in Cipher::ALL {
            assert!(matches!(s.aead(c), Backend::AwsLc | Backend::Ring | Backend::RustCrypto));
        }
        assert!(matches!(s.gmac(), Backend::AwsLc | Backend::Ring | Backend::RustCrypto));
        assert_eq!(s.measured.len(), 9, "{s:?}");
        assert!(s.measured.iter().all(|m| m.gbps > 0.0), "{s:?}");
    }
}
