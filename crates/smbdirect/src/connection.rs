//! One SMB Direct connection as a state machine (MS-SMBD 3.1: the abstract data model of 3.1.1.1,
//! the events of 3.1.4–3.1.7), fed bytes and time, returning what to post and what happened.
//!
//! State grouped by concern, after Linux's `smbdirect_socket`: `State` says which message is
//! expected next; `send` holds credits, the queue and the sends in flight; `recv` holds posted and
//! granted receives and the reassembly buffer; `idle` holds the keepalive timer.
//!
//! The transport's side of the contract:
//! 1. Post [`SmbdConnection::receives_wanted`] receive buffers of [`crate::Config::max_receive_size`]
//!    bytes and report them with [`SmbdConnection::on_receives_posted`] **before** draining
//!    [`SmbdConnection::poll_transmit`]: grants are computed from posted receives only.
//! 2. Feed every completed receive to [`SmbdConnection::on_receive`] in completion order, then
//!    re-post the buffer (the message has been consumed or copied out by then, except a
//!    [`Received::Message`] borrowed from it, which the caller handles first).
//! 3. Post each [`Transmit`] as one send work request, in the order returned, and report send
//!    completions with [`SmbdConnection::on_send_completed`].
//! 4. Call [`SmbdConnection::handle_timeout`] at [`SmbdConnection::poll_timeout`].
//! 5. After [`Event::Closed`], post nothing more, let the sends already handed out complete (a
//!    refused negotiation's failure response is one of them) and disconnect.
//!
//! Invariants, checked by `tests/two_peers.rs` over random schedules: nothing is sent without a
//! send credit; the last credit goes only with a grant; grants never exceed posted receives;
//! upper-layer messages arrive whole, in order, once; a schedule that keeps running delivers
//! everything (no credit deadlock).

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Instant;

use smb_wire::smbd::{data_transfer_flags, DataTransfer, DataTransferHeader, DATA_OFFSET};
use smb_wire::status::NtStatus;
use smb_wire::Encode;

use crate::config::Config;
use crate::credits::{Credits, RecvCredits, SendCredits};
use crate::descriptors::Limits;
use crate::error::Error;
use crate::keepalive::Idle;
use crate::negotiate::{self, Negotiated, RequestOutcome};
use crate::reassembly::{Reassembly, Step};
use crate::send_queue::{MessageId, SendQueue};

/// Which end of the RDMA connection this is (MS-SMBD 3.1.1.1 Connection.Role before it becomes
/// ESTABLISHED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The active side (SMB client): sends the Negotiate Request.
    Client,
    /// The passive side (SMB server): answers it.
    Server,
}

/// Room for the largest message header a [`Transmit`] carries: the 32-byte Negotiate Response.
pub const MAX_HEADER_LEN: usize = 32;

/// What a [`Transmit`] is, for tracing and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransmitKind {
    /// MS-SMBD 2.2.1, 20 bytes.
    NegotiateRequest,
    /// MS-SMBD 2.2.2, 32 bytes (a success or a failure response).
    NegotiateResponse,
    /// MS-SMBD 2.2.3 with a fragment of an upper-layer message.
    Data,
    /// MS-SMBD 2.2.3 without payload, 20 bytes: a credit grant, keepalive or keepalive answer.
    Empty,
}

/// One send work request to post: header bytes, then optionally a range of a queued message.
///
/// The state machine never holds payload bytes: the caller gathers `header()` and the named range
/// of its own copy of the message (for RDMA, SGE 0 and SGE 1), posting a SEND_WITH_INVALIDATE when
/// [`Transmit::invalidate_token`] is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    kind: TransmitKind,
    payload: Option<(MessageId, Range<usize>)>,
    invalidate: Option<u32>,
}

impl Transmit {
    /// The encoded SMB Direct header (with the 4 bytes of padding when a payload follows).
    pub fn header(&self) -> &[u8] {
        &self.header[..self.header_len]
    }

    /// The bytes of a queued message that follow the header.
    pub fn payload(&self) -> Option<(MessageId, Range<usize>)> {
        self.payload.clone()
    }

    /// The message's bytes on the wire: header plus payload.
    pub fn len(&self) -> usize {
        self.header_len + self.payload.as_ref().map_or(0, |(_, r)| r.len())
    }

    /// Never true: every transmit has a header. Present because `len` is.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Which message this is.
    pub fn kind(&self) -> TransmitKind {
        self.kind
    }

    /// A token the peer's provider should invalidate on receipt (post SEND_WITH_INVALIDATE).
    pub fn invalidate_token(&self) -> Option<u32> {
        self.invalidate
    }

    /// Whether this is the last fragment of its message: once this send completes the caller may
    /// release the message's bytes.
    pub fn completes_message(&self) -> bool {
        self.kind == TransmitKind::Data && self.header_len == DATA_OFFSET && self.remaining_data_length() == 0
    }

    fn remaining_data_length(&self) -> u32 {
        u32::from_le_bytes([self.header[8], self.header[9], self.header[10], self.header[11]])
    }
}

/// What one completed receive meant.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// A credit grant, keepalive or keepalive answer: nothing for the upper layer.
    Nothing,
    /// A fragment, copied into the reassembly buffer: the receive buffer may be re-posted.
    Fragment,
    /// A whole upper-layer message: borrowed from the receive buffer when it came in one
    /// fragment, else from the reassembly buffer (valid until the next `on_receive`).
    Message {
        data: &'a mut [u8],
        /// The token the provider reported invalidated while this message arrived (MS-SMBD
        /// 3.1.5.8 Connection.InvalidatedToken), to match against the one the upper layer expects.
        invalidated_rkey: Option<u32>,
    },
    /// A negotiate message was processed. The client is established ([`Event::Established`]);
    /// the server answers at the next `poll_transmit`.
    Negotiated,
}

/// Something the upper layer or transport must know, from [`SmbdConnection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The negotiation finished with these parameters; messages may be queued.
    Established(Negotiated),
    /// The connection is done, for this reason (see [`Error`]).
    Closed(Error),
}

/// Which message the connection expects next (MS-SMBD Connection.Role and then some).
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Client: the Negotiate Request is to be sent (`request_sent` false) or was sent.
    AwaitingResponse { request_sent: bool },
    /// Server: waiting for the Negotiate Request.
    AwaitingRequest,
    /// Server: accepted the request; the response goes out at the next `poll_transmit`.
    Responding(Negotiated),
    /// Server: refused the request; the failure response goes out, then the connection closes.
    Refusing { status: NtStatus, error: Error },
    /// Data transfer in both directions.
    Established,
    /// Done: nothing more is sent or accepted.
    Closed,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::AwaitingResponse { request_sent: false } => "the negotiate request is not sent yet",
            State::AwaitingResponse { request_sent: true } => "awaiting the negotiate response",
            State::AwaitingRequest => "awaiting the negotiate request",
            State::Responding(_) => "the negotiate response is not sent yet",
            State::Refusing { .. } => "refusing the negotiation",
            State::Established => "established",
            State::Closed => "closed",
        }
    }
}

/// Send side: credits, the queue of upper-layer messages, sends in flight.
#[derive(Debug)]
struct SendIo {
    credits: SendCredits,
    queue: SendQueue,
    /// Sends handed out by `poll_transmit` and not reported complete.
    in_flight: u32,
}

/// Receive side: posted and granted receives, reassembly.
#[derive(Debug)]
struct RecvIo {
    credits: RecvCredits,
    reassembly: Reassembly,
}

/// What `on_receive` found, before borrowing the bytes to hand up.
enum Outcome {
    Nothing,
    Fragment,
    Negotiated,
    Whole { range: Range<usize>, invalidated: Option<u32> },
    Complete { invalidated: Option<u32> },
}

/// One SMB Direct connection: see the module documentation for the transport's contract.
#[derive(Debug)]
pub struct SmbdConnection {
    role: Role,
    cfg: Config,
    state: State,
    params: Option<Negotiated>,
    negotiate_deadline: Instant,
    send: SendIo,
    recv: RecvIo,
    /// The idle timer; present once established.
    idle: Option<Idle>,
    events: VecDeque<Event>,
}

impl SmbdConnection {
    /// A connection just set up by the RDMA CM (MS-SMBD 3.1.4.1 for the client, 3.1.7.2 for the
    /// server), with its negotiation timer started at `now`. A client's Negotiate Request is the
    /// first `poll_transmit`. Both sides must have one receive posted first
    /// ([`Self::receives_wanted`] says 1).
    ///
    /// # Panics
    /// If `cfg` fails [`Config::validate`]: a configuration is the program's, not the peer's.
    pub fn new(role: Role, cfg: Config, now: Instant) -> Self {
        if let Err(e) = cfg.validate() {
            panic!("invalid smbdirect::Config: {e}");
        }
        let (state, timeout) = match role {
            Role::Client => (State::AwaitingResponse { request_sent: false }, cfg.negotiate_timeout_active),
            Role::Server => (State::AwaitingRequest, cfg.negotiate_timeout_passive),
        };
        Self {
            role,
            state,
            params: None,
            negotiate_deadline: now + timeout,
            send: SendIo {
                credits: SendCredits::new(cfg.send_credit_target),
                queue: SendQueue::default(),
                in_flight: 0,
            },
            recv: RecvIo {
                credits: RecvCredits::new(cfg.receive_credit_max),
                reassembly: Reassembly::new(cfg.max_fragmented_recv_size),
            },
            idle: None,
            events: VecDeque::new(),
            cfg,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Input
    // ---------------------------------------------------------------------------------------

    /// One completed receive: `buf` holds exactly the bytes the completion reported, and
    /// `invalidated_rkey` the token the provider invalidated with it (SEND_WITH_INVALIDATE), if any.
    ///
    /// Every `Err` is fatal except [`Error::Closed`] (input after the end): the connection is closed
    /// and [`Event::Closed`] carries the same error. After a server refuses the negotiation
    /// ([`Error::VersionNotSupported`]) `poll_transmit` still returns the failure response.
    pub fn on_receive<'a>(
        &'a mut self,
        buf: &'a mut [u8],
        invalidated_rkey: Option<u32>,
        now: Instant,
    ) -> Result<Received<'a>, Error> {
        if self.state == State::Closed {
            return Err(Error::Closed);
        }
        let outcome = match self.receive(buf, invalidated_rkey, now) {
            Ok(o) => o,
            Err(e) => {
                // A refusal keeps its state: the failure response is still to go out.
                if !matches!(self.state, State::Refusing { .. }) {
                    self.close(e.clone());
                }
                return Err(e);
            }
        };
        Ok(match outcome {
            Outcome::Nothing => Received::Nothing,
            Outcome::Fragment => Received::Fragment,
            Outcome::Negotiated => Received::Negotiated,
            Outcome::Whole { range, invalidated } => {
                Received::Message { data: &mut buf[range], invalidated_rkey: invalidated }
            }
            Outcome::Complete { invalidated } => {
                Received::Message { data: self.recv.reassembly.message(), invalidated_rkey: invalidated }
            }
        })
    }

    fn receive(&mut self, buf: &[u8], invalidated_rkey: Option<u32>, now: Instant) -> Result<Outcome, Error> {
        match &self.state {
            State::AwaitingRequest => {
                self.recv.credits.on_received(false)?;
                match negotiate::on_request(&self.cfg, buf) {
                    RequestOutcome::Accept(params) => {
                        self.recv.credits.peer_target = params.peer_credits_requested;
                        self.state = State::Responding(params);
                        Ok(Outcome::Negotiated)
                    }
                    RequestOutcome::Refuse(status, error) => {
                        self.state = State::Refusing { status, error: error.clone() };
                        Err(error)
                    }
                    RequestOutcome::Terminate(error) => Err(error),
                }
            }
            State::AwaitingResponse { request_sent: true } => {
                self.recv.credits.on_received(false)?;
                let (params, credits) = negotiate::on_response(&self.cfg, buf)?;
                self.send.credits.held = u32::from(credits);
                self.recv.credits.peer_target = params.peer_credits_requested;
                self.establish(params, now);
                Ok(Outcome::Negotiated)
            }
            State::Established => self.receive_data(buf, invalidated_rkey, now),
            other => Err(Error::UnexpectedMessage { state: other.name() }),
        }
    }

    /// MS-SMBD 3.1.5.8.
    fn receive_data(
        &mut self,
        buf: &[u8],
        invalidated_rkey: Option<u32>,
        now: Instant,
    ) -> Result<Outcome, Error> {
        const WHAT: &str = "data transfer";
        if self.recv.credits.posted == 0 {
            return Err(Error::NoReceivePosted);
        }
        let max = self.params.as_ref().map_or(self.cfg.max_receive_size, |p| p.max_receive_size);
        if buf.len() > max as usize {
            return Err(Error::ReceiveTooLong { len: buf.len(), max });
        }
        let msg = DataTransfer::parse(buf).map_err(|source| Error::Malformed { message: WHAT, source })?;
        self.recv.credits.on_received(true)?;
        let h = msg.header;
        if h.credits_requested == 0 {
            return Err(Error::ZeroCreditsRequested { message: WHAT });
        }
        self.send.credits.add(h.credits_granted)?;
        self.recv.credits.peer_target = h.credits_requested;
        if let Some(idle) = &mut self.idle {
            idle.on_received(now, h.response_requested());
        }
        if let Some(token) = invalidated_rkey {
            self.recv.reassembly.note_invalidated(token);
        }
        Ok(match self.recv.reassembly.on_fragment(msg.payload, h.remaining_data_length)? {
            Step::Empty => Outcome::Nothing,
            Step::Buffered => Outcome::Fragment,
            Step::Whole => {
                // DataTransfer::parse checked DataOffset and DataLength against the message.
                let off = u32::from_le_bytes([buf[12], buf[13], buf[14], buf[15]]) as usize;
                let range = off..off + msg.payload.len();
                Outcome::Whole { range, invalidated: self.recv.reassembly.take_invalidated() }
            }
            Step::Complete => Outcome::Complete { invalidated: self.recv.reassembly.take_invalidated() },
        })
    }

    /// The transport posted `n` more receive buffers (the initial ones and every re-post).
    pub fn on_receives_posted(&mut self, n: u32) {
        self.recv.credits.on_posted(n);
    }

    /// `n` send work requests handed out by `poll_transmit` completed.
    pub fn on_send_completed(&mut self, n: u32) {
        debug_assert!(n <= self.send.in_flight, "more send completions than sends");
        self.send.in_flight = self.send.in_flight.saturating_sub(n);
    }

    /// The RDMA provider reported the connection gone (MS-SMBD 3.1.7.1).
    pub fn on_connection_lost(&mut self) {
        self.close(Error::ConnectionLost);
    }

    /// Queues an upper-layer message of `len` bytes (the caller keeps the bytes; see [`Transmit`]).
    ///
    /// Refused, without harm to the connection, before [`Event::Established`], after close, for an
    /// empty message and above the peer's MaxFragmentedSize (MS-SMBD 3.1.5.4).
    pub fn queue_message(&mut self, len: usize) -> Result<MessageId, Error> {
        self.queue(len, None)
    }

    /// Like [`Self::queue_message`], asking the peer's provider to invalidate `token` when the
    /// message arrives (an SMB2 READ/WRITE response over RDMA_V1_INVALIDATE, MS-SMBD 3.1.5.4: the
    /// token goes with exactly one fragment, here the last).
    pub fn queue_message_invalidating(&mut self, len: usize, token: u32) -> Result<MessageId, Error> {
        self.queue(len, Some(token))
    }

    fn queue(&mut self, len: usize, invalidate: Option<u32>) -> Result<MessageId, Error> {
        match self.state {
            State::Established => {}
            State::Closed => return Err(Error::Closed),
            _ => return Err(Error::NotEstablished),
        }
        if len == 0 {
            return Err(Error::EmptyMessage);
        }
        let max = self.params.as_ref().map_or(0, |p| p.max_fragmented_send_size);
        if len > max as usize {
            return Err(Error::MessageTooLarge { len, max });
        }
        Ok(self.send.queue.push(len, invalidate))
    }

    // ---------------------------------------------------------------------------------------
    // Output
    // ---------------------------------------------------------------------------------------

    /// The next message to post, or `None` when nothing may go now: nothing queued, no send credit,
    /// the last credit with nothing to grant, or the send ring full. Queued messages wait here,
    /// never blocking: the next grant or completion makes them come out.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if self.send.in_flight >= self.cfg.send_queue_depth {
            return None;
        }
        let t = match &self.state {
            State::AwaitingResponse { request_sent: false } => {
                self.state = State::AwaitingResponse { request_sent: true };
                negotiate_transmit(TransmitKind::NegotiateRequest, &negotiate::request(&self.cfg))
            }
            State::Responding(params) => {
                let params = params.clone();
                let ungranted = self.recv.credits.ungranted();
                if ungranted == 0 {
                    // Nothing to grant yet: the response waits for `on_receives_posted`. If the
                    // receives never come, the negotiation timer refuses (see `handle_timeout`).
                    return None;
                }
                // CreditsGranted = Connection.ReceiveCredits: every receive posted (3.1.5.3).
                let grant = ungranted.min(u32::from(u16::MAX)) as u16;
                self.recv.credits.commit_grant(grant);
                let rsp = negotiate::response(&self.cfg, &params, grant);
                self.establish(params, now);
                negotiate_transmit(TransmitKind::NegotiateResponse, &rsp)
            }
            State::Refusing { status, error } => {
                let (status, error) = (*status, error.clone());
                let t =
                    negotiate_transmit(TransmitKind::NegotiateResponse, &negotiate::failure_response(status));
                self.close(error);
                t
            }
            State::Established => return self.poll_data(now),
            _ => return None,
        };
        self.send.in_flight += 1;
        Some(t)
    }

    /// MS-SMBD 3.1.5.1 with the credit management of 3.1.5.9 (see [`crate::credits`]).
    fn poll_data(&mut self, now: Instant) -> Option<Transmit> {
        let held = self.send.credits.held;
        if held == 0 {
            return None;
        }
        let max_payload = self.params.as_ref()?.max_fragment_payload() as usize;
        let idle = self.idle.as_mut()?;
        let fragment = self.send.queue.peek(max_payload);
        let grant = self.recv.credits.grant(held == 1);
        let empty_is_due = idle.wants_send() || (grant > 0 && self.recv.credits.peer_starved());
        if fragment.is_none() && !empty_is_due {
            return None;
        }
        if !self.send.credits.may_send(grant) {
            return None;
        }
        self.send.credits.spend();
        self.recv.credits.commit_grant(grant);
        self.send.in_flight += 1;
        let flags = if idle.on_send(now) { data_transfer_flags::RESPONSE_REQUESTED } else { 0 };
        let header = DataTransferHeader {
            credits_requested: self.send.credits.target,
            credits_granted: grant,
            flags,
            remaining_data_length: fragment.as_ref().map_or(0, |f| f.remaining),
        };
        let mut t = Transmit {
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            kind: TransmitKind::Empty,
            payload: None,
            invalidate: None,
        };
        let data_len = fragment.as_ref().map_or(0, |f| f.range.len() as u32);
        let mut prefix = [0u8; DATA_OFFSET];
        t.header_len = header.encode_prefix(data_len, &mut prefix);
        t.header[..DATA_OFFSET].copy_from_slice(&prefix);
        if let Some(f) = fragment {
            self.send.queue.advance(&f);
            t.kind = TransmitKind::Data;
            t.invalidate = f.invalidate;
            t.payload = Some((f.id, f.range));
        }
        Some(t)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How many more receive buffers the transport should post now: one before negotiation, then
    /// enough to keep the peer at its credit target (and one more when our last send credit needs
    /// a grant, MS-SMBD 3.1.5.9).
    pub fn receives_wanted(&self) -> u32 {
        let posted = self.recv.credits.posted;
        match self.state {
            State::AwaitingRequest | State::AwaitingResponse { .. } => 1u32.saturating_sub(posted),
            State::Responding(_) => self.recv.credits.wanted(false),
            State::Established => {
                let pending = !self.send.queue.is_empty() || self.idle.as_ref().is_some_and(Idle::wants_send);
                self.recv.credits.wanted(self.send.credits.held == 1 && pending)
            }
            State::Refusing { .. } | State::Closed => 0,
        }
    }

    /// The negotiated parameters, once established.
    pub fn params(&self) -> Option<&Negotiated> {
        self.params.as_ref()
    }

    /// The descriptor limits for this connection's SMB2 READ/WRITE channel info, once established.
    pub fn descriptor_limits(&self) -> Option<Limits> {
        let p = self.params.as_ref()?;
        Some(Limits { max_descriptors: self.cfg.max_descriptors, max_read_write_size: p.max_read_write_size })
    }

    /// A snapshot of the credit books.
    pub fn credits(&self) -> Credits {
        Credits {
            send: self.send.credits.held,
            posted: self.recv.credits.posted,
            granted: self.recv.credits.granted,
            receive_target: self.recv.credits.target(),
        }
    }

    /// Upper-layer messages queued and not completely handed out.
    pub fn queued_messages(&self) -> usize {
        self.send.queue.len()
    }

    /// Send work requests handed out and not reported complete.
    pub fn sends_in_flight(&self) -> u32 {
        self.send.in_flight
    }

    /// The role given to [`Self::new`].
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the negotiation finished and the connection is not closed.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// Whether the connection is done ([`Event::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    // ---------------------------------------------------------------------------------------
    // Timers
    // ---------------------------------------------------------------------------------------

    /// When [`Self::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::AwaitingRequest | State::AwaitingResponse { .. } | State::Responding(_) => {
                Some(self.negotiate_deadline)
            }
            State::Established => self.idle.as_ref().map(Idle::deadline),
            State::Refusing { .. } | State::Closed => None,
        }
    }

    /// Runs the timers due at `now`: the negotiation timer (MS-SMBD 3.1.6.1) and the idle timer
    /// (3.1.6.2), which may queue a keepalive or close the connection.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Responding(_) => {
                if now >= self.negotiate_deadline {
                    // MS-SMBD 3.1.5.6: ReceiveCredits still zero when the response is due → a
                    // failure response. The transport never posted what `receives_wanted` asked
                    // for, which is what INSUFFICIENT_RESOURCES says.
                    let error = Error::NoReceiveCredits;
                    self.state = State::Refusing { status: NtStatus::INSUFFICIENT_RESOURCES, error };
                }
            }
            State::AwaitingRequest | State::AwaitingResponse { .. } => {
                if now >= self.negotiate_deadline {
                    self.close(Error::NegotiateTimeout);
                }
            }
            State::Established => {
                if let Some(Err(e)) = self.idle.as_mut().map(|i| i.on_timeout(now)) {
                    self.close(e);
                }
            }
            State::Refusing { .. } | State::Closed => {}
        }
    }

    // ---------------------------------------------------------------------------------------
    // Transitions
    // ---------------------------------------------------------------------------------------

    fn establish(&mut self, params: Negotiated, now: Instant) {
        debug_assert!(matches!(self.state, State::Responding(_) | State::AwaitingResponse { .. }));
        self.idle = Some(Idle::new(now, params.keepalive_interval, self.cfg.keepalive_timeout));
        self.events.push_back(Event::Established(params.clone()));
        self.params = Some(params);
        self.state = State::Established;
    }

    fn close(&mut self, e: Error) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.events.push_back(Event::Closed(e));
        }
    }
}

/// A negotiate message as a header-only transmit.
fn negotiate_transmit(kind: TransmitKind, msg: &impl Encode) -> Transmit {
    let mut header = [0; MAX_HEADER_LEN];
    // Both negotiate messages are fixed-size (20 and 32 bytes) and fit MAX_HEADER_LEN.
    let header_len = msg.encode_into(&mut header).unwrap_or_default();
    debug_assert!(header_len > 0);
    Transmit { header, header_len, kind, payload: None, invalidate: None }
}
