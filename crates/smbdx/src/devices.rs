//! `smbdx devices`: the RDMA devices of this host and what they can do, like `ibv_devinfo -v`
//! cut down to what matters for SMB Direct (ports, MTU, GIDs, queue and region limits).

#[cfg(feature = "rdma")]
pub fn run() -> i32 {
    use rdma_verbs::verbs::{devices, Gid};
    let list = match devices() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("smbdx devices: {}", crate::rdma_provider::no_rdma(&e.to_string()));
            return 1;
        }
    };
    if list.is_empty() {
        println!("no RDMA devices: {}", crate::rdma_provider::GET_A_DEVICE);
        return 0;
    }
    for d in &list {
        println!("{}", d.name);
        println!(
            "  node_guid      {:04x}:{:04x}:{:04x}:{:04x}",
            d.node_guid >> 48,
            (d.node_guid >> 32) & 0xffff,
            (d.node_guid >> 16) & 0xffff,
            d.node_guid & 0xffff
        );
        println!("  fw_ver         {}", d.fw_ver);
        println!("  max_qp         {}   max_qp_wr {}   max_cqe {}", d.max_qp, d.max_qp_wr, d.max_cqe);
        println!("  max_mr         {}   max_mr_size {}   max_mw {}", d.max_mr, d.max_mr_size, d.max_mw);
        println!(
            "  max_sge        {}   max_qp_rd_atom {}   max_qp_init_rd_atom {}",
            d.max_sge, d.max_qp_rd_atom, d.max_qp_init_rd_atom
        );
        for p in &d.ports {
            println!(
                "  port {}         {}   link_layer {}   active_mtu {}   max_mtu {}",
                p.num,
                p.state_name(),
                p.link_layer_name(),
                p.active_mtu,
                p.max_mtu
            );
            for (i, g) in &p.gids {
                println!("    gid[{i}]       {}", Gid(g));
            }
        }
    }
    0
}

#[cfg(not(feature = "rdma"))]
pub fn run() -> i32 {
    match crate::rdma_provider::provider(None) {
        Err(why) => eprintln!("smbdx devices: {why}"),
        Ok(_) => eprintln!("smbdx devices: this smbdx was built without RDMA support"),
    }
    2
}
