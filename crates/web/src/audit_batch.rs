//! One page view, one audit commit. A page reads through several API handlers (the liaison
//! officer's home page lists referrals and requests, inbound and outbound), and each read of
//! exchange data is an audit entry. Written one by one that is one fsync'd commit each; here the
//! entries of one page view are gathered while the page is built and written together, in order,
//! before the page is sent. A page whose entries cannot be written is not sent.

use std::cell::RefCell;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use puente_store::NewAuditEntry;

use crate::problem::ApiError;
use crate::state::AppState;

tokio::task_local! {
    static BATCH: RefCell<Vec<NewAuditEntry>>;
}

/// Keeps `entry` for the page view being built, if there is one (`false`: write it now).
pub(crate) fn defer(entry: &NewAuditEntry) -> bool {
    BATCH
        .try_with(|b| b.borrow_mut().push(entry.clone()))
        .is_ok()
}

/// Middleware over the page routes: runs the page, then writes what it read.
pub(crate) async fn group(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (response, entries) = BATCH
        .scope(RefCell::new(Vec::new()), async move {
            let response = next.run(req).await;
            (response, BATCH.with(RefCell::take))
        })
        .await;
    match state.inner.store.append_audits(entries).await {
        Ok(()) => response,
        Err(e) => ApiError::from(e).into_response(),
    }
}
