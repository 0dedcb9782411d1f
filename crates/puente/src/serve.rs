//! `puente serve`: loads a node's config, program and policies, opens its store, and serves the
//! API until SIGTERM or Ctrl-C, finishing requests in flight.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use puente_domain::Program;
use puente_policy::PolicyEngine;
use puente_store::Store;
use puente_web::AppState;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::config::NodeDir;
use crate::data;
use crate::node::open_store;

pub async fn run(args: ServeArgs) -> Result<()> {
    let node = NodeDir::load(&args.node.dir)?;
    // The files first: an administrator's typo should not wait on a database connection.
    let files = NodeFiles::load(&node)?;
    let store = open_store(node.database_url(args.node.database.as_deref()), &node.dir).await?;
    let state = app_state(&node, files, store).await?;
    let listener = bind(args.listen.unwrap_or(node.config.listen)).await?;
    serve_on(listener, state).await
}

/// The files of a node directory that its administrator edits.
pub struct NodeFiles {
    pub program: Program,
    pub policy: PolicyEngine,
}

impl NodeFiles {
    /// Reads and checks the program and the policies; each failure names its file.
    pub fn load(node: &NodeDir) -> Result<NodeFiles> {
        let program_path = node.program_path();
        let text = std::fs::read_to_string(&program_path)
            .with_context(|| format!("reading {}", program_path.display()))?;
        let program = data::parse_program(&text)
            .with_context(|| format!("loading the program from {}", program_path.display()))?;
        let policies_path = node.policies_path();
        let policy = PolicyEngine::load(&policies_path)
            .with_context(|| format!("loading the policies from {}", policies_path.display()))?;
        Ok(NodeFiles { program, policy })
    }
}

/// Everything the web layer needs, once the store is known to hold this node.
pub async fn app_state(
    node: &NodeDir,
    files: NodeFiles,
    store: Arc<dyn Store>,
) -> Result<AppState> {
    match store
        .node_info()
        .await
        .context("reading the node's identity")?
    {
        None => bail!("the database holds no node: run `puente init` first"),
        Some(info) if info.party != node.party => bail!(
            "the database belongs to a node of party {}, but {} says {}",
            info.party,
            node.dir.join(crate::config::CONFIG_FILE).display(),
            node.party
        ),
        Some(_) => {}
    }
    Ok(AppState::new(
        store,
        Arc::new(files.policy),
        Arc::new(files.program),
        node.party,
        node.config.web.to_web_config(),
    ))
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))
}

/// Announces the bound address on stdout — exactly one line, which scripts and tests read to find
/// the node when it was asked for port 0 — and serves until a shutdown signal.
pub async fn serve_on(listener: TcpListener, state: AppState) -> Result<()> {
    let addr = listener.local_addr().context("reading the bound address")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}").context("writing to stdout")?;
        out.flush().context("writing to stdout")?;
    }
    tracing::info!(%addr, "serving");
    puente_web::serve(listener, state, shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM. A signal that cannot be watched is never delivered rather
/// than taken as a request to stop.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
