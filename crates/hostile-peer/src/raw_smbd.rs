//! MS-SMBD by hand over one blocking queue pair: a correct negotiation, then whatever bytes a
//! case wants sent as the next message. No state machine here checks anything, so a message the
//! `smbdirect` crate would never send reaches the server as it is.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rdma_verbs::{
    Access, Blocking, CmState, Completion, DomainProvider, Endpoint, EndpointOptions, Provider, RecvWr,
    SendOp, SendWr, Sge,
};
use smb_wire::smbd::NegotiateResponse;
use smb_wire::status::NtStatus;

use crate::puppet::ANSWER_TIMEOUT;

/// Receive buffers of this size (MS-SMBD's default MaxReceiveSize).
const RECV_SIZE: usize = 1364;
/// Receives kept posted.
const RECVS: usize = 4;

/// One raw SMB Direct connection.
pub struct RawSmbd<P: DomainProvider> {
    ep: <Blocking<P> as Provider>::Endpoint,
    /// One region per receive, so a completed one can be read while the others stay posted.
    recv: Vec<rdma_verbs::RegionId>,
    next_wr: u64,
}

impl<P: DomainProvider> RawSmbd<P> {
    /// Connects and negotiates MS-SMBD 1.0 with the defaults Windows and Linux use.
    pub fn negotiate(provider: &P, addr: SocketAddr) -> Result<RawSmbd<P>, String> {
        let ep = Blocking(provider.clone())
            .connect(addr, EndpointOptions::default(), &[], ANSWER_TIMEOUT)
            .map_err(|e| format!("connect: {e}"))?;
        let mut ep = ep;
        let recv = (0..RECVS)
            .map(|_| ep.register(RECV_SIZE, Access::LOCAL_WRITE))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("register: {e}"))?;
        let mut raw = RawSmbd { ep, recv, next_wr: 1 };
        for slot in 0..RECVS {
            raw.post_recv(slot)?;
        }
        // MS-SMBD 2.2.1: versions 1.0..1.0, reserved, 255 credits, send/receive 1364, 1 MiB.
        let mut msg = Vec::with_capacity(20);
        for v in [0x0100u16, 0x0100, 0, 255] {
            msg.extend_from_slice(&v.to_le_bytes());
        }
        for v in [1364u32, RECV_SIZE as u32, 1 << 20] {
            msg.extend_from_slice(&v.to_le_bytes());
        }
        raw.send(&msg)?;
        let got = raw.received(ANSWER_TIMEOUT)?.ok_or("no negotiate response")?;
        let resp = NegotiateResponse::parse(&got).map_err(|e| format!("negotiate response: {e}"))?;
        if resp.status != NtStatus::SUCCESS || resp.credits_granted == 0 {
            return Err(format!("negotiate refused: {resp:?}"));
        }
        Ok(raw)
    }

    fn post_recv(&mut self, slot: usize) -> Result<(), String> {
        let sge = [Sge::new(self.recv[slot], 0, RECV_SIZE)];
        self.ep.post_recv(&[RecvWr { wr_id: slot as u64, sges: &sge }]).map_err(|e| format!("post_recv: {e}"))
    }

    /// Sends `msg` as one SMB Direct message (whatever it holds), from a region of its own (a
    /// case sends a handful).
    pub fn send(&mut self, msg: &[u8]) -> Result<(), String> {
        let region =
            self.ep.register(msg.len(), Access::LOCAL_WRITE).map_err(|e| format!("register: {e}"))?;
        self.ep.bytes(region).map_err(|e| format!("bytes: {e}"))?.copy_from_slice(msg);
        let sge = [Sge::new(region, 0, msg.len())];
        self.next_wr += 1;
        let wr = SendWr { wr_id: (1 << 32) | self.next_wr, op: SendOp::Send, sges: &sge };
        self.ep.post_send(&[wr]).map_err(|e| format!("post_send: {e}"))
    }

    /// The next message received within `timeout` (its bytes), `None` if the connection ended
    /// first; `Err` if nothing happened at all.
    pub fn received(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, String> {
        let deadline = Instant::now() + timeout;
        let mut cs = [Completion::default(); 8];
        loop {
            let n = self.ep.poll(&mut cs).map_err(|e| format!("poll: {e}"))?;
            for c in &cs[..n] {
                if c.wr_id >> 32 != 0 {
                    continue; // our send
                }
                if !c.status.is_success() {
                    return Ok(None);
                }
                let slot = c.wr_id as usize;
                let region = *self.recv.get(slot).ok_or("a completion for no receive")?;
                let bytes = self.ep.bytes(region).map_err(|e| format!("bytes: {e}"))?;
                let data =
                    bytes.get(..c.byte_len as usize).ok_or("a receive longer than its buffer")?.to_vec();
                drop(bytes);
                self.post_recv(slot)?;
                return Ok(Some(data));
            }
            if n == 0 {
                if self.ep.state() == CmState::Disconnected {
                    return Ok(None);
                }
                let now = Instant::now();
                if now >= deadline {
                    return Err(format!("nothing received or ended in {timeout:?}"));
                }
                self.ep
                    .wait((deadline - now).min(Duration::from_millis(50)))
                    .map_err(|e| format!("wait: {e}"))?;
            }
        }
    }

    /// Waits for the server to end the connection; `Err` if it sent something instead, or let it
    /// stand for `timeout`.
    pub fn dropped(&mut self, timeout: Duration) -> Result<(), String> {
        match self.received(timeout)? {
            None => Ok(()),
            Some(m) => Err(format!("the server answered ({} bytes) instead of disconnecting", m.len())),
        }
    }
}

/// An MS-SMBD 2.2.3 data transfer message with the given header fields and `payload` after
/// the 24-byte header, whatever the fields say about it.
pub fn data_transfer(
    credits_requested: u16,
    remaining: u32,
    offset: u32,
    length: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(24 + payload.len());
    for v in [credits_requested, 1, 0, 0] {
        m.extend_from_slice(&v.to_le_bytes());
    }
    for v in [remaining, offset, length, 0] {
        m.extend_from_slice(&v.to_le_bytes());
    }
    m.extend_from_slice(payload);
    m
}
