//! # smb-wire: the bytes of SMB2/3 and SMB Direct
//!
//! Typed messages for everything smbdx speaks: the SMB2 header and every command body the engine
//! uses (MS-SMB2 2.2), the SMB2 TRANSFORM_HEADER and the SMB 3.1.1 RDMA transform, and the SMB Direct
//! (MS-SMBD 2.2) negotiate and data transfer messages.
//!
//! What this crate is for: layouts. `parse` borrows from the input (payloads and names are slices of
//! it, never copies) and `encode` writes into a buffer the caller owns, so the engine can build messages
//! directly in registered RDMA memory. What it must not do: I/O, state, policy, crypto. Meaning (which
//! dialect, which credits, whether a message is allowed now) belongs to `smb-session` and `smbdirect`.
//!
//! Hostile input: every parser returns [`WireError`] naming the field at fault; lengths and offsets are
//! checked against the message and against caps, and no count read from the wire drives an allocation.
//!
//! ```
//! use smb_wire::{Command, Encode, Header, tree_connect::TreeConnectRequest, types::{utf16le, Utf16}};
//! let path = utf16le(r"\\node1\csv");
//! let req = TreeConnectRequest { flags: 0, path: Utf16::new(&path, "path").unwrap() };
//! let pdu = smb_wire::pdu::pdu_to_vec(&Header::request(Command::TREE_CONNECT, 3, 0x10, 0), &req);
//! let back = TreeConnectRequest::parse(&pdu).unwrap();
//! assert_eq!(back.path.to_string().unwrap(), r"\\node1\csv");
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

pub mod cancel;
pub mod channel;
pub mod close;
pub mod codec;
pub mod compound;
pub mod compression_transform;
pub mod create;
pub mod create_context;
pub mod echo;
mod empty_body;
pub mod error;
pub mod error_response;
pub mod flush;
pub mod framing;
pub mod fsctl;
pub mod header;
pub mod info;
pub mod ioctl;
pub mod logoff;
pub mod message;
pub mod negotiate;
pub mod negotiate_context;
pub mod pdu;
pub mod query_directory;
pub mod query_info;
pub mod read;
pub mod session_setup;
pub mod set_info;
pub mod smb1;
pub mod smbd;
pub mod status;
pub mod transform;
pub mod tree_connect;
pub mod types;
pub mod write;

pub use channel::{Channel, ChannelInfo, RdmaTransform};
pub use codec::{Encode, Reader, Writer};
pub use compound::{Compound, CompoundWriter};
pub use create_context::{CreateContext, CreateContexts};
pub use error::{Result, WireError};
pub use error_response::ErrorResponse;
pub use fsctl::CtlCode;
pub use header::{Command, Header, HeaderId, HEADER_LEN};
pub use info::{FileInfoClass, FsInfoClass};
pub use message::{parse_request, parse_response, Request, Response};
pub use negotiate::{Dialect, NegotiateRequest, NegotiateResponse};
pub use negotiate_context::{
    ContextData, ContextType, NegotiateContext, NegotiateContextList, NegotiateContexts, U16List,
};
pub use query_directory::{QueryDirectoryRequest, QueryDirectoryResponse};
pub use query_info::{InfoType, QueryInfoRequest, QueryInfoResponse};
pub use set_info::{SetInfoRequest, SetInfoResponse};
pub use status::NtStatus;
pub use transform::TransformHeader;
