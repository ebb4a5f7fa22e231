//! Local connection parameters (MS-SMBD 3.1.1.1 abstract data model, 3.1.7.2 initial values) with
//! the defaults Windows (MS-SMBD Appendix B <3>/<8>) and Linux cifs.ko/ksmbd use in practice.

use std::time::Duration;

use crate::error::Error;

/// What this side offers and accepts on an SMB Direct connection.
///
/// `Default` gives the values Windows and Linux negotiate with each other today: 255 credits each
/// way, 1364-byte sends and receives (Linux since 6.1, and what Windows ends up with against it),
/// 1 MiB reassembly, 8 MiB RDMA read/write, keepalive every 120 s with a 5 s answer window, and
/// negotiation timers of 120 s (active) and 5 s (passive) (MS-SMBD 3.1.4.1, 3.1.7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Connection.ReceiveCreditMax: most receive buffers this side keeps posted (and so most
    /// credits it grants). One more may be posted when the last-credit rule needs a grant
    /// (MS-SMBD 3.1.5.9).
    pub receive_credit_max: u16,
    /// Connection.SendCreditTarget: the CreditsRequested this side sends.
    pub send_credit_target: u16,
    /// Connection.MaxSendSize before negotiation: the PreferredSendSize this side sends.
    pub max_send_size: u32,
    /// Connection.MaxReceiveSize before negotiation: the size of every receive buffer the
    /// transport posts, and the MaxReceiveSize this side sends.
    pub max_receive_size: u32,
    /// Connection.MaxFragmentedRecvSize: the largest upper-layer message this side reassembles.
    /// It bounds the reassembly buffer, whatever a peer claims.
    pub max_fragmented_recv_size: u32,
    /// Connection.MaxReadWriteSize: the largest RDMA read or write of one upper-layer I/O.
    pub max_read_write_size: u32,
    /// Most buffer descriptors accepted for one I/O (see [`crate::descriptors`]); Windows sends
    /// two for 1 MiB (0xFFFC0 + 0x40), Linux one.
    pub max_descriptors: usize,
    /// Connection.KeepaliveInterval: idle time before this side asks the peer for a response.
    pub keepalive_interval: Duration,
    /// How long to wait for anything from the peer after a keepalive request (Windows and Linux:
    /// 5 s, MS-SMBD <4>).
    pub keepalive_timeout: Duration,
    /// Negotiation timer of the active side (client), MS-SMBD 3.1.4.1.
    pub negotiate_timeout_active: Duration,
    /// Negotiation timer of the passive side (server), MS-SMBD 3.1.7.2.
    pub negotiate_timeout_passive: Duration,
    /// Most send work requests handed out by `poll_transmit` and not yet reported complete: the
    /// depth of the transport's send ring for SMB Direct messages.
    pub send_queue_depth: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            receive_credit_max: 255,
            send_credit_target: 255,
            max_send_size: 1364,
            max_receive_size: 1364,
            max_fragmented_recv_size: 1 << 20,
            max_read_write_size: 8 << 20,
            max_descriptors: 64,
            keepalive_interval: Duration::from_secs(120),
            keepalive_timeout: Duration::from_secs(5),
            negotiate_timeout_active: Duration::from_secs(120),
            negotiate_timeout_passive: Duration::from_secs(5),
            // One per credit the peer can grant us by default, plus the negotiate message.
            send_queue_depth: 256,
        }
    }
}

/// Smallest MaxReceiveSize and PreferredSendSize a peer may use (MS-SMBD 3.1.5.6/3.1.5.7).
pub const MIN_RECEIVE_SIZE: u32 = 128;

/// Smallest MaxFragmentedSize a peer may offer (MS-SMBD 3.1.5.6/3.1.5.7).
pub const MIN_FRAGMENTED_SIZE: u32 = 131_072;

impl Config {
    /// Checks that the values can work at all; [`crate::SmbdConnection::new`] refuses a config
    /// that fails this.
    ///
    /// - Sizes below what MS-SMBD lets a peer offer would make a conforming peer refuse us.
    /// - Fewer than two credits either way cannot carry traffic under the last-credit rule
    ///   without an empty grant message for every data message.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &'static str, value: u64, min: u64| {
            if value < min {
                Err(Error::Config { field, value, min })
            } else {
                Ok(())
            }
        };
        bad("receive_credit_max", self.receive_credit_max.into(), 2)?;
        bad("send_credit_target", self.send_credit_target.into(), 2)?;
        bad("max_send_size", self.max_send_size.into(), MIN_RECEIVE_SIZE.into())?;
        bad("max_receive_size", self.max_receive_size.into(), MIN_RECEIVE_SIZE.into())?;
        bad("max_fragmented_recv_size", self.max_fragmented_recv_size.into(), MIN_FRAGMENTED_SIZE.into())?;
        bad("max_read_write_size", self.max_read_write_size.into(), 1)?;
        bad("max_descriptors", self.max_descriptors as u64, 1)?;
        bad("send_queue_depth", self.send_queue_depth.into(), 1)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_windows_and_linux_values() {
        let c = Config::default();
        assert_eq!((c.receive_credit_max, c.send_credit_target), (255, 255));
        assert_eq!((c.max_send_size, c.max_receive_size), (1364, 1364));
        assert_eq!(c.max_fragmented_recv_size, 1_048_576);
        assert_eq!(c.max_read_write_size, 8_388_608);
        assert_eq!(c.keepalive_interval, Duration::from_secs(120));
        assert_eq!(c.keepalive_timeout, Duration::from_secs(5));
        assert_eq!(c.negotiate_timeout_active, Duration::from_secs(120));
        assert_eq!(c.negotiate_timeout_passive, Duration::from_secs(5));
        c.validate().unwrap();
    }

    #[test]
    fn unworkable_values_are_named() {
        let c = Config { receive_credit_max: 1, ..Config::default() };
        assert_eq!(c.validate(), Err(Error::Config { field: "receive_credit_max", value: 1, min: 2 }));
        let c = Config { max_receive_size: 127, ..Config::default() };
        assert_eq!(c.validate(), Err(Error::Config { field: "max_receive_size", value: 127, min: 128 }));
        let c = Config { max_fragmented_recv_size: 131_071, ..Config::default() };
        assert!(matches!(c.validate(), Err(Error::Config { field: "max_fragmented_recv_size", .. })));
        let c = Config { send_queue_depth: 0, ..Config::default() };
        assert!(matches!(c.validate(), Err(Error::Config { field: "send_queue_depth", .. })));
    }
}
