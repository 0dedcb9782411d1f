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
    /// Recognise other parties' nodes: export this node's peer card, add and list peers.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// The exchange log: export it for an auditor, verify an export or a dispute file offline,
    /// list and export disputes.
    #[command(subcommand)]
    Log(LogCommand),
    /// Start two demonstration nodes, US and MX, peered on loopback, with demo users, fictional
    /// data and fictional referrals between them, until Ctrl-C.
    Demo(DemoArgs),
    /// Measure a node's performance with fictional data.
    #[command(subcommand)]
    Bench(BenchCommand),
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
    /// Address the federation listener (mutual TLS, for peer nodes) binds.
    #[arg(long, value_name = "ADDR", default_value = crate::config::DEFAULT_FEDERATION_LISTEN)]
    pub federation_listen: SocketAddr,
    /// The https://host:port peers connect to, as the peer card advertises it
    /// [default: https://<federation listen address>].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Address to listen on, overriding the config (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Address the federation listener binds, overriding the config's `[federation] listen`
    /// (port 0 picks a free port). The peer card's endpoint does not change with it.
    #[arg(long, value_name = "ADDR")]
    pub federation_listen: Option<SocketAddr>,
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
    /// Create an API token for a user; prints its id and, once, its secret.
    Create(TokenCreateArgs),
    /// List the node's API tokens (id, user, label, created), never their secrets.
    List(TokenListArgs),
    /// Revoke an API token by its id: it stops working at once.
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenListArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Only this user's tokens.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// The token's id, as `token create` and `token list` print it.
    #[arg(value_name = "ID")]
    pub id: String,
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

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Write this node's log of its exchange with a peer, with every checkpoint and
    /// cosignature, to standard output (an auditor's bundle).
    Export(LogExportArgs),
    /// Check a bundle or a dispute file offline, with no database and no network: exit 0 if it
    /// verifies, 1 naming the first thing wrong (2 on any other error).
    Verify(LogVerifyArgs),
    /// List the disputes this node raised.
    Disputes(NodeArgs),
    /// Write one dispute's file to standard output.
    Dispute(DisputeArgs),
}

#[derive(Debug, Args)]
pub struct LogExportArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// The peer whose exchange with this node the log records (a party code such as MX).
    #[arg(long, value_name = "CODE")]
    pub peer: String,
}

#[derive(Debug, Args)]
pub struct LogVerifyArgs {
    /// The bundle (from `puente log export`) or dispute file; `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The peer's key to check cosignatures with, instead of the one the bundle names: its
    /// `ed25519:…` public key (from its peer card) or its cosigner verifier key.
    #[arg(long, value_name = "KEY")]
    pub peer_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct DisputeArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// The dispute's id, as `puente log disputes` lists it.
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Print this node's signed peer card, to send to another party's administrator.
    Export(PeerExportArgs),
    /// Verify another party's peer card and register (or update) that peer.
    Add(PeerAddArgs),
    /// List the registered peers and where the exchange with each stands.
    List(NodeArgs),
}

#[derive(Debug, Args)]
pub struct PeerExportArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// The https://host:port to advertise, overriding the config's `[federation] endpoint`.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct PeerAddArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// The peer card file the other party sent (`-` reads standard input).
    #[arg(value_name = "FILE")]
    pub card: PathBuf,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo: its nodes go in DIR/US and DIR/MX (which must not exist yet) and
    /// its tokens in DIR/demo.json [default: a temporary directory, removed when the demo stops].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Bulk-load a fresh node, serve it, and measure API latency at a fixed offered load.
    Api(BenchApiArgs),
    /// Start two peered nodes and measure referral throughput and end-to-end latency.
    Exchange(BenchExchangeArgs),
    /// Measure the exchange log: appends, and proofs at large sizes.
    Log(BenchLogArgs),
    /// Bulk-load a fresh node as `bench api` does, serve it, and measure the web application's
    /// pages: server time per page and each page's weight with its assets.
    Pages(BenchPagesArgs),
}

#[derive(Debug, Clone, Args)]
pub struct BenchPagesArgs {
    /// Fictional commitments to load.
    #[arg(long, default_value_t = 100_000)]
    pub commitments: u32,
    /// Fictional actions to load, spread over the commitments.
    #[arg(long, default_value_t = 1_000_000)]
    pub actions: u64,
    /// Measured requests per page (one at a time, after 10 unmeasured ones).
    #[arg(long, default_value_t = 200)]
    pub requests: u32,
    /// Commitments per import transaction, with their actions.
    #[arg(long, default_value_t = 1_000)]
    pub batch: u32,
    /// Database URL: `postgres://…` (an empty database) [default: SQLite in the node directory].
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Directory for the bench node, kept afterwards [default: a temporary one, removed].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchLogArgs {
    /// Referrals sent through the node's write path (each with its log leaf).
    #[arg(long, default_value_t = 100_000)]
    pub appends: u64,
    /// Log sizes to build and prove at.
    #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
    pub sizes: Vec<u64>,
    /// Proofs of each kind per size.
    #[arg(long, default_value_t = 1_000)]
    pub proofs: usize,
    /// Directory for the databases, kept afterwards [default: a temporary one, removed].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchExchangeArgs {
    /// Referrals per second offered in the latency phase (open loop).
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
    /// Measured seconds of the latency phase.
    #[arg(long, default_value_t = 20)]
    pub seconds: u32,
    /// Unmeasured seconds at the same rate before it.
    #[arg(long, default_value_t = 2)]
    pub warmup: u32,
    /// Seconds of the throughput phase.
    #[arg(long, default_value_t = 20)]
    pub throughput_seconds: u32,
    /// Concurrent clients in the throughput phase (each on its own connection). Enough that
    /// the sender's group commit is never waiting for clients: every commit's fsync covers the
    /// referrals that arrived during the previous one.
    #[arg(long, default_value_t = 256)]
    pub clients: usize,
    /// Referrals queued for the catch-up phase while the receiving node is down (0 skips it).
    #[arg(long, default_value_t = 20_000)]
    pub backlog: u32,
    /// Directory for the two nodes, kept afterwards [default: a temporary one, removed].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchApiArgs {
    /// Fictional commitments to load.
    #[arg(long, default_value_t = 100_000)]
    pub commitments: u32,
    /// Fictional actions to load, spread over the commitments.
    #[arg(long, default_value_t = 1_000_000)]
    pub actions: u64,
    /// Requests per second offered in each scenario (open loop).
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 20)]
    pub seconds: u32,
    /// Unmeasured seconds at the same rate before each scenario.
    #[arg(long, default_value_t = 2)]
    pub warmup: u32,
    /// Commitments per import transaction, with their actions.
    #[arg(long, default_value_t = 1_000)]
    pub batch: u32,
    /// Run only these scenarios (comma-separated) [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Scenario>,
    /// Database URL: `postgres://…` (an empty database) [default: SQLite in the node directory].
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Directory for the bench node, kept afterwards [default: a temporary one, removed].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// What `puente bench api` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// A page of 50 commitments filtered by area and party.
    List,
    /// A page of 50 commitments at risk today.
    ListStatus,
    /// One commitment by id.
    Get,
    /// Creating a commitment.
    Create,
    /// The actions of one commitment.
    ListActions,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::List,
        Scenario::ListStatus,
        Scenario::Get,
        Scenario::Create,
        Scenario::ListActions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::List => "list",
            Scenario::ListStatus => "list-status",
            Scenario::Get => "get",
            Scenario::Create => "create",
            Scenario::ListActions => "list-actions",
        }
    }
}
