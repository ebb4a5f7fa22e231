//! The RDMA transform between the real client and server state machines over the simulated SMB
//! Direct link: for every cipher and signing algorithm, READ and WRITE data of 4 KiB to 8 MiB moves
//! by RDMA sealed (or signed) in the granted memory, and arrives whole; what lies in the granted
//! memory is ciphertext for an encrypted share; data changed there is refused, never handed over.

use smb_client_proto::{ClientConfig, ClientError, Completion};
use smb_crypto::{Cipher, SigningAlgorithm};
use smb_session::ServerConfig;
use testkit::data::{checksum, pattern};
use testkit::{Access, Pair, Transport};

const SIZES: [usize; 4] = [4096, 65536 + 4096, 1 << 20, 8 << 20];

/// Writes `data` by RDMA to `name` on `share` and reads it back by RDMA; returns whether the granted
/// memory held the plaintext (both ways), after checking the data end to end.
fn round_trip(pair: &mut Pair, share: &str, name: &str, data: &[u8]) -> (bool, bool) {
    let (tree, _) = pair.tree(share);
    assert!(pair.client.rdma_allowed(tree), "{share}: RDMA through the transform");
    let file = pair.open(tree, name);
    let len = data.len();
    let desc = pair.memory.grant(data.to_vec(), Access::RemoteRead);
    let granted = &mut pair.memory.window_mut(desc.token).unwrap().bytes;
    let (_, req) = pair.client.write_rdma(file, 0, granted, &[desc], true).unwrap();
    let write_plain = pair.memory.window(desc.token).unwrap().bytes == data;
    assert!(matches!(pair.one(req), Completion::Written { count, .. } if count as usize == len));
    assert_eq!(pair.server.files_mut().file(share, name).map(checksum), Some(checksum(data)), "{share}");

    let window = pair.memory.grant(vec![0; len], Access::RemoteWrite);
    let (request, req) = pair.client.read_rdma(file, 0, len as u32, &[window], true).unwrap();
    let Completion::ReadPlaced { len: placed, transform, .. } = pair.one(req) else { panic!("no READ") };
    assert_eq!(placed as usize, len);
    let t = transform.expect("a protected share's data comes with a transform");
    let w = pair.memory.window_mut(window.token).unwrap();
    assert!(!w.valid, "the answer revoked the window");
    let read_plain = w.bytes == data;
    pair.client.open_placed(request, &t, &mut w.bytes).unwrap();
    assert_eq!(checksum(&w.bytes), checksum(data), "{share}: read back");
    (write_plain, read_plain)
}

#[test]
fn every_cipher_moves_sealed_data_by_rdma_both_ways() {
    for cipher in Cipher::ALL {
        let cfg = ClientConfig { ciphers: vec![cipher], ..ClientConfig::default() };
        let mut pair = Pair::with_configs(Transport::smbd(), cfg, ServerConfig::default());
        pair.logon();
        for (i, &n) in SIZES.iter().enumerate() {
            let data = pattern(n);
            let plain = round_trip(&mut pair, "secret", &format!("{i}.bin"), &data);
            assert_eq!(plain, (false, false), "{cipher} {n}: ciphertext, never plaintext, in granted memory");
        }
        assert_eq!(pair.closed(), None);
    }
}

#[test]
fn every_signing_algorithm_moves_signed_data_by_rdma_both_ways() {
    for signing in [SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac] {
        let cfg = ClientConfig { signing: vec![signing], require_signing: true, ..ClientConfig::default() };
        let mut pair = Pair::with_configs(Transport::smbd(), cfg, ServerConfig::default());
        pair.logon();
        for (i, &n) in SIZES[..3].iter().enumerate() {
            let plain = round_trip(&mut pair, "plain", &format!("{i}.bin"), &pattern(n));
            assert_eq!(plain, (true, true), "{signing}: signing leaves the data as it is");
        }
    }
}

#[test]
fn placed_data_changed_before_it_is_opened_is_refused() {
    for (share, signing) in [("secret", SigningAlgorithm::AesGmac), ("plain", SigningAlgorithm::AesCmac)] {
        let cfg = ClientConfig { signing: vec![signing], ..ClientConfig::default() };
        let mut pair = Pair::with_configs(Transport::smbd(), cfg, ServerConfig::default());
        pair.logon();
        let (tree, _) = pair.tree(share);
        let file = pair.open(tree, "t.bin");
        let (_, req) = pair.client.write(file, 0, &pattern(65536)).unwrap();
        pair.one(req);
        let window = pair.memory.grant(vec![0; 65536], Access::RemoteWrite);
        let (request, req) = pair.client.read_rdma(file, 0, 65536, &[window], true).unwrap();
        let Completion::ReadPlaced { transform: Some(t), .. } = pair.one(req) else { panic!("no transform") };
        let w = pair.memory.window_mut(window.token).unwrap();
        w.bytes[30_000] ^= 0x10;
        let r = pair.client.open_placed(request, &t, &mut w.bytes);
        assert!(matches!(r, Err(ClientError::PlacedDataRejected { .. })), "{share}: {r:?}");
        if share == "secret" {
            assert!(w.bytes.iter().all(|&b| b == 0), "a failed open leaves nothing to use");
        }
    }
}
