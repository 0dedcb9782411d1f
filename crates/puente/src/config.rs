//! A node's directory and its config file, `puente.toml`: reading it, writing it at init, and
//! resolving the paths and database URL it names.
//!
//! Relative paths in the config (the program, the policies, a `sqlite:` database) are relative to
//! the node's directory, so a node directory can be moved or backed up as a whole.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use puente_domain::PartyCode;
use puente_web::WebConfig;
use serde::Deserialize;

pub const CONFIG_FILE: &str = "puente.toml";
pub const PROGRAM_FILE: &str = "program.toml";
pub const POLICIES_FILE: &str = "policies.cedar";
pub const SQLITE_FILE: &str = "puente.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7400";

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

/// A node directory whose config has been read and checked.
#[derive(Debug, Clone)]
pub struct NodeDir {
    pub dir: PathBuf,
    pub config: NodeConfig,
    pub party: PartyCode,
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
        Ok(NodeDir {
            dir: dir.to_path_buf(),
            config,
            party,
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
/// owner only, because a PostgreSQL URL may carry a password.
pub fn write_new(dir: &Path, party: PartyCode, database: &str) -> Result<PathBuf> {
    let web = WebSettings::default();
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
"#,
        database = toml::Value::String(database.to_owned()),
        secure_cookies = web.secure_cookies,
        session_ttl_secs = web.session_ttl_secs,
        max_body_bytes = web.max_body_bytes,
        login_failures_per_name = web.login_failures_per_name,
        login_failures_per_ip = web.login_failures_per_ip,
        login_window_secs = web.login_window_secs,
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
        write_new(dir, PartyCode::MX, "postgres://u:p\"w@h/db").unwrap();
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
    }
}
