//! NTSTATUS values (MS-ERREF 2.3) that the SMB2 layers send and interpret.

/// An NTSTATUS code. Kept as a newtype: peers send codes this crate has never heard of.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NtStatus(pub u32);

macro_rules! statuses {
    ($($name:ident = $v:expr;)*) => {
        impl NtStatus {
            $(pub const $name: NtStatus = NtStatus($v);)*

            /// The symbolic name, when this crate knows the code.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(concat!("STATUS_", stringify!($name))),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    SUCCESS = 0x0000_0000;
    PENDING = 0x0000_0103;
    NOTIFY_ENUM_DIR = 0x0000_010C;
    BUFFER_OVERFLOW = 0x8000_0005;
    NO_MORE_FILES = 0x8000_0006;
    UNSUCCESSFUL = 0xC000_0001;
    NOT_IMPLEMENTED = 0xC000_0002;
    INVALID_INFO_CLASS = 0xC000_0003;
    INFO_LENGTH_MISMATCH = 0xC000_0004;
    INVALID_HANDLE = 0xC000_0008;
    INVALID_PARAMETER = 0xC000_000D;
    NO_SUCH_FILE = 0xC000_000F;
    INVALID_DEVICE_REQUEST = 0xC000_0010;
    END_OF_FILE = 0xC000_0011;
    MORE_PROCESSING_REQUIRED = 0xC000_0016;
    NO_MEMORY = 0xC000_0017;
    ACCESS_DENIED = 0xC000_0022;
    BUFFER_TOO_SMALL = 0xC000_0023;
    OBJECT_NAME_INVALID = 0xC000_0033;
    OBJECT_NAME_NOT_FOUND = 0xC000_0034;
    OBJECT_NAME_COLLISION = 0xC000_0035;
    OBJECT_PATH_INVALID = 0xC000_0039;
    OBJECT_PATH_NOT_FOUND = 0xC000_003A;
    OBJECT_PATH_SYNTAX_BAD = 0xC000_003B;
    SHARING_VIOLATION = 0xC000_0043;
    DELETE_PENDING = 0xC000_0056;
    PRIVILEGE_NOT_HELD = 0xC000_0061;
    LOGON_FAILURE = 0xC000_006D;
    ACCOUNT_RESTRICTION = 0xC000_006E;
    DISK_FULL = 0xC000_007F;
    INSUFFICIENT_RESOURCES = 0xC000_009A;
    FILE_IS_A_DIRECTORY = 0xC000_00BA;
    NOT_SUPPORTED = 0xC000_00BB;
    NETWORK_NAME_DELETED = 0xC000_00C9;
    BAD_NETWORK_NAME = 0xC000_00CC;
    REQUEST_NOT_ACCEPTED = 0xC000_00D0;
    DIRECTORY_NOT_EMPTY = 0xC000_0101;
    NOT_A_DIRECTORY = 0xC000_0103;
    CANCELLED = 0xC000_0120;
    FILE_CLOSED = 0xC000_0128;
    INVALID_DEVICE_STATE = 0xC000_0184;
    USER_SESSION_DELETED = 0xC000_0203;
    NOT_FOUND = 0xC000_0225;
    NETWORK_SESSION_EXPIRED = 0xC000_035C;
    STOPPED_ON_SYMLINK = 0x8000_002D;
    INVALID_SIGNATURE = 0xC000_A000;
    AUTH_TAG_MISMATCH = 0xC000_A002;
    ENCRYPTION_FAILED = 0xC000_A004;
    SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP = 0xC05D_0000;
}

impl NtStatus {
    /// Severity bits 11: an error (as opposed to success, information or warning).
    pub const fn is_error(self) -> bool {
        self.0 >> 30 == 0b11
    }
}

impl core::fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "NtStatus({:#010x})", self.0),
        }
    }
}

impl core::fmt::Display for NtStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({:#010x})", self.0),
            None => write!(f, "{:#010x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_severity() {
        assert_eq!(NtStatus::LOGON_FAILURE.name(), Some("STATUS_LOGON_FAILURE"));
        assert!(NtStatus::ACCESS_DENIED.is_error());
        assert!(!NtStatus::BUFFER_OVERFLOW.is_error());
        assert_eq!(format!("{:?}", NtStatus(0xC0FF_EE00)), "NtStatus(0xc0ffee00)");
    }
}
