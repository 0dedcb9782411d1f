//! Token lookups remembered for a moment.
//!
//! Every API request names its user by a bearer token, and looking the token up was one of the
//! largest costs of a request under load (a statement on the database's own thread, and the
//! decoding of the user). A store remembers what a token named for at most [`TOKEN_MEMORY`]:
//!
//! - any change to users or tokens made through this store (a revoked token, a disabled user, a
//!   new role or password) forgets everything remembered, before it starts and again once it
//!   has committed, so on the node itself it takes effect at once;
//! - a change made by another process on the same database (the `puente token revoke` and
//!   `puente user` commands beside a running node) takes effect on the running node within
//!   [`TOKEN_MEMORY`];
//! - a token that names nobody is not remembered, so a new token works at once.
//!
//! A lookup that began before a change and ends after it is not remembered (the generation
//! counter tells), so a change can never be undone by a slow read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::User;

/// How long a token lookup is remembered.
pub const TOKEN_MEMORY: Duration = Duration::from_secs(1);

/// Most tokens remembered at once; past it, everything is forgotten and remembering starts over.
const MAX_REMEMBERED: usize = 4_096;

/// What tokens named, lately. Shared by the clones of one store.
#[derive(Debug, Default)]
pub(crate) struct CredentialMemory {
    generation: AtomicU64,
    remembered: Mutex<HashMap<[u8; 32], (User, Instant)>>,
}

impl CredentialMemory {
    /// The user `secret_hash` named, if looked up less than [`TOKEN_MEMORY`] ago.
    pub(crate) fn recall(&self, secret_hash: &[u8; 32]) -> Option<User> {
        let remembered = self.remembered.lock().ok()?;
        let (user, at) = remembered.get(secret_hash)?;
        (at.elapsed() < TOKEN_MEMORY).then(|| user.clone())
    }

    /// The generation to pass to `remember` for a lookup that starts now.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Remembers a lookup that started at `generation`, unless something changed since.
    pub(crate) fn remember(&self, generation: u64, secret_hash: [u8; 32], user: &User) {
        let Ok(mut remembered) = self.remembered.lock() else {
            return;
        };
        // Checked under the lock that `forget` clears under, so a change cannot slip between.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if remembered.len() >= MAX_REMEMBERED {
            remembered.clear();
        }
        remembered.insert(secret_hash, (user.clone(), Instant::now()));
    }

    /// Forgets everything: called around every change to users or tokens.
    pub(crate) fn forget(&self) {
        match self.remembered.lock() {
            Ok(mut remembered) => {
                self.generation.fetch_add(1, Ordering::SeqCst);
                remembered.clear();
            }
            // A poisoned lock: nothing is recalled from it any more (`recall` fails), and the
            // new generation stops every lookup in flight from being remembered.
            Err(_) => {
                self.generation.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
