//! Server connections that hand work to an `Offload` helper thread and answer when it reports back:
//! accepted connections get a working handle (`attach`), finished jobs are answered from `on_wake`,
//! and at shutdown `on_drain` lets the jobs in flight finish and be answered before the close.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use crossbeam_channel::{bounded, Receiver, Sender};
use engine::{Connection, ConnectionHandle, Engine, Flow, Offload, Outbox, PollMode};

/// Answers every message with `done:` + the message, once a helper job that sleeps `delay` has run.
struct Deferred {
    helper: Arc<Offload>,
    handle: Option<ConnectionHandle>,
    done_tx: Sender<Vec<u8>>,
    done_rx: Receiver<Vec<u8>>,
    in_flight: usize,
    delay: Duration,
}

impl Connection for Deferred {
    fn attach(&mut self, handle: ConnectionHandle) {
        self.handle = Some(handle);
    }

    fn on_message(&mut self, msg: &mut [u8], _out: &mut Outbox) -> Flow {
        let (tx, handle, delay) = (self.done_tx.clone(), self.handle.clone(), self.delay);
        let msg = msg.to_vec();
        let job = move || {
            std::thread::sleep(delay);
            tx.send([&b"done:"[..], &msg].concat()).unwrap();
            handle.expect("accepted connections are attached").wake().unwrap();
        };
        self.in_flight += 1;
        if let Err(job) = self.helper.try_run(Box::new(job)) {
            job();
        }
        Flow::Continue
    }

    fn on_wake(&mut self, out: &mut Outbox) -> Flow {
        while let Ok(answer) = self.done_rx.try_recv() {
            self.in_flight -= 1;
            out.push(&answer);
        }
        Flow::Continue
    }

    fn on_drain(&mut self, out: &mut Outbox) {
        while self.in_flight > 0 {
            let answer = self.done_rx.recv_timeout(TIMEOUT).expect("the helper finishes");
            self.in_flight -= 1;
            out.push(&answer);
        }
    }
}

fn deferred_server(delay: Duration) -> (Engine, std::net::SocketAddr) {
    let helper = Arc::new(Offload::start("test-helper", 1, 64).unwrap());
    let factory = Arc::new(move |_peer: &engine::PeerInfo, _reactor| -> Box<dyn Connection> {
        let (done_tx, done_rx) = bounded(64);
        Box::new(Deferred { helper: helper.clone(), handle: None, done_tx, done_rx, in_flight: 0, delay })
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let engine = Engine::start(vec![listener], factory, config(1, PollMode::Interrupt)).unwrap();
    let addr = engine.local_addrs()[0];
    (engine, addr)
}

#[test]
fn work_finished_on_a_helper_thread_is_answered_through_the_wake() {
    let (engine, addr) = deferred_server(Duration::from_millis(1));
    let mut s = connect(addr);
    for i in 0..20 {
        send(&mut s, format!("req{i}").as_bytes());
    }
    // One helper runs the jobs in order, so the answers come in order too.
    for i in 0..20 {
        assert_eq!(recv(&mut s), format!("done:req{i}").into_bytes());
    }
    engine.shutdown().unwrap();
}

#[test]
fn shutdown_answers_the_work_still_in_flight_before_closing() {
    let (engine, addr) = deferred_server(Duration::from_millis(200));
    let mut s = connect(addr);
    send(&mut s, b"slow-1");
    send(&mut s, b"slow-2");
    // Both messages have reached the handler (and its helper) before shutdown begins.
    std::thread::sleep(Duration::from_millis(100));
    let stopping = std::thread::spawn(move || engine.shutdown());
    assert_eq!(recv(&mut s), b"done:slow-1");
    assert_eq!(recv(&mut s), b"done:slow-2");
    assert_closed(&mut s);
    stopping.join().unwrap().unwrap();
}
