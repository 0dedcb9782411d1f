//! The SQLite store: one file per node, for a single-server deployment.
//!
//! This module owns how the file is opened and how transactions begin; the SQL itself is shared
//! with PostgreSQL in `sql.rs`. The file runs in WAL mode with `synchronous=FULL`, so a node
//! killed at any moment keeps every write it acknowledged. Writes go through a pool of exactly
//! one connection and begin with `BEGIN IMMEDIATE`: writers queue in the pool instead of racing
//! for SQLite's write lock, and readers (a pool of four) never wait for a writer.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use crate::Result;
use crate::sql::Backend;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A node's store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR
            .run(&write)
            .await
            .map_err(crate::StoreError::Migrate)?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.create_if_missing(false))
            .await?;
        tracing::debug!(path = %path.display(), "opened SQLite store");
        Ok(Self { write, read })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// Runs raw SQL on the write connection, bypassing every rule of the store: for tests that
    /// must tamper with stored rows.
    #[doc(hidden)]
    pub async fn raw_execute(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::query(sql).execute(&self.write).await?.rows_affected())
    }
}

#[async_trait]
impl Backend for SqliteStore {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Sqlite>> {
        // IMMEDIATE takes the write lock up front, so a transaction that reads before it writes
        // cannot fail to upgrade if another process has the file open.
        self.write.begin_with("BEGIN IMMEDIATE").await
    }

    async fn begin_read(&self) -> sqlx::Result<sqlx::Transaction<'static, Sqlite>> {
        self.read.begin().await
    }
}
