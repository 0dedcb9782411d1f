//! The HTTP face of one puente node: the JSON API under `/api/v1`, authentication (password
//! login with a session cookie, bearer tokens for scripts), RFC 9457 problem details in English
//! and Spanish, and the OpenAPI document.
//!
//! **Architecture invariant:** every handler asks the policy crate before it reads or writes, and
//! every write goes through a store method that appends to the audit trail in the same
//! transaction. Wire types (serde, OpenAPI schemas) live here; the domain has none.

pub mod api;
mod audit_batch;
pub mod auth;
pub mod i18n;
pub mod input;
pub mod openapi;
pub mod pages;
pub mod problem;
mod state;

pub use auth::{password, token};
pub use state::{AppState, WebConfig};

use std::future::Future;

/// The whole router of a node.
pub fn router(state: AppState) -> axum::Router {
    api::router(state)
}

/// Serves the node on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    // An answer is written as soon as it is ready, not held back by Nagle's algorithm until
    // the client acknowledges the previous segment.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
