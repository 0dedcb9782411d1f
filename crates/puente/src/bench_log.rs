//! `puente bench log`: what the exchange log costs and how fast it proves.
//!
//! 1. **Append through the node's write path**: a US node on SQLite (`synchronous=FULL`) sends
//!    `--appends` referrals to a registered MX in groups of 256 through `Store::send_batch` —
//!    per referral its item, envelope (about 1 KiB, made up: nothing is signed here), audit entry
//!    and log leaf, each group one commit and one fsync. Entries per second, durable.
//! 2. **Proofs at size**: a log of each `--sizes` (synthetic leaves, appended 100,000 per
//!    transaction — the append rate of the log alone, durable, is reported too); then
//!    `--proofs` inclusion proofs of random leaves under the whole tree and as many
//!    consistency proofs between a random smaller size and the whole, each built from the
//!    store as the API builds them (stored subtree heads, and the leaf hashes of the blocks of
//!    16 involved) and verified against the tree head. p50 and p99 per proof.
//!
//! The cosigning round trip and the exchange's throughput with the log are measured by
//! `puente bench exchange` (two real nodes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use puente_domain::PartyCode;
use puente_exchange::tlog::range_heads;
use puente_log::merkle;
use puente_store::sqlite::SqliteStore;
use puente_store::{ItemKind, JobEffect, NewItem, NewPeer, SealedEnvelope, SendJob, Store};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::bench::{BenchDir, percentile};
use crate::cli::BenchLogArgs;
use crate::init::init_node;
use crate::node::cli_ctx;

const GOAL_PROOF: Duration = Duration::from_millis(1);

fn now() -> OffsetDateTime {
    crate::node::now()
}

fn mx_peer() -> NewPeer {
    NewPeer {
        party: PartyCode::MX,
        endpoint: "https://mx.invalid:7401".to_owned(),
        signing_key: "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".to_owned(),
        tls_fingerprint: "0".repeat(64),
        card: "bench".to_owned(),
    }
}

/// A made-up sealed envelope of about 1 KiB (the store checks its seq and hash, not its form).
fn envelope(id: Uuid, seq: u64) -> SealedEnvelope {
    let signed = format!(
        "puente-bench-envelope\nid {id}\nseq {seq}\n{}",
        "x".repeat(960)
    );
    SealedEnvelope {
        id,
        seq,
        message_type: "referral".to_owned(),
        time: now(),
        hash: Sha256::digest(signed.as_bytes()).into(),
        signed,
    }
}

fn job(i: u64) -> SendJob {
    let id = Uuid::now_v7();
    SendJob {
        ctx: cli_ctx(now()),
        to: PartyCode::MX,
        effect: JobEffect::NewItem(NewItem {
            id,
            kind: ItemKind::Referral,
            originator: PartyCode::US,
            recipient: PartyCode::MX,
            subtype: "arms-trafficking".to_owned(),
            urgency: "routine".to_owned(),
            summary: format!("bench {i}"),
            body: format!("{{\"summary\":\"bench {i}\"}}"),
            sent_at: now(),
        }),
        seal: Box::new(move |seq| Ok(envelope(id, seq))),
    }
}

/// xorshift64*: random enough to pick leaves, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

struct Proofs {
    size: u64,
    fill_secs: f64,
    inclusion: (Duration, Duration),
    consistency: (Duration, Duration),
    db_bytes: u64,
}

pub async fn log(args: BenchLogArgs) -> Result<()> {
    ensure!(args.appends >= 256, "--appends must be 256 or more");
    ensure!(args.proofs >= 10, "--proofs must be 10 or more");
    let dir = BenchDir::new(args.dir.clone())?;
    std::fs::create_dir_all(&dir.path)
        .with_context(|| format!("creating {}", dir.path.display()))?;
    eprintln!("bench: log in {}", dir.path.display());

    // 1. Through the node's write path.
    let node = init_node(&dir.path.join("US"), PartyCode::US, None).await?;
    let store: Arc<dyn Store> = node.store;
    store.put_peer(&cli_ctx(now()), &mx_peer()).await?;
    eprintln!("bench: {} referrals through send_batch", args.appends);
    let started = Instant::now();
    let mut sent = 0;
    while sent < args.appends {
        let n = (args.appends - sent).min(256);
        for r in store
            .send_batch((sent..sent + n).map(job).collect())
            .await?
        {
            r.context("a send of the group failed")?;
        }
        sent += n;
    }
    let appends_secs = started.elapsed().as_secs_f64();
    let state = store
        .log_state(PartyCode::MX, true)
        .await?
        .context("the log was not created")?;
    ensure!(
        state.size() == args.appends,
        "the log holds {} leaves",
        state.size()
    );

    // 2. Proofs at each size, on a database of its own.
    let mut results = Vec::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for &size in &args.sizes {
        eprintln!("bench: a log of {size} leaves");
        let path = dir.path.join(format!("log-{size}"));
        let node = init_node(&path, PartyCode::US, None).await?;
        node.store.put_peer(&cli_ctx(now()), &mx_peer()).await?;
        drop(node);
        let sqlite = SqliteStore::open(&path.join("puente.db")).await?;
        let filled = Instant::now();
        let got = sqlite
            .bench_fill_log(PartyCode::MX, size, 100_000, now())
            .await?;
        let fill_secs = filled.elapsed().as_secs_f64();
        ensure!(got == size, "filled {got} leaves, not {size}");
        let store: &dyn Store = &sqlite;
        let state = store
            .log_state(PartyCode::MX, true)
            .await?
            .context("the log was not created")?;
        let root = state.root();
        let origin = state.origin.clone();
        let mut inclusion = Vec::with_capacity(args.proofs);
        for _ in 0..args.proofs {
            let index = rng.below(size);
            let t = Instant::now();
            let ranges = merkle::inclusion_ranges(index, size)?;
            let proof = range_heads(store, &origin, &ranges).await?;
            let took = t.elapsed();
            let leaf = store
                .log_leaves(&origin, index, 1)
                .await?
                .pop()
                .context("a leaf is missing")?
                .1;
            if merkle::verify_inclusion(&leaf.hash(), index, size, &proof, &root).is_err() {
                bail!("the inclusion proof of leaf {index} does not verify");
            }
            inclusion.push(took);
        }
        let mut consistency = Vec::with_capacity(args.proofs);
        for _ in 0..args.proofs {
            let first = 1 + rng.below(size - 1);
            let t = Instant::now();
            let ranges = merkle::consistency_ranges(first, size)?;
            let proof = range_heads(store, &origin, &ranges).await?;
            let took = t.elapsed();
            let first_root = merkle::fold(
                &store
                    .log_subtree_heads(&origin, &merkle::subtrees(0, first))
                    .await?,
            );
            if merkle::verify_consistency(first, size, &proof, &first_root, &root).is_err() {
                bail!("the consistency proof from {first} does not verify");
            }
            consistency.push(took);
        }
        inclusion.sort();
        consistency.sort();
        let db_bytes = std::fs::metadata(path.join("puente.db"))
            .map(|m| m.len())
            .unwrap_or(0);
        sqlite.close().await;
        results.push(Proofs {
            size,
            fill_secs,
            inclusion: (percentile(&inclusion, 50.0), percentile(&inclusion, 99.0)),
            consistency: (
                percentile(&consistency, 50.0),
                percentile(&consistency, 99.0),
            ),
            db_bytes,
        });
    }
    report(&args, appends_secs, &results);
    Ok(())
}

fn report(args: &BenchLogArgs, appends_secs: f64, results: &[Proofs]) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("## puente bench log — SQLite, durable commits\n");
    println!(
        "Through the node's write path: {} referrals sent in groups of 256 (item, envelope, audit \
         entry and log leaf each; one commit per group) in {appends_secs:.1} s: **{:.0} entries/s**.\n",
        args.appends,
        args.appends as f64 / appends_secs.max(f64::EPSILON)
    );
    println!(
        "| log size | appended (log only, 100,000 per commit) | inclusion proof p50 / p99 | \
         consistency proof p50 / p99 | database |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for r in results {
        println!(
            "| {} | {:.0} leaves/s | {:.0} / **{:.0} µs** | {:.0} / **{:.0} µs** | {:.0} MiB |",
            r.size,
            r.size as f64 / r.fill_secs.max(f64::EPSILON),
            us(r.inclusion.0),
            us(r.inclusion.1),
            us(r.consistency.0),
            us(r.consistency.1),
            r.db_bytes as f64 / 1_048_576.0
        );
    }
    println!(
        "\n{} proofs of each kind per size, every one verified against the tree head.\n",
        args.proofs
    );
    println!("Goals:");
    for r in results {
        let worst = r.inclusion.1.max(r.consistency.1);
        println!(
            "- proofs at {} entries p99 {:.0} µs < {:.0} µs — {}",
            r.size,
            us(worst),
            us(GOAL_PROOF),
            if worst < GOAL_PROOF { "met" } else { "NOT met" }
        );
    }
}
