//! SMB Direct in memory: two `smbdirect::SmbdConnection`s, one per side, exchanging their
//! messages (negotiate, data transfer fragments, credit grants, keepalives) through two queues, as
//! a reliable connection carries them. The link is the state machines' transport: it posts the
//! receives each side wants before taking its sends, feeds every arrival in order, completes
//! sends once delivered, and runs the timers when the clock moves.
//!
//! It checks what the peer's hardware would refuse and what MS-SMBD promises, and panics when
//! either breaks: a message arriving with no receive posted (receiver not ready: sent without a
//! credit), a send without a send credit, the last credit spent without a grant, a message longer
//! than the negotiated MaxSendSize, and a link that stops with messages still queued (a credit
//! deadlock).

use crate::rdma_memory::Memory;
use smb_wire::smbd::{DataTransfer, NegotiateResponse};
use smbdirect::{Config, Event, MessageId, Negotiated, Received, Role, SmbdConnection, TransmitKind};
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// What went over the link, per sender (index 0 the client, 1 the server).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmbdStats {
    /// Upper-layer messages queued.
    pub messages: [u64; 2],
    /// Data transfer messages carrying payload.
    pub fragments: [u64; 2],
    /// Data transfer messages without payload: credit grants and keepalives.
    pub empty: [u64; 2],
    /// Messages that asked the peer for an answer (SMB_DIRECT_RESPONSE_REQUESTED: keepalives).
    pub response_requested: [u64; 2],
    /// Credits granted to the peer (the negotiate response's included).
    pub granted: [u64; 2],
    /// Messages sent with the sender's last credit (each with a grant).
    pub last_credit_sends: [u64; 2],
    /// Times the sender stopped with messages still queued (out of credits): flow control at work.
    pub stalls: [u64; 2],
    /// The longest message posted, header included.
    pub largest_send: usize,
}

/// One message on the wire.
#[derive(Debug)]
struct Wire {
    bytes: Vec<u8>,
    /// The token the receiving provider invalidates (SEND_WITH_INVALIDATE).
    invalidate: Option<u32>,
}

/// One side: its state machine and what its transport knows.
struct End {
    conn: SmbdConnection,
    /// Receives posted and not completed.
    posted: u32,
    /// Bytes of queued messages until their last fragment is out (the state machine holds none).
    payloads: HashMap<MessageId, Vec<u8>>,
    /// Messages the upper layer sent before MS-SMBD was established.
    backlog: VecDeque<(Vec<u8>, Option<u32>)>,
}

pub(crate) struct SmbdLink {
    ends: [End; 2],
    /// `wires[i]`: from side i to side 1 - i, oldest first.
    wires: [VecDeque<Wire>; 2],
    pub(crate) stats: SmbdStats,
}

impl SmbdLink {
    pub(crate) fn new(client: Config, server: Config, now: Instant) -> SmbdLink {
        let end = |role, cfg| End {
            conn: SmbdConnection::new(role, cfg, now),
            posted: 0,
            payloads: HashMap::new(),
            backlog: VecDeque::new(),
        };
        SmbdLink {
            ends: [end(Role::Client, client), end(Role::Server, server)],
            wires: [VecDeque::new(), VecDeque::new()],
            stats: SmbdStats::default(),
        }
    }

    pub(crate) fn connection(&self, side: usize) -> &SmbdConnection {
        &self.ends[side].conn
    }

    pub(crate) fn params(&self, side: usize) -> Option<&Negotiated> {
        self.ends[side].conn.params()
    }

    /// Queues an upper-layer message from `side` (before establishment: once established).
    pub(crate) fn queue(&mut self, side: usize, msg: Vec<u8>, invalidate: Option<u32>) -> Result<(), String> {
        let end = &mut self.ends[side];
        if !end.conn.is_established() {
            end.backlog.push_back((msg, invalidate));
            return Ok(());
        }
        let id = match invalidate {
            Some(token) => end.conn.queue_message_invalidating(msg.len(), token),
            None => end.conn.queue_message(msg.len()),
        };
        let id = id.map_err(|e| format!("side {side}: a {}-byte message refused: {e}", msg.len()))?;
        end.payloads.insert(id, msg);
        self.stats.messages[side] += 1;
        Ok(())
    }

    /// Runs both sides until nothing moves; whole messages go to the receivers' inboxes. `Err`:
    /// the connection closed (a state machine's error, or a refused message).
    pub(crate) fn pump(
        &mut self,
        now: Instant,
        inbox: &mut [VecDeque<Vec<u8>>; 2],
        memory: &mut Memory,
    ) -> Result<bool, String> {
        let mut moved = false;
        loop {
            let mut step = false;
            for side in 0..2 {
                self.events(side)?;
                step |= self.transmit(side, now);
            }
            for from in 0..2 {
                step |= self.deliver(from, now, inbox, memory)?;
            }
            if !step {
                break;
            }
            moved = true;
        }
        for (side, end) in self.ends.iter().enumerate() {
            // Quiet with messages queued on an open connection: nobody will ever grant a credit.
            let queued = end.conn.queued_messages() + end.backlog.len();
            if queued > 0 && !end.conn.is_closed() {
                panic!(
                    "SMB Direct deadlock: side {side} has {queued} messages queued, {:?}",
                    end.conn.credits()
                );
            }
        }
        Ok(moved)
    }

    /// Runs the timers due at `now` (negotiation, idle, keepalive).
    pub(crate) fn on_time(&mut self, now: Instant) {
        for end in &mut self.ends {
            // A timer that ran moves its deadline on; a few rounds settle any that are due.
            for _ in 0..4 {
                match end.conn.poll_timeout() {
                    Some(t) if t <= now => end.conn.handle_timeout(now),
                    _ => break,
                }
            }
        }
    }

    fn events(&mut self, side: usize) -> Result<(), String> {
        while let Some(e) = self.ends[side].conn.poll_event() {
            match e {
                Event::Established(_) => {
                    for (msg, invalidate) in std::mem::take(&mut self.ends[side].backlog) {
                        self.queue(side, msg, invalidate)?;
                    }
                }
                Event::Closed(e) => return Err(format!("SMB Direct side {side} closed: {e}")),
            }
        }
        Ok(())
    }

    /// Posts the receives `side` wants, then puts everything it may send on the wire.
    fn transmit(&mut self, side: usize, now: Instant) -> bool {
        let end = &mut self.ends[side];
        let wanted = end.conn.receives_wanted();
        if wanted > 0 {
            end.conn.on_receives_posted(wanted);
            end.posted += wanted;
        }
        let mut sent = false;
        loop {
            let before = end.conn.credits();
            let Some(t) = end.conn.poll_transmit(now) else { break };
            let mut bytes = t.header().to_vec();
            if let Some((id, range)) = t.payload() {
                let payload = &end.payloads[&id];
                bytes.extend_from_slice(&payload[range.clone()]);
                if t.completes_message() {
                    end.payloads.remove(&id);
                }
            }
            if matches!(t.kind(), TransmitKind::Data | TransmitKind::Empty) {
                let h = DataTransfer::parse(&bytes).expect("the state machine encodes what it parses").header;
                assert!(before.send >= 1, "side {side} sent without a send credit");
                if before.send == 1 {
                    assert!(h.credits_granted >= 1, "side {side} spent its last credit without a grant");
                    self.stats.last_credit_sends[side] += 1;
                }
                let max = end.conn.params().expect("established").max_send_size as usize;
                assert!(bytes.len() <= max, "side {side} sent {} bytes, MaxSendSize {max}", bytes.len());
                let s = &mut self.stats;
                if t.kind() == TransmitKind::Data {
                    s.fragments[side] += 1;
                } else {
                    s.empty[side] += 1;
                }
                s.granted[side] += u64::from(h.credits_granted);
                s.response_requested[side] += u64::from(h.response_requested());
            }
            if t.kind() == TransmitKind::NegotiateResponse {
                // The first grant (MS-SMBD 3.1.5.3); a refusal grants nothing and parses as such.
                let granted = NegotiateResponse::parse(&bytes).map_or(0, |r| r.credits_granted);
                self.stats.granted[side] += u64::from(granted);
            }
            self.stats.largest_send = self.stats.largest_send.max(bytes.len());
            self.wires[side].push_back(Wire { bytes, invalidate: t.invalidate_token() });
            sent = true;
        }
        if end.conn.queued_messages() > 0 {
            self.stats.stalls[side] += 1;
        }
        sent
    }

    /// Hands everything on the wire from `from` to the other side, in order.
    fn deliver(
        &mut self,
        from: usize,
        now: Instant,
        inbox: &mut [VecDeque<Vec<u8>>; 2],
        memory: &mut Memory,
    ) -> Result<bool, String> {
        let to = 1 - from;
        let mut moved = false;
        while let Some(mut w) = self.wires[from].pop_front() {
            let rx = &mut self.ends[to];
            assert!(
                rx.posted >= 1,
                "receiver not ready: side {from} sent with no receive posted at side {to}"
            );
            rx.posted -= 1;
            if let (Some(token), 0) = (w.invalidate, to) {
                // The receiving provider revokes the window before the message is seen.
                memory.invalidate(token);
            }
            match rx.conn.on_receive(&mut w.bytes, w.invalidate, now) {
                Ok(Received::Message { data, .. }) => inbox[to].push_back(data.to_vec()),
                Ok(Received::Nothing | Received::Fragment | Received::Negotiated) => {}
                Err(e) => return Err(format!("SMB Direct side {to} refused a message: {e}")),
            }
            self.ends[from].conn.on_send_completed(1);
            moved = true;
        }
        Ok(moved)
    }
}
