//! FSCTL_QUERY_NETWORK_INTERFACE_INFO (MS-SMB2 2.2.32.5): the host's interfaces, addresses, link
//! speeds, and which have an RDMA device (RDMA_CAPABLE: a client opens SMB Direct channels only to
//! those), read from Linux's /proc and /sys (no unsafe getifaddrs).

use smb_wire::fsctl::interface_capability::RDMA_CAPABLE;
use smb_wire::fsctl::{InterfaceAddress, NetworkInterfaceInfo};
use std::net::Ipv4Addr;

/// Interfaces with an IPv4 address, loopback included (clients on the same host connect through it).
pub fn interfaces() -> Vec<NetworkInterfaceInfo> {
    interfaces_with(&rdma_netdevs(std::path::Path::new("/sys/class/infiniband")))
}

/// The network interfaces RDMA devices sit on: an RNIC lists its netdevs under `device/net/`, a
/// software device (rxe, siw) names its one in `parent`.
fn rdma_netdevs(ib: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(devs) = std::fs::read_dir(ib) else { return out };
    for d in devs.flatten() {
        if let Ok(p) = std::fs::read_to_string(d.path().join("parent")) {
            out.push(p.trim().to_string());
        }
        if let Ok(nets) = std::fs::read_dir(d.path().join("device/net")) {
            out.extend(nets.flatten().map(|n| n.file_name().to_string_lossy().into_owned()));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn interfaces_with(rdma: &[String]) -> Vec<NetworkInterfaceInfo> {
    let mut out = Vec::new();
    let Ok(route) = std::fs::read_to_string("/proc/net/fib_trie") else { return out };
    let mut names: Vec<(String, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let index = std::fs::read_to_string(e.path().join("ifindex"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            names.push((name, index));
        }
    }
    for addr in local_ipv4(&route) {
        let (name, index) =
            names.iter().find(|(n, _)| interface_has(n, addr)).cloned().unwrap_or_else(|| ("?".into(), 0));
        let mbps: u64 = std::fs::read_to_string(format!("/sys/class/net/{name}/speed"))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|&s| s > 0)
            .map_or(10_000, |s| s as u64);
        // Windows skips IfIndex 0 (MS-SMB2 <198>): an address whose interface is unknown is not offered.
        if index == 0 {
            continue;
        }
        let capability = if rdma.contains(&name) { RDMA_CAPABLE } else { 0 };
        out.push(NetworkInterfaceInfo {
            if_index: index,
            capability,
            link_speed: mbps * 1_000_000,
            address: InterfaceAddress::Ip(std::net::SocketAddr::from((addr, 0))),
        });
    }
    out
}

/// The host's own IPv4 addresses: /32 "host LOCAL" entries of the FIB trie.
fn local_ipv4(fib: &str) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in fib.lines() {
        let t = line.trim_start_matches([' ', '|', '-', '+']).trim();
        if let Ok(a) = t.parse::<Ipv4Addr>() {
            last = Some(a);
        } else if t.contains("/32 host LOCAL") {
            if let Some(a) = last {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
    }
    out
}

fn interface_has(name: &str, addr: Ipv4Addr) -> bool {
    if addr.is_loopback() {
        return name == "lo";
    }
    // /proc/net/fib_trie does not say which interface owns an address; /sys does not list addresses.
    // Pick the first non-loopback interface that is up.
    name != "lo"
        && std::fs::read_to_string(format!("/sys/class/net/{name}/operstate"))
            .is_ok_and(|s| s.trim() != "down")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdma_devices_mark_their_interfaces() {
        let dir = std::env::temp_dir().join(format!("smbdx-ib-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // A SoftRoCE device on eth0 and an RNIC with two ports' netdevs.
        std::fs::create_dir_all(dir.join("rxe0")).unwrap();
        std::fs::write(dir.join("rxe0/parent"), "eth0\n").unwrap();
        std::fs::create_dir_all(dir.join("mlx5_0/device/net/ens1f0")).unwrap();
        std::fs::create_dir_all(dir.join("mlx5_0/device/net/ens1f1")).unwrap();
        assert_eq!(rdma_netdevs(&dir), ["ens1f0", "ens1f1", "eth0"]);
        assert!(rdma_netdevs(&dir.join("none")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fib_trie_local_addresses() {
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.0.5\n        /32 host LOCAL\n     |-- 127.0.0.1\n        /32 host LOCAL\nLocal:\n     |-- 10.0.0.5\n        /32 host LOCAL\n";
        assert_eq!(local_ipv4(fib), vec![Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::LOCALHOST]);
    }
}
