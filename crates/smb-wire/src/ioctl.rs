//! MS-SMB2 2.2.31 IOCTL Request and 2.2.32 IOCTL Response. The FSCTL payloads they carry are in
//! [`crate::fsctl`].

use crate::codec::{align_up, slice_at_or_empty, Encode, Reader, Writer};
use crate::error::Result;
use crate::fsctl::CtlCode;
use crate::header::HEADER_LEN;
use crate::types::{narrow_u32, us, FileId};

/// MS-SMB2 2.2.31 IOCTL Flags.
pub mod ioctl_flags {
    /// The CtlCode is an FSCTL (the only kind servers accept; plain IOCTLs are refused).
    pub const IS_FSCTL: u32 = 0x0000_0001;
}

/// MS-SMB2 2.2.31 SMB2 IOCTL Request.
///
/// Canonical layout: input at Buffer start, output (rarely sent) 8-aligned after it; an empty buffer
/// gets offset 0, as the spec asks of clients, and a request with neither gets the one Buffer byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IoctlRequest<'a> {
    pub ctl_code: CtlCode,
    /// [`FileId::ANY`] for FSCTLs that address the share or server.
    pub file_id: FileId,
    pub max_input_response: u32,
    pub max_output_response: u32,
    /// [`ioctl_flags`].
    pub flags: u32,
    pub input: &'a [u8],
    pub output: &'a [u8],
}

impl<'a> IoctlRequest<'a> {
    pub const STRUCTURE_SIZE: u16 = 57;
    const FIXED_LEN: usize = 56;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "IoctlRequest.StructureSize")?;
        r.skip(2, "IoctlRequest.Reserved")?;
        let ctl_code = CtlCode(r.u32("IoctlRequest.CtlCode")?);
        let file_id = FileId::read(&mut r, "IoctlRequest.FileId")?;
        let in_off = us(r.u32("IoctlRequest.InputOffset")?);
        let in_len = us(r.u32("IoctlRequest.InputCount")?);
        let max_input_response = r.u32("IoctlRequest.MaxInputResponse")?;
        let out_off = us(r.u32("IoctlRequest.OutputOffset")?);
        let out_len = us(r.u32("IoctlRequest.OutputCount")?);
        let max_output_response = r.u32("IoctlRequest.MaxOutputResponse")?;
        let flags = r.u32("IoctlRequest.Flags")?;
        r.skip(4, "IoctlRequest.Reserved2")?;
        let input = slice_at_or_empty(pdu, in_off, in_len, "IoctlRequest.Input")?;
        let output = slice_at_or_empty(pdu, out_off, out_len, "IoctlRequest.Output")?;
        Ok(Self { ctl_code, file_id, max_input_response, max_output_response, flags, input, output })
    }

    fn output_at(&self, at: usize) -> usize {
        align_up(at + Self::FIXED_LEN + self.input.len(), 8)
    }
}

impl Encode for IoctlRequest<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        if self.output.is_empty() {
            Self::FIXED_LEN + self.input.len().max(1)
        } else {
            self.output_at(at) - at + self.output.len()
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let at = w.pos();
        let in_off = if self.input.is_empty() { 0 } else { at + Self::FIXED_LEN };
        let out_off = if self.output.is_empty() { 0 } else { self.output_at(at) };
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(0)?;
        w.u32(self.ctl_code.0)?;
        self.file_id.write(w)?;
        w.u32(narrow_u32(in_off, "IoctlRequest.InputOffset")?)?;
        w.u32(narrow_u32(self.input.len(), "IoctlRequest.InputCount")?)?;
        w.u32(self.max_input_response)?;
        w.u32(narrow_u32(out_off, "IoctlRequest.OutputOffset")?)?;
        w.u32(narrow_u32(self.output.len(), "IoctlRequest.OutputCount")?)?;
        w.u32(self.max_output_response)?;
        w.u32(self.flags)?;
        w.u32(0)?;
        w.bytes(self.input)?;
        if !self.output.is_empty() {
            w.zeros(out_off - w.pos())?;
            return w.bytes(self.output);
        }
        if self.input.is_empty() {
            // StructureSize 57 counts one byte of Buffer.
            w.u8(0)?;
        }
        Ok(())
    }
}

/// MS-SMB2 2.2.32 SMB2 IOCTL Response.
///
/// Canonical layout, as Windows and Samba send it: InputOffset at Buffer start even when empty, and
/// OutputOffset 8-aligned after the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IoctlResponse<'a> {
    pub ctl_code: CtlCode,
    pub file_id: FileId,
    /// Reserved; servers send 0.
    pub flags: u32,
    pub input: &'a [u8],
    pub output: &'a [u8],
}

impl<'a> IoctlResponse<'a> {
    pub const STRUCTURE_SIZE: u16 = 49;
    const FIXED_LEN: usize = 48;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "IoctlResponse.StructureSize")?;
        r.skip(2, "IoctlResponse.Reserved")?;
        let ctl_code = CtlCode(r.u32("IoctlResponse.CtlCode")?);
        let file_id = FileId::read(&mut r, "IoctlResponse.FileId")?;
        let in_off = us(r.u32("IoctlResponse.InputOffset")?);
        let in_len = us(r.u32("IoctlResponse.InputCount")?);
        let out_off = us(r.u32("IoctlResponse.OutputOffset")?);
        let out_len = us(r.u32("IoctlResponse.OutputCount")?);
        let flags = r.u32("IoctlResponse.Flags")?;
        r.skip(4, "IoctlResponse.Reserved2")?;
        let input = slice_at_or_empty(pdu, in_off, in_len, "IoctlResponse.Input")?;
        let output = slice_at_or_empty(pdu, out_off, out_len, "IoctlResponse.Output")?;
        Ok(Self { ctl_code, file_id, flags, input, output })
    }

    fn output_at(&self, at: usize) -> usize {
        align_up(at + Self::FIXED_LEN + self.input.len(), 8)
    }
}

impl Encode for IoctlResponse<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        if self.output.is_empty() {
            Self::FIXED_LEN + self.input.len().max(1)
        } else {
            self.output_at(at) - at + self.output.len()
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let at = w.pos();
        let out_off = self.output_at(at);
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(0)?;
        w.u32(self.ctl_code.0)?;
        self.file_id.write(w)?;
        w.u32(narrow_u32(at + Self::FIXED_LEN, "IoctlResponse.InputOffset")?)?;
        w.u32(narrow_u32(self.input.len(), "IoctlResponse.InputCount")?)?;
        w.u32(narrow_u32(out_off, "IoctlResponse.OutputOffset")?)?;
        w.u32(narrow_u32(self.output.len(), "IoctlResponse.OutputCount")?)?;
        w.u32(self.flags)?;
        w.u32(0)?;
        w.bytes(self.input)?;
        if !self.output.is_empty() {
            w.zeros(out_off - w.pos())?;
            return w.bytes(self.output);
        }
        if self.input.is_empty() {
            // StructureSize 49 counts one byte of Buffer.
            w.u8(0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::fsctl::ValidateNegotiateInfoResponse;
    use crate::header::Command;
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use proptest::prelude::*;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    proptest! {
        #[test]
        fn request_round_trips(
            code in any::<u32>(), p_id in any::<u64>(), v_id in any::<u64>(), mi in any::<u32>(),
            mo in any::<u32>(), flags in any::<u32>(), input in bytes(100), output in bytes(40),
        ) {
            let req = IoctlRequest {
                ctl_code: CtlCode(code),
                file_id: FileId { persistent: p_id, volatile: v_id },
                max_input_response: mi,
                max_output_response: mo,
                flags,
                input: &input,
                output: &output,
            };
            let p = pdu(Command::IOCTL, &req);
            prop_assert_eq!(IoctlRequest::parse(&p).unwrap(), req);
            prefixes_never_panic(&p, |b| IoctlRequest::parse(b).is_ok());
        }

        #[test]
        fn response_round_trips(
            code in any::<u32>(), p_id in any::<u64>(), v_id in any::<u64>(), flags in any::<u32>(),
            input in bytes(40), output in bytes(100),
        ) {
            let rsp = IoctlResponse {
                ctl_code: CtlCode(code),
                file_id: FileId { persistent: p_id, volatile: v_id },
                flags,
                input: &input,
                output: &output,
            };
            let p = pdu(Command::IOCTL, &rsp);
            prop_assert_eq!(IoctlResponse::parse(&p).unwrap(), rsp);
            prefixes_never_panic(&p, |b| IoctlResponse::parse(b).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(body in bytes(160)) {
            let mut p = pdu(Command::IOCTL, &IoctlResponse::default());
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let _ = IoctlRequest::parse(&p);
            let _ = IoctlResponse::parse(&p);
        }
    }

    #[test]
    fn validate_negotiate_request_layout() {
        // MS-SMB2 3.3.5.15: FileId all 0xFF and IS_FSCTL for this FSCTL; 2.2.31: the input follows the
        // 56-byte fixed part, at 0x78.
        let input = [0xAB; 36];
        let req = IoctlRequest {
            ctl_code: CtlCode::VALIDATE_NEGOTIATE_INFO,
            file_id: FileId::ANY,
            max_output_response: 24,
            flags: ioctl_flags::IS_FSCTL,
            input: &input,
            ..Default::default()
        };
        let p = pdu(Command::IOCTL, &req);
        let b = &p[HEADER_LEN..];
        assert_eq!(hex::encode(&b[..8]), "3900000004021400");
        assert_eq!(&b[8..24], &[0xFF; 16]);
        assert_eq!(
            hex::encode(&b[24..56]),
            "78000000240000000000000000000000000000001800000001000000 00000000".replace(' ', "")
        );
        assert_eq!(&p[0x78..], &input);
    }

    #[test]
    fn response_offsets_point_at_0x70() {
        let out = ValidateNegotiateInfoResponse::default().to_vec();
        let rsp = IoctlResponse {
            ctl_code: CtlCode::VALIDATE_NEGOTIATE_INFO,
            file_id: FileId::ANY,
            output: &out,
            ..Default::default()
        };
        let p = pdu(Command::IOCTL, &rsp);
        assert_eq!(hex::encode(&p[HEADER_LEN + 24..HEADER_LEN + 40]), "70000000000000007000000018000000");
        assert_eq!(p.len(), 0x70 + 24);
        let empty = pdu(Command::IOCTL, &IoctlResponse::default());
        assert_eq!(empty.len(), HEADER_LEN + 49);
    }

    #[test]
    fn buffers_outside_the_message_are_rejected() {
        let input = [1u8; 8];
        let mut p = pdu(Command::IOCTL, &IoctlRequest { input: &input, ..Default::default() });
        p[HEADER_LEN + 28] = 9;
        assert_eq!(
            IoctlRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "IoctlRequest.Input", offset: 0x78, len: 9, msg_len: 0x80 })
        );
        p[HEADER_LEN + 28] = 8;
        p[HEADER_LEN + 36..HEADER_LEN + 44].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0]);
        assert!(matches!(
            IoctlRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "IoctlRequest.Output", .. })
        ));

        let out = [2u8; 8];
        let mut p = pdu(Command::IOCTL, &IoctlResponse { output: &out, ..Default::default() });
        p[HEADER_LEN + 36..HEADER_LEN + 40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            IoctlResponse::parse(&p),
            Err(WireError::OutOfBounds {
                field: "IoctlResponse.Output",
                offset: 0x70,
                len: u32::MAX as usize,
                msg_len: 0x78
            })
        );
        p[HEADER_LEN + 36..HEADER_LEN + 40].copy_from_slice(&8u32.to_le_bytes());
        p[HEADER_LEN + 28] = 9;
        assert!(matches!(
            IoctlResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "IoctlResponse.Input", .. })
        ));
    }
}
