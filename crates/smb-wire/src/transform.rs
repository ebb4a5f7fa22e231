//! MS-SMB2 2.2.41 SMB2 TRANSFORM_HEADER: the 52-byte prefix of an encrypted message.
//!
//! Layout only; the AEAD itself lives in the crypto crate. The receiver authenticates header bytes
//! [`TRANSFORM_AAD_RANGE`] as they arrived, so it should take the AAD from the wire bytes; the
//! sender writes the header (with a zero signature), seals, then stores the tag at
//! [`TRANSFORM_SIGNATURE_RANGE`].

use core::ops::Range;

use crate::codec::{Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::types::us;

/// `FD 'S' 'M' 'B'`.
pub const TRANSFORM_PROTOCOL_ID: [u8; 4] = [0xFD, b'S', b'M', b'B'];
pub const TRANSFORM_HEADER_LEN: usize = 52;
/// The AEAD tag.
pub const TRANSFORM_SIGNATURE_RANGE: Range<usize> = 4..20;
/// The 16-byte Nonce field; CCM uses its first 11 bytes, GCM its first 12.
pub const TRANSFORM_NONCE_RANGE: Range<usize> = 20..36;
/// Nonce through SessionId: the additional authenticated data.
pub const TRANSFORM_AAD_RANGE: Range<usize> = 20..52;

/// MS-SMB2 2.2.41 Flags (3.1.1) / EncryptionAlgorithm (3.0, 3.0.2): the same value, 0x0001, means
/// "encrypted" in 3.1.1 and "AES-128-CCM" in 3.0.x.
pub mod transform_flags {
    pub const ENCRYPTED: u16 = 0x0001;
    /// 3.0/3.0.2 name of the same value.
    pub const AES128_CCM: u16 = 0x0001;
}

/// MS-SMB2 2.2.41 SMB2 TRANSFORM_HEADER.
///
/// Reserved (offset 40) is written as zero and ignored on receipt, as the spec says; it is still
/// covered by the AAD, which the receiver takes from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransformHeader {
    /// The AEAD tag.
    pub signature: [u8; 16],
    pub nonce: [u8; 16],
    /// Plaintext length; equals the ciphertext length.
    pub original_message_size: u32,
    /// [`transform_flags`].
    pub flags: u16,
    pub session_id: u64,
}

impl TransformHeader {
    /// Splits an encrypted message into its header and ciphertext (everything after byte 52).
    /// The size check is separate: [`TransformHeader::check_size`].
    pub fn parse(msg: &[u8]) -> Result<(Self, &[u8])> {
        let mut r = Reader::new(msg);
        let proto = r.array::<4>("TransformHeader.ProtocolId")?;
        if proto != TRANSFORM_PROTOCOL_ID {
            return Err(WireError::BadValue {
                field: "TransformHeader.ProtocolId",
                value: u32::from_le_bytes(proto).into(),
            });
        }
        let signature = r.array::<16>("TransformHeader.Signature")?;
        let nonce = r.array::<16>("TransformHeader.Nonce")?;
        let original_message_size = r.u32("TransformHeader.OriginalMessageSize")?;
        r.skip(2, "TransformHeader.Reserved")?;
        let flags = r.u16("TransformHeader.Flags")?;
        let session_id = r.u64("TransformHeader.SessionId")?;
        let h = Self { signature, nonce, original_message_size, flags, session_id };
        Ok((h, r.rest()))
    }

    /// Parses and also checks OriginalMessageSize against the ciphertext length.
    pub fn parse_checked(msg: &[u8]) -> Result<(Self, &[u8])> {
        let (h, ct) = Self::parse(msg)?;
        h.check_size(ct)?;
        Ok((h, ct))
    }

    /// OriginalMessageSize must equal the ciphertext length (AEAD ciphertext is as long as the
    /// plaintext; the tag travels in Signature).
    pub fn check_size(&self, ciphertext: &[u8]) -> Result<()> {
        if us(self.original_message_size) != ciphertext.len() {
            return Err(WireError::BadValue {
                field: "TransformHeader.OriginalMessageSize",
                value: self.original_message_size.into(),
            });
        }
        Ok(())
    }

    /// The AAD as this header encodes it (Reserved zero). A receiver should use the wire bytes at
    /// [`TRANSFORM_AAD_RANGE`] instead.
    pub fn aad(&self) -> [u8; 32] {
        let mut b = [0u8; TRANSFORM_HEADER_LEN];
        // A 52-byte buffer always holds the 52-byte header.
        let _ = self.encode_into(&mut b);
        let mut aad = [0u8; 32];
        aad.copy_from_slice(&b[TRANSFORM_AAD_RANGE]);
        aad
    }
}

impl Encode for TransformHeader {
    fn encoded_len_at(&self, _at: usize) -> usize {
        TRANSFORM_HEADER_LEN
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&TRANSFORM_PROTOCOL_ID)?;
        w.bytes(&self.signature)?;
        w.bytes(&self.nonce)?;
        w.u32(self.original_message_size)?;
        w.u16(0)?;
        w.u16(self.flags)?;
        w.u64(self.session_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    // MS blog "Encryption in SMB 3.0: A protocol perspective" (2012-10-05; docs/TEST-VECTORS.md),
    // client -> server WRITE.
    const CCM_C2S: &str = "FD534D42 81A286535415445DAE393921E44FA42E 66E69A111892584FB5ED524A744DA3EE
        87000000 0000 0100 1100001400E40800
        25C8FEE16605A437832D1CD52DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897
        996625A44C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5AA1DB430
        50B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6C627297075D84B7803912D0A
        9639634453595EF3E33FFE4E7AC2AB";
    // Server -> client WRITE response.
    const CCM_S2C: &str = "FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014
        00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079
        E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787
        1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1
        77309E5B";
    // MS blog "SMB 3.1.1 Encryption in Windows 10" (2015-09-09; docs/TEST-VECTORS.md), AES-128-GCM.
    const GCM_C2S: &str = "FD534D42 BD73D97D2BC9001BCAFAC0FDFF5FEEBC C7D6822D269CAF48904C664C00000000
        87000000 0000 0100 2500000000100000
        6ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02D14EF247F8BDE38ACF6256F8
        B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB44576545567C24D4C014D47C9
        FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E91AF013F00D17E3ABC2FC3D36
        C8C1B6B93973253852DBD442E46EE8";
    const GCM_S2C: &str = "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000
        00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8
        F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B
        82E03C9E18A050FF0EA1C967";

    fn check_known(msg: &[u8], sig: &str, nonce: &str, size: u32, session_id: u64) {
        let (th, ct) = TransformHeader::parse_checked(msg).unwrap();
        assert_eq!(th.signature.to_vec(), h(sig));
        assert_eq!(th.nonce.to_vec(), h(nonce));
        assert_eq!(th.original_message_size, size);
        assert_eq!(th.flags, transform_flags::ENCRYPTED);
        assert_eq!(th.session_id, session_id);
        assert_eq!(ct.len(), size as usize);
        assert_eq!(&msg[TRANSFORM_SIGNATURE_RANGE], &th.signature);
        assert_eq!(&msg[TRANSFORM_NONCE_RANGE], &th.nonce);
        assert_eq!(&msg[TRANSFORM_AAD_RANGE], &th.aad());
        assert_eq!(th.to_vec(), &msg[..TRANSFORM_HEADER_LEN]);
    }

    #[test]
    fn smb30_ccm_messages() {
        check_known(
            &h(CCM_C2S),
            "81A286535415445DAE393921E44FA42E",
            "66E69A111892584FB5ED524A744DA3EE",
            135,
            0x0008_E400_1400_0011,
        );
        check_known(
            &h(CCM_S2C),
            "A6015530A18F6D9AFFE22AFAE8E66484",
            "860000000000000011000014 00E40800",
            80,
            0x0008_E400_1400_0011,
        );
    }

    #[test]
    fn smb311_gcm_messages() {
        check_known(
            &h(GCM_C2S),
            "BD73D97D2BC9001BCAFAC0FDFF5FEEBC",
            "C7D6822D269CAF48904C664C00000000",
            135,
            0x0000_1000_0000_0025,
        );
        check_known(
            &h(GCM_S2C),
            "ACBE1CB7ED343ADF1725EF144D90D4B0",
            "E06831DD2E8EB7B40000000000000000",
            80,
            0x0000_1000_0000_0025,
        );
    }

    #[test]
    fn size_mismatch_is_refused() {
        let msg = h(GCM_C2S);
        assert_eq!(
            TransformHeader::parse_checked(&msg[..msg.len() - 1]),
            Err(WireError::BadValue { field: "TransformHeader.OriginalMessageSize", value: 135 })
        );
        let mut longer = msg.clone();
        longer.push(0);
        assert!(TransformHeader::parse_checked(&longer).is_err());
        // Parsing alone only splits.
        assert_eq!(TransformHeader::parse(&longer).unwrap().1.len(), 136);
    }

    #[test]
    fn wrong_protocol_id_and_truncation() {
        let mut msg = h(CCM_C2S);
        assert!(matches!(
            TransformHeader::parse(&msg[..51]),
            Err(WireError::Truncated { field: "TransformHeader.SessionId", .. })
        ));
        assert_eq!(TransformHeader::parse(&msg[..52]).unwrap().1, &[] as &[u8]);
        msg[0] = 0xFE;
        assert!(matches!(
            TransformHeader::parse(&msg),
            Err(WireError::BadValue { field: "TransformHeader.ProtocolId", .. })
        ));
    }

    #[test]
    fn reserved_is_ignored() {
        let mut msg = h(CCM_S2C);
        msg[40] = 0x77;
        let (th, _) = TransformHeader::parse_checked(&msg).unwrap();
        assert_eq!(th.flags, 1);
        assert_eq!(th.aad()[20], 0, "aad() is the canonical encoding");
    }

    proptest! {
        #[test]
        fn round_trips(
            signature in any::<[u8; 16]>(), nonce in any::<[u8; 16]>(), flags in any::<u16>(),
            session_id in any::<u64>(), ct in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let th = TransformHeader { signature, nonce, original_message_size: ct.len() as u32, flags, session_id };
            let mut msg = th.to_vec();
            prop_assert_eq!(msg.len(), th.encoded_len());
            msg.extend_from_slice(&ct);
            let (back, c) = TransformHeader::parse_checked(&msg).unwrap();
            prop_assert_eq!(back, th);
            prop_assert_eq!(c, &ct[..]);
            for n in 0..msg.len() {
                let _ = TransformHeader::parse_checked(&msg[..n]);
            }
        }

        #[test]
        fn random_bytes_never_panic(mut msg in proptest::collection::vec(any::<u8>(), 0..80)) {
            if msg.len() >= 4 {
                msg[..4].copy_from_slice(&TRANSFORM_PROTOCOL_ID);
            }
            if let Ok((_, ct)) = TransformHeader::parse(&msg) {
                prop_assert_eq!(ct.len() + TRANSFORM_HEADER_LEN, msg.len());
            }
            let _ = TransformHeader::parse_checked(&msg);
        }
    }
}
