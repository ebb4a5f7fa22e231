//! [`MemFiles`]: the file side of a server connection, in memory.
//!
//! Shares are names with an EncryptData flag; files are byte vectors per share; opens are looked up
//! by session and share. Enough of MS-SMB2 3.3.5.9-3.3.5.13 for the protocol under test (CREATE with
//! every disposition, CLOSE, FLUSH, READ, WRITE); other file commands answer
//! STATUS_NOT_SUPPORTED. It is a test double, so it also checks the contract the session owes its
//! handler (READ data on a 4 KiB boundary, deferred payloads likewise) and panics when it is broken,
//! and it records what reached it ([`MemFiles::writes`], [`MemFiles::offered`]).
//!
//! Deferral ([`MemFiles::defer`]): READs and WRITEs offered for deferral are taken over, and answered
//! only when the test lets them finish ([`MemFiles::release`], [`MemFiles::fail_next`]), which is how a
//! test sees the session answer later, in any order the test picks.

use smb_session::{
    put_body, FileContext, FileHandler, FileResult, IoBuf, IoBuffer, IoDone, IoStart, TreeGrant, WriteArgs,
};
use smb_wire::close::CloseResponse;
use smb_wire::create::{CreateAction, CreateDisposition, CreateRequest, CreateResponse, NetworkOpenInfo};
use smb_wire::flush::FlushResponse;
use smb_wire::fsctl::NetworkInterfaceInfo;
use smb_wire::message::Request;
use smb_wire::read::{ReadRequest, ReadResponse};
use smb_wire::status::NtStatus;
use smb_wire::types::FileId;
use smb_wire::write::WriteResponse;
use smb_wire::Header;
use std::collections::{HashMap, VecDeque};

/// MS-SMB2 2.2.10 ShareType DISK.
const SHARE_TYPE_DISK: u8 = 1;
/// Everything a share grants (FILE_ALL_ACCESS): MemFiles has no ACLs.
const FULL_ACCESS: u32 = 0x001F_01FF;
/// FILE_ATTRIBUTE_ARCHIVE: what Windows reports for a plain file.
const ATTRIBUTE_ARCHIVE: u32 = 0x20;
/// The boundary the session promises READ data and deferred payloads start on (O_DIRECT's).
const PAGE: usize = 4096;

/// A WRITE payload that reached the handler: how long, and where it lay relative to a page
/// (0: page-aligned, so a real server could write it with O_DIRECT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSeen {
    pub len: usize,
    pub page_offset: usize,
}

impl WriteSeen {
    fn of(data: &[u8]) -> WriteSeen {
        WriteSeen { len: data.len(), page_offset: data.as_ptr() as usize % PAGE }
    }
}

/// A READ or WRITE taken over and not finished yet.
#[derive(Debug)]
pub struct Deferred {
    pub message_id: u64,
    /// A WRITE's payload (already in the file), or a READ's response area (already filled).
    pub buffer: IoBuffer,
    /// What the request finishes with when released: bytes written or read, or why not.
    pub done: Result<u32, NtStatus>,
    /// What its RDMA transform crypto came to (run at submission, like the I/O).
    pub crypto: smb_session::PlacedOutcome,
    /// A READ's data lent rather than read into `buffer` ([`MemFiles::lend`]).
    pub lent: Option<Box<dyn smb_session::LentBytes>>,
}

/// Which file an open names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Open {
    session: u64,
    share: u32,
    name: String,
}

/// A request checked by `begin_*`, waiting for its buffer in `submit_*`.
#[derive(Debug)]
enum Offered {
    Write { file: (u32, String), offset: u64 },
    Read { file: (u32, String), offset: u64 },
}

/// An in-memory [`FileHandler`]. `MemFiles::default()` serves two shares: `plain` and `secret`
/// (EncryptData).
#[derive(Debug)]
pub struct MemFiles {
    /// (name, EncryptData); a share's id is its index + 1.
    shares: Vec<(String, bool)>,
    /// Grant any share name asked for (as a plain share), not only the configured ones.
    pub any_share: bool,
    /// Contents by (share id, name).
    files: HashMap<(u32, String), Vec<u8>>,
    /// Opens by FileId.Volatile (Persistent is the same number).
    opens: HashMap<u64, Open>,
    next_id: u64,
    /// Largest file a WRITE may make; beyond it, STATUS_DISK_FULL (hostile offsets must not make a
    /// test allocate gigabytes).
    pub max_file_len: usize,
    /// Take over every READ and WRITE offered for deferral.
    pub defer: bool,
    /// READs and WRITEs taken over and not finished, oldest first.
    pub deferred: VecDeque<Deferred>,
    /// How the next deferred requests finish: `None` as the file says, `Some(status)` failing.
    finish: VecDeque<Option<NtStatus>>,
    offering: Option<Offered>,
    /// READs and WRITEs offered for deferral (`begin_read` / `begin_write` calls).
    pub offered: usize,
    /// Every WRITE payload that reached the handler, in order.
    pub writes: Vec<WriteSeen>,
    /// Lend deferred READs' data when the connection allows it ([`IoBuffer::lend`]) instead of
    /// filling their buffers: `Some(Lending::Readable)`, or `Some(Lending::Shrinks)` to act as a file
    /// truncated beneath its mapping (the lent bytes fail; the ordinary read finds half of them).
    pub lend: Option<Lending>,
    /// READs lent so far.
    pub lent: usize,
}

/// How [`MemFiles`] lends READ data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lending {
    Readable,
    /// Truncated beneath the mapping to half the READ.
    Shrinks,
    /// Truncated below the READ's offset: nothing left.
    Gone,
}

/// Lent READ data: a copy of the file's bytes standing in for its page cache.
#[derive(Debug)]
struct FakeLent {
    bytes: Vec<u8>,
    mode: Lending,
}

impl smb_session::LentBytes for FakeLent {
    fn len(&self) -> usize {
        self.bytes.len()
    }

    fn with_bytes(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        if self.mode != Lending::Readable {
            // What a truncation beneath a mapping leaves the reader: zeros, and a failure.
            f(&vec![0u8; self.bytes.len()]);
            return false;
        }
        f(&self.bytes);
        true
    }

    fn read_into(&self, out: &mut [u8]) -> Result<usize, NtStatus> {
        let n = match self.mode {
            Lending::Readable => self.bytes.len(),
            Lending::Shrinks => self.bytes.len() / 2,
            Lending::Gone => 0,
        }
        .min(out.len());
        out[..n].copy_from_slice(&self.bytes[..n]);
        Ok(n)
    }
}

impl Default for MemFiles {
    fn default() -> Self {
        MemFiles::new().share("plain", false).share("secret", true)
    }
}

impl MemFiles {
    /// No shares at all (add them with [`MemFiles::share`]).
    pub fn new() -> MemFiles {
        MemFiles {
            shares: Vec::new(),
            any_share: false,
            files: HashMap::new(),
            opens: HashMap::new(),
            next_id: 0,
            max_file_len: 64 << 20,
            defer: false,
            deferred: VecDeque::new(),
            finish: VecDeque::new(),
            offering: None,
            offered: 0,
            writes: Vec::new(),
            lend: None,
            lent: 0,
        }
    }

    /// Adds a share; `encrypt_data` is its EncryptData.
    pub fn share(mut self, name: &str, encrypt_data: bool) -> MemFiles {
        self.shares.push((name.to_string(), encrypt_data));
        self
    }

    /// Grants any share name asked for, as a plain share (see [`MemFiles::any_share`]).
    pub fn grant_any_share(mut self) -> MemFiles {
        self.any_share = true;
        self
    }

    /// Puts a file of `data` on `share` (which must exist).
    pub fn with_file(mut self, share: &str, name: &str, data: Vec<u8>) -> MemFiles {
        let id = self.share_id(share).unwrap_or_else(|| panic!("no share {share}"));
        self.files.insert((id, name.to_string()), data);
        self
    }

    /// The contents of `share`'s file `name`.
    pub fn file(&self, share: &str, name: &str) -> Option<&[u8]> {
        let id = self.share_id(share)?;
        self.files.get(&(id, name.to_string())).map(Vec::as_slice)
    }

    /// Lets the `n` oldest deferred requests finish as the file says.
    pub fn release(&mut self, n: usize) {
        self.finish.extend(std::iter::repeat_n(None, n));
    }

    /// Makes the next deferred request to finish fail with `status` (the device's error).
    pub fn fail_next(&mut self, status: NtStatus) {
        self.finish.push_back(Some(status));
    }

    /// Opens on any session.
    pub fn open_count(&self) -> usize {
        self.opens.len()
    }

    fn share_id(&self, name: &str) -> Option<u32> {
        self.shares.iter().position(|(s, _)| s.eq_ignore_ascii_case(name)).map(|i| i as u32 + 1)
    }

    /// The file an open names, if the open is this session's and this share's (MS-SMB2 3.3.5.x:
    /// anything else is STATUS_FILE_CLOSED).
    fn file_of(&self, ctx: FileContext, id: FileId) -> Result<(u32, String), NtStatus> {
        match self.opens.get(&id.volatile) {
            Some(o)
                if id.persistent == id.volatile && o.session == ctx.session_id && o.share == ctx.share =>
            {
                Ok((o.share, o.name.clone()))
            }
            _ => Err(NtStatus::FILE_CLOSED),
        }
    }

    fn write_at(&mut self, file: &(u32, String), offset: u64, data: &[u8]) -> Result<u32, NtStatus> {
        self.writes.push(WriteSeen::of(data));
        let max = self.max_file_len;
        let end = usize::try_from(offset).ok().and_then(|o| o.checked_add(data.len())).filter(|&e| e <= max);
        let end = end.ok_or(NtStatus::DISK_FULL)?;
        let contents = self.files.get_mut(file).ok_or(NtStatus::FILE_CLOSED)?;
        if contents.len() < end {
            contents.resize(end, 0);
        }
        contents[end - data.len()..end].copy_from_slice(data);
        Ok(data.len() as u32)
    }

    /// Copies what the file holds at `offset` into `into`; returns the bytes copied.
    fn read_at(&self, file: &(u32, String), offset: u64, into: &mut [u8]) -> Result<usize, NtStatus> {
        let contents = self.files.get(file).ok_or(NtStatus::FILE_CLOSED)?;
        let from = usize::try_from(offset).unwrap_or(usize::MAX).min(contents.len());
        let n = into.len().min(contents.len() - from);
        into[..n].copy_from_slice(&contents[from..from + n]);
        Ok(n)
    }

    fn create(&mut self, ctx: FileContext, c: &CreateRequest<'_>, pdu: &mut Vec<u8>) -> FileResult {
        let name = c.name.to_string().map_err(|_| NtStatus::OBJECT_NAME_INVALID)?;
        if name.is_empty() {
            // The share root is a directory, and MemFiles has none.
            return Err(NtStatus::OBJECT_NAME_INVALID);
        }
        let key = (ctx.share, name.clone());
        let exists = self.files.contains_key(&key);
        let d = c.create_disposition;
        let action = match (d, exists) {
            (CreateDisposition::OPEN | CreateDisposition::OPEN_IF, true) => CreateAction::OPENED,
            (CreateDisposition::OPEN | CreateDisposition::OVERWRITE, false) => {
                return Err(NtStatus::OBJECT_NAME_NOT_FOUND)
            }
            (CreateDisposition::CREATE, true) => return Err(NtStatus::OBJECT_NAME_COLLISION),
            (CreateDisposition::OVERWRITE | CreateDisposition::OVERWRITE_IF, true) => {
                CreateAction::OVERWRITTEN
            }
            (CreateDisposition::SUPERSEDE, true) => CreateAction::SUPERSEDED,
            (
                CreateDisposition::CREATE
                | CreateDisposition::OPEN_IF
                | CreateDisposition::OVERWRITE_IF
                | CreateDisposition::SUPERSEDE,
                false,
            ) => CreateAction::CREATED,
            _ => return Err(NtStatus::INVALID_PARAMETER),
        };
        let contents = self.files.entry(key).or_default();
        if action != CreateAction::OPENED {
            contents.clear();
        }
        let len = contents.len() as u64;
        self.next_id += 1;
        let id = self.next_id;
        self.opens.insert(id, Open { session: ctx.session_id, share: ctx.share, name });
        let rsp = CreateResponse {
            create_action: action,
            info: NetworkOpenInfo {
                end_of_file: len,
                allocation_size: len.next_multiple_of(PAGE as u64),
                file_attributes: ATTRIBUTE_ARCHIVE,
                ..NetworkOpenInfo::default()
            },
            file_id: FileId { persistent: id, volatile: id },
            ..CreateResponse::default()
        };
        put_body(pdu, &rsp);
        Ok(NtStatus::SUCCESS)
    }
}

impl FileHandler for MemFiles {
    fn tree_connect(&mut self, _session_id: u64, _user: &str, share: &str) -> Result<TreeGrant, NtStatus> {
        let id = match self.share_id(share) {
            Some(id) => id,
            None if self.any_share => {
                self.shares.push((share.to_string(), false));
                self.shares.len() as u32
            }
            None => return Err(NtStatus::BAD_NETWORK_NAME),
        };
        let (name, encrypt_data) = self.shares[id as usize - 1].clone();
        Ok(TreeGrant {
            share: id,
            share_name: name,
            encrypt_data,
            share_type: SHARE_TYPE_DISK,
            maximal_access: FULL_ACCESS,
        })
    }

    fn tree_disconnect(&mut self, _ctx: FileContext) {}

    fn execute(&mut self, ctx: FileContext, _h: &Header, req: &Request<'_>, pdu: &mut Vec<u8>) -> FileResult {
        match req {
            Request::Create(c) => return self.create(ctx, c, pdu),
            Request::Close(c) => {
                self.file_of(ctx, c.file_id)?;
                self.opens.remove(&c.file_id.volatile);
                put_body(pdu, &CloseResponse::default());
            }
            Request::Flush(f) => {
                self.file_of(ctx, f.file_id)?;
                put_body(pdu, &FlushResponse);
            }
            Request::Write(w) => {
                let file = self.file_of(ctx, w.file_id)?;
                let count = self.write_at(&file, w.offset, w.data)?;
                put_body(pdu, &WriteResponse { count, ..WriteResponse::default() });
            }
            Request::Read(r) => {
                // The session reads through `read`; this is for a caller of `execute` alone.
                let file = self.file_of(ctx, r.file_id)?;
                let mut data = vec![0; r.length as usize];
                let n = self.read_at(&file, r.offset, &mut data)?;
                if n == 0 {
                    return Err(NtStatus::END_OF_FILE);
                }
                put_body(pdu, &ReadResponse { data: &data[..n], ..ReadResponse::default() });
            }
            _ => return Err(NtStatus::NOT_SUPPORTED),
        }
        Ok(NtStatus::SUCCESS)
    }

    fn read(
        &mut self,
        ctx: FileContext,
        _h: &Header,
        r: &ReadRequest<'_>,
        data: &mut [u8],
    ) -> Result<usize, NtStatus> {
        assert_eq!(data.as_ptr() as usize % PAGE, 0, "READ data must land page-aligned");
        assert_eq!(data.len(), r.length as usize, "the READ area is the request's Length");
        let file = self.file_of(ctx, r.file_id)?;
        self.read_at(&file, r.offset, data)
    }

    fn write(
        &mut self,
        ctx: FileContext,
        _h: &Header,
        args: &WriteArgs,
        data: &[u8],
    ) -> Result<u32, NtStatus> {
        assert_eq!(data.len(), args.len, "the WRITE payload is the request's length");
        let file = self.file_of(ctx, args.file_id)?;
        self.write_at(&file, args.offset, data)
    }

    fn begin_write(&mut self, ctx: FileContext, _h: &Header, args: &WriteArgs) -> IoStart {
        self.offered += 1;
        if !self.defer {
            return IoStart::Execute;
        }
        match self.file_of(ctx, args.file_id) {
            Ok(file) => {
                self.offering = Some(Offered::Write { file, offset: args.offset });
                IoStart::Deferred
            }
            Err(status) => IoStart::Done(Err(status)),
        }
    }

    fn submit_write(&mut self, message_id: u64, payload: IoBuffer) {
        let Some(Offered::Write { file, offset }) = self.offering.take() else {
            panic!("submit_write without a WRITE deferred by begin_write")
        };
        let mut payload = payload;
        // The RDMA transform's check first: when it fails, nothing is written.
        let crypto = payload.run_crypto(payload.range.len());
        let data = &payload.buf[payload.range.clone()];
        assert_eq!(data.as_ptr() as usize % PAGE, 0, "a deferred WRITE's payload must be page-aligned");
        // Into the file at once, so that every later call sees it (the trait's ordering rule);
        // only the answer waits for the test.
        let done = match crypto {
            Some(Err(_)) => Err(NtStatus::ACCESS_DENIED),
            _ => self.write_at(&file, offset, data),
        };
        self.deferred.push_back(Deferred { message_id, buffer: payload, done, crypto, lent: None });
    }

    fn begin_read(&mut self, ctx: FileContext, _h: &Header, r: &ReadRequest<'_>) -> IoStart {
        self.offered += 1;
        if !self.defer {
            return IoStart::Execute;
        }
        let file = match self.file_of(ctx, r.file_id) {
            Ok(file) => file,
            Err(status) => return IoStart::Done(Err(status)),
        };
        // Refused at once, as a handler does when its checks fail.
        if self.files.get(&file).is_none_or(|f| r.offset >= f.len() as u64) {
            return IoStart::Done(Err(NtStatus::END_OF_FILE));
        }
        self.offering = Some(Offered::Read { file, offset: r.offset });
        IoStart::Deferred
    }

    fn submit_read(&mut self, message_id: u64, mut area: IoBuffer) {
        let Some(Offered::Read { file, offset }) = self.offering.take() else {
            panic!("submit_read without a READ deferred by begin_read")
        };
        let range = area.range.clone();
        let data = &mut area.buf[range];
        assert_eq!(data.as_ptr() as usize % PAGE, 0, "READ data must land page-aligned");
        if let (Some(mode), true) = (self.lend, area.lend) {
            let mut bytes = vec![0u8; data.len()];
            let done = self.read_at(&file, offset, &mut bytes).map(|n| n as u32);
            if let Ok(n) = done {
                bytes.truncate(n as usize);
                self.lent += 1;
                let lent: Box<dyn smb_session::LentBytes> = Box::new(FakeLent { bytes, mode });
                self.deferred.push_back(Deferred {
                    message_id,
                    buffer: area,
                    done,
                    crypto: None,
                    lent: Some(lent),
                });
                return;
            }
        }
        // Filled now (and sealed, with a transform); the test decides when the READ counts as finished.
        let done = self.read_at(&file, offset, data).map(|n| n as u32);
        let crypto = match done {
            Ok(n) => area.run_crypto(n as usize),
            Err(_) => None,
        };
        self.deferred.push_back(Deferred { message_id, buffer: area, done, crypto, lent: None });
    }

    /// The oldest deferred request, once the test released it; with `wait` (the server draining),
    /// whether released or not, as a device would finish it in the end.
    /// Deferred requests' RDMA transform crypto runs here, beside their I/O, as the server's helpers do.
    fn runs_placed_crypto(&self) -> bool {
        true
    }

    fn io_done(&mut self, wait: bool) -> Option<IoDone> {
        if self.deferred.is_empty() {
            return None;
        }
        let outcome = match self.finish.pop_front() {
            Some(outcome) => outcome,
            None if wait => None,
            None => return None,
        };
        let d = self.deferred.pop_front()?;
        let result = match outcome {
            None => d.done,
            Some(status) => Err(status),
        };
        let buf: IoBuf = d.buffer.buf;
        Some(IoDone { message_id: d.message_id, result, buf, crypto: d.crypto, lent: d.lent })
    }

    fn logoff(&mut self, session_id: u64) {
        self.opens.retain(|_, o| o.session != session_id);
    }

    fn network_interfaces(&mut self) -> Vec<NetworkInterfaceInfo> {
        Vec::new()
    }
}
