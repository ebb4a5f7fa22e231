//! The one error type of the crate: each variant says what failed and with which arguments.

use crate::region::RegionId;
use std::time::Duration;

/// Errors of the verbs layer. Verb failures carry the verb's name and its arguments.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A C verb returned an error.
    #[error("{verb}({args}) failed: {source}")]
    Verb { verb: &'static str, args: String, source: std::io::Error },
    /// The region handle is stale or was never registered on this endpoint.
    #[error("region {0} is not registered on this endpoint")]
    UnknownRegion(RegionId),
    /// A scatter/gather entry reaches past the end of its region.
    #[error("region {region}: bytes {offset}..{end} are outside its {len} bytes")]
    OutOfBounds { region: RegionId, offset: usize, end: usize, len: usize },
    /// The region is referenced by work requests still in flight (or by bound windows).
    #[error("region {region} is in use by {in_flight} work request(s) or window(s) in flight")]
    RegionBusy { region: RegionId, in_flight: u32 },
    /// The region was registered without the access this operation needs.
    #[error("region {region} was registered with {has:?}, the operation needs {needs:?}")]
    AccessDenied { region: RegionId, has: crate::Access, needs: crate::Access },
    /// Every work-request slot of the queue is taken; poll completions first.
    #[error("{queue} queue full: {capacity} work requests in flight")]
    QueueFull { queue: &'static str, capacity: usize },
    /// More scatter/gather entries than the queue pair was created for.
    #[error("{n} scatter/gather entries, the queue pair takes at most {max}")]
    TooManySges { n: usize, max: usize },
    /// A region larger than the provider can register.
    #[error("cannot register {len} bytes: {why}")]
    BadLength { len: usize, why: &'static str },
    /// Private data longer than the connection manager carries.
    #[error("{len} bytes of private data in {what}; at most {max}")]
    PrivateDataTooLong { what: &'static str, len: usize, max: usize },
    /// The connection attempt failed (rejected, unreachable, no listener).
    #[error("connect to {addr} failed: {reason}")]
    ConnectFailed { addr: std::net::SocketAddr, reason: String },
    /// The address is already listened on.
    #[error("listen on {0}: address in use")]
    AddrInUse(std::net::SocketAddr),
    /// Nothing happened within the time allowed.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { after: Duration, what: &'static str },
    /// The RDMA CM delivered an event the connection's state does not allow.
    #[error("rdma cm: event {event} not expected in state {state:?}")]
    UnexpectedCmEvent { event: crate::CmEvent, state: crate::CmState },
    /// No device of that name (or no device at all).
    #[error("no RDMA device {0:?}")]
    NoDevice(String),
    /// The queue pair id is stale or was never made by this domain.
    #[error("{0} is not a queue pair of this domain")]
    UnknownQp(crate::domain::QpId),
    /// A domain's completion queue cannot grow to hold every queue pair's work requests.
    #[error("the domain's completion queue would need {needed} entries for its queue pairs; the device allows {max}")]
    CompletionQueueFull { needed: u32, max: u32 },
    /// The endpoint is not connected (never was, or disconnected).
    #[error("endpoint is {0:?}, not connected")]
    NotConnected(crate::CmState),
}

impl Error {
    /// The error of a C verb that set `errno` (or returned it, for verbs that return an errno).
    #[cfg_attr(not(feature = "rdma"), allow(dead_code))]
    pub(crate) fn verb(verb: &'static str, args: String, errno: Option<i32>) -> Self {
        let source = match errno {
            Some(e) if e > 0 => std::io::Error::from_raw_os_error(e),
            _ => std::io::Error::last_os_error(),
        };
        Error::Verb { verb, args, source }
    }
}

impl From<iobuf::Error> for Error {
    fn from(e: iobuf::Error) -> Self {
        match e {
            iobuf::Error::BadLength { len, why } => Error::BadLength { len, why },
            iobuf::Error::TooLarge { len, .. } => Error::BadLength { len, why: "larger than any lease" },
            iobuf::Error::Exhausted { size, .. } => {
                Error::BadLength { len: size, why: "every lease of the size is out" }
            }
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
