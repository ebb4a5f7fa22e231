//! `smbdx status` and `smbdx share set`: a running server's admin API (`smbdx serve --admin`), read
//! and changed from the command line, like smbstatus and `Set-SmbShare -EncryptData`.

use crate::cli::{AdminArgs, ShareAction, ShareArgs, StatusArgs};
use crate::failure::{Failure, ACCESS, CONNECT, NOT_FOUND, USAGE};
use admin::client::{AdminClient, ClientError};
use serde_json::Value;

fn client(a: &AdminArgs) -> Result<AdminClient, Failure> {
    let addr =
        a.admin.parse().map_err(|_| Failure::usage(format!("--admin {:?} is not ADDR:PORT", a.admin)))?;
    let token = match &a.token_file {
        Some(p) => Some(admin::Token::from_file(p).map_err(|e| Failure::usage(e.to_string()))?),
        None => None,
    };
    Ok(AdminClient::new(addr, token))
}

fn failure(e: ClientError) -> Failure {
    let code = match &e {
        ClientError::Connect { .. } => CONNECT,
        ClientError::Status { status: 401 | 403, .. } => ACCESS,
        ClientError::Status { status: 404, .. } => NOT_FOUND,
        ClientError::Status { status: 400, .. } => USAGE,
        _ => 1,
    };
    Failure::new(code, e.to_string())
}

pub fn status(args: &StatusArgs) -> Result<(), Failure> {
    let v = client(&args.admin)?.status().map_err(failure)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", render(&v));
    }
    Ok(())
}

pub fn share(args: &ShareArgs) -> Result<(), Failure> {
    match &args.action {
        ShareAction::Set(a) => {
            let on = a.encrypt_data == "on";
            client(&a.admin)?.set_share_encrypt_data(&a.name, on).map_err(failure)?;
            println!("share {}: EncryptData {} (new tree connects)", a.name, a.encrypt_data);
            Ok(())
        }
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// A share's user list, or "everyone" when it names nobody (or the server predates the field).
fn users_of(v: &Value) -> String {
    let names: Vec<&str> = v.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if names.is_empty() {
        "everyone".into()
    } else {
        names.join("+")
    }
}

fn on_off(v: &Value) -> &'static str {
    if v.as_bool() == Some(true) {
        "on"
    } else {
        "off"
    }
}

/// `2026-12-07 17:10:59Z` for milliseconds since the Unix epoch (days to a civil date as in
/// H. Hinnant's `civil_from_days`).
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

fn list(v: &Value) -> String {
    v.as_array().map(|a| a.iter().map(s).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

/// The smbstatus-like text: settings, shares, sessions with their channels, recent events.
fn render(v: &Value) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let st = &v["settings"];
    let _ = writeln!(o, "smbdx {} ({})", s(&v["server"]["version"]), s(&v["server"]["name"]));
    let _ = writeln!(o, "  dialects {}; ciphers {}", list(&st["dialects"]), list(&st["ciphers"]));
    if let Some(m) = st["crypto"].as_object() {
        let libs: Vec<String> =
            m.iter().filter(|(k, _)| *k != "backend").map(|(k, v)| format!("{k} {}", s(v))).collect();
        let _ = writeln!(o, "  crypto {}: {}", s(&st["crypto"]["backend"]), libs.join(", "));
    }
    let _ = writeln!(
        o,
        "  EncryptData {}, RejectUnencryptedAccess {}, RequireSecuritySignature {}",
        on_off(&st["encrypt_data"]),
        on_off(&st["reject_unencrypted_access"]),
        on_off(&st["require_signing"])
    );
    let _ = writeln!(o, "\nShare            EncryptData  ReadOnly  Users            Path");
    for sh in v["shares"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "{:<16} {:<12} {:<9} {:<16} {}",
            s(&sh["name"]),
            on_off(&sh["encrypt_data"]),
            if sh["read_only"].as_bool() == Some(true) { "yes" } else { "no" },
            users_of(&sh["users"]),
            s(&sh["path"])
        );
    }
    let _ = writeln!(o, "\nSession             User             Client                 Dialect  Cipher       Signing   Channels");
    let sessions = v["sessions"].as_array().cloned().unwrap_or_default();
    if sessions.is_empty() {
        let _ = writeln!(o, "(none)");
    }
    for x in &sessions {
        let channels: Vec<String> = x["channels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{} in {} out {}", s(&c["transport"]), s(&c["bytes_in"]), s(&c["bytes_out"])))
            .collect();
        let _ = writeln!(
            o,
            "{:<19} {:<16} {:<22} {:<8} {:<12} {:<9} {}",
            s(&x["id"]),
            s(&x["user"]),
            s(&x["client"]),
            s(&x["dialect"]),
            s(&x["cipher"]),
            s(&x["signing"]),
            channels.join("; ")
        );
    }
    let events = v["events"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(o, "\nRecent security events ({} shown, newest first)", events.len().min(20));
    for e in events.iter().take(20) {
        let _ = writeln!(
            o,
            "  {} {:<5} {:<28} {:<22} {:<16} {}",
            e["time_ms"].as_u64().map_or_else(|| "-".into(), utc),
            s(&e["id"]),
            s(&e["kind"]),
            s(&e["client"]),
            // Who (a failed logon) or where (a refused share).
            [&e["user"], &e["share"]].into_iter().find(|v| v.is_string()).map_or_else(|| "-".into(), s),
            s(&e["detail"])
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn renders_sessions_and_shares() {
        let v = serde_json::json!({
            "server": {"version": "0.1.0", "name": "SMBDX"},
            "settings": {"dialects": ["3.1.1"], "ciphers": ["aes-128-gcm"], "encrypt_data": false,
                         "reject_unencrypted_access": true, "require_signing": false,
                         "crypto": {"backend": "auto", "aes-128-gcm": "ring", "aes-gmac": "aws-lc-rs"}},
            "shares": [{"name": "data", "encrypt_data": true, "read_only": false, "path": "/srv/data"},
                       {"name": "private", "encrypt_data": false, "read_only": true, "users": ["alice", "bob"],
                        "path": "/srv/p"}],
            "sessions": [{"id": "0x1", "user": "alice", "client": "127.0.0.1:5", "dialect": "3.1.1",
                          "cipher": "aes-128-gcm", "signing": "aes-gmac",
                          "channels": [{"transport": "tcp", "bytes_in": 10, "bytes_out": 20}]}],
            "events": [{"time_ms": 1, "id": 1003, "kind": "unencrypted_access_rejected", "client": "c",
                        "share": "secret-share", "user": null, "detail": "d"}],
        });
        let t = render(&v);
        assert!(t.contains("alice") && t.contains("aes-128-gcm") && t.contains("tcp in 10 out 20"), "{t}");
        assert!(t.contains("data             on           no        everyone"), "{t}");
        assert!(t.contains("private          off          yes       alice+bob"), "{t}");
        assert!(t.contains("1003"), "{t}");
        assert!(t.contains("crypto auto: aes-128-gcm ring, aes-gmac aws-lc-rs"), "{t}");
        assert!(t.contains("1970-01-01 00:00:00Z") && t.contains("secret-share"), "{t}");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(super::utc(951_782_400_000), "2000-02-29 00:00:00Z");
        assert_eq!(super::utc(1_796_663_459_000), "2026-12-07 17:10:59Z");
    }
}
