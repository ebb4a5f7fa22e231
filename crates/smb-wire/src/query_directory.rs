//! MS-SMB2 2.2.33 QUERY_DIRECTORY Request and 2.2.34 QUERY_DIRECTORY Response.

use crate::codec::{slice_at_or_empty, Encode, Reader, Writer};
use crate::error::Result;
use crate::header::HEADER_LEN;
use crate::info::chain::{ChainEntry, Entries};
use crate::info::FileInfoClass;
use crate::types::{narrow_u16, narrow_u32, us, FileId, Utf16};

/// MS-SMB2 2.2.33 QUERY_DIRECTORY Flags.
pub mod query_directory_flags {
    /// Restart the enumeration from the beginning (the pattern may change).
    pub const RESTART_SCANS: u8 = 0x01;
    pub const RETURN_SINGLE_ENTRY: u8 = 0x02;
    /// Resume at FileIndex (servers may ignore it).
    pub const INDEX_SPECIFIED: u8 = 0x04;
    /// Restart, and reopen the directory handle's search with a new pattern.
    pub const REOPEN: u8 = 0x10;
}

/// MS-SMB2 2.2.33 SMB2 QUERY_DIRECTORY Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryDirectoryRequest<'a> {
    /// One of the directory classes (1, 2, 3, 12, 37, 38, ...); see [`crate::info::dir`].
    pub file_information_class: FileInfoClass,
    /// [`query_directory_flags`].
    pub flags: u8,
    pub file_index: u32,
    pub file_id: FileId,
    /// The search pattern ("*", "name", "*.txt"), UTF-16LE. The empty-pattern policy (Windows
    /// fails it) is the session layer's.
    pub file_name: Utf16<'a>,
    /// Most bytes of entries the client accepts.
    pub output_buffer_length: u32,
}

impl<'a> QueryDirectoryRequest<'a> {
    pub const STRUCTURE_SIZE: u16 = 33;
    /// Fixed body bytes before Buffer.
    const FIXED: usize = 32;

    /// Linux cifs sends the body without the StructureSize's extra Buffer byte when it has no
    /// pattern, so only the fixed 32 bytes are required.
    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "QueryDirectoryRequest.StructureSize")?;
        let file_information_class = FileInfoClass(r.u8("QueryDirectoryRequest.FileInformationClass")?);
        let flags = r.u8("QueryDirectoryRequest.Flags")?;
        let file_index = r.u32("QueryDirectoryRequest.FileIndex")?;
        let file_id = FileId::read(&mut r, "QueryDirectoryRequest.FileId")?;
        let off = us(r.u16("QueryDirectoryRequest.FileNameOffset")?);
        let len = us(r.u16("QueryDirectoryRequest.FileNameLength")?);
        let output_buffer_length = r.u32("QueryDirectoryRequest.OutputBufferLength")?;
        let file_name = Utf16::new(
            slice_at_or_empty(pdu, off, len, "QueryDirectoryRequest.FileName")?,
            "QueryDirectoryRequest.FileName",
        )?;
        Ok(Self { file_information_class, flags, file_index, file_id, file_name, output_buffer_length })
    }
}

impl Encode for QueryDirectoryRequest<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED + self.file_name.len().max(1)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let name_off = w.pos() + Self::FIXED;
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u8(self.file_information_class.0)?;
        w.u8(self.flags)?;
        w.u32(self.file_index)?;
        self.file_id.write(w)?;
        w.u16(narrow_u16(name_off, "QueryDirectoryRequest.FileNameOffset")?)?;
        w.u16(narrow_u16(self.file_name.len(), "QueryDirectoryRequest.FileNameLength")?)?;
        w.u32(self.output_buffer_length)?;
        if self.file_name.is_empty() {
            // StructureSize 33 counts one byte of Buffer even when it is empty.
            w.u8(0)
        } else {
            w.bytes(self.file_name.as_bytes())
        }
    }
}

/// MS-SMB2 2.2.34 SMB2 QUERY_DIRECTORY Response. The entries are borrowed; walk them with
/// [`QueryDirectoryResponse::entries`] in the class the request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryDirectoryResponse<'a> {
    /// A chain of directory entries ([`crate::info::dir`]).
    pub output: &'a [u8],
}

impl<'a> QueryDirectoryResponse<'a> {
    pub const STRUCTURE_SIZE: u16 = 9;
    /// Fixed body bytes before Buffer.
    pub const FIXED: usize = 8;
    /// Where [`Self::encode_fixed`] puts the entries: right after the fixed body, 8-byte aligned.
    pub const OUTPUT_OFFSET: usize = HEADER_LEN + Self::FIXED;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "QueryDirectoryResponse.StructureSize")?;
        let off = us(r.u16("QueryDirectoryResponse.OutputBufferOffset")?);
        let len = us(r.u32("QueryDirectoryResponse.OutputBufferLength")?);
        Ok(Self { output: slice_at_or_empty(pdu, off, len, "QueryDirectoryResponse.OutputBuffer")? })
    }

    /// A lazy walk over the entries as class `T`.
    pub fn entries<T: ChainEntry<'a>>(&self) -> Entries<'a, T> {
        Entries::new(self.output)
    }

    /// Writes only the fixed body, declaring `output_len` bytes of entries at
    /// [`Self::OUTPUT_OFFSET`]: the server builds the entries in place there (with
    /// [`crate::info::ChainBuilder`] over `buf[OUTPUT_OFFSET..]`) instead of copying them.
    /// `w` must be at [`HEADER_LEN`]. With `output_len == 0` the caller appends one zero byte.
    pub fn encode_fixed(w: &mut Writer<'_>, output_len: usize) -> Result<()> {
        let off = w.pos() + Self::FIXED;
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(narrow_u16(off, "QueryDirectoryResponse.OutputBufferOffset")?)?;
        w.u32(narrow_u32(output_len, "QueryDirectoryResponse.OutputBufferLength")?)
    }
}

impl Encode for QueryDirectoryResponse<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED + self.output.len().max(1)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        Self::encode_fixed(w, self.output.len())?;
        if self.output.is_empty() {
            // StructureSize 9 counts one byte of Buffer even when it is empty.
            w.u8(0)
        } else {
            w.bytes(self.output)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::header::{Command, Header};
    use crate::info::chain::{Append, ChainBuilder};
    use crate::info::dir::{FileIdBothDirectoryInformation, FileIdFullDirectoryInformation};
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use crate::types::utf16le;
    use proptest::prelude::*;

    fn file_id() -> impl Strategy<Value = FileId> {
        (any::<u64>(), any::<u64>()).prop_map(|(persistent, volatile)| FileId { persistent, volatile })
    }

    proptest! {
        #[test]
        fn request_round_trips(
            class in any::<u8>(),
            flags in any::<u8>(),
            index in any::<u32>(),
            id in file_id(),
            name in "[a-zA-Z0-9*?. ]{0,40}",
            out in any::<u32>(),
        ) {
            let bytes = utf16le(&name);
            let req = QueryDirectoryRequest {
                file_information_class: FileInfoClass(class),
                flags,
                file_index: index,
                file_id: id,
                file_name: Utf16::new(&bytes, "t").unwrap(),
                output_buffer_length: out,
            };
            let p = pdu(Command::QUERY_DIRECTORY, &req);
            prop_assert_eq!(QueryDirectoryRequest::parse(&p).unwrap(), req);
            prefixes_never_panic(&p, |b| QueryDirectoryRequest::parse(b).is_ok());
        }

        #[test]
        fn response_round_trips(output in proptest::collection::vec(any::<u8>(), 0..200)) {
            let rsp = QueryDirectoryResponse { output: &output };
            let p = pdu(Command::QUERY_DIRECTORY, &rsp);
            prop_assert_eq!(QueryDirectoryResponse::parse(&p).unwrap(), rsp);
            prefixes_never_panic(&p, |b| QueryDirectoryResponse::parse(b).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut p = pdu(Command::QUERY_DIRECTORY, &QueryDirectoryResponse::default());
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let _ = QueryDirectoryRequest::parse(&p);
            if let Ok(r) = QueryDirectoryResponse::parse(&p) {
                let _ = r.entries::<FileIdBothDirectoryInformation>().count();
            }
        }
    }

    /// The request Linux cifs sends for `ls`: FileIdFullDirectoryInformation, pattern "*", name at 96.
    #[test]
    fn cifs_style_request_known_bytes() {
        let body = hex::decode(
            "2100 26 00 00000000 0100000000000000 0200000000000000 6000 0200 00000100 2a00".replace(' ', ""),
        )
        .unwrap();
        let mut p = pdu(Command::QUERY_DIRECTORY, &QueryDirectoryResponse::default());
        p.truncate(HEADER_LEN);
        p.extend_from_slice(&body);
        let req = QueryDirectoryRequest::parse(&p).unwrap();
        assert_eq!(req.file_information_class, FileInfoClass::ID_FULL_DIRECTORY);
        assert_eq!(req.file_id, FileId { persistent: 1, volatile: 2 });
        assert_eq!(req.file_name.to_string().unwrap(), "*");
        assert_eq!(req.output_buffer_length, 0x10000);
        assert_eq!(&pdu(Command::QUERY_DIRECTORY, &req)[HEADER_LEN..], &body[..]);
    }

    #[test]
    fn pattern_outside_the_message_is_rejected() {
        let star = utf16le("*");
        let req = QueryDirectoryRequest { file_name: Utf16::new(&star, "t").unwrap(), ..Default::default() };
        let mut p = pdu(Command::QUERY_DIRECTORY, &req);
        p[HEADER_LEN + 26] = 0x40; // FileNameLength
        assert!(matches!(
            QueryDirectoryRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "QueryDirectoryRequest.FileName", .. })
        ));
        p[HEADER_LEN + 26] = 1;
        assert!(matches!(
            QueryDirectoryRequest::parse(&p),
            Err(WireError::BadValue { field: "QueryDirectoryRequest.FileName", value: 1 })
        ));
        p[HEADER_LEN] = 32;
        assert!(matches!(
            QueryDirectoryRequest::parse(&p),
            Err(WireError::BadValue { field: "QueryDirectoryRequest.StructureSize", value: 32 })
        ));
        // Without the Buffer byte and with no pattern the fixed part alone parses.
        p[HEADER_LEN] = 33;
        p[HEADER_LEN + 26] = 0;
        p.truncate(HEADER_LEN + 32);
        assert!(QueryDirectoryRequest::parse(&p).unwrap().file_name.is_empty());
        assert!(matches!(
            QueryDirectoryRequest::parse(&p[..HEADER_LEN + 31]),
            Err(WireError::Truncated { field: "QueryDirectoryRequest.OutputBufferLength", .. })
        ));
    }

    #[test]
    fn output_outside_the_message_is_rejected() {
        let out = [1u8; 16];
        let mut p = pdu(Command::QUERY_DIRECTORY, &QueryDirectoryResponse { output: &out });
        assert_eq!(&p[HEADER_LEN + 2..HEADER_LEN + 4], &72u16.to_le_bytes());
        p[HEADER_LEN + 4] = 17;
        assert!(matches!(
            QueryDirectoryResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "QueryDirectoryResponse.OutputBuffer", .. })
        ));
    }

    /// The server path: header, fixed body, entries built in place after it, no copy.
    #[test]
    fn entries_built_in_place_parse_back() {
        let names = [utf16le("."), utf16le(".."), utf16le("file.bin")];
        let mut buf = vec![0u8; 512];
        let used = {
            let mut b = ChainBuilder::new(&mut buf[QueryDirectoryResponse::OUTPUT_OFFSET..]);
            for (i, n) in names.iter().enumerate() {
                let e = FileIdFullDirectoryInformation {
                    file_id: i as u64,
                    file_name: Utf16::new(n, "t").unwrap(),
                    ..Default::default()
                };
                assert_eq!(b.push(&e).unwrap(), Append::Added);
            }
            b.finish()
        };
        let mut w = Writer::new(&mut buf);
        Header::request(Command::QUERY_DIRECTORY, 9, 1, 1).encode(&mut w).unwrap();
        QueryDirectoryResponse::encode_fixed(&mut w, used).unwrap();
        assert_eq!(w.pos(), QueryDirectoryResponse::OUTPUT_OFFSET);
        let total = QueryDirectoryResponse::OUTPUT_OFFSET + used;
        let rsp = QueryDirectoryResponse::parse(&buf[..total]).unwrap();
        let got: Vec<_> = rsp
            .entries::<FileIdFullDirectoryInformation>()
            .map(|e| e.unwrap().file_name.to_string().unwrap())
            .collect();
        assert_eq!(got, [".", "..", "file.bin"]);
    }
}
