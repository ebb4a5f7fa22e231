//! The boundary between the protocol (this crate) and the files (the server): what a tree is, and the
//! file commands the connection hands over once session, tree, signing and encryption checks passed.

use smb_crypto::{CryptoError, PlacedJob, PlacedSeal};
use smb_wire::fsctl::NetworkInterfaceInfo;
use smb_wire::header::HEADER_LEN;
use smb_wire::message::Request;
use smb_wire::read::{ReadRequest, ReadResponse};
use smb_wire::status::NtStatus;
use smb_wire::types::FileId;
use smb_wire::write::WriteRequest;
use smb_wire::Header;
use std::ops::Range;

/// What TREE_CONNECT learns from the server about a share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeGrant {
    /// The server's own handle for the share (passed back in [`FileContext`]).
    pub share: u32,
    pub share_name: String,
    /// Share EncryptData.
    pub encrypt_data: bool,
    /// MS-SMB2 2.2.10 ShareType.
    pub share_type: u8,
    pub maximal_access: u32,
}

/// Which session and tree a file command runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileContext {
    pub session_id: u64,
    pub tree_id: u32,
    pub share: u32,
}

/// What a file command produced: the status and, on success or a warning, the response body in
/// `body` (written at offset 64 of the PDU buffer so offsets count from the header).
pub type FileResult = Result<NtStatus, NtStatus>;

/// What [`FileHandler::begin_write`] or [`FileHandler::begin_read`] made of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoStart {
    /// Run it the usual way ([`FileHandler::execute`], [`FileHandler::read`]).
    Execute,
    /// Done (or refused) already: answer with this byte count or status. (For a READ only a
    /// status makes sense; a count is taken as `Execute`.)
    Done(Result<u32, NtStatus>),
    /// Checked and accepted; the buffer follows through [`FileHandler::submit_write`] or
    /// [`FileHandler::submit_read`] and the outcome comes back from [`FileHandler::io_done`].
    Deferred,
}

/// The memory a request's data lives in, lent by the transport: a heap buffer over TCP (where the
/// message was received or decrypted, or the response being built), or a lease of the reactor's
/// registered memory over SMB Direct (where an RDMA READ put a WRITE's payload, or from where an
/// RDMA WRITE takes a READ's data). Both start their data on a 4 KiB boundary, so a file can be
/// read or written with O_DIRECT straight from either.
#[derive(Debug)]
pub enum IoBuf {
    Heap(Vec<u8>),
    Lease(iobuf::Lease),
}

impl std::ops::Deref for IoBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            IoBuf::Heap(v) => v,
            IoBuf::Lease(l) => l,
        }
    }
}

impl std::ops::DerefMut for IoBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            IoBuf::Heap(v) => v,
            IoBuf::Lease(l) => l,
        }
    }
}

/// The buffer of a deferred request, `buf[range]` starting on a 4 KiB boundary: a WRITE's payload
/// where it was received (or decrypted, or RDMA-read), or the place its READ data goes.
#[derive(Debug)]
pub struct IoBuffer {
    pub buf: IoBuf,
    pub range: Range<usize>,
    /// The RDMA transform's crypto over the data (only for a handler that
    /// [`FileHandler::runs_placed_crypto`]): run it with [`IoBuffer::run_crypto`], for a WRITE
    /// before anything is written, for a READ once the data is read.
    pub crypto: Option<PlacedJob>,
    /// A READ whose response the connection will seal: the handler may lend the data where it lies
    /// instead of copying it into `buf` ([`IoDone::lent`]).
    pub lend: bool,
}

/// READ data a handler lends from where it lies (the page cache) instead of copying it into the
/// response: the connection seals it from there into the response, one pass over the data where a
/// copy and a seal in place were two (issue 18; `bench/read_passes.sh`).
pub trait LentBytes: Send + std::fmt::Debug {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Runs `f` over the bytes; `false` when they could not be read as they lay (the file shrank
    /// beneath them), and whatever `f` made must be thrown away.
    fn with_bytes(&self, f: &mut dyn FnMut(&[u8])) -> bool;
    /// Reads the bytes the ordinary way into `out`, after [`LentBytes::with_bytes`] failed.
    fn read_into(&self, out: &mut [u8]) -> Result<usize, NtStatus>;
}

/// What the crypto of an [`IoBuffer`] came to: nothing to run (`None`), a seal or MAC to send with a
/// READ, a check passed (`Some(Ok(None))`), or a check failed, so nothing may be written.
pub type PlacedOutcome = Option<Result<Option<PlacedSeal>, CryptoError>>;

impl IoBuffer {
    /// A buffer whose data needs no crypto.
    pub fn plain(buf: IoBuf, range: Range<usize>) -> IoBuffer {
        IoBuffer { buf, range, crypto: None, lend: false }
    }

    /// Runs the buffer's crypto step over the first `len` bytes of its range (where the caller is:
    /// a helper thread, say): a WRITE's open or verify before its data is written (when it fails,
    /// write nothing), a READ's seal or MAC once `len` bytes were read. Give the outcome back in
    /// [`IoDone::crypto`].
    pub fn run_crypto(&mut self, len: usize) -> PlacedOutcome {
        let job = self.crypto.as_ref()?;
        let end = self.range.start.saturating_add(len).min(self.range.end);
        let data = self.buf.get_mut(self.range.start..end)?;
        Some(job.run(data))
    }
}

/// A deferred request that has finished, with its buffer back.
#[derive(Debug)]
pub struct IoDone {
    pub message_id: u64,
    /// Bytes written or read, or why not.
    pub result: Result<u32, NtStatus>,
    pub buf: IoBuf,
    /// What [`IoBuffer::run_crypto`] came to.
    pub crypto: PlacedOutcome,
    /// A READ's data lent instead of read into `buf` (only when [`IoBuffer::lend`] allowed it):
    /// `result` counts its bytes.
    pub lent: Option<Box<dyn LentBytes>>,
}

/// What a WRITE asks, whatever carries its payload (inline in the message, or RDMA-read from the
/// client's buffer: MS-SMB2 3.3.5.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteArgs {
    pub file_id: FileId,
    pub offset: u64,
    /// Payload bytes.
    pub len: usize,
    /// [`smb_wire::write::write_flags`].
    pub flags: u32,
}

impl WriteArgs {
    /// The arguments of a WRITE whose payload rides in the message.
    pub fn of(req: &WriteRequest<'_>) -> WriteArgs {
        WriteArgs { file_id: req.file_id, offset: req.offset, len: req.data.len(), flags: req.flags }
    }
}

/// The file side of a server connection: implemented by the server over its shares.
///
/// WRITEs and READs may finish after the call that started them, so that a reactor does not wait
/// for the device ([`FileHandler::begin_write`], [`FileHandler::begin_read`]). A handler that
/// defers them keeps the file's order: every other call, READs included, sees the effect of every
/// WRITE started before it.
pub trait FileHandler: Send {
    /// Maps a share name (the last component of `\\server\share`) to a grant, or
    /// STATUS_BAD_NETWORK_NAME; STATUS_ACCESS_DENIED when the share does not admit `user` (the
    /// session's account name, empty for an anonymous session).
    fn tree_connect(&mut self, session_id: u64, user: &str, share: &str) -> Result<TreeGrant, NtStatus>;
    fn tree_disconnect(&mut self, ctx: FileContext);
    /// Runs CREATE, CLOSE, FLUSH, WRITE, QUERY_DIRECTORY, QUERY_INFO, SET_INFO and non-protocol
    /// IOCTLs (and READ, through the default [`FileHandler::read`]). The response body goes into `pdu`
    /// after its first 64 bytes (the header, which the connection writes afterwards); `pdu` arrives
    /// holding exactly 64 bytes.
    fn execute(
        &mut self,
        ctx: FileContext,
        header: &Header,
        req: &Request<'_>,
        pdu: &mut Vec<u8>,
    ) -> FileResult;
    /// READ (MS-SMB2 3.3.5.12) straight into the response: fill `data` (the request's Length bytes,
    /// starting on a 4 KiB boundary so a file can be read into it with O_DIRECT; its contents are
    /// stale) from the file and return how many bytes were read. The connection answers
    /// STATUS_END_OF_FILE for 0 bytes or fewer than MinimumCount, builds the response around the
    /// data and seals and sends it from where it lies. The default runs READ through
    /// [`FileHandler::execute`] and copies the data.
    fn read(
        &mut self,
        ctx: FileContext,
        header: &Header,
        req: &ReadRequest<'_>,
        data: &mut [u8],
    ) -> Result<usize, NtStatus> {
        let mut pdu = vec![0u8; HEADER_LEN];
        self.execute(ctx, header, &Request::Read(*req), &mut pdu)?;
        let rsp = ReadResponse::parse(&pdu).map_err(|_| NtStatus::UNSUCCESSFUL)?;
        let n = rsp.data.len().min(data.len());
        data[..n].copy_from_slice(&rsp.data[..n]);
        Ok(n)
    }
    /// A WRITE (MS-SMB2 3.3.5.13) offered for deferral: it is the whole message, and its payload lies
    /// on a 4 KiB boundary in a buffer the connection can give away. Check it now; to take it
    /// over, return [`IoStart::Deferred`], and the payload arrives through
    /// [`FileHandler::submit_write`] before any other call. The default runs it the usual way
    /// ([`FileHandler::write`]).
    fn begin_write(&mut self, ctx: FileContext, header: &Header, args: &WriteArgs) -> IoStart {
        let _ = (ctx, header, args);
        IoStart::Execute
    }
    /// A WRITE done at once: `data` (`args.len` bytes) into the file; returns the bytes written.
    /// The default runs it through [`FileHandler::execute`].
    fn write(
        &mut self,
        ctx: FileContext,
        header: &Header,
        args: &WriteArgs,
        data: &[u8],
    ) -> Result<u32, NtStatus> {
        let req = WriteRequest {
            offset: args.offset,
            file_id: args.file_id,
            channel: smb_wire::Channel::NONE,
            remaining_bytes: 0,
            flags: args.flags,
            channel_info: &[],
            data,
        };
        let mut pdu = vec![0u8; HEADER_LEN];
        self.execute(ctx, header, &Request::Write(req), &mut pdu)?;
        let rsp = smb_wire::write::WriteResponse::parse(&pdu).map_err(|_| NtStatus::UNSUCCESSFUL)?;
        Ok(rsp.count)
    }
    /// The payload of the WRITE that [`FileHandler::begin_write`] deferred under `message_id`. The
    /// handler writes it wherever it likes and reports through [`FileHandler::io_done`], and only
    /// once the data is in the file (the WRITE is answered then).
    fn submit_write(&mut self, message_id: u64, payload: IoBuffer) {
        let _ = (message_id, payload);
    }
    /// A READ (MS-SMB2 3.3.5.12) offered for deferral (it is the whole message). Check it now; to
    /// take it over, return [`IoStart::Deferred`], and the response area (the request's Length
    /// bytes) arrives through [`FileHandler::submit_read`] before any other call. The default runs
    /// it through [`FileHandler::read`].
    fn begin_read(&mut self, ctx: FileContext, header: &Header, req: &ReadRequest<'_>) -> IoStart {
        let _ = (ctx, header, req);
        IoStart::Execute
    }
    /// Where the READ that [`FileHandler::begin_read`] deferred under `message_id` puts its data:
    /// fill `area.buf[area.range]` from the file (anywhere) and report the bytes read through
    /// [`FileHandler::io_done`], with the buffer.
    fn submit_read(&mut self, message_id: u64, area: IoBuffer) {
        let _ = (message_id, area);
    }
    /// Whether this handler runs the RDMA transform's crypto of deferred requests
    /// ([`IoBuffer::crypto`], with [`IoBuffer::run_crypto`]) where it does their I/O: then the
    /// crypto of large transfers leaves the reactor. A handler that says no gets no crypto jobs,
    /// and the connection runs them itself (a WRITE's check before `submit_write`, a READ's seal
    /// after `io_done`).
    fn runs_placed_crypto(&self) -> bool {
        false
    }
    /// A deferred request that has finished, if any. With `wait`, blocks until one finishes while
    /// any is outstanding; `None` then means none is.
    fn io_done(&mut self, wait: bool) -> Option<IoDone> {
        let _ = wait;
        None
    }
    /// The session is gone (LOGOFF, failed binding, disconnect): close its files.
    fn logoff(&mut self, session_id: u64);
    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO.
    fn network_interfaces(&mut self) -> Vec<NetworkInterfaceInfo>;
}

/// The security side: one authentication exchange per SESSION_SETUP sequence (NTLM via SPNEGO in
/// smbdx; anything that turns tokens into a session key fits).
pub trait Authenticator: Send {
    fn step(&mut self, token: &[u8]) -> Result<AuthStep, AuthFailure>;
}

/// Result of one authentication leg.
pub enum AuthStep {
    /// Answer with STATUS_MORE_PROCESSING_REQUIRED and this token.
    Continue(Vec<u8>),
    /// Authenticated: answer STATUS_SUCCESS with this token.
    Done { token: Vec<u8>, session_key: Vec<u8>, user: String, anonymous: bool },
}

/// Why authentication failed (every case answers STATUS_LOGON_FAILURE, or ACCESS_DENIED for a refused
/// anonymous logon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    LogonFailure { user: Option<String> },
    AnonymousRefused,
    Malformed(&'static str),
}

/// Creates an authenticator for each new SESSION_SETUP exchange.
pub trait AuthFactory: Send {
    fn new_exchange(&mut self) -> Box<dyn Authenticator>;
    /// The NEGOTIATE response's security buffer (SPNEGO negTokenInit).
    fn negotiate_token(&self) -> Vec<u8>;
}
