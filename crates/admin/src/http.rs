//! The admin HTTP server: one thread of its own (tiny_http), never a reactor's, answering one
//! request at a time: the operator's view needs no concurrency, and the reactors never wait for it.
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | the status page (HTML, polls `/api/status`; static, so served to anyone) |
//! | `GET /metrics` | Prometheus / OpenMetrics text |
//! | `GET /api/status` | JSON: settings, shares, sessions, connections, reactors, events |
//! | `POST /api/shares/NAME` `{"encrypt_data": true}` | sets the share's EncryptData for new tree connects |
//! | `POST /api/sessions/ID/close` | closes the connection carrying session ID (hex) |
//!
//! POSTs must say `Content-Type: application/json`: a form on another web site cannot, so a browser
//! on the operator's machine cannot be made to change settings by a page it visits.

use crate::auth::{check, Access, Token};
use server::serve::Observer;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use tiny_http::{Header, Method, Request, Response};

/// The status page: plain HTML with a little script, no build step.
const PAGE: &str = include_str!("page.html");

/// Bodies of POSTs at most.
const MAX_BODY: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin view on {addr}: {why}")]
    Bind { addr: SocketAddr, why: String },
    #[error("admin view thread: {0}")]
    Thread(std::io::Error),
}

/// The running admin view; dropping it stops it.
pub struct AdminServer {
    http: Arc<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl AdminServer {
    /// Serves the view of `obs` on `addr` from a thread of its own. Other hosts than loopback need
    /// `token` (and are refused when there is none).
    pub fn start(addr: SocketAddr, token: Option<Token>, obs: Observer) -> Result<AdminServer, AdminError> {
        let http =
            tiny_http::Server::http(addr).map_err(|e| AdminError::Bind { addr, why: e.to_string() })?;
        let local = http.server_addr().to_ip().unwrap_or(addr);
        let http = Arc::new(http);
        let h = Arc::clone(&http);
        let with_token = token.is_some();
        let thread = std::thread::Builder::new()
            .name("smbdx-admin".into())
            .spawn(move || {
                // `incoming_requests` ends when `unblock` is called.
                for req in h.incoming_requests() {
                    handle(req, token.as_ref(), &obs);
                }
            })
            .map_err(AdminError::Thread)?;
        tracing::info!(admin = %local, other_hosts_with_token = with_token, "admin view serving");
        Ok(AdminServer { http, addr: local, thread: Some(thread) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the thread.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        self.http.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

fn header(name: &str, value: &str) -> Header {
    // Names and values here are ASCII constants.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

fn respond(req: Request, status: u16, content_type: &str, body: String) {
    let rsp = Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"))
        .with_header(header("X-Content-Type-Options", "nosniff"))
        .with_header(header("X-Frame-Options", "DENY"));
    let rsp = if status == 401 { rsp.with_header(header("WWW-Authenticate", "Bearer")) } else { rsp };
    // The client may have gone; nothing to do about it.
    let _ = req.respond(rsp);
}

fn json(req: Request, status: u16, v: &serde_json::Value) {
    respond(req, status, "application/json", v.to_string());
}

fn error(req: Request, status: u16, why: &str) {
    json(req, status, &serde_json::json!({ "error": why }));
}

fn header_value<'a>(req: &'a Request, name: &'static str) -> Option<&'a str> {
    req.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

/// `%XX` escapes decoded (share names may hold spaces); `None` for a bad escape or non-UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn handle(mut req: Request, token: Option<&Token>, obs: &Observer) {
    // The page itself holds no data (its script asks the API, with the token a browser on another
    // host gives it in the URL's fragment: http://HOST:PORT/#token=...), so anyone may load it.
    let page = matches!(req.url().split('?').next(), Some("/" | "/index.html"));
    if page && *req.method() == Method::Get {
        return respond(req, 200, "text/html; charset=utf-8", PAGE.to_string());
    }
    let (auth, host) = (header_value(&req, "Authorization"), header_value(&req, "Host"));
    match check(req.remote_addr().copied(), auth, host, token) {
        Access::Allowed => {}
        Access::NoToken => return error(req, 401, "this address needs Authorization: Bearer <token>"),
        Access::Refused => return error(req, 403, "refused"),
    }
    let url = req.url().to_string();
    let path = url.split('?').next().unwrap_or("");
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method(), parts.as_slice()) {
        (Method::Get, ["metrics"]) => respond(
            req,
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            crate::metrics::render(obs),
        ),
        (Method::Get, ["api", "status"]) => json(req, 200, &crate::status::status(obs)),
        (Method::Post, ["api", ..]) => {
            let is_json = header_value(&req, "Content-Type").is_some_and(|v| {
                v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
            if !is_json {
                return error(req, 415, "POST needs Content-Type: application/json");
            }
            let mut body = String::new();
            if req.as_reader().take(MAX_BODY).read_to_string(&mut body).is_err() {
                return error(req, 400, "unreadable body");
            }
            post(req, &parts[1..], &body, obs)
        }
        (Method::Get, _) | (Method::Post, _) => error(req, 404, "no such page"),
        _ => error(req, 405, "GET or POST only"),
    }
}

/// The live changes.
fn post(req: Request, parts: &[&str], body: &str, obs: &Observer) {
    match parts {
        ["shares", name] => {
            let Some(name) = percent_decode(name) else { return error(req, 400, "bad share name") };
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let Some(on) = v.get("encrypt_data").and_then(serde_json::Value::as_bool) else {
                return error(req, 400, "expected {\"encrypt_data\": true|false}");
            };
            match obs.live.set_share_encrypt_data(&name, on) {
                Ok(()) => json(req, 200, &serde_json::json!({ "share": name, "encrypt_data": on })),
                Err(e) => error(req, 404, &e.to_string()),
            }
        }
        ["sessions", id, "close"] => {
            let id = id.trim_start_matches("0x").trim_start_matches("0X");
            let Ok(id) = u64::from_str_radix(id, 16) else { return error(req, 400, "session id is hex") };
            match obs.live.close_session(id) {
                Ok(client) => json(
                    req,
                    200,
                    &serde_json::json!({ "session": format!("{id:#x}"), "client": client.to_string(), "closed": true }),
                ),
                Err(e) => error(req, 404, &e.to_string()),
            }
        }
        _ => error(req, 404, "no such action"),
    }
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_escapes_decode_and_bad_ones_fail() {
        assert_eq!(percent_decode("my%20data").as_deref(), Some("my data"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
