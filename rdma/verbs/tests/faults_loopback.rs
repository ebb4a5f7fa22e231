//! Fault injection on the loopback provider: lost completions, failed work requests, delays,
//! broken links; and the ordering and ownership rules around them.

use rdma_verbs::loopback::{Fabric, LoopbackEndpoint};
use rdma_verbs::{
    poll_n, Access, CmState, Completion, Endpoint, EndpointOptions, Error, Listener, Provider, RecvWr,
    SendOp, SendWr, Sge, WcOpcode, WcStatus,
};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

fn pair() -> (LoopbackEndpoint, LoopbackEndpoint) {
    let fabric = Fabric::new();
    let addr = "10.9.0.1:1".parse().unwrap();
    let mut l = fabric.listen(addr, EndpointOptions::default()).unwrap();
    let s = std::thread::spawn(move || l.accept(b"", T).unwrap());
    let c = fabric.connect(addr, EndpointOptions::default(), b"", T).unwrap();
    (c, s.join().unwrap())
}

fn poll_all(ep: &mut LoopbackEndpoint, n: usize) -> Vec<Completion> {
    let mut out = vec![Completion::default(); n];
    let got = poll_n(ep, &mut out, n, T).unwrap();
    out.truncate(got);
    out
}

fn send(ep: &mut LoopbackEndpoint, region: rdma_verbs::RegionId, wr_id: u64) {
    ep.post_send(&[SendWr { wr_id, op: SendOp::Send, sges: &[Sge::new(region, 0, 8)] }]).unwrap();
}

#[test]
fn dropped_completion_keeps_its_region_busy() {
    let (mut c, mut s) = pair();
    let rx = s.register(64, Access::LOCAL_WRITE).unwrap();
    s.post_recv(&[
        RecvWr { wr_id: 1, sges: &[Sge::new(rx, 0, 64)] },
        RecvWr { wr_id: 2, sges: &[Sge::new(rx, 0, 64)] },
    ])
    .unwrap();
    let tx = c.register(64, Access::NONE).unwrap();
    c.faults().drop_completions(1);
    send(&mut c, tx, 10);
    send(&mut c, tx, 11);
    let mut got = [Completion::default(); 2];
    let n = poll_n(&mut c, &mut got, 2, Duration::from_millis(200)).unwrap();
    assert_eq!(
        got[..n].iter().map(|c| c.wr_id).collect::<Vec<_>>(),
        vec![11],
        "the first completion is lost"
    );
    assert_eq!(c.in_flight(), 1, "the lost request never completes");
    assert!(matches!(c.deregister(tx), Err(Error::RegionBusy { in_flight: 1, .. })));
    // The receiver got both messages all the same.
    assert_eq!(poll_all(&mut s, 2).iter().filter(|c| c.status.is_success()).count(), 2);
}

#[test]
fn failed_request_reports_the_chosen_status_and_flushes_the_rest() {
    let (mut c, mut s) = pair();
    let r = c.register(64, Access::LOCAL_WRITE).unwrap();
    c.post_recv(&[RecvWr { wr_id: 1, sges: &[Sge::new(r, 0, 64)] }]).unwrap();
    let peer = s.register(64, Access::REMOTE_WRITE).unwrap();
    let key = s.remote_key(peer, 0, 64).unwrap();
    c.faults().fail_next(WcStatus::RETRY_EXC_ERR);
    let write = |wr_id| SendWr { wr_id, op: SendOp::RdmaWrite { remote: key.at(0) }, sges: &[] };
    c.post_send(&[write(2), write(3)]).unwrap();
    let got = poll_all(&mut c, 3);
    let summary: Vec<(u64, WcStatus)> = got.iter().map(|c| (c.wr_id, c.status)).collect();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert_eq!(summary[0], (2, WcStatus::RETRY_EXC_ERR));
    assert!(summary.contains(&(1, WcStatus::WR_FLUSH_ERR)), "posted receive flushes: {summary:?}");
    assert!(summary.contains(&(3, WcStatus::WR_FLUSH_ERR)), "later write flushes: {summary:?}");
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn delayed_completions_arrive_late_and_in_order() {
    let (mut c, mut s) = pair();
    let peer = s.register(4096, Access::REMOTE_WRITE).unwrap();
    let key = s.remote_key(peer, 0, 4096).unwrap();
    let src = c.register(4096, Access::NONE).unwrap();
    c.faults().delay_completions(Some(Duration::from_millis(150)));
    let start = Instant::now();
    let sges: Vec<[Sge; 1]> = (0..4).map(|i| [Sge::new(src, i * 1024, 1024)]).collect();
    let wrs: Vec<SendWr> = (0..4)
        .map(|i| SendWr {
            wr_id: i,
            op: SendOp::RdmaWrite { remote: key.at(i * 1024) },
            sges: &sges[i as usize],
        })
        .collect();
    c.post_send(&wrs).unwrap();
    let mut out = [Completion::default(); 4];
    assert_eq!(c.poll(&mut out).unwrap(), 0, "nothing visible before the delay");
    let got = poll_all(&mut c, 4);
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert_eq!(got.iter().map(|c| c.wr_id).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
}

#[test]
fn send_completions_keep_posting_order_behind_a_waiting_send() {
    let (mut c, mut s) = pair();
    let tx = c.register(64, Access::NONE).unwrap();
    let peer = s.register(64, Access::REMOTE_WRITE).unwrap();
    let key = s.remote_key(peer, 0, 64).unwrap();
    // No receive is posted yet: the SEND waits (infinite RNR retry); the WRITE behind it must not
    // complete first.
    send(&mut c, tx, 1);
    c.post_send(&[SendWr {
        wr_id: 2,
        op: SendOp::RdmaWrite { remote: key.at(0) },
        sges: &[Sge::new(tx, 0, 8)],
    }])
    .unwrap();
    let mut out = [Completion::default(); 2];
    assert!(!c.wait(Duration::from_millis(50)).unwrap());
    assert_eq!(c.poll(&mut out).unwrap(), 0);
    let rx = s.register(64, Access::LOCAL_WRITE).unwrap();
    s.post_recv(&[RecvWr { wr_id: 9, sges: &[Sge::new(rx, 0, 64)] }]).unwrap();
    let got = poll_all(&mut c, 2);
    assert_eq!(
        got.iter().map(|c| (c.wr_id, c.opcode)).collect::<Vec<_>>(),
        vec![(1, WcOpcode::SEND), (2, WcOpcode::RDMA_WRITE)]
    );
}

#[test]
fn broken_link_flushes_both_sides_without_hanging() {
    let (mut c, mut s) = pair();
    let rc = c.register(64, Access::LOCAL_WRITE).unwrap();
    let rs = s.register(64, Access::LOCAL_WRITE).unwrap();
    c.post_recv(&[RecvWr { wr_id: 1, sges: &[Sge::new(rc, 0, 64)] }]).unwrap();
    s.post_recv(&[RecvWr { wr_id: 2, sges: &[Sge::new(rs, 0, 64)] }]).unwrap();
    let tx = c.register(64, Access::NONE).unwrap();
    // A SEND is in flight towards a receive that will never come (the server's is for wr 2 only,
    // but we break the link first).
    c.faults().break_link();
    send(&mut c, tx, 3);
    let cs = poll_all(&mut c, 2);
    let ss = poll_all(&mut s, 1);
    assert!(cs.iter().chain(&ss).all(|c| c.status == WcStatus::WR_FLUSH_ERR), "{cs:?} {ss:?}");
    assert_eq!((cs.len(), ss.len()), (2, 1));
    assert_eq!((c.state(), s.state()), (CmState::Disconnected, CmState::Disconnected));
    for (ep, r) in [(&mut c, rc), (&mut s, rs)] {
        assert_eq!(ep.in_flight(), 0);
        ep.deregister(r).unwrap();
    }
}

#[test]
fn oversized_send_fails_both_ends() {
    let (mut c, mut s) = pair();
    let rx = s.register(4, Access::LOCAL_WRITE).unwrap();
    s.post_recv(&[RecvWr { wr_id: 1, sges: &[Sge::new(rx, 0, 4)] }]).unwrap();
    let tx = c.register(64, Access::NONE).unwrap();
    send(&mut c, tx, 2);
    assert_eq!(poll_all(&mut s, 1)[0].status, WcStatus::LOC_LEN_ERR);
    assert_eq!(poll_all(&mut c, 1)[0].status, WcStatus::REM_INV_REQ_ERR);
}

#[test]
fn region_rules_hold() {
    let (mut c, mut s) = pair();
    let local_only = s.register(64, Access::LOCAL_WRITE).unwrap();
    assert!(
        matches!(s.remote_key(local_only, 0, 64), Err(Error::AccessDenied { .. })),
        "no rkey without remote access"
    );
    assert!(matches!(
        s.bind_window(1, local_only, 0, 64, Access::REMOTE_READ),
        Err(Error::AccessDenied { .. })
    ));
    let src = c.register(64, Access::NONE).unwrap();
    let r = c.post_recv(&[RecvWr { wr_id: 1, sges: &[Sge::new(src, 0, 64)] }]);
    assert!(matches!(r, Err(Error::AccessDenied { .. })), "a receive needs LOCAL_WRITE");
    let sges = [Sge::new(src, 0, 1); 5];
    let r = c.post_send(&[SendWr { wr_id: 1, op: SendOp::Send, sges: &sges }]);
    assert!(matches!(r, Err(Error::TooManySges { n: 5, .. })));
    // Queue depth is enforced without posting anything.
    let wrs: Vec<SendWr> = (0..129).map(|i| SendWr { wr_id: i, op: SendOp::Send, sges: &[] }).collect();
    assert!(matches!(c.post_send(&wrs), Err(Error::QueueFull { queue: "send", capacity: 128 })));
    assert_eq!(c.in_flight(), 0);
    assert!(matches!(c.register(0, Access::NONE), Err(Error::BadLength { .. })));
}

#[test]
fn local_invalidate_revokes_a_window() {
    let (mut c, mut s) = pair();
    let r = s.register(4096, Access::LOCAL_WRITE | Access::MW_BIND).unwrap();
    let key = s.bind_window(1, r, 0, 4096, Access::REMOTE_READ).unwrap();
    assert_eq!(poll_all(&mut s, 1)[0].opcode, WcOpcode::BIND_MW);
    let dst = c.register(4096, Access::LOCAL_WRITE).unwrap();
    let read = |wr_id| SendWr { wr_id, op: SendOp::RdmaRead { remote: key.at(0) }, sges: &[] };
    c.post_send(&[SendWr { sges: &[Sge::new(dst, 0, 4096)], ..read(2) }]).unwrap();
    assert_eq!(poll_all(&mut c, 1)[0].status, WcStatus::SUCCESS);
    s.post_send(&[SendWr { wr_id: 3, op: SendOp::LocalInvalidate { rkey: key.rkey }, sges: &[] }]).unwrap();
    assert_eq!(poll_all(&mut s, 1)[0].status, WcStatus::SUCCESS);
    s.deregister(r).expect("the invalidated window no longer holds the region");
    c.post_send(&[SendWr { sges: &[Sge::new(dst, 0, 4096)], ..read(4) }]).unwrap();
    assert_eq!(poll_all(&mut c, 1)[0].status, WcStatus::REM_ACCESS_ERR);
}

#[test]
fn connect_errors_are_typed() {
    let fabric = Fabric::new();
    let addr = "10.9.0.1:2".parse().unwrap();
    let r = fabric.connect(addr, EndpointOptions::default(), b"", T);
    assert!(matches!(r, Err(Error::ConnectFailed { .. })));
    let _l = fabric.listen(addr, EndpointOptions::default()).unwrap();
    assert!(matches!(fabric.listen(addr, EndpointOptions::default()), Err(Error::AddrInUse(_))));
    let r = fabric.connect(addr, EndpointOptions::default(), &[0; 57], T);
    assert!(matches!(r, Err(Error::PrivateDataTooLong { max: 56, .. })));
    let r = fabric.connect(addr, EndpointOptions::default(), b"", Duration::from_millis(50));
    assert!(matches!(r, Err(Error::Timeout { .. })), "nobody accepts");
}
