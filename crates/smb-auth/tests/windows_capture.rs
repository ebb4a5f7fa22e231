//! The real Windows SPNEGO + NTLMSSP exchange of the MS SMB 3.1.1 pre-authentication blog (2015-08-11;
//! docs/TEST-VECTORS.md): user "administrator", domain "SUT311", workstation "DRIVER311". The security
//! buffers are taken out of the SMB2 messages with smb-wire, and both our parsers and our builders are
//! checked against them.

use std::sync::Arc;

use smb_auth::av_pairs::{av_id, AvPairs, MSV_AV_FLAG_MIC_PRESENT};
use smb_auth::message::{AuthenticateMessage, ChallengeMessage, NegotiateMessage};
use smb_auth::ntlmv2::NtlmV2Response;
use smb_auth::spnego::{self, NegState, NegotiationToken, OID_NTLMSSP};
use smb_auth::{AcceptStep, AuthError, NtlmAcceptor, NtlmInitiator, UserDb};
use smb_wire::negotiate::NegotiateResponse;
use smb_wire::session_setup::{SessionSetupRequest, SessionSetupResponse};

const NEG_RSP: &str = concat!(
    "FE534D4240000100000000000000010001000000000000000100000000000000FFFE0000000000000000000000000000",
    "00000000000000000000000000000000410001001103020039CBCAF329714942BDCE5D60F09AB3FB2F00000000008000",
    "0000800000008000D8DAE5ADCBAED00109094AB095AED00180004001C00100006082013C06062B0601050502A0820130",
    "3082012CA01A3018060A2B06010401823702021E060A2B06010401823702020AA282010C048201084E45474F45585453",
    "010000000000000060000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51",
    "FD370471B235E15A50DAE15BD5489C870000000000000000600000000100000000000000000000005C33530DEAF90D4D",
    "B2EC4AE3786EC3084E45474F45585453030000000100000040000000980000007C7CC0FD06D6362D02DDE1CF343BFE29",
    "5C33530DEAF90D4DB2EC4AE3786EC30840000000580000003056A05430523027802530233121301F0603550403131854",
    "6F6B656E205369676E696E67205075626C6963204B65793027802530233121301F06035504031318546F6B656E205369",
    "676E696E67205075626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4",
    "83CA5B65385A251117BEB30712E50000020004000000000001000200",
);
const SS_REQ1: &str = concat!(
    "FE534D4240000100000000000100800000000000000000000200000000000000FFFE0000000000000000000000000000",
    "0000000000000000000000000000000019000001010000000000000058004A000000000000000000604806062B060105",
    "0502A03E303CA00E300C060A2B06010401823702020AA22A04284E544C4D5353500001000000978208E2000000000000",
    "00000000000000000000060380250000000F",
);
const SS_RSP1: &str = concat!(
    "FE534D4240000100160000C00100010001000000000000000200000000000000FFFE0000000000001900000000100000",
    "00000000000000000000000000000000090000004800B300A181B03081ADA0030A0101A10C060A2B0601040182370202",
    "0AA281970481944E544C4D53535000020000000C000C003800000015828AE20D1D8BA31179D008000000000000000050",
    "005000440000000A0092270000000F53005500540033003100310002000C0053005500540033003100310001000C0053",
    "005500540033003100310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1",
    "A1F5ADCBAED00100000000",
);
const SS_REQ2: &str = concat!(
    "FE534D4240000100000000000100800000000000000000000300000000000000FFFE0000000000001900000000100000",
    "000000000000000000000000000000001900000101000000000000005800CF010000000000000000A18201CB308201C7",
    "A0030A0101A28201AA048201A64E544C4D53535000030000001800180090000000EE00EE00A80000000C000C00580000",
    "001A001A0064000000120012007E0000001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C7",
    "06EEEDDCD3530055005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049",
    "0056004500520033003100310000000000000000000000000000000000000000000000000063078EB639FE03E20A231C",
    "3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F0000000002000C005300550054003300310031",
    "0001000C0053005500540033003100310004000C0053005500540033003100310003000C005300550054003300310031",
    "0007000800A1A1F5ADCBAED00106000400020000000800300030000000000000000000000000300000B61FEFCAA857EA",
    "57BF1EDCEBF8974B8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016",
    "0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F5EE8F9663F11A0F4",
    "C03A78A31204100100000063775A9A5FD97F0600000000",
);

const WINDOWS_CHALLENGE: [u8; 8] = [0x0D, 0x1D, 0x8B, 0xA3, 0x11, 0x79, 0xD0, 0x08];
const WINDOWS_TIME: u64 = 0x01D0_AECB_ADF5_A1A1;

fn bytes(h: &str) -> Vec<u8> {
    hex::decode(h).unwrap()
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The security buffer of a SESSION_SETUP request, checking that it sits at 0x58 from the header.
fn request_buffer(msg: &[u8]) -> Vec<u8> {
    let req = SessionSetupRequest::parse(msg).unwrap();
    assert_eq!(u16::from_le_bytes([msg[64 + 12], msg[64 + 13]]), 0x58);
    assert_eq!(req.security_buffer, &msg[0x58..0x58 + req.security_buffer.len()]);
    req.security_buffer.to_vec()
}

fn ss_req1() -> Vec<u8> {
    request_buffer(&bytes(SS_REQ1))
}

fn ss_rsp1() -> Vec<u8> {
    let msg = bytes(SS_RSP1);
    let rsp = SessionSetupResponse::parse(&msg).unwrap();
    assert_eq!(u16::from_le_bytes([msg[64 + 4], msg[64 + 5]]), 0x48);
    assert_eq!(rsp.security_buffer, &msg[0x48..]);
    rsp.security_buffer.to_vec()
}

fn ss_req2() -> Vec<u8> {
    request_buffer(&bytes(SS_REQ2))
}

#[test]
fn ss_req1_is_a_neg_token_init_carrying_the_ntlm_negotiate() {
    let buf = ss_req1();
    assert_eq!(buf.len(), 0x4A);
    let NegotiationToken::Init(init) = spnego::parse(&buf).unwrap() else { panic!("not an init") };
    assert_eq!(init.mech_types, vec![OID_NTLMSSP]);
    assert_eq!(init.mech_types_der, &bytes("300C060A2B06010401823702020A")[..]);
    let neg = NegotiateMessage::parse(init.mech_token.unwrap()).unwrap();
    assert_eq!(neg.flags, 0xE208_8297);
}

#[test]
fn ss_rsp1_is_a_neg_token_resp_carrying_the_ntlm_challenge() {
    let buf = ss_rsp1();
    let NegotiationToken::Resp(resp) = spnego::parse(&buf).unwrap() else { panic!("not a resp") };
    assert_eq!(resp.neg_state, Some(NegState::AcceptIncomplete));
    assert_eq!(resp.supported_mech, Some(OID_NTLMSSP));
    assert_eq!(resp.mech_list_mic, None);
    let chal = ChallengeMessage::parse(resp.response_token.unwrap()).unwrap();
    assert_eq!(chal.flags, 0xE28A_8215);
    assert_eq!(chal.server_challenge, WINDOWS_CHALLENGE);
    assert_eq!(chal.target_name, utf16("SUT311"));
    let info = AvPairs::parse(chal.target_info, "TargetInfo").unwrap();
    let ids: Vec<u16> = info.iter().map(|p| p.id).collect();
    assert_eq!(ids, [2, 1, 4, 3, 7]);
    assert_eq!(info.timestamp(), Some(WINDOWS_TIME));
}

#[test]
fn ss_req2_is_a_neg_token_resp_carrying_the_authenticate_and_mech_list_mic() {
    let buf = ss_req2();
    let NegotiationToken::Resp(resp) = spnego::parse(&buf).unwrap() else { panic!("not a resp") };
    assert_eq!(resp.neg_state, Some(NegState::AcceptIncomplete));
    assert_eq!(resp.mech_list_mic, Some(&bytes("0100000063775A9A5FD97F0600000000")[..]));
    let auth = AuthenticateMessage::parse(resp.response_token.unwrap()).unwrap();
    assert_eq!(auth.flags, 0xE288_8215);
    assert_eq!(auth.user, utf16("administrator"));
    assert_eq!(auth.domain, utf16("SUT311"));
    assert_eq!(auth.workstation, utf16("DRIVER311"));
    assert_eq!(auth.lm_response, &[0; 24], "MsvAvTimestamp was sent, so no LMv2");
    assert_eq!(auth.encrypted_session_key.len(), 16);
    assert_eq!(auth.mic, Some(bytes("ECAC77A5F385A8BF9C38C706EEEDDCD3").try_into().unwrap()));

    let v2 = NtlmV2Response::parse(auth.nt_response).unwrap();
    assert_eq!(auth.nt_response.len(), 0xEE);
    assert_eq!(v2.nt_proof_str.to_vec(), bytes("63078EB639FE03E20A231C3AE3BF2308"));
    assert_eq!(v2.timestamp, WINDOWS_TIME, "the client echoes the server's time");
    assert_eq!(v2.client_challenge.to_vec(), bytes("BC4AD05F223CC90F"));
    assert_eq!(v2.av_pairs.flags("MsvAvFlags").unwrap(), MSV_AV_FLAG_MIC_PRESENT);
    assert_eq!(v2.av_pairs.get(av_id::TARGET_NAME).unwrap(), utf16("cifs/SUT311"));
    assert_eq!(v2.av_pairs.get(av_id::CHANNEL_BINDINGS).unwrap(), &[0; 16]);
}

#[test]
fn our_acceptor_answers_windows_like_windows() {
    let mut db = UserDb::new();
    db.add_password("Administrator", "not the lab password");
    let mut server = NtlmAcceptor::new(Arc::new(db), "SUT311", "SUT311", WINDOWS_CHALLENGE, WINDOWS_TIME);
    let AcceptStep::Continue { token } = server.step(&ss_req1()).unwrap() else { panic!("done too early") };
    let windows = ss_rsp1();
    assert_eq!(token.len(), windows.len());
    // Identical except the 8-byte VERSION inside the CHALLENGE (Windows 10.0.10130, ours differs).
    let version_at = windows.len() - 148 + 48;
    assert_eq!(token[..version_at], windows[..version_at]);
    assert_eq!(token[version_at + 8..], windows[version_at + 8..]);
    // The Windows AUTHENTICATE parses all the way to the password check (we do not know the lab's).
    assert_eq!(server.step(&ss_req2()).unwrap_err(), AuthError::LogonFailure);
}

#[test]
fn our_initiator_takes_the_windows_servers_offer_and_challenge() {
    let msg = bytes(NEG_RSP);
    let neg_rsp = NegotiateResponse::parse(&msg).unwrap();
    assert_eq!(neg_rsp.security_buffer.len(), 0x140);
    let NegotiationToken::Init(offer) = spnego::parse(neg_rsp.security_buffer).unwrap() else { panic!() };
    assert_eq!(offer.mech_types.len(), 2, "NEGOEX first, then NTLMSSP");
    assert!(offer.offers(OID_NTLMSSP) && !offer.prefers(OID_NTLMSSP));

    let mut client = NtlmInitiator::new("administrator", "pw", "SUT311", "DRIVER311", [7; 24], 0, true);
    let first = client.step(neg_rsp.security_buffer).unwrap();
    let windows = ss_req1();
    assert_eq!(first.len(), windows.len());
    assert_eq!(first[..34], windows[..34], "same SPNEGO framing as Windows");

    let second = client.step(&ss_rsp1()).unwrap();
    let NegotiationToken::Resp(resp) = spnego::parse(&second).unwrap() else { panic!() };
    assert!(resp.mech_list_mic.is_some());
    let auth = AuthenticateMessage::parse(resp.response_token.unwrap()).unwrap();
    assert_eq!(auth.flags, 0xE288_8215, "the flags Windows sent in the same place");
    let v2 = NtlmV2Response::parse(auth.nt_response).unwrap();
    assert_eq!(v2.timestamp, WINDOWS_TIME);
    assert_eq!(v2.av_pairs.flags("f").unwrap(), MSV_AV_FLAG_MIC_PRESENT);
}
