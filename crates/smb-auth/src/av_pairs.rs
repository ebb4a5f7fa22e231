//! MS-NLMP 2.2.2.1 AV_PAIR lists: the CHALLENGE's TargetInfo and the AV pairs inside an NTLMv2 client
//! blob. Walked with bounds and a count cap; the list must end with MsvAvEOL.

use crate::error::{malformed, AuthError};

/// MS-NLMP 2.2.2.1 AvId values.
pub mod av_id {
    pub const EOL: u16 = 0;
    pub const NB_COMPUTER_NAME: u16 = 1;
    pub const NB_DOMAIN_NAME: u16 = 2;
    pub const DNS_COMPUTER_NAME: u16 = 3;
    pub const DNS_DOMAIN_NAME: u16 = 4;
    pub const DNS_TREE_NAME: u16 = 5;
    pub const FLAGS: u16 = 6;
    pub const TIMESTAMP: u16 = 7;
    pub const SINGLE_HOST: u16 = 8;
    pub const TARGET_NAME: u16 = 9;
    pub const CHANNEL_BINDINGS: u16 = 10;
}

/// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
pub const MSV_AV_FLAG_MIC_PRESENT: u32 = 0x0000_0002;

/// More pairs than any real peer sends (Windows: about 10); bounds the work a hostile list can cause.
pub const MAX_AV_PAIRS: usize = 64;

/// One AV_PAIR, borrowing its value from the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvPair<'a> {
    pub id: u16,
    pub value: &'a [u8],
}

/// A parsed AV_PAIR list (without its EOL). Bytes after EOL (the NTLMv2 blob's trailing zeros) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AvPairs<'a> {
    pairs: Vec<AvPair<'a>>,
}

impl<'a> AvPairs<'a> {
    pub fn parse(list: &'a [u8], what: &'static str) -> Result<Self, AuthError> {
        let mut pairs = Vec::new();
        let mut at = 0usize;
        loop {
            let Some(head) = list.get(at..at + 4) else {
                return Err(malformed(what, "AV_PAIR list ends without MsvAvEOL"));
            };
            let id = u16::from_le_bytes([head[0], head[1]]);
            let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
            at += 4;
            if id == av_id::EOL {
                return Ok(Self { pairs });
            }
            let Some(value) = list.get(at..at + len) else {
                return Err(malformed(what, "AV_PAIR value beyond the list"));
            };
            if pairs.len() == MAX_AV_PAIRS {
                return Err(malformed(what, "too many AV_PAIRs"));
            }
            pairs.push(AvPair { id, value });
            at += len;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &AvPair<'a>> {
        self.pairs.iter()
    }

    pub fn get(&self, id: u16) -> Option<&'a [u8]> {
        self.pairs.iter().find(|p| p.id == id).map(|p| p.value)
    }

    /// MsvAvFlags, 0 when absent.
    pub fn flags(&self, what: &'static str) -> Result<u32, AuthError> {
        match self.get(av_id::FLAGS) {
            None => Ok(0),
            Some(v) => {
                let b: [u8; 4] = v.try_into().map_err(|_| malformed(what, "MsvAvFlags is not 4 bytes"))?;
                Ok(u32::from_le_bytes(b))
            }
        }
    }

    /// MsvAvTimestamp (FILETIME), when present and well formed.
    pub fn timestamp(&self) -> Option<u64> {
        let v: [u8; 8] = self.get(av_id::TIMESTAMP)?.try_into().ok()?;
        Some(u64::from_le_bytes(v))
    }
}

/// Appends one AV_PAIR to `out`. Values longer than 64 KiB cannot be described and are cut; callers only
/// pass names and fixed-size fields.
pub fn push(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    let value = &value[..value.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
}

pub fn push_eol(out: &mut Vec<u8>) {
    push(out, av_id::EOL, &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MS-NLMP 4.2.4 TargetInfo: NbDomainName "Domain", NbComputerName "Server".
    const NLMP_TARGET_INFO: &str = "02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000";

    #[test]
    fn parses_the_ms_nlmp_target_info() {
        let bytes = hex::decode(NLMP_TARGET_INFO).unwrap();
        let pairs = AvPairs::parse(&bytes, "TargetInfo").unwrap();
        assert_eq!(pairs.iter().count(), 2);
        assert_eq!(pairs.get(av_id::NB_DOMAIN_NAME).unwrap(), crate::text::utf16le("Domain"));
        assert_eq!(pairs.get(av_id::NB_COMPUTER_NAME).unwrap(), crate::text::utf16le("Server"));
        assert_eq!(pairs.flags("x").unwrap(), 0);
        assert_eq!(pairs.timestamp(), None);
    }

    #[test]
    fn encodes_what_it_parses() {
        let mut out = Vec::new();
        push(&mut out, av_id::NB_DOMAIN_NAME, &crate::text::utf16le("Domain"));
        push(&mut out, av_id::NB_COMPUTER_NAME, &crate::text::utf16le("Server"));
        push_eol(&mut out);
        assert_eq!(hex::encode(&out), &NLMP_TARGET_INFO[..out.len() * 2]);
    }

    #[test]
    fn rejects_missing_eol_overlong_values_and_floods() {
        assert!(AvPairs::parse(&[], "t").is_err());
        assert!(AvPairs::parse(&[1, 0, 2, 0, 0x41], "t").is_err());
        assert!(AvPairs::parse(&[1, 0, 0, 0], "t").is_err(), "no EOL after a pair");
        let mut flood = Vec::new();
        for _ in 0..=MAX_AV_PAIRS {
            push(&mut flood, av_id::SINGLE_HOST, &[]);
        }
        push_eol(&mut flood);
        assert!(AvPairs::parse(&flood, "t").is_err());
    }

    #[test]
    fn flags_must_be_four_bytes() {
        let mut l = Vec::new();
        push(&mut l, av_id::FLAGS, &[2, 0, 0]);
        push_eol(&mut l);
        assert!(AvPairs::parse(&l, "t").unwrap().flags("t").is_err());
        let mut l = Vec::new();
        push(&mut l, av_id::FLAGS, &2u32.to_le_bytes());
        push_eol(&mut l);
        assert_eq!(AvPairs::parse(&l, "t").unwrap().flags("t").unwrap(), MSV_AV_FLAG_MIC_PRESENT);
    }
}
