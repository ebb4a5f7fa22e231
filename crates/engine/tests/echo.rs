//! Messages in, answers out, over real loopback sockets.

mod common;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use engine::{Connection, Engine, Flow, Outbox, PollMode};

fn echo_many(reactors: usize, poll: PollMode, conns: usize, msgs: usize) {
    let (engine, addr, seen) = echo_server(config(reactors, poll));
    // Every client connects before any sends, so all are open at once and balanced by load.
    let clients: Vec<_> = (0..conns).map(|_| connect(addr)).collect();
    eventually("all connections adopted", || seen.accepted.load(SeqCst) == conns);
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(c, mut s)| {
            std::thread::spawn(move || {
                // Pipelined: a batch of requests, then their answers, in order.
                for batch in (0..msgs).collect::<Vec<_>>().chunks(25) {
                    for &i in batch {
                        send(&mut s, &pattern(c, i, (i * 97 + c) % 3000));
                    }
                    for &i in batch {
                        assert_eq!(recv(&mut s), pattern(c, i, (i * 97 + c) % 3000), "conn {c} msg {i}");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = engine.stats();
    assert_eq!(stats.len(), engine.reactors());
    assert_eq!(stats.iter().map(|s| s.messages).sum::<u64>(), (conns * msgs) as u64);
    assert_eq!(stats.iter().map(|s| s.connections_total).sum::<u64>(), conns as u64);
    assert!(stats.iter().all(|s| s.connections_total > 0 && s.polls > 0), "{stats:?}");
    assert!(stats.iter().all(|s| s.bytes_in > 0), "{stats:?}");
    // A reactor counts written bytes just after the write, so the client may have read them first.
    eventually("bytes out to match bytes in", || engine.stats().iter().all(|s| s.bytes_out == s.bytes_in));
    assert_eq!(seen.reactors.lock().unwrap().len(), engine.reactors());
    engine.shutdown().unwrap();
    assert_eq!(seen.closed.load(SeqCst), conns);
}

#[test]
fn many_messages_on_many_connections_use_every_reactor() {
    echo_many(2, PollMode::default(), 8, 300);
}

#[test]
fn busy_polling_works() {
    echo_many(2, PollMode::Busy, 2, 100);
}

#[test]
fn adaptive_polling_works() {
    echo_many(2, PollMode::Adaptive { spin: Duration::from_micros(50) }, 2, 100);
}

#[test]
fn interrupt_polling_works() {
    echo_many(2, PollMode::Interrupt, 2, 100);
}

#[test]
fn pinned_reactors_report_their_core() {
    let mut cfg = config(2, PollMode::Interrupt);
    cfg.pin = true;
    let (engine, addr, _seen) = echo_server(cfg);
    let mut s = connect(addr);
    round_trip(&mut s, b"pinned");
    if core_affinity::get_core_ids().is_some_and(|ids| !ids.is_empty()) {
        // Each reactor pins itself as its thread starts.
        eventually("every reactor pinned", || engine.stats().iter().all(|s| s.core.is_some()));
        let cores: Vec<_> = engine.stats().iter().map(|s| s.core).collect();
        assert!(cores.len() < 2 || cores[0] != cores[1], "two reactors on one core: {cores:?}");
    }
    engine.shutdown().unwrap();
}

#[test]
fn one_mib_message_round_trips() {
    let (engine, addr, _seen) = echo_server(config(1, PollMode::default()));
    let mut s = connect(addr);
    let big = pattern(1, 2, 1 << 20);
    let writer = {
        let mut w = s.try_clone().unwrap();
        let big = big.clone();
        std::thread::spawn(move || send(&mut w, &big))
    };
    assert_eq!(recv(&mut s), big);
    writer.join().unwrap();
    // And one built in place by the handler.
    send(&mut s, b"big:1048576");
    assert_eq!(recv(&mut s), vec![0x5A; 1 << 20]);
    round_trip(&mut s, b"after");
    engine.shutdown().unwrap();
}

#[test]
fn owned_answers_arrive_in_order_between_copied_ones_and_their_buffers_come_back() {
    let (engine, addr, seen) = echo_server(config(1, PollMode::default()));
    let mut s = connect(addr);
    let mut reader = s.try_clone().unwrap();
    // Megabyte answers take many partial writes; the copied echoes between them must keep their place.
    const ROUNDS: usize = 6;
    const OWNED: usize = 3 << 20;
    let reading = std::thread::spawn(move || {
        for i in 0..ROUNDS {
            let big = recv(&mut reader);
            assert_eq!(big.len(), OWNED - i, "round {i}");
            assert!(big.iter().all(|&b| b == 0x5A), "round {i}: bytes outside the range were sent");
            assert_eq!(recv(&mut reader), pattern(3, i, 1000 + i));
        }
    });
    for i in 0..ROUNDS {
        send(&mut s, format!("owned:{};", OWNED - i).as_bytes());
        send(&mut s, &pattern(3, i, 1000 + i));
    }
    reading.join().unwrap();
    assert!(seen.reclaimed.load(SeqCst) > 0, "no written buffer was handed back");
    engine.shutdown().unwrap();
}

#[test]
fn empty_and_split_messages_are_delivered_whole() {
    let (engine, addr, _seen) = echo_server(config(1, PollMode::default()));
    let mut s = connect(addr);
    round_trip(&mut s, b"");
    // A message dribbled a byte at a time still arrives as one.
    let wire = frame(b"dribble");
    for b in &wire {
        std::io::Write::write_all(&mut s, std::slice::from_ref(b)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(recv(&mut s), b"dribble");
    engine.shutdown().unwrap();
}

/// A client handler: speaks first, then closes after the first answer.
struct Hello(crossbeam_channel::Sender<Vec<u8>>);

impl Connection for Hello {
    fn on_start(&mut self, out: &mut Outbox) -> Flow {
        out.push(b"hello from a client");
        Flow::Continue
    }
    fn on_message(&mut self, msg: &mut [u8], _out: &mut Outbox) -> Flow {
        self.0.send(msg.to_vec()).unwrap();
        Flow::Close
    }
    fn on_close(&mut self) {
        self.0.send(b"closed".to_vec()).unwrap();
    }
}

#[test]
fn outgoing_connections_run_on_reactors() {
    let (server, addr, seen) = echo_server(config(1, PollMode::default()));
    let factory = Arc::new(|_peer: &engine::PeerInfo, _reactor| -> Box<dyn Connection> {
        unreachable!("no listeners")
    });
    let client = Engine::start(vec![], factory, config(1, PollMode::default())).unwrap();
    assert!(client.local_addrs().is_empty());
    let (tx, rx) = crossbeam_channel::bounded(4);
    let handle = client.connect(addr, Box::new(Hello(tx))).unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"hello from a client");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"closed");
    // The handle is marked before on_close runs.
    assert!(handle.is_closed());
    assert!(handle.wake().is_err());
    eventually("server sees the close", || seen.closed.load(SeqCst) == 1);
    client.shutdown().unwrap();
    server.shutdown().unwrap();
}
