//! `SmbdConnection` driven by hand through its public API: every refusal of MS-SMBD 3.1.5.6–3.1.5.8
//! at the connection level, the credit rules of 3.1.5.1/3.1.5.9, keepalive (3.1.6.2), the
//! negotiation timers, reassembly and remote invalidation.

use std::time::{Duration, Instant};

use smb_wire::smbd::{
    data_transfer_flags, DataTransfer, DataTransferHeader, NegotiateRequest, NegotiateResponse,
};
use smb_wire::status::NtStatus;
use smb_wire::Encode;
use smbdirect::{Config, Error, Event, Received, Role, SmbdConnection, Transmit, TransmitKind};

/// Small credits so the rules show after a few messages.
fn cfg(credits: u16) -> Config {
    Config { receive_credit_max: credits, send_credit_target: credits, ..Config::default() }
}

/// A data transfer message as a peer would send it.
fn data(credits_requested: u16, credits_granted: u16, flags: u16, remaining: u32, payload: &[u8]) -> Vec<u8> {
    let header =
        DataTransferHeader { credits_requested, credits_granted, flags, remaining_data_length: remaining };
    DataTransfer { header, payload }.to_vec()
}

fn header_of(t: &Transmit) -> DataTransferHeader {
    DataTransfer::parse(t.header()).map(|m| m.header).unwrap_or_else(|_| {
        // A header with payload parses only with the payload behind it.
        let mut b = t.header().to_vec();
        b.resize(t.len(), 0);
        DataTransfer::parse(&b).unwrap().header
    })
}

fn post_wanted(c: &mut SmbdConnection) -> u32 {
    let n = c.receives_wanted();
    c.on_receives_posted(n);
    n
}

fn events(c: &mut SmbdConnection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// Client and server after the negotiate exchange, with nothing else done.
fn established(client_cfg: Config, server_cfg: Config, t0: Instant) -> (SmbdConnection, SmbdConnection) {
    let mut c = SmbdConnection::new(Role::Client, client_cfg, t0);
    let mut s = SmbdConnection::new(Role::Server, server_cfg, t0);
    post_wanted(&mut c);
    post_wanted(&mut s);
    let req = c.poll_transmit(t0).unwrap();
    assert_eq!(req.kind(), TransmitKind::NegotiateRequest);
    assert_eq!(s.on_receive(&mut req.header().to_vec(), None, t0), Ok(Received::Negotiated));
    post_wanted(&mut s);
    let rsp = s.poll_transmit(t0).unwrap();
    assert_eq!(rsp.kind(), TransmitKind::NegotiateResponse);
    assert_eq!(c.on_receive(&mut rsp.header().to_vec(), None, t0), Ok(Received::Negotiated));
    c.on_send_completed(1);
    s.on_send_completed(1);
    assert!(c.is_established() && s.is_established());
    (c, s)
}

#[test]
fn negotiation_establishes_both_sides_with_the_same_view() {
    let t0 = Instant::now();
    let (mut c, mut s) = established(cfg(8), cfg(4), t0);
    let [Event::Established(cp)] = &events(&mut c)[..] else { panic!() };
    let [Event::Established(sp)] = &events(&mut s)[..] else { panic!() };
    assert_eq!((cp.max_send_size, cp.max_receive_size), (1364, 1364));
    assert_eq!(cp.max_read_write_size, 8 << 20);
    assert_eq!(cp.peer_credits_requested, 4);
    assert_eq!(sp.peer_credits_requested, 8);
    // The server granted every receive it posted toward the client's target of 8... capped by its
    // own maximum of 4.
    assert_eq!(c.credits().send, 4);
    assert_eq!((s.credits().posted, s.credits().granted), (4, 4));
    assert_eq!(s.params(), Some(sp));
    assert_eq!(c.descriptor_limits().unwrap().max_descriptors, 64);
}

#[test]
fn server_refuses_a_version_range_without_1_0_with_a_failure_response() {
    let t0 = Instant::now();
    let mut s = SmbdConnection::new(Role::Server, Config::default(), t0);
    post_wanted(&mut s);
    let mut req = NegotiateRequest {
        min_version: smb_wire::smbd::Version(0x0200),
        max_version: smb_wire::smbd::Version(0x0300),
        credits_requested: 255,
        preferred_send_size: 1364,
        max_receive_size: 1364,
        max_fragmented_size: 1 << 20,
    }
    .to_vec();
    let err = Error::VersionNotSupported { min: 0x0200, max: 0x0300 };
    assert_eq!(s.on_receive(&mut req, None, t0), Err(err.clone()));
    assert!(!s.is_closed(), "the failure response is still to go out");
    let t = s.poll_transmit(t0).unwrap();
    assert_eq!(t.kind(), TransmitKind::NegotiateResponse);
    let rsp = NegotiateResponse::parse(t.header()).unwrap();
    assert_eq!(rsp.status, NtStatus::NOT_SUPPORTED);
    assert_eq!(rsp.credits_granted, 0);
    assert_eq!(events(&mut s), [Event::Closed(err)]);
    assert!(s.poll_transmit(t0).is_none());
    assert_eq!(s.receives_wanted(), 0);
}

#[test]
fn server_disconnects_without_answer_on_bad_values() {
    let t0 = Instant::now();
    let mut s = SmbdConnection::new(Role::Server, Config::default(), t0);
    post_wanted(&mut s);
    let mut req = smb_wire::smbd::NegotiateRequest::parse(&[
        0, 1, 0, 1, 0, 0, 0, 0, 0x54, 5, 0, 0, 0x54, 5, 0, 0, 0, 0, 0x10, 0,
    ])
    .unwrap()
    .to_vec();
    let err = Error::ZeroCreditsRequested { message: "negotiate request" };
    assert_eq!(s.on_receive(&mut req, None, t0), Err(err.clone()));
    assert!(s.poll_transmit(t0).is_none());
    assert_eq!(events(&mut s), [Event::Closed(err)]);
    // Input after the end is refused without another event.
    assert_eq!(s.on_receive(&mut req, None, t0), Err(Error::Closed));
    assert!(s.poll_event().is_none());
}

#[test]
fn server_waits_for_receives_then_refuses_with_insufficient_resources_at_the_timer() {
    let t0 = Instant::now();
    let mut c = SmbdConnection::new(Role::Client, Config::default(), t0);
    let mut s = SmbdConnection::new(Role::Server, Config::default(), t0);
    post_wanted(&mut c);
    post_wanted(&mut s);
    let req = c.poll_transmit(t0).unwrap();
    s.on_receive(&mut req.header().to_vec(), None, t0).unwrap();
    assert_eq!(s.receives_wanted(), 255);
    // The transport posts nothing: no response can grant anything.
    assert!(s.poll_transmit(t0).is_none());
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    s.handle_timeout(t0 + Duration::from_secs(5));
    let t = s.poll_transmit(t0).unwrap();
    let rsp = NegotiateResponse::parse(t.header()).unwrap();
    assert_eq!(rsp.status, NtStatus::INSUFFICIENT_RESOURCES);
    assert_eq!(events(&mut s), [Event::Closed(Error::NoReceiveCredits)]);
    // The client refuses the failure response.
    assert_eq!(
        c.on_receive(&mut t.header().to_vec(), None, t0),
        Err(Error::NegotiateRefused { status: NtStatus::INSUFFICIENT_RESOURCES })
    );
    assert!(c.is_closed());
}

#[test]
fn client_refuses_a_response_granting_nothing() {
    let t0 = Instant::now();
    let mut c = SmbdConnection::new(Role::Client, Config::default(), t0);
    post_wanted(&mut c);
    c.poll_transmit(t0).unwrap();
    let mut rsp = NegotiateResponse {
        min_version: smb_wire::smbd::Version::V1,
        max_version: smb_wire::smbd::Version::V1,
        negotiated_version: smb_wire::smbd::Version::V1,
        credits_requested: 255,
        credits_granted: 0,
        status: NtStatus::SUCCESS,
        max_read_write_size: 1 << 20,
        preferred_send_size: 1364,
        max_receive_size: 1364,
        max_fragmented_size: 1 << 20,
    }
    .to_vec();
    assert_eq!(c.on_receive(&mut rsp, None, t0), Err(Error::ZeroCreditsGranted));
    assert_eq!(events(&mut c), [Event::Closed(Error::ZeroCreditsGranted)]);
}

#[test]
fn a_response_before_the_request_went_out_is_unexpected() {
    let t0 = Instant::now();
    let mut c = SmbdConnection::new(Role::Client, Config::default(), t0);
    post_wanted(&mut c);
    let mut junk = [0u8; 32];
    assert!(matches!(c.on_receive(&mut junk, None, t0), Err(Error::UnexpectedMessage { .. })));
}

#[test]
fn negotiation_timers_are_120_s_active_and_5_s_passive() {
    let t0 = Instant::now();
    let mut c = SmbdConnection::new(Role::Client, Config::default(), t0);
    let mut s = SmbdConnection::new(Role::Server, Config::default(), t0);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    s.handle_timeout(t0 + Duration::from_millis(4999));
    assert!(!s.is_closed());
    s.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(events(&mut s), [Event::Closed(Error::NegotiateTimeout)]);
    c.handle_timeout(t0 + Duration::from_secs(120));
    assert_eq!(events(&mut c), [Event::Closed(Error::NegotiateTimeout)]);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn data_transfer_refusals_close_the_connection() {
    let t0 = Instant::now();
    type Case = (Vec<u8>, Error);
    let cases: Vec<Case> = vec![
        (data(0, 0, 0, 0, b"x"), Error::ZeroCreditsRequested { message: "data transfer" }),
        (
            data(1, 0, 0, 2_000_000, b"x"),
            Error::FragmentTooLarge { data_length: 1, remaining: 2_000_000, max: 1 << 20 },
        ),
        (data(1, 0, 0, 5, b""), Error::EmptyWithRemaining(5)),
        (vec![0u8; 1365], Error::ReceiveTooLong { len: 1365, max: 1364 }),
    ];
    for (mut msg, want) in cases {
        let (_, mut s) = established(cfg(4), cfg(4), t0);
        events(&mut s);
        // The server holds no credit from the client yet, but the client holds 4 of the server's:
        // deliver to the server as if the client had spent one.
        assert_eq!(s.on_receive(&mut msg, None, t0), Err(want.clone()), "{want}");
        assert_eq!(events(&mut s), [Event::Closed(want)]);
    }
    // Grants past 65535 held credits.
    let (_, mut s) = established(cfg(4), cfg(4), t0);
    assert_eq!(s.on_receive(&mut data(1, 1, 0, 0, b""), None, t0), Ok(Received::Nothing));
    assert_eq!(
        s.on_receive(&mut data(1, u16::MAX, 0, 0, b""), None, t0),
        Err(Error::CreditOverflow { granted: u16::MAX, held: 1 })
    );
    // Misaligned DataOffset: a layout error from the codec.
    let (_, mut s) = established(cfg(4), cfg(4), t0);
    let mut msg = data(1, 0, 0, 0, b"abcd");
    msg[12] = 20;
    assert!(matches!(
        s.on_receive(&mut msg, None, t0),
        Err(Error::Malformed { message: "data transfer", .. })
    ));
}

#[test]
fn a_peer_sending_without_a_credit_is_refused() {
    let t0 = Instant::now();
    let (mut c, _) = established(cfg(4), cfg(4), t0);
    // The client has posted receives but granted none of them: the server holds no credit.
    post_wanted(&mut c);
    assert_eq!(c.credits().granted, 0);
    assert_eq!(c.on_receive(&mut data(4, 0, 0, 0, b"x"), None, t0), Err(Error::NoCreditForReceive));
    // And a receive the transport never posted is the transport's error.
    let (mut c, _) = established(cfg(4), cfg(4), t0);
    assert_eq!(c.credits().posted, 0);
    assert_eq!(c.on_receive(&mut data(4, 0, 0, 0, b"x"), None, t0), Err(Error::NoReceivePosted));
}

#[test]
fn queue_message_refusals_leave_the_connection_alone() {
    let t0 = Instant::now();
    let mut c = SmbdConnection::new(Role::Client, Config::default(), t0);
    assert_eq!(c.queue_message(10), Err(Error::NotEstablished));
    let (mut c, _) = established(Config::default(), Config::default(), t0);
    assert_eq!(c.queue_message(0), Err(Error::EmptyMessage));
    assert_eq!(
        c.queue_message((1 << 20) + 1),
        Err(Error::MessageTooLarge { len: (1 << 20) + 1, max: 1 << 20 })
    );
    assert!(c.is_established());
    assert!(c.queue_message(1 << 20).is_ok());
    events(&mut c);
    c.on_connection_lost();
    assert_eq!(events(&mut c), [Event::Closed(Error::ConnectionLost)]);
    assert_eq!(c.queue_message(1), Err(Error::Closed));
    assert!(c.poll_transmit(Instant::now()).is_none(), "queued messages never go out after close");
}

#[test]
fn last_credit_is_spent_only_with_a_grant() {
    let t0 = Instant::now();
    // The server posts and grants exactly 2.
    let (mut c, mut s) = established(cfg(2), cfg(2), t0);
    assert_eq!(c.credits().send, 2);
    for _ in 0..3 {
        c.queue_message(100).unwrap();
    }
    // No receive posted on the client: the first credit goes without a grant...
    let t1 = c.poll_transmit(t0).unwrap();
    assert_eq!(header_of(&t1).credits_granted, 0);
    // ...but not the last one.
    assert!(c.poll_transmit(t0).is_none());
    assert_eq!(c.credits().send, 1);
    // The rule asks the transport for a receive to grant, even at the target (MS-SMBD 3.1.5.9).
    assert!(c.receives_wanted() >= 1);
    post_wanted(&mut c);
    let t2 = c.poll_transmit(t0).unwrap();
    assert!(header_of(&t2).credits_granted >= 1);
    assert_eq!(c.credits().send, 0);
    assert!(c.poll_transmit(t0).is_none(), "no credits: the third message waits, nothing blocks");
    assert_eq!(c.queued_messages(), 1);

    // The server gets both; reposts; its empty answer grants the client credits again.
    for t in [t1, t2] {
        let mut w = t.header().to_vec();
        w.resize(t.len(), 7);
        assert!(matches!(s.on_receive(&mut w, None, t0).unwrap(), Received::Message { .. }));
    }
    assert_eq!(s.credits().send, 2, "the client granted the two receives it had posted");
    assert_eq!(s.credits().posted, 0);
    post_wanted(&mut s);
    let g = s.poll_transmit(t0).unwrap();
    assert_eq!(g.kind(), TransmitKind::Empty);
    assert_eq!(header_of(&g).credits_granted, 2);
    c.on_receive(&mut g.header().to_vec(), None, t0).unwrap();
    assert_eq!(c.credits().send, 2);
    assert_eq!(c.poll_transmit(t0).unwrap().kind(), TransmitKind::Data);
}

#[test]
fn a_starved_peer_gets_an_empty_grant_and_a_fed_one_does_not() {
    let t0 = Instant::now();
    let (mut c, _) = established(cfg(8), cfg(8), t0);
    // The server holds nothing of ours: once receives are posted an empty message grants them.
    assert!(c.poll_transmit(t0).is_none(), "nothing posted, nothing to grant");
    post_wanted(&mut c);
    let t = c.poll_transmit(t0).unwrap();
    assert_eq!(t.kind(), TransmitKind::Empty);
    assert_eq!(t.len(), 20);
    let h = header_of(&t);
    assert_eq!((h.credits_requested, h.credits_granted, h.flags, h.remaining_data_length), (8, 8, 0, 0));
    // Now it holds the target: no further empty messages.
    assert!(c.poll_transmit(t0).is_none());
}

#[test]
fn the_send_ring_depth_bounds_sends_in_flight() {
    let t0 = Instant::now();
    let (mut c, _) = established(Config { send_queue_depth: 2, ..cfg(8) }, cfg(8), t0);
    for _ in 0..4 {
        c.queue_message(10).unwrap();
    }
    post_wanted(&mut c);
    assert!(c.poll_transmit(t0).is_some());
    assert!(c.poll_transmit(t0).is_some());
    assert!(c.poll_transmit(t0).is_none());
    assert_eq!(c.sends_in_flight(), 2);
    c.on_send_completed(1);
    assert!(c.poll_transmit(t0).is_some());
}

#[test]
fn fragments_reassemble_and_a_single_fragment_is_borrowed() {
    let t0 = Instant::now();
    let (mut c, mut s) = established(Config::default(), Config::default(), t0);
    post_wanted(&mut c);
    let msg: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let id = c.queue_message(msg.len()).unwrap();
    let mut frags = Vec::new();
    while let Some(t) = c.poll_transmit(t0) {
        if let Some((mid, range)) = t.payload() {
            assert_eq!(mid, id);
            assert!(range.len() <= 1340);
            frags.push([t.header(), &msg[range]].concat());
        }
    }
    assert_eq!(frags.len(), 3);
    let n = frags.len();
    for (i, mut f) in frags.into_iter().enumerate() {
        match s.on_receive(&mut f, None, t0).unwrap() {
            Received::Fragment => assert!(i < n - 1),
            Received::Message { data, invalidated_rkey } => {
                assert_eq!(i, n - 1);
                assert_eq!(data, &msg[..]);
                assert_eq!(invalidated_rkey, None);
            }
            other => panic!("{other:?}"),
        }
    }
    // One fragment: the message is the receive buffer itself.
    let mut one = data(8, 0, 0, 0, b"hello");
    let base = one.as_ptr() as usize;
    match s.on_receive(&mut one, None, t0).unwrap() {
        Received::Message { data, .. } => {
            assert_eq!(data, b"hello");
            assert_eq!(data.as_ptr() as usize, base + 24);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalidation_token_rides_the_last_fragment_and_is_handed_up() {
    let t0 = Instant::now();
    let (mut c, mut s) = established(Config::default(), Config::default(), t0);
    post_wanted(&mut c);
    let msg = vec![0x42u8; 2000];
    c.queue_message_invalidating(msg.len(), 0xBEEF).unwrap();
    let mut sent = Vec::new();
    while let Some(t) = c.poll_transmit(t0) {
        if let Some((_, range)) = t.payload() {
            sent.push((t.invalidate_token(), t.completes_message(), [t.header(), &msg[range]].concat()));
        }
    }
    assert_eq!(sent.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>(), [(None, false), (Some(0xBEEF), true)]);
    // The receiving provider reports the token with the fragment that carried it.
    let mut got = None;
    for (token, _, mut w) in sent {
        if let Received::Message { invalidated_rkey, .. } = s.on_receive(&mut w, token, t0).unwrap() {
            got = Some(invalidated_rkey);
        }
    }
    assert_eq!(got, Some(Some(0xBEEF)));
}

#[test]
fn idle_connection_sends_a_keepalive_and_the_peer_answers() {
    let t0 = Instant::now();
    let (mut c, mut s) = established(cfg(8), cfg(8), t0);
    post_wanted(&mut c);
    post_wanted(&mut s);
    // Both top each other up first.
    let g = c.poll_transmit(t0).unwrap();
    s.on_receive(&mut g.header().to_vec(), None, t0).unwrap();
    post_wanted(&mut s);
    while let Some(t) = s.poll_transmit(t0) {
        c.on_receive(&mut t.header().to_vec(), None, t0).unwrap();
        post_wanted(&mut c);
    }
    assert!(c.poll_transmit(t0).is_none());
    let idle = c.poll_timeout().unwrap();
    assert_eq!(idle, t0 + Duration::from_secs(120));

    c.handle_timeout(idle);
    let k = c.poll_transmit(idle).unwrap();
    assert_eq!(k.kind(), TransmitKind::Empty);
    assert_eq!(header_of(&k).flags, data_transfer_flags::RESPONSE_REQUESTED);
    assert_eq!(c.poll_timeout(), Some(idle + Duration::from_secs(5)));

    // The server answers promptly, without asking back.
    s.on_receive(&mut k.header().to_vec(), None, idle).unwrap();
    post_wanted(&mut s);
    let a = s.poll_transmit(idle).unwrap();
    assert_eq!(header_of(&a).flags, 0);
    assert!(s.poll_transmit(idle).is_none());
    c.on_receive(&mut a.header().to_vec(), None, idle).unwrap();
    assert_eq!(c.poll_timeout(), Some(idle + Duration::from_secs(120)));
    c.handle_timeout(idle + Duration::from_secs(5));
    assert!(c.is_established());
}

#[test]
fn an_unanswered_keepalive_closes_the_connection() {
    let t0 = Instant::now();
    let (mut c, _) = established(cfg(8), cfg(8), t0);
    events(&mut c);
    let idle = t0 + Duration::from_secs(120);
    c.handle_timeout(idle);
    post_wanted(&mut c);
    let k = c.poll_transmit(idle).unwrap();
    assert_eq!(header_of(&k).flags, data_transfer_flags::RESPONSE_REQUESTED);
    c.handle_timeout(idle + Duration::from_secs(5));
    assert_eq!(events(&mut c), [Event::Closed(Error::KeepaliveTimeout)]);
    assert!(c.poll_transmit(idle).is_none());
}

/// Client holding one credit, with its two posted receives both granted to a server whose target
/// is 2.
fn client_on_its_last_credit(t0: Instant) -> SmbdConnection {
    let (mut c, _) = established(cfg(4), cfg(2), t0);
    assert_eq!(c.credits().send, 2);
    assert_eq!(post_wanted(&mut c), 2);
    let g = c.poll_transmit(t0).unwrap();
    assert_eq!((g.kind(), header_of(&g).credits_granted), (TransmitKind::Empty, 2));
    assert_eq!(c.credits(), smbdirect::Credits { send: 1, posted: 2, granted: 2, receive_target: 2 });
    c
}

#[test]
fn the_last_credit_rule_posts_one_receive_past_the_target() {
    let t0 = Instant::now();
    let mut c = client_on_its_last_credit(t0);
    assert_eq!(c.receives_wanted(), 0, "at the target with nothing to send");
    c.queue_message(10).unwrap();
    assert!(c.poll_transmit(t0).is_none());
    assert_eq!(c.receives_wanted(), 1, "MS-SMBD 3.1.5.9: post at least one to grant");
    c.on_receives_posted(1);
    let t = c.poll_transmit(t0).unwrap();
    assert_eq!(t.kind(), TransmitKind::Data);
    assert_eq!(header_of(&t).credits_granted, 1);
    assert_eq!(c.credits(), smbdirect::Credits { send: 0, posted: 3, granted: 3, receive_target: 2 });
}

#[test]
fn a_keepalive_request_on_the_last_credit_is_answered_with_a_grant() {
    let t0 = Instant::now();
    let mut c = client_on_its_last_credit(t0);
    let mut rr = data(2, 0, data_transfer_flags::RESPONSE_REQUESTED, 0, b"");
    assert_eq!(c.on_receive(&mut rr, None, t0), Ok(Received::Nothing));
    assert!(c.poll_transmit(t0).is_none(), "the last credit needs a grant");
    assert_eq!(c.receives_wanted(), 1);
    c.on_receives_posted(1);
    let a = c.poll_transmit(t0).unwrap();
    assert_eq!(a.kind(), TransmitKind::Empty);
    let h = header_of(&a);
    assert_eq!((h.flags, h.credits_granted), (0, 1));
    assert!(c.poll_transmit(t0).is_none(), "answered once");
}
