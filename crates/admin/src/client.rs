//! The other end of the admin API, for `smbdx status` and `smbdx share set`: one HTTP/1.0 request
//! per call over a plain socket (the API is small; a client crate would be the larger part).

use crate::auth::Token;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Answers larger than this are not the admin API's.
const MAX_ANSWER: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("admin view at {addr}: {source} (is `smbdx serve --admin {addr}` running?)")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("admin view at {addr}: {source}")]
    Io { addr: SocketAddr, source: std::io::Error },
    #[error("admin view at {addr}: malformed answer ({0})", .why)]
    Malformed { addr: SocketAddr, why: &'static str },
    #[error("admin view at {addr}: HTTP {status}: {message}")]
    Status { addr: SocketAddr, status: u16, message: String },
}

/// Talks to one admin view.
#[derive(Debug, Clone)]
pub struct AdminClient {
    pub addr: SocketAddr,
    pub token: Option<Token>,
    pub timeout: Duration,
}

impl AdminClient {
    pub fn new(addr: SocketAddr, token: Option<Token>) -> AdminClient {
        AdminClient { addr, token, timeout: Duration::from_secs(10) }
    }

    /// Sends one request; returns the status code and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        json: Option<&Value>,
    ) -> Result<(u16, String), ClientError> {
        let addr = self.addr;
        let io = |source| ClientError::Io { addr, source };
        let mut s = TcpStream::connect_timeout(&addr, self.timeout)
            .map_err(|source| ClientError::Connect { addr, source })?;
        s.set_read_timeout(Some(self.timeout)).map_err(io)?;
        s.set_write_timeout(Some(self.timeout)).map_err(io)?;
        let body = json.map(Value::to_string).unwrap_or_default();
        let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n");
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {}\r\n", t.as_str()));
        }
        if json.is_some() {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).map_err(io)?;
        s.write_all(body.as_bytes()).map_err(io)?;
        let mut answer = Vec::new();
        s.take(MAX_ANSWER).read_to_end(&mut answer).map_err(io)?;
        parse_answer(&answer).ok_or(ClientError::Malformed { addr, why: "not an HTTP answer" })
    }

    /// A JSON answer, or the error the server gave.
    fn call(&self, method: &str, path: &str, json: Option<&Value>) -> Result<Value, ClientError> {
        let addr = self.addr;
        let (status, body) = self.request(method, path, json)?;
        let v: Value =
            serde_json::from_str(&body).map_err(|_| ClientError::Malformed { addr, why: "not JSON" })?;
        if status != 200 {
            let message = v.get("error").and_then(Value::as_str).unwrap_or("").to_string();
            return Err(ClientError::Status { addr, status, message });
        }
        Ok(v)
    }

    /// `GET /api/status`.
    pub fn status(&self) -> Result<Value, ClientError> {
        self.call("GET", "/api/status", None)
    }

    /// Sets a share's EncryptData (new tree connects).
    pub fn set_share_encrypt_data(&self, share: &str, on: bool) -> Result<Value, ClientError> {
        let name: String = share
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'$' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        self.call("POST", &format!("/api/shares/{name}"), Some(&serde_json::json!({ "encrypt_data": on })))
    }

    /// Closes the connection that carries session `id`.
    pub fn close_session(&self, id: u64) -> Result<Value, ClientError> {
        self.call("POST", &format!("/api/sessions/{id:#x}/close"), Some(&serde_json::json!({})))
    }
}

/// (status code, body) of an HTTP/1.x answer without chunking.
fn parse_answer(a: &[u8]) -> Option<(u16, String)> {
    let end = a.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&a[..end]).ok()?;
    let status_line = head.lines().next()?;
    let mut it = status_line.split_whitespace();
    if !it.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = it.next()?.parse().ok()?;
    let body = String::from_utf8_lossy(&a[end + 4..]).into_owned();
    Some((status, body))
}

#[cfg(test)]
mod tests {
    use super::parse_answer;

    #[test]
    fn answers_parse_and_garbage_does_not() {
        assert_eq!(parse_answer(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\n{}"), Some((200, "{}".into())));
        assert_eq!(parse_answer(b"HTTP/1.1 403 Forbidden\r\n\r\n"), Some((403, String::new())));
        assert_eq!(parse_answer(b"SSH-2.0\r\n\r\n"), None);
        assert_eq!(parse_answer(b"HTTP/1.0 abc\r\n\r\n"), None);
        assert_eq!(parse_answer(b"HTTP/1.0 200"), None);
    }
}
