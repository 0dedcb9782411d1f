//! The PostgreSQL store, for a node whose database is run as a service.
//!
//! This module owns how the pool connects and how transactions begin; the SQL itself is shared
//! with SQLite in `sql.rs`. Every write transaction first takes one transaction-scoped advisory
//! lock, so this node's writes happen one after another, as on SQLite: the audit chain gets its
//! entries in order, and a status schedule recomputed in one write sees every earlier write.
//! Reads run in REPEATABLE READ, so a record and its child rows come from one snapshot.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::Result;
use crate::sql::Backend;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock key serialising a node's writes ("puente" in ASCII).
const WRITE_LOCK_KEY: i64 = 0x7075_656e_7465;

/// A node's store in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    credentials: std::sync::Arc<crate::credentials::CredentialMemory>,
}

impl PgStore {
    /// Connects to the database at `url` (a pool of 10) and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Like [`PgStore::connect`], with options built by the caller.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(crate::StoreError::Migrate)?;
        tracing::debug!("connected PostgreSQL store");
        let store = Self {
            pool,
            credentials: std::sync::Arc::default(),
        };
        crate::sql::ensure_status_counts(&store).await?;
        Ok(store)
    }

    /// Builds the commitment status counts from the stored commitments if they have no base
    /// day, as opening does: for tests of a database made before the counts.
    #[doc(hidden)]
    pub async fn ensure_status_counts(&self) -> Result<()> {
        crate::sql::ensure_status_counts(self).await
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs raw SQL, bypassing every rule of the store: for tests that must tamper with stored
    /// rows.
    #[doc(hidden)]
    pub async fn raw_execute(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected())
    }
}

#[async_trait]
impl Backend for PgStore {
    type Db = Postgres;
    type ReadConn = sqlx::pool::PoolConnection<Postgres>;
    type WriteTx = sqlx::Transaction<'static, Postgres>;
    const NAME: &'static str = "postgres";

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Postgres>> {
        let pool = self.pool.clone();
        crate::sql::begin_detached(async move {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(WRITE_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        })
        .await
    }

    fn credentials(&self) -> &crate::credentials::CredentialMemory {
        &self.credentials
    }

    async fn after_bulk_load(&self) -> sqlx::Result<()> {
        // VACUUM cannot run inside a transaction block: it runs on a pooled connection alone.
        sqlx::query("VACUUM (ANALYZE)").execute(&self.pool).await?;
        Ok(())
    }

    async fn read_one(&self) -> sqlx::Result<sqlx::pool::PoolConnection<Postgres>> {
        self.pool.acquire().await
    }

    async fn begin_read(&self) -> sqlx::Result<sqlx::Transaction<'static, Postgres>> {
        let pool = self.pool.clone();
        crate::sql::begin_detached(async move {
            pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
        })
        .await
    }
}
