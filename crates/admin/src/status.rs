//! `GET /api/status`: the server as JSON (what the page draws and `smbdx status` prints).
//!
//! Session ids are hex strings: they use all 64 bits, past what a JavaScript number holds exactly.

use serde_json::{json, Value};
use server::live::{unix_ms, ConnEntry, TransportKind};
use server::serve::Observer;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::SystemTime;

fn connection(e: &ConnEntry) -> Value {
    let info = e.info();
    let (bytes_in, bytes_out) = e.bytes();
    json!({
        "id": e.id,
        "client": e.peer.to_string(),
        "transport": e.transport().name(),
        "reactor": e.reactor,
        "dialect": info.dialect,
        "cipher": info.cipher,
        "signing": info.signing,
        "since_ms": unix_ms(e.since),
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "open_files": e.open_files.load(Relaxed),
        "sessions": info.sessions.len(),
    })
}

/// Everything the operator sees, now.
pub fn status(obs: &Observer) -> Value {
    let live = &obs.live;
    let s = &live.settings;
    let now = SystemTime::now();
    let conns = live.connections();
    let mut sessions = Vec::new();
    for e in &conns {
        let info = e.info();
        let (bytes_in, bytes_out) = e.bytes();
        for sess in &info.sessions {
            sessions.push(json!({
                "id": format!("{:#x}", sess.id),
                "user": sess.user,
                "client": e.peer.to_string(),
                "dialect": info.dialect,
                "cipher": info.cipher,
                "signing": info.signing,
                "encrypt_data": sess.encrypt_data,
                "signing_required": sess.signing_required,
                "open_files": e.open_files.load(Relaxed),
                "channels": [{
                    "connection": e.id,
                    "transport": e.transport().name(),
                    "reactor": e.reactor,
                    "bytes_in": bytes_in,
                    "bytes_out": bytes_out,
                }],
            }));
        }
    }
    // Bytes so far by transport, ended connections included: the page draws their rate.
    let mut traffic: BTreeMap<&str, (u64, u64)> =
        [(TransportKind::Tcp.name(), (0, 0)), (TransportKind::Rdma.name(), (0, 0))].into();
    for ((t, _), c) in live.counters_by_transport_cipher() {
        let sum = traffic.entry(t.name()).or_default();
        for r in c.snapshot() {
            sum.0 += r.request_bytes;
            sum.1 += r.response_bytes;
        }
    }
    let depths = obs.helper_queue_depths();
    let reactors: Vec<Value> = obs
        .reactors
        .snapshot()
        .iter()
        .map(|r| {
            json!({
                "reactor": r.reactor,
                "core": r.core,
                "connections": r.connections,
                "messages": r.messages,
                "bytes_in": r.bytes_in,
                "bytes_out": r.bytes_out,
                "busy_ns": r.busy_ns,
                "rdma_write_bytes": r.rdma_write_bytes,
                "rdma_read_bytes": r.rdma_read_bytes,
                "helper_queue": depths.get(r.reactor),
            })
        })
        .collect();
    let events: Vec<Value> = live
        .recent_events()
        .iter()
        .rev()
        .map(|e| {
            json!({
                "time_ms": e.time_ms,
                "id": e.id,
                "kind": e.kind,
                "client": e.client.to_string(),
                "user": e.user,
                "share": e.share,
                "detail": e.detail,
            })
        })
        .collect();
    json!({
        "server": {
            "name": s.server_name,
            "version": env!("CARGO_PKG_VERSION"),
            "started_ms": unix_ms(live.started),
            "now_ms": unix_ms(now),
        },
        "settings": {
            "dialects": s.dialects,
            "ciphers": s.ciphers,
            "crypto": s.crypto.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "require_signing": s.require_signing,
            "encrypt_data": s.encrypt_data,
            "reject_unencrypted_access": s.reject_unencrypted_access,
            "listen": s.listen.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "rdma_listen": s.rdma_listen.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
        "shares": live.shares.iter().map(|sh| json!({
            "name": sh.name,
            "path": sh.path.display().to_string(),
            "encrypt_data": sh.encrypt_data(),
            "read_only": sh.read_only,
            "users": sh.users,
        })).collect::<Vec<_>>(),
        "sessions": sessions,
        "connections": conns.iter().map(|e| connection(e)).collect::<Vec<_>>(),
        "connections_total": live.connections_total(),
        "reactors": reactors,
        "traffic": traffic.iter().map(|(t, (i, o))| (t.to_string(), json!({"bytes_in": i, "bytes_out": o}))).collect::<serde_json::Map<_, _>>(),
        "events": events,
        "event_counts": live.event_counts(),
    })
}
