//! Seal, open and sign throughput per cipher, algorithm and backend at 4 KiB, 64 KiB and 1 MiB, with
//! memcpy of the same size in the same group as the reference: crypto can only be judged against
//! what moving the bytes costs on the same machine in the same run.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use smb_crypto::signing::{SigningAlgorithm, SigningKey};
use smb_crypto::{AeadKey, Backend, Cipher, NonceSequence};
use std::hint::black_box;

const SIZES: [usize; 3] = [4 << 10, 64 << 10, 1 << 20];

fn size_name(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{}MiB", n >> 20)
    } else {
        format!("{}KiB", n >> 10)
    }
}

/// The anchor of every group: copying the same bytes once.
fn bench_memcpy(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, src: &[u8]) {
    let mut dst = vec![0u8; src.len()];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(src));
            black_box(&mut dst);
        })
    });
}

fn aead(c: &mut Criterion) {
    for size in SIZES {
        let mut g = c.benchmark_group(format!("aead/{}", size_name(size)));
        g.throughput(Throughput::Bytes(size as u64));
        let src = vec![0x5Au8; size];
        bench_memcpy(&mut g, &src);
        let aad = [0u8; 32];
        for cipher in Cipher::ALL {
            for backend in Backend::ALL {
                // aws-lc-rs has no CCM: that pair would measure RustCrypto under the wrong name.
                if backend.aead_impl(cipher) != backend {
                    continue;
                }
                let key = AeadKey::new(backend, cipher, &[7u8; 32][..cipher.key_len()]).unwrap();
                let mut nonces = NonceSequence::new(0).unwrap();
                let mut buf = src.clone();
                g.bench_function(BenchmarkId::new(format!("seal/{cipher}"), backend), |b| {
                    b.iter(|| {
                        let n = nonces.next_nonce().unwrap();
                        black_box(key.seal_in_place(&n, &aad, black_box(&mut buf)).unwrap());
                    })
                });
                let n = nonces.next_nonce().unwrap();
                let mut sealed = src.clone();
                let tag = key.seal_in_place(&n, &aad, &mut sealed).unwrap();
                let mut work = sealed.clone();
                // Opening consumes its input, so each iteration restores it first: this figure is
                // open + memcpy, to be read against the memcpy line above.
                g.bench_function(BenchmarkId::new(format!("copy+open/{cipher}"), backend), |b| {
                    b.iter(|| {
                        work.copy_from_slice(&sealed);
                        key.open_in_place(&n, &aad, black_box(&mut work), &tag).unwrap();
                    })
                });
            }
        }
        g.finish();
    }
}

fn sign(c: &mut Criterion) {
    for size in SIZES {
        let mut g = c.benchmark_group(format!("sign/{}", size_name(size)));
        g.throughput(Throughput::Bytes(size as u64));
        let src = vec![0x5Au8; size];
        bench_memcpy(&mut g, &src);
        for alg in SigningAlgorithm::ALL {
            for backend in Backend::ALL {
                let key = SigningKey::new(backend, alg, &[9u8; 16]).unwrap();
                g.bench_function(BenchmarkId::new(alg.name(), backend), |b| {
                    b.iter(|| black_box(key.mac(black_box(&src)).unwrap()))
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, aead, sign);
criterion_main!(benches);
