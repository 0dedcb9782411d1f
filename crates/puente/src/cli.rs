//! The command line: clap types only. What each command does lives in its own module.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// One puente node: each government runs its own, with its own database and keys.
#[derive(Debug, Parser)]
#[command(name = "puente", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node: its directory, config, program, policies, database and administrator.
    Init(InitArgs),
    /// Serve the node's API until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Manage the node's users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens for scripts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check the node's audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Start a demonstration node with demo users and fictional data.
    Demo(DemoArgs),
}

/// Where a node lives, and which database it uses if not the one in its config.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The node's directory (holds puente.toml, program.toml, policies.cedar).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Database URL overriding the config: `sqlite:PATH` or `postgres://…`.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The party this node belongs to: an ISO 3166-1 alpha-2 code such as US or MX.
    #[arg(long, value_name = "CODE")]
    pub party: String,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Address to listen on, overriding the config (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; prints a generated password once, unless --password-stdin is given.
    Add(UserAddArgs),
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// The user's login name.
    pub name: String,
    /// administrator, program-officer, liaison-officer, analyst, agency-user or auditor.
    #[arg(long)]
    pub role: String,
    /// The agency the user belongs to (required for agency-user).
    #[arg(long)]
    pub agency: Option<String>,
    /// Read the password from the first line of standard input instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user; prints its secret once.
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// The user the token acts as.
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// A label saying what the token is for.
    #[arg(long, default_value = "cli")]
    pub label: String,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exit 0 if intact, 1 if broken (2 on any other error).
    Verify(NodeArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo node; a fresh temporary directory if omitted.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7400, or a free port if that one is busy].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Database URL: `sqlite:PATH` (default: a file in the demo directory) or `postgres://…`.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}
