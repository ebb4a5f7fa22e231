//! MS-NLMP 2.2.1.2 CHALLENGE_MESSAGE.

use super::{check_prefix, SIGNATURE, TYPE_CHALLENGE, VERSION};
use crate::error::AuthError;
use crate::flags::NEGOTIATE_VERSION;
use crate::secbuf::{array_at, secbuf, u32_at, MessageBuilder};

/// `0 Signature, 8 MessageType, 12 TargetName secbuf, 20 NegotiateFlags, 24 ServerChallenge[8],
/// 32 Reserved[8], 40 TargetInfo secbuf, 48 Version[8]`, payload from 56.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeMessage<'a> {
    pub flags: u32,
    /// In the negotiated character set.
    pub target_name: &'a [u8],
    pub server_challenge: [u8; 8],
    /// The AV_PAIR list, raw (the NTLMv2 blob repeats it).
    pub target_info: &'a [u8],
}

impl<'a> ChallengeMessage<'a> {
    const WHAT: &'static str = "CHALLENGE";
    const FIXED: usize = 56;

    pub fn parse(msg: &'a [u8]) -> Result<Self, AuthError> {
        check_prefix(msg, TYPE_CHALLENGE, Self::WHAT)?;
        let target_name = secbuf(msg, 12, "CHALLENGE TargetName")?;
        let flags = u32_at(msg, 20, "CHALLENGE NegotiateFlags")?;
        let server_challenge = array_at::<8>(msg, 24, "CHALLENGE ServerChallenge")?;
        // Pre-NTLMv2 servers end the message after Reserved; that leaves no TargetInfo.
        let target_info = if msg.len() >= 48 { secbuf(msg, 40, "CHALLENGE TargetInfo")? } else { &[] };
        Ok(Self { flags, target_name, server_challenge, target_info })
    }

    pub fn encode(&self) -> Result<Vec<u8>, AuthError> {
        let mut b = MessageBuilder::new(Self::FIXED);
        b.put(0, SIGNATURE);
        b.put_u32(8, TYPE_CHALLENGE);
        b.put_u32(20, self.flags);
        b.put(24, &self.server_challenge);
        if self.flags & NEGOTIATE_VERSION != 0 {
            b.put(48, &VERSION);
        }
        b.payload(12, self.target_name, "CHALLENGE TargetName")?;
        b.payload(40, self.target_info, "CHALLENGE TargetInfo")?;
        Ok(b.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::av_pairs::{av_id, AvPairs};
    use crate::text::utf16le;

    /// The NTLM CHALLENGE inside the first SESSION_SETUP response of the Windows capture in the MS blog
    /// "SMB 3.1.1 Pre-authentication integrity in Windows 10" (2015-08-11; docs/TEST-VECTORS.md).
    const WINDOWS: &str = concat!(
        "4E544C4D53535000020000000C000C003800000015828AE20D1D8BA31179D00800000000000000005000500044000000",
        "0A0092270000000F53005500540033003100310002000C0053005500540033003100310001000C005300550054003300",
        "3100310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001",
        "00000000",
    );

    #[test]
    fn parses_the_windows_challenge() {
        let bytes = hex::decode(WINDOWS).unwrap();
        let m = ChallengeMessage::parse(&bytes).unwrap();
        assert_eq!(m.flags, 0xE28A_8215);
        assert_eq!(m.target_name, utf16le("SUT311"));
        assert_eq!(m.server_challenge, [0x0D, 0x1D, 0x8B, 0xA3, 0x11, 0x79, 0xD0, 0x08]);
        let av = AvPairs::parse(m.target_info, "TargetInfo").unwrap();
        assert_eq!(av.get(av_id::NB_COMPUTER_NAME).unwrap(), utf16le("SUT311"));
        assert_eq!(av.timestamp(), Some(0x01D0_AECB_ADF5_A1A1));
    }

    #[test]
    fn re_encodes_the_windows_challenge_byte_for_byte() {
        let bytes = hex::decode(WINDOWS).unwrap();
        let m = ChallengeMessage::parse(&bytes).unwrap();
        let mut enc = m.encode().unwrap();
        // Windows announced VERSION 10.0.10130; ours differs.
        enc[48..56].copy_from_slice(&bytes[48..56]);
        assert_eq!(enc, bytes);
    }

    #[test]
    fn rejects_out_of_bounds_target_info() {
        let mut bytes = hex::decode(WINDOWS).unwrap();
        bytes[44] = 0xF0;
        assert!(ChallengeMessage::parse(&bytes).is_err());
        assert!(ChallengeMessage::parse(&bytes[..31]).is_err());
    }
}
