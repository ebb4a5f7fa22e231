//! The boundary between the protocol (this crate) and the files (the server): what a tree is, and the
//! file commands the connection hands over once session, tree, signing and encryption checks passed.

use smb_wire::fsctl::NetworkInterfaceInfo;
use smb_wire::header::HEADER_LEN;
use smb_wire::message::Request;
use smb_wire::read::{ReadRequest, ReadResponse};
use smb_wire::status::NtStatus;
use smb_wire::Header;

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

/// The file side of a server connection: implemented by the server over its shares.
pub trait FileHandler: Send {
    /// Maps a share name (the last component of `\\server\share`) to a grant, or
    /// STATUS_BAD_NETWORK_NAME.
    fn tree_connect(&mut self, session_id: u64, share: &str) -> Result<TreeGrant, NtStatus>;
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
