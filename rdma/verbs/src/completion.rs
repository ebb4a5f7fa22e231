//! Work completions as typed values (status, opcode, byte count, wr_id), copied into caller slices.
//!
//! Status and opcode are newtypes over the numbers `<infiniband/verbs.h>` uses (`enum ibv_wc_status`,
//! `enum ibv_wc_opcode`), not Rust enums: a device may report a value this build does not know,
//! and that must stay representable.

use std::fmt;

/// `enum ibv_wc_status`: the outcome of one work request.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WcStatus(pub u32);

impl WcStatus {
    pub const SUCCESS: Self = Self(0);
    pub const LOC_LEN_ERR: Self = Self(1);
    pub const LOC_QP_OP_ERR: Self = Self(2);
    pub const LOC_PROT_ERR: Self = Self(4);
    /// The work request was flushed because the queue pair entered the error state (disconnect).
    pub const WR_FLUSH_ERR: Self = Self(5);
    pub const MW_BIND_ERR: Self = Self(6);
    pub const BAD_RESP_ERR: Self = Self(7);
    pub const LOC_ACCESS_ERR: Self = Self(8);
    pub const REM_INV_REQ_ERR: Self = Self(9);
    /// The peer refused the rkey, the range, or the access (RDMA READ/WRITE).
    pub const REM_ACCESS_ERR: Self = Self(10);
    pub const REM_OP_ERR: Self = Self(11);
    pub const RETRY_EXC_ERR: Self = Self(12);
    pub const RNR_RETRY_EXC_ERR: Self = Self(13);
    pub const REM_ABORT_ERR: Self = Self(16);
    pub const FATAL_ERR: Self = Self(19);
    pub const RESP_TIMEOUT_ERR: Self = Self(20);
    pub const GENERAL_ERR: Self = Self(21);

    pub fn is_success(self) -> bool {
        self == Self::SUCCESS
    }

    /// The C enumerator's name, or `None` for a value this build does not know.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "SUCCESS",
            1 => "LOC_LEN_ERR",
            2 => "LOC_QP_OP_ERR",
            3 => "LOC_EEC_OP_ERR",
            4 => "LOC_PROT_ERR",
            5 => "WR_FLUSH_ERR",
            6 => "MW_BIND_ERR",
            7 => "BAD_RESP_ERR",
            8 => "LOC_ACCESS_ERR",
            9 => "REM_INV_REQ_ERR",
            10 => "REM_ACCESS_ERR",
            11 => "REM_OP_ERR",
            12 => "RETRY_EXC_ERR",
            13 => "RNR_RETRY_EXC_ERR",
            14 => "LOC_RDD_VIOL_ERR",
            15 => "REM_INV_RD_REQ_ERR",
            16 => "REM_ABORT_ERR",
            17 => "INV_EECN_ERR",
            18 => "INV_EEC_STATE_ERR",
            19 => "FATAL_ERR",
            20 => "RESP_TIMEOUT_ERR",
            21 => "GENERAL_ERR",
            _ => return None,
        })
    }
}

impl fmt::Debug for WcStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "WcStatus({})", self.0),
        }
    }
}

impl fmt::Display for WcStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// `enum ibv_wc_opcode`: which kind of work request completed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WcOpcode(pub u32);

impl WcOpcode {
    pub const SEND: Self = Self(0);
    pub const RDMA_WRITE: Self = Self(1);
    pub const RDMA_READ: Self = Self(2);
    pub const BIND_MW: Self = Self(5);
    pub const LOCAL_INV: Self = Self(6);
    /// Receive completions have bit 7 set (`IBV_WC_RECV`).
    pub const RECV: Self = Self(128);

    /// Whether this completes a receive work request (as opposed to a send-queue one).
    pub fn is_recv(self) -> bool {
        self.0 & 128 != 0
    }
}

impl fmt::Debug for WcOpcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0 => "SEND",
            1 => "RDMA_WRITE",
            2 => "RDMA_READ",
            3 => "COMP_SWAP",
            4 => "FETCH_ADD",
            5 => "BIND_MW",
            6 => "LOCAL_INV",
            128 => "RECV",
            129 => "RECV_RDMA_WITH_IMM",
            n => return write!(f, "WcOpcode({n})"),
        };
        f.write_str(name)
    }
}

/// One work completion. `Copy` and fixed-size, so polling fills a caller's slice without allocating.
///
/// A completion with an error status may carry a meaningless opcode (verbs only guarantees
/// `wr_id` and `status` then); the providers here report the opcode of the work request anyway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// The caller's id from the work request.
    pub wr_id: u64,
    pub status: WcStatus,
    pub opcode: WcOpcode,
    /// Bytes received (RECV) or transferred.
    pub byte_len: u32,
    /// For a RECV of a SEND_WITH_INVALIDATE: the rkey the peer invalidated here.
    pub invalidated_rkey: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_stay_representable() {
        let s = WcStatus(77);
        assert_eq!(s.name(), None);
        assert_eq!(format!("{s:?}"), "WcStatus(77)");
        assert_eq!(format!("{:?}", WcStatus::REM_ACCESS_ERR), "REM_ACCESS_ERR");
        assert!(WcOpcode(129).is_recv() && !WcOpcode::RDMA_READ.is_recv());
    }

    /// The numbers must be the C ones: the verbs provider copies them through unchanged.
    #[cfg(feature = "rdma")]
    #[test]
    fn values_match_verbs_h() {
        use rdma_core_sys as sys;
        assert_eq!(WcStatus::WR_FLUSH_ERR.0, sys::ibv_wc_status::IBV_WC_WR_FLUSH_ERR.0);
        assert_eq!(WcStatus::REM_ACCESS_ERR.0, sys::ibv_wc_status::IBV_WC_REM_ACCESS_ERR.0);
        assert_eq!(WcStatus::GENERAL_ERR.0, sys::ibv_wc_status::IBV_WC_GENERAL_ERR.0);
        assert_eq!(WcOpcode::RECV.0, sys::ibv_wc_opcode::IBV_WC_RECV.0);
        assert_eq!(WcOpcode::BIND_MW.0, sys::ibv_wc_opcode::IBV_WC_BIND_MW.0);
        assert_eq!(WcOpcode::LOCAL_INV.0, sys::ibv_wc_opcode::IBV_WC_LOCAL_INV.0);
        assert_eq!(WcOpcode::RDMA_READ.0, sys::ibv_wc_opcode::IBV_WC_RDMA_READ.0);
    }
}
