//! SMB Direct (MS-SMBD 2.2) messages: the negotiate pair, the data transfer message and buffer
//! descriptors. Meaning (credits, fragmentation, keepalive) lives in the `smbdirect` crate.

pub mod buffer_descriptor;
pub mod data_transfer;
pub mod negotiate;

pub use buffer_descriptor::{BufferDescriptorList, BufferDescriptorV1};
pub use data_transfer::{data_transfer_flags, DataTransfer, DataTransferHeader, DATA_OFFSET};
pub use negotiate::{NegotiateRequest, NegotiateResponse, Version};
