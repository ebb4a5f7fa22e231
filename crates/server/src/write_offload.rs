//! WRITEs finished off the reactor: the checks run on the reactor ([`smb_fs::Opens::prepare_write`]),
//! the data goes to the device on the reactor's helper thread ([`engine::Offload`]), and the outcome
//! comes back on this connection's own bounded queue with a wake, so the reactor decrypts the next
//! requests while the device works and answers each WRITE once its data is in the file.
//!
//! Order: the reactor's writer threads run several WRITEs at once (a disk takes them faster that
//! way), so WRITEs in flight together land in any order, as MS-SMB2 allows for requests the client
//! did not wait for. Every other file command waits here first ([`WriteOffload::settle`]) until the
//! connection's WRITEs in flight are done, so it sees every WRITE received before it, as if all ran
//! on the reactor.

use engine::{ConnectionHandle, Offload};
use smb_fs::PreparedWrite;
use smb_session::{WriteDone, WritePayload};
use smb_wire::status::NtStatus;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

/// One connection's deferred WRITEs.
pub struct WriteOffload {
    helper: Arc<Offload>,
    max_in_flight: usize,
    /// Wakes the connection when a WRITE finishes; set once the reactor has adopted it.
    handle: Option<ConnectionHandle>,
    done_tx: Sender<WriteDone>,
    done_rx: Receiver<WriteDone>,
    /// Submitted and not yet taken off `done_rx`.
    in_flight: usize,
    /// Taken off `done_rx` while settling, not yet answered.
    ready: VecDeque<WriteDone>,
    /// Checked by `begin_write`, waiting for its payload.
    planned: Option<(u64, PreparedWrite)>,
}

impl WriteOffload {
    /// `max_in_flight`: the most WRITEs the connection defers at once (its queue never holds more).
    pub fn new(helper: Arc<Offload>, max_in_flight: usize) -> Self {
        let (done_tx, done_rx) = crossbeam_channel::bounded(max_in_flight.max(1));
        WriteOffload {
            helper,
            max_in_flight: max_in_flight.max(1),
            handle: None,
            done_tx,
            done_rx,
            in_flight: 0,
            ready: VecDeque::new(),
            planned: None,
        }
    }

    pub fn attach(&mut self, handle: ConnectionHandle) {
        self.handle = Some(handle);
    }

    /// Keeps a checked WRITE until its payload comes.
    pub fn plan(&mut self, message_id: u64, w: PreparedWrite) {
        self.planned = Some((message_id, w));
    }

    /// Sends the planned WRITE's payload to the helper thread (or writes it here when the helper's
    /// queue is full).
    pub fn submit(&mut self, message_id: u64, payload: WritePayload) {
        let planned = match self.planned.take() {
            Some((id, w)) if id == message_id => Some(w),
            _ => None,
        };
        if self.in_flight >= self.max_in_flight {
            // Keeps `done_tx` from ever being full when a job reports.
            self.settle();
        }
        let (done, handle) = (self.done_tx.clone(), self.handle.clone());
        let job = move || {
            let WritePayload { buf, range } = payload;
            let result = match (&planned, buf.get(range)) {
                // Caught here rather than by the helper, so that an answer always comes back.
                (Some(w), Some(data)) => match catch_unwind(AssertUnwindSafe(|| w.write(data))) {
                    Ok(Ok(n)) => Ok(n as u32),
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "WRITE failed");
                        Err(e.status())
                    }
                    Err(_) => {
                        tracing::error!("WRITE panicked");
                        Err(NtStatus::UNSUCCESSFUL)
                    }
                },
                _ => Err(NtStatus::INVALID_PARAMETER),
            };
            // Never full: at most `max_in_flight` are in flight (see above).
            let _ = done.try_send(WriteDone { message_id, result, buf });
            if let Some(h) = handle {
                let _ = h.wake();
            }
        };
        self.in_flight += 1;
        if let Err(job) = self.helper.try_run(Box::new(job)) {
            job();
        }
    }

    /// A finished WRITE, if any; with `wait`, blocks until one finishes while any is in flight.
    pub fn done(&mut self, wait: bool) -> Option<WriteDone> {
        if let Some(d) = self.ready.pop_front() {
            return Some(d);
        }
        if self.in_flight == 0 {
            return None;
        }
        let d = if wait { self.done_rx.recv().ok() } else { self.done_rx.try_recv().ok() };
        if d.is_some() {
            self.in_flight -= 1;
        }
        d
    }

    /// Waits until every WRITE in flight is in the file (their outcomes are kept for `done`).
    pub fn settle(&mut self) {
        while self.in_flight > 0 {
            let Ok(d) = self.done_rx.recv() else { break };
            self.in_flight -= 1;
            self.ready.push_back(d);
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }
}
