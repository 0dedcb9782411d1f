//! `puente demo`: two nodes in one process, United States and Mexico, on loopback, each with its
//! own directory (`DIR/US`, `DIR/MX`), SQLite database, keys and ports, registered as each
//! other's peer; each with a user and an API token per role and its party's fictional program
//! data; and, played between them at start-up through the real exchange, fictional referrals
//! and requests for information in both directions in every state (see `demo_exchange`). Served
//! until Ctrl-C or SIGTERM.
//!
//! `DIR/demo.json` (mode 0600: it holds demo credentials) tells scripts and people how to reach
//! them: `{"nodes": {"US": {"url", "federation", "dir", "tokens": {role: token},
//! "passwords": {user: password}}, "MX": {…}}}`. It is written last, once the exchange has been
//! played, so its existence means the demo is ready.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use puente_domain::{PartyCode, Role};
use puente_exchange::card::PeerCard;
use puente_policy::PolicyEngine;
use puente_store::{NewPeer, User};
use puente_web::AppState;
use serde::Serialize;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::cli::DemoArgs;
use crate::config::write_private;
use crate::demo_data;
use crate::demo_exchange::{self, Side};
use crate::init::{ADMIN, FederationInit, init_node_with};
use crate::node::{cli_ctx, now};
use crate::serve::{self, NodeFiles, app_state, bind, serve_node};
use crate::token::create_token;
use crate::user::create_user;

pub const DEMO_FILE: &str = "demo.json";

/// The parties of the demo, in the order they are set up and shown.
const PARTIES: [PartyCode; 2] = [PartyCode::US, PartyCode::MX];

/// The demo's users besides `admin`: one per role. `None` for the agency user's agency means the
/// party's customs agency (see [`agency_of`]), which the demo's commitments and referrals name,
/// so it has something to see.
const DEMO_USERS: &[(&str, Role)] = &[
    ("officer", Role::ProgramOfficer),
    ("liaison", Role::LiaisonOfficer),
    ("analyst", Role::Analyst),
    ("agency", Role::AgencyUser),
    ("auditor", Role::Auditor),
];

/// The agency of a party's demo agency user.
fn agency_of(party: PartyCode) -> &'static str {
    if party == PartyCode::MX {
        "ANAM"
    } else {
        "CBP"
    }
}

fn party_name(party: PartyCode) -> &'static str {
    match party {
        PartyCode::US => "United States",
        PartyCode::MX => "Mexico",
        _ => "",
    }
}

#[derive(Debug, Serialize)]
struct DemoFile {
    nodes: BTreeMap<String, DemoFileNode>,
}

#[derive(Debug, Serialize)]
struct DemoFileNode {
    url: String,
    federation: String,
    dir: PathBuf,
    /// Role name → API token secret.
    tokens: BTreeMap<String, String>,
    /// User name → password.
    passwords: BTreeMap<String, String>,
}

/// A fresh directory under the system's temporary directory.
fn fresh_dir() -> PathBuf {
    std::env::temp_dir().join(format!("puente-demo-{}", Uuid::now_v7().simple()))
}

/// Removes the demo's temporary directory when the demo ends, however it ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!("removing {}: {e}", self.0.display());
        }
    }
}

/// Refuses a directory that already holds a demo (or anything where the demo's nodes go).
fn check_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    for party in PARTIES {
        let path = dir.join(party.to_string());
        if path.exists() {
            bail!(
                "{} already exists: the demo creates its nodes in DIR/US and DIR/MX and never \
                 reuses them; pass another --dir, or remove them",
                path.display()
            );
        }
    }
    let file = dir.join(DEMO_FILE);
    if file.exists() {
        bail!(
            "{} already exists: pass another --dir, or remove it",
            file.display()
        );
    }
    Ok(())
}

/// One node of the demo, set up: what the demo drives and shows of it.
struct DemoNode {
    dir: PathBuf,
    url: String,
    federation_url: String,
    side: Side,
    /// Its peer card, signed for its federation listener's address.
    card: String,
    tokens: BTreeMap<String, String>,
    passwords: BTreeMap<String, String>,
    loaded: demo_data::Loaded,
}

/// What `serve_node` takes to run a node.
struct Serving {
    api: TcpListener,
    federation: TcpListener,
    state: AppState,
}

fn loopback_any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Creates the node of `party` in `root/<party>`: its federation listener is bound first, so the
/// node's config and card advertise the port it really listens on.
async fn prepare(root: &Path, party: PartyCode) -> Result<(DemoNode, Serving)> {
    let federation = bind(loopback_any()).await?;
    let federation_addr = federation
        .local_addr()
        .context("reading the bound address")?;
    let dir = root.join(party.to_string());
    let init = init_node_with(
        &dir,
        party,
        None,
        &FederationInit::new(federation_addr, None)?,
    )
    .await
    .with_context(|| format!("creating the {party} node in {}", dir.display()))?;
    let store = Arc::clone(&init.store);

    let mut passwords = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    let admin = store
        .user_by_name(ADMIN)
        .await?
        .context("the administrator created by init is missing")?;
    tokens.insert(
        Role::Administrator.as_str().to_owned(),
        create_token(&store, &admin, "demo").await?,
    );
    passwords.insert(ADMIN.to_owned(), init.admin_password.clone());
    let mut liaison: Option<User> = None;
    for (name, role) in DEMO_USERS {
        let agency = (*role == Role::AgencyUser).then(|| agency_of(party));
        let password = puente_web::password::generate();
        let user = create_user(&store, party, name, *role, agency, &password).await?;
        tokens.insert(
            role.as_str().to_owned(),
            create_token(&store, &user, "demo").await?,
        );
        passwords.insert((*name).to_owned(), password);
        if *role == Role::LiaisonOfficer {
            liaison = Some(user);
        }
    }
    let liaison = liaison.context("the demo has no liaison officer")?;

    let files = NodeFiles::load(&init.node)?;
    let loaded = demo_data::load(&store, party, &files.program)
        .await
        .with_context(|| format!("loading the {party} node's demo data"))?;
    // The API's copy of the policies goes into its state; the demo asks its own copy.
    let policies = init.node.policies_path();
    let policy = PolicyEngine::load(&policies)
        .with_context(|| format!("loading the policies from {}", policies.display()))?;
    let endpoint = init.node.federation.endpoint.clone();
    let card = init
        .identity
        .card(party, endpoint.clone(), now())?
        .to_text();
    let state = app_state(&init.node, files, Arc::clone(&store)).await?;
    let exchange = serve::exchange(&init.node, init.identity, Arc::clone(&store));
    let api = bind(loopback_any()).await?;
    let url = format!(
        "http://{}",
        api.local_addr().context("reading the bound address")?
    );
    let node = DemoNode {
        dir,
        url,
        federation_url: endpoint.to_string(),
        side: Side {
            party,
            store,
            exchange,
            policy,
            liaison,
        },
        card,
        tokens,
        passwords,
        loaded,
    };
    Ok((
        node,
        Serving {
            api,
            federation,
            state,
        },
    ))
}

/// Registers the peer whose card is `text` on `node`, checked as `puente peer add` checks it:
/// the card's self-signature verifies, and it is another party's.
async fn add_peer(node: &DemoNode, text: &str) -> Result<()> {
    let card = PeerCard::parse_and_verify(text).context("the other node's peer card")?;
    if card.party() == node.side.party {
        bail!("a node cannot be its own peer");
    }
    let new = NewPeer {
        party: card.party(),
        endpoint: card.endpoint().to_string(),
        signing_key: card.signing_key().to_string(),
        tls_fingerprint: card.tls_cert_sha256().to_string(),
        card: text.to_owned(),
    };
    node.side
        .store
        .put_peer(&cli_ctx(now()), &new)
        .await
        .with_context(|| {
            format!(
                "registering {} as a peer of {}",
                card.party(),
                node.side.party
            )
        })?;
    Ok(())
}

pub async fn run(args: DemoArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let (root, temporary) = match args.dir {
        Some(dir) => (dir, false),
        None => (fresh_dir(), true),
    };
    check_dir(&root)?;
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    // Declared before the nodes, so dropped after them.
    let _cleanup = temporary.then(|| RemoveOnDrop(root.clone()));
    let script = demo_exchange::parse(demo_exchange::DEMO_EXCHANGE_TOML)?;
    say!(
        "puente demo: starting two nodes, United States and Mexico, in {}",
        root.display()
    );

    let [us_party, mx_party] = PARTIES;
    let (us, us_serving) = prepare(&root, us_party).await?;
    let (mx, mx_serving) = prepare(&root, mx_party).await?;
    add_peer(&us, &mx.card).await?;
    add_peer(&mx, &us.card).await?;
    let nodes = [us, mx];

    let serve = |s: Serving, node: &DemoNode| {
        serve_node(
            s.api,
            s.federation,
            s.state,
            Arc::clone(&node.side.exchange),
        )
    };
    let servers = async {
        tokio::try_join!(serve(us_serving, &nodes[0]), serve(mx_serving, &nodes[1])).map(|_| ())
    };
    tokio::pin!(servers);
    let ready = async {
        let sides = [&nodes[0].side, &nodes[1].side];
        let played = demo_exchange::play(&sides, &script)
            .await
            .context("playing the demo exchange between the two nodes")?;
        let demo_path = root.join(DEMO_FILE);
        write_demo_file(&demo_path, &nodes)?;
        print_summary(
            &root,
            temporary,
            &demo_path,
            &nodes,
            played,
            started.elapsed(),
        )
    };
    // The servers are polled first, so they announce their addresses before the summary.
    tokio::select! {
        biased;
        served = &mut servers => {
            served?;
            tracing::warn!("stopped before the demo was ready");
            return Ok(());
        }
        ready = ready => ready?,
    }
    servers.await
}

fn write_demo_file(path: &Path, nodes: &[DemoNode]) -> Result<()> {
    let file = DemoFile {
        nodes: nodes
            .iter()
            .map(|n| {
                (
                    n.side.party.to_string(),
                    DemoFileNode {
                        url: n.url.clone(),
                        federation: n.federation_url.clone(),
                        dir: n.dir.clone(),
                        tokens: n.tokens.clone(),
                        passwords: n.passwords.clone(),
                    },
                )
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&file)?;
    text.push('\n');
    write_private(path, &text)
}

fn role_of(name: &str) -> Role {
    DEMO_USERS
        .iter()
        .find(|u| u.0 == name)
        .map_or(Role::Administrator, |u| u.1)
}

fn print_summary(
    root: &Path,
    temporary: bool,
    demo_path: &Path,
    nodes: &[DemoNode],
    played: demo_exchange::Played,
    took: std::time::Duration,
) -> Result<()> {
    say!("");
    say!(
        "puente demo: two nodes, United States and Mexico, peered over mutual TLS on loopback, \
         with fictional data (ready in {:.1} s)",
        took.as_secs_f64()
    );
    if temporary {
        say!(
            "  directory   {} (removed when the demo stops; --dir DIR keeps it)",
            root.display()
        );
    } else {
        say!("  directory   {}", root.display());
    }
    for n in nodes {
        let p = n.side.party;
        say!("  {p} ({})", party_name(p));
        say!(
            "    API         {}/api/v1 (described at {}/api/openapi.json)",
            n.url,
            n.url
        );
        say!("    federation  {}", n.federation_url);
        say!("    node        {}", n.dir.display());
        say!(
            "    loaded      {} commitments, {} actions, {} meetings, and the program's indicators",
            n.loaded.n_commitments,
            n.loaded.n_actions,
            n.loaded.n_meetings
        );
    }
    say!(
        "  exchanged   {} referrals and {} requests for information, both ways, through {} steps: \
         every state, delivered and agreed by both nodes",
        played.referrals,
        played.requests,
        played.steps
    );
    say!("  These are demo credentials, for this demo only.");
    say!("  users (name, role, password on US, password on MX):");
    let names: Vec<&str> = std::iter::once(ADMIN)
        .chain(DEMO_USERS.iter().map(|u| u.0))
        .collect();
    for name in names {
        let pw = |n: &DemoNode| n.passwords.get(name).cloned().unwrap_or_default();
        let (us_pw, mx_pw) = match nodes {
            [us, mx] => (pw(us), pw(mx)),
            _ => (String::new(), String::new()),
        };
        say!(
            "    {name:<8} {:<16} {us_pw}  {mx_pw}",
            role_of(name).as_str()
        );
    }
    say!(
        "  API tokens for every role of both nodes: {} (readable by you only)",
        demo_path.display()
    );
    say!("  open the web application in a browser and sign in with a user above:");
    for n in nodes {
        say!("    {}/login", n.url);
    }
    say!("  or try the API, as each node's liaison officer:");
    let liaison = Role::LiaisonOfficer.as_str();
    for n in nodes {
        let token = n.tokens.get(liaison).map_or("", String::as_str);
        say!(
            "    curl -H \"Authorization: Bearer {token}\" {}/api/v1/referrals",
            n.url
        );
    }
    say!("Ctrl-C to stop.");
    Ok(())
}
