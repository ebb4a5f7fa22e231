//! Typed whole messages: an SMB2 PDU's header plus its body, dispatched on Command and direction.
//!
//! This is the top-level decoder the session layer calls for every PDU (after framing, decryption and
//! cutting compounds), and the one the fuzz targets drive. Commands this codec does not model are
//! carried as [`Request::Other`] / [`Response::Other`] so the session layer can answer them with
//! STATUS_NOT_SUPPORTED instead of dropping the connection.

use crate::cancel::CancelRequest;
use crate::close::{CloseRequest, CloseResponse};
use crate::create::{CreateRequest, CreateResponse};
use crate::echo::Echo;
use crate::error::Result;
use crate::error_response::ErrorResponse;
use crate::flush::{FlushRequest, FlushResponse};
use crate::header::{Command, Header, HEADER_LEN};
use crate::ioctl::{IoctlRequest, IoctlResponse};
use crate::logoff::Logoff;
use crate::negotiate::{NegotiateRequest, NegotiateResponse};
use crate::pdu::EncodeDyn;
use crate::query_directory::{QueryDirectoryRequest, QueryDirectoryResponse};
use crate::query_info::{QueryInfoRequest, QueryInfoResponse};
use crate::read::{ReadRequest, ReadResponse};
use crate::session_setup::{SessionSetupRequest, SessionSetupResponse};
use crate::set_info::{SetInfoRequest, SetInfoResponse};
use crate::status::NtStatus;
use crate::tree_connect::{TreeConnectRequest, TreeConnectResponse, TreeDisconnect};
use crate::write::{WriteRequest, WriteResponse};

/// The body of an SMB2 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    Negotiate(NegotiateRequest<'a>),
    SessionSetup(SessionSetupRequest<'a>),
    Logoff(Logoff),
    TreeConnect(TreeConnectRequest<'a>),
    TreeDisconnect(TreeDisconnect),
    Create(CreateRequest<'a>),
    Close(CloseRequest),
    Flush(FlushRequest),
    Read(ReadRequest<'a>),
    Write(WriteRequest<'a>),
    Ioctl(IoctlRequest<'a>),
    Cancel(CancelRequest),
    Echo(Echo),
    QueryDirectory(QueryDirectoryRequest<'a>),
    QueryInfo(QueryInfoRequest<'a>),
    SetInfo(SetInfoRequest<'a>),
    /// LOCK, CHANGE_NOTIFY, OPLOCK_BREAK and unknown commands: the raw body.
    Other {
        command: Command,
        body: &'a [u8],
    },
}

/// Parses one request PDU (`pdu` starts at its SMB2 header and ends at its end or NextCommand).
pub fn parse_request(pdu: &[u8]) -> Result<(Header, Request<'_>)> {
    let header = Header::parse(pdu)?;
    let body = match header.command {
        Command::NEGOTIATE => Request::Negotiate(NegotiateRequest::parse(pdu)?),
        Command::SESSION_SETUP => Request::SessionSetup(SessionSetupRequest::parse(pdu)?),
        Command::LOGOFF => Request::Logoff(Logoff::parse(pdu)?),
        Command::TREE_CONNECT => Request::TreeConnect(TreeConnectRequest::parse(pdu)?),
        Command::TREE_DISCONNECT => Request::TreeDisconnect(TreeDisconnect::parse(pdu)?),
        Command::CREATE => Request::Create(CreateRequest::parse(pdu)?),
        Command::CLOSE => Request::Close(CloseRequest::parse(pdu)?),
        Command::FLUSH => Request::Flush(FlushRequest::parse(pdu)?),
        Command::READ => Request::Read(ReadRequest::parse(pdu)?),
        Command::WRITE => Request::Write(WriteRequest::parse(pdu)?),
        Command::IOCTL => Request::Ioctl(IoctlRequest::parse(pdu)?),
        Command::CANCEL => Request::Cancel(CancelRequest::parse(pdu)?),
        Command::ECHO => Request::Echo(Echo::parse(pdu)?),
        Command::QUERY_DIRECTORY => Request::QueryDirectory(QueryDirectoryRequest::parse(pdu)?),
        Command::QUERY_INFO => Request::QueryInfo(QueryInfoRequest::parse(pdu)?),
        Command::SET_INFO => Request::SetInfo(SetInfoRequest::parse(pdu)?),
        command => Request::Other { command, body: &pdu[HEADER_LEN..] },
    };
    Ok((header, body))
}

/// The body of an SMB2 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response<'a> {
    /// MS-SMB2 2.2.2: any command's failure.
    Error(ErrorResponse<'a>),
    Negotiate(NegotiateResponse<'a>),
    SessionSetup(SessionSetupResponse<'a>),
    Logoff(Logoff),
    TreeConnect(TreeConnectResponse),
    TreeDisconnect(TreeDisconnect),
    Create(CreateResponse<'a>),
    Close(CloseResponse),
    Flush(FlushResponse),
    Read(ReadResponse<'a>),
    Write(WriteResponse),
    Ioctl(IoctlResponse<'a>),
    Echo(Echo),
    QueryDirectory(QueryDirectoryResponse<'a>),
    QueryInfo(QueryInfoResponse<'a>),
    SetInfo(SetInfoResponse),
    Other {
        command: Command,
        body: &'a [u8],
    },
}

/// Whether a response with this status carries the command's own body rather than an ERROR body.
///
/// MS-SMB2 3.3.4.4: errors use the ERROR response, except where the command defines a body for the
/// status: SESSION_SETUP with MORE_PROCESSING_REQUIRED, and warnings (BUFFER_OVERFLOW for READ, IOCTL,
/// QUERY_INFO and QUERY_DIRECTORY) which are not error-severity anyway.
fn has_command_body(command: Command, status: NtStatus) -> bool {
    !status.is_error() || (command == Command::SESSION_SETUP && status == NtStatus::MORE_PROCESSING_REQUIRED)
}

/// Parses one response PDU.
pub fn parse_response(pdu: &[u8]) -> Result<(Header, Response<'_>)> {
    let header = Header::parse(pdu)?;
    if !has_command_body(header.command, header.nt_status()) {
        return Ok((header, Response::Error(ErrorResponse::parse(pdu)?)));
    }
    let body = match header.command {
        Command::NEGOTIATE => Response::Negotiate(NegotiateResponse::parse(pdu)?),
        Command::SESSION_SETUP => Response::SessionSetup(SessionSetupResponse::parse(pdu)?),
        Command::LOGOFF => Response::Logoff(Logoff::parse(pdu)?),
        Command::TREE_CONNECT => Response::TreeConnect(TreeConnectResponse::parse(pdu)?),
        Command::TREE_DISCONNECT => Response::TreeDisconnect(TreeDisconnect::parse(pdu)?),
        Command::CREATE => Response::Create(CreateResponse::parse(pdu)?),
        Command::CLOSE => Response::Close(CloseResponse::parse(pdu)?),
        Command::FLUSH => Response::Flush(FlushResponse::parse(pdu)?),
        Command::READ => Response::Read(ReadResponse::parse(pdu)?),
        Command::WRITE => Response::Write(WriteResponse::parse(pdu)?),
        Command::IOCTL => Response::Ioctl(IoctlResponse::parse(pdu)?),
        Command::ECHO => Response::Echo(Echo::parse(pdu)?),
        Command::QUERY_DIRECTORY => Response::QueryDirectory(QueryDirectoryResponse::parse(pdu)?),
        Command::QUERY_INFO => Response::QueryInfo(QueryInfoResponse::parse(pdu)?),
        Command::SET_INFO => Response::SetInfo(SetInfoResponse::parse(pdu)?),
        command => Response::Other { command, body: &pdu[HEADER_LEN..] },
    };
    Ok((header, body))
}

impl Request<'_> {
    /// The body as an encodable value; `Other` bodies are opaque and have none.
    pub fn body(&self) -> Option<&dyn EncodeDyn> {
        Some(match self {
            Request::Negotiate(b) => b,
            Request::SessionSetup(b) => b,
            Request::Logoff(b) => b,
            Request::TreeConnect(b) => b,
            Request::TreeDisconnect(b) => b,
            Request::Create(b) => b,
            Request::Close(b) => b,
            Request::Flush(b) => b,
            Request::Read(b) => b,
            Request::Write(b) => b,
            Request::Ioctl(b) => b,
            Request::Cancel(b) => b,
            Request::Echo(b) => b,
            Request::QueryDirectory(b) => b,
            Request::QueryInfo(b) => b,
            Request::SetInfo(b) => b,
            Request::Other { .. } => return None,
        })
    }
}

impl Response<'_> {
    /// The body as an encodable value; `Other` bodies are opaque and have none.
    pub fn body(&self) -> Option<&dyn EncodeDyn> {
        Some(match self {
            Response::Error(b) => b,
            Response::Negotiate(b) => b,
            Response::SessionSetup(b) => b,
            Response::Logoff(b) => b,
            Response::TreeConnect(b) => b,
            Response::TreeDisconnect(b) => b,
            Response::Create(b) => b,
            Response::Close(b) => b,
            Response::Flush(b) => b,
            Response::Read(b) => b,
            Response::Write(b) => b,
            Response::Ioctl(b) => b,
            Response::Echo(b) => b,
            Response::QueryDirectory(b) => b,
            Response::QueryInfo(b) => b,
            Response::SetInfo(b) => b,
            Response::Other { .. } => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Encode;
    use crate::header::flags;
    use crate::pdu::pdu_to_vec;
    use crate::types::{utf16le, FileId, Utf16};
    use proptest::prelude::*;

    fn response_header(command: Command, status: NtStatus) -> Header {
        Header { command, status: status.0, flags: flags::SERVER_TO_REDIR, credits: 1, ..Header::default() }
    }

    #[test]
    fn requests_dispatch_on_command() {
        let path = utf16le(r"\\n\s");
        let tc = TreeConnectRequest { flags: 0, path: Utf16::new(&path, "p").unwrap() };
        let p = pdu_to_vec(&Header::request(Command::TREE_CONNECT, 3, 9, 0), &tc);
        let (h, r) = parse_request(&p).unwrap();
        assert_eq!(h.message_id, 3);
        assert_eq!(r, Request::TreeConnect(tc));

        let close = CloseRequest { flags: 1, file_id: FileId { persistent: 5, volatile: 6 } };
        let p = pdu_to_vec(&Header::request(Command::CLOSE, 4, 9, 1), &close);
        assert_eq!(parse_request(&p).unwrap().1, Request::Close(close));
    }

    #[test]
    fn unmodelled_commands_are_carried_not_refused() {
        let mut p = pdu_to_vec(&Header::request(Command::LOCK, 1, 1, 1), &Echo);
        p.extend_from_slice(&[1, 2, 3]);
        match parse_request(&p).unwrap().1 {
            Request::Other { command, body } => {
                assert_eq!(command, Command::LOCK);
                assert_eq!(body.len(), 7);
            }
            other => panic!("{other:?}"),
        }
        let p = pdu_to_vec(&Header::request(Command(0x99), 1, 1, 1), &Echo);
        assert!(matches!(parse_request(&p).unwrap().1, Request::Other { command: Command(0x99), .. }));
    }

    #[test]
    fn error_status_selects_the_error_body_except_session_setup_more_processing() {
        let mut p = response_header(Command::CREATE, NtStatus::OBJECT_NAME_NOT_FOUND).to_vec();
        p.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(parse_response(&p).unwrap().1, Response::Error(_)));
        // The same bytes with a success status are read as a CREATE response, which they are not.
        p[8..12].copy_from_slice(&0u32.to_le_bytes());
        assert!(parse_response(&p).is_err());

        let ss = SessionSetupResponse { session_flags: 0, security_buffer: &[0x60, 0x01, 0x00] };
        let p = pdu_to_vec(&response_header(Command::SESSION_SETUP, NtStatus::MORE_PROCESSING_REQUIRED), &ss);
        assert_eq!(parse_response(&p).unwrap().1, Response::SessionSetup(ss));
    }

    proptest! {
        /// Whatever parses re-encodes to bytes that parse to the same message (the fuzz oracle, run
        /// here on random bytes behind a valid header of each command).
        #[test]
        fn parse_encode_parse_is_stable(cmd in 0u16..0x14, body in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut p = Header::request(Command(cmd), 1, 2, 3).to_vec();
            p.extend_from_slice(&body);
            if let Ok((h, r)) = parse_request(&p) {
                if let Some(b) = r.body() {
                    let again = pdu_to_vec(&h, b);
                    prop_assert_eq!(parse_request(&again).unwrap().1, r);
                }
            }
        }
    }
}
