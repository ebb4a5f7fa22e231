//! The hostile cases, each on connections of its own, each with what the server must do (MS-SMB2
//! 3.3.5.12 / 3.3.5.13, MS-SMBD 3.1.5.8, and the engine's rule that remote memory is granted per
//! I/O: docs/SMBDIRECT.md).

use engine::rdma::Access;
use smb_client_proto::{Completion, FileHandle};
use smb_wire::smbd::BufferDescriptorV1;
use smb_wire::status::NtStatus;

use crate::puppet::{Over, Peer, ANSWER_TIMEOUT};
use crate::raw_smbd::{data_transfer, RawSmbd};
use crate::Target;

/// The size of every RDMA I/O here: over the client's 4 KiB threshold, one descriptor.
const IO: usize = 64 * 1024;
/// What the server must never place in a buffer it lost access to.
const UNTOUCHED: u8 = 0xEE;

/// File contents a case can recognise: `seed` in every byte's high bits.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_mul(31) ^ (i as u8).wrapping_add((i >> 8) as u8)).collect()
}

struct Setup {
    peer: Peer,
    file: FileHandle,
    data: Vec<u8>,
}

/// Logs on over SMB Direct, creates the case's file on the plain share and writes `IO` bytes of a
/// pattern into it inline.
fn setup<P: rdma_verbs::DomainProvider>(t: &Target<P>, case: &str, seed: u8) -> Result<Setup, String> {
    let mut peer = Peer::connect(&t.over_rdma(), &t.user, &t.password)?;
    let tree = peer.tree(&t.unc(&t.share))?;
    let file = peer.create(tree, &t.file_name(case))?;
    let data = pattern(seed, IO);
    peer.write_inline(file, 0, &data)?;
    Ok(Setup { peer, file, data })
}

/// A READ by RDMA into buffer `name` that must succeed: the data placed, the token invalidated by
/// the response. Returns the descriptor (now revoked).
fn good_read(s: &mut Setup, name: u64) -> Result<BufferDescriptorV1, String> {
    let desc = s.peer.grant(name, vec![UNTOUCHED; IO], Access::REMOTE_WRITE)?;
    let id = s.peer.send_read_rdma(s.file, 0, IO as u32, vec![desc])?;
    match s.peer.answer(id)? {
        (Completion::ReadPlaced { len, .. }, inv) if len as usize == IO && inv == Some(desc.token) => {}
        other => return Err(format!("a valid READ by RDMA got {other:?} (token {:#x})", desc.token)),
    }
    if s.peer.bytes(name, IO)? != s.data {
        return Err("a valid READ by RDMA placed the wrong bytes".into());
    }
    Ok(desc)
}

/// A READ whose descriptor names a window the server already revoked (with its last response):
/// the server's RDMA WRITE fails with a remote access error, the READ is never answered, the
/// connection ends, and nothing is placed in the buffer.
pub fn replayed_read_token<P: rdma_verbs::DomainProvider>(t: &Target<P>) -> Result<String, String> {
    let mut s = setup(t, "replayed-read", 1)?;
    let desc = good_read(&mut s, 1)?;
    s.peer.fill(1, vec![UNTOUCHED; IO])?;
    let id = s.peer.send_read_rdma(s.file, 0, IO as u32, vec![desc])?;
    let buffers = s.peer.closes_unanswered(id)?;
    match buffers.get(&1) {
        Some(b) if b.iter().all(|&x| x == UNTOUCHED) => {}
        Some(_) => return Err("the replayed token let the server write into the buffer".into()),
        None => return Err("the buffer was lost".into()),
    }
    Ok(format!("token {:#x}: READ unanswered, connection dropped, buffer untouched", desc.token))
}

/// A WRITE whose descriptor names a revoked window: the server's RDMA READ fails with a remote
/// access error, and the WRITE is never acknowledged nor applied (checked from a new connection).
pub fn replayed_write_token<P: rdma_verbs::DomainProvider>(t: &Target<P>) -> Result<String, String> {
    let mut s = setup(t, "replayed-write", 2)?;
    let second = pattern(3, IO);
    let desc = s.peer.grant(1, second.clone(), Access::REMOTE_READ)?;
    let id = s.peer.send_write_rdma(s.file, IO as u64, IO as u32, vec![desc])?;
    match s.peer.answer(id)? {
        (Completion::Written { count, .. }, inv) if count as usize == IO && inv == Some(desc.token) => {}
        other => return Err(format!("a valid WRITE by RDMA got {other:?} (token {:#x})", desc.token)),
    }
    let poison = vec![0x5A; IO];
    s.peer.fill(1, poison.clone())?;
    let id = s.peer.send_write_rdma(s.file, 2 * IO as u64, IO as u32, vec![desc])?;
    s.peer.closes_unanswered(id)?;
    // The file as a new connection sees it: the first two pieces, never the replay's.
    let mut check = Peer::connect(&t.over_rdma(), &t.user, &t.password)?;
    let tree = check.tree(&t.unc(&t.share))?;
    let file = check.open(tree, &t.file_name("replayed-write"))?;
    match check.read_inline(file, IO as u64, IO as u32)? {
        Ok(d) if d == second => {}
        other => {
            return Err(format!("the acknowledged WRITE is not in the file: {:?}", other.map(|d| d.len())))
        }
    }
    match check.read_inline(file, 2 * IO as u64, IO as u32)? {
        Err(NtStatus::END_OF_FILE) => {}
        Ok(d) if d == poison => return Err("the replayed WRITE was applied".into()),
        other => return Err(format!("past the acknowledged data: {:?}", other.map(|d| d.len()))),
    }
    Ok(format!("token {:#x}: WRITE unanswered and not applied, connection dropped", desc.token))
}

/// Buffer descriptors MS-SMB2 3.3.5.12 / 3.3.5.13 refuse: each request gets
/// STATUS_INVALID_PARAMETER, its response still revokes the token it names (RDMA_V1_INVALIDATE),
/// nothing is placed, and the connection goes on (a valid READ after them works).
pub fn bad_descriptors<P: rdma_verbs::DomainProvider>(t: &Target<P>) -> Result<String, String> {
    let mut s = setup(t, "bad-descriptors", 4)?;
    type Shape = fn(BufferDescriptorV1) -> Vec<BufferDescriptorV1>;
    let shapes: [(&str, Shape); 4] = [
        ("no descriptor", |_| vec![]),
        ("a zero-length descriptor", |d| vec![BufferDescriptorV1 { length: 0, ..d }]),
        ("descriptors shorter than the I/O", |d| vec![BufferDescriptorV1 { length: d.length / 2, ..d }]),
        ("65 descriptors (more than 64)", |d| {
            vec![BufferDescriptorV1 { length: d.length.div_ceil(65), ..d }; 65]
        }),
    ];
    let mut seen = Vec::new();
    for (i, (what, shape)) in shapes.iter().enumerate() {
        for write in [false, true] {
            let name = 10 + 2 * i as u64 + u64::from(write);
            let access = if write { Access::REMOTE_READ } else { Access::REMOTE_WRITE };
            let desc = s.peer.grant(name, vec![UNTOUCHED; IO], access)?;
            let descs = shape(desc);
            let expect_inv = descs.first().map(|d| d.token);
            let id = if write {
                s.peer.send_write_rdma(s.file, 0, IO as u32, descs)?
            } else {
                s.peer.send_read_rdma(s.file, 0, IO as u32, descs)?
            };
            let kind = if write { "WRITE" } else { "READ" };
            match s.peer.answer(id)? {
                (Completion::Error { status: NtStatus::INVALID_PARAMETER, .. }, inv) if inv == expect_inv => {
                }
                other => return Err(format!("{kind} with {what} got {other:?}, token {expect_inv:x?}")),
            }
            if !write && s.peer.bytes(name, IO)?.iter().any(|&x| x != UNTOUCHED) {
                return Err(format!("READ with {what}: data was placed"));
            }
            seen.push(format!("{kind} with {what}"));
        }
    }
    good_read(&mut s, 99)?;
    // The file is as it was: no refused WRITE changed it.
    match s.peer.read_inline(s.file, 0, IO as u32)? {
        Ok(d) if d == s.data => {}
        _ => return Err("a refused WRITE changed the file".into()),
    }
    Ok(format!("STATUS_INVALID_PARAMETER, token revoked: {}", seen.join("; ")))
}

/// A READ and a WRITE by plain RDMA on an EncryptData share, from a peer that did not negotiate the
/// RDMA transform: STATUS_ACCESS_DENIED,
/// token revoked by the response, no plaintext placed in the client's memory, file unchanged.
pub fn rdma_on_encrypted_share<P: rdma_verbs::DomainProvider>(
    t: &Target<P>,
    share: &str,
) -> Result<String, String> {
    let mut peer = Peer::connect(&t.over_rdma(), &t.user, &t.password)?;
    let tree = peer.tree(&t.unc(share))?;
    let file = peer.create(tree, &t.file_name("encrypted"))?;
    let data = pattern(5, IO);
    peer.write_inline(file, 0, &data)?;
    for write in [false, true] {
        let access = if write { Access::REMOTE_READ } else { Access::REMOTE_WRITE };
        let desc = peer.grant(u64::from(write), vec![UNTOUCHED; IO], access)?;
        let id = if write {
            peer.send_write_rdma(file, 0, IO as u32, vec![desc])?
        } else {
            peer.send_read_rdma(file, 0, IO as u32, vec![desc])?
        };
        match peer.answer(id)? {
            (Completion::Error { status: NtStatus::ACCESS_DENIED, .. }, inv) if inv == Some(desc.token) => {}
            other => {
                return Err(format!(
                    "RDMA {} on an encrypted share got {other:?}",
                    ["READ", "WRITE"][write as usize]
                ))
            }
        }
    }
    if peer.bytes(0, IO)?.iter().any(|&x| x != UNTOUCHED) {
        return Err("plaintext of an encrypted share was placed in the client's memory".into());
    }
    match peer.read_inline(file, 0, IO as u32)? {
        Ok(d) if d == data => {}
        _ => return Err("the refused WRITE changed the file".into()),
    }
    Ok("READ and WRITE: STATUS_ACCESS_DENIED, token revoked, nothing placed".into())
}

/// An RDMA channel in a READ over TCP (MS-SMB2 3.3.5.12: only valid over SMB Direct):
/// STATUS_INVALID_PARAMETER, and the connection goes on.
pub fn rdma_channel_over_tcp<P: rdma_verbs::DomainProvider>(
    t: &Target<P>,
    tcp: std::net::SocketAddr,
) -> Result<String, String> {
    let mut peer = Peer::connect(&Over::Tcp(tcp), &t.user, &t.password)?;
    let tree = peer.tree(&t.unc(&t.share))?;
    let file = peer.create(tree, &t.file_name("over-tcp"))?;
    let data = pattern(6, IO);
    peer.write_inline(file, 0, &data)?;
    let fake = BufferDescriptorV1 { offset: 0x1000, token: 0x1234, length: IO as u32 };
    let id = peer.send_read_rdma(file, 0, IO as u32, vec![fake])?;
    match peer.answer(id)? {
        (Completion::Error { status: NtStatus::INVALID_PARAMETER, .. }, _) => {}
        other => return Err(format!("READ with an RDMA channel over TCP got {other:?}")),
    }
    match peer.read_inline(file, 0, IO as u32)? {
        Ok(d) if d == data => Ok("STATUS_INVALID_PARAMETER; the connection goes on".into()),
        other => Err(format!("the connection did not go on: {:?}", other.map(|d| d.len()))),
    }
}

/// Malformed MS-SMBD data transfer headers (MS-SMBD 3.1.5.8 says to disconnect): each drops its
/// own connection at once, and a connection opened before them goes on moving data by RDMA.
pub fn malformed_smbd_header<P: rdma_verbs::DomainProvider>(t: &Target<P>) -> Result<String, String> {
    let mut s = setup(t, "malformed-smbd", 7)?;
    let payload = [0u8; 64];
    let bad: [(&str, Vec<u8>); 3] = [
        ("DataOffset inside the header", data_transfer(255, 0, 8, 64, &payload)),
        ("DataLength past the message", data_transfer(255, 0, 24, 4096, &payload)),
        ("RemainingDataLength over MaxFragmentedSize", data_transfer(255, u32::MAX - 64, 24, 64, &payload)),
    ];
    for (what, msg) in &bad {
        let mut raw = RawSmbd::negotiate(&t.provider, t.rdma)?;
        raw.send(msg)?;
        raw.dropped(ANSWER_TIMEOUT).map_err(|e| format!("{what}: {e}"))?;
    }
    good_read(&mut s, 1).map_err(|e| format!("the other connection: {e}"))?;
    Ok(format!("{} connections dropped; the other one still reads by RDMA", bad.len()))
}
