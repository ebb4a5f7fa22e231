//! What a running server shows its operator and what the operator may change while it runs: the
//! connections with their sessions and request counters, the recent security events, and each
//! share's EncryptData (read by every TREE_CONNECT, so a change applies to new tree connects, like
//! `Set-SmbShare -EncryptData`).
//!
//! Cost on the reactors: a connection's counters are its own ([`CommandCounters`], relaxed stores);
//! the locks here are taken when a connection starts or ends, when a session logs on or off, when a
//! security event happens, and by the reader (the admin thread), never per request.

use engine::ConnectionHandle;
use smb_session::stats::CommandCounters;
use smb_session::ServerConfig;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Security events kept for the operator's view, the oldest dropped first.
pub const RECENT_EVENTS: usize = 256;

/// Characters of an event's user, share or detail kept at most.
pub const MAX_EVENT_TEXT: usize = 256;

/// Event id (smbdx's own, beside the logon throttling's 9001 and 9002): connections were closed
/// at accept over the server's or a source's connection limit. Recorded once per episode (until
/// the source, or the server, is under its limit again); every refusal is counted in
/// [`Live::refused_connections`].
pub const EVENT_CONNECTIONS_REFUSED: u32 = 9003;

/// What a connection runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransportKind {
    Tcp,
    Rdma,
}

impl TransportKind {
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::Tcp => "tcp",
            TransportKind::Rdma => "rdma",
        }
    }
}

/// The settings shown as they were started (the shares' EncryptData live in [`LiveShare`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub server_name: String,
    /// "3.1.1", "3.0.2", ...
    pub dialects: Vec<String>,
    /// Best first: "aes-128-gcm", ...
    pub ciphers: Vec<String>,
    /// The crypto library asked for ("auto", "ring", ...), then for each offered cipher and for
    /// AES-GMAC the library that runs it.
    pub crypto: Vec<(String, String)>,
    pub require_signing: bool,
    /// Server-wide EncryptData.
    pub encrypt_data: bool,
    pub reject_unencrypted_access: bool,
    pub listen: Vec<SocketAddr>,
    pub rdma_listen: Vec<SocketAddr>,
}

fn crypto_libraries(cfg: &ServerConfig) -> Vec<(String, String)> {
    let b = cfg.crypto_backend;
    let mut v = vec![("backend".to_string(), b.name().to_string())];
    v.extend(cfg.ciphers.iter().map(|c| (c.name().to_string(), b.aead_impl(*c).name().to_string())));
    v.push(("aes-gmac".into(), b.gmac_impl().name().into()));
    v
}

/// "3.1.1" for 0x0311.
pub fn dialect_name(d: u16) -> String {
    match d {
        0x0202 => "2.0.2".into(),
        0x0210 => "2.1".into(),
        0x0300 => "3.0".into(),
        0x0302 => "3.0.2".into(),
        0x0311 => "3.1.1".into(),
        other => format!("{other:#06x}"),
    }
}

impl Settings {
    pub fn of(cfg: &ServerConfig) -> Settings {
        Settings {
            server_name: cfg.server_name.clone(),
            dialects: cfg.dialects.iter().map(|d| dialect_name(d.0)).collect(),
            ciphers: cfg.ciphers.iter().map(|c| c.name().to_string()).collect(),
            crypto: crypto_libraries(cfg),
            require_signing: cfg.require_signing,
            encrypt_data: cfg.encrypt_data,
            reject_unencrypted_access: cfg.reject_unencrypted_access,
            listen: Vec::new(),
            rdma_listen: Vec::new(),
        }
    }
}

/// One share as the operator sees it.
#[derive(Debug)]
pub struct LiveShare {
    pub name: String,
    pub path: std::path::PathBuf,
    pub read_only: bool,
    /// Who may connect; empty: every user.
    pub users: Vec<String>,
    /// Share EncryptData, read by each TREE_CONNECT.
    encrypt_data: AtomicBool,
}

impl LiveShare {
    pub fn encrypt_data(&self) -> bool {
        self.encrypt_data.load(Relaxed)
    }
}

/// A session as the operator sees it (one channel: its connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: u64,
    pub user: String,
    /// Session EncryptData (every request sealed).
    pub encrypt_data: bool,
    pub signing_required: bool,
}

/// What a connection learned from NEGOTIATE and SESSION_SETUP.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    pub dialect: Option<String>,
    pub cipher: Option<&'static str>,
    pub signing: Option<&'static str>,
    pub sessions: Vec<SessionInfo>,
}

/// One connection: written by its reactor, read by the admin thread.
#[derive(Debug)]
pub struct ConnEntry {
    pub id: u64,
    pub peer: SocketAddr,
    pub reactor: usize,
    rdma: AtomicBool,
    pub since: SystemTime,
    pub counters: Arc<CommandCounters>,
    /// Files open on the connection now (all its sessions), stored by its reactor on CREATE, CLOSE
    /// and LOGOFF.
    pub open_files: Arc<AtomicU64>,
    info: Mutex<ConnInfo>,
    handle: Mutex<Option<ConnectionHandle>>,
    /// The operator asked to close it: the reactor drops it at its next wake or message.
    close: AtomicBool,
}

impl ConnEntry {
    pub fn transport(&self) -> TransportKind {
        if self.rdma.load(Relaxed) {
            TransportKind::Rdma
        } else {
            TransportKind::Tcp
        }
    }

    pub fn set_rdma(&self) {
        self.rdma.store(true, Relaxed);
    }

    pub fn info(&self) -> ConnInfo {
        lock(&self.info).clone()
    }

    /// Changes what NEGOTIATE / SESSION_SETUP settled (on logon and logoff only).
    pub fn update(&self, f: impl FnOnce(&mut ConnInfo)) {
        f(&mut lock(&self.info));
    }

    pub fn set_handle(&self, h: ConnectionHandle) {
        *lock(&self.handle) = Some(h);
    }

    /// Whether the operator asked to close this connection.
    pub fn close_requested(&self) -> bool {
        self.close.load(Relaxed)
    }

    /// Request bytes in and response bytes out so far (data moved by RDMA included).
    pub fn bytes(&self) -> (u64, u64) {
        self.counters.snapshot().iter().fold((0, 0), |(i, o), r| (i + r.request_bytes, o + r.response_bytes))
    }
}

/// A security event as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The Windows event id (1003, 1005) where there is one.
    pub id: Option<u32>,
    /// "unencrypted_access_rejected", "negotiate_tampered", "logon_failure", ...
    pub kind: &'static str,
    pub client: SocketAddr,
    pub user: Option<String>,
    pub share: Option<String>,
    pub detail: String,
}

#[derive(Default)]
struct Events {
    recent: VecDeque<EventRecord>,
    /// Events so far by kind (the metric's label).
    counts: BTreeMap<&'static str, u64>,
    /// The event id each kind was recorded with (kinds that have one).
    ids: BTreeMap<&'static str, u32>,
}

#[derive(Default)]
struct Conns {
    live: HashMap<u64, Arc<ConnEntry>>,
    /// Counters of connections that ended, by transport and cipher ("none" without one).
    retired: BTreeMap<(TransportKind, &'static str), CommandCounters>,
    total: u64,
}

/// The server's live state for its operator.
pub struct Live {
    pub settings: Settings,
    pub shares: Vec<LiveShare>,
    pub started: SystemTime,
    conns: Mutex<Conns>,
    events: Mutex<Events>,
    next_id: AtomicU64,
    /// Connections closed at accept: over the server's limit, over a source's.
    refused: [AtomicU64; 2],
}

/// A poisoned lock still holds consistent counts (nothing here panics half-way through a change).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Why a live change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    #[error("no share named {0:?}")]
    NoShare(String),
    #[error("no session {0:#x}")]
    NoSession(u64),
}

impl Live {
    pub fn new(settings: Settings, shares: &[crate::config::ShareConfig]) -> Live {
        Live {
            settings,
            shares: shares
                .iter()
                .map(|s| LiveShare {
                    name: s.name.clone(),
                    path: s.path.clone(),
                    read_only: s.read_only,
                    users: s.users.clone(),
                    encrypt_data: AtomicBool::new(s.encrypt_data),
                })
                .collect(),
            started: SystemTime::now(),
            conns: Mutex::default(),
            events: Mutex::default(),
            next_id: AtomicU64::new(1),
            refused: Default::default(),
        }
    }

    /// Share `index`'s EncryptData now (the share table's order).
    pub fn share_encrypt_data(&self, index: usize) -> Option<bool> {
        self.shares.get(index).map(LiveShare::encrypt_data)
    }

    /// Sets a share's EncryptData for the tree connects from now on (trees already connected keep
    /// what they were granted, as on Windows).
    pub fn set_share_encrypt_data(&self, name: &str, on: bool) -> Result<(), LiveError> {
        let s = self
            .shares
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| LiveError::NoShare(name.into()))?;
        let was = s.encrypt_data.swap(on, Relaxed);
        tracing::info!(share = %s.name, was, now = on, "share EncryptData changed by the operator");
        Ok(())
    }

    /// A connection starts.
    pub fn open(&self, peer: SocketAddr, reactor: usize, rdma: bool) -> Arc<ConnEntry> {
        let e = Arc::new(ConnEntry {
            id: self.next_id.fetch_add(1, Relaxed),
            peer,
            reactor,
            rdma: AtomicBool::new(rdma),
            since: SystemTime::now(),
            counters: Arc::new(CommandCounters::default()),
            open_files: Arc::new(AtomicU64::new(0)),
            info: Mutex::default(),
            handle: Mutex::new(None),
            close: AtomicBool::new(false),
        });
        let mut c = lock(&self.conns);
        c.live.insert(e.id, Arc::clone(&e));
        c.total += 1;
        e
    }

    /// A connection ended: its counters join the totals of its transport and cipher.
    pub fn close(&self, entry: &ConnEntry) {
        let cipher = lock(&entry.info).cipher.unwrap_or("none");
        let mut c = lock(&self.conns);
        if c.live.remove(&entry.id).is_some() {
            c.retired.entry((entry.transport(), cipher)).or_default().absorb(&entry.counters);
        }
    }

    /// The connections now, by id.
    pub fn connections(&self) -> Vec<Arc<ConnEntry>> {
        let mut v: Vec<_> = lock(&self.conns).live.values().cloned().collect();
        v.sort_by_key(|e| e.id);
        v
    }

    /// Connections accepted since start.
    pub fn connections_total(&self) -> u64 {
        lock(&self.conns).total
    }

    /// Request counters by transport and cipher, the ended connections' and the live ones' summed.
    ///
    /// The lock (which connections opening and closing take) is held only to copy the few ended
    /// totals and list the live connections at one instant, so that each connection is counted
    /// once, live or ended; the live ones are summed after.
    pub fn counters_by_transport_cipher(&self) -> BTreeMap<(TransportKind, &'static str), CommandCounters> {
        let mut out: BTreeMap<(TransportKind, &'static str), CommandCounters> = BTreeMap::new();
        let live: Vec<Arc<ConnEntry>> = {
            let c = lock(&self.conns);
            for (k, v) in &c.retired {
                out.entry(*k).or_default().absorb(v);
            }
            c.live.values().cloned().collect()
        };
        for e in live {
            let cipher = lock(&e.info).cipher.unwrap_or("none");
            out.entry((e.transport(), cipher)).or_default().absorb(&e.counters);
        }
        out
    }

    /// Asks the reactor that owns session `id`'s connection to close it (like `Close-SmbSession`,
    /// which drops the session's connections). Returns the client's address.
    pub fn close_session(&self, id: u64) -> Result<SocketAddr, LiveError> {
        let conns = self.connections();
        let e = conns
            .iter()
            .find(|e| lock(&e.info).sessions.iter().any(|s| s.id == id))
            .ok_or(LiveError::NoSession(id))?;
        e.close.store(true, Relaxed);
        if let Some(h) = lock(&e.handle).as_ref() {
            // A connection that is already gone needs no closing.
            let _ = h.wake();
        }
        tracing::info!(session_id = format_args!("{id:#x}"), peer = %e.peer, "session closed by the operator");
        Ok(e.peer)
    }

    /// A connection was closed at accept over a connection limit: counted; the first of an
    /// episode is also logged as event [`EVENT_CONNECTIONS_REFUSED`].
    pub fn connection_refused(&self, r: &engine::Refused) {
        let i = match r.why {
            engine::Refusal::ServerFull { .. } => 0,
            engine::Refusal::SourceFull { .. } => 1,
        };
        self.refused[i].fetch_add(1, Relaxed);
        if r.first {
            tracing::warn!(event_id = EVENT_CONNECTIONS_REFUSED, peer = %r.peer, reason = r.why.name(),
                "connections refused at accept: {}", r.why);
            self.record(EventRecord {
                time_ms: unix_ms(SystemTime::now()),
                id: Some(EVENT_CONNECTIONS_REFUSED),
                kind: "connections_refused",
                client: r.peer,
                user: None,
                share: None,
                detail: format!("{}: {}", r.why.name(), r.why),
            });
        }
    }

    /// Connections closed at accept so far, by reason (`server_limit`, `source_limit`).
    pub fn refused_connections(&self) -> [(&'static str, u64); 2] {
        [("server_limit", self.refused[0].load(Relaxed)), ("source_limit", self.refused[1].load(Relaxed))]
    }

    /// Records a security event (names a client sent are cut to [`MAX_EVENT_TEXT`] characters:
    /// the ring's memory stays bounded whatever a peer sends).
    pub fn record(&self, mut ev: EventRecord) {
        let cut = |s: &mut String| {
            if let Some((i, _)) = s.char_indices().nth(MAX_EVENT_TEXT) {
                s.truncate(i);
            }
        };
        for s in [ev.user.as_mut(), ev.share.as_mut(), Some(&mut ev.detail)].into_iter().flatten() {
            cut(s);
        }
        let mut e = lock(&self.events);
        *e.counts.entry(ev.kind).or_default() += 1;
        if let Some(id) = ev.id {
            e.ids.insert(ev.kind, id);
        }
        if e.recent.len() == RECENT_EVENTS {
            e.recent.pop_front();
        }
        e.recent.push_back(ev);
    }

    /// The recent events, oldest first.
    pub fn recent_events(&self) -> Vec<EventRecord> {
        lock(&self.events).recent.iter().cloned().collect()
    }

    /// Events so far by kind.
    pub fn event_counts(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.events).counts.clone()
    }

    /// The event id of each kind recorded so far that has one (1003, 1005, 9001, ...).
    pub fn event_ids(&self) -> BTreeMap<&'static str, u32> {
        lock(&self.events).ids.clone()
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("shares", &self.shares).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_wire::Command;

    fn live() -> Live {
        let shares = vec![crate::config::ShareConfig::parse("data=/tmp").unwrap()];
        Live::new(Settings::of(&ServerConfig::default()), &shares)
    }

    #[test]
    fn share_flag_changes_and_unknown_share_is_refused() {
        let l = live();
        assert_eq!(l.share_encrypt_data(0), Some(false));
        l.set_share_encrypt_data("DATA", true).unwrap();
        assert_eq!(l.share_encrypt_data(0), Some(true));
        assert_eq!(l.set_share_encrypt_data("nope", true), Err(LiveError::NoShare("nope".into())));
        assert_eq!(l.settings.dialects[0], "3.1.1");
    }

    #[test]
    fn ended_connections_keep_their_counts() {
        let l = live();
        let e = l.open("10.0.0.1:5000".parse().unwrap(), 0, false);
        e.counters.request(Command::WRITE, 1000, true);
        e.update(|i| i.cipher = Some("aes-128-gcm"));
        let before = l.counters_by_transport_cipher();
        l.close(&e);
        l.close(&e); // twice: counted once
        let after = l.counters_by_transport_cipher();
        let key = (TransportKind::Tcp, "aes-128-gcm");
        assert_eq!(before[&key].snapshot(), after[&key].snapshot());
        assert_eq!(after[&key].snapshot()[0].request_bytes, 1000);
        assert!(l.connections().is_empty());
        assert_eq!(l.connections_total(), 1);
    }

    #[test]
    fn events_ring_keeps_the_last_ones_and_counts_all() {
        let l = live();
        for i in 0..RECENT_EVENTS + 3 {
            l.record(EventRecord {
                time_ms: i as u64,
                id: Some(1003),
                kind: "unencrypted_access_rejected",
                client: "10.0.0.1:5000".parse().unwrap(),
                user: Some("é".repeat(1000)),
                share: None,
                detail: String::new(),
            });
        }
        let r = l.recent_events();
        assert_eq!(r.len(), RECENT_EVENTS);
        assert_eq!(r[0].time_ms, 3);
        assert_eq!(r[0].user.as_ref().unwrap().chars().count(), MAX_EVENT_TEXT, "a peer's name is cut");
        assert_eq!(l.event_counts()["unencrypted_access_rejected"], RECENT_EVENTS as u64 + 3);
        assert_eq!(l.close_session(7), Err(LiveError::NoSession(7)));
    }
}
