//! Registered regions and the bookkeeping that makes ownership hold at run time.
//!
//! An endpoint owns its regions' buffers (page-aligned heap allocations that never move) in a
//! [`RegionTable`]. Work requests name regions by [`RegionId`]; while one is in flight the region
//! counts it, and deregistering or borrowing the bytes of a busy region is refused. Slots in
//! [`WrSlots`] map the provider's wr_id (a slot index) back to the caller's wr_id and the regions
//! to release, with all storage allocated once when the endpoint is created.

use crate::completion::WcOpcode;
use crate::error::{Error, Result};
use crate::work_request::Sge;
use crate::Access;
use std::fmt;

/// Most scatter/gather entries in one work request.
pub const MAX_SGE: usize = 4;

/// A handle to a region registered on one endpoint. Stale handles are detected (generation).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RegionId {
    index: u32,
    generation: u32,
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.index, self.generation)
    }
}

pub(crate) struct RegionEntry<M> {
    pub len: usize,
    pub access: Access,
    /// Work requests (and bound windows) that reference the region.
    pub in_flight: u32,
    pub inner: M,
}

/// The regions of one endpoint, with provider-specific state `M` (the buffer, the MR).
pub(crate) struct RegionTable<M> {
    slots: Vec<(u32, Option<RegionEntry<M>>)>,
}

impl<M> RegionTable<M> {
    pub fn new() -> Self {
        Self { slots: Vec::new() }
    }

    pub fn insert(&mut self, len: usize, access: Access, inner: M) -> RegionId {
        let entry = RegionEntry { len, access, in_flight: 0, inner };
        if let Some(index) = self.slots.iter().position(|(_, e)| e.is_none()) {
            let slot = &mut self.slots[index];
            slot.0 = slot.0.wrapping_add(1);
            slot.1 = Some(entry);
            return RegionId { index: index as u32, generation: slot.0 };
        }
        self.slots.push((0, Some(entry)));
        RegionId { index: self.slots.len() as u32 - 1, generation: 0 }
    }

    pub fn get(&self, id: RegionId) -> Result<&RegionEntry<M>> {
        match self.slots.get(id.index as usize) {
            Some((g, Some(e))) if *g == id.generation => Ok(e),
            _ => Err(Error::UnknownRegion(id)),
        }
    }

    pub fn get_mut(&mut self, id: RegionId) -> Result<&mut RegionEntry<M>> {
        match self.slots.get_mut(id.index as usize) {
            Some((g, Some(e))) if *g == id.generation => Ok(e),
            _ => Err(Error::UnknownRegion(id)),
        }
    }

    /// A region that nothing references any more; its bytes may be borrowed or it may be freed.
    pub fn idle(&self, id: RegionId) -> Result<&RegionEntry<M>> {
        let e = self.get(id)?;
        if e.in_flight > 0 {
            return Err(Error::RegionBusy { region: id, in_flight: e.in_flight });
        }
        Ok(e)
    }

    #[cfg_attr(not(feature = "rdma"), allow(dead_code))]
    pub fn idle_mut(&mut self, id: RegionId) -> Result<&mut RegionEntry<M>> {
        self.idle(id)?;
        self.get_mut(id)
    }

    pub fn remove(&mut self, id: RegionId) -> Result<RegionEntry<M>> {
        self.idle(id)?;
        Ok(self.slots[id.index as usize].1.take().expect("checked above"))
    }

    /// Checks that `sge` lies inside its region and that the region grants `needs`.
    pub fn check(&self, sge: &Sge, needs: Access) -> Result<&RegionEntry<M>> {
        let e = self.get(sge.region)?;
        let end = sge.offset.checked_add(sge.len);
        match end {
            Some(end) if end <= e.len => {}
            _ => {
                return Err(Error::OutOfBounds {
                    region: sge.region,
                    offset: sge.offset,
                    end: end.unwrap_or(usize::MAX),
                    len: e.len,
                })
            }
        }
        if !e.access.contains(needs) {
            return Err(Error::AccessDenied { region: sge.region, has: e.access, needs });
        }
        Ok(e)
    }

    #[cfg_attr(not(feature = "rdma"), allow(dead_code))]
    /// Takes every entry out (teardown, after the queue pair is gone).
    pub fn drain(&mut self) -> impl Iterator<Item = RegionEntry<M>> + '_ {
        self.slots.iter_mut().filter_map(|(_, e)| e.take())
    }
}

/// Which queue a work request went to (each has its own capacity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Queue {
    Send,
    Recv,
}

#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub wr_id: u64,
    pub opcode: WcOpcode,
    pub regions: [Option<RegionId>; MAX_SGE],
    /// The rkey a LOCAL_INV work request invalidates.
    pub rkey: Option<u32>,
    pub queue: Queue,
    /// Posting order (per endpoint), so a software flush can complete requests in order.
    seq: u64,
    in_use: bool,
}

/// Work requests in flight, indexed by slot number (the wr_id the provider sees).
pub(crate) struct WrSlots {
    slots: Vec<Slot>,
    free: Vec<u32>,
    send_cap: usize,
    recv_cap: usize,
    send_used: usize,
    recv_used: usize,
    posted: u64,
}

impl WrSlots {
    pub fn new(send_cap: usize, recv_cap: usize) -> Self {
        let n = send_cap + recv_cap;
        let empty = Slot {
            wr_id: 0,
            opcode: WcOpcode::SEND,
            regions: [None; MAX_SGE],
            rkey: None,
            queue: Queue::Send,
            seq: 0,
            in_use: false,
        };
        Self {
            slots: vec![empty; n],
            free: (0..n as u32).rev().collect(),
            send_cap,
            recv_cap,
            send_used: 0,
            recv_used: 0,
            posted: 0,
        }
    }

    /// Room for `n` more work requests on `queue`?
    pub fn ensure_room(&self, queue: Queue, n: usize) -> Result<()> {
        let (used, cap, name) = match queue {
            Queue::Send => (self.send_used, self.send_cap, "send"),
            Queue::Recv => (self.recv_used, self.recv_cap, "receive"),
        };
        if used + n > cap {
            return Err(Error::QueueFull { queue: name, capacity: cap });
        }
        Ok(())
    }

    /// Takes a slot and counts the work request against its regions. Call [`Self::ensure_room`]
    /// and [`RegionTable::check`] first.
    pub fn acquire<M>(
        &mut self,
        regions: &mut RegionTable<M>,
        queue: Queue,
        wr_id: u64,
        opcode: WcOpcode,
        sges: &[Sge],
        rkey: Option<u32>,
    ) -> u32 {
        let index = self.free.pop().expect("ensure_room was called");
        let mut ids = [None; MAX_SGE];
        for (id, sge) in ids.iter_mut().zip(sges) {
            *id = Some(sge.region);
            if let Ok(e) = regions.get_mut(sge.region) {
                e.in_flight += 1;
            }
        }
        match queue {
            Queue::Send => self.send_used += 1,
            Queue::Recv => self.recv_used += 1,
        }
        self.posted += 1;
        self.slots[index as usize] =
            Slot { wr_id, opcode, regions: ids, rkey, queue, seq: self.posted, in_use: true };
        index
    }

    /// Frees a slot when its completion is polled; the regions it referenced are released.
    pub fn release<M>(&mut self, regions: &mut RegionTable<M>, index: u32) -> Slot {
        let slot = self.slots[index as usize];
        debug_assert!(slot.in_use, "slot {index} released twice");
        self.slots[index as usize].in_use = false;
        for id in slot.regions.iter().flatten() {
            if let Ok(e) = regions.get_mut(*id) {
                e.in_flight = e.in_flight.saturating_sub(1);
            }
        }
        match slot.queue {
            Queue::Send => self.send_used -= 1,
            Queue::Recv => self.recv_used -= 1,
        }
        self.free.push(index);
        slot
    }

    /// Like [`Self::release`], for a completion that may not be ours any more (a device may report
    /// a request the domain already completed in software): `None` when the slot is free.
    #[cfg_attr(not(feature = "rdma"), allow(dead_code))]
    pub fn try_release<M>(&mut self, regions: &mut RegionTable<M>, index: u32) -> Option<Slot> {
        if !self.slots.get(index as usize)?.in_use {
            return None;
        }
        Some(self.release(regions, index))
    }

    /// The slots in use, in posting order (for a software flush at teardown).
    #[cfg_attr(not(feature = "rdma"), allow(dead_code))]
    pub fn outstanding(&self) -> Vec<u32> {
        let mut v: Vec<u32> =
            (0..self.slots.len() as u32).filter(|&i| self.slots[i as usize].in_use).collect();
        v.sort_by_key(|&i| self.slots[i as usize].seq);
        v
    }

    /// The caller's wr_id and opcode of an outstanding slot (diagnostics).
    #[cfg_attr(not(feature = "rdma"), allow(dead_code))]
    pub fn peek(&self, index: u32) -> (u64, WcOpcode) {
        let s = &self.slots[index as usize];
        (s.wr_id, s.opcode)
    }

    pub fn in_flight(&self) -> usize {
        self.send_used + self.recv_used
    }
}

/// Checks every SGE of a work request (count, bounds, access).
pub(crate) fn check_sges<M>(regions: &RegionTable<M>, sges: &[Sge], needs: Access) -> Result<()> {
    if sges.len() > MAX_SGE {
        return Err(Error::TooManySges { n: sges.len(), max: MAX_SGE });
    }
    for sge in sges {
        regions.check(sge, needs)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_handles_and_busy_regions_are_refused() {
        let mut t = RegionTable::new();
        let a = t.insert(100, Access::LOCAL_WRITE, ());
        let mut slots = WrSlots::new(2, 2);
        let sge = Sge::new(a, 0, 100);
        assert!(t.check(&sge, Access::LOCAL_WRITE).is_ok());
        assert!(matches!(
            t.check(&Sge::new(a, 1, 100), Access::NONE),
            Err(Error::OutOfBounds { end: 101, .. })
        ));
        assert!(matches!(t.check(&sge, Access::REMOTE_READ), Err(Error::AccessDenied { .. })));
        let s = slots.acquire(&mut t, Queue::Recv, 7, WcOpcode::RECV, &[sge], None);
        assert!(matches!(t.remove(a), Err(Error::RegionBusy { in_flight: 1, .. })));
        assert_eq!(slots.release(&mut t, s).wr_id, 7);
        t.remove(a).unwrap();
        let b = t.insert(10, Access::NONE, ());
        assert!(matches!(t.get(a), Err(Error::UnknownRegion(_))), "old handle must not reach the new region");
        assert!(t.get(b).is_ok());
    }

    #[test]
    fn queues_have_their_own_capacity() {
        let mut t: RegionTable<()> = RegionTable::new();
        let mut slots = WrSlots::new(1, 2);
        slots.ensure_room(Queue::Send, 1).unwrap();
        slots.acquire(&mut t, Queue::Send, 1, WcOpcode::SEND, &[], None);
        assert!(matches!(slots.ensure_room(Queue::Send, 1), Err(Error::QueueFull { queue: "send", .. })));
        slots.ensure_room(Queue::Recv, 2).unwrap();
        assert!(slots.ensure_room(Queue::Recv, 3).is_err());
    }
}
