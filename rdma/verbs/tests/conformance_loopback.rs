//! The shared conformance suite against the loopback provider, both roles in one process. A loopback
//! endpoint is a domain with one queue pair, so this checks the domain code a reactor drives.

use rdma_verbs::conformance::{self, Config};
use rdma_verbs::loopback::{Fabric, LoopbackDomain};

fn run(name: &str) {
    let case =
        conformance::cases::<LoopbackDomain>().into_iter().find(|c| c.name == name).expect("case exists");
    let (server, client) =
        conformance::run_pair(&Fabric::new(), "10.9.0.1:5445".parse().unwrap(), case, &Config::default());
    assert_eq!((server, client), (Ok(()), Ok(())), "case {name}: (server, client)");
}

#[test]
fn every_case_has_a_test() {
    let names: Vec<&str> = conformance::cases::<LoopbackDomain>().iter().map(|c| c.name).collect();
    let this_file = include_str!("conformance_loopback.rs");
    for n in names {
        assert!(this_file.contains(&format!("fn {n}()")), "no #[test] for case {n}");
    }
}

#[test]
fn connect_private_data() {
    run("connect_private_data");
}
#[test]
fn send_recv() {
    run("send_recv");
}
#[test]
fn rdma_write_4k() {
    run("rdma_write_4k");
}
#[test]
fn rdma_write_64k() {
    run("rdma_write_64k");
}
#[test]
fn rdma_write_1m() {
    run("rdma_write_1m");
}
#[test]
fn rdma_read_4k() {
    run("rdma_read_4k");
}
#[test]
fn rdma_read_64k() {
    run("rdma_read_64k");
}
#[test]
fn rdma_read_1m() {
    run("rdma_read_1m");
}
#[test]
fn send_with_invalidate() {
    run("send_with_invalidate");
}
#[test]
fn local_invalidate() {
    run("local_invalidate");
}
#[test]
fn access_outside_region() {
    run("access_outside_region");
}
#[test]
fn disconnect_mid_transfer() {
    run("disconnect_mid_transfer");
}
#[test]
fn two_queue_pairs_one_domain() {
    run("two_queue_pairs_one_domain");
}
#[test]
fn rdma_read_into_lease() {
    run("rdma_read_into_lease");
}

/// The runners the rdma-conformance binary uses (one listener, one connection per case) agree
/// with each other over loopback too.
#[test]
fn server_and_client_runners_agree() {
    let fabric = Fabric::new();
    let addr = "10.9.0.1:5446".parse().unwrap();
    let cfg = Config::default();
    let f2 = fabric.clone();
    let server = std::thread::spawn(move || conformance::run_server(&f2, addr, "", &cfg).expect("listen"));
    let client = conformance::run_client(&fabric, addr, "", &cfg);
    let server = server.join().unwrap();
    assert_eq!(client.len(), conformance::cases::<LoopbackDomain>().len());
    for o in client.iter().chain(&server) {
        assert_eq!(o.result, Ok(()), "{}", o.name);
    }
}
