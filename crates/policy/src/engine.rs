//! The policy engine: loads a node's policy file (checking it against the shipped schema and
//! insisting every policy has a unique `@id`) and answers authorization questions with it.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Effect, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, Policy, PolicyId, PolicySet, Request, Response,
    RestrictedExpression, Schema, ValidationMode, Validator,
};

use crate::decision::{DEFAULT_DENY, Decision, Denial};
use crate::error::PolicyError;
use crate::locate::{describe, excerpt, line_col};
use crate::request::{Act, Principal, Resource, ResourceKind};
use puente_domain::{PartyCode, Role};

const SCHEMA: &str = include_str!("../policies/schema.cedarschema");

/// The node's parsed and validated policies. Immutable once built, so it is `Send + Sync` and
/// one instance can be shared behind an `Arc` by every request handler.
#[derive(Clone)]
pub struct PolicyEngine {
    /// Each policy's Cedar id is its `@id`, so Cedar's diagnostics already name it.
    policies: PolicySet,
    schema: Schema,
    /// Forbid policies in file order with their optional `@reason`: when several match, the
    /// denial names the first one, so the same request is always explained the same way.
    forbids: Vec<(PolicyId, Option<String>)>,
    authorizer: Authorizer,
    principal_type: EntityTypeName,
    /// Indexed by `Act as usize`, in `Act::ALL` order.
    actions: Vec<EntityUid>,
    /// Indexed by `ResourceKind as usize`, in `ResourceKind::ALL` order.
    resource_types: Vec<EntityTypeName>,
    /// True when no policy names a particular record (an entity literal of a resource type), so
    /// a decision depends on a record's attributes but never on its id, and a page of records
    /// can be decided once per distinct (owners, agency, tlp, persons).
    id_blind: bool,
    /// Decisions already taken, when no policy names a particular record or user: a decision
    /// is then a function of what [`MemoKey`] holds, and the policies never change while the
    /// engine lives (a new policy file is a new engine). `None` when a policy names one.
    memo: Option<Arc<Mutex<HashMap<MemoKey, Decision>>>>,
}

/// Everything a decision can depend on when no policy names an entity: the principal and the
/// resource without their ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MemoKey {
    role: Role,
    party: PartyCode,
    principal_agency: Option<String>,
    act: Act,
    kind: ResourceKind,
    owners: Vec<PartyCode>,
    agency: Option<String>,
    tlp: Option<String>,
    persons: bool,
}

impl MemoKey {
    fn new(p: &Principal<'_>, act: Act, r: &Resource<'_>) -> MemoKey {
        MemoKey {
            role: p.role,
            party: p.party,
            principal_agency: p.agency.map(str::to_owned),
            act,
            kind: r.kind,
            owners: r.owners.to_vec(),
            agency: r.agency.map(str::to_owned),
            tlp: r.tlp.map(str::to_owned),
            persons: r.persons,
        }
    }
}

/// The most decisions remembered; past it the memo starts again (the distinct questions a node
/// asks number in the hundreds).
const MEMO_MAX: usize = 4096;

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("policies", &self.policy_ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// One statement of the file, policy or template, as the parser numbered it.
enum Statement<'a> {
    Policy(&'a Policy),
    Template(&'a cedar_policy::Template),
}

impl Statement<'_> {
    fn generated_id(&self) -> &PolicyId {
        match self {
            Statement::Policy(p) => p.id(),
            Statement::Template(t) => t.id(),
        }
    }

    /// The parser names statements "policy0", "policy1"... in file order; that order is what we
    /// need to report the first problem first and to find each statement's line.
    fn ordinal(&self) -> usize {
        let id: &str = self.generated_id().as_ref();
        id.strip_prefix("policy")
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX)
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        match self {
            Statement::Policy(p) => p.annotation(key),
            Statement::Template(t) => t.annotation(key),
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Statement::Policy(p) => p.to_cedar(),
            Statement::Template(t) => Some(t.to_cedar()),
        }
    }
}

impl PolicyEngine {
    /// The policies a new node starts with.
    pub const DEFAULT_POLICIES: &'static str = include_str!("../policies/default.cedar");

    /// The schema every policy file is validated against (Cedar schema syntax), for tools that
    /// show administrators what they may write.
    pub const SCHEMA: &'static str = SCHEMA;

    /// Parses `text` as Cedar policies, validates them against the shipped schema, and checks
    /// that each carries a unique `@id("...")`.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let schema = shipped_schema()?;

        let parsed = PolicySet::from_str(text).map_err(|errors| PolicyError::Parse {
            message: errors
                .iter()
                .map(|e| describe(text, e))
                .collect::<Vec<_>>()
                .join("; "),
        })?;

        let mut statements: Vec<Statement<'_>> = parsed
            .policies()
            .map(Statement::Policy)
            .chain(parsed.templates().map(Statement::Template))
            .collect();
        statements.sort_by_key(Statement::ordinal);

        let mut policies = PolicySet::new();
        let mut forbids = Vec::new();
        let mut first_line_of: HashMap<String, usize> = HashMap::new();
        // Statements are in file order and each one's text is a slice of `text`, so searching
        // onwards from the previous statement finds each at its own position.
        let mut cursor = 0;
        for statement in &statements {
            let body = statement.text().unwrap_or_default();
            let offset = text
                .get(cursor..)
                .and_then(|rest| rest.find(body.as_str()))
                .map_or(cursor, |i| cursor + i);
            cursor = offset + body.len();
            let (line, _) = line_col(text, offset);

            let id = statement
                .annotation("id")
                .filter(|id| !id.trim().is_empty());
            let policy = match statement {
                Statement::Template(_) => {
                    return Err(PolicyError::Template {
                        id: id.unwrap_or("(without @id)").to_owned(),
                        line,
                    });
                }
                Statement::Policy(policy) => policy,
            };
            let Some(id) = id else {
                return Err(PolicyError::MissingId {
                    line,
                    start: excerpt(&body),
                });
            };
            if let Some(&first_line) = first_line_of.get(id) {
                return Err(PolicyError::DuplicateId {
                    id: id.to_owned(),
                    line,
                    first_line,
                });
            }
            first_line_of.insert(id.to_owned(), line);

            let policy = policy.new_id(PolicyId::new(id));
            if policy.effect() == Effect::Forbid {
                forbids.push((
                    policy.id().clone(),
                    policy.annotation("reason").map(str::to_owned),
                ));
            }
            // Ids were checked unique just above, so this cannot fail; report it if it does.
            policies.add(policy).map_err(|e| PolicyError::Parse {
                message: format!("line {line}: {e}"),
            })?;
        }

        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !validation.validation_passed() {
            return Err(PolicyError::Validation {
                message: validation
                    .validation_errors()
                    .map(|e| describe(text, e))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }

        let principal_type = entity_type("Puente::User")?;
        let actions = Act::ALL
            .iter()
            .map(|act| {
                EntityUid::from_str(&format!("Puente::Action::\"{}\"", act.as_str())).map_err(|e| {
                    PolicyError::Schema {
                        message: e.to_string(),
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        let resource_types = ResourceKind::ALL
            .iter()
            .map(|kind| entity_type(kind.cedar_type()))
            .collect::<Result<_, _>>()?;

        let resource_type_names: HashSet<&str> =
            ResourceKind::ALL.iter().map(|k| k.cedar_type()).collect();
        let id_blind = policies.policies().all(|p| match p.to_json() {
            Ok(json) => !names_a_record(&json, &resource_type_names),
            // Cannot tell: decide every record on its own.
            Err(_) => false,
        });
        let user_type = HashSet::from(["Puente::User"]);
        let user_blind = policies.policies().all(|p| match p.to_json() {
            Ok(json) => !names_a_record(&json, &user_type),
            Err(_) => false,
        });
        let memo = (id_blind && user_blind).then(|| Arc::new(Mutex::new(HashMap::new())));

        Ok(Self {
            policies,
            schema,
            forbids,
            authorizer: Authorizer::new(),
            principal_type,
            actions,
            resource_types,
            id_blind,
            memo,
        })
    }

    /// Reads and parses the node's policy file. Errors carry lines but not the path: the caller
    /// knows which file it asked for and adds it.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The shipped default policies.
    pub fn defaults() -> Result<Self, PolicyError> {
        Self::parse(Self::DEFAULT_POLICIES)
    }

    /// The `@id`s of the loaded policies, e.g. for a start-up log line.
    pub fn policy_ids(&self) -> impl Iterator<Item = &str> {
        self.policies.policies().map(|p| p.id().as_ref())
    }

    /// May `p` do `act` to `r`? Allowed only when a permit matches and no forbid does. Anything
    /// that goes wrong while deciding denies with [`DEFAULT_DENY`]: a broken request or policy
    /// must never open a door. When no policy names a particular user or record, a question
    /// asked before (same role, party, agency, act and resource attributes) is answered from
    /// memory: the same answer, without a Cedar evaluation on every request.
    pub fn authorize(&self, p: &Principal<'_>, act: Act, r: &Resource<'_>) -> Decision {
        let Some(memo) = &self.memo else {
            return self.decide(p, act, r);
        };
        let key = MemoKey::new(p, act, r);
        if let Some(known) = memo.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return known;
        }
        let decision = self.decide(p, act, r);
        if let Ok(mut m) = memo.lock() {
            if m.len() >= MEMO_MAX {
                m.clear();
            }
            m.insert(key, decision.clone());
        }
        decision
    }

    /// Asks Cedar (see [`Self::authorize`]).
    fn decide(&self, p: &Principal<'_>, act: Act, r: &Resource<'_>) -> Decision {
        let response = match self.evaluate(p, act, r) {
            Ok(response) => response,
            Err(error) => {
                return deny(
                    DEFAULT_DENY,
                    format!(
                        "the request of role {} to {act} {} could not be evaluated, so it is denied: {error}",
                        p.role, r.kind
                    ),
                );
            }
        };

        // Cedar skips a policy whose evaluation errs and decides on the rest; for a forbid that
        // would fail open, so any error denies the whole request.
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        if !errors.is_empty() {
            return deny(
                DEFAULT_DENY,
                format!(
                    "policy evaluation failed for role {} to {act} {}, so it is denied: {}",
                    p.role,
                    r.kind,
                    errors.join("; ")
                ),
            );
        }

        match response.decision() {
            CedarDecision::Allow => Decision::Allow,
            CedarDecision::Deny => {
                let matched: HashSet<&PolicyId> = response.diagnostics().reason().collect();
                match self.forbids.iter().find(|(id, _)| matched.contains(id)) {
                    Some((id, reason)) => {
                        let owners = if r.owners.is_empty() {
                            "no party".to_owned()
                        } else {
                            r.owners
                                .iter()
                                .map(|o| o.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        };
                        let mut explanation = format!(
                            "policy {id} forbids role {} of party {} to {act} {} owned by {owners}",
                            p.role, p.party, r.kind
                        );
                        if let Some(reason) = reason {
                            explanation.push_str(": ");
                            explanation.push_str(reason);
                        }
                        deny(id.as_ref(), explanation)
                    }
                    None => deny(
                        DEFAULT_DENY,
                        format!("no policy permits role {} to {act} {}", p.role, r.kind),
                    ),
                }
            }
        }
    }

    /// Decides `act` for each of `resources` (a page of a list), in order. Same answers as
    /// calling [`Self::authorize`] for each; when no policy names a particular record, records
    /// with the same kind, owners, agency, TLP level and persons flag share one evaluation, which is what makes a page of
    /// 50 cost a handful of Cedar calls instead of 50.
    pub fn authorize_each(
        &self,
        p: &Principal<'_>,
        act: Act,
        resources: &[Resource<'_>],
    ) -> Vec<Decision> {
        if !self.id_blind {
            return resources
                .iter()
                .map(|r| self.authorize(p, act, r))
                .collect();
        }
        // Everything a policy may look at except the id. tlp and persons are ignored for kinds
        // that do not carry them, but keying on them anyway costs at most an evaluation more.
        type Key<'r> = (
            ResourceKind,
            &'r [PartyCode],
            Option<&'r str>,
            Option<&'r str>,
            bool,
        );
        let mut seen: HashMap<Key<'_>, Decision> = HashMap::new();
        resources
            .iter()
            .map(|r| {
                seen.entry((r.kind, r.owners, r.agency, r.tlp, r.persons))
                    .or_insert_with(|| self.authorize(p, act, r))
                    .clone()
            })
            .collect()
    }

    /// Builds the request and its two entities (no entity store: everything a policy may look at
    /// comes with the question) and asks Cedar.
    fn evaluate(&self, p: &Principal<'_>, act: Act, r: &Resource<'_>) -> Result<Response, String> {
        let action = self.actions.get(act as usize).ok_or("unknown action")?;
        let resource_type = self
            .resource_types
            .get(r.kind as usize)
            .ok_or("unknown resource kind")?;

        let principal_uid =
            EntityUid::from_type_name_and_id(self.principal_type.clone(), EntityId::new(p.user));
        let principal = Entity::new(
            principal_uid.clone(),
            HashMap::from([
                ("role".to_owned(), string(p.role.as_str())),
                ("party".to_owned(), string(p.party.as_str())),
                ("agency".to_owned(), string(p.agency.unwrap_or_default())),
            ]),
            HashSet::new(),
        )
        .map_err(|e| e.to_string())?;

        // "*" stands for the kind as a whole (listing, creating), when there is no record yet.
        let resource_uid = EntityUid::from_type_name_and_id(
            resource_type.clone(),
            EntityId::new(r.id.unwrap_or("*")),
        );
        let mut attributes = HashMap::from([
            (
                "owners".to_owned(),
                RestrictedExpression::new_set(r.owners.iter().map(|o| string(o.as_str()))),
            ),
            ("agency".to_owned(), string(r.agency.unwrap_or_default())),
        ]);
        // Only the kinds the schema gives them to: an attribute the schema does not declare
        // would make the entity invalid, and so every request about it a denial.
        if r.kind.carries_handling() {
            attributes.insert("tlp".to_owned(), string(r.tlp.unwrap_or_default()));
            attributes.insert(
                "persons".to_owned(),
                RestrictedExpression::new_bool(r.persons),
            );
        }
        let resource = Entity::new(resource_uid.clone(), attributes, HashSet::new())
            .map_err(|e| e.to_string())?;

        // Checking the entities and request against the schema catches a mismatch between this
        // code and the schema as a denial rather than as policies silently not matching.
        let entities = Entities::from_entities([principal, resource], Some(&self.schema))
            .map_err(|e| e.to_string())?;
        let request = Request::new(
            principal_uid,
            action.clone(),
            resource_uid,
            Context::empty(),
            Some(&self.schema),
        )
        .map_err(|e| e.to_string())?;
        Ok(self
            .authorizer
            .is_authorized(&request, &self.policies, &entities))
    }
}

/// Whether a policy (as Cedar's JSON form) mentions an entity of one of the resource types by
/// id, in its scope (`resource == Puente::Commitment::"…"`) or in a condition. Both forms are a
/// JSON object with `type` and `id`; `resource is Puente::Commitment` has neither and does not
/// count.
fn names_a_record(json: &serde_json::Value, resource_types: &HashSet<&str>) -> bool {
    match json {
        serde_json::Value::Object(map) => {
            let literal = map.contains_key("id")
                && map
                    .get("type")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|t| resource_types.contains(t));
            literal || map.values().any(|v| names_a_record(v, resource_types))
        }
        serde_json::Value::Array(items) => items.iter().any(|v| names_a_record(v, resource_types)),
        _ => false,
    }
}

fn shipped_schema() -> Result<Schema, PolicyError> {
    Schema::from_cedarschema_str(SCHEMA)
        .map(|(schema, _warnings)| schema)
        .map_err(|e| PolicyError::Schema {
            message: describe(SCHEMA, &e),
        })
}

fn entity_type(name: &str) -> Result<EntityTypeName, PolicyError> {
    EntityTypeName::from_str(name).map_err(|e| PolicyError::Schema {
        message: e.to_string(),
    })
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

fn deny(rule: &str, explanation: String) -> Decision {
    Decision::Deny(Denial {
        rule: rule.to_owned(),
        explanation,
    })
}
