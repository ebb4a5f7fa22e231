//! A helper thread beside a reactor for work that blocks: a file write waits for the device, and a
//! reactor that waited with it would stop reading and decrypting the requests behind it. The reactor
//! hands such work over and goes on; the job reports back to its connection itself (a bounded queue
//! of the handler's own plus a [`crate::ConnectionHandle`] wake), so the reactor stays the only
//! thread that touches the connection.
//!
//! Jobs start in the order they were given, on one of `threads` threads: with one thread they also
//! finish in that order; with more, a device that gains from parallel requests (most SSDs, virtio
//! disks) gets them, and a handler that needs an order waits for its jobs before going on. The queue
//! is bounded; when it is full the caller gets its job back and runs it itself, which is the
//! back-pressure.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, TrySendError};

/// Work for an [`Offload`] thread.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Helper threads and their bounded queue of jobs. Dropping it lets the queued jobs finish, then
/// joins the threads.
pub struct Offload {
    jobs: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    /// Jobs the threads have run (not those given back to the caller).
    ran: Arc<AtomicU64>,
}

impl Offload {
    /// Starts `threads` threads named `name-K`, sharing a queue of at most `depth` jobs that have
    /// not started.
    pub fn start(name: &str, threads: usize, depth: usize) -> io::Result<Offload> {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(depth.max(1));
        let mut off = Offload { jobs: Some(tx), threads: Vec::new(), ran: Arc::new(AtomicU64::new(0)) };
        for k in 0..threads.max(1) {
            let (rx, ran) = (rx.clone(), off.ran.clone());
            let t = std::thread::Builder::new().name(format!("{name}-{k}")).spawn(move || {
                for job in rx {
                    // A panicking job must not take the other connections' jobs down with it.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                        tracing::error!("offloaded job panicked");
                    }
                    ran.fetch_add(1, Relaxed);
                }
            })?;
            off.threads.push(t);
        }
        Ok(off)
    }

    /// How many jobs the threads have run so far.
    pub fn jobs_run(&self) -> u64 {
        self.ran.load(Relaxed)
    }

    /// Jobs queued and not started yet (the helpers' backlog).
    pub fn queued(&self) -> usize {
        self.jobs.as_ref().map_or(0, Sender::len)
    }

    /// Queues `job`, or gives it back when the queue is full (or the thread has ended): the caller
    /// then runs it itself.
    pub fn try_run(&self, job: Job) -> Result<(), Job> {
        let Some(tx) = &self.jobs else { return Err(job) };
        tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(j) | TrySendError::Disconnected(j) => j,
        })
    }
}

impl Drop for Offload {
    fn drop(&mut self) {
        drop(self.jobs.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Offload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offload").field("threads", &self.threads.len()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Barrier, Mutex};

    #[test]
    fn jobs_run_in_order_and_drop_waits_for_them() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let off = Offload::start("test-offload", 1, 64).unwrap();
        for i in 0..50 {
            let seen = seen.clone();
            let mut job: Job = Box::new(move || seen.lock().unwrap().push(i));
            // A full queue hands the job back; retry until it fits.
            loop {
                match off.try_run(job) {
                    Ok(()) => break,
                    Err(j) => {
                        job = j;
                        std::thread::yield_now();
                    }
                }
            }
        }
        while off.jobs_run() < 50 {
            std::thread::yield_now();
        }
        drop(off);
        assert_eq!(*seen.lock().unwrap(), (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_queue_gives_the_job_back_and_a_panicking_job_spares_the_next() {
        let off = Offload::start("test-offload", 1, 1).unwrap();
        let (started_tx, started) = crossbeam_channel::bounded(1);
        let gate = Arc::new(Barrier::new(2));
        let g = gate.clone();
        assert!(off
            .try_run(Box::new(move || {
                started_tx.send(()).unwrap();
                g.wait();
            }))
            .is_ok());
        // The thread is busy with the first job and its queue is empty.
        started.recv().unwrap();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let job = |n: u32| -> Job {
            let ran = ran.clone();
            Box::new(move || ran.lock().unwrap().push(n))
        };
        assert!(off.try_run(job(1)).is_ok(), "one job fits in the queue");
        let refused = off.try_run(job(2)).expect_err("a second one does not");
        refused();
        gate.wait();
        let mut panicking: Job = Box::new(|| panic!("this job fails"));
        while let Err(j) = off.try_run(panicking) {
            panicking = j;
            std::thread::yield_now();
        }
        let mut last = job(3);
        while let Err(j) = off.try_run(last) {
            last = j;
            std::thread::yield_now();
        }
        drop(off);
        assert_eq!(*ran.lock().unwrap(), vec![2, 1, 3]);
    }
}
