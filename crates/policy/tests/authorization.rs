//! The specification of who may do what on a node under the shipped default policies, and the
//! checks that a node's policy file is refused when an administrator could not trust it.

use std::sync::Arc;

use puente_policy::{
    Act, DEFAULT_DENY, Decision, PartyCode, PolicyEngine, PolicyError, Principal, Resource,
    ResourceKind, Role,
};

const US: PartyCode = PartyCode::US;
const MX: PartyCode = PartyCode::MX;

// Clippy recognises #[test] functions but not their helpers as test code.
#[expect(
    clippy::unwrap_used,
    reason = "test helper: a panic here is a failed test"
)]
fn defaults() -> PolicyEngine {
    PolicyEngine::defaults().unwrap()
}

fn principal(role: Role) -> Principal<'static> {
    Principal {
        user: "u-1",
        role,
        party: US,
        agency: Some("CBP"),
    }
}

fn resource<'a>(
    kind: ResourceKind,
    owners: &'a [PartyCode],
    agency: Option<&'a str>,
) -> Resource<'a> {
    Resource {
        kind,
        id: Some("r-1"),
        owners,
        agency,
        tlp: None,
        persons: false,
    }
}

/// A referral or request for information (or any kind: other kinds ignore tlp and persons).
fn item<'a>(
    kind: ResourceKind,
    owners: &'a [PartyCode],
    agency: Option<&'a str>,
    tlp: Option<&'a str>,
    persons: bool,
) -> Resource<'a> {
    Resource {
        tlp,
        persons,
        ..resource(kind, owners, agency)
    }
}

/// The two kinds of item exchanged with the other party.
const ITEMS: [ResourceKind; 2] = [ResourceKind::Referral, ResourceKind::InformationRequest];

fn rule(decision: &Decision) -> Option<&str> {
    decision.denial().map(|d| d.rule.as_str())
}

/// For each role and resource kind, which of list / read / create / update / release are
/// allowed ("L", "R", "C", "U", "X" at their positions; "-" denied). The principal is of party
/// US with agency CBP; the resource is owned by US and MX, assigned to CBP, and (for the kinds
/// that carry them) marked TLP:AMBER and naming persons, so the own-records-only, agency and TLP
/// rules do not get in the way (they have their own tests). Release applies only to Referral and
/// InformationRequest; for other kinds the request does not match the schema and is denied.
#[rustfmt::skip]
const MATRIX: &[(Role, ResourceKind, &str)] = {
    use ResourceKind as K;
    use Role as R;
    &[
        (R::Administrator,  K::Commitment,         "LR---"),
        (R::Administrator,  K::ActionRecord,       "LR---"),
        (R::Administrator,  K::Indicator,          "LR---"),
        (R::Administrator,  K::Measurement,        "LR---"),
        (R::Administrator,  K::Meeting,            "LR---"),
        (R::Administrator,  K::AuditEntry,         "LR---"),
        (R::Administrator,  K::User,               "LRCU-"),
        (R::Administrator,  K::Program,            "LR---"),
        (R::Administrator,  K::Me,                 "LR-U-"),
        (R::Administrator,  K::Referral,           "-----"),
        (R::Administrator,  K::InformationRequest, "-----"),
        (R::Administrator,  K::Peer,               "LR---"),
        (R::Administrator,  K::Reciprocity,        "LR---"),
        (R::Administrator,  K::ExchangeLog,        "LR---"),
        (R::Administrator,  K::Dispute,            "LR---"),

        (R::ProgramOfficer, K::Commitment,         "LRCU-"),
        (R::ProgramOfficer, K::ActionRecord,       "LRCU-"),
        (R::ProgramOfficer, K::Indicator,          "LRCU-"),
        (R::ProgramOfficer, K::Measurement,        "LRCU-"),
        (R::ProgramOfficer, K::Meeting,            "LRCU-"),
        (R::ProgramOfficer, K::AuditEntry,         "-----"),
        (R::ProgramOfficer, K::User,               "-----"),
        (R::ProgramOfficer, K::Program,            "LR---"),
        (R::ProgramOfficer, K::Me,                 "-R-U-"),
        (R::ProgramOfficer, K::Referral,           "-----"),
        (R::ProgramOfficer, K::InformationRequest, "-----"),
        (R::ProgramOfficer, K::Peer,               "-----"),
        (R::ProgramOfficer, K::Reciprocity,        "LR---"),
        (R::ProgramOfficer, K::ExchangeLog,        "-----"),
        (R::ProgramOfficer, K::Dispute,            "-----"),

        (R::LiaisonOfficer, K::Commitment,         "LR---"),
        (R::LiaisonOfficer, K::ActionRecord,       "LR---"),
        (R::LiaisonOfficer, K::Indicator,          "LR---"),
        (R::LiaisonOfficer, K::Measurement,        "LR---"),
        (R::LiaisonOfficer, K::Meeting,            "LR---"),
        (R::LiaisonOfficer, K::AuditEntry,         "-----"),
        (R::LiaisonOfficer, K::User,               "-----"),
        (R::LiaisonOfficer, K::Program,            "LR---"),
        (R::LiaisonOfficer, K::Me,                 "-R-U-"),
        (R::LiaisonOfficer, K::Referral,           "LRCUX"),
        (R::LiaisonOfficer, K::InformationRequest, "LRCUX"),
        (R::LiaisonOfficer, K::Peer,               "LR---"),
        (R::LiaisonOfficer, K::Reciprocity,        "LR---"),
        (R::LiaisonOfficer, K::ExchangeLog,        "-----"),
        (R::LiaisonOfficer, K::Dispute,            "-----"),

        (R::Analyst,        K::Commitment,         "LR---"),
        (R::Analyst,        K::ActionRecord,       "LR---"),
        (R::Analyst,        K::Indicator,          "LR---"),
        (R::Analyst,        K::Measurement,        "LR---"),
        (R::Analyst,        K::Meeting,            "LR---"),
        (R::Analyst,        K::AuditEntry,         "-----"),
        (R::Analyst,        K::User,               "-----"),
        (R::Analyst,        K::Program,            "LR---"),
        (R::Analyst,        K::Me,                 "-R-U-"),
        (R::Analyst,        K::Referral,           "LR---"),
        (R::Analyst,        K::InformationRequest, "LR---"),
        (R::Analyst,        K::Peer,               "-----"),
        (R::Analyst,        K::Reciprocity,        "LR---"),
        (R::Analyst,        K::ExchangeLog,        "-----"),
        (R::Analyst,        K::Dispute,            "-----"),

        (R::AgencyUser,     K::Commitment,         "LR---"),
        (R::AgencyUser,     K::ActionRecord,       "LR---"),
        (R::AgencyUser,     K::Indicator,          "-----"),
        (R::AgencyUser,     K::Measurement,        "-----"),
        (R::AgencyUser,     K::Meeting,            "-----"),
        (R::AgencyUser,     K::AuditEntry,         "-----"),
        (R::AgencyUser,     K::User,               "-----"),
        (R::AgencyUser,     K::Program,            "LR---"),
        (R::AgencyUser,     K::Me,                 "-R-U-"),
        (R::AgencyUser,     K::Referral,           "LR-U-"),
        (R::AgencyUser,     K::InformationRequest, "-----"),
        (R::AgencyUser,     K::Peer,               "-----"),
        (R::AgencyUser,     K::Reciprocity,        "-----"),
        (R::AgencyUser,     K::ExchangeLog,        "-----"),
        (R::AgencyUser,     K::Dispute,            "-----"),

        (R::Auditor,        K::Commitment,         "LR---"),
        (R::Auditor,        K::ActionRecord,       "LR---"),
        (R::Auditor,        K::Indicator,          "LR---"),
        (R::Auditor,        K::Measurement,        "LR---"),
        (R::Auditor,        K::Meeting,            "LR---"),
        (R::Auditor,        K::AuditEntry,         "LR---"),
        (R::Auditor,        K::User,               "-----"),
        (R::Auditor,        K::Program,            "LR---"),
        (R::Auditor,        K::Me,                 "-R-U-"),
        (R::Auditor,        K::Referral,           "LR---"),
        (R::Auditor,        K::InformationRequest, "LR---"),
        (R::Auditor,        K::Peer,               "LR---"),
        (R::Auditor,        K::Reciprocity,        "LR---"),
        (R::Auditor,        K::ExchangeLog,        "LR---"),
        (R::Auditor,        K::Dispute,            "LR---"),
    ]
};

#[test]
fn default_policies_decide_every_role_act_and_kind_as_specified() {
    // The table must be complete: every role with every kind, exactly once.
    let mut pairs: Vec<(Role, ResourceKind)> = MATRIX.iter().map(|(r, k, _)| (*r, *k)).collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(
        pairs.len(),
        MATRIX.len(),
        "a (role, kind) pair appears twice"
    );
    assert_eq!(
        pairs.len(),
        Role::ALL.len() * ResourceKind::ALL.len(),
        "a (role, kind) pair is missing"
    );

    let engine = defaults();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for &(role, kind, allowed) in MATRIX {
        assert_eq!(
            allowed.len(),
            5,
            "{role} {kind}: expected five letters, got {allowed:?}"
        );
        for (act, flag) in Act::ALL.into_iter().zip(allowed.chars()) {
            let expected = flag != '-';
            let r = item(kind, &[US, MX], Some("CBP"), Some("amber"), true);
            let decision = engine.authorize(&principal(role), act, &r);
            checked += 1;
            if decision.is_allow() != expected {
                wrong.push(format!(
                    "{role} {act} {kind}: expected {}, got {decision:?}",
                    if expected { "allow" } else { "deny" }
                ));
            } else if let Some(denial) = decision.denial() {
                // Nothing here is owned by another party, so denials are for want of a permit.
                assert_eq!(denial.rule, DEFAULT_DENY, "{role} {act} {kind}");
            }
        }
    }
    assert_eq!(checked, 6 * 5 * 15);
    assert!(
        wrong.is_empty(),
        "{} wrong decisions:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn a_denial_without_permit_is_default_deny_with_an_explanation() {
    let decision = defaults().authorize(
        &principal(Role::Analyst),
        Act::Update,
        &resource(ResourceKind::Commitment, &[US], None),
    );
    let denial = decision.denial().unwrap();
    assert_eq!(denial.rule, "default-deny");
    assert_eq!(
        denial.explanation,
        "no policy permits role analyst to update commitment"
    );
}

#[test]
fn a_party_changes_only_what_it_owns() {
    let engine = defaults();
    let officer = principal(Role::ProgramOfficer);
    for act in [Act::Create, Act::Update] {
        for kind in [
            ResourceKind::Commitment,
            ResourceKind::Meeting,
            ResourceKind::Measurement,
        ] {
            let decision = engine.authorize(&officer, act, &resource(kind, &[MX], None));
            assert_eq!(
                rule(&decision),
                Some("own-records-only"),
                "{act} {kind}: {decision:?}"
            );
            let explanation = &decision.denial().unwrap().explanation;
            assert!(explanation.contains("own-records-only"), "{explanation}");
            assert!(explanation.contains("owned by MX"), "{explanation}");
            assert!(
                explanation.contains("a party changes or releases only what it owns"),
                "{explanation}"
            );
        }
    }
    // Reading the other party's records is fine; so is changing a jointly owned one.
    let mx_commitment = resource(ResourceKind::Commitment, &[MX], None);
    assert!(
        engine
            .authorize(&officer, Act::Read, &mx_commitment)
            .is_allow()
    );
    let joint = resource(ResourceKind::Commitment, &[MX, US], None);
    assert!(engine.authorize(&officer, Act::Update, &joint).is_allow());
    let mx_officer = Principal {
        party: MX,
        ..officer
    };
    assert!(
        engine
            .authorize(&mx_officer, Act::Update, &joint)
            .is_allow()
    );
    // It binds administrators too: a user account belongs to the node's own party.
    let admin = principal(Role::Administrator);
    let decision = engine.authorize(
        &admin,
        Act::Create,
        &resource(ResourceKind::User, &[MX], None),
    );
    assert_eq!(rule(&decision), Some("own-records-only"));
    // Owned by nobody is owned by somebody else.
    let decision = engine.authorize(
        &officer,
        Act::Create,
        &resource(ResourceKind::Meeting, &[], None),
    );
    assert_eq!(rule(&decision), Some("own-records-only"));
}

#[test]
fn an_agency_user_reads_only_its_own_agencys_work() {
    let engine = defaults();
    let cbp = principal(Role::AgencyUser);
    for kind in [ResourceKind::Commitment, ResourceKind::ActionRecord] {
        let own = resource(kind, &[US], Some("CBP"));
        let other = resource(kind, &[US], Some("DEA"));
        let unassigned = resource(kind, &[US], None);
        assert!(engine.authorize(&cbp, Act::Read, &own).is_allow(), "{kind}");
        assert_eq!(
            rule(&engine.authorize(&cbp, Act::Read, &other)),
            Some(DEFAULT_DENY),
            "{kind}"
        );
        assert!(
            !engine.authorize(&cbp, Act::Read, &unassigned).is_allow(),
            "{kind}"
        );
        // The list is open to it whatever the agency; the web layer shows only what it may read.
        assert!(
            engine.authorize(&cbp, Act::List, &other).is_allow(),
            "{kind}"
        );
        // An agency user with no agency has nothing of its own, even among unassigned records.
        for agency in [None, Some("")] {
            let nobody = Principal { agency, ..cbp };
            assert!(
                !engine.authorize(&nobody, Act::Read, &unassigned).is_allow(),
                "{kind} {agency:?}"
            );
            assert!(
                !engine.authorize(&nobody, Act::Read, &own).is_allow(),
                "{kind} {agency:?}"
            );
        }
        // Matching agency does not make it an editor.
        assert!(
            !engine.authorize(&cbp, Act::Update, &own).is_allow(),
            "{kind}"
        );
    }
}

#[test]
fn a_custom_policy_changes_decisions() {
    let analyst = principal(Role::Analyst);
    let meeting = resource(ResourceKind::Meeting, &[US], None);
    assert!(
        !defaults()
            .authorize(&analyst, Act::Create, &meeting)
            .is_allow()
    );

    let text = format!(
        "{}\n@id(\"analysts-schedule-meetings\")\npermit (principal, action == Puente::Action::\"create\", resource is Puente::Meeting)\nwhen {{ principal.role == \"analyst\" }};\n",
        PolicyEngine::DEFAULT_POLICIES
    );
    let engine = PolicyEngine::parse(&text).unwrap();
    assert!(engine.authorize(&analyst, Act::Create, &meeting).is_allow());
    // The forbid still applies on top of the new permit.
    let mx_meeting = resource(ResourceKind::Meeting, &[MX], None);
    assert_eq!(
        rule(&engine.authorize(&analyst, Act::Create, &mx_meeting)),
        Some("own-records-only")
    );
}

#[test]
fn a_custom_forbid_is_named_in_the_denial() {
    let text = r#"
@id("everyone-reads-program")
permit (principal, action == Puente::Action::"read", resource is Puente::Program);

@id("program-closed-to-mx")
forbid (principal, action, resource is Puente::Program) when { principal.party == "MX" };
"#;
    let engine = PolicyEngine::parse(text).unwrap();
    let program = resource(ResourceKind::Program, &[US], None);
    assert!(
        engine
            .authorize(&principal(Role::Analyst), Act::Read, &program)
            .is_allow()
    );
    let mx = Principal {
        party: MX,
        ..principal(Role::Analyst)
    };
    let decision = engine.authorize(&mx, Act::Read, &program);
    let denial = decision.denial().unwrap();
    assert_eq!(denial.rule, "program-closed-to-mx");
    assert!(
        denial.explanation.starts_with(
            "policy program-closed-to-mx forbids role analyst of party MX to read program"
        ),
        "{}",
        denial.explanation
    );
    // Everything else falls to the default.
    let decision = engine.authorize(
        &principal(Role::Administrator),
        Act::Read,
        &resource(ResourceKind::User, &[US], None),
    );
    assert_eq!(rule(&decision), Some(DEFAULT_DENY));
}

#[test]
fn an_evaluation_error_denies_even_if_a_permit_matches() {
    // Cedar would skip the erring forbid and allow; the engine must not.
    let text = r#"
@id("everyone-reads-program")
permit (principal, action == Puente::Action::"read", resource is Puente::Program);

@id("overflowing-forbid")
forbid (principal, action, resource) when { 9223372036854775807 + 1 > 0 };
"#;
    let engine = PolicyEngine::parse(text).unwrap();
    let decision = engine.authorize(
        &principal(Role::Analyst),
        Act::Read,
        &resource(ResourceKind::Program, &[US], None),
    );
    let denial = decision.denial().unwrap();
    assert_eq!(denial.rule, DEFAULT_DENY);
    assert!(
        denial.explanation.contains("overflowing-forbid"),
        "{}",
        denial.explanation
    );
}

#[test]
fn a_policy_without_id_is_rejected_with_its_line() {
    let text = "@id(\"a\")\npermit (principal, action, resource is Puente::Program);\n\npermit (principal, action, resource is Puente::Me);\n";
    let err = PolicyEngine::parse(text).unwrap_err();
    assert!(
        matches!(err, PolicyError::MissingId { line: 4, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("line 4"), "{message}");
    assert!(message.contains("@id"), "{message}");
    assert!(message.contains("Puente::Me"), "{message}");

    let empty = "@id(\"  \")\npermit (principal, action, resource);";
    let err = PolicyEngine::parse(empty).unwrap_err();
    assert!(
        matches!(err, PolicyError::MissingId { line: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn a_duplicate_id_is_rejected_naming_both_lines() {
    let text = "@id(\"x\")\npermit (principal, action, resource is Puente::Program);\n@id(\"y\")\npermit (principal, action, resource is Puente::Me);\n@id(\"x\")\nforbid (principal, action, resource is Puente::Me);\n";
    let err = PolicyEngine::parse(text).unwrap_err();
    assert!(
        matches!(err, PolicyError::DuplicateId { ref id, line: 5, first_line: 1 } if id == "x"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("@id(\"x\")") && message.contains("line 5") && message.contains("line 1"),
        "{message}"
    );
}

#[test]
fn a_syntax_error_is_rejected_with_its_line() {
    let text = "@id(\"a\")\npermit (principal, action, resource is Puente::Program);\n\n@id(\"b\")\npermit (principal, action resource);\n";
    let err = PolicyEngine::parse(text).unwrap_err();
    assert!(matches!(err, PolicyError::Parse { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("line 5"), "{message}");
}

#[test]
fn a_misspelled_attribute_is_rejected_naming_the_policy() {
    let text = PolicyEngine::DEFAULT_POLICIES.replace(
        "principal.role == \"auditor\" &&",
        "principal.rol == \"auditor\" &&",
    );
    assert_ne!(text, PolicyEngine::DEFAULT_POLICIES);
    let line = text
        .lines()
        .position(|l| l.contains("principal.rol "))
        .unwrap()
        + 1;
    let err = PolicyEngine::parse(&text).unwrap_err();
    assert!(matches!(err, PolicyError::Validation { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("auditor-reads-records"), "{message}");
    assert!(message.contains("rol"), "{message}");
    assert!(message.contains(&format!("line {line}")), "{message}");
}

#[test]
fn an_unknown_entity_type_or_action_is_rejected() {
    let text = "@id(\"typo\")\npermit (principal, action, resource is Puente::Comitment);";
    let err = PolicyEngine::parse(text).unwrap_err();
    assert!(matches!(err, PolicyError::Validation { .. }), "{err:?}");
    assert!(err.to_string().contains("Comitment"), "{err}");

    let text =
        "@id(\"delete\")\npermit (principal, action == Puente::Action::\"delete\", resource);";
    let err = PolicyEngine::parse(text).unwrap_err();
    assert!(matches!(err, PolicyError::Validation { .. }), "{err:?}");
    assert!(err.to_string().contains("delete"), "{err}");
}

#[test]
fn a_template_is_rejected() {
    let text = "@id(\"t\")\npermit (principal == ?principal, action, resource);";
    let err = PolicyEngine::parse(text).unwrap_err();
    assert!(
        matches!(err, PolicyError::Template { ref id, line: 1 } if id == "t"),
        "{err:?}"
    );
}

#[test]
fn load_reads_a_file_and_names_a_missing_one() {
    let dir = std::env::temp_dir().join(format!("puente-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policies.cedar");
    std::fs::write(&path, "@id(\"only-program\")\npermit (principal, action == Puente::Action::\"read\", resource is Puente::Program);\n").unwrap();
    let engine = PolicyEngine::load(&path).unwrap();
    assert_eq!(engine.policy_ids().collect::<Vec<_>>(), ["only-program"]);
    std::fs::remove_dir_all(&dir).unwrap();

    let err = PolicyEngine::load(&path).unwrap_err();
    assert!(matches!(err, PolicyError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("policies.cedar"), "{err}");
}

#[test]
fn the_defaults_load_and_the_engine_is_shareable() {
    fn shareable<T: Send + Sync + 'static>(_: &T) {}
    let engine = Arc::new(defaults());
    shareable(&engine);
    let ids: Vec<&str> = engine.policy_ids().collect();
    assert!(ids.contains(&"own-records-only"), "{ids:?}");
    let annotated = PolicyEngine::DEFAULT_POLICIES
        .lines()
        .filter(|l| l.starts_with("@id("))
        .count();
    assert_eq!(ids.len(), annotated);
}

#[test]
fn names_are_kebab_case() {
    let acts: Vec<&str> = Act::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(acts, ["list", "read", "create", "update", "release"]);
    let kinds: Vec<&str> = ResourceKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "commitment",
            "action",
            "indicator",
            "measurement",
            "meeting",
            "audit",
            "user",
            "program",
            "me",
            "referral",
            "request",
            "peer",
            "reciprocity",
            "log",
            "dispute"
        ]
    );
}

/// A page of records of mixed owners and agencies, some with the same (owners, agency).
fn page_of_commitments<'a>(
    ids: &'a [String],
    owners: &'a [[PartyCode; 1]; 2],
) -> Vec<Resource<'a>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| Resource {
            kind: ResourceKind::Commitment,
            id: Some(id),
            owners: &owners[i % 2],
            agency: Some(if i % 3 == 0 { "CBP" } else { "SSPC" }),
            tlp: None,
            persons: false,
        })
        .collect()
}

#[test]
fn deciding_a_page_at_once_gives_the_same_answers_as_one_by_one() {
    let ids: Vec<String> = (0..30).map(|i| format!("c-{i}")).collect();
    let owners = [[US], [MX]];
    let page = page_of_commitments(&ids, &owners);
    let engine = defaults();
    for role in Role::ALL {
        for act in Act::ALL {
            let who = principal(role);
            let each: Vec<Decision> = page
                .iter()
                .map(|r| engine.authorize(&who, act, r))
                .collect();
            assert_eq!(
                engine.authorize_each(&who, act, &page),
                each,
                "{role:?} {act}"
            );
        }
    }
    // The agency user sees its own agency's records and only those.
    let decisions = engine.authorize_each(&principal(Role::AgencyUser), Act::Read, &page);
    assert!(decisions.iter().any(Decision::is_allow));
    assert!(decisions.iter().any(|d| !d.is_allow()));
}

#[test]
fn a_policy_naming_one_record_is_honoured_when_deciding_a_page() {
    let text = format!(
        "{}\n@id(\"c-7-sealed\")\nforbid (principal, action, resource == Puente::Commitment::\"c-7\");\n",
        PolicyEngine::DEFAULT_POLICIES
    );
    let engine = PolicyEngine::parse(&text).unwrap();
    let ids: Vec<String> = (0..12).map(|i| format!("c-{i}")).collect();
    let owners = [[US], [US]];
    let page = page_of_commitments(&ids, &owners);
    let who = principal(Role::ProgramOfficer);
    let decisions = engine.authorize_each(&who, Act::Read, &page);
    for (r, d) in page.iter().zip(&decisions) {
        if r.id == Some("c-7") {
            assert_eq!(rule(d), Some("c-7-sealed"));
        } else {
            assert!(d.is_allow(), "{:?}: {d:?}", r.id);
        }
    }
}

#[test]
fn release_applies_only_to_exchanged_items_and_is_denied_elsewhere() {
    // Even a policy that permits everything cannot release a commitment: the schema does not
    // let the action apply to it, so the request is refused as invalid, without a panic.
    let text = "@id(\"everything\")\npermit (principal, action, resource);\n";
    let engine = PolicyEngine::parse(text).unwrap();
    let liaison = principal(Role::LiaisonOfficer);
    for kind in ResourceKind::ALL {
        let r = item(kind, &[US, MX], Some("CBP"), Some("amber"), true);
        let decision = engine.authorize(&liaison, Act::Release, &r);
        if ITEMS.contains(&kind) {
            assert!(decision.is_allow(), "{kind}: {decision:?}");
        } else {
            let denial = decision.denial().unwrap();
            assert_eq!(denial.rule, DEFAULT_DENY, "{kind}");
            assert!(
                denial.explanation.contains("could not be evaluated"),
                "{kind}: {}",
                denial.explanation
            );
        }
        // Every other act applies to every kind.
        for act in [Act::List, Act::Read, Act::Create, Act::Update] {
            assert!(
                engine.authorize(&liaison, act, &r).is_allow(),
                "{act} {kind}"
            );
        }
    }
    // A policy about releasing a kind that cannot be released is one Cedar only warns about
    // (it can never match): it loads, and opens nothing.
    let text = "@id(\"release-meetings\")\npermit (principal, action == Puente::Action::\"release\", resource is Puente::Meeting);\n";
    let engine = PolicyEngine::parse(text).unwrap();
    let meeting = resource(ResourceKind::Meeting, &[US], None);
    assert_eq!(
        rule(&engine.authorize(&liaison, Act::Release, &meeting)),
        Some(DEFAULT_DENY)
    );
}

#[test]
fn an_agency_user_reads_and_updates_only_referrals_assigned_to_its_agency() {
    let engine = defaults();
    let cbp = principal(Role::AgencyUser);
    let referral = |agency| {
        item(
            ResourceKind::Referral,
            &[MX, US],
            agency,
            Some("amber"),
            true,
        )
    };
    let own = referral(Some("CBP"));
    let other = referral(Some("DEA"));
    let unassigned = referral(None);
    for act in [Act::Read, Act::Update] {
        assert!(engine.authorize(&cbp, act, &own).is_allow(), "{act}");
        assert_eq!(
            rule(&engine.authorize(&cbp, act, &other)),
            Some(DEFAULT_DENY),
            "{act}"
        );
        assert_eq!(
            rule(&engine.authorize(&cbp, act, &unassigned)),
            Some(DEFAULT_DENY),
            "{act}"
        );
        // A user of no agency has none assigned to it, not even the unassigned ones.
        for agency in [None, Some("")] {
            let nobody = Principal { agency, ..cbp };
            for r in [&own, &other, &unassigned] {
                assert!(
                    !engine.authorize(&nobody, act, r).is_allow(),
                    "{act} {agency:?} {:?}",
                    r.agency
                );
            }
        }
    }
    // It sees the list whatever the assignment; the web layer shows only what it may read.
    assert!(engine.authorize(&cbp, Act::List, &other).is_allow());
    // It neither writes referrals nor sends them, nor sees requests for information, even
    // assigned to its agency.
    assert!(!engine.authorize(&cbp, Act::Create, &own).is_allow());
    assert!(!engine.authorize(&cbp, Act::Release, &own).is_allow());
    let request = item(
        ResourceKind::InformationRequest,
        &[MX, US],
        Some("CBP"),
        Some("amber"),
        false,
    );
    for act in Act::ALL {
        assert!(!engine.authorize(&cbp, act, &request).is_allow(), "{act}");
    }
}

#[test]
fn personal_data_is_not_released_under_tlp_clear() {
    let engine = defaults();
    let liaison = principal(Role::LiaisonOfficer);
    for kind in ITEMS {
        let decision = engine.authorize(
            &liaison,
            Act::Release,
            &item(kind, &[US, MX], None, Some("clear"), true),
        );
        let denial = decision.denial().unwrap();
        assert_eq!(denial.rule, "no-personal-data-under-tlp-clear", "{kind}");
        assert!(
            denial
                .explanation
                .contains("TLP:CLEAR information may be published, so it must not name persons"),
            "{kind}: {}",
            denial.explanation
        );
        // TLP:CLEAR without persons goes; so do persons under any stricter level.
        let clear = item(kind, &[US, MX], None, Some("clear"), false);
        assert!(
            engine.authorize(&liaison, Act::Release, &clear).is_allow(),
            "{kind}"
        );
        for tlp in ["green", "amber", "amber-strict", "red"] {
            let named = item(kind, &[US, MX], None, Some(tlp), true);
            assert!(
                engine.authorize(&liaison, Act::Release, &named).is_allow(),
                "{kind} {tlp}"
            );
        }
        // The rule is about sending: the item may still be drafted, read and edited.
        let named_clear = item(kind, &[US, MX], None, Some("clear"), true);
        for act in [Act::List, Act::Read, Act::Create, Act::Update] {
            assert!(
                engine.authorize(&liaison, act, &named_clear).is_allow(),
                "{act} {kind}"
            );
        }
    }
}

#[test]
fn a_party_releases_only_items_it_is_a_party_to() {
    let engine = defaults();
    let liaison = principal(Role::LiaisonOfficer);
    for kind in ITEMS {
        let theirs = item(kind, &[MX], None, Some("amber"), false);
        let decision = engine.authorize(&liaison, Act::Release, &theirs);
        assert_eq!(rule(&decision), Some("own-records-only"), "{kind}");
        // When both limits apply, the first in the file is named.
        let theirs_clear = item(kind, &[MX], None, Some("clear"), true);
        let decision = engine.authorize(&liaison, Act::Release, &theirs_clear);
        assert_eq!(rule(&decision), Some("own-records-only"), "{kind}");
        // Received from the other party or sent to it: either way, this party is a party to it.
        for owners in [[US, MX], [MX, US]] {
            let ours = item(kind, &owners, None, Some("amber"), false);
            assert!(
                engine.authorize(&liaison, Act::Release, &ours).is_allow(),
                "{kind} {owners:?}"
            );
        }
    }
}

#[test]
fn an_administrator_does_not_read_intelligence() {
    let engine = defaults();
    let admin = principal(Role::Administrator);
    for kind in ITEMS {
        for act in Act::ALL {
            let decision = engine.authorize(
                &admin,
                act,
                &item(kind, &[US, MX], None, Some("green"), false),
            );
            assert_eq!(rule(&decision), Some(DEFAULT_DENY), "{act} {kind}");
        }
    }
    // Who the node exchanges with, and how evenly, is its business.
    for kind in [ResourceKind::Peer, ResourceKind::Reciprocity] {
        for act in [Act::List, Act::Read] {
            assert!(
                engine
                    .authorize(&admin, act, &resource(kind, &[US], None))
                    .is_allow(),
                "{act} {kind}"
            );
        }
    }
}

#[test]
fn deciding_a_page_of_items_at_once_gives_the_same_answers_as_one_by_one() {
    let tlps = [
        None,
        Some("clear"),
        Some("green"),
        Some("amber"),
        Some("amber-strict"),
        Some("red"),
    ];
    let agencies = [Some("CBP"), Some("DEA"), None];
    let owners = [[US, MX], [MX, US], [MX, MX]];
    let ids: Vec<String> = (0..72).map(|i| format!("i-{i}")).collect();
    for kind in ITEMS {
        // Ids differ, and so do the tlp, persons, agency and owners in different cycles, so
        // equal-looking items repeat and different ones sit side by side.
        let page: Vec<Resource<'_>> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| Resource {
                kind,
                id: Some(id),
                owners: &owners[i % 3],
                agency: agencies[(i / 3) % 3],
                tlp: tlps[i % 6],
                persons: i % 4 < 2,
            })
            .collect();
        let engine = defaults();
        for role in Role::ALL {
            for act in Act::ALL {
                let who = principal(role);
                let each: Vec<Decision> = page
                    .iter()
                    .map(|r| engine.authorize(&who, act, r))
                    .collect();
                assert_eq!(
                    engine.authorize_each(&who, act, &page),
                    each,
                    "{role:?} {act} {kind}"
                );
            }
        }
        // Releasing the page, the liaison officer is refused exactly the TLP:CLEAR items
        // naming persons and the ones its party is not a party to.
        let decisions =
            engine.authorize_each(&principal(Role::LiaisonOfficer), Act::Release, &page);
        for (r, d) in page.iter().zip(&decisions) {
            let expected = if !r.owners.contains(&US) {
                Some("own-records-only")
            } else if r.tlp == Some("clear") && r.persons {
                Some("no-personal-data-under-tlp-clear")
            } else {
                None
            };
            assert_eq!(rule(d), expected, "{kind} {:?}", r.id);
        }
    }
}

#[test]
fn remembered_decisions_are_the_ones_cedar_took() {
    let engine = defaults();
    let owner_sets: [&[PartyCode]; 2] = [&[MX], &[US, MX]];
    let mut questions = Vec::new();
    for role in Role::ALL {
        for act in Act::ALL {
            for kind in ResourceKind::ALL {
                for owners in owner_sets {
                    for tlp in [None, Some("clear")] {
                        for persons in [false, true] {
                            questions.push((role, act, kind, owners, tlp, persons));
                        }
                    }
                }
            }
        }
    }
    let ask = |engine: &PolicyEngine, user: &'static str, id: &'static str| -> Vec<Decision> {
        questions
            .iter()
            .map(|&(role, act, kind, owners, tlp, persons)| {
                let who = Principal {
                    user,
                    ..principal(role)
                };
                let r = Resource {
                    id: Some(id),
                    ..item(kind, owners, Some("CBP"), tlp, persons)
                };
                engine.authorize(&who, act, &r)
            })
            .collect()
    };
    // A policy naming a user (one who never asks) turns remembering off: that engine asks
    // Cedar every question, and its answers are the reference.
    let text = format!(
        "{}\n@id(\"nobody\")\nforbid (principal == Puente::User::\"nobody\", action, resource);\n",
        PolicyEngine::DEFAULT_POLICIES
    );
    let cedar = ask(&PolicyEngine::parse(&text).unwrap(), "u-1", "r-1");
    // The remembering engine: the second time round, for another user and record, every
    // answer comes from memory.
    assert_eq!(ask(&engine, "u-1", "r-1"), cedar);
    assert_eq!(ask(&engine, "u-2", "r-2"), cedar);
    assert!(cedar.iter().any(Decision::is_allow) && cedar.iter().any(|d| !d.is_allow()));
}

#[test]
fn a_policy_naming_one_user_is_honoured_for_every_question() {
    let text = format!(
        "{}\n@id(\"u-9-suspended\")\nforbid (principal == Puente::User::\"u-9\", action, resource);\n",
        PolicyEngine::DEFAULT_POLICIES
    );
    let engine = PolicyEngine::parse(&text).unwrap();
    let r = resource(ResourceKind::Commitment, &[US], None);
    for user in ["u-1", "u-9", "u-1", "u-9"] {
        let who = Principal {
            user,
            ..principal(Role::ProgramOfficer)
        };
        let d = engine.authorize(&who, Act::Read, &r);
        if user == "u-9" {
            assert_eq!(rule(&d), Some("u-9-suspended"));
        } else {
            assert!(d.is_allow(), "{d:?}");
        }
    }
}
