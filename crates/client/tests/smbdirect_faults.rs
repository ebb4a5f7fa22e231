//! Faults in the middle of SMB Direct I/O between the real client and server, on the loopback RDMA
//! provider with faults planned for the server's side: a disconnect while the server RDMA-reads a
//! WRITE's payload or RDMA-writes a READ's data, a queue pair error, a lost completion. Each ends in
//! a clean error for that connection only, no WRITE is acknowledged unless its data is in the file,
//! the server goes on serving, and no registered memory is left out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{Client, ClientError, ClientOptions, OpenMode, Transport};
use engine::rdma::RdmaSettings;
use rdma_verbs::loopback::{Fabric, FaultAction, FaultOn, FaultPlan};
use rdma_verbs::WcStatus;
use server::config::{ServeConfig, ShareConfig};
use server::serve::Server;

const ADDR: &str = "10.9.0.1:445";

struct Rig {
    server: Server,
    fabric: Fabric,
    plan: Arc<FaultPlan>,
    dir: tempfile::TempDir,
}

/// A server whose RDMA domains apply `plan`, with share `plain`.
fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plain")).unwrap();
    let cfg = ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        rdma: vec![ADDR.into()],
        shares: vec![ShareConfig::parse(&format!("plain={}", dir.path().join("plain").display())).unwrap()],
        users: vec!["alice:secret".into()],
        reactors: Some(1),
        ..Default::default()
    };
    let fabric = Fabric::new();
    let plan = Arc::new(FaultPlan::new());
    let server = Server::start_with_rdma(&cfg, Some(Arc::new(fabric.with_faults(plan.clone())))).unwrap();
    Rig { server, fabric, plan, dir }
}

fn connect(rig: &Rig) -> Client {
    let opts = ClientOptions {
        transport: Transport::Rdma(RdmaSettings::new(Arc::new(rig.fabric.clone()))),
        require_signing: false,
        timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    };
    Client::connect(ADDR.parse().unwrap(), "alice", "secret", opts).unwrap()
}

fn eventually(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn is_connection_error(e: &ClientError) -> bool {
    matches!(e, ClientError::ConnectionClosed { .. } | ClientError::Protocol(_) | ClientError::Timeout { .. })
}

/// The server still serves a new connection, and the file holds what was acknowledged.
fn still_serving(rig: &Rig) {
    let c = connect(rig);
    let tree = c.tree("plain").unwrap();
    let data = vec![0x42u8; 1 << 20];
    let f = tree.open("after.bin", OpenMode::Write).unwrap();
    assert_eq!(f.write_at(0, &data).unwrap(), data.len());
    let mut back = vec![0u8; data.len()];
    assert_eq!(f.read_at(0, &mut back).unwrap(), data.len());
    assert_eq!(back, data);
    f.close().unwrap();
}

#[test]
fn a_disconnect_while_a_writes_payload_is_pulled_acknowledges_nothing() {
    let rig = rig();
    let c = connect(&rig);
    let tree = c.tree("plain").unwrap();
    let f = tree.open("w.bin", OpenMode::Write).unwrap();
    // The first RDMA READ the server posts (pulling this WRITE's payload) breaks the link.
    rig.plan.add(FaultOn::RdmaRead, 0, FaultAction::Disconnect);
    let err = f.write_at(0, &vec![7u8; 1 << 20]).unwrap_err();
    assert!(is_connection_error(&err), "{err:?}");
    assert_eq!(rig.plan.fired(), 1);
    let on_disk = std::fs::metadata(rig.dir.path().join("plain/w.bin")).unwrap().len();
    assert_eq!(on_disk, 0, "a WRITE whose payload never arrived wrote nothing");
    drop((f, tree, c));
    eventually("the connection's registered memory back", || rig.server.rdma_leases_out() == 0);
    still_serving(&rig);
    rig.server.shutdown().unwrap();
}

#[test]
fn a_failed_rdma_read_is_a_queue_pair_error_that_costs_only_its_connection() {
    let rig = rig();
    let bystander = connect(&rig);
    let btree = bystander.tree("plain").unwrap();
    let c = connect(&rig);
    let tree = c.tree("plain").unwrap();
    let f = tree.open("q.bin", OpenMode::Write).unwrap();
    rig.plan.add(FaultOn::RdmaRead, 0, FaultAction::Fail(WcStatus::REM_ACCESS_ERR));
    let err = f.write_at(0, &vec![9u8; 256 << 10]).unwrap_err();
    assert!(is_connection_error(&err), "{err:?}");
    assert_eq!(std::fs::metadata(rig.dir.path().join("plain/q.bin")).unwrap().len(), 0);
    // Another connection, idle meanwhile, is untouched.
    let g = btree.open("b.bin", OpenMode::Write).unwrap();
    assert_eq!(g.write_at(0, &[1u8; 100_000]).unwrap(), 100_000);
    g.close().unwrap();
    drop((f, tree, c));
    still_serving(&rig);
    drop((btree, bystander));
    eventually("registered memory back", || rig.server.rdma_leases_out() == 0);
    rig.server.shutdown().unwrap();
}

#[test]
fn a_disconnect_while_a_reads_data_is_placed_is_a_clean_error() {
    let rig = rig();
    let c = connect(&rig);
    let tree = c.tree("plain").unwrap();
    let data = vec![3u8; 2 << 20];
    let f = tree.open("r.bin", OpenMode::Write).unwrap();
    assert_eq!(f.write_at(0, &data).unwrap(), data.len(), "written before the fault");
    // The server's first RDMA WRITE (a READ's data) breaks the link.
    rig.plan.add(FaultOn::RdmaWrite, 0, FaultAction::Disconnect);
    let mut back = vec![0u8; data.len()];
    let err = f.read_at(0, &mut back).unwrap_err();
    assert!(is_connection_error(&err), "{err:?}");
    // What was acknowledged before is in the file.
    assert_eq!(std::fs::read(rig.dir.path().join("plain/r.bin")).unwrap(), data);
    drop((f, tree, c));
    eventually("registered memory back", || rig.server.rdma_leases_out() == 0);
    still_serving(&rig);
    rig.server.shutdown().unwrap();
}

#[test]
fn a_lost_completion_leaks_nothing_once_the_connection_closes() {
    let rig = rig();
    let c = connect(&rig);
    let tree = c.tree("plain").unwrap();
    let data = vec![5u8; 1 << 20];
    let f = tree.open("l.bin", OpenMode::Write).unwrap();
    assert_eq!(f.write_at(0, &data).unwrap(), data.len());
    // The completion of the server's RDMA WRITE for this READ never comes: the data and the
    // response still reach the client (RC ordering), and the server holds that buffer...
    rig.plan.add(FaultOn::RdmaWrite, 0, FaultAction::DropCompletion);
    let mut back = vec![0u8; data.len()];
    assert_eq!(f.read_at(0, &mut back).unwrap(), data.len());
    assert_eq!(back, data);
    assert!(rig.server.rdma_leases_out() > 0);
    f.close().unwrap();
    drop((tree, c));
    // ...only until the connection is gone.
    eventually("registered memory back after the close", || rig.server.rdma_leases_out() == 0);
    still_serving(&rig);
    rig.server.shutdown().unwrap();
}
