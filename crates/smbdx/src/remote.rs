//! Opening the session a command needs: resolve the URL's host, gather credentials, connect with
//! the security options the user chose, connect the share.

use std::net::{SocketAddr, ToSocketAddrs};

use client::{Cipher, Client, ClientOptions, PollMode, Tree};

use crate::cli::ConnArgs;
use crate::credentials;
use crate::failure::{Failure, CONNECT, USAGE};
use crate::url::SmbUrl;

/// Parses a `--ciphers` list: names as in `smbdx serve --ciphers`, or `none` for a client that
/// cannot encrypt.
pub fn parse_ciphers(list: &[String]) -> Result<Option<Vec<Cipher>>, Failure> {
    if list.is_empty() {
        return Ok(None);
    }
    if list.len() == 1 && list[0].eq_ignore_ascii_case("none") {
        return Ok(Some(Vec::new()));
    }
    list.iter()
        .map(|n| {
            Cipher::parse(n).ok_or_else(|| {
                Failure::usage(format!(
                    "unknown cipher {n:?} (aes-128-gcm, aes-256-gcm, aes-128-ccm, aes-256-ccm, none)"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub fn options(args: &ConnArgs) -> Result<ClientOptions, Failure> {
    let mut o = ClientOptions { require_privacy: args.require_privacy, ..ClientOptions::default() };
    if let Some(c) = parse_ciphers(&args.ciphers)? {
        o.ciphers = c;
    }
    o.crypto_backend = match (&args.crypto_backend, smb_crypto::select::env_error()) {
        (Some(b), _) => smb_crypto::Backend::parse(b).ok_or_else(|| {
            Failure::usage(format!("--crypto-backend {b:?}: auto, aws-lc-rs, ring or rustcrypto"))
        })?,
        (None, Some(v)) => {
            return Err(Failure::usage(format!(
                "{}={v:?} names no crypto backend (auto, aws-lc-rs, ring, rustcrypto)",
                smb_crypto::select::ENV
            )))
        }
        (None, None) => smb_crypto::Backend::Auto,
    };
    if args.require_privacy && o.ciphers.is_empty() {
        return Err(Failure::usage("--require-privacy needs a cipher; --ciphers none cannot encrypt"));
    }
    // Over SMB Direct the client signs only when asked (--require-signing): the data then moves by
    // RDMA with the SIGNING transform (a MAC over every byte), or inline without it. Over TCP it
    // requires signing by default.
    o.require_signing = args.require_signing || (o.require_signing && args.transport != "rdma");
    if !args.signing.is_empty() {
        o.signing = args
            .signing
            .iter()
            .map(|s| {
                smb_crypto::SigningAlgorithm::parse(s).ok_or_else(|| {
                    Failure::usage(format!(
                        "unknown signing algorithm {s:?} (aes-gmac, aes-cmac, hmac-sha256)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
    }
    (o.rdma_transform, o.require_rdma_transform) = match args.rdma_transform.as_str() {
        "on" => (true, false),
        "off" => (false, false),
        "required" => (true, true),
        other => return Err(Failure::usage(format!("--rdma-transform {other:?}: on, off or required"))),
    };
    o.timeout = std::time::Duration::from_secs(args.timeout.max(1));
    o.poll = poll_mode(args.poll.as_deref(), args.poll_spin_us)?;
    o.transport = match args.transport.as_str() {
        "tcp" => client::Transport::Tcp,
        "rdma" => {
            let p = crate::rdma_provider::provider(args.rdma_device.as_deref())
                .map_err(|why| Failure::new(CONNECT, format!("--transport rdma: {why}")))?;
            client::Transport::Rdma(engine::rdma::RdmaSettings::new(p))
        }
        other => return Err(Failure::usage(format!("unknown transport {other:?} (tcp, rdma)"))),
    };
    Ok(o)
}

/// The address to connect to: the URL's for TCP; for SMB Direct, `--rdma-port`, else the URL's
/// port, else 445.
pub fn target_addr(url: &SmbUrl, args: &ConnArgs) -> Result<SocketAddr, Failure> {
    let mut addr = resolve(url)?;
    if args.transport == "rdma" {
        addr.set_port(args.rdma_port.unwrap_or(url.port));
    }
    Ok(addr)
}

/// `--poll` and `--poll-spin-us` as the engine takes them.
pub fn poll_mode(mode: Option<&str>, spin_us: Option<u64>) -> Result<PollMode, Failure> {
    let spin = spin_us.map_or(DEFAULT_SPIN, std::time::Duration::from_micros);
    match mode {
        None | Some("adaptive") => Ok(PollMode::Adaptive { spin }),
        Some("busy") => Ok(PollMode::Busy),
        Some("interrupt") => Ok(PollMode::Interrupt),
        Some(other) => {
            Err(Failure::usage(format!("unknown poll mode {other:?} (busy, adaptive, interrupt)")))
        }
    }
}

/// Adaptive polling's spin window unless `--poll-spin-us` says otherwise.
const DEFAULT_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

pub fn resolve(url: &SmbUrl) -> Result<SocketAddr, Failure> {
    let authority = url.authority();
    authority
        .to_socket_addrs()
        .map_err(|e| Failure::new(CONNECT, format!("cannot resolve {}: {e}", url.host)))?
        .next()
        .ok_or_else(|| Failure::new(CONNECT, format!("{} has no address", url.host)))
}

/// Connects and logs on to `url`'s server.
pub fn connect(url: &SmbUrl, args: &ConnArgs) -> Result<Client, Failure> {
    let opts = options(args)?;
    let creds = credentials::resolve(args.user.as_deref(), args.credentials_file.as_deref(), Some(url))
        .map_err(|e| Failure::new(USAGE, e.to_string()))?;
    let addr = target_addr(url, args)?;
    Client::connect(addr, &creds.user, &creds.password, opts)
        .map_err(|e| Failure::client(&format!("connecting to {}", url.authority()), e))
}

/// Connects and connects `url`'s share.
pub fn tree(url: &SmbUrl, args: &ConnArgs) -> Result<(Client, Tree), Failure> {
    let c = connect(url, args)?;
    let t = c.tree(&url.share).map_err(|e| Failure::client(&format!("share {}", url.share), e))?;
    Ok((c, t))
}

pub fn parse_url(s: &str) -> Result<SmbUrl, Failure> {
    SmbUrl::parse(s).map_err(|e| Failure::usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_lists_parse() {
        assert_eq!(parse_ciphers(&[]).unwrap(), None);
        assert_eq!(parse_ciphers(&["none".into()]).unwrap(), Some(vec![]));
        assert_eq!(
            parse_ciphers(&["aes-256-gcm".into(), "aes-128-ccm".into()]).unwrap(),
            Some(vec![Cipher::Aes256Gcm, Cipher::Aes128Ccm])
        );
        assert_eq!(parse_ciphers(&["rot13".into()]).unwrap_err().code, USAGE);
    }
}
