//! MS-SMB2 2.2.2 SMB2 ERROR Response and 2.2.2.1 SMB2 ERROR Context Response (3.1.1).
//!
//! ErrorData is carried raw. Its 2.2.2.2 formats (symbolic link error, share redirect, the 4-byte
//! size of STATUS_BUFFER_TOO_SMALL) depend on the status and are left to the caller; with a non-zero
//! ErrorContextCount the data is an array of error contexts, validated at parse time and iterated
//! lazily from the borrowed bytes.

use crate::codec::{padding, slice_at, Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::header::HEADER_LEN;
use crate::types::{narrow_u32, us};

/// MS-SMB2 2.2.2.1 ErrorId. A newtype: later revisions may add identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ErrorId(pub u32);

impl ErrorId {
    pub const DEFAULT: ErrorId = ErrorId(0x0000_0000);
    /// ErrorContextData is a 2.2.2.2.2 Share Redirect Error Context Response.
    pub const SHARE_REDIRECT: ErrorId = ErrorId(0x7264_5253);
}

/// MS-SMB2 2.2.2 SMB2 ERROR Response.
///
/// `error_data` holds exactly ByteCount bytes. On encode an empty `error_data` is written as the one
/// zero byte that StructureSize 9 counts; on parse that byte may be absent (ByteCount 0 says there is
/// nothing to read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorResponse<'a> {
    /// 3.1.1 only: the number of [`ErrorContext`]s in `error_data`; 0 otherwise.
    pub error_context_count: u8,
    pub error_data: &'a [u8],
}

impl<'a> ErrorResponse<'a> {
    pub const STRUCTURE_SIZE: u16 = 9;
    const FIXED: usize = 8;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "ErrorResponse.StructureSize")?;
        let error_context_count = r.u8("ErrorResponse.ErrorContextCount")?;
        r.skip(1, "ErrorResponse.Reserved")?;
        let byte_count = us(r.u32("ErrorResponse.ByteCount")?);
        let error_data = slice_at(pdu, r.pos(), byte_count, "ErrorResponse.ErrorData")?;
        let rsp = Self { error_context_count, error_data };
        // Walk the contexts once so that iteration later cannot fail.
        let mut it = rsp.contexts();
        while it.next_checked()?.is_some() {}
        Ok(rsp)
    }

    /// The 2.2.2.1 contexts (empty when ErrorContextCount is 0). Yields nothing past a malformed
    /// context, which [`ErrorResponse::parse`] has already refused.
    pub fn contexts(&self) -> ErrorContexts<'a> {
        ErrorContexts { data: self.error_data, pos: 0, left: self.error_context_count }
    }

    /// The first context with `id`, if any.
    pub fn context(&self, id: ErrorId) -> Option<ErrorContext<'a>> {
        self.contexts().find(|c| c.error_id == id)
    }
}

impl Encode for ErrorResponse<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED + self.error_data.len().max(1)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u8(self.error_context_count)?;
        w.u8(0)?;
        w.u32(narrow_u32(self.error_data.len(), "ErrorResponse.ByteCount")?)?;
        if self.error_data.is_empty() {
            // "If ByteCount is zero, ErrorData is one byte in length" (MS-SMB2 2.2.2).
            w.u8(0)
        } else {
            w.bytes(self.error_data)
        }
    }
}

/// MS-SMB2 2.2.2.1 SMB2 ERROR Context Response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorContext<'a> {
    pub error_id: ErrorId,
    /// ErrorContextData, raw (2.2.2.2 formats are the caller's business).
    pub data: &'a [u8],
}

impl<'a> ErrorContext<'a> {
    /// ErrorDataLength + ErrorId.
    pub const HEADER_LEN: usize = 8;
    /// Contexts start 8-byte aligned, counted from the start of the ERROR Response body (which is
    /// itself 8-aligned from the SMB2 header, so from ErrorData's start too).
    pub const ALIGN: usize = 8;

    /// ErrorData bytes that [`ErrorContext::encode_list`] writes for `ctxs`: each context padded to
    /// 8 bytes except the last.
    pub fn list_len(ctxs: &[ErrorContext<'_>]) -> usize {
        let mut n = 0;
        for (i, c) in ctxs.iter().enumerate() {
            if i > 0 {
                n += padding(n, Self::ALIGN);
            }
            n += Self::HEADER_LEN + c.data.len();
        }
        n
    }

    /// Writes `ctxs` as ErrorData (to be handed to [`ErrorResponse`] with
    /// `error_context_count = ctxs.len()`). The writer's origin must be ErrorData's start or any
    /// 8-aligned position before it.
    pub fn encode_list(ctxs: &[ErrorContext<'_>], w: &mut Writer<'_>) -> Result<()> {
        if ctxs.len() > usize::from(u8::MAX) {
            return Err(WireError::TooLarge {
                field: "ErrorResponse.ErrorContextCount",
                value: ctxs.len(),
                cap: usize::from(u8::MAX),
            });
        }
        for (i, c) in ctxs.iter().enumerate() {
            if i > 0 {
                w.align(Self::ALIGN)?;
            }
            w.u32(narrow_u32(c.data.len(), "ErrorContext.ErrorDataLength")?)?;
            w.u32(c.error_id.0)?;
            w.bytes(c.data)?;
        }
        Ok(())
    }
}

/// Lazy iterator over the error contexts of an [`ErrorResponse`]; never allocates.
#[derive(Debug, Clone)]
pub struct ErrorContexts<'a> {
    data: &'a [u8],
    pos: usize,
    left: u8,
}

impl<'a> ErrorContexts<'a> {
    fn next_checked(&mut self) -> Result<Option<ErrorContext<'a>>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        // Padding between contexts must lie inside ErrorData; it precedes every context but the first.
        let mut r = Reader::at(self.data, self.pos)?;
        if self.pos != 0 {
            r.align(ErrorContext::ALIGN, "ErrorContext.Padding")?;
        }
        let len = us(r.u32("ErrorContext.ErrorDataLength")?);
        let error_id = ErrorId(r.u32("ErrorContext.ErrorId")?);
        let data = slice_at(self.data, r.pos(), len, "ErrorContext.ErrorContextData")?;
        // slice_at succeeded, so this cannot overflow.
        self.pos = r.pos() + len;
        Ok(Some(ErrorContext { error_id, data }))
    }
}

impl<'a> Iterator for ErrorContexts<'a> {
    type Item = ErrorContext<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_checked() {
            Ok(c) => c,
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Command;
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use proptest::prelude::*;

    fn with_contexts(ctxs: &[ErrorContext<'_>]) -> Vec<u8> {
        let mut data = vec![0u8; ErrorContext::list_len(ctxs)];
        let mut w = Writer::new(&mut data);
        ErrorContext::encode_list(ctxs, &mut w).unwrap();
        assert_eq!(w.pos(), data.len(), "list_len is exact");
        data
    }

    #[test]
    fn plain_error_is_nine_bytes() {
        let p = pdu(Command::CREATE, &ErrorResponse::default());
        assert_eq!(&p[HEADER_LEN..], &[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ErrorResponse::parse(&p).unwrap(), ErrorResponse::default());
        // Peers that leave out the pad byte are still understood.
        assert_eq!(ErrorResponse::parse(&p[..HEADER_LEN + 8]).unwrap(), ErrorResponse::default());
    }

    #[test]
    fn buffer_too_small_carries_the_size_raw() {
        let size = 0x1234u32.to_le_bytes();
        let rsp = ErrorResponse { error_context_count: 0, error_data: &size };
        let p = pdu(Command::QUERY_INFO, &rsp);
        assert_eq!(&p[HEADER_LEN..], &[9, 0, 0, 0, 4, 0, 0, 0, 0x34, 0x12, 0, 0]);
        assert_eq!(ErrorResponse::parse(&p).unwrap().error_data, &size);
    }

    #[test]
    fn contexts_are_aligned_and_iterated() {
        let a = [1u8, 2, 3];
        let b = [9u8; 12];
        let ctxs = [
            ErrorContext { error_id: ErrorId::DEFAULT, data: &a },
            ErrorContext { error_id: ErrorId::SHARE_REDIRECT, data: &b },
        ];
        let data = with_contexts(&ctxs);
        // 8 + 3, padded to 16, then 8 + 12.
        assert_eq!(data.len(), 16 + 20);
        assert_eq!(&data[..8], &[3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&data[16..24], &[12, 0, 0, 0, 0x53, 0x52, 0x64, 0x72]);
        let rsp = ErrorResponse { error_context_count: 2, error_data: &data };
        let p = pdu(Command::TREE_CONNECT, &rsp);
        let back = ErrorResponse::parse(&p).unwrap();
        assert_eq!(back.contexts().collect::<Vec<_>>(), ctxs.to_vec());
        assert_eq!(back.context(ErrorId::SHARE_REDIRECT).unwrap().data, &b);
    }

    #[test]
    fn byte_count_outside_the_message_is_rejected() {
        let mut p = pdu(Command::CREATE, &ErrorResponse { error_context_count: 0, error_data: b"abcd" });
        p[HEADER_LEN + 4] = 5;
        assert!(matches!(
            ErrorResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "ErrorResponse.ErrorData", len: 5, .. })
        ));
        p[HEADER_LEN + 7] = 0xFF;
        assert!(matches!(
            ErrorResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "ErrorResponse.ErrorData", .. })
        ));
    }

    #[test]
    fn wrong_structure_size_is_rejected() {
        let mut p = pdu(Command::CREATE, &ErrorResponse::default());
        p[HEADER_LEN] = 8;
        assert_eq!(
            ErrorResponse::parse(&p),
            Err(WireError::BadValue { field: "ErrorResponse.StructureSize", value: 8 })
        );
    }

    #[test]
    fn context_count_beyond_the_data_is_rejected() {
        let data = with_contexts(&[ErrorContext { error_id: ErrorId::DEFAULT, data: &[7; 5] }]);
        let rsp = ErrorResponse { error_context_count: 2, error_data: &data };
        let p = pdu(Command::CREATE, &rsp);
        // The second context's padding runs off ErrorData.
        assert!(matches!(
            ErrorResponse::parse(&p),
            Err(WireError::Truncated { field: "ErrorContext.Padding", .. })
        ));
        let data = with_contexts(&[ErrorContext { error_id: ErrorId::DEFAULT, data: &[7; 8] }]);
        let p = pdu(Command::CREATE, &ErrorResponse { error_context_count: 2, error_data: &data });
        assert!(matches!(
            ErrorResponse::parse(&p),
            Err(WireError::Truncated { field: "ErrorContext.ErrorDataLength", .. })
        ));
    }

    #[test]
    fn context_length_outside_the_data_is_rejected() {
        let mut data = with_contexts(&[ErrorContext { error_id: ErrorId::DEFAULT, data: &[7; 5] }]);
        data[0] = 6;
        let p = pdu(Command::CREATE, &ErrorResponse { error_context_count: 1, error_data: &data });
        assert!(matches!(
            ErrorResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "ErrorContext.ErrorContextData", len: 6, .. })
        ));
        // u32::MAX must not overflow anything.
        data[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let p = pdu(Command::CREATE, &ErrorResponse { error_context_count: 1, error_data: &data });
        assert!(matches!(
            ErrorResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "ErrorContext.ErrorContextData", .. })
        ));
    }

    #[test]
    fn too_many_contexts_are_refused_on_encode() {
        let ctxs = vec![ErrorContext::default(); 256];
        let mut buf = vec![0u8; ErrorContext::list_len(&ctxs)];
        assert!(matches!(
            ErrorContext::encode_list(&ctxs, &mut Writer::new(&mut buf)),
            Err(WireError::TooLarge { field: "ErrorResponse.ErrorContextCount", .. })
        ));
    }

    fn ctx_strategy() -> impl Strategy<Value = (u32, Vec<u8>)> {
        (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..24))
    }

    proptest! {
        #[test]
        fn raw_response_round_trips(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            // Raw data goes with a context count of 0; contexts are covered below.
            let rsp = ErrorResponse { error_context_count: 0, error_data: &data };
            let p = pdu(Command::READ, &rsp);
            prop_assert_eq!(ErrorResponse::parse(&p).unwrap(), rsp);
            prefixes_never_panic(&p, |b| ErrorResponse::parse(b).is_ok());
        }

        #[test]
        fn context_response_round_trips(raw in proptest::collection::vec(ctx_strategy(), 1..6)) {
            let ctxs: Vec<_> = raw.iter().map(|(id, d)| ErrorContext { error_id: ErrorId(*id), data: d }).collect();
            let data = with_contexts(&ctxs);
            let rsp = ErrorResponse { error_context_count: ctxs.len() as u8, error_data: &data };
            let p = pdu(Command::CREATE, &rsp);
            let back = ErrorResponse::parse(&p).unwrap();
            prop_assert_eq!(back, rsp);
            prop_assert_eq!(back.contexts().collect::<Vec<_>>(), ctxs);
            prefixes_never_panic(&p, |b| ErrorResponse::parse(b).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut p = pdu(Command::CREATE, &ErrorResponse::default());
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            if let Ok(r) = ErrorResponse::parse(&p) {
                prop_assert_eq!(r.contexts().count(), usize::from(r.error_context_count));
            }
        }

        #[test]
        fn random_contexts_never_panic(count in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..96)) {
            let mut p = pdu(Command::CREATE, &ErrorResponse { error_context_count: count, error_data: &[] });
            p.truncate(HEADER_LEN + 4);
            p.extend_from_slice(&(data.len() as u32).to_le_bytes());
            p.extend_from_slice(&data);
            if let Ok(r) = ErrorResponse::parse(&p) {
                prop_assert_eq!(r.contexts().count(), usize::from(count));
            }
        }
    }
}
