//! SMB Direct (MS-SMBD 2.2) messages: the negotiate pair, the data transfer message and buffer
//! descriptors. Meaning (credits, fragmentation, keepalive) lives in the `smbdirect` crate.

pub mod buffer_descriptor;

pub use buffer_descriptor::{BufferDescriptorList, BufferDescriptorV1};
