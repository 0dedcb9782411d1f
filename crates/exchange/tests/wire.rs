//! The JSON forms of exchanged items: canonical bodies round-trip, every bad field is named by
//! its pointer in one round, steps round-trip, and the strict body parser refuses what two
//! implementations could read differently. Readers never panic on any input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use puente_domain::{
    ActedResult, Answer, Invalid, Lang, Outcome, Output, ReferralStep, RequestStep, ResultKind,
    TaggedText,
};
use puente_exchange::wire::{
    self, BodyError, MessageKind, parse_body, read_referral, read_request, referral_json,
    request_json, to_body_bytes,
};
use serde_json::{Value, json};
use uuid::Uuid;

fn canonical_referral() -> Value {
    json!({
        "kind": "arms-trafficking",
        "urgency": "flash",
        "lang": "en",
        "summary": "Pick-up with rifles heading for the Santa Teresa crossing",
        "details": "Fictional demo data.",
        "window": {
            "opens": "2025-09-03T12:00:00.000000Z",
            "closes": "2025-09-03T18:00:00.250000Z",
            "note": "crossing expected within 6 hours"
        },
        "locations": [
            {"lat": 31.78, "lon": -106.68, "place": "Santa Teresa"},
            {"place": "Ciudad Juárez"},
            {"lat": 0, "lon": 100}
        ],
        "entities": [
            {"type": "person", "name": "Juan Pérez (fictional)", "aliases": ["El Ficticio"],
             "birth_date": "1980-02-29", "nationality": "MX",
             "identifiers": [{"scheme": "CURP", "value": "XXXX800229HDFRRN09"}]},
            {"type": "organization", "name": "Cártel Ficticio", "aliases": ["CF"]},
            {"type": "vehicle", "plate": "ABC-123-X", "plate_region": "Chihuahua",
             "plate_country": "MX", "make": "Ford", "model": "F-150", "colour": "white"},
            {"type": "vessel", "name": "La Ficticia", "flag": "PA", "imo": "9074729",
             "mmsi": "123456789", "description": "white panga"},
            {"type": "firearm", "make": "Colt", "model": "M4", "calibre": "5.56", "serial": "FX-0001"},
            {"type": "account", "institution": "Banco Ficticio", "number": "012345678901234567",
             "holder": "Juan Pérez (fictional)"},
            {"type": "location", "lat": 31.7, "lon": -106.4, "place": "warehouse"}
        ],
        "evaluation": {"reliability": "B", "credibility": "2"},
        "handling": {"tlp": "amber", "may_pass_on": false, "evidence_use": true,
                     "purpose": "Interdiction of an arms shipment",
                     "legal_basis": "Bilateral agreement, art. 4", "retention_days": 365}
    })
}

fn canonical_request() -> Value {
    json!({
        "kind": "firearm-trace",
        "urgency": "priority",
        "lang": "es",
        "question": "¿Origen de esta arma asegurada en Sonora?",
        "subject": {"type": "firearm", "serial": "FX-0001"},
        "handling": {"tlp": "red", "may_pass_on": false, "evidence_use": false,
                     "purpose": "Trace", "legal_basis": "Art. 4", "retention_days": 30}
    })
}

fn errors(r: Result<impl std::fmt::Debug, Invalid>) -> Vec<(String, &'static str)> {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(Invalid(es)) => es.into_iter().map(|f| (f.pointer, f.code.code())).collect(),
    }
}

fn p(s: &str, c: &'static str) -> (String, &'static str) {
    (s.to_owned(), c)
}

fn said(t: &str) -> TaggedText {
    TaggedText {
        lang: Lang::Es,
        text: t.into(),
    }
}

#[test]
fn a_full_referral_round_trips_with_every_entity_kind() {
    let v = canonical_referral();
    let d = read_referral(&v).unwrap();
    assert_eq!(d.entities.len(), 7);
    assert_eq!(referral_json(&d), v);
    assert_eq!(read_referral(&referral_json(&d)).unwrap(), d);
    // Through the exact bytes, as a peer receives it.
    let bytes = to_body_bytes(&referral_json(&d));
    assert_eq!(read_referral(&parse_body(&bytes).unwrap()).unwrap(), d);
    // A friendlier input (offsets, padding, lower-case plate, IMO prefix, 120.0) reads to the
    // same canonical form as far as the domain normalises it.
    let mut loose = v.clone();
    loose["window"]["opens"] = json!("2025-09-03T06:00:00-06:00");
    loose["summary"] = json!("  Pick-up with rifles heading for the Santa Teresa crossing ");
    loose["entities"][2]["plate"] = json!(" abc-123-x");
    loose["entities"][3]["imo"] = json!("IMO 9074729");
    loose["locations"][2]["lat"] = json!(0.0);
    assert_eq!(referral_json(&read_referral(&loose).unwrap()), v);
}

#[test]
fn a_request_round_trips() {
    let v = canonical_request();
    let d = read_request(&v).unwrap();
    assert_eq!(request_json(&d), v);
    assert_eq!(read_request(&request_json(&d)).unwrap(), d);
}

#[test]
fn every_bad_field_is_named_at_its_pointer_in_one_round() {
    let mut v = canonical_referral();
    let o = v.as_object_mut().unwrap();
    o.insert("extra".into(), json!(1));
    o.insert("kind".into(), json!("smuggling"));
    o.insert("urgency".into(), json!(5));
    o.remove("summary");
    v["window"]["closes"] = json!("tomorrow");
    v["locations"][0]["lat"] = json!("31.78");
    v["entities"][1] = json!({"type": "gang", "name": "x"});
    v["entities"][4] = json!({"type": "firearm", "calibre": "9mm"});
    v["entities"][5]["holder"] = json!(" ");
    v["entities"][6]["colour"] = json!("red");
    v["evaluation"]["credibility"] = json!(2);
    v["handling"]["tlp"] = json!("red");
    v["handling"]["may_pass_on"] = json!(true);
    v["handling"]["retention_days"] = json!(0);
    assert_eq!(
        errors(read_referral(&v)),
        [
            p("/kind", "invalid-format"),
            p("/urgency", "wrong-type"),
            p("/summary", "missing"),
            p("/window/closes", "invalid-format"),
            p("/locations/0/lat", "wrong-type"),
            p("/entities/1/type", "invalid-format"),
            p("/entities/6/colour", "unknown-field"),
            p("/evaluation/credibility", "wrong-type"),
            p("/extra", "unknown-field"),
            // The domain's checks, in the same round, without echoes of the above.
            p("/entities/4", "incomplete"),
            p("/entities/5/holder", "empty"),
            p("/handling/retention_days", "out-of-range"),
            p("/handling/may_pass_on", "contradictory"),
        ]
    );
    assert_eq!(errors(read_referral(&json!([]))), [p("/", "wrong-type")]);
    assert_eq!(
        errors(read_request(
            &json!({"kind": "firearm-trace", "urgency": "routine", "lang": "fr",
            "question": " ", "subject": {"type": "person", "name": "Ana"},
            "handling": canonical_request()["handling"]})
        )),
        [
            p("/lang", "unknown-language"),
            p("/question", "empty"),
            p("/subject", "wrong-type"),
        ]
    );
}

#[test]
fn steps_round_trip_with_their_message_types() {
    let id = Uuid::now_v7();
    let referral_steps = [
        (ReferralStep::Acknowledge, MessageKind::ReferralAcknowledge),
        (
            ReferralStep::Assign {
                agency: "SEMAR".into(),
            },
            MessageKind::ReferralAssign,
        ),
        (
            ReferralStep::ReportOutcome(Outcome::Acted {
                results: vec![ActedResult {
                    kind: ResultKind::Seizure,
                    quantity: Output {
                        value: 120.0,
                        unit: "kg".into(),
                        what: "fentanyl".into(),
                    },
                }],
            }),
            MessageKind::ReferralOutcome,
        ),
        (
            ReferralStep::ReportOutcome(Outcome::NoTrace),
            MessageKind::ReferralOutcome,
        ),
        (
            ReferralStep::ReportOutcome(Outcome::Declined {
                reason: said("Fuera de jurisdicción"),
            }),
            MessageKind::ReferralOutcome,
        ),
        (
            ReferralStep::Withdraw {
                reason: said("Información errónea"),
            },
            MessageKind::ReferralWithdraw,
        ),
    ];
    for (step, kind) in referral_steps {
        let (k, body) = wire::referral_step_json(id, &step);
        assert_eq!(k, kind);
        let bytes = to_body_bytes(&body);
        let back = wire::read_referral_step(k, &parse_body(&bytes).unwrap()).unwrap();
        assert_eq!(back, (id, step));
        assert!(wire::read_request_step(k, &body).is_err());
    }
    let (_, body) = wire::referral_step_json(id, &referral_steps_outcome());
    assert_eq!(
        body,
        json!({"referral": id.to_string(), "outcome": {"kind": "acted", "results":
            [{"kind": "seizure", "value": 120, "unit": "kg", "what": "fentanyl"}]}})
    );
    let request_steps = [
        (RequestStep::Acknowledge, MessageKind::RequestAcknowledge),
        (
            RequestStep::Answer(Answer::Found {
                text: said("Primera venta en Tucson"),
                entities: vec![puente_domain::Entity::Organization(
                    puente_domain::Organization {
                        name: "Armería Ficticia".into(),
                        aliases: vec![],
                    },
                )],
            }),
            MessageKind::RequestAnswer,
        ),
        (
            RequestStep::Answer(Answer::NotFound { text: None }),
            MessageKind::RequestAnswer,
        ),
        (
            RequestStep::Answer(Answer::NotFound {
                text: Some(said("Sin registro")),
            }),
            MessageKind::RequestAnswer,
        ),
        (
            RequestStep::Answer(Answer::Declined {
                reason: said("No procede"),
            }),
            MessageKind::RequestAnswer,
        ),
        (
            RequestStep::Withdraw {
                reason: said("Ya no se necesita"),
            },
            MessageKind::RequestWithdraw,
        ),
    ];
    for (step, kind) in request_steps {
        let (k, body) = wire::request_step_json(id, &step);
        assert_eq!(k, kind);
        assert_eq!(wire::read_request_step(k, &body).unwrap(), (id, step));
        assert!(wire::read_referral_step(k, &body).is_err());
    }
}

fn referral_steps_outcome() -> ReferralStep {
    ReferralStep::ReportOutcome(Outcome::Acted {
        results: vec![ActedResult {
            kind: ResultKind::Seizure,
            quantity: Output {
                value: 120.0,
                unit: "kg".into(),
                what: "fentanyl".into(),
            },
        }],
    })
}

#[test]
fn step_bodies_report_every_bad_field() {
    let id = Uuid::now_v7().to_string();
    assert_eq!(
        errors(wire::read_referral_step(
            MessageKind::ReferralOutcome,
            &json!({"referral": "nope", "outcome": {"kind": "acted", "results": [
                {"kind": "seizure", "value": -1, "unit": "kg", "what": "x"},
                {"kind": "theft", "value": 1, "unit": " ", "what": "x"}]}, "x": 1})
        )),
        [
            p("/referral", "invalid-format"),
            p("/outcome/results/1/kind", "invalid-format"),
            p("/x", "unknown-field"),
            p("/outcome/results/0/value", "out-of-range"),
            p("/outcome/results/1/unit", "empty"),
        ]
    );
    assert_eq!(
        errors(wire::read_referral_step(
            MessageKind::ReferralAssign,
            &json!({"referral": id})
        )),
        [p("/agency", "missing")]
    );
    assert_eq!(
        errors(wire::read_request_step(
            MessageKind::RequestAnswer,
            &json!({"request": id, "answer": {"kind": "maybe"}})
        )),
        [p("/answer/kind", "invalid-format")]
    );
    // The API forms, without the item id, point inside the body the API received.
    assert_eq!(
        errors(wire::read_outcome(&json!({"kind": "acted", "results": []}))),
        [p("/results", "empty")]
    );
    assert_eq!(
        wire::read_outcome(&json!({"kind": "no-trace"})),
        Ok(Outcome::NoTrace)
    );
    assert_eq!(
        errors(wire::read_answer(
            &json!({"kind": "found", "text": {"lang": "en", "text": ""},
            "entities": [{"type": "vehicle", "make": "Ford"}]})
        )),
        [p("/text", "empty"), p("/entities/0", "incomplete")]
    );
    assert_eq!(
        errors(wire::read_reason(
            &json!({"reason": {"lang": "de", "text": "x"}})
        )),
        [p("/reason/lang", "unknown-language")]
    );
    assert_eq!(
        wire::read_reason(&json!({"reason": {"lang": "es", "text": " sí "}})),
        Ok(said("sí"))
    );
    assert_eq!(
        wire::read_agency(&json!({"agency": " FGR "})),
        Ok("FGR".to_owned())
    );
    assert_eq!(wire::read_empty(&json!({})), Ok(()));
    assert_eq!(
        errors(wire::read_empty(&json!({"a": 1}))),
        [p("/a", "unknown-field")]
    );
}

#[test]
fn message_types_parse_and_an_unknown_one_is_refused() {
    for k in MessageKind::ALL {
        assert_eq!(MessageKind::parse(k.as_str()), Ok(*k));
    }
    assert_eq!(MessageKind::ALL.len(), 10);
    for bad in [
        "referral.escalate",
        "Referral",
        "",
        "receipt ",
        "request.assign",
    ] {
        let e = MessageKind::parse(bad).unwrap_err();
        assert_eq!(e.what, "message type");
    }
    let body = json!({"referral": Uuid::nil().to_string()});
    for k in [
        MessageKind::Referral,
        MessageKind::Receipt,
        MessageKind::Request,
    ] {
        assert!(wire::read_referral_step(k, &body).is_err());
        assert!(wire::read_request_step(k, &body).is_err());
    }
}

#[test]
fn bodies_with_duplicate_keys_bad_bytes_or_deep_nesting_are_refused() {
    let dup = |b: &[u8]| matches!(parse_body(b), Err(BodyError::DuplicateKey { .. }));
    assert!(dup(br#"{"a":1,"a":2}"#));
    assert!(dup(br#"{"a":1,"b":[{"c":1,"c":1}]}"#));
    assert!(dup(br#"{"a":1,"\u0061":2}"#));
    assert!(parse_body(br#"{"a":1,"A":2}"#).is_ok());
    assert_eq!(parse_body(b"{\"a\":\"\xff\"}"), Err(BodyError::NotUtf8));
    assert!(matches!(
        parse_body(b"{} {}"),
        Err(BodyError::Syntax { .. })
    ));
    assert!(matches!(parse_body(b""), Err(BodyError::Syntax { .. })));
    assert_eq!(
        parse_body(b" {\"a\":[1,2.5,null,true]}\n"),
        Ok(json!({"a":[1,2.5,null,true]}))
    );
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(parse_body(nested(32).as_bytes()).is_ok());
    assert_eq!(parse_body(nested(33).as_bytes()), Err(BodyError::TooDeep));
    assert_eq!(parse_body(nested(5000).as_bytes()), Err(BodyError::TooDeep));
    let objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    assert!(parse_body(objects(32).as_bytes()).is_ok());
    assert_eq!(parse_body(objects(33).as_bytes()), Err(BodyError::TooDeep));
}

/// Body bytes must not depend on the order members were inserted in, whether or not some crate
/// in the build turns on serde_json's `preserve_order` (cedar-policy does, in the workspace).
#[test]
fn body_bytes_are_compact_and_sorted_by_key() {
    let v = json!({"b": 1, "a": {"d": [true, null], "c": "é"}});
    assert_eq!(
        to_body_bytes(&v),
        r#"{"a":{"c":"é","d":[true,null]},"b":1}"#.as_bytes()
    );
    let d = read_referral(&canonical_referral()).unwrap();
    let bytes = to_body_bytes(&referral_json(&d));
    assert!(bytes.starts_with(br#"{"details":"#));
    assert_eq!(to_body_bytes(&parse_body(&bytes).unwrap()), bytes);
}

fn any_json() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("kind"),
        Just("type"),
        Just("lang"),
        Just("text"),
        Just("reason"),
        Just("outcome"),
        Just("answer"),
        Just("results"),
        Just("entities"),
        Just("referral"),
        Just("request"),
        Just("handling"),
        Just("tlp"),
        Just("value"),
        Just("window"),
        Just("opens"),
        Just("x"),
    ]
    .prop_map(str::to_owned);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("acted"),
            Just("found"),
            Just("firearm"),
            Just("es"),
            Just("red"),
            Just("2025-09-03T12:00:00Z"),
            Just(""),
            Just(" "),
        ]
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces what `path` leads to in `v` (each step picks a member or item, modulo their count;
/// the walk stops at a scalar or an empty container).
fn replace_at(v: &mut Value, path: &[usize], with: Value) {
    let Some((&i, rest)) = path.split_first() else {
        *v = with;
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let n = m.len();
            if let Some(child) = m.values_mut().nth(i % n) {
                replace_at(child, rest, with);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            replace_at(&mut a[i % n], rest, with);
        }
        _ => *v = with,
    }
}

fn read_everything(v: &Value) {
    let _ = read_referral(v);
    let _ = read_request(v);
    for k in MessageKind::ALL {
        let _ = wire::read_referral_step(*k, v);
        let _ = wire::read_request_step(*k, v);
    }
    let _ = wire::read_outcome(v);
    let _ = wire::read_answer(v);
    let _ = wire::read_reason(v);
    let _ = wire::read_agency(v);
    let _ = wire::read_empty(v);
}

proptest! {
    #[test]
    fn no_reader_panics_on_any_json(v in any_json()) {
        read_everything(&v);
    }

    /// A canonical body with one part replaced by anything: never a panic, and what is accepted
    /// round-trips.
    #[test]
    fn mutated_bodies_are_read_or_refused_cleanly(
        path in proptest::collection::vec(any::<usize>(), 0..5),
        with in any_json(),
        request in any::<bool>(),
    ) {
        let mut v = if request { canonical_request() } else { canonical_referral() };
        replace_at(&mut v, &path, with);
        read_everything(&v);
        if let Ok(d) = read_referral(&v) {
            prop_assert_eq!(read_referral(&referral_json(&d)), Ok(d));
        }
        if let Ok(d) = read_request(&v) {
            prop_assert_eq!(read_request(&request_json(&d)), Ok(d));
        }
    }

    #[test]
    fn no_body_bytes_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(v) = parse_body(&bytes) {
            read_everything(&v);
        }
    }

    /// Without duplicates and deep nesting, the strict parser reads what serde_json reads.
    #[test]
    fn strict_parsing_agrees_with_serde_json(v in any_json()) {
        let bytes = to_body_bytes(&v);
        let plain: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(parse_body(&bytes), Ok(plain));
    }
}
