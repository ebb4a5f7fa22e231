//! The RDMA CM connection life as an explicit state machine (`rdma_cm(7)`).
//!
//! Both providers drive an endpoint through these states; the verbs provider feeds it the events
//! librdmacm delivers and refuses any event the state does not allow, so a surprise shows up as
//! an error naming the event and the state instead of a hang.
//!
//! Active side:  Idle -> AddrResolved -> RouteResolved -> Connecting -> Established
//! Passive side: Listening; each request: ConnectRequest -> Accepting -> Established
//! Both:         Established -> Disconnected (either side's disconnect, or a fatal event)

use std::fmt;

/// `enum rdma_cm_event_type`, as a newtype: librdmacm may report values this build does not know.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CmEvent(pub u32);

impl CmEvent {
    pub const ADDR_RESOLVED: Self = Self(0);
    pub const ADDR_ERROR: Self = Self(1);
    pub const ROUTE_RESOLVED: Self = Self(2);
    pub const ROUTE_ERROR: Self = Self(3);
    pub const CONNECT_REQUEST: Self = Self(4);
    pub const CONNECT_RESPONSE: Self = Self(5);
    pub const CONNECT_ERROR: Self = Self(6);
    pub const UNREACHABLE: Self = Self(7);
    pub const REJECTED: Self = Self(8);
    pub const ESTABLISHED: Self = Self(9);
    pub const DISCONNECTED: Self = Self(10);
    pub const DEVICE_REMOVAL: Self = Self(11);
    pub const ADDR_CHANGE: Self = Self(14);
    pub const TIMEWAIT_EXIT: Self = Self(15);

    pub fn name(self) -> Option<&'static str> {
        const NAMES: [&str; 16] = [
            "ADDR_RESOLVED",
            "ADDR_ERROR",
            "ROUTE_RESOLVED",
            "ROUTE_ERROR",
            "CONNECT_REQUEST",
            "CONNECT_RESPONSE",
            "CONNECT_ERROR",
            "UNREACHABLE",
            "REJECTED",
            "ESTABLISHED",
            "DISCONNECTED",
            "DEVICE_REMOVAL",
            "MULTICAST_JOIN",
            "MULTICAST_ERROR",
            "ADDR_CHANGE",
            "TIMEWAIT_EXIT",
        ];
        NAMES.get(self.0 as usize).copied()
    }
}

impl fmt::Debug for CmEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "CmEvent({})", self.0),
        }
    }
}

impl fmt::Display for CmEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmState {
    /// Created, nothing asked yet.
    Idle,
    /// Active side: the peer's IP address is mapped to a local device and port.
    AddrResolved,
    /// Active side: a path to the peer is known; the queue pair can be created.
    RouteResolved,
    /// Active side: connect request sent, waiting for the reply.
    Connecting,
    /// Passive side: bound and listening for requests.
    Listening,
    /// Passive side: a request arrived (with the peer's private data), not yet answered.
    ConnectRequest,
    /// Passive side: accepted, waiting for the connection to be established.
    Accepting,
    /// Both sides may post work requests and expect them to reach the peer.
    Established,
    /// This side asked to disconnect; outstanding work requests flush.
    Disconnecting,
    /// The connection is over (either side disconnected); work requests flush.
    Disconnected,
    /// Resolution or connection failed; the event that failed it is reported.
    Failed,
}

impl CmState {
    /// The state after `event`, or `None` if the event is not allowed here.
    ///
    /// `DISCONNECTED` is allowed wherever a connection may exist; `DEVICE_REMOVAL` anywhere.
    pub fn on_event(self, event: CmEvent) -> Option<CmState> {
        use CmState::*;
        Some(match (self, event) {
            (_, CmEvent::DEVICE_REMOVAL) => Failed,
            (Idle, CmEvent::ADDR_RESOLVED) => AddrResolved,
            (Idle, CmEvent::ADDR_ERROR) => Failed,
            (AddrResolved, CmEvent::ROUTE_RESOLVED) => RouteResolved,
            (AddrResolved, CmEvent::ROUTE_ERROR) => Failed,
            (Connecting, CmEvent::ESTABLISHED) => Established,
            // CONNECT_RESPONSE only comes when no QP was given to rdma_connect; ours always is.
            (Connecting, CmEvent::CONNECT_ERROR | CmEvent::UNREACHABLE | CmEvent::REJECTED) => Failed,
            (Listening, CmEvent::CONNECT_REQUEST) => Listening,
            (Idle, CmEvent::CONNECT_REQUEST) => ConnectRequest,
            (Accepting, CmEvent::ESTABLISHED) => Established,
            (Accepting, CmEvent::CONNECT_ERROR | CmEvent::UNREACHABLE | CmEvent::REJECTED) => Failed,
            (Established | Disconnecting | Accepting | Connecting, CmEvent::DISCONNECTED) => Disconnected,
            (Disconnected, CmEvent::DISCONNECTED | CmEvent::TIMEWAIT_EXIT) => Disconnected,
            (Disconnecting | Established, CmEvent::TIMEWAIT_EXIT) => self,
            (Established, CmEvent::ADDR_CHANGE) => Established,
            _ => return None,
        })
    }

    /// The state after this side calls a connection verb (`rdma_connect`, `rdma_accept`,
    /// `rdma_disconnect`, ...), or `None` if the call makes no sense here.
    pub fn on_call(self, call: CmCall) -> Option<CmState> {
        use CmState::*;
        Some(match (self, call) {
            (Idle, CmCall::Listen) => Listening,
            (Idle, CmCall::ResolveAddr) => Idle,
            (AddrResolved, CmCall::ResolveRoute) => AddrResolved,
            (RouteResolved, CmCall::Connect) => Connecting,
            (ConnectRequest, CmCall::Accept) => Accepting,
            (ConnectRequest, CmCall::Reject) => Disconnected,
            (Established | Accepting | Connecting, CmCall::Disconnect) => Disconnecting,
            (Disconnecting | Disconnected | Failed, CmCall::Disconnect) => self,
            _ => return None,
        })
    }

    /// Work requests posted in this state reach the peer.
    pub fn is_connected(self) -> bool {
        self == CmState::Established
    }
}

/// The connection verbs this side calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmCall {
    Listen,
    ResolveAddr,
    ResolveRoute,
    Connect,
    Accept,
    Reject,
    Disconnect,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_side_walks_to_established_and_back() {
        let mut s = CmState::Idle;
        s = s.on_call(CmCall::ResolveAddr).unwrap();
        s = s.on_event(CmEvent::ADDR_RESOLVED).unwrap();
        s = s.on_call(CmCall::ResolveRoute).unwrap();
        s = s.on_event(CmEvent::ROUTE_RESOLVED).unwrap();
        s = s.on_call(CmCall::Connect).unwrap();
        assert_eq!(s, CmState::Connecting);
        s = s.on_event(CmEvent::ESTABLISHED).unwrap();
        assert!(s.is_connected());
        s = s.on_event(CmEvent::DISCONNECTED).unwrap();
        assert_eq!(s, CmState::Disconnected);
        assert!(!s.is_connected());
    }

    #[test]
    fn passive_side_accepts() {
        let s = CmState::Idle.on_event(CmEvent::CONNECT_REQUEST).unwrap();
        let s = s.on_call(CmCall::Accept).unwrap().on_event(CmEvent::ESTABLISHED).unwrap();
        assert_eq!(s, CmState::Established);
        assert_eq!(s.on_call(CmCall::Disconnect), Some(CmState::Disconnecting));
    }

    #[test]
    fn surprises_are_refused() {
        assert_eq!(CmState::Idle.on_event(CmEvent::ESTABLISHED), None);
        assert_eq!(CmState::Connecting.on_event(CmEvent::ROUTE_RESOLVED), None);
        assert_eq!(CmState::Established.on_call(CmCall::Accept), None);
        assert_eq!(CmState::Connecting.on_event(CmEvent::REJECTED), Some(CmState::Failed));
        assert_eq!(CmState::Listening.on_event(CmEvent(99)), None);
        assert_eq!(format!("{:?}", CmEvent(99)), "CmEvent(99)");
    }

    #[cfg(feature = "rdma")]
    #[test]
    fn values_match_rdma_cma_h() {
        use rdma_core_sys::rdma_cm_event_type as t;
        assert_eq!(CmEvent::CONNECT_REQUEST.0, t::RDMA_CM_EVENT_CONNECT_REQUEST.0);
        assert_eq!(CmEvent::ESTABLISHED.0, t::RDMA_CM_EVENT_ESTABLISHED.0);
        assert_eq!(CmEvent::DISCONNECTED.0, t::RDMA_CM_EVENT_DISCONNECTED.0);
        assert_eq!(CmEvent::TIMEWAIT_EXIT.0, t::RDMA_CM_EVENT_TIMEWAIT_EXIT.0);
    }
}
