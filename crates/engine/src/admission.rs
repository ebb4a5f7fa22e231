//! Admission at accept: how many connections the server holds at once, and how many of them one
//! source address may hold. The acceptor asks before it hands a socket (or an RDMA connection
//! request) to a reactor; a connection over either limit is closed there, before a reactor or a
//! handler sees it, so refusing costs the offender's socket and nothing else.
//!
//! An admitted connection carries a [`Permit`] for its whole life (in the hand-off command, then in
//! its channel); dropping the permit, wherever the connection ends, gives its place back. The table
//! is touched on accept and on close only, never per message.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// Why a connection was closed at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server already holds `max` connections (`EngineConfig::max_connections`).
    ServerFull { max: usize },
    /// The source address already holds `max` connections (`EngineConfig::max_connections_per_source`).
    SourceFull { max: usize },
}

impl Refusal {
    /// A short name for logs and metric labels: `server_limit` or `source_limit`.
    pub fn name(&self) -> &'static str {
        match self {
            Refusal::ServerFull { .. } => "server_limit",
            Refusal::SourceFull { .. } => "source_limit",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::ServerFull { max } => write!(f, "the server holds its limit of {max} connections"),
            Refusal::SourceFull { max } => write!(f, "this address holds its limit of {max} connections"),
        }
    }
}

/// A connection closed at accept, as the [`crate::ConnectionFactory::refused`] hook hears of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub peer: SocketAddr,
    pub why: Refusal,
    /// The first refusal since the source (for [`Refusal::SourceFull`]) or the server (for
    /// [`Refusal::ServerFull`]) was last under its limit: worth a log line and an event; the
    /// refusals that follow it in the same episode are only counted.
    pub first: bool,
}

/// Connections closed at accept so far, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusedCounts {
    pub server_limit: u64,
    pub source_limit: u64,
}

#[derive(Default)]
struct Source {
    open: usize,
    /// A refusal was reported since `open` was last below the limit.
    refusing: bool,
}

#[derive(Default)]
struct Table {
    total: usize,
    server_refusing: bool,
    /// Sources with at least one connection: no more entries than admitted connections.
    sources: HashMap<IpAddr, Source>,
}

/// The limits and who holds what (shared by the acceptor and, through permits, the reactors).
pub(crate) struct Admission {
    max_total: usize,
    max_per_source: usize,
    table: Mutex<Table>,
    refused_server: AtomicU64,
    refused_source: AtomicU64,
}

/// One admitted connection's place; given back when dropped.
pub(crate) struct Permit {
    admission: Arc<Admission>,
    source: Option<IpAddr>,
}

/// The address a source is counted under: an IPv4 peer on a dual-stack listener (::ffff:a.b.c.d)
/// is the same source as a.b.c.d.
fn source_of(addr: IpAddr) -> IpAddr {
    addr.to_canonical()
}

impl Admission {
    /// `max_total` and `max_per_source` of 0 are taken as 1 (a server that admits nothing would be
    /// a configuration mistake, refused earlier by the settings).
    pub(crate) fn new(max_total: usize, max_per_source: usize) -> Arc<Admission> {
        Arc::new(Admission {
            max_total: max_total.max(1),
            max_per_source: max_per_source.max(1),
            table: Mutex::default(),
            refused_server: AtomicU64::new(0),
            refused_source: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Nothing here panics half-way through a change: a poisoned table is still consistent.
        self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for a connection from `peer` (`None`: an address the transport could not tell,
    /// counted against the server's limit only), or why there is none.
    pub(crate) fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Permit, Refused> {
        self.admit_ip(Some(peer.ip())).map_err(|(why, first)| Refused { peer, why, first })
    }

    pub(crate) fn admit_ip(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Permit, (Refusal, bool)> {
        let source = ip.map(source_of);
        let mut t = self.lock();
        if t.total >= self.max_total {
            self.refused_server.fetch_add(1, Relaxed);
            let first = !std::mem::replace(&mut t.server_refusing, true);
            return Err((Refusal::ServerFull { max: self.max_total }, first));
        }
        if let Some(ip) = source {
            let s = t.sources.entry(ip).or_default();
            if s.open >= self.max_per_source {
                self.refused_source.fetch_add(1, Relaxed);
                let first = !std::mem::replace(&mut s.refusing, true);
                return Err((Refusal::SourceFull { max: self.max_per_source }, first));
            }
            s.open += 1;
        }
        t.total += 1;
        Ok(Permit { admission: Arc::clone(self), source })
    }

    pub(crate) fn refused(&self) -> RefusedCounts {
        RefusedCounts {
            server_limit: self.refused_server.load(Relaxed),
            source_limit: self.refused_source.load(Relaxed),
        }
    }

    /// Connections admitted and not yet closed.
    pub(crate) fn open(&self) -> usize {
        self.lock().total
    }

    fn release(&self, source: Option<IpAddr>) {
        let mut t = self.lock();
        t.total = t.total.saturating_sub(1);
        if t.total < self.max_total {
            t.server_refusing = false;
        }
        if let Some(ip) = source {
            if let Some(s) = t.sources.get_mut(&ip) {
                s.open = s.open.saturating_sub(1);
                s.refusing = false;
                if s.open == 0 {
                    t.sources.remove(&ip);
                }
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.release(self.source);
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").field("source", &self.source).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn per_source_limit_frees_when_a_connection_closes() {
        let a = Admission::new(10, 2);
        let p1 = a.admit_ip(ip("10.0.0.1")).unwrap();
        let _p2 = a.admit_ip(ip("10.0.0.1")).unwrap();
        assert_eq!(a.admit_ip(ip("10.0.0.1")).unwrap_err(), (Refusal::SourceFull { max: 2 }, true));
        assert_eq!(a.admit_ip(ip("10.0.0.1")).unwrap_err(), (Refusal::SourceFull { max: 2 }, false));
        // The same address through a dual-stack listener is the same source.
        assert!(a.admit_ip(ip("::ffff:10.0.0.1")).is_err());
        let _other = a.admit_ip(ip("10.0.0.2")).unwrap();
        drop(p1);
        let _p3 = a.admit_ip(ip("10.0.0.1")).unwrap();
        assert!(a.admit_ip(ip("10.0.0.1")).unwrap_err().1, "a new episode is reported again");
        assert_eq!(a.refused(), RefusedCounts { server_limit: 0, source_limit: 4 });
        assert_eq!(a.open(), 3);
    }

    #[test]
    fn server_limit_counts_every_source_and_unknown_addresses() {
        let a = Admission::new(2, 5);
        let p1 = a.admit_ip(None).unwrap();
        let _p2 = a.admit_ip(ip("10.0.0.1")).unwrap();
        assert_eq!(a.admit_ip(ip("10.0.0.3")).unwrap_err(), (Refusal::ServerFull { max: 2 }, true));
        assert_eq!(a.admit_ip(None).unwrap_err(), (Refusal::ServerFull { max: 2 }, false));
        drop(p1);
        assert!(a.admit_ip(ip("10.0.0.3")).is_ok());
        assert_eq!(a.open(), 1, "the permit admitted last was dropped at once");
        let sources = a.lock().sources.len();
        assert!(sources <= a.open(), "no entry outlives its connections");
    }
}
