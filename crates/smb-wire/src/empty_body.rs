//! The 4-byte body `StructureSize = 4, Reserved` shared by LOGOFF, TREE_DISCONNECT, ECHO, CANCEL and
//! the FLUSH response: one parser, one encoder, and a macro that gives each command its own type (so
//! errors name the right message and the dispatcher cannot confuse them).

use crate::codec::{Reader, Writer};
use crate::error::{Result, WireError};
use crate::header::HEADER_LEN;

/// Parses the empty body of `pdu`; `field` names the message in errors.
pub(crate) fn parse_empty_body(pdu: &[u8], field: &'static str) -> Result<()> {
    let mut r = Reader::at(pdu, HEADER_LEN)?;
    r.expect_u16(4, field)?;
    r.skip(2, field).map_err(|e| match e {
        WireError::Truncated { at, need, have, .. } => WireError::Truncated { field, at, need, have },
        e => e,
    })
}

pub(crate) fn encode_empty_body(w: &mut Writer<'_>) -> Result<()> {
    w.u16(4)?;
    w.u16(0)
}

/// Declares a unit struct for an empty-bodied message with `parse` and `Encode`.
macro_rules! empty_body {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl $name {
            pub const STRUCTURE_SIZE: u16 = 4;

            pub fn parse(pdu: &[u8]) -> $crate::error::Result<Self> {
                $crate::empty_body::parse_empty_body(pdu, $field).map(|()| Self)
            }
        }

        impl $crate::codec::Encode for $name {
            fn encoded_len_at(&self, _at: usize) -> usize {
                4
            }

            fn encode(&self, w: &mut $crate::codec::Writer<'_>) -> $crate::error::Result<()> {
                $crate::empty_body::encode_empty_body(w)
            }
        }
    };
}
pub(crate) use empty_body;
