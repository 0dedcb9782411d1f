//! What every record carries: identity, origin, times and version.
//!
//! Records will be replicated to peers' nodes, so each knows which party it came from, and
//! updates carry the version they change (optimistic concurrency: a stale version is refused).

use time::OffsetDateTime;
use uuid::Uuid;

use crate::party::PartyCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    /// A UUIDv7, made by the caller (the domain draws no random numbers).
    pub id: Uuid,
    /// The party whose node created the record; only that party changes it.
    pub origin: PartyCode,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Starts at 1 and grows by one with every accepted update.
    pub version: i64,
}

impl RecordMeta {
    pub fn new(id: Uuid, origin: PartyCode, now: OffsetDateTime) -> Self {
        Self {
            id,
            origin,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The meta of the next version, changed at `now`.
    pub fn bumped(&self, now: OffsetDateTime) -> Self {
        Self {
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        }
    }
}
