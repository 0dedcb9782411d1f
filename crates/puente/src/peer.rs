//! `puente peer export | add | list`: how two parties' administrators make their nodes recognise
//! each other. Each exports its node's signed peer card and sends the file to the other; each
//! adds the other's card after comparing, out of band (read over the phone), the signing-key
//! fingerprint it prints with the one the other party reads out. The card's self-signature
//! proves only possession of the key, so that comparison is what establishes identity.

use std::io::{Read as _, Write as _};
use std::path::Path;

use anyhow::{Context, Result, bail};
use puente_exchange::card::{Endpoint, MAX_CARD_LEN, PeerCard};
use puente_exchange::keys::NodePublicKey;
use puente_store::{NewPeer, Peer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::{NodeArgs, PeerAddArgs, PeerExportArgs};
use crate::config::NodeDir;
use crate::identity::NodeIdentity;
use crate::node::{cli_ctx, now, open_store};

/// Prints this node's card, signed now, exactly as the file the other party needs (nothing
/// else goes to stdout, so `puente peer export … > us.card` makes the file).
pub async fn export(args: PeerExportArgs) -> Result<()> {
    let node = NodeDir::load(&args.node.dir)?;
    let identity = NodeIdentity::load(&node)?;
    let endpoint = match &args.endpoint {
        Some(text) => Endpoint::parse(text)
            .with_context(|| format!("--endpoint {text:?} is not https://host:port"))?,
        None => node.federation.endpoint.clone(),
    };
    // An unspecified address parses as an endpoint but no peer can connect to it.
    if endpoint
        .host()
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
    {
        bail!(
            "the endpoint {endpoint} is not an address peers can reach: set `endpoint` in the \
             [federation] table of puente.toml, or pass --endpoint"
        );
    }
    let card = identity.card(node.party, endpoint, now())?;
    let mut out = std::io::stdout().lock();
    out.write_all(card.to_text().as_bytes())
        .and_then(|()| out.flush())
        .context("writing to standard output")?;
    Ok(())
}

/// Reads a card file, or standard input for `-`, refusing anything longer than a card can be.
fn read_card(path: &Path) -> Result<String> {
    let name = if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_CARD_LEN + 1).unwrap_or(u64::MAX);
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)
            .context("reading the peer card from standard input")?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .with_context(|| format!("reading the peer card {name}"))?;
    }
    if bytes.len() > MAX_CARD_LEN {
        bail!("{name} is not a peer card: it is longer than {MAX_CARD_LEN} bytes");
    }
    String::from_utf8(bytes).with_context(|| format!("{name} is not a peer card: not UTF-8 text"))
}

pub async fn add(args: PeerAddArgs) -> Result<()> {
    let node = NodeDir::load(&args.node.dir)?;
    let text = read_card(&args.card)?;
    let source = if args.card == Path::new("-") {
        "standard input".to_owned()
    } else {
        args.card.display().to_string()
    };
    let card = PeerCard::parse_and_verify(&text)
        .with_context(|| format!("{source} is not a valid peer card; nothing was added"))?;
    if card.party() == node.party {
        bail!(
            "{source} is a card of party {}, this node's own party: add the other party's card",
            card.party()
        );
    }
    let store = open_store(node.database_url(args.node.database.as_deref()), &node.dir).await?;
    let existing = store
        .peer(card.party())
        .await
        .context("looking up the peer")?;

    say!("peer card of party {} (signature verified)", card.party());
    say!("  endpoint          {}", card.endpoint());
    say!("  signing key       {}", card.key_fingerprint());
    say!("  TLS certificate   {}", card.tls_cert_sha256());
    say!("  issued            {}", format_time(card.issued()));
    say!(
        "Compare the signing key's fingerprint with the one {}'s administrator reads out to you: \
         only that shows the card is theirs.",
        card.party()
    );

    if let Some(old) = &existing {
        if old.card == text {
            say!(
                "peer {} already holds this card: nothing changed",
                card.party()
            );
            return Ok(());
        }
        if old.signing_key != card.signing_key().to_string() {
            say!(
                "warning: the signing key changed (it was {})",
                key_fingerprint(&old.signing_key)
            );
        }
        if old.tls_fingerprint != card.tls_cert_sha256().to_string() {
            say!(
                "warning: the TLS certificate changed (it was {})",
                old.tls_fingerprint
            );
        }
    }
    let new = NewPeer {
        party: card.party(),
        endpoint: card.endpoint().to_string(),
        signing_key: card.signing_key().to_string(),
        tls_fingerprint: card.tls_cert_sha256().to_string(),
        card: text,
    };
    store
        .put_peer(&cli_ctx(now()), &new)
        .await
        .with_context(|| format!("storing peer {}", card.party()))?;
    match existing {
        None => say!("peer {} added", card.party()),
        Some(old) => say!(
            "peer {} updated: its card (added {}) is replaced; sequence numbers and history stay",
            card.party(),
            format_time(old.added_at)
        ),
    }
    Ok(())
}

pub async fn list(args: NodeArgs) -> Result<()> {
    let node = NodeDir::load(&args.dir)?;
    let store = open_store(node.database_url(args.database.as_deref()), &node.dir).await?;
    let peers = store.list_peers().await.context("listing peers")?;
    if peers.is_empty() {
        say!("no peers: add one with `puente peer add FILE`");
    }
    for p in &peers {
        print_peer(p)?;
    }
    Ok(())
}

fn print_peer(p: &Peer) -> Result<()> {
    say!("{}  {}", p.party, p.endpoint);
    say!("  signing key       {}", key_fingerprint(&p.signing_key));
    say!("  TLS certificate   {}", p.tls_fingerprint);
    match p.oldest_undelivered_at {
        Some(at) if p.backlog > 0 => say!(
            "  backlog           {} undelivered (oldest sealed {})",
            p.backlog,
            format_time(at)
        ),
        _ => say!("  backlog           {} undelivered", p.backlog),
    }
    say!(
        "  last contact      {}",
        p.last_contact_at
            .map_or_else(|| "never".to_owned(), format_time)
    );
    // The error text comes from the network (a peer's answer); show it on one line.
    say!(
        "  last error        {}",
        p.last_error
            .as_deref()
            .map_or_else(|| "none".to_owned(), |e| e.escape_debug().to_string())
    );
    Ok(())
}

/// The fingerprint of a stored `ed25519:` key, or a note that it is unreadable (the list should
/// still show the other peers).
fn key_fingerprint(key: &str) -> String {
    NodePublicKey::parse(key).map_or_else(
        |_| "(unreadable key in the database)".to_owned(),
        |k| k.fingerprint(),
    )
}

fn format_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}
