//! Memory access flags (`enum ibv_access_flags`), granted per region or per window.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// What the local device and the peer may do with a region. Same bits as `IBV_ACCESS_*`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Access(pub u32);

impl Access {
    /// Local only: SEND sources and RDMA WRITE sources need nothing more.
    pub const NONE: Self = Self(0);
    /// The device may write the region (RECV targets, RDMA READ targets).
    pub const LOCAL_WRITE: Self = Self(1);
    /// The peer may RDMA WRITE into it.
    pub const REMOTE_WRITE: Self = Self(2);
    /// The peer may RDMA READ from it.
    pub const REMOTE_READ: Self = Self(4);
    /// Narrow, invalidatable windows may be bound on it ([`crate::Endpoint::bind_window`]).
    pub const MW_BIND: Self = Self(16);

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the peer gets any access (and so the region has an rkey).
    pub fn is_remote(self) -> bool {
        self.0 & (Self::REMOTE_WRITE.0 | Self::REMOTE_READ.0) != 0
    }
}

impl BitOr for Access {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for Access {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [(1, "LOCAL_WRITE"), (2, "REMOTE_WRITE"), (4, "REMOTE_READ"), (16, "MW_BIND")];
        let mut first = true;
        for (bit, name) in names {
            if self.0 & bit != 0 {
                f.write_str(if first { "" } else { "|" })?;
                f.write_str(name)?;
                first = false;
            }
        }
        let rest = self.0 & !(1 | 2 | 4 | 16);
        if rest != 0 {
            write!(f, "{}{rest:#x}", if first { "" } else { "|" })?;
        } else if first {
            f.write_str("NONE")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_combine_and_print() {
        let a = Access::LOCAL_WRITE | Access::REMOTE_READ;
        assert!(a.contains(Access::REMOTE_READ) && !a.contains(Access::REMOTE_WRITE));
        assert!(a.is_remote() && !Access::LOCAL_WRITE.is_remote());
        assert_eq!(format!("{a:?}"), "LOCAL_WRITE|REMOTE_READ");
        assert_eq!(format!("{:?}", Access::NONE), "NONE");
    }

    #[cfg(feature = "rdma")]
    #[test]
    fn bits_match_verbs_h() {
        use rdma_core_sys::ibv_access_flags as f;
        assert_eq!(Access::LOCAL_WRITE.0, f::IBV_ACCESS_LOCAL_WRITE.0);
        assert_eq!(Access::REMOTE_WRITE.0, f::IBV_ACCESS_REMOTE_WRITE.0);
        assert_eq!(Access::REMOTE_READ.0, f::IBV_ACCESS_REMOTE_READ.0);
        assert_eq!(Access::MW_BIND.0, f::IBV_ACCESS_MW_BIND.0);
    }
}
