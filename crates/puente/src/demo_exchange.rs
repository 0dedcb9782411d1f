//! The fictional exchange `puente demo` plays between its two nodes at start-up, read from
//! `data/demo-exchange.toml`: referrals and requests for information in both directions, each
//! walked through its steps until, together, they show every state an item can be in.
//!
//! Nothing is written behind the exchange's back: each item is read and checked by the same
//! readers the API uses, the node's policies are asked as they are for the API (as its liaison
//! officer: create and release, then update for each step), and it is sent with
//! `Exchange::send_item` and stepped with `Exchange::send_step` by the party whose step it is.
//! After each send the demo waits until the other node has received it over mutual TLS and agrees
//! on the item's state, so a demo that starts has also shown the exchange working end to end.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use puente_domain::{PartyCode, ReferralStep, RequestStep};
use puente_exchange::items::AnyStep;
use puente_exchange::node::{Exchange, Outgoing};
use puente_exchange::wire::{self, MessageKind};
use puente_policy::{Act, Decision, PolicyEngine, Principal, Resource};
use puente_store::{ExchangeItem, ItemKind, ItemState, Store, User, WriteCtx};
use puente_web::api::exchange::resource_kind;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::node::now;

/// The script, embedded in the binary.
pub const DEMO_EXCHANGE_TOML: &str = include_str!("../../../data/demo-exchange.toml");
const SOURCE: &str = "data/demo-exchange.toml";

/// How long a node may take to receive what the other sent.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    #[serde(default)]
    referral: Vec<RawItem>,
    #[serde(default)]
    request: Vec<RawItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    from: String,
    to: String,
    ends: String,
    content: Value,
    #[serde(default)]
    steps: Vec<Value>,
}

/// One item of the script, read and checked.
#[derive(Debug, Clone)]
pub struct ScriptedItem {
    pub kind: ItemKind,
    pub from: PartyCode,
    pub to: PartyCode,
    /// `state` or `state/closure`, as [`ends_as`] writes an item's state.
    pub ends: String,
    /// The canonical content, as the API would send it.
    content: Value,
    subtype: String,
    urgency: String,
    summary: String,
    steps: Vec<AnyStep>,
}

impl ScriptedItem {
    /// Who takes `step`: withdrawing is the sender's, every other step the recipient's.
    fn taker(&self, step: &AnyStep) -> PartyCode {
        match step {
            AnyStep::Referral(ReferralStep::Withdraw { .. })
            | AnyStep::Request(RequestStep::Withdraw { .. }) => self.from,
            _ => self.to,
        }
    }

    fn name(&self, i: usize) -> String {
        format!(
            "{} {} ({} → {})",
            self.kind.as_str(),
            i + 1,
            self.from,
            self.to
        )
    }
}

/// An item's state as the script names it: `sent`, `closed/acted`, `withdrawn`, …
pub fn ends_as(state: &ItemState) -> String {
    match &state.closure {
        Some(c) if *c != state.state => format!("{}/{c}", state.state),
        _ => state.state.clone(),
    }
}

/// Reads the script: every item's content and steps through the API's own readers.
pub fn parse(text: &str) -> Result<Vec<ScriptedItem>> {
    let file: ScriptFile = toml::from_str(text).with_context(|| format!("reading {SOURCE}"))?;
    let mut items = Vec::new();
    let all = file
        .referral
        .into_iter()
        .map(|r| (ItemKind::Referral, r))
        .chain(file.request.into_iter().map(|r| (ItemKind::Request, r)));
    for (i, (kind, raw)) in all.enumerate() {
        let what = format!("{SOURCE}: {} {} (item {})", kind.as_str(), raw.ends, i + 1);
        items.push(read_item(kind, raw).with_context(|| what)?);
    }
    Ok(items)
}

fn party(s: &str) -> Result<PartyCode> {
    PartyCode::parse(s).map_err(|e| anyhow!("{s:?}: {e}"))
}

fn read_item(kind: ItemKind, raw: RawItem) -> Result<ScriptedItem> {
    let from = party(&raw.from)?;
    let to = party(&raw.to)?;
    if from == to {
        bail!("an item goes from one party to the other, not from {from} to itself");
    }
    let (content, subtype, urgency, summary) = match kind {
        ItemKind::Referral => {
            let d = wire::read_referral(&raw.content).context("content")?;
            let content = wire::referral_json(&d);
            let summary = d.summary.clone();
            (content, d.kind.as_str(), d.urgency.as_str(), summary)
        }
        ItemKind::Request => {
            let d = wire::read_request(&raw.content).context("content")?;
            let content = wire::request_json(&d);
            let question = d.question.clone();
            (content, d.kind.as_str(), d.urgency.as_str(), question)
        }
    };
    let steps = raw
        .steps
        .iter()
        .enumerate()
        .map(|(n, v)| read_step(kind, v).with_context(|| format!("step {}", n + 1)))
        .collect::<Result<Vec<_>>>()?;
    Ok(ScriptedItem {
        kind,
        from,
        to,
        ends: raw.ends,
        content,
        subtype: subtype.to_owned(),
        urgency: urgency.to_owned(),
        summary,
        steps,
    })
}

/// A step: `step = "<name>"` and the body of the matching API call.
fn read_step(kind: ItemKind, v: &Value) -> Result<AnyStep> {
    let mut body = v.clone();
    let name = match body.as_object_mut().and_then(|o| o.remove("step")) {
        Some(Value::String(s)) => s,
        _ => bail!("a step needs `step = \"<name>\"`"),
    };
    let step = match (kind, name.as_str()) {
        (ItemKind::Referral, "acknowledge") => {
            wire::read_empty(&body).map(|()| AnyStep::Referral(ReferralStep::Acknowledge))
        }
        (ItemKind::Referral, "assign") => wire::read_agency(&body)
            .map(|agency| AnyStep::Referral(ReferralStep::Assign { agency })),
        (ItemKind::Referral, "outcome") => {
            wire::read_outcome(&body).map(|o| AnyStep::Referral(ReferralStep::ReportOutcome(o)))
        }
        (ItemKind::Referral, "withdraw") => wire::read_reason(&body)
            .map(|reason| AnyStep::Referral(ReferralStep::Withdraw { reason })),
        (ItemKind::Request, "acknowledge") => {
            wire::read_empty(&body).map(|()| AnyStep::Request(RequestStep::Acknowledge))
        }
        (ItemKind::Request, "answer") => {
            wire::read_answer(&body).map(|a| AnyStep::Request(RequestStep::Answer(a)))
        }
        (ItemKind::Request, "withdraw") => wire::read_reason(&body)
            .map(|reason| AnyStep::Request(RequestStep::Withdraw { reason })),
        (kind, other) => bail!("a {} has no step {other:?}", kind.as_str()),
    };
    step.with_context(|| format!("step {name:?}"))
}

/// One node as the demo drives it: its store, its exchange, its policies, and the liaison officer
/// who acts.
pub struct Side {
    pub party: PartyCode,
    pub store: Arc<dyn Store>,
    pub exchange: Arc<Exchange>,
    pub policy: PolicyEngine,
    pub liaison: User,
}

impl Side {
    fn ctx(&self) -> WriteCtx {
        WriteCtx {
            actor: self.liaison.name.clone(),
            ip: None,
            now: now(),
        }
    }

    /// Asks the node's policies, as the API does for its liaison officer.
    fn authorize(&self, act: Act, resource: &Resource<'_>) -> Result<()> {
        let id = self.liaison.meta.id.to_string();
        let principal = Principal {
            user: &id,
            role: self.liaison.role,
            party: self.party,
            agency: self.liaison.agency.as_deref(),
        };
        match self.policy.authorize(&principal, act, resource) {
            Decision::Allow => Ok(()),
            Decision::Deny(d) => bail!(
                "the {} node's policies refuse to let its liaison officer {} it (rule {})",
                self.party,
                act.as_str(),
                d.rule
            ),
        }
    }
}

/// What the demo exchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Played {
    pub referrals: usize,
    pub requests: usize,
    pub steps: usize,
}

/// Plays `items` between `sides`: sends every item, then takes the first step of every item
/// that has one, then the second, and so on, waiting after each round until the other node
/// holds what was sent. Checks at the end that both nodes hold each item in its `ends` state.
pub async fn play(sides: &[&Side], items: &[ScriptedItem]) -> Result<Played> {
    let side = |p: PartyCode| {
        sides
            .iter()
            .copied()
            .find(|s| s.party == p)
            .ok_or_else(|| anyhow!("the demo runs no node of party {p}"))
    };
    let mut played = Played::default();
    let mut ids = Vec::with_capacity(items.len());
    let mut waits = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let s = side(it.from)?;
        let rk = resource_kind(it.kind);
        let me = [s.party];
        let (tlp, persons) = wire::handling_facts(&it.content);
        let owners = [s.party, it.to];
        let resource = |owners| Resource {
            kind: rk,
            id: None,
            owners,
            agency: None,
            tlp: tlp.as_deref(),
            persons,
        };
        s.authorize(Act::Create, &resource(&me[..]))
            .and_then(|()| s.authorize(Act::Release, &resource(&owners[..])))
            .with_context(|| it.name(i))?;
        let out = Outgoing {
            to: it.to,
            kind: match it.kind {
                ItemKind::Referral => MessageKind::Referral,
                ItemKind::Request => MessageKind::Request,
            },
            content: &it.content,
            subtype: &it.subtype,
            urgency: &it.urgency,
            summary: &it.summary,
        };
        let sent = s
            .exchange
            .send_item(&s.ctx(), &out)
            .await
            .with_context(|| format!("sending {}", it.name(i)))?;
        match it.kind {
            ItemKind::Referral => played.referrals += 1,
            ItemKind::Request => played.requests += 1,
        }
        ids.push(sent.item.id);
        waits.push((i, sent.item));
    }
    wait_all(&side, items, waits).await?;

    let rounds = items.iter().map(|it| it.steps.len()).max().unwrap_or(0);
    for round in 0..rounds {
        let mut waits = Vec::new();
        for (i, (it, id)) in items.iter().zip(&ids).enumerate() {
            let Some(step) = it.steps.get(round) else {
                continue;
            };
            let s = side(it.taker(step))?;
            let item = held(s, *id).await?;
            let owners = [item.originator, item.recipient];
            let content: Value = serde_json::from_str(&item.body).unwrap_or(Value::Null);
            let (tlp, persons) = wire::handling_facts(&content);
            let id_text = item.id.to_string();
            s.authorize(
                Act::Update,
                &Resource {
                    kind: resource_kind(it.kind),
                    id: Some(&id_text),
                    owners: &owners,
                    agency: item.state.agency.as_deref(),
                    tlp: tlp.as_deref(),
                    persons,
                },
            )
            .with_context(|| it.name(i))?;
            let sent = s
                .exchange
                .send_step(&s.ctx(), &item, step.clone())
                .await
                .with_context(|| format!("step {} of {}", round + 1, it.name(i)))?;
            played.steps += 1;
            waits.push((i, sent.item));
        }
        wait_all(&side, items, waits).await?;
    }

    for (i, (it, id)) in items.iter().zip(&ids).enumerate() {
        for p in [it.from, it.to] {
            let got = ends_as(&held(side(p)?, *id).await?.state);
            if got != it.ends {
                bail!(
                    "{} ended {got} on the {p} node, not {} as {SOURCE} says",
                    it.name(i),
                    it.ends
                );
            }
        }
    }
    Ok(played)
}

/// The item `id` as `side` holds it.
async fn held(side: &Side, id: Uuid) -> Result<ExchangeItem> {
    side.store
        .get_item(id)
        .await
        .with_context(|| format!("reading item {id} on the {} node", side.party))?
        .ok_or_else(|| anyhow!("the {} node does not hold item {id}", side.party))
}

/// Waits until, for each `(index, item as its sender now holds it)`, the other node holds the
/// item with as many steps and in the same state.
async fn wait_all<'a>(
    side: &impl Fn(PartyCode) -> Result<&'a Side>,
    items: &[ScriptedItem],
    sent: Vec<(usize, ExchangeItem)>,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    for (i, mine) in sent {
        let it = &items[i];
        // Whoever took the last step sent it; with no step yet, the item's sender.
        let sender = mine.steps.last().map_or(it.from, |s| s.by);
        let receiver = side(if sender == it.from { it.to } else { it.from })?;
        loop {
            if let Some(theirs) = receiver.store.get_item(mine.id).await? {
                if theirs.steps.len() == mine.steps.len() {
                    if theirs.state != mine.state {
                        bail!(
                            "{}: the {} node holds it {}, the {} node {}",
                            it.name(i),
                            sender,
                            ends_as(&mine.state),
                            receiver.party,
                            ends_as(&theirs.state)
                        );
                    }
                    break;
                }
            }
            if tokio::time::Instant::now() > deadline {
                let why = side(sender)?
                    .store
                    .peer(receiver.party)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|p| p.last_error)
                    .map_or_else(String::new, |e| format!(" (last delivery error: {e})"));
                bail!(
                    "the {} node did not receive {} from the {} node within {} s{why}",
                    receiver.party,
                    it.name(i),
                    sender,
                    DELIVERY_TIMEOUT.as_secs()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_script_reads_and_shows_every_state_both_ways() {
        let items = parse(DEMO_EXCHANGE_TOML).unwrap();
        let referral_states = [
            "sent",
            "acknowledged",
            "assigned",
            "closed/acted",
            "closed/no-trace",
            "closed/declined",
            "withdrawn",
        ];
        let request_states = ["asked", "answered/found", "answered/not-found"];
        for (from, to) in [
            (PartyCode::US, PartyCode::MX),
            (PartyCode::MX, PartyCode::US),
        ] {
            for (kind, states) in [
                (ItemKind::Referral, &referral_states[..]),
                (ItemKind::Request, &request_states[..]),
            ] {
                let got: BTreeSet<&str> = items
                    .iter()
                    .filter(|i| i.kind == kind && i.from == from && i.to == to)
                    .map(|i| i.ends.as_str())
                    .collect();
                let want: BTreeSet<&str> = states.iter().copied().collect();
                assert_eq!(got, want, "{kind:?} {from} → {to}");
            }
        }
        // Everything is marked fictional.
        for it in &items {
            assert!(
                it.summary.contains("(Fictional)") || it.summary.contains("(Ficticio)"),
                "{}",
                it.summary
            );
        }
    }

    #[test]
    fn bad_steps_and_parties_are_named() {
        let text = DEMO_EXCHANGE_TOML.replacen("step = \"assign\"", "step = \"reassign\"", 1);
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("reassign") && err.contains(SOURCE), "{err}");
        let text = DEMO_EXCHANGE_TOML.replacen("to = \"MX\"", "to = \"US\"", 1);
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("itself"), "{err}");
    }
}
