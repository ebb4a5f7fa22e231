//! `smbdx`: the command line of the SMB 3.1.1 + SMB Direct engine.

mod bench_crypto;
mod cli;
mod serve;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Bench { what: cli::BenchWhat::Crypto(args) } => bench_crypto::run(&args),
        cli::Command::Serve(args) => serve::run(&args),
    };
    std::process::exit(code);
}
