//! The federation endpoint refuses every envelope it must not accept, with a clear error (an
//! RFC 9457 problem with a stable `code`) and **nothing stored**: bad signature, wrong
//! recipient, a replayed message id with another body, unknown peer, unpinned certificate,
//! stale or future time, sequence gap, truncated batch, oversized body (limit from the node's
//! config), unknown message type, malformed entity. And after all of that, the stream from the
//! peer is not wedged: the next correct envelope is accepted.
//!
//! Two real nodes are paired, then MX's process is stopped and the test speaks for MX itself,
//! with MX's node key and TLS identity read from its directory, posting hand-made batches to
//! US's federation endpoint over mutual TLS.

use puente_domain::PartyCode;
use puente_exchange::envelope::{Envelope, EnvelopeDraft, MessageType, encode_batch};
use puente_exchange::keys::{NodeKey, NodePublicKey};
use puente_exchange::node::ENVELOPES_PATH;
use puente_exchange::tls::{CertFingerprint, NodeTls, Timeouts, reqwest_client};
use puente_exchange::wire;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::{Backend, TestNode, both_backends, fictional_referral, liaison_token};

both_backends!(every_bad_envelope_is_refused_and_nothing_is_stored);

/// US's `[federation] max_body_bytes` in this test: small, so "oversized" is cheap to build.
const BODY_LIMIT: usize = 4096;

fn party(code: &str) -> PartyCode {
    PartyCode::parse(code).unwrap()
}

/// A node's identity as its directory holds it: the node key and the TLS certificate and key.
fn identity(node: &TestNode) -> (NodeKey, NodeTls) {
    let read = |file: &str| std::fs::read_to_string(node.dir.join(file)).unwrap();
    let key = NodeKey::from_file_text(&read("node.key")).unwrap();
    let tls = NodeTls::from_pem(&read("tls.crt"), &read("tls.key")).unwrap();
    (key, tls)
}

/// Sets `[federation] max_body_bytes` in the node's `puente.toml` (applies at the next start).
fn set_federation_body_limit(node: &TestNode, limit: usize) {
    let path = node.dir.join("puente.toml");
    let mut config: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    config["federation"]["max_body_bytes"] = toml::Value::Integer(limit as i64);
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
}

/// A valid referral body, in its canonical bytes (checked by the same reader the receiver uses).
fn referral_body(summary: &str) -> Vec<u8> {
    let v = referral_value(summary);
    let draft = wire::read_referral(&v).unwrap();
    wire::to_body_bytes(&wire::referral_json(&draft))
}

fn referral_value(summary: &str) -> Value {
    fictional_referral(summary)
}

/// What US answered to a batch.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: String,
    doc: Value,
}

async fn post_with(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Answer {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let doc = resp.json::<Value>().await.unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        doc,
    }
}

/// The test speaking as MX: MX's node key and TLS identity, and a client pinned to US.
struct Mx {
    key: NodeKey,
    tls: NodeTls,
    client: reqwest::Client,
    /// US's federation endpoint for envelopes.
    url: String,
    /// US's certificate fingerprint, as MX pinned it.
    us_pin: CertFingerprint,
}

impl Mx {
    fn new(mx: &TestNode, us: &TestNode) -> Mx {
        let (key, tls) = identity(mx);
        let us_pin = identity(us).1.fingerprint();
        let client = reqwest_client(&tls, us_pin, Timeouts::default()).unwrap();
        Mx {
            key,
            tls,
            client,
            url: format!("{}{ENVELOPES_PATH}", us.federation_url),
            us_pin,
        }
    }

    /// What a correct envelope from MX to US at `seq` says, sealed now as a `referral`; cases
    /// change a field before sealing.
    fn draft(seq: u64, id: Uuid) -> EnvelopeDraft {
        EnvelopeDraft {
            sender: party("MX"),
            recipient: party("US"),
            id,
            seq,
            time: OffsetDateTime::now_utc(),
            message_type: MessageType::parse("referral").unwrap(),
        }
    }

    fn seal(&self, draft: EnvelopeDraft, body: Vec<u8>) -> Envelope {
        Envelope::seal(&self.key, draft, body).unwrap()
    }

    /// A correct referral envelope at `seq` with a fresh id.
    fn referral(&self, seq: u64, summary: &str) -> Envelope {
        self.seal(Self::draft(seq, Uuid::now_v7()), referral_body(summary))
    }

    async fn post(&self, batch: &[Envelope]) -> Answer {
        self.post_bytes(encode_batch(batch).into_bytes()).await
    }

    async fn post_bytes(&self, body: Vec<u8>) -> Answer {
        post_with(&self.client, &self.url, body).await
    }
}

/// US's side: the node and the tokens to look at what it holds.
struct Us {
    node: TestNode,
    /// A liaison officer (reads referrals and peers).
    liaison: String,
    /// The administrator (reads the audit trail).
    admin: String,
    public_key: NodePublicKey,
}

/// Everything a received envelope could have left behind on US.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    /// Ids of the referrals US's API lists.
    referrals: Vec<String>,
    /// The seq US expects next from MX.
    next_in_seq: u64,
    /// Audit entries of received messages (`referral.create.receive`, …).
    receive_entries: usize,
    /// Rows of the database: received envelopes in the envelope log, and items.
    inbound_envelopes: i64,
    items: i64,
}

impl Us {
    async fn get(&self, token: &str, path: &str) -> Value {
        let resp = reqwest::Client::new()
            .get(format!("{}{path}", self.node.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
        resp.json().await.unwrap()
    }

    async fn count(&self, sql: &str) -> i64 {
        let url = self.node.database_url();
        match self.node.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let n = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
                c.close().await.ok();
                n
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                let n = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
                c.close().await.ok();
                n
            }
        }
    }

    async fn stored(&self) -> Stored {
        let list = self.get(&self.liaison, "/api/v1/referrals?limit=200").await;
        let mut referrals: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        referrals.sort();
        let peers = self.get(&self.liaison, "/api/v1/peers").await;
        let next_in_seq = peers[0]["next_in_seq"].as_u64().unwrap();
        let mut receive_entries = 0;
        let mut after = String::new();
        loop {
            let page = self
                .get(&self.admin, &format!("/api/v1/audit?limit=1000{after}"))
                .await;
            receive_entries += page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["action"].as_str().unwrap().ends_with(".receive"))
                .count();
            match page["next_after"].as_i64() {
                Some(n) => after = format!("&after={n}"),
                None => break,
            }
        }
        Stored {
            referrals,
            next_in_seq,
            receive_entries,
            inbound_envelopes: self
                .count("SELECT COUNT(*) FROM envelopes WHERE direction = 'in'")
                .await,
            items: self.count("SELECT COUNT(*) FROM items").await,
        }
    }

    /// The receipt in an answer, verified under US's key and addressed to MX.
    fn receipt(&self, answer: &Answer) -> puente_exchange::envelope::ReceiptBody {
        let envelope: Envelope = serde_json::from_value(answer.doc["receipt"].clone())
            .unwrap_or_else(|e| panic!("no receipt in {answer:?}: {e}"));
        let opened = envelope.open(&self.public_key).expect("signed by US");
        assert_eq!(opened.header().sender(), party("US"));
        assert_eq!(opened.header().recipient(), party("MX"));
        opened.receipt().unwrap()
    }
}

/// Refusals that did not come out as expected, reported together at the end so that one wrong
/// status does not hide how the other cases fare.
#[derive(Default)]
struct Refusals(Vec<String>);

impl Refusals {
    /// `answer` must be a problem document with `status` and `code`, and a detail to read.
    fn check(&mut self, case: &str, answer: &Answer, status: StatusCode, code: &str) {
        let ok = answer.status == status
            && answer.doc["code"] == code
            && answer.content_type == "application/problem+json"
            && answer.doc["detail"].as_str().is_some_and(|d| !d.is_empty());
        if !ok {
            self.0.push(format!(
                "{case}: expected {status} {code:?}, got {} ({}) {}",
                answer.status, answer.content_type, answer.doc
            ));
        }
    }
}

async fn every_bad_envelope_is_refused_and_nothing_is_stored(backend: Backend) {
    let (mut us_node, mut mx_node) = TestNode::pair(backend).await;
    // The test speaks for MX from here on: MX's own process would use the same seqs. US keeps
    // MX registered as its peer.
    mx_node.kill().await;
    set_federation_body_limit(&us_node, BODY_LIMIT);
    us_node.restart().await;
    let mx = Mx::new(&mx_node, &us_node);
    let us = Us {
        liaison: liaison_token(&us_node).await,
        admin: us_node.token("admin").await,
        public_key: identity(&us_node).0.public(),
        node: us_node,
    };
    let mut refusals = Refusals::default();
    let mut next = us.stored().await.next_in_seq;
    assert_eq!(next, 1, "nothing was received yet");

    // A correct envelope is accepted, with a receipt signed by US that names it.
    let first = mx.referral(next, "Rifles heading north");
    let a = mx.post(std::slice::from_ref(&first)).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    let receipt = us.receipt(&a);
    assert_eq!(receipt.accepted.len(), 1);
    let first_id = first.unverified_header().unwrap().id();
    assert_eq!(
        (
            receipt.accepted[0].id,
            receipt.accepted[0].seq,
            receipt.accepted[0].envelope_sha256,
            receipt.next_seq
        ),
        (first_id, next, first.envelope_hash(), next + 1)
    );
    next += 1;
    let before = us.stored().await;
    assert_eq!(
        (
            before.referrals.len(),
            before.next_in_seq,
            before.receive_entries
        ),
        (1, next, 1),
        "{before:?}"
    );

    // (1) Bad signature: one bit of the signature flipped.
    let (header, mut signature, body) = mx.referral(next, "Forged").into_parts();
    signature[10] ^= 0x01;
    let a = mx
        .post(&[Envelope::from_parts(header, signature, body)])
        .await;
    refusals.check(
        "bad signature",
        &a,
        StatusCode::UNAUTHORIZED,
        "bad-signature",
    );
    assert_eq!(us.stored().await, before, "bad signature");

    // The body changed after signing (here: cut short) no longer matches `body-sha256`.
    let (header, signature, mut body) = mx.referral(next, "Cut short").into_parts();
    body.truncate(body.len() / 2);
    let a = mx
        .post(&[Envelope::from_parts(header, signature, body)])
        .await;
    refusals.check(
        "truncated envelope body",
        &a,
        StatusCode::BAD_REQUEST,
        "body-hash-mismatch",
    );
    assert_eq!(us.stored().await, before, "truncated envelope body");

    // (2) Wrong recipient: correctly signed by MX, but addressed to CA.
    let mut d = Mx::draft(next, Uuid::now_v7());
    d.recipient = party("CA");
    let a = mx.post(&[mx.seal(d, referral_body("Not for US"))]).await;
    refusals.check(
        "wrong recipient",
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "wrong-recipient",
    );
    assert_eq!(us.stored().await, before, "wrong recipient");

    // (3) Replayed id with a different body: the accepted message's id and seq, other content.
    let replay = mx.seal(
        Mx::draft(next - 1, first_id),
        referral_body("Rifles heading south"),
    );
    let a = mx.post(&[replay]).await;
    refusals.check("replayed id", &a, StatusCode::CONFLICT, "replayed-id");
    assert_eq!(us.stored().await, before, "replayed id");
    // The same id at the next seq is no new message either.
    let replay = mx.seal(
        Mx::draft(next, first_id),
        referral_body("Rifles heading east"),
    );
    let a = mx.post(&[replay]).await;
    refusals.check(
        "replayed id at a new seq",
        &a,
        StatusCode::CONFLICT,
        "replayed-id",
    );
    assert_eq!(us.stored().await, before, "replayed id at a new seq");
    let original = us
        .get(&us.liaison, &format!("/api/v1/referrals/{first_id}"))
        .await;
    assert_eq!(
        original["content"]["summary"], "Rifles heading north",
        "the original is unchanged"
    );
    // The exact same envelope again is a retry: acknowledged again, stored once.
    let a = mx.post(std::slice::from_ref(&first)).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    let receipt = us.receipt(&a);
    assert_eq!((receipt.accepted[0].id, receipt.next_seq), (first_id, next));
    assert_eq!(us.stored().await, before, "a retry is not stored twice");

    // (4) Unknown peer, (5) unpinned certificate: a client certificate US has not pinned is
    // refused before anything is read, whatever the envelope says and whoever signed it.
    let stranger_tls = NodeTls::generate(party("MX")).unwrap();
    let stranger = reqwest_client(&stranger_tls, mx.us_pin, Timeouts::default()).unwrap();
    let a = post_with(
        &stranger,
        &mx.url,
        encode_batch(&[mx.referral(next, "From an unpinned certificate")]).into_bytes(),
    )
    .await;
    refusals.check(
        "unpinned certificate",
        &a,
        StatusCode::FORBIDDEN,
        "unknown-peer",
    );
    let ca_key = NodeKey::generate(&mut rand::rngs::OsRng);
    let ca_tls = NodeTls::generate(party("CA")).unwrap();
    let ca = reqwest_client(&ca_tls, mx.us_pin, Timeouts::default()).unwrap();
    let mut d = Mx::draft(1, Uuid::now_v7());
    d.sender = party("CA");
    let from_ca = Envelope::seal(&ca_key, d.clone(), referral_body("From a stranger")).unwrap();
    let a = post_with(&ca, &mx.url, encode_batch(&[from_ca]).into_bytes()).await;
    refusals.check("unknown peer", &a, StatusCode::FORBIDDEN, "unknown-peer");
    // Over MX's own (pinned) connection, an envelope claiming another sender is refused too.
    d.seq = next;
    let a = mx
        .post(&[Envelope::seal(&ca_key, d, referral_body("Posing as CA")).unwrap()])
        .await;
    refusals.check(
        "sender is not the connected peer",
        &a,
        StatusCode::FORBIDDEN,
        "wrong-sender",
    );
    // MX pinning a certificate that is not US's: the handshake fails, no HTTP answer at all.
    let wrong_pin = CertFingerprint::of_der(b"not the certificate of US");
    let misled = reqwest_client(&mx.tls, wrong_pin, Timeouts::default()).unwrap();
    let sent = misled
        .post(&mx.url)
        .header("content-type", "application/json")
        .body(encode_batch(&[mx.referral(next, "To an impostor")]))
        .send()
        .await;
    assert!(
        sent.is_err(),
        "a wrongly pinned server must fail TLS: {sent:?}"
    );
    assert_eq!(
        us.stored().await,
        before,
        "unknown peer / unpinned certificate"
    );

    // (6) Stale: older than max_age (30 days by default), or an hour in the future (beyond the
    // allowed skew of 5 minutes).
    for (what, time) in [
        (
            "31 days old",
            OffsetDateTime::now_utc() - time::Duration::days(31),
        ),
        (
            "an hour ahead",
            OffsetDateTime::now_utc() + time::Duration::hours(1),
        ),
    ] {
        let mut d = Mx::draft(next, Uuid::now_v7());
        d.time = time;
        let a = mx.post(&[mx.seal(d, referral_body(what))]).await;
        refusals.check(what, &a, StatusCode::UNPROCESSABLE_ENTITY, "stale");
        assert_eq!(us.stored().await, before, "{what}");
    }

    // (7) Sequence gap: five ahead of what US expects; the answer names the expected seq.
    let a = mx.post(&[mx.referral(next + 5, "Too far ahead")]).await;
    refusals.check("sequence gap", &a, StatusCode::CONFLICT, "sequence-gap");
    assert_eq!(a.doc["expected_seq"].as_u64(), Some(next), "{a:?}");
    assert_eq!(us.stored().await, before, "sequence gap");

    // (8) Truncated body: the batch's JSON cut in half.
    let whole = encode_batch(&[mx.referral(next, "Cut in half")]).into_bytes();
    let a = mx.post_bytes(whole[..whole.len() / 2].to_vec()).await;
    refusals.check(
        "truncated batch",
        &a,
        StatusCode::BAD_REQUEST,
        "malformed-envelope",
    );
    assert_eq!(us.stored().await, before, "truncated batch");

    // (9) Oversized: an envelope body over `[federation] max_body_bytes` (set to 4096 above),
    // and a request larger than any batch US accepts.
    let mut big = referral_value("Too long to carry");
    big["details"] = json!("x".repeat(BODY_LIMIT + 1000));
    let big = mx.seal(Mx::draft(next, Uuid::now_v7()), wire::to_body_bytes(&big));
    assert!(big.body().len() > BODY_LIMIT);
    let a = mx.post(&[big]).await;
    refusals.check(
        "body over the configured limit",
        &a,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
    );
    // (Each of at most 256 envelopes may take the base64 of the limit plus 16 KiB.)
    let huge = vec![b' '; (BODY_LIMIT * 4 / 3 + 4 + 16 * 1024) * 256 + 16];
    let a = mx.post_bytes(huge).await;
    refusals.check(
        "request over the batch limit",
        &a,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
    );
    assert_eq!(us.stored().await, before, "oversized");

    // (10) Unknown message type: well formed and signed, but no such message.
    let mut d = Mx::draft(next, Uuid::now_v7());
    d.message_type = MessageType::parse("referral.teleport").unwrap();
    let a = mx.post(&[mx.seal(d, referral_body("Beam me up"))]).await;
    refusals.check(
        "unknown message type",
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown-message-type",
    );
    assert_eq!(us.stored().await, before, "unknown message type");

    // (11) Malformed entity: a firearm with neither a serial nor make and model.
    let mut bad = referral_value("A firearm nobody can identify");
    bad["entities"][1] = json!({"type": "firearm", "calibre": "9mm"});
    let a = mx
        .post(&[mx.seal(Mx::draft(next, Uuid::now_v7()), wire::to_body_bytes(&bad))])
        .await;
    refusals.check(
        "malformed entity",
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "malformed-body",
    );
    assert_eq!(
        a.doc["errors"],
        json!([{"pointer": "/entities/1", "code": "incomplete"}]),
        "{a:?}"
    );
    assert_eq!(us.stored().await, before, "malformed entity");

    // The stream is not wedged: in one batch, a correct envelope at the expected seq is
    // accepted and the bad one after it refused (naming its index), with the receipt of the
    // first.
    let good = mx.referral(next, "Shipment confirmed");
    let (header, mut signature, body) = mx.referral(next + 1, "Forged again").into_parts();
    signature[0] ^= 0x80;
    let a = mx
        .post(&[good.clone(), Envelope::from_parts(header, signature, body)])
        .await;
    refusals.check(
        "bad signature after a good one",
        &a,
        StatusCode::UNAUTHORIZED,
        "bad-signature",
    );
    assert_eq!(a.doc["index"], 1, "{a:?}");
    let receipt = us.receipt(&a);
    assert_eq!(
        (receipt.accepted.len(), receipt.next_seq),
        (1, next + 1),
        "{a:?}"
    );
    assert_eq!(receipt.accepted[0].envelope_sha256, good.envelope_hash());
    next += 1;
    // And the next one on its own.
    let a = mx.post(&[mx.referral(next, "Shipment seized")]).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    next += 1;
    let after = us.stored().await;
    assert_eq!(
        (
            after.referrals.len(),
            after.next_in_seq,
            after.receive_entries,
            after.inbound_envelopes,
            after.items
        ),
        (3, next, 3, 3, 3),
        "exactly the three correct envelopes were stored: {after:?}"
    );

    let (code, out) = us.node.audit_verify().await;
    assert_eq!(code, 0, "{out}");
    assert!(
        refusals.0.is_empty(),
        "refusals not as expected:\n{}",
        refusals.0.join("\n")
    );
}
