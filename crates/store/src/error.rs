//! What can go wrong in the store, as a closed set the web layer maps to HTTP answers.

use puente_domain::Invalid;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: Uuid },
    /// The update named a version that is no longer current.
    #[error("{kind} {id} is at version {current}, not {given}")]
    VersionConflict {
        kind: &'static str,
        id: Uuid,
        current: i64,
        given: i64,
    },
    /// A uniqueness rule was broken (indicator code, user name, measurement per period and party,
    /// node already initialised).
    #[error("duplicate {what}")]
    Duplicate {
        what: &'static str,
        pointer: &'static str,
    },
    /// The input refers to something that does not exist, or changes what may not change.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A stored row no longer reads back as a valid record.
    #[error("stored {kind} {id} is corrupt: {reason}")]
    Corrupt {
        kind: &'static str,
        id: String,
        reason: String,
    },
    /// The item's state machine refused the step.
    #[error("step refused ({code}): {detail}")]
    StepRefused { code: &'static str, detail: String },
    /// Sealing an envelope (or a receipt) failed, or produced one that does not fit what the
    /// store allocated for it (another seq or id, or a hash that is not the SHA-256 of its
    /// text). Nothing was stored.
    #[error("sealing failed: {0}")]
    Seal(String),
    /// The batched transaction this write was part of failed as a whole (the cause is logged
    /// once, by the caller that ran the batch).
    #[error("the batched write failed: {0}")]
    Batch(String),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}
