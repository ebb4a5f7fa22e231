//! Access masks (MS-SMB2 2.2.13.1, MS-DTYP 2.4.3): generic rights expanded to file rights, and what a
//! share and a file allow.
//!
//! There are no per-user ACLs: every authenticated user may do on a share what the server process
//! may do, less writes on a read-only share and data writes on a read-only file.

use smb_wire::create::access_mask::*;

/// FILE_ALL_ACCESS: every specific and standard right of a file.
pub const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
/// FILE_GENERIC_READ.
pub const GENERIC_READ_RIGHTS: u32 =
    FILE_READ_DATA | FILE_READ_EA | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
/// FILE_GENERIC_WRITE.
pub const GENERIC_WRITE_RIGHTS: u32 =
    FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
/// FILE_GENERIC_EXECUTE.
pub const GENERIC_EXECUTE_RIGHTS: u32 = FILE_EXECUTE | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
/// Rights that change something: refused on a read-only share.
pub const MODIFYING: u32 = FILE_WRITE_DATA
    | FILE_APPEND_DATA
    | FILE_WRITE_EA
    | FILE_WRITE_ATTRIBUTES
    | DELETE
    | FILE_DELETE_CHILD
    | WRITE_DAC
    | WRITE_OWNER;
/// Rights that change a file's data: refused on a read-only file.
pub const DATA_WRITE: u32 = FILE_WRITE_DATA | FILE_APPEND_DATA;
/// Rights that read a file's data.
pub const DATA_READ: u32 = FILE_READ_DATA | FILE_EXECUTE;

/// Replaces the generic bits of `mask` with the file rights they stand for; MAXIMUM_ALLOWED is left
/// for the caller.
pub fn expand_generic(mask: u32) -> u32 {
    let mut m = mask & !(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);
    if mask & GENERIC_READ != 0 {
        m |= GENERIC_READ_RIGHTS;
    }
    if mask & GENERIC_WRITE != 0 {
        m |= GENERIC_WRITE_RIGHTS;
    }
    if mask & GENERIC_EXECUTE != 0 {
        m |= GENERIC_EXECUTE_RIGHTS;
    }
    if mask & GENERIC_ALL != 0 {
        m |= FILE_ALL_ACCESS;
    }
    m
}

/// Everything an open may be granted on a share (`share_read_only`) and file (`file_read_only`).
pub fn maximal(share_read_only: bool, file_read_only: bool) -> u32 {
    let mut m = FILE_ALL_ACCESS;
    if share_read_only {
        m &= !MODIFYING;
    }
    if file_read_only {
        m &= !DATA_WRITE;
    }
    m
}

/// The access granted for `desired` when at most `maximal` is allowed; `Err(missing)` names the
/// rights that are not. ACCESS_SYSTEM_SECURITY (SACL access) is never granted.
pub fn grant(desired: u32, maximal: u32) -> Result<u32, u32> {
    let mut want = expand_generic(desired) & !MAXIMUM_ALLOWED;
    if desired & MAXIMUM_ALLOWED != 0 {
        want |= maximal;
    }
    let missing = want & !maximal;
    if missing != 0 {
        return Err(missing);
    }
    Ok(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_rights_expand_to_the_windows_sets() {
        assert_eq!(expand_generic(GENERIC_READ), 0x0012_0089);
        assert_eq!(expand_generic(GENERIC_WRITE), 0x0012_0116);
        assert_eq!(expand_generic(GENERIC_EXECUTE), 0x0012_00A0);
        assert_eq!(expand_generic(GENERIC_ALL), FILE_ALL_ACCESS);
        assert_eq!(expand_generic(DELETE | GENERIC_READ), 0x0013_0089);
    }

    #[test]
    fn read_only_share_refuses_modifying_rights() {
        let ro = maximal(true, false);
        assert_eq!(grant(GENERIC_READ, ro), Ok(0x0012_0089));
        assert_eq!(
            grant(GENERIC_WRITE, ro),
            Err(FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES)
        );
        assert_eq!(grant(DELETE, ro), Err(DELETE));
        assert_eq!(grant(MAXIMUM_ALLOWED, ro), Ok(ro));
        assert_eq!(ro & MODIFYING, 0);
        assert!(grant(ACCESS_SYSTEM_SECURITY, maximal(false, false)).is_err());
    }

    #[test]
    fn read_only_file_refuses_data_writes_only() {
        let m = maximal(false, true);
        assert!(grant(FILE_WRITE_DATA, m).is_err());
        assert!(grant(FILE_APPEND_DATA, m).is_err());
        assert_eq!(grant(FILE_WRITE_ATTRIBUTES | DELETE, m), Ok(FILE_WRITE_ATTRIBUTES | DELETE));
        assert_eq!(grant(0, m), Ok(0));
    }
}
