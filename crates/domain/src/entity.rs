//! Entities: the structured records of who and what a referral or request is about — person,
//! organization, vehicle, vessel, firearm, account, location.
//!
//! Structured rather than free text so the receiving party can match them against its own
//! records (a serial number, a plate, an IMO number). An `Entity` value is plain data as it
//! arrives; [`Entity::check`] validates and normalises it, and drafts hold only checked entities.
//!
//! What each kind needs at the least, so that it identifies something:
//!
//! | kind | required |
//! | --- | --- |
//! | person, organization | a name |
//! | vehicle | a plate, or make and colour |
//! | vessel | a name, an IMO number, an MMSI or a description |
//! | firearm | a serial number, or make and model |
//! | account | institution and number |
//! | location | coordinates (latitude and longitude), or a place name, or both |
//!
//! When none of a kind's combinations is present the error is `incomplete`, at the entity itself.

use time::Date;

use crate::error::{Errors, FieldErrorCode, Invalid, check_text};
use crate::party::PartyCode;
use crate::token::tokens;

pub const MAX_NAME: usize = 200;
pub const MAX_ALIASES: usize = 20;
pub const MAX_IDENTIFIERS: usize = 20;
pub const MAX_SCHEME: usize = 50;
pub const MAX_IDENTIFIER: usize = 100;
pub const MAX_PLATE: usize = 16;
pub const MAX_REGION: usize = 100;
pub const MAX_MAKE: usize = 100;
pub const MAX_MODEL: usize = 100;
pub const MAX_COLOUR: usize = 50;
pub const MAX_CALIBRE: usize = 32;
pub const MAX_SERIAL: usize = 64;
pub const MAX_INSTITUTION: usize = 200;
pub const MAX_ACCOUNT_NUMBER: usize = 64;
pub const MAX_PLACE: usize = 300;
pub const MAX_ENTITY_DESCRIPTION: usize = 500;

tokens! {
    /// The kinds of entity, as named on the wire.
    pub enum EntityKind: "entity kind" {
        Person = "person",
        Organization = "organization",
        Vehicle = "vehicle",
        Vessel = "vessel",
        Firearm = "firearm",
        Account = "account",
        Location = "location",
    }
}

/// An identifier in a named scheme: a passport number, a CURP, a driving licence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identifier {
    /// What kind of identifier, in the sender's words (`passport MX`, `CURP`, `SSN`).
    pub scheme: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub aliases: Vec<String>,
    pub birth_date: Option<Date>,
    /// A country, by its ISO 3166-1 alpha-2 code (any country, not only a party).
    pub nationality: Option<PartyCode>,
    pub identifiers: Vec<Identifier>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Organization {
    pub name: String,
    pub aliases: Vec<String>,
}

/// A road vehicle: a plate, or make and colour (a "white pick-up, Ford") to look out for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vehicle {
    /// Letters, digits, spaces, hyphens and dots; kept in upper case.
    pub plate: Option<String>,
    /// The state or province that issued the plate (`TX`, `Sonora`).
    pub plate_region: Option<String>,
    pub plate_country: Option<PartyCode>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub colour: Option<String>,
}

/// A vessel. Small boats often have no name or number, so a description alone will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vessel {
    pub name: Option<String>,
    /// The flag state.
    pub flag: Option<PartyCode>,
    /// IMO ship identification number: seven digits, the last a check digit (an `IMO` prefix is
    /// accepted and dropped).
    pub imo: Option<String>,
    /// Maritime Mobile Service Identity: nine digits.
    pub mmsi: Option<String>,
    /// What it looks like (`white panga, two outboard engines`).
    pub description: Option<String>,
}

/// A firearm: a serial number (what a trace needs), or make and model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Firearm {
    pub make: Option<String>,
    pub model: Option<String>,
    pub calibre: Option<String>,
    pub serial: Option<String>,
}

/// A financial account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub institution: String,
    /// As the institution writes it (IBAN, CLABE, account and routing number).
    pub number: String,
    pub holder: Option<String>,
}

/// A place: coordinates (WGS 84 degrees), a place name, or both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// Latitude, −90 to 90. Given together with `lon` or not at all.
    pub lat: Option<f64>,
    /// Longitude, −180 to 180.
    pub lon: Option<f64>,
    pub place: Option<String>,
}

/// Someone or something a referral or request is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Entity {
    Person(Person),
    Organization(Organization),
    Vehicle(Vehicle),
    Vessel(Vessel),
    Firearm(Firearm),
    Account(Account),
    Location(Location),
}

/// Checks an optional text field: absent stays absent, present must be valid text.
fn opt_text(errors: &mut Errors, pointer: String, v: Option<String>, max: usize) -> Option<String> {
    v.and_then(|t| errors.take(check_text(&pointer, &t, max)))
}

/// Checks a list of names: at most `MAX_ALIASES`, each valid text.
fn names(errors: &mut Errors, pointer: &str, list: Vec<String>) -> Vec<String> {
    if list.len() > MAX_ALIASES {
        errors.push(pointer, FieldErrorCode::TooLong { max: MAX_ALIASES });
    }
    list.iter()
        .enumerate()
        .filter_map(|(i, a)| errors.take(check_text(&format!("{pointer}/{i}"), a, MAX_NAME)))
        .collect()
}

fn plate(pointer: &str, raw: &str) -> Result<String, Invalid> {
    let t = check_text(pointer, raw, MAX_PLATE)?;
    if t.chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '.'))
    {
        Ok(t.to_uppercase())
    } else {
        Err(Invalid::one(
            pointer,
            FieldErrorCode::InvalidFormat { expected: "plate" },
        ))
    }
}

/// An IMO number as its seven digits, if the check digit agrees: the first six digits weighted
/// 7, 6, 5, 4, 3, 2, summed, end in the seventh.
pub fn imo_number(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = match t.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("IMO") => t[3..].trim_start(),
        _ => t,
    };
    let d: Vec<u32> = t.chars().map(|c| c.to_digit(10)).collect::<Option<_>>()?;
    if d.len() != 7 || !t.is_ascii() {
        return None;
    }
    let sum: u32 = d[..6].iter().zip((2..=7).rev()).map(|(x, w)| x * w).sum();
    (sum % 10 == d[6]).then(|| t.to_owned())
}

fn nine_digits(raw: &str) -> Option<String> {
    let t = raw.trim();
    (t.len() == 9 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.to_owned())
}

impl Location {
    /// Validates the location at `pointer`: coordinates in range and paired, place valid text,
    /// and at least one of the two.
    pub fn check(self, pointer: &str) -> Result<Location, Invalid> {
        let mut errors = Errors::new();
        match (self.lat, self.lon) {
            (Some(_), None) => errors.push(format!("{pointer}/lon"), FieldErrorCode::Missing),
            (None, Some(_)) => errors.push(format!("{pointer}/lat"), FieldErrorCode::Missing),
            _ => {}
        }
        // NaN fails `contains`, so it is out of range too.
        if self.lat.is_some_and(|v| !(-90.0..=90.0).contains(&v)) {
            errors.push(format!("{pointer}/lat"), FieldErrorCode::OutOfRange);
        }
        if self.lon.is_some_and(|v| !(-180.0..=180.0).contains(&v)) {
            errors.push(format!("{pointer}/lon"), FieldErrorCode::OutOfRange);
        }
        let given = self.lat.is_some() || self.lon.is_some() || self.place.is_some();
        let place = opt_text(
            &mut errors,
            format!("{pointer}/place"),
            self.place,
            MAX_PLACE,
        );
        if !given {
            errors.push(pointer, FieldErrorCode::Incomplete);
        }
        errors.finish()?;
        Ok(Location {
            lat: self.lat,
            lon: self.lon,
            place,
        })
    }

    /// Latitude and longitude, when given.
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        self.lat.zip(self.lon)
    }
}

impl Entity {
    pub fn kind(&self) -> EntityKind {
        match self {
            Entity::Person(_) => EntityKind::Person,
            Entity::Organization(_) => EntityKind::Organization,
            Entity::Vehicle(_) => EntityKind::Vehicle,
            Entity::Vessel(_) => EntityKind::Vessel,
            Entity::Firearm(_) => EntityKind::Firearm,
            Entity::Account(_) => EntityKind::Account,
            Entity::Location(_) => EntityKind::Location,
        }
    }

    /// Validates and normalises the entity found at `pointer` (e.g. `/entities/2`), reporting
    /// every bad field below it (`/entities/2/serial`). See the module table for what each kind
    /// requires.
    pub fn check(self, pointer: &str) -> Result<Entity, Invalid> {
        let p = |f: &str| format!("{pointer}/{f}");
        let mut errors = Errors::new();
        let checked = match self {
            Entity::Person(v) => {
                let name = errors.take(check_text(&p("name"), &v.name, MAX_NAME));
                let aliases = names(&mut errors, &p("aliases"), v.aliases);
                if v.identifiers.len() > MAX_IDENTIFIERS {
                    errors.push(
                        p("identifiers"),
                        FieldErrorCode::TooLong {
                            max: MAX_IDENTIFIERS,
                        },
                    );
                }
                let identifiers = v
                    .identifiers
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, id)| {
                        let q = p(&format!("identifiers/{i}"));
                        let scheme =
                            errors.take(check_text(&format!("{q}/scheme"), &id.scheme, MAX_SCHEME));
                        let value = errors.take(check_text(
                            &format!("{q}/value"),
                            &id.value,
                            MAX_IDENTIFIER,
                        ));
                        Some(Identifier {
                            scheme: scheme?,
                            value: value?,
                        })
                    })
                    .collect();
                Entity::Person(Person {
                    name: name.unwrap_or_default(),
                    aliases,
                    birth_date: v.birth_date,
                    nationality: v.nationality,
                    identifiers,
                })
            }
            Entity::Organization(v) => {
                let name = errors.take(check_text(&p("name"), &v.name, MAX_NAME));
                let aliases = names(&mut errors, &p("aliases"), v.aliases);
                Entity::Organization(Organization {
                    name: name.unwrap_or_default(),
                    aliases,
                })
            }
            Entity::Vehicle(v) => {
                if v.plate.is_none() && (v.make.is_none() || v.colour.is_none()) {
                    errors.push(pointer, FieldErrorCode::Incomplete);
                }
                let plate = v.plate.and_then(|t| errors.take(plate(&p("plate"), &t)));
                Entity::Vehicle(Vehicle {
                    plate,
                    plate_region: opt_text(
                        &mut errors,
                        p("plate_region"),
                        v.plate_region,
                        MAX_REGION,
                    ),
                    plate_country: v.plate_country,
                    make: opt_text(&mut errors, p("make"), v.make, MAX_MAKE),
                    model: opt_text(&mut errors, p("model"), v.model, MAX_MODEL),
                    colour: opt_text(&mut errors, p("colour"), v.colour, MAX_COLOUR),
                })
            }
            Entity::Vessel(v) => {
                if v.name.is_none()
                    && v.imo.is_none()
                    && v.mmsi.is_none()
                    && v.description.is_none()
                {
                    errors.push(pointer, FieldErrorCode::Incomplete);
                }
                let imo = v.imo.and_then(|t| match imo_number(&t) {
                    Some(n) => Some(n),
                    None => {
                        errors.push(
                            p("imo"),
                            FieldErrorCode::InvalidFormat {
                                expected: "imo-number",
                            },
                        );
                        None
                    }
                });
                let mmsi = v.mmsi.and_then(|t| match nine_digits(&t) {
                    Some(n) => Some(n),
                    None => {
                        errors.push(
                            p("mmsi"),
                            FieldErrorCode::InvalidFormat { expected: "mmsi" },
                        );
                        None
                    }
                });
                Entity::Vessel(Vessel {
                    name: opt_text(&mut errors, p("name"), v.name, MAX_NAME),
                    flag: v.flag,
                    imo,
                    mmsi,
                    description: opt_text(
                        &mut errors,
                        p("description"),
                        v.description,
                        MAX_ENTITY_DESCRIPTION,
                    ),
                })
            }
            Entity::Firearm(v) => {
                if v.serial.is_none() && (v.make.is_none() || v.model.is_none()) {
                    errors.push(pointer, FieldErrorCode::Incomplete);
                }
                Entity::Firearm(Firearm {
                    make: opt_text(&mut errors, p("make"), v.make, MAX_MAKE),
                    model: opt_text(&mut errors, p("model"), v.model, MAX_MODEL),
                    calibre: opt_text(&mut errors, p("calibre"), v.calibre, MAX_CALIBRE),
                    serial: opt_text(&mut errors, p("serial"), v.serial, MAX_SERIAL),
                })
            }
            Entity::Account(v) => {
                let institution = errors.take(check_text(
                    &p("institution"),
                    &v.institution,
                    MAX_INSTITUTION,
                ));
                let number = errors.take(check_text(&p("number"), &v.number, MAX_ACCOUNT_NUMBER));
                Entity::Account(Account {
                    institution: institution.unwrap_or_default(),
                    number: number.unwrap_or_default(),
                    holder: opt_text(&mut errors, p("holder"), v.holder, MAX_NAME),
                })
            }
            Entity::Location(v) => return v.check(pointer).map(Entity::Location),
        };
        errors.finish()?;
        Ok(checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn errs(r: Result<Entity, Invalid>) -> Vec<(String, &'static str)> {
        match r {
            Ok(_) => vec![],
            Err(e) => {
                e.0.into_iter()
                    .map(|f| (f.pointer, f.code.code()))
                    .collect()
            }
        }
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn imo_numbers_need_their_check_digit() {
        assert_eq!(imo_number("9074729").as_deref(), Some("9074729"));
        assert_eq!(imo_number("1234567").as_deref(), Some("1234567"));
        assert_eq!(imo_number(" IMO 9074729").as_deref(), Some("9074729"));
        assert_eq!(imo_number("imo9074729").as_deref(), Some("9074729"));
        for bad in [
            "9074728",
            "907472",
            "90747290",
            "IMO",
            "",
            "９074729",
            "90a4729",
        ] {
            assert_eq!(imo_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_firearm_needs_a_serial_or_make_and_model() {
        let f = |make: Option<String>, model: Option<String>, serial: Option<String>| {
            errs(
                Entity::Firearm(Firearm {
                    make,
                    model,
                    calibre: None,
                    serial,
                })
                .check("/entities/2"),
            )
        };
        assert!(f(None, None, s("AB12345")).is_empty());
        assert!(f(s("Colt"), s("M4"), None).is_empty());
        assert_eq!(
            f(s("Colt"), None, None),
            [("/entities/2".into(), "incomplete")]
        );
        assert_eq!(
            f(None, None, s(" ")),
            [("/entities/2/serial".into(), "empty")]
        );
    }

    #[test]
    fn a_vehicle_needs_a_plate_or_make_and_colour() {
        let ok = Entity::Vehicle(Vehicle {
            plate: s(" abc-123-x "),
            ..Vehicle::default()
        })
        .check("/e")
        .unwrap();
        assert_eq!(
            ok,
            Entity::Vehicle(Vehicle {
                plate: s("ABC-123-X"),
                ..Vehicle::default()
            })
        );
        let v = Vehicle {
            make: s("Ford"),
            colour: s("white"),
            ..Vehicle::default()
        };
        assert!(Entity::Vehicle(v).check("/e").is_ok());
        let v = Vehicle {
            make: s("Ford"),
            ..Vehicle::default()
        };
        assert_eq!(
            errs(Entity::Vehicle(v).check("/e")),
            [("/e".into(), "incomplete")]
        );
        let v = Vehicle {
            plate: s("AB/12"),
            ..Vehicle::default()
        };
        assert_eq!(
            errs(Entity::Vehicle(v).check("/e")),
            [("/e/plate".into(), "invalid-format")]
        );
    }

    #[test]
    fn vessels_accounts_and_people_report_every_field() {
        let v = Vessel {
            imo: s("1234568"),
            mmsi: s("12345"),
            ..Vessel::default()
        };
        assert_eq!(
            errs(Entity::Vessel(v).check("/e")),
            [
                ("/e/imo".into(), "invalid-format"),
                ("/e/mmsi".into(), "invalid-format")
            ]
        );
        assert_eq!(
            errs(Entity::Vessel(Vessel::default()).check("/e")),
            [("/e".into(), "incomplete")]
        );
        let a = Account {
            institution: "Banco X".into(),
            number: "".into(),
            holder: s("\0"),
        };
        assert_eq!(
            errs(Entity::Account(a).check("/e")),
            [
                ("/e/number".into(), "empty"),
                ("/e/holder".into(), "invalid-format")
            ]
        );
        let p = Person {
            name: "Juan Pérez (fictional)".into(),
            aliases: vec!["El Ficticio".into(), "".into()],
            identifiers: vec![Identifier {
                scheme: "CURP".into(),
                value: " ".into(),
            }],
            ..Person::default()
        };
        assert_eq!(
            errs(Entity::Person(p).check("/e")),
            [
                ("/e/aliases/1".into(), "empty"),
                ("/e/identifiers/0/value".into(), "empty")
            ]
        );
        let o = Organization {
            name: "".into(),
            aliases: vec!["x".into(); MAX_ALIASES + 1],
        };
        assert_eq!(
            errs(Entity::Organization(o).check("/e")),
            [
                ("/e/name".into(), "empty"),
                ("/e/aliases".into(), "too-long")
            ]
        );
    }

    #[test]
    fn a_location_needs_paired_coordinates_or_a_place() {
        let l = |lat, lon, place: Option<String>| {
            errs(Entity::Location(Location { lat, lon, place }).check("/l"))
        };
        assert!(l(Some(31.7), Some(-106.4), None).is_empty());
        assert!(l(None, None, s("Ciudad Juárez")).is_empty());
        assert!(l(Some(90.0), Some(-180.0), None).is_empty());
        assert_eq!(l(None, None, None), [("/l".into(), "incomplete")]);
        assert_eq!(l(Some(31.7), None, None), [("/l/lon".into(), "missing")]);
        assert_eq!(
            l(Some(f64::NAN), Some(181.0), None),
            [
                ("/l/lat".into(), "out-of-range"),
                ("/l/lon".into(), "out-of-range")
            ]
        );
    }

    proptest! {
        /// Checking is idempotent: a checked entity checks to itself.
        #[test]
        fn checking_twice_changes_nothing(
            serial in proptest::option::of("[ -~]{0,8}"),
            make in proptest::option::of("[a-zA-Z ]{0,6}"),
            plate in proptest::option::of("[a-z0-9 ./-]{0,8}"),
            colour in proptest::option::of("[a-z]{0,5}"),
        ) {
            for e in [
                Entity::Firearm(Firearm { make: make.clone(), model: make.clone(), calibre: None, serial: serial.clone() }),
                Entity::Vehicle(Vehicle { plate: plate.clone(), make: make.clone(), colour: colour.clone(), ..Vehicle::default() }),
            ] {
                if let Ok(once) = e.check("/e") {
                    prop_assert_eq!(once.clone().check("/e"), Ok(once));
                }
            }
        }
    }
}
