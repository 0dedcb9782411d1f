//! A node's side of the exchange at run time: sending (an item or a step is sealed into an
//! envelope and put in the durable outbox in one store transaction), receiving (the federation
//! endpoint verifies a peer's batch and hands it to the store, answering with a signed receipt),
//! and delivering (one worker per peer pushes the outbox in order, with retry and backoff, and
//! records the receipts).
//!
//! Delivery is at-least-once and acceptance exactly-once: an envelope stays in the outbox until
//! a receipt naming its id, seq and hash is stored, and the receiver accepts each message id
//! once (a retry is recognised by id and hash and only acknowledged again).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use puente_domain::{ClockPolicy, Invalid, Origin, PartyCode};
use puente_store::{
    Accepted, Effect, ExchangeItem, Inbound, InboundRejection, ItemKind, ItemState, JobEffect,
    NewItem, NewStep, OwnedSealer, OwnedStep, Peer, SealedEnvelope, SendJob, Sent, StepRefused,
    Store, StoreError, WriteCtx,
};
use serde_json::{Value, json};
use sha2::Digest as _;
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

use crate::envelope::{
    Envelope, EnvelopeDraft, EnvelopeHeader, MessageType, ReceiptBody, ReceiptEntry,
    check_freshness, check_recipient, decode_batch, encode_batch,
};
use crate::error::ExchangeError;
use crate::items::{self, AnyStep};
use crate::keys::{NodeKey, NodePublicKey};
use crate::tls::{CertFingerprint, NodeTls, PeerCertificate, Timeouts, reqwest_client};
use crate::wire::{self, MessageKind};

/// The path peers post batches to.
pub const ENVELOPES_PATH: &str = "/federation/v1/envelopes";

/// Limits and timings of the exchange, from the node's config.
#[derive(Debug, Clone)]
pub struct ExchangeSettings {
    /// Largest envelope body accepted (and sent).
    pub max_body_bytes: usize,
    /// Most envelopes per batch, both ways.
    pub max_batch: usize,
    /// An envelope older than this is stale.
    pub max_age: Duration,
    /// An envelope dated further ahead than this is from the future.
    pub max_skew: Duration,
    /// Time to acknowledge and to act per urgency.
    pub clocks: ClockPolicy,
    /// First and longest wait between failed deliveries.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// How often workers look for peers added while the node runs.
    pub peer_refresh: Duration,
    /// The exchange log's timings.
    pub log: crate::tlog::LogSettings,
}

impl Default for ExchangeSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            max_batch: 256,
            max_age: Duration::from_secs(30 * 24 * 3600),
            max_skew: Duration::from_secs(300),
            clocks: ClockPolicy::default(),
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(30),
            peer_refresh: Duration::from_secs(2),
            log: crate::tlog::LogSettings::default(),
        }
    }
}

/// The node's exchange: its identity, store and settings, shared by the API (sending), the
/// federation endpoint (receiving) and the delivery workers.
pub struct Exchange {
    party: PartyCode,
    key: Arc<NodeKey>,
    tls: NodeTls,
    store: Arc<dyn Store>,
    settings: ExchangeSettings,
    /// Wakes the delivery workers when something was put in the outbox.
    outbox_filled: Notify,
    /// Sends go through one committer task, which writes all the sends waiting at a time in one
    /// transaction: under load, one fsync covers many referrals (group commit).
    committer: mpsc::Sender<(SendJob, oneshot::Sender<Result<Sent, StoreError>>)>,
    /// Parties found registered as peers. A peer is never removed (a new card replaces its
    /// keys, not the registration), so once found it stays one and the store need not be asked
    /// again on every composed item.
    known_peers: std::sync::RwLock<std::collections::HashSet<PartyCode>>,
    /// One inbound batch at a time per peer (by party code): a sender has one batch in flight,
    /// and a peer that opens more connections waits instead of making this node hold many
    /// batches (each up to `max_batch` envelopes of `max_body_bytes`) in memory at once.
    inbound: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// The exchange log's status per peer, as its tasks last saw it.
    log_status: std::sync::Mutex<HashMap<PartyCode, crate::tlog::LogStatus>>,
    /// One cosigning request at a time per peer.
    cosign_turns: crate::tlog::CosignTurns,
}

/// Longest wait for a peer's turn to deliver, and longest time to read its batch.
const INBOUND_WAIT: Duration = Duration::from_secs(60);

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("party", &self.party)
            .field("key", &self.key.public())
            .finish_non_exhaustive()
    }
}

/// A new item to send: to whom, which kind of message, its checked content, and what lists show
/// of it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub to: PartyCode,
    pub kind: MessageKind,
    pub content: &'a Value,
    /// The referral kind or request kind token.
    pub subtype: &'a str,
    pub urgency: &'a str,
    /// The referral's summary or the request's question.
    pub summary: &'a str,
}

/// What the caller gets back from sending: the item as stored and its envelope.
pub type SendResult = Result<Sent, ExchangeError>;

impl Exchange {
    pub fn new(
        party: PartyCode,
        key: NodeKey,
        tls: NodeTls,
        store: Arc<dyn Store>,
        settings: ExchangeSettings,
    ) -> Arc<Exchange> {
        let (committer, jobs) = mpsc::channel(4 * crate::committer::MAX_GROUP);
        crate::committer::start(Arc::clone(&store), jobs);
        Arc::new(Exchange {
            party,
            key: Arc::new(key),
            tls,
            store,
            settings,
            outbox_filled: Notify::new(),
            committer,
            known_peers: std::sync::RwLock::default(),
            inbound: std::sync::Mutex::default(),
            log_status: std::sync::Mutex::default(),
            cosign_turns: std::sync::Mutex::default(),
        })
    }

    pub fn party(&self) -> PartyCode {
        self.party
    }

    /// Whether `party` is a registered peer (one the store knows, or knew: see `known_peers`).
    pub async fn is_peer(&self, party: PartyCode) -> Result<bool, ExchangeError> {
        if self
            .known_peers
            .read()
            .is_ok_and(|known| known.contains(&party))
        {
            return Ok(true);
        }
        let found = self.store.peer(party).await?.is_some();
        if found {
            if let Ok(mut known) = self.known_peers.write() {
                known.insert(party);
            }
        }
        Ok(found)
    }

    pub fn settings(&self) -> &ExchangeSettings {
        &self.settings
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn key(&self) -> &NodeKey {
        &self.key
    }

    pub(crate) fn log_statuses(
        &self,
    ) -> &std::sync::Mutex<HashMap<PartyCode, crate::tlog::LogStatus>> {
        &self.log_status
    }

    pub(crate) fn cosign_turn(&self, peer: PartyCode) -> Arc<tokio::sync::Mutex<()>> {
        match self.cosign_turns.lock() {
            Ok(mut turns) => Arc::clone(turns.entry(peer).or_default()),
            // A poisoned map still serialises nothing wrongly: a fresh lock for this request.
            Err(_) => Arc::default(),
        }
    }

    pub fn public_key(&self) -> NodePublicKey {
        self.key.public()
    }

    pub fn tls_fingerprint(&self) -> CertFingerprint {
        self.tls.fingerprint()
    }

    /// The node's TLS identity, for the federation listener.
    pub fn tls(&self) -> &NodeTls {
        &self.tls
    }

    /// Sends a new referral or request (its content already read and checked by `wire`).
    pub async fn send_item(&self, ctx: &WriteCtx, out: &Outgoing<'_>) -> SendResult {
        let Outgoing {
            to,
            kind,
            content: body,
            subtype,
            urgency,
            summary,
        } = *out;
        let item_kind = match kind {
            MessageKind::Referral => ItemKind::Referral,
            MessageKind::Request => ItemKind::Request,
            other => {
                return Err(ExchangeError::NotAnItem {
                    message_type: other.as_str(),
                });
            }
        };
        let id = Uuid::now_v7();
        let now = micros(ctx.now);
        let bytes = wire::to_body_bytes(body);
        self.fits(&bytes)?;
        let item = NewItem {
            id,
            kind: item_kind,
            originator: self.party,
            recipient: to,
            subtype: subtype.to_owned(),
            urgency: urgency.to_owned(),
            summary: summary.to_owned(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
            sent_at: now,
        };
        let seal = self.sealer(to, id, kind.as_str(), now, bytes);
        let sent = self
            .commit(SendJob {
                ctx: ctx.clone(),
                to,
                effect: JobEffect::NewItem(item),
                seal,
            })
            .await?;
        self.outbox_filled.notify_waiters();
        Ok(sent)
    }

    /// A body larger than the exchange carries would sit at the head of the outbox for ever
    /// (every peer refuses it, and everything queued behind it waits): refuse it here instead.
    fn fits(&self, body: &[u8]) -> Result<(), ExchangeError> {
        if body.len() > self.settings.max_body_bytes {
            return Err(ExchangeError::BodyTooLarge {
                len: body.len(),
                max: self.settings.max_body_bytes,
            });
        }
        Ok(())
    }

    /// Hands a send to the committer and waits until it is durable (or refused).
    async fn commit(&self, job: SendJob) -> SendResult {
        let (reply, answer) = oneshot::channel();
        let gone =
            || ExchangeError::Store(StoreError::Batch("the node is shutting down".to_owned()));
        self.committer
            .send((job, reply))
            .await
            .map_err(|_| gone())?;
        Ok(answer.await.map_err(|_| gone())??)
    }

    /// The sealer of a send to `to`: signs the envelope once the store has given it its seq.
    fn sealer(
        &self,
        to: PartyCode,
        id: Uuid,
        message_type: &str,
        time: OffsetDateTime,
        body: Vec<u8>,
    ) -> OwnedSealer {
        let key = Arc::clone(&self.key);
        let party = self.party;
        let message_type = message_type.to_owned();
        Box::new(move |seq| seal_with(&key, party, to, id, seq, &message_type, time, body.clone()))
    }

    /// Takes `step` on `item` as this node's party and sends it to the other party.
    pub async fn send_step(
        &self,
        ctx: &WriteCtx,
        item: &ExchangeItem,
        step: AnyStep,
    ) -> SendResult {
        let to = if item.originator == self.party {
            item.recipient
        } else {
            item.originator
        };
        let (kind, body) = match &step {
            AnyStep::Referral(s) => wire::referral_step_json(item.id, s),
            AnyStep::Request(s) => wire::request_step_json(item.id, s),
        };
        let id = Uuid::now_v7();
        let now = micros(ctx.now);
        let bytes = wire::to_body_bytes(&body);
        self.fits(&bytes)?;
        let party = self.party;
        let seal = self.sealer(to, id, kind.as_str(), now, bytes.clone());
        let sent = self
            .commit(SendJob {
                ctx: ctx.clone(),
                to,
                effect: JobEffect::Step(OwnedStep {
                    item: item.id,
                    kind: item.kind,
                    step: kind.as_str().to_owned(),
                    by: party,
                    at: now,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                    decide: Box::new(move |current: &ExchangeItem| {
                        items::next_state(current, &step, party, now, Origin::Here)
                    }),
                }),
                seal,
            })
            .await?;
        self.outbox_filled.notify_waiters();
        Ok(sent)
    }

    fn seal(
        &self,
        to: PartyCode,
        id: Uuid,
        seq: u64,
        message_type: &str,
        time: OffsetDateTime,
        body: Vec<u8>,
    ) -> Result<SealedEnvelope, String> {
        seal_with(&self.key, self.party, to, id, seq, message_type, time, body)
    }

    /// The federation endpoint, to be served over mutual TLS.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(ENVELOPES_PATH, post(receive))
            .route(crate::tlog::COSIGN_PATH, post(crate::tlog::cosign_endpoint))
            // The handler reads the body itself, with a limit derived from the settings.
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(Arc::clone(self))
    }

    /// Runs the delivery workers, one per peer (peers added later get theirs within
    /// `peer_refresh`), until `shutdown` completes.
    pub async fn deliver(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let mut workers: HashMap<PartyCode, tokio::task::JoinHandle<()>> = HashMap::new();
        let stop = Arc::new(Notify::new());
        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        tokio::pin!(shutdown);
        loop {
            match self.store.list_peers().await {
                Ok(peers) => {
                    for peer in peers {
                        if !workers.contains_key(&peer.party) {
                            let me = Arc::clone(&self);
                            let stop = Arc::clone(&stop);
                            let stopped = Arc::clone(&stopped);
                            let party = peer.party;
                            let log = tokio::spawn(Arc::clone(&self).log_worker(
                                party,
                                Arc::clone(&stop),
                                Arc::clone(&stopped),
                            ));
                            workers.insert(
                                party,
                                tokio::spawn(async move {
                                    me.worker(party, stop, stopped).await;
                                    let _ = log.await;
                                }),
                            );
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing peers for delivery failed"),
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.settings.peer_refresh) => {}
            }
        }
        stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        stop.notify_waiters();
        for (_, w) in workers {
            // A worker mid-request finishes it (bounded by the request timeout).
            let _ = w.await;
        }
    }

    async fn worker(
        self: Arc<Self>,
        party: PartyCode,
        stop: Arc<Notify>,
        stopped: Arc<std::sync::atomic::AtomicBool>,
    ) {
        let mut backoff = self.settings.retry_min;
        let mut client: Option<(CertFingerprint, reqwest::Client)> = None;
        // Receipts are recorded by a task of their own, in order, so the next batch goes out
        // while the last receipt waits for the node's one writer (busy with the API's sends
        // under load). What was sent but is not yet recorded is skipped by seq (`sent_through`);
        // if recording fails, `reset` sends the worker back to the outbox as stored, and
        // anything sent again is only acknowledged again by the peer.
        let reset = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (receipts, to_record) = mpsc::channel::<Receipt>(2);
        let recorder =
            tokio::spawn(Arc::clone(&self).record_receipts(to_record, Arc::clone(&reset)));
        let mut sent_through = 0u64;
        while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
            // Registered before looking, so a send between the look and the wait is not missed.
            let filled = self.outbox_filled.notified();
            let stopping = stop.notified();
            tokio::pin!(filled, stopping);
            filled.as_mut().enable();
            stopping.as_mut().enable();
            if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            if reset.swap(false, std::sync::atomic::Ordering::SeqCst) {
                sent_through = 0;
            }
            match self.deliver_once(party, &mut client, sent_through).await {
                Ok(None) => {
                    backoff = self.settings.retry_min;
                    tokio::select! {
                        () = filled => {}
                        () = stopping => break,
                        // A backstop: a notification can be lost across a restart of the worker.
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Ok(Some((last, receipt))) => {
                    backoff = self.settings.retry_min;
                    sent_through = last;
                    if receipts.send(receipt).await.is_err() {
                        break;
                    }
                }
                Err((e, receipt)) => {
                    // What the peer accepted before refusing is recorded all the same.
                    if let Some(receipt) = receipt {
                        if receipts.send(receipt).await.is_err() {
                            break;
                        }
                    }
                    sent_through = 0;
                    let reason = e.to_string();
                    tracing::info!(peer = %party, error = %reason, "delivery failed; will retry");
                    if let Err(e) = self
                        .store
                        .record_delivery_error(party, &reason, OffsetDateTime::now_utc())
                        .await
                    {
                        tracing::warn!(error = %e, "recording a delivery error failed");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(jitter(backoff)) => {}
                        () = stopping => break,
                    }
                    backoff = (backoff * 2).min(self.settings.retry_max);
                }
            }
        }
        // The receipts already taken are recorded before the worker ends.
        drop(receipts);
        let _ = recorder.await;
    }

    /// Records verified receipts in the order they came, until the worker hangs up.
    async fn record_receipts(
        self: Arc<Self>,
        mut receipts: mpsc::Receiver<Receipt>,
        reset: Arc<std::sync::atomic::AtomicBool>,
    ) {
        while let Some(r) = receipts.recv().await {
            if let Err(e) = self
                .store
                .record_receipt(r.peer, &r.receipt, &r.accepted, OffsetDateTime::now_utc())
                .await
            {
                tracing::warn!(peer = %r.peer, error = %e, "recording a receipt failed; the envelopes it covers will be sent again");
                reset.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }

    /// Sends one batch from the outbox to `party`, from the seq after `after`: the last seq it
    /// sent and the peer's verified receipt, or `None` if there was nothing to send. A refusal
    /// comes with the receipt of what the peer accepted before it, if any.
    async fn deliver_once(
        &self,
        party: PartyCode,
        client: &mut Option<(CertFingerprint, reqwest::Client)>,
        after: u64,
    ) -> Result<Option<(u64, Receipt)>, (ExchangeError, Option<Receipt>)> {
        let limit = u32::try_from(self.settings.max_batch).unwrap_or(u32::MAX);
        let batch = self
            .store
            .outbox_after(party, after, limit)
            .await
            .map_err(|e| (e.into(), None))?;
        let Some(last) = batch.last().map(|r| r.envelope.seq) else {
            return Ok(None);
        };
        let peer = self
            .store
            .peer(party)
            .await
            .map_err(|e| (e.into(), None))?
            .ok_or((ExchangeError::UnknownPeer { party }, None))?;
        let pinned = CertFingerprint::parse(&peer.tls_fingerprint).map_err(|e| (e.into(), None))?;
        let http = match client {
            Some((fp, c)) if *fp == pinned => c.clone(),
            _ => {
                let c = reqwest_client(&self.tls, pinned, Timeouts::default())
                    .map_err(|e| (e.into(), None))?;
                *client = Some((pinned, c.clone()));
                c
            }
        };
        let mut envelopes = Vec::with_capacity(batch.len());
        for record in &batch {
            envelopes.push(
                Envelope::from_signed_bytes(
                    record.envelope.signed.as_bytes(),
                    self.settings.max_body_bytes,
                )
                .map_err(|e| (e, None))?,
            );
        }
        let url = format!("{}{ENVELOPES_PATH}", peer.endpoint.trim_end_matches('/'));
        let transport = |e: reqwest::Error| {
            (
                ExchangeError::Delivery {
                    reason: transport_error(&e),
                },
                None,
            )
        };
        let response = http
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(encode_batch(&envelopes))
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        // A receipt (or a problem document carrying one) is small; a peer's answer is read no
        // further than the largest one could be.
        let cap = crate::envelope::transport_max_len(self.settings.max_body_bytes);
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > cap {
                return Err((
                    ExchangeError::Delivery {
                        reason: format!("the peer answered {status} with more than {cap} bytes"),
                    },
                    None,
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let answer: Value = serde_json::from_slice(&bytes).map_err(|_| {
            (
                ExchangeError::Delivery {
                    reason: format!("the peer answered {status} with a body that is not JSON"),
                },
                None,
            )
        })?;
        let receipt = match answer.get("receipt") {
            Some(r) => Some(self.verify_receipt(&peer, r).map_err(|e| (e, None))?),
            None => None,
        };
        match (status.is_success(), receipt) {
            (true, Some(receipt)) => Ok(Some((last, receipt))),
            (true, None) => Err((
                ExchangeError::Delivery {
                    reason: format!("the peer answered {status} without a receipt"),
                },
                None,
            )),
            (false, receipt) => {
                // The peer's words are kept short: they end up in the log and on the peers page.
                let short = |v: Option<&Value>| -> String {
                    v.and_then(Value::as_str)
                        .unwrap_or("?")
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(300)
                        .collect()
                };
                let (code, detail) = (short(answer.get("code")), short(answer.get("detail")));
                Err((
                    ExchangeError::Delivery {
                        reason: format!("the peer refused the batch ({status}, {code}): {detail}"),
                    },
                    receipt,
                ))
            }
        }
    }

    /// Verifies a receipt from `peer`: what to record.
    fn verify_receipt(&self, peer: &Peer, receipt: &Value) -> Result<Receipt, ExchangeError> {
        let text = serde_json::to_vec(receipt).map_err(ExchangeError::TransportJson)?;
        let envelope = Envelope::from_transport_json(&text, self.settings.max_body_bytes)?;
        let key = NodePublicKey::parse(&peer.signing_key)?;
        let verified = envelope.open(&key)?;
        let header = verified.header();
        if header.sender() != peer.party {
            return Err(ExchangeError::WrongSender {
                sender: header.sender(),
                peer: peer.party,
            });
        }
        check_recipient(header, self.party)?;
        let body = verified.receipt()?;
        let accepted: Vec<Accepted> = body
            .accepted
            .iter()
            .map(|e| Accepted {
                id: e.id,
                seq: e.seq,
                hash: e.envelope_sha256,
            })
            .collect();
        let receipt = sealed(verified.envelope(), verified.header())
            .map_err(|reason| ExchangeError::Delivery { reason })?;
        Ok(Receipt {
            peer: peer.party,
            receipt,
            accepted,
        })
    }
}

/// A peer's verified receipt, to be recorded.
struct Receipt {
    peer: PartyCode,
    receipt: SealedEnvelope,
    accepted: Vec<Accepted>,
}

/// Seals an envelope from this node to `to` with the node key.
#[allow(clippy::too_many_arguments)]
fn seal_with(
    key: &NodeKey,
    sender: PartyCode,
    to: PartyCode,
    id: Uuid,
    seq: u64,
    message_type: &str,
    time: OffsetDateTime,
    body: Vec<u8>,
) -> Result<SealedEnvelope, String> {
    let message_type = MessageType::parse(message_type).map_err(|e| e.to_string())?;
    let draft = EnvelopeDraft {
        sender,
        recipient: to,
        id,
        seq,
        time,
        message_type,
    };
    let (envelope, header) =
        Envelope::seal_with_header(key, draft, body).map_err(|e| e.to_string())?;
    sealed(&envelope, &header)
}

/// The stored form of a sealed or verified envelope, with its (sealed or verified) header.
fn sealed(envelope: &Envelope, header: &EnvelopeHeader) -> Result<SealedEnvelope, String> {
    let signed = String::from_utf8(envelope.to_signed_bytes())
        .map_err(|_| "an envelope body must be UTF-8 JSON".to_owned())?;
    // The envelope hash is the SHA-256 of exactly these bytes (`Envelope::envelope_hash`).
    let hash = sha2::Sha256::digest(signed.as_bytes()).into();
    Ok(SealedEnvelope {
        id: header.id(),
        seq: header.seq(),
        message_type: header.message_type().as_str().to_owned(),
        time: header.time(),
        signed,
        hash,
    })
}

/// Envelope times are whole microseconds; stamping the item with the same instant keeps the
/// two equal after a round trip through the store.
fn micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

/// An error and its causes, for the log (a store error's own message is only its kind).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Up to a quarter more, so that workers that failed together do not retry together.
fn jitter(d: Duration) -> Duration {
    use rand::Rng;
    let extra = rand::thread_rng().gen_range(0..=d.as_millis() as u64 / 4);
    d + Duration::from_millis(extra)
}

/// A transport error's kind without the URL or any body (which could hold anything).
fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the peer did not answer in time".to_owned()
    } else if e.is_connect() {
        "the peer could not be reached (connection or TLS handshake failed)".to_owned()
    } else {
        "the exchange with the peer failed at the transport level".to_owned()
    }
}

// ------------------------------------------------------------------------------------------
// Receiving
// ------------------------------------------------------------------------------------------

/// Why (part of) a batch was refused: a stable code, the HTTP status, a sentence, and for
/// malformed bodies the field errors.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    detail: String,
    index: Option<usize>,
    errors: Option<Invalid>,
    expected_seq: Option<u64>,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            detail: detail.into(),
            index: None,
            errors: None,
            expected_seq: None,
        }
    }

    fn at(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    /// An RFC 9457 problem document, with the receipt of what was accepted before it, if any.
    fn respond(self, receipt: Option<Value>) -> Response {
        let mut doc = json!({
            "type": format!("urn:puente:federation:{}", self.code),
            "title": self.code,
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        if let Some(i) = self.index {
            doc["index"] = json!(i);
        }
        if let Some(n) = self.expected_seq {
            doc["expected_seq"] = json!(n);
        }
        if let Some(errors) = &self.errors {
            doc["errors"] = errors
                .0
                .iter()
                .map(|e| json!({"pointer": e.pointer, "code": e.code.code()}))
                .collect();
        }
        if let Some(r) = receipt {
            doc["receipt"] = r;
        }
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            doc.to_string(),
        )
            .into_response()
    }
}

fn exchange_refusal(e: &ExchangeError) -> Refusal {
    use ExchangeError as E;
    let (status, code) = match e {
        E::BodyTooLarge { .. } | E::InputTooLarge { .. } | E::BatchTooLarge { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, "too-large")
        }
        E::SignatureInvalid | E::EnvelopeSignatureInvalid => {
            (StatusCode::UNAUTHORIZED, "bad-signature")
        }
        E::WrongRecipient { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "wrong-recipient"),
        E::FromTheFuture { .. } | E::TooOld { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "stale"),
        E::BodyHashMismatch => (StatusCode::BAD_REQUEST, "body-hash-mismatch"),
        _ => (StatusCode::BAD_REQUEST, "malformed-envelope"),
    };
    Refusal::new(status, code, e.to_string())
}

async fn receive(
    State(x): State<Arc<Exchange>>,
    cert: PeerCertificate,
    body: axum::body::Body,
) -> Response {
    match receive_batch(&x, cert, body).await {
        Ok(r) => r,
        Err(refusal) => refusal.respond(None),
    }
}

async fn receive_batch(
    x: &Exchange,
    cert: PeerCertificate,
    body: axum::body::Body,
) -> Result<Response, Refusal> {
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "receiving a batch failed");
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the receiving node failed; the batch may be sent again",
        )
    };
    let fingerprint = cert.fingerprint.to_string();
    let unknown = || {
        Refusal::new(
            StatusCode::FORBIDDEN,
            "unknown-peer",
            "the client certificate is not pinned for any registered peer",
        )
    };
    let lookup = || async {
        x.store
            .peer_by_fingerprint(&fingerprint)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(unknown)
    };
    // Only a registered peer gets a slot (so strangers cannot grow the map), and the peer is
    // read again once it is this batch's turn, with the counters the previous batch left.
    let party = lookup().await?.party;
    let slot = x
        .inbound
        .lock()
        .map_err(|_| internal(&"the inbound slots' lock is poisoned"))?
        .entry(party.as_str().to_owned())
        .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(1)))
        .clone();
    // Bounded both ways, so one stalled upload cannot hold a peer's turn for ever: the wait for
    // the turn, and (below) reading the batch.
    let _turn = match tokio::time::timeout(INBOUND_WAIT, slot.acquire_owned()).await {
        Ok(Ok(turn)) => turn,
        Ok(Err(_)) => return Err(internal(&"the inbound slot was closed")),
        Err(_) => {
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "another batch from this peer is still being received; send again later",
            ));
        }
    };
    let peer = lookup().await?;
    let key = NodePublicKey::parse(&peer.signing_key).map_err(|e| internal(&e))?;
    let limit = crate::envelope::transport_max_len(x.settings.max_body_bytes)
        .saturating_mul(x.settings.max_batch)
        .saturating_add(2);
    let bytes: Bytes =
        match tokio::time::timeout(INBOUND_WAIT, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                return Err(Refusal::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    format!("the batch is larger than the {limit} bytes this node accepts"),
                ));
            }
            Err(_) => {
                return Err(Refusal::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!(
                        "the batch was not received within {} s",
                        INBOUND_WAIT.as_secs()
                    ),
                ));
            }
        };
    let envelopes = decode_batch(&bytes, x.settings.max_body_bytes, x.settings.max_batch)
        .map_err(|e| exchange_refusal(&e))?;
    let now = OffsetDateTime::now_utc();

    // Verify everything first; what follows the first bad envelope is not kept.
    let (verified, refusal) = verify_all(x, &peer, key, envelopes, now)
        .await
        .map_err(|e| internal(&e))?;
    if verified.is_empty() {
        if let Some(r) = refusal {
            return Err(r);
        }
    }

    let deciders: Vec<Option<Decider>> = verified
        .iter()
        .map(|v| match &v.effect {
            Pending::Step { step, .. } => {
                let step = step.clone();
                let by = v.sender;
                let at = v.envelope.time;
                let d: Decider = Box::new(move |item: &ExchangeItem| {
                    items::next_state(item, &step, by, at, Origin::Received)
                });
                Some(d)
            }
            Pending::Item(_) => None,
        })
        .collect();
    let mut inbound = Vec::with_capacity(verified.len());
    for (v, decider) in verified.iter().zip(&deciders) {
        let effect = match (&v.effect, decider) {
            (Pending::Item(item), _) => Effect::NewItem(item.clone()),
            (Pending::Step { item, kind, .. }, Some(decide)) => Effect::Step(NewStep {
                item: *item,
                kind: *kind,
                step: v.envelope.message_type.clone(),
                by: v.sender,
                at: v.envelope.time,
                body: v.body.clone(),
                decide: decide.as_ref(),
            }),
            (Pending::Step { .. }, None) => return Err(internal(&"a step without its decider")),
        };
        inbound.push(Inbound {
            envelope: v.envelope.clone(),
            effect,
        });
    }
    let seal_receipt = |seq: u64, accepted: &[Accepted], next_seq: u64| {
        let body = ReceiptBody {
            accepted: accepted
                .iter()
                .map(|a| ReceiptEntry {
                    id: a.id,
                    seq: a.seq,
                    envelope_sha256: a.hash,
                })
                .collect(),
            next_seq,
        };
        x.seal(
            peer.party,
            Uuid::now_v7(),
            seq,
            MessageType::RECEIPT,
            micros(OffsetDateTime::now_utc()),
            body.to_bytes(),
        )
    };
    let ctx = WriteCtx {
        actor: format!("peer:{}", peer.party),
        ip: None,
        now,
    };
    let report = x
        .store
        .receive(&ctx, peer.party, inbound, &seal_receipt)
        .await
        .map_err(|e| internal(&chain(&e)))?;
    let receipt = Envelope::from_signed_bytes(report.receipt.signed.as_bytes(), usize::MAX)
        .map_err(|e| internal(&e))?;
    let receipt: Value =
        serde_json::from_str(&receipt.to_transport_json()).map_err(|e| internal(&e))?;
    let store_refusal = report.rejected.map(|(i, why)| match why {
        InboundRejection::Replayed { id } => Refusal::new(
            StatusCode::CONFLICT,
            "replayed-id",
            format!("message {id} was accepted before with different content"),
        )
        .at(i),
        InboundRejection::SequenceGap { expected, got } => {
            let mut r = Refusal::new(
                StatusCode::CONFLICT,
                "sequence-gap",
                format!("expected seq {expected}, got {got}"),
            )
            .at(i);
            r.expected_seq = Some(expected);
            r
        }
        InboundRejection::Refused(StepRefused { code, detail }) => Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            if code == "unknown-item" {
                "unknown-item"
            } else {
                "step-refused"
            },
            format!("{code}: {detail}"),
        )
        .at(i),
    });
    match store_refusal.or(refusal) {
        Some(r) => Ok(r.respond(Some(receipt))),
        None => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "receipt": receipt }).to_string(),
        )
            .into_response()),
    }
}

/// Envelopes checked per blocking task: a batch's signatures are verified on every core at
/// once, so the time a batch holds its peer's turn is not the sum of its signature checks.
const VERIFY_CHUNK: usize = 32;

/// Verifies `envelopes` in order, in chunks on the blocking pool; the verified prefix, and the
/// refusal of the first that failed (with its index), if any.
async fn verify_all(
    x: &Exchange,
    peer: &Peer,
    key: NodePublicKey,
    envelopes: Vec<Envelope>,
    now: OffsetDateTime,
) -> Result<(Vec<Verified>, Option<Refusal>), tokio::task::JoinError> {
    let shared = Arc::new((x.party, x.settings.clone(), peer.clone()));
    let mut chunks = Vec::new();
    let mut envelopes = envelopes.into_iter().peekable();
    let mut start = 0;
    while envelopes.peek().is_some() {
        let chunk: Vec<Envelope> = envelopes.by_ref().take(VERIFY_CHUNK).collect();
        let first = start;
        start += chunk.len();
        let shared = Arc::clone(&shared);
        chunks.push(tokio::task::spawn_blocking(move || {
            let (me, settings, peer) = &*shared;
            let mut out = Vec::with_capacity(chunk.len());
            for (i, envelope) in chunk.into_iter().enumerate() {
                match verify(*me, settings, peer, &key, envelope, now) {
                    Ok(v) => out.push(v),
                    Err(r) => return (out, Some(r.at(first + i))),
                }
            }
            (out, None)
        }));
    }
    let mut verified = Vec::with_capacity(start);
    for chunk in chunks {
        let (mut ok, refusal) = chunk.await?;
        verified.append(&mut ok);
        if refusal.is_some() {
            // Later chunks were checked too, but nothing after the first failure is kept.
            return Ok((verified, refusal));
        }
    }
    Ok((verified, None))
}

type Decider = Box<dyn Fn(&ExchangeItem) -> Result<ItemState, StepRefused> + Send + Sync>;

enum Pending {
    Item(NewItem),
    Step {
        item: Uuid,
        kind: ItemKind,
        step: AnyStep,
    },
}

struct Verified {
    sender: PartyCode,
    envelope: SealedEnvelope,
    body: String,
    effect: Pending,
}

/// Every check that needs no database: format, sender, signature, recipient, freshness, type,
/// body.
fn verify(
    me: PartyCode,
    settings: &ExchangeSettings,
    peer: &Peer,
    key: &NodePublicKey,
    envelope: Envelope,
    now: OffsetDateTime,
) -> Result<Verified, Refusal> {
    let header = envelope
        .unverified_header()
        .map_err(|e| exchange_refusal(&e))?;
    if header.sender() != peer.party {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "wrong-sender",
            format!(
                "the envelope says it is from {}, but the connection is from {}",
                header.sender(),
                peer.party
            ),
        ));
    }
    let verified = envelope.open(key).map_err(|e| exchange_refusal(&e))?;
    let header = verified.header().clone();
    check_recipient(&header, me).map_err(|e| exchange_refusal(&e))?;
    // Freshness guards against old messages presented as new; one below the next expected seq
    // is a resend of something already accepted (after a lost receipt, however late), which the
    // store acknowledges again by id and hash, or refuses as a replay.
    if header.seq() >= peer.next_in_seq {
        check_freshness(
            &header,
            now,
            time::Duration::try_from(settings.max_age).unwrap_or(time::Duration::MAX),
            time::Duration::try_from(settings.max_skew).unwrap_or(time::Duration::ZERO),
        )
        .map_err(|e| exchange_refusal(&e))?;
    }
    let kind = MessageKind::parse(header.message_type().as_str()).map_err(|_| {
        Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-message-type",
            format!("no message type {:?}", header.message_type().as_str()),
        )
    })?;
    let malformed = |errors: Invalid| {
        let mut r = Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
            "the envelope body does not hold a valid message of its type",
        );
        r.errors = Some(errors);
        r
    };
    let value = wire::parse_body(verified.body()).map_err(|e| {
        Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
            format!("the envelope body is not acceptable JSON: {e}"),
        )
    })?;
    let body = String::from_utf8_lossy(verified.body()).into_owned();
    let sealed_env = sealed(verified.envelope(), &header)
        .map_err(|e| Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, "malformed-body", e))?;
    let effect = match kind {
        MessageKind::Referral | MessageKind::Request => {
            // What the item lists show of it: kind, urgency and summary (a request's question).
            let (kind, subtype, urgency, summary) = if kind == MessageKind::Referral {
                let d = wire::read_referral(&value).map_err(malformed)?;
                (ItemKind::Referral, d.kind.as_str(), d.urgency, d.summary)
            } else {
                let d = wire::read_request(&value).map_err(malformed)?;
                (ItemKind::Request, d.kind.as_str(), d.urgency, d.question)
            };
            Pending::Item(NewItem {
                id: header.id(),
                kind,
                originator: peer.party,
                recipient: me,
                subtype: subtype.to_owned(),
                urgency: urgency.as_str().to_owned(),
                summary,
                body: body.clone(),
                sent_at: header.time(),
            })
        }
        MessageKind::Receipt => {
            return Err(Refusal::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unexpected-receipt",
                "receipts travel in answers, not in batches",
            ));
        }
        step_kind if step_kind.is_referral_step() => {
            let (item, step) = wire::read_referral_step(step_kind, &value).map_err(malformed)?;
            Pending::Step {
                item,
                kind: ItemKind::Referral,
                step: AnyStep::Referral(step),
            }
        }
        step_kind => {
            let (item, step) = wire::read_request_step(step_kind, &value).map_err(malformed)?;
            Pending::Step {
                item,
                kind: ItemKind::Request,
                step: AnyStep::Request(step),
            }
        }
    };
    Ok(Verified {
        sender: peer.party,
        envelope: sealed_env,
        body,
        effect,
    })
}
