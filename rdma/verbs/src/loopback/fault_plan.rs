//! Faults planned in advance for a loopback fabric's domains, for tests of code that owns its
//! domains (an engine's reactors) where a test cannot reach a queue pair to inject by hand: "the
//! second RDMA READ posted fails with REM_ACCESS_ERR", "the link breaks when the first RDMA WRITE is
//! posted", "the completion of the first RDMA WRITE is lost".

use crate::completion::WcStatus;
use std::sync::Mutex;

/// Which posted work requests a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOn {
    Send,
    RdmaWrite,
    RdmaRead,
}

/// What happens to the work request a rule fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// It completes with this error status (the queue pair goes to the error state).
    Fail(WcStatus),
    /// The link breaks just before it is posted: both sides see a disconnect.
    Disconnect,
    /// Its completion is lost, as if the device dropped it.
    DropCompletion,
}

#[derive(Debug)]
struct Rule {
    on: FaultOn,
    /// Matching work requests to let pass before firing.
    skip: usize,
    action: FaultAction,
    fired: bool,
}

/// Rules shared by the domains of a fabric made with `Fabric::with_faults`; each fires once.
#[derive(Debug, Default)]
pub struct FaultPlan {
    rules: Mutex<Vec<Rule>>,
}

impl FaultPlan {
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// After `skip` matching work requests, do `action` to the next one.
    pub fn add(&self, on: FaultOn, skip: usize, action: FaultAction) {
        self.lock().push(Rule { on, skip, action, fired: false });
    }

    /// How many rules have fired.
    pub fn fired(&self) -> usize {
        self.lock().iter().filter(|r| r.fired).count()
    }

    /// A work request of kind `on` is about to be posted: what to do to it, if anything.
    pub(crate) fn check(&self, on: FaultOn) -> Option<FaultAction> {
        let mut rules = self.lock();
        for r in rules.iter_mut().filter(|r| r.on == on && !r.fired) {
            if r.skip > 0 {
                r.skip -= 1;
                continue;
            }
            r.fired = true;
            return Some(r.action);
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }
}
