//! Who is asking: password login with a session cookie, bearer tokens for scripts, the login
//! rate limiter, and the [`Authed`] extractor every protected handler takes.
//!
//! Secrets (passwords, session and token secrets) are never stored or logged: passwords as
//! Argon2id hashes, session and token secrets as SHA-256 (they are 256-bit random, so a fast
//! hash is enough).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::api::dto::MeOut;
use crate::input::{JsonBody, done, object};
use crate::problem::{ApiError, UserLang};
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use puente_domain::UserName;
use puente_domain::error::Errors;
use puente_store::{NewAuditEntry, User, WriteCtx};

pub const SESSION_COOKIE: &str = "puente_session";

/// Password hashing with Argon2id (the argon2 crate's defaults follow OWASP guidance).
pub mod password {
    use argon2::Argon2;
    use argon2::password_hash::rand_core::OsRng;
    use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
    use rand::Rng;

    #[derive(Debug, thiserror::Error)]
    #[error("password hashing failed")]
    pub struct HashError;

    pub fn hash(password: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| HashError)
    }

    /// Whether `password` matches the PHC string `phc`. A malformed hash matches nothing.
    pub fn verify(password: &str, phc: &str) -> bool {
        PasswordHash::new(phc).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    }

    /// A random 20-character password from an unambiguous alphabet (about 115 bits).
    pub fn generate() -> String {
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
        let mut rng = rand::thread_rng();
        (0..20)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    }
}

/// API tokens and session secrets: 256 random bits, shown once, stored as SHA-256.
pub mod token {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rand::RngCore;
    use sha2::{Digest, Sha256};

    /// Prefix that makes a leaked puente token recognisable by secret scanners.
    pub const PREFIX: &str = "pnt_";

    /// A new secret (to hand out once) and its hash (to store).
    pub fn generate() -> (String, [u8; 32]) {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = hash(&secret);
        (secret, hash)
    }

    pub fn hash(secret: &str) -> [u8; 32] {
        Sha256::digest(secret.as_bytes()).into()
    }
}

/// Counts login attempts per user name and per client address in a sliding window; a key over
/// its limit is refused until its oldest attempt leaves the window.
///
/// An attempt is counted *before* the password is checked (and forgiven for the name if it
/// succeeds), so parallel guesses cannot all slip in while the slow hash runs.
pub struct LoginLimiter {
    per_name: u32,
    per_ip: u32,
    window: Duration,
    attempts: Mutex<Attempts>,
}

#[derive(Default)]
struct Attempts {
    tries: HashMap<[u8; 32], Vec<Instant>>,
    /// When a refusal from this address was last worth an audit entry.
    reported: HashMap<[u8; 32], Instant>,
}

/// A refused attempt: how long to wait, and whether to write it in the audit trail. Only the
/// first refusal per address and window is reported, so a client hammering the login cannot
/// make the node write (and fsync) one audit entry per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: u64,
    pub report: bool,
}

/// Keys are hashed so a spray of long names costs 32 bytes each, not their length.
fn key(kind: &str, value: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(kind)
        .chain_update([0])
        .chain_update(value)
        .finalize()
        .into()
}

/// At most this many keys are remembered; past it, keys whose attempts all left the window go.
const MAX_KEYS: usize = 100_000;

impl LoginLimiter {
    pub fn new(per_name: u32, per_ip: u32, window: Duration) -> Self {
        Self {
            per_name,
            per_ip,
            window,
            attempts: Mutex::new(Attempts::default()),
        }
    }

    /// Counts an attempt for `name` from `ip` at `now`, or says how many seconds to wait if
    /// either is over its limit (and then counts nothing).
    pub fn attempt(&self, name: &str, ip: &str, now: Instant) -> Result<(), Throttled> {
        let mut guard = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let Attempts { tries, reported } = &mut *guard;
        let ip_key = key("ip", ip);
        let keys = [(key("name", name), self.per_name), (ip_key, self.per_ip)];
        let mut wait = None;
        for (k, limit) in &keys {
            if let Some(v) = tries.get_mut(k) {
                v.retain(|t| now.duration_since(*t) < self.window);
                if v.len() as u32 >= *limit {
                    let oldest = v.first().copied().unwrap_or(now);
                    let secs = self
                        .window
                        .saturating_sub(now.duration_since(oldest))
                        .as_secs()
                        + 1;
                    wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
                }
            }
        }
        let window = self.window;
        if let Some(secs) = wait {
            let report = reported
                .get(&ip_key)
                .is_none_or(|last| now.duration_since(*last) >= window);
            if report {
                if reported.len() >= MAX_KEYS {
                    reported.retain(|_, last| now.duration_since(*last) < window);
                }
                reported.insert(ip_key, now);
            }
            return Err(Throttled {
                retry_after_secs: secs,
                report,
            });
        }
        if tries.len() >= MAX_KEYS {
            tries.retain(|_, v| v.last().is_some_and(|t| now.duration_since(*t) < window));
        }
        for (k, _) in keys {
            tries.entry(k).or_default().push(now);
        }
        Ok(())
    }

    /// Forgives the name's attempts after a successful login (the address keeps its count).
    pub fn succeeded(&self, name: &str) {
        let mut guard = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        guard.tries.remove(&key("name", name));
    }
}

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Authed {
    pub user: User,
    pub ip: Option<String>,
}

impl Authed {
    pub fn ctx(&self, now: time::OffsetDateTime) -> WriteCtx {
        WriteCtx {
            actor: self.user.name.clone(),
            ip: self.ip.clone(),
            now,
        }
    }
}

pub fn client_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('='))
        })
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let store = &state.inner.store;
        let ip = client_ip(parts);
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let user = if let Some(secret) = bearer {
            store.user_by_token(&token::hash(secret.trim())).await?
        } else if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
            store
                .user_by_session(&token::hash(secret), crate::api::now())
                .await?
        } else {
            None
        };
        match user {
            Some(user) if !user.disabled => {
                let chosen = user.lang.as_deref().and_then(puente_domain::Lang::from_tag);
                if let (Some(lang), Some(cell)) = (chosen, parts.extensions.get::<UserLang>()) {
                    cell.set(lang);
                }
                Ok(Authed { user, ip })
            }
            _ => Err(ApiError::Unauthenticated),
        }
    }
}

/// `POST /api/v1/login`: checks a name and password and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/login", tag = "session",
    request_body(content = crate::api::dto::LoginIn, content_type = "application/json"),
    responses((status = 200, body = MeOut), (status = 401, body = crate::problem::Problem),
              (status = 429, body = crate::problem::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut e = Errors::new();
    let parsed = object(&mut e, "", &body).map(|mut o| {
        let name = o.str(&mut e, "name").map(str::to_owned);
        let password = o.str(&mut e, "password").map(str::to_owned);
        o.finish(&mut e);
        name.zip(password)
    });
    let (name, password) = done(e, parsed.flatten())?;
    let (user, cookie) = start_session(&state, &name, password, &addr.ip().to_string()).await?;
    let mut response = axum::Json(MeOut::of(&user, state.inner.party)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// Checks a name and password (rate-limited, audited) and opens a session: the user and the
/// `Set-Cookie` value that carries the session secret. Shared by the API's login and the login
/// page.
pub(crate) async fn start_session(
    state: &AppState,
    name: &str,
    password: String,
    ip: &str,
) -> Result<(User, String), ApiError> {
    let limiter = &state.inner.limiter;
    let store = &state.inner.store;
    let now = crate::api::now();
    let audit = |action: &str| NewAuditEntry {
        at: now,
        actor: name.chars().take(100).collect(),
        ip: Some(ip.to_owned()),
        action: action.to_owned(),
        target: None,
        detail: "{}".to_owned(),
    };
    if let Err(t) = limiter.attempt(name, ip, Instant::now()) {
        if t.report {
            store.append_audit(&audit("login.throttled")).await?;
        }
        return Err(ApiError::TooManyRequests {
            retry_after_secs: t.retry_after_secs,
        });
    }
    // A name no user can have is not looked up (and costs the store nothing).
    let user = if UserName::parse(name).is_ok() {
        store.user_by_name(name).await?
    } else {
        None
    };
    // Verify against a fixed hash when the user is unknown, so timing does not reveal names.
    let phc = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(dummy_hash);
    let ok = tokio::task::spawn_blocking(move || password::verify(&password, &phc))
        .await
        .unwrap_or(false);
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        _ => {
            store.append_audit(&audit("login.failure")).await?;
            return Err(ApiError::LoginFailed);
        }
    };
    limiter.succeeded(name);
    let (secret, hash) = token::generate();
    let ttl = state.inner.config.session_ttl;
    let expires = now + time::Duration::seconds(ttl.as_secs() as i64);
    let ctx = WriteCtx {
        actor: user.name.clone(),
        ip: Some(ip.to_owned()),
        now,
    };
    store
        .create_session(&ctx, &hash, user.meta.id, expires)
        .await?;
    let secure = if state.inner.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        ttl.as_secs()
    );
    Ok((user, cookie))
}

fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| password::hash("puente-dummy-password").unwrap_or_default())
        .clone()
}

/// `POST /api/v1/logout`: ends the session of the cookie sent.
#[utoipa::path(post, path = "/api/v1/logout", tag = "session", responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    end_session(&state, &headers, &addr.ip().to_string()).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_SESSION));
    Ok(r)
}

/// The `Set-Cookie` value that makes a browser forget its session.
pub(crate) const CLEAR_SESSION: &str =
    "puente_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";

/// Ends the session of the cookie sent, if any. An unknown or expired cookie ends nothing and
/// writes nothing.
pub(crate) async fn end_session(
    state: &AppState,
    headers: &HeaderMap,
    ip: &str,
) -> Result<(), ApiError> {
    if let Some(secret) = cookie(headers, SESSION_COOKIE) {
        let hash = token::hash(secret);
        let store = &state.inner.store;
        let now = crate::api::now();
        // The audit entry names the session's user, so look it up first.
        if let Some(user) = store.user_by_session(&hash, now).await? {
            let ctx = WriteCtx {
                actor: user.name,
                ip: Some(ip.to_owned()),
                now,
            };
            store.delete_session(&ctx, &hash).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn passwords_verify_only_themselves() {
        let h = password::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(password::verify("correct horse", &h));
        assert!(!password::verify("wrong", &h));
        assert!(!password::verify("correct horse", "not a hash"));
        assert_ne!(password::generate(), password::generate());
    }

    #[test]
    fn tokens_hash_to_what_was_returned() {
        let (secret, hash) = token::generate();
        assert!(secret.starts_with(token::PREFIX));
        assert_eq!(token::hash(&secret), hash);
        assert_ne!(Sha256::digest(b"x").as_slice(), hash.as_slice());
    }

    #[test]
    fn limiter_counts_attempts_before_they_finish_and_forgets_after_the_window() {
        let l = LoginLimiter::new(3, 10, Duration::from_secs(60));
        let t0 = Instant::now();
        // Three attempts in flight at once: the fourth is refused before any has finished.
        for _ in 0..3 {
            assert_eq!(l.attempt("ana", "1.2.3.4", t0), Ok(()));
        }
        assert_eq!(
            l.attempt("ana", "5.6.7.8", t0),
            Err(Throttled {
                retry_after_secs: 61,
                report: true
            })
        );
        // The same address refused again in the window is not reported twice.
        assert_eq!(
            l.attempt("ana", "5.6.7.8", t0 + Duration::from_secs(1)),
            Err(Throttled {
                retry_after_secs: 60,
                report: false
            })
        );
        assert_eq!(l.attempt("bob", "1.2.3.4", t0), Ok(()));
        assert_eq!(
            l.attempt("ana", "1.2.3.4", t0 + Duration::from_secs(61)),
            Ok(())
        );
        // A success forgives the name.
        l.succeeded("ana");
        assert_eq!(
            l.attempt("ana", "9.9.9.9", t0 + Duration::from_secs(61)),
            Ok(())
        );
    }

    #[test]
    fn limiter_blocks_an_address_spraying_names() {
        let l = LoginLimiter::new(3, 5, Duration::from_secs(60));
        let t0 = Instant::now();
        for n in 0..5 {
            assert_eq!(l.attempt(&format!("user{n}"), "6.6.6.6", t0), Ok(()));
        }
        assert!(l.attempt("someone-else", "6.6.6.6", t0).is_err());
    }
}
