//! The negotiate exchange, MS-SMBD 3.1.5.2 (request), 3.1.5.3 (response), 3.1.5.6 (server
//! checks) and 3.1.5.7 (client checks): what each side sends, what it refuses, and the connection
//! parameters both end up with.
//!
//! Refusals, per MS-SMBD:
//! - server, version range without 0x0100: a failure response with STATUS_NOT_SUPPORTED, then
//!   disconnect (3.1.5.6);
//! - server, CreditsRequested 0, MaxReceiveSize < 128 or MaxFragmentedSize < 131072: disconnect
//!   without a response (3.1.5.6);
//! - server, still no receive posted to grant when the negotiation timer expires: a failure
//!   response with STATUS_INSUFFICIENT_RESOURCES (3.1.5.6 allows any error status; this one says
//!   why). The response waits for posted receives until then, since a sans-I/O state machine
//!   cannot post them itself;
//! - client: a response shorter than 32 bytes, Status ≠ 0, NegotiatedVersion ≠ 0x0100,
//!   MaxReceiveSize < 128, MaxFragmentedSize < 131072, CreditsGranted 0, CreditsRequested 0, or
//!   PreferredSendSize above our MaxReceiveSize: disconnect (3.1.5.7).
//!
//! A PreferredSendSize above 8136 is not refused: Windows does (MS-SMBD <6>), but the normative
//! rule only caps our MaxReceiveSize at it, which is what this module does.

use std::time::Duration;

use smb_wire::smbd::{NegotiateRequest, NegotiateResponse, Version};
use smb_wire::status::NtStatus;

use crate::config::{Config, MIN_FRAGMENTED_SIZE, MIN_RECEIVE_SIZE};
use crate::error::Error;

/// The connection parameters both sides settled on (MS-SMBD 3.1.4.7 "Query Connection
/// Parameters").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Connection.MaxSendSize: most bytes (header and payload) in one message this side sends.
    pub max_send_size: u32,
    /// Connection.MaxReceiveSize: most bytes in one message the peer may send us.
    pub max_receive_size: u32,
    /// Connection.MaxFragmentedSendSize: the peer's MaxFragmentedSize, the largest upper-layer
    /// message [`crate::SmbdConnection::queue_message`] accepts.
    pub max_fragmented_send_size: u32,
    /// Connection.MaxFragmentedRecvSize: the largest upper-layer message we reassemble.
    pub max_fragmented_recv_size: u32,
    /// Connection.MaxReadWriteSize: the largest RDMA read/write of one upper-layer I/O.
    pub max_read_write_size: u32,
    /// Connection.KeepaliveInterval.
    pub keepalive_interval: Duration,
    /// CreditsRequested in the peer's negotiate message: its first credit target.
    pub peer_credits_requested: u16,
}

impl Negotiated {
    /// Most upper-layer bytes in one data transfer message: MaxSendSize less the 24-byte header
    /// with padding (MS-SMBD 3.1.5.4).
    pub fn max_fragment_payload(&self) -> u32 {
        self.max_send_size - smb_wire::smbd::DATA_OFFSET as u32
    }
}

/// The Negotiate Request a client sends first (MS-SMBD 3.1.5.2).
pub(crate) fn request(cfg: &Config) -> NegotiateRequest {
    NegotiateRequest {
        min_version: Version::V1,
        max_version: Version::V1,
        credits_requested: cfg.send_credit_target,
        preferred_send_size: cfg.max_send_size,
        max_receive_size: cfg.max_receive_size,
        max_fragmented_size: cfg.max_fragmented_recv_size,
    }
}

/// What a server does with a Negotiate Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestOutcome {
    /// Answer with a success response once receives are posted.
    Accept(Negotiated),
    /// Answer with a failure response carrying this status, then disconnect.
    Refuse(NtStatus, Error),
    /// Disconnect without answering.
    Terminate(Error),
}

/// The server's checks and parameter choices of MS-SMBD 3.1.5.6.
pub(crate) fn on_request(cfg: &Config, msg: &[u8]) -> RequestOutcome {
    const WHAT: &str = "negotiate request";
    let req = match NegotiateRequest::parse(msg) {
        Ok(r) => r,
        Err(source) => return RequestOutcome::Terminate(Error::Malformed { message: WHAT, source }),
    };
    if !req.includes_v1() {
        let e = Error::VersionNotSupported { min: req.min_version.0, max: req.max_version.0 };
        return RequestOutcome::Refuse(NtStatus::NOT_SUPPORTED, e);
    }
    if req.credits_requested == 0 {
        return RequestOutcome::Terminate(Error::ZeroCreditsRequested { message: WHAT });
    }
    if req.max_receive_size < MIN_RECEIVE_SIZE {
        let e = Error::MaxReceiveSizeTooSmall { message: WHAT, value: req.max_receive_size };
        return RequestOutcome::Terminate(e);
    }
    if req.max_fragmented_size < MIN_FRAGMENTED_SIZE {
        let e = Error::MaxFragmentedSizeTooSmall { message: WHAT, value: req.max_fragmented_size };
        return RequestOutcome::Terminate(e);
    }
    RequestOutcome::Accept(Negotiated {
        max_send_size: cfg.max_send_size.min(req.max_receive_size),
        max_receive_size: cfg.max_receive_size.min(req.preferred_send_size).max(MIN_RECEIVE_SIZE),
        max_fragmented_send_size: req.max_fragmented_size,
        max_fragmented_recv_size: cfg.max_fragmented_recv_size,
        max_read_write_size: cfg.max_read_write_size,
        keepalive_interval: cfg.keepalive_interval,
        peer_credits_requested: req.credits_requested,
    })
}

/// The success response of MS-SMBD 3.1.5.3, granting `credits_granted` posted receives.
pub(crate) fn response(cfg: &Config, params: &Negotiated, credits_granted: u16) -> NegotiateResponse {
    NegotiateResponse {
        min_version: Version::V1,
        max_version: Version::V1,
        negotiated_version: Version::V1,
        credits_requested: cfg.send_credit_target,
        credits_granted,
        status: NtStatus::SUCCESS,
        max_read_write_size: params.max_read_write_size,
        // The Connection values as 3.1.5.6 left them: MaxSendSize capped by the client's
        // MaxReceiveSize, MaxReceiveSize capped by its PreferredSendSize.
        preferred_send_size: params.max_send_size,
        max_receive_size: params.max_receive_size,
        max_fragmented_size: params.max_fragmented_recv_size,
    }
}

/// A failure response (MS-SMBD 3.1.5.3): the versions and Status set, every other field zero.
pub(crate) fn failure_response(status: NtStatus) -> NegotiateResponse {
    NegotiateResponse {
        min_version: Version::V1,
        max_version: Version::V1,
        negotiated_version: Version(0),
        credits_requested: 0,
        credits_granted: 0,
        status,
        max_read_write_size: 0,
        preferred_send_size: 0,
        max_receive_size: 0,
        max_fragmented_size: 0,
    }
}

/// The client's checks and parameter choices of MS-SMBD 3.1.5.7; returns the parameters and the
/// client's first send credits.
pub(crate) fn on_response(cfg: &Config, msg: &[u8]) -> Result<(Negotiated, u16), Error> {
    const WHAT: &str = "negotiate response";
    let rsp = NegotiateResponse::parse(msg).map_err(|source| Error::Malformed { message: WHAT, source })?;
    // Status first: a failure response zeroes every other field, and the refusal is the news.
    if rsp.status != NtStatus::SUCCESS {
        return Err(Error::NegotiateRefused { status: rsp.status });
    }
    if rsp.negotiated_version != Version::V1 {
        return Err(Error::NegotiatedVersion(rsp.negotiated_version.0));
    }
    if rsp.max_receive_size < MIN_RECEIVE_SIZE {
        return Err(Error::MaxReceiveSizeTooSmall { message: WHAT, value: rsp.max_receive_size });
    }
    if rsp.max_fragmented_size < MIN_FRAGMENTED_SIZE {
        return Err(Error::MaxFragmentedSizeTooSmall { message: WHAT, value: rsp.max_fragmented_size });
    }
    if rsp.credits_granted == 0 {
        return Err(Error::ZeroCreditsGranted);
    }
    if rsp.credits_requested == 0 {
        return Err(Error::ZeroCreditsRequested { message: WHAT });
    }
    if rsp.preferred_send_size > cfg.max_receive_size {
        return Err(Error::PreferredSendSizeTooLarge {
            value: rsp.preferred_send_size,
            max: cfg.max_receive_size,
        });
    }
    let params = Negotiated {
        max_send_size: cfg.max_send_size.min(rsp.max_receive_size),
        max_receive_size: cfg.max_receive_size.min(rsp.preferred_send_size).max(MIN_RECEIVE_SIZE),
        max_fragmented_send_size: rsp.max_fragmented_size,
        max_fragmented_recv_size: cfg.max_fragmented_recv_size,
        // MS-SMBD 3.1.5.7: the smaller of ours and the server's. A server offering 0 gets 0:
        // the SMB2 layer then uses no RDMA reads or writes on this connection.
        max_read_write_size: cfg.max_read_write_size.min(rsp.max_read_write_size),
        keepalive_interval: cfg.keepalive_interval,
        peer_credits_requested: rsp.credits_requested,
    };
    Ok((params, rsp.credits_granted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_wire::Encode;

    fn req(f: impl FnOnce(&mut NegotiateRequest)) -> Vec<u8> {
        let mut r = request(&Config::default());
        f(&mut r);
        r.to_vec()
    }

    fn ok_rsp() -> NegotiateResponse {
        let cfg = Config::default();
        let RequestOutcome::Accept(p) = on_request(&cfg, &req(|_| ())) else { panic!("refused") };
        response(&cfg, &p, 255)
    }

    fn rsp(f: impl FnOnce(&mut NegotiateResponse)) -> Result<(Negotiated, u16), Error> {
        let mut r = ok_rsp();
        f(&mut r);
        on_response(&Config::default(), &r.to_vec())
    }

    #[test]
    fn request_carries_the_config() {
        let cfg = Config { max_receive_size: 8192, ..Config::default() };
        // MS-SMBD 2.2.1 filled with Windows' values (MS-SMBD Appendix B <3>/<8>: 255 credits, 1364-byte
        // sends, 8192-byte receives, 1 MiB fragmented; docs/SMBDIRECT.md).
        assert_eq!(
            request(&cfg).to_vec(),
            [
                0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0x00, 0x54, 0x05, 0, 0, 0x00, 0x20, 0, 0, 0, 0,
                0x10, 0
            ]
        );
    }

    #[test]
    fn server_accepts_and_caps_sizes() {
        let cfg = Config::default();
        let RequestOutcome::Accept(p) = on_request(
            &cfg,
            &req(|r| {
                r.preferred_send_size = 1000;
                r.max_receive_size = 8192;
                r.credits_requested = 10;
            }),
        ) else {
            panic!("refused")
        };
        assert_eq!(p.max_receive_size, 1000);
        assert_eq!(p.max_send_size, 1364);
        assert_eq!(p.peer_credits_requested, 10);
        assert_eq!(p.max_read_write_size, 8 << 20);
        // A tiny PreferredSendSize floors MaxReceiveSize at 128 (MS-SMBD 3.1.5.6).
        let RequestOutcome::Accept(p) = on_request(&cfg, &req(|r| r.preferred_send_size = 20)) else {
            panic!("refused")
        };
        assert_eq!(p.max_receive_size, 128);
    }

    #[test]
    fn server_answers_not_supported_for_a_range_without_v1() {
        for (min, max) in [(0x0101, 0x0200), (0x0000, 0x00ff), (0x0200, 0x0001)] {
            let out = on_request(
                &Config::default(),
                &req(|r| {
                    r.min_version = Version(min);
                    r.max_version = Version(max);
                }),
            );
            assert_eq!(
                out,
                RequestOutcome::Refuse(NtStatus::NOT_SUPPORTED, Error::VersionNotSupported { min, max })
            );
        }
        // A wider range that includes 1.0 is accepted (MS-SMBD <5>: only Windows demands exactly 1.0).
        let out = on_request(&Config::default(), &req(|r| r.max_version = Version(0x0300)));
        assert!(matches!(out, RequestOutcome::Accept(_)));
    }

    #[test]
    fn server_terminates_on_bad_values() {
        let cfg = Config::default();
        type Edit = Box<dyn FnOnce(&mut NegotiateRequest)>;
        let cases: [(Edit, Error); 3] = [
            (
                Box::new(|r| r.credits_requested = 0),
                Error::ZeroCreditsRequested { message: "negotiate request" },
            ),
            (
                Box::new(|r| r.max_receive_size = 127),
                Error::MaxReceiveSizeTooSmall { message: "negotiate request", value: 127 },
            ),
            (
                Box::new(|r| r.max_fragmented_size = 131_071),
                Error::MaxFragmentedSizeTooSmall { message: "negotiate request", value: 131_071 },
            ),
        ];
        for (f, want) in cases {
            assert_eq!(on_request(&cfg, &req(f)), RequestOutcome::Terminate(want));
        }
        let short = req(|_| ());
        assert!(matches!(
            on_request(&cfg, &short[..19]),
            RequestOutcome::Terminate(Error::Malformed { message: "negotiate request", .. })
        ));
    }

    #[test]
    fn client_accepts_a_good_response() {
        let (p, credits) = rsp(|r| {
            r.max_read_write_size = 1 << 20;
            r.preferred_send_size = 1024;
            r.max_receive_size = 1000;
        })
        .unwrap();
        assert_eq!(credits, 255);
        assert_eq!(p.max_read_write_size, 1 << 20);
        assert_eq!(p.max_receive_size, 1024);
        assert_eq!(p.max_send_size, 1000);
        assert_eq!(p.max_fragment_payload(), 976);
    }

    #[test]
    fn client_refuses_every_bad_response_field() {
        const W: &str = "negotiate response";
        assert_eq!(
            rsp(|r| *r = failure_response(NtStatus::NOT_SUPPORTED)),
            Err(Error::NegotiateRefused { status: NtStatus::NOT_SUPPORTED })
        );
        assert_eq!(rsp(|r| r.negotiated_version = Version(0x0200)), Err(Error::NegotiatedVersion(0x0200)));
        assert_eq!(
            rsp(|r| r.max_receive_size = 127),
            Err(Error::MaxReceiveSizeTooSmall { message: W, value: 127 })
        );
        assert_eq!(
            rsp(|r| r.max_fragmented_size = 65536),
            Err(Error::MaxFragmentedSizeTooSmall { message: W, value: 65536 })
        );
        assert_eq!(rsp(|r| r.credits_granted = 0), Err(Error::ZeroCreditsGranted));
        assert_eq!(rsp(|r| r.credits_requested = 0), Err(Error::ZeroCreditsRequested { message: W }));
        assert_eq!(
            rsp(|r| r.preferred_send_size = 1365),
            Err(Error::PreferredSendSizeTooLarge { value: 1365, max: 1364 })
        );
        assert!(matches!(
            on_response(&Config::default(), &ok_rsp().to_vec()[..31]),
            Err(Error::Malformed { message: W, .. })
        ));
    }

    #[test]
    fn failure_response_zeroes_all_but_versions_and_status() {
        let b = failure_response(NtStatus::INSUFFICIENT_RESOURCES).to_vec();
        assert_eq!(&b[..4], &[0, 1, 0, 1]);
        assert_eq!(&b[12..16], &0xC000_009Au32.to_le_bytes());
        assert!(b[4..12].iter().chain(&b[16..]).all(|&x| x == 0));
    }
}
