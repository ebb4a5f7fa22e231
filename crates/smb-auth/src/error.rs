//! The one error type of this crate, and its NTSTATUS at the SMB2 boundary.

use smb_wire::NtStatus;

/// Everything that can go wrong while authenticating. Variants say what failed and where; none
/// carries key material or a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A token, message or field does not follow its layout (`what` names the field, `why` the defect).
    #[error("malformed {what}: {why}")]
    Malformed { what: &'static str, why: &'static str },
    /// A token longer than [`crate::MAX_TOKEN_LEN`]; refused before any parsing.
    #[error("{what} is {len} bytes, more than the {max}-byte cap")]
    TooLarge { what: &'static str, len: usize, max: usize },
    /// Wrong password, unknown user, NTLMv1/LM-only response, or a peer that refused us.
    #[error("logon failure")]
    LogonFailure,
    /// A null-session AUTHENTICATE while the user database does not allow anonymous logons.
    #[error("anonymous logon refused")]
    AnonymousRefused,
    /// The peer offers no mechanism we speak (we speak NTLMSSP only).
    #[error("no supported security mechanism offered (NTLMSSP required)")]
    UnsupportedMechanism,
    /// The NTLM MIC or the SPNEGO mechListMIC did not verify.
    #[error("{which} does not verify")]
    MicMismatch { which: &'static str },
    /// SPNEGO required a mechListMIC (the chosen mechanism was not the peer's first) and none came.
    #[error("SPNEGO mechListMIC required but absent")]
    MechListMicMissing,
    /// `step`/`finish` called when the exchange is not expecting that token.
    #[error("unexpected token: the exchange is {state}")]
    UnexpectedStep { state: &'static str },
    /// A `user:password` / `user:nthash:<hex>` specification that cannot be used.
    #[error("invalid user specification: {why}")]
    InvalidUserSpec { why: &'static str },
}

impl AuthError {
    /// The NTSTATUS a server answers SESSION_SETUP with for this error (MS-SMB2 3.3.5.5.3).
    pub fn nt_status(&self) -> NtStatus {
        match self {
            AuthError::Malformed { .. } | AuthError::TooLarge { .. } | AuthError::UnexpectedStep { .. } => {
                NtStatus::INVALID_PARAMETER
            }
            AuthError::UnsupportedMechanism => NtStatus::NOT_SUPPORTED,
            AuthError::LogonFailure
            | AuthError::AnonymousRefused
            | AuthError::MicMismatch { .. }
            | AuthError::MechListMicMissing
            | AuthError::InvalidUserSpec { .. } => NtStatus::LOGON_FAILURE,
        }
    }
}

pub(crate) fn malformed(what: &'static str, why: &'static str) -> AuthError {
    AuthError::Malformed { what, why }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_failures_map_to_logon_failure_and_layout_failures_to_invalid_parameter() {
        assert_eq!(AuthError::LogonFailure.nt_status(), NtStatus::LOGON_FAILURE);
        assert_eq!(AuthError::MicMismatch { which: "MIC" }.nt_status(), NtStatus::LOGON_FAILURE);
        assert_eq!(AuthError::AnonymousRefused.nt_status(), NtStatus::LOGON_FAILURE);
        assert_eq!(malformed("x", "y").nt_status(), NtStatus::INVALID_PARAMETER);
        assert_eq!(AuthError::UnsupportedMechanism.nt_status(), NtStatus::NOT_SUPPORTED);
    }

    #[test]
    fn messages_name_the_field() {
        let e = malformed("AUTHENTICATE UserName", "secbuf beyond the message");
        assert_eq!(e.to_string(), "malformed AUTHENTICATE UserName: secbuf beyond the message");
    }
}
