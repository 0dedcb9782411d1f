//! What every command needs from its node: the store behind a database URL, the clock, and the
//! write context of the command line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use puente_store::postgres::PgStore;
use puente_store::sqlite::SqliteStore;
use puente_store::{Store, WriteCtx};
use time::OffsetDateTime;

/// Who the audit trail names for changes made from the command line: the node itself, since the
/// person at the console is whoever may run the binary on the node's host.
pub const CLI_ACTOR: &str = "system";

/// The current instant, truncated to whole microseconds (what both stores keep), so a value read
/// back equals the value written.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// The write context of a command-line change made at `now`.
pub fn cli_ctx(now: OffsetDateTime) -> WriteCtx {
    WriteCtx {
        actor: CLI_ACTOR.to_owned(),
        ip: None,
        now,
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    /// Parses `sqlite:PATH` (`sqlite://PATH` too; relative to `base`) or `postgres://…`
    /// (`postgresql://…`).
    pub fn parse(url: &str, base: &Path) -> Result<Database> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                bail!("database URL `sqlite:` names no file: write sqlite:PATH");
            }
            return Ok(Database::Sqlite(base.join(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres(url.to_owned()));
        }
        // Only the scheme is echoed: the rest of a URL may hold a password.
        let scheme = url.split(':').next().unwrap_or("");
        bail!("unsupported database URL scheme {scheme:?}: use sqlite:PATH or postgres://…")
    }

    /// The URL without any password, for messages and logs.
    pub fn redacted(&self) -> String {
        match self {
            Database::Sqlite(p) => format!("sqlite:{}", p.display()),
            Database::Postgres(url) => redact_password(url),
        }
    }
}

/// The URL with its user information and query removed (either may carry a password:
/// `user:password@` or `?password=`), for messages and logs.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<database URL>".to_owned();
    };
    // The host follows the last `@`, whatever characters the password holds.
    let (userinfo, host) = match rest.rsplit_once('@') {
        Some((_, host)) => (true, host),
        None => (false, rest),
    };
    let host = host.split(['?', '#']).next().unwrap_or_default();
    if userinfo {
        format!("{scheme}://***@{host}")
    } else {
        format!("{scheme}://{host}")
    }
}

/// Opens (and migrates) the store a URL names.
pub async fn open_store(url: &str, base: &Path) -> Result<Arc<dyn Store>> {
    let db = Database::parse(url, base)?;
    let store: Arc<dyn Store> = match &db {
        Database::Sqlite(path) => Arc::new(
            SqliteStore::open(path)
                .await
                .with_context(|| format!("opening SQLite database {}", path.display()))?,
        ),
        Database::Postgres(url) => Arc::new(
            PgStore::connect(url)
                .await
                .with_context(|| format!("connecting to {}", redact_password(url)))?,
        ),
    };
    tracing::info!(database = %db.redacted(), backend = store.backend(), "store open");
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_passwords_never_show() {
        let base = Path::new("/srv/node");
        assert_eq!(
            Database::parse("sqlite:puente.db", base).unwrap(),
            Database::Sqlite(PathBuf::from("/srv/node/puente.db"))
        );
        assert_eq!(
            Database::parse("sqlite:///tmp/x.db", base).unwrap(),
            Database::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert!(Database::parse("sqlite:", base).is_err());
        let err = Database::parse("mysql://root:hunter2@h/db", base)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            redact_password("postgres://app:s3cret@db:5432/puente?sslmode=require"),
            "postgres://***@db:5432/puente"
        );
        for leaky in [
            "postgres://db/puente?user=app&password=s3cret",
            "postgres://app:s3/c?r@t@db/puente",
            "postgres://app:s3cret#@db/puente",
        ] {
            assert!(!redact_password(leaky).contains("s3"), "{leaky}");
        }
        assert_eq!(
            redact_password("postgres://127.0.0.1/t"),
            "postgres://127.0.0.1/t"
        );
    }

    #[test]
    fn now_is_whole_microseconds() {
        assert_eq!(now().nanosecond() % 1_000, 0);
    }
}
