//! Rows of the exchange tables (peers, envelopes, items, item steps) as stored, and their mapping
//! to and from the types of [`crate::exchange`].
//!
//! The same encoding as `rows.rs`: ids as hyphenated UUID text, instants as microseconds, hashes
//! as lower-case hex. Sequence numbers are `u64` in Rust and BIGINT in SQL, so one above
//! `i64::MAX` can be neither stored nor read back: a stored negative one reads as corrupt.

use puente_domain::PartyCode;
use uuid::Uuid;

use crate::Result;
use crate::exchange::{
    Direction, EnvelopeRecord, ExchangeItem, ItemKind, ItemState, ItemStep, NewItem, Peer,
    SealedEnvelope, Stream,
};
use crate::rows::{corrupt, hash_hex, id_text, instant, micros, parse_hash, parse_id, parse_party};
use crate::sql::Arg;

/// A sequence number as stored; `Corrupt` (of `kind` `id`) if it does not fit BIGINT.
pub(crate) fn seq_sql(kind: &'static str, id: &str, seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| corrupt(kind, id, format!("seq {seq} is above i64::MAX")))
}

/// A stored sequence number; negative ones cannot have been written by the store.
pub(crate) fn seq_read(kind: &'static str, id: &str, seq: i64) -> Result<u64> {
    u64::try_from(seq).map_err(|_| corrupt(kind, id, format!("seq {seq} is negative")))
}

fn opt_instant(
    kind: &'static str,
    id: &str,
    m: Option<i64>,
) -> Result<Option<time::OffsetDateTime>> {
    m.map(|m| instant(kind, id, m)).transpose()
}

fn parse_kind(id: &str, s: &str) -> Result<ItemKind> {
    match s {
        "referral" => Ok(ItemKind::Referral),
        "request" => Ok(ItemKind::Request),
        _ => Err(corrupt("item", id, format!("kind {s:?}"))),
    }
}

/// The state a new item starts in, before any step.
pub(crate) fn initial_state(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Referral => "sent",
        ItemKind::Request => "asked",
    }
}

// ---------------------------------------------------------------------------------------------
// Peers

/// A peer with its backlog, as the peer select (`sql_exchange::peer_select`) reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct PeerRow {
    pub party: String,
    pub endpoint: String,
    pub signing_key: String,
    pub tls_fingerprint: String,
    pub card: String,
    pub added_at: i64,
    pub updated_at: i64,
    pub next_out_seq: i64,
    pub next_in_seq: i64,
    pub last_contact_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub backlog: i64,
    pub oldest_undelivered_at: Option<i64>,
}

impl PeerRow {
    pub fn into_peer(self) -> Result<Peer> {
        const K: &str = "peer";
        let id = self.party.as_str();
        Ok(Peer {
            party: parse_party(K, id, id)?,
            added_at: instant(K, id, self.added_at)?,
            updated_at: instant(K, id, self.updated_at)?,
            next_out_seq: seq_read(K, id, self.next_out_seq)?,
            next_in_seq: seq_read(K, id, self.next_in_seq)?,
            backlog: seq_read(K, id, self.backlog)?,
            oldest_undelivered_at: opt_instant(K, id, self.oldest_undelivered_at)?,
            last_contact_at: opt_instant(K, id, self.last_contact_at)?,
            last_error_at: opt_instant(K, id, self.last_error_at)?,
            last_error: self.last_error,
            endpoint: self.endpoint,
            signing_key: self.signing_key,
            tls_fingerprint: self.tls_fingerprint,
            card: self.card,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Envelopes

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct EnvelopeRow {
    pub row_no: i64,
    pub peer: String,
    pub direction: String,
    pub stream: String,
    pub seq: i64,
    pub id: String,
    pub message_type: String,
    pub message_time: i64,
    pub signed: String,
    pub hash: String,
    pub item_id: Option<String>,
    pub stored_at: i64,
    pub delivered_at: Option<i64>,
    pub log_idx: Option<i64>,
}

impl EnvelopeRow {
    /// Every column but `row_no`, which the database assigns.
    pub const COLS: &[&str] = &[
        "peer",
        "direction",
        "stream",
        "seq",
        "id",
        "message_type",
        "message_time",
        "signed",
        "hash",
        "item_id",
        "stored_at",
        "delivered_at",
        "log_idx",
    ];

    /// The arguments of [`EnvelopeRow::COLS`] for an envelope stored now (`stored_at`).
    // One argument per column the envelope itself does not give.
    #[allow(clippy::too_many_arguments)]
    pub fn args(
        peer: PartyCode,
        direction: Direction,
        stream: Stream,
        e: &SealedEnvelope,
        item: Option<Uuid>,
        stored_at: i64,
        delivered_at: Option<i64>,
        log_idx: u64,
    ) -> Result<Vec<Arg>> {
        let id = id_text(e.id);
        let log_idx = seq_sql("envelope", &id, log_idx)?;
        Ok(vec![
            peer.as_str().into(),
            direction.as_str().into(),
            stream.as_str().into(),
            seq_sql("envelope", &id, e.seq)?.into(),
            id.into(),
            e.message_type.as_str().into(),
            micros(e.time).into(),
            e.signed.as_str().into(),
            hash_hex(&e.hash).into(),
            item.map(id_text).into(),
            stored_at.into(),
            delivered_at.into(),
            Some(log_idx).into(),
        ])
    }

    pub fn into_record(self) -> Result<(i64, EnvelopeRecord)> {
        const K: &str = "envelope";
        let id = self.id.as_str();
        let direction = match self.direction.as_str() {
            "out" => Direction::Out,
            "in" => Direction::In,
            d => return Err(corrupt(K, id, format!("direction {d:?}"))),
        };
        let stream = match self.stream.as_str() {
            "message" => Stream::Message,
            "receipt" => Stream::Receipt,
            s => return Err(corrupt(K, id, format!("stream {s:?}"))),
        };
        let record = EnvelopeRecord {
            peer: parse_party(K, id, &self.peer)?,
            direction,
            stream,
            envelope: SealedEnvelope {
                id: parse_id(K, id)?,
                seq: seq_read(K, id, self.seq)?,
                message_type: self.message_type,
                time: instant(K, id, self.message_time)?,
                hash: parse_hash(K, id, &self.hash)?,
                signed: self.signed,
            },
            item: self
                .item_id
                .as_deref()
                .map(|i| parse_id(K, i))
                .transpose()?,
            stored_at: instant(K, id, self.stored_at)?,
            delivered_at: opt_instant(K, id, self.delivered_at)?,
            log_index: self.log_idx.map(|i| seq_read(K, id, i)).transpose()?,
        };
        Ok((self.row_no, record))
    }
}

// ---------------------------------------------------------------------------------------------
// Items and steps

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ItemRow {
    pub id: String,
    pub kind: String,
    pub originator: String,
    pub recipient: String,
    pub subtype: String,
    pub urgency: String,
    pub summary: String,
    pub body: String,
    pub sent_at: i64,
    pub state: String,
    pub agency: Option<String>,
    pub acknowledged_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub closure: Option<String>,
    pub updated_at: i64,
}

impl ItemRow {
    pub const COLS: &[&str] = &[
        "id",
        "kind",
        "originator",
        "recipient",
        "subtype",
        "urgency",
        "summary",
        "body",
        "sent_at",
        "state",
        "agency",
        "acknowledged_at",
        "closed_at",
        "closure",
        "updated_at",
    ];

    /// The arguments of [`ItemRow::COLS`] for a new item, in its initial state, stored `now`.
    pub fn new_args(item: &NewItem, now: i64) -> Vec<Arg> {
        vec![
            id_text(item.id).into(),
            item.kind.as_str().into(),
            item.originator.as_str().into(),
            item.recipient.as_str().into(),
            item.subtype.as_str().into(),
            item.urgency.as_str().into(),
            item.summary.as_str().into(),
            item.body.as_str().into(),
            micros(item.sent_at).into(),
            initial_state(item.kind).into(),
            Arg::OptText(None),
            Arg::OptInt(None),
            Arg::OptInt(None),
            Arg::OptText(None),
            now.into(),
        ]
    }

    pub fn into_item(self, steps: Vec<StepRow>) -> Result<ExchangeItem> {
        const K: &str = "item";
        let id = self.id.as_str();
        Ok(ExchangeItem {
            id: parse_id(K, id)?,
            kind: parse_kind(id, &self.kind)?,
            originator: parse_party(K, id, &self.originator)?,
            recipient: parse_party(K, id, &self.recipient)?,
            sent_at: instant(K, id, self.sent_at)?,
            updated_at: instant(K, id, self.updated_at)?,
            state: ItemState {
                state: self.state,
                agency: self.agency,
                acknowledged_at: opt_instant(K, id, self.acknowledged_at)?,
                closed_at: opt_instant(K, id, self.closed_at)?,
                closure: self.closure,
            },
            steps: steps
                .into_iter()
                .map(StepRow::into_step)
                .collect::<Result<_>>()?,
            subtype: self.subtype,
            urgency: self.urgency,
            summary: self.summary,
            body: self.body,
        })
    }
}

/// `SET state = $first, …, updated_at = $first+5`: the state columns an applied step changes.
pub(crate) fn state_sets(first: usize) -> String {
    [
        "state",
        "agency",
        "acknowledged_at",
        "closed_at",
        "closure",
        "updated_at",
    ]
    .iter()
    .enumerate()
    .map(|(i, c)| format!("{c} = ${}", first + i))
    .collect::<Vec<_>>()
    .join(", ")
}

/// The arguments of [`state_sets`].
pub(crate) fn state_args(s: &ItemState, now: i64) -> Vec<Arg> {
    let opt_micros = |t: Option<time::OffsetDateTime>| Arg::OptInt(t.map(micros));
    vec![
        s.state.as_str().into(),
        s.agency.clone().into(),
        opt_micros(s.acknowledged_at),
        opt_micros(s.closed_at),
        s.closure.clone().into(),
        now.into(),
    ]
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct StepRow {
    pub item_id: String,
    pub position: i64,
    pub step: String,
    pub by_party: String,
    pub at: i64,
    pub body: String,
    pub envelope_id: String,
}

impl StepRow {
    pub const COLS: &[&str] = &[
        "item_id",
        "position",
        "step",
        "by_party",
        "at",
        "body",
        "envelope_id",
    ];

    pub fn args(
        item: Uuid,
        position: u32,
        step: &str,
        by: PartyCode,
        at: time::OffsetDateTime,
        body: &str,
        envelope: Uuid,
    ) -> Vec<Arg> {
        vec![
            id_text(item).into(),
            i64::from(position).into(),
            step.into(),
            by.as_str().into(),
            micros(at).into(),
            body.into(),
            id_text(envelope).into(),
        ]
    }

    fn into_step(self) -> Result<ItemStep> {
        const K: &str = "item";
        let id = self.item_id.as_str();
        Ok(ItemStep {
            index: u32::try_from(self.position).map_err(|_| {
                corrupt(
                    K,
                    id,
                    format!("step position {} out of range", self.position),
                )
            })?,
            by: parse_party(K, id, &self.by_party)?,
            at: instant(K, id, self.at)?,
            envelope: parse_id(K, &self.envelope_id)?,
            step: self.step,
            body: self.body,
        })
    }
}
