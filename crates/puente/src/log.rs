//! `puente log`: the exchange log for auditors — `export` writes a node's log of its exchange
//! with a peer, every checkpoint and cosignature included, as a bundle; `verify` checks a
//! bundle or a dispute file offline (no database, no network) and names the first thing wrong;
//! `disputes` and `dispute` list and export what this node found wrong with its peers' logs.
//!
//! `verify` exits like `audit verify`: 0 verified, 1 not, 2 the check could not be made.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use puente_domain::PartyCode;
use puente_exchange::envelope::Envelope;
use puente_exchange::keys::NodePublicKey;
use puente_log::bundle::{BUNDLE_VERSION, BundleWriter, parse_origin, verify_bundle};
use puente_log::dispute::{Dispute, verify_dispute};
use puente_log::note::VerifierKey;
use puente_log::{cosigner_name, origin};
use uuid::Uuid;

use crate::cli::{DisputeArgs, LogExportArgs, LogVerifyArgs, NodeArgs};
use crate::config::NodeDir;
use crate::identity::NodeIdentity;
use crate::node::open_store;

/// Leaves read from the store at a time.
const PAGE: u32 = 10_000;

pub async fn export(args: LogExportArgs) -> Result<()> {
    let node = NodeDir::load(&args.node.dir)?;
    let peer =
        PartyCode::parse(&args.peer).map_err(|_| anyhow!("{:?} is not a party code", args.peer))?;
    let store = open_store(node.database_url(args.node.database.as_deref()), &node.dir).await?;
    let registered = store
        .peer(peer)
        .await
        .context("reading the peer")?
        .ok_or_else(|| anyhow!("{peer} is not a registered peer of this node"))?;
    let identity = NodeIdentity::load_from(&node.dir)?;
    let origin = origin(node.party, peer);
    let log_key = VerifierKey::ed25519(&origin, &identity.key.public().to_bytes())?;
    let peer_public = NodePublicKey::parse(&registered.signing_key)?;
    let cosigner = VerifierKey::cosigner(&cosigner_name(peer), &peer_public.to_bytes())?;
    // What the log holds now; entries appended while exporting wait for the next export.
    let size = store.log_state(peer, true).await?.map_or(0, |l| l.size());
    let stdout = std::io::stdout();
    let mut out = BundleWriter::new(
        std::io::BufWriter::new(stdout.lock()),
        &origin,
        &log_key,
        &cosigner,
    )?;
    let mut checkpoints = store
        .checkpoints(&origin, 1, PAGE)
        .await?
        .into_iter()
        .peekable();
    let mut written = 0u64;
    while written < size {
        let want = u32::try_from((size - written).min(u64::from(PAGE))).unwrap_or(PAGE);
        let leaves = store.log_leaves(&origin, written, want).await?;
        if leaves.is_empty() {
            bail!("the log has {written} leaves, not the {size} it counts");
        }
        for (index, leaf) in leaves {
            if index != written {
                bail!("leaf {written} is missing from the log");
            }
            out.leaf(&leaf.to_data())?;
            written += 1;
            while let Some(c) = checkpoints.peek() {
                if c.size > written {
                    break;
                }
                if c.size == written {
                    out.checkpoint(&c.note)?;
                }
                checkpoints.next();
                if checkpoints.peek().is_none() {
                    checkpoints = store
                        .checkpoints(&origin, written + 1, PAGE)
                        .await?
                        .into_iter()
                        .peekable();
                }
            }
        }
    }
    out.finish()?;
    Ok(())
}

pub fn verify(args: LogVerifyArgs) -> Result<ExitCode> {
    let input: Box<dyn Read> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(&args.file)
                .with_context(|| format!("opening {}", args.file.display()))?,
        )
    };
    let mut input = BufReader::new(input);
    let mut first = String::new();
    input.read_line(&mut first).context("reading the file")?;
    if first.trim_end_matches('\n') == BUNDLE_VERSION {
        return verify_a_bundle(first, input, args.peer_key.as_deref());
    }
    let mut text = first;
    input
        .read_to_string(&mut text)
        .context("reading the file")?;
    verify_a_dispute(&text, args.peer_key.as_deref())
}

/// The cosigner key from `--peer-key`: a verifier key as is, or the peer's `ed25519:` public key
/// under the cosigner name of `peer`.
fn cosigner_key(text: &str, peer: PartyCode) -> Result<VerifierKey> {
    if text.starts_with("ed25519:") {
        let public = NodePublicKey::parse(text).context("--peer-key")?;
        return Ok(VerifierKey::cosigner(
            &cosigner_name(peer),
            &public.to_bytes(),
        )?);
    }
    VerifierKey::parse(text).context("--peer-key is neither ed25519:… nor a verifier key")
}

fn verify_a_bundle(first: String, rest: impl BufRead, peer_key: Option<&str>) -> Result<ExitCode> {
    // The peer is named by the origin on the second line; read it to build the key.
    let mut rest = rest;
    let mut second = String::new();
    rest.read_line(&mut second).context("reading the file")?;
    let peer = second
        .trim_end_matches('\n')
        .strip_prefix("origin ")
        .and_then(parse_origin)
        .map(|(_, peer)| peer);
    let key = match (peer_key, peer) {
        (Some(k), Some(peer)) => Some(cosigner_key(k, peer)?),
        _ => None,
    };
    let whole = std::io::Cursor::new(format!("{first}{second}")).chain(rest);
    match verify_bundle(whole, key.as_ref()) {
        Ok(r) => {
            say!(
                "log ok: {} — {} entries, {} checkpoints, {} cosigned{}",
                r.origin,
                r.leaves,
                r.checkpoints,
                r.cosigned,
                r.last_cosigned_size
                    .map_or(String::new(), |s| format!(" (the last at size {s})"))
            );
            if !r.cosigner_key_given {
                say!(
                    "note: cosignatures were checked against the key the bundle names; pass \
                     --peer-key with the peer's key from its card to check them against a key \
                     you trust"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            say!("log NOT ok: {problem}");
            Ok(ExitCode::from(1))
        }
    }
}

fn verify_a_dispute(text: &str, peer_key: Option<&str>) -> Result<ExitCode> {
    let d = Dispute::from_json(text)
        .map_err(|e| anyhow!("the file is neither a log bundle nor a dispute file: {e}"))?;
    let (owner, _) =
        parse_origin(&d.log).ok_or_else(|| anyhow!("{:?} is not a puente log", d.log))?;
    let log_key = VerifierKey::parse(&d.log_key).context("the dispute's log key")?;
    if let Some(k) = peer_key {
        let given =
            NodePublicKey::parse(k).context("--peer-key (the accused node's ed25519: key)")?;
        if given.to_bytes() != log_key.public_key() {
            say!("dispute NOT verified: the log key in the file is not the key given");
            return Ok(ExitCode::from(1));
        }
    }
    match verify_dispute(&d) {
        Ok(report) => {
            say!(
                "dispute verified: {} raised by {} at {}",
                d.kind.as_str(),
                d.raised_by,
                d.raised_at
            );
            say!("proven: {}", report.proven);
            if let Some(envelope) = &d.envelope {
                match envelope_finding(envelope, owner, &log_key) {
                    Ok(line) => say!("{line}"),
                    Err(e) => {
                        say!("dispute NOT verified: the envelope in the file: {e}");
                        return Ok(ExitCode::from(1));
                    }
                }
            }
            if let Some(stated) = report.stated {
                say!("stated by {}: {stated}", d.raised_by);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            say!("dispute NOT verified: {problem}");
            Ok(ExitCode::from(1))
        }
    }
}

/// What the envelope in a dispute file shows: one the log's owner signed is checked with its
/// key; one the raiser sent is named (its acknowledgement is the raiser's statement).
fn envelope_finding(b64: &str, owner: PartyCode, log_key: &VerifierKey) -> Result<String> {
    let bytes = B64.decode(b64).context("not base64")?;
    let envelope = Envelope::from_signed_bytes(&bytes, usize::MAX)?;
    let header = envelope.unverified_header()?;
    let summary = format!(
        "envelope {} ({} → {}, seq {}, {})",
        header.id(),
        header.sender(),
        header.recipient(),
        header.seq(),
        header.message_type()
    );
    if header.sender() == owner {
        let key = NodePublicKey::from_bytes(log_key.public_key())?;
        envelope.open(&key)?;
        Ok(format!("proven: {summary} is signed by {owner}"))
    } else {
        Ok(format!("{summary} is the raiser's own"))
    }
}

pub async fn disputes(args: NodeArgs) -> Result<()> {
    let node = NodeDir::load(&args.dir)?;
    let store = open_store(node.database_url(args.database.as_deref()), &node.dir).await?;
    let all = store.disputes(1_000).await?;
    if all.is_empty() {
        say!("no disputes");
    }
    for d in all {
        say!(
            "{}  {}  {}  {}  {}: {}",
            d.id,
            puente_log::leaf::format_time(d.raised_at),
            d.peer,
            d.kind,
            d.subject,
            d.detail
        );
    }
    Ok(())
}

pub async fn dispute(args: DisputeArgs) -> Result<()> {
    let node = NodeDir::load(&args.node.dir)?;
    let store = open_store(node.database_url(args.node.database.as_deref()), &node.dir).await?;
    let id = Uuid::parse_str(&args.id).map_err(|_| anyhow!("{:?} is not a dispute id", args.id))?;
    let d = store
        .dispute(id)
        .await?
        .ok_or_else(|| anyhow!("no dispute {id}"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(d.evidence.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .context("writing to standard output")?;
    Ok(())
}
