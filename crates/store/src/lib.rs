//! Storage for one puente node: the [`Store`] trait, its SQLite ([`sqlite::SqliteStore`]) and
//! PostgreSQL ([`postgres::PgStore`]) implementations, migrations, and the hash-chained audit
//! trail.
//!
//! **Architecture invariant:** every write of a record appends its audit entry in the same
//! transaction, so no accepted write is missing from the trail and no entry describes a write
//! that did not commit. Nothing in this crate updates or deletes an audit entry.
//!
//! **Architecture invariant:** both implementations pass the same conformance suite
//! (`tests/conformance.rs`). SQL is written once, in the dialect both accept; ids are stored as
//! text, instants as microseconds since the Unix epoch, dates as ISO 8601 text (which sorts).

pub mod audit;
pub mod credentials;
pub mod error;
pub mod exchange;
pub mod log;
pub mod postgres;
mod rows;
mod rows_exchange;
mod sql;
mod sql_exchange;
mod sql_log;
mod sql_status;
pub mod sqlite;

use async_trait::async_trait;
use puente_domain::{
    Action, ActionDraft, AgendaSubject, AreaCode, Commitment, CommitmentDraft, Indicator,
    IndicatorDraft, Measurement, MeasurementDraft, Meeting, MeetingDraft, PartyCode, RecordMeta,
    Role, Status, StatusSchedule,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

pub use audit::{AuditEntry, AuditVerification, NewAuditEntry};
pub use error::StoreError;
pub use exchange::{
    Accepted, Direction, Effect, EnvelopeRecord, ExchangeItem, Inbound, InboundRejection,
    ItemFilter, ItemKind, ItemState, ItemStep, JobEffect, NewItem, NewPeer, NewStep, OwnedDecide,
    OwnedSealer, OwnedStep, Peer, ReceiptSealer, ReceiveReport, SealedEnvelope, Sealer, SendJob,
    Sent, StepRefused, Stream,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who is writing, from where and when: the context of every audited write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteCtx {
    /// The acting user's name, or `system` for the node itself.
    pub actor: String,
    /// The client's address, when the write came over the network.
    pub ip: Option<String>,
    /// When the write happens; stored (in `updated_at` and the audit entry) to the microsecond.
    pub now: OffsetDateTime,
}

/// Keyset paging: items after `after` in id order (UUIDv7, so creation order), at most `limit`.
/// A `limit` of 0 gives an empty page without a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub after: Option<Uuid>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// The cursor for the next page, if there may be one.
    pub next: Option<Uuid>,
}

/// Filters for listing commitments; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitmentFilter {
    pub area: Option<AreaCode>,
    /// Owned (alone or jointly) by this party.
    pub party: Option<PartyCode>,
    /// Status on the given day.
    pub status: Option<(Status, Date)>,
    pub due_from: Option<Date>,
    pub due_to: Option<Date>,
    pub agency: Option<String>,
    /// The title, in either language, contains this text (ignoring ASCII case).
    pub text: Option<String>,
}

/// Filters for listing actions; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionFilter {
    pub commitment: Option<Uuid>,
    pub party: Option<PartyCode>,
    pub agency: Option<String>,
    pub date_from: Option<Date>,
    pub date_to: Option<Date>,
    /// Newest first (by date, then id), one page only (`Paged::next` is `None`, `Page::after`
    /// is ignored): the latest actions of a period without sorting all of it.
    pub latest_first: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndicatorFilter {
    pub area: Option<AreaCode>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeetingFilter {
    pub date_from: Option<Date>,
    pub date_to: Option<Date>,
}

/// A user of this node. The password hash (Argon2id, PHC string) never leaves the store and
/// web crates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub meta: RecordMeta,
    pub name: String,
    pub role: Role,
    /// The agency an `agency-user` belongs to.
    pub agency: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: bool,
    /// Preferred language tag (`en` or `es`), if the user chose one.
    pub lang: Option<String>,
}

/// An API token as an administrator sees it: never the secret, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: Uuid,
    pub user: Uuid,
    pub label: String,
    pub created_at: OffsetDateTime,
}

/// What an update to a user may change. A new password or disabling the user also ends all of
/// the user's sessions (tokens stay, but a disabled user's tokens are refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChanges {
    pub role: Role,
    pub agency: Option<String>,
    pub disabled: bool,
    pub lang: Option<String>,
    /// `Some` replaces the password hash.
    pub password_hash: Option<String>,
}

/// The node's identity, written once at init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub party: PartyCode,
    pub created_at: OffsetDateTime,
}

/// What one [`Store::import`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub commitments: u64,
    pub actions: u64,
    /// Commitments whose status schedule was recomputed: every one in the batch, and every
    /// stored one that gained an action.
    pub recomputed: u64,
}

/// One node's storage. Every method is one transaction: it commits whole or not at all.
///
/// Instants are kept to the microsecond (truncated toward the past) and read back in UTC; pass
/// microsecond-truncated times in `RecordMeta` and a record reads back equal to what was written.
/// Write methods return the record as stored.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is (`sqlite` or `postgres`), for logs and health.
    fn backend(&self) -> &'static str;

    /// Records the node's party; fails with `Duplicate` if the node was already initialised.
    async fn init_node(&self, ctx: &WriteCtx, party: PartyCode) -> Result<NodeInfo>;
    async fn node_info(&self) -> Result<Option<NodeInfo>>;

    // ---- users, sessions, tokens ----
    async fn create_user(&self, ctx: &WriteCtx, user: &User) -> Result<User>;
    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>>;
    async fn user_by_name(&self, name: &str) -> Result<Option<User>>;
    async fn list_users(&self, page: Page) -> Result<Paged<User>>;
    async fn update_user(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        changes: &UserChanges,
    ) -> Result<User>;
    /// Stores an API token by the SHA-256 of its secret. Audited. `NotFound` if the user is not.
    async fn create_token(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        user: Uuid,
        secret_hash: &[u8; 32],
        label: &str,
    ) -> Result<()>;
    /// The enabled user holding the token whose secret hashes to `secret_hash`.
    async fn user_by_token(&self, secret_hash: &[u8; 32]) -> Result<Option<User>>;
    /// The node's API tokens (of one user, or all), oldest first; never their secrets.
    async fn list_tokens(&self, user: Option<Uuid>) -> Result<Vec<TokenInfo>>;
    /// Revokes (deletes) a token; audited as `token.revoke`. `NotFound` if there is none.
    async fn revoke_token(&self, ctx: &WriteCtx, id: Uuid) -> Result<TokenInfo>;
    /// Starts a login session, stored by the SHA-256 of its secret with its expiry, and appends
    /// `login.success` in the same transaction (so no session exists without its audit entry).
    /// Sessions that have expired by `ctx.now` are deleted on the way.
    async fn create_session(
        &self,
        ctx: &WriteCtx,
        secret_hash: &[u8; 32],
        user: Uuid,
        expires: OffsetDateTime,
    ) -> Result<()>;
    /// The enabled user of an unexpired session.
    async fn user_by_session(
        &self,
        secret_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<User>>;
    /// Ends a session and appends `logout` (naming its user) if there was one; `false` if not.
    async fn delete_session(&self, ctx: &WriteCtx, secret_hash: &[u8; 32]) -> Result<bool>;

    // ---- exchange with peers ----
    //
    // A peer is named by its party, not by an id: an unknown one is `NotFound { kind: "peer" }`
    // with the nil id. Audit entries of exchanged envelopes are named
    // `<item kind>.<step, or create>.<send|receive>` (e.g. `referral.create.send`,
    // `request.answer.receive`), target the envelope id, and detail its peer, seq, item and
    // hash; receipts are `receipt.send` (issued by `receive`) and `receipt.receive`.

    /// Registers a peer from its card, or replaces the card of a registered one (keys and
    /// endpoint change; sequence numbers and history stay). Audited (`peer.add`/`peer.update`).
    /// `Duplicate` at `/tls_fingerprint` if another peer has that certificate.
    async fn put_peer(&self, ctx: &WriteCtx, peer: &NewPeer) -> Result<Peer>;
    async fn peer(&self, party: PartyCode) -> Result<Option<Peer>>;
    /// The peer whose TLS certificate has this SHA-256 (64 lower-case hex).
    async fn peer_by_fingerprint(&self, fingerprint: &str) -> Result<Option<Peer>>;
    /// Every registered peer, by party code.
    async fn list_peers(&self) -> Result<Vec<Peer>>;

    /// Sends a message to `to` in one transaction: allocates the next seq to that peer, has
    /// `seal` sign the envelope with it, applies `effect` (stores the new item, or the step with
    /// the state `decide` returns), puts the envelope in the outbox, appends the audit entry.
    /// `NotFound` for an unknown peer or item (or an item of another kind than the step's);
    /// `StepRefused` when `decide` refuses; `Seal` when `seal` fails or returns an envelope
    /// with another seq, with another id than the new item's, or whose hash is not the SHA-256
    /// of its text; `Duplicate` at `/id` for a new item whose id is already held. On any error
    /// nothing is stored and no seq is used up. A new referral starts `sent`, a request `asked`.
    async fn send(
        &self,
        ctx: &WriteCtx,
        to: PartyCode,
        effect: Effect<'_>,
        seal: Sealer<'_>,
    ) -> Result<Sent>;
    /// Several sends in one transaction — one commit, so one fsync for all — each with the
    /// outcome `send` would have given it alone (a savepoint per send: one that fails leaves
    /// nothing behind and does not stop the others). The outer error is for the transaction as
    /// a whole, and then nothing was stored.
    async fn send_batch(&self, jobs: Vec<SendJob>) -> Result<Vec<Result<Sent>>>;
    /// Outbound envelopes to `to` without a receipt, lowest seq first (none for an unknown
    /// peer).
    async fn outbox(&self, to: PartyCode, limit: u32) -> Result<Vec<EnvelopeRecord>> {
        self.outbox_after(to, 0, limit).await
    }
    /// Like `outbox`, from the seq after `after`: what a delivery worker has not sent yet while
    /// the receipts of what it sent are still being recorded.
    async fn outbox_after(
        &self,
        to: PartyCode,
        after: u64,
        limit: u32,
    ) -> Result<Vec<EnvelopeRecord>>;
    /// Records a verified receipt from `peer`: each listed envelope whose id, seq and hash match
    /// what was sent to `peer` is marked delivered; the receipt itself is stored; the peer's
    /// last contact is `now` and its last error cleared. Returns how many were newly marked.
    /// A receipt already stored (same id and hash) is not stored or audited again; one whose
    /// id or seq is held with other content is `Duplicate` (at `/id` or `/seq`).
    async fn record_receipt(
        &self,
        peer: PartyCode,
        receipt: &SealedEnvelope,
        accepted: &[Accepted],
        now: OffsetDateTime,
    ) -> Result<u64>;
    /// Notes why delivery to `peer` failed, and when (shown on the peers page). Not audited:
    /// nothing was exchanged.
    async fn record_delivery_error(
        &self,
        peer: PartyCode,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Receives a verified batch from `from` in one transaction, envelope by envelope: an id
    /// already held from `from` with the same hash is accepted again and changes nothing; an id
    /// held with another hash (or from another peer), a seq other than the next expected, or a
    /// refused step stops the batch there; anything else is applied, stored and audited. A step
    /// on an item this node does not hold (or of another kind) is refused as `unknown-item`, a
    /// new item whose id differs from its envelope's or is already held as `invalid`. Then the
    /// receipt is sealed (even for a batch that added nothing) with the next receipt seq,
    /// stored (outbound, already delivered: it travels in the response) and audited as
    /// `receipt.send`, and the peer's last contact updated. `NotFound` if `from` is not a
    /// peer; `Seal` (and nothing stored) if the receipt cannot be sealed.
    async fn receive(
        &self,
        ctx: &WriteCtx,
        from: PartyCode,
        batch: Vec<Inbound<'_>>,
        seal_receipt: ReceiptSealer<'_>,
    ) -> Result<ReceiveReport>;
    /// An item with all its steps, in order.
    async fn get_item(&self, id: Uuid) -> Result<Option<ExchangeItem>>;
    /// Items in id order (UUIDv7, so in sending order), keyset-paged.
    async fn list_items(&self, filter: &ItemFilter, page: Page) -> Result<Paged<ExchangeItem>>;
    /// Every envelope exchanged with `peer` (messages and receipts, both ways), in the order
    /// this node stored them, with its row number: pass the last one as `after` for the next
    /// page.
    async fn list_envelopes(
        &self,
        peer: PartyCode,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, EnvelopeRecord)>>;

    /// The envelope exchanged with `peer` whose id is `id`, sent or received.
    async fn envelope_by_id(&self, peer: PartyCode, id: Uuid) -> Result<Option<EnvelopeRecord>>;

    // ---- the exchange log (see `log`) ----
    /// Where this node's own log with `peer` (`own`), or its copy of `peer`'s log, stands.
    async fn log_state(&self, peer: PartyCode, own: bool) -> Result<Option<log::LogState>>;
    /// Leaves `from..from + limit` of the log `origin`, with their indexes.
    async fn log_leaves(
        &self,
        origin: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<(u64, puente_log::Leaf)>>;
    /// The log indexes of the envelopes `ids` exchanged with `peer`, in this node's own log.
    async fn log_indexes_of_envelopes(
        &self,
        peer: PartyCode,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, u64)>>;
    /// The heads of complete subtrees of the log `origin`, in the order asked (for proofs).
    async fn log_subtree_heads(
        &self,
        origin: &str,
        subtrees: &[puente_log::Subtree],
    ) -> Result<Vec<puente_log::Hash>>;
    /// Stores a checkpoint of this node's own log; `false` if one of that size was held.
    async fn put_checkpoint(&self, checkpoint: &log::StoredCheckpoint) -> Result<bool>;
    /// Stores the peer's cosignature of this node's checkpoint of `size` (the note as cosigned).
    async fn put_cosigned(
        &self,
        origin: &str,
        size: u64,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<()>;
    /// Checkpoints of `origin` of size `from` and more, smallest first.
    async fn checkpoints(
        &self,
        origin: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<log::StoredCheckpoint>>;
    /// The latest checkpoint of `origin`, or the latest cosigned one.
    async fn latest_checkpoint(
        &self,
        origin: &str,
        cosigned: bool,
    ) -> Result<Option<log::StoredCheckpoint>>;
    /// A peer's request to cosign: checked against this node's copy of its log and its own
    /// records; the copy extended and the checkpoint cosigned, or the dispute raised — in one
    /// transaction, so a node cosigns a size at most once.
    async fn witness(
        &self,
        ctx: &WriteCtx,
        request: &log::WitnessRequest,
        cosign: log::Cosigner<'_>,
        dispute: log::DisputeBuilder<'_>,
    ) -> Result<log::WitnessOutcome>;
    /// Raises a dispute, once per log, kind and subject; its id.
    async fn raise_dispute(&self, ctx: &WriteCtx, dispute: &log::NewDispute) -> Result<Uuid>;
    /// The latest disputes, newest first.
    async fn disputes(&self, limit: u32) -> Result<Vec<log::DisputeRecord>>;
    async fn dispute(&self, id: Uuid) -> Result<Option<log::DisputeRecord>>;
    /// Leaves of `peer`'s log that named envelopes this node did not hold when it cosigned: those
    /// it now holds under the same hash are settled; those under another are returned (the
    /// leaf's index and hash, and the envelope held) to be disputed.
    async fn settle_pending(
        &self,
        peer: PartyCode,
    ) -> Result<Vec<(u64, puente_log::Hash, log::Unlogged)>>;
    /// Envelopes with `peer` that its log must hold by `cutoff` and this node's copy of it does
    /// not cover (see `sql_log::unlogged`).
    async fn unlogged(
        &self,
        peer: PartyCode,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<log::Unlogged>>;

    // ---- audit trail ----
    /// Appends an entry on its own (logins, denials): for writes, the write methods append.
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry>;
    /// Appends `entries` in order in one transaction: what one page view read, written with one
    /// commit instead of one each.
    async fn append_audits(&self, entries: Vec<NewAuditEntry>) -> Result<()>;
    /// Entries after `after_seq`, oldest first.
    async fn list_audit(&self, after_seq: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>>;
    /// The sequence number of the newest entry (0 when the trail is empty).
    async fn last_audit_seq(&self) -> Result<i64>;
    /// Recomputes the whole chain and names the first entry that does not match.
    async fn verify_audit(&self) -> Result<AuditVerification>;

    // ---- commitments ----
    /// Creates a commitment: checks the indicators exist (`Invalid` at `/indicators/i`
    /// otherwise), computes its status schedule, appends `commitment.create` to the audit trail.
    async fn create_commitment(
        &self,
        ctx: &WriteCtx,
        meta: &RecordMeta,
        body: &CommitmentDraft,
    ) -> Result<Commitment>;
    async fn get_commitment(&self, id: Uuid) -> Result<Option<Commitment>>;
    /// The commitments of `ids` that exist, in no particular order: one read for a page that
    /// shows many (a meeting's agenda).
    async fn get_commitments(&self, ids: &[Uuid]) -> Result<Vec<Commitment>>;
    async fn list_commitments(
        &self,
        filter: &CommitmentFilter,
        page: Page,
    ) -> Result<Paged<Commitment>>;
    /// Replaces the body if `version` is current (`VersionConflict` otherwise), bumps the
    /// version, recomputes the schedule, appends `commitment.update`.
    /// How many commitments (of `agency`, if given) have each status on `today`, per measure
    /// area: one aggregate query, for home pages and reports that must not list everything.
    /// Pairs with no commitment are left out.
    async fn count_commitments(
        &self,
        agency: Option<&str>,
        today: Date,
    ) -> Result<Vec<(AreaCode, Status, u64)>>;
    async fn update_commitment(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        body: &CommitmentDraft,
    ) -> Result<Commitment>;

    // ---- actions ----
    /// Creates an action (`Invalid` at `/commitment` if the commitment does not exist),
    /// recomputes the commitment's schedule, appends `action.create`.
    async fn create_action(
        &self,
        ctx: &WriteCtx,
        meta: &RecordMeta,
        body: &ActionDraft,
    ) -> Result<Action>;
    async fn get_action(&self, id: Uuid) -> Result<Option<Action>>;
    async fn list_actions(&self, filter: &ActionFilter, page: Page) -> Result<Paged<Action>>;
    /// How many actions (of `agency`, when given) are dated in `[from, to]`, from counts kept
    /// per day on write.
    async fn count_actions(&self, agency: Option<&str>, from: Date, to: Date) -> Result<u64>;
    /// The commitment may not change on update (`Invalid` at `/commitment`).
    async fn update_action(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        body: &ActionDraft,
    ) -> Result<Action>;

    // ---- bulk loading ----
    /// Creates many commitments and actions in one transaction, for loading a program's records
    /// at once (and for benchmarks): all of them or none.
    ///
    /// Checks what `create_commitment` and `create_action` check, naming the item: `Invalid` at
    /// `/commitments/i/indicators/j` for an unknown indicator, at `/actions/i/commitment` for an
    /// action whose commitment is neither in the batch nor stored, at `/commitments/i/id` or
    /// `/actions/i/id` for an id given twice in the batch (an id already stored is `Duplicate`,
    /// as on the single methods). Appends `commitment.create` for each commitment, then
    /// `action.create` for each action, in the order given — the entries creating them one by
    /// one in that order would append — and computes the status schedule of every commitment
    /// touched once, after all the inserts.
    async fn import(
        &self,
        ctx: &WriteCtx,
        commitments: &[(RecordMeta, CommitmentDraft)],
        actions: &[(RecordMeta, ActionDraft)],
    ) -> Result<ImportSummary>;

    /// Housekeeping after a bulk load, so the node serves its first requests as it will serve
    /// the rest. PostgreSQL: `VACUUM (ANALYZE)` — without planner statistics it sorts whole
    /// filtered sets instead of walking an index to the first page (157 ms instead of 1 ms for
    /// a page of 50 over 100,000 commitments), and the first reads of fresh rows write their
    /// hint bits; autovacuum would do this too, but some minutes later, while serving. SQLite:
    /// nothing — without statistics it walks the `(…, id)` indexes the keyset queries are
    /// written for, and with `sqlite_stat1` it chose worse plans for some of them (0.3 ms →
    /// 21 ms for the same page). Not a transaction, and not audited: it changes no record.
    async fn after_bulk_load(&self) -> Result<()>;

    // ---- indicators and measurements ----
    /// Indicator codes are unique per node (`Duplicate` otherwise).
    async fn create_indicator(
        &self,
        ctx: &WriteCtx,
        meta: &RecordMeta,
        body: &IndicatorDraft,
    ) -> Result<Indicator>;
    async fn get_indicator(&self, id: Uuid) -> Result<Option<Indicator>>;
    async fn indicator_by_code(&self, code: &str) -> Result<Option<Indicator>>;
    async fn list_indicators(
        &self,
        filter: &IndicatorFilter,
        page: Page,
    ) -> Result<Paged<Indicator>>;
    /// Recomputes the schedule of every commitment serving the indicator.
    async fn update_indicator(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        body: &IndicatorDraft,
    ) -> Result<Indicator>;
    /// One measurement per indicator, period and party (`Duplicate` otherwise; `Invalid` at
    /// `/indicator` if the indicator does not exist); recomputes the schedule of every commitment
    /// serving the indicator.
    async fn create_measurement(
        &self,
        ctx: &WriteCtx,
        meta: &RecordMeta,
        body: &MeasurementDraft,
    ) -> Result<Measurement>;
    async fn list_measurements(&self, indicator: Uuid) -> Result<Vec<Measurement>>;
    /// The indicator may not change on update (`Invalid` at `/indicator`).
    async fn update_measurement(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        body: &MeasurementDraft,
    ) -> Result<Measurement>;

    // ---- meetings ----
    async fn create_meeting(
        &self,
        ctx: &WriteCtx,
        meta: &RecordMeta,
        body: &MeetingDraft,
    ) -> Result<Meeting>;
    async fn get_meeting(&self, id: Uuid) -> Result<Option<Meeting>>;
    async fn list_meetings(&self, filter: &MeetingFilter, page: Page) -> Result<Paged<Meeting>>;
    async fn update_meeting(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        version: i64,
        body: &MeetingDraft,
    ) -> Result<Meeting>;
    /// The date of the latest meeting held before `date`, other than `excluding`.
    async fn previous_meeting_date(&self, date: Date, excluding: Uuid) -> Result<Option<Date>>;
    /// A superset of what the agenda of a meeting on `date` may list: commitments and open
    /// follow-ups (of meetings other than `excluding`) that are not done, or due in
    /// (`previous`, `date`]. [`puente_domain::build_agenda`] makes the final choice.
    async fn agenda_candidates(
        &self,
        date: Date,
        previous: Option<Date>,
        excluding: Uuid,
    ) -> Result<Vec<(AgendaSubject, StatusSchedule)>>;
    /// What the first `first` items of that agenda are drawn from, without reading every
    /// candidate: the first `first` commitments of each agenda reason (overdue, at risk, due) in
    /// the agenda rule's order (due date, then id), every candidate follow-up as in
    /// [`Store::agenda_candidates`]; and how many commitments the whole agenda lists.
    async fn agenda_head(
        &self,
        date: Date,
        previous: Option<Date>,
        excluding: Uuid,
        first: usize,
    ) -> Result<(Vec<(AgendaSubject, StatusSchedule)>, u64)>;
}
