//! What a node keeps of its exchange with peers: the registered peers, every envelope sent or
//! received exactly as signed, the outbox of envelopes not yet acknowledged by a receipt, and the
//! exchanged items (referrals and requests for information) with their steps.
//!
//! The store knows no envelope format and no state machine: callers hand it envelopes already
//! sealed or verified (as text, exactly as signed) and decide each step's effect with a closure
//! the store calls inside its transaction, where the item cannot change under it. What the store
//! guarantees is the bookkeeping: sequence numbers allocated without gaps, each inbound envelope
//! applied at most once and only in sequence, an envelope and its effect and its audit entry
//! committed together or not at all.

use puente_domain::PartyCode;
use time::OffsetDateTime;
use uuid::Uuid;

/// Which way an envelope travelled, seen from this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Out,
    In,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::In => "in",
        }
    }
}

/// Which numbered sequence an envelope belongs to: messages (items and their steps) and the
/// receipts acknowledging them are numbered separately, each from 1, per peer and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Message,
    Receipt,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Message => "message",
            Stream::Receipt => "receipt",
        }
    }
}

/// The two kinds of exchanged item. They share one table and one life cycle shape (sent, then
/// steps by the recipient, or a withdrawal by the originator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Referral,
    Request,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Referral => "referral",
            ItemKind::Request => "request",
        }
    }
}

/// A peer as registered from its card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPeer {
    pub party: PartyCode,
    /// `https://host:port` of its federation listener.
    pub endpoint: String,
    /// `ed25519:<base64>`.
    pub signing_key: String,
    /// SHA-256 of its TLS certificate, 64 lower-case hex.
    pub tls_fingerprint: String,
    /// The card's text, kept as evidence of what was registered.
    pub card: String,
}

/// A registered peer and where the exchange with it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub party: PartyCode,
    pub endpoint: String,
    pub signing_key: String,
    pub tls_fingerprint: String,
    pub card: String,
    pub added_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The seq the next envelope to this peer gets (the first is 1).
    pub next_out_seq: u64,
    /// The seq the next envelope from this peer must carry.
    pub next_in_seq: u64,
    /// Outbound envelopes without a receipt yet.
    pub backlog: u64,
    /// When the oldest of those was sealed.
    pub oldest_undelivered_at: Option<OffsetDateTime>,
    /// The last time this peer answered us or sent us something.
    pub last_contact_at: Option<OffsetDateTime>,
    /// Why the last delivery attempt failed, if it did (cleared by a success).
    pub last_error: Option<String>,
    /// When that failure was noted.
    pub last_error_at: Option<OffsetDateTime>,
}

/// An envelope as the exchange crate sealed or verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEnvelope {
    /// The message id (the envelope header's `id`).
    pub id: Uuid,
    pub seq: u64,
    /// The header's `type`, e.g. `referral` or `referral.acknowledge`.
    pub message_type: String,
    /// The header's `time`.
    pub time: OffsetDateTime,
    /// The whole-envelope serialisation, exactly as signed (see `docs/exchange.md`).
    pub signed: String,
    /// SHA-256 of `signed`.
    pub hash: [u8; 32],
}

/// An envelope as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRecord {
    pub peer: PartyCode,
    pub direction: Direction,
    /// A message, or a receipt (which carries no item and is never in the outbox).
    pub stream: Stream,
    pub envelope: SealedEnvelope,
    /// The item it created or moved on.
    pub item: Option<Uuid>,
    /// When this node stored it (sealed it, or accepted it).
    pub stored_at: OffsetDateTime,
    /// Outbound only: when its receipt arrived.
    pub delivered_at: Option<OffsetDateTime>,
    /// Its index in this node's own log with its peer.
    pub log_index: Option<u64>,
}

/// A new item, as its originator composed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    /// The id of the envelope that carries it.
    pub id: Uuid,
    pub kind: ItemKind,
    pub originator: PartyCode,
    pub recipient: PartyCode,
    /// The referral kind or request kind token.
    pub subtype: String,
    /// The urgency token.
    pub urgency: String,
    /// For lists: the referral's summary or the request's question.
    pub summary: String,
    /// The item's JSON body, exactly as in its envelope.
    pub body: String,
    pub sent_at: OffsetDateTime,
}

/// Where an item's life cycle stands, as the domain's state machine derives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemState {
    /// The state token (`sent`, `acknowledged`, `assigned`, `closed`, `withdrawn`, `asked`, …).
    pub state: String,
    pub agency: Option<String>,
    pub acknowledged_at: Option<OffsetDateTime>,
    pub closed_at: Option<OffsetDateTime>,
    /// How it closed (`acted`, `no-trace`, `declined`, `found`, `not-found`, `withdrawn`).
    pub closure: Option<String>,
}

/// A step taken on an item (acknowledge, assign, outcome, answer, withdraw).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemStep {
    /// 0 for the first step after sending.
    pub index: u32,
    /// The step's token, e.g. `acknowledge`.
    pub step: String,
    pub by: PartyCode,
    pub at: OffsetDateTime,
    /// The step's JSON body, exactly as in its envelope.
    pub body: String,
    /// The envelope that carried it.
    pub envelope: Uuid,
}

/// An exchanged item with its current state and every step so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeItem {
    pub id: Uuid,
    pub kind: ItemKind,
    pub originator: PartyCode,
    pub recipient: PartyCode,
    pub subtype: String,
    pub urgency: String,
    pub summary: String,
    pub body: String,
    pub sent_at: OffsetDateTime,
    pub state: ItemState,
    pub steps: Vec<ItemStep>,
    pub updated_at: OffsetDateTime,
}

/// A step about to be taken: the store loads the item inside its transaction and asks `decide`
/// for the state after it; a refusal stops everything (nothing is stored).
pub struct NewStep<'a> {
    pub item: Uuid,
    pub kind: ItemKind,
    pub step: String,
    pub by: PartyCode,
    pub at: OffsetDateTime,
    pub body: String,
    pub decide: &'a (dyn Fn(&ExchangeItem) -> Result<ItemState, StepRefused> + Send + Sync),
}

/// Why the state machine refused a step: a stable token (`wrong-party`, `already-done`,
/// `out-of-order`, `invalid`) and an English explanation for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRefused {
    pub code: &'static str,
    pub detail: String,
}

/// What an envelope does to the items.
pub enum Effect<'a> {
    NewItem(NewItem),
    Step(NewStep<'a>),
}

/// Seals the outbound envelope once the store has allocated its seq.
pub type Sealer<'a> = &'a (dyn Fn(u64) -> Result<SealedEnvelope, String> + Send + Sync);

/// Seals the receipt for a batch: given the receipt's own seq (receipts to a peer are numbered
/// separately from messages), what was accepted, and the next seq expected.
pub type ReceiptSealer<'a> =
    &'a (dyn Fn(u64, &[Accepted], u64) -> Result<SealedEnvelope, String> + Send + Sync);

/// One inbound envelope of a batch, verified by the caller (signature, recipient, freshness,
/// type, body), with its effect.
pub struct Inbound<'a> {
    pub envelope: SealedEnvelope,
    pub effect: Effect<'a>,
}

/// An envelope the receiver holds (just now, or already from an earlier delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub id: Uuid,
    pub seq: u64,
    pub hash: [u8; 32],
}

/// Why the rest of a batch was not accepted, from the envelope at `index` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundRejection {
    /// This message id was accepted before with different bytes.
    Replayed { id: Uuid },
    /// Out of sequence: the receiver expects `expected`.
    SequenceGap { expected: u64, got: u64 },
    /// The step does not fit the item's state, or names an item this node does not hold.
    Refused(StepRefused),
}

/// What `receive` did with a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveReport {
    /// Every envelope of the batch the receiver now holds, in order, up to the first rejection.
    pub accepted: Vec<Accepted>,
    /// The first envelope not accepted, and why; nothing from it on was stored.
    pub rejected: Option<(usize, InboundRejection)>,
    /// The seq the receiver expects next from this peer.
    pub next_seq: u64,
    /// The signed receipt for `accepted` (stored with the batch).
    pub receipt: SealedEnvelope,
}

/// What sending stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub item: ExchangeItem,
    pub envelope: SealedEnvelope,
}

/// Which items a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFilter {
    pub kind: Option<ItemKind>,
    /// Items this party originated (outbound when it is this node's party).
    pub originator: Option<PartyCode>,
    /// Items sent to this party.
    pub recipient: Option<PartyCode>,
    pub state: Option<String>,
    pub urgency: Option<String>,
    /// Only items assigned to this agency.
    pub agency: Option<String>,
}

/// One send of a batch (see `Store::send_batch`): everything `send` takes, owned, so that a
/// committer task can gather sends from many requests and write them in one transaction.
pub struct SendJob {
    pub ctx: crate::WriteCtx,
    pub to: PartyCode,
    pub effect: JobEffect,
    pub seal: OwnedSealer,
}

/// A [`Sealer`] owned by the job that will use it.
pub type OwnedSealer = Box<dyn Fn(u64) -> Result<SealedEnvelope, String> + Send + Sync>;

/// A step's decision owned by the job that will use it (see [`NewStep::decide`]).
pub type OwnedDecide = Box<dyn Fn(&ExchangeItem) -> Result<ItemState, StepRefused> + Send + Sync>;

/// What a [`SendJob`] does to the items.
pub enum JobEffect {
    NewItem(NewItem),
    Step(OwnedStep),
}

/// [`NewStep`] with its decision owned.
pub struct OwnedStep {
    pub item: Uuid,
    pub kind: ItemKind,
    pub step: String,
    pub by: PartyCode,
    pub at: OffsetDateTime,
    pub body: String,
    pub decide: OwnedDecide,
}
