//! MS-SMB2 2.2.21 WRITE Request and 2.2.22 WRITE Response.

use crate::channel::{Channel, ChannelInfo};
use crate::codec::{align_up, slice_at_or_empty, Encode, Reader, Writer};
use crate::error::Result;
use crate::header::HEADER_LEN;
use crate::types::{narrow_u16, narrow_u32, us, FileId};

/// MS-SMB2 2.2.21 WRITE request Flags.
pub mod write_flags {
    pub const WRITE_THROUGH: u32 = 0x0000_0001;
    /// 3.0.2+.
    pub const WRITE_UNBUFFERED: u32 = 0x0000_0002;
}

/// MS-SMB2 2.2.21 SMB2 WRITE Request.
///
/// Inline writes carry `data`; RDMA writes carry descriptors (or an RDMA transform) in
/// `channel_info`, leave `data` empty (Length 0) and put the I/O size in `remaining_bytes`.
///
/// Canonical layout: channel info (if any) at Buffer start, then the data 8-aligned after it; an
/// empty `data` next to channel info gets DataOffset 0 (ksmbd refuses anything else on RDMA writes),
/// and a request with neither gets the one Buffer byte StructureSize counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteRequest<'a> {
    pub offset: u64,
    pub file_id: FileId,
    pub channel: Channel,
    pub remaining_bytes: u32,
    /// [`write_flags`].
    pub flags: u32,
    pub channel_info: &'a [u8],
    pub data: &'a [u8],
}

impl<'a> WriteRequest<'a> {
    pub const STRUCTURE_SIZE: u16 = 49;
    /// Bytes of the fixed part (StructureSize 49 less the Buffer byte it counts).
    pub const FIXED_LEN: usize = 48;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "WriteRequest.StructureSize")?;
        let data_off = us(r.u16("WriteRequest.DataOffset")?);
        let data_len = us(r.u32("WriteRequest.Length")?);
        let offset = r.u64("WriteRequest.Offset")?;
        let file_id = FileId::read(&mut r, "WriteRequest.FileId")?;
        let channel = Channel(r.u32("WriteRequest.Channel")?);
        let remaining_bytes = r.u32("WriteRequest.RemainingBytes")?;
        let ci_off = us(r.u16("WriteRequest.WriteChannelInfoOffset")?);
        let ci_len = us(r.u16("WriteRequest.WriteChannelInfoLength")?);
        let flags = r.u32("WriteRequest.Flags")?;
        let data = slice_at_or_empty(pdu, data_off, data_len, "WriteRequest.Data")?;
        let channel_info = slice_at_or_empty(pdu, ci_off, ci_len, "WriteRequest.WriteChannelInfo")?;
        Ok(Self { offset, file_id, channel, remaining_bytes, flags, channel_info, data })
    }

    /// The channel info decoded for `channel` (descriptors, RDMA transform, or none).
    pub fn decode_channel_info(&self) -> Result<ChannelInfo<'a>> {
        ChannelInfo::parse(self.channel, self.channel_info)
    }

    /// Writer position of the data when the body starts at `at`.
    fn data_at(&self, at: usize) -> usize {
        if self.channel_info.is_empty() {
            at + Self::FIXED_LEN
        } else {
            align_up(at + Self::FIXED_LEN + self.channel_info.len(), 8)
        }
    }

    /// Bytes [`Self::encode_head`] writes at writer position `at` for `data_len` bytes of data.
    pub fn head_len_at(&self, at: usize, data_len: usize) -> usize {
        if self.channel_info.is_empty() {
            Self::FIXED_LEN + usize::from(data_len == 0)
        } else if data_len == 0 {
            Self::FIXED_LEN + self.channel_info.len()
        } else {
            self.data_at(at) - at
        }
    }

    /// Writes everything except the data — fixed part, channel info, alignment — announcing
    /// `data_len` bytes of data that the caller places (or encrypts in place) right after. `self.data`
    /// is ignored. Returns the writer position where the data goes.
    pub fn encode_head(&self, data_len: usize, w: &mut Writer<'_>) -> Result<usize> {
        let at = w.pos();
        let data_at = self.data_at(at);
        let data_off = if data_len == 0 && !self.channel_info.is_empty() { 0 } else { data_at };
        let ci_off = if self.channel_info.is_empty() { 0 } else { at + Self::FIXED_LEN };
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(narrow_u16(data_off, "WriteRequest.DataOffset")?)?;
        w.u32(narrow_u32(data_len, "WriteRequest.Length")?)?;
        w.u64(self.offset)?;
        self.file_id.write(w)?;
        w.u32(self.channel.0)?;
        w.u32(self.remaining_bytes)?;
        w.u16(narrow_u16(ci_off, "WriteRequest.WriteChannelInfoOffset")?)?;
        w.u16(narrow_u16(self.channel_info.len(), "WriteRequest.WriteChannelInfoLength")?)?;
        w.u32(self.flags)?;
        if self.channel_info.is_empty() {
            if data_len == 0 {
                // StructureSize 49 counts one byte of Buffer.
                w.u8(0)?;
            }
        } else {
            w.bytes(self.channel_info)?;
            if data_len != 0 {
                w.zeros(data_at - w.pos())?;
            }
        }
        Ok(data_at)
    }
}

impl Encode for WriteRequest<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        self.head_len_at(at, self.data.len()) + self.data.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.encode_head(self.data.len(), w)?;
        w.bytes(self.data)
    }
}

/// MS-SMB2 2.2.22 SMB2 WRITE Response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteResponse {
    pub count: u32,
    /// Reserved; servers send 0.
    pub remaining: u32,
    /// Reserved; servers send 0.
    pub write_channel_info_offset: u16,
    /// Reserved; servers send 0.
    pub write_channel_info_length: u16,
}

impl WriteResponse {
    pub const STRUCTURE_SIZE: u16 = 17;

    pub fn parse(pdu: &[u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "WriteResponse.StructureSize")?;
        r.skip(2, "WriteResponse.Reserved")?;
        Ok(Self {
            count: r.u32("WriteResponse.Count")?,
            remaining: r.u32("WriteResponse.Remaining")?,
            write_channel_info_offset: r.u16("WriteResponse.WriteChannelInfoOffset")?,
            write_channel_info_length: r.u16("WriteResponse.WriteChannelInfoLength")?,
        })
    }
}

impl Encode for WriteResponse {
    fn encoded_len_at(&self, _at: usize) -> usize {
        17
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(0)?;
        w.u32(self.count)?;
        w.u32(self.remaining)?;
        w.u16(self.write_channel_info_offset)?;
        w.u16(self.write_channel_info_length)?;
        // StructureSize 17 counts one byte of Buffer.
        w.u8(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::header::{Command, Header};
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use crate::smbd::{BufferDescriptorList, BufferDescriptorV1};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_round_trips(
            offset in any::<u64>(), p_id in any::<u64>(), v_id in any::<u64>(), ch in any::<u32>(),
            rem in any::<u32>(), flags in any::<u32>(),
            ci in proptest::collection::vec(any::<u8>(), 0..40),
            data in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let req = WriteRequest {
                offset,
                file_id: FileId { persistent: p_id, volatile: v_id },
                channel: Channel(ch),
                remaining_bytes: rem,
                flags,
                channel_info: &ci,
                data: &data,
            };
            let p = pdu(Command::WRITE, &req);
            prop_assert_eq!(WriteRequest::parse(&p).unwrap(), req);
            prefixes_never_panic(&p, |b| WriteRequest::parse(b).is_ok());
            // The zero-copy form: head, then the caller's data, gives the same PDU.
            let mut out = vec![0u8; p.len()];
            let mut w = Writer::new(&mut out);
            Header::request(Command::WRITE, 7, 0x1122, 5).encode(&mut w).unwrap();
            let head = WriteRequest { data: &[], ..req };
            let at = head.encode_head(data.len(), &mut w).unwrap();
            prop_assert_eq!(w.pos(), HEADER_LEN + head.head_len_at(HEADER_LEN, data.len()));
            if !data.is_empty() {
                prop_assert_eq!(at, w.pos());
            }
            w.bytes(&data).unwrap();
            prop_assert_eq!(out, p);
        }

        #[test]
        fn response_round_trips(count in any::<u32>(), rem in any::<u32>(), o in any::<u16>(), l in any::<u16>()) {
            let rsp = WriteResponse { count, remaining: rem, write_channel_info_offset: o, write_channel_info_length: l };
            let p = pdu(Command::WRITE, &rsp);
            prop_assert_eq!(WriteResponse::parse(&p).unwrap(), rsp);
            prefixes_never_panic(&p, |b| WriteResponse::parse(b).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut p = pdu(Command::WRITE, &WriteResponse::default());
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            if let Ok(r) = WriteRequest::parse(&p) {
                let _ = r.decode_channel_info();
            }
            let _ = WriteResponse::parse(&p);
        }
    }

    #[test]
    fn inline_write_layout() {
        // MS-SMB2 2.2.21: inline data in the Buffer, DataOffset 0x70 (64-byte header + 48 fixed bytes).
        let data = b"hello";
        let req =
            WriteRequest { offset: 4096, data, flags: write_flags::WRITE_THROUGH, ..Default::default() };
        let p = pdu(Command::WRITE, &req);
        let b = &p[HEADER_LEN..];
        assert_eq!(&b[0..8], &[49, 0, 0x70, 0, 5, 0, 0, 0]);
        assert_eq!(&b[40..48], &[0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&p[0x70..], data);
    }

    #[test]
    fn rdma_write_layout_matches_linux() {
        // Linux client RDMA write: Length 0, DataOffset 0, RemainingBytes = I/O size,
        // WriteChannelInfoOffset 0x70.
        let mut ci = [0u8; 16];
        let d = [BufferDescriptorV1 { offset: 0xAB000, token: 0x1234, length: 65536 }];
        BufferDescriptorList::encode(&d, &mut Writer::new(&mut ci)).unwrap();
        let req = WriteRequest {
            channel: Channel::RDMA_V1_INVALIDATE,
            remaining_bytes: 65536,
            channel_info: &ci,
            ..Default::default()
        };
        let p = pdu(Command::WRITE, &req);
        assert_eq!(p.len(), 0x70 + 16);
        let b = &p[HEADER_LEN..];
        assert_eq!(&b[2..8], &[0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[32..44], &[2, 0, 0, 0, 0, 0, 1, 0, 0x70, 0, 16, 0]);
        let back = WriteRequest::parse(&p).unwrap();
        match back.decode_channel_info().unwrap() {
            ChannelInfo::Rdma(l) => assert_eq!(l.iter().collect::<Vec<_>>(), d),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn data_and_channel_info_outside_the_message_are_rejected() {
        let data = [1u8; 8];
        let mut p = pdu(Command::WRITE, &WriteRequest { data: &data, ..Default::default() });
        p[HEADER_LEN + 4] = 9;
        assert_eq!(
            WriteRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "WriteRequest.Data", offset: 0x70, len: 9, msg_len: 0x78 })
        );
        p[HEADER_LEN + 4] = 8;
        p[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(matches!(
            WriteRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "WriteRequest.Data", .. })
        ));
        p[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            WriteRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "WriteRequest.Data", .. })
        ));

        let ci = [0u8; 16];
        let mut p = pdu(
            Command::WRITE,
            &WriteRequest { channel: Channel::RDMA_V1, channel_info: &ci, ..Default::default() },
        );
        p[HEADER_LEN + 42] = 32;
        assert_eq!(
            WriteRequest::parse(&p),
            Err(WireError::OutOfBounds {
                field: "WriteRequest.WriteChannelInfo",
                offset: 0x70,
                len: 32,
                msg_len: 0x80
            })
        );
    }

    #[test]
    fn response_known_bytes() {
        let p = pdu(Command::WRITE, &WriteResponse { count: 65536, ..Default::default() });
        assert_eq!(hex::encode(&p[HEADER_LEN..]), "1100000000000100000000000000000000");
        assert!(matches!(
            WriteResponse::parse(&p[..HEADER_LEN + 10]),
            Err(WireError::Truncated { field: "WriteResponse.Remaining", .. })
        ));
    }
}
