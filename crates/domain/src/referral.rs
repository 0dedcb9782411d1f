//! Referrals: what a liaison officer sends a peer so that it can act within its own territory —
//! what is happening (kind, summary, details), how urgent it is, when action is possible, where,
//! who and what is involved, how far it can be trusted (evaluation) and on what conditions it is
//! shared (handling).
//!
//! This module owns the referral's vocabulary and its checked body, [`ReferralDraft`]; the
//! steps that follow it (acknowledge, assign, outcome) are in `referral_state`.

use time::OffsetDateTime;

use crate::entity::{Entity, Location};
use crate::error::{Errors, FieldErrorCode, Invalid, check_text};
use crate::evaluation::Evaluation;
use crate::handling::Handling;
use crate::lang::Lang;
use crate::token::tokens;

pub const MAX_SUMMARY: usize = 300;
pub const MAX_DETAILS: usize = 10_000;
pub const MAX_WINDOW_NOTE: usize = 200;
pub const MAX_LOCATIONS: usize = 50;
pub const MAX_ENTITIES: usize = 100;

tokens! {
    /// What a referral is about.
    pub enum ReferralKind: "referral kind" {
        ArmsTrafficking = "arms-trafficking",
        DrugShipment = "drug-shipment",
        HumanSmuggling = "human-smuggling",
        ClandestineTunnel = "clandestine-tunnel",
        FuelTheft = "fuel-theft",
        IllicitFinancialFlow = "illicit-financial-flow",
        WantedPersonLocated = "wanted-person-located",
        Other = "other",
    }
}

tokens! {
    /// How fast the recipient is asked to respond, most urgent first. Each urgency has a time to
    /// acknowledge and a time to act (see `clocks`).
    pub enum Urgency: "urgency" {
        /// Action possible only within hours: a crossing is imminent.
        Flash = "flash",
        /// Action needed within the day.
        Immediate = "immediate",
        /// Action needed within days.
        Priority = "priority",
        /// No deadline beyond ordinary handling.
        Routine = "routine",
    }
}

/// When action is possible ("crossing expected within 6 hours"): from `opens` until `closes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionWindow {
    pub opens: OffsetDateTime,
    pub closes: OffsetDateTime,
    pub note: Option<String>,
}

impl ActionWindow {
    /// Validates the window at `pointer`: it closes strictly after it opens. A window already
    /// past is not refused here — the domain reads no clock; the caller may compare with `now`.
    pub fn check(self, pointer: &str) -> Result<ActionWindow, Invalid> {
        let mut errors = Errors::new();
        if self.closes <= self.opens {
            errors.push(
                format!("{pointer}/closes"),
                FieldErrorCode::EndNotAfterStart,
            );
        }
        let note = self
            .note
            .and_then(|n| errors.take(check_text(&format!("{pointer}/note"), &n, MAX_WINDOW_NOTE)));
        errors.finish()?;
        Ok(ActionWindow { note, ..self })
    }
}

/// A referral as composed, before checking. [`ReferralDraft::new`] checks it whole.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralInput {
    pub kind: ReferralKind,
    pub urgency: Urgency,
    /// The language `summary` and `details` are written in.
    pub lang: Lang,
    pub summary: String,
    pub details: Option<String>,
    pub window: Option<ActionWindow>,
    pub locations: Vec<Location>,
    pub entities: Vec<Entity>,
    pub evaluation: Evaluation,
    pub handling: Handling,
}

/// A checked referral body. Only [`ReferralDraft::new`] makes one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReferralDraft {
    pub kind: ReferralKind,
    pub urgency: Urgency,
    pub lang: Lang,
    /// At most 300 characters: what a liaison officer reads in the inbox.
    pub summary: String,
    /// At most 10,000 characters.
    pub details: Option<String>,
    pub window: Option<ActionWindow>,
    pub locations: Vec<Location>,
    pub entities: Vec<Entity>,
    pub evaluation: Evaluation,
    pub handling: Handling,
}

/// Checks each item of a list at `{pointer}/{i}`, and the list's length.
pub(crate) fn check_list<T>(
    errors: &mut Errors,
    pointer: &str,
    items: Vec<T>,
    max: usize,
    check: impl Fn(T, &str) -> Result<T, Invalid>,
) -> Vec<T> {
    if items.len() > max {
        errors.push(pointer, FieldErrorCode::TooLong { max });
    }
    items
        .into_iter()
        .enumerate()
        .filter_map(|(i, x)| errors.take(check(x, &format!("{pointer}/{i}"))))
        .collect()
}

impl ReferralDraft {
    /// Checks every field and reports every error with its JSON pointer: `/summary`,
    /// `/details`, `/window/closes`, `/locations/0/lat`, `/entities/2/serial`,
    /// `/handling/legal_basis`, …
    pub fn new(input: ReferralInput) -> Result<ReferralDraft, Invalid> {
        let mut errors = Errors::new();
        let summary = errors.take(check_text("/summary", &input.summary, MAX_SUMMARY));
        let details = input
            .details
            .and_then(|d| errors.take(check_text("/details", &d, MAX_DETAILS)));
        let window = input.window.and_then(|w| errors.take(w.check("/window")));
        let locations = check_list(
            &mut errors,
            "/locations",
            input.locations,
            MAX_LOCATIONS,
            Location::check,
        );
        let entities = check_list(
            &mut errors,
            "/entities",
            input.entities,
            MAX_ENTITIES,
            Entity::check,
        );
        let handling = errors.take(input.handling.check("/handling"));
        errors.finish()?;
        match (summary, handling) {
            (Some(summary), Some(handling)) => Ok(ReferralDraft {
                kind: input.kind,
                urgency: input.urgency,
                lang: input.lang,
                summary,
                details,
                window,
                locations,
                entities,
                evaluation: input.evaluation,
                handling,
            }),
            // Unreachable: a missing value recorded an error above.
            _ => Err(Invalid::one("/", FieldErrorCode::Missing)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::entity::{Firearm, Person, Vehicle};
    use crate::evaluation::{InfoCredibility, SourceReliability};
    use crate::handling::tests::handling;
    use proptest::prelude::*;
    use time::macros::datetime;

    pub(crate) fn input() -> ReferralInput {
        ReferralInput {
            kind: ReferralKind::ArmsTrafficking,
            urgency: Urgency::Flash,
            lang: Lang::En,
            summary: "Pick-up with rifles heading for the Santa Teresa crossing".into(),
            details: Some("Fictional demo data.".into()),
            window: Some(ActionWindow {
                opens: datetime!(2025-09-03 12:00 UTC),
                closes: datetime!(2025-09-03 18:00 UTC),
                note: Some("crossing expected within 6 hours".into()),
            }),
            locations: vec![Location {
                lat: Some(31.78),
                lon: Some(-106.68),
                place: Some("Santa Teresa".into()),
            }],
            entities: vec![
                Entity::Vehicle(Vehicle {
                    plate: Some("ABC1234".into()),
                    ..Vehicle::default()
                }),
                Entity::Firearm(Firearm {
                    serial: Some("FX-0001".into()),
                    ..Firearm::default()
                }),
            ],
            evaluation: Evaluation {
                reliability: SourceReliability::B,
                credibility: InfoCredibility::KnownToSource,
            },
            handling: handling(),
        }
    }

    fn pointers(r: Result<ReferralDraft, Invalid>) -> Vec<(String, &'static str)> {
        match r {
            Ok(_) => vec![],
            Err(e) => {
                e.0.into_iter()
                    .map(|f| (f.pointer, f.code.code()))
                    .collect()
            }
        }
    }

    #[test]
    fn tokens_round_trip() {
        for k in ReferralKind::ALL {
            assert_eq!(k.as_str().parse::<ReferralKind>(), Ok(*k));
        }
        for u in Urgency::ALL {
            assert_eq!(u.as_str().parse::<Urgency>(), Ok(*u));
        }
        assert_eq!(
            ReferralKind::IllicitFinancialFlow.as_str(),
            "illicit-financial-flow"
        );
        assert!("urgent".parse::<Urgency>().is_err());
        assert!(Urgency::Flash < Urgency::Routine);
    }

    #[test]
    fn a_good_referral_is_accepted_and_trimmed() {
        let d = ReferralDraft::new(ReferralInput {
            summary: "  padded  ".into(),
            ..input()
        })
        .unwrap();
        assert_eq!(d.summary, "padded");
        assert_eq!(d.handling.purpose, "Interdiction of an arms shipment");
    }

    #[test]
    fn every_error_in_every_part_is_reported_at_once() {
        let mut i = input();
        i.summary = "x".repeat(MAX_SUMMARY + 1);
        i.details = Some("bad\u{0}".into());
        if let Some(w) = i.window.as_mut() {
            w.closes = w.opens;
        }
        i.locations.push(Location::default());
        i.entities.push(Entity::Person(Person::default()));
        i.entities.push(Entity::Firearm(Firearm {
            make: Some("Colt".into()),
            serial: Some(" ".into()),
            ..Firearm::default()
        }));
        i.handling.legal_basis = String::new();
        assert_eq!(
            pointers(ReferralDraft::new(i)),
            [
                ("/summary".into(), "too-long"),
                ("/details".into(), "invalid-format"),
                ("/window/closes".into(), "end-not-after-start"),
                ("/locations/1".into(), "incomplete"),
                ("/entities/2/name".into(), "empty"),
                ("/entities/3/serial".into(), "empty"),
                ("/handling/legal_basis".into(), "empty"),
            ]
        );
    }

    #[test]
    fn lists_are_bounded() {
        let mut i = input();
        i.locations = vec![i.locations[0].clone(); MAX_LOCATIONS + 1];
        i.entities = vec![i.entities[0].clone(); MAX_ENTITIES + 1];
        assert_eq!(
            pointers(ReferralDraft::new(i)),
            [
                ("/locations".into(), "too-long"),
                ("/entities".into(), "too-long")
            ]
        );
    }

    proptest! {
        /// Exactly the incomplete entities are reported, each at its own index.
        #[test]
        fn each_bad_entity_is_named_by_its_index(bad in proptest::collection::vec(any::<bool>(), 0..12)) {
            let mut i = input();
            i.entities = bad
                .iter()
                .map(|&b| Entity::Firearm(Firearm {
                    make: Some("Colt".into()),
                    model: (!b).then(|| "M4".to_owned()),
                    ..Firearm::default()
                }))
                .collect();
            let want: Vec<(String, &'static str)> = bad
                .iter()
                .enumerate()
                .filter(|(_, b)| **b)
                .map(|(n, _)| (format!("/entities/{n}"), "incomplete"))
                .collect();
            prop_assert_eq!(pointers(ReferralDraft::new(i)), want);
        }
    }
}
