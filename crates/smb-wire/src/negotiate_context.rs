//! MS-SMB2 2.2.3.1 NEGOTIATE_CONTEXT and its data forms 2.2.3.1.1 - 2.2.3.1.7 (SMB 3.1.1), shared by
//! the NEGOTIATE request and response.
//!
//! Contexts are kept as borrowed bytes: [`NegotiateContextList`] is the validated region a message
//! points at, [`NegotiateContexts`] walks it, and [`NegotiateContext::decode`] gives the typed view.
//! Counts inside the data forms (hash algorithms, ciphers, ...) are [`U16List`]s decoded on demand,
//! so nothing a peer sends drives an allocation. Whether a count of zero or an unknown algorithm is
//! acceptable is the session layer's call (MS-SMB2 3.3.5.4), not the codec's.

use core::marker::PhantomData;

use crate::codec::{align_up, cap, padding, Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::types::{narrow_u16, Utf16};

/// MS-SMB2 2.2.3.1 ContextType. A newtype: a server ignores context types it does not know.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ContextType(pub u16);

impl ContextType {
    pub const PREAUTH_INTEGRITY_CAPABILITIES: ContextType = ContextType(0x0001);
    pub const ENCRYPTION_CAPABILITIES: ContextType = ContextType(0x0002);
    pub const COMPRESSION_CAPABILITIES: ContextType = ContextType(0x0003);
    pub const NETNAME_NEGOTIATE_CONTEXT_ID: ContextType = ContextType(0x0005);
    pub const TRANSPORT_CAPABILITIES: ContextType = ContextType(0x0006);
    pub const RDMA_TRANSFORM_CAPABILITIES: ContextType = ContextType(0x0007);
    pub const SIGNING_CAPABILITIES: ContextType = ContextType(0x0008);
    /// SMB3 POSIX extensions (Samba / Linux), not in MS-SMB2; its data is a 16-byte GUID.
    pub const POSIX_EXTENSIONS: ContextType = ContextType(0x0100);

    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::PREAUTH_INTEGRITY_CAPABILITIES => "PREAUTH_INTEGRITY_CAPABILITIES",
            Self::ENCRYPTION_CAPABILITIES => "ENCRYPTION_CAPABILITIES",
            Self::COMPRESSION_CAPABILITIES => "COMPRESSION_CAPABILITIES",
            Self::NETNAME_NEGOTIATE_CONTEXT_ID => "NETNAME_NEGOTIATE_CONTEXT_ID",
            Self::TRANSPORT_CAPABILITIES => "TRANSPORT_CAPABILITIES",
            Self::RDMA_TRANSFORM_CAPABILITIES => "RDMA_TRANSFORM_CAPABILITIES",
            Self::SIGNING_CAPABILITIES => "SIGNING_CAPABILITIES",
            Self::POSIX_EXTENSIONS => "POSIX_EXTENSIONS",
            _ => return None,
        })
    }
}

impl core::fmt::Debug for ContextType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "ContextType({:#06x})", self.0),
        }
    }
}

/// Declares a u16 newtype with named values, conversions and a Debug that shows the name.
macro_rules! u16_ids {
    ($(#[$doc:meta])* $name:ident { $($(#[$cdoc:meta])* $c:ident = $v:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
        pub struct $name(pub u16);

        impl $name {
            $($(#[$cdoc])* pub const $c: $name = $name($v);)*

            pub fn name(self) -> Option<&'static str> {
                match self {
                    $(Self::$c => Some(stringify!($c)),)*
                    _ => None,
                }
            }
        }

        impl From<u16> for $name {
            fn from(v: u16) -> Self {
                Self(v)
            }
        }

        impl From<$name> for u16 {
            fn from(v: $name) -> u16 {
                v.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, concat!(stringify!($name), "({:#06x})"), self.0),
                }
            }
        }
    };
}
pub(crate) use u16_ids;

u16_ids! {
    /// MS-SMB2 2.2.3.1.1 HashAlgorithms entry.
    HashAlgorithm { SHA512 = 0x0001 }
}

u16_ids! {
    /// MS-SMB2 2.2.3.1.2 Ciphers entry. In a response, 0 means "no common cipher".
    CipherId {
        NONE = 0x0000,
        AES_128_CCM = 0x0001,
        AES_128_GCM = 0x0002,
        AES_256_CCM = 0x0003,
        AES_256_GCM = 0x0004,
    }
}

u16_ids! {
    /// MS-SMB2 2.2.3.1.3 CompressionAlgorithms entry.
    CompressionAlgorithm {
        NONE = 0x0000,
        LZNT1 = 0x0001,
        LZ77 = 0x0002,
        LZ77_HUFFMAN = 0x0003,
        PATTERN_V1 = 0x0004,
        LZ4 = 0x0005,
    }
}

u16_ids! {
    /// MS-SMB2 2.2.3.1.6 RDMATransformIds entry.
    RdmaTransformId { NONE = 0x0000, ENCRYPTION = 0x0001, SIGNING = 0x0002 }
}

u16_ids! {
    /// MS-SMB2 2.2.3.1.7 SigningAlgorithms entry. Without a SIGNING_CAPABILITIES context 3.x signs
    /// with AES-CMAC.
    SigningAlgorithm { HMAC_SHA256 = 0x0000, AES_CMAC = 0x0001, AES_GMAC = 0x0002 }
}

/// MS-SMB2 2.2.3.1.3 COMPRESSION_CAPABILITIES Flags.
pub mod compression_flags {
    pub const NONE: u32 = 0x0000_0000;
    pub const CHAINED: u32 = 0x0000_0001;
}

/// MS-SMB2 2.2.3.1.5 TRANSPORT_CAPABILITIES Flags.
pub mod transport_flags {
    /// The transport (QUIC) already protects the connection; the server may skip SMB encryption.
    pub const ACCEPT_TRANSPORT_LEVEL_SECURITY: u32 = 0x0000_0001;
}

/// A borrowed little-endian array of u16 identifiers (dialects, ciphers, algorithms), decoded one
/// element at a time as it is iterated.
pub struct U16List<'a, T = u16> {
    bytes: &'a [u8],
    _item: PhantomData<fn() -> T>,
}

impl<'a, T: From<u16>> U16List<'a, T> {
    /// Wraps `bytes`, which must hold whole u16s.
    pub fn new(bytes: &'a [u8], field: &'static str) -> Result<Self> {
        if !bytes.len().is_multiple_of(2) {
            return Err(WireError::BadValue { field, value: bytes.len() as u64 });
        }
        Ok(Self { bytes, _item: PhantomData })
    }

    /// Reads `count` entries from `r`; `field` names the count the bytes must satisfy.
    pub fn read(r: &mut Reader<'a>, count: u16, field: &'static str) -> Result<Self> {
        let bytes = r.bytes(usize::from(count) * 2, field)?;
        Ok(Self { bytes, _item: PhantomData })
    }

    /// Writes `items` into `out` and returns the list over them (for building messages without a
    /// heap allocation).
    pub fn build<'b>(items: &[T], out: &'b mut [u8]) -> Result<U16List<'b, T>>
    where
        T: Into<u16> + Copy,
    {
        let mut w = Writer::new(out);
        items.iter().try_for_each(|&t| w.u16(t.into()))?;
        let n = w.pos();
        Ok(U16List { bytes: &out[..n], _item: PhantomData })
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The count as it goes on the wire.
    pub fn count(&self, field: &'static str) -> Result<u16> {
        narrow_u16(self.len(), field)
    }

    pub fn iter(&self) -> impl Iterator<Item = T> + 'a {
        self.bytes.chunks_exact(2).map(|c| T::from(u16::from_le_bytes([c[0], c[1]])))
    }

    pub fn first(&self) -> Option<T> {
        self.iter().next()
    }

    pub fn contains(&self, v: T) -> bool
    where
        T: PartialEq,
    {
        self.iter().any(|x| x == v)
    }
}

impl<T> Clone for U16List<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for U16List<'_, T> {}

impl<T> PartialEq for U16List<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl<T> Eq for U16List<'_, T> {}

impl<T> Default for U16List<'_, T> {
    fn default() -> Self {
        Self { bytes: &[], _item: PhantomData }
    }
}

impl<T: From<u16> + core::fmt::Debug> core::fmt::Debug for U16List<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// MS-SMB2 2.2.3.1 SMB2 NEGOTIATE_CONTEXT: the 8-byte context header and its raw data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateContext<'a> {
    pub context_type: ContextType,
    /// DataLength bytes, without the alignment padding that may follow.
    pub data: &'a [u8],
}

impl<'a> NegotiateContext<'a> {
    /// ContextType, DataLength and Reserved.
    pub const HEADER_LEN: usize = 8;

    /// Reads one context at the cursor (no alignment is applied here).
    pub fn read(r: &mut Reader<'a>) -> Result<Self> {
        let context_type = ContextType(r.u16("NegotiateContext.ContextType")?);
        let len = r.u16("NegotiateContext.DataLength")?;
        r.skip(4, "NegotiateContext.Reserved")?;
        let data = r.bytes(usize::from(len), "NegotiateContext.DataLength")?;
        Ok(Self { context_type, data })
    }

    /// The typed view of the data. Unknown context types come back as [`ContextData::Other`].
    pub fn decode(&self) -> Result<ContextData<'a>> {
        let d = self.data;
        Ok(match self.context_type {
            ContextType::PREAUTH_INTEGRITY_CAPABILITIES => {
                ContextData::PreauthIntegrity(PreauthIntegrityCapabilities::parse_data(d)?)
            }
            ContextType::ENCRYPTION_CAPABILITIES => {
                ContextData::Encryption(EncryptionCapabilities::parse_data(d)?)
            }
            ContextType::COMPRESSION_CAPABILITIES => {
                ContextData::Compression(CompressionCapabilities::parse_data(d)?)
            }
            ContextType::NETNAME_NEGOTIATE_CONTEXT_ID => ContextData::NetName(NetName::parse_data(d)?),
            ContextType::TRANSPORT_CAPABILITIES => {
                ContextData::Transport(TransportCapabilities::parse_data(d)?)
            }
            ContextType::RDMA_TRANSFORM_CAPABILITIES => {
                ContextData::RdmaTransform(RdmaTransformCapabilities::parse_data(d)?)
            }
            ContextType::SIGNING_CAPABILITIES => ContextData::Signing(SigningCapabilities::parse_data(d)?),
            _ => ContextData::Other(*self),
        })
    }
}

/// Writes the 8-byte context header for `data_len` bytes of data.
fn write_context_header(w: &mut Writer<'_>, t: ContextType, data_len: usize) -> Result<()> {
    w.u16(t.0)?;
    w.u16(narrow_u16(data_len, "NegotiateContext.DataLength")?)?;
    w.u32(0)
}

impl Encode for NegotiateContext<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::HEADER_LEN + self.data.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        write_context_header(w, self.context_type, self.data.len())?;
        w.bytes(self.data)
    }
}

/// A typed negotiate context data form (the bytes after the 8-byte context header).
pub trait ContextBody<'a>: Sized {
    const CONTEXT_TYPE: ContextType;
    /// Parses the data; bytes after the fields the form defines are ignored.
    fn parse_data(data: &'a [u8]) -> Result<Self>;
    fn data_len(&self) -> usize;
    fn write_data(&self, w: &mut Writer<'_>) -> Result<()>;
}

/// MS-SMB2 2.2.3.1.1 SMB2_PREAUTH_INTEGRITY_CAPABILITIES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PreauthIntegrityCapabilities<'a> {
    pub hash_algorithms: U16List<'a, HashAlgorithm>,
    pub salt: &'a [u8],
}

impl<'a> ContextBody<'a> for PreauthIntegrityCapabilities<'a> {
    const CONTEXT_TYPE: ContextType = ContextType::PREAUTH_INTEGRITY_CAPABILITIES;

    fn parse_data(data: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(data);
        let count = r.u16("PreauthIntegrityCapabilities.HashAlgorithmCount")?;
        let salt_len = r.u16("PreauthIntegrityCapabilities.SaltLength")?;
        let hash_algorithms =
            U16List::read(&mut r, count, "PreauthIntegrityCapabilities.HashAlgorithmCount")?;
        let salt = r.bytes(usize::from(salt_len), "PreauthIntegrityCapabilities.SaltLength")?;
        Ok(Self { hash_algorithms, salt })
    }

    fn data_len(&self) -> usize {
        4 + self.hash_algorithms.as_bytes().len() + self.salt.len()
    }

    fn write_data(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.hash_algorithms.count("PreauthIntegrityCapabilities.HashAlgorithmCount")?)?;
        w.u16(narrow_u16(self.salt.len(), "PreauthIntegrityCapabilities.SaltLength")?)?;
        w.bytes(self.hash_algorithms.as_bytes())?;
        w.bytes(self.salt)
    }
}

/// MS-SMB2 2.2.3.1.2 SMB2_ENCRYPTION_CAPABILITIES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncryptionCapabilities<'a> {
    /// The client's ciphers in preference order; exactly one in a response.
    pub ciphers: U16List<'a, CipherId>,
}

impl<'a> ContextBody<'a> for EncryptionCapabilities<'a> {
    const CONTEXT_TYPE: ContextType = ContextType::ENCRYPTION_CAPABILITIES;

    fn parse_data(data: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(data);
        let count = r.u16("EncryptionCapabilities.CipherCount")?;
        Ok(Self { ciphers: U16List::read(&mut r, count, "EncryptionCapabilities.CipherCount")? })
    }

    fn data_len(&self) -> usize {
        2 + self.ciphers.as_bytes().len()
    }

    fn write_data(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.ciphers.count("EncryptionCapabilities.CipherCount")?)?;
        w.bytes(self.ciphers.as_bytes())
    }
}

/// MS-SMB2 2.2.3.1.3 SMB2_COMPRESSION_CAPABILITIES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompressionCapabilities<'a> {
    /// [`compression_flags`].
    pub flags: u32,
    pub algorithms: U16List<'a, CompressionAlgorithm>,
}

impl<'a> ContextBody<'a> for CompressionCapabilities<'a> {
    const CONTEXT_TYPE: ContextType = ContextType::COMPRESSION_CAPABILITIES;

    fn parse_data(data: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(data);
        let count = r.u16("CompressionCapabilities.CompressionAlgorithmCount")?;
        r.skip(2, "CompressionCapabilities.Padding")?;
        let flags = r.u32("CompressionCapabilities.Flags")?;
        let algorithms = U16List::read(&mut r, count, "CompressionCapabilities.CompressionAlgorithmCount")?;
        Ok(Self { flags, algorithms })
    }

    fn data_len(&self) -> usize {
        8 + self.algorithms.as_bytes().len()
    }

    fn write_data(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.algorithms.count("CompressionCapabilities.CompressionAlgorithmCount")?)?;
        w.u16(0)?;
        w.u32(self.flags)?;
        w.bytes(self.algorithms.as_bytes())
    }
}

/// MS-SMB2 2.2.3.1.4 SMB2_NETNAME_NEGOTIATE_CONTEXT_ID: the server name the client connected to,
/// UTF-16LE without a terminator (request only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetName<'a> {
    pub net_name: Utf16<'a>,
}

impl<'a> ContextBody<'a> for NetName<'a> {
    const CONTEXT_TYPE: ContextType = ContextType::NETNAME_NEGOTIATE_CONTEXT_ID;

    fn parse_data(data: &'a [u8]) -> Result<Self> {
        Ok(Self { net_name: Utf16::new(data, "NetName.NetName")? })
    }

    fn data_len(&self) -> usize {
        self.net_name.len()
    }

    fn write_data(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(self.net_name.as_bytes())
    }
}

/// MS-SMB2 2.2.3.1.5 SMB2_TRANSPORT_CAPABILITIES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransportCapabilities {
    /// [`transport_flags`].
    pub flags: u32,
}

impl<'a> ContextBody<'a> for TransportCapabilities {
    const CONTEXT_TYPE: ContextType = ContextType::TRANSPORT_CAPABILITIES;

    fn parse_data(data: &'a [u8]) -> Result<Self> {
        Ok(Self { flags: Reader::new(data).u32("TransportCapabilities.Flags")? })
    }

    fn data_len(&self) -> usize {
        4
    }

    fn write_data(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.flags)
    }
}

/// MS-SMB2 2.2.3.1.6 SMB2_RDMA_TRANSFORM_CAPABILITIES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RdmaTransformCapabilities<'a> {
    pub transform_ids: U16List<'a, RdmaTransformId>,
}

impl<'a> ContextBody<'a> for RdmaTransformCapabilities<'a> {
    const CONTEXT_TYPE: ContextType = ContextType::RDMA_TRANSFORM_CAPABILITIES;

    fn parse_data(data: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(data);
        let count = r.u16("RdmaTransformCapabilities.TransformCount")?;
        r.skip(2, "RdmaTransformCapabilities.Reserved1")?;
        r.skip(4, "RdmaTransformCapabilities.Reserved2")?;
        Ok(Self { transform_ids: U16List::read(&mut r, count, "RdmaTransformCapabilities.TransformCount")? })
    }

    fn data_len(&self) -> usize {
        8 + self.transform_ids.as_bytes().len()
    }

    fn write_data(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.transform_ids.count("RdmaTransformCapabilities.TransformCount")?)?;
        w.u16(0)?;
        w.u32(0)?;
        w.bytes(self.transform_ids.as_bytes())
    }
}

/// Connection.RDMATransformIds as a set (MS-SMB2 3.3.5.4, 3.2.5.2): which crypto transforms data
/// placed by RDMA may carry. NONE and unknown ids add nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RdmaTransformSet {
    pub encryption: bool,
    pub signing: bool,
}

impl RdmaTransformSet {
    pub const NONE: RdmaTransformSet = RdmaTransformSet { encryption: false, signing: false };
    pub const ALL: RdmaTransformSet = RdmaTransformSet { encryption: true, signing: true };

    /// The set a context's ids name.
    pub fn from_ids(ids: impl IntoIterator<Item = RdmaTransformId>) -> Self {
        let mut s = Self::NONE;
        for id in ids {
            s.encryption |= id == RdmaTransformId::ENCRYPTION;
            s.signing |= id == RdmaTransformId::SIGNING;
        }
        s
    }

    /// Both sets' common transforms.
    pub fn and(self, other: Self) -> Self {
        Self { encryption: self.encryption && other.encryption, signing: self.signing && other.signing }
    }

    pub fn is_empty(self) -> bool {
        !self.encryption && !self.signing
    }

    /// The ids to send: the members, or a single NONE for the empty set (what a server answers when
    /// nothing is in common).
    pub fn ids(self) -> Vec<RdmaTransformId> {
        let mut v = Vec::with_capacity(2);
        if self.encryption {
            v.push(RdmaTransformId::ENCRYPTION);
        }
        if self.signing {
            v.push(RdmaTransformId::SIGNING);
        }
        if v.is_empty() {
            v.push(RdmaTransformId::NONE);
        }
        v
    }
}

/// MS-SMB2 2.2.3.1.7 SMB2_SIGNING_CAPABILITIES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SigningCapabilities<'a> {
    /// In preference order; exactly one in a response.
    pub algorithms: U16List<'a, SigningAlgorithm>,
}

impl<'a> ContextBody<'a> for SigningCapabilities<'a> {
    const CONTEXT_TYPE: ContextType = ContextType::SIGNING_CAPABILITIES;

    fn parse_data(data: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(data);
        let count = r.u16("SigningCapabilities.SigningAlgorithmCount")?;
        Ok(Self { algorithms: U16List::read(&mut r, count, "SigningCapabilities.SigningAlgorithmCount")? })
    }

    fn data_len(&self) -> usize {
        2 + self.algorithms.as_bytes().len()
    }

    fn write_data(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.algorithms.count("SigningCapabilities.SigningAlgorithmCount")?)?;
        w.bytes(self.algorithms.as_bytes())
    }
}

/// The typed view of one negotiate context (MS-SMB2 2.2.3.1.1 - 2.2.3.1.7). Its [`Encode`] writes the
/// whole context: header and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextData<'a> {
    PreauthIntegrity(PreauthIntegrityCapabilities<'a>),
    Encryption(EncryptionCapabilities<'a>),
    Compression(CompressionCapabilities<'a>),
    NetName(NetName<'a>),
    Transport(TransportCapabilities),
    RdmaTransform(RdmaTransformCapabilities<'a>),
    Signing(SigningCapabilities<'a>),
    /// A type this codec does not decode (POSIX extensions, future types), carried raw.
    Other(NegotiateContext<'a>),
}

/// Evaluates `$typed` with `$b` bound to the typed body, or `$other` with `$raw` for `Other`.
macro_rules! with_body {
    ($self:expr, $b:ident => $typed:expr, $raw:ident => $other:expr) => {
        match $self {
            ContextData::PreauthIntegrity($b) => $typed,
            ContextData::Encryption($b) => $typed,
            ContextData::Compression($b) => $typed,
            ContextData::NetName($b) => $typed,
            ContextData::Transport($b) => $typed,
            ContextData::RdmaTransform($b) => $typed,
            ContextData::Signing($b) => $typed,
            ContextData::Other($raw) => $other,
        }
    };
}

/// The ContextType constant of a body, without naming its lifetime.
fn type_of<'a, B: ContextBody<'a>>(_: &B) -> ContextType {
    B::CONTEXT_TYPE
}

impl ContextData<'_> {
    pub fn context_type(&self) -> ContextType {
        with_body!(self, b => type_of(b), raw => raw.context_type)
    }

    pub fn data_len(&self) -> usize {
        with_body!(self, b => b.data_len(), raw => raw.data.len())
    }
}

impl Encode for ContextData<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        NegotiateContext::HEADER_LEN + self.data_len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        write_context_header(w, self.context_type(), self.data_len())?;
        with_body!(self, b => b.write_data(w), raw => w.bytes(raw.data))
    }
}

macro_rules! from_body {
    ($($t:ident => $v:ident),*) => {
        $(impl<'a> From<$t<'a>> for ContextData<'a> {
            fn from(b: $t<'a>) -> Self {
                ContextData::$v(b)
            }
        })*
    };
}

from_body!(
    PreauthIntegrityCapabilities => PreauthIntegrity,
    EncryptionCapabilities => Encryption,
    CompressionCapabilities => Compression,
    NetName => NetName,
    RdmaTransformCapabilities => RdmaTransform,
    SigningCapabilities => Signing,
    NegotiateContext => Other
);

impl From<TransportCapabilities> for ContextData<'_> {
    fn from(b: TransportCapabilities) -> Self {
        ContextData::Transport(b)
    }
}

/// The validated region of a message holding NegotiateContextCount contexts: from the first
/// context to the end of the last one's data, including the padding between them as sent.
///
/// The region starts 8-aligned from the SMB2 header, so alignment inside it counts from its own
/// start and it can be re-encoded verbatim at any 8-aligned position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NegotiateContextList<'a> {
    bytes: &'a [u8],
    count: u16,
}

impl<'a> NegotiateContextList<'a> {
    /// Far more than the eight types MS-SMB2 defines; Windows clients send about seven.
    pub const MAX_CONTEXTS: usize = 64;

    /// Validates `count` contexts starting at `offset` of `pdu` (which begins at the SMB2 header).
    pub fn parse(pdu: &'a [u8], offset: usize, count: usize) -> Result<Self> {
        Self::parse_named(pdu, offset, count, "NegotiateContextOffset", "NegotiateContextCount")
    }

    /// [`Self::parse`] with the message's own names for the offset and count fields.
    pub(crate) fn parse_named(
        pdu: &'a [u8],
        offset: usize,
        count: usize,
        offset_field: &'static str,
        count_field: &'static str,
    ) -> Result<Self> {
        let count = cap(count, Self::MAX_CONTEXTS, count_field)? as u16;
        if count == 0 {
            return Ok(Self::default());
        }
        if !offset.is_multiple_of(8) {
            return Err(WireError::Misaligned { field: offset_field, offset, align: 8 });
        }
        if offset > pdu.len() {
            return Err(WireError::OutOfBounds { field: offset_field, offset, len: 0, msg_len: pdu.len() });
        }
        let mut r = Reader::at(pdu, offset)?;
        for i in 0..count {
            if i > 0 {
                r.align(8, "NegotiateContext.Padding")?;
            }
            NegotiateContext::read(&mut r)?;
        }
        Ok(Self { bytes: &pdu[offset..r.pos()], count })
    }

    /// Lays `items` out into `out` (as from an 8-aligned position) and returns the list over them.
    pub fn build<'b, C: Encode>(items: &[C], out: &'b mut [u8]) -> Result<NegotiateContextList<'b>> {
        let count = cap(items.len(), Self::MAX_CONTEXTS, "NegotiateContextCount")? as u16;
        let mut w = Writer::new(out);
        encode_contexts(items, &mut w)?;
        let n = w.pos();
        Ok(NegotiateContextList { bytes: &out[..n], count })
    }

    /// The region's bytes: contexts and the padding between them, none after the last.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// NegotiateContextCount.
    pub fn count(&self) -> u16 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> NegotiateContexts<'a> {
        NegotiateContexts { r: Reader::new(self.bytes), left: self.count }
    }

    /// The first context of type `t` (MS-SMB2 lets a type appear once; duplicates are the session
    /// layer's to reject).
    pub fn find(&self, t: ContextType) -> Option<NegotiateContext<'a>> {
        self.iter().find(|c| c.context_type == t)
    }

    /// Writes the region verbatim; the writer must be 8-aligned from the SMB2 header.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        if !self.is_empty() && !w.pos().is_multiple_of(8) {
            return Err(WireError::Misaligned { field: "NegotiateContextOffset", offset: w.pos(), align: 8 });
        }
        w.bytes(self.bytes)
    }
}

impl<'a> IntoIterator for NegotiateContextList<'a> {
    type Item = NegotiateContext<'a>;
    type IntoIter = NegotiateContexts<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the contexts of a [`NegotiateContextList`] (MS-SMB2 2.2.3 / 2.2.4: each context
/// after the first starts 8-aligned).
#[derive(Debug, Clone)]
pub struct NegotiateContexts<'a> {
    r: Reader<'a>,
    left: u16,
}

impl<'a> NegotiateContexts<'a> {
    /// Validates the list `pdu` holds at `offset` (NegotiateContextOffset, from the header start)
    /// and iterates it.
    pub fn new(pdu: &'a [u8], offset: usize, count: usize) -> Result<Self> {
        NegotiateContextList::parse(pdu, offset, count).map(|l| l.iter())
    }
}

impl<'a> Iterator for NegotiateContexts<'a> {
    type Item = NegotiateContext<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The list was validated when parsed or built; an error here cannot happen and just ends
        // the walk.
        if self.r.pos() > 0 {
            self.r.align(8, "NegotiateContext.Padding").ok()?;
        }
        NegotiateContext::read(&mut self.r).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}

/// Writes `items` as consecutive contexts, 8-aligned from the writer's origin (the SMB2 header),
/// with no padding after the last. The writer must already be 8-aligned.
pub fn encode_contexts<C: Encode>(items: &[C], w: &mut Writer<'_>) -> Result<()> {
    if !items.is_empty() && !w.pos().is_multiple_of(8) {
        return Err(WireError::Misaligned { field: "NegotiateContextOffset", offset: w.pos(), align: 8 });
    }
    for (i, c) in items.iter().enumerate() {
        if i > 0 {
            w.align(8)?;
        }
        c.encode(w)?;
    }
    Ok(())
}

/// Bytes [`encode_contexts`] writes from an 8-aligned position.
pub fn contexts_len<C: Encode>(items: &[C]) -> usize {
    items.iter().enumerate().fold(0, |pos, (i, c)| {
        let start = if i > 0 { align_up(pos, 8) } else { pos };
        start + c.encoded_len_at(start)
    })
}

/// Padding before a context list that starts right after `pos`.
pub(crate) fn list_padding(pos: usize, list: &NegotiateContextList<'_>) -> usize {
    if list.is_empty() {
        0
    } else {
        padding(pos, 8)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Owned material for one context, so strategies can produce borrowed `ContextData` from it.
    #[derive(Debug, Clone)]
    pub(crate) enum Spec {
        Preauth(Vec<u8>, Vec<u8>),
        Encryption(Vec<u8>),
        Compression(u32, Vec<u8>),
        NetName(Vec<u8>),
        Transport(u32),
        Rdma(Vec<u8>),
        Signing(Vec<u8>),
        Other(u16, Vec<u8>),
    }

    fn ids(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u16>(), 0..max)
            .prop_map(|v| v.into_iter().flat_map(u16::to_le_bytes).collect())
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    pub(crate) fn spec() -> impl Strategy<Value = Spec> {
        prop_oneof![
            (ids(4), bytes(40)).prop_map(|(h, s)| Spec::Preauth(h, s)),
            ids(6).prop_map(Spec::Encryption),
            (any::<u32>(), ids(6)).prop_map(|(f, a)| Spec::Compression(f, a)),
            ids(20).prop_map(Spec::NetName),
            any::<u32>().prop_map(Spec::Transport),
            ids(4).prop_map(Spec::Rdma),
            ids(4).prop_map(Spec::Signing),
            (prop_oneof![Just(0u16), Just(4u16), 9u16..=0xFFFF], bytes(24))
                .prop_map(|(t, d)| Spec::Other(t, d)),
        ]
    }

    impl Spec {
        pub(crate) fn data(&self) -> ContextData<'_> {
            fn l<T: From<u16>>(b: &[u8]) -> U16List<'_, T> {
                U16List::new(b, "t").unwrap()
            }
            match self {
                Spec::Preauth(h, s) => PreauthIntegrityCapabilities { hash_algorithms: l(h), salt: s }.into(),
                Spec::Encryption(c) => EncryptionCapabilities { ciphers: l(c) }.into(),
                Spec::Compression(f, a) => CompressionCapabilities { flags: *f, algorithms: l(a) }.into(),
                Spec::NetName(n) => NetName { net_name: Utf16::new(n, "t").unwrap() }.into(),
                Spec::Transport(f) => TransportCapabilities { flags: *f }.into(),
                Spec::Rdma(i) => RdmaTransformCapabilities { transform_ids: l(i) }.into(),
                Spec::Signing(a) => SigningCapabilities { algorithms: l(a) }.into(),
                Spec::Other(t, d) => NegotiateContext { context_type: ContextType(*t), data: d }.into(),
            }
        }
    }

    /// Builds a list region from specs into a fresh buffer.
    pub(crate) fn build(specs: &[Spec]) -> Vec<u8> {
        let items: Vec<ContextData<'_>> = specs.iter().map(Spec::data).collect();
        let mut buf = vec![0u8; contexts_len(&items)];
        let n = NegotiateContextList::build(&items, &mut buf).unwrap().as_bytes().len();
        assert_eq!(n, buf.len(), "contexts_len is exact");
        buf
    }

    proptest! {
        #[test]
        fn every_context_form_round_trips(s in spec()) {
            let d = s.data();
            let bytes = d.to_vec();
            prop_assert_eq!(bytes.len(), d.encoded_len());
            let raw = NegotiateContext::read(&mut Reader::new(&bytes)).unwrap();
            prop_assert_eq!(raw.context_type, d.context_type());
            prop_assert_eq!(raw.to_vec(), bytes.clone());
            prop_assert_eq!(raw.decode().unwrap(), d);
            for n in 0..raw.data.len() {
                let _ = NegotiateContext { context_type: raw.context_type, data: &raw.data[..n] }.decode();
            }
        }

        #[test]
        fn lists_round_trip(specs in proptest::collection::vec(spec(), 0..8), lead in 0usize..4) {
            let region = build(&specs);
            // Place the region at an 8-aligned offset inside a larger "pdu".
            let offset = 64 + lead * 8;
            let mut pdu = vec![0xAAu8; offset];
            pdu.extend_from_slice(&region);
            let list = NegotiateContextList::parse(&pdu, offset, specs.len()).unwrap();
            prop_assert_eq!(list.as_bytes(), &region[..]);
            prop_assert_eq!(usize::from(list.count()), specs.len());
            let got: Vec<_> = list.iter().map(|c| c.decode().unwrap()).collect();
            let want: Vec<_> = specs.iter().map(Spec::data).collect();
            prop_assert_eq!(got, want);
            for (c, s) in list.iter().zip(&specs) {
                prop_assert_eq!(list.find(c.context_type).map(|f| f.context_type), Some(s.data().context_type()));
            }
            crate::pdu::testutil::prefixes_never_panic(&pdu, |b| {
                NegotiateContextList::parse(b, offset, specs.len()).is_ok()
            });
        }

        #[test]
        fn random_bytes_never_panic(
            pdu in proptest::collection::vec(any::<u8>(), 0..160),
            offset in 0usize..200,
            count in 0usize..80,
        ) {
            if let Ok(l) = NegotiateContextList::parse(&pdu, offset, count) {
                prop_assert_eq!(l.iter().count(), usize::from(l.count()));
                for c in l {
                    let _ = c.decode();
                }
            }
            for t in [1u16, 2, 3, 5, 6, 7, 8, 0x100] {
                let _ = NegotiateContext { context_type: ContextType(t), data: &pdu }.decode();
            }
        }
    }

    fn two_contexts() -> Vec<u8> {
        // 6 bytes of data in the first context, so 2 bytes of padding before the second.
        build(&[Spec::Encryption(vec![2, 0, 1, 0]), Spec::Transport(1)])
    }

    #[test]
    fn padding_sits_between_contexts_only() {
        let r = two_contexts();
        assert_eq!(r.len(), 8 + 6 + 2 + 8 + 4);
        assert_eq!(&r[14..16], &[0, 0]);
        assert_eq!(&r[16..18], &[6, 0]);
    }

    #[test]
    fn misaligned_offset_is_refused() {
        let mut pdu = vec![0u8; 4];
        pdu.extend_from_slice(&two_contexts());
        assert_eq!(
            NegotiateContextList::parse(&pdu, 4, 2),
            Err(WireError::Misaligned { field: "NegotiateContextOffset", offset: 4, align: 8 })
        );
    }

    #[test]
    fn offset_past_the_end_is_refused() {
        let pdu = two_contexts();
        assert!(matches!(
            NegotiateContextList::parse(&pdu, 64, 1),
            Err(WireError::OutOfBounds { field: "NegotiateContextOffset", offset: 64, .. })
        ));
    }

    #[test]
    fn count_is_capped() {
        let pdu = vec![0u8; 8 * 70];
        assert_eq!(
            NegotiateContextList::parse(&pdu, 0, 65),
            Err(WireError::TooLarge { field: "NegotiateContextCount", value: 65, cap: 64 })
        );
        // 64 empty contexts fit exactly.
        assert_eq!(NegotiateContextList::parse(&pdu, 0, 64).unwrap().iter().count(), 64);
    }

    #[test]
    fn count_beyond_the_contexts_present_is_refused() {
        let pdu = two_contexts();
        assert!(matches!(
            NegotiateContextList::parse(&pdu, 0, 3),
            Err(WireError::Truncated {
                field: "NegotiateContext.Padding" | "NegotiateContext.ContextType",
                ..
            })
        ));
    }

    #[test]
    fn data_length_beyond_the_message_is_refused() {
        let mut pdu = two_contexts();
        pdu[18] = 0x40; // second context's DataLength
        assert!(matches!(
            NegotiateContextList::parse(&pdu, 0, 2),
            Err(WireError::Truncated { field: "NegotiateContext.DataLength", .. })
        ));
    }

    #[test]
    fn missing_padding_before_a_following_context_is_refused() {
        let pdu = two_contexts();
        assert!(matches!(
            NegotiateContextList::parse(&pdu[..15], 0, 2),
            Err(WireError::Truncated { field: "NegotiateContext.Padding", .. })
        ));
    }

    #[test]
    fn encoders_refuse_misaligned_writers() {
        let items = [ContextData::Transport(TransportCapabilities { flags: 1 })];
        let mut buf = [0u8; 16];
        let mut w = Writer::new(&mut buf);
        w.u8(0).unwrap();
        assert!(matches!(encode_contexts(&items, &mut w), Err(WireError::Misaligned { .. })));
    }

    #[test]
    fn short_data_forms_name_their_counts() {
        let d = |t: ContextType, data: &'static [u8]| NegotiateContext { context_type: t, data }.decode();
        assert!(matches!(
            d(ContextType::PREAUTH_INTEGRITY_CAPABILITIES, &[2, 0, 0, 0, 1, 0]),
            Err(WireError::Truncated { field: "PreauthIntegrityCapabilities.HashAlgorithmCount", .. })
        ));
        assert!(matches!(
            d(ContextType::PREAUTH_INTEGRITY_CAPABILITIES, &[1, 0, 4, 0, 1, 0, 9]),
            Err(WireError::Truncated { field: "PreauthIntegrityCapabilities.SaltLength", .. })
        ));
        assert!(matches!(
            d(ContextType::ENCRYPTION_CAPABILITIES, &[3, 0, 1, 0]),
            Err(WireError::Truncated { field: "EncryptionCapabilities.CipherCount", .. })
        ));
        assert!(matches!(
            d(ContextType::COMPRESSION_CAPABILITIES, &[1, 0, 0, 0, 0, 0]),
            Err(WireError::Truncated { field: "CompressionCapabilities.Flags", .. })
        ));
        assert!(matches!(
            d(ContextType::COMPRESSION_CAPABILITIES, &[1, 0, 0, 0, 0, 0, 0, 0]),
            Err(WireError::Truncated { field: "CompressionCapabilities.CompressionAlgorithmCount", .. })
        ));
        assert_eq!(
            d(ContextType::NETNAME_NEGOTIATE_CONTEXT_ID, &[b'a', 0, b'b']),
            Err(WireError::BadValue { field: "NetName.NetName", value: 3 })
        );
        assert!(matches!(
            d(ContextType::TRANSPORT_CAPABILITIES, &[1, 0]),
            Err(WireError::Truncated { field: "TransportCapabilities.Flags", .. })
        ));
        assert!(matches!(
            d(ContextType::RDMA_TRANSFORM_CAPABILITIES, &[1, 0, 0, 0, 0, 0, 0, 0]),
            Err(WireError::Truncated { field: "RdmaTransformCapabilities.TransformCount", .. })
        ));
        assert!(matches!(
            d(ContextType::SIGNING_CAPABILITIES, &[2, 0, 1, 0]),
            Err(WireError::Truncated { field: "SigningCapabilities.SigningAlgorithmCount", .. })
        ));
    }

    #[test]
    fn posix_and_unknown_types_are_carried_raw() {
        let guid = [0x93u8; 16];
        let c = NegotiateContext { context_type: ContextType::POSIX_EXTENSIONS, data: &guid };
        assert_eq!(c.decode().unwrap(), ContextData::Other(c));
        assert_eq!(format!("{:?}", ContextType(0x0042)), "ContextType(0x0042)");
    }

    #[test]
    fn oversized_data_is_refused_on_encode() {
        let big = vec![0u8; 0x1_0000];
        let c = NegotiateContext { context_type: ContextType(9), data: &big };
        let mut out = vec![0u8; big.len() + 8];
        assert!(matches!(
            c.encode_into(&mut out),
            Err(WireError::TooLarge { field: "NegotiateContext.DataLength", .. })
        ));
    }

    #[test]
    fn id_lists_build_and_read() {
        let mut buf = [0u8; 8];
        let l = U16List::build(&[CipherId::AES_128_GCM, CipherId::AES_256_GCM], &mut buf).unwrap();
        assert_eq!(l.as_bytes(), &[2, 0, 4, 0]);
        assert!(l.contains(CipherId::AES_256_GCM));
        assert_eq!(l.first(), Some(CipherId::AES_128_GCM));
        assert_eq!(format!("{l:?}"), "[AES_128_GCM, AES_256_GCM]");
        assert_eq!(format!("{:?}", CipherId(9)), "CipherId(0x0009)");
        assert!(U16List::<CipherId>::new(&[1, 0, 2], "f").is_err());
    }
}
