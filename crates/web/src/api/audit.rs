//! `/api/v1/audit`: the audit trail, read-only, for auditors (and administrators).

use axum::Json;
use axum::extract::{RawQuery, State};
use puente_domain::FieldErrorCode;
use puente_domain::error::Errors;
use puente_policy::{Act, ResourceKind};

use super::dto::{AuditOut, AuditPage};
use super::may;
use crate::auth::Authed;
use crate::input::Query;
use crate::problem::ApiError;
use crate::state::AppState;

/// `GET /api/v1/audit?after=SEQ&limit=N`: entries oldest first. There is no route that changes
/// or deletes an entry.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(("after" = Option<i64>, Query, description = "Entries after this sequence number"),
           ("limit" = Option<u32>, Query, description = "1–1000, default 100")),
    responses((status = 200, body = AuditPage), (status = 400, body = crate::problem::Problem),
              (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    may(&state, &who, Act::List, ResourceKind::AuditEntry).await?;
    let mut q = Query::parse(raw.as_deref());
    let mut e = Errors::new();
    let after = q.get("after").and_then(|a| {
        let v = a.parse::<i64>().ok();
        if v.is_none() {
            e.push(
                "/after",
                FieldErrorCode::InvalidFormat {
                    expected: "integer",
                },
            );
        }
        v
    });
    let limit = match q.get("limit").map(str::parse::<u32>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            e.push("/limit", FieldErrorCode::OutOfRange);
            100
        }
    };
    q.finish(&mut e);
    e.finish().map_err(ApiError::BadQuery)?;
    let entries = state.inner.store.list_audit(after, limit).await?;
    let next_after = if entries.len() as u32 == limit {
        entries.last().map(|a| a.seq)
    } else {
        None
    };
    Ok(Json(AuditPage {
        items: entries.iter().map(AuditOut::from).collect(),
        next_after,
    }))
}
