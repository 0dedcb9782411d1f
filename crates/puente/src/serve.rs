//! `puente serve`: loads a node's config, program, policies and identity, opens its store, and
//! runs the node until SIGTERM or Ctrl-C: the API for its users, the federation endpoint for its
//! peers (mutual TLS), and the delivery workers that push its outbox to them. Requests in flight
//! are finished on the way out.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use puente_domain::Program;
use puente_exchange::node::{Exchange, ExchangeSettings};
use puente_exchange::tls;
use puente_policy::PolicyEngine;
use puente_store::Store;
use puente_web::AppState;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::config::NodeDir;
use crate::data;
use crate::identity::NodeIdentity;
use crate::node::open_store;

pub async fn run(args: ServeArgs) -> Result<()> {
    let node = NodeDir::load(&args.node.dir)?;
    // The files first: an administrator's typo should not wait on a database connection.
    let files = NodeFiles::load(&node)?;
    let identity = NodeIdentity::load(&node)?;
    let store = open_store(node.database_url(args.node.database.as_deref()), &node.dir).await?;
    let state = app_state(&node, files, Arc::clone(&store)).await?;
    let exchange = exchange(&node, identity, store);
    let listener = bind(args.listen.unwrap_or(node.config.listen)).await?;
    let federation = bind(args.federation_listen.unwrap_or(node.federation.listen)).await?;
    serve_node(listener, federation, state, exchange).await
}

/// The node's exchange with its peers, from its identity and `[federation]` settings.
pub fn exchange(node: &NodeDir, identity: NodeIdentity, store: Arc<dyn Store>) -> Arc<Exchange> {
    let f = &node.federation;
    let settings = ExchangeSettings {
        max_body_bytes: f.max_body_bytes,
        max_batch: f.max_batch,
        max_age: f.max_age,
        max_skew: f.max_skew,
        clocks: f.clocks,
        log: f.log.clone(),
        ..ExchangeSettings::default()
    };
    Exchange::new(node.party, identity.key, identity.tls, store, settings)
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

/// Runs a whole node: the API on `listener`, the federation endpoint (mutual TLS) on
/// `federation`, and the delivery workers, until a shutdown signal stops all three. Announces
/// `listening on http://…` and then `federation on https://…` on stdout.
pub async fn serve_node(
    listener: TcpListener,
    federation: TcpListener,
    state: AppState,
    exchange: Arc<Exchange>,
) -> Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let when_stopped = move || {
        let mut rx = stopped.clone();
        async move {
            // Either the value flips or the sender is gone: both mean stop.
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let tls = tls::server_config(exchange.tls())
        .context("building the federation listener's TLS configuration")?;
    announce(&format!("listening on http://{}", local(&listener)?))?;
    announce(&format!("federation on https://{}", local(&federation)?))?;
    state.set_exchange(Arc::clone(&exchange));
    let federation_task = tokio::spawn(tls::serve_mtls(
        federation,
        tls,
        exchange.router(),
        when_stopped(),
    ));
    let delivery_task = tokio::spawn(Arc::clone(&exchange).deliver(when_stopped()));
    let api = puente_web::serve(listener, state, when_stopped());
    tokio::pin!(api);
    // Whichever comes first — a signal, or the API server ending by itself (an error) — stops
    // the other parts too, so a node never runs half-way.
    let served = tokio::select! {
        served = &mut api => {
            let _ = stop.send(true);
            served
        }
        () = shutdown_signal() => {
            let _ = stop.send(true);
            api.await
        }
    };
    served.context("serving")?;
    federation_task
        .await
        .context("the federation listener stopped abnormally")?;
    delivery_task
        .await
        .context("the delivery workers stopped abnormally")?;
    tracing::info!("stopped");
    Ok(())
}

fn local(listener: &TcpListener) -> Result<SocketAddr> {
    listener.local_addr().context("reading the bound address")
}

/// One line on stdout, flushed at once: scripts and tests wait for it.
fn announce(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    tracing::info!("{line}");
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
