//! RFC 4178 SPNEGO (with the MS-SPNG NegTokenInit2 variant servers send): parsing the two negotiation
//! tokens and building the few shapes SMB uses.

use crate::der::{self, ctx, ENUMERATED, GENERAL_STRING, OCTET_STRING, OID, SEQUENCE};
use crate::error::{malformed, AuthError};

/// OID contents (without tag and length) of 1.3.6.1.5.5.2.
pub const OID_SPNEGO: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x02];
/// OID contents of 1.3.6.1.4.1.311.2.2.10.
pub const OID_NTLMSSP: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0A];

/// More mechanisms than anyone offers (Windows: 4); bounds a hostile list.
pub const MAX_MECH_TYPES: usize = 32;

/// The hint name Windows and ksmbd put in the server's negTokenInit2.
const NEG_HINT_NAME: &[u8] = b"not_defined_in_RFC4178@please_ignore";

/// RFC 4178 4.2.2 negState.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegState {
    AcceptCompleted = 0,
    AcceptIncomplete = 1,
    Reject = 2,
    RequestMic = 3,
}

/// RFC 4178 4.2.1 NegTokenInit (and MS-SPNG NegTokenInit2: negHints at `[3]`, mechListMIC at `[4]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegTokenInit<'a> {
    /// OID contents, in the initiator's order of preference.
    pub mech_types: Vec<&'a [u8]>,
    /// The DER of the MechTypeList SEQUENCE as sent: the bytes a mechListMIC covers.
    pub mech_types_der: &'a [u8],
    /// Optimistic token for the first mechanism.
    pub mech_token: Option<&'a [u8]>,
    pub mech_list_mic: Option<&'a [u8]>,
}

impl NegTokenInit<'_> {
    pub fn offers(&self, oid: &[u8]) -> bool {
        self.mech_types.contains(&oid)
    }

    pub fn prefers(&self, oid: &[u8]) -> bool {
        self.mech_types.first().is_some_and(|m| *m == oid)
    }
}

/// RFC 4178 4.2.2 NegTokenResp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegTokenResp<'a> {
    pub neg_state: Option<NegState>,
    /// OID contents of the mechanism the acceptor chose.
    pub supported_mech: Option<&'a [u8]>,
    pub response_token: Option<&'a [u8]>,
    pub mech_list_mic: Option<&'a [u8]>,
}

/// Either SPNEGO token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiationToken<'a> {
    Init(NegTokenInit<'a>),
    Resp(NegTokenResp<'a>),
}

/// Parses an initial token (`60 .. 06 <SPNEGO OID> A0 ..`) or a bare NegotiationToken (`A0 ..` / `A1 ..`).
pub fn parse(token: &[u8]) -> Result<NegotiationToken<'_>, AuthError> {
    const WHAT: &str = "SPNEGO token";
    let first = *token.first().ok_or(malformed(WHAT, "empty"))?;
    if first == 0x60 {
        let app = der::expect_only(token, 0x60, WHAT)?;
        let (oid, rest) = der::expect(app.content, OID, WHAT)?;
        if oid.content != OID_SPNEGO {
            return Err(AuthError::UnsupportedMechanism);
        }
        let choice = der::expect_only(rest, ctx(0), "negTokenInit")?;
        return parse_init(choice.content).map(NegotiationToken::Init);
    }
    let (choice, rest) = der::read(token, WHAT)?;
    if !rest.is_empty() {
        return Err(malformed(WHAT, "trailing bytes"));
    }
    match choice.tag {
        t if t == ctx(0) => parse_init(choice.content).map(NegotiationToken::Init),
        t if t == ctx(1) => parse_resp(choice.content).map(NegotiationToken::Resp),
        _ => Err(malformed(WHAT, "neither negTokenInit nor negTokenResp")),
    }
}

fn parse_init(choice: &[u8]) -> Result<NegTokenInit<'_>, AuthError> {
    const WHAT: &str = "negTokenInit";
    let seq = der::expect_only(choice, SEQUENCE, WHAT)?;
    let mut out =
        NegTokenInit { mech_types: Vec::new(), mech_types_der: &[], mech_token: None, mech_list_mic: None };
    let mut saw_mech_types = false;
    let mut rest = seq.content;
    while !rest.is_empty() {
        let (field, next) = der::read(rest, WHAT)?;
        rest = next;
        match field.tag {
            0xA0 => {
                let list = der::expect_only(field.content, SEQUENCE, "negTokenInit mechTypes")?;
                out.mech_types_der = list.raw;
                let mut oids = list.content;
                while !oids.is_empty() {
                    let (oid, next) = der::expect(oids, OID, "negTokenInit mechTypes")?;
                    if out.mech_types.len() == MAX_MECH_TYPES {
                        return Err(malformed("negTokenInit mechTypes", "too many mechanisms"));
                    }
                    out.mech_types.push(oid.content);
                    oids = next;
                }
                saw_mech_types = true;
            }
            0xA2 => {
                out.mech_token =
                    Some(der::expect_only(field.content, OCTET_STRING, "negTokenInit mechToken")?.content)
            }
            // [3] is mechListMIC in RFC 4178 but negHints (a SEQUENCE) in MS-SPNG NegTokenInit2; [4] is
            // NegTokenInit2's mechListMIC. reqFlags [1] and hints are advisory and ignored.
            0xA3 | 0xA4 if field.content.first() == Some(&OCTET_STRING) => {
                out.mech_list_mic =
                    Some(der::expect_only(field.content, OCTET_STRING, "negTokenInit mechListMIC")?.content);
            }
            _ => {}
        }
    }
    if !saw_mech_types {
        return Err(malformed(WHAT, "no mechTypes"));
    }
    Ok(out)
}

fn parse_resp(choice: &[u8]) -> Result<NegTokenResp<'_>, AuthError> {
    const WHAT: &str = "negTokenResp";
    let seq = der::expect_only(choice, SEQUENCE, WHAT)?;
    let mut out = NegTokenResp::default();
    let mut rest = seq.content;
    // NegTokenResp has exactly four optional fields, in tag order (DER), and no extension marker:
    // anything else is a forgery or a corruption, never something to skip (skipping would let a damaged
    // mechListMIC tag silently drop the MIC).
    let mut last_tag = None;
    while !rest.is_empty() {
        let (field, next) = der::read(rest, WHAT)?;
        rest = next;
        if last_tag.is_some_and(|t| field.tag <= t) {
            return Err(malformed(WHAT, "fields repeated or out of order"));
        }
        last_tag = Some(field.tag);
        match field.tag {
            0xA0 => {
                let e = der::expect_only(field.content, ENUMERATED, "negTokenResp negState")?;
                out.neg_state = Some(match e.content {
                    [0] => NegState::AcceptCompleted,
                    [1] => NegState::AcceptIncomplete,
                    [2] => NegState::Reject,
                    [3] => NegState::RequestMic,
                    _ => return Err(malformed("negTokenResp negState", "unknown value")),
                });
            }
            0xA1 => {
                out.supported_mech =
                    Some(der::expect_only(field.content, OID, "negTokenResp supportedMech")?.content)
            }
            0xA2 => {
                out.response_token =
                    Some(der::expect_only(field.content, OCTET_STRING, "negTokenResp responseToken")?.content)
            }
            0xA3 => {
                out.mech_list_mic =
                    Some(der::expect_only(field.content, OCTET_STRING, "negTokenResp mechListMIC")?.content)
            }
            _ => return Err(malformed(WHAT, "unknown field")),
        }
    }
    Ok(out)
}

fn mech_type_list(oids: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for oid in oids {
        der::push(&mut list, OID, oid);
    }
    der::tlv(SEQUENCE, &list)
}

fn wrap_initial(fields: &[u8]) -> Vec<u8> {
    let init = der::tlv(ctx(0), &der::tlv(SEQUENCE, fields));
    let mut app = der::tlv(OID, OID_SPNEGO);
    app.extend_from_slice(&init);
    der::tlv(0x60, &app)
}

/// The server's NegTokenInit2 for the NEGOTIATE response: mechTypes {NTLMSSP} and the customary negHints.
pub fn server_init_token() -> Vec<u8> {
    let mut fields = der::tlv(ctx(0), &mech_type_list(&[OID_NTLMSSP]));
    let hint = der::tlv(ctx(0), &der::tlv(GENERAL_STRING, NEG_HINT_NAME));
    der::push(&mut fields, ctx(3), &der::tlv(SEQUENCE, &hint));
    wrap_initial(&fields)
}

/// The client's first token: mechTypes {NTLMSSP} with `mech_token` (the NTLM NEGOTIATE). Returns the
/// token and the mechTypes DER its mechListMIC will later cover.
pub fn client_init_token(mech_token: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mech_types = mech_type_list(&[OID_NTLMSSP]);
    let mut fields = der::tlv(ctx(0), &mech_types);
    der::push(&mut fields, ctx(2), &der::tlv(OCTET_STRING, mech_token));
    (wrap_initial(&fields), mech_types)
}

/// A bare negTokenResp with the fields given.
pub fn resp_token(resp: &NegTokenResp<'_>) -> Vec<u8> {
    let mut fields = Vec::new();
    if let Some(state) = resp.neg_state {
        der::push(&mut fields, ctx(0), &der::tlv(ENUMERATED, &[state as u8]));
    }
    if let Some(mech) = resp.supported_mech {
        der::push(&mut fields, ctx(1), &der::tlv(OID, mech));
    }
    if let Some(token) = resp.response_token {
        der::push(&mut fields, ctx(2), &der::tlv(OCTET_STRING, token));
    }
    if let Some(mic) = resp.mech_list_mic {
        der::push(&mut fields, ctx(3), &der::tlv(OCTET_STRING, mic));
    }
    der::tlv(ctx(1), &der::tlv(SEQUENCE, &fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    #[test]
    fn server_init_token_is_the_ksmbd_74_bytes() {
        let mut expect = h("60 48 06 06 2B0601050502 A0 3E 30 3C A0 0E 30 0C 06 0A 2B06010401823702020A
                            A3 2A 30 28 A0 26 1B 24");
        expect.extend_from_slice(NEG_HINT_NAME);
        assert_eq!(server_init_token(), expect);
        let NegotiationToken::Init(init) = parse(&expect).unwrap() else { panic!("not an init") };
        assert_eq!(init.mech_types, vec![OID_NTLMSSP]);
        assert_eq!(init.mech_types_der, &h("300C060A2B06010401823702020A")[..]);
        assert_eq!(init.mech_list_mic, None, "negHints are not a MIC");
    }

    #[test]
    fn client_init_token_is_the_windows_shape() {
        let negotiate = [0x4Eu8; 40];
        let (tok, mech_types) = client_init_token(&negotiate);
        assert_eq!(tok[..34], h("604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A0428")[..]);
        assert_eq!(tok.len(), 74);
        let NegotiationToken::Init(init) = parse(&tok).unwrap() else { panic!("not an init") };
        assert!(init.prefers(OID_NTLMSSP));
        assert_eq!(init.mech_token, Some(&negotiate[..]));
        assert_eq!(init.mech_types_der, &mech_types[..]);
    }

    #[test]
    fn resp_round_trip() {
        let resp = NegTokenResp {
            neg_state: Some(NegState::AcceptIncomplete),
            supported_mech: Some(OID_NTLMSSP),
            response_token: Some(&[1, 2, 3]),
            mech_list_mic: Some(&[9; 16]),
        };
        let tok = resp_token(&resp);
        assert_eq!(parse(&tok).unwrap(), NegotiationToken::Resp(resp));
        let done =
            resp_token(&NegTokenResp { neg_state: Some(NegState::AcceptCompleted), ..Default::default() });
        assert_eq!(done, h("A1073005A0030A0100"));
    }

    #[test]
    fn rejects_foreign_and_broken_tokens() {
        assert!(matches!(
            parse(&h("600806062A864886F71202")),
            Err(AuthError::UnsupportedMechanism) | Err(AuthError::Malformed { .. })
        ));
        assert!(parse(&[]).is_err());
        assert!(parse(&h("A2 00")).is_err());
        assert!(parse(&h("A0 02 30 00")).is_err(), "init without mechTypes");
        assert!(parse(&h("A1 07 30 05 A0 03 0A 01 07")).is_err(), "unknown negState");
        assert!(parse(&h("A1 02 30 00 00")).is_err(), "trailing bytes");
        assert!(parse(&h("A1 04 30 02 A4 00")).is_err(), "unknown negTokenResp field");
        assert!(parse(&h("A1 08 30 06 A3 02 04 00 A2 00")).is_err(), "fields out of order");
        assert!(parse(&h("A1 0A 30 08 A2 02 04 00 A2 02 04 00")).is_err(), "field repeated");
        let mut flood = Vec::new();
        for _ in 0..=MAX_MECH_TYPES {
            der::push(&mut flood, OID, OID_NTLMSSP);
        }
        let init = der::tlv(ctx(0), &der::tlv(SEQUENCE, &der::tlv(ctx(0), &der::tlv(SEQUENCE, &flood))));
        assert!(parse(&init).is_err());
    }

    #[test]
    fn foreign_oid_in_the_wrapper_is_unsupported() {
        // 0x60 wrapper carrying Kerberos' OID 1.2.840.113554.1.2.2 instead of SPNEGO.
        let mut app = der::tlv(OID, &h("2A864886F712010202"));
        app.extend_from_slice(&der::tlv(ctx(0), &der::tlv(SEQUENCE, &[])));
        assert_eq!(parse(&der::tlv(0x60, &app)), Err(AuthError::UnsupportedMechanism));
    }
}
