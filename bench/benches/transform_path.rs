//! The engine ceiling of the RDMA transform (issue 13), labelled as such: an encrypted 1 MiB READ
//! through the whole server path on one core (decrypt the request, check it, read the file into a
//! registered lease, seal the lease in place by the transform, build and seal the response, hand
//! the lease to the transport) against the same backend's bare seal of 1 MiB and a memcpy, all in one
//! group of one run. The file is in memory (the kit's `MemFiles`: a page-cache hit) and the
//! transport places nothing (placement is the NIC's work, not the engine's): this is what the
//! engine adds on top of the cipher, not RDMA performance. Goal: the path at least 0.8x the bare seal.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use smb_crypto::{AeadKey, Backend, Cipher, NonceSequence};
use smb_session::{Flow, RdmaTransmit, ServerConfig, ServerConnection, Transmit};
use smb_wire::header::Command;
use smb_wire::negotiate_context::{CipherId, RdmaTransformId, SigningAlgorithm as WireSigning};
use smb_wire::read::ReadRequest;
use smb_wire::smbd::BufferDescriptorV1;
use smb_wire::Channel;
use std::hint::black_box;
use std::sync::Arc;
use testkit::data::pattern;
use testkit::raw_client::Offer;
use testkit::{descriptors, MemFiles, RawClient, TwoLegAuth};

const IO: usize = 1 << 20;
const FILE_LEN: usize = 16 << 20;

/// An SMB Direct transport that lends leases and places nothing: an RDMA WRITE gives its lease
/// straight back to the pool; messages are dropped once counted.
struct Placer {
    pool: iobuf::Pool,
    placed: u64,
    sent: u64,
}

impl Transmit for Placer {
    fn send(&mut self, msg: &[u8]) {
        self.sent += msg.len() as u64;
    }

    fn rdma(&mut self) -> Option<&mut dyn RdmaTransmit> {
        Some(self)
    }
}

impl RdmaTransmit for Placer {
    fn max_read_write(&self) -> u32 {
        8 << 20
    }

    fn max_message(&self) -> usize {
        1 << 20
    }

    fn lease(&mut self, len: usize) -> Option<iobuf::Lease> {
        self.pool.take(len).ok()
    }

    fn write(&mut self, data: iobuf::Lease, len: usize, _descs: &[BufferDescriptorV1]) {
        self.placed += len as u64;
        drop(black_box(data));
    }

    fn read(&mut self, _token: u64, _into: iobuf::Lease, _len: usize, _descs: &[BufferDescriptorV1]) {}

    fn send_parts_invalidating(&mut self, parts: &[&[u8]], _token: u32) {
        self.sent += parts.iter().map(|p| p.len() as u64).sum::<u64>();
    }
}

/// A raw client logged on with AES-128-GCM and the RDMA transforms, on the EncryptData share with a
/// 16 MiB file open.
fn session() -> (RawClient, smb_wire::types::FileId) {
    let files = MemFiles::default().with_file("secret", "f.bin", pattern(FILE_LEN));
    let conn =
        ServerConnection::new(Arc::new(ServerConfig::default()), files, TwoLegAuth::default(), [9; 32]);
    let mut c = RawClient::new(conn);
    c.negotiate_with(&Offer {
        ciphers: vec![CipherId::AES_128_GCM],
        signing: vec![WireSigning::AES_GMAC],
        rdma_contexts: vec![vec![RdmaTransformId::ENCRYPTION, RdmaTransformId::SIGNING]],
        ..Offer::default()
    });
    c.logon(Cipher::Aes128Gcm);
    c.tree_connect("secret", false, true);
    let f = c.create("f.bin", false, true);
    (c, f)
}

fn transform_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine-ceiling/transform-read/1MiB");
    g.throughput(Throughput::Bytes(IO as u64));
    let src = vec![0x5Au8; IO];
    let mut dst = vec![0u8; IO];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&mut dst);
        })
    });
    // The anchor: the backend the server uses (Backend::FAST) sealing 1 MiB in place, no AAD.
    let key = AeadKey::new(Backend::FAST, Cipher::Aes128Gcm, &[7u8; 16]).unwrap();
    let mut nonces = NonceSequence::new(0).unwrap();
    let mut buf = src.clone();
    g.bench_function(BenchmarkId::new("bare seal", Cipher::Aes128Gcm), |b| {
        b.iter(|| {
            let n = nonces.next_nonce().unwrap();
            black_box(key.seal_in_place(&n, &[], black_box(&mut buf)).unwrap());
        })
    });
    let (mut client, file_id) = session();
    let mut tx = Placer { pool: iobuf::Pool::new(&iobuf::PoolConfig::default()), placed: 0, sent: 0 };
    let (_, info) = descriptors(&[IO as u32]);
    let mut offset = 0u64;
    g.bench_function(BenchmarkId::new("server path, sealed by transform", Cipher::Aes128Gcm), |b| {
        b.iter(|| {
            let mut h = client.io_header(Command::READ, IO);
            // Ask back what the READ charges, so the credit window never shrinks.
            h.credits = h.credit_charge;
            let req = ReadRequest {
                length: IO as u32,
                offset,
                file_id,
                channel: Channel::RDMA_V1_INVALIDATE,
                channel_info: &info,
                ..Default::default()
            };
            offset = (offset + IO as u64) % FILE_LEN as u64;
            assert_eq!(client.send(h, &req, false, true, &mut tx), Flow::Continue);
        })
    });
    assert!(tx.placed >= IO as u64 && tx.sent > 0, "the READs were served: {} placed", tx.placed);
    g.finish();
}

criterion_group!(benches, transform_read);
criterion_main!(benches);
