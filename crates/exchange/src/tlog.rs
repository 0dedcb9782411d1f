//! The exchange log at run time (formats and proofs are `puente_log`'s, storage the store's):
//! per peer, a task that checkpoints this node's log (every second, or sooner once 256 entries
//! are waiting), has the peer cosign it, and checks — on a timer — this node's own log against
//! the checkpoints it signed and the peer's log against what this node holds; the federation
//! endpoint where a peer asks this node to cosign; and the proofs the API serves.
//!
//! Cosigning: the requester sends its signed checkpoint, the leaves since the size this node's
//! copy of its log has, and a consistency proof from that size. This node verifies the
//! signature, the proof, and (in `Store::witness`, atomically with the cosignature) every leaf
//! against its own records; anything wrong raises a dispute instead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use puente_domain::PartyCode;
use puente_log::dispute::{ConsistencyEvidence, DISPUTE_VERSION, Dispute, DisputeKind};
use puente_log::merkle::{self, Hash};
use puente_log::note::{self, Note, VerifierKey};
use puente_log::proof::open_checkpoint;
use puente_log::{Checkpoint, CompactRange, InclusionProof, Leaf, cosigner_name, origin};
use puente_store::log::{
    DisputeContext, NewDispute, StoredCheckpoint, WitnessOutcome, WitnessRequest,
};
use puente_store::{Peer, WriteCtx};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::error::ExchangeError;
use crate::keys::NodePublicKey;
use crate::node::Exchange;
use crate::tls::{CertFingerprint, PeerCertificate, Timeouts, reqwest_client};

/// The path peers post cosigning requests to.
pub const COSIGN_PATH: &str = "/federation/v1/log/cosign";

/// Most leaves in one cosigning request; a longer way is cosigned in steps.
pub const MAX_LEAVES_PER_REQUEST: u64 = 8192;

/// The log's timings, from the node's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// A checkpoint at least this often while entries wait...
    pub checkpoint_every: Duration,
    /// ...or as soon as this many wait.
    pub checkpoint_entries: u64,
    /// How long after this node holds an envelope the peer's log must show it.
    pub grace: Duration,
    /// How often the node checks its own log and the peer's.
    pub verify_every: Duration,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            checkpoint_every: Duration::from_secs(1),
            checkpoint_entries: 256,
            grace: Duration::from_secs(60),
            verify_every: Duration::from_secs(10),
        }
    }
}

/// Where one peer's logs stand, as the log task last saw them (for the auditor's page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStatus {
    /// This node's own log: its size, its latest checkpoint and the latest the peer cosigned.
    pub size: u64,
    pub checkpoint: Option<u64>,
    pub cosigned: Option<u64>,
    pub last_cosign_error: Option<String>,
    /// The last check of the own log against its checkpoints: up to which size, when, and the
    /// first problem found, if any.
    pub verified_size: u64,
    pub verified_at: Option<OffsetDateTime>,
    pub problem: Option<String>,
    /// This node's copy of the peer's log.
    pub peer_size: u64,
}

/// What the log task keeps between rounds for one peer.
struct PeerLog {
    last_checkpoint: Instant,
    /// The size of this node's log the peer's copy is believed to have.
    peer_copy: Option<u64>,
    client: Option<(CertFingerprint, reqwest::Client)>,
    verified: CompactRange,
    last_verify: Instant,
}

fn unix_now() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0)
}

fn not_in_log(what: impl Into<String>) -> ExchangeError {
    ExchangeError::NotInLog { what: what.into() }
}

fn cosign_error(reason: impl Into<String>) -> ExchangeError {
    ExchangeError::Cosign {
        reason: reason.into(),
    }
}

impl Exchange {
    /// The verifier key of this node's log with `peer`.
    pub fn log_key(&self, peer: PartyCode) -> Result<VerifierKey, ExchangeError> {
        Ok(VerifierKey::ed25519(
            &origin(self.party(), peer),
            &self.public_key().to_bytes(),
        )?)
    }

    /// The key this node cosigns with.
    pub fn cosigner_key(&self) -> Result<VerifierKey, ExchangeError> {
        Ok(VerifierKey::cosigner(
            &cosigner_name(self.party()),
            &self.public_key().to_bytes(),
        )?)
    }

    /// The verifier keys of `peer`'s log of its exchange with this node and of its cosignatures.
    pub fn peer_keys(&self, peer: &Peer) -> Result<(VerifierKey, VerifierKey), ExchangeError> {
        let public = NodePublicKey::parse(&peer.signing_key)?.to_bytes();
        Ok((
            VerifierKey::ed25519(&origin(peer.party, self.party()), &public)?,
            VerifierKey::cosigner(&cosigner_name(peer.party), &public)?,
        ))
    }

    /// The log's status with `peer`, as its task last saw it.
    pub fn log_status(&self, peer: PartyCode) -> Option<LogStatus> {
        self.log_statuses().lock().ok()?.get(&peer).cloned()
    }

    fn update_status(&self, peer: PartyCode, f: impl FnOnce(&mut LogStatus)) {
        if let Ok(mut all) = self.log_statuses().lock() {
            f(all.entry(peer).or_default());
        }
    }

    /// Checkpoints, cosigns and checks the logs of the exchange with `party` until `stopped`.
    pub(crate) async fn log_worker(
        self: Arc<Self>,
        party: PartyCode,
        stop: Arc<tokio::sync::Notify>,
        stopped: Arc<std::sync::atomic::AtomicBool>,
    ) {
        let settings = self.settings().log.clone();
        let mut state = PeerLog {
            last_checkpoint: Instant::now(),
            peer_copy: None,
            client: None,
            verified: CompactRange::empty(),
            last_verify: Instant::now() - settings.verify_every,
        };
        let tick = (settings.checkpoint_every / 10).max(Duration::from_millis(20));
        while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
            if let Err(e) = self.checkpoint_once(party, &mut state).await {
                tracing::warn!(peer = %party, error = %e, "making a checkpoint failed");
            }
            if let Err(e) = self.cosign_once(party, &mut state).await {
                tracing::info!(peer = %party, error = %e, "cosigning failed; will retry");
                let reason = e.to_string();
                self.update_status(party, |s| s.last_cosign_error = Some(reason));
            }
            if state.last_verify.elapsed() >= settings.verify_every {
                state.last_verify = Instant::now();
                self.verify_once(party, &mut state).await;
            }
            let stopping = stop.notified();
            tokio::select! {
                () = stopping => break,
                () = tokio::time::sleep(tick) => {}
            }
        }
    }

    /// Signs a checkpoint of this node's log with `party` if entries wait and it is time.
    async fn checkpoint_once(
        &self,
        party: PartyCode,
        state: &mut PeerLog,
    ) -> Result<(), ExchangeError> {
        let Some(log) = self.store().log_state(party, true).await? else {
            return Ok(());
        };
        let latest = self.store().latest_checkpoint(&log.origin, false).await?;
        let last = latest.as_ref().map_or(0, |c| c.size);
        self.update_status(party, |s| {
            s.size = log.size();
            s.checkpoint = latest.as_ref().map(|c| c.size);
        });
        let waiting = log.size().saturating_sub(last);
        let settings = &self.settings().log;
        if waiting == 0
            || (waiting < settings.checkpoint_entries
                && state.last_checkpoint.elapsed() < settings.checkpoint_every)
        {
            return Ok(());
        }
        // Never further than one cosigning request reaches from the last checkpoint: the peer
        // takes at most that many leaves at a time, and a checkpoint beyond its reach could
        // never be cosigned. A node that fell behind (a burst, a peer down) catches up one
        // request's worth per tick.
        let size = checkpoint_size(last, log.size());
        let root = if size == log.size() {
            log.root()
        } else {
            let heads = range_heads(self.store().as_ref(), &log.origin, &[(0, size)]).await?;
            heads
                .first()
                .copied()
                .ok_or_else(|| not_in_log(format!("no head for the first {size} entries")))?
        };
        let checkpoint = Checkpoint {
            origin: log.origin.clone(),
            size,
            root,
        };
        let mut note = Note::new(checkpoint.to_text())?;
        note.sign(&log.origin, self.key())?;
        self.store()
            .put_checkpoint(&StoredCheckpoint {
                origin: log.origin,
                size: checkpoint.size,
                root: checkpoint.root,
                note: note.to_text(),
                made_at: OffsetDateTime::now_utc(),
                cosigned_at: None,
            })
            .await?;
        state.last_checkpoint = Instant::now();
        self.update_status(party, |s| s.checkpoint = Some(checkpoint.size));
        Ok(())
    }

    /// Asks `party` to cosign this node's newest checkpoint it has not cosigned, in steps of
    /// at most [`MAX_LEAVES_PER_REQUEST`] leaves.
    async fn cosign_once(
        &self,
        party: PartyCode,
        state: &mut PeerLog,
    ) -> Result<(), ExchangeError> {
        let origin = origin(self.party(), party);
        let Some(latest) = self.store().latest_checkpoint(&origin, false).await? else {
            return Ok(());
        };
        if latest.cosigned_at.is_some() {
            return Ok(());
        }
        let from = match state.peer_copy {
            Some(n) => n,
            None => self
                .store()
                .latest_checkpoint(&origin, true)
                .await?
                .map_or(0, |c| c.size),
        };
        // The checkpoint to send: the newest within a request's reach of `from`, else the
        // first beyond it.
        let candidates = self
            .store()
            .checkpoints(&origin, from.saturating_add(1), 64)
            .await?;
        let target = candidates
            .iter()
            .rev()
            .find(|c| c.size - from <= MAX_LEAVES_PER_REQUEST)
            .or_else(|| candidates.first())
            .cloned()
            .unwrap_or(latest);
        if target.cosigned_at.is_some() || target.size <= from {
            state.peer_copy = Some(target.size.max(from));
            return Ok(());
        }
        let count = u32::try_from(target.size - from).unwrap_or(u32::MAX);
        let leaves = self.store().log_leaves(&origin, from, count).await?;
        if leaves.len() as u64 != target.size - from {
            return Err(not_in_log(format!(
                "the log has {} leaves from {from}, not {}",
                leaves.len(),
                target.size - from
            )));
        }
        let consistency = if from > 0 {
            self.consistency_hashes(&origin, from, target.size).await?
        } else {
            Vec::new()
        };
        let peer = self
            .store()
            .peer(party)
            .await?
            .ok_or(ExchangeError::UnknownPeer { party })?;
        let pinned = CertFingerprint::parse(&peer.tls_fingerprint)?;
        let http = match &state.client {
            Some((fp, c)) if *fp == pinned => c.clone(),
            _ => {
                let c = reqwest_client(self.tls(), pinned, Timeouts::default())?;
                state.client = Some((pinned, c.clone()));
                c
            }
        };
        let body = json!({
            "checkpoint": target.note,
            "from": from,
            "leaves": leaves.iter().map(|(_, l)| l.to_data()).collect::<Vec<_>>(),
            "consistency": consistency.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        });
        let url = format!("{}{COSIGN_PATH}", peer.endpoint.trim_end_matches('/'));
        let response = http
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|_| cosign_error("the peer could not be reached"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|_| cosign_error(format!("the peer answered {status} without JSON")))?;
        match status {
            StatusCode::OK => {
                let text = answer["cosigned"]
                    .as_str()
                    .ok_or_else(|| cosign_error("the answer carries no cosigned checkpoint"))?;
                self.take_cosignature(&peer, &target, text).await?;
                state.peer_copy = Some(target.size);
                self.update_status(party, |s| {
                    s.cosigned = Some(target.size);
                    s.last_cosign_error = None;
                });
                Ok(())
            }
            StatusCode::CONFLICT if answer["code"] == "behind" => {
                let size = answer["size"]
                    .as_u64()
                    .ok_or_else(|| cosign_error("a 409 without the copy's size"))?;
                state.peer_copy = Some(size);
                Err(cosign_error(format!(
                    "the peer's copy of this log has {size} entries; sending from there"
                )))
            }
            _ => Err(cosign_error(format!(
                "the peer refused ({status}, {}): {}",
                answer["code"].as_str().unwrap_or("?"),
                answer["detail"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(300)
                    .collect::<String>()
            ))),
        }
    }

    /// Checks the peer's cosignature on `target` and stores the cosigned note; a cosignature
    /// dated in this node's future is a dispute.
    async fn take_cosignature(
        &self,
        peer: &Peer,
        target: &StoredCheckpoint,
        text: &str,
    ) -> Result<(), ExchangeError> {
        let note = Note::parse(text)?;
        let (_, cosigner) = self.peer_keys(peer)?;
        let (checkpoint, verified) = open_checkpoint(
            &note,
            &target.origin,
            &[self.log_key(peer.party)?, cosigner.clone()],
        )?;
        if checkpoint.size != target.size || checkpoint.root != target.root {
            return Err(cosign_error("the peer cosigned another checkpoint"));
        }
        let time = verified
            .iter()
            .filter(|v| v.alg == note::ALG_COSIGNATURE_V1 && v.name == cosigner.name())
            .find_map(|v| v.time)
            .ok_or_else(|| cosign_error("the answer carries no cosignature of the peer's"))?;
        let now = unix_now();
        if time > now + puente_log::dispute::COSIGNATURE_SKEW_SECS {
            let dispute = Dispute {
                format: DISPUTE_VERSION.to_owned(),
                kind: DisputeKind::FutureCosignature,
                log: target.origin.clone(),
                log_key: self.log_key(peer.party)?.to_string(),
                cosigner_key: Some(cosigner.to_string()),
                raised_by: self.party().to_string(),
                raised_at: puente_log::leaf::format_time(OffsetDateTime::now_utc()),
                raised_at_unix: now,
                detail: format!(
                    "{} cosigned checkpoint {} with the time {time}, {} s ahead of this node's clock",
                    peer.party,
                    target.size,
                    time - now
                ),
                checkpoints: vec![note.to_text()],
                consistency: None,
                compact: None,
                leaves: Vec::new(),
                leaf_index: None,
                envelope: None,
            };
            self.store()
                .raise_dispute(
                    &self.log_ctx(peer.party),
                    &NewDispute {
                        peer: peer.party,
                        origin: target.origin.clone(),
                        kind: dispute.kind.as_str().to_owned(),
                        subject: format!("size {}", target.size),
                        detail: dispute.detail.clone(),
                        evidence: dispute.to_json(),
                    },
                )
                .await?;
            return Err(cosign_error(
                "the peer's cosignature is dated in the future",
            ));
        }
        self.store()
            .put_cosigned(
                &target.origin,
                target.size,
                &note.to_text(),
                OffsetDateTime::now_utc(),
            )
            .await?;
        Ok(())
    }

    fn log_ctx(&self, peer: PartyCode) -> WriteCtx {
        WriteCtx {
            actor: format!("log:{peer}"),
            ip: None,
            now: OffsetDateTime::now_utc(),
        }
    }

    /// Checks this node's own log with `party` against the checkpoints it signed (and their
    /// cosignatures), from where the last check stopped; and the peer's log for envelopes it
    /// should hold by now.
    async fn verify_once(&self, party: PartyCode, state: &mut PeerLog) {
        match self.verify_own(party, &mut state.verified).await {
            Ok(()) => {
                let size = state.verified.size();
                self.update_status(party, |s| {
                    s.verified_size = size;
                    s.verified_at = Some(OffsetDateTime::now_utc());
                    s.problem = None;
                });
            }
            Err(problem) => {
                tracing::error!(peer = %party, problem = %problem, "this node's log does not match its checkpoints");
                self.update_status(party, |s| {
                    s.verified_at = Some(OffsetDateTime::now_utc());
                    s.problem = Some(problem);
                });
            }
        }
        if let Err(e) = self.find_unlogged(party).await {
            tracing::warn!(peer = %party, error = %e, "checking the peer's log failed");
        }
        if let Ok(Some(copy)) = self.store().log_state(party, false).await {
            self.update_status(party, |s| s.peer_size = copy.size());
        }
    }

    async fn verify_own(
        &self,
        party: PartyCode,
        verified: &mut CompactRange,
    ) -> Result<(), String> {
        let origin = origin(self.party(), party);
        let peer = self
            .store()
            .peer(party)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the peer is not registered")?;
        let keys = [
            self.log_key(party).map_err(|e| e.to_string())?,
            self.peer_keys(&peer).map_err(|e| e.to_string())?.1,
        ];
        loop {
            let checkpoints = self
                .store()
                .checkpoints(&origin, verified.size().saturating_add(1), 16)
                .await
                .map_err(|e| e.to_string())?;
            if checkpoints.is_empty() {
                return Ok(());
            }
            for c in checkpoints {
                while verified.size() < c.size {
                    let want =
                        u32::try_from((c.size - verified.size()).min(10_000)).unwrap_or(10_000);
                    let leaves = self
                        .store()
                        .log_leaves(&origin, verified.size(), want)
                        .await
                        .map_err(|e| e.to_string())?;
                    if leaves.is_empty() {
                        return Err(format!(
                            "the log has {} leaves, but a checkpoint of size {} was signed",
                            verified.size(),
                            c.size
                        ));
                    }
                    for (i, leaf) in leaves {
                        if i != verified.size() {
                            return Err(format!("leaf {} is missing", verified.size()));
                        }
                        verified.append(leaf.hash(), |_, _| {});
                    }
                }
                let note =
                    Note::parse(&c.note).map_err(|e| format!("checkpoint {}: {e}", c.size))?;
                let (checkpoint, _) = open_checkpoint(&note, &origin, &keys)
                    .map_err(|e| format!("checkpoint {}: {e}", c.size))?;
                if checkpoint.root != verified.root() || checkpoint.size != verified.size() {
                    let problem = format!(
                        "the leaves up to {} do not give the head of the checkpoint this node signed for that size",
                        c.size
                    );
                    // Start over next time: a repaired log is checked whole.
                    *verified = CompactRange::empty();
                    return Err(problem);
                }
            }
        }
    }

    /// Raises a dispute for each envelope the peer's log should hold by now and does not, and
    /// for each the peer's log named another envelope for.
    async fn find_unlogged(&self, party: PartyCode) -> Result<(), ExchangeError> {
        let grace =
            time::Duration::try_from(self.settings().log.grace).unwrap_or(time::Duration::MINUTE);
        let cutoff = OffsetDateTime::now_utc() - grace;
        let mut missing: Vec<(puente_store::log::Unlogged, Option<String>)> = self
            .store()
            .settle_pending(party)
            .await?
            .into_iter()
            .map(|(index, named, held)| {
                let why = format!(
                    "{party}'s log names envelope {} at index {index} under this seq",
                    hex::encode(named)
                );
                (held, Some(why))
            })
            .collect();
        missing.extend(
            self.store()
                .unlogged(party, cutoff, 2_000)
                .await?
                .into_iter()
                .map(|m| (m, None)),
        );
        if missing.is_empty() {
            return Ok(());
        }
        let peer = self
            .store()
            .peer(party)
            .await?
            .ok_or(ExchangeError::UnknownPeer { party })?;
        let (log_key, _) = self.peer_keys(&peer)?;
        let copy_origin = origin(party, self.party());
        let latest = self.store().latest_checkpoint(&copy_origin, true).await?;
        for (m, why) in missing {
            let dispute = Dispute {
                format: DISPUTE_VERSION.to_owned(),
                kind: DisputeKind::MissingEnvelope,
                log: copy_origin.clone(),
                log_key: log_key.to_string(),
                cosigner_key: None,
                raised_by: self.party().to_string(),
                raised_at: puente_log::leaf::format_time(OffsetDateTime::now_utc()),
                raised_at_unix: unix_now(),
                detail: format!(
                    "{}'s log does not show envelope {} ({} {} seq {}, sha256 {}), which {} held \
                     more than {} s before it checked{}",
                    party,
                    m.id,
                    m.direction.as_str(),
                    m.stream.as_str(),
                    m.seq,
                    hex::encode(m.hash),
                    self.party(),
                    self.settings().log.grace.as_secs(),
                    why.map_or(String::new(), |w| format!(": {w}")),
                ),
                checkpoints: latest.iter().map(|c| c.note.clone()).collect(),
                consistency: None,
                compact: None,
                leaves: Vec::new(),
                leaf_index: None,
                envelope: Some(B64.encode(m.signed.as_bytes())),
            };
            if dispute.checkpoints.is_empty() {
                continue;
            }
            self.store()
                .raise_dispute(
                    &self.log_ctx(party),
                    &NewDispute {
                        peer: party,
                        origin: copy_origin.clone(),
                        kind: dispute.kind.as_str().to_owned(),
                        subject: m.id.to_string(),
                        detail: dispute.detail.clone(),
                        evidence: dispute.to_json(),
                    },
                )
                .await?;
        }
        Ok(())
    }

    // ---- proofs --------------------------------------------------------------------------

    /// The consistency proof between sizes `from` and `to` of the log `origin`.
    pub async fn consistency_hashes(
        &self,
        origin: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<Hash>, ExchangeError> {
        let ranges = merkle::consistency_ranges(from, to).map_err(puente_log::LogError::from)?;
        range_heads(self.store().as_ref(), origin, &ranges).await
    }

    /// The inclusion proof of entry `index` of this node's log with `peer` (an envelope's
    /// `log_index`), under the latest checkpoint that covers it (the latest cosigned one if any
    /// does): a C2SP tlog-proof carrying the leaf's data.
    pub async fn inclusion_proof(
        &self,
        peer: PartyCode,
        index: u64,
    ) -> Result<InclusionProof, ExchangeError> {
        let origin = origin(self.party(), peer);
        let (_, leaf) = self
            .store()
            .log_leaves(&origin, index, 1)
            .await?
            .pop()
            .filter(|(i, _)| *i == index)
            .ok_or_else(|| not_in_log("the entry is not in the log"))?;
        let cosigned = self.store().latest_checkpoint(&origin, true).await?;
        let checkpoint = match cosigned.filter(|c| c.size > index) {
            Some(c) => c,
            None => self
                .store()
                .latest_checkpoint(&origin, false)
                .await?
                .filter(|c| c.size > index)
                .ok_or_else(|| not_in_log("no checkpoint covers the envelope yet"))?,
        };
        let ranges =
            merkle::inclusion_ranges(index, checkpoint.size).map_err(puente_log::LogError::from)?;
        let hashes = range_heads(self.store().as_ref(), &origin, &ranges).await?;
        Ok(InclusionProof {
            extra: Some(leaf.to_data().into_bytes()),
            index,
            hashes,
            checkpoint: Note::parse(&checkpoint.note)?,
        })
    }
}

/// The size of the next checkpoint after one of size `last`, with the log at `size`: all of it,
/// or as much as one cosigning request carries.
fn checkpoint_size(last: u64, size: u64) -> u64 {
    size.min(last.saturating_add(MAX_LEAVES_PER_REQUEST))
}

/// The heads of `ranges` of the log `origin` (the hashes of a proof), from the complete
/// subtrees they fold from: one read of stored heads and one per block of 16 leaves involved.
pub async fn range_heads(
    store: &dyn puente_store::Store,
    origin: &str,
    ranges: &[merkle::Range],
) -> Result<Vec<Hash>, ExchangeError> {
    let per_range: Vec<Vec<merkle::Subtree>> = ranges
        .iter()
        .map(|(s, e)| merkle::subtrees(*s, *e))
        .collect();
    let all: Vec<merkle::Subtree> = per_range.iter().flatten().copied().collect();
    let heads = store.log_subtree_heads(origin, &all).await?;
    let mut at = 0;
    Ok(per_range
        .iter()
        .map(|subtrees| {
            let h = merkle::fold(&heads[at..at + subtrees.len()]);
            at += subtrees.len();
            h
        })
        .collect())
}

// ---- the cosigning endpoint --------------------------------------------------------------

/// A refusal of a cosigning request.
fn refuse(
    status: StatusCode,
    code: &str,
    detail: impl Into<String>,
    extra: Option<(&str, Value)>,
) -> Response {
    let mut doc = json!({
        "type": format!("urn:puente:federation:{code}"),
        "title": code,
        "status": status.as_u16(),
        "code": code,
        "detail": detail.into(),
    });
    if let Some((k, v)) = extra {
        doc[k] = v;
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        doc.to_string(),
    )
        .into_response()
}

/// The most a cosigning request may weigh: its leaves (each under 512 bytes, quoted), a
/// checkpoint and a proof.
const MAX_COSIGN_BODY: usize = (MAX_LEAVES_PER_REQUEST as usize) * 600 + 64 * 1024;

pub(crate) async fn cosign_endpoint(
    State(x): State<Arc<Exchange>>,
    cert: PeerCertificate,
    body: Bytes,
) -> Response {
    match cosign_request(&x, cert, &body).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "a cosigning request failed");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the node failed; ask again",
                None,
            )
        }
    }
}

async fn cosign_request(
    x: &Exchange,
    cert: PeerCertificate,
    body: &[u8],
) -> Result<Response, ExchangeError> {
    let Some(peer) = x
        .store()
        .peer_by_fingerprint(&cert.fingerprint.to_string())
        .await?
    else {
        return Ok(refuse(
            StatusCode::FORBIDDEN,
            "unknown-peer",
            "the client certificate is not pinned for any registered peer",
            None,
        ));
    };
    if body.len() > MAX_COSIGN_BODY {
        return Ok(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("a cosigning request is at most {MAX_COSIGN_BODY} bytes"),
            None,
        ));
    }
    let bad = |detail: String| {
        Ok(refuse(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            detail,
            None,
        ))
    };
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return bad("the request is not JSON".to_owned());
    };
    let (Some(note_text), Some(from), Some(leaves), Some(consistency)) = (
        request["checkpoint"].as_str(),
        request["from"].as_u64(),
        request["leaves"].as_array(),
        request["consistency"].as_array(),
    ) else {
        return bad("the request needs checkpoint, from, leaves and consistency".to_owned());
    };
    if leaves.len() as u64 > MAX_LEAVES_PER_REQUEST {
        return bad(format!(
            "at most {MAX_LEAVES_PER_REQUEST} leaves per request"
        ));
    }
    let (log_key, _) = x.peer_keys(&peer)?;
    let copy_origin = origin(peer.party, x.party());
    let note = match Note::parse(note_text) {
        Ok(n) => n,
        Err(e) => return bad(format!("the checkpoint: {e}")),
    };
    let checkpoint = match open_checkpoint(&note, &copy_origin, std::slice::from_ref(&log_key)) {
        Ok((c, _)) => c,
        Err(e) => {
            return Ok(refuse(
                StatusCode::UNAUTHORIZED,
                "bad-signature",
                format!("the checkpoint: {e}"),
                None,
            ));
        }
    };
    let mut parsed = Vec::with_capacity(leaves.len());
    for (i, l) in leaves.iter().enumerate() {
        match l.as_str().map(Leaf::parse) {
            Some(Ok(leaf)) => parsed.push(leaf),
            Some(Err(e)) => return bad(format!("leaf {}: {e}", from + i as u64)),
            None => return bad(format!("leaf {} is not a string", from + i as u64)),
        }
    }
    let mut proof = Vec::with_capacity(consistency.len());
    for h in consistency {
        match h
            .as_str()
            .and_then(|h| B64.decode(h).ok())
            .and_then(|h| <Hash>::try_from(h).ok())
        {
            Some(h) => proof.push(h),
            None => return bad("a consistency hash is not the base64 of 32 bytes".to_owned()),
        }
    }
    // One request at a time per peer: its copy changes only here.
    let turn = x.cosign_turn(peer.party).lock_owned().await;
    let ctx = x.log_ctx(peer.party);
    // The proof is checked against the checkpoint this node cosigned at `from`, if it has it.
    if from > 0 {
        let previous = x
            .store()
            .checkpoints(&copy_origin, from, 1)
            .await?
            .into_iter()
            .find(|c| c.size == from);
        if let Some(previous) = previous {
            if merkle::verify_consistency(
                from,
                checkpoint.size,
                &proof,
                &previous.root,
                &checkpoint.root,
            )
            .is_err()
            {
                let dispute = Dispute {
                    format: DISPUTE_VERSION.to_owned(),
                    kind: DisputeKind::BadConsistencyProof,
                    log: copy_origin.clone(),
                    log_key: log_key.to_string(),
                    cosigner_key: None,
                    raised_by: x.party().to_string(),
                    raised_at: puente_log::leaf::format_time(ctx.now),
                    raised_at_unix: unix_now(),
                    detail: format!(
                        "{} presented a consistency proof from size {from} to {} that does not verify",
                        peer.party, checkpoint.size
                    ),
                    checkpoints: vec![previous.note.clone(), note.to_text()],
                    consistency: Some(ConsistencyEvidence {
                        from,
                        to: checkpoint.size,
                        hashes: proof.iter().map(|h| B64.encode(h)).collect(),
                    }),
                    compact: None,
                    leaves: Vec::new(),
                    leaf_index: None,
                    envelope: None,
                };
                let id = x
                    .store()
                    .raise_dispute(
                        &ctx,
                        &NewDispute {
                            peer: peer.party,
                            origin: copy_origin,
                            kind: dispute.kind.as_str().to_owned(),
                            subject: format!("size {from} to {}", checkpoint.size),
                            detail: dispute.detail.clone(),
                            evidence: dispute.to_json(),
                        },
                    )
                    .await?;
                drop(turn);
                return Ok(refuse(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "dispute",
                    dispute.detail,
                    Some(("dispute", json!(id.to_string()))),
                ));
            }
        }
    }
    let witness = WitnessRequest {
        peer: peer.party,
        note: note.to_text(),
        size: checkpoint.size,
        root: checkpoint.root,
        from,
        leaves: parsed,
    };
    let me = x.party();
    let cosign = |text: &str| -> Result<String, String> {
        note::cosign(text, &cosigner_name(me), x.key(), unix_now())
            .map(|s| s.to_line())
            .map_err(|e| e.to_string())
    };
    let log_key_text = log_key.to_string();
    let build = |c: &DisputeContext<'_>| -> String {
        let kind = match c.finding {
            puente_log::witness::Finding::NotOurs { .. }
            | puente_log::witness::Finding::UnknownEnvelope { .. } => DisputeKind::UnknownEnvelope,
            puente_log::witness::Finding::OutOfOrder { .. } => DisputeKind::OutOfOrder,
            puente_log::witness::Finding::Inconsistent { .. } => {
                if c.previous_note.is_some_and(|p| {
                    Note::parse(p)
                        .ok()
                        .and_then(|n| Checkpoint::parse(n.text()).ok())
                        .is_some_and(|p| p.size == c.request.size)
                }) {
                    DisputeKind::Fork
                } else {
                    DisputeKind::InconsistentLeaves
                }
            }
        };
        let mut checkpoints: Vec<String> = c.previous_note.map(str::to_owned).into_iter().collect();
        checkpoints.push(c.request.note.clone());
        Dispute {
            format: DISPUTE_VERSION.to_owned(),
            kind,
            log: origin(c.request.peer, me),
            log_key: log_key_text.clone(),
            cosigner_key: None,
            raised_by: me.to_string(),
            raised_at: puente_log::leaf::format_time(OffsetDateTime::now_utc()),
            raised_at_unix: unix_now(),
            detail: c.finding.detail().to_owned(),
            checkpoints,
            consistency: None,
            compact: Some(c.copy_before.to_text()),
            leaves: c.request.leaves.iter().map(Leaf::to_data).collect(),
            leaf_index: c.finding.index(),
            envelope: None,
        }
        .to_json()
    };
    let outcome = x.store().witness(&ctx, &witness, &cosign, &build).await?;
    drop(turn);
    Ok(match outcome {
        WitnessOutcome::Cosigned { note } => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "cosigned": note }).to_string(),
        )
            .into_response(),
        WitnessOutcome::Behind { size } => refuse(
            StatusCode::CONFLICT,
            "behind",
            format!("this node's copy of the log has {size} entries: send the leaves from there"),
            Some(("size", json!(size))),
        ),
        WitnessOutcome::Disputed { id, finding } => refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "dispute",
            finding,
            Some(("dispute", json!(id.to_string()))),
        ),
    })
}

/// The per-peer locks of cosigning requests.
pub(crate) type CosignTurns = std::sync::Mutex<HashMap<PartyCode, Arc<tokio::sync::Mutex<()>>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_never_goes_beyond_one_cosigning_request() {
        assert_eq!(checkpoint_size(0, 10), 10);
        assert_eq!(
            checkpoint_size(100, 100 + MAX_LEAVES_PER_REQUEST),
            100 + MAX_LEAVES_PER_REQUEST
        );
        assert_eq!(
            checkpoint_size(100, 101 + MAX_LEAVES_PER_REQUEST),
            100 + MAX_LEAVES_PER_REQUEST
        );
        assert_eq!(checkpoint_size(0, 140_000), MAX_LEAVES_PER_REQUEST);
        assert_eq!(checkpoint_size(u64::MAX - 1, u64::MAX), u64::MAX);
    }
}
