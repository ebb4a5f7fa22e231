//! MS-NLMP 2.2.2.5 NEGOTIATE flags, and the sets each side sends.

pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
pub const NEGOTIATE_OEM: u32 = 0x0000_0002;
pub const REQUEST_TARGET: u32 = 0x0000_0004;
pub const NEGOTIATE_SIGN: u32 = 0x0000_0010;
pub const NEGOTIATE_SEAL: u32 = 0x0000_0020;
pub const NEGOTIATE_LM_KEY: u32 = 0x0000_0080;
pub const NEGOTIATE_NTLM: u32 = 0x0000_0200;
pub const NEGOTIATE_ANONYMOUS: u32 = 0x0000_0800;
pub const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
pub const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
pub const NEGOTIATE_IDENTIFY: u32 = 0x0010_0000;
pub const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
pub const NEGOTIATE_VERSION: u32 = 0x0200_0000;
pub const NEGOTIATE_128: u32 = 0x2000_0000;
pub const NEGOTIATE_KEY_EXCH: u32 = 0x4000_0000;
pub const NEGOTIATE_56: u32 = 0x8000_0000;

/// Client bits a server echoes into its CHALLENGE (MS-NLMP 3.2.5.1.1): the ones that describe what the
/// client can do and the server is willing to do too.
pub const SERVER_ECHOES: u32 = NEGOTIATE_UNICODE
    | NEGOTIATE_SIGN
    | NEGOTIATE_SEAL
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_KEY_EXCH
    | NEGOTIATE_128
    | NEGOTIATE_56;

/// Bits a server always sets in its CHALLENGE.
pub const SERVER_SETS: u32 =
    NEGOTIATE_TARGET_INFO | NEGOTIATE_NTLM | REQUEST_TARGET | TARGET_TYPE_SERVER | NEGOTIATE_VERSION;

/// What the initiator asks for in its NEGOTIATE (Windows sends 0xE2088297; we drop OEM and LM_KEY,
/// which only matter to NTLMv1). No SEAL: SMB never uses NTLM sealing.
pub const CLIENT_REQUESTS: u32 = NEGOTIATE_UNICODE
    | REQUEST_TARGET
    | NEGOTIATE_SIGN
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_VERSION
    | NEGOTIATE_128
    | NEGOTIATE_KEY_EXCH
    | NEGOTIATE_56;

/// The flags a server puts in its CHALLENGE for a client that sent `client` (MS-NLMP 3.2.5.1.1).
/// A client offering OEM only gets OEM; everyone else gets UNICODE.
pub fn challenge_flags(client: u32) -> u32 {
    let mut flags = (client & SERVER_ECHOES) | SERVER_SETS;
    if client & NEGOTIATE_UNICODE == 0 && client & NEGOTIATE_OEM != 0 {
        flags |= NEGOTIATE_OEM;
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_request_is_windows_minus_ntlmv1_bits() {
        assert_eq!(CLIENT_REQUESTS | NEGOTIATE_OEM | NEGOTIATE_LM_KEY, 0xE208_8297);
    }

    #[test]
    fn windows_negotiate_gets_the_windows_challenge_flags() {
        // Windows answered 0xE2088297 with 0xE28A8215 (the first SESSION_SETUP exchange of the MS
        // preauth integrity blog's capture, docs/TEST-VECTORS.md).
        assert_eq!(challenge_flags(0xE208_8297), 0xE28A_8215);
    }

    #[test]
    fn oem_only_client_gets_oem() {
        let f = challenge_flags(NEGOTIATE_OEM | NEGOTIATE_NTLM);
        assert_eq!(f & (NEGOTIATE_OEM | NEGOTIATE_UNICODE), NEGOTIATE_OEM);
        assert_eq!(f & NEGOTIATE_KEY_EXCH, 0, "never grant what was not asked");
    }
}
