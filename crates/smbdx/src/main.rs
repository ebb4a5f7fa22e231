//! `smbdx`: the command line of the SMB 3.1.1 + SMB Direct engine.

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

mod bench_crypto;
mod bench_rdma;
mod bench_smb;
mod cli;
mod cp;
mod cpu;
mod credentials;
mod demo;
mod devices;
mod failure;
mod fs_cmds;
mod plot;
mod progress;
mod rdma_provider;
mod remote;
mod serve;
mod status;
mod tcp_anchor;
mod url;

use clap::Parser;
use cli::{BenchWhat, Command};
use failure::Failure;

fn main() {
    let cli = cli::Cli::parse();
    let result: Result<(), Failure> = match cli.command {
        Command::Bench(b) => match b.what {
            Some(BenchWhat::Crypto(args)) => exit_code(bench_crypto::run(&args)),
            None if b.smb.url.is_some() => bench_smb::run(&b.smb),
            None => Err(Failure::usage("bench needs an smb:// URL, or `crypto`")),
        },
        Command::Serve(args) => exit_code(serve::run(&args)),
        Command::Demo(args) => demo::run(&args),
        Command::Ls(a) => fs_cmds::ls(&a),
        Command::Stat(a) => fs_cmds::stat(&a),
        Command::Mkdir(a) => fs_cmds::mkdir(&a),
        Command::Rm(a) => fs_cmds::rm(&a),
        Command::Mv(a) => fs_cmds::mv(&a),
        Command::Cp(a) => cp::run(&a),
        Command::Devices => exit_code(devices::run()),
        Command::BenchRdma(args) => exit_code(bench_rdma::run(&args)),
        Command::Status(args) => status::status(&args),
        Command::Share(args) => status::share(&args),
        Command::Plot(args) => plot::run(&args),
    };
    if let Err(f) = result {
        eprintln!("smbdx: {f}");
        std::process::exit(f.code);
    }
}

/// Subcommands that report their own errors return only the code.
fn exit_code(code: i32) -> Result<(), Failure> {
    match code {
        0 => Ok(()),
        _ => std::process::exit(code),
    }
}
