//! The SQLite store: one file per node, for a single-server deployment.
//!
//! This module owns how the file is opened and how transactions begin; the SQL itself is shared
//! with PostgreSQL in `sql.rs`. The file runs in WAL mode with `synchronous=FULL`, so a node
//! killed at any moment keeps every write it acknowledged. Writes go through a pool of exactly
//! one connection and begin with `BEGIN IMMEDIATE`: writers queue in the pool instead of racing
//! for SQLite's write lock, and readers (a pool of four) never wait for a writer.
//!
//! Committed pages are copied from the WAL back into the database file by a background task
//! (a passive checkpoint twice a second, on a connection of its own), not by whichever commit
//! happens to cross SQLite's automatic threshold: that commit would otherwise wait for the copy
//! and its fsync — tens of milliseconds on a large database — and so would every write queued
//! behind it. The automatic checkpoint stays as a backstop at a much larger WAL, should the
//! task fall behind.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use crate::Result;
use crate::sql::Backend;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How often the background task checkpoints the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The WAL size, in pages, at which a commit checkpoints by itself (SQLite's default is 1,000):
/// reached only if the background task falls behind.
const BACKSTOP_PAGES: &str = "20000";

/// A node's store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
    checkpoint: SqlitePool,
    /// The background checkpointer stops once every clone of the store is gone.
    _alive: Arc<()>,
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
        // An embedded file has no connection to lose: sqlx's test before each acquire (a ping,
        // one more hand-off to the connection's thread) buys nothing here.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone().pragma("wal_autocheckpoint", BACKSTOP_PAGES))
            .await?;
        MIGRATOR
            .run(&write)
            .await
            .map_err(crate::StoreError::Migrate)?;
        let options = options.create_if_missing(false);
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let checkpoint = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let alive = Arc::new(());
        tokio::spawn(checkpoint_wal(checkpoint.clone(), Arc::downgrade(&alive)));
        tracing::debug!(path = %path.display(), "opened SQLite store");
        Ok(Self {
            write,
            read,
            checkpoint,
            _alive: alive,
        })
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
        self.checkpoint.close().await;
    }

    /// Runs raw SQL on the write connection, bypassing every rule of the store: for tests that
    /// must tamper with stored rows.
    #[doc(hidden)]
    pub async fn raw_execute(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::query(sql).execute(&self.write).await?.rows_affected())
    }
}

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`] until the store is closed or dropped. PASSIVE
/// copies what it can without waiting for readers or the writer, and never blocks them.
async fn checkpoint_wal(pool: SqlitePool, alive: Weak<()>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.strong_count() == 0 || pool.is_closed() {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
    }
    pool.close().await;
}

#[async_trait]
impl Backend for SqliteStore {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Sqlite>> {
        // IMMEDIATE takes the write lock up front, so a transaction that reads before it writes
        // cannot fail to upgrade if another process has the file open.
        let pool = self.write.clone();
        crate::sql::begin_detached(async move { pool.begin_with("BEGIN IMMEDIATE").await }).await
    }

    async fn read_one(&self) -> sqlx::Result<sqlx::pool::PoolConnection<Sqlite>> {
        self.read.acquire().await
    }

    async fn after_bulk_load(&self) -> sqlx::Result<()> {
        // Deliberately nothing: see `Store::after_bulk_load` on why not ANALYZE.
        Ok(())
    }

    async fn begin_read(&self) -> sqlx::Result<sqlx::Transaction<'static, Sqlite>> {
        let pool = self.read.clone();
        crate::sql::begin_detached(async move { pool.begin().await }).await
    }
}
