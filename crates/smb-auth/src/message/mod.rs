//! MS-NLMP 2.2.1 NTLM messages: the common prefix and the three message types.

pub mod authenticate;
pub mod challenge;
pub mod negotiate;

pub use authenticate::AuthenticateMessage;
pub use challenge::ChallengeMessage;
pub use negotiate::NegotiateMessage;

use crate::error::{malformed, AuthError};
use crate::secbuf::u32_at;

/// "NTLMSSP\0".
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

pub const TYPE_NEGOTIATE: u32 = 1;
pub const TYPE_CHALLENGE: u32 = 2;
pub const TYPE_AUTHENTICATE: u32 = 3;

/// MS-NLMP 2.2.2.10 VERSION we announce: Windows 10.0 build 17763, NTLMSSP_REVISION_W2K3 (15). Purely
/// informational; peers only look at it for debugging.
pub const VERSION: [u8; 8] = [10, 0, 0x63, 0x45, 0, 0, 0, 0x0F];

/// True if `token` is a bare NTLM message rather than SPNEGO.
pub fn is_ntlmssp(token: &[u8]) -> bool {
    token.starts_with(SIGNATURE)
}

/// Checks the signature and MessageType of an NTLM message.
pub(crate) fn check_prefix(msg: &[u8], expected: u32, what: &'static str) -> Result<(), AuthError> {
    if !is_ntlmssp(msg) {
        return Err(malformed(what, "no NTLMSSP signature"));
    }
    if u32_at(msg, 8, what)? != expected {
        return Err(malformed(what, "wrong MessageType"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_checks_signature_and_type() {
        let mut m = SIGNATURE.to_vec();
        m.extend_from_slice(&2u32.to_le_bytes());
        assert!(check_prefix(&m, TYPE_CHALLENGE, "m").is_ok());
        assert!(check_prefix(&m, TYPE_NEGOTIATE, "m").is_err());
        assert!(check_prefix(&m[..10], TYPE_CHALLENGE, "m").is_err());
        m[0] = b'X';
        assert!(check_prefix(&m, TYPE_CHALLENGE, "m").is_err());
    }
}
