//! `GET /metrics`: the counters in the Prometheus / OpenMetrics text format (prometheus-client).
//!
//! Nothing is counted here: each scrape reads what the reactors count anyway (their own relaxed
//! counters, a connection's [`smb_session::CommandCounters`]) into a registry built for that
//! scrape, so the request path pays nothing for a scraper.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use server::serve::Observer;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(&'static str, String)>;

fn counters(reg: &mut Registry, name: &str, help: &str) -> Family<Labels, Counter> {
    let f = Family::<Labels, Counter>::default();
    reg.register(name, help, f.clone());
    f
}

fn gauges(reg: &mut Registry, name: &str, help: &str) -> Family<Labels, Gauge> {
    let f = Family::<Labels, Gauge>::default();
    reg.register(name, help, f.clone());
    f
}

/// The scrape's text (OpenMetrics, which Prometheus reads; it ends with `# EOF`).
pub fn render(obs: &Observer) -> String {
    let mut reg = Registry::default();
    let requests = counters(
        &mut reg,
        "smbdx_requests",
        "SMB2 requests by command, transport and cipher (none: sent in the clear)",
    );
    let req_bytes = counters(
        &mut reg,
        "smbdx_request_bytes",
        "Request bytes by command (PDUs, and WRITE data that came by RDMA READ)",
    );
    let rsp_bytes = counters(
        &mut reg,
        "smbdx_response_bytes",
        "Response bytes by command (PDUs, and READ data sent by RDMA WRITE)",
    );
    let responses =
        counters(&mut reg, "smbdx_responses", "SMB2 responses by command, status, transport and cipher");
    for ((transport, cipher), c) in obs.live.counters_by_transport_cipher() {
        for row in c.snapshot() {
            // The cipher label says how these messages travelled: the connection's cipher when
            // sealed, "none" in the clear.
            let cipher = if row.sealed { cipher } else { "none" };
            let l: Labels = vec![
                ("command", row.command.into()),
                ("transport", transport.name().into()),
                ("cipher", cipher.into()),
            ];
            requests.get_or_create(&l).inc_by(row.requests);
            req_bytes.get_or_create(&l).inc_by(row.request_bytes);
            rsp_bytes.get_or_create(&l).inc_by(row.response_bytes);
            for (status, n) in row.responses {
                let mut ls = l.clone();
                ls.push(("status", status.into()));
                responses.get_or_create(&ls).inc_by(n);
            }
        }
    }

    let conns = obs.live.connections();
    let connections = gauges(&mut reg, "smbdx_connections", "Open connections by transport");
    let sessions = gauges(&mut reg, "smbdx_sessions", "Established sessions by transport");
    let open_files = gauges(&mut reg, "smbdx_open_files", "Files open by clients, by transport");
    for t in ["tcp", "rdma"] {
        let mine = conns.iter().filter(|e| e.transport().name() == t);
        connections.get_or_create(&vec![("transport", t.into())]).set(mine.clone().count() as i64);
        let n: usize = mine.clone().map(|e| e.info().sessions.len()).sum();
        sessions.get_or_create(&vec![("transport", t.into())]).set(n as i64);
        let files: u64 = mine.map(|e| e.open_files.load(std::sync::atomic::Ordering::Relaxed)).sum();
        open_files.get_or_create(&vec![("transport", t.into())]).set(files as i64);
    }
    let accepted = Counter::<u64>::default();
    accepted.inc_by(obs.live.connections_total());
    reg.register("smbdx_connections_accepted", "Connections accepted since start", accepted);
    let refused = counters(
        &mut reg,
        "smbdx_connections_refused",
        "Connections closed at accept over a limit (server_limit: --max-connections, source_limit: --max-connections-per-source)",
    );
    for (reason, n) in obs.live.refused_connections() {
        refused.get_or_create(&vec![("reason", reason.into())]).inc_by(n);
    }

    let events = counters(
        &mut reg,
        "smbdx_security_events",
        "Security events by kind and event id (Windows ids; 9001 and 9002 are smbdx logon throttling, 9003 connection limits)",
    );
    let ids = obs.live.event_ids();
    for (kind, n) in obs.live.event_counts() {
        let id = ids.get(kind).map_or_else(|| "none".to_string(), u32::to_string);
        events.get_or_create(&vec![("kind", kind.into()), ("event_id", id)]).inc_by(n);
    }

    let shares = gauges(&mut reg, "smbdx_share_encrypt_data", "A share's EncryptData now (1 on)");
    for s in &obs.live.shares {
        shares.get_or_create(&vec![("share", s.name.clone())]).set(i64::from(s.encrypt_data()));
    }

    let busy = Family::<Labels, Counter<f64, AtomicU64>>::default();
    reg.register(
        "smbdx_reactor_busy_seconds",
        "Time each reactor spent handling what it polled",
        busy.clone(),
    );
    let messages = counters(&mut reg, "smbdx_reactor_messages", "Messages each reactor handled");
    let polls = counters(&mut reg, "smbdx_reactor_polls", "Polls each reactor made");
    let bytes_in =
        counters(&mut reg, "smbdx_reactor_received_bytes", "Transport bytes each reactor received");
    let bytes_out = counters(&mut reg, "smbdx_reactor_sent_bytes", "Transport bytes each reactor sent");
    let rdma = counters(
        &mut reg,
        "smbdx_rdma_bytes",
        "File data moved by RDMA (write: READ data, read: WRITE data)",
    );
    let rdma_err =
        counters(&mut reg, "smbdx_rdma_access_errors", "RDMA transfers failed with a remote access error");
    let queue = gauges(&mut reg, "smbdx_helper_queue_depth", "Jobs waiting for a reactor's helper threads");
    let depths = obs.helper_queue_depths();
    for r in obs.reactors.snapshot() {
        let l: Labels = vec![("reactor", r.reactor.to_string())];
        busy.get_or_create(&l).inc_by(r.busy_ns as f64 / 1e9);
        messages.get_or_create(&l).inc_by(r.messages);
        polls.get_or_create(&l).inc_by(r.polls);
        bytes_in.get_or_create(&l).inc_by(r.bytes_in);
        bytes_out.get_or_create(&l).inc_by(r.bytes_out);
        rdma_err.get_or_create(&l).inc_by(r.rdma_access_errors);
        let mut w = l.clone();
        w.push(("direction", "write".into()));
        rdma.get_or_create(&w).inc_by(r.rdma_write_bytes);
        let mut rd = l.clone();
        rd.push(("direction", "read".into()));
        rdma.get_or_create(&rd).inc_by(r.rdma_read_bytes);
        if let Some(d) = depths.get(r.reactor) {
            queue.get_or_create(&l).set(*d as i64);
        }
    }
    let starved = counters(
        &mut reg,
        "smbdx_memory_starved",
        "Times a connection waited because the memory budget was used up",
    );
    let stalled = counters(
        &mut reg,
        "smbdx_memory_stalled_closed",
        "Connections closed for holding memory of a used-up budget without progress",
    );
    for r in obs.reactors.snapshot() {
        let l: Labels = vec![("reactor", r.reactor.to_string())];
        starved.get_or_create(&l).inc_by(r.starved);
        stalled.get_or_create(&l).inc_by(r.stalled_closed);
    }
    let budget =
        gauges(&mut reg, "smbdx_memory_budget_bytes", "The connections' memory budget: limit, used, peak");
    for (what, v) in [("limit", obs.budget.limit()), ("used", obs.budget.used()), ("peak", obs.budget.peak())]
    {
        budget.get_or_create(&vec![("value", what.into())]).set(v as i64);
    }
    let helper_jobs = Counter::<u64>::default();
    helper_jobs.inc_by(obs.helper_jobs_run());
    reg.register("smbdx_helper_jobs", "READs and WRITEs the helper threads ran", helper_jobs);

    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &reg);
    out
}
