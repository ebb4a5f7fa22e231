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
