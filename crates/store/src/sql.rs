//! The store's SQL, written once for both backends, and the one [`Store`] implementation.
//!
//! Every statement here uses numbered placeholders (`$1`, `$2`, …), which PostgreSQL and
//! sqlx-sqlite both accept, and only syntax both dialects share. A backend contributes just two
//! things: a [`Conn`] (running a statement with its arguments on its connection type) and a
//! [`Backend`] (opening its read and write transactions). `impl<B: Backend> Store for B` does the
//! rest, so the SQLite and PostgreSQL stores cannot drift apart. The exchange methods delegate to
//! `sql_exchange`, which builds on the helpers here.
//!
//! Writes are serialised per node: SQLite has a single write connection, PostgreSQL takes a
//! transaction-scoped advisory lock first thing in every write transaction. So the audit chain
//! gets one entry after another, and the counts a status schedule is computed from cannot miss a
//! concurrent write.

use std::collections::{BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use puente_domain::{
    Action, ActionDraft, AgendaSubject, AreaCode, Commitment, CommitmentDraft, FieldError,
    FieldErrorCode, Indicator, IndicatorDraft, Invalid, Measurement, MeasurementDraft, Meeting,
    MeetingDraft, PartyCode, RecordMeta, Status, StatusInputs, StatusSchedule,
};
use serde_json::json;
use sqlx::{FromRow, Postgres, Sqlite};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use crate::audit::{self, AuditEntry, AuditVerification, ChainVerifier, NewAuditEntry};
use crate::credentials::CredentialMemory;
use crate::exchange::{
    Accepted, Effect, EnvelopeRecord, ExchangeItem, Inbound, ItemFilter, NewPeer, Peer,
    ReceiptSealer, ReceiveReport, SealedEnvelope, Sealer, Sent,
};
use crate::rows::{
    ActionBody, ActionRow, AuditRow, CommitmentBody, CommitmentRow, FollowUpCandidateRow,
    FollowUpRow, IndicatorBody, IndicatorRow, MeasurementBody, MeasurementRow, MeetingBody,
    MeetingRow, MetaRow, NodeRow, ScheduleCols, ScheduleRow, UserRow, date_text, hash_hex, id_text,
    instant, micros, parse_date, parse_hash, parse_id, truncate,
};
use crate::sql_exchange;
use crate::sql_log;
use crate::sql_status;
use crate::{
    ActionFilter, CommitmentFilter, ImportSummary, IndicatorFilter, MeetingFilter, NodeInfo, Page,
    Paged, Result, Store, StoreError, TokenInfo, User, UserChanges, WriteCtx,
};

/// How many audit entries `verify_audit` reads at a time.
const VERIFY_BATCH: i64 = 10_000;

/// About how many parameters one multi-row INSERT binds (`import`): as many whole rows as fit.
/// Each distinct row count is a distinct statement to prepare, so a batch uses one full size and
/// at most one shorter remainder. Not more: sqlx-sqlite asks SQLite for the name of every
/// parameter it binds, and SQLite finds it by a linear scan, so binding costs the square of the
/// parameter count — at 2,000 parameters a statement that was most of the load time. Around 256
/// the per-statement overhead and the binding cost balance (measured: ~2× faster loading than
/// 2,000, slightly faster than 100).
const INSERT_PARAMS: usize = 256;

/// How many ids one `IN (…)` list carries when looking up or recomputing many records.
pub(crate) const IN_IDS: usize = 500;

// ---------------------------------------------------------------------------------------------
// Statements and their arguments

/// One bound argument. Owned, so a statement can be built up and passed around before it runs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    /// A nullable integer: NULL must be bound as an integer, since PostgreSQL types every
    /// parameter (a NULL text does not go into a BIGINT column).
    OptInt(Option<i64>),
    Float(f64),
    Bool(bool),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_owned())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}
impl From<Option<String>> for Arg {
    fn from(s: Option<String>) -> Self {
        Arg::OptText(s)
    }
}
impl From<i64> for Arg {
    fn from(i: i64) -> Self {
        Arg::Int(i)
    }
}
impl From<Option<i64>> for Arg {
    fn from(i: Option<i64>) -> Self {
        Arg::OptInt(i)
    }
}
impl From<f64> for Arg {
    fn from(f: f64) -> Self {
        Arg::Float(f)
    }
}
impl From<bool> for Arg {
    fn from(b: bool) -> Self {
        Arg::Bool(b)
    }
}

/// A statement and its arguments; argument `n` (from 1) binds placeholder `$n`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            args: Vec::new(),
        }
    }

    /// Binds the next placeholder of a statement written with `$1`, `$2`, … in order.
    pub fn bind(mut self, a: impl Into<Arg>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn bind_all(mut self, args: impl IntoIterator<Item = Arg>) -> Self {
        self.args.extend(args);
        self
    }

    /// Adds an argument and returns its placeholder, for text built up piece by piece.
    pub fn param(&mut self, a: impl Into<Arg>) -> String {
        self.args.push(a.into());
        format!("${}", self.args.len())
    }
}

/// `INSERT INTO table (c1, …, cn) VALUES ($1, …, $n)`.
pub(crate) fn insert_sql(table: &str, cols: &[&[&str]]) -> String {
    insert_rows_sql(table, cols, 1)
}

/// `INSERT INTO table (c1, …, cn) VALUES ($1, …, $n), ($n+1, …, $2n), …` for `rows` rows.
fn insert_rows_sql(table: &str, cols: &[&[&str]], rows: usize) -> String {
    let cols: Vec<&str> = cols.iter().flat_map(|c| c.iter().copied()).collect();
    let n = cols.len();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=n).map(|i| format!("${}", r * n + i)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        cols.join(", "),
        tuples.join(", ")
    )
}

/// `UPDATE table SET c1 = $1, …, cn = $n, updated_at = $n+1, version = version + 1
/// WHERE id = $n+2 AND version = $n+3`: the optimistic update of a record's body.
fn update_sql(table: &str, body: &[&str]) -> String {
    let sets: Vec<String> = body
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    let n = body.len();
    format!(
        "UPDATE {table} SET {}, updated_at = ${}, version = version + 1 WHERE id = ${} AND version = ${}",
        sets.join(", "),
        n + 1,
        n + 2,
        n + 3
    )
}

pub(crate) fn select_sql(table: &str, cols: &[&[&str]]) -> String {
    let cols: Vec<&str> = cols.iter().flat_map(|c| c.iter().copied()).collect();
    format!("SELECT {} FROM {table}", cols.join(", "))
}

fn user_select() -> String {
    select_sql("users", &[MetaRow::COLS, UserRow::BODY])
}
fn commitment_select() -> String {
    select_sql(
        "commitments",
        &[MetaRow::COLS, CommitmentBody::COLS, ScheduleCols::COLS],
    )
}
fn action_select() -> String {
    select_sql("actions", &[MetaRow::COLS, ActionBody::COLS])
}
fn indicator_select() -> String {
    select_sql("indicators", &[MetaRow::COLS, IndicatorBody::COLS])
}
fn measurement_select() -> String {
    select_sql("measurements", &[MetaRow::COLS, MeasurementBody::COLS])
}
fn meeting_select() -> String {
    select_sql("meetings", &[MetaRow::COLS, MeetingBody::COLS])
}

/// The keyset condition `id > after`. The first page is `id > ''` (every id is greater than the
/// empty text), not no condition at all: so every page is the same statement, planned the same
/// way. Without it SQLite plans the first page of a range filter (a status, a due window) as a
/// range scan plus a sort of every match — hundreds of milliseconds over 100,000 commitments —
/// instead of walking an `(…, id)` index in id order and stopping after a page, as it does for
/// later pages.
fn after_condition(sql: &mut Sql, page: Page) -> String {
    let after = page.after.map(id_text).unwrap_or_default();
    format!("id > {}", sql.param(after))
}

/// Appends `WHERE conds AND id > after ORDER BY id LIMIT limit + 1` (one more than the page, to
/// know whether another page follows).
pub(crate) fn keyset(sql: &mut Sql, mut conds: Vec<String>, page: Page) {
    conds.push(after_condition(sql, page));
    sql.text.push_str(" WHERE ");
    sql.text.push_str(&conds.join(" AND "));
    let limit = sql.param(i64::from(page.limit) + 1);
    sql.text.push_str(&format!(" ORDER BY id LIMIT {limit}"));
}

/// Cuts the extra row `keyset` asked for; a page of `limit` 0 is empty and has no cursor.
pub(crate) fn paged<T>(mut items: Vec<T>, page: Page, id: impl Fn(&T) -> Uuid) -> Paged<T> {
    let limit = page.limit as usize;
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more { items.last().map(id) } else { None };
    Paged { items, next }
}

/// The SQL condition under which a commitment has `status` on the day bound at `today`: the same
/// decision list as [`StatusSchedule::status_on`], over the stored schedule columns.
fn status_condition(status: Status, today: &str) -> String {
    let open = format!("sched_done = FALSE AND due_date >= {today}");
    match status {
        Status::Done => "sched_done = TRUE".to_owned(),
        Status::Overdue => format!("sched_done = FALSE AND due_date < {today}"),
        Status::NotStarted => format!("{open} AND sched_not_started_until > {today}"),
        Status::AtRisk => format!(
            "{open} AND sched_not_started_until <= {today} AND sched_at_risk_from <= {today}"
        ),
        Status::OnTrack => format!(
            "{open} AND sched_not_started_until <= {today} AND sched_at_risk_from > {today}"
        ),
    }
}

/// The page query of `list_commitments`.
///
/// A party owns a commitment as `owner_a` or as `owner_b`. Written as one `OR`, planners
/// without statistics merge both owner indexes and sort every match before taking a page, which
/// grows with the table; so each owner column gets its own keyset-limited branch (each walks its
/// `(owner, id)` index in id order and stops after a page), and only those few ids are merged.
fn commitment_list_sql(filter: &CommitmentFilter, page: Page) -> Sql {
    let mut sql = Sql::new(commitment_select());
    let mut conds = Vec::new();
    if let Some(area) = &filter.area {
        conds.push(format!("area = {}", sql.param(area.as_str())));
    }
    if let Some((status, today)) = filter.status {
        let t = sql.param(date_text(today));
        conds.push(status_condition(status, &t));
    }
    if let Some(d) = filter.due_from {
        conds.push(format!("due_date >= {}", sql.param(date_text(d))));
    }
    if let Some(d) = filter.due_to {
        conds.push(format!("due_date <= {}", sql.param(date_text(d))));
    }
    if let Some(a) = &filter.agency {
        conds.push(format!("agency = {}", sql.param(a.as_str())));
    }
    if let Some(t) = &filter.text {
        // LIKE's wildcards in the text are matched literally.
        let escaped = t
            .to_ascii_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let p = sql.param(format!("%{escaped}%"));
        conds.push(format!(
            "(LOWER(title_en) LIKE {p} ESCAPE '\\' OR LOWER(title_es) LIKE {p} ESCAPE '\\')"
        ));
    }
    let Some(party) = filter.party else {
        keyset(&mut sql, conds, page);
        return sql;
    };
    conds.push(after_condition(&mut sql, page));
    let p = sql.param(party.as_str());
    let limit = sql.param(i64::from(page.limit) + 1);
    let branch = |owner: &str| {
        let mut all = vec![format!("{owner} = {p}")];
        all.extend(conds.iter().cloned());
        format!(
            "SELECT id FROM (SELECT id FROM commitments WHERE {} ORDER BY id LIMIT {limit}) AS {owner}_page",
            all.join(" AND ")
        )
    };
    let (a, b) = (branch("owner_a"), branch("owner_b"));
    sql.text.push_str(&format!(
        " WHERE id IN ({a} UNION {b}) ORDER BY id LIMIT {limit}"
    ));
    sql
}

/// `IN ($a, $b, …)` over `ids`; never empty (callers skip empty lists).
pub(crate) fn in_list(sql: &mut Sql, ids: impl IntoIterator<Item = String>) -> String {
    let ps: Vec<String> = ids.into_iter().map(|i| sql.param(i)).collect();
    format!("IN ({})", ps.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Backends

/// A row type both backends can decode.
pub(crate) trait BothRow:
    for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> FromRow<'r, sqlx::postgres::PgRow>
    + Send
    + Unpin
    + 'static
{
}

impl<T> BothRow for T where
    T: for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin
        + 'static
{
}

/// A connection that runs [`Sql`]: the only per-backend code on the query path.
#[async_trait]
pub(crate) trait Conn: Send {
    /// Runs a statement; the number of rows it changed.
    async fn run(&mut self, sql: &Sql) -> sqlx::Result<u64>;
    async fn fetch<R: BothRow>(&mut self, sql: &Sql) -> sqlx::Result<Vec<R>>;
    /// Runs statements in order, stopping at the first that fails; on SQLite, as one
    /// multi-statement query: one hand-off to the connection's thread instead of one each.
    async fn run_all(&mut self, sqls: &[Sql]) -> sqlx::Result<()>;
}

/// Implements [`Conn`] for one sqlx connection type: binding is the same code for both, but
/// sqlx's query types are per database.
macro_rules! impl_conn {
    ($conn:ty, $db:ty, $text:path, $joined:path) => {
        #[async_trait]
        impl Conn for $conn {
            async fn run_all(&mut self, sqls: &[Sql]) -> sqlx::Result<()> {
                match $joined(sqls) {
                    Some(joined) => {
                        self.run(&joined).await?;
                    }
                    None => {
                        for sql in sqls {
                            self.run(sql).await?;
                        }
                    }
                }
                Ok(())
            }

            async fn run(&mut self, sql: &Sql) -> sqlx::Result<u64> {
                let text = $text(sql);
                let mut q = sqlx::query::<$db>(&text);
                for a in &sql.args {
                    q = match a {
                        Arg::Text(s) => q.bind(s.as_str()),
                        Arg::OptText(s) => q.bind(s.as_deref()),
                        Arg::Int(i) => q.bind(*i),
                        Arg::OptInt(i) => q.bind(*i),
                        Arg::Float(f) => q.bind(*f),
                        Arg::Bool(b) => q.bind(*b),
                    };
                }
                Ok(q.execute(&mut *self).await?.rows_affected())
            }

            async fn fetch<R: BothRow>(&mut self, sql: &Sql) -> sqlx::Result<Vec<R>> {
                let text = $text(sql);
                let mut q = sqlx::query_as::<$db, R>(&text);
                for a in &sql.args {
                    q = match a {
                        Arg::Text(s) => q.bind(s.as_str()),
                        Arg::OptText(s) => q.bind(s.as_deref()),
                        Arg::Int(i) => q.bind(*i),
                        Arg::OptInt(i) => q.bind(*i),
                        Arg::Float(f) => q.bind(*f),
                        Arg::Bool(b) => q.bind(*b),
                    };
                }
                q.fetch_all(&mut *self).await
            }
        }
    };
}

impl_conn!(sqlx::SqliteConnection, Sqlite, sqlite_text, sqlite_joined);
impl_conn!(sqlx::PgConnection, Postgres, pg_text, pg_joined);

/// PostgreSQL's extended protocol takes one statement per query: run them one by one.
fn pg_joined(_: &[Sql]) -> Option<Sql> {
    None
}

/// The most arguments statements may have between them to be joined (see `sqlite_joined`).
const JOIN_PARAMS: usize = 2 * INSERT_PARAMS;

/// Statements joined into one multi-statement query for sqlx-sqlite, which binds anonymous
/// `?`s across the statements in order: each statement's `$1` … `$n` become `?`s (see
/// `positional`). `None` if there are fewer than two, or one of them does not lend itself, or
/// they are large: a joined text is prepared (and cached) as a whole, and the texts of large
/// groups rarely repeat, so each would be prepared afresh — more work than the hand-offs it
/// saves — and would push the statements that do repeat out of the connection's cache.
fn sqlite_joined(sqls: &[Sql]) -> Option<Sql> {
    if sqls.len() < 2 || sqls.iter().map(|s| s.args.len()).sum::<usize>() > JOIN_PARAMS {
        return None;
    }
    let mut joined = Sql::new(String::new());
    for sql in sqls {
        let text = if sql.args.is_empty() {
            if sql.text.contains('$') || sql.text.contains('?') {
                return None;
            }
            sql.text.clone()
        } else {
            positional(&sql.text, sql.args.len())?
        };
        let text = text.trim_end();
        if text.contains(';') {
            return None;
        }
        joined.text.push_str(text);
        joined.text.push_str(";\n");
        joined.args.extend(sql.args.iter().cloned());
    }
    Some(joined)
}

/// PostgreSQL takes the statement as written.
fn pg_text(sql: &Sql) -> std::borrow::Cow<'_, str> {
    std::borrow::Cow::Borrowed(&sql.text)
}

/// Statements with this many arguments or more are bound by position on SQLite.
const POSITIONAL_FROM: usize = 8;

/// The statement for SQLite: when its placeholders are `$1`, `$2`, … `$n`, each once and in
/// order (as multi-row INSERTs and `IN` lists are built), they become anonymous `?`s, which bind
/// the same arguments in the same order. sqlx-sqlite asks SQLite the name of every numbered
/// parameter it binds, and SQLite finds each by a linear scan: a statement of n numbered
/// parameters costs n² to bind, anonymous ones n.
fn sqlite_text(sql: &Sql) -> std::borrow::Cow<'_, str> {
    if sql.args.len() < POSITIONAL_FROM {
        return std::borrow::Cow::Borrowed(&sql.text);
    }
    match positional(&sql.text, sql.args.len()) {
        Some(text) => std::borrow::Cow::Owned(text),
        None => std::borrow::Cow::Borrowed(&sql.text),
    }
}

/// `text` with `$1` … `$n` replaced by `?`, if those are its placeholders, each once and in
/// order; otherwise `None`.
fn positional(text: &str, n: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut expected = 1usize;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 {
                let number: usize = text[i + 1..i + 1 + digits].parse().ok()?;
                if number != expected {
                    return None;
                }
                expected += 1;
                out.push_str(&text[copied..i]);
                out.push('?');
                i += 1 + digits;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    if expected != n + 1 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

pub(crate) type Tx<B> = sqlx::Transaction<'static, <B as Backend>::Db>;

/// A write transaction: its statements run on the connection it derefs to; dropped without
/// `commit`, it rolls back.
#[async_trait]
pub(crate) trait WriteTx<DB: sqlx::Database>:
    std::ops::DerefMut<Target = DB::Connection> + Send
{
    async fn commit(self) -> sqlx::Result<()>;
    async fn rollback(self) -> sqlx::Result<()>;
}

#[async_trait]
impl<DB: sqlx::Database> WriteTx<DB> for sqlx::Transaction<'static, DB> {
    async fn commit(self) -> sqlx::Result<()> {
        sqlx::Transaction::commit(self).await
    }

    async fn rollback(self) -> sqlx::Result<()> {
        sqlx::Transaction::rollback(self).await
    }
}

/// Begins a transaction in a task of its own, so that the BEGIN always runs to completion.
///
/// sqlx (0.8) can leave a pooled connection inside a transaction when the future beginning one
/// is dropped halfway — which happens whenever a client hangs up during a write (a peer killed
/// mid-delivery, a browser closed). With SQLite's single write connection that would wedge every
/// later write. A task is not dropped with its caller: the transaction is begun, and if nobody
/// is left to take it, dropped whole, which rolls it back as usual.
pub(crate) async fn begin_detached<T, F>(begin: F) -> sqlx::Result<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = sqlx::Result<T>> + Send + 'static,
{
    tokio::spawn(begin)
        .await
        .map_err(|_| sqlx::Error::WorkerCrashed)?
}

/// What a backend provides besides its connection type: its name and its transactions.
#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    type Db: sqlx::Database<Connection: Conn>;
    /// What `read_one` hands out: a connection of the backend's, returned when dropped.
    type ReadConn: std::ops::DerefMut<Target = <Self::Db as sqlx::Database>::Connection> + Send;
    /// What `begin_write` hands out.
    type WriteTx: WriteTx<Self::Db>;
    const NAME: &'static str;
    /// A transaction in which this node's writes happen one at a time.
    async fn begin_write(&self) -> sqlx::Result<Self::WriteTx>;
    /// A transaction that reads one consistent snapshot.
    async fn begin_read(&self) -> sqlx::Result<Tx<Self>>;
    /// A connection for a read that is one statement, which is its own snapshot on both
    /// databases: no BEGIN and COMMIT, which on SQLite are two more hand-offs to the
    /// connection's thread on the hot paths (a request's token, a peer, the outbox).
    async fn read_one(&self) -> sqlx::Result<Self::ReadConn>;
    /// The housekeeping of [`Store::after_bulk_load`]: the one thing the backends do differently.
    async fn after_bulk_load(&self) -> sqlx::Result<()>;
    /// What tokens named lately (see `credentials`), shared by this store's clones.
    fn credentials(&self) -> &CredentialMemory;
}

pub(crate) async fn fetch_one<R: BothRow, C: Conn + ?Sized>(
    c: &mut C,
    sql: &Sql,
) -> sqlx::Result<Option<R>> {
    Ok(c.fetch::<R>(sql).await?.into_iter().next())
}

/// Builds the commitment status counts (`sql_status`) if the database has none yet: called once
/// when a store is opened, after its migrations.
pub(crate) async fn ensure_status_counts<B: Backend>(b: &B) -> Result<()> {
    let mut tx = b.begin_write().await?;
    if sql_status::ensure(&mut *tx, OffsetDateTime::now_utc().date()).await? {
        tracing::info!("built the commitment status counts from the stored commitments");
    }
    tx.commit().await?;
    Ok(())
}

/// A count (or any single integer) from a one-row, one-column query.
pub(crate) async fn count<C: Conn + ?Sized>(c: &mut C, sql: &Sql) -> sqlx::Result<i64> {
    Ok(fetch_one::<(i64,), C>(c, sql).await?.map_or(0, |r| r.0))
}

/// Inserts `rows` (each the arguments of one row, in `cols` order) with multi-row INSERTs of
/// about [`INSERT_PARAMS`] parameters each, instead of one statement per row.
pub(crate) async fn insert_many<C: Conn + ?Sized>(
    c: &mut C,
    table: &str,
    cols: &[&[&str]],
    rows: Vec<Vec<Arg>>,
) -> sqlx::Result<()> {
    for sql in insert_statements(table, cols, rows) {
        c.run(&sql).await?;
    }
    Ok(())
}

/// The statements of [`insert_many`], for a caller that runs them with others
/// ([`Conn::run_all`]).
pub(crate) fn insert_statements(table: &str, cols: &[&[&str]], rows: Vec<Vec<Arg>>) -> Vec<Sql> {
    let n_cols: usize = cols.iter().map(|c| c.len()).sum();
    let per_stmt = (INSERT_PARAMS / n_cols.max(1)).max(1);
    let full = insert_rows_sql(table, cols, per_stmt);
    let mut out = Vec::with_capacity(rows.len().div_ceil(per_stmt));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take(per_stmt).collect();
        let text = if chunk.len() == per_stmt {
            full.clone()
        } else {
            insert_rows_sql(table, cols, chunk.len())
        };
        out.push(Sql {
            text,
            args: chunk.into_iter().flatten().collect(),
        });
    }
    out
}

/// Which of `ids` are ids of `table`.
async fn existing_ids<C: Conn + ?Sized>(
    c: &mut C,
    table: &str,
    ids: &[String],
) -> sqlx::Result<HashSet<String>> {
    let mut out = HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(IN_IDS) {
        let mut q = Sql::new("");
        let list = in_list(&mut q, chunk.iter().cloned());
        q.text = format!("SELECT id FROM {table} WHERE id {list}");
        out.extend(c.fetch::<(String,)>(&q).await?.into_iter().map(|r| r.0));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Maps a unique violation to `Duplicate`: at `key_pointer` if it was the primary key, at
/// `other_pointer` if another unique rule (each table has at most one). Other errors pass.
pub(crate) fn duplicate(
    what: &'static str,
    key_pointer: &'static str,
    other_pointer: &'static str,
) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error() {
        Some(d) if d.is_unique_violation() => {
            // PostgreSQL names the constraint `<table>_pkey`; SQLite reports the extended code
            // SQLITE_CONSTRAINT_PRIMARYKEY (1555).
            let pkey = d.constraint().is_some_and(|c| c.ends_with("_pkey"))
                || d.code().is_some_and(|c| c == "1555");
            StoreError::Duplicate {
                what,
                pointer: if pkey { key_pointer } else { other_pointer },
            }
        }
        _ => StoreError::Database(e),
    }
}

/// Why an optimistic update changed no row: the record is missing, or at another version.
async fn stale<C: Conn + ?Sized>(
    c: &mut C,
    table: &str,
    kind: &'static str,
    id: Uuid,
    given: i64,
) -> StoreError {
    let sql = Sql::new(format!("SELECT version FROM {table} WHERE id = $1")).bind(id_text(id));
    match fetch_one::<(i64,), C>(c, &sql).await {
        Ok(Some((current,))) => StoreError::VersionConflict {
            kind,
            id,
            current,
            given,
        },
        Ok(None) => StoreError::NotFound { kind, id },
        Err(e) => e.into(),
    }
}

/// The current version and parent id of a record whose parent may not change on update.
async fn version_and_parent<C: Conn + ?Sized>(
    c: &mut C,
    table: &str,
    parent_col: &str,
    kind: &'static str,
    id: Uuid,
    given: i64,
) -> Result<String> {
    let sql = Sql::new(format!(
        "SELECT version, {parent_col} FROM {table} WHERE id = $1"
    ))
    .bind(id_text(id));
    match fetch_one::<(i64, String), C>(c, &sql).await? {
        None => Err(StoreError::NotFound { kind, id }),
        Some((current, _)) if current != given => Err(StoreError::VersionConflict {
            kind,
            id,
            current,
            given,
        }),
        Some((_, parent)) => Ok(parent),
    }
}

// ---------------------------------------------------------------------------------------------
// Audit

/// The sequence number and previous hash of the next entry of the chain.
async fn chain_head<C: Conn + ?Sized>(c: &mut C) -> Result<(i64, [u8; 32])> {
    let last = fetch_one::<(i64, String), C>(
        c,
        &Sql::new("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"),
    )
    .await?;
    Ok(match last {
        Some((seq, hash)) => (seq + 1, parse_hash("audit entry", &seq.to_string(), &hash)?),
        None => (1, audit::GENESIS),
    })
}

pub(crate) async fn append<C: Conn + ?Sized>(c: &mut C, e: &NewAuditEntry) -> Result<AuditEntry> {
    let (seq, prev) = chain_head(c).await?;
    // Stored at microsecond precision, so hash what reads back.
    let entry = NewAuditEntry {
        at: truncate(e.at),
        ..e.clone()
    };
    let hash = audit::entry_hash(seq, &entry, &prev);
    let row = AuditRow::new(seq, &entry, &prev, &hash);
    c.run(&Sql::new(insert_sql("audit", &[AuditRow::COLS])).bind_all(row.args()))
        .await?;
    Ok(AuditEntry {
        seq,
        entry,
        prev_hash: prev,
        hash,
    })
}

fn token_info((id, user, label, created_at): (String, String, String, i64)) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: parse_id("token", &id)?,
        user: parse_id("token", &user)?,
        created_at: instant("token", &id, created_at)?,
        label,
    })
}

/// Appends the entry of a record write made in `ctx`.
pub(crate) async fn audit_write<C: Conn + ?Sized>(
    c: &mut C,
    ctx: &WriteCtx,
    action: &str,
    target: String,
    detail: serde_json::Value,
) -> Result<AuditEntry> {
    append(c, &ctx_entry(ctx, action, target, detail.to_string())).await
}

/// The audit entry of an act on `target` made in `ctx` (its time, actor and address).
pub(crate) fn ctx_entry(
    ctx: &WriteCtx,
    action: impl Into<String>,
    target: String,
    detail: String,
) -> NewAuditEntry {
    NewAuditEntry {
        at: ctx.now,
        actor: ctx.actor.clone(),
        ip: ctx.ip.clone(),
        action: action.into(),
        target: Some(target),
        detail,
    }
}

/// Appends the entries of many record writes made in `ctx` — `(action, target, detail)`, in
/// order — with multi-row inserts: the same chain `audit_write` would build one entry at a time.
async fn audit_writes<C: Conn + ?Sized>(
    c: &mut C,
    ctx: &WriteCtx,
    writes: Vec<(&'static str, String, String)>,
) -> Result<()> {
    // Stored at microsecond precision: `audit_statements` truncates each entry's time.
    let entries = writes
        .into_iter()
        .map(|(action, target, detail)| ctx_entry(ctx, action, target, detail))
        .collect();
    audit_entries(c, entries).await
}

/// Appends `entries` in order with multi-row inserts: the chain `append` would build one entry
/// at a time.
pub(crate) async fn audit_entries<C: Conn + ?Sized>(
    c: &mut C,
    entries: Vec<NewAuditEntry>,
) -> Result<()> {
    let statements = audit_statements(c, entries).await?;
    c.run_all(&statements).await?;
    Ok(())
}

/// The statements of [`audit_entries`] (after reading the chain's head), for a caller that runs
/// them with others. Nothing else may append to the chain before they run.
pub(crate) async fn audit_statements<C: Conn + ?Sized>(
    c: &mut C,
    entries: Vec<NewAuditEntry>,
) -> Result<Vec<Sql>> {
    let (mut seq, mut prev) = chain_head(c).await?;
    let mut rows = Vec::with_capacity(entries.len());
    for mut entry in entries {
        entry.at = truncate(entry.at);
        let hash = audit::entry_hash(seq, &entry, &prev);
        rows.push(AuditRow::new(seq, &entry, &prev, &hash).args());
        prev = hash;
        seq += 1;
    }
    Ok(insert_statements("audit", &[AuditRow::COLS], rows))
}

async fn verify_chain<C: Conn + ?Sized>(c: &mut C) -> Result<AuditVerification> {
    let mut verifier = ChainVerifier::new();
    let mut n: u64 = 0;
    let mut after = i64::MIN;
    let select = format!(
        "{} WHERE seq > $1 ORDER BY seq LIMIT $2",
        select_sql("audit", &[AuditRow::COLS])
    );
    loop {
        let batch: Vec<AuditRow> = c
            .fetch(&Sql::new(select.as_str()).bind(after).bind(VERIFY_BATCH))
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for row in batch {
            let seq = row.seq;
            let bad = match row.into_entry() {
                Ok(entry) => verifier.push(&entry).map(str::to_owned),
                Err(e) => Some(format!("unreadable: {e}")),
            };
            if let Some(why) = bad {
                let total = count(c, &Sql::new("SELECT COUNT(*) FROM audit")).await?;
                return Ok(AuditVerification {
                    n_entries: u64::try_from(total).unwrap_or(0),
                    first_bad: Some((seq, why)),
                });
            }
            n += 1;
        }
    }
    Ok(AuditVerification {
        n_entries: n,
        first_bad: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Reading records

async fn fetch_users<C: Conn + ?Sized>(c: &mut C, sql: &Sql) -> Result<Vec<User>> {
    c.fetch::<UserRow>(sql)
        .await?
        .into_iter()
        .map(UserRow::into_user)
        .collect()
}

async fn user_in<C: Conn + ?Sized>(c: &mut C, id: Uuid) -> Result<Option<User>> {
    let sql = Sql::new(format!("{} WHERE id = $1", user_select())).bind(id_text(id));
    Ok(fetch_users(c, &sql).await?.into_iter().next())
}

/// Commitments matching `sql` (a commitment select), with the indicators they serve.
async fn fetch_commitments<C: Conn + ?Sized>(c: &mut C, sql: &Sql) -> Result<Vec<Commitment>> {
    let rows: Vec<CommitmentRow> = c.fetch(sql).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new("");
    let ids = in_list(&mut q, rows.iter().map(|r| r.meta.id.clone()));
    q.text = format!(
        "SELECT commitment_id, indicator_id FROM commitment_indicators \
         WHERE commitment_id {ids} ORDER BY commitment_id, position"
    );
    let mut served: HashMap<String, Vec<String>> = HashMap::new();
    for (commitment, indicator) in c.fetch::<(String, String)>(&q).await? {
        served.entry(commitment).or_default().push(indicator);
    }
    rows.into_iter()
        .map(|r| {
            let indicators = served.remove(&r.meta.id).unwrap_or_default();
            r.into_commitment(&indicators)
        })
        .collect()
}

async fn commitment_in<C: Conn + ?Sized>(c: &mut C, id: Uuid) -> Result<Option<Commitment>> {
    let sql = Sql::new(format!("{} WHERE id = $1", commitment_select())).bind(id_text(id));
    Ok(fetch_commitments(c, &sql).await?.into_iter().next())
}

async fn fetch_actions<C: Conn + ?Sized>(c: &mut C, sql: &Sql) -> Result<Vec<Action>> {
    c.fetch::<ActionRow>(sql)
        .await?
        .into_iter()
        .map(ActionRow::into_action)
        .collect()
}

async fn action_in<C: Conn + ?Sized>(c: &mut C, id: Uuid) -> Result<Option<Action>> {
    let sql = Sql::new(format!("{} WHERE id = $1", action_select())).bind(id_text(id));
    Ok(fetch_actions(c, &sql).await?.into_iter().next())
}

async fn fetch_indicators<C: Conn + ?Sized>(c: &mut C, sql: &Sql) -> Result<Vec<Indicator>> {
    c.fetch::<IndicatorRow>(sql)
        .await?
        .into_iter()
        .map(IndicatorRow::into_indicator)
        .collect()
}

async fn indicator_in<C: Conn + ?Sized>(c: &mut C, id: &str) -> Result<Option<Indicator>> {
    let sql = Sql::new(format!("{} WHERE id = $1", indicator_select())).bind(id);
    Ok(fetch_indicators(c, &sql).await?.into_iter().next())
}

async fn fetch_measurements<C: Conn + ?Sized>(c: &mut C, sql: &Sql) -> Result<Vec<Measurement>> {
    c.fetch::<MeasurementRow>(sql)
        .await?
        .into_iter()
        .map(MeasurementRow::into_measurement)
        .collect()
}

async fn measurement_in<C: Conn + ?Sized>(c: &mut C, id: Uuid) -> Result<Option<Measurement>> {
    let sql = Sql::new(format!("{} WHERE id = $1", measurement_select())).bind(id_text(id));
    Ok(fetch_measurements(c, &sql).await?.into_iter().next())
}

async fn measurements_of<C: Conn + ?Sized>(c: &mut C, indicator: &str) -> Result<Vec<Measurement>> {
    let sql = Sql::new(format!(
        "{} WHERE indicator_id = $1 ORDER BY id",
        measurement_select()
    ))
    .bind(indicator);
    fetch_measurements(c, &sql).await
}

/// Meetings matching `sql` (a meeting select), with their follow-ups.
async fn fetch_meetings<C: Conn + ?Sized>(c: &mut C, sql: &Sql) -> Result<Vec<Meeting>> {
    let rows: Vec<MeetingRow> = c.fetch(sql).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new("");
    let ids = in_list(&mut q, rows.iter().map(|r| r.meta.id.clone()));
    q.text = format!(
        "{} WHERE meeting_id {ids} ORDER BY meeting_id, position",
        select_sql("follow_ups", &[FollowUpRow::COLS])
    );
    let mut follow_ups: HashMap<String, Vec<FollowUpRow>> = HashMap::new();
    for f in c.fetch::<FollowUpRow>(&q).await? {
        follow_ups.entry(f.meeting_id.clone()).or_default().push(f);
    }
    rows.into_iter()
        .map(|r| {
            let fs = follow_ups.remove(&r.meta.id).unwrap_or_default();
            r.into_meeting(fs)
        })
        .collect()
}

async fn meeting_in<C: Conn + ?Sized>(c: &mut C, id: Uuid) -> Result<Option<Meeting>> {
    let sql = Sql::new(format!("{} WHERE id = $1", meeting_select())).bind(id_text(id));
    Ok(fetch_meetings(c, &sql).await?.into_iter().next())
}

/// Reads back a record just written in the same transaction; missing would be a store bug.
fn written<T>(kind: &'static str, id: Uuid, r: Option<T>) -> Result<T> {
    r.ok_or(StoreError::NotFound { kind, id })
}

// ---------------------------------------------------------------------------------------------
// Status schedules

/// Progress toward target per indicator id, computed at most once per transaction.
type ProgressCache = HashMap<String, Option<f64>>;

async fn progress<C: Conn + ?Sized>(
    c: &mut C,
    indicator: &str,
    cache: &mut ProgressCache,
) -> Result<Option<f64>> {
    if let Some(p) = cache.get(indicator) {
        return Ok(*p);
    }
    let p = match indicator_in(c, indicator).await? {
        Some(i) => {
            let ms: Vec<MeasurementDraft> = measurements_of(c, indicator)
                .await?
                .into_iter()
                .map(|m| m.body)
                .collect();
            i.body.progress(&ms)
        }
        // Foreign keys keep served indicators present; no indicator is no data.
        None => None,
    };
    cache.insert(indicator.to_owned(), p);
    Ok(p)
}

/// Recomputes a commitment's counted inputs and status schedule from its actions and the
/// measurements of the indicators it serves, and stores them.
async fn recompute<C: Conn + ?Sized>(
    c: &mut C,
    today: Date,
    id: &str,
    cache: &mut ProgressCache,
) -> Result<()> {
    recompute_many(c, today, &[id.to_owned()], cache).await
}

/// [`recompute`] for many commitments: their inputs are read a few hundred commitments per
/// query, and each schedule is stored by one reused statement. Unknown ids are skipped. The
/// status counts (`sql_status`) follow every schedule that changes, as a write on `today`.
async fn recompute_many<C: Conn + ?Sized>(
    c: &mut C,
    today: Date,
    ids: &[String],
    cache: &mut ProgressCache,
) -> Result<()> {
    for chunk in ids.chunks(IN_IDS) {
        let mut q = Sql::new("");
        let list = in_list(&mut q, chunk.iter().cloned());
        let with = |text: String| Sql {
            text,
            args: q.args.clone(),
        };
        let basis = sql_status::stored(c, chunk).await?;
        let counts: Vec<(String, i64, i64)> = c
            .fetch(&with(format!(
                "SELECT commitment_id, COUNT(*), COUNT(CASE WHEN completes THEN 1 END) \
                 FROM actions WHERE commitment_id {list} GROUP BY commitment_id"
            )))
            .await?;
        let counts: HashMap<String, (i64, i64)> =
            counts.into_iter().map(|(id, n, k)| (id, (n, k))).collect();
        let served_rows: Vec<(String, String)> = c
            .fetch(&with(format!(
                "SELECT commitment_id, indicator_id FROM commitment_indicators \
                 WHERE commitment_id {list} ORDER BY commitment_id, position"
            )))
            .await?;
        let mut served: HashMap<String, Vec<String>> = HashMap::new();
        for (commitment, indicator) in served_rows {
            served.entry(commitment).or_default().push(indicator);
        }
        let mut moved = Vec::new();
        for sql_status::Stored { id, start, share } in basis {
            let due = share.schedule.due;
            let (n_actions, n_completing) = counts.get(&id).copied().unwrap_or((0, 0));
            let mut progresses = Vec::new();
            for indicator in served.get(&id).map(Vec::as_slice).unwrap_or_default() {
                progresses.push(progress(c, indicator, cache).await?);
            }
            let s = StatusSchedule::of(&StatusInputs {
                start,
                due,
                n_actions: u64::try_from(n_actions).unwrap_or(0),
                completed: n_completing > 0,
                progress: progresses,
            });
            c.run(
                &Sql::new(
                    "UPDATE commitments SET n_actions = $1, completed = $2, sched_done = $3, \
                     sched_not_started_until = $4, sched_at_risk_from = $5 WHERE id = $6",
                )
                .bind(n_actions)
                .bind(n_completing > 0)
                .bind(s.done)
                .bind(date_text(s.not_started_until))
                .bind(date_text(s.at_risk_from))
                .bind(id.as_str()),
            )
            .await?;
            if share.schedule != s {
                let new = sql_status::Share {
                    schedule: s,
                    ..share.clone()
                };
                moved.push((share, new));
            }
        }
        let out: Vec<&sql_status::Share> = moved.iter().map(|m| &m.0).collect();
        let into: Vec<&sql_status::Share> = moved.iter().map(|m| &m.1).collect();
        sql_status::shift(c, today, &out, &into).await?;
    }
    Ok(())
}

/// Recomputes every commitment serving `indicator`.
async fn recompute_serving<C: Conn + ?Sized>(
    c: &mut C,
    today: Date,
    indicator: &str,
) -> Result<()> {
    let ids: Vec<(String,)> = c
        .fetch(
            &Sql::new(
                "SELECT DISTINCT commitment_id FROM commitment_indicators \
                 WHERE indicator_id = $1 ORDER BY commitment_id",
            )
            .bind(indicator),
        )
        .await?;
    let ids: Vec<String> = ids.into_iter().map(|r| r.0).collect();
    recompute_many(c, today, &ids, &mut ProgressCache::new()).await
}

/// Checks that every indicator a commitment would serve exists.
async fn check_indicators<C: Conn + ?Sized>(c: &mut C, indicators: &[Uuid]) -> Result<()> {
    let mut errors = Vec::new();
    for (i, id) in indicators.iter().enumerate() {
        let sql = Sql::new("SELECT COUNT(*) FROM indicators WHERE id = $1").bind(id_text(*id));
        if count(c, &sql).await? == 0 {
            errors.push(puente_domain::FieldError::new(
                format!("/indicators/{i}"),
                FieldErrorCode::UnknownIndicator,
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Invalid(errors).into())
    }
}

async fn insert_served<C: Conn + ?Sized>(c: &mut C, id: &str, indicators: &[Uuid]) -> Result<()> {
    for (position, indicator) in indicators.iter().enumerate() {
        c.run(
            &Sql::new(
                "INSERT INTO commitment_indicators (commitment_id, indicator_id, position) \
                 VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(id_text(*indicator))
            .bind(i64::try_from(position).unwrap_or(i64::MAX)),
        )
        .await?;
    }
    Ok(())
}

async fn insert_follow_ups<C: Conn + ?Sized>(
    c: &mut C,
    meeting: Uuid,
    body: &MeetingDraft,
) -> Result<()> {
    let insert = insert_sql("follow_ups", &[FollowUpRow::COLS]);
    for (i, f) in body.follow_ups.iter().enumerate() {
        let row = FollowUpRow::new(meeting, i, f);
        c.run(&Sql::new(insert.as_str()).bind_all(row.args()))
            .await
            .map_err(duplicate("follow-up", "/follow_ups", "/follow_ups"))?;
    }
    Ok(())
}

fn version_detail(version: i64) -> serde_json::Value {
    json!({ "version": version })
}

// ---------------------------------------------------------------------------------------------
// Bulk loading

/// The body of [`Store::import`], inside its write transaction. Every check runs before the
/// first insert, so a refused batch has written nothing even before the rollback.
async fn import_in<C: Conn + ?Sized>(
    c: &mut C,
    ctx: &WriteCtx,
    commitments: &[(RecordMeta, CommitmentDraft)],
    actions: &[(RecordMeta, ActionDraft)],
) -> Result<ImportSummary> {
    let in_batch: HashSet<Uuid> = commitments.iter().map(|(m, _)| m.id).collect();
    let indicators: BTreeSet<Uuid> = commitments
        .iter()
        .flat_map(|(_, b)| b.indicators.iter().copied())
        .collect();
    let indicators: Vec<String> = indicators.into_iter().map(id_text).collect();
    let known_indicators = existing_ids(c, "indicators", &indicators).await?;
    // Stored commitments gaining actions: checked to exist, and recomputed at the end.
    let outside: BTreeSet<Uuid> = actions
        .iter()
        .map(|(_, a)| a.commitment)
        .filter(|id| !in_batch.contains(id))
        .collect();
    let outside: Vec<String> = outside.into_iter().map(id_text).collect();
    let stored = existing_ids(c, "commitments", &outside).await?;

    let mut errors = Vec::new();
    let mut seen = HashSet::with_capacity(commitments.len());
    for (i, (m, b)) in commitments.iter().enumerate() {
        if !seen.insert(m.id) {
            errors.push(FieldError::new(
                format!("/commitments/{i}/id"),
                FieldErrorCode::Duplicate,
            ));
        }
        for (j, ind) in b.indicators.iter().enumerate() {
            if !known_indicators.contains(&id_text(*ind)) {
                errors.push(FieldError::new(
                    format!("/commitments/{i}/indicators/{j}"),
                    FieldErrorCode::UnknownIndicator,
                ));
            }
        }
    }
    let mut seen = HashSet::with_capacity(actions.len());
    for (i, (m, a)) in actions.iter().enumerate() {
        if !seen.insert(m.id) {
            errors.push(FieldError::new(
                format!("/actions/{i}/id"),
                FieldErrorCode::Duplicate,
            ));
        }
        if !in_batch.contains(&a.commitment) && !stored.contains(&id_text(a.commitment)) {
            errors.push(FieldError::new(
                format!("/actions/{i}/commitment"),
                FieldErrorCode::UnknownCommitment,
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Invalid(errors).into());
    }

    let mut rows = Vec::with_capacity(commitments.len());
    let mut new_shares = Vec::with_capacity(commitments.len());
    let mut served = Vec::new();
    let mut touched = Vec::with_capacity(commitments.len() + outside.len());
    let mut writes = Vec::with_capacity(commitments.len() + actions.len());
    for (m, b) in commitments {
        // Provisional, as in `create_commitment`: `recompute_many` below sets the real one.
        let provisional = StatusSchedule::of(&StatusInputs {
            start: b.start,
            due: b.due,
            n_actions: 0,
            completed: false,
            progress: Vec::new(),
        });
        let meta_row = MetaRow::from_meta(m);
        let mut args = meta_row.args();
        let columns = CommitmentBody::new(b);
        args.extend(columns.args());
        args.extend(ScheduleCols::new(&provisional).args());
        new_shares.push(sql_status::Share::new(&columns, provisional));
        args.extend([Arg::Int(0), Arg::Bool(false)]);
        rows.push(args);
        for (position, ind) in b.indicators.iter().enumerate() {
            served.push(vec![
                Arg::Text(meta_row.id.clone()),
                Arg::Text(id_text(*ind)),
                Arg::Int(i64::try_from(position).unwrap_or(i64::MAX)),
            ]);
        }
        writes.push((
            "commitment.create",
            meta_row.id.clone(),
            version_detail(m.version).to_string(),
        ));
        touched.push(meta_row.id);
    }
    let schedule_cols: &[&str] = &["n_actions", "completed"];
    insert_many(
        c,
        "commitments",
        &[
            MetaRow::COLS,
            CommitmentBody::COLS,
            ScheduleCols::COLS,
            schedule_cols,
        ],
        rows,
    )
    .await
    .map_err(duplicate("commitment", "/id", "/id"))?;
    insert_many(
        c,
        "commitment_indicators",
        &[&["commitment_id", "indicator_id", "position"]],
        served,
    )
    .await?;

    let mut rows = Vec::with_capacity(actions.len());
    let mut days = Vec::with_capacity(actions.len());
    for (m, a) in actions {
        let meta_row = MetaRow::from_meta(m);
        let mut args = meta_row.args();
        let body = ActionBody::new(m.id, a)?;
        args.extend(body.args());
        days.push((body.date, body.agency, 1));
        rows.push(args);
        writes.push((
            "action.create",
            meta_row.id,
            version_detail(m.version).to_string(),
        ));
    }
    insert_many(c, "actions", &[MetaRow::COLS, ActionBody::COLS], rows)
        .await
        .map_err(duplicate("action", "/id", "/id"))?;
    sql_status::count_actions_on(c, days).await?;

    // The new commitments are counted with the schedule they were inserted with; recomputing
    // moves each to its real one.
    let today = ctx.now.date();
    sql_status::shift(c, today, &[], &new_shares.iter().collect::<Vec<_>>()).await?;
    touched.extend(outside);
    recompute_many(c, today, &touched, &mut ProgressCache::new()).await?;
    audit_writes(c, ctx, writes).await?;
    let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
    Ok(ImportSummary {
        commitments: n(commitments.len()),
        actions: n(actions.len()),
        recomputed: n(touched.len()),
    })
}

// ---------------------------------------------------------------------------------------------
// The Store

#[async_trait]
impl<B: Backend> Store for B {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    async fn init_node(&self, ctx: &WriteCtx, party: PartyCode) -> Result<NodeInfo> {
        let mut tx = self.begin_write().await?;
        let at = truncate(ctx.now);
        tx.run(
            &Sql::new("INSERT INTO node (id, party, created_at) VALUES (1, $1, $2)")
                .bind(party.as_str())
                .bind(micros(at)),
        )
        .await
        .map_err(duplicate("node", "/party", "/party"))?;
        audit_write(
            &mut *tx,
            ctx,
            "node.init",
            party.to_string(),
            json!({ "party": party.as_str() }),
        )
        .await?;
        tx.commit().await?;
        Ok(NodeInfo {
            party,
            created_at: at,
        })
    }

    async fn node_info(&self) -> Result<Option<NodeInfo>> {
        let mut tx = self.begin_read().await?;
        let row = fetch_one::<NodeRow, _>(
            &mut *tx,
            &Sql::new("SELECT party, created_at FROM node WHERE id = 1"),
        )
        .await?;
        tx.commit().await?;
        row.map(NodeRow::into_info).transpose()
    }

    async fn create_user(&self, ctx: &WriteCtx, user: &User) -> Result<User> {
        let mut tx = self.begin_write().await?;
        let row = UserRow::from_user(user);
        tx.run(
            &Sql::new(insert_sql("users", &[MetaRow::COLS, UserRow::BODY]))
                .bind_all(row.meta.args())
                .bind_all(row.body_args()),
        )
        .await
        .map_err(duplicate("user", "/id", "/name"))?;
        let id = user.meta.id;
        audit_write(
            &mut *tx,
            ctx,
            "user.create",
            id_text(id),
            version_detail(user.meta.version),
        )
        .await?;
        let out = written("user", id, user_in(&mut *tx, id).await?)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>> {
        let mut tx = self.begin_read().await?;
        let out = user_in(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        let mut tx = self.begin_read().await?;
        let sql = Sql::new(format!("{} WHERE name = $1", user_select())).bind(name);
        let out = fetch_users(&mut *tx, &sql).await?.into_iter().next();
        tx.commit().await?;
        Ok(out)
    }

    async fn list_users(&self, page: Page) -> Result<Paged<User>> {
        let mut tx = self.begin_read().await?;
        let mut sql = Sql::new(user_select());
        keyset(&mut sql, Vec::new(), page);
        let items = fetch_users(&mut *tx, &sql).await?;
        tx.commit().await?;
        Ok(paged(items, page, |u| u.meta.id))
    }

    async fn update_user(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        changes: &UserChanges,
    ) -> Result<User> {
        self.credentials().forget();
        let mut tx = self.begin_write().await?;
        let n = tx
            .run(
                &Sql::new(
                    "UPDATE users SET role = $1, agency = $2, disabled = $3, lang = $4, \
                     password_hash = COALESCE($5, password_hash), updated_at = $6, \
                     version = version + 1 WHERE id = $7 AND version = $8",
                )
                .bind(changes.role.as_str())
                .bind(changes.agency.clone())
                .bind(changes.disabled)
                .bind(changes.lang.clone())
                .bind(changes.password_hash.clone())
                .bind(micros(ctx.now))
                .bind(id_text(id))
                .bind(version),
            )
            .await?;
        if n == 0 {
            return Err(stale(&mut *tx, "users", "user", id, version).await);
        }
        // Whoever holds a session of the old password, or of a user now disabled, is signed
        // out: re-enabling a user must not revive the sessions it had.
        let sessions_ended = if changes.password_hash.is_some() || changes.disabled {
            tx.run(&Sql::new("DELETE FROM sessions WHERE user_id = $1").bind(id_text(id)))
                .await?
        } else {
            0
        };
        let detail = json!({
            "version": version + 1,
            "password_changed": changes.password_hash.is_some(),
            "sessions_ended": sessions_ended,
        });
        audit_write(&mut *tx, ctx, "user.update", id_text(id), detail).await?;
        let out = written("user", id, user_in(&mut *tx, id).await?)?;
        tx.commit().await?;
        self.credentials().forget();
        Ok(out)
    }

    async fn create_token(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        user: Uuid,
        secret_hash: &[u8; 32],
        label: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if user_in(&mut *tx, user).await?.is_none() {
            return Err(StoreError::NotFound {
                kind: "user",
                id: user,
            });
        }
        tx.run(
            &Sql::new(
                "INSERT INTO tokens (id, user_id, secret_hash, label, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id_text(id))
            .bind(id_text(user))
            .bind(hash_hex(secret_hash))
            .bind(label)
            .bind(micros(ctx.now)),
        )
        .await
        .map_err(duplicate("token", "/id", "/secret"))?;
        let detail = json!({ "user": id_text(user), "label": label });
        audit_write(&mut *tx, ctx, "token.create", id_text(id), detail).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn user_by_token(&self, secret_hash: &[u8; 32]) -> Result<Option<User>> {
        if let Some(user) = self.credentials().recall(secret_hash) {
            return Ok(Some(user));
        }
        let generation = self.credentials().generation();
        let mut c = self.read_one().await?;
        let sql = Sql::new(format!(
            "{} WHERE id = (SELECT user_id FROM tokens WHERE secret_hash = $1) \
             AND disabled = FALSE",
            user_select()
        ))
        .bind(hash_hex(secret_hash));
        let user = fetch_users(&mut *c, &sql).await?.into_iter().next();
        drop(c);
        if let Some(user) = &user {
            self.credentials().remember(generation, *secret_hash, user);
        }
        Ok(user)
    }

    async fn list_tokens(&self, user: Option<Uuid>) -> Result<Vec<TokenInfo>> {
        let mut tx = self.begin_read().await?;
        let mut sql = Sql::new("SELECT id, user_id, label, created_at FROM tokens");
        if let Some(user) = user {
            sql = sql.bind(id_text(user));
            sql.text.push_str(" WHERE user_id = $1");
        }
        sql.text.push_str(" ORDER BY id");
        let rows: Vec<(String, String, String, i64)> = tx.fetch(&sql).await?;
        tx.commit().await?;
        rows.into_iter().map(token_info).collect()
    }

    async fn revoke_token(&self, ctx: &WriteCtx, id: Uuid) -> Result<TokenInfo> {
        self.credentials().forget();
        let mut tx = self.begin_write().await?;
        let row: Option<(String, String, String, i64)> = fetch_one(
            &mut *tx,
            &Sql::new("SELECT id, user_id, label, created_at FROM tokens WHERE id = $1")
                .bind(id_text(id)),
        )
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound { kind: "token", id });
        };
        let info = token_info(row)?;
        tx.run(&Sql::new("DELETE FROM tokens WHERE id = $1").bind(id_text(id)))
            .await?;
        let detail = json!({ "user": id_text(info.user), "label": info.label });
        audit_write(&mut *tx, ctx, "token.revoke", id_text(id), detail).await?;
        tx.commit().await?;
        self.credentials().forget();
        Ok(info)
    }

    async fn create_session(
        &self,
        ctx: &WriteCtx,
        secret_hash: &[u8; 32],
        user: Uuid,
        expires: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if user_in(&mut *tx, user).await?.is_none() {
            return Err(StoreError::NotFound {
                kind: "user",
                id: user,
            });
        }
        // Housekeeping on the way: logins are rare enough that this costs nothing, and no
        // expired session lingers in the table for long.
        tx.run(&Sql::new("DELETE FROM sessions WHERE expires_at <= $1").bind(micros(ctx.now)))
            .await?;
        tx.run(
            &Sql::new(
                "INSERT INTO sessions (secret_hash, user_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(hash_hex(secret_hash))
            .bind(id_text(user))
            .bind(micros(ctx.now))
            .bind(micros(expires)),
        )
        .await
        .map_err(duplicate("session", "/secret", "/secret"))?;
        audit_write(&mut *tx, ctx, "login.success", id_text(user), json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn user_by_session(
        &self,
        secret_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<User>> {
        let mut c = self.read_one().await?;
        let sql = Sql::new(format!(
            "{} WHERE id = (SELECT user_id FROM sessions WHERE secret_hash = $1 \
             AND expires_at > $2) AND disabled = FALSE",
            user_select()
        ))
        .bind(hash_hex(secret_hash))
        .bind(micros(now));
        Ok(fetch_users(&mut *c, &sql).await?.into_iter().next())
    }

    async fn delete_session(&self, ctx: &WriteCtx, secret_hash: &[u8; 32]) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let user: Option<(String,)> = fetch_one(
            &mut *tx,
            &Sql::new("SELECT user_id FROM sessions WHERE secret_hash = $1")
                .bind(hash_hex(secret_hash)),
        )
        .await?;
        let Some((user,)) = user else {
            return Ok(false);
        };
        tx.run(
            &Sql::new("DELETE FROM sessions WHERE secret_hash = $1").bind(hash_hex(secret_hash)),
        )
        .await?;
        audit_write(&mut *tx, ctx, "logout", user, json!({})).await?;
        tx.commit().await?;
        Ok(true)
    }

    // The exchange half lives in `sql_exchange`, one function per method.

    async fn put_peer(&self, ctx: &WriteCtx, peer: &NewPeer) -> Result<Peer> {
        sql_exchange::put_peer(self, ctx, peer).await
    }

    async fn peer(&self, party: PartyCode) -> Result<Option<Peer>> {
        sql_exchange::peer(self, party).await
    }

    async fn peer_by_fingerprint(&self, fingerprint: &str) -> Result<Option<Peer>> {
        sql_exchange::peer_by_fingerprint(self, fingerprint).await
    }

    async fn list_peers(&self) -> Result<Vec<Peer>> {
        sql_exchange::list_peers(self).await
    }

    async fn send(
        &self,
        ctx: &WriteCtx,
        to: PartyCode,
        effect: Effect<'_>,
        seal: Sealer<'_>,
    ) -> Result<Sent> {
        sql_exchange::send(self, ctx, to, effect, seal).await
    }

    async fn send_batch(&self, jobs: Vec<crate::SendJob>) -> Result<Vec<Result<Sent>>> {
        sql_exchange::send_batch(self, jobs).await
    }

    async fn outbox_after(
        &self,
        to: PartyCode,
        after: u64,
        limit: u32,
    ) -> Result<Vec<EnvelopeRecord>> {
        sql_exchange::outbox(self, to, after, limit).await
    }

    async fn record_receipt(
        &self,
        peer: PartyCode,
        receipt: &SealedEnvelope,
        accepted: &[Accepted],
        now: OffsetDateTime,
    ) -> Result<u64> {
        sql_exchange::record_receipt(self, peer, receipt, accepted, now).await
    }

    async fn record_delivery_error(
        &self,
        peer: PartyCode,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        sql_exchange::record_delivery_error(self, peer, error, now).await
    }

    async fn receive(
        &self,
        ctx: &WriteCtx,
        from: PartyCode,
        batch: Vec<Inbound<'_>>,
        seal_receipt: ReceiptSealer<'_>,
    ) -> Result<ReceiveReport> {
        sql_exchange::receive(self, ctx, from, batch, seal_receipt).await
    }

    async fn get_item(&self, id: Uuid) -> Result<Option<ExchangeItem>> {
        sql_exchange::get_item(self, id).await
    }

    async fn list_items(&self, filter: &ItemFilter, page: Page) -> Result<Paged<ExchangeItem>> {
        sql_exchange::list_items(self, filter, page).await
    }

    async fn list_envelopes(
        &self,
        peer: PartyCode,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, EnvelopeRecord)>> {
        sql_exchange::list_envelopes(self, peer, after, limit).await
    }

    async fn envelope_by_id(&self, peer: PartyCode, id: Uuid) -> Result<Option<EnvelopeRecord>> {
        sql_exchange::envelope_by_id(self, peer, id).await
    }

    async fn log_state(&self, peer: PartyCode, own: bool) -> Result<Option<crate::log::LogState>> {
        sql_log::state(self, peer, own).await
    }

    async fn log_leaves(
        &self,
        origin: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<(u64, puente_log::Leaf)>> {
        sql_log::leaves(self, origin, from, limit).await
    }

    async fn log_indexes_of_envelopes(
        &self,
        peer: PartyCode,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, u64)>> {
        sql_log::indexes_of_envelopes(self, peer, ids).await
    }

    async fn log_subtree_heads(
        &self,
        origin: &str,
        subtrees: &[puente_log::Subtree],
    ) -> Result<Vec<puente_log::Hash>> {
        sql_log::subtree_heads(self, origin, subtrees).await
    }

    async fn put_checkpoint(&self, checkpoint: &crate::log::StoredCheckpoint) -> Result<bool> {
        sql_log::put_checkpoint(self, checkpoint).await
    }

    async fn put_cosigned(
        &self,
        origin: &str,
        size: u64,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<()> {
        sql_log::put_cosigned(self, origin, size, note, at).await
    }

    async fn checkpoints(
        &self,
        origin: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<crate::log::StoredCheckpoint>> {
        sql_log::checkpoints(self, origin, from, limit).await
    }

    async fn latest_checkpoint(
        &self,
        origin: &str,
        cosigned: bool,
    ) -> Result<Option<crate::log::StoredCheckpoint>> {
        sql_log::latest_checkpoint(self, origin, cosigned).await
    }

    async fn witness(
        &self,
        ctx: &WriteCtx,
        request: &crate::log::WitnessRequest,
        cosign: crate::log::Cosigner<'_>,
        dispute: crate::log::DisputeBuilder<'_>,
    ) -> Result<crate::log::WitnessOutcome> {
        sql_log::witness(self, ctx, request, cosign, dispute).await
    }

    async fn raise_dispute(
        &self,
        ctx: &WriteCtx,
        dispute: &crate::log::NewDispute,
    ) -> Result<Uuid> {
        sql_log::raise(self, ctx, dispute).await
    }

    async fn disputes(&self, limit: u32) -> Result<Vec<crate::log::DisputeRecord>> {
        sql_log::disputes(self, limit).await
    }

    async fn dispute(&self, id: Uuid) -> Result<Option<crate::log::DisputeRecord>> {
        sql_log::dispute(self, id).await
    }

    async fn settle_pending(
        &self,
        peer: PartyCode,
    ) -> Result<Vec<(u64, puente_log::Hash, crate::log::Unlogged)>> {
        sql_log::settle_pending(self, peer).await
    }

    async fn unlogged(
        &self,
        peer: PartyCode,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<crate::log::Unlogged>> {
        sql_log::unlogged(self, peer, cutoff, limit).await
    }

    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry> {
        let mut tx = self.begin_write().await?;
        let out = append(&mut *tx, entry).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn append_audits(&self, entries: Vec<NewAuditEntry>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        audit_entries(&mut *tx, entries).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn last_audit_seq(&self) -> Result<i64> {
        let mut tx = self.begin_read().await?;
        let n = count(
            &mut *tx,
            &Sql::new("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM audit"),
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn list_audit(&self, after_seq: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>> {
        let mut tx = self.begin_read().await?;
        let sql = Sql::new(format!(
            "{} WHERE seq > $1 ORDER BY seq LIMIT $2",
            select_sql("audit", &[AuditRow::COLS])
        ))
        .bind(after_seq.unwrap_or(i64::MIN))
        .bind(i64::from(limit));
        let rows: Vec<AuditRow> = tx.fetch(&sql).await?;
        tx.commit().await?;
        rows.into_iter().map(AuditRow::into_entry).collect()
    }

    async fn verify_audit(&self) -> Result<AuditVerification> {
        let mut tx = self.begin_read().await?;
        let out = verify_chain(&mut *tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn create_commitment(
        &self,
        ctx: &WriteCtx,
        meta: &RecordMeta,
        body: &CommitmentDraft,
    ) -> Result<Commitment> {
        let mut tx = self.begin_write().await?;
        check_indicators(&mut *tx, &body.indicators).await?;
        // A new commitment has no actions yet, so its schedule is known before the insert: what
        // `recompute` would find afterwards, without the four statements it takes to find it.
        let mut cache = ProgressCache::new();
        let mut progresses = Vec::with_capacity(body.indicators.len());
        for indicator in &body.indicators {
            progresses.push(progress(&mut *tx, &id_text(*indicator), &mut cache).await?);
        }
        let schedule = StatusSchedule::of(&StatusInputs {
            start: body.start,
            due: body.due,
            n_actions: 0,
            completed: false,
            progress: progresses,
        });
        let meta_row = MetaRow::from_meta(meta);
        let id = meta_row.id.clone();
        let columns = CommitmentBody::new(body);
        let cols: &[&str] = &["n_actions", "completed"];
        tx.run(
            &Sql::new(insert_sql(
                "commitments",
                &[
                    MetaRow::COLS,
                    CommitmentBody::COLS,
                    ScheduleCols::COLS,
                    cols,
                ],
            ))
            .bind_all(meta_row.args())
            .bind_all(columns.args())
            .bind_all(ScheduleCols::new(&schedule).args())
            .bind(0i64)
            .bind(false),
        )
        .await
        .map_err(duplicate("commitment", "/id", "/id"))?;
        insert_served(&mut *tx, &id, &body.indicators).await?;
        let share = sql_status::Share::new(&columns, schedule);
        sql_status::shift(&mut *tx, ctx.now.date(), &[], &[&share]).await?;
        audit_write(
            &mut *tx,
            ctx,
            "commitment.create",
            id,
            version_detail(meta.version),
        )
        .await?;
        let out = written(
            "commitment",
            meta.id,
            commitment_in(&mut *tx, meta.id).await?,
        )?;
        tx.commit().await?;
        Ok(out)
    }

    async fn get_commitment(&self, id: Uuid) -> Result<Option<Commitment>> {
        let mut tx = self.begin_read().await?;
        let out = commitment_in(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn get_commitments(&self, ids: &[Uuid]) -> Result<Vec<Commitment>> {
        let mut out = Vec::with_capacity(ids.len());
        let mut tx = self.begin_read().await?;
        for chunk in ids.chunks(IN_IDS) {
            let mut sql = Sql::new("");
            let list = in_list(&mut sql, chunk.iter().copied().map(id_text));
            sql.text = format!("{} WHERE id {list}", commitment_select());
            out.extend(fetch_commitments(&mut *tx, &sql).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn list_commitments(
        &self,
        filter: &CommitmentFilter,
        page: Page,
    ) -> Result<Paged<Commitment>> {
        let sql = commitment_list_sql(filter, page);
        let mut tx = self.begin_read().await?;
        let items = fetch_commitments(&mut *tx, &sql).await?;
        tx.commit().await?;
        Ok(paged(items, page, |c| c.meta.id))
    }

    async fn count_commitments(
        &self,
        agency: Option<&str>,
        today: Date,
    ) -> Result<Vec<(AreaCode, Status, u64)>> {
        let mut tx = self.begin_read().await?;
        let rows = sql_status::counts(&mut *tx, agency, today).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|(area, status, n)| {
                let bad = |what: &str| StoreError::Corrupt {
                    kind: "commitment count",
                    id: area.clone(),
                    reason: format!("unreadable {what}"),
                };
                Ok((
                    AreaCode::parse(&area).ok_or_else(|| bad(&area))?,
                    status.parse::<Status>().map_err(|()| bad(&status))?,
                    u64::try_from(n).map_err(|_| bad("negative"))?,
                ))
            })
            .collect()
    }

    async fn update_commitment(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        body: &CommitmentDraft,
    ) -> Result<Commitment> {
        let mut tx = self.begin_write().await?;
        let id_s = id_text(id);
        let before = sql_status::stored(&mut *tx, std::slice::from_ref(&id_s)).await?;
        let columns = CommitmentBody::new(body);
        let n = tx
            .run(
                &Sql::new(update_sql("commitments", CommitmentBody::COLS))
                    .bind_all(columns.args())
                    .bind(micros(ctx.now))
                    .bind(id_text(id))
                    .bind(version),
            )
            .await?;
        if n == 0 {
            return Err(stale(&mut *tx, "commitments", "commitment", id, version).await);
        }
        check_indicators(&mut *tx, &body.indicators).await?;
        // The body may move the commitment to another agency, area or due date: its share moves
        // with the schedule it had (now ending on the new due date), and `recompute` below moves
        // that to the new schedule.
        let before: Vec<sql_status::Share> = before.into_iter().map(|b| b.share).collect();
        let after: Vec<sql_status::Share> = before
            .iter()
            .map(|b| {
                let schedule = StatusSchedule {
                    due: body.due,
                    ..b.schedule
                };
                sql_status::Share::new(&columns, schedule)
            })
            .collect();
        sql_status::shift(
            &mut *tx,
            ctx.now.date(),
            &before.iter().collect::<Vec<_>>(),
            &after.iter().collect::<Vec<_>>(),
        )
        .await?;
        tx.run(
            &Sql::new("DELETE FROM commitment_indicators WHERE commitment_id = $1")
                .bind(id_s.as_str()),
        )
        .await?;
        insert_served(&mut *tx, &id_s, &body.indicators).await?;
        recompute(&mut *tx, ctx.now.date(), &id_s, &mut ProgressCache::new()).await?;
        audit_write(
            &mut *tx,
            ctx,
            "commitment.update",
            id_s,
            version_detail(version + 1),
        )
        .await?;
        let out = written("commitment", id, commitment_in(&mut *tx, id).await?)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn create_action(
        &self,
        ctx: &WriteCtx,
        meta: &RecordMeta,
        body: &ActionDraft,
    ) -> Result<Action> {
        let mut tx = self.begin_write().await?;
        let meta_row = MetaRow::from_meta(meta);
        let row = ActionBody::new(meta.id, body)?;
        let exists = Sql::new("SELECT COUNT(*) FROM commitments WHERE id = $1")
            .bind(row.commitment_id.as_str());
        if count(&mut *tx, &exists).await? == 0 {
            return Err(Invalid::one("/commitment", FieldErrorCode::UnknownCommitment).into());
        }
        tx.run(
            &Sql::new(insert_sql("actions", &[MetaRow::COLS, ActionBody::COLS]))
                .bind_all(meta_row.args())
                .bind_all(row.args()),
        )
        .await
        .map_err(duplicate("action", "/id", "/id"))?;
        sql_status::count_actions_on(&mut *tx, [(row.date.clone(), row.agency.clone(), 1)]).await?;
        recompute(
            &mut *tx,
            ctx.now.date(),
            &row.commitment_id,
            &mut ProgressCache::new(),
        )
        .await?;
        audit_write(
            &mut *tx,
            ctx,
            "action.create",
            meta_row.id,
            version_detail(meta.version),
        )
        .await?;
        let out = written("action", meta.id, action_in(&mut *tx, meta.id).await?)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn import(
        &self,
        ctx: &WriteCtx,
        commitments: &[(RecordMeta, CommitmentDraft)],
        actions: &[(RecordMeta, ActionDraft)],
    ) -> Result<ImportSummary> {
        if commitments.is_empty() && actions.is_empty() {
            return Ok(ImportSummary::default());
        }
        let mut tx = self.begin_write().await?;
        let out = import_in(&mut *tx, ctx, commitments, actions).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn after_bulk_load(&self) -> Result<()> {
        Ok(Backend::after_bulk_load(self).await?)
    }

    async fn get_action(&self, id: Uuid) -> Result<Option<Action>> {
        let mut tx = self.begin_read().await?;
        let out = action_in(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn list_actions(&self, filter: &ActionFilter, page: Page) -> Result<Paged<Action>> {
        let mut sql = Sql::new(action_select());
        let mut conds = Vec::new();
        if let Some(c) = filter.commitment {
            conds.push(format!("commitment_id = {}", sql.param(id_text(c))));
        }
        if let Some(p) = filter.party {
            conds.push(format!("origin = {}", sql.param(p.as_str())));
        }
        if let Some(a) = &filter.agency {
            conds.push(format!("agency = {}", sql.param(a.as_str())));
        }
        if let Some(d) = filter.date_from {
            conds.push(format!("date >= {}", sql.param(date_text(d))));
        }
        if let Some(d) = filter.date_to {
            conds.push(format!("date <= {}", sql.param(date_text(d))));
        }
        if filter.latest_first {
            // One page, walking the (date, id) index backwards: no sort of the whole range.
            if !conds.is_empty() {
                sql.text.push_str(" WHERE ");
                sql.text.push_str(&conds.join(" AND "));
            }
            let limit = sql.param(i64::from(page.limit));
            sql.text
                .push_str(&format!(" ORDER BY date DESC, id DESC LIMIT {limit}"));
            let mut tx = self.begin_read().await?;
            let items = fetch_actions(&mut *tx, &sql).await?;
            tx.commit().await?;
            return Ok(Paged { items, next: None });
        }
        keyset(&mut sql, conds, page);
        let mut tx = self.begin_read().await?;
        let items = fetch_actions(&mut *tx, &sql).await?;
        tx.commit().await?;
        Ok(paged(items, page, |a| a.meta.id))
    }

    async fn count_actions(&self, agency: Option<&str>, from: Date, to: Date) -> Result<u64> {
        let mut tx = self.begin_read().await?;
        let n = sql_status::actions_in(&mut *tx, agency, from, to).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn update_action(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        body: &ActionDraft,
    ) -> Result<Action> {
        let mut tx = self.begin_write().await?;
        let commitment =
            version_and_parent(&mut *tx, "actions", "commitment_id", "action", id, version).await?;
        let row = ActionBody::new(id, body)?;
        if row.commitment_id != commitment {
            return Err(Invalid::one("/commitment", FieldErrorCode::OutOfRange).into());
        }
        let was: Vec<(String, String)> = tx
            .fetch(&Sql::new("SELECT date, agency FROM actions WHERE id = $1").bind(id_text(id)))
            .await?;
        let n = tx
            .run(
                &Sql::new(update_sql("actions", ActionBody::COLS))
                    .bind_all(row.args())
                    .bind(micros(ctx.now))
                    .bind(id_text(id))
                    .bind(version),
            )
            .await?;
        if n == 0 {
            return Err(stale(&mut *tx, "actions", "action", id, version).await);
        }
        let moved = was
            .into_iter()
            .map(|(day, agency)| (day, agency, -1))
            .chain([(row.date.clone(), row.agency.clone(), 1)]);
        sql_status::count_actions_on(&mut *tx, moved).await?;
        recompute(
            &mut *tx,
            ctx.now.date(),
            &commitment,
            &mut ProgressCache::new(),
        )
        .await?;
        audit_write(
            &mut *tx,
            ctx,
            "action.update",
            id_text(id),
            version_detail(version + 1),
        )
        .await?;
        let out = written("action", id, action_in(&mut *tx, id).await?)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn create_indicator(
        &self,
        ctx: &WriteCtx,
        meta: &RecordMeta,
        body: &IndicatorDraft,
    ) -> Result<Indicator> {
        let mut tx = self.begin_write().await?;
        let meta_row = MetaRow::from_meta(meta);
        tx.run(
            &Sql::new(insert_sql(
                "indicators",
                &[MetaRow::COLS, IndicatorBody::COLS],
            ))
            .bind_all(meta_row.args())
            .bind_all(IndicatorBody::new(meta.id, body)?.args()),
        )
        .await
        .map_err(duplicate("indicator", "/id", "/code"))?;
        let out = written(
            "indicator",
            meta.id,
            indicator_in(&mut *tx, &meta_row.id).await?,
        )?;
        audit_write(
            &mut *tx,
            ctx,
            "indicator.create",
            meta_row.id,
            version_detail(meta.version),
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn get_indicator(&self, id: Uuid) -> Result<Option<Indicator>> {
        let mut tx = self.begin_read().await?;
        let out = indicator_in(&mut *tx, &id_text(id)).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn indicator_by_code(&self, code: &str) -> Result<Option<Indicator>> {
        let mut tx = self.begin_read().await?;
        let sql = Sql::new(format!("{} WHERE code = $1", indicator_select())).bind(code);
        let out = fetch_indicators(&mut *tx, &sql).await?.into_iter().next();
        tx.commit().await?;
        Ok(out)
    }

    async fn list_indicators(
        &self,
        filter: &IndicatorFilter,
        page: Page,
    ) -> Result<Paged<Indicator>> {
        let mut sql = Sql::new(indicator_select());
        let mut conds = Vec::new();
        if let Some(area) = &filter.area {
            conds.push(format!("area = {}", sql.param(area.as_str())));
        }
        keyset(&mut sql, conds, page);
        let mut tx = self.begin_read().await?;
        let items = fetch_indicators(&mut *tx, &sql).await?;
        tx.commit().await?;
        Ok(paged(items, page, |i| i.meta.id))
    }

    async fn update_indicator(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        body: &IndicatorDraft,
    ) -> Result<Indicator> {
        let mut tx = self.begin_write().await?;
        let n = tx
            .run(
                &Sql::new(update_sql("indicators", IndicatorBody::COLS))
                    .bind_all(IndicatorBody::new(id, body)?.args())
                    .bind(micros(ctx.now))
                    .bind(id_text(id))
                    .bind(version),
            )
            .await
            .map_err(duplicate("indicator", "/id", "/code"))?;
        if n == 0 {
            return Err(stale(&mut *tx, "indicators", "indicator", id, version).await);
        }
        let id_s = id_text(id);
        recompute_serving(&mut *tx, ctx.now.date(), &id_s).await?;
        let out = written("indicator", id, indicator_in(&mut *tx, &id_s).await?)?;
        audit_write(
            &mut *tx,
            ctx,
            "indicator.update",
            id_s,
            version_detail(version + 1),
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn create_measurement(
        &self,
        ctx: &WriteCtx,
        meta: &RecordMeta,
        body: &MeasurementDraft,
    ) -> Result<Measurement> {
        let mut tx = self.begin_write().await?;
        let meta_row = MetaRow::from_meta(meta);
        let row = MeasurementBody::new(body);
        let exists = Sql::new("SELECT COUNT(*) FROM indicators WHERE id = $1")
            .bind(row.indicator_id.as_str());
        if count(&mut *tx, &exists).await? == 0 {
            return Err(Invalid::one("/indicator", FieldErrorCode::UnknownIndicator).into());
        }
        tx.run(
            &Sql::new(insert_sql(
                "measurements",
                &[MetaRow::COLS, MeasurementBody::COLS],
            ))
            .bind_all(meta_row.args())
            .bind_all(row.args()),
        )
        .await
        .map_err(duplicate("measurement", "/id", "/period"))?;
        recompute_serving(&mut *tx, ctx.now.date(), &row.indicator_id).await?;
        audit_write(
            &mut *tx,
            ctx,
            "measurement.create",
            meta_row.id,
            version_detail(meta.version),
        )
        .await?;
        let out = written(
            "measurement",
            meta.id,
            measurement_in(&mut *tx, meta.id).await?,
        )?;
        tx.commit().await?;
        Ok(out)
    }

    async fn list_measurements(&self, indicator: Uuid) -> Result<Vec<Measurement>> {
        let mut tx = self.begin_read().await?;
        let out = measurements_of(&mut *tx, &id_text(indicator)).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn update_measurement(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        body: &MeasurementDraft,
    ) -> Result<Measurement> {
        let mut tx = self.begin_write().await?;
        let indicator = version_and_parent(
            &mut *tx,
            "measurements",
            "indicator_id",
            "measurement",
            id,
            version,
        )
        .await?;
        let row = MeasurementBody::new(body);
        if row.indicator_id != indicator {
            return Err(Invalid::one("/indicator", FieldErrorCode::OutOfRange).into());
        }
        let n = tx
            .run(
                &Sql::new(update_sql("measurements", MeasurementBody::COLS))
                    .bind_all(row.args())
                    .bind(micros(ctx.now))
                    .bind(id_text(id))
                    .bind(version),
            )
            .await
            .map_err(duplicate("measurement", "/id", "/period"))?;
        if n == 0 {
            return Err(stale(&mut *tx, "measurements", "measurement", id, version).await);
        }
        recompute_serving(&mut *tx, ctx.now.date(), &indicator).await?;
        audit_write(
            &mut *tx,
            ctx,
            "measurement.update",
            id_text(id),
            version_detail(version + 1),
        )
        .await?;
        let out = written("measurement", id, measurement_in(&mut *tx, id).await?)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn create_meeting(
        &self,
        ctx: &WriteCtx,
        meta: &RecordMeta,
        body: &MeetingDraft,
    ) -> Result<Meeting> {
        let mut tx = self.begin_write().await?;
        let meta_row = MetaRow::from_meta(meta);
        tx.run(
            &Sql::new(insert_sql("meetings", &[MetaRow::COLS, MeetingBody::COLS]))
                .bind_all(meta_row.args())
                .bind_all(MeetingBody::new(meta.id, body)?.args()),
        )
        .await
        .map_err(duplicate("meeting", "/id", "/id"))?;
        insert_follow_ups(&mut *tx, meta.id, body).await?;
        audit_write(
            &mut *tx,
            ctx,
            "meeting.create",
            meta_row.id,
            version_detail(meta.version),
        )
        .await?;
        let out = written("meeting", meta.id, meeting_in(&mut *tx, meta.id).await?)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn get_meeting(&self, id: Uuid) -> Result<Option<Meeting>> {
        let mut tx = self.begin_read().await?;
        let out = meeting_in(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn list_meetings(&self, filter: &MeetingFilter, page: Page) -> Result<Paged<Meeting>> {
        let mut sql = Sql::new(meeting_select());
        let mut conds = Vec::new();
        if let Some(d) = filter.date_from {
            conds.push(format!("date >= {}", sql.param(date_text(d))));
        }
        if let Some(d) = filter.date_to {
            conds.push(format!("date <= {}", sql.param(date_text(d))));
        }
        keyset(&mut sql, conds, page);
        let mut tx = self.begin_read().await?;
        let items = fetch_meetings(&mut *tx, &sql).await?;
        tx.commit().await?;
        Ok(paged(items, page, |m| m.meta.id))
    }

    async fn update_meeting(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        body: &MeetingDraft,
    ) -> Result<Meeting> {
        let mut tx = self.begin_write().await?;
        let n = tx
            .run(
                &Sql::new(update_sql("meetings", MeetingBody::COLS))
                    .bind_all(MeetingBody::new(id, body)?.args())
                    .bind(micros(ctx.now))
                    .bind(id_text(id))
                    .bind(version),
            )
            .await?;
        if n == 0 {
            return Err(stale(&mut *tx, "meetings", "meeting", id, version).await);
        }
        tx.run(&Sql::new("DELETE FROM follow_ups WHERE meeting_id = $1").bind(id_text(id)))
            .await?;
        insert_follow_ups(&mut *tx, id, body).await?;
        audit_write(
            &mut *tx,
            ctx,
            "meeting.update",
            id_text(id),
            version_detail(version + 1),
        )
        .await?;
        let out = written("meeting", id, meeting_in(&mut *tx, id).await?)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn previous_meeting_date(&self, date: Date, excluding: Uuid) -> Result<Option<Date>> {
        let mut tx = self.begin_read().await?;
        let sql = Sql::new("SELECT MAX(date) FROM meetings WHERE date < $1 AND id <> $2")
            .bind(date_text(date))
            .bind(id_text(excluding));
        let row = fetch_one::<(Option<String>,), _>(&mut *tx, &sql).await?;
        tx.commit().await?;
        match row.and_then(|r| r.0) {
            Some(d) => Ok(Some(parse_date("meeting", "previous", &d)?)),
            None => Ok(None),
        }
    }

    async fn agenda_candidates(
        &self,
        date: Date,
        previous: Option<Date>,
        excluding: Uuid,
    ) -> Result<Vec<(AgendaSubject, StatusSchedule)>> {
        // Commitments: not done and overdue or at risk on `date`, or due in (previous, date].
        let mut cs = Sql::new(
            "SELECT id, due_date, sched_done, sched_not_started_until, sched_at_risk_from \
             FROM commitments",
        );
        let d = cs.param(date_text(date));
        let due_window = match previous {
            Some(p) => format!(
                "(due_date <= {d} AND due_date > {})",
                cs.param(date_text(p))
            ),
            None => format!("due_date <= {d}"),
        };
        cs.text.push_str(&format!(
            " WHERE (sched_done = FALSE AND (due_date < {d} OR \
             (sched_at_risk_from <= {d} AND sched_not_started_until <= {d}))) OR {due_window} \
             ORDER BY id"
        ));
        let mut tx = self.begin_read().await?;
        let commitments: Vec<ScheduleRow> = tx.fetch(&cs).await?;
        let follow_ups = follow_up_candidates(&mut *tx, date, previous, excluding).await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(commitments.len() + follow_ups.len());
        for row in commitments {
            let (id, schedule) = row.into_schedule()?;
            out.push((AgendaSubject::Commitment(id), schedule));
        }
        out.extend(follow_ups);
        Ok(out)
    }

    async fn agenda_head(
        &self,
        date: Date,
        previous: Option<Date>,
        excluding: Uuid,
        first: usize,
    ) -> Result<(Vec<(AgendaSubject, StatusSchedule)>, u64)> {
        // One query per reason, each in the rule's order (due date, then id). Due, and neither
        // overdue nor at risk: done and due in (previous, date], or due on the day itself and
        // not started or on track. Its count is two index ranges: one `OR` read every row's
        // schedule from the table (15 ms on PostgreSQL over the bench data).
        let mut q = Sql::new("");
        let d = q.param(date_text(date));
        let window = match previous {
            Some(p) => format!("due_date <= {d} AND due_date > {}", q.param(date_text(p))),
            None => format!("due_date <= {d}"),
        };
        let on = |s: Status| status_condition(s, &d);
        let due_done = format!("{window} AND {}", on(Status::Done));
        // `window` holds the day itself; it is repeated so that every statement built from `q`
        // uses each of its parameters (PostgreSQL refuses one bound and not used).
        let due_today = format!(
            "{window} AND due_date = {d} AND (({}) OR ({}))",
            on(Status::NotStarted),
            on(Status::OnTrack)
        );
        let mut tx = self.begin_read().await?;
        let counted = sql_status::counts(&mut *tx, None, date).await?;
        let kept = |s: Status| -> u64 {
            counted
                .iter()
                .filter(|c| c.1 == s.as_str())
                .map(|c| u64::try_from(c.2).unwrap_or(0))
                .sum()
        };
        let mut due = 0;
        for part in [&due_done, &due_today] {
            let mut c = q.clone();
            c.text = format!("SELECT COUNT(*) FROM commitments WHERE {part}");
            due += u64::try_from(count(&mut *tx, &c).await?).unwrap_or(0);
        }
        let reasons = [
            (on(Status::Overdue), kept(Status::Overdue)),
            (on(Status::AtRisk), kept(Status::AtRisk)),
            (format!("({due_done}) OR ({due_today})"), due),
        ];
        let total = reasons.iter().map(|r| r.1).sum();
        let mut out = Vec::new();
        for (cond, n) in reasons {
            if n == 0 || first == 0 {
                continue;
            }
            let mut s = q.clone();
            let l = s.param(i64::try_from(first).unwrap_or(i64::MAX));
            s.text = format!(
                "SELECT id, due_date, sched_done, sched_not_started_until, sched_at_risk_from \
                 FROM commitments WHERE {cond} ORDER BY due_date, id LIMIT {l}"
            );
            let rows: Vec<ScheduleRow> = tx.fetch(&s).await?;
            for row in rows {
                let (id, schedule) = row.into_schedule()?;
                out.push((AgendaSubject::Commitment(id), schedule));
            }
        }
        out.extend(follow_up_candidates(&mut *tx, date, previous, excluding).await?);
        tx.commit().await?;
        Ok((out, total))
    }
}

/// Follow-ups of meetings other than `excluding` that a meeting on `date` may list: open and set
/// by then, and overdue or within the warning days of due (a superset of at risk); or due in
/// (`previous`, `date`].
async fn follow_up_candidates<C: Conn + ?Sized>(
    c: &mut C,
    date: Date,
    previous: Option<Date>,
    excluding: Uuid,
) -> Result<Vec<(AgendaSubject, StatusSchedule)>> {
    let warn = date
        .checked_add(Duration::days(puente_domain::meeting::FOLLOW_UP_WARN_DAYS))
        .unwrap_or(Date::MAX);
    let mut fs = Sql::new(format!(
        "SELECT {}, m.date AS meeting_date FROM follow_ups f \
         JOIN meetings m ON m.id = f.meeting_id",
        FollowUpRow::COLS
            .iter()
            .map(|c| format!("f.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let ex = fs.param(id_text(excluding));
    let d = fs.param(date_text(date));
    let w = fs.param(date_text(warn));
    let due_window = match previous {
        Some(p) => format!("(f.due <= {d} AND f.due > {})", fs.param(date_text(p))),
        None => format!("f.due <= {d}"),
    };
    fs.text.push_str(&format!(
        " WHERE f.meeting_id <> {ex} AND ((f.completed_on IS NULL AND m.date <= {d} \
         AND f.due <= {w}) OR {due_window}) ORDER BY f.meeting_id, f.position"
    ));
    let rows: Vec<FollowUpCandidateRow> = c.fetch(&fs).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let meeting = parse_id("meeting", &row.follow_up.meeting_id)?;
        let opened = parse_date("meeting", &row.follow_up.meeting_id, &row.meeting_date)?;
        let f = row.follow_up.into_follow_up()?;
        out.push((
            AgendaSubject::FollowUp {
                meeting,
                follow_up: f.id,
            },
            f.schedule(opened),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_join_only_when_each_binds_in_order() {
        let a = Sql::new("INSERT INTO t (a, b) VALUES ($1, $2)")
            .bind(1_i64)
            .bind("x");
        let b = Sql::new("UPDATE u SET c = $1 WHERE d = $2")
            .bind(2_i64)
            .bind(3_i64);
        let joined = sqlite_joined(&[a.clone(), b.clone()]).map(|j| (j.text, j.args));
        assert_eq!(
            joined,
            Some((
                "INSERT INTO t (a, b) VALUES (?, ?);\nUPDATE u SET c = ? WHERE d = ?;\n".to_owned(),
                vec![Arg::Int(1), Arg::Text("x".into()), Arg::Int(2), Arg::Int(3)],
            ))
        );
        // One statement is run as it is; a placeholder used twice cannot become a `?`.
        assert!(sqlite_joined(std::slice::from_ref(&a)).is_none());
        let twice = Sql::new("UPDATE u SET c = $1 WHERE d = $1").bind(4_i64);
        assert!(sqlite_joined(&[a.clone(), twice]).is_none());
        // Large groups run statement by statement (see `JOIN_PARAMS`).
        let wide = Sql {
            text: (1..=JOIN_PARAMS)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", "),
            args: vec![Arg::Int(0); JOIN_PARAMS],
        };
        assert!(sqlite_joined(&[a, wide]).is_none());
    }

    /// Joined statements bind each its own arguments, on a real SQLite connection, and the
    /// first that fails stops the rest.
    #[tokio::test]
    async fn run_all_on_sqlite_binds_across_statements() {
        use sqlx::Connection as _;
        let mut c = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        c.run(&Sql::new("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)"))
            .await
            .unwrap();
        c.run_all(&[
            Sql::new("INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)")
                .bind(1_i64)
                .bind("one")
                .bind(2_i64)
                .bind("two"),
            Sql::new("UPDATE t SET b = $1 WHERE a = $2")
                .bind("deux")
                .bind(2_i64),
            Sql::new("INSERT INTO t (a, b) VALUES ($1, $2)")
                .bind(3_i64)
                .bind("three"),
        ])
        .await
        .unwrap();
        let rows: Vec<(i64, String)> = c
            .fetch(&Sql::new("SELECT a, b FROM t ORDER BY a"))
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (1, "one".to_owned()),
                (2, "deux".to_owned()),
                (3, "three".to_owned())
            ]
        );
        let failed = c
            .run_all(&[
                Sql::new("INSERT INTO t (a, b) VALUES ($1, $2)")
                    .bind(1_i64)
                    .bind("again"),
                Sql::new("INSERT INTO t (a, b) VALUES ($1, $2)")
                    .bind(4_i64)
                    .bind("four"),
            ])
            .await;
        assert!(failed.is_err());
        let n: Vec<(i64,)> = c.fetch(&Sql::new("SELECT COUNT(*) FROM t")).await.unwrap();
        assert_eq!(n, vec![(3,)]);
    }

    #[test]
    fn numbered_placeholders_in_order_become_positional() {
        assert_eq!(
            positional("INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)", 4).as_deref(),
            Some("INSERT INTO t (a, b) VALUES (?, ?), (?, ?)")
        );
        // `$` not followed by a digit (a JSON path) is left as it is.
        assert_eq!(
            positional("SELECT json_extract(x, '$.a') FROM t WHERE a = $1", 1).as_deref(),
            Some("SELECT json_extract(x, '$.a') FROM t WHERE a = ?")
        );
        // Reused, out of order, missing or extra placeholders keep their numbers.
        assert_eq!(positional("a = $1 OR b = $1", 1), None);
        assert_eq!(positional("a = $2 AND b = $1", 2), None);
        assert_eq!(positional("a = $1 AND b = $3", 3), None);
        assert_eq!(positional("a = $1 AND b = $2", 3), None);
        assert_eq!(positional("a = $1 AND b = $2 AND c = $3", 2), None);
        let many = Sql::new("x").bind_all((0..10).map(Arg::Int));
        let mut many = many;
        many.text = (1..=10)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(sqlite_text(&many), "?,?,?,?,?,?,?,?,?,?");
        assert_eq!(pg_text(&many), many.text);
    }

    #[test]
    fn statements_number_their_placeholders_in_order() {
        assert_eq!(
            insert_sql("t", &[&["a", "b"], &["c"]]),
            "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)"
        );
        assert_eq!(
            insert_rows_sql("t", &[&["a"], &["b"]], 3),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6)"
        );
        assert_eq!(
            update_sql("t", &["a", "b"]),
            "UPDATE t SET a = $1, b = $2, updated_at = $3, version = version + 1 \
             WHERE id = $4 AND version = $5"
        );
        let mut sql = Sql::new("SELECT id FROM t");
        let c = format!("a = {}", sql.param("x"));
        keyset(
            &mut sql,
            vec![c],
            Page {
                after: Some(Uuid::nil()),
                limit: 10,
            },
        );
        assert_eq!(
            sql.text,
            "SELECT id FROM t WHERE a = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        assert_eq!(sql.args[2], Arg::Int(11));
        // The first page is the same statement, after the empty id.
        let mut first = Sql::new("SELECT id FROM t");
        let c = format!("a = {}", first.param("x"));
        keyset(
            &mut first,
            vec![c],
            Page {
                after: None,
                limit: 10,
            },
        );
        assert_eq!(first.text, sql.text);
        assert_eq!(first.args[1], Arg::Text(String::new()));
    }
}
