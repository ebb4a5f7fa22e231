//! The connection limits hold for SMB Direct as for TCP (issue 15): an RDMA connection request over
//! the server's limit is refused at accept, counted in /metrics, and the place frees when a
//! connection closes; TCP and RDMA connections count together. On the loopback RDMA provider
//! (correctness only), whose connection requests carry no source address, so the per-source limit
//! (which counts RDMA connections by the address the CM reports) is not exercised here.

use client::{Client, ClientOptions};
use server::config::{ServeConfig, ShareConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASS: &str = "Rdma-L1mits";

#[test]
fn an_rdma_connection_over_the_server_limit_is_refused_and_the_place_frees() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        rdma: vec!["10.9.0.1:445".into()],
        shares: vec![ShareConfig::parse(&format!("data={}", dir.path().display())).unwrap()],
        users: vec![format!("alice:{PASS}")],
        reactors: Some(1),
        max_connections: Some(3),
        ..Default::default()
    };
    let fabric = rdma_verbs::loopback::Fabric::new();
    let server = server::serve::Server::start_with_rdma(&cfg, Some(Arc::new(fabric.clone()))).unwrap();
    let addr = server.local_rdma_addrs()[0];
    let opts = || ClientOptions {
        transport: client::Transport::Rdma(engine::rdma::RdmaSettings::new(Arc::new(fabric.clone()))),
        timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    };
    // One TCP connection and two RDMA ones fill the three places.
    let tcp = Client::connect(server.local_addrs()[0], "alice", PASS, ClientOptions::default()).expect("tcp");
    let first = Client::connect(addr, "alice", PASS, opts()).expect("first");
    let second = Client::connect(addr, "alice", PASS, opts()).expect("second");
    assert!(
        Client::connect(addr, "alice", PASS, opts()).is_err(),
        "a fourth connection was served over a limit of 3"
    );
    let refused = || {
        let m = admin::metrics::render(&server.observer());
        m.lines()
            .find(|l| l.starts_with("smbdx_connections_refused_total{reason=\"server_limit\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(refused() >= 1.0, "the refusal was not counted");
    // The two admitted ones work; one gone, its place is free again.
    first.tree("data").unwrap();
    drop(first);
    let end = Instant::now() + Duration::from_secs(20);
    let third = loop {
        match Client::connect(addr, "alice", PASS, opts()) {
            Ok(c) => break c,
            Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("the freed place was not given to a new RDMA connection: {e}"),
        }
    };
    third.tree("data").unwrap();
    second.tree("data").unwrap();
    tcp.tree("data").unwrap();
}
