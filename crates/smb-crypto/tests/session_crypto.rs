//! The session key schedule of both ends ([`SessionCrypto`]): known answers from the sources
//! docs/TEST-VECTORS.md lists, checked through the prepared keys of each role
//! (they keep their bytes to themselves), and client/server interoperation for every schedule, cipher,
//! signing algorithm and pair of backends.

use smb_crypto::transform::{open_message, AAD_RANGE, TRANSFORM_HEADER_LEN};
use smb_crypto::{
    derive_signing_key, AeadKey, Backend, Cipher, CryptoError, KeySchedule, Nonce, PreauthHash, Role,
    SessionCrypto, SigningAlgorithm, SigningKey,
};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

/// The 3.1.1 WRITE of the 2015 encryption blog (docs/TEST-VECTORS.md): Flags 0x08, MessageId 5, zero
/// signature.
const WRITE_311: &str = "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000250000000010000000000000000000000000000000000000310070001700000000000000000000000600000004000000010000000400000000000000000000007000000000000000536D623320656E6372797074696F6E2074657374696E67";

fn derive(
    role: Role,
    schedule: KeySchedule<'_>,
    key: &[u8],
    cipher: Option<Cipher>,
    alg: SigningAlgorithm,
    b: Backend,
) -> SessionCrypto {
    SessionCrypto::derive(role, schedule, key, cipher, alg, b, true).unwrap()
}

/// The signature `key` puts on `pdu`.
fn signature(key: &SigningKey, pdu: &[u8]) -> Vec<u8> {
    let mut p = pdu.to_vec();
    key.sign_in_place(&mut p).unwrap();
    p[48..64].to_vec()
}

/// Whether `key` holds `expected` (16 bytes, AES-CMAC): both sign a PDU alike.
fn assert_signing_key_is(key: &SigningKey, expected: &[u8], what: &str) {
    let reference = SigningKey::new(key.backend(), key.algorithm(), expected).unwrap();
    let pdu = h(WRITE_311);
    assert_eq!(signature(key, &pdu), signature(&reference, &pdu), "{what}");
}

fn split(msg: &[u8]) -> ([u8; TRANSFORM_HEADER_LEN], Vec<u8>) {
    let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
    hdr.copy_from_slice(&msg[..TRANSFORM_HEADER_LEN]);
    (hdr, msg[TRANSFORM_HEADER_LEN..].to_vec())
}

fn nonce_field(hdr: &[u8; TRANSFORM_HEADER_LEN]) -> Nonce {
    let mut n = [0u8; 16];
    n.copy_from_slice(&hdr[20..36]);
    Nonce(n)
}

/// Seals `plain` under `key` with the nonce and AAD of the captured header `hdr`; returns the whole
/// transform message as the capture has it.
fn reseal_as_captured(key: &AeadKey, hdr: &[u8; TRANSFORM_HEADER_LEN], plain: &[u8]) -> Vec<u8> {
    let mut m = plain.to_vec();
    let tag = key.seal_in_place(&nonce_field(hdr), &hdr[AAD_RANGE], &mut m).unwrap();
    let mut out = hdr.to_vec();
    out[4..20].copy_from_slice(&tag);
    out.extend_from_slice(&m);
    out
}

/// MS blog 2015-08-11 (preauth integrity): the preauth chain over the five messages, then the signing key
/// over H5, the same for both roles and for a channel's signing key over that hash.
#[test]
fn ms_blog_2015_signing_key_over_the_preauth_chain_for_both_roles() {
    let v: std::collections::HashMap<String, Vec<u8>> = include_str!("vectors/ms_blog_311_preauth.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_string(), h(v))
        })
        .collect();
    for b in Backend::ALL {
        let mut hash = PreauthHash::new(b);
        for m in ["NegReq", "NegRsp", "SSReq1", "SSRsp1", "SSReq2"] {
            hash.update(&v[m]);
        }
        let want = &v["SigningKey"];
        for role in [Role::Client, Role::Server] {
            let c = derive(
                role,
                KeySchedule::Smb311(&hash),
                &v["SessionKey"],
                None,
                SigningAlgorithm::AesCmac,
                b,
            );
            assert_signing_key_is(c.signing_key(), want, &format!("{role:?} on {b}"));
            assert!(!c.can_encrypt(), "no cipher, no sealing key");
        }
        let channel =
            derive_signing_key(b, KeySchedule::Smb311(&hash), &v["SessionKey"], SigningAlgorithm::AesCmac)
                .unwrap();
        assert_signing_key_is(&channel, want, &format!("channel key on {b}"));
    }
}

/// MS blog 2012-10-05 (SMB 3.0 AES-128-CCM): each role opens what the other sent in the capture and
/// seals its own direction to the captured bytes; the signing key is the computed one
/// (docs/TEST-VECTORS.md).
#[test]
fn ms_blog_2012_smb30_keys_of_both_roles() {
    let session_key = h("B4546771B515F766A86735532DD6C4F0");
    let plain = h("FE534D4240000100000000000900400008000000000000000400000000000000FFFE0000010000001100001400E4080000000000000000000000000000000000310070001700000000000000000000001501000039000002010000003902000000000000000000007000000000000000536D623320656E6372797074696F6E2074657374696E67");
    let c2s_enc = h("FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD52DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897996625A44C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5AA1DB43050B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6C627297075D84B7803912D0A9639634453595EF3E33FFE4E7AC2AB");
    let s2c_enc = h("FD534D42A6015530A18F6D9AFFE22AFAE8E6648486000000000000001100001400E4080050000000000001001100001400E40800DBF46435C5F14169293CE079E344479BF670227E49873F458672C3098DAC467DD5809F369D674091665157871483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D177309E5B");
    let s2c_plain = h("FE534D4240000100000000000900210009000000000000000400000000000000FFFE0000010000001100001400E408000000000000000000000000000000000011000000170000000000000000000000");
    for b in Backend::ALL {
        let alg = SigningAlgorithm::AesCmac;
        let mut client =
            derive(Role::Client, KeySchedule::Smb30, &session_key, Some(Cipher::Aes128Ccm), alg, b);
        let mut server =
            derive(Role::Server, KeySchedule::Smb30, &session_key, Some(Cipher::Aes128Ccm), alg, b);

        let (hdr, mut m) = split(&c2s_enc);
        open_message(server.opening_key().unwrap(), &hdr, &mut m).unwrap();
        assert_eq!(m, plain, "server opens the client's WRITE on {b}");
        assert_eq!(reseal_as_captured(client.sealing_key().unwrap().key(), &hdr, &plain), c2s_enc, "{b}");

        let (hdr, mut m) = split(&s2c_enc);
        open_message(client.opening_key().unwrap(), &hdr, &mut m).unwrap();
        assert_eq!(m, s2c_plain, "client opens the server's response on {b}");
        assert_eq!(reseal_as_captured(server.sealing_key().unwrap().key(), &hdr, &s2c_plain), s2c_enc, "{b}");

        let signing = h("F773CD23C18FD1E08EE510CADA7CF852");
        assert_signing_key_is(client.signing_key(), &signing, &format!("client on {b}"));
        assert_signing_key_is(server.signing_key(), &signing, &format!("server on {b}"));
    }
}

/// hierynomus/smbj SMBSessionBuilderSpec (SMB 3.0): signing, EncryptionKey (the client
/// seals with it) and DecryptionKey (the server seals with it).
#[test]
fn smbj_smb30_keys_of_both_roles() {
    let session_key = h("09921d4431b171b977370bf8910900f9");
    let encryption = h("858e8cba1f7068969e825b2b538830c4");
    let decryption = h("df91d31ef09a01fd4d2a093c42deef46");
    for b in Backend::ALL {
        let alg = SigningAlgorithm::AesCmac;
        let ccm = Some(Cipher::Aes128Ccm);
        let mut client = derive(Role::Client, KeySchedule::Smb30, &session_key, ccm, alg, b);
        let mut server = derive(Role::Server, KeySchedule::Smb30, &session_key, ccm, alg, b);
        assert_signing_key_is(client.signing_key(), &h("8f5a6907bce9ec89b8f89e560d4e2e18"), "client");
        assert_signing_key_is(server.signing_key(), &h("8f5a6907bce9ec89b8f89e560d4e2e18"), "server");
        for (sealer, reference, what) in [
            (client.sealing_key().unwrap(), &encryption, "client seals with EncryptionKey"),
            (server.sealing_key().unwrap(), &decryption, "server seals with DecryptionKey"),
        ] {
            let reference = AeadKey::new(b, Cipher::Aes128Ccm, reference).unwrap();
            let (mut hdr, mut m) = ([0u8; TRANSFORM_HEADER_LEN], h(WRITE_311));
            sealer.seal_message(0x11, &mut hdr, &mut m).unwrap();
            open_message(&reference, &hdr, &mut m).unwrap_or_else(|e| panic!("{what} on {b}: {e}"));
            assert_eq!(m, h(WRITE_311));
        }
        for (opener, reference) in [(client.opening_key(), &decryption), (server.opening_key(), &encryption)]
        {
            let reference = AeadKey::new(b, Cipher::Aes128Ccm, reference).unwrap();
            let (mut hdr, mut m) = ([0u8; TRANSFORM_HEADER_LEN], h(WRITE_311));
            smb_crypto::transform::seal_message(&reference, &Nonce([3; 16]), 0x11, &mut hdr, &mut m).unwrap();
            open_message(opener.unwrap(), &hdr, &mut m).unwrap();
        }
    }
}

/// MS blog 2015-09-09 (SMB 3.1.1 AES-128-GCM), plus the computed values of docs/TEST-VECTORS.md: the
/// client seals the captured message byte for byte, the server opens it; the server's response the
/// other way; the signing key signs as the computed CMAC and GMAC signatures say; the other three
/// ciphers' keys seal to the computed ciphertext and tag.
#[test]
fn ms_blog_2015_smb311_keys_of_both_roles_every_cipher_and_signing_algorithm() {
    let session_key = h("419FDDF34C1E001909D362AE7FB6AF79");
    let preauth = h("B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDBA7DB256BA2EA30E977F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770");
    let plain = h(WRITE_311);
    let c2s_enc = h("FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C00000000870000000000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB44576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E91AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8");
    let s2c_enc = h("FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B400000000000000005000000000000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B82E03C9E18A050FF0EA1C967");
    let s2c_plain = h("FE534D4240000100000000000900010001000000000000000500000000000000FFFE00000100000025000000001000000000000000000000000000000000000011000000170000000000000000000000");
    for b in Backend::ALL {
        let hash = PreauthHash::from_value(PreauthHash::new(b), preauth.clone().try_into().unwrap());
        let schedule = KeySchedule::Smb311(&hash);
        let gcm = Some(Cipher::Aes128Gcm);
        let mut client = derive(Role::Client, schedule, &session_key, gcm, SigningAlgorithm::AesCmac, b);
        let mut server = derive(Role::Server, schedule, &session_key, gcm, SigningAlgorithm::AesCmac, b);

        let (hdr, mut m) = split(&c2s_enc);
        assert_eq!(reseal_as_captured(client.sealing_key().unwrap().key(), &hdr, &plain), c2s_enc, "{b}");
        open_message(server.opening_key().unwrap(), &hdr, &mut m).unwrap();
        assert_eq!(m, plain, "server opens the client's WRITE on {b}");

        let (hdr, mut m) = split(&s2c_enc);
        assert_eq!(reseal_as_captured(server.sealing_key().unwrap().key(), &hdr, &s2c_plain), s2c_enc, "{b}");
        open_message(client.opening_key().unwrap(), &hdr, &mut m).unwrap();
        assert_eq!(m, s2c_plain, "client opens the server's response on {b}");

        for (alg, flags, want) in [
            (SigningAlgorithm::AesCmac, 0x08, "18C21921ACA28A77787C6670F20C9817"),
            (SigningAlgorithm::AesGmac, 0x08, "32E8C1C0D814298BB009899649850D92"),
            (SigningAlgorithm::AesGmac, 0x09, "90FA988D81B766585DF7B52920F96E00"),
        ] {
            let mut pdu = plain.clone();
            pdu[16] = flags;
            for role in [Role::Client, Role::Server] {
                let c = derive(role, schedule, &session_key, None, alg, b);
                assert_eq!(
                    hex::encode_upper(signature(c.signing_key(), &pdu)),
                    want,
                    "{alg} {role:?} on {b}"
                );
            }
        }

        let n11 = Nonce(nonce16("C7D6822D269CAF48904C66"));
        let n12 = Nonce(nonce16("C7D6822D269CAF48904C664C"));
        for (cipher, nonce, first16, tag) in [
            (Cipher::Aes128Ccm, n11, "C444F00E4AA1D2C9B0FD1DA775A6C3E8", "1F0B3DA7FCAEA819F7FE62F21072BDBC"),
            (Cipher::Aes256Ccm, n11, "FF4BA406FEC5E11CCAD17D9BE2B2DCF4", "A86D73D0F5477B48F8AB140678A97E0F"),
            (Cipher::Aes256Gcm, n12, "55FC21AF1162C23D4B69622565991912", "9F6FE4EDA2E577F44A64D52E45F005B7"),
        ] {
            let alg = SigningAlgorithm::AesCmac;
            let mut client = derive(Role::Client, schedule, &session_key, Some(cipher), alg, b);
            let server = derive(Role::Server, schedule, &session_key, Some(cipher), alg, b);
            let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
            let mut m = plain.clone();
            let key = client.sealing_key().unwrap().key();
            smb_crypto::transform::seal_message(key, &nonce, 0x0000_1000_0000_0025, &mut hdr, &mut m)
                .unwrap();
            assert_eq!(hex::encode_upper(&m[..16]), first16, "{cipher} on {b}");
            assert_eq!(hex::encode_upper(&hdr[4..20]), tag, "{cipher} on {b}");
            open_message(server.opening_key().unwrap(), &hdr, &mut m).unwrap();
            assert_eq!(m, plain, "{cipher} on {b}");
        }
    }
}

/// Computed (docs/TEST-VECTORS.md): SMB 2.x signs with HMAC-SHA256 keyed by the session key itself,
/// and nothing else: no encryption, no other algorithm.
#[test]
fn smb2_signs_with_the_session_key_and_cannot_encrypt() {
    let session_key = h("419FDDF34C1E001909D362AE7FB6AF79");
    for b in Backend::ALL {
        for role in [Role::Client, Role::Server] {
            let c = derive(role, KeySchedule::Smb2, &session_key, None, SigningAlgorithm::HmacSha256, b);
            assert_eq!(
                hex::encode_upper(signature(c.signing_key(), &h(WRITE_311))),
                "BFDA32B4E342CEAA99C062AC1DAB736D",
                "{role:?} on {b}"
            );
            assert!(!c.can_encrypt());
            for cipher in Cipher::ALL {
                let r = SessionCrypto::derive(
                    role,
                    KeySchedule::Smb2,
                    &session_key,
                    Some(cipher),
                    SigningAlgorithm::HmacSha256,
                    b,
                    true,
                );
                assert!(matches!(r, Err(CryptoError::BadInput { what: "cipher", .. })), "{cipher}");
            }
            for alg in [SigningAlgorithm::AesCmac, SigningAlgorithm::AesGmac] {
                let r = SessionCrypto::derive(role, KeySchedule::Smb2, &session_key, None, alg, b, true);
                assert!(matches!(r, Err(CryptoError::BadInput { what: "signing algorithm", .. })), "{alg}");
            }
        }
    }
}

/// Session.SessionKey is the first 16 bytes of the GSS key, zero-padded; only the 256-bit cipher keys
/// come from the whole key (MS-SMB2 3.3.5.5.3).
#[test]
fn only_256_bit_cipher_keys_use_the_full_session_key() {
    let full: Vec<u8> = (1..=32).collect();
    let mut cut = full[..16].to_vec();
    let hash = PreauthHash::new(Backend::FAST).updated(b"negotiate");
    let pdu = h(WRITE_311);
    for b in Backend::ALL {
        for cipher in Cipher::ALL {
            let alg = SigningAlgorithm::AesGmac;
            let mut from_full = derive(Role::Client, KeySchedule::Smb311(&hash), &full, Some(cipher), alg, b);
            let from_cut = derive(Role::Server, KeySchedule::Smb311(&hash), &cut, Some(cipher), alg, b);
            assert_eq!(signature(from_full.signing_key(), &pdu), signature(from_cut.signing_key(), &pdu));
            let (mut hdr, mut m) = ([0u8; TRANSFORM_HEADER_LEN], pdu.clone());
            from_full.sealing_key().unwrap().seal_message(1, &mut hdr, &mut m).unwrap();
            let opened = open_message(from_cut.opening_key().unwrap(), &hdr, &mut m);
            assert_eq!(opened.is_ok(), cipher.key_len() == 16, "{cipher} on {b}");
        }
        // A short GSS key is zero-padded.
        cut.truncate(8);
        let mut padded = cut.clone();
        padded.resize(16, 0);
        let s = |k: &[u8]| {
            let c = derive(Role::Client, KeySchedule::Smb2, k, None, SigningAlgorithm::HmacSha256, b);
            signature(c.signing_key(), &pdu)
        };
        assert_eq!(s(&cut), s(&padded), "{b}");
        cut = full[..16].to_vec();
    }
}

/// What a client derives and what a server derives work together, in both directions, for every
/// schedule, cipher, signing algorithm and pair of backends; and neither end opens its own messages
/// (the two directions have different keys).
#[test]
fn client_and_server_keys_interoperate() {
    let session_key = [0x42u8; 16];
    let hash = PreauthHash::new(Backend::FAST).updated(b"negotiate").updated(b"session setup");
    let schedules: [(KeySchedule<'_>, &[Cipher]); 2] =
        [(KeySchedule::Smb311(&hash), &Cipher::ALL), (KeySchedule::Smb30, &[Cipher::Aes128Ccm])];
    let request = h(WRITE_311);
    let mut response = request.clone();
    response[16] |= 0x01; // SMB2_FLAGS_SERVER_TO_REDIR
    for cb in Backend::ALL {
        for sb in Backend::ALL {
            for (schedule, ciphers) in schedules {
                for &cipher in ciphers {
                    for alg in SigningAlgorithm::ALL {
                        let what = format!("{schedule:?} {cipher} {alg} client {cb} server {sb}");
                        let mut client = derive(Role::Client, schedule, &session_key, Some(cipher), alg, cb);
                        let mut server = derive(Role::Server, schedule, &session_key, Some(cipher), alg, sb);
                        seal_and_open(&mut client, &server, &request, &what);
                        seal_and_open(&mut server, &client, &response, &what);
                        sign_and_verify(&client, &server, &request, &what);
                        sign_and_verify(&server, &client, &response, &what);
                    }
                }
            }
            let c =
                derive(Role::Client, KeySchedule::Smb2, &session_key, None, SigningAlgorithm::HmacSha256, cb);
            let s =
                derive(Role::Server, KeySchedule::Smb2, &session_key, None, SigningAlgorithm::HmacSha256, sb);
            sign_and_verify(&c, &s, &request, "2.x");
            sign_and_verify(&s, &c, &response, "2.x");
        }
    }
}

fn seal_and_open(from: &mut SessionCrypto, to: &SessionCrypto, msg: &[u8], what: &str) {
    let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
    let mut m = msg.to_vec();
    from.sealing_key().unwrap().seal_message(0x25, &mut hdr, &mut m).unwrap();
    assert_ne!(m, msg);
    let mut own = m.clone();
    assert_eq!(
        open_message(from.opening_key().unwrap(), &hdr, &mut own),
        Err(CryptoError::TagMismatch),
        "{:?} opened its own message: {what}",
        from.role()
    );
    open_message(to.opening_key().unwrap(), &hdr, &mut m)
        .unwrap_or_else(|e| panic!("{:?} -> {:?}: {e}: {what}", from.role(), to.role()));
    assert_eq!(m, msg, "{what}");
}

fn sign_and_verify(from: &SessionCrypto, to: &SessionCrypto, pdu: &[u8], what: &str) {
    let mut p = pdu.to_vec();
    from.signing_key().sign_in_place(&mut p).unwrap();
    to.signing_key()
        .verify_in_place(&mut p)
        .unwrap_or_else(|e| panic!("{:?} -> {:?}: {e}: {what}", from.role(), to.role()));
    p[100] ^= 1;
    assert_eq!(to.signing_key().verify_in_place(&mut p), Err(CryptoError::BadSignature), "{what}");
}

/// Without `can_encrypt`, or without a cipher, an end gets a signing key only.
#[test]
fn no_sealing_keys_unless_the_session_can_encrypt() {
    let hash = PreauthHash::new(Backend::FAST);
    for role in [Role::Client, Role::Server] {
        let alg = SigningAlgorithm::AesCmac;
        let schedule = KeySchedule::Smb311(&hash);
        let refused = SessionCrypto::derive(
            role,
            schedule,
            &[1; 16],
            Some(Cipher::Aes128Gcm),
            alg,
            Backend::FAST,
            false,
        )
        .unwrap();
        let no_cipher =
            SessionCrypto::derive(role, schedule, &[1; 16], None, alg, Backend::FAST, true).unwrap();
        for mut c in [refused, no_cipher] {
            assert!(!c.can_encrypt());
            assert!(c.sealing_key().is_none() && c.opening_key().is_none());
        }
    }
}

/// The nonces of TRANSFORM_HEADER messages and the ones reserved for other uses (the RDMA transform)
/// come from one sequence: none repeats, whichever use takes it.
#[test]
fn sealed_messages_and_reserved_nonces_share_one_sequence() {
    let hash = PreauthHash::new(Backend::FAST);
    let mut c = derive(
        Role::Client,
        KeySchedule::Smb311(&hash),
        &[9; 16],
        Some(Cipher::Aes128Gcm),
        SigningAlgorithm::AesGmac,
        Backend::FAST,
    );
    let s = c.sealing_key().unwrap();
    let left = s.nonces_left();
    let mut seen = std::collections::HashSet::new();
    for i in 0..50 {
        let nonce = if i % 2 == 0 {
            s.reserve_nonce().unwrap()
        } else {
            let (mut hdr, mut m) = ([0u8; TRANSFORM_HEADER_LEN], h(WRITE_311));
            s.seal_message(1, &mut hdr, &mut m).unwrap();
            nonce_field(&hdr)
        };
        assert!(seen.insert(nonce.0), "nonce {i} repeated");
    }
    assert_eq!(s.nonces_left(), left - 50);
}

fn nonce16(hexs: &str) -> [u8; 16] {
    let mut n = [0u8; 16];
    let b = h(hexs);
    n[..b.len()].copy_from_slice(&b);
    n
}
