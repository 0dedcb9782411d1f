//! The exchange log's SQL (see `log` for what is kept), on top of `sql`'s helpers.
//!
//! An own log is appended by an [`Appender`] opened at the start of every transaction that stores
//! envelopes, before the first is inserted: a log created by it (the first envelope of a peer,
//! or a database from before the log existed) first takes every envelope already stored, in the
//! order they were stored, so that no stored envelope is ever missing from its log.

use std::collections::{BTreeSet, HashMap};

use puente_domain::PartyCode;
use puente_log::merkle::{self, Subtree};
use puente_log::witness::{self, CopyState, Records};
use puente_log::{CompactRange, Hash, Leaf, checkpoint};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::exchange::{Direction, SealedEnvelope, Stream};
use crate::log::{
    Cosigner, DisputeBuilder, DisputeContext, DisputeRecord, LogState, NewDispute, STORED_LEVEL,
    StoredCheckpoint, Unlogged, WitnessOutcome, WitnessRequest,
};
use crate::rows::{corrupt, hash_hex, id_text, instant, micros, parse_hash, parse_id};
use crate::rows_exchange::{seq_read, seq_sql};
use crate::sql::{
    Arg, Backend, Conn, Sql, WriteTx as _, audit_write, fetch_one, insert_many, insert_statements,
};
use crate::{Result, StoreError, WriteCtx};

fn leaf_direction(d: Direction) -> puente_log::Direction {
    match d {
        Direction::Out => puente_log::Direction::Out,
        Direction::In => puente_log::Direction::In,
    }
}

fn leaf_stream(s: Stream) -> puente_log::Stream {
    match s {
        Stream::Message => puente_log::Stream::Message,
        Stream::Receipt => puente_log::Stream::Receipt,
    }
}

fn read_direction(origin: &str, s: &str) -> Result<puente_log::Direction> {
    puente_log::Direction::parse(s).ok_or_else(|| corrupt("log leaf", origin, "direction"))
}

fn read_stream(origin: &str, s: &str) -> Result<puente_log::Stream> {
    puente_log::Stream::parse(s).ok_or_else(|| corrupt("log leaf", origin, "stream"))
}

/// This node's party.
pub(crate) async fn me<C: Conn + ?Sized>(c: &mut C) -> Result<PartyCode> {
    let row: Option<(String,)> = fetch_one(c, &Sql::new("SELECT party FROM node")).await?;
    party_of_node(row.map(|r| r.0))
}

/// This node's party, from the `node` row's `party` (`None`: there is no row).
pub(crate) fn party_of_node(party: Option<String>) -> Result<PartyCode> {
    let party = party.ok_or_else(|| corrupt("node", "1", "no node row"))?;
    PartyCode::parse(&party).map_err(|_| corrupt("node", "1", "party"))
}

/// The origin of this node's own log with `peer`, or of its copy of `peer`'s.
fn origin_of(me: PartyCode, peer: PartyCode, own: bool) -> String {
    if own {
        checkpoint::origin(me, peer)
    } else {
        checkpoint::origin(peer, me)
    }
}

type LogRow = (String, String, bool, i64, String, i64, i64, i64, i64);

const LOG_COLS: &str = "origin, peer, own, size, compact, next_out_message, next_in_message, \
                        next_out_receipt, last_in_receipt";

struct LoadedLog {
    state: LogState,
    copy: CopyState,
}

fn loaded(row: LogRow) -> Result<LoadedLog> {
    let (origin, peer, own, size, compact, out_m, in_m, out_r, in_r) = row;
    let range = CompactRange::from_text(&compact)
        .filter(|r| i64::try_from(r.size()).ok() == Some(size))
        .ok_or_else(|| corrupt("log", &origin, "compact range"))?;
    let peer = PartyCode::parse(&peer).map_err(|_| corrupt("log", &origin, "peer"))?;
    let n = |v: i64| seq_read("log", &origin, v);
    let copy = CopyState {
        range: range.clone(),
        next_out_message: n(out_m)?,
        next_in_message: n(in_m)?,
        next_out_receipt: n(out_r)?,
        last_in_receipt: n(in_r)?,
    };
    Ok(LoadedLog {
        state: LogState {
            origin,
            peer,
            own,
            range,
        },
        copy,
    })
}

async fn load<C: Conn + ?Sized>(c: &mut C, origin: &str) -> Result<Option<LoadedLog>> {
    let row: Option<LogRow> = fetch_one(
        c,
        &Sql::new(format!("SELECT {LOG_COLS} FROM logs WHERE origin = $1")).bind(origin),
    )
    .await?;
    row.map(loaded).transpose()
}

/// Appends leaves to one log inside the caller's transaction; `flush` writes them.
pub(crate) struct Appender {
    origin: String,
    me: PartyCode,
    peer: PartyCode,
    own: bool,
    copy: CopyState,
    existed: bool,
    /// How many leaves were appended since it was opened.
    appended: u64,
    leaves: Vec<Vec<Arg>>,
    nodes: Vec<Vec<Arg>>,
}

impl Appender {
    /// This node's own log with `peer`, created (and given every envelope already stored for
    /// `peer`) if it does not exist yet. Open it before storing the transaction's envelopes.
    pub(crate) async fn own<C: Conn + ?Sized>(
        c: &mut C,
        me: PartyCode,
        peer: PartyCode,
    ) -> Result<Self> {
        let origin = origin_of(me, peer, true);
        if let Some(log) = load(c, &origin).await? {
            return Ok(Self::from_loaded(me, log, true));
        }
        let mut a = Self {
            origin,
            me,
            peer,
            own: true,
            copy: CopyState::empty(),
            existed: false,
            appended: 0,
            leaves: Vec::new(),
            nodes: Vec::new(),
        };
        // Envelopes stored before the log existed enter it first, in the order they were
        // stored, logged at the time they were stored.
        let rows: Vec<(i64, String, String, i64, String, i64)> = c
            .fetch(
                &Sql::new(
                    "SELECT row_no, direction, stream, seq, hash, stored_at FROM envelopes \
                     WHERE peer = $1 ORDER BY row_no",
                )
                .bind(peer.as_str()),
            )
            .await?;
        for (row_no, direction, stream, seq, hash, stored_at) in rows {
            let leaf = Leaf {
                sender: PartyCode::US,
                recipient: PartyCode::US,
                direction: read_direction(&a.origin, &direction)?,
                stream: read_stream(&a.origin, &stream)?,
                seq: seq_read("envelope", &a.origin, seq)?,
                logged: instant("envelope", &a.origin, stored_at)?,
                envelope_sha256: parse_hash("envelope", &a.origin, &hash)?,
            };
            let index = a.push(leaf);
            c.run(
                &Sql::new("UPDATE envelopes SET log_idx = $1 WHERE row_no = $2")
                    .bind(seq_sql("log", &a.origin, index)?)
                    .bind(row_no),
            )
            .await?;
        }
        Ok(a)
    }

    /// This node's copy of `peer`'s log, created empty if it does not exist yet.
    async fn copy<C: Conn + ?Sized>(c: &mut C, me: PartyCode, peer: PartyCode) -> Result<Self> {
        let origin = origin_of(me, peer, false);
        Ok(match load(c, &origin).await? {
            Some(log) => Self::from_loaded(me, log, false),
            None => Self {
                origin,
                me,
                peer,
                own: false,
                copy: CopyState::empty(),
                existed: false,
                appended: 0,
                leaves: Vec::new(),
                nodes: Vec::new(),
            },
        })
    }

    fn from_loaded(me: PartyCode, log: LoadedLog, own: bool) -> Self {
        Self {
            origin: log.state.origin,
            me,
            peer: log.state.peer,
            own,
            copy: log.copy,
            existed: true,
            appended: 0,
            leaves: Vec::new(),
            nodes: Vec::new(),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.copy.range.size()
    }

    /// Appends the leaf of an envelope this node stores now; its index.
    pub(crate) fn envelope(
        &mut self,
        direction: Direction,
        stream: Stream,
        envelope: &SealedEnvelope,
        logged: OffsetDateTime,
    ) -> u64 {
        self.push(Leaf {
            sender: PartyCode::US,
            recipient: PartyCode::US,
            direction: leaf_direction(direction),
            stream: leaf_stream(stream),
            seq: envelope.seq,
            logged,
            envelope_sha256: envelope.hash,
        })
    }

    /// Appends `leaf` (its parties are set from the log's owner and peer); its index.
    fn push(&mut self, mut leaf: Leaf) -> u64 {
        let (owner, other) = if self.own {
            (self.me, self.peer)
        } else {
            (self.peer, self.me)
        };
        (leaf.sender, leaf.recipient) = match leaf.direction {
            puente_log::Direction::Out => (owner, other),
            puente_log::Direction::In => (other, owner),
        };
        self.push_checked(&leaf)
    }

    fn push_checked(&mut self, leaf: &Leaf) -> u64 {
        let index = self.copy.range.size();
        let hash = leaf.hash();
        self.appended += 1;
        if !self.own {
            // A copy keeps its compact range only (see the migration).
            self.copy.range.append(hash, |_, _| {});
            return index;
        }
        let origin = &self.origin;
        let nodes = &mut self.nodes;
        self.copy.range.append(hash, |t, h| {
            if t.level >= STORED_LEVEL {
                nodes.push(vec![
                    Arg::Text(origin.clone()),
                    Arg::Int(i64::from(t.level)),
                    Arg::Int(i64::try_from(t.index).unwrap_or(i64::MAX)),
                    Arg::Text(hash_hex(h)),
                ]);
            }
        });
        self.leaves.push(vec![
            Arg::Text(self.origin.clone()),
            Arg::Int(i64::try_from(index).unwrap_or(i64::MAX)),
            Arg::Text(leaf.direction.as_str().to_owned()),
            Arg::Text(leaf.stream.as_str().to_owned()),
            Arg::Int(i64::try_from(leaf.seq).unwrap_or(i64::MAX)),
            Arg::Int(micros(leaf.logged)),
            Arg::Text(hash_hex(&leaf.envelope_sha256)),
            Arg::Text(hash_hex(&hash)),
        ]);
        index
    }

    /// Writes what was appended, and the log's new size and compact range.
    pub(crate) async fn flush<C: Conn + ?Sized>(self, c: &mut C) -> Result<()> {
        c.run_all(&self.statements()?).await?;
        Ok(())
    }

    /// The statements of [`Self::flush`], for a caller that runs them with others.
    pub(crate) fn statements(self) -> Result<Vec<Sql>> {
        if self.appended == 0 && self.existed {
            return Ok(Vec::new());
        }
        let s = |n: u64| seq_sql("log", &self.origin, n).map(Arg::Int);
        // The log's size, compact range and sequences, in `LOG_COLS` order.
        let state = [
            s(self.copy.range.size())?,
            Arg::Text(self.copy.range.to_text()),
            s(self.copy.next_out_message)?,
            s(self.copy.next_in_message)?,
            s(self.copy.next_out_receipt)?,
            s(self.copy.last_in_receipt)?,
        ];
        let mut out = vec![if self.existed {
            Sql::new(
                "UPDATE logs SET size = $1, compact = $2, next_out_message = $3, \
                 next_in_message = $4, next_out_receipt = $5, last_in_receipt = $6 \
                 WHERE origin = $7",
            )
            .bind_all(state)
            .bind(self.origin.as_str())
        } else {
            Sql::new(format!(
                "INSERT INTO logs ({LOG_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ))
            .bind(self.origin.as_str())
            .bind(self.peer.as_str())
            .bind(self.own)
            .bind_all(state)
        }];
        out.extend(insert_statements("log_leaves", &[LEAF_COLS], self.leaves));
        out.extend(insert_statements(
            "log_nodes",
            &[&["origin", "level", "idx", "hash"]],
            self.nodes,
        ));
        Ok(out)
    }
}

const LEAF_COLS: &[&str] = &[
    "origin",
    "idx",
    "direction",
    "stream",
    "seq",
    "logged_at",
    "envelope_hash",
    "leaf_hash",
];

// ---------------------------------------------------------------------------------------------
// Reading

pub(crate) async fn state<B: Backend>(
    b: &B,
    peer: PartyCode,
    own: bool,
) -> Result<Option<LogState>> {
    let mut c = b.read_one().await?;
    let me = me(&mut *c).await?;
    Ok(load(&mut *c, &origin_of(me, peer, own))
        .await?
        .map(|l| l.state))
}

type LeafRow = (i64, String, String, i64, i64, String);

fn leaf_of(origin: &str, owner: PartyCode, other: PartyCode, row: LeafRow) -> Result<(u64, Leaf)> {
    let (idx, direction, stream, seq, logged_at, envelope_hash) = row;
    let direction = read_direction(origin, &direction)?;
    let (sender, recipient) = match direction {
        puente_log::Direction::Out => (owner, other),
        puente_log::Direction::In => (other, owner),
    };
    Ok((
        seq_read("log leaf", origin, idx)?,
        Leaf {
            sender,
            recipient,
            direction,
            stream: read_stream(origin, &stream)?,
            seq: seq_read("log leaf", origin, seq)?,
            logged: instant("log leaf", origin, logged_at)?,
            envelope_sha256: parse_hash("log leaf", origin, &envelope_hash)?,
        },
    ))
}

fn parties(origin: &str) -> Result<(PartyCode, PartyCode)> {
    puente_log::bundle::parse_origin(origin).ok_or_else(|| corrupt("log", origin, "origin"))
}

/// Leaves `from..from + limit` of the log `origin`, in order.
pub(crate) async fn leaves<B: Backend>(
    b: &B,
    origin: &str,
    from: u64,
    limit: u32,
) -> Result<Vec<(u64, Leaf)>> {
    let (owner, other) = parties(origin)?;
    let mut c = b.read_one().await?;
    let rows: Vec<LeafRow> = c
        .fetch(
            &Sql::new(
                "SELECT idx, direction, stream, seq, logged_at, envelope_hash FROM log_leaves \
                 WHERE origin = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
            )
            .bind(origin)
            .bind(seq_sql("log", origin, from)?)
            .bind(i64::from(limit)),
        )
        .await?;
    rows.into_iter()
        .map(|r| leaf_of(origin, owner, other, r))
        .collect()
}

/// The heads of `subtrees` of the log `origin`, in their order: those of 16 leaves and more as
/// stored, smaller ones from their leaves' hashes. Two statements, whatever is asked.
pub(crate) async fn subtree_heads<B: Backend>(
    b: &B,
    origin: &str,
    subtrees: &[Subtree],
) -> Result<Vec<Hash>> {
    // Everything in one statement, each part a range or point lookup of a primary key: the
    // stored heads asked for, and the leaf hashes of the blocks of 16 the smaller subtrees lie
    // in (as level -1). An OR of the same conditions would be planned as a scan of the log's
    // nodes on SQLite (a millisecond at a hundred thousand entries, a second at ten million),
    // and a statement per block is a round trip each. (-1 is cast: on PostgreSQL a union of
    // leaf blocks alone would otherwise have an INT4 first column.)
    let mut sql = Sql::new("");
    let mut parts = Vec::new();
    for t in subtrees.iter().filter(|t| t.level >= STORED_LEVEL) {
        let o = sql.param(origin);
        let level = sql.param(i64::from(t.level));
        let idx = sql.param(seq_sql("log", origin, t.index)?);
        parts.push(format!(
            "SELECT level, idx, hash FROM log_nodes \
             WHERE origin = {o} AND level = {level} AND idx = {idx}"
        ));
    }
    let blocks: BTreeSet<u64> = subtrees
        .iter()
        .filter(|t| t.level < STORED_LEVEL)
        .map(|t| t.start() >> STORED_LEVEL)
        .collect();
    for block in blocks {
        let start = block << STORED_LEVEL;
        let o = sql.param(origin);
        let from = sql.param(seq_sql("log", origin, start)?);
        let to = sql.param(seq_sql("log", origin, start + (1 << STORED_LEVEL))?);
        parts.push(format!(
            "SELECT CAST(-1 AS BIGINT) AS level, idx, leaf_hash FROM log_leaves \
             WHERE origin = {o} AND idx >= {from} AND idx < {to}"
        ));
    }
    let mut heads: HashMap<Subtree, Hash> = HashMap::new();
    let mut leaf_hashes: HashMap<u64, Hash> = HashMap::new();
    if !parts.is_empty() {
        sql.text = parts.join(" UNION ALL ");
        let mut c = b.read_one().await?;
        let rows: Vec<(i64, i64, String)> = c.fetch(&sql).await?;
        for (level, idx, hash) in rows {
            let index = seq_read("log node", origin, idx)?;
            let hash = parse_hash("log node", origin, &hash)?;
            if level < 0 {
                leaf_hashes.insert(index, hash);
            } else {
                let level =
                    u32::try_from(level).map_err(|_| corrupt("log node", origin, "level"))?;
                heads.insert(Subtree { level, index }, hash);
            }
        }
    }
    subtrees
        .iter()
        .map(|t| {
            if t.level >= STORED_LEVEL {
                return heads
                    .get(t)
                    .copied()
                    .ok_or_else(|| corrupt("log node", origin, format!("{t:?} is missing")));
            }
            let hashes: Option<Vec<Hash>> = (t.start()..t.end())
                .map(|i| leaf_hashes.get(&i).copied())
                .collect();
            hashes
                .map(|h| merkle::root(&h))
                .ok_or_else(|| corrupt("log leaf", origin, format!("a leaf of {t:?} is missing")))
        })
        .collect()
}

/// Where the envelopes `ids` (exchanged with `peer`) are in this node's own log with `peer`: their
/// ids and log indexes, in index order (ids not found are left out).
pub(crate) async fn indexes_of_envelopes<B: Backend>(
    b: &B,
    peer: PartyCode,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, u64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = b.read_one().await?;
    let mut sql = Sql::new("");
    let p = sql.param(peer.as_str());
    let list = crate::sql::in_list(&mut sql, ids.iter().map(|i| id_text(*i)));
    sql.text = format!(
        "SELECT id, log_idx FROM envelopes WHERE peer = {p} AND direction IN ('out', 'in') \
         AND id {list} AND log_idx IS NOT NULL ORDER BY log_idx"
    );
    let rows: Vec<(String, i64)> = c.fetch(&sql).await?;
    rows.into_iter()
        .map(|(id, idx)| Ok((parse_id("envelope", &id)?, seq_read("log leaf", &id, idx)?)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

type CheckpointRow = (String, i64, String, String, i64, Option<i64>);

const CHECKPOINT_COLS: &str = "origin, size, root, note, made_at, cosigned_at";

fn checkpoint_of(row: CheckpointRow) -> Result<StoredCheckpoint> {
    let (origin, size, root, note, made_at, cosigned_at) = row;
    Ok(StoredCheckpoint {
        size: seq_read("checkpoint", &origin, size)?,
        root: parse_hash("checkpoint", &origin, &root)?,
        note,
        made_at: instant("checkpoint", &origin, made_at)?,
        cosigned_at: cosigned_at
            .map(|t| instant("checkpoint", &origin, t))
            .transpose()?,
        origin,
    })
}

/// Stores a checkpoint this node signed of its own log (a size it already has is kept as is).
pub(crate) async fn put_checkpoint<B: Backend>(b: &B, c: &StoredCheckpoint) -> Result<bool> {
    let mut tx = b.begin_write().await?;
    let held: Option<(String,)> = fetch_one(
        &mut *tx,
        &Sql::new("SELECT root FROM checkpoints WHERE origin = $1 AND size = $2")
            .bind(c.origin.as_str())
            .bind(seq_sql("checkpoint", &c.origin, c.size)?),
    )
    .await?;
    if held.is_some() {
        return Ok(false);
    }
    tx.run(
        &Sql::new(format!(
            "INSERT INTO checkpoints ({CHECKPOINT_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(c.origin.as_str())
        .bind(seq_sql("checkpoint", &c.origin, c.size)?)
        .bind(hash_hex(&c.root))
        .bind(c.note.as_str())
        .bind(micros(c.made_at))
        .bind(c.cosigned_at.map(micros)),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Stores the peer's cosignature of this node's checkpoint: the note as cosigned.
pub(crate) async fn put_cosigned<B: Backend>(
    b: &B,
    origin: &str,
    size: u64,
    note: &str,
    at: OffsetDateTime,
) -> Result<()> {
    let mut tx = b.begin_write().await?;
    tx.run(
        &Sql::new(
            "UPDATE checkpoints SET note = $1, cosigned_at = $2 WHERE origin = $3 AND size = $4",
        )
        .bind(note)
        .bind(micros(at))
        .bind(origin)
        .bind(seq_sql("checkpoint", origin, size)?),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checkpoints of `origin` of size `from` and more, smallest first.
pub(crate) async fn checkpoints<B: Backend>(
    b: &B,
    origin: &str,
    from: u64,
    limit: u32,
) -> Result<Vec<StoredCheckpoint>> {
    let mut c = b.read_one().await?;
    let rows: Vec<CheckpointRow> = c
        .fetch(
            &Sql::new(format!(
                "SELECT {CHECKPOINT_COLS} FROM checkpoints WHERE origin = $1 AND size >= $2 \
                 ORDER BY size LIMIT $3"
            ))
            .bind(origin)
            .bind(seq_sql("checkpoint", origin, from)?)
            .bind(i64::from(limit)),
        )
        .await?;
    rows.into_iter().map(checkpoint_of).collect()
}

/// The latest checkpoint of `origin` (the latest cosigned one, if `cosigned`).
pub(crate) async fn latest_checkpoint<B: Backend>(
    b: &B,
    origin: &str,
    cosigned: bool,
) -> Result<Option<StoredCheckpoint>> {
    let mut c = b.read_one().await?;
    let filter = if cosigned {
        " AND cosigned_at IS NOT NULL"
    } else {
        ""
    };
    let row: Option<CheckpointRow> = fetch_one(
        &mut *c,
        &Sql::new(format!(
            "SELECT {CHECKPOINT_COLS} FROM checkpoints WHERE origin = $1{filter} \
             ORDER BY size DESC LIMIT 1"
        ))
        .bind(origin),
    )
    .await?;
    row.map(checkpoint_of).transpose()
}

// ---------------------------------------------------------------------------------------------
// Cosigning a peer's checkpoint

/// This node's envelopes of the exchange with one peer, by stream and seq, for the seqs a
/// request's leaves name.
struct Held {
    sent: HashMap<(puente_log::Stream, u64), Hash>,
    received: HashMap<(puente_log::Stream, u64), Hash>,
}

impl Records for Held {
    fn sent(&self, stream: puente_log::Stream, seq: u64) -> Option<Hash> {
        self.sent.get(&(stream, seq)).copied()
    }
    fn received(&self, stream: puente_log::Stream, seq: u64) -> Option<Hash> {
        self.received.get(&(stream, seq)).copied()
    }
}

async fn held_for<C: Conn + ?Sized>(c: &mut C, peer: PartyCode, leaves: &[Leaf]) -> Result<Held> {
    let mut held = Held {
        sent: HashMap::new(),
        received: HashMap::new(),
    };
    // Per (our direction, stream): the range of seqs named.
    let mut ranges: HashMap<(&str, puente_log::Stream), (u64, u64)> = HashMap::new();
    for l in leaves {
        // The log's owner is the peer: what it received, this node sent.
        let ours = match l.direction {
            puente_log::Direction::In => "out",
            puente_log::Direction::Out => "in",
        };
        let r = ranges.entry((ours, l.stream)).or_insert((l.seq, l.seq));
        r.0 = r.0.min(l.seq);
        r.1 = r.1.max(l.seq);
    }
    for ((ours, stream), (lo, hi)) in ranges {
        let rows: Vec<(i64, String)> = c
            .fetch(
                &Sql::new(
                    "SELECT seq, hash FROM envelopes WHERE peer = $1 AND direction = $2 \
                     AND stream = $3 AND seq >= $4 AND seq <= $5",
                )
                .bind(peer.as_str())
                .bind(ours)
                .bind(stream.as_str())
                .bind(seq_sql("envelope", peer.as_str(), lo)?)
                .bind(seq_sql("envelope", peer.as_str(), hi)?),
            )
            .await?;
        for (seq, hash) in rows {
            let key = (stream, seq_read("envelope", peer.as_str(), seq)?);
            let hash = parse_hash("envelope", peer.as_str(), &hash)?;
            if ours == "out" {
                held.sent.insert(key, hash);
            } else {
                held.received.insert(key, hash);
            }
        }
    }
    Ok(held)
}

/// Checks a peer's request to cosign against this node's copy of its log and its own records,
/// and — in one transaction — extends the copy, stores the checkpoint with this node's
/// cosignature, or raises the dispute. A size cosigned before is cosigned again only with the
/// same head (the stored note is returned); another head at that size is a fork.
pub(crate) async fn witness<B: Backend>(
    b: &B,
    ctx: &WriteCtx,
    request: &WitnessRequest,
    cosign: Cosigner<'_>,
    dispute: DisputeBuilder<'_>,
) -> Result<WitnessOutcome> {
    let mut tx = b.begin_write().await?;
    let c = &mut *tx;
    let me = me(c).await?;
    let appender = Appender::copy(c, me, request.peer).await?;
    let origin = appender.origin.clone();
    let size = seq_sql("checkpoint", &origin, request.size)?;
    let held: Option<CheckpointRow> = fetch_one(
        c,
        &Sql::new(format!(
            "SELECT {CHECKPOINT_COLS} FROM checkpoints WHERE origin = $1 AND size = $2"
        ))
        .bind(origin.as_str())
        .bind(size),
    )
    .await?;
    let previous: Option<CheckpointRow> = fetch_one(
        c,
        &Sql::new(format!(
            "SELECT {CHECKPOINT_COLS} FROM checkpoints WHERE origin = $1 AND size <= $2 \
             ORDER BY size DESC LIMIT 1"
        ))
        .bind(origin.as_str())
        .bind(seq_sql("checkpoint", &origin, appender.size())?),
    )
    .await?;
    let previous = previous.map(checkpoint_of).transpose()?;
    if let Some(held) = held.map(checkpoint_of).transpose()? {
        if held.root == request.root {
            tx.commit().await?;
            return Ok(WitnessOutcome::Cosigned { note: held.note });
        }
        let finding = puente_log::witness::Finding::Inconsistent {
            detail: format!(
                "{} signed two checkpoints of size {} with different heads",
                request.peer, request.size
            ),
        };
        let evidence = dispute(&DisputeContext {
            finding: &finding,
            previous_note: Some(&held.note),
            copy_before: &appender.copy.range,
            request,
        });
        let id = raise_in(
            c,
            ctx,
            &NewDispute {
                peer: request.peer,
                origin: origin.clone(),
                kind: puente_log::dispute::DisputeKind::Fork.as_str().to_owned(),
                subject: format!("size {}", request.size),
                detail: finding.detail().to_owned(),
                evidence,
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(WitnessOutcome::Disputed {
            id,
            finding: finding.detail().to_owned(),
        });
    }
    if request.from != appender.size() || request.size < appender.size() {
        tx.commit().await?;
        return Ok(WitnessOutcome::Behind {
            size: appender.size(),
        });
    }
    let records = held_for(c, request.peer, &request.leaves).await?;
    let checkpoint = puente_log::Checkpoint {
        origin: origin.clone(),
        size: request.size,
        root: request.root,
    };
    match witness::check(
        &appender.copy,
        request.peer,
        me,
        &request.leaves,
        &records,
        &checkpoint,
    ) {
        Err(finding) => {
            use puente_log::dispute::DisputeKind as K;
            let kind = match &finding {
                witness::Finding::NotOurs { .. } | witness::Finding::UnknownEnvelope { .. } => {
                    K::UnknownEnvelope
                }
                witness::Finding::OutOfOrder { .. } => K::OutOfOrder,
                witness::Finding::Inconsistent { .. } => K::InconsistentLeaves,
            };
            let evidence = dispute(&DisputeContext {
                finding: &finding,
                previous_note: previous.as_ref().map(|p| p.note.as_str()),
                copy_before: &appender.copy.range,
                request,
            });
            let subject = match finding.index() {
                Some(i) => format!("leaf {i}"),
                None => format!("size {}", request.size),
            };
            let id = raise_in(
                c,
                ctx,
                &NewDispute {
                    peer: request.peer,
                    origin: origin.clone(),
                    kind: kind.as_str().to_owned(),
                    subject,
                    detail: finding.detail().to_owned(),
                    evidence,
                },
            )
            .await?;
            tx.commit().await?;
            Ok(WitnessOutcome::Disputed {
                id,
                finding: finding.detail().to_owned(),
            })
        }
        Ok(next) => {
            let line = cosign(&checkpoint.to_text())
                .map_err(|reason| StoreError::Batch(format!("cosigning failed: {reason}")))?;
            let note = format!("{}{line}", request.note);
            let mut appender = appender;
            let mut pending = Vec::new();
            for leaf in &request.leaves {
                let index = appender.push_checked(leaf);
                // Sent by the peer and not here yet: checked when it arrives.
                if leaf.direction == puente_log::Direction::Out
                    && records.received(leaf.stream, leaf.seq).is_none()
                {
                    pending.push(vec![
                        Arg::Text(origin.clone()),
                        Arg::Text(leaf.direction.as_str().to_owned()),
                        Arg::Text(leaf.stream.as_str().to_owned()),
                        Arg::Int(seq_sql("log leaf", &origin, leaf.seq)?),
                        Arg::Int(seq_sql("log leaf", &origin, index)?),
                        Arg::Text(hash_hex(&leaf.envelope_sha256)),
                    ]);
                }
            }
            appender.copy = CopyState {
                range: appender.copy.range.clone(),
                ..next
            };
            appender.flush(c).await?;
            insert_many(
                c,
                "log_pending",
                &[&[
                    "origin",
                    "direction",
                    "stream",
                    "seq",
                    "idx",
                    "envelope_hash",
                ]],
                pending,
            )
            .await?;
            c.run(
                &Sql::new(format!(
                    "INSERT INTO checkpoints ({CHECKPOINT_COLS}) VALUES ($1, $2, $3, $4, $5, $5)"
                ))
                .bind(origin.as_str())
                .bind(size)
                .bind(hash_hex(&request.root))
                .bind(note.as_str())
                .bind(micros(ctx.now)),
            )
            .await?;
            audit_write(
                c,
                ctx,
                "log.cosign",
                origin.clone(),
                json!({"size": request.size, "root": hash_hex(&request.root),
                       "leaves": request.leaves.len(), "from": request.from}),
            )
            .await?;
            tx.commit().await?;
            Ok(WitnessOutcome::Cosigned { note })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Disputes

async fn raise_in<C: Conn + ?Sized>(c: &mut C, ctx: &WriteCtx, d: &NewDispute) -> Result<Uuid> {
    let held: Option<(String,)> = fetch_one(
        c,
        &Sql::new("SELECT id FROM disputes WHERE origin = $1 AND kind = $2 AND subject = $3")
            .bind(d.origin.as_str())
            .bind(d.kind.as_str())
            .bind(d.subject.as_str()),
    )
    .await?;
    if let Some((id,)) = held {
        return parse_id("dispute", &id);
    }
    let id = Uuid::now_v7();
    c.run(
        &Sql::new(
            "INSERT INTO disputes (id, peer, origin, kind, subject, detail, evidence, raised_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id_text(id))
        .bind(d.peer.as_str())
        .bind(d.origin.as_str())
        .bind(d.kind.as_str())
        .bind(d.subject.as_str())
        .bind(d.detail.as_str())
        .bind(d.evidence.as_str())
        .bind(micros(ctx.now)),
    )
    .await?;
    audit_write(
        c,
        ctx,
        "log.dispute",
        id_text(id),
        json!({"peer": d.peer.as_str(), "log": d.origin, "kind": d.kind, "subject": d.subject}),
    )
    .await?;
    Ok(id)
}

/// Raises a dispute (once per origin, kind and subject); its id.
pub(crate) async fn raise<B: Backend>(b: &B, ctx: &WriteCtx, d: &NewDispute) -> Result<Uuid> {
    let mut tx = b.begin_write().await?;
    let id = raise_in(&mut *tx, ctx, d).await?;
    tx.commit().await?;
    Ok(id)
}

type DisputeRow = (String, String, String, String, String, String, String, i64);

fn dispute_of(row: DisputeRow) -> Result<DisputeRecord> {
    let (id, peer, origin, kind, subject, detail, evidence, raised_at) = row;
    Ok(DisputeRecord {
        peer: PartyCode::parse(&peer).map_err(|_| corrupt("dispute", &id, "peer"))?,
        raised_at: instant("dispute", &id, raised_at)?,
        id: parse_id("dispute", &id)?,
        origin,
        kind,
        subject,
        detail,
        evidence,
    })
}

const DISPUTE_COLS: &str = "id, peer, origin, kind, subject, detail, evidence, raised_at";

pub(crate) async fn disputes<B: Backend>(b: &B, limit: u32) -> Result<Vec<DisputeRecord>> {
    let mut c = b.read_one().await?;
    let rows: Vec<DisputeRow> = c
        .fetch(
            &Sql::new(format!(
                "SELECT {DISPUTE_COLS} FROM disputes ORDER BY id DESC LIMIT $1"
            ))
            .bind(i64::from(limit)),
        )
        .await?;
    rows.into_iter().map(dispute_of).collect()
}

pub(crate) async fn dispute<B: Backend>(b: &B, id: Uuid) -> Result<Option<DisputeRecord>> {
    let mut c = b.read_one().await?;
    let row: Option<DisputeRow> = fetch_one(
        &mut *c,
        &Sql::new(format!("SELECT {DISPUTE_COLS} FROM disputes WHERE id = $1")).bind(id_text(id)),
    )
    .await?;
    row.map(dispute_of).transpose()
}

// ---------------------------------------------------------------------------------------------
// What the peer's log should hold

/// An envelope row as `unlogged` reads it: id, direction, stream, seq, hash, signed.
type UnloggedRow = (String, String, String, i64, String, String);

fn unlogged_of(row: UnloggedRow) -> Result<Unlogged> {
    let (id, direction, stream, seq, hash, signed) = row;
    Ok(Unlogged {
        id: parse_id("envelope", &id)?,
        direction: if direction == "out" {
            Direction::Out
        } else {
            Direction::In
        },
        stream: if stream == "receipt" {
            Stream::Receipt
        } else {
            Stream::Message
        },
        seq: seq_read("envelope", &id, seq)?,
        hash: parse_hash("envelope", &id, &hash)?,
        signed,
    })
}

/// This node's envelopes with `peer` that the peer's log must hold by `cutoff` and this node's
/// copy of it does not cover: those the peer signed (messages and receipts it sent), stored
/// before `cutoff`, and this node's messages the peer acknowledged before `cutoff`. (Receipts
/// this node sent may never have arrived: the peer logs only those it got.) A copy covers a
/// seq once its sequence reached it, every covered leaf having been checked against this
/// node's envelope when it cosigned, or since (`pending`).
pub(crate) async fn unlogged<B: Backend>(
    b: &B,
    peer: PartyCode,
    cutoff: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Unlogged>> {
    let mut c = b.read_one().await?;
    let me = me(&mut *c).await?;
    let Some(log) = load(&mut *c, &origin_of(me, peer, false)).await? else {
        // No copy yet: nothing was ever cosigned, so nothing can be found missing from it.
        return Ok(Vec::new());
    };
    let cut = micros(cutoff);
    let copy = &log.copy;
    let p = peer.as_str();
    let mut found = Vec::new();
    // (this node's direction, stream, the copy's next seq of it, the time it is due from)
    for (direction, stream, next, due) in [
        ("in", "message", copy.next_out_message, "stored_at"),
        ("in", "receipt", copy.next_out_receipt, "stored_at"),
        ("out", "message", copy.next_in_message, "delivered_at"),
    ] {
        let rows: Vec<UnloggedRow> = c
            .fetch(
                &Sql::new(format!(
                    "SELECT id, direction, stream, seq, hash, signed FROM envelopes \
                     WHERE peer = $1 AND direction = $2 AND stream = $3 AND seq >= $4 \
                     AND {due} < $5 ORDER BY seq LIMIT $6"
                ))
                .bind(p)
                .bind(direction)
                .bind(stream)
                .bind(seq_sql("log", p, next)?)
                .bind(cut)
                .bind(i64::from(limit)),
            )
            .await?;
        for row in rows {
            found.push(unlogged_of(row)?);
        }
    }
    Ok(found)
}

/// Leaves of `peer`'s log that named envelopes this node did not hold when it cosigned, now
/// that it holds them: those naming the same envelope are settled (forgotten), those naming
/// another are returned, with the envelope held, to be disputed.
pub(crate) async fn settle_pending<B: Backend>(
    b: &B,
    peer: PartyCode,
) -> Result<Vec<(u64, Hash, Unlogged)>> {
    let mut tx = b.begin_write().await?;
    let c = &mut *tx;
    let me = me(c).await?;
    let origin = origin_of(me, peer, false);
    // The peer's "out" is this node's "in". Settled in one statement, however many: this runs
    // in the node's one write transaction at a time, and a DELETE per leaf (hundreds, after a
    // checkpoint cosigned ahead of its envelopes) held every other write up for a fifth of a
    // second.
    c.run(
        &Sql::new(
            "DELETE FROM log_pending WHERE origin = $2 AND EXISTS (SELECT 1 FROM envelopes e \
             WHERE e.peer = $1 AND e.direction = 'in' AND e.stream = log_pending.stream \
             AND e.seq = log_pending.seq AND e.hash = log_pending.envelope_hash)",
        )
        .bind(peer.as_str())
        .bind(origin.as_str()),
    )
    .await?;
    // What is left and now held names another envelope.
    let rows: Vec<(i64, String, String, i64, String, String, String)> = c
        .fetch(
            &Sql::new(
                "SELECT p.idx, p.envelope_hash, e.id, e.seq, e.hash, e.signed, e.stream \
                 FROM log_pending p JOIN envelopes e ON e.peer = $1 AND e.direction = 'in' \
                 AND e.stream = p.stream AND e.seq = p.seq WHERE p.origin = $2",
            )
            .bind(peer.as_str())
            .bind(origin.as_str()),
        )
        .await?;
    let mismatched = rows
        .into_iter()
        .map(|(idx, logged, id, seq, hash, signed, stream)| {
            Ok((
                seq_read("log leaf", &origin, idx)?,
                parse_hash("log leaf", &origin, &logged)?,
                unlogged_of((id, "in".to_owned(), stream, seq, hash, signed))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    tx.commit().await?;
    Ok(mismatched)
}
/// Appends `count` synthetic leaves (messages out, hashes made up) to this node's own log with
/// `peer`, in transactions of `per_tx`: for `puente bench log`, on a throwaway database only —
/// these leaves name no stored envelope. Returns the log's size.
pub(crate) async fn bench_fill<B: Backend>(
    b: &B,
    peer: PartyCode,
    count: u64,
    per_tx: u64,
    logged: OffsetDateTime,
) -> Result<u64> {
    let mut done = 0;
    let mut size = 0;
    while done < count {
        let mut tx = b.begin_write().await?;
        let c = &mut *tx;
        let me = me(c).await?;
        let mut log = Appender::own(c, me, peer).await?;
        let n = per_tx.min(count - done);
        for _ in 0..n {
            let seq = log.size() + 1;
            let mut hash = [0u8; 32];
            hash[..8].copy_from_slice(&seq.to_be_bytes());
            log.push(Leaf {
                sender: me,
                recipient: peer,
                direction: puente_log::Direction::Out,
                stream: puente_log::Stream::Message,
                seq,
                logged,
                envelope_sha256: hash,
            });
        }
        size = log.size();
        log.flush(c).await?;
        tx.commit().await?;
        done += n;
    }
    Ok(size)
}
