//! Rows as stored, and their mapping to and from domain records.
//!
//! This module owns the storage encoding of every record: ids as hyphenated UUID text, instants
//! as microseconds since the Unix epoch, dates as `YYYY-MM-DD` text, bilingual text as two
//! columns, and small nested lists as JSON text (through private serde structs: the domain has no
//! serde). It is backend-neutral: rows derive `sqlx::FromRow` generically, so the SQLite and the
//! PostgreSQL store decode the same structs.
//!
//! Reading back goes through the domain's checked constructors (`CommitmentDraft::new` and
//! friends), so a row that no longer makes a valid record is reported as
//! [`StoreError::Corrupt`] instead of being handed on.

use std::fmt::Display;

use puente_domain::{
    Action, ActionDraft, AreaCode, Commitment, CommitmentDraft, Direction, FollowUp, Indicator,
    IndicatorDraft, LocalizedText, Measurement, MeasurementDraft, Meeting, MeetingDecision,
    MeetingDraft, Output, Owners, PartyCode, Period, RecordMeta, Role, StatusSchedule, Target,
};
use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};
use uuid::Uuid;

use crate::audit::{AuditEntry, NewAuditEntry};
use crate::sql::Arg;
use crate::{NodeInfo, Result, StoreError, User};

// ---------------------------------------------------------------------------------------------
// Scalars

/// Microseconds since the Unix epoch, rounded toward the past, so that truncation is the same
/// before and after 1970.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    let m = t.unix_timestamp_nanos().div_euclid(1000);
    i64::try_from(m).unwrap_or(if m < 0 { i64::MIN } else { i64::MAX })
}

/// The instant `m` microseconds after the epoch, in UTC.
pub(crate) fn instant(kind: &'static str, id: &str, m: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000)
        .map_err(|e| corrupt(kind, id, format!("instant {m}: {e}")))
}

/// `t` truncated to whole microseconds, in UTC: what the store keeps of an instant.
pub(crate) fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros(t)) * 1000).unwrap_or(t)
}

/// `YYYY-MM-DD`, which sorts as the dates do (for the four-digit years the domain uses).
pub(crate) fn date_text(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub(crate) fn parse_date(kind: &'static str, id: &str, s: &str) -> Result<Date> {
    let bad = || corrupt(kind, id, format!("date {s:?}"));
    let mut parts = s.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    let d: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(m).map_err(|_| bad())?;
    Date::from_calendar_date(y, month, d).map_err(|_| bad())
}

pub(crate) fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

pub(crate) fn parse_id(kind: &'static str, id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|e| corrupt(kind, id, format!("id: {e}")))
}

pub(crate) fn parse_party(kind: &'static str, id: &str, s: &str) -> Result<PartyCode> {
    PartyCode::parse(s).map_err(|e| corrupt(kind, id, e))
}

pub(crate) fn hash_hex(h: &[u8; 32]) -> String {
    hex::encode(h)
}

pub(crate) fn parse_hash(kind: &'static str, id: &str, s: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|e| corrupt(kind, id, format!("hash: {e}")))?;
    Ok(out)
}

pub(crate) fn corrupt(kind: &'static str, id: &str, reason: impl Display) -> StoreError {
    StoreError::Corrupt {
        kind,
        id: id.to_owned(),
        reason: reason.to_string(),
    }
}

fn to_json<T: Serialize>(kind: &'static str, id: &str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| corrupt(kind, id, format!("encoding JSON: {e}")))
}

fn from_json<T: for<'de> Deserialize<'de>>(kind: &'static str, id: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(kind, id, format!("JSON: {e}")))
}

fn text(en: &str, es: &str) -> LocalizedText {
    LocalizedText::from_pair(en, es)
}

// ---------------------------------------------------------------------------------------------
// Record meta

/// The RecordMeta columns every record table starts with.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct MetaRow {
    pub id: String,
    pub origin: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl MetaRow {
    pub const COLS: &[&str] = &["id", "origin", "created_at", "updated_at", "version"];

    pub fn args(&self) -> Vec<Arg> {
        vec![
            self.id.as_str().into(),
            self.origin.as_str().into(),
            self.created_at.into(),
            self.updated_at.into(),
            self.version.into(),
        ]
    }

    pub fn from_meta(m: &RecordMeta) -> Self {
        Self {
            id: id_text(m.id),
            origin: m.origin.as_str().to_owned(),
            created_at: micros(m.created_at),
            updated_at: micros(m.updated_at),
            version: m.version,
        }
    }

    fn into_meta(self, kind: &'static str) -> Result<RecordMeta> {
        Ok(RecordMeta {
            id: parse_id(kind, &self.id)?,
            origin: parse_party(kind, &self.id, &self.origin)?,
            created_at: instant(kind, &self.id, self.created_at)?,
            updated_at: instant(kind, &self.id, self.updated_at)?,
            version: self.version,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Node and users

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct NodeRow {
    pub party: String,
    pub created_at: i64,
}

impl NodeRow {
    pub fn into_info(self) -> Result<NodeInfo> {
        Ok(NodeInfo {
            party: parse_party("node", "1", &self.party)?,
            created_at: instant("node", "1", self.created_at)?,
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct UserRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    pub name: String,
    pub role: String,
    pub agency: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub lang: Option<String>,
}

impl UserRow {
    pub const BODY: &[&str] = &[
        "name",
        "role",
        "agency",
        "password_hash",
        "disabled",
        "lang",
    ];

    pub fn body_args(&self) -> Vec<Arg> {
        vec![
            self.name.as_str().into(),
            self.role.as_str().into(),
            self.agency.clone().into(),
            self.password_hash.clone().into(),
            self.disabled.into(),
            self.lang.clone().into(),
        ]
    }

    pub fn from_user(u: &User) -> Self {
        Self {
            meta: MetaRow::from_meta(&u.meta),
            name: u.name.clone(),
            role: u.role.as_str().to_owned(),
            agency: u.agency.clone(),
            password_hash: u.password_hash.clone(),
            disabled: u.disabled,
            lang: u.lang.clone(),
        }
    }

    pub fn into_user(self) -> Result<User> {
        let id = self.meta.id.clone();
        Ok(User {
            meta: self.meta.into_meta("user")?,
            name: self.name,
            role: self
                .role
                .parse::<Role>()
                .map_err(|e| corrupt("user", &id, e))?,
            agency: self.agency,
            password_hash: self.password_hash,
            disabled: self.disabled,
            lang: self.lang,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Commitments

/// A commitment's body columns, which an update replaces.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CommitmentBody {
    pub area: String,
    pub title_en: String,
    pub title_es: String,
    pub description_en: String,
    pub description_es: String,
    pub owner_a: String,
    pub owner_b: Option<String>,
    pub agency: String,
    pub start_date: String,
    pub due_date: String,
}

impl CommitmentBody {
    pub const COLS: &[&str] = &[
        "area",
        "title_en",
        "title_es",
        "description_en",
        "description_es",
        "owner_a",
        "owner_b",
        "agency",
        "start_date",
        "due_date",
    ];

    pub fn new(b: &CommitmentDraft) -> Self {
        let (owner_a, owner_b) = match b.owners {
            Owners::One(a) => (a, None),
            Owners::Joint(a, b) => (a, Some(b)),
        };
        Self {
            area: b.area.as_str().to_owned(),
            title_en: b.title.en().to_owned(),
            title_es: b.title.es().to_owned(),
            description_en: b.description.en().to_owned(),
            description_es: b.description.es().to_owned(),
            owner_a: owner_a.as_str().to_owned(),
            owner_b: owner_b.map(|p| p.as_str().to_owned()),
            agency: b.agency.clone(),
            start_date: date_text(b.start),
            due_date: date_text(b.due),
        }
    }

    pub fn args(&self) -> Vec<Arg> {
        vec![
            self.area.as_str().into(),
            self.title_en.as_str().into(),
            self.title_es.as_str().into(),
            self.description_en.as_str().into(),
            self.description_es.as_str().into(),
            self.owner_a.as_str().into(),
            self.owner_b.clone().into(),
            self.agency.as_str().into(),
            self.start_date.as_str().into(),
            self.due_date.as_str().into(),
        ]
    }
}

/// A commitment's stored status schedule (its due date is a body column).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ScheduleCols {
    pub sched_done: bool,
    pub sched_not_started_until: String,
    pub sched_at_risk_from: String,
}

impl ScheduleCols {
    pub const COLS: &[&str] = &[
        "sched_done",
        "sched_not_started_until",
        "sched_at_risk_from",
    ];

    pub fn new(s: &StatusSchedule) -> Self {
        Self {
            sched_done: s.done,
            sched_not_started_until: date_text(s.not_started_until),
            sched_at_risk_from: date_text(s.at_risk_from),
        }
    }

    pub fn args(&self) -> Vec<Arg> {
        vec![
            self.sched_done.into(),
            self.sched_not_started_until.as_str().into(),
            self.sched_at_risk_from.as_str().into(),
        ]
    }

    pub(crate) fn into_schedule(self, id: &str, due: Date) -> Result<StatusSchedule> {
        const K: &str = "commitment";
        Ok(StatusSchedule {
            done: self.sched_done,
            not_started_until: parse_date(K, id, &self.sched_not_started_until)?,
            at_risk_from: parse_date(K, id, &self.sched_at_risk_from)?,
            due,
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CommitmentRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    #[sqlx(flatten)]
    pub body: CommitmentBody,
    #[sqlx(flatten)]
    pub schedule: ScheduleCols,
}

impl CommitmentRow {
    /// Rebuilds the commitment; `indicators` are the served indicator ids in position order.
    pub fn into_commitment(self, indicators: &[String]) -> Result<Commitment> {
        const K: &str = "commitment";
        let id = self.meta.id.clone();
        let b = self.body;
        let area = AreaCode::parse(&b.area)
            .ok_or_else(|| corrupt(K, &id, format!("area {:?}", b.area)))?;
        let mut parties = vec![parse_party(K, &id, &b.owner_a)?];
        if let Some(owner_b) = &b.owner_b {
            parties.push(parse_party(K, &id, owner_b)?);
        }
        let owners = Owners::new("/owners", &parties).map_err(|e| corrupt(K, &id, e))?;
        let start = parse_date(K, &id, &b.start_date)?;
        let due = parse_date(K, &id, &b.due_date)?;
        let indicators = indicators
            .iter()
            .map(|i| parse_id(K, i))
            .collect::<Result<Vec<Uuid>>>()?;
        let body = CommitmentDraft::new(
            area,
            text(&b.title_en, &b.title_es),
            text(&b.description_en, &b.description_es),
            owners,
            &b.agency,
            start,
            due,
            indicators,
        )
        .map_err(|e| corrupt(K, &id, e))?;
        let schedule = self.schedule.into_schedule(&id, due)?;
        Ok(Commitment {
            meta: self.meta.into_meta(K)?,
            body,
            schedule,
        })
    }
}

/// A commitment's agenda view: its id and stored schedule.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ScheduleRow {
    pub id: String,
    pub due_date: String,
    #[sqlx(flatten)]
    pub schedule: ScheduleCols,
}

impl ScheduleRow {
    pub fn into_schedule(self) -> Result<(Uuid, StatusSchedule)> {
        const K: &str = "commitment";
        let due = parse_date(K, &self.id, &self.due_date)?;
        Ok((
            parse_id(K, &self.id)?,
            self.schedule.into_schedule(&self.id, due)?,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Actions

#[derive(Serialize, Deserialize)]
struct OutputJson {
    value: f64,
    unit: String,
    what: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ActionBody {
    pub commitment_id: String,
    pub date: String,
    pub agency: String,
    pub description_en: String,
    pub description_es: String,
    pub outputs: String,
    pub evidence: String,
    pub completes: bool,
}

impl ActionBody {
    pub const COLS: &[&str] = &[
        "commitment_id",
        "date",
        "agency",
        "description_en",
        "description_es",
        "outputs",
        "evidence",
        "completes",
    ];

    /// The body columns of action `id` (named in errors).
    pub fn new(id: Uuid, b: &ActionDraft) -> Result<Self> {
        let id = id_text(id);
        let outputs: Vec<OutputJson> = b
            .outputs
            .iter()
            .map(|o| OutputJson {
                value: o.value,
                unit: o.unit.clone(),
                what: o.what.clone(),
            })
            .collect();
        Ok(Self {
            commitment_id: id_text(b.commitment),
            date: date_text(b.date),
            agency: b.agency.clone(),
            description_en: b.description.en().to_owned(),
            description_es: b.description.es().to_owned(),
            outputs: to_json("action", &id, &outputs)?,
            evidence: to_json("action", &id, &b.evidence)?,
            completes: b.completes,
        })
    }

    pub fn args(&self) -> Vec<Arg> {
        vec![
            self.commitment_id.as_str().into(),
            self.date.as_str().into(),
            self.agency.as_str().into(),
            self.description_en.as_str().into(),
            self.description_es.as_str().into(),
            self.outputs.as_str().into(),
            self.evidence.as_str().into(),
            self.completes.into(),
        ]
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ActionRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    #[sqlx(flatten)]
    pub body: ActionBody,
}

impl ActionRow {
    pub fn into_action(self) -> Result<Action> {
        const K: &str = "action";
        let id = self.meta.id.clone();
        let b = self.body;
        let outputs: Vec<OutputJson> = from_json(K, &id, &b.outputs)?;
        let outputs = outputs
            .iter()
            .enumerate()
            .map(|(i, o)| Output::new(&format!("/outputs/{i}"), o.value, &o.unit, &o.what))
            .collect::<Result<Vec<Output>, _>>()
            .map_err(|e| corrupt(K, &id, e))?;
        let evidence: Vec<String> = from_json(K, &id, &b.evidence)?;
        let body = ActionDraft::new(
            parse_id(K, &b.commitment_id)?,
            parse_date(K, &id, &b.date)?,
            &b.agency,
            text(&b.description_en, &b.description_es),
            outputs,
            evidence,
            b.completes,
        )
        .map_err(|e| corrupt(K, &id, e))?;
        Ok(Action {
            meta: self.meta.into_meta(K)?,
            body,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Indicators and measurements

#[derive(Serialize, Deserialize)]
struct TargetJson {
    period: String,
    value: f64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct IndicatorBody {
    pub code: String,
    pub area: Option<String>,
    pub name_en: String,
    pub name_es: String,
    pub unit: String,
    pub direction: String,
    pub baseline_value: f64,
    pub baseline_period: String,
    pub targets: String,
}

impl IndicatorBody {
    pub const COLS: &[&str] = &[
        "code",
        "area",
        "name_en",
        "name_es",
        "unit",
        "direction",
        "baseline_value",
        "baseline_period",
        "targets",
    ];

    /// The body columns of indicator `id` (named in errors).
    pub fn new(id: Uuid, b: &IndicatorDraft) -> Result<Self> {
        let targets: Vec<TargetJson> = b
            .targets
            .iter()
            .map(|t| TargetJson {
                period: t.period.to_string(),
                value: t.value,
            })
            .collect();
        Ok(Self {
            code: b.code.clone(),
            area: b.area.as_ref().map(|a| a.as_str().to_owned()),
            name_en: b.name.en().to_owned(),
            name_es: b.name.es().to_owned(),
            unit: b.unit.clone(),
            direction: b.direction.as_str().to_owned(),
            baseline_value: b.baseline_value,
            baseline_period: b.baseline_period.to_string(),
            targets: to_json("indicator", &id_text(id), &targets)?,
        })
    }

    pub fn args(&self) -> Vec<Arg> {
        vec![
            self.code.as_str().into(),
            self.area.clone().into(),
            self.name_en.as_str().into(),
            self.name_es.as_str().into(),
            self.unit.as_str().into(),
            self.direction.as_str().into(),
            self.baseline_value.into(),
            self.baseline_period.as_str().into(),
            self.targets.as_str().into(),
        ]
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct IndicatorRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    #[sqlx(flatten)]
    pub body: IndicatorBody,
}

impl IndicatorRow {
    pub fn into_indicator(self) -> Result<Indicator> {
        const K: &str = "indicator";
        let id = self.meta.id.clone();
        let b = self.body;
        let period =
            |s: &str| Period::parse(s).ok_or_else(|| corrupt(K, &id, format!("period {s:?}")));
        let area = match &b.area {
            Some(a) => {
                Some(AreaCode::parse(a).ok_or_else(|| corrupt(K, &id, format!("area {a:?}")))?)
            }
            None => None,
        };
        let direction = Direction::parse(&b.direction)
            .ok_or_else(|| corrupt(K, &id, format!("direction {:?}", b.direction)))?;
        let targets: Vec<TargetJson> = from_json(K, &id, &b.targets)?;
        let targets = targets
            .iter()
            .map(|t| {
                Ok(Target {
                    period: period(&t.period)?,
                    value: t.value,
                })
            })
            .collect::<Result<Vec<Target>>>()?;
        let body = IndicatorDraft::new(
            &b.code,
            area,
            text(&b.name_en, &b.name_es),
            &b.unit,
            direction,
            b.baseline_value,
            period(&b.baseline_period)?,
            targets,
        )
        .map_err(|e| corrupt(K, &id, e))?;
        Ok(Indicator {
            meta: self.meta.into_meta(K)?,
            body,
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct MeasurementBody {
    pub indicator_id: String,
    pub period: String,
    pub party: String,
    pub value: f64,
    pub source: String,
}

impl MeasurementBody {
    pub const COLS: &[&str] = &["indicator_id", "period", "party", "value", "source"];

    pub fn new(b: &MeasurementDraft) -> Self {
        Self {
            indicator_id: id_text(b.indicator),
            period: b.period.to_string(),
            party: b.party.as_str().to_owned(),
            value: b.value,
            source: b.source.clone(),
        }
    }

    pub fn args(&self) -> Vec<Arg> {
        vec![
            self.indicator_id.as_str().into(),
            self.period.as_str().into(),
            self.party.as_str().into(),
            self.value.into(),
            self.source.as_str().into(),
        ]
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct MeasurementRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    #[sqlx(flatten)]
    pub body: MeasurementBody,
}

impl MeasurementRow {
    pub fn into_measurement(self) -> Result<Measurement> {
        const K: &str = "measurement";
        let id = self.meta.id.clone();
        let b = self.body;
        let body = MeasurementDraft::new(
            parse_id(K, &b.indicator_id)?,
            Period::parse(&b.period)
                .ok_or_else(|| corrupt(K, &id, format!("period {:?}", b.period)))?,
            parse_party(K, &id, &b.party)?,
            b.value,
            &b.source,
        )
        .map_err(|e| corrupt(K, &id, e))?;
        Ok(Measurement {
            meta: self.meta.into_meta(K)?,
            body,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Meetings

#[derive(Serialize, Deserialize)]
struct TextJson {
    en: String,
    es: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct MeetingBody {
    pub date: String,
    pub place: String,
    pub attendees: String,
    pub decisions: String,
}

impl MeetingBody {
    pub const COLS: &[&str] = &["date", "place", "attendees", "decisions"];

    /// The body columns of meeting `id` (named in errors); follow-ups are rows of their own.
    pub fn new(id: Uuid, b: &MeetingDraft) -> Result<Self> {
        let id = id_text(id);
        let decisions: Vec<TextJson> = b
            .decisions
            .iter()
            .map(|d| TextJson {
                en: d.text.en().to_owned(),
                es: d.text.es().to_owned(),
            })
            .collect();
        Ok(Self {
            date: date_text(b.date),
            place: b.place.clone(),
            attendees: to_json("meeting", &id, &b.attendees)?,
            decisions: to_json("meeting", &id, &decisions)?,
        })
    }

    pub fn args(&self) -> Vec<Arg> {
        vec![
            self.date.as_str().into(),
            self.place.as_str().into(),
            self.attendees.as_str().into(),
            self.decisions.as_str().into(),
        ]
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct MeetingRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    #[sqlx(flatten)]
    pub body: MeetingBody,
}

impl MeetingRow {
    /// Rebuilds the meeting; `follow_ups` are its follow-up rows in position order.
    pub fn into_meeting(self, follow_ups: Vec<FollowUpRow>) -> Result<Meeting> {
        const K: &str = "meeting";
        let id = self.meta.id.clone();
        let b = self.body;
        let attendees: Vec<String> = from_json(K, &id, &b.attendees)?;
        let decisions: Vec<TextJson> = from_json(K, &id, &b.decisions)?;
        let decisions = decisions
            .iter()
            .map(|d| MeetingDecision {
                text: text(&d.en, &d.es),
            })
            .collect();
        let follow_ups = follow_ups
            .into_iter()
            .map(FollowUpRow::into_follow_up)
            .collect::<Result<_>>()?;
        let body = MeetingDraft::new(
            parse_date(K, &id, &b.date)?,
            &b.place,
            attendees,
            decisions,
            follow_ups,
        )
        .map_err(|e| corrupt(K, &id, e))?;
        Ok(Meeting {
            meta: self.meta.into_meta(K)?,
            body,
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct FollowUpRow {
    pub id: String,
    pub meeting_id: String,
    pub position: i64,
    pub title_en: String,
    pub title_es: String,
    pub owner: String,
    pub due: String,
    pub completed_on: Option<String>,
}

impl FollowUpRow {
    pub const COLS: &[&str] = &[
        "id",
        "meeting_id",
        "position",
        "title_en",
        "title_es",
        "owner",
        "due",
        "completed_on",
    ];

    pub fn new(meeting: Uuid, position: usize, f: &FollowUp) -> Self {
        Self {
            id: id_text(f.id),
            meeting_id: id_text(meeting),
            position: i64::try_from(position).unwrap_or(i64::MAX),
            title_en: f.title.en().to_owned(),
            title_es: f.title.es().to_owned(),
            owner: f.owner.as_str().to_owned(),
            due: date_text(f.due),
            completed_on: f.completed_on.map(date_text),
        }
    }

    pub fn args(&self) -> Vec<Arg> {
        vec![
            self.id.as_str().into(),
            self.meeting_id.as_str().into(),
            self.position.into(),
            self.title_en.as_str().into(),
            self.title_es.as_str().into(),
            self.owner.as_str().into(),
            self.due.as_str().into(),
            self.completed_on.clone().into(),
        ]
    }

    pub fn into_follow_up(self) -> Result<FollowUp> {
        const K: &str = "meeting";
        let mid = &self.meeting_id;
        Ok(FollowUp {
            id: parse_id(K, &self.id)?,
            title: text(&self.title_en, &self.title_es),
            owner: parse_party(K, mid, &self.owner)?,
            due: parse_date(K, mid, &self.due)?,
            completed_on: match &self.completed_on {
                Some(d) => Some(parse_date(K, mid, d)?),
                None => None,
            },
        })
    }
}

/// An open follow-up as an agenda candidate, with the date of the meeting that set it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct FollowUpCandidateRow {
    #[sqlx(flatten)]
    pub follow_up: FollowUpRow,
    pub meeting_date: String,
}

// ---------------------------------------------------------------------------------------------
// Audit

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub ip: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    pub const COLS: &[&str] = &[
        "seq",
        "at",
        "actor",
        "ip",
        "action",
        "target",
        "detail",
        "prev_hash",
        "hash",
    ];

    /// The row of entry `e` (its instant already truncated) appended as `seq` after `prev`.
    pub fn new(seq: i64, e: &NewAuditEntry, prev: &[u8; 32], hash: &[u8; 32]) -> Self {
        Self {
            seq,
            at: micros(e.at),
            actor: e.actor.clone(),
            ip: e.ip.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            detail: e.detail.clone(),
            prev_hash: hash_hex(prev),
            hash: hash_hex(hash),
        }
    }

    pub fn args(&self) -> Vec<Arg> {
        vec![
            self.seq.into(),
            self.at.into(),
            self.actor.as_str().into(),
            self.ip.clone().into(),
            self.action.as_str().into(),
            self.target.clone().into(),
            self.detail.as_str().into(),
            self.prev_hash.as_str().into(),
            self.hash.as_str().into(),
        ]
    }

    pub fn into_entry(self) -> Result<AuditEntry> {
        const K: &str = "audit entry";
        let id = self.seq.to_string();
        Ok(AuditEntry {
            seq: self.seq,
            entry: NewAuditEntry {
                at: instant(K, &id, self.at)?,
                actor: self.actor,
                ip: self.ip,
                action: self.action,
                target: self.target,
                detail: self.detail,
            },
            prev_hash: parse_hash(K, &id, &self.prev_hash)?,
            hash: parse_hash(K, &id, &self.hash)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn dates_round_trip_and_sort_as_text() {
        let ds = [
            date!(1999 - 12 - 31),
            date!(2025 - 01 - 09),
            date!(2025 - 10 - 01),
        ];
        for d in ds {
            assert_eq!(parse_date("t", "x", &date_text(d)).unwrap(), d);
        }
        assert!(date_text(ds[0]) < date_text(ds[1]) && date_text(ds[1]) < date_text(ds[2]));
        assert!(parse_date("t", "x", "2025-02-30").is_err());
    }

    #[test]
    fn instants_truncate_to_microseconds_toward_the_past() {
        let t = datetime!(2025-09-03 12:00:00.123_456_789 UTC);
        assert_eq!(truncate(t), datetime!(2025-09-03 12:00:00.123_456 UTC));
        let before = datetime!(1969-12-31 23:59:59.999_999_5 UTC);
        assert_eq!(micros(before), -1);
        assert_eq!(instant("t", "x", micros(t)).unwrap(), truncate(t));
    }
}
