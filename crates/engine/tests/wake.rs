//! Application threads driving client connections through `ConnectionHandle::wake`, over real
//! loopback sockets: requests go in through a bounded channel the handler owns, answers come back
//! through another.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use crossbeam_channel::{bounded, Receiver, Sender};
use engine::{Connection, ConnectionHandle, Engine, EngineConfig, EngineError, Flow, Outbox, PollMode};

/// What the client handlers saw.
#[derive(Default)]
struct Counts {
    wakes: AtomicUsize,
    closed: AtomicUsize,
}

/// Holds the reactor inside the first `on_wake` until the test releases it.
struct Gate {
    entered: Sender<()>,
    release: Receiver<()>,
}

/// A client connection fed by an application thread.
struct Pipe {
    requests: Receiver<Vec<u8>>,
    completions: Sender<Vec<u8>>,
    counts: Arc<Counts>,
    gate: Option<Gate>,
}

impl Connection for Pipe {
    fn on_wake(&mut self, out: &mut Outbox) -> Flow {
        self.counts.wakes.fetch_add(1, SeqCst);
        if let Some(gate) = self.gate.take() {
            gate.entered.send(()).unwrap();
            gate.release.recv_timeout(TIMEOUT).unwrap();
        }
        while let Ok(request) = self.requests.try_recv() {
            out.push(&request);
        }
        Flow::Continue
    }

    fn on_message(&mut self, msg: &mut [u8], _out: &mut Outbox) -> Flow {
        // The application keeps no more requests in flight than this queue holds: never blocks.
        self.completions.try_send(msg.to_vec()).expect("completion queue full");
        Flow::Continue
    }

    fn on_close(&mut self) {
        self.counts.closed.fetch_add(1, SeqCst);
    }
}

/// The application side of one [`Pipe`].
struct App {
    requests: Sender<Vec<u8>>,
    completions: Receiver<Vec<u8>>,
    handle: ConnectionHandle,
}

impl App {
    fn send(&self, msg: Vec<u8>) {
        self.requests.send_timeout(msg, TIMEOUT).unwrap();
        self.handle.wake().unwrap();
    }

    fn recv(&self) -> Vec<u8> {
        self.completions.recv_timeout(TIMEOUT).expect("no completion in time")
    }
}

fn client_engine(cfg: EngineConfig) -> Engine {
    let factory = Arc::new(|_peer: &engine::PeerInfo, _reactor| -> Box<dyn Connection> {
        unreachable!("no listeners")
    });
    Engine::start(vec![], factory, cfg).unwrap()
}

/// Connects a [`Pipe`] with room for `window` requests in flight.
fn open(client: &Engine, addr: std::net::SocketAddr, window: usize, counts: &Arc<Counts>) -> App {
    open_gated(client, addr, window, counts, None)
}

fn open_gated(
    client: &Engine,
    addr: std::net::SocketAddr,
    window: usize,
    counts: &Arc<Counts>,
    gate: Option<Gate>,
) -> App {
    let (req_tx, req_rx) = bounded(window);
    let (done_tx, done_rx) = bounded(window);
    let pipe = Pipe { requests: req_rx, completions: done_tx, counts: counts.clone(), gate };
    let handle = client.connect(addr, Box::new(pipe)).unwrap();
    App { requests: req_tx, completions: done_rx, handle }
}

/// Sends `n` requests keeping up to `window` in flight; checks every answer, in order.
fn round_trips(app: &App, conn: usize, n: usize, window: usize) {
    let mut answered = 0;
    for i in 0..n {
        if i - answered == window {
            assert_eq!(app.recv(), pattern(conn, answered, answered % 700), "conn {conn} msg {answered}");
            answered += 1;
        }
        app.send(pattern(conn, i, i % 700));
    }
    while answered < n {
        assert_eq!(app.recv(), pattern(conn, answered, answered % 700), "conn {conn} msg {answered}");
        answered += 1;
    }
}

fn gate() -> (Gate, Receiver<()>, Sender<()>) {
    let (entered_tx, entered_rx) = bounded(1);
    let (release_tx, release_rx) = bounded(1);
    (Gate { entered: entered_tx, release: release_rx }, entered_rx, release_tx)
}

#[test]
fn application_requests_round_trip_in_order() {
    const N: usize = 2000;
    const WINDOW: usize = 32;
    let (server, addr, seen) = echo_server(config(1, PollMode::default()));
    let client = client_engine(config(1, PollMode::default()));
    let counts = Arc::new(Counts::default());
    let app = open(&client, addr, WINDOW, &counts);
    assert!(!app.handle.is_closed());
    round_trips(&app, 0, N, WINDOW);
    assert_eq!(seen.messages.load(SeqCst), N);
    let wakes = counts.wakes.load(SeqCst);
    assert!((1..=N).contains(&wakes), "{wakes} on_wake calls for {N} wakes");
    client.shutdown().unwrap();
    assert!(app.handle.is_closed());
    assert_eq!(counts.closed.load(SeqCst), 1);
    server.shutdown().unwrap();
}

#[test]
fn a_wake_before_adoption_is_delivered_after_on_start() {
    let (server, addr, _seen) = echo_server(config(1, PollMode::default()));
    let client = client_engine(config(1, PollMode::Interrupt));
    let counts = Arc::new(Counts::default());
    // Hold the only client reactor inside another connection's on_wake, so the next connection is
    // handed over but certainly not adopted when it is woken.
    let (g, entered, release) = gate();
    let blocker = open_gated(&client, addr, 4, &counts, Some(g));
    blocker.send(b"blocker".to_vec());
    entered.recv_timeout(TIMEOUT).unwrap();
    let early = open(&client, addr, 4, &counts);
    early.send(b"early".to_vec());
    early.handle.wake().unwrap();
    release.send(()).unwrap();
    assert_eq!(early.recv(), b"early");
    assert_eq!(blocker.recv(), b"blocker");
    // And racing adoption: woken straight after connect, with requests queued before.
    for c in 0..20 {
        let app = open(&client, addr, 4, &counts);
        app.requests.send(pattern(c, 0, 10)).unwrap();
        app.send(pattern(c, 1, 20));
        assert_eq!(app.recv(), pattern(c, 0, 10));
        assert_eq!(app.recv(), pattern(c, 1, 20));
    }
    client.shutdown().unwrap();
    assert_eq!(counts.closed.load(SeqCst), 22);
    server.shutdown().unwrap();
}

#[test]
fn many_wakes_coalesce_into_one_call() {
    let (server, addr, _seen) = echo_server(config(1, PollMode::default()));
    let client = client_engine(config(1, PollMode::default()));
    let counts = Arc::new(Counts::default());
    let (g, entered, release) = gate();
    let app = open_gated(&client, addr, 16, &counts, Some(g));
    app.send(pattern(0, 0, 5));
    entered.recv_timeout(TIMEOUT).unwrap();
    // The reactor is inside on_wake #1: these 1000 wakes from 4 threads must come out as one call.
    for i in 1..=10 {
        app.requests.send(pattern(0, i, 5)).unwrap();
    }
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..250 {
                    app.handle.wake().unwrap();
                }
            });
        }
    });
    release.send(()).unwrap();
    for i in 0..=10 {
        assert_eq!(app.recv(), pattern(0, i, 5));
    }
    eventually("the coalesced on_wake", || counts.wakes.load(SeqCst) == 2);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(counts.wakes.load(SeqCst), 2, "wakes were not coalesced");
    // Still wakeable afterwards.
    app.send(b"again".to_vec());
    assert_eq!(app.recv(), b"again");
    assert_eq!(counts.wakes.load(SeqCst), 3);
    client.shutdown().unwrap();
    server.shutdown().unwrap();
}

#[test]
fn wakes_that_overflow_the_reactor_queue_are_not_lost() {
    const CONNS: usize = 48;
    let (server, addr, _seen) = echo_server(config(1, PollMode::default()));
    // A limit of 64 connections gives a wake queue of 32 entries.
    let mut cfg = config(1, PollMode::default());
    cfg.max_connections_per_reactor = 64;
    let client = client_engine(cfg);
    let counts = Arc::new(Counts::default());
    let (g, entered, release) = gate();
    let blocker = open_gated(&client, addr, 4, &counts, Some(g));
    let apps: Vec<_> = (0..CONNS).map(|_| open(&client, addr, 4, &counts)).collect();
    // Adopted before the reactor is blocked, so every wake below goes through the queue.
    for (c, app) in apps.iter().enumerate() {
        app.send(pattern(c, 0, 8));
        assert_eq!(app.recv(), pattern(c, 0, 8));
    }
    blocker.send(b"block".to_vec());
    entered.recv_timeout(TIMEOUT).unwrap();
    for (c, app) in apps.iter().enumerate() {
        app.send(pattern(c, 1, 8));
    }
    release.send(()).unwrap();
    for (c, app) in apps.iter().enumerate() {
        assert_eq!(app.recv(), pattern(c, 1, 8), "conn {c}");
    }
    assert_eq!(blocker.recv(), b"block");
    client.shutdown().unwrap();
    server.shutdown().unwrap();
}

#[test]
fn waking_a_closed_connection_is_an_error_not_a_panic() {
    let (server, addr, seen) = echo_server(config(1, PollMode::default()));
    let client = client_engine(config(1, PollMode::default()));
    let counts = Arc::new(Counts::default());
    let app = open(&client, addr, 4, &counts);
    app.send(b"hello".to_vec());
    assert_eq!(app.recv(), b"hello");
    // The echo server answers "bye" and closes its end.
    app.send(b"bye".to_vec());
    assert_eq!(app.recv(), b"goodbye");
    eventually("the client sees the peer's close", || app.handle.is_closed());
    assert_eq!(counts.closed.load(SeqCst), 1);
    let wakes = counts.wakes.load(SeqCst);
    let handle = app.handle.clone();
    let t = std::thread::spawn(move || (0..100).map(|_| handle.wake()).collect::<Vec<_>>());
    for r in t.join().unwrap() {
        assert!(matches!(r, Err(EngineError::ConnectionClosed { reactor: 0 })), "{r:?}");
    }
    assert_eq!(std::io::Error::from(app.handle.wake().unwrap_err()).kind(), std::io::ErrorKind::NotConnected);
    assert_eq!(counts.wakes.load(SeqCst), wakes, "on_wake after close");
    eventually("server on_close", || seen.closed.load(SeqCst) == 1);

    // A connection still open when its engine shuts down.
    let app = open(&client, addr, 4, &counts);
    app.send(b"x".to_vec());
    assert_eq!(app.recv(), b"x");
    client.shutdown().unwrap();
    assert!(app.handle.is_closed());
    assert!(app.handle.wake().is_err());
    assert_eq!(counts.closed.load(SeqCst), 2);
    server.shutdown().unwrap();
}

#[test]
fn connections_on_two_reactors_are_driven_by_their_own_threads() {
    const CONNS: usize = 4;
    const N: usize = 500;
    let (server, addr, seen) = echo_server(config(2, PollMode::default()));
    let client = client_engine(config(2, PollMode::default()));
    let counts = Arc::new(Counts::default());
    let apps: Vec<_> = (0..CONNS).map(|_| open(&client, addr, 8, &counts)).collect();
    let reactors: BTreeSet<_> = apps.iter().map(|a| a.handle.reactor()).collect();
    assert_eq!(reactors.len(), client.reactors(), "connections not spread: {reactors:?}");
    std::thread::scope(|s| {
        for (c, app) in apps.iter().enumerate() {
            s.spawn(move || round_trips(app, c, N, 8));
        }
    });
    assert_eq!(seen.messages.load(SeqCst), CONNS * N);
    let stats = client.stats();
    assert!(stats.iter().all(|s| s.bytes_out > 0), "{stats:?}");
    client.shutdown().unwrap();
    assert_eq!(counts.closed.load(SeqCst), CONNS);
    server.shutdown().unwrap();
}
