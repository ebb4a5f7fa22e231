//! MS-SMB2 2.2.19 READ Request and 2.2.20 READ Response.

use crate::channel::{Channel, ChannelInfo};
use crate::codec::{slice_at_or_empty, Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::header::HEADER_LEN;
use crate::types::{narrow_u16, narrow_u32, us, FileId};

/// MS-SMB2 2.2.19 READ request Flags.
pub mod read_flags {
    /// 3.0.2+: bypass the server's cache.
    pub const READ_UNBUFFERED: u8 = 0x01;
    /// 3.1.1: the client would accept a compressed response.
    pub const REQUEST_COMPRESSED: u8 = 0x02;
}

/// MS-SMB2 2.2.20 READ response Flags.
pub mod read_response_flags {
    /// 3.1.1: Buffer holds an SMB2_RDMA_TRANSFORM describing the RDMA-written data.
    pub const RESPONSE_RDMA_TRANSFORM: u32 = 0x0000_0001;
}

/// MS-SMB2 2.2.19 SMB2 READ Request.
///
/// `channel_info` is the raw ReadChannelInfo slice; [`ReadRequest::decode_channel_info`] interprets
/// it according to `channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadRequest<'a> {
    /// The response data offset the client asks for (0x50 is usual); a hint only.
    pub padding: u8,
    /// [`read_flags`].
    pub flags: u8,
    pub length: u32,
    pub offset: u64,
    pub file_id: FileId,
    pub minimum_count: u32,
    pub channel: Channel,
    pub remaining_bytes: u32,
    pub channel_info: &'a [u8],
}

impl<'a> ReadRequest<'a> {
    pub const STRUCTURE_SIZE: u16 = 49;
    const FIXED_LEN: usize = 48;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "ReadRequest.StructureSize")?;
        let padding = r.u8("ReadRequest.Padding")?;
        let flags = r.u8("ReadRequest.Flags")?;
        let length = r.u32("ReadRequest.Length")?;
        let offset = r.u64("ReadRequest.Offset")?;
        let file_id = FileId::read(&mut r, "ReadRequest.FileId")?;
        let minimum_count = r.u32("ReadRequest.MinimumCount")?;
        let channel = Channel(r.u32("ReadRequest.Channel")?);
        let remaining_bytes = r.u32("ReadRequest.RemainingBytes")?;
        let ci_off = us(r.u16("ReadRequest.ReadChannelInfoOffset")?);
        let ci_len = us(r.u16("ReadRequest.ReadChannelInfoLength")?);
        let channel_info = slice_at_or_empty(pdu, ci_off, ci_len, "ReadRequest.ReadChannelInfo")?;
        Ok(Self {
            padding,
            flags,
            length,
            offset,
            file_id,
            minimum_count,
            channel,
            remaining_bytes,
            channel_info,
        })
    }

    /// The channel info decoded for `channel` (descriptors, RDMA transform, or none).
    pub fn decode_channel_info(&self) -> Result<ChannelInfo<'a>> {
        ChannelInfo::parse(self.channel, self.channel_info)
    }
}

impl Encode for ReadRequest<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.channel_info.len().max(1)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let ci_off = if self.channel_info.is_empty() { 0 } else { w.pos() + Self::FIXED_LEN };
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u8(self.padding)?;
        w.u8(self.flags)?;
        w.u32(self.length)?;
        w.u64(self.offset)?;
        self.file_id.write(w)?;
        w.u32(self.minimum_count)?;
        w.u32(self.channel.0)?;
        w.u32(self.remaining_bytes)?;
        w.u16(narrow_u16(ci_off, "ReadRequest.ReadChannelInfoOffset")?)?;
        w.u16(narrow_u16(self.channel_info.len(), "ReadRequest.ReadChannelInfoLength")?)?;
        if self.channel_info.is_empty() {
            // StructureSize 49 counts one byte of Buffer.
            w.u8(0)
        } else {
            w.bytes(self.channel_info)
        }
    }
}

/// MS-SMB2 2.2.20 SMB2 READ Response.
///
/// Over RDMA the data went by RDMA Write: `data` is empty and `data_remaining` holds the byte count;
/// with RESPONSE_RDMA_TRANSFORM `data` holds the SMB2_RDMA_TRANSFORM instead of file data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadResponse<'a> {
    pub data_remaining: u32,
    /// [`read_response_flags`].
    pub flags: u32,
    pub data: &'a [u8],
}

impl<'a> ReadResponse<'a> {
    pub const STRUCTURE_SIZE: u16 = 17;
    const FIXED_LEN: usize = 16;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "ReadResponse.StructureSize")?;
        let data_off = us(r.u8("ReadResponse.DataOffset")?);
        r.skip(1, "ReadResponse.Reserved")?;
        let data_len = us(r.u32("ReadResponse.DataLength")?);
        let data_remaining = r.u32("ReadResponse.DataRemaining")?;
        let flags = r.u32("ReadResponse.Flags")?;
        let data = slice_at_or_empty(pdu, data_off, data_len, "ReadResponse.Data")?;
        Ok(Self { data_remaining, flags, data })
    }

    /// Bytes [`Self::encode_head`] writes for `data_len` bytes of data.
    pub fn head_len(data_len: usize) -> usize {
        Self::FIXED_LEN + usize::from(data_len == 0)
    }

    /// Writes everything but the data, announcing `data_len` bytes that the caller places right after
    /// (zero-copy: file data read or sealed in place). `self.data` is ignored. Returns the writer
    /// position where the data goes.
    pub fn encode_head(&self, data_len: usize, w: &mut Writer<'_>) -> Result<usize> {
        let data_off = w.pos() + Self::FIXED_LEN;
        let data_off_u8 = u8::try_from(data_off).map_err(|_| WireError::TooLarge {
            field: "ReadResponse.DataOffset",
            value: data_off,
            cap: u8::MAX as usize,
        })?;
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u8(data_off_u8)?;
        w.u8(0)?;
        w.u32(narrow_u32(data_len, "ReadResponse.DataLength")?)?;
        w.u32(self.data_remaining)?;
        w.u32(self.flags)?;
        if data_len == 0 {
            // StructureSize 17 counts one byte of Buffer.
            w.u8(0)?;
        }
        Ok(data_off)
    }
}

impl Encode for ReadResponse<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::head_len(self.data.len()) + self.data.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.encode_head(self.data.len(), w)?;
        w.bytes(self.data)
    }
}

/// The SMB2 READ Response to a READ whose data went by RDMA WRITE (MS-SMB2 3.3.5.12): DataOffset
/// 0x50, DataLength 0, DataRemaining the bytes placed, and **no** Buffer byte: the message ends at
/// offset 0x50. Linux's client reads exactly the 16 fixed bytes of such a response and counts the
/// RDMA-placed bytes as read, so a trailing Buffer byte would stay in its SMB Direct stream and
/// shift every later message (Linux 6.1 then dereferences NULL in `smbd_recv_buf`); ksmbd sends
/// these 80 bytes too. [`ReadResponse::parse`] reads both forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdmaReadResponse {
    pub data_remaining: u32,
}

impl Encode for RdmaReadResponse {
    fn encoded_len_at(&self, _at: usize) -> usize {
        ReadResponse::FIXED_LEN
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let data_off = w.pos() + ReadResponse::FIXED_LEN;
        let data_off = u8::try_from(data_off).map_err(|_| WireError::TooLarge {
            field: "ReadResponse.DataOffset",
            value: data_off,
            cap: u8::MAX as usize,
        })?;
        w.u16(ReadResponse::STRUCTURE_SIZE)?;
        w.u8(data_off)?;
        w.u8(0)?;
        w.u32(0)?;
        w.u32(self.data_remaining)?;
        w.u32(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{Command, Header};
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use crate::smbd::{BufferDescriptorList, BufferDescriptorV1};
    use proptest::prelude::*;

    fn arb_request() -> impl Strategy<Value = (ReadRequest<'static>, Vec<u8>)> {
        (
            (any::<u8>(), any::<u8>(), any::<u32>(), any::<u64>(), any::<u64>(), any::<u64>()),
            (any::<u32>(), any::<u32>(), any::<u32>()),
            proptest::collection::vec(any::<u8>(), 0..80),
        )
            .prop_map(
                |((padding, flags, length, offset, p, v), (minimum_count, ch, remaining_bytes), ci)| {
                    let req = ReadRequest {
                        padding,
                        flags,
                        length,
                        offset,
                        file_id: FileId { persistent: p, volatile: v },
                        minimum_count,
                        channel: Channel(ch),
                        remaining_bytes,
                        channel_info: &[],
                    };
                    (req, ci)
                },
            )
    }

    proptest! {
        #[test]
        fn request_round_trips((req, ci) in arb_request()) {
            let req = ReadRequest { channel_info: &ci, ..req };
            let p = pdu(Command::READ, &req);
            prop_assert_eq!(ReadRequest::parse(&p).unwrap(), req);
            prefixes_never_panic(&p, |b| ReadRequest::parse(b).is_ok());
        }

        #[test]
        fn response_round_trips(rem in any::<u32>(), flags in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let rsp = ReadResponse { data_remaining: rem, flags, data: &data };
            let p = pdu(Command::READ, &rsp);
            prop_assert_eq!(ReadResponse::parse(&p).unwrap(), rsp);
            prefixes_never_panic(&p, |b| ReadResponse::parse(b).is_ok());
            // The zero-copy form writes the same bytes.
            let mut out = vec![0u8; p.len()];
            let mut w = Writer::new(&mut out);
            Header::request(Command::READ, 7, 0x1122, 5).encode(&mut w).unwrap();
            let at = rsp.encode_head(data.len(), &mut w).unwrap();
            prop_assert_eq!(at, HEADER_LEN + 16);
            prop_assert_eq!(w.pos(), HEADER_LEN + ReadResponse::head_len(data.len()));
            w.bytes(&data).unwrap();
            prop_assert_eq!(out, p);
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut p = pdu(Command::READ, &ReadResponse::default());
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            if let Ok(r) = ReadRequest::parse(&p) {
                let _ = r.decode_channel_info();
            }
            let _ = ReadResponse::parse(&p);
        }
    }

    #[test]
    fn rdma_read_request_layout_and_descriptors() {
        // MS-SMB2 2.2.19: channel info in the Buffer at 0x70, n*16 bytes (MS-SMBD 2.2.3.1); here the pair
        // of descriptors Windows sends for 1 MiB (docs/SMBDIRECT.md).
        let descs = [
            BufferDescriptorV1 { offset: 0x1000, token: 7, length: 0xFFFC0 },
            BufferDescriptorV1 { offset: 0x2000, token: 8, length: 0x40 },
        ];
        let mut ci = [0u8; 32];
        BufferDescriptorList::encode(&descs, &mut Writer::new(&mut ci)).unwrap();
        let req = ReadRequest {
            padding: 0x50,
            length: 1 << 20,
            channel: Channel::RDMA_V1_INVALIDATE,
            channel_info: &ci,
            ..Default::default()
        };
        let p = pdu(Command::READ, &req);
        let b = &p[HEADER_LEN..];
        assert_eq!(&b[0..4], &[49, 0, 0x50, 0]);
        assert_eq!(&b[36..40], &[2, 0, 0, 0]);
        assert_eq!(&b[44..48], &[0x70, 0, 32, 0]);
        assert_eq!(&p[0x70..], &ci);
        match ReadRequest::parse(&p).unwrap().decode_channel_info().unwrap() {
            ChannelInfo::Rdma(l) => assert_eq!(l.total_len(), 1 << 20),
            other => panic!("{other:?}"),
        }
        // Channel NONE: offset/length zero and the one Buffer byte.
        let p = pdu(Command::READ, &ReadRequest::default());
        assert_eq!(p.len(), HEADER_LEN + 49);
        assert_eq!(&p[HEADER_LEN + 44..], &[0, 0, 0, 0, 0]);
    }

    #[test]
    fn channel_info_outside_the_message_is_rejected() {
        let ci = [0u8; 16];
        let req = ReadRequest { channel: Channel::RDMA_V1, channel_info: &ci, ..Default::default() };
        let mut p = pdu(Command::READ, &req);
        p[HEADER_LEN + 46] = 17;
        assert_eq!(
            ReadRequest::parse(&p),
            Err(WireError::OutOfBounds {
                field: "ReadRequest.ReadChannelInfo",
                offset: 0x70,
                len: 17,
                msg_len: 0x80
            })
        );
        p[HEADER_LEN + 46] = 16;
        p[HEADER_LEN + 44] = 0x71;
        assert!(matches!(
            ReadRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "ReadRequest.ReadChannelInfo", .. })
        ));
        // Ragged descriptor arrays are a decode error, not a parse error.
        p[HEADER_LEN + 44] = 0x70;
        p[HEADER_LEN + 46] = 15;
        let r = ReadRequest::parse(&p).unwrap();
        assert_eq!(
            r.decode_channel_info(),
            Err(WireError::BadValue { field: "BufferDescriptorList.Length", value: 15 })
        );
    }

    #[test]
    fn rdma_read_response_and_data_bounds() {
        // Over RDMA: DataOffset 0x50, DataLength 0, DataRemaining = bytes written, no Buffer byte.
        let p = pdu(Command::READ, &RdmaReadResponse { data_remaining: 1 << 20 });
        assert_eq!(hex::encode(&p[HEADER_LEN..]), "11005000000000000000100000000000");
        let rsp = ReadResponse { data_remaining: 1 << 20, flags: 0, data: &[] };
        assert_eq!(ReadResponse::parse(&p).unwrap(), rsp);
        // The form with the Buffer byte (Windows over TCP) parses the same.
        let p = pdu(Command::READ, &rsp);
        assert_eq!(hex::encode(&p[HEADER_LEN..]), "1100500000000000000010000000000000");
        assert_eq!(ReadResponse::parse(&p).unwrap(), rsp);
        let data = [9u8; 8];
        let mut p = pdu(Command::READ, &ReadResponse { data: &data, ..rsp });
        p[HEADER_LEN + 4] = 9;
        assert_eq!(
            ReadResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "ReadResponse.Data", offset: 0x50, len: 9, msg_len: 0x58 })
        );
        p[HEADER_LEN + 4] = 8;
        p[HEADER_LEN + 2] = 0xFF;
        assert!(matches!(
            ReadResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "ReadResponse.Data", .. })
        ));
    }

    #[test]
    fn data_offset_must_fit_a_byte() {
        let mut out = vec![0u8; 400];
        let mut w = Writer::new(&mut out);
        w.zeros(250).unwrap();
        assert!(matches!(
            ReadResponse::default().encode_head(0, &mut w),
            Err(WireError::TooLarge { field: "ReadResponse.DataOffset", value: 266, .. })
        ));
    }
}
