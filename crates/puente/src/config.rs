//! A node's directory and its config file, `puente.toml`: reading it, writing it at init, and
//! resolving the paths and database URL it names.
//!
//! Relative paths in the config (the program, the policies, a `sqlite:` database) are relative to
//! the node's directory, so a node directory can be moved or backed up as a whole.
//!
//! The `[federation]` table holds what the exchange with peers needs: where the federation
//! listener binds, the endpoint this node's peer card advertises, the exchange's limits and the
//! response clocks. [`FederationSettings::to_federation_config`] turns it into typed values.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use puente_domain::{ClockPolicy, PartyCode, ResponseTimes, Urgency};
use puente_exchange::card::Endpoint;
use puente_exchange::tlog::LogSettings;
use puente_web::WebConfig;
use serde::Deserialize;

pub const CONFIG_FILE: &str = "puente.toml";
pub const PROGRAM_FILE: &str = "program.toml";
pub const POLICIES_FILE: &str = "policies.cedar";
pub const SQLITE_FILE: &str = "puente.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7400";
/// Where the federation listener binds unless told otherwise: loopback, so a fresh node is not
/// reachable from the network until its administrator decides it should be.
pub const DEFAULT_FEDERATION_LISTEN: &str = "127.0.0.1:7401";

/// The contents of `puente.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// ISO 3166-1 alpha-2 code of the party this node belongs to.
    pub party: String,
    pub listen: SocketAddr,
    /// `sqlite:PATH` or `postgres://…`.
    pub database: String,
    pub program: PathBuf,
    pub policies: PathBuf,
    #[serde(default)]
    pub web: WebSettings,
    #[serde(default)]
    pub federation: FederationSettings,
}

/// The `[web]` table: [`WebConfig`] with durations in whole seconds, as an administrator writes
/// them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    pub secure_cookies: bool,
    pub session_ttl_secs: u64,
    pub max_body_bytes: usize,
    pub login_failures_per_name: u32,
    pub login_failures_per_ip: u32,
    pub login_window_secs: u64,
}

impl Default for WebSettings {
    fn default() -> Self {
        let d = WebConfig::default();
        Self {
            secure_cookies: d.secure_cookies,
            session_ttl_secs: d.session_ttl.as_secs(),
            max_body_bytes: d.max_body_bytes,
            login_failures_per_name: d.login_failures_per_name,
            login_failures_per_ip: d.login_failures_per_ip,
            login_window_secs: d.login_window.as_secs(),
        }
    }
}

impl WebSettings {
    pub fn to_web_config(&self) -> WebConfig {
        WebConfig {
            secure_cookies: self.secure_cookies,
            session_ttl: Duration::from_secs(self.session_ttl_secs),
            max_body_bytes: self.max_body_bytes,
            login_failures_per_name: self.login_failures_per_name,
            login_failures_per_ip: self.login_failures_per_ip,
            login_window: Duration::from_secs(self.login_window_secs),
        }
    }
}

/// The `[federation]` table, as an administrator writes it (durations in whole seconds). Every
/// field has a default, so a config written before the exchange existed still loads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationSettings {
    /// Where the federation listener (mutual TLS) binds.
    pub listen: SocketAddr,
    /// The `https://host:port` the peer card advertises; `https://<listen>` if absent.
    pub endpoint: Option<String>,
    /// Largest envelope body accepted (and sent).
    pub max_body_bytes: usize,
    /// Most envelopes per batch, both ways.
    pub max_batch: usize,
    /// An envelope older than this is stale.
    pub max_age_secs: u64,
    /// An envelope dated further ahead than this is from the future.
    pub max_skew_secs: u64,
    /// Overrides of the response clocks, per urgency.
    pub clocks: ClockSettings,
    /// `[federation.log]`: the exchange log's timings.
    pub log: LogTable,
}

/// `[federation.log]`, every field optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogTable {
    /// A checkpoint at least this often (milliseconds) while entries wait...
    pub checkpoint_every_ms: u64,
    /// ...or as soon as this many wait.
    pub checkpoint_entries: u64,
    /// How long after this node holds an envelope the peer's log must show it.
    pub grace_secs: u64,
    /// How often the node checks its own log and the peer's.
    pub verify_every_secs: u64,
}

impl Default for LogTable {
    fn default() -> Self {
        let d = LogSettings::default();
        Self {
            checkpoint_every_ms: u64::try_from(d.checkpoint_every.as_millis()).unwrap_or(1000),
            checkpoint_entries: d.checkpoint_entries,
            grace_secs: d.grace.as_secs(),
            verify_every_secs: d.verify_every.as_secs(),
        }
    }
}

impl LogTable {
    fn to_settings(&self) -> Result<LogSettings> {
        if !(10..=3_600_000).contains(&self.checkpoint_every_ms) {
            bail!("[federation.log] checkpoint_every_ms must be from 10 to 3600000 (an hour)");
        }
        if !(1..=1_000_000).contains(&self.checkpoint_entries) {
            bail!("[federation.log] checkpoint_entries must be from 1 to 1000000");
        }
        if !(1..=MAX_AGE_LIMIT_SECS).contains(&self.grace_secs) {
            bail!("[federation.log] grace_secs must be from 1 to {MAX_AGE_LIMIT_SECS}");
        }
        if !(1..=86_400).contains(&self.verify_every_secs) {
            bail!("[federation.log] verify_every_secs must be from 1 to 86400 (a day)");
        }
        Ok(LogSettings {
            checkpoint_every: Duration::from_millis(self.checkpoint_every_ms),
            checkpoint_entries: self.checkpoint_entries,
            grace: Duration::from_secs(self.grace_secs),
            verify_every: Duration::from_secs(self.verify_every_secs),
        })
    }
}

/// Limits an administrator's typo should not get past (a body limit of 64 GiB, a skew of years).
const MAX_BODY_LIMIT: usize = 64 * 1024 * 1024;
const MAX_BATCH_LIMIT: usize = 10_000;
const MAX_AGE_LIMIT_SECS: u64 = 3_650 * 86_400;
const MAX_SKEW_LIMIT_SECS: u64 = 86_400;

impl Default for FederationSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7401)),
            endpoint: None,
            max_body_bytes: 256 * 1024,
            max_batch: 256,
            max_age_secs: 30 * 86_400,
            max_skew_secs: 300,
            clocks: ClockSettings::default(),
            log: LogTable::default(),
        }
    }
}

/// `[federation.clocks]`: each urgency optional, and within it each time optional; whatever is
/// absent keeps [`ClockPolicy::default`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockSettings {
    pub flash: Option<ResponseSettings>,
    pub immediate: Option<ResponseSettings>,
    pub priority: Option<ResponseSettings>,
    pub routine: Option<ResponseSettings>,
}

/// One urgency's times, in seconds from sending.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSettings {
    pub acknowledge_secs: Option<u64>,
    pub act_secs: Option<u64>,
}

/// The `[federation]` table as typed, checked values: what the federation listener, the
/// delivery workers and `peer export` use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationConfig {
    pub listen: SocketAddr,
    /// What this node's peer card advertises.
    pub endpoint: Endpoint,
    pub max_body_bytes: usize,
    pub max_batch: usize,
    pub max_age: Duration,
    pub max_skew: Duration,
    pub clocks: ClockPolicy,
    pub log: LogSettings,
}

impl FederationSettings {
    /// Checks the table and returns its typed values; errors name the field as written in
    /// `puente.toml` (`[federation] max_batch`, `[federation.clocks] flash.act_secs`).
    pub fn to_federation_config(&self) -> Result<FederationConfig> {
        let endpoint = match &self.endpoint {
            Some(text) => Endpoint::parse(text).with_context(|| {
                format!("[federation] endpoint {text:?} is not https://host:port")
            })?,
            None => default_endpoint(self.listen)
                .context("[federation] endpoint is absent and cannot be derived from listen")?,
        };
        if !(1..=MAX_BODY_LIMIT).contains(&self.max_body_bytes) {
            bail!("[federation] max_body_bytes must be from 1 to {MAX_BODY_LIMIT}");
        }
        if !(1..=MAX_BATCH_LIMIT).contains(&self.max_batch) {
            bail!("[federation] max_batch must be from 1 to {MAX_BATCH_LIMIT}");
        }
        if !(1..=MAX_AGE_LIMIT_SECS).contains(&self.max_age_secs) {
            bail!("[federation] max_age_secs must be from 1 to {MAX_AGE_LIMIT_SECS} (ten years)");
        }
        if self.max_skew_secs > MAX_SKEW_LIMIT_SECS {
            bail!("[federation] max_skew_secs must be at most {MAX_SKEW_LIMIT_SECS} (a day)");
        }
        Ok(FederationConfig {
            listen: self.listen,
            endpoint,
            max_body_bytes: self.max_body_bytes,
            max_batch: self.max_batch,
            max_age: Duration::from_secs(self.max_age_secs),
            max_skew: Duration::from_secs(self.max_skew_secs),
            clocks: self.clocks.to_policy()?,
            log: self.log.to_settings()?,
        })
    }
}

impl ClockSettings {
    /// The defaults with this table's overrides, checked by [`ClockPolicy::check`].
    pub fn to_policy(&self) -> Result<ClockPolicy> {
        let mut policy = ClockPolicy::default();
        for (urgency, settings) in [
            (Urgency::Flash, &self.flash),
            (Urgency::Immediate, &self.immediate),
            (Urgency::Priority, &self.priority),
            (Urgency::Routine, &self.routine),
        ] {
            let Some(s) = settings else { continue };
            let slot = match urgency {
                Urgency::Flash => &mut policy.flash,
                Urgency::Immediate => &mut policy.immediate,
                Urgency::Priority => &mut policy.priority,
                Urgency::Routine => &mut policy.routine,
            };
            let secs = |value: Option<u64>, default: time::Duration, field: &str| {
                match value {
                    None => Ok(default),
                    // Beyond i64 seconds is far outside the range `check` allows anyway.
                    Some(v) => i64::try_from(v).map(time::Duration::seconds).map_err(|_| {
                        anyhow::anyhow!("[federation.clocks] {urgency}.{field} is out of range")
                    }),
                }
            };
            *slot = ResponseTimes {
                acknowledge: secs(s.acknowledge_secs, slot.acknowledge, "acknowledge_secs")?,
                act: secs(s.act_secs, slot.act, "act_secs")?,
            };
        }
        policy.check().map_err(|invalid| {
            // `check` names fields `/flash/act`; say them as the administrator wrote them.
            let fields: Vec<String> = invalid
                .0
                .iter()
                .map(|e| {
                    format!(
                        "{}_secs",
                        e.pointer.trim_start_matches('/').replace('/', ".")
                    )
                })
                .collect();
            anyhow::anyhow!(
                "[federation.clocks] {} out of range: each time is from 1 second to 365 days, \
                 and act_secs is no shorter than acknowledge_secs",
                fields.join(", ")
            )
        })
    }
}

/// The endpoint a listen address implies: `https://<listen>`. Refused for an unspecified
/// address (0.0.0.0, ::), which peers cannot connect to: such a node must set `endpoint`.
pub fn default_endpoint(listen: SocketAddr) -> Result<Endpoint> {
    if listen.ip().is_unspecified() {
        bail!(
            "the listen address {listen} is not one peers can reach: set the endpoint to the \
             https://host:port they connect to"
        );
    }
    Ok(Endpoint::parse(&format!("https://{listen}"))?)
}

/// A node directory whose config has been read and checked.
#[derive(Debug, Clone)]
pub struct NodeDir {
    pub dir: PathBuf,
    pub config: NodeConfig,
    pub party: PartyCode,
    /// `config.federation`, checked and typed.
    pub federation: FederationConfig,
}

impl NodeDir {
    /// Reads `DIR/puente.toml`; every error names the file.
    pub fn load(dir: &Path) -> Result<NodeDir> {
        let path = dir.join(CONFIG_FILE);
        if !path.exists() {
            bail!(
                "{} does not exist: is {} a node directory? Create one with `puente init`",
                path.display(),
                dir.display()
            );
        }
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let config: NodeConfig =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let party = parse_party(&config.party)
            .with_context(|| format!("in {}: field `party`", path.display()))?;
        let federation = config
            .federation
            .to_federation_config()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(NodeDir {
            dir: dir.to_path_buf(),
            config,
            party,
            federation,
        })
    }

    pub fn program_path(&self) -> PathBuf {
        self.dir.join(&self.config.program)
    }

    pub fn policies_path(&self) -> PathBuf {
        self.dir.join(&self.config.policies)
    }

    /// The database URL: the override if given, else the config's.
    pub fn database_url<'a>(&'a self, override_url: Option<&'a str>) -> &'a str {
        override_url.unwrap_or(&self.config.database)
    }
}

/// Parses a party code with an error an operator can act on.
pub fn parse_party(s: &str) -> Result<PartyCode> {
    PartyCode::parse(s).map_err(|_| {
        anyhow::anyhow!(
            "{s:?} is not a party code: use an ISO 3166-1 alpha-2 country code in capitals, \
             such as US or MX"
        )
    })
}

/// The default database of a node: a SQLite file inside its directory.
pub fn default_database() -> String {
    format!("sqlite:{SQLITE_FILE}")
}

/// Writes `DIR/puente.toml` for a new node, with comments for the administrator. Readable by the
/// owner only, because a PostgreSQL URL may carry a password. The `[federation]` table gets
/// `listen` and `endpoint` as given and every other value at its default, written out so the
/// administrator sees what applies.
pub fn write_new(
    dir: &Path,
    party: PartyCode,
    database: &str,
    federation_listen: SocketAddr,
    endpoint: &Endpoint,
) -> Result<PathBuf> {
    let web = WebSettings::default();
    let fed = FederationSettings::default();
    let clocks = ClockPolicy::default();
    let clock = |t: ResponseTimes| {
        format!(
            "{{ acknowledge_secs = {}, act_secs = {} }}",
            t.acknowledge.whole_seconds(),
            t.act.whole_seconds()
        )
    };
    let text = format!(
        r#"# Configuration of this puente node. Relative paths are relative to this directory.

# The party (ISO 3166-1 alpha-2) this node belongs to. Fixed at init.
party = "{party}"

# Address the API listens on. `puente serve --listen ADDR` overrides it.
listen = "{DEFAULT_LISTEN}"

# `sqlite:PATH` or `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE`.
# `puente … --database URL` overrides it.
database = {database}

# The joint program's measure areas (bilingual), and this node's access and release policies
# (Cedar). Both are this party's to edit; restart the node to apply changes.
program = "{PROGRAM_FILE}"
policies = "{POLICIES_FILE}"

[web]
# Mark cookies Secure; set to true when the node is served over HTTPS.
secure_cookies = {secure_cookies}
# How long a login session lasts.
session_ttl_secs = {session_ttl_secs}
# Largest request body accepted.
max_body_bytes = {max_body_bytes}
# Failed logins allowed per user name, and per client address, within the window.
login_failures_per_name = {login_failures_per_name}
login_failures_per_ip = {login_failures_per_ip}
login_window_secs = {login_window_secs}

[federation]
# Address the federation listener (mutual TLS, for peer nodes only) binds.
# `puente serve --federation-listen ADDR` overrides it.
listen = "{federation_listen}"
# The https://host:port peers connect to, as this node's peer card advertises it (`puente peer
# export`). Behind NAT or a load balancer it differs from `listen`; after changing it, export
# the card again and send it to each peer.
endpoint = "{endpoint}"
# Largest envelope body accepted, and most envelopes per batch.
max_body_bytes = {max_body_bytes_fed}
max_batch = {max_batch}
# An envelope older than this is refused as stale (30 days), or dated further ahead than this
# (clock skew between the nodes).
max_age_secs = {max_age_secs}
max_skew_secs = {max_skew_secs}

# How long a peer has to acknowledge an item sent to it, and to act on it, per urgency (counted
# from sending). Both parties should agree on these.
[federation.clocks]
flash = {flash}
immediate = {immediate}
priority = {priority}
routine = {routine}

# The exchange log (docs/exchange-log.md): a checkpoint this often while entries wait, or as
# soon as this many wait; how long after this node holds an envelope the peer's log must show
# it; how often the node checks its own log and the peer's.
[federation.log]
checkpoint_every_ms = {checkpoint_every_ms}
checkpoint_entries = {checkpoint_entries}
grace_secs = {grace_secs}
verify_every_secs = {verify_every_secs}
"#,
        database = toml::Value::String(database.to_owned()),
        secure_cookies = web.secure_cookies,
        session_ttl_secs = web.session_ttl_secs,
        max_body_bytes = web.max_body_bytes,
        login_failures_per_name = web.login_failures_per_name,
        login_failures_per_ip = web.login_failures_per_ip,
        login_window_secs = web.login_window_secs,
        max_body_bytes_fed = fed.max_body_bytes,
        max_batch = fed.max_batch,
        max_age_secs = fed.max_age_secs,
        max_skew_secs = fed.max_skew_secs,
        checkpoint_every_ms = fed.log.checkpoint_every_ms,
        checkpoint_entries = fed.log.checkpoint_entries,
        grace_secs = fed.log.grace_secs,
        verify_every_secs = fed.log.verify_every_secs,
        flash = clock(clocks.flash),
        immediate = clock(clocks.immediate),
        priority = clock(clocks.priority),
        routine = clock(clocks.routine),
    );
    let path = dir.join(CONFIG_FILE);
    write_private(&path, &text)?;
    Ok(path)
}

/// Creates `path` (which must not exist) with mode 0600 on Unix.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes a new file for the administrator to edit; refuses to overwrite.
pub fn write_new_file(path: &Path, text: &str) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_config_reads_back_with_the_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let listen: SocketAddr = DEFAULT_FEDERATION_LISTEN.parse().unwrap();
        write_new(
            dir,
            PartyCode::MX,
            "postgres://u:p\"w@h/db",
            listen,
            &default_endpoint(listen).unwrap(),
        )
        .unwrap();
        let node = NodeDir::load(dir).unwrap();
        assert_eq!(node.party, PartyCode::MX);
        assert_eq!(node.config.database, "postgres://u:p\"w@h/db");
        assert_eq!(node.config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(node.program_path(), dir.join(PROGRAM_FILE));
        let web = node.config.web.to_web_config();
        let d = WebConfig::default();
        assert_eq!(
            (web.session_ttl, web.max_body_bytes),
            (d.session_ttl, d.max_body_bytes)
        );
        // The written [federation] table says exactly what the defaults are.
        let written = &node.config.federation;
        assert_eq!(written.endpoint.as_deref(), Some("https://127.0.0.1:7401"));
        let fed = &node.federation;
        assert_eq!(
            fed,
            &FederationSettings::default()
                .to_federation_config()
                .unwrap()
        );
        assert_eq!(fed.listen, listen);
        assert_eq!(fed.max_age, Duration::from_secs(30 * 86_400));
        assert_eq!((fed.max_body_bytes, fed.max_batch), (262_144, 256));
        assert_eq!(fed.max_skew, Duration::from_secs(300));
        assert_eq!(fed.clocks, ClockPolicy::default());
    }

    fn federation(toml_text: &str) -> Result<FederationConfig> {
        #[derive(Deserialize)]
        struct Doc {
            federation: FederationSettings,
        }
        let doc: Doc = toml::from_str(toml_text)?;
        doc.federation.to_federation_config()
    }

    #[test]
    fn federation_defaults_and_partial_clock_overrides() {
        let fed = federation("[federation]\n").unwrap();
        assert_eq!(fed.endpoint.to_string(), "https://127.0.0.1:7401");
        let fed = federation(
            "[federation]\nlisten = \"[::1]:9000\"\n\
             [federation.clocks]\nflash = { acknowledge_secs = 600 }\n\
             routine = { acknowledge_secs = 3600, act_secs = 86400 }\n",
        )
        .unwrap();
        assert_eq!(fed.endpoint.to_string(), "https://[::1]:9000");
        let d = ClockPolicy::default();
        assert_eq!(fed.clocks.flash.acknowledge, time::Duration::minutes(10));
        assert_eq!(fed.clocks.flash.act, d.flash.act);
        assert_eq!(fed.clocks.immediate, d.immediate);
        assert_eq!(fed.clocks.routine.act, time::Duration::days(1));
    }

    #[test]
    fn federation_mistakes_are_named() {
        for (text, needle) in [
            (
                "[federation]\nlisten = \"0.0.0.0:7401\"\n",
                "not one peers can reach",
            ),
            (
                "[federation]\nendpoint = \"http://a.example:1\"\n",
                "[federation] endpoint",
            ),
            ("[federation]\nmax_batch = 0\n", "[federation] max_batch"),
            (
                "[federation.log]\ncheckpoint_entries = 0\n",
                "[federation.log] checkpoint_entries",
            ),
            (
                "[federation.log]\ncheckpoint_every_ms = 1\n",
                "[federation.log] checkpoint_every_ms",
            ),
            (
                "[federation]\nmax_skew_secs = 999999\n",
                "[federation] max_skew_secs",
            ),
            (
                "[federation.clocks]\nflash = { acknowledge_secs = 0, act_secs = 60 }\n",
                "flash.acknowledge_secs",
            ),
            (
                "[federation.clocks]\npriority = { act_secs = 60 }\n",
                "priority.act_secs",
            ),
        ] {
            let err = format!("{:#}", federation(text).unwrap_err());
            assert!(err.contains(needle), "{text:?}: {err}");
        }
        // Unknown fields are refused, at both levels.
        assert!(federation("[federation]\nlistne = \"127.0.0.1:1\"\n").is_err());
        assert!(federation("[federation.clocks]\nurgent = { act_secs = 60 }\n").is_err());
        assert!(federation("[federation.clocks]\nflash = { ack = 60 }\n").is_err());
        // 0.0.0.0 is fine with an explicit endpoint.
        let fed = federation(
            "[federation]\nlisten = \"0.0.0.0:7401\"\nendpoint = \"https://mx.example:443\"\n",
        )
        .unwrap();
        assert_eq!(fed.endpoint.to_string(), "https://mx.example:443");
    }
}
