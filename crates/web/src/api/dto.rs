//! Wire types of the JSON API: what responses look like, and the documented shape of request
//! bodies (bodies are parsed by `input`, which names every bad field; these structs only feed
//! the OpenAPI document).

use std::collections::BTreeMap;

use puente_domain::{
    Action, Commitment, Indicator, LocalizedText, Measurement, Meeting, PartyCode, RecordMeta,
};
use puente_store::{AuditEntry, User};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn instant(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn day(d: Date) -> String {
    d.to_string()
}

/// Text in both languages.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextOut {
    pub en: String,
    pub es: String,
}

impl From<&LocalizedText> for TextOut {
    fn from(t: &LocalizedText) -> Self {
        Self {
            en: t.en().to_owned(),
            es: t.es().to_owned(),
        }
    }
}

/// What every record carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetaOut {
    pub id: Uuid,
    /// The party whose node created the record; only that party changes it.
    pub origin: String,
    pub created_at: String,
    pub updated_at: String,
    /// Send it back with an update; a stale one is refused with 409.
    pub version: i64,
}

impl From<&RecordMeta> for MetaOut {
    fn from(m: &RecordMeta) -> Self {
        Self {
            id: m.id,
            origin: m.origin.to_string(),
            created_at: instant(m.created_at),
            updated_at: instant(m.updated_at),
            version: m.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommitmentOut {
    #[serde(flatten)]
    pub meta: MetaOut,
    pub area: String,
    pub title: TextOut,
    pub description: TextOut,
    pub owners: Vec<String>,
    pub joint: bool,
    pub agency: String,
    pub start: String,
    pub due: String,
    pub indicators: Vec<Uuid>,
    /// Derived on `today` by the status rule (see ARCHITECTURE.md); never typed in.
    #[schema(value_type = String, example = "on-track")]
    pub status: &'static str,
}

impl CommitmentOut {
    pub fn of(c: &Commitment, today: Date) -> Self {
        let b = &c.body;
        Self {
            meta: (&c.meta).into(),
            area: b.area.to_string(),
            title: (&b.title).into(),
            description: (&b.description).into(),
            owners: b.owners.parties().iter().map(ToString::to_string).collect(),
            joint: b.owners.is_joint(),
            agency: b.agency.clone(),
            start: day(b.start),
            due: day(b.due),
            indicators: b.indicators.clone(),
            status: c.schedule.status_on(today).as_str(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutputOut {
    pub value: f64,
    pub unit: String,
    pub what: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionOut {
    #[serde(flatten)]
    pub meta: MetaOut,
    pub commitment: Uuid,
    pub date: String,
    pub agency: String,
    pub description: TextOut,
    pub outputs: Vec<OutputOut>,
    pub evidence: Vec<String>,
    pub completes: bool,
}

impl From<&Action> for ActionOut {
    fn from(a: &Action) -> Self {
        let b = &a.body;
        Self {
            meta: (&a.meta).into(),
            commitment: b.commitment,
            date: day(b.date),
            agency: b.agency.clone(),
            description: (&b.description).into(),
            outputs: b
                .outputs
                .iter()
                .map(|o| OutputOut {
                    value: o.value,
                    unit: o.unit.clone(),
                    what: o.what.clone(),
                })
                .collect(),
            evidence: b.evidence.clone(),
            completes: b.completes,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodValue {
    pub period: String,
    pub value: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActualOut {
    pub period: String,
    /// Sum of the parties' values.
    pub value: f64,
    /// Each party's value (disaggregated).
    pub by_party: BTreeMap<String, f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorOut {
    #[serde(flatten)]
    pub meta: MetaOut,
    pub code: String,
    pub area: Option<String>,
    pub name: TextOut,
    pub unit: String,
    #[schema(value_type = String, example = "lower-is-better")]
    pub direction: &'static str,
    pub baseline: PeriodValue,
    pub targets: Vec<PeriodValue>,
    pub actuals: Vec<ActualOut>,
    /// Share of the way from baseline to the last target reached by the latest actual.
    pub progress: Option<f64>,
}

impl IndicatorOut {
    pub fn of(i: &Indicator, measurements: &[Measurement]) -> Self {
        let b = &i.body;
        let drafts: Vec<_> = measurements.iter().map(|m| m.body.clone()).collect();
        let mut by_period: BTreeMap<puente_domain::Period, BTreeMap<String, f64>> = BTreeMap::new();
        for m in &drafts {
            *by_period
                .entry(m.period)
                .or_default()
                .entry(m.party.to_string())
                .or_insert(0.0) += m.value;
        }
        Self {
            meta: (&i.meta).into(),
            code: b.code.clone(),
            area: b.area.as_ref().map(ToString::to_string),
            name: (&b.name).into(),
            unit: b.unit.clone(),
            direction: b.direction.as_str(),
            baseline: PeriodValue {
                period: b.baseline_period.to_string(),
                value: b.baseline_value,
            },
            targets: b
                .targets
                .iter()
                .map(|t| PeriodValue {
                    period: t.period.to_string(),
                    value: t.value,
                })
                .collect(),
            actuals: by_period
                .into_iter()
                .map(|(p, by_party)| ActualOut {
                    period: p.to_string(),
                    value: by_party.values().sum(),
                    by_party,
                })
                .collect(),
            progress: b.progress(&drafts),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeasurementOut {
    #[serde(flatten)]
    pub meta: MetaOut,
    pub indicator: Uuid,
    pub period: String,
    pub party: String,
    pub value: f64,
    pub source: String,
}

impl From<&Measurement> for MeasurementOut {
    fn from(m: &Measurement) -> Self {
        let b = &m.body;
        Self {
            meta: (&m.meta).into(),
            indicator: b.indicator,
            period: b.period.to_string(),
            party: b.party.to_string(),
            value: b.value,
            source: b.source.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpOut {
    pub id: Uuid,
    pub title: TextOut,
    pub owner: String,
    pub due: String,
    pub completed_on: Option<String>,
    #[schema(value_type = String, example = "on-track")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingOut {
    #[serde(flatten)]
    pub meta: MetaOut,
    pub date: String,
    pub place: String,
    pub attendees: Vec<String>,
    pub decisions: Vec<TextOut>,
    pub follow_ups: Vec<FollowUpOut>,
}

impl MeetingOut {
    pub fn of(m: &Meeting, today: Date) -> Self {
        let b = &m.body;
        Self {
            meta: (&m.meta).into(),
            date: day(b.date),
            place: b.place.clone(),
            attendees: b.attendees.clone(),
            decisions: b.decisions.iter().map(|d| (&d.text).into()).collect(),
            follow_ups: b
                .follow_ups
                .iter()
                .map(|f| FollowUpOut {
                    id: f.id,
                    title: (&f.title).into(),
                    owner: f.owner.to_string(),
                    due: day(f.due),
                    completed_on: f.completed_on.map(day),
                    status: f.schedule(b.date).status_on(today).as_str(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgendaItemOut {
    /// `overdue`, `at-risk` or `due`.
    pub reason: &'static str,
    /// `commitment` or `follow-up`.
    pub kind: &'static str,
    pub id: Uuid,
    /// For a follow-up, the meeting that set it.
    pub meeting: Option<Uuid>,
    pub title: TextOut,
    pub owners: Vec<String>,
    pub status: &'static str,
    pub due: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgendaOut {
    pub meeting: Uuid,
    pub date: String,
    /// The previous meeting's date: items due since then are listed.
    pub since: Option<String>,
    pub items: Vec<AgendaItemOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    #[serde(flatten)]
    pub meta: MetaOut,
    pub name: String,
    pub role: String,
    pub agency: Option<String>,
    pub disabled: bool,
    pub lang: Option<String>,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        Self {
            meta: (&u.meta).into(),
            name: u.name.clone(),
            role: u.role.to_string(),
            agency: u.agency.clone(),
            disabled: u.disabled,
            lang: u.lang.clone(),
        }
    }
}

/// A user just created, with its generated password (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreatedOut {
    #[serde(flatten)]
    pub user: UserOut,
    pub password: Option<String>,
}

/// The user making the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    /// The party of this node, which every user of it acts for.
    pub party: String,
    pub agency: Option<String>,
    pub lang: Option<String>,
}

impl MeOut {
    pub fn of(u: &User, party: PartyCode) -> Self {
        Self {
            id: u.meta.id,
            name: u.name.clone(),
            role: u.role.to_string(),
            party: party.to_string(),
            agency: u.agency.clone(),
            lang: u.lang.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub ip: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<&AuditEntry> for AuditOut {
    fn from(a: &AuditEntry) -> Self {
        Self {
            seq: a.seq,
            at: instant(a.entry.at),
            actor: a.entry.actor.clone(),
            ip: a.entry.ip.clone(),
            action: a.entry.action.clone(),
            target: a.entry.target.clone(),
            detail: a.entry.detail.clone(),
            prev_hash: hex::encode(a.prev_hash),
            hash: hex::encode(a.hash),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditOut>,
    /// Pass as `after` for the next page.
    pub next_after: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AreaOut {
    pub code: String,
    pub name: TextOut,
    pub description: TextOut,
}

macro_rules! page {
    ($name:ident, $item:ty) => {
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` for the next page; absent on the last page.
            pub next_cursor: Option<String>,
        }
    };
}
page!(CommitmentPage, CommitmentOut);
page!(ActionPage, ActionOut);
page!(IndicatorPage, IndicatorOut);
page!(MeetingPage, MeetingOut);
page!(UserPage, UserOut);

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub party: String,
    pub store: &'static str,
}

// ---- request bodies, for the OpenAPI document only ----

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct LoginIn {
    pub name: String,
    pub password: String,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct TextIn {
    pub en: String,
    pub es: String,
}

/// A commitment to create, or (with `version`) the new state of one.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct CommitmentIn {
    pub area: String,
    pub title: TextIn,
    pub description: TextIn,
    /// One party, or two for a joint commitment.
    pub owners: Vec<String>,
    pub agency: String,
    #[schema(format = Date)]
    pub start: String,
    #[schema(format = Date)]
    pub due: String,
    pub indicators: Option<Vec<Uuid>>,
    /// Required on update.
    pub version: Option<i64>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct OutputIn {
    pub value: f64,
    pub unit: String,
    pub what: String,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct ActionIn {
    pub commitment: Uuid,
    #[schema(format = Date)]
    pub date: String,
    pub agency: String,
    pub description: TextIn,
    pub outputs: Option<Vec<OutputIn>>,
    pub evidence: Option<Vec<String>>,
    pub completes: Option<bool>,
    pub version: Option<i64>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct PeriodValueIn {
    pub period: String,
    pub value: f64,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct IndicatorIn {
    pub code: String,
    pub area: Option<String>,
    pub name: TextIn,
    pub unit: String,
    /// `higher-is-better` or `lower-is-better`.
    pub direction: String,
    pub baseline: PeriodValueIn,
    pub targets: Option<Vec<PeriodValueIn>>,
    pub version: Option<i64>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct MeasurementIn {
    pub period: String,
    /// Defaults to this node's party.
    pub party: Option<String>,
    pub value: f64,
    pub source: String,
    pub version: Option<i64>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct FollowUpIn {
    /// Keep the id of an existing follow-up when updating a meeting.
    pub id: Option<Uuid>,
    pub title: TextIn,
    pub owner: String,
    #[schema(format = Date)]
    pub due: String,
    #[schema(format = Date)]
    pub completed_on: Option<String>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct MeetingIn {
    #[schema(format = Date)]
    pub date: String,
    pub place: String,
    pub attendees: Option<Vec<String>>,
    pub decisions: Option<Vec<TextIn>>,
    pub follow_ups: Option<Vec<FollowUpIn>>,
    pub version: Option<i64>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct UserIn {
    pub name: String,
    pub role: String,
    pub agency: Option<String>,
    /// Generated and returned once when absent.
    pub password: Option<String>,
    pub lang: Option<String>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
/// Absent fields keep their current value.
pub struct UserUpdateIn {
    pub role: Option<String>,
    pub agency: Option<String>,
    pub disabled: Option<bool>,
    pub lang: Option<String>,
    pub password: Option<String>,
    pub version: i64,
}

/// A user's own settings; an absent field keeps its current value.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct MeUpdateIn {
    /// `en` or `es`.
    pub lang: Option<String>,
    /// A new password (at least 12 characters); needs `current_password`.
    pub password: Option<String>,
    pub current_password: Option<String>,
}
