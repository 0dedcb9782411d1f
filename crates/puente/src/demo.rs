//! `puente demo`: one United States node with a user and a token per role and fictional data,
//! served until Ctrl-C. `DIR/demo.json` tells scripts (and people) how to reach it.
//!
//! The file is `{"nodes": {"US": {"url", "tokens": {role: token}, "passwords": {name: password}}}}`
//! so that a two-node demo can add `"MX"` beside it without changing its readers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use puente_domain::{PartyCode, Role};
use serde::Serialize;
use uuid::Uuid;

use crate::cli::DemoArgs;
use crate::config::{DEFAULT_LISTEN, write_private};
use crate::demo_data;
use crate::init::{ADMIN, init_node};
use crate::serve::{NodeFiles, app_state, bind, serve_on};
use crate::token::create_token;
use crate::user::create_user;

pub const DEMO_FILE: &str = "demo.json";

/// The demo's users besides `admin`: one per role. The agency user belongs to CBP, which the
/// demo commitments name, so it has something to see.
const DEMO_USERS: &[(&str, Role, Option<&str>)] = &[
    ("officer", Role::ProgramOfficer, None),
    ("liaison", Role::LiaisonOfficer, None),
    ("analyst", Role::Analyst, None),
    ("agency", Role::AgencyUser, Some("CBP")),
    ("auditor", Role::Auditor, None),
];

#[derive(Debug, Serialize)]
struct DemoFile {
    nodes: BTreeMap<String, DemoNode>,
}

#[derive(Debug, Serialize)]
struct DemoNode {
    url: String,
    /// Role name → API token secret.
    tokens: BTreeMap<String, String>,
    /// User name → password.
    passwords: BTreeMap<String, String>,
}

/// A fresh directory under the system's temporary directory; kept after the demo stops, so its
/// database and demo.json can be looked at.
fn fresh_dir() -> PathBuf {
    std::env::temp_dir().join(format!("puente-demo-{}", Uuid::now_v7().simple()))
}

pub async fn run(args: DemoArgs) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(fresh_dir);
    let party = PartyCode::US;
    let init = init_node(&dir, party, args.database.as_deref()).await?;
    let store = init.store.clone();

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
    for (name, role, agency) in DEMO_USERS {
        let password = puente_web::password::generate();
        let user = create_user(&store, party, name, *role, *agency, &password).await?;
        tokens.insert(
            role.as_str().to_owned(),
            create_token(&store, &user, "demo").await?,
        );
        passwords.insert((*name).to_owned(), password);
    }

    let files = NodeFiles::load(&init.node)?;
    let loaded = demo_data::load(&store, party, &files.program)
        .await
        .context("loading demo data")?;
    let state = app_state(&init.node, files, store).await?;
    let listener = demo_listener(args.listen).await?;
    let url = format!(
        "http://{}",
        listener.local_addr().context("reading the bound address")?
    );

    let demo_path = dir.join(DEMO_FILE);
    let file = DemoFile {
        nodes: BTreeMap::from([(
            party.to_string(),
            DemoNode {
                url: url.clone(),
                tokens: tokens.clone(),
                passwords: passwords.clone(),
            },
        )]),
    };
    write_private(&demo_path, &serde_json::to_string_pretty(&file)?)?;

    print_summary(&dir, &demo_path, &url, &passwords, loaded)?;
    serve_on(listener, state).await
}

/// The address asked for; without one, the default port, or a free port if that one is taken
/// (say, by another demo).
async fn demo_listener(asked: Option<SocketAddr>) -> Result<tokio::net::TcpListener> {
    if let Some(addr) = asked {
        return bind(addr).await;
    }
    let default: SocketAddr = DEFAULT_LISTEN
        .parse()
        .context("the default listen address")?;
    match bind(default).await {
        Ok(l) => Ok(l),
        Err(e) => {
            tracing::warn!("{e:#}; using a free port instead");
            bind(SocketAddr::new(default.ip(), 0)).await
        }
    }
}

fn print_summary(
    dir: &Path,
    demo_path: &Path,
    url: &str,
    passwords: &BTreeMap<String, String>,
    loaded: demo_data::Loaded,
) -> Result<()> {
    say!("puente demo: a United States node with fictional data");
    say!("  node directory: {}", dir.display());
    say!(
        "  loaded: {} commitments, {} actions, {} meetings, and the program's indicators",
        loaded.n_commitments,
        loaded.n_actions,
        loaded.n_meetings
    );
    say!("  users (name, role, password):");
    let role_of = |name: &str| {
        if name == ADMIN {
            Role::Administrator
        } else {
            DEMO_USERS
                .iter()
                .find(|u| u.0 == name)
                .map_or(Role::Administrator, |u| u.1)
        }
    };
    for (name, password) in passwords {
        say!("    {name:<8} {:<16} {password}", role_of(name).as_str());
    }
    say!("  API tokens, one per role: {}", demo_path.display());
    say!("  API: {url}/api/v1 (described at {url}/api/openapi.json) — press Ctrl-C to stop");
    Ok(())
}
