//! MS-NLMP 2.2.1.1 NEGOTIATE_MESSAGE.

use super::{check_prefix, SIGNATURE, TYPE_NEGOTIATE, VERSION};
use crate::error::AuthError;
use crate::flags::NEGOTIATE_VERSION;
use crate::secbuf::{secbuf, u32_at, MessageBuilder};

/// `0 Signature, 8 MessageType, 12 NegotiateFlags, 16 DomainName secbuf, 24 Workstation secbuf,
/// 32 Version`, payload from 40. The domain and workstation are hints nobody relies on; we send them
/// empty and only check that a peer's lie within the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateMessage {
    pub flags: u32,
}

impl NegotiateMessage {
    const WHAT: &'static str = "NEGOTIATE";
    const FIXED: usize = 40;

    pub fn parse(msg: &[u8]) -> Result<Self, AuthError> {
        check_prefix(msg, TYPE_NEGOTIATE, Self::WHAT)?;
        let flags = u32_at(msg, 12, "NEGOTIATE NegotiateFlags")?;
        // Very old clients stop after the flags; when the buffers are there they must be in bounds.
        if msg.len() >= 32 {
            secbuf(msg, 16, "NEGOTIATE DomainName")?;
            secbuf(msg, 24, "NEGOTIATE Workstation")?;
        }
        Ok(Self { flags })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = MessageBuilder::new(Self::FIXED);
        b.put(0, SIGNATURE);
        b.put_u32(8, TYPE_NEGOTIATE);
        b.put_u32(12, self.flags);
        if self.flags & NEGOTIATE_VERSION != 0 {
            b.put(32, &VERSION);
        }
        // Empty buffers cannot exceed the 16-bit length, so these never fail.
        let _ = b.payload(16, &[], "NEGOTIATE DomainName");
        let _ = b.payload(24, &[], "NEGOTIATE Workstation");
        b.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The NTLM NEGOTIATE inside the first SESSION_SETUP request of the Windows capture in the MS blog
    /// "SMB 3.1.1 Pre-authentication integrity in Windows 10" (2015-08-11; docs/TEST-VECTORS.md).
    const WINDOWS: &str = "4E544C4D5353500001000000978208E200000000000000000000000000000000060380250000000F";

    #[test]
    fn parses_the_windows_negotiate() {
        let m = NegotiateMessage::parse(&hex::decode(WINDOWS).unwrap()).unwrap();
        assert_eq!(m.flags, 0xE208_8297);
    }

    #[test]
    fn encodes_the_windows_layout() {
        let enc = NegotiateMessage { flags: 0xE208_8297 }.encode();
        assert_eq!(enc.len(), 40);
        assert_eq!(hex::encode_upper(&enc[..16]), &WINDOWS[..32]);
        assert_eq!(NegotiateMessage::parse(&enc).unwrap().flags, 0xE208_8297);
    }

    #[test]
    fn rejects_short_and_out_of_bounds() {
        let good = hex::decode(WINDOWS).unwrap();
        assert!(NegotiateMessage::parse(&good[..15]).is_err());
        assert!(NegotiateMessage::parse(&good[..16]).is_ok(), "flags-only NEGOTIATE of old clients");
        let mut bad = good.clone();
        // DomainName: 5 bytes at offset 64, past the end of the 40-byte message.
        bad[16] = 5;
        bad[20] = 0x40;
        assert!(NegotiateMessage::parse(&bad).is_err());
    }
}
