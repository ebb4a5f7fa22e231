//! SMB Direct channels on the reactors, over the in-process loopback RDMA provider: the same
//! handlers as over TCP, messages fragmented and reassembled by MS-SMBD, credits that never run out
//! under a pipelined load, and closes from either side. (The loopback provider is for correctness;
//! it says nothing about RDMA performance.)

mod common;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use common::*;
use crossbeam_channel::{Receiver, Sender};
use engine::rdma::RdmaSettings;
use engine::{Connection, Engine, EngineConfig, Flow, Outbox, PeerInfo, PollMode, Transport};
use rdma_verbs::loopback::Fabric;

const ADDR: &str = "10.9.0.1:445";

fn rdma_config(fabric: &Fabric, reactors: usize, poll: PollMode, listen: bool) -> EngineConfig {
    let mut r = RdmaSettings::new(Arc::new(fabric.clone()));
    if listen {
        r.listen = vec![ADDR.parse().unwrap()];
    }
    EngineConfig { rdma: Some(r), ..config(reactors, poll) }
}

/// An echo server reachable over RDMA only.
fn rdma_echo_server(fabric: &Fabric, poll: PollMode) -> (Engine, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let engine =
        Engine::start(vec![], Arc::new(EchoFactory(seen.clone())), rdma_config(fabric, 2, poll, true))
            .unwrap();
    assert_eq!(engine.local_rdma_addrs(), vec![ADDR.parse().unwrap()]);
    (engine, seen)
}

/// A client handler that sends `script` (all at once, pipelined) and reports each answer, the
/// transport it was started on, and its close.
struct Script {
    script: Vec<Vec<u8>>,
    tx: Sender<Vec<u8>>,
    close_after: usize,
    answers: usize,
}

impl Connection for Script {
    fn on_start(&mut self, out: &mut Outbox) -> Flow {
        for m in &self.script {
            out.push(m);
        }
        Flow::Continue
    }
    fn on_message(&mut self, msg: &mut [u8], _out: &mut Outbox) -> Flow {
        self.tx.send(msg.to_vec()).unwrap();
        self.answers += 1;
        if self.answers == self.close_after {
            Flow::Close
        } else {
            Flow::Continue
        }
    }
    fn on_close(&mut self) {
        self.tx.send(b"closed".to_vec()).unwrap();
    }
}

fn client(fabric: &Fabric, poll: PollMode) -> Engine {
    let factory = Arc::new(|_peer: &PeerInfo, _reactor| -> Box<dyn Connection> {
        unreachable!("a client has no listeners")
    });
    Engine::start(vec![], factory, rdma_config(fabric, 1, poll, false)).unwrap()
}

fn run_script(client: &Engine, script: Vec<Vec<u8>>, close_after: usize) -> Receiver<Vec<u8>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let conn = Script { script, tx, close_after, answers: 0 };
    client.connect_rdma(ADDR.parse().unwrap(), Box::new(conn)).unwrap();
    rx
}

#[test]
fn messages_of_every_size_echo_over_smb_direct_in_every_poll_mode() {
    for poll in [PollMode::Busy, PollMode::default(), PollMode::Interrupt] {
        let fabric = Fabric::new();
        let (server, seen) = rdma_echo_server(&fabric, poll);
        let client = client(&fabric, poll);
        // One byte, one fragment exactly, just over one fragment, many fragments, 1 MiB (the
        // largest message MS-SMBD reassembles by default).
        let sizes = [1usize, 1340, 1341, 200_000, 1 << 20];
        let script: Vec<Vec<u8>> =
            sizes.iter().map(|&n| (0..n).map(|i| (i * 7 + n) as u8).collect()).collect();
        let rx = run_script(&client, script.clone(), sizes.len());
        for (k, want) in script.iter().enumerate() {
            let got = rx.recv_timeout(TIMEOUT).unwrap_or_else(|e| panic!("{poll:?}, message {k}: {e}"));
            assert_eq!(got.len(), want.len(), "{poll:?}");
            assert!(got == *want, "{poll:?}: a {}-byte message came back changed", want.len());
        }
        assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"closed");
        eventually("the server sees the disconnect", || seen.closed.load(SeqCst) == 1);
        assert_eq!(seen.messages.load(SeqCst), sizes.len());
        client.shutdown().unwrap();
        server.shutdown().unwrap();
    }
}

#[test]
fn a_thousand_pipelined_messages_never_run_out_of_credits() {
    let fabric = Fabric::new();
    let (server, seen) = rdma_echo_server(&fabric, PollMode::default());
    let client = client(&fabric, PollMode::default());
    // Four times the 255 credits each way, sent before any answer comes back.
    let script: Vec<Vec<u8>> = (0..1000u32).map(|i| format!("message {i}").into_bytes()).collect();
    let rx = run_script(&client, script.clone(), script.len());
    for want in &script {
        assert_eq!(&rx.recv_timeout(TIMEOUT).unwrap(), want);
    }
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"closed");
    eventually("server closed", || seen.closed.load(SeqCst) == 1);
    client.shutdown().unwrap();
    server.shutdown().unwrap();
}

#[test]
fn the_server_closing_reaches_the_client_and_the_factory_learns_the_transport() {
    let fabric = Fabric::new();
    let seen = Arc::new(Seen::default());
    let (tx, transports) = crossbeam_channel::unbounded();
    let inner = EchoFactory(seen.clone());
    let factory = Arc::new(move |peer: &PeerInfo, reactor| {
        tx.send(peer.transport).unwrap();
        engine::ConnectionFactory::accept(&inner, peer, reactor)
    });
    let server = Engine::start(vec![], factory, rdma_config(&fabric, 1, PollMode::default(), true)).unwrap();
    let client = client(&fabric, PollMode::default());
    // `bye` makes the echo handler answer and close.
    let rx = run_script(&client, vec![b"hello".to_vec(), b"bye".to_vec()], usize::MAX);
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"hello");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"goodbye");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"closed", "the client sees the server's disconnect");
    match transports.recv_timeout(TIMEOUT).unwrap() {
        Transport::Rdma(limits) => assert_eq!(limits.max_read_write, 8 << 20),
        Transport::Tcp => panic!("an SMB Direct connection was announced as TCP"),
    }
    eventually("server closed", || seen.closed.load(SeqCst) == 1);
    client.shutdown().unwrap();
    server.shutdown().unwrap();
}

#[test]
fn connecting_where_nobody_listens_closes_the_handler() {
    let fabric = Fabric::new();
    let client = client(&fabric, PollMode::default());
    let rx = run_script(&client, vec![b"hello".to_vec()], 1);
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"closed");
    client.shutdown().unwrap();
    let tcp_only =
        Engine::start(vec![], Arc::new(EchoFactory(Arc::default())), config(1, PollMode::default())).unwrap();
    let (tx, _rx) = crossbeam_channel::unbounded();
    let conn = Script { script: vec![], tx, close_after: 1, answers: 0 };
    let err = tcp_only.connect_rdma(ADDR.parse().unwrap(), Box::new(conn)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported, "{err}");
    tcp_only.shutdown().unwrap();
}

// ------------------------------------------------------------------------------------------------
// RDMA data movement: a client grants windows over leases, the server RDMA-writes into them and
// RDMA-reads from them, the response invalidates the window, a replayed token is refused.

use engine::rdma::{Access, RdmaCtx};
use smb_wire::smbd::BufferDescriptorV1;

fn desc_bytes(d: &BufferDescriptorV1) -> Vec<u8> {
    let mut b = d.offset.to_le_bytes().to_vec();
    b.extend_from_slice(&d.token.to_le_bytes());
    b.extend_from_slice(&d.length.to_le_bytes());
    b
}

fn parse_desc(b: &[u8]) -> BufferDescriptorV1 {
    BufferDescriptorV1 {
        offset: u64::from_le_bytes(b[..8].try_into().unwrap()),
        token: u32::from_le_bytes(b[8..12].try_into().unwrap()),
        length: u32::from_le_bytes(b[12..16].try_into().unwrap()),
    }
}

fn pattern(i: usize) -> u8 {
    (i * 31 % 251) as u8
}

/// Server: `W` + descriptor: RDMA-write the pattern into it, answer `written` invalidating the
/// token; `N` + descriptor: the same without invalidating; `R` + descriptor: RDMA-read it, answer
/// with the sum of the bytes read.
struct DataServer;

impl Connection for DataServer {
    fn on_message(&mut self, msg: &mut [u8], out: &mut Outbox) -> Flow {
        let d = parse_desc(&msg[1..17]);
        let len = d.length as usize;
        match msg[0] {
            b'W' | b'N' => {
                let mut data = out.lease(len).expect("a lease");
                for (i, b) in data.iter_mut().enumerate() {
                    *b = pattern(i);
                }
                out.rdma_write(data, len, &[d]);
                if msg[0] == b'W' {
                    out.push_parts_invalidating(&[b"written"], d.token);
                } else {
                    out.push(b"written, not invalidated");
                }
            }
            b'R' => {
                let into = out.lease(len).expect("a lease");
                out.rdma_read(7, into, len, &[d]);
            }
            _ => return Flow::Close,
        }
        Flow::Continue
    }

    fn on_rdma_done(&mut self, token: u64, result: Result<iobuf::Lease, String>, out: &mut Outbox) -> Flow {
        assert_eq!(token, 7);
        let lease = result.expect("the RDMA READ worked");
        let sum: u64 = lease.iter().map(|&b| u64::from(b)).sum();
        out.push(format!("sum {sum}").as_bytes());
        Flow::Continue
    }
}

/// Client: runs the steps below and reports what it saw on `tx`.
struct DataClient {
    tx: Sender<String>,
    len: usize,
    step: u32,
    lease: Option<iobuf::Lease>,
    token: u32,
    /// The first window's token, invalidated by the server's first response.
    first: Option<BufferDescriptorV1>,
}

impl Connection for DataClient {
    fn on_start(&mut self, out: &mut Outbox) -> Flow {
        out.push(b"hello");
        Flow::Continue
    }

    fn on_message(&mut self, _msg: &mut [u8], _out: &mut Outbox) -> Flow {
        unreachable!("an SMB Direct connection delivers through on_rdma_message")
    }

    fn on_rdma_message(
        &mut self,
        msg: &mut [u8],
        inv: Option<u32>,
        rdma: &mut RdmaCtx<'_>,
        out: &mut Outbox,
    ) -> Flow {
        let report = |s: String| self.tx.send(s).unwrap();
        match self.step {
            0 => {
                // The echo of hello: grant a window for the server to write into.
                assert_eq!(msg, b"hello");
                let lease = out.lease(self.len).unwrap();
                let d = rdma.grant(&lease, 0, self.len, Access::REMOTE_WRITE).unwrap();
                self.token = d.token;
                self.first = Some(d);
                self.lease = Some(lease);
                out.push(&[b"W".as_slice(), &desc_bytes(&d)].concat());
            }
            1 => {
                assert_eq!(msg, b"written");
                report(format!("invalidated {}", inv == Some(self.token)));
                let lease = self.lease.take().unwrap();
                report(format!("pattern {}", lease.iter().enumerate().all(|(i, &b)| b == pattern(i))));
                // Now a window the server reads from, over the same bytes.
                let d = rdma.grant(&lease, 0, self.len, Access::REMOTE_READ).unwrap();
                self.lease = Some(lease);
                out.push(&[b"R".as_slice(), &desc_bytes(&d)].concat());
            }
            2 => {
                let want: u64 = (0..self.len).map(|i| u64::from(pattern(i))).sum();
                report(format!("{} {}", String::from_utf8_lossy(msg), want));
                // The READ response did not invalidate the read window: revoke it ourselves.
                report(format!("read window invalidated {}", inv.is_some()));
                let lease = self.lease.take().unwrap();
                let d = rdma.grant(&lease, 0, self.len, Access::REMOTE_WRITE).unwrap();
                self.token = d.token;
                out.push(&[b"N".as_slice(), &desc_bytes(&d)].concat());
                self.lease = Some(lease);
            }
            3 => {
                assert_eq!(msg, b"written, not invalidated");
                report(format!("invalidated {}", inv.is_some()));
                let lease = self.lease.take().unwrap();
                out.rdma_revoke(9, self.token, lease);
            }
            4 => {
                assert_eq!(msg, b"written");
                report(format!("replay answered, invalidated {}", inv == Some(self.token)));
            }
            _ => {}
        }
        self.step += 1;
        Flow::Continue
    }

    fn on_rdma_done(&mut self, token: u64, result: Result<iobuf::Lease, String>, out: &mut Outbox) -> Flow {
        assert_eq!(token, 9);
        let lease = result.expect("the local invalidate worked");
        self.tx.send(format!("revoked, buffer back {}", lease.len() == self.len)).unwrap();
        // Replay the first, invalidated token: this side's device refuses the server's RDMA WRITE
        // (REM_ACCESS_ERR at the server), which costs the server that connection.
        self.lease = Some(lease);
        let d = self.first.expect("granted in step 0");
        out.push(&[b"W".as_slice(), &desc_bytes(&d)].concat());
        Flow::Continue
    }

    fn on_close(&mut self) {
        self.tx.send("closed".into()).unwrap();
    }
}

#[test]
fn rdma_writes_land_before_the_response_reads_pull_and_windows_are_revoked() {
    let fabric = Fabric::new();
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    // The server echoes `hello`, then serves data requests.
    let factory = Arc::new(move |_p: &PeerInfo, _r| -> Box<dyn Connection> {
        struct First(Arc<Seen>, bool, DataServer);
        impl Connection for First {
            fn on_message(&mut self, msg: &mut [u8], out: &mut Outbox) -> Flow {
                if !self.1 {
                    self.1 = true;
                    out.push(msg);
                    return Flow::Continue;
                }
                self.2.on_message(msg, out)
            }
            fn on_rdma_done(&mut self, t: u64, r: Result<iobuf::Lease, String>, out: &mut Outbox) -> Flow {
                self.2.on_rdma_done(t, r, out)
            }
            fn on_close(&mut self) {
                self.0.closed.fetch_add(1, SeqCst);
            }
        }
        Box::new(First(seen2.clone(), false, DataServer))
    });
    let server = Engine::start(vec![], factory, rdma_config(&fabric, 1, PollMode::default(), true)).unwrap();
    let client = client(&fabric, PollMode::default());
    let (tx, rx) = crossbeam_channel::unbounded();
    let len = 3 << 20;
    let conn = DataClient { tx, len, step: 0, lease: None, token: 0, first: None };
    client.connect_rdma(ADDR.parse().unwrap(), Box::new(conn)).unwrap();
    let next = || rx.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(next(), "invalidated true", "the response's SEND_WITH_INVALIDATE named the window");
    assert_eq!(next(), "pattern true", "the data was placed before the response arrived");
    let want: u64 = (0..len).map(|i| u64::from(pattern(i))).sum();
    assert_eq!(next(), format!("sum {want} {want}"), "the server pulled the client's bytes");
    assert_eq!(next(), "read window invalidated false");
    assert_eq!(next(), "invalidated false");
    assert_eq!(next(), "revoked, buffer back true");
    assert_eq!(next(), "closed", "a replayed token is refused and the server drops the connection");
    eventually("the server closed it", || seen.closed.load(SeqCst) == 1);
    client.shutdown().unwrap();
    server.shutdown().unwrap();
}

/// Client: grants a window to read and asks the server to RDMA READ it, once `hello` came back.
struct PullMe {
    tx: Sender<String>,
    lease: Option<iobuf::Lease>,
}

impl Connection for PullMe {
    fn on_start(&mut self, out: &mut Outbox) -> Flow {
        out.push(b"hello");
        Flow::Continue
    }
    fn on_message(&mut self, _msg: &mut [u8], _out: &mut Outbox) -> Flow {
        unreachable!("an SMB Direct connection delivers through on_rdma_message")
    }
    fn on_rdma_message(
        &mut self,
        msg: &mut [u8],
        _: Option<u32>,
        rdma: &mut RdmaCtx<'_>,
        out: &mut Outbox,
    ) -> Flow {
        self.tx.send(String::from_utf8_lossy(msg).into_owned()).unwrap();
        let lease = out.lease(4096).unwrap();
        let d = rdma.grant(&lease, 0, 4096, Access::REMOTE_READ).unwrap();
        self.lease = Some(lease);
        out.push(&[b"R".as_slice(), &desc_bytes(&d)].concat());
        Flow::Continue
    }
    fn on_close(&mut self) {
        self.tx.send("closed".into()).unwrap();
    }
}

#[test]
fn an_rdma_read_from_a_peer_that_serves_none_fails_only_its_connection() {
    let fabric = Fabric::new();
    let (depth_tx, depth_rx) = crossbeam_channel::unbounded();
    let factory = Arc::new(move |_p: &PeerInfo, _r| -> Box<dyn Connection> {
        struct Server(Sender<u8>, bool, DataServer);
        impl Connection for Server {
            fn on_transport(&mut self, peer: &PeerInfo) {
                if let Transport::Rdma(l) = peer.transport {
                    self.0.send(l.initiator_depth).unwrap();
                }
            }
            fn on_message(&mut self, msg: &mut [u8], out: &mut Outbox) -> Flow {
                if !std::mem::replace(&mut self.1, true) {
                    out.push(msg);
                    return Flow::Continue;
                }
                self.2.on_message(msg, out)
            }
            fn on_rdma_done(&mut self, _: u64, r: Result<iobuf::Lease, String>, _: &mut Outbox) -> Flow {
                panic!("an RDMA READ the peer does not serve completed: {:?}", r.map(|l| l.len()));
            }
        }
        Box::new(Server(depth_tx.clone(), false, DataServer))
    });
    let server = Engine::start(vec![], factory, rdma_config(&fabric, 1, PollMode::default(), true)).unwrap();
    // Like Linux cifs.ko the other way round: this client serves no RDMA READs.
    let mut cfg = rdma_config(&fabric, 1, PollMode::default(), false);
    cfg.rdma.as_mut().unwrap().responder_resources = 0;
    let no_factory = Arc::new(|_: &PeerInfo, _| -> Box<dyn Connection> { unreachable!("no listeners") });
    let client = Engine::start(vec![], no_factory, cfg).unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    client.connect_rdma(ADDR.parse().unwrap(), Box::new(PullMe { tx, lease: None })).unwrap();
    assert_eq!(depth_rx.recv_timeout(TIMEOUT).unwrap(), 0, "the server may issue no RDMA READs");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "hello");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "closed", "the server gave up the connection");
    client.shutdown().unwrap();
    server.shutdown().unwrap();
}
