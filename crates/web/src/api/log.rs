//! `/api/v1/log` and `/api/v1/disputes`: the exchange log for auditors and administrators —
//! where each peer's logs stand, checkpoints, inclusion and consistency proofs, and the disputes
//! this node raised with their evidence. Checkpoints and proofs are served in their C2SP text
//! forms, to be checked offline (`puente log verify`, or any C2SP implementation). Every read is
//! in the audit trail, with the log index or size it touched.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use puente_domain::error::Errors;
use puente_domain::{FieldErrorCode, PartyCode};
use puente_log::origin;
use puente_policy::{Act, ResourceKind};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::exchange::{audit_read, exchange};
use super::may;
use crate::auth::Authed;
use crate::input::Query;
use crate::problem::ApiError;
use crate::state::AppState;

/// Where the logs of the exchange with one peer stand.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogOut {
    pub peer: String,
    /// This node's log of the exchange, and its copy of the peer's.
    pub origin: String,
    pub peer_origin: String,
    pub size: u64,
    pub checkpoint: Option<u64>,
    /// The size of the latest checkpoint the peer cosigned.
    pub cosigned: Option<u64>,
    pub last_cosign_error: Option<String>,
    /// The node's last check of its own log against the checkpoints it signed.
    pub verified_size: u64,
    pub verified_at: Option<String>,
    pub problem: Option<String>,
    pub peer_size: u64,
    /// The verifier keys to check checkpoints with: this node's, and the peer's cosigner key.
    pub log_key: String,
    pub peer_cosigner_key: String,
}

/// A dispute, without its evidence (`GET /api/v1/disputes/{id}` gives the file).
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeOut {
    pub id: String,
    pub peer: String,
    pub log: String,
    pub kind: String,
    pub subject: String,
    pub detail: String,
    pub raised_at: String,
}

fn party(raw: &str) -> Result<PartyCode, ApiError> {
    PartyCode::parse(raw).map_err(|_| ApiError::NotFound { kind: "peer" })
}

fn text(body: String, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `GET /api/v1/log`: the logs of the exchange with each peer.
#[utoipa::path(get, path = "/api/v1/log", tag = "log",
    responses((status = 200, body = Vec<LogOut>), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authed,
) -> Result<Json<Vec<LogOut>>, ApiError> {
    may(&state, &who, Act::List, ResourceKind::ExchangeLog).await?;
    let x = exchange(&state)?;
    let mut out = Vec::new();
    for peer in state.inner.store.list_peers().await? {
        let status = x.log_status(peer.party).unwrap_or_default();
        let own = state.inner.store.log_state(peer.party, true).await?;
        let cosigned = state
            .inner
            .store
            .latest_checkpoint(&origin(x.party(), peer.party), true)
            .await?;
        out.push(LogOut {
            peer: peer.party.to_string(),
            origin: origin(x.party(), peer.party),
            peer_origin: origin(peer.party, x.party()),
            size: own.as_ref().map_or(0, |l| l.size()),
            checkpoint: status.checkpoint,
            cosigned: cosigned.map(|c| c.size),
            last_cosign_error: status.last_cosign_error,
            verified_size: status.verified_size,
            verified_at: status.verified_at.map(puente_log::leaf::format_time),
            problem: status.problem,
            peer_size: status.peer_size,
            log_key: x.log_key(peer.party)?.to_string(),
            peer_cosigner_key: x.peer_keys(&peer)?.1.to_string(),
        });
    }
    audit_read(&state, &who, "log.read", None, json!({"logs": out.len()})).await?;
    Ok(Json(out))
}

/// `GET /api/v1/log/{peer}/checkpoint`: this node's latest checkpoint of its log with `peer`
/// that the peer cosigned (else its latest), as a C2SP signed note.
#[utoipa::path(get, path = "/api/v1/log/{peer}/checkpoint", tag = "log",
    params(("peer" = String, Path, description = "The peer's party code")),
    responses((status = 200, content_type = "text/plain", body = String),
              (status = 404, body = crate::problem::Problem)))]
pub async fn checkpoint(
    State(state): State<AppState>,
    who: Authed,
    Path(peer): Path<String>,
) -> Result<Response, ApiError> {
    may(&state, &who, Act::Read, ResourceKind::ExchangeLog).await?;
    let x = exchange(&state)?;
    let peer = party(&peer)?;
    let origin = origin(x.party(), peer);
    let c = match state.inner.store.latest_checkpoint(&origin, true).await? {
        Some(c) => c,
        None => state
            .inner
            .store
            .latest_checkpoint(&origin, false)
            .await?
            .ok_or(ApiError::NotFound { kind: "checkpoint" })?,
    };
    audit_read(
        &state,
        &who,
        "log.checkpoint.read",
        Some(origin),
        json!({"size": c.size}),
    )
    .await?;
    Ok(text(c.note, "text/plain; charset=utf-8"))
}

/// `GET /api/v1/log/{peer}/proof?envelope=ID`: the inclusion proof of an envelope (by its id)
/// in this node's log with `peer`, in C2SP tlog-proof form, under the latest checkpoint that
/// covers it (cosigned if one is).
#[utoipa::path(get, path = "/api/v1/log/{peer}/proof", tag = "log",
    params(("peer" = String, Path, description = "The peer's party code"),
           ("envelope" = String, Query, description = "The envelope's id")),
    responses((status = 200, content_type = "text/plain", body = String),
              (status = 400, body = crate::problem::Problem),
              (status = 404, body = crate::problem::Problem)))]
pub async fn proof(
    State(state): State<AppState>,
    who: Authed,
    Path(peer): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    may(&state, &who, Act::Read, ResourceKind::ExchangeLog).await?;
    let x = exchange(&state)?;
    let peer = party(&peer)?;
    let mut q = Query::parse(raw.as_deref());
    let mut e = Errors::new();
    let envelope = q.get("envelope").map(str::to_owned);
    if envelope.is_none() {
        e.push("/envelope", FieldErrorCode::Missing);
    }
    q.finish(&mut e);
    e.finish().map_err(ApiError::BadQuery)?;
    let Some(Ok(id)) = envelope.as_deref().map(uuid::Uuid::try_parse) else {
        let mut e = Errors::new();
        e.push(
            "/envelope",
            FieldErrorCode::InvalidFormat {
                expected: "envelope id",
            },
        );
        e.finish().map_err(ApiError::BadQuery)?;
        return Err(ApiError::NotFound { kind: "envelope" });
    };
    let record = state
        .inner
        .store
        .envelope_by_id(peer, id)
        .await?
        .ok_or(ApiError::NotFound { kind: "envelope" })?;
    let index = record
        .log_index
        .ok_or(ApiError::NotFound { kind: "log-entry" })?;
    let proof = x.inclusion_proof(peer, index).await?;
    audit_read(
        &state,
        &who,
        "log.proof.read",
        Some(origin(x.party(), peer)),
        json!({"index": proof.index, "envelope": id.to_string()}),
    )
    .await?;
    Ok(text(proof.to_text(), "text/plain; charset=utf-8"))
}

/// A consistency proof between two sizes of a log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyOut {
    pub origin: String,
    pub from: u64,
    pub to: u64,
    /// The proof's hashes, standard base64, in RFC 9162 order.
    pub proof: Vec<String>,
}

/// `GET /api/v1/log/{peer}/consistency?from=M&to=N`: the RFC 9162 consistency proof between
/// sizes `from` and `to` of this node's log with `peer` (0 < from ≤ to ≤ its size).
#[utoipa::path(get, path = "/api/v1/log/{peer}/consistency", tag = "log",
    params(("peer" = String, Path, description = "The peer's party code"),
           ("from" = u64, Query, description = "The first size"),
           ("to" = u64, Query, description = "The second size")),
    responses((status = 200, body = ConsistencyOut), (status = 400, body = crate::problem::Problem),
              (status = 404, body = crate::problem::Problem)))]
pub async fn consistency(
    State(state): State<AppState>,
    who: Authed,
    Path(peer): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ConsistencyOut>, ApiError> {
    may(&state, &who, Act::Read, ResourceKind::ExchangeLog).await?;
    let x = exchange(&state)?;
    let peer = party(&peer)?;
    let origin = origin(x.party(), peer);
    let size = state
        .inner
        .store
        .log_state(peer, true)
        .await?
        .map_or(0, |l| l.size());
    let mut q = Query::parse(raw.as_deref());
    let mut e = Errors::new();
    let mut number = |name: &'static str, e: &mut Errors| -> Option<u64> {
        match q.get(name).map(str::parse::<u64>) {
            Some(Ok(n)) => Some(n),
            Some(Err(_)) => {
                e.push(
                    format!("/{name}"),
                    FieldErrorCode::InvalidFormat {
                        expected: "integer",
                    },
                );
                None
            }
            None => {
                e.push(format!("/{name}"), FieldErrorCode::Missing);
                None
            }
        }
    };
    let from = number("from", &mut e);
    let to = number("to", &mut e);
    if let (Some(f), Some(t)) = (from, to) {
        if f == 0 || f > t {
            e.push("/from", FieldErrorCode::OutOfRange);
        }
        if t > size {
            e.push("/to", FieldErrorCode::OutOfRange);
        }
    }
    q.finish(&mut e);
    e.finish().map_err(ApiError::BadQuery)?;
    let (from, to) = (from.unwrap_or(1), to.unwrap_or(1));
    let hashes = x.consistency_hashes(&origin, from, to).await?;
    audit_read(
        &state,
        &who,
        "log.consistency.read",
        Some(origin.clone()),
        json!({"from": from, "to": to}),
    )
    .await?;
    Ok(Json(ConsistencyOut {
        origin,
        from,
        to,
        proof: hashes.iter().map(|h| B64.encode(h)).collect(),
    }))
}

/// `GET /api/v1/disputes`: what this node found wrong with its peers' logs, newest first.
#[utoipa::path(get, path = "/api/v1/disputes", tag = "log",
    responses((status = 200, body = Vec<DisputeOut>), (status = 403, body = crate::problem::Problem)))]
pub async fn disputes(
    State(state): State<AppState>,
    who: Authed,
) -> Result<Json<Vec<DisputeOut>>, ApiError> {
    may(&state, &who, Act::List, ResourceKind::Dispute).await?;
    let all = state.inner.store.disputes(1_000).await?;
    audit_read(
        &state,
        &who,
        "dispute.list",
        None,
        json!({"disputes": all.len()}),
    )
    .await?;
    Ok(Json(
        all.into_iter()
            .map(|d| DisputeOut {
                id: d.id.to_string(),
                peer: d.peer.to_string(),
                log: d.origin,
                kind: d.kind,
                subject: d.subject,
                detail: d.detail,
                raised_at: puente_log::leaf::format_time(d.raised_at),
            })
            .collect(),
    ))
}

/// `GET /api/v1/disputes/{id}`: one dispute's file (`puente-dispute-v1`), to check offline.
#[utoipa::path(get, path = "/api/v1/disputes/{id}", tag = "log",
    params(("id" = String, Path, description = "The dispute's id")),
    responses((status = 200, content_type = "application/json", body = String),
              (status = 404, body = crate::problem::Problem)))]
pub async fn dispute(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    may(&state, &who, Act::Read, ResourceKind::Dispute).await?;
    let id = super::path_id(&id, "dispute")?;
    let d = state
        .inner
        .store
        .dispute(id)
        .await?
        .ok_or(ApiError::NotFound { kind: "dispute" })?;
    audit_read(
        &state,
        &who,
        "dispute.read",
        Some(id.to_string()),
        json!({"kind": d.kind}),
    )
    .await?;
    Ok(text(d.evidence, "application/json"))
}
