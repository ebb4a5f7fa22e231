//! The one error type of the wire codec: every variant names the field that was wrong.

/// What went wrong while parsing or encoding a message, and where.
///
/// Parsers of network bytes return these and never panic; the protocol layer above maps them to the
/// NTSTATUS that MS-SMB2 names for the situation (usually STATUS_INVALID_PARAMETER) or drops the
/// connection where the spec says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended before a fixed-size field.
    #[error("{field}: needs {need} bytes at offset {at}, the input has {have}")]
    Truncated { field: &'static str, at: usize, need: usize, have: usize },

    /// A field holds a value the layout does not allow (wrong StructureSize, bad protocol id, ...).
    #[error("{field}: invalid value {value:#x}")]
    BadValue { field: &'static str, value: u64 },

    /// An offset/length pair points outside the message.
    #[error("{field}: offset {offset} + length {len} lies outside the {msg_len}-byte message")]
    OutOfBounds { field: &'static str, offset: usize, len: usize, msg_len: usize },

    /// A length or count is above the cap this codec accepts.
    #[error("{field}: {value} is above the limit of {cap}")]
    TooLarge { field: &'static str, value: usize, cap: usize },

    /// An offset that the spec requires to be aligned is not.
    #[error("{field}: offset {offset} is not a multiple of {align}")]
    Misaligned { field: &'static str, offset: usize, align: usize },

    /// The caller's output buffer is too small for the encoding.
    #[error("output buffer too small: needs {need} bytes, has {have}")]
    BufferTooSmall { need: usize, have: usize },
}

/// Result alias used throughout the crate.
pub type Result<T> = core::result::Result<T, WireError>;
