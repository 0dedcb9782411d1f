//! The exchange half of `impl<B: Backend> Store for B` (see `sql.rs`): peers, the outbox,
//! receipts, inbound batches and the exchanged items, one function per trait method, each one
//! transaction, in the same shared SQL dialect.
//!
//! Sequence numbers are handed out here and nowhere else, inside the node's serialised write
//! transaction (SQLite's single writer, PostgreSQL's advisory lock): reading a peer's counter and
//! storing the envelope that uses it cannot interleave with another send, so seqs have no gaps
//! and no duplicates. The sealers and the `decide` closures run inside that transaction too, so
//! a refused step or a failed seal leaves nothing behind, not even a used seq.

use std::collections::{HashMap, HashSet};

use puente_domain::PartyCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::NewAuditEntry;
use crate::exchange::{
    Accepted, Direction, Effect, EnvelopeRecord, ExchangeItem, Inbound, InboundRejection,
    ItemFilter, ItemKind, JobEffect, NewItem, NewPeer, NewStep, Peer, ReceiptSealer, ReceiveReport,
    SealedEnvelope, Sealer, SendJob, Sent, StepRefused, Stream,
};
use crate::rows::{corrupt, hash_hex, id_text, micros, truncate};
use crate::rows_exchange::{
    EnvelopeRow, ItemRow, PeerRow, StepRow, initial_state, seq_read, seq_sql, state_args,
    state_sets,
};
use crate::sql::{
    Arg, Backend, Conn, IN_IDS, Sql, WriteTx as _, audit_statements, audit_write, ctx_entry,
    duplicate, fetch_one, in_list, insert_many, insert_sql, insert_statements, keyset, paged,
    select_sql,
};
use crate::sql_log::{self, Appender};
use crate::{Page, Paged, Result, StoreError, WriteCtx};

/// A peer with its backlog, read from its own row (see migration 0004) and the head of its
/// outbox (one seek in the partial index of undelivered envelopes): a constant cost however
/// long the outbox grows.
fn peer_select() -> String {
    "SELECT p.party, p.endpoint, p.signing_key, p.tls_fingerprint, p.card, p.added_at, \
     p.updated_at, p.next_out_seq, p.next_in_seq, p.last_contact_at, p.last_error, \
     p.last_error_at, p.next_out_seq - 1 - p.delivered_out AS backlog, \
     (SELECT e.stored_at FROM envelopes e WHERE e.peer = p.party AND e.direction = 'out' \
      AND e.stream = 'message' AND e.delivered_at IS NULL ORDER BY e.seq LIMIT 1) \
     AS oldest_undelivered_at \
     FROM peers p"
        .to_owned()
}

fn envelope_select() -> String {
    select_sql("envelopes", &[&["row_no"], EnvelopeRow::COLS])
}

fn item_select() -> String {
    select_sql("items", &[ItemRow::COLS])
}

/// `Seal`, with the sealer's reason or what is wrong with what it returned.
fn seal_error(reason: impl Into<String>) -> StoreError {
    StoreError::Seal(reason.into())
}

/// Peers are named by party, not id; `NotFound` carries the nil id for them.
fn unknown_peer() -> StoreError {
    StoreError::NotFound {
        kind: "peer",
        id: Uuid::nil(),
    }
}

/// The audit action of an exchanged message: `<kind>.<step, or create>.<send|receive>`. A step
/// token may come with its kind as prefix (`referral.acknowledge`, as the message type) or
/// without (`acknowledge`); both name the step `acknowledge`.
fn message_action(kind: ItemKind, step: Option<&str>, way: &str) -> String {
    let k = kind.as_str();
    let name = match step {
        None => "create",
        Some(s) => s
            .strip_prefix(k)
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(s),
    };
    format!("{k}.{name}.{way}")
}

fn message_detail(
    peer: PartyCode,
    e: &SealedEnvelope,
    item: Uuid,
    log_index: u64,
) -> serde_json::Value {
    json!({
        "peer": peer.as_str(),
        "seq": e.seq,
        "item": id_text(item),
        "hash": hash_hex(&e.hash),
        "log_index": log_index,
    })
}

/// What a sealer returned, checked against what the store allocated: the store keeps the
/// envelope as evidence, so it must carry the seq the counters say and the hash of its text.
fn checked(
    sealed: std::result::Result<SealedEnvelope, String>,
    seq: u64,
) -> Result<SealedEnvelope> {
    let e = sealed.map_err(seal_error)?;
    if e.seq != seq {
        return Err(seal_error(format!(
            "the envelope was sealed with seq {} instead of {seq}",
            e.seq
        )));
    }
    let hash: [u8; 32] = Sha256::digest(e.signed.as_bytes()).into();
    if hash != e.hash {
        return Err(seal_error(format!(
            "envelope {}: its hash is not the SHA-256 of its text",
            e.id
        )));
    }
    Ok(e)
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A peer's three counters, as stored.
struct Counters {
    next_out: u64,
    next_in: u64,
    next_receipt: u64,
}

async fn counters<C: Conn + ?Sized>(c: &mut C, party: PartyCode) -> Result<Option<Counters>> {
    Ok(counters_and_me(c, party)
        .await?
        .map(|(counters, _)| counters))
}

/// A peer's counters and this node's own party, which every transaction that stores an
/// envelope needs (for its log): one statement rather than two.
async fn counters_and_me<C: Conn + ?Sized>(
    c: &mut C,
    party: PartyCode,
) -> Result<Option<(Counters, PartyCode)>> {
    let row: Option<(i64, i64, i64, Option<String>)> = fetch_one(
        c,
        &Sql::new(
            "SELECT next_out_seq, next_in_seq, next_receipt_seq, (SELECT party FROM node) \
             FROM peers WHERE party = $1",
        )
        .bind(party.as_str()),
    )
    .await?;
    let Some((o, i, r, me)) = row else {
        return Ok(None);
    };
    let id = party.as_str();
    let counters = Counters {
        next_out: seq_read("peer", id, o)?,
        next_in: seq_read("peer", id, i)?,
        next_receipt: seq_read("peer", id, r)?,
    };
    Ok(Some((counters, sql_log::party_of_node(me)?)))
}

async fn fetch_peers<C: Conn + ?Sized>(c: &mut C, sql: &Sql) -> Result<Vec<Peer>> {
    c.fetch::<PeerRow>(sql)
        .await?
        .into_iter()
        .map(PeerRow::into_peer)
        .collect()
}

async fn peer_in<C: Conn + ?Sized>(c: &mut C, party: PartyCode) -> Result<Option<Peer>> {
    let sql = Sql::new(format!("{} WHERE p.party = $1", peer_select())).bind(party.as_str());
    Ok(fetch_peers(c, &sql).await?.into_iter().next())
}

async fn fetch_envelopes<C: Conn + ?Sized>(
    c: &mut C,
    sql: &Sql,
) -> Result<Vec<(i64, EnvelopeRecord)>> {
    c.fetch::<EnvelopeRow>(sql)
        .await?
        .into_iter()
        .map(EnvelopeRow::into_record)
        .collect()
}

/// Items matching `sql` (an item select), each with its steps in order: the steps of the whole
/// list come from one query (per few hundred items), not one per item.
async fn fetch_items<C: Conn + ?Sized>(c: &mut C, sql: &Sql) -> Result<Vec<ExchangeItem>> {
    let rows: Vec<ItemRow> = c.fetch(sql).await?;
    let mut steps: HashMap<String, Vec<StepRow>> = HashMap::new();
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    for chunk in ids.chunks(IN_IDS) {
        let mut q = Sql::new("");
        let list = in_list(&mut q, chunk.iter().cloned());
        q.text = format!(
            "{} WHERE item_id {list} ORDER BY item_id, position",
            select_sql("item_steps", &[StepRow::COLS])
        );
        for s in c.fetch::<StepRow>(&q).await? {
            steps.entry(s.item_id.clone()).or_default().push(s);
        }
    }
    rows.into_iter()
        .map(|r| {
            let s = steps.remove(&r.id).unwrap_or_default();
            r.into_item(s)
        })
        .collect()
}

async fn item_in<C: Conn + ?Sized>(c: &mut C, id: Uuid) -> Result<Option<ExchangeItem>> {
    let sql = Sql::new(format!("{} WHERE id = $1", item_select())).bind(id_text(id));
    Ok(fetch_items(c, &sql).await?.into_iter().next())
}

/// Most ids looked up in one statement.
const LOOKUP_CHUNK: usize = 500;

/// The envelopes already held, in `direction`, among `ids` (a batch, or one receipt): id →
/// (peer, stream, seq, hash hex).
/// One statement per chunk instead of one per envelope.
async fn held<C: Conn + ?Sized>(
    c: &mut C,
    direction: Direction,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, (String, String, i64, String)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let mut sql = Sql::new("").bind(direction.as_str());
        let list = in_list(&mut sql, chunk.iter().map(|id| id_text(*id)));
        sql.text = format!(
            "SELECT id, peer, stream, seq, hash FROM envelopes WHERE direction = $1 AND id {list}"
        );
        let rows: Vec<(String, String, String, i64, String)> = c.fetch(&sql).await?;
        for (id, peer, stream, seq, hash) in rows {
            let parsed = Uuid::try_parse(&id).map_err(|_| corrupt("envelope", &id, "id"))?;
            out.insert(parsed, (peer, stream, seq, hash));
        }
    }
    Ok(out)
}

/// Which of `ids` are items already held.
async fn items_held<C: Conn + ?Sized>(c: &mut C, ids: &[Uuid]) -> Result<HashSet<Uuid>> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let mut sql = Sql::new("");
        let list = in_list(&mut sql, chunk.iter().map(|id| id_text(*id)));
        sql.text = format!("SELECT id FROM items WHERE id {list}");
        let rows: Vec<(String,)> = c.fetch(&sql).await?;
        for (id,) in rows {
            out.insert(Uuid::try_parse(&id).map_err(|_| corrupt("item", &id, "id"))?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Writing

#[allow(clippy::too_many_arguments)]
async fn insert_envelope<C: Conn + ?Sized>(
    c: &mut C,
    peer: PartyCode,
    direction: Direction,
    stream: Stream,
    e: &SealedEnvelope,
    item: Option<Uuid>,
    stored_at: i64,
    delivered_at: Option<i64>,
    log_idx: u64,
) -> Result<()> {
    let args = EnvelopeRow::args(
        peer,
        direction,
        stream,
        e,
        item,
        stored_at,
        delivered_at,
        log_idx,
    )?;
    c.run(&Sql::new(insert_sql("envelopes", &[EnvelopeRow::COLS])).bind_all(args))
        .await?;
    Ok(())
}

async fn insert_item<C: Conn + ?Sized>(c: &mut C, item: &NewItem, now: i64) -> Result<()> {
    c.run(&Sql::new(insert_sql("items", &[ItemRow::COLS])).bind_all(ItemRow::new_args(item, now)))
        .await
        .map_err(duplicate("item", "/id", "/id"))?;
    Ok(())
}

/// Stores `step` as the next step of `current`, carried by `envelope`, and the state `decide`
/// derived for after it.
async fn insert_step<C: Conn + ?Sized>(
    c: &mut C,
    step: &NewStep<'_>,
    current: &ExchangeItem,
    state: &crate::exchange::ItemState,
    envelope: Uuid,
    now: i64,
) -> Result<()> {
    let id = id_text(current.id);
    let position =
        u32::try_from(current.steps.len()).map_err(|_| corrupt("item", &id, "too many steps"))?;
    c.run(
        &Sql::new(insert_sql("item_steps", &[StepRow::COLS])).bind_all(StepRow::args(
            current.id, position, &step.step, step.by, step.at, &step.body, envelope,
        )),
    )
    .await?;
    c.run(
        &Sql::new(format!("UPDATE items SET {} WHERE id = $7", state_sets(1)))
            .bind_all(state_args(state, now))
            .bind(id),
    )
    .await?;
    Ok(())
}

/// The item a step applies to: held, and of the step's kind.
async fn step_target<C: Conn + ?Sized>(
    c: &mut C,
    step: &NewStep<'_>,
) -> Result<Option<ExchangeItem>> {
    Ok(item_in(c, step.item)
        .await?
        .filter(|item| item.kind == step.kind))
}

// ---------------------------------------------------------------------------------------------
// Peers

pub(crate) async fn put_peer<B: Backend>(b: &B, ctx: &WriteCtx, peer: &NewPeer) -> Result<Peer> {
    let mut tx = b.begin_write().await?;
    let now = micros(ctx.now);
    let party = peer.party.as_str();
    let known = counters(&mut *tx, peer.party).await?.is_some();
    let sql = if known {
        Sql::new(
            "UPDATE peers SET endpoint = $1, signing_key = $2, tls_fingerprint = $3, card = $4, \
             updated_at = $5 WHERE party = $6",
        )
    } else {
        // The first message either way, and the first receipt, is seq 1.
        Sql::new(
            "INSERT INTO peers (endpoint, signing_key, tls_fingerprint, card, updated_at, party, \
             added_at, next_out_seq, next_in_seq, next_receipt_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 1, 1)",
        )
    };
    let mut sql = sql
        .bind(peer.endpoint.as_str())
        .bind(peer.signing_key.as_str())
        .bind(peer.tls_fingerprint.as_str())
        .bind(peer.card.as_str())
        .bind(now)
        .bind(party);
    if !known {
        sql = sql.bind(now);
    }
    tx.run(&sql)
        .await
        .map_err(duplicate("peer", "/party", "/tls_fingerprint"))?;
    let card_hash: [u8; 32] = Sha256::digest(peer.card.as_bytes()).into();
    let detail = json!({
        "endpoint": peer.endpoint,
        "signing_key": peer.signing_key,
        "tls_fingerprint": peer.tls_fingerprint,
        "card_sha256": hash_hex(&card_hash),
    });
    let action = if known { "peer.update" } else { "peer.add" };
    audit_write(&mut *tx, ctx, action, party.to_owned(), detail).await?;
    let out = peer_in(&mut *tx, peer.party)
        .await?
        .ok_or_else(unknown_peer)?;
    tx.commit().await?;
    Ok(out)
}

pub(crate) async fn peer<B: Backend>(b: &B, party: PartyCode) -> Result<Option<Peer>> {
    let mut c = b.read_one().await?;
    peer_in(&mut *c, party).await
}

pub(crate) async fn peer_by_fingerprint<B: Backend>(
    b: &B,
    fingerprint: &str,
) -> Result<Option<Peer>> {
    let mut c = b.read_one().await?;
    let sql = Sql::new(format!("{} WHERE p.tls_fingerprint = $1", peer_select())).bind(fingerprint);
    Ok(fetch_peers(&mut *c, &sql).await?.into_iter().next())
}

pub(crate) async fn list_peers<B: Backend>(b: &B) -> Result<Vec<Peer>> {
    let mut tx = b.begin_read().await?;
    let out = fetch_peers(
        &mut *tx,
        &Sql::new(format!("{} ORDER BY p.party", peer_select())),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

pub(crate) async fn record_delivery_error<B: Backend>(
    b: &B,
    peer: PartyCode,
    error: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let mut tx = b.begin_write().await?;
    let n = tx
        .run(
            &Sql::new("UPDATE peers SET last_error = $1, last_error_at = $2 WHERE party = $3")
                .bind(error)
                .bind(micros(now))
                .bind(peer.as_str()),
        )
        .await?;
    if n == 0 {
        return Err(unknown_peer());
    }
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sending

pub(crate) async fn send<B: Backend>(
    b: &B,
    ctx: &WriteCtx,
    to: PartyCode,
    effect: Effect<'_>,
    seal: Sealer<'_>,
) -> Result<Sent> {
    let mut tx = b.begin_write().await?;
    let sent = send_in(&mut *tx, ctx, to, effect, seal).await?;
    tx.commit().await?;
    Ok(sent)
}

/// Many sends in one transaction (one commit, one fsync), each in a savepoint of its own, so
/// that one refused or failed send leaves the others — and no trace of itself — behind.
pub(crate) async fn send_batch<B: Backend>(b: &B, jobs: Vec<SendJob>) -> Result<Vec<Result<Sent>>> {
    // The common case under load — only new items — is written with multi-row inserts, a few
    // statements for the whole group. If anything in it fails, the group is written again the
    // careful way below, where each send meets its own fate.
    if !jobs.is_empty()
        && jobs
            .iter()
            .all(|j| matches!(j.effect, JobEffect::NewItem(_)))
    {
        let mut tx = b.begin_write().await?;
        match new_items_in(&mut *tx, &jobs).await {
            Ok(sent) => {
                tx.commit().await?;
                return Ok(sent.into_iter().map(Ok).collect());
            }
            Err(_) => tx.rollback().await?,
        }
    }
    let mut tx = b.begin_write().await?;
    let mut out = Vec::with_capacity(jobs.len());
    // Savepoints by name rather than sqlx's nested transactions: the SQLite write transaction
    // is not one of sqlx's (see `sqlite::WriteTx`), and these are the same on both databases.
    let savepoint = Sql::new("SAVEPOINT send");
    let release = Sql::new("RELEASE SAVEPOINT send");
    let undo = Sql::new("ROLLBACK TO SAVEPOINT send");
    for job in jobs {
        tx.run(&savepoint).await?;
        let effect = match &job.effect {
            JobEffect::NewItem(item) => Effect::NewItem(item.clone()),
            JobEffect::Step(step) => Effect::Step(NewStep {
                item: step.item,
                kind: step.kind,
                step: step.step.clone(),
                by: step.by,
                at: step.at,
                body: step.body.clone(),
                decide: step.decide.as_ref(),
            }),
        };
        match send_in(&mut *tx, &job.ctx, job.to, effect, job.seal.as_ref()).await {
            Ok(sent) => {
                tx.run(&release).await?;
                out.push(Ok(sent));
            }
            Err(e) => {
                tx.run(&undo).await?;
                tx.run(&release).await?;
                out.push(Err(e));
            }
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// Sends that each create a new item, written together: the same rows, seqs and audit entries
/// as `send_in` one after the other, in a handful of statements.
async fn new_items_in<C: Conn + ?Sized>(c: &mut C, jobs: &[SendJob]) -> Result<Vec<Sent>> {
    let mut logs: HashMap<PartyCode, Appender> = HashMap::new();
    let mut next: HashMap<PartyCode, u64> = HashMap::new();
    let mut items = Vec::with_capacity(jobs.len());
    let mut envelopes = Vec::with_capacity(jobs.len());
    let mut audit = Vec::with_capacity(jobs.len());
    let mut sent = Vec::with_capacity(jobs.len());
    for job in jobs {
        let JobEffect::NewItem(item) = &job.effect else {
            return Err(seal_error("a step in a group of new items"));
        };
        let seq = match next.get(&job.to) {
            Some(n) => *n,
            None => {
                let (counters, me) = counters_and_me(c, job.to).await?.ok_or_else(unknown_peer)?;
                let n = counters.next_out;
                // Opened before any of the group's envelopes is stored (see `sql_log`).
                logs.insert(job.to, Appender::own(c, me, job.to).await?);
                n
            }
        };
        next.insert(job.to, seq.saturating_add(1));
        let envelope = checked((job.seal)(seq), seq)?;
        if envelope.id != item.id {
            return Err(seal_error("an envelope and its item must have the same id"));
        }
        let now = micros(job.ctx.now);
        let log_index = logs
            .get_mut(&job.to)
            .ok_or_else(|| seal_error("a send to a peer whose log was not opened"))?
            .envelope(
                Direction::Out,
                Stream::Message,
                &envelope,
                truncate(job.ctx.now),
            );
        items.push(ItemRow::new_args(item, now));
        envelopes.push(EnvelopeRow::args(
            job.to,
            Direction::Out,
            Stream::Message,
            &envelope,
            Some(item.id),
            now,
            None,
            log_index,
        )?);
        audit.push(ctx_entry(
            &job.ctx,
            message_action(item.kind, None, "send"),
            id_text(envelope.id),
            message_detail(job.to, &envelope, item.id, log_index).to_string(),
        ));
        let at = truncate(job.ctx.now);
        sent.push(Sent {
            item: ExchangeItem {
                id: item.id,
                kind: item.kind,
                originator: item.originator,
                recipient: item.recipient,
                subtype: item.subtype.clone(),
                urgency: item.urgency.clone(),
                summary: item.summary.clone(),
                body: item.body.clone(),
                sent_at: truncate(item.sent_at),
                state: crate::exchange::ItemState {
                    state: initial_state(item.kind).to_owned(),
                    agency: None,
                    acknowledged_at: None,
                    closed_at: None,
                    closure: None,
                },
                steps: Vec::new(),
                updated_at: at,
            },
            envelope,
        });
    }
    // Every write of the group in one go: on SQLite, one hand-off to the connection's thread.
    let mut writes = insert_statements("items", &[ItemRow::COLS], items);
    writes.extend(insert_statements(
        "envelopes",
        &[EnvelopeRow::COLS],
        envelopes,
    ));
    for (_, log) in logs {
        writes.extend(log.statements()?);
    }
    for (party, n) in next {
        let n = seq_sql("peer", party.as_str(), n)?;
        writes.push(
            Sql::new("UPDATE peers SET next_out_seq = $1 WHERE party = $2")
                .bind(n)
                .bind(party.as_str()),
        );
    }
    writes.extend(audit_statements(c, audit).await?);
    c.run_all(&writes).await?;
    Ok(sent)
}

/// The body of `send`, inside the caller's transaction.
async fn send_in<C: Conn + ?Sized>(
    c: &mut C,
    ctx: &WriteCtx,
    to: PartyCode,
    effect: Effect<'_>,
    seal: Sealer<'_>,
) -> Result<Sent> {
    let now = micros(ctx.now);
    let (counters, me) = counters_and_me(c, to).await?.ok_or_else(unknown_peer)?;
    let seq = counters.next_out;
    let next = seq_sql("peer", to.as_str(), seq.saturating_add(1))?;
    let mut log = Appender::own(c, me, to).await?;
    let (envelope, item, action) = match effect {
        Effect::NewItem(item) => {
            let envelope = checked(seal(seq), seq)?;
            if envelope.id != item.id {
                return Err(seal_error(format!(
                    "envelope {} carries item {}: they must have the same id",
                    envelope.id, item.id
                )));
            }
            insert_item(c, &item, now).await?;
            (envelope, item.id, message_action(item.kind, None, "send"))
        }
        Effect::Step(step) => {
            let current = step_target(c, &step).await?.ok_or(StoreError::NotFound {
                kind: "item",
                id: step.item,
            })?;
            // Decided before sealing: a refused step is not worth a signature.
            let state = (step.decide)(&current).map_err(|r| StoreError::StepRefused {
                code: r.code,
                detail: r.detail,
            })?;
            let envelope = checked(seal(seq), seq)?;
            insert_step(c, &step, &current, &state, envelope.id, now).await?;
            (
                envelope,
                step.item,
                message_action(step.kind, Some(&step.step), "send"),
            )
        }
    };
    let log_index = log.envelope(
        Direction::Out,
        Stream::Message,
        &envelope,
        truncate(ctx.now),
    );
    insert_envelope(
        c,
        to,
        Direction::Out,
        Stream::Message,
        &envelope,
        Some(item),
        now,
        None,
        log_index,
    )
    .await?;
    let mut writes = log.statements()?;
    writes.push(
        Sql::new("UPDATE peers SET next_out_seq = $1 WHERE party = $2")
            .bind(next)
            .bind(to.as_str()),
    );
    let audit = ctx_entry(
        ctx,
        action,
        id_text(envelope.id),
        message_detail(to, &envelope, item, log_index).to_string(),
    );
    writes.extend(audit_statements(c, vec![audit]).await?);
    c.run_all(&writes).await?;
    let item = item_in(c, item).await?.ok_or(StoreError::NotFound {
        kind: "item",
        id: item,
    })?;
    Ok(Sent { item, envelope })
}

pub(crate) async fn outbox<B: Backend>(
    b: &B,
    to: PartyCode,
    after: u64,
    limit: u32,
) -> Result<Vec<EnvelopeRecord>> {
    let sql = Sql::new(format!(
        "{} WHERE peer = $1 AND direction = 'out' AND stream = 'message' \
         AND delivered_at IS NULL AND seq > $2 ORDER BY seq LIMIT $3",
        envelope_select()
    ))
    .bind(to.as_str())
    .bind(seq_sql("envelope", to.as_str(), after)?)
    .bind(i64::from(limit));
    let mut c = b.read_one().await?;
    let out = fetch_envelopes(&mut *c, &sql).await?;
    Ok(out.into_iter().map(|(_, e)| e).collect())
}

/// Envelopes a receipt marks delivered per statement: three parameters each, well under both
/// databases' limits.
const RECEIPT_CHUNK: usize = 500;

pub(crate) async fn record_receipt<B: Backend>(
    b: &B,
    peer: PartyCode,
    receipt: &SealedEnvelope,
    accepted: &[Accepted],
    now: OffsetDateTime,
) -> Result<u64> {
    let mut tx = b.begin_write().await?;
    let c = &mut *tx;
    let at = micros(now);
    let Some((_, me)) = counters_and_me(c, peer).await? else {
        return Err(unknown_peer());
    };
    let mut log = Appender::own(c, me, peer).await?;
    let new = match held(c, Direction::In, &[receipt.id])
        .await?
        .remove(&receipt.id)
    {
        None => true,
        Some((p, stream, _, hash))
            if p == peer.as_str() && stream == "receipt" && hash == hash_hex(&receipt.hash) =>
        {
            false
        }
        Some(_) => {
            return Err(StoreError::Duplicate {
                what: "receipt",
                pointer: "/id",
            });
        }
    };
    // One UPDATE per chunk of the receipt, each envelope matched on its seq, id and hash
    // together (a row value), rather than one statement per envelope.
    let mut marked = 0;
    // A seq that cannot be stored was never sent.
    let covered: Vec<(i64, &Accepted)> = accepted
        .iter()
        .filter_map(|a| i64::try_from(a.seq).ok().map(|seq| (seq, a)))
        .collect();
    for chunk in covered.chunks(RECEIPT_CHUNK) {
        let rows = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${})", 3 + 3 * i, 4 + 3 * i, 5 + 3 * i))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = Sql::new(format!(
            "UPDATE envelopes SET delivered_at = $1 WHERE peer = $2 AND direction = 'out' \
             AND stream = 'message' AND delivered_at IS NULL \
             AND (seq, id, hash) IN (VALUES {rows})"
        ))
        .bind(at)
        .bind(peer.as_str());
        for (seq, a) in chunk {
            sql = sql.bind(*seq).bind(id_text(a.id)).bind(hash_hex(&a.hash));
        }
        marked += c.run(&sql).await?;
    }
    let log_index =
        new.then(|| log.envelope(Direction::In, Stream::Receipt, receipt, truncate(now)));
    if let Some(log_index) = log_index {
        let args = EnvelopeRow::args(
            peer,
            Direction::In,
            Stream::Receipt,
            receipt,
            None,
            at,
            None,
            log_index,
        )?;
        c.run(&Sql::new(insert_sql("envelopes", &[EnvelopeRow::COLS])).bind_all(args))
            .await
            .map_err(duplicate("receipt", "/seq", "/seq"))?;
    }
    // The rest in one go: on SQLite, one hand-off to the connection's thread.
    let mut writes = log.statements()?;
    writes.push(
        Sql::new(
            "UPDATE peers SET last_contact_at = $1, last_error = NULL, last_error_at = NULL, \
             delivered_out = delivered_out + $2 WHERE party = $3",
        )
        .bind(at)
        .bind(i64::try_from(marked).unwrap_or(i64::MAX))
        .bind(peer.as_str()),
    );
    if new {
        let entry = NewAuditEntry {
            at: now,
            // The node records it on the peer's word, as `receive` runs for `peer:<party>`.
            actor: format!("peer:{peer}"),
            ip: None,
            action: "receipt.receive".to_owned(),
            target: Some(id_text(receipt.id)),
            detail: json!({
                "peer": peer.as_str(),
                "seq": receipt.seq,
                "hash": hash_hex(&receipt.hash),
                "delivered": marked,
                "log_index": log_index,
            })
            .to_string(),
        };
        writes.extend(audit_statements(c, vec![entry]).await?);
    }
    c.run_all(&writes).await?;
    tx.commit().await?;
    Ok(marked)
}

// ---------------------------------------------------------------------------------------------
// Receiving

/// New items a batch received, written together (one multi-row insert) before anything that
/// reads them: a step on one of them, or the batch's envelopes, which refer to them.
struct PendingItems {
    /// Items held before the batch, among those it brings.
    held: HashSet<Uuid>,
    ids: HashSet<Uuid>,
    rows: Vec<Vec<Arg>>,
}

impl PendingItems {
    async fn flush<C: Conn + ?Sized>(&mut self, c: &mut C) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        insert_many(c, "items", &[ItemRow::COLS], rows).await?;
        self.held.extend(self.ids.drain());
        Ok(())
    }
}

/// Applies one inbound message's effect (it is in sequence and new), or says why not.
async fn apply_inbound<C: Conn + ?Sized>(
    c: &mut C,
    envelope: &SealedEnvelope,
    effect: &Effect<'_>,
    pending: &mut PendingItems,
    now: i64,
) -> Result<std::result::Result<(Uuid, String), StepRefused>> {
    let refuse = |code: &'static str, detail: String| Ok(Err(StepRefused { code, detail }));
    match effect {
        Effect::NewItem(item) => {
            if item.id != envelope.id {
                return refuse(
                    "invalid",
                    format!("item {} came in envelope {}", item.id, envelope.id),
                );
            }
            // Checked rather than left to the primary key: on PostgreSQL a failed statement
            // would abort the whole transaction, and the batch's earlier envelopes with it.
            if pending.held.contains(&item.id) || pending.ids.contains(&item.id) {
                return refuse("invalid", format!("item {} is already held", item.id));
            }
            pending.ids.insert(item.id);
            pending.rows.push(ItemRow::new_args(item, now));
            Ok(Ok((item.id, message_action(item.kind, None, "receive"))))
        }
        Effect::Step(step) => {
            // The step may be on an item this very batch brought.
            pending.flush(c).await?;
            let Some(current) = step_target(c, step).await? else {
                return refuse(
                    "unknown-item",
                    format!("no {} {} is held here", step.kind.as_str(), step.item),
                );
            };
            let state = match (step.decide)(&current) {
                Ok(s) => s,
                Err(r) => return Ok(Err(r)),
            };
            insert_step(c, step, &current, &state, envelope.id, now).await?;
            Ok(Ok((
                step.item,
                message_action(step.kind, Some(&step.step), "receive"),
            )))
        }
    }
}

pub(crate) async fn receive<B: Backend>(
    b: &B,
    ctx: &WriteCtx,
    from: PartyCode,
    batch: Vec<Inbound<'_>>,
    seal_receipt: ReceiptSealer<'_>,
) -> Result<ReceiveReport> {
    let mut tx = b.begin_write().await?;
    let c = &mut *tx;
    let now = micros(ctx.now);
    let (seqs, me) = counters_and_me(c, from).await?.ok_or_else(unknown_peer)?;
    let mut log = Appender::own(c, me, from).await?;
    let mut next_in = seqs.next_in;
    let mut accepted = Vec::with_capacity(batch.len());
    let mut rejected = None;
    // The envelopes and audit entries of the batch are written together at the end, with
    // multi-row inserts; until then, what this batch accepted is known from here.
    let mut envelopes = Vec::with_capacity(batch.len());
    let mut audit = Vec::with_capacity(batch.len() + 1);
    let mut in_batch: HashMap<Uuid, (u64, [u8; 32])> = HashMap::new();
    // What the batch's ids already name, read once for the batch.
    let ids: Vec<Uuid> = batch.iter().map(|b| b.envelope.id).collect();
    let held_before = held(c, Direction::In, &ids).await?;
    let item_ids: Vec<Uuid> = batch
        .iter()
        .filter_map(|b| match &b.effect {
            Effect::NewItem(item) => Some(item.id),
            Effect::Step(_) => None,
        })
        .collect();
    let mut pending = PendingItems {
        held: items_held(c, &item_ids).await?,
        ids: HashSet::new(),
        rows: Vec::new(),
    };
    for (i, Inbound { envelope, effect }) in batch.into_iter().enumerate() {
        if let Some((seq, hash)) = in_batch.get(&envelope.id).copied() {
            if hash == envelope.hash {
                accepted.push(Accepted {
                    id: envelope.id,
                    seq,
                    hash,
                });
                continue;
            }
            rejected = Some((i, InboundRejection::Replayed { id: envelope.id }));
            break;
        }
        if let Some((peer, stream, seq, hash)) = held_before.get(&envelope.id) {
            if peer == from.as_str() && stream == "message" && *hash == hash_hex(&envelope.hash) {
                let seq = seq_read("envelope", &id_text(envelope.id), *seq)?;
                accepted.push(Accepted {
                    id: envelope.id,
                    seq,
                    hash: envelope.hash,
                });
                continue;
            }
            rejected = Some((i, InboundRejection::Replayed { id: envelope.id }));
            break;
        }
        if envelope.seq != next_in {
            rejected = Some((
                i,
                InboundRejection::SequenceGap {
                    expected: next_in,
                    got: envelope.seq,
                },
            ));
            break;
        }
        let (item, action) = match apply_inbound(c, &envelope, &effect, &mut pending, now).await? {
            Ok(applied) => applied,
            Err(refused) => {
                rejected = Some((i, InboundRejection::Refused(refused)));
                break;
            }
        };
        let log_index = log.envelope(Direction::In, Stream::Message, &envelope, truncate(ctx.now));
        envelopes.push(EnvelopeRow::args(
            from,
            Direction::In,
            Stream::Message,
            &envelope,
            Some(item),
            now,
            None,
            log_index,
        )?);
        audit.push(ctx_entry(
            ctx,
            action,
            id_text(envelope.id),
            message_detail(from, &envelope, item, log_index).to_string(),
        ));
        in_batch.insert(envelope.id, (envelope.seq, envelope.hash));
        next_in = next_in.saturating_add(1);
        accepted.push(Accepted {
            id: envelope.id,
            seq: envelope.seq,
            hash: envelope.hash,
        });
    }
    let receipt_seq = seqs.next_receipt;
    let receipt = checked(seal_receipt(receipt_seq, &accepted, next_in), receipt_seq)?;
    // Delivered as it is stored: it travels back in the response to this very batch.
    let receipt_index = log.envelope(Direction::Out, Stream::Receipt, &receipt, truncate(ctx.now));
    envelopes.push(EnvelopeRow::args(
        from,
        Direction::Out,
        Stream::Receipt,
        &receipt,
        None,
        now,
        Some(now),
        receipt_index,
    )?);
    // The rest of the batch's writes in one go: on SQLite, one hand-off to the connection's
    // thread. The items first: the envelopes refer to them.
    let mut writes =
        insert_statements("items", &[ItemRow::COLS], std::mem::take(&mut pending.rows));
    writes.extend(insert_statements(
        "envelopes",
        &[EnvelopeRow::COLS],
        envelopes,
    ));
    writes.extend(log.statements()?);
    let id = from.as_str();
    writes.push(
        Sql::new(
            "UPDATE peers SET next_in_seq = $1, next_receipt_seq = $2, last_contact_at = $3 \
             WHERE party = $4",
        )
        .bind(seq_sql("peer", id, next_in)?)
        .bind(seq_sql("peer", id, receipt_seq.saturating_add(1))?)
        .bind(now)
        .bind(id),
    );
    let detail = json!({
        "peer": id,
        "seq": receipt.seq,
        "hash": hash_hex(&receipt.hash),
        "accepted": accepted.len(),
        "next_seq": next_in,
        "log_index": receipt_index,
    });
    audit.push(ctx_entry(
        ctx,
        "receipt.send",
        id_text(receipt.id),
        detail.to_string(),
    ));
    writes.extend(audit_statements(c, audit).await?);
    c.run_all(&writes).await?;
    tx.commit().await?;
    Ok(ReceiveReport {
        accepted,
        rejected,
        next_seq: next_in,
        receipt,
    })
}

// ---------------------------------------------------------------------------------------------
// Items and the envelope log

pub(crate) async fn get_item<B: Backend>(b: &B, id: Uuid) -> Result<Option<ExchangeItem>> {
    let mut tx = b.begin_read().await?;
    let out = item_in(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

pub(crate) async fn list_items<B: Backend>(
    b: &B,
    filter: &ItemFilter,
    page: Page,
) -> Result<Paged<ExchangeItem>> {
    let mut sql = Sql::new(item_select());
    let mut conds = Vec::new();
    if let Some(k) = filter.kind {
        conds.push(format!("kind = {}", sql.param(k.as_str())));
    }
    if let Some(p) = filter.originator {
        conds.push(format!("originator = {}", sql.param(p.as_str())));
    }
    if let Some(p) = filter.recipient {
        conds.push(format!("recipient = {}", sql.param(p.as_str())));
    }
    if let Some(s) = &filter.state {
        conds.push(format!("state = {}", sql.param(s.as_str())));
    }
    if let Some(u) = &filter.urgency {
        conds.push(format!("urgency = {}", sql.param(u.as_str())));
    }
    if let Some(a) = &filter.agency {
        conds.push(format!("agency = {}", sql.param(a.as_str())));
    }
    keyset(&mut sql, conds, page);
    let mut tx = b.begin_read().await?;
    let items = fetch_items(&mut *tx, &sql).await?;
    tx.commit().await?;
    Ok(paged(items, page, |i| i.id))
}

pub(crate) async fn list_envelopes<B: Backend>(
    b: &B,
    peer: PartyCode,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<(i64, EnvelopeRecord)>> {
    let sql = Sql::new(format!(
        "{} WHERE peer = $1 AND row_no > $2 ORDER BY row_no LIMIT $3",
        envelope_select()
    ))
    .bind(peer.as_str())
    .bind(after.unwrap_or(i64::MIN))
    .bind(i64::from(limit));
    let mut tx = b.begin_read().await?;
    let out = fetch_envelopes(&mut *tx, &sql).await?;
    tx.commit().await?;
    Ok(out)
}

/// The envelope exchanged with `peer` whose id is `id`, either way.
pub(crate) async fn envelope_by_id<B: Backend>(
    b: &B,
    peer: PartyCode,
    id: Uuid,
) -> Result<Option<EnvelopeRecord>> {
    // Both directions named, so the (direction, id) index serves the lookup.
    let sql = Sql::new(format!(
        "{} WHERE direction IN ('out', 'in') AND id = $1 AND peer = $2 LIMIT 1",
        envelope_select()
    ))
    .bind(id_text(id))
    .bind(peer.as_str());
    let mut c = b.read_one().await?;
    Ok(fetch_envelopes(&mut *c, &sql)
        .await?
        .into_iter()
        .next()
        .map(|(_, e)| e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_kind_step_and_way() {
        let r = ItemKind::Referral;
        assert_eq!(message_action(r, None, "send"), "referral.create.send");
        assert_eq!(
            message_action(r, Some("referral.acknowledge"), "receive"),
            "referral.acknowledge.receive"
        );
        assert_eq!(
            message_action(ItemKind::Request, Some("answer"), "send"),
            "request.answer.send"
        );
        // A token of the other kind is kept whole rather than half-stripped.
        assert_eq!(
            message_action(r, Some("referrals.x"), "send"),
            "referral.referrals.x.send"
        );
    }

    #[test]
    fn sealed_envelopes_must_carry_their_seq_and_hash() {
        let signed = "text".to_owned();
        let e = SealedEnvelope {
            id: Uuid::nil(),
            seq: 3,
            message_type: "referral".into(),
            time: OffsetDateTime::UNIX_EPOCH,
            hash: Sha256::digest(signed.as_bytes()).into(),
            signed,
        };
        assert!(checked(Ok(e.clone()), 3).is_ok());
        assert!(matches!(
            checked(Ok(e.clone()), 4),
            Err(StoreError::Seal(_))
        ));
        let bad = SealedEnvelope { hash: [0; 32], ..e };
        assert!(matches!(checked(Ok(bad), 3), Err(StoreError::Seal(_))));
        assert!(matches!(
            checked(Err("no key".into()), 3),
            Err(StoreError::Seal(r)) if r == "no key"
        ));
    }
}
