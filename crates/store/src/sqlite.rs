//! The SQLite store: one file per node, for a single-server deployment.
//!
//! This module owns how the file is opened and how transactions begin; the SQL itself is shared
//! with PostgreSQL in `sql.rs`. The file runs in WAL mode with `synchronous=FULL`, so a node
//! killed at any moment keeps every write it acknowledged. Writes go through exactly one
//! connection ([`Writer`]) and begin with `BEGIN IMMEDIATE`: writers queue for it instead of
//! racing for SQLite's write lock, and readers (a pool of four) never wait for a writer.
//!
//! Committed pages are copied from the WAL back into the database file by a background task
//! (a passive checkpoint twice a second, on a connection of its own), not by whichever commit
//! happens to cross SQLite's automatic threshold: that commit would otherwise wait for the copy
//! and its fsync — tens of milliseconds on a large database — and so would every write queued
//! behind it. The automatic checkpoint stays as a backstop at a much larger WAL, should the
//! task fall behind.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection as _, Sqlite, SqliteConnection, SqlitePool};

use crate::Result;
use crate::sql::{Backend, WriteTx as _};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How often the background task checkpoints the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The WAL size, in pages, at which a commit checkpoints by itself (SQLite's default is 1,000):
/// reached only if the background task falls behind.
const BACKSTOP_PAGES: &str = "20000";

/// The write connection's page cache (negative: KiB), larger than SQLite's 2 MiB default so the
/// pages every write touches (indexes, the peers row, the tails of the tables) stay in memory.
const WRITER_CACHE_KIB: &str = "-16384";

/// How many prepared statements the write connection keeps (sqlx's default is 100): besides
/// the store's own statements, the joined writes of small groups (`Conn::run_all`), one text per
/// shape of group.
const WRITER_STATEMENTS: usize = 1024;

/// A node's store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    write: Arc<Writer>,
    read: SqlitePool,
    /// Connections for reads that are one statement (`Backend::read_one`).
    single: Arc<Readers>,
    checkpoint: SqlitePool,
    credentials: Arc<crate::credentials::CredentialMemory>,
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
            .busy_timeout(Duration::from_secs(5))
            // Statement journals (which let one multi-row INSERT be undone alone) stay in memory
            // instead of spilling to temporary files: they are small, and those writes were a
            // visible share of a busy node's time.
            .pragma("temp_store", "memory");
        let mut write = SqliteConnection::connect_with(
            &options
                .clone()
                .pragma("wal_autocheckpoint", BACKSTOP_PAGES)
                .pragma("cache_size", WRITER_CACHE_KIB)
                .statement_cache_capacity(WRITER_STATEMENTS),
        )
        .await?;
        MIGRATOR
            .run(&mut write)
            .await
            .map_err(crate::StoreError::Migrate)?;
        let write = Arc::new(Writer::new(write));
        let options = options.create_if_missing(false);
        // An embedded file has no connection to lose: sqlx's test before each acquire (a ping,
        // one more hand-off to the connection's thread) buys nothing here.
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let single = Arc::new(Readers::new(options.clone()));
        let checkpoint = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let alive = Arc::new(());
        tokio::spawn(checkpoint_wal(checkpoint.clone(), Arc::downgrade(&alive)));
        tracing::debug!(path = %path.display(), "opened SQLite store");
        let store = Self {
            write,
            read,
            single,
            checkpoint,
            credentials: Arc::default(),
            _alive: alive,
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

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
        self.single.close().await;
        self.checkpoint.close().await;
    }

    /// Appends `count` synthetic leaves to this node's own log with `peer`, `per_tx` in each
    /// transaction, bypassing the rule that every leaf names a stored envelope: for `puente
    /// bench log` on a throwaway database. The log's size after.
    #[doc(hidden)]
    pub async fn bench_fill_log(
        &self,
        peer: puente_domain::PartyCode,
        count: u64,
        per_tx: u64,
        logged: time::OffsetDateTime,
    ) -> Result<u64> {
        crate::sql_log::bench_fill(self, peer, count, per_tx, logged).await
    }

    /// Runs raw SQL on the write connection, bypassing every rule of the store: for tests that
    /// must tamper with stored rows.
    #[doc(hidden)]
    pub async fn raw_execute(&self, sql: &str) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(sql).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
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
        let started = Instant::now();
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok((_, wal_frames, copied)) => {
                let took = started.elapsed();
                if took >= SLOW_WRITE {
                    tracing::warn!(
                        took_ms = ms(took),
                        wal_frames,
                        copied,
                        "slow background WAL checkpoint"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "background WAL checkpoint failed"),
        }
    }
    pool.close().await;
}

/// The one write connection, outside sqlx's pool. A pooled connection costs two more hand-offs
/// to the connection's thread per transaction, each a pair of context switches that a 2-core
/// node under load feels: sqlx pings every connection on its way back to the pool (whatever the
/// options), and `begin_with` asks the connection whether the custom BEGIN opened a
/// transaction. Here the transaction is plain SQL — `BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK` —
/// on a connection behind a mutex, and the mutex is released the moment COMMIT returns.
#[derive(Debug)]
pub(crate) struct Writer {
    conn: Arc<tokio::sync::Mutex<WriterConn>>,
}

#[derive(Debug)]
struct WriterConn {
    conn: Option<SqliteConnection>,
    /// A transaction may be open: set before BEGIN, cleared once COMMIT or ROLLBACK returns. A
    /// transaction whose end nobody saw (its future dropped mid-COMMIT, say) is rolled back
    /// before the next one begins; if it had committed, that ROLLBACK finds nothing to undo.
    open: bool,
}

impl Writer {
    fn new(conn: SqliteConnection) -> Self {
        Self {
            conn: Arc::new(tokio::sync::Mutex::new(WriterConn {
                conn: Some(conn),
                open: false,
            })),
        }
    }

    /// Waits for the connection and begins a transaction on it. Called in a task of its own
    /// (`begin_detached`), so it always runs to the end.
    async fn begin(&self) -> sqlx::Result<WriteTx> {
        let asked = Instant::now();
        let mut guard = Arc::clone(&self.conn).lock_owned().await;
        let got = Instant::now();
        let w = &mut *guard;
        let conn = w.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        if w.open {
            // Whatever it was, it is over: "no transaction is active" is the expected answer.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        }
        w.open = true;
        // IMMEDIATE takes the write lock up front, so a transaction that reads before it
        // writes cannot fail to upgrade if another process has the file open.
        if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
            w.open = false;
            return Err(e);
        }
        Ok(WriteTx {
            guard: Some(guard),
            waited: got - asked,
            began: got,
        })
    }

    async fn close(&self) {
        let mut w = self.conn.lock().await;
        if let Some(conn) = w.conn.take() {
            let _ = conn.close().await;
        }
    }
}

/// A write transaction on the [`Writer`]'s connection, which it holds until it ends.
#[derive(Debug)]
pub struct WriteTx {
    guard: Option<tokio::sync::OwnedMutexGuard<WriterConn>>,
    /// How long it waited for the connection, and when it got it: for the slow-write warning.
    waited: Duration,
    began: Instant,
}

impl WriteTx {
    fn conn(&mut self) -> sqlx::Result<&mut SqliteConnection> {
        self.guard
            .as_mut()
            .and_then(|g| g.conn.as_mut())
            .ok_or(sqlx::Error::PoolClosed)
    }

    async fn end(mut self, statement: &'static str) -> sqlx::Result<()> {
        let ending = Instant::now();
        sqlx::query(statement).execute(self.conn()?).await?;
        if let Some(mut guard) = self.guard.take() {
            guard.open = false;
        }
        let done = Instant::now();
        if done - self.began >= SLOW_WRITE {
            // Everything else on this node that writes waited this long too.
            tracing::warn!(
                held_ms = ms(done - self.began),
                body_ms = ms(ending - self.began),
                end_ms = ms(done - ending),
                waited_ms = ms(self.waited),
                end = statement,
                "slow SQLite write transaction"
            );
        }
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        // The guard is taken only by `end` and `drop`, and the connection only by `close`,
        // which waits for the guard.
        self.guard
            .as_ref()
            .and_then(|g| g.conn.as_ref())
            .unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn().unwrap_or_else(|_| unreachable!())
    }
}

#[async_trait]
impl crate::sql::WriteTx<Sqlite> for WriteTx {
    async fn commit(self) -> sqlx::Result<()> {
        self.end("COMMIT").await
    }

    async fn rollback(self) -> sqlx::Result<()> {
        self.end("ROLLBACK").await
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        // Dropped open (an error, or a caller gone): roll back now rather than at the next
        // BEGIN, so SQLite's write lock is not held for other processes meanwhile. The guard
        // goes with the task, so no transaction begins before the ROLLBACK has run.
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        if !guard.open {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(conn) = guard.conn.as_mut() {
                    if sqlx::query("ROLLBACK").execute(conn).await.is_ok() {
                        guard.open = false;
                    }
                }
            });
        }
    }
}

/// A write transaction that holds the connection this long is logged (a warning): every other
/// write of the node waited behind it.
const SLOW_WRITE: Duration = Duration::from_millis(100);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// How many connections serve one-statement reads.
const SINGLE_READERS: usize = 4;

/// Connections for one-statement reads, kept outside sqlx's pool. A pooled connection is
/// pinged on its way back to the pool (sqlx tests it on release, whatever the options), and on
/// SQLite every ping is another round trip to the connection's own thread: on the hottest read,
/// the token of every API request, that doubled the hand-offs. A statement needs no such test:
/// if its future is dropped, sqlx's worker still finishes and resets the statement, so the
/// connection goes back ready.
#[derive(Debug)]
pub(crate) struct Readers {
    options: SqliteConnectOptions,
    idle: std::sync::Mutex<Vec<SqliteConnection>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Readers {
    fn new(options: SqliteConnectOptions) -> Self {
        Self {
            options,
            idle: std::sync::Mutex::new(Vec::new()),
            permits: Arc::new(tokio::sync::Semaphore::new(SINGLE_READERS)),
        }
    }

    async fn acquire(self: &Arc<Self>) -> sqlx::Result<ReadConn> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => SqliteConnection::connect_with(&self.options).await?,
        };
        Ok(ReadConn {
            conn: Some(conn),
            home: Arc::clone(self),
            _permit: permit,
        })
    }

    async fn close(&self) {
        self.permits.close();
        let idle = match self.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => Vec::new(),
        };
        for conn in idle {
            let _ = conn.close().await;
        }
    }
}

/// A connection from [`Readers`], back to them when dropped.
#[derive(Debug)]
pub struct ReadConn {
    conn: Option<SqliteConnection>,
    home: Arc<Readers>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl std::ops::Deref for ReadConn {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        // `conn` is only taken in `drop`.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for ReadConn {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for ReadConn {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), self.home.idle.lock()) {
            if !self.home.permits.is_closed() {
                idle.push(conn);
            }
        }
    }
}

#[async_trait]
impl Backend for SqliteStore {
    type Db = Sqlite;
    type ReadConn = ReadConn;
    type WriteTx = WriteTx;
    const NAME: &'static str = "sqlite";

    async fn begin_write(&self) -> sqlx::Result<WriteTx> {
        let writer = Arc::clone(&self.write);
        crate::sql::begin_detached(async move { writer.begin().await }).await
    }

    async fn read_one(&self) -> sqlx::Result<ReadConn> {
        self.single.acquire().await
    }

    fn credentials(&self) -> &crate::credentials::CredentialMemory {
        &self.credentials
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
