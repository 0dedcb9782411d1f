//! `puente init`: creates a node — its directory, config, editable program and policies, its
//! signing key and TLS identity (`node.key`, `tls.crt`, `tls.key`), its database with the node's
//! party, the first administrator, and the program's indicators.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use puente_domain::{MeasurementDraft, PartyCode, RecordMeta, Role};
use puente_exchange::card::Endpoint;
use puente_policy::PolicyEngine;
use puente_store::{Store, StoreError};
use uuid::Uuid;

use crate::cli::InitArgs;
use crate::config::{
    self, CONFIG_FILE, DEFAULT_FEDERATION_LISTEN, NodeDir, POLICIES_FILE, PROGRAM_FILE,
    default_endpoint, parse_party,
};
use crate::data::{self, INDICATORS_TOML, IndicatorSeed, PROGRAM_TOML};
use crate::identity::NodeIdentity;
use crate::node::{Database, cli_ctx, now, open_store};
use crate::user::create_user;

/// The first administrator's name.
pub const ADMIN: &str = "admin";

/// A freshly created node, with the store still open for whoever goes on using it (the demo).
pub struct Initialised {
    pub node: NodeDir,
    pub store: Arc<dyn Store>,
    /// Printed once by the caller; only its Argon2id hash is stored.
    pub admin_password: String,
    pub database: Database,
    /// As written to `node.key`, `tls.crt` and `tls.key`.
    pub identity: NodeIdentity,
}

/// Where a new node's federation listener binds and what its peer card advertises.
#[derive(Debug, Clone)]
pub struct FederationInit {
    pub listen: SocketAddr,
    pub endpoint: Endpoint,
}

impl FederationInit {
    /// `listen`, and `endpoint` if given (else `https://<listen>`), checked before anything is
    /// created.
    pub fn new(listen: SocketAddr, endpoint: Option<&str>) -> Result<FederationInit> {
        let endpoint = match endpoint {
            Some(text) => Endpoint::parse(text)
                .with_context(|| format!("--endpoint {text:?} is not https://host:port"))?,
            None => default_endpoint(listen).context(
                "--endpoint is needed: the peer card must name an address peers can reach",
            )?,
        };
        Ok(FederationInit { listen, endpoint })
    }

    /// The defaults: loopback port 7401, advertised as such.
    pub fn local() -> Result<FederationInit> {
        let listen = DEFAULT_FEDERATION_LISTEN
            .parse()
            .context("the default federation listen address")?;
        FederationInit::new(listen, None)
    }
}

pub async fn run(args: InitArgs) -> Result<()> {
    let party = parse_party(&args.party)?;
    let federation = FederationInit::new(args.federation_listen, args.endpoint.as_deref())?;
    let init = init_node_with(
        &args.node.dir,
        party,
        args.node.database.as_deref(),
        &federation,
    )
    .await?;
    say!(
        "node {} initialised in {}",
        init.node.party,
        init.node.dir.display()
    );
    say!("database: {}", init.database.redacted());
    say!(
        "node key: {} (fingerprint {})",
        crate::identity::KEY_FILE,
        init.identity.key.public().fingerprint()
    );
    say!(
        "federation: listens on {}, advertises {} (see `puente peer export`)",
        init.node.federation.listen,
        init.node.federation.endpoint
    );
    say!("user {ADMIN} (administrator)");
    say!("password: {}", init.admin_password);
    say!("This password is shown only once: keep it somewhere safe.");
    Ok(())
}

/// Refuses a directory that already holds anything, so init never overwrites a node's files.
fn check_dir_is_new(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    if dir.join(CONFIG_FILE).exists() {
        bail!(
            "{} already holds a node ({CONFIG_FILE} exists); refusing to init it again",
            dir.display()
        );
    }
    let mut entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    if entries.next().is_some() {
        bail!(
            "{} is not empty; puente init needs a new or empty directory",
            dir.display()
        );
    }
    Ok(())
}

/// Creates a node of `party` in `dir` with the default federation settings (see
/// [`init_node_with`]).
pub async fn init_node(
    dir: &Path,
    party: PartyCode,
    database: Option<&str>,
) -> Result<Initialised> {
    init_node_with(dir, party, database, &FederationInit::local()?).await
}

/// Creates a node of `party` in `dir` (see the module doc); `database` overrides the default
/// SQLite file in `dir`.
pub async fn init_node_with(
    dir: &Path,
    party: PartyCode,
    database: Option<&str>,
    federation: &FederationInit,
) -> Result<Initialised> {
    check_dir_is_new(dir)?;
    // Parse what will be loaded before creating anything, so a bad build fails cleanly.
    let program = data::parse_program(PROGRAM_TOML).context("the program shipped with puente")?;
    let seeds = data::parse_indicators(INDICATORS_TOML, &program)
        .context("the indicators shipped with puente")?;
    PolicyEngine::parse(PolicyEngine::DEFAULT_POLICIES)
        .context("the policies shipped with puente")?;

    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let database_url = database
        .map(str::to_owned)
        .unwrap_or_else(config::default_database);
    let db = Database::parse(&database_url, dir)?;
    let store = open_store(&database_url, dir).await?;
    if let Some(info) = store
        .node_info()
        .await
        .context("reading the node's identity")?
    {
        bail!(
            "database {} already holds a node of party {}; puente init needs an empty database",
            db.redacted(),
            info.party
        );
    }

    config::write_new(
        dir,
        party,
        &database_url,
        federation.listen,
        &federation.endpoint,
    )?;
    config::write_new_file(&dir.join(PROGRAM_FILE), PROGRAM_TOML)?;
    config::write_new_file(&dir.join(POLICIES_FILE), PolicyEngine::DEFAULT_POLICIES)?;
    let identity = NodeIdentity::create(dir, party)?;

    match store.init_node(&cli_ctx(now()), party).await {
        Ok(_) => {}
        Err(StoreError::Duplicate { .. }) => bail!("the database already holds a node"),
        Err(e) => return Err(e).context("recording the node's identity"),
    }
    let admin_password = puente_web::password::generate();
    create_user(
        &store,
        party,
        ADMIN,
        Role::Administrator,
        None,
        &admin_password,
    )
    .await?;
    load_indicators(&store, party, &seeds).await?;
    tracing::info!(party = %party, n_indicators = seeds.len(), "node initialised");

    let node = NodeDir::load(dir)?;
    Ok(Initialised {
        node,
        store,
        admin_password,
        database: db,
        identity,
    })
}

/// Stores the indicators (this node's) and their measurements (each the measuring party's).
async fn load_indicators(
    store: &Arc<dyn Store>,
    party: PartyCode,
    seeds: &[IndicatorSeed],
) -> Result<()> {
    for seed in seeds {
        let at = now();
        let ctx = cli_ctx(at);
        let indicator = store
            .create_indicator(
                &ctx,
                &RecordMeta::new(Uuid::now_v7(), party, at),
                &seed.draft,
            )
            .await
            .with_context(|| format!("storing indicator {}", seed.draft.code))?;
        for m in &seed.measurements {
            let draft =
                MeasurementDraft::new(indicator.meta.id, m.period, m.party, m.value, &m.source)
                    .with_context(|| format!("measurement {} of {}", m.period, seed.draft.code))?;
            store
                .create_measurement(&ctx, &RecordMeta::new(Uuid::now_v7(), m.party, at), &draft)
                .await
                .with_context(|| {
                    format!("storing measurement {} of {}", m.period, seed.draft.code)
                })?;
        }
    }
    Ok(())
}
