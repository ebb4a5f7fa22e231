//! Work requests: what may be posted, referencing registered memory by (region, offset, len).
//!
//! Work requests never hold pointers: the endpoint resolves each [`Sge`] against its region table
//! when posting, checks bounds and access, and counts the region as in flight until the
//! completion is polled. That is what keeps a buffer from being freed under the device.

use crate::region::RegionId;

/// A scatter/gather entry: `len` bytes at `offset` in a registered region of this endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sge {
    pub region: RegionId,
    pub offset: usize,
    pub len: usize,
}

impl Sge {
    pub fn new(region: RegionId, offset: usize, len: usize) -> Self {
        Self { region, offset, len }
    }
}

/// Where in the peer's memory an RDMA READ/WRITE goes: an address inside a range the peer
/// advertised, and its rkey. Obtained from the peer (it comes from its [`RemoteKey`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteAddr {
    pub addr: u64,
    pub rkey: u32,
}

/// A range of registered memory the peer may access: what an endpoint advertises (in SMB Direct,
/// a buffer descriptor: offset, token, length; MS-SMBD 2.2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteKey {
    pub addr: u64,
    pub rkey: u32,
    pub len: u64,
}

impl RemoteKey {
    /// The address `offset` bytes into the range (no check: the peer's device checks).
    pub fn at(&self, offset: u64) -> RemoteAddr {
        RemoteAddr { addr: self.addr.wrapping_add(offset), rkey: self.rkey }
    }

    /// 16 bytes, little-endian (addr, rkey, len as u32): a wire form for tests and benches.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..12].copy_from_slice(&self.rkey.to_le_bytes());
        b[12..].copy_from_slice(&(self.len.min(u32::MAX as u64) as u32).to_le_bytes());
        b
    }

    /// Inverse of [`RemoteKey::to_bytes`]; `None` if `b` is shorter than 16 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let b: &[u8; 16] = b.get(..16)?.try_into().ok()?;
        Some(Self {
            addr: u64::from_le_bytes(b[..8].try_into().ok()?),
            rkey: u32::from_le_bytes(b[8..12].try_into().ok()?),
            len: u32::from_le_bytes(b[12..].try_into().ok()?) as u64,
        })
    }
}

/// The operation of a send-queue work request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOp {
    /// Deliver the gathered bytes to the peer's next posted RECV.
    Send,
    /// SEND, and invalidate `rkey` at the peer before the RECV completes (MS-SMBD uses it to
    /// revoke a buffer's access with the response).
    SendWithInvalidate { rkey: u32 },
    /// Copy the gathered bytes into the peer's memory at `remote`.
    RdmaWrite { remote: RemoteAddr },
    /// Fill the scatter list from the peer's memory at `remote`.
    RdmaRead { remote: RemoteAddr },
    /// Invalidate one of this endpoint's own window rkeys.
    LocalInvalidate { rkey: u32 },
}

/// A send-queue work request. Every one is signaled: it yields exactly one completion.
#[derive(Clone, Copy, Debug)]
pub struct SendWr<'a> {
    pub wr_id: u64,
    pub op: SendOp,
    pub sges: &'a [Sge],
}

/// A receive work request: where the next incoming SEND lands.
#[derive(Clone, Copy, Debug)]
pub struct RecvWr<'a> {
    pub wr_id: u64,
    pub sges: &'a [Sge],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_key_round_trips() {
        let k = RemoteKey { addr: 0x1234_5678_9abc, rkey: 0xdead_beef, len: 4096 };
        assert_eq!(RemoteKey::from_bytes(&k.to_bytes()), Some(k));
        assert_eq!(RemoteKey::from_bytes(&[0; 15]), None);
        assert_eq!(k.at(16), RemoteAddr { addr: 0x1234_5678_9abc + 16, rkey: 0xdead_beef });
    }
}
