//! Logon throttling by source address: a source whose logons keep failing is answered slowly, then
//! refused for a while. Another source, a good user's, is never touched.
//!
//! Failures are counted per IP address over a window. From `delay_after` failures on, every
//! SESSION_SETUP from that source is answered only after `delay` (the success of a good password
//! too, so the delay does not tell a guess that worked); from `lockout_after` failures on, the source
//! is refused for `lockout`: a SESSION_SETUP from it closes its connection without looking at the
//! credentials. The two steps are security events of their own (ids below, in the smbdx range: the
//! Windows SMB server's ids are not reused for something it does differently), each logged once
//! per step. The table holds at most [`MAX_SOURCES`] addresses, so a flood of sources cannot grow it.
//!
//! Sans-I/O: every call takes the time, so the tests run on a simulated clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Event id: a source crossed `delay_after` failures; its logons are slowed from now on.
pub const EVENT_LOGON_SLOWED: u32 = 9001;
/// Event id: a source crossed `lockout_after` failures; its logons are refused for a while.
pub const EVENT_SOURCE_LOCKED_OUT: u32 = 9002;

/// Addresses tracked at most. When the table is full, expired entries go first, then the oldest.
pub const MAX_SOURCES: usize = 16_384;

/// The policy (`smbdx serve --logon-throttle`, TOML `logon_throttle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures from one source before its logons are slowed (0: never).
    pub delay_after: u32,
    /// How long each logon of a slowed source waits for its answer (like Windows'
    /// InvalidAuthenticationDelayTimeInMs, whose default is 2 s).
    pub delay: Duration,
    /// Failures from one source before it is refused (0: never).
    pub lockout_after: u32,
    /// How long a refused source stays refused.
    pub lockout: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            delay_after: 5,
            delay: Duration::from_secs(2),
            lockout_after: 30,
            lockout: Duration::from_secs(300),
            window: Duration::from_secs(600),
        }
    }
}

impl ThrottleConfig {
    /// No throttling at all.
    pub const OFF: ThrottleConfig = ThrottleConfig {
        delay_after: 0,
        delay: Duration::ZERO,
        lockout_after: 0,
        lockout: Duration::ZERO,
        window: Duration::ZERO,
    };

    /// `off`, or `DELAY_AFTER,DELAY_MS,LOCKOUT_AFTER,LOCKOUT_SECS` (e.g. the default `5,2000,30,300`).
    pub fn parse(s: &str) -> Option<ThrottleConfig> {
        if s == "off" {
            return Some(Self::OFF);
        }
        let n: Vec<u64> = s.split(',').map(|p| p.trim().parse().ok()).collect::<Option<_>>()?;
        let [delay_after, delay_ms, lockout_after, lockout_secs] = n[..] else { return None };
        let c = ThrottleConfig {
            delay_after: u32::try_from(delay_after).ok()?,
            delay: Duration::from_millis(delay_ms.min(60_000)),
            lockout_after: u32::try_from(lockout_after).ok()?,
            lockout: Duration::from_secs(lockout_secs.min(86_400)),
            ..ThrottleConfig::default()
        };
        (c.lockout_after == 0 || c.delay_after == 0 || c.lockout_after >= c.delay_after).then_some(c)
    }
}

/// What to do with a SESSION_SETUP from a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Answer it, but not before this long.
    Delay(Duration),
    /// Close the connection; the source is refused until then.
    Refuse {
        until: Instant,
    },
}

/// A step a failure took its source to, to be logged once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalation {
    Slowed { failures: u32 },
    LockedOut { failures: u32, for_: Duration },
}

impl Escalation {
    pub fn event_id(&self) -> u32 {
        match self {
            Escalation::Slowed { .. } => EVENT_LOGON_SLOWED,
            Escalation::LockedOut { .. } => EVENT_SOURCE_LOCKED_OUT,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    /// When the window of `failures` began.
    since: Instant,
    last: Instant,
    locked_until: Option<Instant>,
}

/// The server-wide table (shared by the reactors; touched only by SESSION_SETUPs and failures).
#[derive(Debug)]
pub struct LogonThrottle {
    cfg: ThrottleConfig,
    sources: Mutex<HashMap<IpAddr, Entry>>,
}

impl LogonThrottle {
    pub fn new(cfg: ThrottleConfig) -> LogonThrottle {
        LogonThrottle { cfg, sources: Mutex::new(HashMap::new()) }
    }

    pub fn config(&self) -> ThrottleConfig {
        self.cfg
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        // A panic elsewhere while holding the lock leaves a table that is still consistent.
        self.sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the entry says anything any more at `now`.
    fn live(&self, e: &Entry, now: Instant) -> bool {
        e.locked_until.is_some_and(|t| now < t) || now.saturating_duration_since(e.since) < self.cfg.window
    }

    // ---- input

    /// A SESSION_SETUP arrived from `ip`.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Verdict {
        let mut t = self.table();
        let Some(e) = t.get(&ip).copied() else { return Verdict::Allow };
        if let Some(until) = e.locked_until.filter(|&u| now < u) {
            return Verdict::Refuse { until };
        }
        if !self.live(&e, now) || e.locked_until.is_some() {
            // The window passed, or the lockout ended: the source starts afresh.
            t.remove(&ip);
            return Verdict::Allow;
        }
        if self.cfg.delay_after > 0 && e.failures >= self.cfg.delay_after {
            Verdict::Delay(self.cfg.delay)
        } else {
            Verdict::Allow
        }
    }

    /// A logon from `ip` failed. Returns the step it took the source to, if it took one.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> Option<Escalation> {
        if self.cfg.delay_after == 0 && self.cfg.lockout_after == 0 {
            return None;
        }
        let mut t = self.table();
        if !t.contains_key(&ip) && t.len() >= MAX_SOURCES {
            self.make_room(&mut t, now);
        }
        let e = t.entry(ip).or_insert(Entry { failures: 0, since: now, last: now, locked_until: None });
        if e.locked_until.is_some_and(|u| now < u) {
            return None;
        }
        if e.locked_until.is_some() || now.saturating_duration_since(e.since) >= self.cfg.window {
            *e = Entry { failures: 0, since: now, last: now, locked_until: None };
        }
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        if self.cfg.lockout_after > 0 && e.failures == self.cfg.lockout_after {
            e.locked_until = Some(now + self.cfg.lockout);
            return Some(Escalation::LockedOut { failures: e.failures, for_: self.cfg.lockout });
        }
        (self.cfg.delay_after > 0 && e.failures == self.cfg.delay_after)
            .then_some(Escalation::Slowed { failures: e.failures })
    }

    // ---- timers (none: entries expire when next looked at, or when the table needs room)

    fn make_room(&self, t: &mut HashMap<IpAddr, Entry>, now: Instant) {
        t.retain(|_, e| self.live(e, now));
        if t.len() >= MAX_SOURCES {
            if let Some(oldest) = t.iter().min_by_key(|(_, e)| e.last).map(|(ip, _)| *ip) {
                t.remove(&oldest);
            }
        }
    }

    /// Sources tracked now (for tests and the operator).
    pub fn tracked(&self) -> usize {
        self.table().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ThrottleConfig {
        ThrottleConfig {
            delay_after: 3,
            delay: Duration::from_millis(500),
            lockout_after: 5,
            lockout: Duration::from_secs(60),
            window: Duration::from_secs(600),
        }
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn failures_slow_a_source_then_refuse_it_and_leave_others_alone() {
        let t = LogonThrottle::new(cfg());
        let t0 = Instant::now();
        let (bad, good) = (ip(1), ip(2));
        assert_eq!(t.failed(bad, t0), None);
        assert_eq!(t.failed(bad, t0), None);
        assert_eq!(t.check(bad, t0), Verdict::Allow);
        assert_eq!(t.failed(bad, t0), Some(Escalation::Slowed { failures: 3 }));
        assert_eq!(t.check(bad, t0), Verdict::Delay(Duration::from_millis(500)));
        assert_eq!(t.failed(bad, t0), None, "the step is taken once");
        let locked = t.failed(bad, t0);
        assert_eq!(locked, Some(Escalation::LockedOut { failures: 5, for_: Duration::from_secs(60) }));
        assert_eq!(
            t.check(bad, t0 + Duration::from_secs(59)),
            Verdict::Refuse { until: t0 + Duration::from_secs(60) }
        );
        assert_eq!(t.failed(bad, t0 + Duration::from_secs(1)), None, "no escalation while refused");
        assert_eq!(t.check(good, t0), Verdict::Allow, "another source is untouched");
        // The lockout ends: the source starts afresh.
        assert_eq!(t.check(bad, t0 + Duration::from_secs(60)), Verdict::Allow);
        assert_eq!(t.failed(bad, t0 + Duration::from_secs(61)), None);
        assert_eq!(t.check(bad, t0 + Duration::from_secs(61)), Verdict::Allow);
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let t = LogonThrottle::new(cfg());
        let t0 = Instant::now();
        for _ in 0..3 {
            t.failed(ip(1), t0);
        }
        assert!(matches!(t.check(ip(1), t0), Verdict::Delay(_)));
        let later = t0 + Duration::from_secs(601);
        assert_eq!(t.check(ip(1), later), Verdict::Allow);
        assert_eq!(t.failed(ip(1), later), None, "one failure in a new window");
    }

    #[test]
    fn off_tracks_nothing() {
        let t = LogonThrottle::new(ThrottleConfig::OFF);
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(t.failed(ip(1), t0), None);
        }
        assert_eq!(t.check(ip(1), t0), Verdict::Allow);
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn the_table_is_bounded_under_a_flood_of_sources() {
        let t = LogonThrottle::new(cfg());
        let t0 = Instant::now();
        for i in 0..(MAX_SOURCES as u32 + 1000) {
            t.failed(IpAddr::from(i.to_be_bytes()), t0 + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(t.tracked(), MAX_SOURCES);
        // The newest source is tracked; the oldest made room for it.
        let newest = IpAddr::from((MAX_SOURCES as u32 + 999).to_be_bytes());
        t.failed(newest, t0 + Duration::from_secs(100));
        t.failed(newest, t0 + Duration::from_secs(100));
        assert!(matches!(t.check(newest, t0 + Duration::from_secs(100)), Verdict::Delay(_)));
    }

    #[test]
    fn settings_parse() {
        assert_eq!(ThrottleConfig::parse("off"), Some(ThrottleConfig::OFF));
        let c = ThrottleConfig::parse("5,2000,30,300").unwrap();
        assert_eq!((c.delay_after, c.delay, c.lockout_after), (5, Duration::from_secs(2), 30));
        assert_eq!(c.lockout, Duration::from_secs(300));
        assert_eq!(ThrottleConfig::parse("5,2000,30"), None);
        assert_eq!(ThrottleConfig::parse("5,2000,3,300"), None, "lockout before delay");
        assert_eq!(ThrottleConfig::parse("a,b,c,d"), None);
    }
}
