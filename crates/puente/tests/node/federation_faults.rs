//! Fault tests of the exchange: while a stream of referrals is being created at US, the receiver
//! (MX) or the sender (US) is killed with SIGKILL and restarted, more than once. Afterwards both
//! nodes hold exactly the same set of referrals: none lost, none twice, in the sender's order.
//! On SQLite and on PostgreSQL.
//!
//! What "in order" means here: every envelope US sealed for MX carries a seq (1, 2, …); MX holds
//! exactly the envelopes 1..=N, accepted in that order, each with the id and hash US sealed under
//! that seq, and both nodes' counters (US's `next_out_seq`, MX's `next_in_seq`) stand at N + 1,
//! where N is the number of referrals: every envelope sent was accepted exactly once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::time::Instant;

use crate::helpers::{Backend, TestNode, both_backends, fictional_referral, liaison_token};

/// How many referrals US must acknowledge (201) before the stream stops.
const STREAM: usize = 10_000;
/// Concurrent API clients creating them.
const CLIENTS: usize = 8;
/// After how many acknowledged referrals the victim is killed (and then restarted).
const KILL_AT: [usize; 3] = [2_000, 5_000, 8_000];
/// How long the victim stays down.
const DOWN_FOR: Duration = Duration::from_secs(1);
/// How long the outbox may take to drain once the stream is over (a debug build delivers some
/// 70-100 envelopes a second on two cores, and the stream is created faster than that)...
const DRAIN_DEADLINE: Duration = Duration::from_secs(300);
/// ...and how long it may go without getting any shorter: a wedged exchange fails sooner.
const DRAIN_STALL: Duration = Duration::from_secs(60);
/// A bound on the stream itself, so that a wedged node fails the test instead of hanging it.
const STREAM_DEADLINE: Duration = Duration::from_secs(1_800);

both_backends!(
    receiver_killed_mid_stream_loses_and_doubles_nothing,
    sender_killed_mid_stream_loses_and_doubles_nothing,
);

async fn receiver_killed_mid_stream_loses_and_doubles_nothing(backend: Backend) {
    stream_with_faults(backend, Victim::Receiver).await;
}

async fn sender_killed_mid_stream_loses_and_doubles_nothing(backend: Backend) {
    stream_with_faults(backend, Victim::Sender).await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    /// MX, which receives the stream.
    Receiver,
    /// US, where the stream is created and from which it is delivered.
    Sender,
}

/// A valid referral to MX, told apart from the others by its summary.
fn referral(summary: &str) -> Value {
    let mut r = fictional_referral(summary);
    r["to"] = json!("MX");
    r
}

/// What the clients creating the stream share.
#[derive(Default)]
struct Stream {
    /// US's API base URL (it may change if US restarts on another port).
    url: RwLock<String>,
    /// The number of the next referral to create; each number is used once, so every summary
    /// is unique whatever happens to its POST.
    next: AtomicUsize,
    /// Summaries US acknowledged (201 with a body), with the id it answered.
    acked: Mutex<HashMap<String, String>>,
    acked_count: AtomicUsize,
    /// Summaries whose POST failed at the transport level (the node died or was down): they may
    /// or may not have been committed.
    uncertain: Mutex<Vec<String>>,
    /// Any answer other than 201: a defect, not the fault.
    unexpected: Mutex<Vec<String>>,
}

/// One client: creates referrals until the stream has `STREAM` acknowledged ones.
async fn client(stream: Arc<Stream>, token: String) {
    let http = reqwest::Client::new();
    while stream.acked_count.load(Ordering::SeqCst) < STREAM {
        let n = stream.next.fetch_add(1, Ordering::SeqCst);
        let summary = format!("stream {n:05}");
        let url = stream.url.read().unwrap().clone();
        let resp = http
            .post(format!("{url}/api/v1/referrals"))
            .bearer_auth(&token)
            .json(&referral(&summary))
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        match resp {
            Ok(r) if r.status() == StatusCode::CREATED => match r.json::<Value>().await {
                Ok(v) => {
                    let id = v["id"].as_str().unwrap_or_default().to_owned();
                    stream.acked.lock().unwrap().insert(summary, id);
                    stream.acked_count.fetch_add(1, Ordering::SeqCst);
                }
                // The answer was cut off by the kill: committed, but not known to be.
                Err(_) => stream.uncertain.lock().unwrap().push(summary),
            },
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                stream
                    .unexpected
                    .lock()
                    .unwrap()
                    .push(format!("{summary}: {status} {body}"));
                return;
            }
            Err(_) => {
                stream.uncertain.lock().unwrap().push(summary);
                // US is down (or restarting): do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn get(node: &TestNode, name: &str, token: &str, path: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", node.url))
        .bearer_auth(token)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path} at {name}: {e}"));
    let status = resp.status();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    if status != StatusCode::OK {
        // The node logs the cause of an internal error under the request id.
        let rid = v["request_id"].as_str().unwrap_or("-");
        let log = node.log();
        let cause: Vec<&str> = log.lines().filter(|l| l.contains(rid)).collect();
        panic!(
            "GET {path} at {name}: {status} {v}\n{name}'s log lines of request {rid}:\n{}\n\
             {name}'s log tail:\n{}",
            cause.join("\n"),
            tail(node, 30)
        );
    }
    v
}

/// This node's record of its only peer, from `GET /api/v1/peers`.
async fn peer(node: &TestNode, name: &str, token: &str, party: &str) -> Value {
    let peers = get(node, name, token, "/api/v1/peers").await;
    peers
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["party"] == party))
        .cloned()
        .unwrap_or_else(|| panic!("{party} is not a peer: {peers}"))
}

/// Every referral of `direction` the node lists, as (id, summary), in the order listed.
async fn all_referrals(
    node: &TestNode,
    name: &str,
    token: &str,
    direction: &str,
) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut cursor = String::new();
    loop {
        let page = get(
            node,
            name,
            token,
            &format!("/api/v1/referrals?direction={direction}&limit=200{cursor}"),
        )
        .await;
        for item in page["items"].as_array().unwrap() {
            out.push((
                item["id"].as_str().unwrap().to_owned(),
                item["summary"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    out
}

/// One message envelope as the node stored it: (seq, id, hash, delivered_at).
type EnvelopeRow = (i64, String, String, Option<i64>);

/// The node's message envelopes of `direction` (`out` or `in`), in the order it stored them,
/// read from its database (the API does not list envelopes).
async fn message_envelopes(node: &TestNode, direction: &str) -> Vec<EnvelopeRow> {
    let sql = format!(
        "SELECT seq, id, hash, delivered_at FROM envelopes \
         WHERE direction = '{direction}' AND stream = 'message' ORDER BY row_no"
    );
    match node.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&node.database_url())
                .await
                .unwrap();
            let rows = sqlx::query_as::<_, EnvelopeRow>(&sql)
                .fetch_all(&mut conn)
                .await
                .unwrap();
            conn.close().await.ok();
            rows
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&node.database_url())
                .await
                .unwrap();
            let rows = sqlx::query_as::<_, EnvelopeRow>(&sql)
                .fetch_all(&mut conn)
                .await
                .unwrap();
            conn.close().await.ok();
            rows
        }
    }
}

/// The last `n` lines of a node's log, for failure messages.
fn tail(node: &TestNode, n: usize) -> String {
    let log = node.log();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

async fn stream_with_faults(backend: Backend, victim: Victim) {
    let (mut us, mut mx) = TestNode::pair(backend).await;
    let (us_t, mx_t) = (liaison_token(&us).await, liaison_token(&mx).await);
    let started = Instant::now();

    let stream = Arc::new(Stream::default());
    *stream.url.write().unwrap() = us.url.clone();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(client(Arc::clone(&stream), us_t.clone())))
        .collect();

    let deadline = started + STREAM_DEADLINE;
    for at in KILL_AT {
        while stream.acked_count.load(Ordering::SeqCst) < at {
            assert!(
                !clients.iter().all(tokio::task::JoinHandle::is_finished),
                "every client stopped: {:?}",
                stream.unexpected.lock().unwrap()
            );
            assert!(
                Instant::now() < deadline,
                "only {} referrals acknowledged in {STREAM_DEADLINE:?}",
                stream.acked_count.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let node = match victim {
            Victim::Receiver => &mut mx,
            Victim::Sender => &mut us,
        };
        node.kill().await;
        eprintln!(
            "{backend:?}/{victim:?}: killed after {} acknowledged, at {:.1} s",
            stream.acked_count.load(Ordering::SeqCst),
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(DOWN_FOR).await;
        node.restart().await;
        if victim == Victim::Sender {
            *stream.url.write().unwrap() = us.url.clone();
        }
    }
    for c in clients {
        tokio::time::timeout_at(deadline, c)
            .await
            .expect("the stream did not finish in time")
            .unwrap();
    }
    let unexpected = stream.unexpected.lock().unwrap().clone();
    assert!(
        unexpected.is_empty(),
        "answers other than 201 (besides the faults): {unexpected:?}\nUS log:\n{}",
        tail(&us, 50)
    );
    let acked = stream.acked.lock().unwrap().clone();
    let uncertain = stream.uncertain.lock().unwrap().clone();
    let created_in = started.elapsed();
    eprintln!(
        "{backend:?}/{victim:?}: {} acknowledged, {} failed POSTs, in {:.1} s ({:.0}/s)",
        acked.len(),
        uncertain.len(),
        created_in.as_secs_f64(),
        acked.len() as f64 / created_in.as_secs_f64()
    );
    assert!(acked.len() >= STREAM);

    // Everything is delivered: US has a receipt for every envelope, and MX expects the next one.
    let drain_started = Instant::now();
    let mut last_progress = (Instant::now(), u64::MAX);
    let (us_view, mx_view) = loop {
        let us_view = peer(&us, "US", &us_t, "MX").await;
        let mx_view = peer(&mx, "MX", &mx_t, "US").await;
        if us_view["backlog"] == 0 && mx_view["next_in_seq"] == us_view["next_out_seq"] {
            break (us_view, mx_view);
        }
        let backlog = us_view["backlog"].as_u64().unwrap();
        if backlog < last_progress.1 {
            last_progress = (Instant::now(), backlog);
        }
        assert!(
            drain_started.elapsed() < DRAIN_DEADLINE && last_progress.0.elapsed() < DRAIN_STALL,
            "the outbox did not drain (backlog {backlog}, {:.0} s since it last shrank): \
             US sees MX as {us_view}, MX sees US as {mx_view}\nUS log:\n{}\nMX log:\n{}",
            last_progress.0.elapsed().as_secs_f64(),
            tail(&us, 40),
            tail(&mx, 40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "{backend:?}/{victim:?}: drained {:.1} s after the stream ended",
        (started.elapsed() - created_in).as_secs_f64()
    );

    // The same set at both nodes, no id twice, no summary twice.
    let at_us = all_referrals(&us, "US", &us_t, "outbound").await;
    let at_mx = all_referrals(&mx, "MX", &mx_t, "inbound").await;
    for (name, items) in [("US", &at_us), ("MX", &at_mx)] {
        let ids: HashSet<&str> = items.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids.len(), items.len(), "an id is listed twice at {name}");
        let summaries: HashSet<&str> = items.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            summaries.len(),
            items.len(),
            "a referral was created twice at {name}"
        );
    }
    let us_by_id: BTreeMap<&str, &str> = at_us
        .iter()
        .map(|(id, s)| (id.as_str(), s.as_str()))
        .collect();
    let mx_by_id: BTreeMap<&str, &str> = at_mx
        .iter()
        .map(|(id, s)| (id.as_str(), s.as_str()))
        .collect();
    let lost: Vec<_> = us_by_id
        .keys()
        .filter(|id| !mx_by_id.contains_key(*id))
        .collect();
    let extra: Vec<_> = mx_by_id
        .keys()
        .filter(|id| !us_by_id.contains_key(*id))
        .collect();
    assert!(
        lost.is_empty() && extra.is_empty(),
        "{} at US only (first {:?}), {} at MX only (first {:?})",
        lost.len(),
        lost.first(),
        extra.len(),
        extra.first()
    );
    // Sorted by id (UUIDv7, drawn at US), the two sequences are the same, summaries included.
    assert!(
        us_by_id.iter().eq(mx_by_id.iter()),
        "the nodes hold different content under the same ids"
    );

    // Every acknowledged referral is there under the id US answered with; anything else US holds
    // is one whose POST failed at the kill (and then MX holds it too, checked above).
    let us_by_summary: HashMap<&str, &str> = at_us
        .iter()
        .map(|(id, s)| (s.as_str(), id.as_str()))
        .collect();
    for (summary, id) in &acked {
        assert_eq!(
            us_by_summary.get(summary.as_str()),
            Some(&id.as_str()),
            "acknowledged referral {summary:?} ({id}) is not held at US under its id"
        );
    }
    let uncertain: HashSet<&str> = uncertain.iter().map(String::as_str).collect();
    for (_, summary) in &at_us {
        assert!(
            acked.contains_key(summary) || uncertain.contains(summary.as_str()),
            "US holds {summary:?}, which no client asked for"
        );
    }
    let n = at_us.len();
    eprintln!(
        "{backend:?}/{victim:?}: {n} referrals at both nodes ({} acknowledged, {} more \
         committed by a POST that failed)",
        acked.len(),
        n - acked.len()
    );

    // In order: every envelope sent was accepted exactly once, in seq order.
    let next = json!(n + 1);
    assert_eq!(
        (&us_view["next_out_seq"], &mx_view["next_in_seq"]),
        (&next, &next),
        "US sent, and MX accepted, one envelope per referral"
    );
    let sent = message_envelopes(&us, "out").await;
    let accepted = message_envelopes(&mx, "in").await;
    let seqs = |rows: &[EnvelopeRow]| rows.iter().map(|r| r.0).collect::<Vec<_>>();
    let expected: Vec<i64> = (1..=i64::try_from(n).unwrap()).collect();
    assert_eq!(seqs(&sent), expected, "US sealed seqs 1..={n} in order");
    assert_eq!(
        seqs(&accepted),
        expected,
        "MX accepted seqs 1..={n}, each once, in order"
    );
    for (s, a) in sent.iter().zip(&accepted) {
        assert_eq!(
            (&s.1, &s.2),
            (&a.1, &a.2),
            "seq {}: MX accepted another envelope than US sent",
            s.0
        );
        assert!(s.3.is_some(), "seq {}: US holds no receipt for it", s.0);
        assert!(us_by_id.contains_key(s.1.as_str()), "seq {}: no item", s.0);
    }

    for node in [&us, &mx] {
        let (code, out) = node.audit_verify().await;
        assert_eq!(code, 0, "{out}");
    }

    // Each exchange log, after the kills, is consistent with every checkpoint its node signed
    // (and the peer cosigned): it is cosigned at its full size, verifies offline from its
    // export, and neither node found anything wrong with the other's.
    for (node, peer, other) in [(&us, "MX", &mx), (&mx, "US", &us)] {
        let admin = node.token("admin").await;
        crate::federation::eventually(
            node,
            &admin,
            "/api/v1/log",
            "the log cosigned in full",
            |v| v[0]["size"].as_u64().unwrap_or(0) > 0 && v[0]["cosigned"] == v[0]["size"],
        )
        .await;
        let bundle = node.cli(&["log", "export", "--peer", peer]).await;
        bundle.assert_success();
        let path = node.tmp().join("log.bundle");
        std::fs::write(&path, &bundle.stdout).unwrap();
        let key = other.cli(&["peer", "export"]).await;
        let public = key
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("signing-key "))
            .unwrap_or_else(|| panic!("no signing key in the card: {}", key.stdout))
            .to_owned();
        let out = crate::helpers::puente(
            &[
                "log",
                "verify",
                &path.to_string_lossy(),
                "--peer-key",
                &public,
            ],
            None,
        )
        .await;
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let disputes = node.cli(&["log", "disputes"]).await;
        assert_eq!(disputes.stdout.trim(), "no disputes", "{}", disputes.stdout);
    }
    eprintln!(
        "{backend:?}/{victim:?}: whole test {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
