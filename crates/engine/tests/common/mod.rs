//! Shared pieces of the loopback tests: handlers that count what happens to them, and a blocking
//! Direct TCP client with timeouts so that no test can hang.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::{Connection, ConnectionFactory, Engine, EngineConfig, Flow, Outbox, PollMode};

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// What the server's handlers saw, across all connections.
#[derive(Default)]
pub struct Seen {
    pub accepted: AtomicUsize,
    pub messages: AtomicUsize,
    pub closed: AtomicUsize,
    /// Largest `Outbox::queued_bytes` right after a handler queued its answer.
    pub max_queued: AtomicUsize,
    pub reactors: Mutex<BTreeSet<usize>>,
    /// `owned:N` answers built in a buffer the outbox gave back.
    pub reclaimed: AtomicUsize,
}

/// The decimal number at `m[at..]`, up to the first non-digit.
fn number_after(m: &[u8], at: usize) -> usize {
    let digits = m[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&m[at..at + digits]).unwrap().parse().unwrap()
}

/// Echoes every message; answers `bye` with `goodbye` and closes; `panic` panics; `big:N` (then any
/// non-digit padding) answers N bytes built in place with `reserve`; `owned:N` answers the same from
/// a buffer handed over with `push_owned`.
pub struct Echo {
    pub seen: Arc<Seen>,
}

impl Connection for Echo {
    fn on_message(&mut self, msg: &mut [u8], out: &mut Outbox) -> Flow {
        self.seen.messages.fetch_add(1, SeqCst);
        let flow = match &*msg {
            b"bye" => {
                out.push(b"goodbye");
                Flow::Close
            }
            b"panic" => panic!("handler asked to panic"),
            m if m.starts_with(b"big:") => {
                out.reserve(number_after(m, 4)).fill(0x5A);
                Flow::Continue
            }
            m if m.starts_with(b"owned:") => {
                // N bytes of 0x5A in a buffer of the handler's (a reclaimed one when there is one),
                // behind 3 bytes that are not sent.
                let n = number_after(m, 6);
                let mut buf = out.reclaim().unwrap_or_default();
                self.seen.reclaimed.fetch_add(usize::from(!buf.is_empty()), SeqCst);
                buf.clear();
                buf.resize(3 + n, 0x5A);
                buf[..3].fill(0xEE);
                out.push_owned(buf, 3..3 + n);
                Flow::Continue
            }
            _ => {
                out.reserve(msg.len()).copy_from_slice(msg);
                Flow::Continue
            }
        };
        self.seen.max_queued.fetch_max(out.queued_bytes(), SeqCst);
        flow
    }

    fn on_close(&mut self) {
        self.seen.closed.fetch_add(1, SeqCst);
    }
}

pub struct EchoFactory(pub Arc<Seen>);

impl ConnectionFactory for EchoFactory {
    fn accept(&self, _peer: &engine::PeerInfo, reactor: usize) -> Box<dyn Connection> {
        self.0.accepted.fetch_add(1, SeqCst);
        self.0.reactors.lock().unwrap().insert(reactor);
        Box::new(Echo { seen: self.0.clone() })
    }
}

pub fn config(reactors: usize, poll: PollMode) -> EngineConfig {
    EngineConfig { reactors, pin: false, poll, ..EngineConfig::default() }
}

/// An echo server on a loopback port.
pub fn echo_server(cfg: EngineConfig) -> (Engine, SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let engine = Engine::start(vec![listener], Arc::new(EchoFactory(seen.clone())), cfg).unwrap();
    let addr = engine.local_addrs()[0];
    (engine, addr, seen)
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

pub fn frame(msg: &[u8]) -> Vec<u8> {
    let mut v = smb_wire::framing::frame_prefix(msg.len()).unwrap().to_vec();
    v.extend_from_slice(msg);
    v
}

pub fn send(s: &mut TcpStream, msg: &[u8]) {
    s.write_all(&frame(msg)).unwrap();
}

pub fn recv(s: &mut TcpStream) -> Vec<u8> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).unwrap();
    assert_eq!(prefix[0], 0, "server sent a bad prefix");
    let len = usize::from(prefix[1]) << 16 | usize::from(prefix[2]) << 8 | usize::from(prefix[3]);
    let mut msg = vec![0; len];
    s.read_exact(&mut msg).unwrap();
    msg
}

pub fn round_trip(s: &mut TcpStream, msg: &[u8]) {
    send(s, msg);
    assert_eq!(recv(s), msg);
}

/// Asserts the server closed `s` (end of stream or reset) within the timeout.
pub fn assert_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("expected the server to close the connection, got {e}"),
        }
    }
}

/// Polls `cond` until it holds or the timeout passes.
pub fn eventually(what: &str, cond: impl Fn() -> bool) {
    let end = std::time::Instant::now() + TIMEOUT;
    while !cond() {
        assert!(std::time::Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A message whose bytes depend on both numbers, so swapped or corrupted messages are caught.
pub fn pattern(conn: usize, i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (k * 31 + i * 7 + conn * 13) as u8).collect()
}
