//! `smbdx serve`: flags over the config file, logging, and a clean stop on Ctrl-C or SIGTERM.

use crate::cli::ServeArgs;
use server::config::{ServeConfig, ShareConfig};
use server::serve::Server;

pub fn run(args: &ServeArgs) -> i32 {
    init_logging(&args.log_format);
    let cfg = match merge(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smbdx serve: {e}");
            return 2;
        }
    };
    let rdma = if cfg.rdma.is_empty() {
        None
    } else {
        match crate::rdma_provider::provider(args.rdma_device.as_deref()) {
            Ok(p) => Some(p),
            Err(why) => {
                eprintln!("smbdx serve --rdma: {why}");
                return 1;
            }
        }
    };
    let server = match Server::start_with_rdma(&cfg, rdma) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smbdx serve: {e}");
            return 1;
        }
    };
    // The operator's view runs on a thread of its own for as long as the server does.
    let admin = match start_admin(&cfg, &server) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("smbdx serve --admin: {e}");
            let _ = server.shutdown();
            return 1;
        }
    };
    let mut signals = match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smbdx serve: cannot install signal handlers: {e}");
            return 1;
        }
    };
    if let Some(sig) = signals.forever().next() {
        tracing::info!(signal = sig, "stopping: no new connections, finishing in-flight requests");
    }
    if let Some(a) = admin {
        a.stop();
    }
    let (rdma_write_bytes, rdma_read_bytes) = server.rdma_bytes();
    let rdma_access_errors = server.rdma_access_errors();
    match server.shutdown() {
        Ok(()) => {
            tracing::info!(rdma_write_bytes, rdma_read_bytes, rdma_access_errors, "stopped");
            0
        }
        Err(e) => {
            eprintln!("smbdx serve: {e}");
            1
        }
    }
}

/// Starts the admin view when `--admin` (or `admin =`) asks for it.
fn start_admin(cfg: &ServeConfig, server: &Server) -> Result<Option<admin::AdminServer>, String> {
    let Some(addr) = cfg.admin_addr().map_err(|e| e.to_string())? else { return Ok(None) };
    let token = match &cfg.admin_token_file {
        Some(p) => Some(admin::Token::from_file(p).map_err(|e| e.to_string())?),
        None => None,
    };
    let a = admin::AdminServer::start(addr, token, server.observer()).map_err(|e| e.to_string())?;
    // Tests and scripts that ask for port 0 learn the port here.
    eprintln!("smbdx admin view on http://{}/", a.local_addr());
    Ok(Some(a))
}

fn merge(args: &ServeArgs) -> Result<ServeConfig, server::config::ConfigError> {
    let mut cfg = match &args.config {
        Some(p) => ServeConfig::from_file(p)?,
        None => ServeConfig::default(),
    };
    if !args.listen.is_empty() {
        cfg.listen = args.listen.clone();
    }
    for s in &args.share {
        let s = ShareConfig::parse(s)?;
        cfg.shares.retain(|x| !x.name.eq_ignore_ascii_case(&s.name));
        cfg.shares.push(s);
    }
    cfg.users.extend(args.user.iter().cloned());
    cfg.encrypt_data |= args.encrypt_data;
    cfg.allow_unencrypted_access |= args.allow_unencrypted_access;
    cfg.require_signing |= args.require_signing;
    cfg.allow_anonymous |= args.allow_anonymous;
    if !args.ciphers.is_empty() {
        cfg.ciphers = args.ciphers.clone();
    }
    set(&mut cfg.read_path, &args.read_path);
    set(&mut cfg.crypto_backend, &args.crypto_backend);
    set(&mut cfg.reactors, &args.reactors);
    set(&mut cfg.poll, &args.poll);
    set(&mut cfg.poll_spin_us, &args.poll_spin_us);
    set(&mut cfg.write_threads, &args.write_threads);
    set(&mut cfg.logon_throttle, &args.logon_throttle);
    set(&mut cfg.logon_timeout_secs, &args.logon_timeout);
    set(&mut cfg.max_connections, &args.max_connections);
    set(&mut cfg.max_connections_per_source, &args.max_connections_per_source);
    set(&mut cfg.max_sessions_per_connection, &args.max_sessions_per_connection);
    set(&mut cfg.max_opens_per_session, &args.max_opens_per_session);
    set(&mut cfg.idle_timeout_secs, &args.idle_timeout);
    set(&mut cfg.max_credits, &args.max_credits);
    set(&mut cfg.memory_budget_mib, &args.memory_budget);
    set(&mut cfg.stall_timeout_secs, &args.stall_timeout);
    set(&mut cfg.admin, &args.admin);
    set(&mut cfg.admin_token_file, &args.admin_token_file);
    if !args.rdma.is_empty() {
        cfg.rdma = args.rdma.clone();
    }
    if let Some(t) = &args.rdma_transform {
        cfg.rdma_transform = server::config::RdmaTransformSetting::parse(t).ok_or_else(|| {
            server::config::ConfigError::Setting(format!("--rdma-transform {t:?}: on, off or required"))
        })?;
    }
    Ok(cfg)
}

/// A flag given on the command line overrides the settings file.
fn set<T: Clone>(setting: &mut Option<T>, flag: &Option<T>) {
    if flag.is_some() {
        setting.clone_from(flag);
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SMBDX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
