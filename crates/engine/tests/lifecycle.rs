//! Ends of connections and of the engine.

mod common;

use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use common::*;
use engine::PollMode;

#[test]
fn flow_close_sends_the_answer_then_closes() {
    let (engine, addr, seen) = echo_server(config(1, PollMode::default()));
    let mut s = connect(addr);
    round_trip(&mut s, b"hello");
    send(&mut s, b"bye");
    assert_eq!(recv(&mut s), b"goodbye");
    assert_closed(&mut s);
    eventually("on_close", || seen.closed.load(SeqCst) == 1);
    assert_eq!(seen.messages.load(SeqCst), 2);

    // Messages pipelined behind the closing one are not delivered, and do not cost the answer.
    let mut s = connect(addr);
    let mut wire = frame(b"bye");
    wire.extend(frame(b"never delivered").repeat(100));
    std::io::Write::write_all(&mut s, &wire).unwrap();
    assert_eq!(recv(&mut s), b"goodbye");
    assert_closed(&mut s);
    eventually("second on_close", || seen.closed.load(SeqCst) == 2);
    assert_eq!(seen.messages.load(SeqCst), 3);
    engine.shutdown().unwrap();
}

#[test]
fn peer_close_calls_on_close() {
    let (engine, addr, seen) = echo_server(config(2, PollMode::default()));
    for i in 0..4 {
        let mut s = connect(addr);
        round_trip(&mut s, b"x");
        // A partial message left behind is dropped with the connection.
        if i % 2 == 0 {
            std::io::Write::write_all(&mut s, &[0, 0, 0, 9, 1]).unwrap();
        }
    }
    eventually("every on_close", || seen.closed.load(SeqCst) == 4);
    eventually("stats show no open connections", || engine.stats().iter().all(|s| s.connections == 0));
    engine.shutdown().unwrap();
}

#[test]
fn shutdown_with_open_connections_closes_each_once_and_returns() {
    let (engine, addr, seen) = echo_server(config(2, PollMode::default()));
    let mut clients: Vec<_> = (0..6).map(|_| connect(addr)).collect();
    for s in &mut clients {
        round_trip(s, b"adopted");
    }
    assert_eq!(engine.stats().iter().map(|s| s.connections).sum::<u64>(), 6);
    let t = Instant::now();
    engine.shutdown().unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "shutdown took {:?}", t.elapsed());
    assert_eq!(seen.closed.load(SeqCst), 6);
    for s in &mut clients {
        assert_closed(s);
    }
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(), "still listening");
}

#[test]
fn shutdown_handle_stops_the_engine_from_another_thread() {
    let (engine, addr, seen) = echo_server(config(1, PollMode::Interrupt));
    let mut s = connect(addr);
    round_trip(&mut s, b"x");
    let handle = engine.shutdown_handle();
    assert!(!handle.is_requested());
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        handle.shutdown();
    });
    engine.join().unwrap();
    stopper.join().unwrap();
    assert_eq!(seen.closed.load(SeqCst), 1);
    assert_closed(&mut s);
}

#[test]
fn shutdown_lets_a_queued_answer_drain() {
    let (engine, addr, _seen) = echo_server(config(1, PollMode::default()));
    let mut s = connect(addr);
    // 4 MiB of answer: more than the socket buffers take at once, so shutdown finds it queued.
    send(&mut s, b"big:4194304");
    std::thread::sleep(Duration::from_millis(50));
    let stopper = std::thread::spawn(move || engine.shutdown().unwrap());
    assert_eq!(recv(&mut s).len(), 4 << 20);
    assert_closed(&mut s);
    stopper.join().unwrap();
}
