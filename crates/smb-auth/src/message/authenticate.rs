//! MS-NLMP 2.2.1.3 AUTHENTICATE_MESSAGE.

use super::{check_prefix, SIGNATURE, TYPE_AUTHENTICATE, VERSION};
use crate::error::AuthError;
use crate::flags::NEGOTIATE_VERSION;
use crate::secbuf::{array_at, secbuf_range, u32_at, MessageBuilder};

/// `0 Signature, 8 MessageType, 12 LmChallengeResponse, 20 NtChallengeResponse, 28 DomainName,
/// 36 UserName, 44 Workstation, 52 EncryptedRandomSessionKey (secbufs), 60 NegotiateFlags, 64 Version[8],
/// 72 MIC[16]`, payload normally from 88. Old clients omit Version and MIC, so the payload is found only
/// through the secbufs, and the MIC field exists only where no payload overlaps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticateMessage<'a> {
    pub lm_response: &'a [u8],
    pub nt_response: &'a [u8],
    /// Strings in the negotiated character set.
    pub domain: &'a [u8],
    pub user: &'a [u8],
    pub workstation: &'a [u8],
    pub encrypted_session_key: &'a [u8],
    pub flags: u32,
    /// The MIC field, when the layout has one (message at least 88 bytes, no payload before 88).
    pub mic: Option<[u8; 16]>,
}

/// Where the MIC sits in the message; it is zeroed there when the MIC is computed.
pub const MIC_OFFSET: usize = 72;
const MIC_END: usize = MIC_OFFSET + 16;

impl<'a> AuthenticateMessage<'a> {
    const WHAT: &'static str = "AUTHENTICATE";
    const FIXED: usize = MIC_END;

    pub fn parse(msg: &'a [u8]) -> Result<Self, AuthError> {
        check_prefix(msg, TYPE_AUTHENTICATE, Self::WHAT)?;
        let fields = [
            secbuf_range(msg, 12, "AUTHENTICATE LmChallengeResponse")?,
            secbuf_range(msg, 20, "AUTHENTICATE NtChallengeResponse")?,
            secbuf_range(msg, 28, "AUTHENTICATE DomainName")?,
            secbuf_range(msg, 36, "AUTHENTICATE UserName")?,
            secbuf_range(msg, 44, "AUTHENTICATE Workstation")?,
            secbuf_range(msg, 52, "AUTHENTICATE EncryptedRandomSessionKey")?,
        ];
        let flags = u32_at(msg, 60, "AUTHENTICATE NegotiateFlags")?;
        let first_payload =
            fields.iter().filter(|r| !r.is_empty()).map(|r| r.start).min().unwrap_or(msg.len());
        let mic = if msg.len() >= MIC_END && first_payload >= MIC_END {
            Some(array_at::<16>(msg, MIC_OFFSET, "AUTHENTICATE MIC")?)
        } else {
            None
        };
        let [lm, nt, domain, user, workstation, key] = fields;
        Ok(Self {
            lm_response: &msg[lm],
            nt_response: &msg[nt],
            domain: &msg[domain],
            user: &msg[user],
            workstation: &msg[workstation],
            encrypted_session_key: &msg[key],
            flags,
            mic,
        })
    }

    /// Encodes with Version and a zero MIC field (fill it in at [`MIC_OFFSET`] afterwards), payload in
    /// Windows' order: domain, user, workstation, LM, NT, session key.
    pub fn encode(&self) -> Result<Vec<u8>, AuthError> {
        let mut b = MessageBuilder::new(Self::FIXED);
        b.put(0, SIGNATURE);
        b.put_u32(8, TYPE_AUTHENTICATE);
        b.put_u32(60, self.flags);
        if self.flags & NEGOTIATE_VERSION != 0 {
            b.put(64, &VERSION);
        }
        if let Some(mic) = &self.mic {
            b.put(MIC_OFFSET, mic);
        }
        b.payload(28, self.domain, "AUTHENTICATE DomainName")?;
        b.payload(36, self.user, "AUTHENTICATE UserName")?;
        b.payload(44, self.workstation, "AUTHENTICATE Workstation")?;
        b.payload(12, self.lm_response, "AUTHENTICATE LmChallengeResponse")?;
        b.payload(20, self.nt_response, "AUTHENTICATE NtChallengeResponse")?;
        b.payload(52, self.encrypted_session_key, "AUTHENTICATE EncryptedRandomSessionKey")?;
        Ok(b.finish())
    }
}

/// A copy of `msg` with its MIC field zeroed: the form the MIC is computed over.
pub fn with_zero_mic(msg: &[u8]) -> Vec<u8> {
    let mut copy = msg.to_vec();
    if let Some(mic) = copy.get_mut(MIC_OFFSET..MIC_END) {
        mic.fill(0);
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{decode, utf16le};

    fn sample() -> AuthenticateMessage<'static> {
        AuthenticateMessage {
            lm_response: &[0; 24],
            nt_response: &[7; 60],
            domain: b"D\0",
            user: b"U\0",
            workstation: b"",
            encrypted_session_key: &[9; 16],
            flags: 0xE288_8215,
            mic: None,
        }
    }

    #[test]
    fn round_trips_with_a_mic_field() {
        let enc = sample().encode().unwrap();
        let back = AuthenticateMessage::parse(&enc).unwrap();
        assert_eq!(back.mic, Some([0; 16]));
        assert_eq!(AuthenticateMessage { mic: None, ..back }, sample());
    }

    #[test]
    fn a_layout_without_version_and_mic_has_no_mic() {
        // Payload at 64, as very old clients send it: the MIC field would overlap the domain name.
        let mut msg = vec![0u8; 64];
        msg[..8].copy_from_slice(SIGNATURE);
        msg[8] = 3;
        let domain = utf16le("DOMAIN-NAME-LONG");
        msg[28] = domain.len() as u8;
        msg[32] = 64;
        msg.extend_from_slice(&domain);
        let m = AuthenticateMessage::parse(&msg).unwrap();
        assert_eq!(m.mic, None);
        assert_eq!(decode(m.domain, true, "d").unwrap(), "DOMAIN-NAME-LONG");
    }

    #[test]
    fn zeroing_the_mic_touches_only_the_mic() {
        let mut enc = sample().encode().unwrap();
        enc[MIC_OFFSET..MIC_END].fill(0xEE);
        let z = with_zero_mic(&enc);
        assert_eq!(&z[MIC_OFFSET..MIC_END], &[0; 16]);
        assert_eq!(z[..MIC_OFFSET], enc[..MIC_OFFSET]);
        assert_eq!(z[MIC_END..], enc[MIC_END..]);
    }

    #[test]
    fn rejects_truncated_and_out_of_bounds() {
        let enc = sample().encode().unwrap();
        assert!(AuthenticateMessage::parse(&enc[..63]).is_err());
        assert!(AuthenticateMessage::parse(&enc[..enc.len() - 1]).is_err());
        let mut bad = enc.clone();
        bad[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(AuthenticateMessage::parse(&bad).is_err());
    }
}
