//! FSCTL codes (MS-SMB2 2.2.31, MS-FSCC 2.3) and the FSCTL payloads the engine reads and writes:
//! MS-SMB2 2.2.31.4 VALIDATE_NEGOTIATE_INFO Request, 2.2.32.6 VALIDATE_NEGOTIATE_INFO Response and
//! 2.2.32.5 NETWORK_INTERFACE_INFO. These are IOCTL input/output buffers, not PDUs: `parse` takes the
//! buffer alone and nothing in them is an offset from the SMB2 header.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::codec::{cap, slice_at, Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::types::{narrow_u16, us, Guid};

/// MS-SMB2 2.2.31 CtlCode. A newtype: clients send FSCTLs we do not implement, and the protocol layer
/// answers those (STATUS_NOT_SUPPORTED / STATUS_INVALID_DEVICE_REQUEST).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CtlCode(pub u32);

impl CtlCode {
    pub const DFS_GET_REFERRALS: CtlCode = CtlCode(0x0006_0194);
    pub const DFS_GET_REFERRALS_EX: CtlCode = CtlCode(0x0006_01B0);
    pub const PIPE_PEEK: CtlCode = CtlCode(0x0011_400C);
    pub const PIPE_WAIT: CtlCode = CtlCode(0x0011_0018);
    pub const PIPE_TRANSCEIVE: CtlCode = CtlCode(0x0011_C017);
    pub const SRV_COPYCHUNK: CtlCode = CtlCode(0x0014_40F2);
    pub const SRV_COPYCHUNK_WRITE: CtlCode = CtlCode(0x0014_80F2);
    pub const SRV_ENUMERATE_SNAPSHOTS: CtlCode = CtlCode(0x0014_4064);
    pub const SRV_REQUEST_RESUME_KEY: CtlCode = CtlCode(0x0014_0078);
    pub const SRV_READ_HASH: CtlCode = CtlCode(0x0014_41BB);
    pub const LMR_REQUEST_RESILIENCY: CtlCode = CtlCode(0x0014_01D4);
    pub const QUERY_NETWORK_INTERFACE_INFO: CtlCode = CtlCode(0x0014_01FC);
    pub const VALIDATE_NEGOTIATE_INFO: CtlCode = CtlCode(0x0014_0204);
    pub const SET_REPARSE_POINT: CtlCode = CtlCode(0x0009_00A4);
    pub const GET_REPARSE_POINT: CtlCode = CtlCode(0x0009_00A8);
    pub const DELETE_REPARSE_POINT: CtlCode = CtlCode(0x0009_00AC);
    pub const CREATE_OR_GET_OBJECT_ID: CtlCode = CtlCode(0x0009_00C0);
    pub const SET_SPARSE: CtlCode = CtlCode(0x0009_00C4);
    pub const SET_ZERO_DATA: CtlCode = CtlCode(0x0009_80C8);
    pub const QUERY_ALLOCATED_RANGES: CtlCode = CtlCode(0x0009_40CF);
    pub const GET_COMPRESSION: CtlCode = CtlCode(0x0009_003C);
    pub const SET_COMPRESSION: CtlCode = CtlCode(0x0009_C040);
    pub const FILE_LEVEL_TRIM: CtlCode = CtlCode(0x0009_8208);
    pub const DUPLICATE_EXTENTS_TO_FILE: CtlCode = CtlCode(0x0009_8344);
    pub const GET_INTEGRITY_INFORMATION: CtlCode = CtlCode(0x0009_027C);
    pub const SET_INTEGRITY_INFORMATION: CtlCode = CtlCode(0x0009_C280);
    pub const OFFLOAD_READ: CtlCode = CtlCode(0x0009_4264);
    pub const OFFLOAD_WRITE: CtlCode = CtlCode(0x0009_8268);

    const NAMES: [(CtlCode, &'static str); 28] = [
        (Self::DFS_GET_REFERRALS, "DFS_GET_REFERRALS"),
        (Self::DFS_GET_REFERRALS_EX, "DFS_GET_REFERRALS_EX"),
        (Self::PIPE_PEEK, "PIPE_PEEK"),
        (Self::PIPE_WAIT, "PIPE_WAIT"),
        (Self::PIPE_TRANSCEIVE, "PIPE_TRANSCEIVE"),
        (Self::SRV_COPYCHUNK, "SRV_COPYCHUNK"),
        (Self::SRV_COPYCHUNK_WRITE, "SRV_COPYCHUNK_WRITE"),
        (Self::SRV_ENUMERATE_SNAPSHOTS, "SRV_ENUMERATE_SNAPSHOTS"),
        (Self::SRV_REQUEST_RESUME_KEY, "SRV_REQUEST_RESUME_KEY"),
        (Self::SRV_READ_HASH, "SRV_READ_HASH"),
        (Self::LMR_REQUEST_RESILIENCY, "LMR_REQUEST_RESILIENCY"),
        (Self::QUERY_NETWORK_INTERFACE_INFO, "QUERY_NETWORK_INTERFACE_INFO"),
        (Self::VALIDATE_NEGOTIATE_INFO, "VALIDATE_NEGOTIATE_INFO"),
        (Self::SET_REPARSE_POINT, "SET_REPARSE_POINT"),
        (Self::GET_REPARSE_POINT, "GET_REPARSE_POINT"),
        (Self::DELETE_REPARSE_POINT, "DELETE_REPARSE_POINT"),
        (Self::CREATE_OR_GET_OBJECT_ID, "CREATE_OR_GET_OBJECT_ID"),
        (Self::SET_SPARSE, "SET_SPARSE"),
        (Self::SET_ZERO_DATA, "SET_ZERO_DATA"),
        (Self::QUERY_ALLOCATED_RANGES, "QUERY_ALLOCATED_RANGES"),
        (Self::GET_COMPRESSION, "GET_COMPRESSION"),
        (Self::SET_COMPRESSION, "SET_COMPRESSION"),
        (Self::FILE_LEVEL_TRIM, "FILE_LEVEL_TRIM"),
        (Self::DUPLICATE_EXTENTS_TO_FILE, "DUPLICATE_EXTENTS_TO_FILE"),
        (Self::GET_INTEGRITY_INFORMATION, "GET_INTEGRITY_INFORMATION"),
        (Self::SET_INTEGRITY_INFORMATION, "SET_INTEGRITY_INFORMATION"),
        (Self::OFFLOAD_READ, "OFFLOAD_READ"),
        (Self::OFFLOAD_WRITE, "OFFLOAD_WRITE"),
    ];

    pub fn name(self) -> Option<&'static str> {
        Self::NAMES.iter().find(|(c, _)| *c == self).map(|(_, n)| *n)
    }
}

impl core::fmt::Debug for CtlCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "FSCTL_{n}"),
            None => write!(f, "CtlCode({:#010x})", self.0),
        }
    }
}

/// MS-SMB2 2.2.31.4 Dialects: borrowed little-endian u16s from a message, or a caller's slice to encode.
/// Equality compares the dialects.
#[derive(Clone, Copy)]
pub struct Dialects<'a>(DialectsRepr<'a>);

#[derive(Clone, Copy)]
enum DialectsRepr<'a> {
    Wire(&'a [u8]),
    List(&'a [u16]),
}

impl<'a> Dialects<'a> {
    pub fn from_slice(list: &'a [u16]) -> Self {
        Self(DialectsRepr::List(list))
    }

    pub fn len(&self) -> usize {
        match self.0 {
            DialectsRepr::Wire(b) => b.len() / 2,
            DialectsRepr::List(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        let (wire, list): (&'a [u8], &'a [u16]) = match self.0 {
            DialectsRepr::Wire(b) => (b, &[]),
            DialectsRepr::List(l) => (&[], l),
        };
        wire.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).chain(list.iter().copied())
    }
}

impl PartialEq for Dialects<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Dialects<'_> {}

impl Default for Dialects<'_> {
    fn default() -> Self {
        Self(DialectsRepr::List(&[]))
    }
}

impl core::fmt::Debug for Dialects<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter().map(|d| format!("{d:#06x}"))).finish()
    }
}

/// MS-SMB2 2.2.31.4 VALIDATE_NEGOTIATE_INFO Request (the IOCTL input buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidateNegotiateInfoRequest<'a> {
    pub capabilities: u32,
    /// The ClientGuid.
    pub guid: Guid,
    pub security_mode: u16,
    pub dialects: Dialects<'a>,
}

impl<'a> ValidateNegotiateInfoRequest<'a> {
    const FIXED_LEN: usize = 24;

    /// Parses the input buffer; bytes after the dialect list are ignored.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(input);
        let capabilities = r.u32("ValidateNegotiateInfoRequest.Capabilities")?;
        let guid = r.array("ValidateNegotiateInfoRequest.Guid")?;
        let security_mode = r.u16("ValidateNegotiateInfoRequest.SecurityMode")?;
        let count = us(r.u16("ValidateNegotiateInfoRequest.DialectCount")?);
        let dialects =
            Dialects(DialectsRepr::Wire(r.bytes(2 * count, "ValidateNegotiateInfoRequest.Dialects")?));
        Ok(Self { capabilities, guid, security_mode, dialects })
    }
}

impl Encode for ValidateNegotiateInfoRequest<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + 2 * self.dialects.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.capabilities)?;
        w.bytes(&self.guid)?;
        w.u16(self.security_mode)?;
        w.u16(narrow_u16(self.dialects.len(), "ValidateNegotiateInfoRequest.DialectCount")?)?;
        self.dialects.iter().try_for_each(|d| w.u16(d))
    }
}

/// MS-SMB2 2.2.32.6 VALIDATE_NEGOTIATE_INFO Response (the IOCTL output buffer, 24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidateNegotiateInfoResponse {
    pub capabilities: u32,
    /// The ServerGuid.
    pub guid: Guid,
    pub security_mode: u16,
    pub dialect: u16,
}

impl ValidateNegotiateInfoResponse {
    pub const LEN: usize = 24;

    pub fn parse(output: &[u8]) -> Result<Self> {
        let mut r = Reader::new(output);
        Ok(Self {
            capabilities: r.u32("ValidateNegotiateInfoResponse.Capabilities")?,
            guid: r.array("ValidateNegotiateInfoResponse.Guid")?,
            security_mode: r.u16("ValidateNegotiateInfoResponse.SecurityMode")?,
            dialect: r.u16("ValidateNegotiateInfoResponse.Dialect")?,
        })
    }
}

impl Encode for ValidateNegotiateInfoResponse {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::LEN
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.capabilities)?;
        w.bytes(&self.guid)?;
        w.u16(self.security_mode)?;
        w.u16(self.dialect)
    }
}

/// MS-SMB2 2.2.32.5 NETWORK_INTERFACE_INFO Capability.
pub mod interface_capability {
    pub const RSS_CAPABLE: u32 = 0x0000_0001;
    /// Windows clients open SMB Direct channels only to interfaces with this bit.
    pub const RDMA_CAPABLE: u32 = 0x0000_0002;
}

/// MS-SMB2 2.2.32.5.1 SOCKADDR_STORAGE Family values.
pub mod address_family {
    pub const INTERNETWORK: u16 = 0x0002;
    pub const INTERNETWORK_V6: u16 = 0x0017;
}

/// MS-SMB2 2.2.32.5.1 SOCKADDR_STORAGE of an interface: IPv4 or IPv6 (port, flow info and scope id carried as
/// sent; the spec wants them 0), or an unknown family, kept so the entry is not lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterfaceAddress {
    Ip(SocketAddr),
    /// Any family other than INTERNETWORK / INTERNETWORK_V6; its bytes are not interpreted.
    Other {
        family: u16,
    },
}

impl Default for InterfaceAddress {
    fn default() -> Self {
        Self::Ip(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)))
    }
}

/// MS-SMB2 2.2.32.5 NETWORK_INTERFACE_INFO: one 152-byte entry of the
/// FSCTL_QUERY_NETWORK_INTERFACE_INFO output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkInterfaceInfo {
    pub if_index: u32,
    /// [`interface_capability`].
    pub capability: u32,
    /// Bits per second.
    pub link_speed: u64,
    pub address: InterfaceAddress,
}

impl NetworkInterfaceInfo {
    pub const LEN: usize = 152;
    const SOCKADDR_LEN: usize = 128;

    /// Decodes one 152-byte entry, returning it and its Next field.
    fn read(entry: &[u8]) -> Result<(Self, usize)> {
        let mut r = Reader::new(entry);
        let next = us(r.u32("NetworkInterfaceInfo.Next")?);
        let if_index = r.u32("NetworkInterfaceInfo.IfIndex")?;
        let capability = r.u32("NetworkInterfaceInfo.Capability")?;
        r.skip(4, "NetworkInterfaceInfo.Reserved")?;
        let link_speed = r.u64("NetworkInterfaceInfo.LinkSpeed")?;
        let family = r.u16("NetworkInterfaceInfo.Family")?;
        let address = match family {
            address_family::INTERNETWORK => {
                let port = r.u16_be("NetworkInterfaceInfo.Port")?;
                let ip: [u8; 4] = r.array("NetworkInterfaceInfo.IPv4Address")?;
                InterfaceAddress::Ip(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
            }
            address_family::INTERNETWORK_V6 => {
                let port = r.u16_be("NetworkInterfaceInfo.Port")?;
                let flow = r.u32_be("NetworkInterfaceInfo.FlowInfo")?;
                let ip: [u8; 16] = r.array("NetworkInterfaceInfo.IPv6Address")?;
                // Linux reads ScopeId big-endian too; the spec wants it 0 so the order rarely shows.
                let scope = r.u32_be("NetworkInterfaceInfo.ScopeId")?;
                InterfaceAddress::Ip(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope)))
            }
            family => InterfaceAddress::Other { family },
        };
        Ok((Self { if_index, capability, link_speed, address }, next))
    }

    fn write(&self, next: u32, w: &mut Writer<'_>) -> Result<()> {
        w.u32(next)?;
        w.u32(self.if_index)?;
        w.u32(self.capability)?;
        w.u32(0)?;
        w.u64(self.link_speed)?;
        let used = match self.address {
            InterfaceAddress::Ip(SocketAddr::V4(a)) => {
                w.u16(address_family::INTERNETWORK)?;
                w.u16_be(a.port())?;
                w.bytes(&a.ip().octets())?;
                8
            }
            InterfaceAddress::Ip(SocketAddr::V6(a)) => {
                w.u16(address_family::INTERNETWORK_V6)?;
                w.u16_be(a.port())?;
                w.u32_be(a.flowinfo())?;
                w.bytes(&a.ip().octets())?;
                w.u32_be(a.scope_id())?;
                28
            }
            InterfaceAddress::Other { family } => {
                if family == address_family::INTERNETWORK || family == address_family::INTERNETWORK_V6 {
                    // Would parse back as an IP address: not a canonical value.
                    return Err(WireError::BadValue {
                        field: "NetworkInterfaceInfo.Family",
                        value: family.into(),
                    });
                }
                w.u16(family)?;
                2
            }
        };
        w.zeros(Self::SOCKADDR_LEN - used)
    }
}

/// MS-SMB2 2.2.32.5 the FSCTL_QUERY_NETWORK_INTERFACE_INFO output: a Next-linked chain of entries, borrowed from a
/// message (validated once by [`NetworkInterfaces::parse`], decoded lazily) or a caller's slice to
/// encode. Equality compares entries.
#[derive(Clone, Copy)]
pub struct NetworkInterfaces<'a>(IfRepr<'a>);

#[derive(Clone, Copy)]
enum IfRepr<'a> {
    Wire { bytes: &'a [u8], count: usize },
    List(&'a [NetworkInterfaceInfo]),
}

impl<'a> NetworkInterfaces<'a> {
    /// Far more addresses than any server has; bounds the walk.
    pub const MAX_INTERFACES: usize = 256;

    pub fn from_slice(list: &'a [NetworkInterfaceInfo]) -> Self {
        Self(IfRepr::List(list))
    }

    /// Validates the chain: each entry whole and inside `bytes`, each Next either 0 (last) or at
    /// least one entry long (so the walk moves forward without overlap), at most
    /// [`Self::MAX_INTERFACES`] entries. Empty `bytes` is an empty list.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut count = 0;
        if !bytes.is_empty() {
            let mut pos = 0usize;
            loop {
                count += 1;
                cap(count, Self::MAX_INTERFACES, "NetworkInterfaces.Count")?;
                let entry = slice_at(bytes, pos, NetworkInterfaceInfo::LEN, "NetworkInterfaceInfo")?;
                let (_, next) = NetworkInterfaceInfo::read(entry)?;
                if next == 0 {
                    break;
                }
                if next < NetworkInterfaceInfo::LEN {
                    return Err(WireError::BadValue {
                        field: "NetworkInterfaceInfo.Next",
                        value: next as u64,
                    });
                }
                pos = pos.checked_add(next).ok_or(WireError::OutOfBounds {
                    field: "NetworkInterfaceInfo.Next",
                    offset: pos,
                    len: next,
                    msg_len: bytes.len(),
                })?;
            }
        }
        Ok(Self(IfRepr::Wire { bytes, count }))
    }

    pub fn len(&self) -> usize {
        match self.0 {
            IfRepr::Wire { count, .. } => count,
            IfRepr::List(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = NetworkInterfaceInfo> + 'a {
        let (wire, mut list, count, is_wire) = match self.0 {
            IfRepr::Wire { bytes, count } => (bytes, [].iter(), count, true),
            IfRepr::List(l) => (&[][..], l.iter(), l.len(), false),
        };
        let mut pos = 0usize;
        (0..count).map_while(move |_| {
            if !is_wire {
                return list.next().copied();
            }
            // Validated by `parse`; an error here would only end the iteration early.
            let entry = slice_at(wire, pos, NetworkInterfaceInfo::LEN, "NetworkInterfaceInfo").ok()?;
            let (info, next) = NetworkInterfaceInfo::read(entry).ok()?;
            pos = pos.checked_add(next)?;
            Some(info)
        })
    }
}

impl Encode for NetworkInterfaces<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        NetworkInterfaceInfo::LEN * self.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let count = cap(self.len(), Self::MAX_INTERFACES, "NetworkInterfaces.Count")?;
        for (i, info) in self.iter().enumerate() {
            let next = if i + 1 == count { 0 } else { NetworkInterfaceInfo::LEN as u32 };
            info.write(next, w)?;
        }
        Ok(())
    }
}

impl PartialEq for NetworkInterfaces<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for NetworkInterfaces<'_> {}

impl Default for NetworkInterfaces<'_> {
    fn default() -> Self {
        Self(IfRepr::List(&[]))
    }
}

impl core::fmt::Debug for NetworkInterfaces<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_address() -> impl Strategy<Value = InterfaceAddress> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| InterfaceAddress::Ip(SocketAddr::V4(
                SocketAddrV4::new(ip.into(), port)
            ))),
            (any::<[u8; 16]>(), any::<u16>(), any::<u32>(), any::<u32>()).prop_map(
                |(ip, port, flow, scope)| {
                    InterfaceAddress::Ip(SocketAddr::V6(SocketAddrV6::new(ip.into(), port, flow, scope)))
                }
            ),
            any::<u16>()
                .prop_filter("not an IP family", |f| *f != 0x0002 && *f != 0x0017)
                .prop_map(|family| InterfaceAddress::Other { family }),
        ]
    }

    fn arb_interfaces() -> impl Strategy<Value = Vec<NetworkInterfaceInfo>> {
        proptest::collection::vec(
            (any::<u32>(), any::<u32>(), any::<u64>(), arb_address()).prop_map(
                |(if_index, capability, link_speed, address)| NetworkInterfaceInfo {
                    if_index,
                    capability,
                    link_speed,
                    address,
                },
            ),
            0..5,
        )
    }

    proptest! {
        #[test]
        fn interfaces_round_trip(list in arb_interfaces()) {
            let ifs = NetworkInterfaces::from_slice(&list);
            let b = ifs.to_vec();
            prop_assert_eq!(b.len(), 152 * list.len());
            let back = NetworkInterfaces::parse(&b).unwrap();
            prop_assert_eq!(back, ifs);
            prop_assert_eq!(back.iter().collect::<Vec<_>>(), list);
            prop_assert_eq!(back.to_vec(), b.clone());
            for n in 0..b.len() {
                let _ = NetworkInterfaces::parse(&b[..n]);
            }
        }

        #[test]
        fn validate_negotiate_round_trips(
            caps in any::<u32>(), guid in any::<[u8; 16]>(), mode in any::<u16>(),
            dialects in proptest::collection::vec(any::<u16>(), 0..8), dialect in any::<u16>(),
        ) {
            let req = ValidateNegotiateInfoRequest {
                capabilities: caps,
                guid,
                security_mode: mode,
                dialects: Dialects::from_slice(&dialects),
            };
            let b = req.to_vec();
            prop_assert_eq!(ValidateNegotiateInfoRequest::parse(&b).unwrap(), req);
            prop_assert_eq!(ValidateNegotiateInfoRequest::parse(&b).unwrap().dialects.iter().collect::<Vec<_>>(), dialects);
            for n in 0..b.len() {
                prop_assert!(ValidateNegotiateInfoRequest::parse(&b[..n]).is_err());
            }
            let rsp = ValidateNegotiateInfoResponse { capabilities: caps, guid, security_mode: mode, dialect };
            let b = rsp.to_vec();
            prop_assert_eq!(b.len(), 24);
            prop_assert_eq!(ValidateNegotiateInfoResponse::parse(&b).unwrap(), rsp);
            for n in 0..b.len() {
                prop_assert!(ValidateNegotiateInfoResponse::parse(&b[..n]).is_err());
            }
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(l) = NetworkInterfaces::parse(&b) {
                prop_assert_eq!(l.iter().count(), l.len());
            }
            if let Ok(r) = ValidateNegotiateInfoRequest::parse(&b) {
                let _ = r.dialects.iter().count();
            }
            let _ = ValidateNegotiateInfoResponse::parse(&b);
        }

        #[test]
        fn mutated_chains_never_panic(list in arb_interfaces(), at in any::<usize>(), v in any::<u8>()) {
            let mut b = NetworkInterfaces::from_slice(&list).to_vec();
            if !b.is_empty() {
                let i = at % b.len();
                b[i] = v;
            }
            if let Ok(l) = NetworkInterfaces::parse(&b) {
                prop_assert_eq!(l.iter().count(), l.len());
            }
        }
    }

    #[test]
    fn known_bytes_of_an_rdma_ipv4_entry() {
        let info = NetworkInterfaceInfo {
            if_index: 5,
            capability: interface_capability::RDMA_CAPABLE | interface_capability::RSS_CAPABLE,
            link_speed: 100_000_000_000,
            address: InterfaceAddress::Ip("192.168.1.10:0".parse().unwrap()),
        };
        let b = NetworkInterfaces::from_slice(&[info]).to_vec();
        assert_eq!(
            hex::encode(&b[..36]),
            concat!(
                "00000000",
                "05000000",
                "03000000",
                "00000000",
                "00e8764817000000",
                "0200",
                "0000",
                "c0a8010a",
                "00000000"
            )
        );
        assert!(b[36..].iter().all(|&x| x == 0));
        let v6 =
            NetworkInterfaceInfo { address: InterfaceAddress::Ip("[fe80::1]:0".parse().unwrap()), ..info };
        let b = NetworkInterfaces::from_slice(&[info, v6]).to_vec();
        assert_eq!(&b[0..4], &152u32.to_le_bytes());
        assert_eq!(&b[152 + 24..152 + 26], &[0x17, 0x00]);
        assert_eq!(&b[152 + 32..152 + 34], &[0xfe, 0x80]);
        assert_eq!(NetworkInterfaces::parse(&b).unwrap().iter().nth(1), Some(v6));
    }

    #[test]
    fn chain_walk_checks() {
        let info = NetworkInterfaceInfo::default();
        let mut b = NetworkInterfaces::from_slice(&[info, info]).to_vec();
        // Next pointing backwards or inside the entry: the walk would loop or overlap.
        b[0..4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(NetworkInterfaces::parse(&b).unwrap().len(), 1);
        b[0..4].copy_from_slice(&8u32.to_le_bytes());
        assert_eq!(
            NetworkInterfaces::parse(&b),
            Err(WireError::BadValue { field: "NetworkInterfaceInfo.Next", value: 8 })
        );
        b[0..4].copy_from_slice(&160u32.to_le_bytes());
        assert_eq!(
            NetworkInterfaces::parse(&b),
            Err(WireError::OutOfBounds {
                field: "NetworkInterfaceInfo",
                offset: 160,
                len: 152,
                msg_len: 304
            })
        );
        b[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            NetworkInterfaces::parse(&b),
            Err(WireError::OutOfBounds { field: "NetworkInterfaceInfo", .. })
        ));
        assert!(matches!(
            NetworkInterfaces::parse(&b[..100]),
            Err(WireError::OutOfBounds { field: "NetworkInterfaceInfo", offset: 0, len: 152, msg_len: 100 })
        ));
        // A chain longer than the cap is refused even though the bytes hold it.
        let many = vec![info; NetworkInterfaces::MAX_INTERFACES];
        let mut b = NetworkInterfaces::from_slice(&many).to_vec();
        assert_eq!(NetworkInterfaces::parse(&b).unwrap().len(), 256);
        let last = b.len() - 152;
        b[last..last + 4].copy_from_slice(&152u32.to_le_bytes());
        b.extend_from_slice(&NetworkInterfaces::from_slice(&[info]).to_vec());
        assert_eq!(
            NetworkInterfaces::parse(&b),
            Err(WireError::TooLarge { field: "NetworkInterfaces.Count", value: 257, cap: 256 })
        );
        let too_many = vec![info; NetworkInterfaces::MAX_INTERFACES + 1];
        assert!(matches!(
            NetworkInterfaces::from_slice(&too_many).encode_into(&mut vec![0u8; b.len()]),
            Err(WireError::TooLarge { field: "NetworkInterfaces.Count", .. })
        ));
        let other = NetworkInterfaceInfo { address: InterfaceAddress::Other { family: 2 }, ..info };
        assert!(matches!(
            NetworkInterfaces::from_slice(&[other]).encode_into(&mut [0u8; 152]),
            Err(WireError::BadValue { field: "NetworkInterfaceInfo.Family", value: 2 })
        ));
    }

    #[test]
    fn validate_negotiate_known_bytes_and_truncation() {
        let req = ValidateNegotiateInfoRequest {
            capabilities: 0x7F,
            guid: [0x11; 16],
            security_mode: 1,
            dialects: Dialects::from_slice(&[0x0202, 0x0210, 0x0300, 0x0302]),
        };
        let b = req.to_vec();
        assert_eq!(hex::encode(&b[..4]), "7f000000");
        assert_eq!(hex::encode(&b[20..]), "0100040002021002000302 03".replace(' ', ""));
        let mut cut = b.clone();
        cut[22] = 5; // DialectCount beyond the buffer
        assert!(matches!(
            ValidateNegotiateInfoRequest::parse(&cut),
            Err(WireError::Truncated {
                field: "ValidateNegotiateInfoRequest.Dialects",
                need: 10,
                have: 8,
                ..
            })
        ));
        assert_eq!(format!("{:?}", CtlCode::VALIDATE_NEGOTIATE_INFO), "FSCTL_VALIDATE_NEGOTIATE_INFO");
        assert_eq!(format!("{:?}", CtlCode(0x1234)), "CtlCode(0x00001234)");
    }
}
