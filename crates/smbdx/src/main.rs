//! `smbdx`: the command line of the SMB 3.1.1 + SMB Direct engine.

mod bench_crypto;
mod bench_rdma;
mod cli;
mod devices;
mod serve;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Bench { what: cli::BenchWhat::Crypto(args) } => bench_crypto::run(&args),
        cli::Command::Serve(args) => serve::run(&args),
        cli::Command::Devices => devices::run(),
        cli::Command::BenchRdma(args) => bench_rdma::run(&args),
    };
    std::process::exit(code);
}
