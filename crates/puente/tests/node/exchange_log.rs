//! The exchange log between two real nodes: each node's log of what passed is checkpointed and
//! cosigned by the other; proofs served by the API verify offline; `puente log export` and
//! `puente log verify` check a whole log and name the first thing wrong, in a tampered bundle or
//! a tampered database; and a node that presents a log with an envelope dropped, altered or
//! reordered, or that forks its log, is caught by the other, which keeps a dispute file that
//! verifies offline.
//!
//! In the second test the test speaks for US itself (US's node key and TLS identity, read from
//! its directory), as a dishonest implementation would, posting cosigning requests to MX.

use std::time::Duration;

use puente_domain::PartyCode;
use puente_exchange::keys::NodeKey;
use puente_exchange::tlog::COSIGN_PATH;
use puente_exchange::tls::{NodeTls, Timeouts, reqwest_client};
use puente_log::note::{Note, VerifierKey};
use puente_log::{Checkpoint, CompactRange, InclusionProof, Leaf, origin};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::federation::{call, eventually, refer};
use crate::helpers::{Backend, TestNode, both_backends, liaison_token};

both_backends!(
    both_logs_are_cosigned_proven_and_verified_offline,
    a_dishonest_log_is_caught_by_the_other_node
);

/// Runs the independent verifier (`tools/goverify`, Go with Debian's golang.org/x/mod, built
/// once per run, offline); its stdout, or a panic with its stderr if it refused.
fn goverify(args: &[&str]) -> String {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let bin = BUILT.get_or_init(|| {
        let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("goverify");
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/goverify");
        let built = std::process::Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(&src)
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "")
            .env(
                "GOCACHE",
                std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache"),
            )
            .output()
            .expect("Go is installed (./scripts/test installs golang-go)");
        assert!(
            built.status.success(),
            "building tools/goverify: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        out
    });
    let out = std::process::Command::new(bin).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "goverify {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Sets `[federation.log]` values in the node's `puente.toml` (they apply at the next start).
fn set_log(node: &TestNode, values: &[(&str, i64)]) {
    let path = node.dir.join("puente.toml");
    let mut config: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    let federation = config["federation"].as_table_mut().unwrap();
    let log = federation
        .entry("log")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap();
    for (k, v) in values {
        log.insert((*k).to_owned(), toml::Value::Integer(*v));
    }
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
}

/// The node's log with its peer, from `GET /api/v1/log`.
async fn log_of(node: &TestNode, admin: &str) -> Value {
    let (s, v) = call(node, admin, "GET", "/api/v1/log", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v[0].clone()
}

/// Waits until the node's log is cosigned by its peer at its full size, at least `at_least`.
async fn cosigned(node: &TestNode, admin: &str, at_least: u64) -> Value {
    eventually(
        node,
        admin,
        "/api/v1/log",
        "the log cosigned at its full size",
        |v| {
            let l = &v[0];
            l["size"].as_u64().unwrap_or(0) >= at_least && l["cosigned"] == l["size"]
        },
    )
    .await[0]
        .clone()
}

fn public_key(node: &TestNode) -> String {
    let text = std::fs::read_to_string(node.dir.join("node.key")).unwrap();
    NodeKey::from_file_text(&text).unwrap().public().to_string()
}

async fn export(node: &TestNode, peer: &str) -> String {
    let out = node.cli(&["log", "export", "--peer", peer]).await;
    out.assert_success();
    out.stdout
}

/// `puente log verify FILE [--peer-key KEY]` on `text`: exit code and stdout.
async fn verify(node: &TestNode, text: &str, peer_key: Option<&str>) -> (i32, String) {
    let path = node
        .tmp()
        .join(format!("{}.check", uuid::Uuid::now_v7().simple()));
    std::fs::write(&path, text).unwrap();
    let path = path.to_string_lossy().into_owned();
    let mut args = vec!["log", "verify", path.as_str()];
    if let Some(k) = peer_key {
        args.extend(["--peer-key", k]);
    }
    let out = crate::helpers::puente(&args, None).await;
    (out.code, out.stdout)
}

async fn both_logs_are_cosigned_proven_and_verified_offline(backend: Backend) {
    let (mut us, mx) = TestNode::pair(backend).await;
    let (us_t, mx_t) = (liaison_token(&us).await, liaison_token(&mx).await);
    let (us_admin, mx_admin) = (us.token("admin").await, mx.token("admin").await);
    let mut sent = Vec::new();
    for i in 0..4 {
        sent.push(
            refer((&us, &us_t), (&mx, &mx_t), "MX", &format!("north {i}"))
                .await
                .0,
        );
        refer((&mx, &mx_t), (&us, &us_t), "US", &format!("south {i}")).await;
    }
    // Each node logged 4 messages out, 4 in, and a receipt each way per batch: at least 10.
    let us_log = cosigned(&us, &us_admin, 10).await;
    let mx_log = cosigned(&mx, &mx_admin, 10).await;
    assert_eq!(us_log["origin"], "puente/US/exchange/MX");
    assert_eq!(mx_log["peer_origin"], "puente/US/exchange/MX");

    // An inclusion proof for the first referral's envelope, checked offline with US's log key
    // and MX's cosigner key as US's API names them.
    let id = sent[0]["id"].as_str().unwrap();
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/log/MX/proof?envelope={id}", us.url))
        .bearer_auth(&us_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let proof = InclusionProof::parse(&resp.text().await.unwrap()).unwrap();
    let keys = [
        VerifierKey::parse(us_log["log_key"].as_str().unwrap()).unwrap(),
        VerifierKey::parse(us_log["peer_cosigner_key"].as_str().unwrap()).unwrap(),
    ];
    let (checkpoint, verified) = proof.verify("puente/US/exchange/MX", &keys).unwrap();
    assert_eq!(verified.len(), 2, "signed by US and cosigned by MX");
    let leaf = Leaf::parse(std::str::from_utf8(proof.extra.as_ref().unwrap()).unwrap()).unwrap();
    assert_eq!(
        (leaf.sender.as_str(), leaf.recipient.as_str()),
        ("US", "MX")
    );
    assert_eq!(leaf.seq, 1);
    assert!(checkpoint.size > proof.index);
    // The same envelope is in MX's log too, as received.
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/log/US/proof?envelope={id}", mx.url))
        .bearer_auth(&mx_admin)
        .send()
        .await
        .unwrap();
    let theirs = InclusionProof::parse(&resp.text().await.unwrap()).unwrap();
    let their_leaf =
        Leaf::parse(std::str::from_utf8(theirs.extra.as_ref().unwrap()).unwrap()).unwrap();
    assert_eq!(their_leaf.envelope_sha256, leaf.envelope_sha256);
    // Bad input is named; an envelope that is not in the log is not found.
    let (s, v) = call(
        &us,
        &us_admin,
        "GET",
        "/api/v1/log/MX/proof?envelope=xyz",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["errors"][0]["pointer"], "/envelope");
    let (s, _) = call(
        &us,
        &us_admin,
        "GET",
        &format!("/api/v1/log/MX/proof?envelope={}", uuid::Uuid::now_v7()),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Only auditors and administrators read the log.
    let (s, _) = call(&us, &us_t, "GET", "/api/v1/log", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // An independent implementation (Go's sumdb/note and sumdb/tlog) checks the same proof and
    // the checkpoint, with the keys as given.
    let dir = us.tmp().to_path_buf();
    std::fs::write(dir.join("proof.tlog-proof"), proof.to_text()).unwrap();
    std::fs::write(dir.join("leaf.data"), proof.extra.as_ref().unwrap()).unwrap();
    let (log_vkey, cosig_vkey) = (
        us_log["log_key"].as_str().unwrap(),
        us_log["peer_cosigner_key"].as_str().unwrap(),
    );
    let go = goverify(&[
        "proof",
        "-vkey",
        log_vkey,
        "-cosig-vkey",
        cosig_vkey,
        "-origin",
        "puente/US/exchange/MX",
        "-leaf-data",
        &dir.join("leaf.data").to_string_lossy(),
        &dir.join("proof.tlog-proof").to_string_lossy(),
    ]);
    assert!(go.contains("OK"), "{go}");
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/log/MX/checkpoint", us.url))
        .bearer_auth(&us_admin)
        .send()
        .await
        .unwrap();
    std::fs::write(dir.join("checkpoint.note"), resp.text().await.unwrap()).unwrap();
    let go = goverify(&[
        "open",
        "-vkey",
        log_vkey,
        "-cosig-vkey",
        cosig_vkey,
        "-origin",
        "puente/US/exchange/MX",
        &dir.join("checkpoint.note").to_string_lossy(),
    ]);
    assert!(
        go.contains("OK") && go.contains("puente/MX/cosigner"),
        "{go}"
    );

    // A consistency proof between two sizes, checked against the checkpoints' heads.
    let size = us_log["size"].as_u64().unwrap();
    let (s, c) = call(
        &us,
        &us_admin,
        "GET",
        &format!("/api/v1/log/MX/consistency?from=3&to={size}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let (s, c) = call(
        &us,
        &us_admin,
        "GET",
        "/api/v1/log/MX/consistency?from=0&to=99999",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let mut pointers: Vec<&str> = c["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    pointers.sort_unstable();
    assert_eq!(pointers, ["/from", "/to"]);

    // Each node's whole log, exported and verified offline with the peer's key from its card.
    let us_bundle = export(&us, "MX").await;
    let (code, out) = verify(&us, &us_bundle, Some(&public_key(&mx))).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("log ok: puente/US/exchange/MX"), "{out}");
    let (code, out) = verify(&mx, &export(&mx, "US").await, Some(&public_key(&us))).await;
    assert_eq!(code, 0, "{out}");
    // With another key for MX's cosignatures, it does not verify.
    let (code, out) = verify(&us, &us_bundle, Some(&public_key(&us))).await;
    assert_eq!(code, 1, "{out}");

    // A bundle with a leaf dropped, altered or two swapped names the first thing wrong.
    let lines: Vec<&str> = us_bundle.lines().collect();
    let leaf_lines: Vec<usize> = (0..lines.len())
        .filter(|i| lines[*i].starts_with("leaf "))
        .collect();
    let edit = |f: &dyn Fn(&mut Vec<String>)| {
        let mut l: Vec<String> = lines.iter().map(|s| (*s).to_owned()).collect();
        f(&mut l);
        l.join("\n") + "\n"
    };
    let dropped = edit(&|l| {
        l.remove(leaf_lines[1]);
    });
    let (code, out) = verify(&us, &dropped, None).await;
    assert_eq!(code, 1, "{out}");
    let swapped = edit(&|l| l.swap(leaf_lines[0], leaf_lines[2]));
    let (code, out) = verify(&us, &swapped, None).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("log NOT ok: line "), "{out}");

    // A leaf altered in US's database after it was cosigned: the export no longer verifies,
    // and US's own check of its log (on its timer) reports it on the auditors' page.
    us.kill().await;
    let altered = us
        .execute_sql(&format!(
            "UPDATE log_leaves SET envelope_hash = '{}' \
             WHERE origin = 'puente/US/exchange/MX' AND idx = 2",
            "0".repeat(64)
        ))
        .await;
    assert_eq!(altered, 1);
    let (code, out) = verify(&us, &export(&us, "MX").await, None).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tree head"), "{out}");
    set_log(&us, &[("verify_every_secs", 1)]);
    us.start().await;
    eventually(
        &us,
        &us_admin,
        "/api/v1/log",
        "US's own check finds the altered leaf",
        |v| {
            v[0]["problem"]
                .as_str()
                .is_some_and(|p| p.contains("do not give the head"))
        },
    )
    .await;

    // Neither node found anything wrong with the other's log.
    for (node, admin) in [(&mx, &mx_admin)] {
        let (s, d) = call(node, admin, "GET", "/api/v1/disputes", None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(d, json!([]), "{d}");
    }
    // A read of an item names where its envelopes are in the log: the first referral US sent
    // is its log's first entry.
    let (s, _) = call(&us, &us_t, "GET", &format!("/api/v1/referrals/{id}"), None).await;
    assert_eq!(s, StatusCode::OK);
    let (_, audit) = call(&us, &us_admin, "GET", "/api/v1/audit?limit=1000", None).await;
    let read = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["action"] == "referral.read")
        .unwrap()
        .clone();
    let detail: Value = serde_json::from_str(read["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["log_indexes"], json!([0]), "{detail}");

    // Every write of exchange data names the log index it touched.
    let (_, audit) = call(&mx, &mx_admin, "GET", "/api/v1/audit?limit=1000", None).await;
    let receives: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "referral.create.receive")
        .collect();
    assert_eq!(receives.len(), 4);
    for e in receives {
        let detail: Value = serde_json::from_str(e["detail"].as_str().unwrap()).unwrap();
        assert!(detail["log_index"].is_u64(), "{detail}");
    }
}

/// The test speaking for US: its key and TLS identity, and a client pinned to MX.
struct Us {
    key: NodeKey,
    client: reqwest::Client,
    url: String,
}

impl Us {
    fn new(us: &TestNode, mx: &TestNode) -> Us {
        let read = |n: &TestNode, f: &str| std::fs::read_to_string(n.dir.join(f)).unwrap();
        let key = NodeKey::from_file_text(&read(us, "node.key")).unwrap();
        let tls = NodeTls::from_pem(&read(us, "tls.crt"), &read(us, "tls.key")).unwrap();
        let mx_pin = NodeTls::from_pem(&read(mx, "tls.crt"), &read(mx, "tls.key"))
            .unwrap()
            .fingerprint();
        Us {
            key,
            client: reqwest_client(&tls, mx_pin, Timeouts::default()).unwrap(),
            url: format!("{}{COSIGN_PATH}", mx.federation_url),
        }
    }

    /// US's signed checkpoint of `leaves` (the whole log from 0).
    fn checkpoint(&self, leaves: &[Leaf]) -> (Checkpoint, String) {
        let mut range = CompactRange::empty();
        for l in leaves {
            range.append(l.hash(), |_, _| {});
        }
        let c = Checkpoint {
            origin: origin(PartyCode::US, PartyCode::MX),
            size: range.size(),
            root: range.root(),
        };
        let mut note = Note::new(c.to_text()).unwrap();
        note.sign(&c.origin, &self.key).unwrap();
        (c, note.to_text())
    }

    /// Asks MX to cosign US's log of `leaves`, presented from 0.
    async fn present(&self, leaves: &[Leaf]) -> (StatusCode, Value) {
        let (_, note) = self.checkpoint(leaves);
        let body = json!({
            "checkpoint": note,
            "from": 0,
            "leaves": leaves.iter().map(Leaf::to_data).collect::<Vec<_>>(),
            "consistency": [],
        });
        let resp = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let s = resp.status();
        (s, resp.json().await.unwrap_or(Value::Null))
    }
}

/// The leaves of a bundle, in order.
fn leaves_of(bundle: &str) -> Vec<Leaf> {
    use base64::Engine as _;
    bundle
        .lines()
        .filter_map(|l| l.strip_prefix("leaf "))
        .map(|b| {
            let data = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
            Leaf::parse(std::str::from_utf8(&data).unwrap()).unwrap()
        })
        .collect()
}

async fn a_dishonest_log_is_caught_by_the_other_node(backend: Backend) {
    let mut us = TestNode::init_party(backend, "US").await;
    let mut mx = TestNode::init_party(backend, "MX").await;
    // US never checkpoints by itself here (the test does it for it); MX checks US's log often.
    set_log(
        &us,
        &[
            ("checkpoint_every_ms", 3_600_000),
            ("checkpoint_entries", 1_000_000),
        ],
    );
    set_log(&mx, &[("grace_secs", 1), ("verify_every_secs", 1)]);
    us.start().await;
    mx.start().await;
    let us_card = us.peer_card(&us.federation_url.clone()).await;
    let mx_card = mx.peer_card(&mx.federation_url.clone()).await;
    us.add_peer(&mx_card).await.assert_success();
    mx.add_peer(&us_card).await.assert_success();
    let (us_t, mx_t) = (liaison_token(&us).await, liaison_token(&mx).await);
    let mx_admin = mx.token("admin").await;
    for i in 0..3 {
        refer((&mx, &mx_t), (&us, &us_t), "US", &format!("south {i}")).await;
        refer((&us, &us_t), (&mx, &mx_t), "MX", &format!("north {i}")).await;
    }
    // Let US's receipts reach MX, then stop US and speak for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    us.kill().await;
    let honest = leaves_of(&export(&us, "MX").await);
    let us_as = Us::new(&us, &mx);
    let is_in_message = |l: &Leaf| {
        l.direction == puente_log::Direction::In && l.stream == puente_log::Stream::Message
    };
    let ins: Vec<usize> = (0..honest.len())
        .filter(|i| is_in_message(&honest[*i]))
        .collect();
    assert_eq!(ins.len(), 3, "{honest:#?}");

    let dispute_kinds = || async {
        let (_, d) = call(&mx, &mx_admin, "GET", "/api/v1/disputes", None).await;
        d.as_array()
            .unwrap()
            .iter()
            .map(|d| d["kind"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };

    // Dropped: MX's first message is missing from US's log, so the next is out of sequence.
    let mut dropped = honest.clone();
    dropped.remove(ins[0]);
    let (s, v) = us_as.present(&dropped).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "dispute");
    assert!(dispute_kinds().await.contains(&"out-of-order".to_owned()));
    // Altered: a message MX sent appears with another hash.
    let mut altered = honest.clone();
    altered[ins[1]].envelope_sha256[0] ^= 0xff;
    let (s, v) = us_as.present(&altered).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        dispute_kinds()
            .await
            .contains(&"unknown-envelope".to_owned())
    );
    // Reordered: two of MX's messages swapped.
    let mut reordered = honest.clone();
    reordered.swap(ins[1], ins[2]);
    let (s, v) = us_as.present(&reordered).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Nothing of these was cosigned: MX's copy of US's log is still empty.
    assert_eq!(log_of(&mx, &mx_admin).await["peer_size"], 0);

    // Dropped at the end: the log is well formed and MX cosigns it, but the message it sent
    // last never shows up, and after the grace window MX raises that.
    let truncated: Vec<Leaf> = honest[..ins[2]].to_vec();
    let (s, v) = us_as.present(&truncated).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let disputes = eventually(
        &mx,
        &mx_admin,
        "/api/v1/disputes",
        "the missing envelope",
        |d| {
            d.as_array()
                .unwrap()
                .iter()
                .any(|d| d["kind"] == "missing-envelope")
        },
    )
    .await;
    let missing = disputes
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "missing-envelope")
        .unwrap()
        .clone();

    // A fork: another log of the same size as the one MX cosigned, with another head.
    let mut forked = truncated.clone();
    forked.last_mut().unwrap().logged += time::Duration::seconds(1);
    let (s, v) = us_as.present(&forked).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, list) = call(&mx, &mx_admin, "GET", "/api/v1/disputes", None).await;
    let fork = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "fork")
        .unwrap_or_else(|| panic!("no fork dispute: {list}"))
        .clone();

    // Each dispute file verifies offline, with US's key as its card gives it.
    let us_key = public_key(&us);
    for d in [&fork, &missing] {
        let resp = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/disputes/{}",
                mx.url,
                d["id"].as_str().unwrap()
            ))
            .bearer_auth(&mx_admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let file = resp.text().await.unwrap();
        let (code, out) = verify(&mx, &file, Some(&us_key)).await;
        assert_eq!(code, 0, "{}: {out}", d["kind"]);
        assert!(out.contains("dispute verified"), "{out}");
        // Not with another node's key; and a file altered after the fact does not verify.
        let (code, _) = verify(&mx, &file, Some(&public_key(&mx))).await;
        assert_eq!(code, 1);
    }
    let fork_file = mx
        .cli(&["log", "dispute", fork["id"].as_str().unwrap()])
        .await;
    fork_file.assert_success();
    let mut doc: Value = serde_json::from_str(&fork_file.stdout).unwrap();
    let second = doc["checkpoints"][1].as_str().unwrap().to_owned();
    doc["checkpoints"][1] = json!(doc["checkpoints"][0]);
    doc["checkpoints"][0] = json!(second);
    let (code, _) = verify(&mx, &doc.to_string(), None).await;
    assert_eq!(code, 0, "the order of the two checkpoints does not matter");
    doc["checkpoints"][1] = json!(doc["checkpoints"][0]);
    let (code, out) = verify(&mx, &doc.to_string(), None).await;
    assert_eq!(code, 1, "one checkpoint twice is no fork: {out}");
    let listed = mx.cli(&["log", "disputes"]).await;
    assert!(listed.stdout.contains("fork"), "{}", listed.stdout);
}
