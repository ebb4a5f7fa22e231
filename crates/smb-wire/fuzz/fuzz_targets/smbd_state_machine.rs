//! The `smbdirect` state machine fed arbitrary sequences of inputs: received messages (any bytes),
//! posted receives, send completions, queued messages, time and transmit polls. It must never
//! panic, and what it sends must keep the MS-SMBD rules whatever the peer did: no message without
//! a send credit, the last credit only with a grant, grants never above posted receives, payload
//! ranges inside the queued message, nothing sent after the connection closed.
//!
//! Input format (see `seeds/smbd_state_machine/`): byte 0 picks the role (bit 0: server) and a
//! config (bits 1-2); then operations, each an op byte (low 3 bits) with its arguments:
//! 0 receive `len: u16 LE` then `len` bytes (bit 7 of the op byte: the provider reports token
//! 0x5EED invalidated), 1 post `n: u8` receives, 2 complete `n: u8` sends, 3 poll transmits,
//! 4 queue a message of `len: u24 LE` bytes (bit 7: with a token to invalidate), 5 advance time
//! by `s: u8` seconds and run the timers, 6 connection lost, 7 drain events.
#![no_main]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smb_wire::smbd::DataTransfer;
use smbdirect::{Config, Event, Received, Role, SmbdConnection, TransmitKind};

fn config(pick: u8) -> Config {
    match pick & 3 {
        0 => Config::default(),
        1 => Config { receive_credit_max: 2, send_credit_target: 2, ..Config::default() },
        2 => Config {
            max_send_size: 128,
            max_receive_size: 128,
            max_fragmented_recv_size: 131_072,
            send_queue_depth: 4,
            ..Config::default()
        },
        _ => Config {
            receive_credit_max: 3,
            send_credit_target: 7,
            max_receive_size: 8192,
            ..Config::default()
        },
    }
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn bytes(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
    fn uint(&mut self, n: usize) -> usize {
        self.bytes(n).iter().rev().fold(0, |acc, &b| acc << 8 | usize::from(b))
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else { return };
    let role = if head & 1 == 1 { Role::Server } else { Role::Client };
    let cfg = config(head >> 1);
    let max_recv = cfg.max_receive_size as usize;
    let max_frag = cfg.max_fragmented_recv_size as usize;
    let mut now = Instant::now();
    let mut conn = SmbdConnection::new(role, cfg, now);
    let mut input = Input(rest);
    let mut lens = HashMap::new();
    let mut buf = Vec::with_capacity(max_recv);

    while let Some((&op, _)) = input.0.split_first() {
        input.bytes(1);
        match op & 7 {
            0 => {
                let len = input.uint(2);
                buf.clear();
                buf.extend_from_slice(input.bytes(len));
                let token = (op & 0x80 != 0).then_some(0x5EED);
                if let Ok(Received::Message { data, .. }) = conn.on_receive(&mut buf, token, now) {
                    assert!(data.len() <= max_frag);
                }
            }
            1 => {
                let n = input.uint(1) as u32;
                conn.on_receives_posted(n);
            }
            2 => {
                // The transport never reports more completions than sends it posted.
                let n = (input.uint(1) as u32).min(conn.sends_in_flight());
                conn.on_send_completed(n);
            }
            3 => {
                for _ in 0..64 {
                    let before = conn.credits();
                    let closed = conn.is_closed();
                    let Some(t) = conn.poll_transmit(now) else { break };
                    assert!(!closed, "sent after close");
                    assert!(!t.header().is_empty() && t.header().len() <= smbdirect::MAX_HEADER_LEN);
                    if matches!(t.kind(), TransmitKind::Data | TransmitKind::Empty) {
                        let mut b = t.header().to_vec();
                        b.resize(t.len(), 0);
                        let m = DataTransfer::parse(&b).expect("our own header parses");
                        assert!(before.send >= 1, "sent without a credit");
                        assert!(
                            before.send > 1 || m.header.credits_granted > 0,
                            "last credit without a grant"
                        );
                        assert!(m.header.credits_requested >= 1);
                    }
                    if let Some((id, range)) = t.payload() {
                        let len = lens.get(&id).copied().expect("payload of a queued message");
                        assert!(!range.is_empty() && range.end <= len);
                        assert!(t.len() <= conn.params().expect("established").max_send_size as usize);
                    }
                    let c = conn.credits();
                    assert!(c.granted <= c.posted);
                }
            }
            4 => {
                let len = input.uint(3);
                let r = if op & 0x80 != 0 {
                    conn.queue_message_invalidating(len, 7)
                } else {
                    conn.queue_message(len)
                };
                if let Ok(id) = r {
                    lens.insert(id, len);
                }
            }
            5 => {
                now += Duration::from_secs(input.uint(1) as u64);
                if conn.poll_timeout().is_some_and(|t| t <= now) {
                    conn.handle_timeout(now);
                }
            }
            6 => conn.on_connection_lost(),
            _ => {
                while let Some(e) = conn.poll_event() {
                    if let Event::Established(p) = e {
                        assert!(p.max_send_size >= 128 && p.max_receive_size >= 128);
                    }
                }
            }
        }
        let c = conn.credits();
        assert!(c.granted <= c.posted, "granted more than posted");
    }
});
