//! Two `SmbdConnection`s over a simulated RDMA link, driven by random schedules (proptest).
//!
//! The link is reliable and in order per direction, like an RC queue pair. Each side's transport
//! owns a finite number of posted receive buffers: a message arriving with none posted would be a
//! receiver-not-ready error on real hardware, so the simulation fails there. The schedule
//! interleaves at random: queueing upper-layer messages (0 bytes to several fragments to
//! MaxFragmentedSize), polling transmits, delivering, posting receives (often fewer than wanted),
//! completing sends and advancing time.
//!
//! Checked after every step: the receiving side always has a buffer posted (nothing sent without a
//! credit); a message spending the sender's last credit grants at least one; grants never exceed
//! posted receives; credit conservation per direction (receiver's granted = sender's credits +
//! sender's messages in flight + receiver's grants in flight); fragments fit the negotiated sizes;
//! no error or close between two conforming peers. Whenever time advances, and at the end, the
//! link is drained by a fair scheduler that posts what is wanted: it must go quiet within a bound
//! (no deadlock, no endless empty-message exchange) with every queued message delivered exactly
//! once, whole and in order, with its invalidation token.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use smb_wire::smbd::{DataTransfer, NegotiateResponse};
use smbdirect::{Config, Event, MessageId, Received, Role, SmbdConnection, TransmitKind};

/// One message on the wire: what the sender's provider posts.
#[derive(Debug)]
struct Wire {
    kind: TransmitKind,
    bytes: Vec<u8>,
    /// Token the receiving provider reports invalidated (SEND_WITH_INVALIDATE).
    invalidate: Option<u32>,
}

impl Wire {
    /// Credits this message grants its receiver.
    fn grants(&self) -> u32 {
        match self.kind {
            TransmitKind::NegotiateResponse => {
                u32::from(NegotiateResponse::parse(&self.bytes).unwrap().credits_granted)
            }
            TransmitKind::Data | TransmitKind::Empty => {
                u32::from(DataTransfer::parse(&self.bytes).unwrap().header.credits_granted)
            }
            TransmitKind::NegotiateRequest => 0,
        }
    }

    /// Whether it consumed a send credit of its sender.
    fn spends_credit(&self) -> bool {
        matches!(self.kind, TransmitKind::Data | TransmitKind::Empty)
    }
}

/// One side: the connection plus what its transport and upper layer know.
struct Side {
    conn: SmbdConnection,
    /// Receive buffers the transport has posted and not seen complete.
    posted: u32,
    /// Sends posted and not completed.
    sends: u32,
    /// Payloads of queued messages, by id, until their last fragment is sent.
    payloads: HashMap<MessageId, Vec<u8>>,
    /// Messages the upper layer wants sent before the connection is established.
    backlog: VecDeque<(Vec<u8>, Option<u32>)>,
    /// Every message handed to `queue_message`, in order, with its token.
    queued: Vec<(Vec<u8>, Option<u32>)>,
    /// Every message delivered by the peer, in order, with the token handed up.
    delivered: Vec<(Vec<u8>, Option<u32>)>,
    /// Upper-layer messages created so far (for content and tokens).
    created: u32,
    id: u8,
}

impl Side {
    fn new(role: Role, cfg: Config, now: Instant) -> Self {
        let mut conn = SmbdConnection::new(role, cfg, now);
        // MS-SMBD 3.1.4.1 / 3.1.7.2: a receive is posted before connecting or accepting.
        let n = conn.receives_wanted();
        assert_eq!(n, 1);
        conn.on_receives_posted(n);
        Side {
            conn,
            posted: n,
            sends: 0,
            payloads: HashMap::new(),
            backlog: VecDeque::new(),
            queued: Vec::new(),
            delivered: Vec::new(),
            created: 0,
            id: u8::from(role == Role::Server),
        }
    }

    /// A new upper-layer message of `len` bytes with recognisable content; every third one asks
    /// for remote invalidation.
    fn create(&mut self, len: usize) {
        let k = self.created;
        self.created += 1;
        let bytes = (0..len)
            .map(|i| (i as u32).wrapping_mul(31).wrapping_add(k * 7 + u32::from(self.id)) as u8)
            .collect();
        let token = k.is_multiple_of(3).then_some(0x1000 * u32::from(self.id) + k);
        self.backlog.push_back((bytes, token));
        self.flush_backlog();
    }

    fn flush_backlog(&mut self) {
        while self.conn.is_established() {
            let Some((bytes, token)) = self.backlog.pop_front() else { break };
            let r = match token {
                Some(t) => self.conn.queue_message_invalidating(bytes.len(), t),
                None => self.conn.queue_message(bytes.len()),
            };
            match r {
                Ok(id) => {
                    self.payloads.insert(id, bytes.clone());
                    self.queued.push((bytes, token));
                }
                // An empty message is refused locally and never sent.
                Err(smbdirect::Error::EmptyMessage) => assert!(bytes.is_empty()),
                Err(e) => panic!("queue_message: {e}"),
            }
        }
    }

    fn post(&mut self, n: u32) {
        self.conn.on_receives_posted(n);
        self.posted += n;
    }

    fn post_wanted(&mut self) {
        let n = self.conn.receives_wanted();
        self.post(n);
    }

    fn complete_sends(&mut self, n: u32) {
        let n = n.min(self.sends);
        self.conn.on_send_completed(n);
        self.sends -= n;
    }

    fn events(&mut self) {
        while let Some(e) = self.conn.poll_event() {
            match e {
                Event::Established(_) => self.flush_backlog(),
                Event::Closed(e) => panic!("side {} closed: {e}", self.id),
            }
        }
    }
}

struct Sim {
    sides: [Side; 2],
    /// `wires[i]`: messages from side i to side 1 - i, oldest first.
    wires: [VecDeque<Wire>; 2],
    now: Instant,
}

impl Sim {
    fn new(client: Config, server: Config) -> Self {
        let now = Instant::now();
        Sim {
            sides: [Side::new(Role::Client, client, now), Side::new(Role::Server, server, now)],
            wires: [VecDeque::new(), VecDeque::new()],
            now,
        }
    }

    /// Polls one transmit from side `i` and puts it on the wire. Returns whether one came.
    fn transmit(&mut self, i: usize) -> bool {
        let now = self.now;
        let side = &mut self.sides[i];
        let before = side.conn.credits();
        let was_established = side.conn.is_established();
        let Some(t) = side.conn.poll_transmit(now) else { return false };
        side.sends += 1;
        assert_eq!(side.sends, side.conn.sends_in_flight());
        let mut bytes = t.header().to_vec();
        if let Some((id, range)) = t.payload() {
            let p = &side.payloads[&id];
            bytes.extend_from_slice(&p[range.clone()]);
            if t.completes_message() {
                assert_eq!(range.end, p.len());
                side.payloads.remove(&id);
            }
        }
        let w = Wire { kind: t.kind(), bytes, invalidate: t.invalidate_token() };
        if w.spends_credit() {
            assert!(was_established);
            let h = DataTransfer::parse(&w.bytes).unwrap();
            // Nothing without a credit; the last credit only with a grant.
            assert!(before.send >= 1, "side {i} sent without a credit");
            if before.send == 1 {
                assert!(h.header.credits_granted >= 1, "side {i} spent its last credit without granting");
            }
            let params = side.conn.params().unwrap();
            assert!(w.bytes.len() <= params.max_send_size as usize);
            assert!(h.payload.len() <= params.max_fragment_payload() as usize);
            assert!(h.header.credits_requested >= 1);
        }
        self.wires[i].push_back(w);
        side.events();
        true
    }

    /// Delivers the oldest message travelling toward side `to`. Returns whether there was one.
    fn deliver(&mut self, to: usize) -> bool {
        let now = self.now;
        let Some(mut w) = self.wires[1 - to].pop_front() else { return false };
        let side = &mut self.sides[to];
        assert!(side.posted > 0, "message for side {to} with no receive posted: sent without a credit");
        side.posted -= 1;
        let r = side.conn.on_receive(&mut w.bytes, w.invalidate, now);
        match r {
            Ok(Received::Message { data, invalidated_rkey }) => {
                side.delivered.push((data.to_vec(), invalidated_rkey))
            }
            Ok(_) => {}
            Err(e) => panic!("side {to} refused a message from a conforming peer: {e}"),
        }
        side.events();
        true
    }

    /// The cross-side invariants.
    fn check(&self) {
        for i in 0..2 {
            let me = &self.sides[i];
            let c = me.conn.credits();
            assert_eq!(c.posted, me.posted, "side {i}: posted receives disagree with the transport");
            assert!(c.granted <= c.posted, "side {i} granted {} of {} posted", c.granted, c.posted);
            // Conservation for the direction peer -> me.
            let peer = &self.sides[1 - i];
            let peer_msgs = self.wires[1 - i].iter().filter(|w| w.spends_credit()).count() as u32;
            let my_grants: u32 = self.wires[i].iter().map(Wire::grants).sum();
            assert_eq!(
                c.granted,
                peer.conn.credits().send + peer_msgs + my_grants,
                "side {i}: credits granted to the peer are not conserved"
            );
        }
    }

    /// A fair scheduler that posts everything wanted: must go quiet with everything delivered.
    fn drain(&mut self) {
        for _ in 0..20_000 {
            let mut progress = false;
            for i in 0..2 {
                self.sides[i].post_wanted();
                while self.transmit(i) {
                    progress = true;
                }
                let n = self.sides[i].sends;
                self.sides[i].complete_sends(n);
                // A completion frees the send ring: more may go next round.
                progress |= n > 0;
            }
            self.check();
            for to in 0..2 {
                while self.deliver(to) {
                    progress = true;
                }
            }
            self.check();
            if !progress {
                for i in 0..2 {
                    let (me, peer) = (&self.sides[i], &self.sides[1 - i]);
                    assert!(
                        me.backlog.is_empty() && me.conn.queued_messages() == 0,
                        "side {i} left messages queued: {:?} backlog {} / peer {:?} params {:?} / {:?}",
                        me.conn.credits(),
                        me.backlog.len(),
                        peer.conn.credits(),
                        me.conn.params(),
                        peer.conn.params(),
                    );
                    assert_eq!(
                        peer.delivered, me.queued,
                        "messages from side {i} lost, duplicated or reordered"
                    );
                }
                return;
            }
        }
        panic!("the link never went quiet: a livelock of empty messages or a stuck queue");
    }

    fn step(&mut self, a: &Action) {
        match *a {
            Action::Queue { side, len } => self.sides[side].create(len),
            Action::Transmit { side, n } => {
                for _ in 0..n {
                    self.transmit(side);
                }
            }
            Action::Deliver { to, n } => {
                for _ in 0..n {
                    self.deliver(to);
                }
            }
            Action::Post { side, share } => {
                let wanted = self.sides[side].conn.receives_wanted();
                self.sides[side].post((wanted * u32::from(share)).div_ceil(255));
            }
            Action::Complete { side, n } => self.sides[side].complete_sends(u32::from(n)),
            Action::Tick { ms } => {
                // Time moves only over a quiet link, so a keepalive is never left unanswered
                // because the schedule starved delivery on purpose.
                self.drain();
                self.now += Duration::from_millis(u64::from(ms));
                for s in &mut self.sides {
                    if s.conn.poll_timeout().is_some_and(|t| t <= self.now) {
                        s.conn.handle_timeout(self.now);
                    }
                    s.events();
                }
            }
        }
        self.check();
    }
}

#[derive(Debug, Clone)]
enum Action {
    Queue {
        side: usize,
        len: usize,
    },
    Transmit {
        side: usize,
        n: u8,
    },
    Deliver {
        to: usize,
        n: u8,
    },
    /// Post `share`/255 of what is wanted (rounded up).
    Post {
        side: usize,
        share: u8,
    },
    Complete {
        side: usize,
        n: u8,
    },
    Tick {
        ms: u32,
    },
}

fn action(max_fragmented: usize) -> impl Strategy<Value = Action> {
    let side = 0usize..2;
    let len = prop_oneof![
        6 => 0usize..200,
        3 => 200usize..5000,
        1 => 0..=max_fragmented,
    ];
    prop_oneof![
        3 => (side.clone(), len).prop_map(|(side, len)| Action::Queue { side, len }),
        4 => (side.clone(), 1u8..8).prop_map(|(side, n)| Action::Transmit { side, n }),
        4 => (side.clone(), 1u8..8).prop_map(|(to, n)| Action::Deliver { to, n }),
        3 => (side.clone(), any::<u8>()).prop_map(|(side, share)| Action::Post { side, share }),
        2 => (side, 1u8..8).prop_map(|(side, n)| Action::Complete { side, n }),
        1 => (0u32..15_000).prop_map(|ms| Action::Tick { ms }),
    ]
}

/// Small credits and sizes so that the credit rules and fragmentation show in every schedule;
/// the keepalive interval is short so that keepalives interleave with traffic.
fn config() -> impl Strategy<Value = Config> {
    (2u16..10, 2u16..10, 128u32..700, 128u32..700, 131_072u32..200_000, 1u32..12).prop_map(
        |(credit_max, credit_target, send, recv, frag, depth)| Config {
            receive_credit_max: credit_max,
            send_credit_target: credit_target,
            max_send_size: send,
            max_receive_size: recv,
            max_fragmented_recv_size: frag,
            send_queue_depth: depth,
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(5),
            ..Config::default()
        },
    )
}

fn scenario() -> impl Strategy<Value = (Config, Config, Vec<Action>)> {
    (config(), config()).prop_flat_map(|(c, s)| {
        let max = c.max_fragmented_recv_size.min(s.max_fragmented_recv_size) as usize;
        (Just(c), Just(s), proptest::collection::vec(action(max), 1..300))
    })
}

proptest! {
    // 96 cases by default (a few seconds); PROPTEST_CASES=N for a longer hunt.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96)
    ))]

    #[test]
    fn random_schedules_deliver_everything_and_keep_the_credit_rules((client, server, actions) in scenario()) {
        let mut sim = Sim::new(client, server);
        for a in &actions {
            sim.step(a);
        }
        sim.drain();
        prop_assert!(sim.sides.iter().all(|s| s.conn.is_established()));
    }
}

/// The default (Windows/Linux) parameters with a megabyte message each way and a keepalive.
#[test]
fn default_config_megabyte_each_way() {
    let mut sim = Sim::new(Config::default(), Config::default());
    sim.drain();
    sim.sides[0].create(1 << 20);
    sim.sides[1].create(1 << 20);
    sim.sides[0].create(1);
    sim.drain();
    assert_eq!(sim.sides[1].delivered.len(), 2);
    assert_eq!(sim.sides[0].delivered.len(), 1);
    sim.step(&Action::Tick { ms: 120_000 });
    sim.drain();
    assert!(sim.sides.iter().all(|s| s.conn.is_established()));
}
