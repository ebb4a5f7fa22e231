//! The RDMA provider this build has, and the one line a user gets when there is none: the verbs
//! provider over the host's devices (feature `rdma`), checked to find a device before it is used.

use std::sync::Arc;

use engine::rdma::RdmaProvider;

/// What to do about a missing RDMA device (printed after the reason).
pub const GET_A_DEVICE: &str =
    "get an RNIC, or SoftRoCE: `modprobe rdma_rxe && rdma link add rxe0 type rxe netdev <nic>`, \
     or run in the project's SoftRoCE VMs (scripts/rxe-vm.sh)";

/// The provider for `device` (any device when `None`), or one line saying why there is none.
#[cfg(feature = "rdma")]
pub fn provider(device: Option<&str>) -> Result<Arc<dyn RdmaProvider>, String> {
    let list = rdma_verbs::verbs::devices().map_err(|e| no_rdma(&e.to_string()))?;
    if list.is_empty() {
        return Err(format!("no RDMA device on this host: {GET_A_DEVICE}"));
    }
    if let Some(want) = device {
        if !list.iter().any(|d| d.name == want) {
            let have: Vec<&str> = list.iter().map(|d| d.name.as_str()).collect();
            return Err(format!("no RDMA device {want} (this host has {})", have.join(", ")));
        }
    }
    Ok(Arc::new(rdma_verbs::verbs::VerbsProvider::new(device.map(str::to_string))))
}

#[cfg(not(feature = "rdma"))]
pub fn provider(_device: Option<&str>) -> Result<Arc<dyn RdmaProvider>, String> {
    Err("this smbdx was built without RDMA support: build it with `--features rdma` (needs rdma-core: \
         apt install libibverbs-dev librdmacm-dev libclang-dev)"
        .into())
}

/// The reason rdma-core gave, as a user reads it: no kernel RDMA stack shows as ENOSYS.
#[cfg_attr(not(feature = "rdma"), allow(dead_code))]
pub fn no_rdma(why: &str) -> String {
    if why.contains("os error 38") || why.contains("os error 2)") {
        format!("no RDMA support in this host's kernel (no ib_uverbs / rdma_rxe): {GET_A_DEVICE}")
    } else {
        format!("RDMA devices cannot be listed ({why}): {GET_A_DEVICE}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_without_rdma_gets_one_line_with_what_to_do() {
        let m = no_rdma("ibv_get_device_list() failed: Function not implemented (os error 38)");
        assert!(m.starts_with("no RDMA support in this host's kernel"), "{m}");
        assert!(m.contains("rdma_rxe") && m.contains("scripts/rxe-vm.sh") && !m.contains('\n'));
    }
}
