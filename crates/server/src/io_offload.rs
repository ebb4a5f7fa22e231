//! WRITEs and READs finished off the reactor: the checks run on the reactor
//! ([`smb_fs::Opens::prepare_write`], [`smb_fs::Opens::prepare_read`]), the data moves between the
//! file and the request's buffer on the reactor's helper threads ([`engine::Offload`]), and the
//! outcome comes back on this connection's own bounded queue with a wake. The reactor meanwhile
//! decrypts, seals and sends for the other requests: a WRITE no longer holds it while the device
//! works, nor a READ while the page cache is copied (or filled from the disk).
//!
//! Order: the helper threads run several requests at once (a disk takes writes faster that way), so
//! requests in flight together finish in any order, as MS-SMB2 allows for requests the client did
//! not wait for. A READ waits here first ([`IoOffload::settle_writes`]) until the connection's
//! WRITEs in flight are in the file, and every other file command until everything in flight is
//! done ([`IoOffload::settle`]), so each sees every WRITE received before it, as if all ran on the
//! reactor.

use engine::{ConnectionHandle, Offload};
use smb_fs::{PreparedRead, PreparedWrite};
use smb_session::{IoBuffer, IoDone, LentBytes, PlacedOutcome};
use smb_wire::status::NtStatus;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

/// Requests the helpers get before a READ of cached data is done on the reactor instead. A cached
/// READ costs the server less CPU done here (1 MiB READs, smbdx bench at depth 8: 0.27 CPU-s/GB
/// against 0.33-0.43 through a helper, which adds the hand-over and two wakes), but the reactor
/// then does the page-cache copy, the seal and the send of every READ alone, and one connection's
/// READs stop at what one core does (3.3-3.6 GB/s here). With two READs on the helpers and the rest
/// here, the copies of one connection's READs run on two cores: 3.8-4.3 GB/s at 0.26-0.30 CPU-s/GB
/// (one: 2.8-3.2, three or four: 3.5-4.0; same runs, same machine).
const HELPER_FIRST: usize = 2;

/// [`HELPER_FIRST`] for a process that may run on `cpus` CPUs (counted before the reactors are
/// pinned: on a pinned reactor thread `available_parallelism` says 1 whatever the host has). On one CPU, which the helpers share
/// with the reactor, the hand-over and wakes buy no parallel copy: every cached READ is done here.
/// (64 KiB READs at depth 8 over SMB Direct in the 1-vCPU rxe VMs: server CPU-s/GiB 31.6-32.6 through
/// helpers, 22.4-23.4 here, and 0.64-0.68x perftest became 0.72-0.80x; two builds, runs interleaved
/// with `SMBDX_BIN=... SIZES=65536 bench/smbdirect_vs_perftest.sh`.)
pub fn helper_first_for(cpus: usize) -> usize {
    if cpus <= 1 {
        0
    } else {
        HELPER_FIRST
    }
}

/// smb-fs's lent READ data, as the session layer takes it.
#[derive(Debug)]
struct Lent(smb_fs::LentRead);

impl LentBytes for Lent {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn with_bytes(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        self.0.with_bytes(f)
    }

    fn read_into(&self, out: &mut [u8]) -> Result<usize, NtStatus> {
        self.0.read_into(out).map_err(|e| e.status())
    }
}

/// A checked request waiting for its buffer.
enum Planned {
    Write(PreparedWrite),
    Read(PreparedRead),
}

/// A finished request as the helper reports it.
struct Finished {
    done: IoDone,
    write: bool,
}

/// One connection's deferred requests.
pub struct IoOffload {
    helper: Arc<Offload>,
    max_in_flight: usize,
    /// Wakes the connection when a request finishes; set once the reactor has adopted it.
    handle: Option<ConnectionHandle>,
    done_tx: Sender<Finished>,
    done_rx: Receiver<Finished>,
    /// Submitted and not yet taken off `done_rx`, and the WRITEs among them.
    in_flight: usize,
    writes_in_flight: usize,
    /// Taken off `done_rx` while settling, not yet answered.
    ready: VecDeque<IoDone>,
    /// Checked by `begin_write` / `begin_read`, waiting for its buffer.
    planned: Option<(u64, Planned)>,
    /// Requests with the helpers before a cached READ is done here ([`helper_first_for`]).
    helper_first: usize,
}

impl IoOffload {
    /// `max_in_flight`: the most requests the connection defers at once (its queue never holds more);
    /// `cpus`: the CPUs the process may run on ([`helper_first_for`]).
    pub fn new(helper: Arc<Offload>, max_in_flight: usize, cpus: usize) -> Self {
        let (done_tx, done_rx) = crossbeam_channel::bounded(max_in_flight.max(1));
        IoOffload {
            helper,
            max_in_flight: max_in_flight.max(1),
            handle: None,
            done_tx,
            done_rx,
            in_flight: 0,
            writes_in_flight: 0,
            ready: VecDeque::new(),
            planned: None,
            helper_first: helper_first_for(cpus),
        }
    }

    pub fn attach(&mut self, handle: ConnectionHandle) {
        self.handle = Some(handle);
    }

    /// Keeps a checked WRITE until its payload comes.
    pub fn plan_write(&mut self, message_id: u64, w: PreparedWrite) {
        self.planned = Some((message_id, Planned::Write(w)));
    }

    /// Keeps a checked READ until its data area comes.
    pub fn plan_read(&mut self, message_id: u64, r: PreparedRead) {
        self.planned = Some((message_id, Planned::Read(r)));
    }

    /// Sends the planned request's buffer to a helper thread (or does the I/O here when the
    /// helper's queue is full). A READ whose data the page cache holds is done here at once
    /// while `helper_first` requests are already with the helpers ([`helper_first_for`]).
    pub fn submit(&mut self, message_id: u64, mut io: IoBuffer) {
        let planned = match self.planned.take() {
            Some((id, p)) if id == message_id => Some(p),
            _ => None,
        };
        if let Some(Planned::Read(r)) = planned.as_ref().filter(|_| self.in_flight >= self.helper_first) {
            // Done here, not on a helper. A READ the connection will seal, whose data the page cache
            // holds, is lent where it lies: the seal reads it once, where a copy into the response
            // and a seal there were two passes on this thread.
            if let Some(lent) = io.lend.then(|| r.lend()).flatten() {
                let n = lent.len() as u32;
                let lent: Box<dyn LentBytes> = Box::new(Lent(lent));
                self.ready.push_back(IoDone {
                    message_id,
                    result: Ok(n),
                    buf: io.buf,
                    crypto: None,
                    lent: Some(lent),
                });
                return;
            }
            let cached = io.buf.get_mut(io.range.clone()).and_then(|area| r.read_cached(area));
            if let Some(n) = cached {
                let crypto = io.run_crypto(n);
                self.ready.push_back(IoDone {
                    message_id,
                    result: Ok(n as u32),
                    buf: io.buf,
                    crypto,
                    lent: None,
                });
                return;
            }
        }
        if self.in_flight >= self.max_in_flight {
            // Keeps `done_tx` from ever being full when a job reports.
            self.settle();
        }
        let write = !matches!(planned, Some(Planned::Read(_)));
        let (done, handle) = (self.done_tx.clone(), self.handle.clone());
        let job = move || {
            let (result, crypto) = run(planned.as_ref(), &mut io);
            let buf = io.buf;
            // Never full: at most `max_in_flight` are in flight (see above).
            let _ = done
                .try_send(Finished { done: IoDone { message_id, result, buf, crypto, lent: None }, write });
            if let Some(h) = handle {
                let _ = h.wake();
            }
        };
        self.in_flight += 1;
        self.writes_in_flight += usize::from(write);
        if let Err(job) = self.helper.try_run(Box::new(job)) {
            job();
        }
    }

    /// A finished request, if any; with `wait`, blocks until one finishes while any is in flight.
    pub fn done(&mut self, wait: bool) -> Option<IoDone> {
        if let Some(d) = self.ready.pop_front() {
            return Some(d);
        }
        if self.in_flight == 0 {
            return None;
        }
        let f = if wait { self.done_rx.recv().ok() } else { self.done_rx.try_recv().ok() }?;
        self.count_off(&f);
        Some(f.done)
    }

    /// Waits until every request in flight is done (their outcomes are kept for `done`).
    pub fn settle(&mut self) {
        while self.in_flight > 0 && self.wait_one() {}
    }

    /// Waits until every WRITE in flight is in the file.
    pub fn settle_writes(&mut self) {
        while self.writes_in_flight > 0 && self.wait_one() {}
    }

    fn wait_one(&mut self) -> bool {
        let Ok(f) = self.done_rx.recv() else { return false };
        self.count_off(&f);
        self.ready.push_back(f.done);
        true
    }

    fn count_off(&mut self, f: &Finished) {
        self.in_flight -= 1;
        self.writes_in_flight -= usize::from(f.write);
    }
}

/// The I/O of one request, on a helper thread, with its RDMA transform crypto: a WRITE's data is
/// opened or verified before it is written (and not written when that fails), a READ's sealed or
/// MAC'd once read. Panics are caught here rather than by the helper, so that an answer always
/// comes back.
fn run(planned: Option<&Planned>, io: &mut IoBuffer) -> (Result<u32, NtStatus>, PlacedOutcome) {
    let len = io.range.len();
    let mut crypto = None;
    if matches!(planned, Some(Planned::Write(_))) {
        crypto = io.run_crypto(len);
        if let Some(Err(_)) = crypto {
            // The session answers with the transform's status; nothing reaches the file.
            return (Err(NtStatus::ACCESS_DENIED), crypto);
        }
    }
    let range = io.range.clone();
    let Some(area) = io.buf.get_mut(range) else { return (Err(NtStatus::INVALID_PARAMETER), None) };
    let outcome = match planned {
        Some(Planned::Write(w)) => catch_unwind(AssertUnwindSafe(|| w.write(area))),
        Some(Planned::Read(r)) => catch_unwind(AssertUnwindSafe(|| r.read(area))),
        None => return (Err(NtStatus::INVALID_PARAMETER), None),
    };
    let result = match outcome {
        Ok(Ok(n)) => Ok(n as u32),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "deferred I/O failed");
            Err(e.status())
        }
        Err(_) => {
            tracing::error!("deferred I/O panicked");
            Err(NtStatus::UNSUCCESSFUL)
        }
    };
    if let (Some(Planned::Read(_)), Ok(n)) = (planned, result) {
        crypto = io.run_crypto(n as usize);
    }
    (result, crypto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cpu_does_every_cached_read_on_the_reactor_more_share_them_with_helpers() {
        assert_eq!(helper_first_for(1), 0);
        assert_eq!(helper_first_for(0), 0, "an unknown count of zero is treated as one");
        assert_eq!(helper_first_for(2), HELPER_FIRST);
        assert_eq!(helper_first_for(64), HELPER_FIRST);
    }
}
