//! The SIGBUS guard: a per-thread range, and a process-wide handler that patches a zero page over a
//! fault inside the range and returns.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

thread_local! {
    // Const-initialised plain cells: the handler reads them with no lazy initialisation and no
    // allocation, which keeps it async-signal-safe.
    static RANGE: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    static FAULTED: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();
static PAGE: AtomicUsize = AtomicUsize::new(0);
/// The disposition before ours, put back for a SIGBUS that is not a guarded read's.
static mut PREVIOUS: Option<libc::sigaction> = None;

pub(crate) fn page_size() -> usize {
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no preconditions.
            let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let p = if p > 0 { p as usize } else { 4096 };
            PAGE.store(p, Ordering::Relaxed);
            p
        }
        p => p,
    }
}

pub(crate) fn install() {
    INSTALL.call_once(|| {
        page_size();
        // SAFETY: a zeroed sigaction is a valid value to fill; `handler` has the SA_SIGINFO
        // signature; PREVIOUS is written here, once, before the handler can run (it is installed
        // by this very call), and only read afterwards.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction =
                handler as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &sa, &mut old) == 0 {
                *std::ptr::addr_of_mut!(PREVIOUS) = Some(old);
            }
        }
    });
}

/// Runs `f` with `[start, start + len)` guarded on this thread; returns its result and whether a
/// page of the range faulted meanwhile.
pub(crate) fn run<R>(start: usize, len: usize, f: impl FnOnce() -> R) -> (R, bool) {
    FAULTED.with(|c| c.set(false));
    RANGE.with(|c| c.set((start, start + len)));
    // The handler must see the range before the first access, and the accesses stay inside.
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
    let r = f();
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
    RANGE.with(|c| c.set((0, 0)));
    (r, FAULTED.with(Cell::get))
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler; si_addr is the faulting
    // address for SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    let (start, end) = RANGE.with(Cell::get);
    if addr >= start && addr < end {
        let page = PAGE.load(Ordering::Relaxed).max(1);
        let at = addr / page * page;
        // SAFETY: `at` is a page of a mapping this thread is reading under the guard (the range lies
        // inside a FileMap); MAP_FIXED replaces just that page with a private zero page, so the
        // faulting read resumes on zeros. mmap is async-signal-safe.
        let p = unsafe {
            libc::mmap(
                at as *mut libc::c_void,
                page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            FAULTED.with(|c| c.set(true));
            return;
        }
    }
    // Not ours (or the patch failed): put back the previous disposition and return, so the
    // faulting instruction raises the signal again under it (by default: the process dies).
    // SAFETY: PREVIOUS was written before this handler was installed; sigaction is
    // async-signal-safe.
    unsafe {
        let previous = *std::ptr::addr_of!(PREVIOUS);
        match previous {
            Some(old) => libc::sigaction(sig, &old, std::ptr::null_mut()),
            None => libc::signal(sig, libc::SIG_DFL) as libc::c_int,
        };
    }
}
