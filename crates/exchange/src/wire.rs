//! The JSON forms of exchanged items: referrals, requests for information and their steps, as
//! the API accepts them to compose one and, byte for byte, as the bodies of the envelopes that
//! carry them between nodes; the list of message types; and the exact body bytes written and
//! the strict parsing of bodies that come from peers.
//!
//! Readers name every bad field by JSON pointer (walker errors first, then the domain's checks,
//! in one round); writers produce the one canonical form: snake_case members, tokens as the
//! domain's `as_str`, instants as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, whole numbers without a
//! fraction, absent optional members left out.

use std::fmt;
use std::str::FromStr;

use puente_domain::commitment::MAX_AGENCY;
use puente_domain::error::{Errors, check_text};
use puente_domain::request::InformationRequestDraft;
use puente_domain::trail::MAX_REASON;
use puente_domain::{
    Account, ActedResult, ActionWindow, Answer, Entity, EntityKind, Evaluation, FieldError,
    FieldErrorCode, Firearm, Handling, Identifier, InfoCredibility, Invalid, Lang, Location,
    Organization, Outcome, Output, Person, ReferralDraft, ReferralInput, ReferralKind,
    ReferralStep, RequestInput, RequestKind, RequestStep, ResultKind, SourceReliability,
    TaggedText, Tlp, UnknownToken, Urgency, Vehicle, Vessel,
};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use time::Duration;
use uuid::Uuid;

use crate::json::{Obj, done, format_datetime, object, strings};

// ---- message types ----------------------------------------------------------------------------

/// Every message type one node sends another, as named in the envelope header's `type` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Referral,
    ReferralAcknowledge,
    ReferralAssign,
    ReferralOutcome,
    ReferralWithdraw,
    Request,
    RequestAcknowledge,
    RequestAnswer,
    RequestWithdraw,
    Receipt,
}

impl MessageKind {
    pub const ALL: &'static [MessageKind] = &[
        MessageKind::Referral,
        MessageKind::ReferralAcknowledge,
        MessageKind::ReferralAssign,
        MessageKind::ReferralOutcome,
        MessageKind::ReferralWithdraw,
        MessageKind::Request,
        MessageKind::RequestAcknowledge,
        MessageKind::RequestAnswer,
        MessageKind::RequestWithdraw,
        MessageKind::Receipt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Referral => "referral",
            MessageKind::ReferralAcknowledge => "referral.acknowledge",
            MessageKind::ReferralAssign => "referral.assign",
            MessageKind::ReferralOutcome => "referral.outcome",
            MessageKind::ReferralWithdraw => "referral.withdraw",
            MessageKind::Request => "request",
            MessageKind::RequestAcknowledge => "request.acknowledge",
            MessageKind::RequestAnswer => "request.answer",
            MessageKind::RequestWithdraw => "request.withdraw",
            MessageKind::Receipt => "receipt",
        }
    }

    /// The message type named `s`; an unknown one is an error the receiver reports as "unknown
    /// message type".
    pub fn parse(s: &str) -> Result<MessageKind, UnknownToken> {
        MessageKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownToken {
                what: "message type",
                token: s.chars().take(32).collect(),
            })
    }

    /// A step on a referral (acknowledge, assign, outcome, withdraw).
    pub fn is_referral_step(self) -> bool {
        matches!(
            self,
            MessageKind::ReferralAcknowledge
                | MessageKind::ReferralAssign
                | MessageKind::ReferralOutcome
                | MessageKind::ReferralWithdraw
        )
    }

    /// A step on a request for information (acknowledge, answer, withdraw).
    pub fn is_request_step(self) -> bool {
        matches!(
            self,
            MessageKind::RequestAcknowledge
                | MessageKind::RequestAnswer
                | MessageKind::RequestWithdraw
        )
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MessageKind {
    type Err = UnknownToken;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageKind::parse(s)
    }
}

// ---- merging walker and domain errors ---------------------------------------------------------

/// Whether `child` is strictly below `parent` (`/a/b` below `/a`; everything below the root).
fn below(child: &str, parent: &str) -> bool {
    parent == "/"
        || child
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The walker's errors, then the domain's, without the domain's echoes of what the walker already
/// reported: a field the walker could not read is replaced by a neutral stand-in before the
/// domain checks the whole, so a domain error at, below or above a walker error speaks of that
/// stand-in and is dropped (a list's length, which does not depend on its items, is kept).
fn merge<T>(walker: Errors, domain: Result<T, Invalid>) -> Result<T, Invalid> {
    let Err(Invalid(mut errors)) = walker.finish() else {
        return domain;
    };
    if let Err(Invalid(found)) = domain {
        let echo = |d: &FieldError| {
            errors.iter().any(|w| {
                d.pointer == w.pointer
                    || below(&d.pointer, &w.pointer)
                    || (below(&w.pointer, &d.pointer)
                        && !matches!(d.code, FieldErrorCode::TooLong { .. }))
            })
        };
        let kept: Vec<FieldError> = found.into_iter().filter(|d| !echo(d)).collect();
        errors.extend(kept);
    }
    Err(Invalid(errors))
}

/// An optional list at `key` (empty when absent), read item by item.
fn list<T>(
    o: &mut Obj<'_>,
    e: &mut Errors,
    key: &'static str,
    read: impl Fn(&mut Errors, &str, &Value) -> Option<T>,
    stand_in: impl Fn() -> T,
) -> Vec<T> {
    let ptr = o.ptr(key);
    match o.opt_array(e, key) {
        Some(items) => read_items(e, &ptr, items, read, stand_in),
        None => vec![],
    }
}

/// Reads each item at `{ptr}/{i}`; an unreadable item becomes `stand_in`, so the indices the
/// domain reports stay those of the body.
fn read_items<T>(
    e: &mut Errors,
    ptr: &str,
    items: &[Value],
    read: impl Fn(&mut Errors, &str, &Value) -> Option<T>,
    stand_in: impl Fn() -> T,
) -> Vec<T> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| read(e, &format!("{ptr}/{i}"), v).unwrap_or_else(&stand_in))
        .collect()
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

// ---- reading the parts ------------------------------------------------------------------------

fn entity_stand_in() -> Entity {
    Entity::Location(Location::default())
}

/// Reads one entity at `ptr` (unchecked: `Entity::check` judges it).
fn entity(e: &mut Errors, ptr: &str, v: &Value) -> Option<Entity> {
    let mut o = object(e, ptr, v)?;
    // An unknown type leaves nothing to judge the other members by, so they are not reported.
    let kind: EntityKind = o.token(e, "type", "entity-type")?;
    let entity = match kind {
        EntityKind::Person => {
            let name = owned(o.str(e, "name")).unwrap_or_default();
            let aliases = names(&mut o, e, "aliases");
            let birth_date = o.opt_date(e, "birth_date");
            let nationality = o.opt_party(e, "nationality");
            let identifiers = list(&mut o, e, "identifiers", identifier, Identifier::default);
            Entity::Person(Person {
                name,
                aliases,
                birth_date,
                nationality,
                identifiers,
            })
        }
        EntityKind::Organization => Entity::Organization(Organization {
            name: owned(o.str(e, "name")).unwrap_or_default(),
            aliases: names(&mut o, e, "aliases"),
        }),
        EntityKind::Vehicle => Entity::Vehicle(Vehicle {
            plate: owned(o.opt_str(e, "plate")),
            plate_region: owned(o.opt_str(e, "plate_region")),
            plate_country: o.opt_party(e, "plate_country"),
            make: owned(o.opt_str(e, "make")),
            model: owned(o.opt_str(e, "model")),
            colour: owned(o.opt_str(e, "colour")),
        }),
        EntityKind::Vessel => Entity::Vessel(Vessel {
            name: owned(o.opt_str(e, "name")),
            flag: o.opt_party(e, "flag"),
            imo: owned(o.opt_str(e, "imo")),
            mmsi: owned(o.opt_str(e, "mmsi")),
            description: owned(o.opt_str(e, "description")),
        }),
        EntityKind::Firearm => Entity::Firearm(Firearm {
            make: owned(o.opt_str(e, "make")),
            model: owned(o.opt_str(e, "model")),
            calibre: owned(o.opt_str(e, "calibre")),
            serial: owned(o.opt_str(e, "serial")),
        }),
        EntityKind::Account => Entity::Account(Account {
            institution: owned(o.str(e, "institution")).unwrap_or_default(),
            number: owned(o.str(e, "number")).unwrap_or_default(),
            holder: owned(o.opt_str(e, "holder")),
        }),
        EntityKind::Location => Entity::Location(location_fields(&mut o, e)),
    };
    o.finish(e);
    Some(entity)
}

fn names(o: &mut Obj<'_>, e: &mut Errors, key: &'static str) -> Vec<String> {
    let ptr = o.ptr(key);
    o.opt_array(e, key)
        .map(|items| strings(e, &ptr, items))
        .unwrap_or_default()
}

fn identifier(e: &mut Errors, ptr: &str, v: &Value) -> Option<Identifier> {
    let mut o = object(e, ptr, v)?;
    let id = Identifier {
        scheme: owned(o.str(e, "scheme")).unwrap_or_default(),
        value: owned(o.str(e, "value")).unwrap_or_default(),
    };
    o.finish(e);
    Some(id)
}

fn location_fields(o: &mut Obj<'_>, e: &mut Errors) -> Location {
    Location {
        lat: o.opt_f64(e, "lat"),
        lon: o.opt_f64(e, "lon"),
        place: owned(o.opt_str(e, "place")),
    }
}

fn location(e: &mut Errors, ptr: &str, v: &Value) -> Option<Location> {
    let mut o = object(e, ptr, v)?;
    let l = location_fields(&mut o, e);
    o.finish(e);
    Some(l)
}

/// Reads an action window. An instant that cannot be read is stood in for one second beside
/// the other, so the domain does not also call the window reversed.
fn window(mut o: Obj<'_>, e: &mut Errors) -> ActionWindow {
    let opens = o.datetime(e, "opens");
    let closes = o.datetime(e, "closes");
    let note = owned(o.opt_str(e, "note"));
    o.finish(e);
    let second = Duration::seconds(1);
    let (opens, closes) = match (opens, closes) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, a.saturating_add(second)),
        (None, Some(b)) => (b.saturating_sub(second), b),
        (None, None) => (
            time::OffsetDateTime::UNIX_EPOCH,
            time::OffsetDateTime::UNIX_EPOCH + second,
        ),
    };
    ActionWindow {
        opens,
        closes,
        note,
    }
}

fn evaluation(mut o: Obj<'_>, e: &mut Errors) -> Option<Evaluation> {
    let reliability = o.token(e, "reliability", "source-reliability");
    let credibility = o.token(e, "credibility", "information-credibility");
    o.finish(e);
    Some(Evaluation {
        reliability: reliability?,
        credibility: credibility?,
    })
}

/// Reads handling conditions. Both flags are required: whether an item may be passed on or used
/// as evidence is a legal condition, never a default.
fn handling(mut o: Obj<'_>, e: &mut Errors) -> Handling {
    let h = Handling {
        // Clear stands in for an unreadable level: it contradicts nothing.
        tlp: o.token(e, "tlp", "tlp").unwrap_or(Tlp::Clear),
        may_pass_on: o.bool(e, "may_pass_on").unwrap_or(false),
        evidence_use: o.bool(e, "evidence_use").unwrap_or(false),
        purpose: owned(o.str(e, "purpose")).unwrap_or_default(),
        legal_basis: owned(o.str(e, "legal_basis")).unwrap_or_default(),
        retention_days: o.u32(e, "retention_days").unwrap_or(0),
    };
    o.finish(e);
    h
}

fn handling_stand_in() -> Handling {
    Handling {
        tlp: Tlp::Clear,
        may_pass_on: false,
        evidence_use: false,
        purpose: String::new(),
        legal_basis: String::new(),
        retention_days: 0,
    }
}

fn tagged_at(e: &mut Errors, ptr: &str, v: &Value) -> Option<TaggedText> {
    let mut o = object(e, ptr, v)?;
    let lang = o.lang(e, "lang");
    let text = owned(o.str(e, "text"));
    o.finish(e);
    Some(TaggedText {
        lang: lang.unwrap_or(Lang::En),
        text: text.unwrap_or_default(),
    })
}

/// A `{"lang","text"}` member of `o`, required or not.
fn tagged(
    o: &mut Obj<'_>,
    e: &mut Errors,
    key: &'static str,
    required: bool,
) -> Option<TaggedText> {
    let ptr = o.ptr(key);
    let v = match o.get(key) {
        Some(v) => v,
        None => {
            if required {
                e.push(ptr, FieldErrorCode::Missing);
            }
            return None;
        }
    };
    tagged_at(e, &ptr, v)
}

fn tagged_stand_in() -> TaggedText {
    TaggedText {
        lang: Lang::En,
        text: String::new(),
    }
}

fn acted_result(e: &mut Errors, ptr: &str, v: &Value) -> Option<ActedResult> {
    let mut o = object(e, ptr, v)?;
    let r = ActedResult {
        kind: o
            .token(e, "kind", "result-kind")
            .unwrap_or(ResultKind::Seizure),
        quantity: Output {
            value: o.f64(e, "value").unwrap_or(0.0),
            unit: owned(o.str(e, "unit")).unwrap_or_default(),
            what: owned(o.str(e, "what")).unwrap_or_default(),
        },
    };
    o.finish(e);
    Some(r)
}

fn acted_stand_in() -> ActedResult {
    ActedResult {
        kind: ResultKind::Seizure,
        quantity: Output {
            value: 0.0,
            unit: "-".to_owned(),
            what: "-".to_owned(),
        },
    }
}

/// Reads an outcome object at `ptr` (unchecked).
fn outcome_at(e: &mut Errors, ptr: &str, v: &Value) -> Option<Outcome> {
    let mut o = object(e, ptr, v)?;
    let outcome = match o.str(e, "kind")? {
        "acted" => Outcome::Acted {
            results: list(&mut o, e, "results", acted_result, acted_stand_in),
        },
        "no-trace" => Outcome::NoTrace,
        "declined" => Outcome::Declined {
            reason: tagged(&mut o, e, "reason", true).unwrap_or_else(tagged_stand_in),
        },
        _ => {
            e.push(
                o.ptr("kind"),
                FieldErrorCode::InvalidFormat {
                    expected: "outcome-kind",
                },
            );
            return None;
        }
    };
    o.finish(e);
    Some(outcome)
}

/// Reads an answer object at `ptr` (unchecked).
fn answer_at(e: &mut Errors, ptr: &str, v: &Value) -> Option<Answer> {
    let mut o = object(e, ptr, v)?;
    let answer = match o.str(e, "kind")? {
        "found" => Answer::Found {
            text: tagged(&mut o, e, "text", true).unwrap_or_else(tagged_stand_in),
            entities: list(&mut o, e, "entities", entity, entity_stand_in),
        },
        "not-found" => Answer::NotFound {
            text: tagged(&mut o, e, "text", false),
        },
        "declined" => Answer::Declined {
            reason: tagged(&mut o, e, "reason", true).unwrap_or_else(tagged_stand_in),
        },
        _ => {
            e.push(
                o.ptr("kind"),
                FieldErrorCode::InvalidFormat {
                    expected: "answer-kind",
                },
            );
            return None;
        }
    };
    o.finish(e);
    Some(answer)
}

// ---- items ------------------------------------------------------------------------------------

/// What a release policy looks at in an item's content (a referral's or a request's JSON
/// form): its TLP level, and whether it names persons (among its entities, or as a request's
/// subject).
pub fn handling_facts(content: &Value) -> (Option<String>, bool) {
    let tlp = content
        .pointer("/handling/tlp")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let is_person = |e: &Value| e.get("type").and_then(Value::as_str) == Some("person");
    let persons = content
        .get("entities")
        .and_then(Value::as_array)
        .is_some_and(|es| es.iter().any(is_person))
        || content.get("subject").is_some_and(is_person);
    (tlp, persons)
}

/// Reads a referral body and checks it whole (`ReferralDraft::new`), reporting every bad field.
pub fn read_referral(v: &Value) -> Result<ReferralDraft, Invalid> {
    let mut e = Errors::new();
    let Some(mut o) = object(&mut e, "", v) else {
        return done(e, None);
    };
    let kind = o.token(&mut e, "kind", "referral-kind");
    let urgency = o.token(&mut e, "urgency", "urgency");
    let lang = o.lang(&mut e, "lang");
    let summary = owned(o.str(&mut e, "summary"));
    let details = owned(o.opt_str(&mut e, "details"));
    let window = o.opt_obj(&mut e, "window").map(|w| window(w, &mut e));
    let ptr = o.ptr("locations");
    let locations = match o.array(&mut e, "locations") {
        Some(items) => read_items(&mut e, &ptr, items, location, Location::default),
        None => vec![],
    };
    let ptr = o.ptr("entities");
    let entities = match o.array(&mut e, "entities") {
        Some(items) => read_items(&mut e, &ptr, items, entity, entity_stand_in),
        None => vec![],
    };
    let evaluation = o
        .obj(&mut e, "evaluation")
        .and_then(|x| evaluation(x, &mut e));
    let handling = o.obj(&mut e, "handling").map(|h| handling(h, &mut e));
    o.finish(&mut e);
    let input = ReferralInput {
        kind: kind.unwrap_or(ReferralKind::Other),
        urgency: urgency.unwrap_or(Urgency::Routine),
        lang: lang.unwrap_or(Lang::En),
        summary: summary.unwrap_or_default(),
        details,
        window,
        locations,
        entities,
        evaluation: evaluation.unwrap_or(Evaluation {
            reliability: SourceReliability::X,
            credibility: InfoCredibility::CannotBeJudged,
        }),
        handling: handling.unwrap_or_else(handling_stand_in),
    };
    merge(e, ReferralDraft::new(input))
}

/// The canonical JSON of a referral: what the `referral` envelope carries.
pub fn referral_json(d: &ReferralDraft) -> Value {
    let mut m = Map::new();
    put(&mut m, "kind", d.kind.as_str());
    put(&mut m, "urgency", d.urgency.as_str());
    put(&mut m, "lang", d.lang.tag());
    put(&mut m, "summary", d.summary.as_str());
    put_opt(&mut m, "details", d.details.as_deref());
    if let Some(w) = &d.window {
        let mut wm = Map::new();
        put(&mut wm, "opens", format_datetime(w.opens));
        put(&mut wm, "closes", format_datetime(w.closes));
        put_opt(&mut wm, "note", w.note.as_deref());
        m.insert("window".into(), Value::Object(wm));
    }
    m.insert(
        "locations".into(),
        d.locations.iter().map(location_json).collect(),
    );
    m.insert(
        "entities".into(),
        d.entities.iter().map(entity_json).collect(),
    );
    let mut ev = Map::new();
    put(&mut ev, "reliability", d.evaluation.reliability.as_str());
    put(&mut ev, "credibility", d.evaluation.credibility.as_str());
    m.insert("evaluation".into(), Value::Object(ev));
    m.insert("handling".into(), handling_json(&d.handling));
    Value::Object(m)
}

/// Reads a request-for-information body and checks it whole (`InformationRequestDraft::new`).
pub fn read_request(v: &Value) -> Result<InformationRequestDraft, Invalid> {
    let mut e = Errors::new();
    let Some(mut o) = object(&mut e, "", v) else {
        return done(e, None);
    };
    let kind = o.token(&mut e, "kind", "request-kind");
    let urgency = o.token(&mut e, "urgency", "urgency");
    let lang = o.lang(&mut e, "lang");
    let question = owned(o.str(&mut e, "question"));
    let ptr = o.ptr("subject");
    let subject = match o.get("subject") {
        Some(s) => entity(&mut e, &ptr, s),
        None => {
            e.push(ptr, FieldErrorCode::Missing);
            None
        }
    };
    let handling = o.obj(&mut e, "handling").map(|h| handling(h, &mut e));
    o.finish(&mut e);
    let input = RequestInput {
        // Other stands in for an unreadable kind: any subject fits it.
        kind: kind.unwrap_or(RequestKind::Other),
        urgency: urgency.unwrap_or(Urgency::Routine),
        lang: lang.unwrap_or(Lang::En),
        question: question.unwrap_or_default(),
        subject: subject.unwrap_or_else(entity_stand_in),
        handling: handling.unwrap_or_else(handling_stand_in),
    };
    merge(e, InformationRequestDraft::new(input))
}

/// The canonical JSON of a request for information: what the `request` envelope carries.
pub fn request_json(d: &InformationRequestDraft) -> Value {
    let mut m = Map::new();
    put(&mut m, "kind", d.kind.as_str());
    put(&mut m, "urgency", d.urgency.as_str());
    put(&mut m, "lang", d.lang.tag());
    put(&mut m, "question", d.question.as_str());
    m.insert("subject".into(), entity_json(&d.subject));
    m.insert("handling".into(), handling_json(&d.handling));
    Value::Object(m)
}

// ---- steps ------------------------------------------------------------------------------------

/// The item id member of a step body: `{"referral": …}` or `{"request": …}`.
fn item_id(o: &mut Obj<'_>, e: &mut Errors, key: &'static str) -> Uuid {
    // The nil id stands in only while an error is recorded, so it is never returned.
    o.uuid(e, key).unwrap_or(Uuid::nil())
}

fn not_a(expected: &'static str) -> Invalid {
    Invalid::one("/", FieldErrorCode::InvalidFormat { expected })
}

/// Reads the body of a referral step of message type `kind` (`referral.acknowledge`, …) and
/// checks its content; pointers are those of the body (`/outcome/results/0/value`).
pub fn read_referral_step(kind: MessageKind, v: &Value) -> Result<(Uuid, ReferralStep), Invalid> {
    if !kind.is_referral_step() {
        return Err(not_a("referral-step"));
    }
    let mut e = Errors::new();
    let Some(mut o) = object(&mut e, "", v) else {
        return done(e, None);
    };
    let id = item_id(&mut o, &mut e, "referral");
    let step = match kind {
        MessageKind::ReferralAssign => {
            let agency = owned(o.str(&mut e, "agency")).unwrap_or_default();
            check_text("/agency", &agency, MAX_AGENCY).map(|agency| ReferralStep::Assign { agency })
        }
        MessageKind::ReferralOutcome => {
            let ptr = o.ptr("outcome");
            let outcome = match o.get("outcome") {
                Some(x) => outcome_at(&mut e, &ptr, x),
                None => {
                    e.push(ptr.as_str(), FieldErrorCode::Missing);
                    None
                }
            };
            outcome
                .unwrap_or(Outcome::NoTrace)
                .check(&ptr)
                .map(ReferralStep::ReportOutcome)
        }
        MessageKind::ReferralWithdraw => {
            let reason = tagged(&mut o, &mut e, "reason", true).unwrap_or_else(tagged_stand_in);
            reason
                .check("/reason", MAX_REASON)
                .map(|reason| ReferralStep::Withdraw { reason })
        }
        _ => Ok(ReferralStep::Acknowledge),
    };
    o.finish(&mut e);
    merge(e, step.map(|s| (id, s)))
}

/// The message type and canonical body of a referral step on `item`.
pub fn referral_step_json(item: Uuid, step: &ReferralStep) -> (MessageKind, Value) {
    let mut m = Map::new();
    put(&mut m, "referral", item.to_string());
    let kind = match step {
        ReferralStep::Acknowledge => MessageKind::ReferralAcknowledge,
        ReferralStep::Assign { agency } => {
            put(&mut m, "agency", agency.as_str());
            MessageKind::ReferralAssign
        }
        ReferralStep::ReportOutcome(o) => {
            m.insert("outcome".into(), outcome_json(o));
            MessageKind::ReferralOutcome
        }
        ReferralStep::Withdraw { reason } => {
            m.insert("reason".into(), tagged_json(reason));
            MessageKind::ReferralWithdraw
        }
    };
    (kind, Value::Object(m))
}

/// Reads the body of a request step of message type `kind` (`request.answer`, …) and checks its
/// content; pointers are those of the body (`/answer/text`).
pub fn read_request_step(kind: MessageKind, v: &Value) -> Result<(Uuid, RequestStep), Invalid> {
    if !kind.is_request_step() {
        return Err(not_a("request-step"));
    }
    let mut e = Errors::new();
    let Some(mut o) = object(&mut e, "", v) else {
        return done(e, None);
    };
    let id = item_id(&mut o, &mut e, "request");
    let step = match kind {
        MessageKind::RequestAnswer => {
            let ptr = o.ptr("answer");
            let answer = match o.get("answer") {
                Some(x) => answer_at(&mut e, &ptr, x),
                None => {
                    e.push(ptr.as_str(), FieldErrorCode::Missing);
                    None
                }
            };
            answer
                .unwrap_or(Answer::NotFound { text: None })
                .check(&ptr)
                .map(RequestStep::Answer)
        }
        MessageKind::RequestWithdraw => {
            let reason = tagged(&mut o, &mut e, "reason", true).unwrap_or_else(tagged_stand_in);
            reason
                .check("/reason", MAX_REASON)
                .map(|reason| RequestStep::Withdraw { reason })
        }
        _ => Ok(RequestStep::Acknowledge),
    };
    o.finish(&mut e);
    merge(e, step.map(|s| (id, s)))
}

/// The message type and canonical body of a request step on `item`.
pub fn request_step_json(item: Uuid, step: &RequestStep) -> (MessageKind, Value) {
    let mut m = Map::new();
    put(&mut m, "request", item.to_string());
    let kind = match step {
        RequestStep::Acknowledge => MessageKind::RequestAcknowledge,
        RequestStep::Answer(a) => {
            m.insert("answer".into(), answer_json(a));
            MessageKind::RequestAnswer
        }
        RequestStep::Withdraw { reason } => {
            m.insert("reason".into(), tagged_json(reason));
            MessageKind::RequestWithdraw
        }
    };
    (kind, Value::Object(m))
}

// ---- API step bodies (the item id comes from the path) -----------------------------------------

/// An acknowledgement's API body: `{}`.
pub fn read_empty(v: &Value) -> Result<(), Invalid> {
    let mut e = Errors::new();
    let o = object(&mut e, "", v);
    let read = o.map(|o| o.finish(&mut e));
    done(e, read)
}

/// An assignment's API body, `{"agency": "…"}`: the agency, checked.
pub fn read_agency(v: &Value) -> Result<String, Invalid> {
    let mut e = Errors::new();
    let Some(mut o) = object(&mut e, "", v) else {
        return done(e, None);
    };
    let agency = owned(o.str(&mut e, "agency")).unwrap_or_default();
    o.finish(&mut e);
    merge(e, check_text("/agency", &agency, MAX_AGENCY))
}

/// An outcome's API body, the outcome itself (`{"kind":"acted","results":[…]}`), checked;
/// pointers are relative to it (`/results/0/value`).
pub fn read_outcome(v: &Value) -> Result<Outcome, Invalid> {
    let mut e = Errors::new();
    let outcome = outcome_at(&mut e, "", v);
    let Some(outcome) = outcome else {
        return done(e, None);
    };
    merge(e, outcome.check(""))
}

/// An answer's API body, the answer itself (`{"kind":"found","text":{…}}`), checked.
pub fn read_answer(v: &Value) -> Result<Answer, Invalid> {
    let mut e = Errors::new();
    let answer = answer_at(&mut e, "", v);
    let Some(answer) = answer else {
        return done(e, None);
    };
    merge(e, answer.check(""))
}

/// A withdrawal's API body, `{"reason": {"lang","text"}}`: the reason, checked.
pub fn read_reason(v: &Value) -> Result<TaggedText, Invalid> {
    let mut e = Errors::new();
    let Some(mut o) = object(&mut e, "", v) else {
        return done(e, None);
    };
    let reason = tagged(&mut o, &mut e, "reason", true).unwrap_or_else(tagged_stand_in);
    o.finish(&mut e);
    merge(e, reason.check("/reason", MAX_REASON))
}

// ---- writing ----------------------------------------------------------------------------------

fn put(m: &mut Map<String, Value>, key: &str, v: impl Into<Value>) {
    m.insert(key.to_owned(), v.into());
}

fn put_opt(m: &mut Map<String, Value>, key: &str, v: Option<&str>) {
    if let Some(v) = v {
        put(m, key, v);
    }
}

fn put_list(m: &mut Map<String, Value>, key: &str, v: &[String]) {
    if !v.is_empty() {
        put(m, key, v);
    }
}

/// A number in its one form: whole numbers (within the exactly representable range) as integers
/// so `120` is not written `120.0`, others as serde_json's shortest round-tripping decimal.
fn number(x: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if x.fract() == 0.0 && x.abs() < EXACT {
        Value::from(x as i64)
    } else {
        // Not finite: no JSON number; the domain refuses such values before they get here.
        Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

fn location_map(l: &Location) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(lat) = l.lat {
        m.insert("lat".into(), number(lat));
    }
    if let Some(lon) = l.lon {
        m.insert("lon".into(), number(lon));
    }
    put_opt(&mut m, "place", l.place.as_deref());
    m
}

fn location_json(l: &Location) -> Value {
    Value::Object(location_map(l))
}

/// The JSON of an entity: `{"type": …, …fields of that kind}`.
pub fn entity_json(entity: &Entity) -> Value {
    let mut m = match entity {
        Entity::Location(l) => location_map(l),
        _ => Map::new(),
    };
    put(&mut m, "type", entity.kind().as_str());
    match entity {
        Entity::Person(p) => {
            put(&mut m, "name", p.name.as_str());
            put_list(&mut m, "aliases", &p.aliases);
            if let Some(d) = p.birth_date {
                put(&mut m, "birth_date", d.to_string());
            }
            if let Some(n) = p.nationality {
                put(&mut m, "nationality", n.as_str());
            }
            if !p.identifiers.is_empty() {
                let ids = p
                    .identifiers
                    .iter()
                    .map(|i| {
                        let mut im = Map::new();
                        put(&mut im, "scheme", i.scheme.as_str());
                        put(&mut im, "value", i.value.as_str());
                        Value::Object(im)
                    })
                    .collect();
                m.insert("identifiers".into(), ids);
            }
        }
        Entity::Organization(o) => {
            put(&mut m, "name", o.name.as_str());
            put_list(&mut m, "aliases", &o.aliases);
        }
        Entity::Vehicle(v) => {
            put_opt(&mut m, "plate", v.plate.as_deref());
            put_opt(&mut m, "plate_region", v.plate_region.as_deref());
            put_opt(
                &mut m,
                "plate_country",
                v.plate_country.as_ref().map(|p| p.as_str()),
            );
            put_opt(&mut m, "make", v.make.as_deref());
            put_opt(&mut m, "model", v.model.as_deref());
            put_opt(&mut m, "colour", v.colour.as_deref());
        }
        Entity::Vessel(v) => {
            put_opt(&mut m, "name", v.name.as_deref());
            put_opt(&mut m, "flag", v.flag.as_ref().map(|p| p.as_str()));
            put_opt(&mut m, "imo", v.imo.as_deref());
            put_opt(&mut m, "mmsi", v.mmsi.as_deref());
            put_opt(&mut m, "description", v.description.as_deref());
        }
        Entity::Firearm(f) => {
            put_opt(&mut m, "make", f.make.as_deref());
            put_opt(&mut m, "model", f.model.as_deref());
            put_opt(&mut m, "calibre", f.calibre.as_deref());
            put_opt(&mut m, "serial", f.serial.as_deref());
        }
        Entity::Account(a) => {
            put(&mut m, "institution", a.institution.as_str());
            put(&mut m, "number", a.number.as_str());
            put_opt(&mut m, "holder", a.holder.as_deref());
        }
        Entity::Location(_) => {}
    }
    Value::Object(m)
}

fn handling_json(h: &Handling) -> Value {
    let mut m = Map::new();
    put(&mut m, "tlp", h.tlp.as_str());
    put(&mut m, "may_pass_on", h.may_pass_on);
    put(&mut m, "evidence_use", h.evidence_use);
    put(&mut m, "purpose", h.purpose.as_str());
    put(&mut m, "legal_basis", h.legal_basis.as_str());
    put(&mut m, "retention_days", h.retention_days);
    Value::Object(m)
}

fn tagged_json(t: &TaggedText) -> Value {
    let mut m = Map::new();
    put(&mut m, "lang", t.lang.tag());
    put(&mut m, "text", t.text.as_str());
    Value::Object(m)
}

/// The JSON of an outcome, as the `outcome` member of a `referral.outcome` body.
pub fn outcome_json(o: &Outcome) -> Value {
    let mut m = Map::new();
    put(&mut m, "kind", o.closure_kind().as_str());
    match o {
        Outcome::Acted { results } => {
            let rs = results
                .iter()
                .map(|r| {
                    let mut rm = Map::new();
                    put(&mut rm, "kind", r.kind.as_str());
                    rm.insert("value".into(), number(r.quantity.value));
                    put(&mut rm, "unit", r.quantity.unit.as_str());
                    put(&mut rm, "what", r.quantity.what.as_str());
                    Value::Object(rm)
                })
                .collect();
            m.insert("results".into(), rs);
        }
        Outcome::NoTrace => {}
        Outcome::Declined { reason } => {
            m.insert("reason".into(), tagged_json(reason));
        }
    }
    Value::Object(m)
}

/// The JSON of an answer, as the `answer` member of a `request.answer` body.
pub fn answer_json(a: &Answer) -> Value {
    let mut m = Map::new();
    put(&mut m, "kind", a.closure_kind().as_str());
    match a {
        Answer::Found { text, entities } => {
            m.insert("text".into(), tagged_json(text));
            m.insert(
                "entities".into(),
                entities.iter().map(entity_json).collect(),
            );
        }
        Answer::NotFound { text } => {
            if let Some(t) = text {
                m.insert("text".into(), tagged_json(t));
            }
        }
        Answer::Declined { reason } => {
            m.insert("reason".into(), tagged_json(reason));
        }
    }
    Value::Object(m)
}

// ---- body bytes -------------------------------------------------------------------------------

/// The exact bytes of a body: compact JSON with every object's members sorted by key, so the
/// same value always gives the same bytes. The sorting is done here rather than left to
/// serde_json's map type, because that type keeps insertion order as soon as any crate in the
/// build turns on serde_json's `preserve_order` feature (cedar-policy does).
pub fn to_body_bytes(v: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail: its keys are strings and its numbers finite.
    serde_json::to_vec(&Sorted(v)).unwrap_or_default()
}

/// Serialises a JSON value with object members in key order.
struct Sorted<'a>(&'a Value);

impl serde::Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                members.sort_by(|a, b| a.0.cmp(b.0));
                let mut m = serializer.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    m.serialize_entry(k, &Sorted(v))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&Sorted(v))?;
                }
                seq.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// The deepest nesting of arrays and objects a peer's body may have.
pub const MAX_DEPTH: usize = 32;

/// Why a peer's body was refused before it was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("the body is not JSON (line {line}, column {column})")]
    Syntax { line: usize, column: usize },
    /// Two members of one object have the same name: implementations differ on which one
    /// counts, so such a body has no single reading. (`Display` leaves the peer's text out.)
    #[error("an object has a member twice")]
    DuplicateKey { key: String },
    #[error("the body nests arrays and objects deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Parses a body from a peer strictly: UTF-8, one JSON value with nothing after it, no object
/// with a member twice, nesting at most [`MAX_DEPTH`].
pub fn parse_body(bytes: &[u8]) -> Result<Value, BodyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| BodyError::NotUtf8)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let mut refusal = None;
    let parsed = Strict {
        depth: 0,
        refusal: &mut refusal,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, refusal) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some(r)) => Err(r),
        (Err(e), None) => Err(BodyError::Syntax {
            line: e.line(),
            column: e.column(),
        }),
    }
}

/// Builds a `Value` like serde_json does, refusing duplicate members and deep nesting; the reason
/// is kept aside because serde's error type carries only text.
struct Strict<'r> {
    depth: usize,
    refusal: &'r mut Option<BodyError>,
}

impl Strict<'_> {
    fn refuse<E: de::Error>(self, r: BodyError) -> E {
        let msg = r.to_string();
        *self.refusal = Some(r);
        E::custom(msg)
    }

    fn nested(&mut self) -> Strict<'_> {
        Strict {
            depth: self.depth + 1,
            refusal: self.refusal,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(self.refuse(BodyError::TooDeep));
        }
        let mut out = vec![];
        while let Some(v) = seq.next_element_seed(self.nested())? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(self.refuse(BodyError::TooDeep));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let key = key.chars().take(64).collect();
                return Err(self.refuse(BodyError::DuplicateKey { key }));
            }
            let v = map.next_value_seed(self.nested())?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}
