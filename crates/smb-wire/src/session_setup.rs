//! MS-SMB2 2.2.5 SESSION_SETUP Request and 2.2.6 SESSION_SETUP Response.
//!
//! The security buffer (a GSS/SPNEGO token, or raw NTLMSSP from cifs.ko) is carried as a borrowed
//! slice; this module does not look inside it.

use crate::codec::{slice_at_or_empty, Encode, Reader, Writer};
use crate::error::Result;
use crate::header::HEADER_LEN;
use crate::types::{narrow_u16, us};

/// MS-SMB2 2.2.5 request Flags.
pub mod session_setup_flags {
    /// The request binds an existing session to a new channel (multichannel).
    pub const BINDING: u8 = 0x01;
}

/// MS-SMB2 2.2.5 request SecurityMode (one byte here, unlike NEGOTIATE's u16).
pub mod session_security_mode {
    pub const SIGNING_ENABLED: u8 = 0x01;
    pub const SIGNING_REQUIRED: u8 = 0x02;
}

/// MS-SMB2 2.2.6 SessionFlags.
pub mod session_flags {
    pub const IS_GUEST: u16 = 0x0001;
    pub const IS_NULL: u16 = 0x0002;
    pub const ENCRYPT_DATA: u16 = 0x0004;
}

/// MS-SMB2 2.2.5 SMB2 SESSION_SETUP Request.
///
/// An empty security buffer may come with any offset (some clients send 0); it parses as empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionSetupRequest<'a> {
    /// [`session_setup_flags`].
    pub flags: u8,
    /// [`session_security_mode`].
    pub security_mode: u8,
    /// SMB2_GLOBAL_CAP_* bits; only DFS is meaningful here, the rest are ignored by servers.
    pub capabilities: u32,
    /// Reserved: 0 on the wire; kept so a server can see what a client sent.
    pub channel: u32,
    /// The GSS token, as sent.
    pub security_buffer: &'a [u8],
    pub previous_session_id: u64,
}

impl<'a> SessionSetupRequest<'a> {
    pub const STRUCTURE_SIZE: u16 = 25;
    /// Fixed part of the body before Buffer.
    const FIXED: usize = 24;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "SessionSetupRequest.StructureSize")?;
        let flags = r.u8("SessionSetupRequest.Flags")?;
        let security_mode = r.u8("SessionSetupRequest.SecurityMode")?;
        let capabilities = r.u32("SessionSetupRequest.Capabilities")?;
        let channel = r.u32("SessionSetupRequest.Channel")?;
        let off = us(r.u16("SessionSetupRequest.SecurityBufferOffset")?);
        let len = us(r.u16("SessionSetupRequest.SecurityBufferLength")?);
        let previous_session_id = r.u64("SessionSetupRequest.PreviousSessionId")?;
        let security_buffer = slice_at_or_empty(pdu, off, len, "SessionSetupRequest.SecurityBuffer")?;
        Ok(Self { flags, security_mode, capabilities, channel, security_buffer, previous_session_id })
    }

    pub fn is_binding(&self) -> bool {
        self.flags & session_setup_flags::BINDING != 0
    }
}

impl Encode for SessionSetupRequest<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED + self.security_buffer.len().max(1)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let buf_off = w.pos() + Self::FIXED;
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u8(self.flags)?;
        w.u8(self.security_mode)?;
        w.u32(self.capabilities)?;
        w.u32(self.channel)?;
        w.u16(narrow_u16(buf_off, "SessionSetupRequest.SecurityBufferOffset")?)?;
        w.u16(narrow_u16(self.security_buffer.len(), "SessionSetupRequest.SecurityBufferLength")?)?;
        w.u64(self.previous_session_id)?;
        encode_buffer(w, self.security_buffer)
    }
}

/// MS-SMB2 2.2.6 SMB2 SESSION_SETUP Response.
///
/// The final SUCCESS leg often carries an empty buffer (raw NTLMSSP has no mechListMIC answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionSetupResponse<'a> {
    /// [`session_flags`].
    pub session_flags: u16,
    pub security_buffer: &'a [u8],
}

impl<'a> SessionSetupResponse<'a> {
    pub const STRUCTURE_SIZE: u16 = 9;
    const FIXED: usize = 8;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "SessionSetupResponse.StructureSize")?;
        let session_flags = r.u16("SessionSetupResponse.SessionFlags")?;
        let off = us(r.u16("SessionSetupResponse.SecurityBufferOffset")?);
        let len = us(r.u16("SessionSetupResponse.SecurityBufferLength")?);
        let security_buffer = slice_at_or_empty(pdu, off, len, "SessionSetupResponse.SecurityBuffer")?;
        Ok(Self { session_flags, security_buffer })
    }
}

impl Encode for SessionSetupResponse<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED + self.security_buffer.len().max(1)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let buf_off = w.pos() + Self::FIXED;
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(self.session_flags)?;
        w.u16(narrow_u16(buf_off, "SessionSetupResponse.SecurityBufferOffset")?)?;
        w.u16(narrow_u16(self.security_buffer.len(), "SessionSetupResponse.SecurityBufferLength")?)?;
        encode_buffer(w, self.security_buffer)
    }
}

fn encode_buffer(w: &mut Writer<'_>, b: &[u8]) -> Result<()> {
    if b.is_empty() {
        // The odd StructureSize counts one byte of Buffer even when it is empty.
        w.u8(0)
    } else {
        w.bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::header::{Command, Header};
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use crate::status::NtStatus;
    use proptest::prelude::*;

    // MS blog "SMB 3.1.1 Pre-authentication integrity in Windows 10" (2015-08-11; docs/TEST-VECTORS.md).
    const SS_REQ1: &str = "FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000\
        00000000000000000000000000000000000000000000000019000001010000000000000058004A00\
        0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A\
        04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000\
        000F";
    const SS_RSP1: &str = "FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000\
        190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003\
        0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038\
        00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53\
        005500540033003100310002000C0053005500540033003100310001000C00530055005400330031\
        00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1\
        A1F5ADCBAED00100000000";
    const SS_REQ2: &str = "FE534D4240000100000000000100800000000000000000000300000000000000FFFE000000000000\
        1900000000100000000000000000000000000000000000001900000101000000000000005800CF01\
        0000000000000000A18201CB308201C7A0030A0101A28201AA048201A64E544C4D53535000030000\
        001800180090000000EE00EE00A80000000C000C00580000001A001A0064000000120012007E0000\
        001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C706EEEDDCD3530055\
        005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049\
        0056004500520033003100310000000000000000000000000000000000000000000000000063078E\
        B639FE03E20A231C3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F000000\
        0002000C0053005500540033003100310001000C0053005500540033003100310004000C00530055\
        00540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001060004\
        00020000000800300030000000000000000000000000300000B61FEFCAA857EA57BF1EDCEBF8974B\
        8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016\
        0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F\
        5EE8F9663F11A0F4C03A78A31204100100000063775A9A5FD97F0600000000";

    fn reencode(h: &Header, body: &dyn crate::pdu::EncodeDyn) -> Vec<u8> {
        crate::pdu::pdu_to_vec(h, body)
    }

    #[test]
    fn ms_blog_first_request() {
        let b = hex::decode(SS_REQ1).unwrap();
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.command, Command::SESSION_SETUP);
        let req = SessionSetupRequest::parse(&b).unwrap();
        assert_eq!(req.flags, 0);
        assert!(!req.is_binding());
        assert_eq!(req.security_mode, session_security_mode::SIGNING_ENABLED);
        assert_eq!(req.capabilities, 1);
        assert_eq!(req.channel, 0);
        assert_eq!(req.previous_session_id, 0);
        assert_eq!(req.security_buffer.len(), 0x4A);
        assert_eq!(&req.security_buffer[..2], &[0x60, 0x48]); // GSS negTokenInit
        assert_eq!(reencode(&h, &req), b);
    }

    #[test]
    fn ms_blog_challenge_response() {
        let b = hex::decode(SS_RSP1).unwrap();
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.nt_status(), NtStatus::MORE_PROCESSING_REQUIRED);
        assert_eq!(h.session_id, 0x0000_1000_0000_0019);
        let rsp = SessionSetupResponse::parse(&b).unwrap();
        assert_eq!(rsp.session_flags, 0);
        assert_eq!(rsp.security_buffer.len(), 0xB3);
        assert_eq!(&rsp.security_buffer[..2], &[0xA1, 0x81]); // negTokenResp
        assert_eq!(reencode(&h, &rsp), b);
    }

    #[test]
    fn ms_blog_authenticate_request() {
        let b = hex::decode(SS_REQ2).unwrap();
        let h = Header::parse(&b).unwrap();
        let req = SessionSetupRequest::parse(&b).unwrap();
        assert_eq!(req.security_mode, 1);
        assert_eq!(req.security_buffer.len(), 0x1CF);
        assert_eq!(b.len(), HEADER_LEN + 24 + 0x1CF);
        assert_eq!(reencode(&h, &req), b);
    }

    #[test]
    fn empty_buffers_emit_one_byte_and_accept_any_offset() {
        let rsp = SessionSetupResponse { session_flags: session_flags::ENCRYPT_DATA, security_buffer: &[] };
        let mut p = pdu(Command::SESSION_SETUP, &rsp);
        assert_eq!(p.len(), HEADER_LEN + 9);
        p[HEADER_LEN + 4] = 0; // SecurityBufferOffset = 0
        assert_eq!(SessionSetupResponse::parse(&p).unwrap(), rsp);
        let req = SessionSetupRequest::default();
        assert_eq!(pdu(Command::SESSION_SETUP, &req).len(), HEADER_LEN + 25);
    }

    #[test]
    fn buffer_outside_the_message_is_rejected() {
        let req = SessionSetupRequest { security_buffer: b"NTLMSSP\0", ..Default::default() };
        let mut p = pdu(Command::SESSION_SETUP, &req);
        p[HEADER_LEN + 14] = 9; // SecurityBufferLength
        assert!(matches!(
            SessionSetupRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "SessionSetupRequest.SecurityBuffer", .. })
        ));
        let rsp = SessionSetupResponse { session_flags: 0, security_buffer: b"abc" };
        let mut p = pdu(Command::SESSION_SETUP, &rsp);
        p[HEADER_LEN + 4] = 0xFF; // SecurityBufferOffset
        p[HEADER_LEN + 5] = 0xFF;
        assert!(matches!(
            SessionSetupResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "SessionSetupResponse.SecurityBuffer", .. })
        ));
    }

    #[test]
    fn wrong_structure_sizes_are_rejected() {
        let mut p = pdu(Command::SESSION_SETUP, &SessionSetupRequest::default());
        p[HEADER_LEN] = 24;
        assert!(matches!(
            SessionSetupRequest::parse(&p),
            Err(WireError::BadValue { field: "SessionSetupRequest.StructureSize", value: 24 })
        ));
        let mut p = pdu(Command::SESSION_SETUP, &SessionSetupResponse::default());
        p[HEADER_LEN] = 8;
        assert!(matches!(
            SessionSetupResponse::parse(&p),
            Err(WireError::BadValue { field: "SessionSetupResponse.StructureSize", value: 8 })
        ));
    }

    #[test]
    fn truncated_fixed_part_names_the_field() {
        let p = pdu(Command::SESSION_SETUP, &SessionSetupRequest::default());
        assert!(matches!(
            SessionSetupRequest::parse(&p[..HEADER_LEN + 20]),
            Err(WireError::Truncated { field: "SessionSetupRequest.PreviousSessionId", .. })
        ));
    }

    #[test]
    fn known_prefixes_never_panic() {
        let b = hex::decode(SS_REQ2).unwrap();
        prefixes_never_panic(&b, |x| SessionSetupRequest::parse(x).is_ok());
        let b = hex::decode(SS_RSP1).unwrap();
        prefixes_never_panic(&b, |x| SessionSetupResponse::parse(x).is_ok());
    }

    proptest! {
        #[test]
        fn request_round_trips(
            flags in any::<u8>(), sm in any::<u8>(), caps in any::<u32>(), channel in any::<u32>(),
            prev in any::<u64>(), buf in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let req = SessionSetupRequest {
                flags, security_mode: sm, capabilities: caps, channel,
                security_buffer: &buf, previous_session_id: prev,
            };
            let p = pdu(Command::SESSION_SETUP, &req);
            prop_assert_eq!(SessionSetupRequest::parse(&p).unwrap(), req);
            prefixes_never_panic(&p, |b| SessionSetupRequest::parse(b).is_ok());
        }

        #[test]
        fn response_round_trips(f in any::<u16>(), buf in proptest::collection::vec(any::<u8>(), 0..300)) {
            let rsp = SessionSetupResponse { session_flags: f, security_buffer: &buf };
            let p = pdu(Command::SESSION_SETUP, &rsp);
            prop_assert_eq!(SessionSetupResponse::parse(&p).unwrap(), rsp);
            prefixes_never_panic(&p, |b| SessionSetupResponse::parse(b).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut p = pdu(Command::SESSION_SETUP, &SessionSetupResponse::default());
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let _ = SessionSetupRequest::parse(&p);
            let _ = SessionSetupResponse::parse(&p);
        }
    }
}
