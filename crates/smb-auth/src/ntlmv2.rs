//! MS-NLMP 3.3.2 NTLMv2 authentication: NTOWFv2, the client blob, NTProofStr, the session base key, and
//! the KEY_EXCH wrapping of the exported session key.

use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;
use rc4::{consts::U16, KeyInit, Rc4, StreamCipher};
use zeroize::Zeroizing;

use crate::av_pairs::AvPairs;
use crate::error::{malformed, AuthError};
use crate::text::utf16le;

/// A 16-byte key that wipes itself when dropped.
pub type Key16 = Zeroizing<[u8; 16]>;

/// NT hash = NTOWFv1 = MD4(UTF-16LE(password)) (MS-NLMP 3.3.1): the only form a password is kept in.
pub fn nt_hash(password: &str) -> [u8; 16] {
    let pw = Zeroizing::new(utf16le(password));
    Md4::digest(&*pw).into()
}

pub(crate) fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

pub(crate) fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// NTOWFv2 = HMAC-MD5(NT hash, UTF-16LE(UPPER(user) || domain)); the domain keeps its case.
pub fn ntowf_v2(nt_hash: &[u8; 16], user: &str, domain: &str) -> Key16 {
    let mut msg = Zeroizing::new(utf16le(&user.to_uppercase()));
    msg.extend_from_slice(&utf16le(domain));
    Zeroizing::new(hmac_md5(nt_hash, &[&msg]))
}

/// NTProofStr = HMAC-MD5(NTOWFv2, ServerChallenge || blob).
pub fn nt_proof_str(ntowf: &[u8; 16], server_challenge: &[u8; 8], blob: &[u8]) -> [u8; 16] {
    hmac_md5(ntowf, &[server_challenge, blob])
}

/// SessionBaseKey = HMAC-MD5(NTOWFv2, NTProofStr); for NTLMv2 it is also the KeyExchangeKey.
pub fn session_base_key(ntowf: &[u8; 16], nt_proof: &[u8; 16]) -> Key16 {
    Zeroizing::new(hmac_md5(ntowf, &[nt_proof]))
}

/// LMv2 response = HMAC-MD5(NTOWFv2, ServerChallenge || ClientChallenge) || ClientChallenge.
pub fn lmv2_response(ntowf: &[u8; 16], server_challenge: &[u8; 8], client_challenge: &[u8; 8]) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..16].copy_from_slice(&hmac_md5(ntowf, &[server_challenge, client_challenge]));
    out[16..].copy_from_slice(client_challenge);
    out
}

/// RC4 with a 16-byte key over `data` in place: KEY_EXCH wraps and unwraps the exported session key
/// this way (MS-NLMP 3.1.5.1.2, 3.2.5.1.2), and sealed signatures use it too.
pub fn rc4(key: &[u8; 16], data: &mut [u8]) {
    let mut cipher = Rc4::<U16>::new(key.into());
    cipher.apply_keystream(data);
}

/// Bytes of the blob before its AV pairs: RespType, HiRespType, Reserved1/2, TimeStamp, ChallengeFromClient,
/// Reserved3.
const BLOB_HEADER: usize = 28;

/// The client blob ("temp", MS-NLMP 2.2.2.7 NTLMv2_CLIENT_CHALLENGE): `av_pairs` must already end with EOL.
pub fn client_blob(timestamp: u64, client_challenge: &[u8; 8], av_pairs: &[u8]) -> Vec<u8> {
    let mut blob = Vec::with_capacity(BLOB_HEADER + av_pairs.len() + 4);
    blob.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    blob.extend_from_slice(&timestamp.to_le_bytes());
    blob.extend_from_slice(client_challenge);
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(av_pairs);
    blob.extend_from_slice(&[0; 4]);
    blob
}

/// MS-NLMP 2.2.2.8 NTLMv2_RESPONSE, as received in AUTHENTICATE's NtChallengeResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmV2Response<'a> {
    pub nt_proof_str: [u8; 16],
    /// Everything after NTProofStr, exactly as sent: the proof is computed over these bytes.
    pub blob: &'a [u8],
    pub timestamp: u64,
    pub client_challenge: [u8; 8],
    pub av_pairs: AvPairs<'a>,
}

impl<'a> NtlmV2Response<'a> {
    const WHAT: &'static str = "NTLMv2 response";

    /// An NtChallengeResponse of 24 bytes or less is NTLMv1 (or empty): not this type.
    pub fn parse(nt_response: &'a [u8]) -> Result<Self, AuthError> {
        if nt_response.len() < 16 + BLOB_HEADER + 4 {
            return Err(malformed(Self::WHAT, "too short for an NTLMv2 blob"));
        }
        let (proof, blob) = nt_response.split_at(16);
        if blob[0] != 1 || blob[1] != 1 {
            return Err(malformed(Self::WHAT, "blob RespType/HiRespType is not 1/1"));
        }
        let mut nt_proof_str = [0u8; 16];
        nt_proof_str.copy_from_slice(proof);
        let timestamp = u64::from_le_bytes(blob[8..16].try_into().unwrap_or_default());
        let mut client_challenge = [0u8; 8];
        client_challenge.copy_from_slice(&blob[16..24]);
        let av_pairs = AvPairs::parse(&blob[BLOB_HEADER..], Self::WHAT)?;
        Ok(Self { nt_proof_str, blob, timestamp, client_challenge, av_pairs })
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];
    const TARGET_INFO: &str = "02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000";

    // MS-NLMP 4.2.4 known answers.
    #[test]
    fn ms_nlmp_4_2_4_ntowf() {
        assert_eq!(nt_hash("Password").to_vec(), h("a4f49c406510bdcab6824ee7c30fd852"));
        let ntowf = ntowf_v2(&nt_hash("Password"), "User", "Domain");
        assert_eq!(ntowf.to_vec(), h("0c868a403bfd7a93a3001ef22ef02e3f"));
    }

    #[test]
    fn ms_nlmp_4_2_4_lmv2() {
        let ntowf = ntowf_v2(&nt_hash("Password"), "User", "Domain");
        let lm = lmv2_response(&ntowf, &SERVER_CHALLENGE, &CLIENT_CHALLENGE);
        assert_eq!(lm.to_vec(), h("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"));
    }

    #[test]
    fn ms_nlmp_4_2_4_blob_proof_and_keys() {
        let blob = client_blob(0, &CLIENT_CHALLENGE, &h(TARGET_INFO));
        assert_eq!(
            hex::encode(&blob),
            "01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000\
             02000c0044006f006d00610069006e0001000c005300650072007600\
             650072000000000000000000"
        );
        let ntowf = ntowf_v2(&nt_hash("Password"), "User", "Domain");
        let proof = nt_proof_str(&ntowf, &SERVER_CHALLENGE, &blob);
        assert_eq!(proof.to_vec(), h("68cd0ab851e51c96aabc927bebef6a1c"));
        let base = session_base_key(&ntowf, &proof);
        assert_eq!(base.to_vec(), h("8de40ccadbc14a82f15cb0ad0de95ca3"));
        let mut key = [0x55u8; 16];
        rc4(&base, &mut key);
        assert_eq!(key.to_vec(), h("c5dad2544fc9799094ce1ce90bc9d03e"));
        rc4(&base, &mut key);
        assert_eq!(key, [0x55; 16], "the server unwraps with the same RC4");
    }

    #[test]
    fn parses_the_response_it_builds() {
        let blob = client_blob(0x01d0_aecb_adf5_a1a1, &CLIENT_CHALLENGE, &h(TARGET_INFO));
        let mut resp = vec![7u8; 16];
        resp.extend_from_slice(&blob);
        let r = NtlmV2Response::parse(&resp).unwrap();
        assert_eq!(r.nt_proof_str, [7; 16]);
        assert_eq!(r.blob, &blob[..]);
        assert_eq!(r.timestamp, 0x01d0_aecb_adf5_a1a1);
        assert_eq!(r.client_challenge, CLIENT_CHALLENGE);
        assert_eq!(r.av_pairs.iter().count(), 2);
    }

    #[test]
    fn rejects_v1_and_bad_blob_types() {
        assert!(NtlmV2Response::parse(&[0; 24]).is_err());
        let mut resp = vec![0u8; 16];
        resp.extend_from_slice(&client_blob(0, &CLIENT_CHALLENGE, &[0, 0, 0, 0]));
        assert!(NtlmV2Response::parse(&resp).is_ok());
        resp[16] = 2;
        assert!(NtlmV2Response::parse(&resp).is_err());
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
