//! Per-connection request counters for an operator's view (Prometheus, `smbdx status`): requests and
//! bytes by command, responses by command and status.
//!
//! One connection's counters are written by the one thread that drives it, with relaxed loads and
//! stores (no locked instructions per request), and read by anyone: a reader may see a count a
//! request late, never a torn one. Counters of connections that ended are folded into a total with
//! [`CommandCounters::absorb`] (atomic adds: several connections may end at once).

use smb_wire::status::NtStatus;
use smb_wire::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// SMB2 commands NEGOTIATE (0) to OPLOCK_BREAK (0x12).
pub const COMMANDS: usize = 19;

/// The statuses counted apart; every other one is counted as [`OTHER_STATUS`]. A fixed set keeps
/// the counters a fixed array (a peer cannot grow them) and the metric's label set small.
pub const TRACKED_STATUSES: [NtStatus; 14] = [
    NtStatus::SUCCESS,
    NtStatus::PENDING,
    NtStatus::MORE_PROCESSING_REQUIRED,
    NtStatus::BUFFER_OVERFLOW,
    NtStatus::NO_MORE_FILES,
    NtStatus::END_OF_FILE,
    NtStatus::ACCESS_DENIED,
    NtStatus::LOGON_FAILURE,
    NtStatus::OBJECT_NAME_NOT_FOUND,
    NtStatus::OBJECT_NAME_COLLISION,
    NtStatus::BAD_NETWORK_NAME,
    NtStatus::INVALID_PARAMETER,
    NtStatus::NOT_SUPPORTED,
    NtStatus::USER_SESSION_DELETED,
];

/// The label of the slot after the tracked statuses.
pub const OTHER_STATUS: &str = "other";

const STATUS_SLOTS: usize = TRACKED_STATUSES.len() + 1;

/// One half of the counters: the messages that travelled sealed, or those that did not.
#[derive(Debug)]
struct Half {
    requests: [AtomicU64; COMMANDS],
    /// Request PDU bytes, plus WRITE payloads that arrived by RDMA READ.
    request_bytes: [AtomicU64; COMMANDS],
    /// Response PDU bytes, plus READ data sent by RDMA WRITE.
    response_bytes: [AtomicU64; COMMANDS],
    responses: [[AtomicU64; STATUS_SLOTS]; COMMANDS],
}

impl Default for Half {
    fn default() -> Self {
        Self {
            requests: std::array::from_fn(|_| AtomicU64::new(0)),
            request_bytes: std::array::from_fn(|_| AtomicU64::new(0)),
            response_bytes: std::array::from_fn(|_| AtomicU64::new(0)),
            responses: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }
}

/// Requests and bytes by command, responses by command and status, each apart for messages that
/// travelled sealed (encrypted) and in the clear: a connection that negotiated a cipher may still
/// send most of its traffic unencrypted.
#[derive(Debug, Default)]
pub struct CommandCounters {
    /// `[clear, sealed]`.
    halves: [Half; 2],
}

/// Adds to a counter that only one thread writes.
#[inline]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// The status slot of `status`.
fn status_slot(status: u32) -> usize {
    TRACKED_STATUSES.iter().position(|s| s.0 == status).unwrap_or(TRACKED_STATUSES.len())
}

/// One row of a snapshot: a command with its counts, sealed or in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRow {
    pub command: &'static str,
    /// Whether these messages travelled encrypted.
    pub sealed: bool,
    pub requests: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// (status name, responses), the non-zero ones.
    pub responses: Vec<(&'static str, u64)>,
}

impl CommandCounters {
    /// A request PDU of `len` bytes arrived, `sealed` or not (single writer).
    #[inline]
    pub fn request(&self, command: Command, len: usize, sealed: bool) {
        let h = &self.halves[usize::from(sealed)];
        let i = command.0 as usize;
        if let (Some(r), Some(b)) = (h.requests.get(i), h.request_bytes.get(i)) {
            bump(r, 1);
            bump(b, len as u64);
        }
    }

    /// Payload bytes of a request that did not ride in its PDU (an RDMA-read WRITE payload).
    #[inline]
    pub fn request_data(&self, command: Command, len: u64, sealed: bool) {
        if let Some(b) = self.halves[usize::from(sealed)].request_bytes.get(command.0 as usize) {
            bump(b, len);
        }
    }

    /// A response of `len` bytes (its PDU, and data sent beside it by RDMA) with `status`.
    #[inline]
    pub fn response(&self, command: u16, status: u32, len: usize, sealed: bool) {
        let h = &self.halves[usize::from(sealed)];
        let i = command as usize;
        if let (Some(s), Some(b)) = (h.responses.get(i), h.response_bytes.get(i)) {
            bump(&s[status_slot(status)], 1);
            bump(b, len as u64);
        }
    }

    /// Adds `other`'s counts to these (atomically: any number of threads may absorb at once, but
    /// then nobody may use the single-writer methods on `self`).
    pub fn absorb(&self, other: &CommandCounters) {
        let add = |a: &AtomicU64, b: &AtomicU64| {
            let v = b.load(Relaxed);
            if v != 0 {
                a.fetch_add(v, Relaxed);
            }
        };
        for (mine, theirs) in self.halves.iter().zip(&other.halves) {
            for c in 0..COMMANDS {
                add(&mine.requests[c], &theirs.requests[c]);
                add(&mine.request_bytes[c], &theirs.request_bytes[c]);
                add(&mine.response_bytes[c], &theirs.response_bytes[c]);
                for s in 0..STATUS_SLOTS {
                    add(&mine.responses[c][s], &theirs.responses[c][s]);
                }
            }
        }
    }

    /// The commands that have seen traffic, in the clear first.
    pub fn snapshot(&self) -> Vec<CommandRow> {
        let mut rows = Vec::new();
        for (sealed, h) in [(false, &self.halves[0]), (true, &self.halves[1])] {
            for c in 0..COMMANDS {
                let requests = h.requests[c].load(Relaxed);
                let responses: Vec<_> = (0..STATUS_SLOTS)
                    .filter_map(|s| {
                        let n = h.responses[c][s].load(Relaxed);
                        let name = TRACKED_STATUSES.get(s).map_or(Some(OTHER_STATUS), |st| st.name());
                        (n > 0).then_some((name.unwrap_or(OTHER_STATUS), n))
                    })
                    .collect();
                let request_bytes = h.request_bytes[c].load(Relaxed);
                let response_bytes = h.response_bytes[c].load(Relaxed);
                if requests == 0 && responses.is_empty() && request_bytes == 0 && response_bytes == 0 {
                    continue;
                }
                rows.push(CommandRow {
                    command: Command(c as u16).name().unwrap_or("UNKNOWN"),
                    sealed,
                    requests,
                    request_bytes,
                    response_bytes,
                    responses,
                });
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_command_status_and_sealing_and_absorbs() {
        let c = CommandCounters::default();
        c.request(Command::READ, 49, true);
        c.response(Command::READ.0, NtStatus::SUCCESS.0, 65_616, true);
        c.response(Command::READ.0, NtStatus::END_OF_FILE.0, 73, true);
        c.response(Command::READ.0, 0xC0FF_EE00, 73, true);
        c.request(Command::READ, 49, false);
        c.request(Command(0x99), 10, false); // not a command: ignored, no panic
        c.response(0x99, 0, 10, true);
        c.request_data(Command::WRITE, 4096, false);
        let rows = c.snapshot();
        let read = rows.iter().find(|r| r.command == "READ" && r.sealed).unwrap();
        assert_eq!((read.requests, read.request_bytes, read.response_bytes), (1, 49, 65_762));
        assert!(read.responses.contains(&("STATUS_SUCCESS", 1)));
        assert!(read.responses.contains(&("STATUS_END_OF_FILE", 1)));
        assert!(read.responses.contains(&(OTHER_STATUS, 1)));
        let clear = rows.iter().find(|r| r.command == "READ" && !r.sealed).unwrap();
        assert_eq!((clear.requests, clear.response_bytes), (1, 0));
        let write = rows.iter().find(|r| r.command == "WRITE").unwrap();
        assert_eq!((write.request_bytes, write.sealed), (4096, false));
        assert_eq!(rows.len(), 3);
        let total = CommandCounters::default();
        total.absorb(&c);
        total.absorb(&c);
        let read2 = total.snapshot().into_iter().find(|r| r.command == "READ" && r.sealed).unwrap();
        assert_eq!(read2.response_bytes, 2 * 65_762);
    }
}
