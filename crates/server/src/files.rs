//! The file side of a connection: shares by name, one open table per session, and the mapping of
//! file commands onto [`smb_fs::Opens`] with their response bodies (MS-SMB2 3.3.5.9 - 3.3.5.21).

use crate::config::ShareConfig;
use crate::io_offload::IoOffload;
use smb_fs::{Opens, Share};
use smb_session::{
    put_body, FileContext, FileHandler, FileResult, IoBuffer, IoDone, IoStart, TreeGrant, WriteArgs,
};
use smb_wire::close::{close_flags, CloseResponse};
use smb_wire::codec::Writer;
use smb_wire::create::{CreateResponse, OplockLevel};
use smb_wire::flush::FlushResponse;
use smb_wire::fsctl::NetworkInterfaceInfo;
use smb_wire::header::{Header, HEADER_LEN};
use smb_wire::message::Request;
use smb_wire::query_directory::QueryDirectoryResponse;
use smb_wire::query_info::{InfoType, QueryInfoResponse};
use smb_wire::read::ReadRequest;
use smb_wire::set_info::SetInfoResponse;
use smb_wire::status::NtStatus;
use smb_wire::write::{write_flags, WriteResponse};
use smb_wire::CreateContexts;
use std::collections::HashMap;
use std::sync::Arc;

/// READs at least this long are done on a helper thread.
const DEFER_READ_MIN: usize = 64 * 1024;

/// The shares of a server and the open files of one connection's sessions.
pub struct ServerFiles {
    shares: Arc<Vec<Share>>,
    opens: HashMap<u64, Opens>,
    interfaces: Arc<dyn Fn() -> Vec<NetworkInterfaceInfo> + Send + Sync>,
    /// Where WRITEs and READs go to be done off the reactor; `None`: all are done on the reactor.
    io: Option<IoOffload>,
    /// The shares' EncryptData as the operator sets it now (same order as `shares`); `None`: as
    /// configured.
    live: Option<Arc<crate::live::Live>>,
    /// Where the count of open files is shown to the operator.
    open_files: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// Map files so that encrypted READs seal from the page cache ([`Opens::map_reads`]).
    map_reads: bool,
    /// Opens one session may hold; CREATE beyond answers STATUS_INSUFFICIENT_RESOURCES.
    max_opens: usize,
}

impl ServerFiles {
    pub fn new(
        shares: Arc<Vec<Share>>,
        interfaces: Arc<dyn Fn() -> Vec<NetworkInterfaceInfo> + Send + Sync>,
    ) -> Self {
        Self {
            shares,
            opens: HashMap::new(),
            interfaces,
            io: None,
            live: None,
            open_files: None,
            map_reads: false,
            max_opens: crate::config::DEFAULT_MAX_OPENS_PER_SESSION,
        }
    }

    /// Lets encrypted READs seal their data straight from the page cache (see `io_offload`).
    pub fn with_map_reads(mut self, on: bool) -> Self {
        self.map_reads = on;
        self
    }

    /// Opens one session may hold at once (`max_opens_per_session`).
    pub fn with_max_opens(mut self, max: usize) -> Self {
        self.max_opens = max;
        self
    }

    /// Keeps `count` at the number of files open on this connection (for the admin view).
    pub fn with_open_files(mut self, count: Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.open_files = Some(count);
        self
    }

    /// Files and directories open on this connection, all sessions together.
    pub fn open_count(&self) -> usize {
        self.opens.values().map(Opens::len).sum()
    }

    /// Stores the open-file count after a command that may change it (the reactor is its only
    /// writer: a relaxed store).
    fn publish_open_files(&self) {
        if let Some(c) = &self.open_files {
            let n = self.open_count();
            c.store(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Takes each share's EncryptData from `live` at every TREE_CONNECT (the operator may change it
    /// while the server runs); `live.shares` is in the order of the share table.
    pub fn with_live(mut self, live: Arc<crate::live::Live>) -> Self {
        self.live = Some(live);
        self
    }

    /// Hands O_DIRECT WRITEs and READs to `io` (the reactor's helper threads) instead of doing them
    /// on the reactor.
    pub fn with_io_offload(mut self, io: IoOffload) -> Self {
        self.io = Some(io);
        self
    }

    /// The connection's handle, for the helpers to wake it with finished requests.
    pub fn attach(&mut self, handle: engine::ConnectionHandle) {
        if let Some(w) = &mut self.io {
            w.attach(handle);
        }
    }

    /// What READ and WRITE refuse before touching the open: a share that is gone. (The session
    /// checked the channel: MS-SMB2 3.3.5.12 / 3.3.5.13.)
    fn check_share(&self, ctx: FileContext) -> Result<(), NtStatus> {
        self.shares.get(ctx.share as usize).map(|_| ()).ok_or(NtStatus::NETWORK_NAME_DELETED)
    }

    /// Every deferred request is done (its WRITE in the file): run before any other file command.
    fn settle(&mut self) {
        if let Some(w) = &mut self.io {
            w.settle();
        }
    }

    /// Builds the share table from configuration.
    pub fn shares(config: &[ShareConfig]) -> Vec<Share> {
        config
            .iter()
            .map(|s| Share {
                name: s.name.clone(),
                root: s.path.clone(),
                encrypt_data: s.encrypt_data,
                read_only: s.read_only,
                users: s.users.clone(),
            })
            .collect()
    }

    fn opens(&mut self, session_id: u64) -> &mut Opens {
        let (map_reads, max) = (self.map_reads, self.max_opens);
        self.opens.entry(session_id).or_insert_with(|| {
            let mut o = Opens::new(max);
            o.map_reads = map_reads;
            o
        })
    }
}

/// The share index of IPC$ (MS-SMB2 3.3.5.7: every server has it; clients connect to it first,
/// e.g. Linux's for DFS referrals). It has no named pipes here: opens on it find nothing.
const IPC_SHARE: u32 = u32::MAX;

impl FileHandler for ServerFiles {
    fn tree_connect(&mut self, _session_id: u64, user: &str, share: &str) -> Result<TreeGrant, NtStatus> {
        if share.eq_ignore_ascii_case("IPC$") {
            return Ok(TreeGrant {
                share: IPC_SHARE,
                share_name: "IPC$".into(),
                encrypt_data: false,
                share_type: smb_wire::tree_connect::share_type::PIPE,
                // FILE_READ_DATA | FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE
                maximal_access: 0x0012_0083,
            });
        }
        let (i, s) = self
            .shares
            .iter()
            .enumerate()
            .find(|(_, s)| s.name.eq_ignore_ascii_case(share))
            .ok_or(NtStatus::BAD_NETWORK_NAME)?;
        // MS-SMB2 3.3.5.7: a user the share's access list does not grant gets STATUS_ACCESS_DENIED.
        if !s.admits(user) {
            return Err(NtStatus::ACCESS_DENIED);
        }
        Ok(TreeGrant {
            share: i as u32,
            share_name: s.name.clone(),
            encrypt_data: self.live.as_ref().and_then(|l| l.share_encrypt_data(i)).unwrap_or(s.encrypt_data),
            share_type: smb_wire::tree_connect::share_type::DISK,
            // FILE_ALL_ACCESS, or read and execute on a read-only share.
            maximal_access: if s.read_only { 0x0012_01BF } else { 0x001F_01FF },
        })
    }

    fn tree_disconnect(&mut self, _ctx: FileContext) {
        self.settle();
    }

    fn execute(
        &mut self,
        ctx: FileContext,
        _header: &Header,
        req: &Request<'_>,
        pdu: &mut Vec<u8>,
    ) -> FileResult {
        self.settle();
        if ctx.share == IPC_SHARE {
            return Err(match req {
                Request::Create(_) => NtStatus::OBJECT_NAME_NOT_FOUND,
                _ => NtStatus::NOT_SUPPORTED,
            });
        }
        let shares = Arc::clone(&self.shares);
        let share = shares.get(ctx.share as usize).ok_or(NtStatus::NETWORK_NAME_DELETED)?;
        let result = self.execute_in(ctx, share, req, pdu);
        if matches!(req, Request::Create(_) | Request::Close(_)) {
            self.publish_open_files();
        }
        result
    }

    /// Checks the WRITE now; one that goes O_DIRECT is left to a helper thread, anything else
    /// (unaligned, a file on tmpfs or ramfs, or a file system without O_DIRECT) is written here.
    fn begin_write(&mut self, ctx: FileContext, header: &Header, args: &WriteArgs) -> IoStart {
        if self.io.is_none() {
            return IoStart::Execute;
        }
        if let Err(status) = self.check_share(ctx) {
            return IoStart::Done(Err(status));
        }
        let through = args.flags & write_flags::WRITE_THROUGH != 0;
        let prepared =
            match self.opens(ctx.session_id).prepare_write(args.file_id, args.offset, args.len, through) {
                Ok(p) => p,
                Err(status) => return IoStart::Done(Err(status)),
            };
        if !prepared.is_direct() {
            // Written where it lies, when it arrives (`write`), as the session does with Execute.
            return IoStart::Execute;
        }
        if let Some(w) = &mut self.io {
            w.plan_write(header.message_id, prepared);
        }
        IoStart::Deferred
    }

    /// A WRITE done here: its payload in the file before the answer (WRITE_THROUGH also syncs).
    fn write(
        &mut self,
        ctx: FileContext,
        _header: &Header,
        args: &WriteArgs,
        data: &[u8],
    ) -> Result<u32, NtStatus> {
        self.check_share(ctx)?;
        self.settle();
        let through = args.flags & write_flags::WRITE_THROUGH != 0;
        let data = data.get(..args.len).ok_or(NtStatus::INVALID_PARAMETER)?;
        self.opens(ctx.session_id).write(args.file_id, args.offset, data, through).map(|n| n as u32)
    }

    fn submit_write(&mut self, message_id: u64, payload: IoBuffer) {
        if let Some(w) = &mut self.io {
            w.submit(message_id, payload);
        }
    }

    /// Checks the READ now (after the WRITEs in flight are in the file) and leaves the copy from the
    /// page cache, or the wait for the disk, to a helper thread.
    fn begin_read(&mut self, ctx: FileContext, header: &Header, req: &ReadRequest<'_>) -> IoStart {
        // A small READ costs less to copy here than to hand over and wake for.
        if self.io.is_none() || (req.length as usize) < DEFER_READ_MIN {
            return IoStart::Execute;
        }
        if let Err(status) = self.check_share(ctx) {
            return IoStart::Done(Err(status));
        }
        if let Some(io) = &mut self.io {
            io.settle_writes();
        }
        match self.opens(ctx.session_id).prepare_read(req.file_id, req.offset, req.length as usize) {
            Ok(prepared) => {
                if let Some(io) = &mut self.io {
                    io.plan_read(header.message_id, prepared);
                }
                IoStart::Deferred
            }
            Err(status) => IoStart::Done(Err(status)),
        }
    }

    fn submit_read(&mut self, message_id: u64, area: IoBuffer) {
        if let Some(io) = &mut self.io {
            io.submit(message_id, area);
        }
    }

    /// The helpers that read and write the data also seal, open, sign and verify it (RDMA transform).
    fn runs_placed_crypto(&self) -> bool {
        true
    }

    fn io_done(&mut self, wait: bool) -> Option<IoDone> {
        self.io.as_mut()?.done(wait)
    }

    /// The data lands in the response buffer itself, copied once from the page cache (smb-fs says why
    /// reads are not O_DIRECT).
    fn read(
        &mut self,
        ctx: FileContext,
        _header: &Header,
        req: &ReadRequest<'_>,
        data: &mut [u8],
    ) -> Result<usize, NtStatus> {
        self.check_share(ctx)?;
        self.settle();
        self.opens(ctx.session_id).read(req.file_id, req.offset, data)
    }

    fn logoff(&mut self, session_id: u64) {
        self.settle();
        if let Some(mut o) = self.opens.remove(&session_id) {
            o.close_all();
        }
        self.publish_open_files();
    }

    fn network_interfaces(&mut self) -> Vec<NetworkInterfaceInfo> {
        (self.interfaces)()
    }
}

impl ServerFiles {
    fn execute_in(
        &mut self,
        ctx: FileContext,
        share: &Share,
        req: &Request<'_>,
        pdu: &mut Vec<u8>,
    ) -> FileResult {
        let opens = self.opens(ctx.session_id);
        match req {
            Request::Create(c) => {
                let out = opens.create(share, c)?;
                put_body(
                    pdu,
                    &CreateResponse {
                        oplock_level: OplockLevel::NONE,
                        flags: 0,
                        create_action: out.action,
                        info: out.info,
                        file_id: out.file_id,
                        create_contexts: CreateContexts::default(),
                    },
                );
                Ok(NtStatus::SUCCESS)
            }
            Request::Close(c) => {
                let post = c.flags & close_flags::POSTQUERY_ATTRIB != 0;
                let info = opens.close(c.file_id, post)?;
                let flags = if info.is_some() { close_flags::POSTQUERY_ATTRIB } else { 0 };
                put_body(pdu, &CloseResponse { flags, info: info.unwrap_or_default() });
                Ok(NtStatus::SUCCESS)
            }
            Request::Flush(f) => {
                opens.flush(f.file_id)?;
                put_body(pdu, &FlushResponse);
                Ok(NtStatus::SUCCESS)
            }
            Request::Write(wr) => {
                let through = wr.flags & write_flags::WRITE_THROUGH != 0;
                let n = opens.write(wr.file_id, wr.offset, wr.data, through)?;
                put_body(
                    pdu,
                    &WriteResponse {
                        count: n as u32,
                        remaining: 0,
                        write_channel_info_offset: 0,
                        write_channel_info_length: 0,
                    },
                );
                Ok(NtStatus::SUCCESS)
            }
            Request::QueryDirectory(q) => {
                let pattern = q.file_name.to_string().map_err(|_| NtStatus::OBJECT_NAME_INVALID)?;
                let cap = q.output_buffer_length as usize;
                let at = QueryDirectoryResponse::OUTPUT_OFFSET;
                pdu.resize(at + cap.max(1), 0);
                let n = opens.query_directory(
                    q.file_id,
                    q.file_information_class,
                    q.flags,
                    &pattern,
                    &mut pdu[at..at + cap],
                )?;
                pdu.truncate(at + n.max(1));
                let mut w = Writer::at(pdu, HEADER_LEN).map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
                QueryDirectoryResponse::encode_fixed(&mut w, n)
                    .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
                Ok(NtStatus::SUCCESS)
            }
            Request::QueryInfo(q) => {
                let cap = q.output_buffer_length as usize;
                let at = QueryInfoResponse::OUTPUT_OFFSET;
                pdu.resize(at + cap.max(1), 0);
                let (n, truncated) = if q.info_type == InfoType::SECURITY {
                    security_descriptor(&mut pdu[at..at + cap])?
                } else {
                    opens.query_info(q.file_id, q.info_type.0, q.file_info_class, &mut pdu[at..at + cap])?
                };
                pdu.truncate(at + n.max(1));
                let mut w = Writer::at(pdu, HEADER_LEN).map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
                QueryInfoResponse::encode_fixed(&mut w, n).map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
                Ok(if truncated { NtStatus::BUFFER_OVERFLOW } else { NtStatus::SUCCESS })
            }
            Request::SetInfo(s) => {
                if s.info_type == InfoType::SECURITY {
                    // Permissions live in the share's directory; a client's ACL is accepted and ignored.
                    put_body(pdu, &SetInfoResponse);
                    return Ok(NtStatus::SUCCESS);
                }
                opens.set_info(share, s.file_id, s.info_type.0, s.file_info_class, s.buffer)?;
                put_body(pdu, &SetInfoResponse);
                Ok(NtStatus::SUCCESS)
            }
            Request::Ioctl(_) => Err(NtStatus::NOT_SUPPORTED),
            _ => Err(NtStatus::NOT_SUPPORTED),
        }
    }
}

/// A self-relative security descriptor (MS-DTYP 2.4.6) granting Everyone full access: what clients
/// that ask (smbclient allinfo, Windows Explorer) get, since access is decided by the share.
fn security_descriptor(out: &mut [u8]) -> Result<(usize, bool), NtStatus> {
    const EVERYONE: [u8; 12] = [1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    let mut sd = Vec::with_capacity(80);
    sd.extend_from_slice(&[1, 0]); // Revision, Sbz1
    sd.extend_from_slice(&0x8004u16.to_le_bytes()); // SE_SELF_RELATIVE | SE_DACL_PRESENT
    let owner = 20u32;
    let group = owner + 12;
    let dacl = group + 12;
    sd.extend_from_slice(&owner.to_le_bytes());
    sd.extend_from_slice(&group.to_le_bytes());
    sd.extend_from_slice(&0u32.to_le_bytes()); // no SACL
    sd.extend_from_slice(&dacl.to_le_bytes());
    sd.extend_from_slice(&EVERYONE);
    sd.extend_from_slice(&EVERYONE);
    // ACL: revision 2, size 8 + one 20-byte ACE, one ACE.
    sd.extend_from_slice(&[2, 0]);
    sd.extend_from_slice(&28u16.to_le_bytes());
    sd.extend_from_slice(&1u16.to_le_bytes());
    sd.extend_from_slice(&[0, 0]);
    sd.extend_from_slice(&[0, 0]); // ACCESS_ALLOWED_ACE_TYPE, flags
    sd.extend_from_slice(&20u16.to_le_bytes());
    sd.extend_from_slice(&0x001F_01FFu32.to_le_bytes());
    sd.extend_from_slice(&EVERYONE);
    if out.len() < sd.len() {
        return Err(NtStatus::BUFFER_TOO_SMALL);
    }
    out[..sd.len()].copy_from_slice(&sd);
    Ok((sd.len(), false))
}
