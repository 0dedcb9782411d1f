//! What every request handler shares: the store, the policy engine, the program, the node's party,
//! the messages, and the login rate limiter.

use std::sync::Arc;
use std::time::Duration;

use puente_domain::{PartyCode, Program};
use puente_policy::PolicyEngine;
use puente_store::Store;

use crate::auth::LoginLimiter;
use crate::i18n::I18n;

/// Settings of the HTTP layer, from the node's config file.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (when served over TLS).
    pub secure_cookies: bool,
    pub session_ttl: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Failed logins allowed per user name, and per client address, in `login_window`.
    pub login_failures_per_name: u32,
    pub login_failures_per_ip: u32,
    pub login_window: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_ttl: Duration::from_secs(8 * 3600),
            max_body_bytes: 1 << 20,
            login_failures_per_name: 5,
            login_failures_per_ip: 20,
            login_window: Duration::from_secs(15 * 60),
        }
    }
}

/// Cheap to clone: everything is behind `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub policy: Arc<PolicyEngine>,
    pub program: Arc<Program>,
    pub party: PartyCode,
    pub config: WebConfig,
    pub i18n: I18n,
    pub limiter: LoginLimiter,
    /// The exchange with peers, once the node's identity is loaded (see [`AppState::set_exchange`]).
    pub exchange: std::sync::OnceLock<Arc<puente_exchange::node::Exchange>>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        policy: Arc<PolicyEngine>,
        program: Arc<Program>,
        party: PartyCode,
        config: WebConfig,
    ) -> Self {
        let limiter = LoginLimiter::new(
            config.login_failures_per_name,
            config.login_failures_per_ip,
            config.login_window,
        );
        Self {
            inner: Arc::new(Inner {
                store,
                policy,
                program,
                party,
                config,
                i18n: I18n::new(),
                limiter,
                exchange: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Connects the node's exchange with peers; the referral and request routes answer 503
    /// until it is. Only the first call counts.
    pub fn set_exchange(&self, exchange: Arc<puente_exchange::node::Exchange>) {
        let _ = self.inner.exchange.set(exchange);
    }
}
