//! A pool of page-aligned buffers lent as [`Lease`]s: the request and response memory of one reactor.
//!
//! Memory comes in size classes; each class grows by batches (one allocation of `per_batch` slots)
//! up to `max_batches`, and a batch is never freed while the pool or a lease holds it. That is what
//! lets an RDMA domain register each batch once ([`Pool::batches`], [`Lease::location`]) and use any
//! lease of it in work requests without registering memory per I/O.
//!
//! A lease is `Send`: the reactor takes it, a helper thread reads a file into it, the reactor seals
//! and sends from it. Dropping it (on any thread) returns its slot to the pool. Its bytes are whatever
//! the previous holder left there: every user overwrites what it sends.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::aligned::{AlignedBuf, PAGE};
use crate::error::{Error, Result};

/// One size class: leases of `size` bytes, made `per_batch` at a time, at most `max_batches` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassConfig {
    /// Bytes of each lease; rounded up to a whole page.
    pub size: usize,
    pub per_batch: usize,
    pub max_batches: usize,
}

/// The size classes of a pool, smallest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    pub classes: Vec<ClassConfig>,
}

impl Default for PoolConfig {
    /// Sized for SMB READ/WRITE data: 64 KiB (small I/O), 1 MiB (the common large I/O) and 8 MiB
    /// (MS-SMBD's default MaxReadWriteSize), up to 256 MiB in all, allocated as used.
    fn default() -> Self {
        PoolConfig {
            classes: vec![
                ClassConfig { size: 64 << 10, per_batch: 32, max_batches: 16 },
                ClassConfig { size: 1 << 20, per_batch: 8, max_batches: 8 },
                ClassConfig { size: 8 << 20, per_batch: 2, max_batches: 8 },
            ],
        }
    }
}

/// One allocation of a class's slots. Lives while the pool, a lease of it or a registration holds
/// it.
pub struct Batch {
    buf: AlignedBuf,
    class: u32,
    index: u32,
    slot_size: usize,
}

impl Batch {
    /// The first byte; stable for the batch's life. For registering the batch with a device: the
    /// registration must hold a [`BatchRef`] so the memory outlives it.
    pub fn as_ptr(&self) -> *mut u8 {
        self.buf.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn class(&self) -> u32 {
        self.class
    }

    pub fn index(&self) -> u32 {
        self.index
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Batch(class {}, #{}, {} x {} bytes)",
            self.class,
            self.index,
            self.len() / self.slot_size,
            self.slot_size
        )
    }
}

/// A batch kept alive by its holder (a device registration).
pub type BatchRef = Arc<Batch>;

#[derive(Default)]
struct ClassState {
    batches: Vec<Arc<Batch>>,
    /// Slots not lent out, as (batch, slot).
    free: Vec<(u32, u32)>,
    lent: usize,
}

struct Class {
    cfg: ClassConfig,
    state: Mutex<ClassState>,
}

impl Class {
    fn lock(&self) -> MutexGuard<'_, ClassState> {
        // The state is plain bookkeeping, consistent between statements: usable after a panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Inner {
    id: u64,
    classes: Vec<Class>,
    /// Batches made so far, all classes: a registration compares it with what it has.
    batches_made: AtomicUsize,
}

/// Page-aligned memory lent as leases. Cheap to clone (all clones are the same pool).
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

/// Where a lease lies: which pool, class and batch, and its offset in the batch. A device
/// registration of that batch turns it into a local key and an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    pub pool: u64,
    pub class: u32,
    pub batch: u32,
    pub offset: usize,
}

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

impl Pool {
    pub fn new(cfg: &PoolConfig) -> Pool {
        let classes = cfg
            .classes
            .iter()
            .map(|c| Class {
                cfg: ClassConfig { size: c.size.max(1).next_multiple_of(PAGE), ..*c },
                state: Mutex::new(ClassState::default()),
            })
            .collect();
        Pool {
            inner: Arc::new(Inner {
                id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
                classes,
                batches_made: AtomicUsize::new(0),
            }),
        }
    }

    /// A process-unique id, so registrations can tell pools apart.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The largest lease the pool makes.
    pub fn max_lease(&self) -> usize {
        self.inner.classes.iter().map(|c| c.cfg.size).max().unwrap_or(0)
    }

    /// A lease of `len` bytes (its capacity is its class's size), from the smallest class that
    /// holds it; the class grows by a batch when all its slots are out and it may.
    pub fn take(&self, len: usize) -> Result<Lease> {
        let max = self.max_lease();
        let (ci, class) = self
            .inner
            .classes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.cfg.size >= len && c.cfg.per_batch > 0)
            .min_by_key(|(_, c)| c.cfg.size)
            .ok_or(Error::TooLarge { len, max })?;
        let mut st = class.lock();
        if st.free.is_empty() {
            if st.batches.len() >= class.cfg.max_batches {
                return Err(Error::Exhausted { size: class.cfg.size, leases: st.lent });
            }
            let index = st.batches.len() as u32;
            let total = class
                .cfg
                .size
                .checked_mul(class.cfg.per_batch)
                .ok_or(Error::BadLength { len: usize::MAX, why: "batch size overflows" })?;
            let buf = AlignedBuf::zeroed(total)?;
            st.batches.push(Arc::new(Batch { buf, class: ci as u32, index, slot_size: class.cfg.size }));
            st.free.extend((0..class.cfg.per_batch as u32).rev().map(|s| (index, s)));
            self.inner.batches_made.fetch_add(1, Ordering::Release);
        }
        let (b, slot) = st.free.pop().expect("a batch was just added if none was free");
        st.lent += 1;
        let batch = st.batches[b as usize].clone();
        drop(st);
        Ok(Lease { pool: self.inner.clone(), batch, slot, len })
    }

    /// How many batches exist so far; grows when [`Pool::take`] adds one. A registration that has
    /// seen this many has every batch.
    pub fn batches_made(&self) -> usize {
        self.inner.batches_made.load(Ordering::Acquire)
    }

    /// Every batch made so far, for registering them with a device.
    pub fn batches(&self) -> Vec<BatchRef> {
        self.inner.classes.iter().flat_map(|c| c.lock().batches.clone()).collect()
    }

    /// Leases out now, over all classes.
    pub fn lent(&self) -> usize {
        self.inner.classes.iter().map(|c| c.lock().lent).sum()
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("id", &self.inner.id).field("lent", &self.lent()).finish()
    }
}

/// A slot of a [`Pool`], lent until dropped: `len` bytes (at most its class's size) starting on a
/// page boundary.
pub struct Lease {
    pool: Arc<Inner>,
    batch: Arc<Batch>,
    slot: u32,
    len: usize,
}

// SAFETY: a lease is the only holder of its slot (the pool hands each free slot to one lease, and
// takes it back only when that lease is dropped), so moving it to another thread moves exclusive
// access to those bytes, as for a Box<[u8]>.
unsafe impl Send for Lease {}
// SAFETY: &Lease gives only shared access to the slot's bytes.
unsafe impl Sync for Lease {}

impl Lease {
    /// Bytes the slot holds at most.
    pub fn capacity(&self) -> usize {
        self.batch.slot_size
    }

    /// Sets the visible length; at most [`Lease::capacity`].
    pub fn set_len(&mut self, len: usize) {
        assert!(len <= self.capacity(), "lease length {len} over its capacity {}", self.capacity());
        self.len = len;
    }

    /// The batch the lease lies in, for a registration to keep alive.
    pub fn batch(&self) -> BatchRef {
        self.batch.clone()
    }

    pub fn location(&self) -> Location {
        Location {
            pool: self.pool.id,
            class: self.batch.class,
            batch: self.batch.index,
            offset: self.slot as usize * self.batch.slot_size,
        }
    }

    fn start(&self) -> *mut u8 {
        // The slot lies inside the batch: slot < per_batch and the batch is per_batch slots long.
        self.batch.as_ptr().wrapping_add(self.slot as usize * self.batch.slot_size)
    }
}

impl Deref for Lease {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `start..start + len` lies in the batch (len <= slot size), which this lease keeps
        // alive, and no other lease covers it; the batch was zeroed when made, so every byte is
        // initialised.
        unsafe { std::slice::from_raw_parts(self.start(), self.len) }
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and &mut self makes this the only reference made through the lease.
        unsafe { std::slice::from_raw_parts_mut(self.start(), self.len) }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let class = &self.pool.classes[self.batch.class as usize];
        let mut st = class.lock();
        st.free.push((self.batch.index, self.slot));
        st.lent -= 1;
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lease({:?}, {} of {} bytes)", self.location(), self.len, self.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> PoolConfig {
        PoolConfig {
            classes: vec![
                ClassConfig { size: 4096, per_batch: 3, max_batches: 2 },
                ClassConfig { size: 5000, per_batch: 2, max_batches: 1 },
            ],
        }
    }

    #[test]
    fn leases_come_from_the_smallest_class_that_fits_and_are_aligned() {
        let pool = Pool::new(&small());
        let a = pool.take(100).unwrap();
        assert_eq!((a.len(), a.capacity()), (100, 4096));
        let b = pool.take(4097).unwrap();
        assert_eq!(b.capacity(), 8192, "sizes round up to whole pages");
        assert_eq!(a.as_ptr() as usize % PAGE, 0);
        assert_eq!(b.as_ptr() as usize % PAGE, 0);
        assert_eq!(pool.take(9000).unwrap_err(), Error::TooLarge { len: 9000, max: 8192 });
        assert_eq!(pool.lent(), 2);
        drop((a, b));
        assert_eq!(pool.lent(), 0);
    }

    #[test]
    fn classes_grow_by_batches_up_to_their_bound_and_reuse_returned_slots() {
        let pool = Pool::new(&small());
        assert_eq!(pool.batches_made(), 0, "nothing is allocated before it is asked for");
        let held: Vec<Lease> = (0..6).map(|_| pool.take(10).unwrap()).collect();
        assert_eq!(pool.batches_made(), 2);
        assert_eq!(pool.take(10).unwrap_err(), Error::Exhausted { size: 4096, leases: 6 });
        let where_ = held[3].location();
        drop(held);
        let again = pool.take(10).unwrap();
        assert_eq!(pool.batches_made(), 2, "a returned slot is reused before growing");
        assert!(again.location().batch < 2);
        assert_ne!(where_.pool, 0);
        assert_eq!(pool.batches().len(), 2);
    }

    #[test]
    fn a_lease_dropped_on_another_thread_returns_to_its_pool() {
        let pool = Pool::new(&small());
        let mut l = pool.take(4096).unwrap();
        l.fill(7);
        std::thread::spawn(move || assert!(l.iter().all(|&b| b == 7))).join().unwrap();
        assert_eq!(pool.lent(), 0);
    }

    proptest! {
        /// Leases out at the same time never share a byte, whatever the order of takes and drops.
        #[test]
        fn leases_never_overlap(ops in proptest::collection::vec((0usize..9000, any::<bool>()), 1..60)) {
            let pool = Pool::new(&small());
            let mut out: Vec<(Lease, u8)> = Vec::new();
            for (i, (len, drop_one)) in ops.into_iter().enumerate() {
                if drop_one && !out.is_empty() {
                    out.swap_remove(i % out.len());
                }
                if let Ok(mut l) = pool.take(len) {
                    let tag = i as u8;
                    l.fill(tag);
                    out.push((l, tag));
                }
                for (l, tag) in &out {
                    prop_assert!(l.iter().all(|b| b == tag));
                }
                prop_assert_eq!(pool.lent(), out.len());
            }
        }
    }
}
