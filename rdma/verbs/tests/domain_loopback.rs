//! What a reactor relies on in a domain, on the loopback provider: several queue pairs sharing one
//! completion stream, descriptors that say when to look, pool leases used in work requests without
//! registering them per I/O, and stale queue pair ids refused.

use rdma_verbs::loopback::{Fabric, LoopbackDomain};
use rdma_verbs::{
    Access, ConnectRequest, Domain, EndpointOptions, Error, PassiveListener, QpCompletion, QpEvent, QpId,
    RecvWr, SendOp, SendWr, Sge, WcOpcode, WcStatus,
};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

/// Whether `fd` is readable within `timeout`.
fn readable(fd: i32, timeout: Duration) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    // SAFETY: the fd belongs to a domain or listener the caller holds for the whole call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let mut p = [PollFd::new(&fd, PollFlags::IN)];
    let ts = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: timeout.subsec_nanos() as i64 };
    poll(&mut p, Some(&ts)).unwrap() > 0
}

/// Events of `d` until `want` of them arrived.
fn events(d: &mut LoopbackDomain, want: usize) -> Vec<(QpId, QpEvent)> {
    let deadline = Instant::now() + T;
    let mut got = vec![];
    while got.len() < want {
        assert!(Instant::now() < deadline, "only {got:?} arrived");
        match d.poll_event().unwrap() {
            Some(e) => got.push(e),
            None => {
                if d.arm().unwrap() {
                    readable(d.fds()[0], Duration::from_millis(50));
                }
                d.clear().unwrap();
            }
        }
    }
    got
}

/// Completions of `d` until `want` arrived.
fn completions(d: &mut LoopbackDomain, want: usize) -> Vec<QpCompletion> {
    let deadline = Instant::now() + T;
    let mut got = vec![];
    let mut buf = [QpCompletion::default(); 8];
    while got.len() < want {
        assert!(Instant::now() < deadline, "only {} of {want} completions", got.len());
        let n = d.poll(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
        if n == 0 && d.arm().unwrap() {
            readable(d.fds()[0], Duration::from_millis(50));
            d.clear().unwrap();
        }
    }
    got
}

/// A server domain with `n` connections from one client domain.
fn connected(n: usize) -> (LoopbackDomain, Vec<QpId>, LoopbackDomain, Vec<QpId>) {
    let fabric = Fabric::new();
    let addr = "10.9.0.1:445".parse().unwrap();
    let mut listener = fabric.listen_passive(addr).unwrap();
    let mut server = fabric.open_domain().unwrap();
    let mut client = fabric.open_domain().unwrap();
    client.set_local_addr("10.9.0.2:40000".parse().unwrap());
    let opts = EndpointOptions::default();
    let cq: Vec<QpId> = (0..n).map(|i| client.connect(addr, opts, &[i as u8], 5000).unwrap()).collect();
    let mut sq = vec![];
    assert!(readable(listener.fd(), T), "a waiting request makes the listener readable");
    while let Some(req) = listener.try_accept().unwrap() {
        assert_eq!(req.peer_addr(), Some("10.9.0.2:40000".parse().unwrap()));
        sq.push(server.accept(req, opts, b"welcome").unwrap());
    }
    assert_eq!(sq.len(), n);
    let se = events(&mut server, n);
    let ce = events(&mut client, n);
    for (i, (id, e)) in se.iter().enumerate() {
        assert_eq!(*id, sq[i]);
        assert_eq!(*e, QpEvent::Established { private_data: vec![i as u8] });
    }
    for (id, e) in &ce {
        assert!(cq.contains(id));
        assert_eq!(*e, QpEvent::Established { private_data: b"welcome".to_vec() });
    }
    (server, sq, client, cq)
}

#[test]
fn queue_pairs_share_one_completion_stream_tagged_by_queue_pair() {
    let (mut server, sq, mut client, cq) = connected(3);
    let rx = server.register(3 * 64, Access::LOCAL_WRITE).unwrap();
    for (i, qp) in sq.iter().enumerate() {
        server.post_recv(*qp, &[RecvWr { wr_id: i as u64, sges: &[Sge::new(rx, i * 64, 64)] }]).unwrap();
    }
    let tx = client.register(64, Access::NONE).unwrap();
    client.bytes(tx).unwrap()[..5].copy_from_slice(b"hello");
    // Accepts answered in order, so the i-th client queue pair talks to the i-th server one.
    for (i, qp) in cq.iter().enumerate() {
        client
            .post_send(
                *qp,
                &[SendWr { wr_id: 100 + i as u64, op: SendOp::Send, sges: &[Sge::new(tx, 0, 5)] }],
            )
            .unwrap();
    }
    let got = completions(&mut server, 3);
    for c in &got {
        let i = c.completion.wr_id as usize;
        assert_eq!(c.qp, Some(sq[i]), "the receive of queue pair {i} is reported under it");
        assert_eq!((c.completion.opcode, c.completion.byte_len), (WcOpcode::RECV, 5));
    }
    let bytes = server.bytes(rx).unwrap();
    assert!((0..3).all(|i| &bytes[i * 64..i * 64 + 5] == b"hello"));
    drop(bytes);
    let sent = completions(&mut client, 3);
    assert!(sent.iter().all(|c| c.completion.status == WcStatus::SUCCESS && cq.contains(&c.qp.unwrap())));
}

#[test]
fn the_descriptor_is_quiet_when_armed_idle_and_readable_once_work_arrives() {
    let (mut server, sq, mut client, cq) = connected(1);
    let rx = server.register(64, Access::LOCAL_WRITE).unwrap();
    server.post_recv(sq[0], &[RecvWr { wr_id: 1, sges: &[Sge::new(rx, 0, 64)] }]).unwrap();
    server.clear().unwrap();
    assert!(server.poll_event().unwrap().is_none());
    assert!(server.arm().unwrap(), "nothing is ready: the reactor may sleep");
    assert!(!readable(server.fds()[0], Duration::from_millis(20)));
    let tx = client.register(64, Access::NONE).unwrap();
    client.post_send(cq[0], &[SendWr { wr_id: 2, op: SendOp::Send, sges: &[Sge::new(tx, 0, 8)] }]).unwrap();
    assert!(readable(server.fds()[0], T), "the peer's send wakes the sleeping side");
    assert!(!server.arm().unwrap(), "a completion is waiting: do not sleep");
    server.clear().unwrap();
    assert_eq!(completions(&mut server, 1)[0].completion.wr_id, 1);
}

#[test]
fn pool_leases_are_rdma_targets_and_sources_without_per_io_registration() {
    let (mut server, sq, mut client, cq) = connected(1);
    let pool = iobuf::Pool::new(&iobuf::PoolConfig::default());
    // The client grants a window exactly over a lease holding the payload (an SMB2 WRITE).
    let mut payload = pool.take(100_000).unwrap();
    for (i, b) in payload.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let src = client.lease_sge(&payload, 0, payload.len()).unwrap();
    let key = client.bind_window(cq[0], 9, src, Access::REMOTE_READ).unwrap();
    assert_eq!(completions(&mut client, 1)[0].completion.opcode, WcOpcode::BIND_MW);
    // The server pulls it into a lease of its own in two RDMA READs.
    let mut dst = pool.take(100_000).unwrap();
    dst.fill(0);
    let half = 50_000;
    let a = server.lease_sge(&dst, 0, half).unwrap();
    let b = server.lease_sge(&dst, half, half).unwrap();
    server
        .post_send(
            sq[0],
            &[
                SendWr { wr_id: 1, op: SendOp::RdmaRead { remote: key.at(0) }, sges: &[a] },
                SendWr { wr_id: 2, op: SendOp::RdmaRead { remote: key.at(half as u64) }, sges: &[b] },
            ],
        )
        .unwrap();
    let got = completions(&mut server, 2);
    assert!(got.iter().all(|c| c.completion.status == WcStatus::SUCCESS));
    assert_eq!(&dst[..], &payload[..]);
    // The same batch serves the next lease without a new registration: same region.
    let again = pool.take(100_000).unwrap();
    if again.location().batch == dst.location().batch {
        assert_eq!(server.lease_sge(&again, 0, 10).unwrap().region, a.region);
    }
    // Beyond the lease: refused before anything is posted.
    assert!(matches!(server.lease_sge(&dst, dst.capacity() - 1, 2), Err(Error::OutOfBounds { .. })));
    // Invalidated by the server's response, the window refuses a replay.
    let tx = server.register(64, Access::NONE).unwrap();
    let rx = client.register(64, Access::LOCAL_WRITE).unwrap();
    client.post_recv(cq[0], &[RecvWr { wr_id: 3, sges: &[Sge::new(rx, 0, 64)] }]).unwrap();
    server
        .post_send(
            sq[0],
            &[SendWr {
                wr_id: 4,
                op: SendOp::SendWithInvalidate { rkey: key.rkey },
                sges: &[Sge::new(tx, 0, 8)],
            }],
        )
        .unwrap();
    let recv = completions(&mut client, 1)[0].completion;
    assert_eq!(recv.invalidated_rkey, Some(key.rkey));
    completions(&mut server, 1);
    let c = server.lease_sge(&dst, 0, 64).unwrap();
    server
        .post_send(sq[0], &[SendWr { wr_id: 5, op: SendOp::RdmaRead { remote: key.at(0) }, sges: &[c] }])
        .unwrap();
    assert_eq!(completions(&mut server, 1)[0].completion.status, WcStatus::REM_ACCESS_ERR);
}

#[test]
fn a_destroyed_queue_pair_is_stale_and_its_peer_sees_the_disconnect() {
    let (mut server, sq, mut client, cq) = connected(2);
    server.destroy(sq[0]).unwrap();
    assert!(matches!(server.in_flight(sq[0]), 0));
    let tx = server.register(64, Access::NONE).unwrap();
    let r = server.post_send(sq[0], &[SendWr { wr_id: 1, op: SendOp::Send, sges: &[Sge::new(tx, 0, 8)] }]);
    assert!(matches!(r, Err(Error::UnknownQp(id)) if id == sq[0]));
    let ev = events(&mut client, 1);
    assert_eq!(ev[0].1, QpEvent::Disconnected);
    assert!(cq.contains(&ev[0].0));
    // The other connection is untouched.
    assert!(
        server.post_recv(sq[1], &[RecvWr { wr_id: 2, sges: &[Sge::new(tx, 0, 8)] }]).is_err(),
        "tx lacks LOCAL_WRITE"
    );
    let rx = server.register(64, Access::LOCAL_WRITE).unwrap();
    server.post_recv(sq[1], &[RecvWr { wr_id: 2, sges: &[Sge::new(rx, 0, 8)] }]).unwrap();
    assert_eq!(server.in_flight(sq[1]), 1);
}

#[test]
fn a_rejected_or_unanswered_connect_fails_with_an_event() {
    let fabric = Fabric::new();
    let addr = "10.9.0.1:445".parse().unwrap();
    let mut listener = fabric.listen_passive(addr).unwrap();
    let mut client = fabric.open_domain().unwrap();
    let qp = client.connect(addr, EndpointOptions::default(), b"", 5000).unwrap();
    assert!(readable(listener.fd(), T));
    listener.try_accept().unwrap().expect("a request").reject();
    let ev = events(&mut client, 1);
    assert_eq!(ev[0].0, qp);
    assert!(matches!(&ev[0].1, QpEvent::Failed { timed_out: false, .. }), "{ev:?}");
    let qp = client.connect(addr, EndpointOptions::default(), b"", 30).unwrap();
    let ev = events(&mut client, 1);
    assert_eq!(ev[0], (qp, QpEvent::Failed { reason: "timed out".into(), timed_out: true }));
    assert!(client.connect("10.9.0.9:1".parse().unwrap(), EndpointOptions::default(), b"", 30).is_err());
}
