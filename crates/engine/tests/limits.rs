//! Hostile and slow peers: each costs a bounded amount and harms only its own connection.

mod common;

use std::io::{self, Read, Write};
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use common::*;
use engine::PollMode;

#[test]
fn oversized_frame_closes_only_that_connection() {
    let mut cfg = config(1, PollMode::default());
    cfg.max_message = 64 * 1024;
    let (engine, addr, seen) = echo_server(cfg);
    let mut good = connect(addr);
    let mut bad = connect(addr);
    round_trip(&mut good, b"before");
    round_trip(&mut bad, b"before");
    // The largest allowed message still passes.
    round_trip(&mut good, &pattern(0, 0, 64 * 1024));
    // One byte over the cap: refused from the prefix alone.
    bad.write_all(&[0, 0x01, 0x00, 0x01]).unwrap();
    assert_closed(&mut bad);
    eventually("on_close for the bad connection", || seen.closed.load(SeqCst) == 1);
    for i in 0..20 {
        round_trip(&mut good, &pattern(1, i, 1000));
    }
    engine.shutdown().unwrap();
}

#[test]
fn nonzero_first_prefix_byte_closes_the_connection() {
    let (engine, addr, seen) = echo_server(config(1, PollMode::default()));
    let mut s = connect(addr);
    round_trip(&mut s, b"ok");
    // A NetBIOS keepalive has no place on Direct TCP.
    s.write_all(&[0x85, 0, 0, 0]).unwrap();
    assert_closed(&mut s);
    eventually("on_close", || seen.closed.load(SeqCst) == 1);
    let mut other = connect(addr);
    round_trip(&mut other, b"still serving");
    engine.shutdown().unwrap();
}

#[test]
fn a_peer_that_never_reads_is_paused_and_others_stay_served() {
    paused_peer("big");
}

#[test]
fn owned_answers_count_against_the_outbox_limit() {
    paused_peer("owned");
}

/// `verb`: how the handler builds its answers (`big`: in the outbox, `owned`: handed over).
fn paused_peer(verb: &str) {
    const LIMIT: usize = 64 * 1024;
    const ANSWER: usize = 16 * 1024;
    let mut cfg = config(1, PollMode::default());
    cfg.max_outbox_bytes = LIMIT;
    let (engine, addr, seen) = echo_server(cfg);

    // Each request asks for a 16 KiB answer, which this client does not read. Requests are as large
    // as answers so that the megabytes the socket buffers hold are few requests: every one of them
    // is answered at the end.
    let mut request = format!("{verb}:{ANSWER};").into_bytes();
    request.resize(ANSWER, b'.');
    let request = frame(&request);
    let requests = request.repeat(16);
    let mut hog = connect(addr);
    hog.set_nonblocking(true).unwrap();
    let mut sent = 0usize; // bytes of the request stream written
    let mut stalled_since = None;
    let started = Instant::now();
    loop {
        assert!(sent < 256 << 20, "the server kept reading a peer that never reads");
        assert!(started.elapsed() < TIMEOUT, "writing never stalled");
        let at = sent % requests.len();
        match hog.write(&requests[at..]) {
            Ok(n) => {
                sent += n;
                stalled_since = None;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let since = *stalled_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(300) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    // Reading is paused: no more messages are delivered while the outbox is full.
    let delivered = seen.messages.load(SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(seen.messages.load(SeqCst), delivered);
    assert!(delivered < sent / request.len(), "{delivered} delivered of {} sent", sent / request.len());
    let max_queued = seen.max_queued.load(SeqCst);
    assert!(max_queued <= LIMIT + ANSWER + 4, "outbox reached {max_queued}");
    assert!(max_queued > LIMIT, "the outbox never filled ({max_queued}); the test did not test");

    // Another client on the same reactor is answered meanwhile.
    let mut other = connect(addr);
    for i in 0..10 {
        round_trip(&mut other, &pattern(2, i, 100));
    }

    // Once the hog reads, reading resumes and every request gets its answer.
    hog.set_nonblocking(false).unwrap();
    hog.set_read_timeout(Some(TIMEOUT)).unwrap();
    hog.set_write_timeout(Some(TIMEOUT)).unwrap();
    let whole = sent.div_ceil(request.len());
    let mut reader = hog.try_clone().unwrap();
    let reading = std::thread::spawn(move || {
        for _ in 0..whole {
            assert_eq!(recv(&mut reader).len(), ANSWER);
        }
    });
    let at = sent % request.len();
    if at != 0 {
        hog.write_all(&request[at..]).unwrap();
    }
    reading.join().unwrap();
    assert_eq!(seen.messages.load(SeqCst), whole + 10);
    engine.shutdown().unwrap();
}

#[test]
fn connections_beyond_the_per_reactor_limit_are_refused() {
    let mut cfg = config(1, PollMode::default());
    cfg.max_connections_per_reactor = 2;
    let (engine, addr, seen) = echo_server(cfg);
    let mut a = connect(addr);
    let mut b = connect(addr);
    round_trip(&mut a, b"a");
    round_trip(&mut b, b"b");
    let mut c = connect(addr);
    assert_closed(&mut c);
    assert_eq!(seen.accepted.load(SeqCst), 2);
    drop(a);
    eventually("a's close", || seen.closed.load(SeqCst) == 1);
    let mut d = connect(addr);
    round_trip(&mut d, b"d");
    engine.shutdown().unwrap();
}

#[test]
fn a_panicking_handler_closes_only_its_connection() {
    let (engine, addr, seen) = echo_server(config(1, PollMode::default()));
    let mut good = connect(addr);
    let mut bad = connect(addr);
    round_trip(&mut good, b"1");
    send(&mut bad, b"panic");
    assert_closed(&mut bad);
    eventually("on_close after the panic", || seen.closed.load(SeqCst) == 1);
    round_trip(&mut good, b"2");
    let mut buf = [0u8; 1];
    good.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert!(good.read(&mut buf).is_err(), "no stray bytes");
    engine.shutdown().unwrap();
}
