//! MS-SMB2 2.2.3 NEGOTIATE Request and 2.2.4 NEGOTIATE Response, in both the SMB 3.1.1 form (with
//! negotiate contexts, 2.2.3.1) and the form of earlier dialects (ClientStartTime / Reserved).

use crate::codec::{slice_at_or_empty, Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::header::HEADER_LEN;
use crate::negotiate_context::{list_padding, u16_ids, NegotiateContextList, U16List};
use crate::types::{narrow_u16, narrow_u32, us, Guid};

u16_ids! {
    /// MS-SMB2 2.2.3 Dialects entry / 2.2.4 DialectRevision. A newtype: clients list dialects this
    /// server has never heard of, and they must simply not match.
    Dialect {
        SMB_2_0_2 = 0x0202,
        SMB_2_1 = 0x0210,
        SMB_3_0 = 0x0300,
        SMB_3_0_2 = 0x0302,
        SMB_3_1_1 = 0x0311,
        /// The answer to an SMB1 multi-protocol negotiate offering "SMB 2.???" (MS-SMB2 3.3.5.3.1):
        /// the client then sends an SMB2 NEGOTIATE.
        WILDCARD = 0x02FF,
    }
}

/// MS-SMB2 2.2.3 / 2.2.4 SecurityMode.
pub mod security_mode {
    pub const SIGNING_ENABLED: u16 = 0x0001;
    pub const SIGNING_REQUIRED: u16 = 0x0002;
}

/// MS-SMB2 2.2.3 / 2.2.4 Capabilities (SMB2_GLOBAL_CAP_*).
pub mod capabilities {
    pub const DFS: u32 = 0x0000_0001;
    pub const LEASING: u32 = 0x0000_0002;
    pub const LARGE_MTU: u32 = 0x0000_0004;
    pub const MULTI_CHANNEL: u32 = 0x0000_0008;
    pub const PERSISTENT_HANDLES: u32 = 0x0000_0010;
    pub const DIRECTORY_LEASING: u32 = 0x0000_0020;
    /// 3.0 / 3.0.2 only: a 3.1.1 server must not set it (the ENCRYPTION context replaces it).
    pub const ENCRYPTION: u32 = 0x0000_0040;
    pub const NOTIFICATIONS: u32 = 0x0000_0080;
}

/// MS-SMB2 2.2.3 SMB2 NEGOTIATE Request.
///
/// Bytes 28..36 of the body are NegotiateContextOffset, NegotiateContextCount and Reserved2 when the
/// dialect list offers 3.1.1, and ClientStartTime (MUST be 0, ignored) otherwise. Contexts are decoded
/// only when 0x0311 is offered and both count and offset are non-zero, so an older client's bytes
/// there are never misread; otherwise those 8 bytes land in `client_start_time` as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateRequest<'a> {
    /// [`security_mode`].
    pub security_mode: u16,
    /// [`capabilities`].
    pub capabilities: u32,
    pub client_guid: Guid,
    /// Only without contexts; must be 0 when `contexts` is not empty.
    pub client_start_time: u64,
    /// May be empty on the wire: the session layer answers that with STATUS_INVALID_PARAMETER.
    pub dialects: U16List<'a, Dialect>,
    /// Only when `dialects` contains 3.1.1.
    pub contexts: NegotiateContextList<'a>,
}

impl<'a> NegotiateRequest<'a> {
    pub const STRUCTURE_SIZE: u16 = 36;
    /// StructureSize counts only the fixed part: the dialects follow it.
    const FIXED_LEN: usize = 36;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "NegotiateRequest.StructureSize")?;
        let dialect_count = r.u16("NegotiateRequest.DialectCount")?;
        let security_mode = r.u16("NegotiateRequest.SecurityMode")?;
        r.skip(2, "NegotiateRequest.Reserved")?;
        let capabilities = r.u32("NegotiateRequest.Capabilities")?;
        let client_guid = r.array("NegotiateRequest.ClientGuid")?;
        let tail = r.u64("NegotiateRequest.ClientStartTime")?;
        let ctx_offset = us(tail as u32);
        let ctx_count = us((tail >> 32) as u16);
        let dialects = U16List::read(&mut r, dialect_count, "NegotiateRequest.DialectCount")?;

        let mut req = Self {
            security_mode,
            capabilities,
            client_guid,
            client_start_time: tail,
            dialects,
            contexts: NegotiateContextList::default(),
        };
        if dialects.contains(Dialect::SMB_3_1_1) && ctx_count != 0 && ctx_offset != 0 {
            const OFFSET: &str = "NegotiateRequest.NegotiateContextOffset";
            // The contexts follow the dialects; an offset into the fixed part or the dialect array
            // is malformed even when the bytes there happen to parse.
            if ctx_offset < r.pos() {
                return Err(WireError::BadValue { field: OFFSET, value: ctx_offset as u64 });
            }
            req.contexts = NegotiateContextList::parse_named(
                pdu,
                ctx_offset,
                ctx_count,
                OFFSET,
                "NegotiateRequest.NegotiateContextCount",
            )?;
            req.client_start_time = 0;
        }
        Ok(req)
    }

    fn dialects_end(&self, at: usize) -> usize {
        at + Self::FIXED_LEN + self.dialects.as_bytes().len()
    }
}

impl Encode for NegotiateRequest<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        let end = self.dialects_end(at);
        end + list_padding(end, &self.contexts) + self.contexts.as_bytes().len() - at
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let end = self.dialects_end(w.pos());
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(self.dialects.count("NegotiateRequest.DialectCount")?)?;
        w.u16(self.security_mode)?;
        w.u16(0)?;
        w.u32(self.capabilities)?;
        w.bytes(&self.client_guid)?;
        if self.contexts.is_empty() {
            w.u64(self.client_start_time)?;
        } else {
            // Anything else would not parse back to this value.
            if !self.dialects.contains(Dialect::SMB_3_1_1) {
                let count = u64::from(self.contexts.count());
                return Err(WireError::BadValue {
                    field: "NegotiateRequest.NegotiateContextCount",
                    value: count,
                });
            }
            if self.client_start_time != 0 {
                let t = self.client_start_time;
                return Err(WireError::BadValue { field: "NegotiateRequest.ClientStartTime", value: t });
            }
            let offset = end + list_padding(end, &self.contexts);
            w.u32(narrow_u32(offset, "NegotiateRequest.NegotiateContextOffset")?)?;
            w.u16(self.contexts.count())?;
            w.u16(0)?;
        }
        w.bytes(self.dialects.as_bytes())?;
        w.zeros(list_padding(end, &self.contexts))?;
        self.contexts.encode(w)
    }
}

/// MS-SMB2 2.2.4 SMB2 NEGOTIATE Response.
///
/// NegotiateContextCount and NegotiateContextOffset are Reserved/Reserved2 unless DialectRevision is
/// 0x0311; they are read only then, and `contexts` must be empty for any other dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateResponse<'a> {
    /// [`security_mode`].
    pub security_mode: u16,
    pub dialect_revision: Dialect,
    pub server_guid: Guid,
    /// [`capabilities`].
    pub capabilities: u32,
    pub max_transact_size: u32,
    pub max_read_size: u32,
    pub max_write_size: u32,
    /// FILETIME.
    pub system_time: u64,
    /// FILETIME; 0 since SMB 3.0 servers no longer report it.
    pub server_start_time: u64,
    /// The GSS token (SPNEGO negTokenInit); may be empty.
    pub security_buffer: &'a [u8],
    pub contexts: NegotiateContextList<'a>,
}

impl<'a> NegotiateResponse<'a> {
    pub const STRUCTURE_SIZE: u16 = 65;
    /// The fixed part; StructureSize 65 also counts the first byte of Buffer.
    const FIXED_LEN: usize = 64;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "NegotiateResponse.StructureSize")?;
        let security_mode = r.u16("NegotiateResponse.SecurityMode")?;
        let dialect_revision = Dialect(r.u16("NegotiateResponse.DialectRevision")?);
        let ctx_count = us(r.u16("NegotiateResponse.NegotiateContextCount")?);
        let server_guid = r.array("NegotiateResponse.ServerGuid")?;
        let capabilities = r.u32("NegotiateResponse.Capabilities")?;
        let max_transact_size = r.u32("NegotiateResponse.MaxTransactSize")?;
        let max_read_size = r.u32("NegotiateResponse.MaxReadSize")?;
        let max_write_size = r.u32("NegotiateResponse.MaxWriteSize")?;
        let system_time = r.u64("NegotiateResponse.SystemTime")?;
        let server_start_time = r.u64("NegotiateResponse.ServerStartTime")?;
        let sec_off = us(r.u16("NegotiateResponse.SecurityBufferOffset")?);
        let sec_len = us(r.u16("NegotiateResponse.SecurityBufferLength")?);
        let ctx_offset = us(r.u32("NegotiateResponse.NegotiateContextOffset")?);
        let security_buffer = slice_at_or_empty(pdu, sec_off, sec_len, "NegotiateResponse.SecurityBuffer")?;

        let mut contexts = NegotiateContextList::default();
        if dialect_revision == Dialect::SMB_3_1_1 && ctx_count != 0 {
            const OFFSET: &str = "NegotiateResponse.NegotiateContextOffset";
            if ctx_offset < r.pos() {
                return Err(WireError::BadValue { field: OFFSET, value: ctx_offset as u64 });
            }
            contexts = NegotiateContextList::parse_named(
                pdu,
                ctx_offset,
                ctx_count,
                OFFSET,
                "NegotiateResponse.NegotiateContextCount",
            )?;
        }
        Ok(Self {
            security_mode,
            dialect_revision,
            server_guid,
            capabilities,
            max_transact_size,
            max_read_size,
            max_write_size,
            system_time,
            server_start_time,
            security_buffer,
            contexts,
        })
    }

    /// Position right after the security buffer (or its one placeholder byte).
    fn buffer_end(&self, at: usize) -> usize {
        at + Self::FIXED_LEN + self.security_buffer.len().max(1)
    }
}

impl Encode for NegotiateResponse<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        let end = self.buffer_end(at);
        end + list_padding(end, &self.contexts) + self.contexts.as_bytes().len() - at
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let start = w.pos();
        let end = self.buffer_end(start);
        if !self.contexts.is_empty() && self.dialect_revision != Dialect::SMB_3_1_1 {
            let count = u64::from(self.contexts.count());
            return Err(WireError::BadValue {
                field: "NegotiateResponse.NegotiateContextCount",
                value: count,
            });
        }
        let ctx_offset = if self.contexts.is_empty() { 0 } else { end + list_padding(end, &self.contexts) };
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(self.security_mode)?;
        w.u16(self.dialect_revision.0)?;
        w.u16(self.contexts.count())?;
        w.bytes(&self.server_guid)?;
        w.u32(self.capabilities)?;
        w.u32(self.max_transact_size)?;
        w.u32(self.max_read_size)?;
        w.u32(self.max_write_size)?;
        w.u64(self.system_time)?;
        w.u64(self.server_start_time)?;
        w.u16(narrow_u16(start + Self::FIXED_LEN, "NegotiateResponse.SecurityBufferOffset")?)?;
        w.u16(narrow_u16(self.security_buffer.len(), "NegotiateResponse.SecurityBufferLength")?)?;
        w.u32(narrow_u32(ctx_offset, "NegotiateResponse.NegotiateContextOffset")?)?;
        if self.security_buffer.is_empty() {
            // StructureSize 65 counts one byte of Buffer even when it is empty.
            w.u8(0)?;
        } else {
            w.bytes(self.security_buffer)?;
        }
        w.zeros(list_padding(end, &self.contexts))?;
        self.contexts.encode(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{Command, Header};
    use crate::negotiate_context::tests::{build, spec, Spec};
    use crate::negotiate_context::{
        CipherId, ContextData, ContextType, EncryptionCapabilities, HashAlgorithm,
        PreauthIntegrityCapabilities,
    };
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use proptest::prelude::*;

    /// MS blog "SMB 3.1.1 Pre-authentication integrity in Windows 10" (2015-08-11; docs/TEST-VECTORS.md).
    const NEG_REQ: &str = "FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000\
        00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32\
        6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000\
        010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000\
        0200060000000000020002000100";
    const NEG_RSP: &str = "FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000\
        000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942\
        BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001\
        80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182\
        3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000\
        60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51\
        FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000\
        5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000\
        7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000\
        3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562\
        6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075\
        626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4\
        83CA5B65385A251117BEB30712E50000020004000000000001000200";

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    /// Re-encodes `body` behind the original 64 header bytes of `orig`.
    fn reencode(orig: &[u8], body: &dyn crate::pdu::EncodeDyn) -> Vec<u8> {
        let mut out = orig[..HEADER_LEN].to_vec();
        out.resize(HEADER_LEN + body.encoded_len_dyn(HEADER_LEN), 0);
        let mut w = Writer::new(&mut out);
        w.bytes(&orig[..HEADER_LEN]).unwrap();
        body.encode_dyn(&mut w).unwrap();
        assert_eq!(w.pos(), out.len());
        out
    }

    fn decoded(l: &NegotiateContextList<'_>) -> Vec<(ContextType, Vec<u16>, Vec<u8>)> {
        l.iter()
            .map(|c| match c.decode().unwrap() {
                ContextData::PreauthIntegrity(p) => {
                    (c.context_type, p.hash_algorithms.iter().map(|h| h.0).collect(), p.salt.to_vec())
                }
                ContextData::Encryption(e) => {
                    (c.context_type, e.ciphers.iter().map(|c| c.0).collect(), vec![])
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn ms_blog_negotiate_request() {
        let bytes = unhex(NEG_REQ);
        assert_eq!(Header::parse(&bytes).unwrap().command, Command::NEGOTIATE);
        let req = NegotiateRequest::parse(&bytes).unwrap();
        assert_eq!(req.security_mode, 0);
        assert_eq!(req.capabilities, 0x3F);
        assert_eq!(req.client_guid[..4], [0xEC, 0xD8, 0x6F, 0x32]);
        assert_eq!(req.client_start_time, 0);
        let d: Vec<_> = req.dialects.iter().collect();
        assert_eq!(
            d,
            [Dialect::SMB_2_0_2, Dialect::SMB_2_1, Dialect::SMB_3_0, Dialect::SMB_3_0_2, Dialect::SMB_3_1_1]
        );
        assert_eq!(req.contexts.count(), 2);
        let ctx = decoded(&req.contexts);
        assert_eq!(ctx[0].0, ContextType::PREAUTH_INTEGRITY_CAPABILITIES);
        assert_eq!(ctx[0].1, [HashAlgorithm::SHA512.0]);
        assert_eq!(ctx[0].2, unhex("FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF"));
        assert_eq!(ctx[1].0, ContextType::ENCRYPTION_CAPABILITIES);
        assert_eq!(ctx[1].1, [CipherId::AES_128_GCM.0, CipherId::AES_128_CCM.0]);
        // The blog's layout is the canonical one.
        assert_eq!(reencode(&bytes, &req), bytes);
    }

    #[test]
    fn ms_blog_negotiate_response() {
        let bytes = unhex(NEG_RSP);
        let rsp = NegotiateResponse::parse(&bytes).unwrap();
        assert_eq!(rsp.security_mode, security_mode::SIGNING_ENABLED);
        assert_eq!(rsp.dialect_revision, Dialect::SMB_3_1_1);
        assert_eq!(rsp.capabilities, 0x2F);
        assert_eq!(
            (rsp.max_transact_size, rsp.max_read_size, rsp.max_write_size),
            (0x800000, 0x800000, 0x800000)
        );
        assert_eq!(rsp.system_time, 0x01D0_AECB_ADE5_DAD8);
        assert_eq!(rsp.security_buffer.len(), 0x140);
        assert_eq!(rsp.security_buffer[..4], [0x60, 0x82, 0x01, 0x3C]);
        let ctx = decoded(&rsp.contexts);
        assert_eq!(ctx.len(), 2);
        assert_eq!(ctx[0].1, [HashAlgorithm::SHA512.0]);
        assert_eq!(ctx[0].2.len(), 32);
        assert_eq!(ctx[1].1, [CipherId::AES_128_GCM.0]);
        assert_eq!(reencode(&bytes, &rsp), bytes);
    }

    fn arb_guid() -> impl Strategy<Value = Guid> {
        any::<[u8; 16]>()
    }

    fn dialect_bytes(with_311: bool) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![any::<u16>(), Just(0x0202), Just(0x0300)], 0..8).prop_map(
            move |mut v| {
                v.retain(|&d| d != 0x0311);
                if with_311 {
                    v.push(0x0311);
                }
                v.into_iter().flat_map(u16::to_le_bytes).collect()
            },
        )
    }

    proptest! {
        #[test]
        fn request_round_trips(
            sm in any::<u16>(), caps in any::<u32>(), guid in arb_guid(),
            start in any::<u64>(),
            dialects in any::<bool>().prop_flat_map(dialect_bytes),
            specs in proptest::collection::vec(spec(), 0..6),
        ) {
            let offers_311 = dialects.chunks(2).any(|c| c == [0x11, 0x03]);
            let region = build(&specs);
            let with_ctx = offers_311 && !specs.is_empty();
            let contexts = if with_ctx {
                NegotiateContextList::parse(&region, 0, specs.len()).unwrap()
            } else {
                NegotiateContextList::default()
            };
            // 3.1.1 clients without contexts still send offset/count there; zero keeps it canonical.
            let client_start_time = if offers_311 { 0 } else { start };
            let req = NegotiateRequest {
                security_mode: sm, capabilities: caps, client_guid: guid, client_start_time,
                dialects: U16List::new(&dialects, "t").unwrap(), contexts,
            };
            let p = pdu(Command::NEGOTIATE, &req);
            prop_assert_eq!(NegotiateRequest::parse(&p).unwrap(), req);
            prefixes_never_panic(&p, |b| NegotiateRequest::parse(b).is_ok());
        }

        #[test]
        fn response_round_trips(
            sm in any::<u16>(), dialect in prop_oneof![Just(0x0311u16), any::<u16>()],
            guid in arb_guid(), caps in any::<u32>(), sizes in any::<(u32, u32, u32)>(),
            times in any::<(u64, u64)>(), sec in proptest::collection::vec(any::<u8>(), 0..90),
            specs in proptest::collection::vec(spec(), 0..6),
        ) {
            let region = build(&specs);
            let contexts = if dialect == 0x0311 {
                NegotiateContextList::parse(&region, 0, specs.len()).unwrap()
            } else {
                NegotiateContextList::default()
            };
            let rsp = NegotiateResponse {
                security_mode: sm, dialect_revision: Dialect(dialect), server_guid: guid, capabilities: caps,
                max_transact_size: sizes.0, max_read_size: sizes.1, max_write_size: sizes.2,
                system_time: times.0, server_start_time: times.1, security_buffer: &sec, contexts,
            };
            let p = pdu(Command::NEGOTIATE, &rsp);
            prop_assert_eq!(NegotiateResponse::parse(&p).unwrap(), rsp);
            prefixes_never_panic(&p, |b| NegotiateResponse::parse(b).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut p = unhex(NEG_REQ);
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let _ = NegotiateRequest::parse(&p);
            let _ = NegotiateResponse::parse(&p);
        }

        #[test]
        fn mutated_blog_messages_never_panic(i in 64usize..400, v in any::<u8>()) {
            for m in [NEG_REQ, NEG_RSP] {
                let mut p = unhex(m);
                let n = p.len();
                p[i % n] = v;
                if let Ok(r) = NegotiateRequest::parse(&p) {
                    r.contexts.iter().for_each(|c| { let _ = c.decode(); });
                }
                if let Ok(r) = NegotiateResponse::parse(&p) {
                    r.contexts.iter().for_each(|c| { let _ = c.decode(); });
                }
            }
        }
    }

    #[test]
    fn prefixes_of_blog_messages_never_panic() {
        prefixes_never_panic(&unhex(NEG_REQ), |b| NegotiateRequest::parse(b).is_ok());
        prefixes_never_panic(&unhex(NEG_RSP), |b| NegotiateResponse::parse(b).is_ok());
    }

    // Body offsets in the blog request: DialectCount 66, NegotiateContextOffset 92, count 96.

    #[test]
    fn dialect_count_must_fit_the_message() {
        let mut p = unhex(NEG_REQ);
        p[66] = 0x80;
        assert!(matches!(
            NegotiateRequest::parse(&p),
            Err(WireError::Truncated { field: "NegotiateRequest.DialectCount", .. })
        ));
    }

    #[test]
    fn zero_dialects_parse() {
        let req = NegotiateRequest {
            security_mode: 1,
            capabilities: 0,
            client_guid: [0; 16],
            client_start_time: 0,
            dialects: U16List::default(),
            contexts: NegotiateContextList::default(),
        };
        let p = pdu(Command::NEGOTIATE, &req);
        assert_eq!(p.len(), HEADER_LEN + 36);
        assert!(NegotiateRequest::parse(&p).unwrap().dialects.is_empty());
    }

    #[test]
    fn wrong_structure_size_is_refused() {
        let mut p = unhex(NEG_REQ);
        p[64] = 37;
        assert_eq!(
            NegotiateRequest::parse(&p),
            Err(WireError::BadValue { field: "NegotiateRequest.StructureSize", value: 37 })
        );
        let mut p = unhex(NEG_RSP);
        p[64] = 64;
        assert_eq!(
            NegotiateResponse::parse(&p),
            Err(WireError::BadValue { field: "NegotiateResponse.StructureSize", value: 64 })
        );
    }

    #[test]
    fn request_context_offset_checks() {
        let orig = unhex(NEG_REQ);
        let mut p = orig.clone();
        p[92] = 0x74;
        assert_eq!(
            NegotiateRequest::parse(&p),
            Err(WireError::Misaligned {
                field: "NegotiateRequest.NegotiateContextOffset",
                offset: 0x74,
                align: 8
            })
        );
        p[92] = 0x68; // aligned, but inside the dialect array
        assert_eq!(
            NegotiateRequest::parse(&p),
            Err(WireError::BadValue { field: "NegotiateRequest.NegotiateContextOffset", value: 0x68 })
        );
        p[92] = 0x00;
        p[93] = 0x10;
        assert!(matches!(
            NegotiateRequest::parse(&p),
            Err(WireError::OutOfBounds {
                field: "NegotiateRequest.NegotiateContextOffset",
                offset: 0x1000,
                ..
            })
        ));
        let mut p = orig.clone();
        p[96] = 65;
        assert!(matches!(
            NegotiateRequest::parse(&p),
            Err(WireError::TooLarge { field: "NegotiateRequest.NegotiateContextCount", value: 65, cap: 64 })
        ));
        p[96] = 3;
        assert!(matches!(NegotiateRequest::parse(&p), Err(WireError::Truncated { .. })));
    }

    #[test]
    fn contexts_are_ignored_without_dialect_311_or_count_or_offset() {
        let orig = unhex(NEG_REQ);
        // Replace 0x0311 (last dialect, at 108) with 0x0302: the 8 bytes become ClientStartTime.
        let mut p = orig.clone();
        p[108] = 0x02;
        let req = NegotiateRequest::parse(&p).unwrap();
        assert!(req.contexts.is_empty());
        assert_eq!(req.client_start_time, 0x0000_0002_0000_0070);
        // Count 0 or offset 0: no contexts either.
        let mut p = orig.clone();
        p[96] = 0;
        assert!(NegotiateRequest::parse(&p).unwrap().contexts.is_empty());
        let mut p = orig;
        p[92] = 0;
        assert!(NegotiateRequest::parse(&p).unwrap().contexts.is_empty());
    }

    // Body offsets in the blog response: NegotiateContextCount 70, SecurityBufferLength 122,
    // NegotiateContextOffset 124.

    #[test]
    fn response_security_buffer_must_fit() {
        let mut p = unhex(NEG_RSP);
        p[123] = 0x10;
        assert!(matches!(
            NegotiateResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "NegotiateResponse.SecurityBuffer", .. })
        ));
    }

    #[test]
    fn response_context_offset_checks() {
        let orig = unhex(NEG_RSP);
        let mut p = orig.clone();
        p[124] = 0xC4;
        assert!(matches!(
            NegotiateResponse::parse(&p),
            Err(WireError::Misaligned { field: "NegotiateResponse.NegotiateContextOffset", .. })
        ));
        let mut p = orig.clone();
        p[124] = 0x40;
        p[125] = 0;
        assert_eq!(
            NegotiateResponse::parse(&p),
            Err(WireError::BadValue { field: "NegotiateResponse.NegotiateContextOffset", value: 0x40 })
        );
        let mut p = orig.clone();
        p[70] = 100;
        assert!(matches!(
            NegotiateResponse::parse(&p),
            Err(WireError::TooLarge { field: "NegotiateResponse.NegotiateContextCount", .. })
        ));
        // For 3.0.2 the same fields are Reserved and ignored.
        let mut p = orig;
        p[68] = 0x02;
        p[124] = 0xC4;
        let rsp = NegotiateResponse::parse(&p).unwrap();
        assert_eq!(rsp.dialect_revision, Dialect::SMB_3_0_2);
        assert!(rsp.contexts.is_empty());
    }

    #[test]
    fn empty_security_buffer_keeps_one_byte() {
        let salt = [7u8; 32];
        let mut hb = [0u8; 2];
        let mut cb = [0u8; 2];
        let items: [ContextData<'_>; 2] = [
            PreauthIntegrityCapabilities {
                hash_algorithms: U16List::build(&[HashAlgorithm::SHA512], &mut hb).unwrap(),
                salt: &salt,
            }
            .into(),
            EncryptionCapabilities { ciphers: U16List::build(&[CipherId::AES_256_GCM], &mut cb).unwrap() }
                .into(),
        ];
        let mut region = [0u8; 64];
        let contexts = NegotiateContextList::build(&items, &mut region).unwrap();
        let rsp = NegotiateResponse {
            security_mode: 1,
            dialect_revision: Dialect::SMB_3_1_1,
            server_guid: [1; 16],
            capabilities: capabilities::LEASING | capabilities::LARGE_MTU | capabilities::MULTI_CHANNEL,
            max_transact_size: 1 << 23,
            max_read_size: 1 << 23,
            max_write_size: 1 << 23,
            system_time: 1,
            server_start_time: 0,
            security_buffer: &[],
            contexts,
        };
        let p = pdu(Command::NEGOTIATE, &rsp);
        assert_eq!(&p[HEADER_LEN + 56..HEADER_LEN + 58], &[0x80, 0]);
        assert_eq!(&p[HEADER_LEN + 60..HEADER_LEN + 64], &[0x88, 0, 0, 0]);
        assert_eq!(NegotiateResponse::parse(&p).unwrap(), rsp);
    }

    #[test]
    fn encoders_refuse_values_that_would_not_parse_back() {
        let region = build(&[Spec::Transport(1)]);
        let contexts = NegotiateContextList::parse(&region, 0, 1).unwrap();
        let d = [0x02u8, 0x03];
        let req = NegotiateRequest {
            security_mode: 0,
            capabilities: 0,
            client_guid: [0; 16],
            client_start_time: 0,
            dialects: U16List::new(&d, "t").unwrap(),
            contexts,
        };
        let mut out = vec![0u8; 256];
        assert!(matches!(
            req.encode_into(&mut out),
            Err(WireError::BadValue { field: "NegotiateRequest.NegotiateContextCount", .. })
        ));
        let d311 = [0x11u8, 0x03];
        let req =
            NegotiateRequest { dialects: U16List::new(&d311, "t").unwrap(), client_start_time: 5, ..req };
        assert!(matches!(
            req.encode_into(&mut out),
            Err(WireError::BadValue { field: "NegotiateRequest.ClientStartTime", value: 5 })
        ));
        let rsp = NegotiateResponse {
            security_mode: 0,
            dialect_revision: Dialect::SMB_3_0_2,
            server_guid: [0; 16],
            capabilities: 0,
            max_transact_size: 0,
            max_read_size: 0,
            max_write_size: 0,
            system_time: 0,
            server_start_time: 0,
            security_buffer: &[],
            contexts,
        };
        assert!(matches!(
            rsp.encode_into(&mut out),
            Err(WireError::BadValue { field: "NegotiateResponse.NegotiateContextCount", .. })
        ));
    }

    #[test]
    fn dialect_names() {
        assert_eq!(format!("{:?}", Dialect::WILDCARD), "WILDCARD");
        assert_eq!(format!("{:?}", Dialect(0x0312)), "Dialect(0x0312)");
    }
}
