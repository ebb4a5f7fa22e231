//! The conformance suite every provider must pass: one generic function per case, each run by
//! both ends of a fresh connection ([`Role::Server`] accepts, [`Role::Client`] connects).
//!
//! The loopback provider runs it under `cargo test` (both roles in one process); the verbs
//! provider runs it between two machines (or two SoftRoCE VMs) with the `rdma-conformance`
//! binary, one role per side. The two ends coordinate with small SEND/RECV messages, the way an
//! upper protocol would, so each case checks data and statuses on both sides.
//!
//! Both providers' endpoints are a [`Domain`] with one queue pair ([`DomainEndpoint`]), so the
//! last cases reach the domain underneath: a second queue pair on it ([`Run::Two`]), pool leases.

use crate::blocking::{wait_readable, Blocking, DomainEndpoint};
use crate::completion::{Completion, WcOpcode, WcStatus};
use crate::domain::{Domain, DomainProvider, QpCompletion, QpEvent, QpId};
use crate::provider::{Endpoint, EndpointOptions, Listener, Provider};
use crate::region::RegionId;
use crate::work_request::{RecvWr, RemoteKey, SendOp, SendWr, Sge};
use crate::{Access, CmState, Error};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Which end of the connection runs the case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
}

/// A case's outcome: `Err` says what differed.
pub type CaseResult = Result<(), String>;

/// One case: a name and the function both roles run.
pub struct Case<E> {
    pub name: &'static str,
    pub run: Run<E>,
}

/// What a case runs on.
pub enum Run<E> {
    /// One connection: the endpoint.
    One(fn(&mut E, Role, &Config) -> CaseResult),
    /// Two queue pairs on each side's domain: the endpoint's, and a second one the client
    /// connects (and the server accepts) right after it, given as the `QpId`.
    Two(fn(&mut E, QpId, Role, &Config) -> CaseResult),
}

impl<E> Clone for Case<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for Case<E> {}
impl<E> Clone for Run<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for Run<E> {}

/// Time limits (SoftRoCE under software emulation is slow: be generous there).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Longest wait for one expected completion or message.
    pub op_timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self { op_timeout: Duration::from_secs(10), connect_timeout: Duration::from_secs(10) }
    }
}

/// Private data the client sends on connect: a prefix and the case's index, so the server can
/// check both ends run the same case.
pub const CONNECT_DATA: &[u8] = b"smbdx-conformance connect";
/// Private data the server sends on accept.
pub const ACCEPT_DATA: &[u8] =
    b"smbdx-conformance accept: longer than the 56 bytes a connect request may carry";

macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn err(what: &str) -> impl FnOnce(Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Every case, in the order the runners use. Every provider's endpoint is a domain with one queue
/// pair, so the last cases reach past the endpoint to what only a domain has.
pub fn cases<D: Domain>() -> Vec<Case<DomainEndpoint<D>>> {
    use Run::{One, Two};
    vec![
        Case { name: "connect_private_data", run: One(connect_private_data) },
        Case { name: "send_recv", run: One(send_recv) },
        Case { name: "rdma_write_4k", run: One(|e, r, c| rdma_write(e, r, c, 4 << 10)) },
        Case { name: "rdma_write_64k", run: One(|e, r, c| rdma_write(e, r, c, 64 << 10)) },
        Case { name: "rdma_write_1m", run: One(|e, r, c| rdma_write(e, r, c, 1 << 20)) },
        Case { name: "rdma_read_4k", run: One(|e, r, c| rdma_read(e, r, c, 4 << 10)) },
        Case { name: "rdma_read_64k", run: One(|e, r, c| rdma_read(e, r, c, 64 << 10)) },
        Case { name: "rdma_read_1m", run: One(|e, r, c| rdma_read(e, r, c, 1 << 20)) },
        Case { name: "send_with_invalidate", run: One(send_with_invalidate) },
        Case { name: "local_invalidate", run: One(local_invalidate) },
        Case { name: "access_outside_region", run: One(access_outside_region) },
        Case { name: "disconnect_mid_transfer", run: One(disconnect_mid_transfer) },
        Case { name: "two_queue_pairs_one_domain", run: Two(two_queue_pairs_one_domain) },
        Case { name: "rdma_read_into_lease", run: One(rdma_read_into_lease) },
    ]
}

/// Deterministic bytes that differ per size and seed (so a copy from the wrong place shows).
pub fn pattern(buf: &mut [u8], seed: u8) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed;
    }
}

fn check_pattern(buf: &[u8], seed: u8, what: &str) -> CaseResult {
    let mut want = vec![0u8; buf.len()];
    pattern(&mut want, seed);
    match buf.iter().zip(&want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => {
            Err(format!("{what}: byte {i} of {} is {:#04x}, expected {:#04x}", buf.len(), buf[i], want[i]))
        }
    }
}

const CTL_RECVS: usize = 4;
const CTL_SIZE: usize = 4096;
const CTL_WR: u64 = 1 << 40;

/// Control messages over SEND/RECV, and a stash for completions polled while waiting for others.
struct Ctl {
    recv: [RegionId; CTL_RECVS],
    send: RegionId,
    sends: u64,
    stash: Vec<Completion>,
    timeout: Duration,
}

impl Ctl {
    fn new<E: Endpoint>(ep: &mut E, cfg: &Config) -> Result<Self, String> {
        let mut recv = [None; CTL_RECVS];
        for (i, r) in recv.iter_mut().enumerate() {
            let id = ep.register(CTL_SIZE, Access::LOCAL_WRITE).map_err(err("register control buffer"))?;
            ep.post_recv(&[RecvWr { wr_id: CTL_WR + i as u64, sges: &[Sge::new(id, 0, CTL_SIZE)] }])
                .map_err(err("post control receive"))?;
            *r = Some(id);
        }
        let send = ep.register(CTL_SIZE, Access::NONE).map_err(err("register control send buffer"))?;
        Ok(Self {
            recv: recv.map(|r| r.expect("filled")),
            send,
            sends: 0,
            stash: Vec::new(),
            timeout: cfg.op_timeout,
        })
    }

    /// Polls until a completion matching `want` arrives; others are kept for later waits.
    fn wait<E: Endpoint>(
        &mut self,
        ep: &mut E,
        what: &str,
        want: impl Fn(&Completion) -> bool,
    ) -> Result<Completion, String> {
        if let Some(i) = self.stash.iter().position(&want) {
            return Ok(self.stash.remove(i));
        }
        let deadline = Instant::now() + self.timeout;
        let mut buf = [Completion::default(); 16];
        loop {
            let n = ep.poll(&mut buf).map_err(err("poll"))?;
            let mut found = None;
            for c in &buf[..n] {
                if found.is_none() && want(c) {
                    found = Some(*c);
                } else {
                    self.stash.push(*c);
                }
            }
            if let Some(c) = found {
                return Ok(c);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "timed out after {:?} waiting for {what}; other completions: {:?}",
                    self.timeout, self.stash
                ));
            }
            if n == 0 {
                ep.wait((deadline - now).min(Duration::from_millis(20))).map_err(err("wait"))?;
            }
        }
    }

    /// Waits for the completion of `wr_id` and checks its status.
    fn expect<E: Endpoint>(
        &mut self,
        ep: &mut E,
        wr_id: u64,
        status: WcStatus,
        what: &str,
    ) -> Result<Completion, String> {
        let c = self.wait(ep, what, |c| c.wr_id == wr_id)?;
        check!(c.status == status, "{what}: status {:?}, expected {:?} ({c:?})", c.status, status);
        Ok(c)
    }

    fn send<E: Endpoint>(&mut self, ep: &mut E, msg: &[u8], op: SendOp) -> CaseResult {
        ep.bytes(self.send).map_err(err("control send buffer"))?[..msg.len()].copy_from_slice(msg);
        self.sends += 1;
        let wr_id = CTL_WR + 100 + self.sends;
        ep.post_send(&[SendWr { wr_id, op, sges: &[Sge::new(self.send, 0, msg.len())] }])
            .map_err(err("post control send"))?;
        self.expect(ep, wr_id, WcStatus::SUCCESS, "control send")?;
        Ok(())
    }

    /// The next control message (and the completion, for its flags); the buffer is reposted.
    fn recv<E: Endpoint>(&mut self, ep: &mut E, what: &str) -> Result<(Vec<u8>, Completion), String> {
        let c = self.wait(ep, what, |c| {
            c.opcode.is_recv() || (c.wr_id >= CTL_WR && c.wr_id < CTL_WR + CTL_RECVS as u64)
        })?;
        check!(c.status.is_success(), "{what}: receive completed with {:?}", c.status);
        check!(c.opcode == WcOpcode::RECV, "{what}: receive completion has opcode {:?}", c.opcode);
        let i = (c.wr_id - CTL_WR) as usize;
        let id = *self.recv.get(i).ok_or_else(|| format!("{what}: unexpected receive wr_id {}", c.wr_id))?;
        let msg = ep.bytes(id).map_err(err("control receive buffer"))?[..c.byte_len as usize].to_vec();
        ep.post_recv(&[RecvWr { wr_id: c.wr_id, sges: &[Sge::new(id, 0, CTL_SIZE)] }])
            .map_err(err("repost control receive"))?;
        Ok((msg, c))
    }

    /// Waits until every control receive flushed: the peer disconnected (or our QP failed).
    fn expect_flush<E: Endpoint>(&mut self, ep: &mut E) -> CaseResult {
        for _ in 0..CTL_RECVS {
            let c = self.wait(ep, "flush of control receives", |c| {
                c.opcode.is_recv() || c.status == WcStatus::WR_FLUSH_ERR
            })?;
            check!(c.status == WcStatus::WR_FLUSH_ERR, "control receive after disconnect: {:?}", c);
        }
        Ok(())
    }
}

fn key_msg(k: &RemoteKey) -> Vec<u8> {
    let mut m = b"KEY".to_vec();
    m.extend_from_slice(&k.to_bytes());
    m
}

fn parse_key(m: &[u8]) -> Result<RemoteKey, String> {
    m.strip_prefix(b"KEY").and_then(RemoteKey::from_bytes).ok_or_else(|| format!("not a key message: {m:?}"))
}

/// Ends a case: the client disconnects; the server waits for that (its receives flush).
fn finish<E: Endpoint>(ep: &mut E, role: Role, ctl: &mut Ctl) -> CaseResult {
    match role {
        Role::Client => {
            ep.disconnect().map_err(err("disconnect"))?;
            ctl.expect_flush(ep)?;
        }
        Role::Server => ctl.expect_flush(ep)?,
    }
    // The receives may flush before the disconnect event arrives (our own disconnect, or a
    // remote access error putting the responder's queue pair in error); the event must follow.
    await_disconnected(ep, ctl.timeout)
}

/// Waits until the connection manager reports the connection over.
fn await_disconnected<E: Endpoint>(ep: &mut E, timeout: Duration) -> CaseResult {
    let deadline = Instant::now() + timeout;
    while ep.state() != CmState::Disconnected {
        check!(Instant::now() < deadline, "state {:?} {timeout:?} after the disconnect", ep.state());
        ep.wait(Duration::from_millis(20)).map_err(err("wait for disconnect"))?;
    }
    Ok(())
}

/// Both ends got the other's private data from connect/accept.
pub fn connect_private_data<E: Endpoint>(ep: &mut E, role: Role, cfg: &Config) -> CaseResult {
    let (got, want) = match role {
        Role::Server => (ep.peer_private_data(), CONNECT_DATA),
        Role::Client => (ep.peer_private_data(), ACCEPT_DATA),
    };
    check!(
        got.starts_with(want),
        "{role:?} got private data {:?}, expected it to start with {:?}",
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(want)
    );
    // The server may already see the client's disconnect; only the client's view is fixed here.
    check!(
        role == Role::Server || ep.state() == CmState::Established,
        "state {:?} after connect",
        ep.state()
    );
    let mut ctl = Ctl::new(ep, cfg)?;
    finish(ep, role, &mut ctl)
}

/// SEND/RECV: three sends posted in one batch arrive in order with their bytes; a reply comes back.
pub fn send_recv<E: Endpoint>(ep: &mut E, role: Role, cfg: &Config) -> CaseResult {
    const SIZES: [usize; 3] = [1, 100, 4096];
    let region = ep.register(8192, Access::LOCAL_WRITE).map_err(err("register"))?;
    let mut ctl = Ctl::new(ep, cfg)?;
    match role {
        Role::Client => {
            pattern(&mut ep.bytes(region).map_err(err("bytes"))?, 1);
            let sges =
                [Sge::new(region, 0, SIZES[0]), Sge::new(region, 0, SIZES[1]), Sge::new(region, 0, SIZES[2])];
            let wrs: Vec<SendWr> =
                (0..3).map(|i| SendWr { wr_id: i as u64, op: SendOp::Send, sges: &sges[i..i + 1] }).collect();
            ep.post_send(&wrs).map_err(err("post_send batch"))?;
            for i in 0..SIZES.len() {
                let c = ctl.expect(ep, i as u64, WcStatus::SUCCESS, "batched send")?;
                check!(c.opcode == WcOpcode::SEND, "send completion opcode {:?}", c.opcode);
            }
            let (reply, c) = ctl.recv(ep, "reply")?;
            check!(c.byte_len == 1000, "reply byte_len {}", c.byte_len);
            check_pattern(&reply, 2, "reply")?;
        }
        Role::Server => {
            for size in SIZES {
                let (msg, c) = ctl.recv(ep, "batched message")?;
                check!(
                    c.byte_len as usize == size && msg.len() == size,
                    "message of {} bytes, expected {size}",
                    c.byte_len
                );
                check_pattern(&msg, 1, "message")?;
            }
            let mut reply = vec![0u8; 1000];
            pattern(&mut reply, 2);
            ctl.send(ep, &reply, SendOp::Send)?;
        }
    }
    finish(ep, role, &mut ctl)
}

fn data_region<E: Endpoint>(
    ep: &mut E,
    size: usize,
    access: Access,
    seed: Option<u8>,
) -> Result<RegionId, String> {
    let r = ep.register(size, access).map_err(err("register data region"))?;
    if let Some(seed) = seed {
        pattern(&mut ep.bytes(r).map_err(err("bytes"))?, seed);
    }
    Ok(r)
}

/// RDMA WRITE of `size` bytes into the server's region; the server checks every byte.
pub fn rdma_write<E: Endpoint>(ep: &mut E, role: Role, cfg: &Config, size: usize) -> CaseResult {
    let mut ctl = Ctl::new(ep, cfg)?;
    match role {
        Role::Server => {
            let r = data_region(ep, size, Access::LOCAL_WRITE | Access::REMOTE_WRITE, None)?;
            let key = ep.remote_key(r, 0, size).map_err(err("remote_key"))?;
            ctl.send(ep, &key_msg(&key), SendOp::Send)?;
            let (m, _) = ctl.recv(ep, "write done")?;
            check!(m == b"DONE", "expected DONE, got {m:?}");
            check_pattern(&ep.bytes(r).map_err(err("bytes"))?, 3, "written region")?;
        }
        Role::Client => {
            let (m, _) = ctl.recv(ep, "key")?;
            let key = parse_key(&m)?;
            check!(key.len == size as u64, "key covers {} bytes, expected {size}", key.len);
            let r = data_region(ep, size, Access::NONE, Some(3))?;
            ep.post_send(&[SendWr {
                wr_id: 1,
                op: SendOp::RdmaWrite { remote: key.at(0) },
                sges: &[Sge::new(r, 0, size)],
            }])
            .map_err(err("post RDMA WRITE"))?;
            let c = ctl.expect(ep, 1, WcStatus::SUCCESS, "RDMA WRITE")?;
            check!(c.opcode == WcOpcode::RDMA_WRITE, "opcode {:?}", c.opcode);
            ctl.send(ep, b"DONE", SendOp::Send)?;
        }
    }
    finish(ep, role, &mut ctl)
}

/// RDMA READ of `size` bytes from the server's region; the client checks every byte.
pub fn rdma_read<E: Endpoint>(ep: &mut E, role: Role, cfg: &Config, size: usize) -> CaseResult {
    let mut ctl = Ctl::new(ep, cfg)?;
    match role {
        Role::Server => {
            let r = data_region(ep, size, Access::REMOTE_READ, Some(4))?;
            let key = ep.remote_key(r, 0, size).map_err(err("remote_key"))?;
            ctl.send(ep, &key_msg(&key), SendOp::Send)?;
            let (m, _) = ctl.recv(ep, "read done")?;
            check!(m == b"DONE", "expected DONE, got {m:?}");
        }
        Role::Client => {
            let (m, _) = ctl.recv(ep, "key")?;
            let key = parse_key(&m)?;
            let r = data_region(ep, size, Access::LOCAL_WRITE, None)?;
            ep.post_send(&[SendWr {
                wr_id: 1,
                op: SendOp::RdmaRead { remote: key.at(0) },
                sges: &[Sge::new(r, 0, size)],
            }])
            .map_err(err("post RDMA READ"))?;
            let c = ctl.expect(ep, 1, WcStatus::SUCCESS, "RDMA READ")?;
            check!(c.opcode == WcOpcode::RDMA_READ, "opcode {:?}", c.opcode);
            check_pattern(&ep.bytes(r).map_err(err("bytes"))?, 4, "read region")?;
            ctl.send(ep, b"DONE", SendOp::Send)?;
        }
    }
    finish(ep, role, &mut ctl)
}

/// The server grants a window; the client writes through it, then SEND_WITH_INVALIDATE revokes
/// it; the server's receive reports the rkey; a later RDMA WRITE with it fails with REM_ACCESS_ERR.
pub fn send_with_invalidate<E: Endpoint>(ep: &mut E, role: Role, cfg: &Config) -> CaseResult {
    const SIZE: usize = 4096;
    let mut ctl = Ctl::new(ep, cfg)?;
    match role {
        Role::Server => {
            let r = data_region(ep, 2 * SIZE, Access::LOCAL_WRITE | Access::MW_BIND, None)?;
            let key = ep
                .bind_window(7, r, SIZE, SIZE, Access::REMOTE_WRITE | Access::REMOTE_READ)
                .map_err(err("bind_window"))?;
            let c = ctl.expect(ep, 7, WcStatus::SUCCESS, "window bind")?;
            check!(c.opcode == WcOpcode::BIND_MW, "bind completion opcode {:?}", c.opcode);
            check!(
                matches!(ep.deregister(r), Err(Error::RegionBusy { .. })),
                "a region with a bound window must not deregister"
            );
            ctl.send(ep, &key_msg(&key), SendOp::Send)?;
            let (m, c) = ctl.recv(ep, "invalidating send")?;
            check!(m == b"INV", "expected INV, got {m:?}");
            check!(
                c.invalidated_rkey == Some(key.rkey),
                "receive reports invalidated rkey {:?}, expected {:#x}",
                c.invalidated_rkey,
                key.rkey
            );
            let bytes = ep.bytes(r).map_err(err("bytes after invalidation"))?;
            check!(bytes[..SIZE].iter().all(|&b| b == 0), "bytes before the window were written");
            check_pattern(&bytes[SIZE..], 5, "window")?;
            drop(bytes);
            ctl.send(ep, b"ACK", SendOp::Send)?;
        }
        Role::Client => {
            let (m, _) = ctl.recv(ep, "window key")?;
            let key = parse_key(&m)?;
            let r = data_region(ep, SIZE, Access::NONE, Some(5))?;
            let write = |wr_id| SendWr { wr_id, op: SendOp::RdmaWrite { remote: key.at(0) }, sges: &[] };
            let sges = [Sge::new(r, 0, SIZE)];
            ep.post_send(&[SendWr { sges: &sges, ..write(1) }]).map_err(err("post RDMA WRITE"))?;
            ctl.expect(ep, 1, WcStatus::SUCCESS, "RDMA WRITE through the window")?;
            ctl.send(ep, b"INV", SendOp::SendWithInvalidate { rkey: key.rkey })?;
            let (m, _) = ctl.recv(ep, "ack")?;
            check!(m == b"ACK", "expected ACK, got {m:?}");
            ep.post_send(&[SendWr { sges: &sges, ..write(2) }]).map_err(err("post RDMA WRITE"))?;
            ctl.expect(ep, 2, WcStatus::REM_ACCESS_ERR, "RDMA WRITE with the invalidated rkey")?;
        }
    }
    finish(ep, role, &mut ctl)
}

/// The server revokes its own window with a local invalidate: the client's RDMA READ through it
/// works before and fails with REM_ACCESS_ERR after; the region then deregisters.
pub fn local_invalidate<E: Endpoint>(ep: &mut E, role: Role, cfg: &Config) -> CaseResult {
    const SIZE: usize = 4096;
    let mut ctl = Ctl::new(ep, cfg)?;
    match role {
        Role::Server => {
            let r = data_region(ep, SIZE, Access::LOCAL_WRITE | Access::MW_BIND, Some(8))?;
            let key = ep.bind_window(7, r, 0, SIZE, Access::REMOTE_READ).map_err(err("bind_window"))?;
            ctl.expect(ep, 7, WcStatus::SUCCESS, "window bind")?;
            ctl.send(ep, &key_msg(&key), SendOp::Send)?;
            let (m, _) = ctl.recv(ep, "first read done")?;
            check!(m == b"READ", "expected READ, got {m:?}");
            let inv = SendWr { wr_id: 8, op: SendOp::LocalInvalidate { rkey: key.rkey }, sges: &[] };
            ep.post_send(&[inv]).map_err(err("post LOCAL_INV"))?;
            let c = ctl.expect(ep, 8, WcStatus::SUCCESS, "local invalidate")?;
            check!(c.opcode == WcOpcode::LOCAL_INV, "local invalidate completion opcode {:?}", c.opcode);
            ctl.send(ep, b"REVOKED", SendOp::Send)?;
            finish(ep, role, &mut ctl)?;
            ep.deregister(r).map_err(err("deregister after the window was invalidated"))
        }
        Role::Client => {
            let (m, _) = ctl.recv(ep, "window key")?;
            let key = parse_key(&m)?;
            let r = data_region(ep, SIZE, Access::LOCAL_WRITE, None)?;
            let sges = [Sge::new(r, 0, SIZE)];
            let read = |wr_id| SendWr { wr_id, op: SendOp::RdmaRead { remote: key.at(0) }, sges: &sges };
            ep.post_send(&[read(1)]).map_err(err("post RDMA READ"))?;
            ctl.expect(ep, 1, WcStatus::SUCCESS, "RDMA READ through the window")?;
            check_pattern(&ep.bytes(r).map_err(err("bytes"))?, 8, "read through the window")?;
            ctl.send(ep, b"READ", SendOp::Send)?;
            let (m, _) = ctl.recv(ep, "revoked")?;
            check!(m == b"REVOKED", "expected REVOKED, got {m:?}");
            ep.post_send(&[read(2)]).map_err(err("post RDMA READ"))?;
            ctl.expect(ep, 2, WcStatus::REM_ACCESS_ERR, "RDMA READ through the invalidated window")?;
            finish(ep, role, &mut ctl)
        }
    }
}

/// Local SGEs outside a region are refused when posting; a remote range past the end of the
/// peer's region fails with REM_ACCESS_ERR and the requests after it flush.
pub fn access_outside_region<E: Endpoint>(ep: &mut E, role: Role, cfg: &Config) -> CaseResult {
    const SIZE: usize = 4096;
    let mut ctl = Ctl::new(ep, cfg)?;
    match role {
        Role::Server => {
            let r = data_region(
                ep,
                SIZE,
                Access::REMOTE_READ | Access::REMOTE_WRITE | Access::LOCAL_WRITE,
                Some(6),
            )?;
            let key = ep.remote_key(r, 0, SIZE).map_err(err("remote_key"))?;
            ctl.send(ep, &key_msg(&key), SendOp::Send)?;
            // The client's failed READ leaves its queue pair in error; it then disconnects.
            ctl.expect_flush(ep)?;
            check_pattern(&ep.bytes(r).map_err(err("bytes"))?, 6, "region after refused access")?;
            return await_disconnected(ep, ctl.timeout);
        }
        Role::Client => {
            let (m, _) = ctl.recv(ep, "key")?;
            let key = parse_key(&m)?;
            let r = data_region(ep, 2 * SIZE, Access::LOCAL_WRITE, None)?;
            let local = ep.post_send(&[SendWr {
                wr_id: 1,
                op: SendOp::RdmaRead { remote: key.at(0) },
                sges: &[Sge::new(r, SIZE + 1, SIZE)],
            }]);
            check!(
                matches!(local, Err(Error::OutOfBounds { .. })),
                "local SGE past the region end was accepted: {local:?}"
            );
            check!(ep.in_flight() == CTL_RECVS, "a refused post left work in flight");
            let wrs = [
                SendWr {
                    wr_id: 2,
                    op: SendOp::RdmaRead { remote: key.at(SIZE as u64 / 2) },
                    sges: &[Sge::new(r, 0, SIZE)],
                },
                SendWr { wr_id: 3, op: SendOp::RdmaRead { remote: key.at(0) }, sges: &[Sge::new(r, 0, 16)] },
            ];
            ep.post_send(&wrs).map_err(err("post RDMA READs"))?;
            ctl.expect(ep, 2, WcStatus::REM_ACCESS_ERR, "RDMA READ past the peer's region")?;
            ctl.expect(ep, 3, WcStatus::WR_FLUSH_ERR, "RDMA READ after the failed one")?;
            check!(
                ep.bytes(r).map_err(err("bytes"))?.iter().all(|&b| b == 0),
                "a refused READ changed local memory"
            );
        }
    }
    finish(ep, role, &mut ctl)
}

/// The client posts a window of RDMA WRITEs and disconnects at once: every request completes
/// (SUCCESS or WR_FLUSH_ERR), receives on both sides flush, and every region deregisters.
pub fn disconnect_mid_transfer<E: Endpoint>(ep: &mut E, role: Role, cfg: &Config) -> CaseResult {
    const N: usize = 32;
    const SIZE: usize = 64 << 10;
    let mut ctl = Ctl::new(ep, cfg)?;
    let r = match role {
        Role::Server => {
            let r = data_region(ep, SIZE * N, Access::LOCAL_WRITE | Access::REMOTE_WRITE, None)?;
            let key = ep.remote_key(r, 0, SIZE * N).map_err(err("remote_key"))?;
            ctl.send(ep, &key_msg(&key), SendOp::Send)?;
            ctl.expect_flush(ep)?;
            r
        }
        Role::Client => {
            let (m, _) = ctl.recv(ep, "key")?;
            let key = parse_key(&m)?;
            let r = data_region(ep, SIZE, Access::NONE, Some(7))?;
            let sges = [Sge::new(r, 0, SIZE)];
            let wrs: Vec<SendWr> = (0..N)
                .map(|i| SendWr {
                    wr_id: i as u64,
                    op: SendOp::RdmaWrite { remote: key.at((i * SIZE) as u64) },
                    sges: &sges,
                })
                .collect();
            ep.post_send(&wrs).map_err(err("post RDMA WRITEs"))?;
            check!(
                matches!(ep.deregister(r), Err(Error::RegionBusy { .. })),
                "deregistered a region under posted writes"
            );
            ep.disconnect().map_err(err("disconnect"))?;
            for i in 0..N {
                let c = ctl.wait(ep, "write after disconnect", |c| c.wr_id == i as u64)?;
                check!(
                    c.status == WcStatus::SUCCESS || c.status == WcStatus::WR_FLUSH_ERR,
                    "write {i} completed with {:?}",
                    c.status
                );
            }
            ctl.expect_flush(ep)?;
            r
        }
    };
    await_disconnected(ep, ctl.timeout)?;
    check!(ep.in_flight() == 0, "{} work requests still in flight after teardown", ep.in_flight());
    ep.deregister(r).map_err(err("deregister after teardown"))?;
    for id in ctl.recv.into_iter().chain([ctl.send]) {
        ep.deregister(id).map_err(err("deregister control buffer"))?;
    }
    Ok(())
}

/// Completions of `d` (any queue pair) until `want` arrived, waiting on its descriptors between.
fn domain_completions<D: Domain>(
    d: &mut D,
    want: usize,
    timeout: Duration,
) -> Result<Vec<QpCompletion>, String> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [QpCompletion::default(); 8];
    while got.len() < want {
        let n = d.poll(&mut buf).map_err(err("domain poll"))?;
        got.extend_from_slice(&buf[..n]);
        if n > 0 {
            continue;
        }
        check!(Instant::now() < deadline, "{} of {want} completions within {timeout:?}: {got:?}", got.len());
        domain_wait(d, deadline)?;
    }
    Ok(got)
}

/// Sleeps on `d`'s descriptors until something may be ready (or 20 ms, or `deadline`).
fn domain_wait<D: Domain>(d: &mut D, deadline: Instant) -> CaseResult {
    if d.arm().map_err(err("arm"))? {
        let mut until = deadline.min(Instant::now() + Duration::from_millis(20));
        if let Some(t) = d.deadline() {
            until = until.min(t);
        }
        wait_readable(&d.fds(), until.saturating_duration_since(Instant::now())).map_err(err("poll(2)"))?;
    }
    d.clear().map_err(err("clear"))
}

/// Waits until every queue pair of `qps` reported `Disconnected`.
fn domain_disconnects<D: Domain>(d: &mut D, qps: &[QpId], timeout: Duration) -> CaseResult {
    let deadline = Instant::now() + timeout;
    let mut left = qps.to_vec();
    while !left.is_empty() {
        match d.poll_event().map_err(err("poll_event"))? {
            Some((id, QpEvent::Disconnected)) => left.retain(|q| *q != id),
            Some((id, ev)) => check!(!left.contains(&id), "{id}: {ev:?} while waiting for its disconnect"),
            None => {
                check!(Instant::now() < deadline, "no disconnect of {left:?} within {timeout:?}");
                domain_wait(d, deadline)?;
            }
        }
    }
    Ok(())
}

/// The message each side sends on queue pair `i`: who, which queue pair, and a pattern.
fn qp_message(role: Role, i: usize) -> Vec<u8> {
    let mut m = vec![0u8; 512 + 100 * i];
    pattern(&mut m, 20 + i as u8 + if role == Role::Server { 10 } else { 0 });
    m[..2].copy_from_slice(&[if role == Role::Server { b'S' } else { b'C' }, i as u8]);
    m
}

/// The client's second queue pair asks like Linux cifs.ko: it issues no RDMA READs (initiator
/// depth 0) and serves 4, so the server may issue 4 and must serve none.
const SECOND_QP_OPTIONS: EndpointOptions =
    EndpointOptions { max_send_wr: 128, max_recv_wr: 128, responder_resources: 4, initiator_depth: 0 };

/// Two queue pairs on each side's one domain (one PD, one CQ): SENDs on both ways of both arrive
/// with the right bytes, and every completion comes tagged with the queue pair it belongs to.
/// Then the client disconnects both, both sides see each disconnect, and a destroyed queue pair's
/// id is refused while the other's stays valid. The second queue pair settles the RDMA READ
/// depths of [`SECOND_QP_OPTIONS`].
pub fn two_queue_pairs_one_domain<D: Domain>(
    ep: &mut DomainEndpoint<D>,
    extra: QpId,
    role: Role,
    cfg: &Config,
) -> CaseResult {
    const BUF: usize = 4096;
    let qps = [ep.qp(), extra];
    check!(qps[0] != qps[1], "the second queue pair has the first one's id {}", qps[0]);
    let t = cfg.op_timeout;
    let d = ep.domain();
    // The settled RDMA READ depths: each side issues no more than the other serves.
    let depth = d.initiator_depth(qps[1]).map_err(err("initiator_depth"))?;
    let want = match role {
        Role::Server => SECOND_QP_OPTIONS.responder_resources.min(EndpointOptions::default().initiator_depth),
        Role::Client => 0,
    };
    check!(depth <= want, "second queue pair: initiator depth {depth}, the peer serves {want}");
    check!(role == Role::Client || depth > 0, "second queue pair: initiator depth 0, the peer serves {want}");
    let rx = d.register(2 * BUF, Access::LOCAL_WRITE).map_err(err("register receive buffer"))?;
    let tx = d.register(2 * BUF, Access::NONE).map_err(err("register send buffer"))?;
    for (i, qp) in qps.iter().enumerate() {
        let sge = [Sge::new(rx, i * BUF, BUF)];
        d.post_recv(*qp, &[RecvWr { wr_id: 10 + i as u64, sges: &sge }]).map_err(err("post_recv"))?;
        let m = qp_message(role, i);
        d.bytes(tx).map_err(err("bytes"))?[i * BUF..i * BUF + m.len()].copy_from_slice(&m);
    }
    let send = |d: &mut D| -> CaseResult {
        // The second queue pair first, so an attribution by posting order would show.
        for i in [1, 0] {
            let m = qp_message(role, i);
            let sge = [Sge::new(tx, i * BUF, m.len())];
            d.post_send(qps[i], &[SendWr { wr_id: 20 + i as u64, op: SendOp::Send, sges: &sge }])
                .map_err(err("post_send"))?;
        }
        Ok(())
    };
    // The server answers what it received; the client sends first.
    let peer = if role == Role::Server { Role::Client } else { Role::Server };
    if role == Role::Client {
        send(d)?;
    }
    let mut got = domain_completions(d, if role == Role::Client { 4 } else { 2 }, t)?;
    if role == Role::Server {
        send(d)?;
        got.extend(domain_completions(d, 2, t)?);
    }
    for c in &got {
        let Some(qp) = c.qp else { return Err(format!("completion without a queue pair: {c:?}")) };
        let i =
            qps.iter().position(|q| *q == qp).ok_or_else(|| format!("completion of unknown {qp}: {c:?}"))?;
        let c = c.completion;
        check!(c.status == WcStatus::SUCCESS, "{qp}: {c:?}");
        match c.opcode {
            WcOpcode::RECV => {
                check!(c.wr_id == 10 + i as u64, "{qp} (#{i}) reports the receive {} of another", c.wr_id);
                let want = qp_message(peer, i);
                check!(
                    c.byte_len as usize == want.len(),
                    "{qp}: received {} bytes, sent {}",
                    c.byte_len,
                    want.len()
                );
                let bytes = d.bytes(rx).map_err(err("bytes"))?;
                let msg = &bytes[i * BUF..i * BUF + want.len()];
                check!(
                    msg == &want[..],
                    "{qp} (#{i}) received {:?}..., the message of #{}",
                    &msg[..2],
                    msg[1]
                );
            }
            WcOpcode::SEND => {
                check!(c.wr_id == 20 + i as u64, "{qp} (#{i}) reports the send {} of another", c.wr_id)
            }
            other => return Err(format!("{qp}: unexpected opcode {other:?}")),
        }
    }
    for qp in qps {
        check!(d.in_flight(qp) == 0, "{qp}: {} work requests still in flight", d.in_flight(qp));
    }
    if role == Role::Client {
        d.disconnect(qps[1]).map_err(err("disconnect the second queue pair"))?;
        d.disconnect(qps[0]).map_err(err("disconnect the first queue pair"))?;
    }
    domain_disconnects(d, &qps, t)?;
    d.destroy(qps[1]).map_err(err("destroy the second queue pair"))?;
    let stale = d.post_recv(qps[1], &[RecvWr { wr_id: 1, sges: &[Sge::new(rx, 0, BUF)] }]);
    check!(
        matches!(stale, Err(Error::UnknownQp(q)) if q == qps[1]),
        "a destroyed queue pair took a post: {stale:?}"
    );
    d.initiator_depth(qps[0]).map_err(err("the first queue pair after the second was destroyed"))?;
    Ok(())
}

/// Like an SMB2 WRITE over SMB Direct: the client grants a window exactly over a pool lease holding
/// the payload; the server RDMA READs it into a lease of its own in two parts (`lease_sge`: one
/// registration per pool batch, none per I/O), then revokes the window with SEND_WITH_INVALIDATE,
/// which the client's receive reports; a replayed READ fails with REM_ACCESS_ERR.
pub fn rdma_read_into_lease<D: Domain>(ep: &mut DomainEndpoint<D>, role: Role, cfg: &Config) -> CaseResult {
    const LEN: usize = 100_000;
    let pool = iobuf::Pool::new(&iobuf::PoolConfig {
        classes: vec![iobuf::ClassConfig { size: 128 << 10, per_batch: 4, max_batches: 2 }],
    });
    // A lease taken first, so the one used lies at an offset inside its batch.
    let _first = pool.take(1).map_err(|e| format!("pool: {e}"))?;
    let mut ctl = Ctl::new(ep, cfg)?;
    match role {
        Role::Client => {
            let mut payload = pool.take(LEN).map_err(|e| format!("pool: {e}"))?;
            pattern(&mut payload, 9);
            let qp = ep.qp();
            let sge = ep.domain().lease_sge(&payload, 0, LEN).map_err(err("lease_sge"))?;
            let key = ep.domain().bind_window(qp, 7, sge, Access::REMOTE_READ).map_err(err("bind_window"))?;
            ctl.expect(ep, 7, WcStatus::SUCCESS, "window bind over the lease")?;
            ctl.send(ep, &key_msg(&key), SendOp::Send)?;
            let (m, c) = ctl.recv(ep, "invalidating send")?;
            check!(m == b"DONE", "expected DONE, got {m:?}");
            check!(
                c.invalidated_rkey == Some(key.rkey),
                "receive reports invalidated rkey {:?}, expected {:#x}",
                c.invalidated_rkey,
                key.rkey
            );
            ctl.send(ep, b"ACK", SendOp::Send)?;
            // The server's replayed READ fails; it disconnects.
            ctl.expect_flush(ep)?;
        }
        Role::Server => {
            let (m, _) = ctl.recv(ep, "window key")?;
            let key = parse_key(&m)?;
            check!(key.len == LEN as u64, "the window covers {} bytes, expected {LEN}", key.len);
            let mut dst = pool.take(LEN).map_err(|e| format!("pool: {e}"))?;
            dst.fill(0);
            const HALF: usize = LEN / 2;
            let d = ep.domain();
            let a = d.lease_sge(&dst, 0, HALF).map_err(err("lease_sge"))?;
            let b = d.lease_sge(&dst, HALF, LEN - HALF).map_err(err("lease_sge"))?;
            check!(a.region == b.region, "one batch, two registrations: {} and {}", a.region, b.region);
            check!(a.offset > 0, "the lease lies at offset {} of its batch", a.offset);
            let beyond = d.lease_sge(&dst, dst.capacity() - 1, 2);
            check!(matches!(beyond, Err(Error::OutOfBounds { .. })), "an SGE past the lease: {beyond:?}");
            let (sa, sb) = ([a], [b]);
            let read = |wr_id, at: usize, sges| SendWr {
                wr_id,
                op: SendOp::RdmaRead { remote: key.at(at as u64) },
                sges,
            };
            ep.post_send(&[read(1, 0, &sa), read(2, HALF, &sb)]).map_err(err("post RDMA READs"))?;
            for wr_id in [1, 2] {
                let c = ctl.expect(ep, wr_id, WcStatus::SUCCESS, "RDMA READ into the lease")?;
                check!(c.opcode == WcOpcode::RDMA_READ, "opcode {:?}", c.opcode);
            }
            check_pattern(&dst[..LEN], 9, "lease read through the window")?;
            ctl.send(ep, b"DONE", SendOp::SendWithInvalidate { rkey: key.rkey })?;
            let (m, _) = ctl.recv(ep, "ack")?;
            check!(m == b"ACK", "expected ACK, got {m:?}");
            ep.post_send(&[read(3, 0, &sa)]).map_err(err("post RDMA READ"))?;
            ctl.expect(ep, 3, WcStatus::REM_ACCESS_ERR, "RDMA READ through the invalidated window")?;
            ep.disconnect().map_err(err("disconnect"))?;
            ctl.expect_flush(ep)?;
        }
    }
    await_disconnected(ep, ctl.timeout)
}

/// One case's result line.
pub struct Outcome {
    pub name: &'static str,
    pub result: CaseResult,
}

/// Runs one case's role on a connected endpoint; a two-queue-pair case first gets its second queue
/// pair (`extra` makes it).
fn run_role<D: Domain>(
    case: Case<DomainEndpoint<D>>,
    ep: &mut DomainEndpoint<D>,
    role: Role,
    cfg: &Config,
    extra: impl FnOnce(&mut DomainEndpoint<D>) -> Result<(QpId, Vec<u8>), Error>,
) -> CaseResult {
    match case.run {
        Run::One(f) => f(ep, role, cfg),
        Run::Two(f) => {
            let (qp, data) = extra(ep).map_err(err("second queue pair"))?;
            let want = match role {
                Role::Server => CONNECT_DATA,
                Role::Client => ACCEPT_DATA,
            };
            check!(data.starts_with(want), "second queue pair: peer private data {data:?}");
            f(ep, qp, role, cfg)
        }
    }
}

/// Runs the server role of every case selected by `filter` (substring; empty: all), accepting
/// one connection per case (two for a two-queue-pair case) on one listener.
pub fn run_server<P: DomainProvider>(
    p: &P,
    addr: SocketAddr,
    filter: &str,
    cfg: &Config,
) -> Result<Vec<Outcome>, Error> {
    let mut listener = Blocking(p.clone()).listen(addr, EndpointOptions::default())?;
    let mut out = Vec::new();
    for (i, case) in cases::<P::Domain>().into_iter().enumerate().filter(|(_, c)| c.name.contains(filter)) {
        let result = listener
            .accept(ACCEPT_DATA, cfg.connect_timeout)
            .map_err(|e| format!("accept: {e}"))
            .and_then(|mut ep| {
                let data = ep.peer_private_data();
                let want = [CONNECT_DATA, &[i as u8]].concat();
                check!(data.starts_with(&want), "client runs another case (private data {data:?})");
                run_role(case, &mut ep, Role::Server, cfg, |ep| {
                    listener.accept_into(ep, ACCEPT_DATA, cfg.connect_timeout)
                })
            });
        out.push(Outcome { name: case.name, result });
    }
    Ok(out)
}

/// Runs the client role of every case selected by `filter`, one connection per case.
pub fn run_client<P: DomainProvider>(p: &P, addr: SocketAddr, filter: &str, cfg: &Config) -> Vec<Outcome> {
    let p = Blocking(p.clone());
    let mut out = Vec::new();
    for (i, case) in cases::<P::Domain>().into_iter().enumerate().filter(|(_, c)| c.name.contains(filter)) {
        let data = [CONNECT_DATA, &[i as u8]].concat();
        let result = connect_retrying(&p, addr, &data, cfg).and_then(|mut ep| {
            run_role(case, &mut ep, Role::Client, cfg, |ep| {
                ep.connect_another(addr, SECOND_QP_OPTIONS, &data, cfg.connect_timeout)
            })
        });
        out.push(Outcome { name: case.name, result });
    }
    out
}

/// Connects, retrying while the server is not listening yet (or still tearing down the last case).
fn connect_retrying<P: Provider>(
    p: &P,
    addr: SocketAddr,
    data: &[u8],
    cfg: &Config,
) -> Result<P::Endpoint, String> {
    let deadline = Instant::now() + cfg.connect_timeout;
    loop {
        match p.connect(addr, EndpointOptions::default(), data, cfg.connect_timeout) {
            Ok(ep) => return Ok(ep),
            Err(e) if Instant::now() < deadline && matches!(e, Error::ConnectFailed { .. }) => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(format!("connect: {e}")),
        }
    }
}

/// Runs one case with both roles over a fresh connection of `p` (server role on another thread).
pub fn run_pair<P: DomainProvider>(
    p: &P,
    addr: SocketAddr,
    case: Case<DomainEndpoint<P::Domain>>,
    cfg: &Config,
) -> (CaseResult, CaseResult) {
    let p = Blocking(p.clone());
    let mut listener = p.listen(addr, EndpointOptions::default()).expect("listen");
    let cfg2 = *cfg;
    let server = std::thread::spawn(move || {
        let mut ep =
            listener.accept(ACCEPT_DATA, cfg2.connect_timeout).map_err(|e| format!("accept: {e}"))?;
        run_role(case, &mut ep, Role::Server, &cfg2, |ep| {
            listener.accept_into(ep, ACCEPT_DATA, cfg2.connect_timeout)
        })
    });
    let client = p
        .connect(addr, EndpointOptions::default(), CONNECT_DATA, cfg.connect_timeout)
        .map_err(|e| format!("connect: {e}"))
        .and_then(|mut ep| {
            run_role(case, &mut ep, Role::Client, cfg, |ep| {
                ep.connect_another(addr, SECOND_QP_OPTIONS, CONNECT_DATA, cfg.connect_timeout)
            })
        });
    let server = server.join().unwrap_or_else(|_| Err("server role panicked".into()));
    (server, client)
}

/// Prints one line per case and a cargo-style summary; returns the number of failures.
pub fn report(role: &str, outcomes: &[Outcome]) -> usize {
    let mut failed = 0;
    for o in outcomes {
        match &o.result {
            Ok(()) => println!("conformance {role} {} ... ok", o.name),
            Err(e) => {
                failed += 1;
                println!("conformance {role} {} ... FAILED: {e}", o.name);
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "test result: {verdict}. {} passed; {failed} failed; 0 ignored (rdma-conformance {role})",
        outcomes.len() - failed
    );
    failed
}
