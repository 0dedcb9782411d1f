//! The puente binary: one node of a binational security implementation group. Commands to
//! create a node, serve it, manage its users, tokens and peers, verify its audit trail, and run
//! a demo.
//!
//! This crate only wires things together: parsing the command line, reading the node's files,
//! opening the store, and handing them to the web crate. It is the only crate that uses
//! `anyhow`, reads the clock for the store, and draws ids (UUIDv7).

/// Prints a line on standard output, failing the command (not panicking, as `println!` does)
/// when standard output is closed, e.g. piped into `head`.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        use anyhow::Context as _;
        writeln!(std::io::stdout(), $($arg)*).context("writing to standard output")?
    }};
}

mod audit;
mod bench;
mod bench_exchange;
mod bench_log;
mod bench_pages;
mod cli;
mod config;
mod data;
mod demo;
mod demo_data;
mod demo_exchange;
mod identity;
mod init;
mod log;
mod node;
mod peer;
mod serve;
mod token;
mod user;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{
    AuditCommand, BenchCommand, Cli, Command, LogCommand, PeerCommand, TokenCommand, UserCommand,
};

/// Exit code for a command that could not do its work (bad arguments, unreadable files, a
/// database error). 1 is kept for "the answer is no" (a broken audit chain).
const EXIT_FAILURE: u8 = 2;

/// mimalloc rather than the C library's allocator: a node makes many small allocations on two
/// runtime threads and the store's threads at once (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr so stdout carries only what commands print for people and scripts.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init(args) => init::run(args).await?,
        Command::Serve(args) => serve::run(args).await?,
        Command::User(UserCommand::Add(args)) => user::add(args).await?,
        Command::Token(TokenCommand::Create(args)) => token::create(args).await?,
        Command::Token(TokenCommand::List(args)) => token::list(args).await?,
        Command::Token(TokenCommand::Revoke(args)) => token::revoke(args).await?,
        Command::Audit(AuditCommand::Verify(args)) => return audit::verify(args).await,
        Command::Peer(PeerCommand::Export(args)) => peer::export(args).await?,
        Command::Peer(PeerCommand::Add(args)) => peer::add(args).await?,
        Command::Peer(PeerCommand::List(args)) => peer::list(args).await?,
        Command::Log(LogCommand::Export(args)) => log::export(args).await?,
        Command::Log(LogCommand::Verify(args)) => return log::verify(args),
        Command::Log(LogCommand::Disputes(args)) => log::disputes(args).await?,
        Command::Log(LogCommand::Dispute(args)) => log::dispute(args).await?,
        Command::Demo(args) => demo::run(args).await?,
        Command::Bench(BenchCommand::Api(args)) => bench::api(args).await?,
        Command::Bench(BenchCommand::Exchange(args)) => bench_exchange::exchange(args).await?,
        Command::Bench(BenchCommand::Log(args)) => bench_log::log(args).await?,
        Command::Bench(BenchCommand::Pages(args)) => bench_pages::pages(args).await?,
    }
    Ok(ExitCode::SUCCESS)
}
