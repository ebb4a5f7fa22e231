//! The requests on files of a connected tree: MS-SMB2 3.2.4.3 CREATE, 3.2.4.5 CLOSE, 3.2.4.4 FLUSH,
//! 3.2.4.6 READ, 3.2.4.7 WRITE (also from a payload the caller placed, or sealed straight from the
//! caller's bytes), 3.2.4.14 QUERY_INFO, 3.2.4.15 SET_INFO, 3.2.4.17 QUERY_DIRECTORY, and the
//! multi-credit charge of the large ones (3.2.4.1.5). Their responses complete in [`super::receive`].

use super::rdma_transform::WriteData;
use super::send::seal_error;
use super::*;
use core::ops::Range;
use smb_wire::close::CloseRequest;
use smb_wire::create::{share_access, CreateDisposition, CreateRequest, ImpersonationLevel, OplockLevel};
use smb_wire::flush::FlushRequest;
use smb_wire::info::FileInfoClass;
use smb_wire::query_directory::QueryDirectoryRequest;
use smb_wire::query_info::{InfoType, QueryInfoRequest};
use smb_wire::read::ReadRequest;
use smb_wire::set_info::SetInfoRequest;
use smb_wire::smbd::BufferDescriptorV1;
use smb_wire::types::{utf16le, Utf16};
use smb_wire::write::WriteRequest;
use smb_wire::Channel;

/// Where [`ClientConnection::write_prebuilt`] expects the payload: after room for a
/// TRANSFORM_HEADER, the SMB2 header and the fixed part of the WRITE request.
pub const WRITE_PAYLOAD_AT: usize = TRANSFORM_HEADER_LEN + HEADER_LEN + WriteRequest::FIXED_LEN;

/// The WRITE request without its payload (which lies in the caller's buffer right behind it).
struct WriteHead<'a> {
    req: WriteRequest<'a>,
    len: usize,
}

impl smb_wire::Encode for WriteHead<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        self.req.head_len_at(at, self.len)
    }

    fn encode(&self, w: &mut smb_wire::Writer<'_>) -> smb_wire::Result<()> {
        self.req.encode_head(self.len, w).map(|_| ())
    }
}

/// MS-SMBD 2.2.3.1 buffer descriptors, as the channel info of a READ or WRITE.
fn descriptor_bytes(descs: &[BufferDescriptorV1]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 * descs.len());
    for d in descs {
        b.extend_from_slice(&d.offset.to_le_bytes());
        b.extend_from_slice(&d.token.to_le_bytes());
        b.extend_from_slice(&d.length.to_le_bytes());
    }
    b
}

/// share_access for CREATE: let others read, write and delete (what Windows clients send).
const SHARE_ALL: u32 = share_access::READ | share_access::WRITE | share_access::DELETE;

impl ClientConnection {
    /// MS-SMB2 3.2.4.3 CREATE of `name` (relative to the share root).
    pub fn create(
        &mut self,
        tree: TreeHandle,
        name: &str,
        access: u32,
        disposition: CreateDisposition,
        options: u32,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("create", tree)?;
        let name = utf16le(name);
        let req = CreateRequest {
            requested_oplock_level: OplockLevel::NONE,
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            desired_access: access,
            share_access: SHARE_ALL,
            create_disposition: disposition,
            create_options: options,
            name: Utf16::new(&name, "name").map_err(ClientError::wire("Name"))?,
            ..CreateRequest::default()
        };
        self.send(Command::CREATE, tree.0, 1, &req, None)
    }

    /// MS-SMB2 3.2.4.6 READ; a large read is charged one credit per 64 KiB.
    pub fn read(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: u32,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("read", file.tree)?;
        let charge = self.io_charge("read", len as usize)?;
        let req = ReadRequest {
            padding: 0x50,
            length: len,
            offset,
            file_id: file.file_id,
            ..ReadRequest::default()
        };
        self.send(Command::READ, file.tree.0, charge, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.7 WRITE; charged like READ.
    pub fn write(
        &mut self,
        file: FileHandle,
        offset: u64,
        data: &[u8],
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("write", file.tree)?;
        let charge = self.io_charge("write", data.len())?;
        let req = WriteRequest { offset, file_id: file.file_id, data, ..WriteRequest::default() };
        self.send(Command::WRITE, file.tree.0, charge, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.6 READ of `len` bytes whose data the server RDMA-writes into the buffers
    /// `descs` describe (Channel RDMA_V1_INVALIDATE when `invalidate`, so the response revokes the
    /// first descriptor's token; else RDMA_V1). Its completion is [`Completion::ReadPlaced`].
    pub fn read_rdma(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: u32,
        descs: &[BufferDescriptorV1],
        invalidate: bool,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("read", file.tree)?;
        let charge = self.io_charge("read", len as usize)?;
        let info = descriptor_bytes(descs);
        let req = ReadRequest {
            padding: 0x50,
            length: len,
            offset,
            file_id: file.file_id,
            channel: if invalidate { Channel::RDMA_V1_INVALIDATE } else { Channel::RDMA_V1 },
            channel_info: &info,
            ..ReadRequest::default()
        };
        let (id, msg) = self.send(Command::READ, file.tree.0, charge, &req, Some(file.file_id))?;
        if let Some(p) = self.pending.get_mut(&id.0) {
            p.rdma = true;
        }
        Ok((id, msg))
    }

    /// MS-SMB2 3.2.4.7 WRITE of `data`, which lies in registered memory that the server RDMA-reads
    /// through the buffers `descs` describe (RemainingBytes its length, no inline data). Where the
    /// tree's data must be encrypted or signed, `data` is sealed or signed in place first and the
    /// request carries the RDMA transform (see [`super::rdma_transform`]); the caller must not
    /// change `data` until the response. Nothing is sealed, and nothing taken from the credit
    /// window, when the request cannot be sent now.
    pub fn write_rdma(
        &mut self,
        file: FileHandle,
        offset: u64,
        data: &mut [u8],
        descs: &[BufferDescriptorV1],
        invalidate: bool,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        let len = data.len();
        self.write_rdma_of(file, offset, len, WriteData::InPlace(data), descs, invalidate)
    }

    /// [`ClientConnection::write_rdma`] of the caller's `src`, put into the registered buffer `dst`
    /// on the way: sealed from `src` straight into `dst` in one pass where the data must be
    /// encrypted (as [`ClientConnection::write_from`] does for a message), else copied (and signed).
    /// `dst` holds `src.len() + 16` bytes; the server pulls `dst[..src.len()]`.
    pub fn write_rdma_from(
        &mut self,
        file: FileHandle,
        offset: u64,
        src: &[u8],
        dst: &mut [u8],
        descs: &[BufferDescriptorV1],
        invalidate: bool,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        if dst.len() < src.len().saturating_add(16) {
            return Err(ClientError::BufferSize { expected: src.len() + 16, got: dst.len() });
        }
        self.write_rdma_of(file, offset, src.len(), WriteData::From { src, dst }, descs, invalidate)
    }

    fn write_rdma_of(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: usize,
        data: WriteData<'_>,
        descs: &[BufferDescriptorV1],
        invalidate: bool,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("write", file.tree)?;
        let len32 =
            u32::try_from(len).map_err(|_| ClientError::TooLarge { what: "write", len, max: u32::MAX })?;
        let charge = self.io_charge("write", len)?;
        let have = self.credits.available();
        if have < u64::from(charge) {
            return Err(ClientError::NoCredits { need: charge, have });
        }
        let ch = self.write_channel(file.tree.0, data, &descriptor_bytes(descs), invalidate)?;
        self.send_write_rdma(file, offset, len32, charge, ch.channel, &ch.info)
    }

    /// A WRITE of `len` bytes by plain RDMA_V1(_INVALIDATE), whatever the tree requires: what a
    /// client without the RDMA transform sends, for peers that test how a server treats it. A real
    /// client uses [`ClientConnection::write_rdma`], which protects what must be protected.
    pub fn write_rdma_unprotected(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: u32,
        descs: &[BufferDescriptorV1],
        invalidate: bool,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("write", file.tree)?;
        let charge = self.io_charge("write", len as usize)?;
        let channel = if invalidate { Channel::RDMA_V1_INVALIDATE } else { Channel::RDMA_V1 };
        self.send_write_rdma(file, offset, len, charge, channel, &descriptor_bytes(descs))
    }

    fn send_write_rdma(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: u32,
        charge: u16,
        channel: Channel,
        info: &[u8],
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        let req = WriteRequest {
            offset,
            file_id: file.file_id,
            channel,
            remaining_bytes: len,
            channel_info: info,
            data: &[],
            ..WriteRequest::default()
        };
        let (id, msg) = self.send(Command::WRITE, file.tree.0, charge, &req, Some(file.file_id))?;
        if let Some(p) = self.pending.get_mut(&id.0) {
            p.rdma = true;
        }
        Ok((id, msg))
    }

    pub fn close(&mut self, file: FileHandle) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("close", file.tree)?;
        let req = CloseRequest { flags: 0, file_id: file.file_id };
        self.send(Command::CLOSE, file.tree.0, 1, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.4 FLUSH: the server answers once the file's data is on stable storage.
    pub fn flush(&mut self, file: FileHandle) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("flush", file.tree)?;
        let req = FlushRequest { file_id: file.file_id };
        self.send(Command::FLUSH, file.tree.0, 1, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.17 QUERY_DIRECTORY of the open directory `file`: entries of `class` matching
    /// `pattern`, at most `output_len` bytes of them. STATUS_NO_MORE_FILES ends the listing.
    pub fn query_directory(
        &mut self,
        file: FileHandle,
        class: FileInfoClass,
        pattern: &str,
        flags: u8,
        output_len: u32,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("query_directory", file.tree)?;
        let charge = self.transact_charge("query_directory", output_len)?;
        let name = utf16le(pattern);
        let req = QueryDirectoryRequest {
            file_information_class: class,
            flags,
            file_index: 0,
            file_id: file.file_id,
            file_name: Utf16::new(&name, "pattern").map_err(ClientError::wire("FileName"))?,
            output_buffer_length: output_len,
        };
        self.send(Command::QUERY_DIRECTORY, file.tree.0, charge, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.14 QUERY_INFO of `class` (a file or filesystem class, per `info_type`).
    pub fn query_info(
        &mut self,
        file: FileHandle,
        info_type: InfoType,
        class: u8,
        output_len: u32,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("query_info", file.tree)?;
        let charge = self.transact_charge("query_info", output_len)?;
        let req = QueryInfoRequest {
            info_type,
            file_info_class: class,
            output_buffer_length: output_len,
            file_id: file.file_id,
            ..QueryInfoRequest::default()
        };
        self.send(Command::QUERY_INFO, file.tree.0, charge, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.15 SET_INFO: `buffer` is the encoded class (rename, disposition, end of file, ...).
    pub fn set_info(
        &mut self,
        file: FileHandle,
        info_type: InfoType,
        class: u8,
        buffer: &[u8],
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("set_info", file.tree)?;
        let charge = self.transact_charge("set_info", u32::try_from(buffer.len()).unwrap_or(u32::MAX))?;
        let req = SetInfoRequest {
            info_type,
            file_info_class: class,
            buffer,
            additional_information: 0,
            file_id: file.file_id,
        };
        self.send(Command::SET_INFO, file.tree.0, charge, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.1.5: CreditCharge = ceil(payload / 64 KiB) with LARGE_MTU; at most 64 KiB without.
    fn io_charge(&self, what: &'static str, len: usize) -> Result<u16, ClientError> {
        let n =
            self.negotiated.as_ref().ok_or(ClientError::WrongState { op: what, state: "not negotiated" })?;
        let max = if what == "read" { n.max_read } else { n.max_write };
        let max = if n.large_mtu { max } else { max.min(65536) };
        if len > max as usize {
            return Err(ClientError::TooLarge { what, len, max });
        }
        Ok(u16::try_from(len.div_ceil(65536).max(1)).unwrap_or(u16::MAX))
    }

    /// MS-SMB2 3.2.4.1.5 for QUERY_DIRECTORY, QUERY_INFO, SET_INFO: charged like I/O by the larger
    /// of the request and response payloads, capped by MaxTransactSize's 64 KiB multiples.
    fn transact_charge(&self, what: &'static str, len: u32) -> Result<u16, ClientError> {
        let n =
            self.negotiated.as_ref().ok_or(ClientError::WrongState { op: what, state: "not negotiated" })?;
        let max = if n.large_mtu { 8 << 20 } else { 65536 };
        if len > max {
            return Err(ClientError::TooLarge { what, len: len as usize, max });
        }
        Ok(u16::try_from((len as usize).div_ceil(65536).max(1)).unwrap_or(u16::MAX))
    }

    /// MS-SMB2 3.2.4.7 WRITE of a payload the caller has already placed in `msg` at
    /// [`WRITE_PAYLOAD_AT`] (everything before it is overwritten): the header and the fixed WRITE
    /// body are written in front of it and the message signed or sealed in place, so the payload is
    /// never copied here. Returns the request and where the message starts: send `msg[start..]`.
    /// Nothing is taken from the credit window on error, and the payload is left as it was.
    pub fn write_prebuilt(
        &mut self,
        file: FileHandle,
        offset: u64,
        msg: &mut [u8],
    ) -> Result<(RequestId, usize), ClientError> {
        let len = msg.len().saturating_sub(WRITE_PAYLOAD_AT);
        let (id, encrypt, sign) = self.frame_write(file, offset, len, msg)?;
        let start = self.protect(id, msg, TRANSFORM_HEADER_LEN, encrypt, sign)?;
        Ok((id, start))
    }

    /// The checks of a WRITE of `len` payload bytes and its header and fixed body, framed into
    /// `msg[TRANSFORM_HEADER_LEN..WRITE_PAYLOAD_AT]`; returns the request and whether to (encrypt,
    /// sign) it. Nothing is taken from the credit window on error.
    fn frame_write(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: usize,
        msg: &mut [u8],
    ) -> Result<(RequestId, bool, bool), ClientError> {
        self.ready("write", file.tree)?;
        if len == 0 || msg.len() < WRITE_PAYLOAD_AT {
            return Err(ClientError::BufferSize { expected: WRITE_PAYLOAD_AT + 1, got: msg.len() });
        }
        let charge = self.io_charge("write", len)?;
        let (encrypt, sign) = self.protection(file.tree.0)?;
        let head =
            WriteHead { req: WriteRequest { offset, file_id: file.file_id, ..WriteRequest::default() }, len };
        let at = TRANSFORM_HEADER_LEN..WRITE_PAYLOAD_AT;
        let id =
            self.frame_into(Command::WRITE, file.tree.0, charge, &head, Some(file.file_id), &mut msg[at])?;
        Ok((id, encrypt, sign))
    }

    /// MS-SMB2 3.2.4.7 WRITE of `data`, built in `msg` (resized to fit; reuse one to save the
    /// allocation): header and fixed WRITE body in front, then the payload. A sealed request has
    /// the payload encrypted from where it lies straight into `msg`, in one pass, where copying it
    /// in first and sealing in place would take two. Returns the request and the part of `msg` to
    /// send. Nothing is taken from the credit window if the request is refused.
    pub fn write_from(
        &mut self,
        file: FileHandle,
        offset: u64,
        data: &[u8],
        msg: &mut Vec<u8>,
    ) -> Result<(RequestId, Range<usize>), ClientError> {
        let end = WRITE_PAYLOAD_AT + data.len();
        // 16 bytes past the message: the seal's scratch for the tag.
        msg.resize(end + 16, 0);
        let (id, encrypt, sign) = self.frame_write(file, offset, data.len(), msg)?;
        let pdu_at = TRANSFORM_HEADER_LEN;
        if !encrypt {
            msg[WRITE_PAYLOAD_AT..end].copy_from_slice(data);
            let start = self.protect(id, &mut msg[..end], pdu_at, false, sign)?;
            return Ok((id, start..end));
        }
        if let Some(p) = self.pending.get_mut(&id.0) {
            p.encrypted = true;
        }
        let (hdr, rest) = msg.split_at_mut(pdu_at);
        let hdr: &mut [u8; TRANSFORM_HEADER_LEN] =
            hdr.try_into().map_err(|_| ClientError::BufferSize { expected: TRANSFORM_HEADER_LEN, got: 0 })?;
        let (sealing, session_id) = self.sealing()?;
        sealing
            .seal_message_from(session_id, hdr, rest, WRITE_PAYLOAD_AT - pdu_at, data)
            .map_err(seal_error)?;
        Ok((id, 0..end))
    }
}
