//! `puente bench exchange`: how many referrals two real nodes exchange per second, and how long
//! one takes from its creation at the sender to its receipt being durable back at the sender.
//!
//! Two nodes (US and MX) are initialised on SQLite in a temporary directory, started as two
//! `puente serve` child processes on loopback, and peered with cards for their real federation
//! ports. A US liaison officer's API token drives `POST /api/v1/referrals`:
//!
//! 1. **Throughput**: `--clients` concurrent clients create referrals as fast as the node takes
//!    them for `--throughput-seconds`; then the bench waits until US's outbox to MX is empty.
//!    Sustained throughput is the number created divided by the time from the first creation to
//!    the last receipt stored at US — every referral counted is durable at MX and its receipt
//!    durable at US.
//! 2. **Latency**: an open loop at `--rate` referrals/s for `--seconds` (after `--warmup`):
//!    referral `i` is due at `start + i / rate`; its end-to-end latency runs from that due
//!    instant to the `delivered_at` US stored with its receipt (read from US's database once the
//!    outbox is empty), so a stall anywhere — API, commit, delivery, the receiver, the receipt —
//!    shows up.
//!
//! 3. **Catch-up**: the receiving node is stopped, `--backlog` referrals are created at the
//!    sender (they wait in its outbox), and the receiver is started again on the same address;
//!    the time from its start to the last receipt stored at the sender gives the rate at which
//!    a peer that was down is caught up — the exchange alone, without the API's work beside it.
//!
//! Peak RSS of each server comes from `/proc/PID/status`. Both nodes, the load generator and
//! every fsync share this machine's cores and disk.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use puente_domain::{PartyCode, Role};
use puente_exchange::card::Endpoint;
use puente_store::{Direction, NewPeer, Stream};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::bench::{BenchDir, Server, ms, percentile, process_cpu_time, settle};
use crate::cli::BenchExchangeArgs;
use crate::config::NodeDir;
use crate::identity::NodeIdentity;
use crate::init::init_node;
use crate::node::{cli_ctx, now, open_store};
use crate::token::create_token;
use crate::user::create_user;

const GOAL_THROUGHPUT: f64 = 5_000.0;
const GOAL_P99_MS: f64 = 25.0;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

pub async fn exchange(args: BenchExchangeArgs) -> Result<()> {
    ensure!((1..=20_000).contains(&args.rate), "--rate must be 1–20000");
    ensure!(
        (1..=3_600).contains(&args.seconds),
        "--seconds must be 1–3600"
    );
    ensure!(
        (1..=1_024).contains(&args.clients),
        "--clients must be 1–1024"
    );
    let dir = BenchDir::new(args.dir.clone())?;
    std::fs::create_dir_all(&dir.path)
        .with_context(|| format!("creating {}", dir.path.display()))?;
    eprintln!("bench: two nodes in {}", dir.path.display());

    let us_dir = dir.path.join("US");
    let mx_dir = dir.path.join("MX");
    let token = {
        let us = init_node(&us_dir, PartyCode::US, None).await?;
        init_node(&mx_dir, PartyCode::MX, None).await?;
        let password = puente_web::password::generate();
        let officer = create_user(
            &us.store,
            PartyCode::US,
            "bench-liaison",
            Role::LiaisonOfficer,
            None,
            &password,
        )
        .await?;
        create_token(&us.store, &officer, "bench").await?
    };

    let mut us = Server::start(&us_dir)?;
    let mut mx = Server::start(&mx_dir)?;
    peer(&us_dir, PartyCode::US, &us.federation, &mx_dir).await?;
    peer(&mx_dir, PartyCode::MX, &mx.federation, &us_dir).await?;
    let settled = settle().await;

    let base = format!("http://{}", us.addr);
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(args.clients)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let outcome = async {
        // A first referral proves the path end to end before anything is measured.
        let first = create(&client, &base, &token, "warm-up 0").await?;
        drain(&client, &base, &token).await?;
        eprintln!("bench: the first referral ({first}) made the round trip");
        let throughput = throughput(&client, &base, &token, &args, [&us, &mx]).await?;
        // The latency phase starts from a steady state, not in the wake of the burst: both
        // nodes copying its WAL into their database files, the kernel writing it back.
        let calm = settle().await;
        eprintln!(
            "bench: {} after the throughput phase",
            calm.map_or("not quiet".to_owned(), |d| format!(
                "quiet after {:.0} s",
                d.as_secs_f64()
            ))
        );
        let mut latency = latency(&client, &base, &token, &args, &us_dir).await?;
        latency.calm = calm;
        latency.cosign = cosign_round_trips(&us_dir).await?;
        let rss = (us.peak_rss_kib(), mx.peak_rss_kib());
        let catch_up = if args.backlog > 0 {
            Some(catch_up(&client, &base, &token, &args, &mut mx, &mx_dir).await?)
        } else {
            None
        };
        Ok::<_, anyhow::Error>((throughput, latency, catch_up, rss))
    }
    .await;
    us.stop();
    mx.stop();
    let (throughput, latency, catch_up, (us_rss, mx_rss)) = outcome?;
    report(
        &args,
        &throughput,
        &latency,
        catch_up.as_ref(),
        us_rss,
        mx_rss,
        settled,
    );
    Ok(())
}

struct CatchUp {
    queued: u64,
    /// From MX's start to the first receipt at US: the delivery worker's retry wait.
    first_secs: f64,
    /// From the first receipt to the last, and how many the first receipt left.
    drain_secs: f64,
    left_after_first: u64,
}

/// Stops MX, queues `--backlog` referrals at US, starts MX again on its federation address and
/// times how long US takes to hold a receipt for all of them.
async fn catch_up(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    args: &BenchExchangeArgs,
    mx: &mut Server,
    mx_dir: &std::path::Path,
) -> Result<CatchUp> {
    eprintln!(
        "bench: catch-up — {} referrals queued while MX is down",
        args.backlog
    );
    let federation = mx
        .federation
        .strip_prefix("https://")
        .map(str::to_owned)
        .context("MX's federation address")?;
    mx.stop();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let addr = base.strip_prefix("http://").unwrap_or(base).to_owned();
    for _ in 0..args.clients {
        let (addr, token, next) = (addr.clone(), token.to_owned(), next.clone());
        let total = u64::from(args.backlog);
        tasks.push(tokio::spawn(async move {
            let mut creator = Creator::connect(&addr, &token).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                creator.create(&format!("catch-up {i}")).await?;
            }
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| anyhow!("a client task failed: {e}"))??;
    }
    let queued = backlog(client, base, token).await?;
    let start = Instant::now();
    *mx = Server::start_on(mx_dir, &federation)?;
    // The worker has been backing off while MX was down; the first receipt ends its wait.
    let (first, left_after_first) = loop {
        let left = backlog(client, base, token).await?;
        if left < queued {
            break (Instant::now(), left);
        }
        if start.elapsed() > DRAIN_TIMEOUT {
            bail!("MX took no delivery in {} s", DRAIN_TIMEOUT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let drained = drain(client, base, token).await?;
    Ok(CatchUp {
        queued,
        first_secs: first.duration_since(start).as_secs_f64(),
        drain_secs: drained.duration_since(first).as_secs_f64(),
        left_after_first,
    })
}

/// US's checkpoints of its log with MX, read from its database: how many, how many cosigned,
/// and the round trip from making one to storing MX's cosignature.
async fn cosign_round_trips(
    us_dir: &std::path::Path,
) -> Result<(usize, usize, Duration, Duration)> {
    let node = NodeDir::load(us_dir)?;
    let store = open_store(node.database_url(None), &node.dir).await?;
    let origin = puente_log::origin(PartyCode::US, PartyCode::MX);
    let mut all = Vec::new();
    let mut from = 1;
    loop {
        let page = store.checkpoints(&origin, from, 1_000).await?;
        let Some(last) = page.last() else { break };
        from = last.size + 1;
        all.extend(page);
    }
    let mut trips: Vec<Duration> = all
        .iter()
        .filter_map(|c| {
            let took = c.cosigned_at? - c.made_at;
            Duration::try_from(took).ok()
        })
        .collect();
    trips.sort();
    Ok((
        all.len(),
        trips.len(),
        percentile(&trips, 50.0),
        percentile(&trips, 99.0),
    ))
}

/// US's backlog to MX, from its peers page.
async fn backlog(client: &reqwest::Client, base: &str, token: &str) -> Result<u64> {
    let peers: Value = client
        .get(format!("{base}/api/v1/peers"))
        .bearer_auth(token)
        .send()
        .await
        .context("reading the peers")?
        .json()
        .await
        .context("reading the peers")?;
    peers[0]["backlog"]
        .as_u64()
        .ok_or_else(|| anyhow!("the peers page has no backlog: {peers}"))
}

/// Registers `from`'s card (for its running federation listener) at the node in `at`.
async fn peer(
    from: &std::path::Path,
    party: PartyCode,
    endpoint: &str,
    at: &std::path::Path,
) -> Result<()> {
    let identity = NodeIdentity::load_from(from)?;
    let endpoint = Endpoint::parse(endpoint).context("the announced federation endpoint")?;
    let card = identity.card(party, endpoint, now())?;
    let node = NodeDir::load(at)?;
    let store = open_store(node.database_url(None), &node.dir).await?;
    store
        .put_peer(
            &cli_ctx(now()),
            &NewPeer {
                party: card.party(),
                endpoint: card.endpoint().to_string(),
                signing_key: card.signing_key().to_string(),
                tls_fingerprint: card.tls_cert_sha256().to_string(),
                card: card.to_text(),
            },
        )
        .await
        .context("registering the peer")?;
    drop(store);
    Ok(())
}

fn referral(summary: &str) -> Value {
    json!({
        "to": "MX",
        "kind": "arms-trafficking",
        "urgency": "flash",
        "lang": "en",
        "summary": summary,
        "details": "Fictional benchmark data.",
        "locations": [{"lat": 31.78, "lon": -106.68, "place": "Santa Teresa"}],
        "entities": [
            {"type": "vehicle", "plate": "ABC-123-X", "make": "Ford", "colour": "white"},
            {"type": "firearm", "make": "Colt", "model": "M4", "calibre": "5.56", "serial": "FX-0001"}
        ],
        "evaluation": {"reliability": "B", "credibility": "2"},
        "handling": {"tlp": "amber", "may_pass_on": false, "evidence_use": false,
                     "purpose": "Benchmark", "legal_basis": "None: fictional data", "retention_days": 1}
    })
}

/// The part of the 201 answer the bench reads.
#[derive(serde::Deserialize)]
struct Created {
    id: Uuid,
}

/// One client of the load generator: its own keep-alive HTTP/1 connection to US, and the
/// referral body serialised once, around the summary that differs per request.
struct Creator {
    send: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    authorization: hyper::header::HeaderValue,
    host: hyper::header::HeaderValue,
    body: (Vec<u8>, Vec<u8>),
}

impl Creator {
    async fn connect(addr: &str, token: &str) -> Result<Creator> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true).context("setting TCP_NODELAY")?;
        let (send, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .context("the HTTP/1 handshake")?;
        tokio::spawn(conn);
        const MARK: &str = "\u{1}summary\u{1}";
        let template = serde_json::to_string(&referral(MARK)).context("serialising a referral")?;
        let quoted = serde_json::to_string(MARK).context("serialising a referral")?;
        let (before, after) = template
            .split_once(&quoted)
            .context("the referral template has no summary")?;
        Ok(Creator {
            send,
            authorization: format!("Bearer {token}")
                .parse()
                .context("the token as a header")?,
            host: addr.parse().context("the address as a header")?,
            body: (before.as_bytes().to_vec(), after.as_bytes().to_vec()),
        })
    }

    /// Creates one referral over this client's connection; its id.
    async fn create(&mut self, summary: &str) -> Result<Uuid> {
        use http_body_util::BodyExt as _;
        let mut body =
            Vec::with_capacity(self.body.0.len() + summary.len() + self.body.1.len() + 2);
        body.extend_from_slice(&self.body.0);
        serde_json::to_writer(&mut body, summary).context("serialising a summary")?;
        body.extend_from_slice(&self.body.1);
        let request = hyper::Request::post("/api/v1/referrals")
            .header(hyper::header::HOST, self.host.clone())
            .header(hyper::header::AUTHORIZATION, self.authorization.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .context("building a request")?;
        self.send.ready().await.context("the connection to US")?;
        let response = self
            .send
            .send_request(request)
            .await
            .context("sending a referral")?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .context("reading the answer")?
            .to_bytes();
        if status != hyper::StatusCode::CREATED {
            bail!(
                "creating a referral answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        serde_json::from_slice::<Created>(&bytes)
            .map(|c| c.id)
            .map_err(|e| anyhow!("the answer has no id ({e})"))
    }
}

/// Creates one referral; its id. The load generator shares the machine with both nodes, so it
/// does as little as it can: the body is serialised directly and only the id read back.
async fn create(client: &reqwest::Client, base: &str, token: &str, summary: &str) -> Result<Uuid> {
    let body = serde_json::to_vec(&referral(summary)).context("serialising a referral")?;
    let resp = client
        .post(format!("{base}/api/v1/referrals"))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .context("sending a referral")?;
    let status = resp.status();
    let bytes = resp.bytes().await.context("reading the answer")?;
    if status != reqwest::StatusCode::CREATED {
        bail!(
            "creating a referral answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    serde_json::from_slice::<Created>(&bytes)
        .map(|c| c.id)
        .map_err(|e| anyhow!("the answer has no id ({e})"))
}

/// Waits until US has a receipt for everything it sent MX; when that happened.
async fn drain(client: &reqwest::Client, base: &str, token: &str) -> Result<Instant> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        let left = backlog(client, base, token).await?;
        if left == 0 {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!(
                "the outbox did not drain in {} s: {left} left",
                DRAIN_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

struct Throughput {
    created: u64,
    errors: u64,
    create_secs: f64,
    total_secs: f64,
    /// CPU time per referral created, over the phase and its drain: US, MX, the load generator.
    cpu_per_referral: [Option<Duration>; 3],
}

async fn throughput(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    args: &BenchExchangeArgs,
    servers: [&Server; 2],
) -> Result<Throughput> {
    eprintln!(
        "bench: throughput — {} clients for {} s",
        args.clients, args.throughput_seconds
    );
    let cpu = || {
        [
            servers[0].cpu_time(),
            servers[1].cpu_time(),
            process_cpu_time("/proc/self/stat"),
        ]
    };
    let cpu_before = cpu();
    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    let addr = base.strip_prefix("http://").unwrap_or(base).to_owned();
    for c in 0..args.clients {
        let (addr, token) = (addr.clone(), token.to_owned());
        let (stop, created, errors) = (stop.clone(), created.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut creator = Creator::connect(&addr, &token).await?;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                match creator.create(&format!("throughput {c}-{i}")).await {
                    Ok(_) => created.fetch_add(1, Ordering::Relaxed),
                    Err(_) => {
                        // A failed request may leave the connection unusable: start afresh.
                        creator = Creator::connect(&addr, &token).await?;
                        errors.fetch_add(1, Ordering::Relaxed)
                    }
                };
                i += 1;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(u64::from(args.throughput_seconds))).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await
            .map_err(|e| anyhow!("a client task failed: {e}"))??;
    }
    let create_secs = start.elapsed().as_secs_f64();
    let drained = drain(client, base, token).await?;
    let cpu_after = cpu();
    let created = created.load(Ordering::Relaxed);
    let cpu_per_referral = std::array::from_fn(|i| {
        let used = cpu_after[i]?.checked_sub(cpu_before[i]?)?;
        Some(used.div_f64(created.max(1) as f64))
    });
    Ok(Throughput {
        created,
        errors: errors.load(Ordering::Relaxed),
        create_secs,
        total_secs: drained.duration_since(start).as_secs_f64(),
        cpu_per_referral,
    })
}

struct Latency {
    /// How long the machine took to be quiet again after the throughput phase.
    calm: Option<Duration>,
    /// US's checkpoints of its log with MX so far: how many, how many MX cosigned, and the
    /// time from making one to storing MX's cosignature (p50, p99).
    cosign: (usize, usize, Duration, Duration),
    sent: usize,
    errors: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    create_p99: Duration,
}

async fn latency(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    args: &BenchExchangeArgs,
    us_dir: &std::path::Path,
) -> Result<Latency> {
    eprintln!(
        "bench: latency — {} referrals/s for {} s after {} s of warm-up",
        args.rate, args.seconds, args.warmup
    );
    let total = u64::from(args.rate) * u64::from(args.seconds + args.warmup);
    let measured_from = u64::from(args.rate) * u64::from(args.warmup);
    let interval = Duration::from_secs(1) / args.rate;
    let runtime = tokio::runtime::Handle::current();
    let start = Instant::now() + Duration::from_millis(20);
    let start_wall = OffsetDateTime::now_utc() + time::Duration::milliseconds(20);
    let (client2, base2, token2) = (client.clone(), base.to_owned(), token.to_owned());
    // Paced on a thread of its own with the OS's sleep (see `bench api`).
    let tasks = tokio::task::spawn_blocking(move || {
        let mut tasks = Vec::with_capacity(total as usize);
        let mut due = start;
        for i in 0..total {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let (client, base, token) = (client2.clone(), base2.clone(), token2.clone());
            let at = due;
            tasks.push(runtime.spawn(async move {
                let r = create(&client, &base, &token, &format!("latency {i}")).await;
                (i, at, r.ok(), Instant::now())
            }));
            due += interval;
        }
        tasks
    })
    .await
    .map_err(|e| anyhow!("the pacing thread failed: {e}"))?;
    let mut due_of: HashMap<Uuid, Duration> = HashMap::new();
    let mut create_times = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (i, at, id, done) = t.await.map_err(|e| anyhow!("a request task failed: {e}"))?;
        if i < measured_from {
            continue;
        }
        match id {
            Some(id) => {
                due_of.insert(id, at.duration_since(start));
                create_times.push(done.saturating_duration_since(at));
            }
            None => errors += 1,
        }
    }
    drain(client, base, token).await?;

    // When each receipt was stored, from US's own records.
    let node = NodeDir::load(us_dir)?;
    let store = open_store(node.database_url(None), &node.dir).await?;
    let mut latencies = Vec::with_capacity(due_of.len());
    let mut after = None;
    loop {
        let page = store
            .list_envelopes(PartyCode::MX, after, 5_000)
            .await
            .context("reading US's envelopes")?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        for (_, record) in &page {
            if record.direction != Direction::Out || record.stream != Stream::Message {
                continue;
            }
            let (Some(item), Some(delivered)) = (record.item, record.delivered_at) else {
                continue;
            };
            if let Some(due) = due_of.get(&item) {
                let due_wall = start_wall + *due;
                let took = delivered - due_wall;
                latencies.push(Duration::try_from(took).unwrap_or_default());
            }
        }
    }
    drop(store);
    ensure!(
        latencies.len() == due_of.len(),
        "{} referrals were created but {} receipts found",
        due_of.len(),
        latencies.len()
    );
    latencies.sort_unstable();
    create_times.sort_unstable();
    Ok(Latency {
        cosign: (0, 0, Duration::ZERO, Duration::ZERO),
        calm: None,
        sent: latencies.len(),
        errors,
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        max: latencies.last().copied().unwrap_or_default(),
        create_p99: percentile(&create_times, 99.0),
    })
}

fn report(
    args: &BenchExchangeArgs,
    t: &Throughput,
    l: &Latency,
    c: Option<&CatchUp>,
    us_rss: Option<u64>,
    mx_rss: Option<u64>,
    settled: Option<Duration>,
) {
    let sustained = if t.total_secs > 0.0 {
        t.created as f64 / t.total_secs
    } else {
        0.0
    };
    println!("## puente bench exchange — two nodes (US → MX), SQLite, durable commits\n");
    match settled {
        Some(d) => println!(
            "The machine was quiet {:.0} s after both servers started.\n",
            d.as_secs_f64()
        ),
        None => println!(
            "The machine was NOT quiet after the servers started: other work may have disturbed the measurement.\n"
        ),
    }
    println!(
        "Throughput: {} clients created {} referrals in {:.1} s ({:.0}/s accepted by the API, {} errors); \
         the last receipt was durable at US {:.1} s after the start: **{sustained:.0} referrals/s** sustained end to end.\n",
        args.clients,
        t.created,
        t.create_secs,
        t.created as f64 / t.create_secs.max(f64::EPSILON),
        t.errors,
        t.total_secs
    );
    let us = |d: Option<Duration>| {
        d.map_or_else(
            || "n/a".to_owned(),
            |d| format!("{:.0} µs", d.as_secs_f64() * 1e6),
        )
    };
    let [cpu_us, cpu_mx, cpu_gen] = t.cpu_per_referral;
    println!(
        "CPU per referral over the throughput phase and its drain (user + system, all threads): \
         US {}, MX {}, load generator {}.\n",
        us(cpu_us),
        us(cpu_mx),
        us(cpu_gen)
    );
    println!(
        "Latency at {} referrals/s offered for {} s (open loop, after {} s of warm-up; {}), from \
         each referral's scheduled creation to its receipt stored at US:\n",
        args.rate,
        args.seconds,
        args.warmup,
        l.calm.map_or(
            "the machine was NOT quiet again after the throughput phase".to_owned(),
            |d| format!(
                "started once the machine was quiet again, {:.0} s after the throughput phase",
                d.as_secs_f64()
            )
        )
    );
    println!("| referrals | errors | p50 ms | p99 ms | max ms | API create p99 ms |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
        l.sent,
        l.errors,
        ms(l.p50),
        ms(l.p99),
        ms(l.max),
        ms(l.create_p99)
    );
    let (made, cosigned, p50, p99) = l.cosign;
    println!(
        "Exchange log: US made {made} checkpoints of its log with MX during the run, {cosigned} of \
         them cosigned by MX (a later cosignature covers the ones skipped); from making one to \
         storing MX's cosignature: p50 {:.1} ms, p99 {:.1} ms.\n",
        ms(p50),
        ms(p99)
    );
    let mib = |k: Option<u64>| {
        k.map_or_else(
            || "n/a".to_owned(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0),
        )
    };
    if let Some(c) = c {
        println!(
            "Catch-up: {} referrals queued at US while MX was down. The first receipt came {:.1} s \
             after MX started again (US's delivery worker was waiting out its retry back-off); \
             the remaining {} were delivered, with their receipts durable at US, in {:.1} s: \
             **{:.0} referrals/s**.\n",
            c.queued,
            c.first_secs,
            c.left_after_first,
            c.drain_secs,
            c.left_after_first as f64 / c.drain_secs.max(f64::EPSILON)
        );
    }
    println!(
        "Peak RSS (VmHWM) after the latency phase: US {}, MX {}\n",
        mib(us_rss),
        mib(mx_rss)
    );
    println!("Goals:");
    println!(
        "- sustained throughput {sustained:.0}/s ≥ {GOAL_THROUGHPUT:.0}/s — {}",
        if sustained >= GOAL_THROUGHPUT {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "- p99 {:.2} ms < {GOAL_P99_MS} ms at {}/s — {}",
        ms(l.p99),
        args.rate,
        if ms(l.p99) < GOAL_P99_MS && l.errors == 0 {
            "met"
        } else {
            "NOT met"
        }
    );
}
