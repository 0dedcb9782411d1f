//! The three parts of an authorization question: who asks ([`Principal`]), what they want to do
//! ([`Act`]) and what it is about ([`Resource`]), with the names these carry in Cedar policies.

use std::fmt;

use puente_domain::{PartyCode, Role};

/// What the user wants to do. In policies these are `Puente::Action::"list"` and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Act {
    List,
    Read,
    Create,
    Update,
    /// Sending an item (a referral, a request for information) to another party.
    Release,
}

impl Act {
    pub const ALL: [Act; 5] = [Act::List, Act::Read, Act::Create, Act::Update, Act::Release];

    /// The Cedar action id, also used in logs and denial explanations.
    pub fn as_str(self) -> &'static str {
        match self {
            Act::List => "list",
            Act::Read => "read",
            Act::Create => "create",
            Act::Update => "update",
            Act::Release => "release",
        }
    }
}

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kinds of thing a decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Commitment,
    ActionRecord,
    Indicator,
    Measurement,
    Meeting,
    AuditEntry,
    User,
    Program,
    /// The signed-in user's own profile and session.
    Me,
    /// A referral exchanged with a peer node.
    Referral,
    /// A request for information exchanged with a peer node.
    InformationRequest,
    /// A peer node this node exchanges with.
    Peer,
    /// The balance of what this node and a peer have given each other.
    Reciprocity,
    /// The exchange log with a peer: its checkpoints, cosignatures and proofs.
    ExchangeLog,
    /// What this node found wrong with a peer's log, with the evidence.
    Dispute,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 15] = [
        ResourceKind::Commitment,
        ResourceKind::ActionRecord,
        ResourceKind::Indicator,
        ResourceKind::Measurement,
        ResourceKind::Meeting,
        ResourceKind::AuditEntry,
        ResourceKind::User,
        ResourceKind::Program,
        ResourceKind::Me,
        ResourceKind::Referral,
        ResourceKind::InformationRequest,
        ResourceKind::Peer,
        ResourceKind::Reciprocity,
        ResourceKind::ExchangeLog,
        ResourceKind::Dispute,
    ];

    /// The kebab-case name used in the API, logs and denial explanations.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Commitment => "commitment",
            ResourceKind::ActionRecord => "action",
            ResourceKind::Indicator => "indicator",
            ResourceKind::Measurement => "measurement",
            ResourceKind::Meeting => "meeting",
            ResourceKind::AuditEntry => "audit",
            ResourceKind::User => "user",
            ResourceKind::Program => "program",
            ResourceKind::Me => "me",
            ResourceKind::Referral => "referral",
            ResourceKind::InformationRequest => "request",
            ResourceKind::Peer => "peer",
            ResourceKind::Reciprocity => "reciprocity",
            ResourceKind::ExchangeLog => "log",
            ResourceKind::Dispute => "dispute",
        }
    }

    /// The Cedar entity type in the `Puente` namespace. Two differ from the Rust names because
    /// Cedar already uses them: `Puente::Action` is the type of the actions themselves, and
    /// `Puente::User` is the principal, whose attributes (role, party) a managed account lacks.
    pub(crate) fn cedar_type(self) -> &'static str {
        match self {
            ResourceKind::Commitment => "Puente::Commitment",
            ResourceKind::ActionRecord => "Puente::ActionRecord",
            ResourceKind::Indicator => "Puente::Indicator",
            ResourceKind::Measurement => "Puente::Measurement",
            ResourceKind::Meeting => "Puente::Meeting",
            ResourceKind::AuditEntry => "Puente::AuditEntry",
            ResourceKind::User => "Puente::UserAccount",
            ResourceKind::Program => "Puente::Program",
            ResourceKind::Me => "Puente::Me",
            ResourceKind::Referral => "Puente::Referral",
            ResourceKind::InformationRequest => "Puente::InformationRequest",
            ResourceKind::Peer => "Puente::Peer",
            ResourceKind::Reciprocity => "Puente::Reciprocity",
            ResourceKind::ExchangeLog => "Puente::ExchangeLog",
            ResourceKind::Dispute => "Puente::Dispute",
        }
    }

    /// Whether records of this kind are items sent to another party: they carry what the
    /// release policy looks at (`tlp` and `persons`), and only they can be released.
    pub(crate) fn carries_handling(self) -> bool {
        matches!(
            self,
            ResourceKind::Referral | ResourceKind::InformationRequest
        )
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signed-in user asking. Becomes `Puente::User::"<user>"` with attributes `role`, `party`
/// and `agency` (`""` when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    /// The user's id.
    pub user: &'a str,
    pub role: Role,
    pub party: PartyCode,
    pub agency: Option<&'a str>,
}

/// What the request is about. Becomes `Puente::<Kind>::"<id or *>"` with attributes `owners`
/// and `agency` (`""` when `None`); a Referral or InformationRequest also carries `tlp` (`""`
/// when `None`) and `persons`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource<'a> {
    pub kind: ResourceKind,
    /// The record's id; `None` when the request is about the kind as a whole (list, create).
    pub id: Option<&'a str>,
    /// Parties that own it: a commitment's owners; a referral's or request's two parties
    /// (originator and recipient); any other record's origin party; for User, AuditEntry,
    /// Program and Me, the node's own party.
    pub owners: &'a [PartyCode],
    /// Responsible agency, if any: for a referral or request, the recipient agency it is
    /// assigned to.
    pub agency: Option<&'a str>,
    /// Referral and InformationRequest only (ignored for other kinds): the item's TLP 2.0
    /// token (`clear`, `green`, `amber`, `amber-strict`, `red`), `None` when not known yet.
    pub tlp: Option<&'a str>,
    /// Referral and InformationRequest only (ignored for other kinds): whether any entity the
    /// item names is a person.
    pub persons: bool,
}
