//! The exchange formats from the outside: the worked example of `docs/exchange.md` as a
//! known-answer test, Ed25519 against RFC 8032 and C2SP signed-note vectors, property tests of
//! envelopes and peer cards, and the fuzz target over envelope parsing and verification.

// Helpers outside #[test] functions unwrap too: a panic here is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use proptest::prelude::*;
use puente_domain::PartyCode;
use puente_exchange::card::{Endpoint, PeerCard};
use puente_exchange::envelope::{
    Envelope, EnvelopeDraft, EnvelopeHeader, MessageType, ReceiptBody, ReceiptEntry,
    check_freshness, check_recipient, decode_batch, encode_batch,
};
use puente_exchange::error::ExchangeError;
use puente_exchange::keys::{NodeKey, NodePublicKey, node_key_name};
use puente_exchange::tls::CertFingerprint;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

const MAX_BODY: usize = 64 * 1024;

// --- the worked example of docs/exchange.md -----------------------------------------------

/// The US example node key: seed bytes 0x00, 0x01, …, 0x1f.
fn us_key() -> NodeKey {
    NodeKey::from_seed(std::array::from_fn(|i| i as u8))
}

/// The MX example node key: seed bytes 0x20, 0x21, …, 0x3f.
fn mx_key() -> NodeKey {
    NodeKey::from_seed(std::array::from_fn(|i| 0x20 + i as u8))
}

const EXAMPLE_BODY: &[u8] = br#"{"summary":"Fictional example referral"}"#;

fn example_envelope() -> Envelope {
    let draft = EnvelopeDraft {
        sender: PartyCode::US,
        recipient: PartyCode::MX,
        id: Uuid::parse_str("01936b2e-1d4c-7a3e-9f00-5c1e2d3b4a59").unwrap(),
        seq: 42,
        time: datetime!(2026-11-25 13:00:00.123456 UTC),
        message_type: MessageType::parse("referral").unwrap(),
    };
    Envelope::seal(&us_key(), draft, EXAMPLE_BODY.to_vec()).unwrap()
}

fn example_receipt(envelope: &Envelope) -> Envelope {
    let body = ReceiptBody {
        accepted: vec![ReceiptEntry {
            id: Uuid::parse_str("01936b2e-1d4c-7a3e-9f00-5c1e2d3b4a59").unwrap(),
            seq: 42,
            envelope_sha256: envelope.envelope_hash(),
        }],
        next_seq: 43,
    };
    let draft = EnvelopeDraft {
        sender: PartyCode::MX,
        recipient: PartyCode::US,
        id: Uuid::parse_str("01936b2e-2a00-7b00-8000-000000000001").unwrap(),
        seq: 17,
        time: datetime!(2026-11-25 13:00:01.5 UTC),
        message_type: MessageType::receipt(),
    };
    Envelope::seal(&mx_key(), draft, body.to_bytes()).unwrap()
}

fn example_card() -> PeerCard {
    PeerCard::issue(
        &us_key(),
        PartyCode::US,
        Endpoint::parse("https://puente.us.example:8443").unwrap(),
        CertFingerprint::of_der(b"example certificate"),
        datetime!(2026-11-20 09:00:00 UTC),
    )
    .unwrap()
}

/// Every value of the worked example, as the doc shows it (label, exact text).
fn example_values() -> Vec<(&'static str, String)> {
    let env = example_envelope();
    let receipt = example_receipt(&env);
    let us = us_key().public();
    vec![
        ("us key file", us_key().to_file_text()),
        ("us public key", us.to_string()),
        ("mx public key", mx_key().public().to_string()),
        (
            "us key id",
            hex::encode(us.key_id(&node_key_name(PartyCode::US)).unwrap()),
        ),
        (
            "us verifier key",
            us.verifier_key(&node_key_name(PartyCode::US)).unwrap(),
        ),
        ("us fingerprint", us.fingerprint()),
        (
            "header",
            String::from_utf8(env.header_bytes().to_vec()).unwrap(),
        ),
        ("signature", B64.encode(env.signature())),
        (
            "signed bytes",
            String::from_utf8(env.to_signed_bytes()).unwrap(),
        ),
        ("envelope hash", hex::encode(env.envelope_hash())),
        ("transport", env.to_transport_json()),
        (
            "receipt body",
            String::from_utf8(receipt.body().to_vec()).unwrap(),
        ),
        (
            "receipt header",
            String::from_utf8(receipt.header_bytes().to_vec()).unwrap(),
        ),
        ("receipt signature", B64.encode(receipt.signature())),
        ("receipt hash", hex::encode(receipt.envelope_hash())),
        ("card", example_card().to_text()),
    ]
}

const DOC: &str = include_str!("../../../docs/exchange.md");

#[test]
fn the_doc_shows_the_example_exactly() {
    for (label, value) in example_values() {
        // Multi-line values appear as code blocks; single-line ones inline or in a block.
        assert!(
            DOC.contains(&value),
            "docs/exchange.md lacks the {label}; the doc must show exactly:\n{value}"
        );
    }
}

#[test]
fn known_answers_of_the_example() {
    let env = example_envelope();
    assert_eq!(B64.encode(env.signature()), EXAMPLE_SIGNATURE);
    assert_eq!(hex::encode(env.envelope_hash()), EXAMPLE_ENVELOPE_HASH);
    assert_eq!(us_key().public().to_string(), EXAMPLE_US_PUBLIC);
    let opened = env.clone().open(&us_key().public()).unwrap();
    assert_eq!(opened.header().seq(), 42);
    assert_eq!(opened.body(), EXAMPLE_BODY);
    let receipt = example_receipt(&env).open(&mx_key().public()).unwrap();
    let body = receipt.receipt().unwrap();
    assert_eq!(body.accepted[0].envelope_sha256, env.envelope_hash());
    assert_eq!(body.next_seq, 43);
    assert_eq!(
        B64.encode(example_card().signature()),
        EXAMPLE_CARD_SIGNATURE
    );
}

// Also computed independently from the doc's text with Python's `cryptography` and `hashlib`.
const EXAMPLE_US_PUBLIC: &str = "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const EXAMPLE_SIGNATURE: &str =
    "deiJrEdDLMqmzegdCUJ6TE/MQEoK3Ok9SCIp01eBtPCNZwmw18wT6WeZbKKfYyD2UJX0w/kB0i5d2kuvRvLJAg==";
const EXAMPLE_ENVELOPE_HASH: &str =
    "270a23a4bae3bb10efdff9a890e86d0add9d891dfef890a2a8d41a1a7c11c7ba";
const EXAMPLE_CARD_SIGNATURE: &str =
    "xcpWe1dhgvUri2bQo7Z7mfTegTrekuzTcZ/zhTo3I9eZD47wqRprblvS77quJBTSeIfoCH6TcXgbAYL9o034DA==";

// --- Ed25519 and signed-note vectors ------------------------------------------------------

/// RFC 8032 section 7.1, TEST 1 (empty message).
#[test]
fn rfc8032_test_vector_1() {
    let seed: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
    let key = NodeKey::from_seed(seed);
    assert_eq!(
        hex::encode(key.public().to_bytes()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    let signature = key.sign(b"");
    assert_eq!(
        hex::encode(signature),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
    key.public().verify(b"", &signature).unwrap();
    assert!(key.public().verify(b"x", &signature).is_err());
}

/// The example key of C2SP signed-note / Go's `sumdb/note`: same key id and verifier key, and
/// its signature over the example note text verifies.
#[test]
fn c2sp_signed_note_key_id() {
    let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let typed = B64.decode(vkey.rsplit('+').next().unwrap()).unwrap();
    assert_eq!(typed[0], 0x01);
    let public = NodePublicKey::from_bytes(typed[1..].try_into().unwrap()).unwrap();
    assert_eq!(
        hex::encode(public.key_id("PeterNeumann").unwrap()),
        "c74f20a3"
    );
    assert_eq!(public.verifier_key("PeterNeumann").unwrap(), vkey);
    let sig = B64
        .decode("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=")
        .unwrap();
    assert_eq!(hex::encode(&sig[..4]), "c74f20a3");
    let text = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n";
    public
        .verify(text.as_bytes(), &sig[4..].try_into().unwrap())
        .unwrap();
}

// --- envelopes: examples ------------------------------------------------------------------

#[test]
fn transport_json_round_trips_and_is_strict() {
    let env = example_envelope();
    let json = env.to_transport_json();
    assert_eq!(
        Envelope::from_transport_json(json.as_bytes(), MAX_BODY).unwrap(),
        env
    );
    let via_serde: Envelope = serde_json::from_str(&json).unwrap();
    assert_eq!(via_serde, env);
    assert_eq!(serde_json::to_string(&env).unwrap(), json);

    let unknown = json.replacen('{', r#"{"extra":1,"#, 1);
    assert!(matches!(
        Envelope::from_transport_json(unknown.as_bytes(), MAX_BODY),
        Err(ExchangeError::TransportJson(_))
    ));
    let bad_b64 = json.replacen(r#""body":""#, r#""body":"*"#, 1);
    assert!(matches!(
        Envelope::from_transport_json(bad_b64.as_bytes(), MAX_BODY),
        Err(ExchangeError::Base64 { field: "body" })
    ));
    let short_sig = serde_json::json!({
        "header": "x", "signature": B64.encode([0u8; 63]), "body": ""
    })
    .to_string();
    assert!(matches!(
        Envelope::from_transport_json(short_sig.as_bytes(), MAX_BODY),
        Err(ExchangeError::SignatureLength { len: 63 })
    ));
    assert!(matches!(
        Envelope::from_transport_json(json.as_bytes(), EXAMPLE_BODY.len() - 1),
        Err(ExchangeError::BodyTooLarge { .. })
    ));
    assert!(matches!(
        Envelope::from_transport_json(&vec![b' '; 20_000], 0),
        Err(ExchangeError::InputTooLarge { .. })
    ));
}

#[test]
fn batches_round_trip_and_are_bounded() {
    let env = example_envelope();
    let batch = vec![env.clone(), example_receipt(&env)];
    let json = encode_batch(&batch);
    assert_eq!(decode_batch(json.as_bytes(), MAX_BODY, 2).unwrap(), batch);
    assert!(matches!(
        decode_batch(json.as_bytes(), MAX_BODY, 1),
        Err(ExchangeError::BatchTooLarge { count: 2, max: 1 })
    ));
    assert!(decode_batch(b"[]", MAX_BODY, 1).unwrap().is_empty());
}

#[test]
fn signed_bytes_round_trip() {
    let env = example_envelope();
    let bytes = env.to_signed_bytes();
    assert_eq!(Envelope::from_signed_bytes(&bytes, MAX_BODY).unwrap(), env);
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        hex::encode(env.envelope_hash())
    );
    assert!(matches!(
        Envelope::from_signed_bytes(&bytes, EXAMPLE_BODY.len() - 1),
        Err(ExchangeError::BodyTooLarge { .. } | ExchangeError::InputTooLarge { .. })
    ));
}

#[test]
fn receiver_checks() {
    let env = example_envelope();
    let header = env.unverified_header().unwrap();
    check_recipient(&header, PartyCode::MX).unwrap();
    assert!(matches!(
        check_recipient(&header, PartyCode::US),
        Err(ExchangeError::WrongRecipient { .. })
    ));
    let sent = header.time();
    let age = time::Duration::hours(24);
    let skew = time::Duration::minutes(5);
    check_freshness(&header, sent, age, skew).unwrap();
    check_freshness(&header, sent - skew, age, skew).unwrap();
    check_freshness(&header, sent + age, age, skew).unwrap();
    assert!(matches!(
        check_freshness(
            &header,
            sent - skew - time::Duration::microseconds(1),
            age,
            skew
        ),
        Err(ExchangeError::FromTheFuture { .. })
    ));
    assert!(matches!(
        check_freshness(
            &header,
            sent + age + time::Duration::microseconds(1),
            age,
            skew
        ),
        Err(ExchangeError::TooOld { .. })
    ));
}

#[test]
fn a_non_receipt_has_no_receipt_body() {
    let opened = example_envelope().open(&us_key().public()).unwrap();
    assert!(matches!(opened.receipt(), Err(ExchangeError::NotAReceipt)));
}

#[test]
fn seal_refuses_what_the_header_cannot_say() {
    let draft = EnvelopeDraft {
        sender: PartyCode::US,
        recipient: PartyCode::MX,
        id: Uuid::nil(),
        seq: 0,
        time: OffsetDateTime::UNIX_EPOCH,
        message_type: MessageType::receipt(),
    };
    assert!(matches!(
        Envelope::seal(&us_key(), draft, vec![]),
        Err(ExchangeError::Unsealable { .. })
    ));
}

// --- envelopes: properties ----------------------------------------------------------------

fn party() -> impl Strategy<Value = PartyCode> {
    prop::sample::select(vec!["US", "MX", "HT", "JM", "TT", "CA", "AD", "ZW"])
        .prop_map(|c| PartyCode::parse(c).unwrap())
}

/// Any instant the header can express: 0000-01-01 to 9999-12-31, whole microseconds, UTC.
fn instant() -> impl Strategy<Value = OffsetDateTime> {
    (-62_167_219_200_000_000i64..=253_402_300_799_999_999i64).prop_map(|micros| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).unwrap()
    })
}

fn draft() -> impl Strategy<Value = EnvelopeDraft> {
    (
        party(),
        party(),
        any::<u128>(),
        1..=u64::MAX,
        instant(),
        "[a-z][a-z0-9.-]{0,63}",
    )
        .prop_map(|(sender, recipient, id, seq, time, t)| EnvelopeDraft {
            sender,
            recipient,
            id: Uuid::from_u128(id),
            seq,
            time,
            message_type: MessageType::parse(&t).unwrap(),
        })
}

fn header() -> impl Strategy<Value = EnvelopeHeader> {
    (draft(), any::<[u8; 32]>()).prop_map(|(d, h)| EnvelopeHeader::new(d, h).unwrap())
}

/// A sealed envelope with a body of 0 to 300 bytes, by the US example key.
fn sealed() -> impl Strategy<Value = Envelope> {
    (draft(), prop::collection::vec(any::<u8>(), 0..300))
        .prop_map(|(d, body)| Envelope::seal(&us_key(), d, body).unwrap())
}

/// Opens signed bytes as a receiver would: decode, then verify.
fn receive(bytes: &[u8], key: &NodePublicKey) -> Result<(), ExchangeError> {
    Envelope::from_signed_bytes(bytes, MAX_BODY)?
        .open(key)
        .map(|_| ())
}

proptest! {
    #[test]
    fn header_text_round_trips(h in header()) {
        let text = h.to_text();
        let parsed = EnvelopeHeader::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(&parsed, &h);
        prop_assert_eq!(parsed.to_text(), text);
    }

    #[test]
    fn sealed_envelopes_open_and_round_trip(env in sealed()) {
        let key = us_key().public();
        let bytes = env.to_signed_bytes();
        prop_assert_eq!(&Envelope::from_signed_bytes(&bytes, MAX_BODY).unwrap(), &env);
        let json = env.to_transport_json();
        prop_assert_eq!(&Envelope::from_transport_json(json.as_bytes(), MAX_BODY).unwrap(), &env);
        let opened = env.clone().open(&key).unwrap();
        prop_assert_eq!(opened.envelope_hash(), env.envelope_hash());
    }

    #[test]
    fn any_single_bit_flip_is_rejected(env in sealed(), bit in any::<prop::sample::Index>()) {
        let key = us_key().public();
        // In the whole-envelope serialisation: header, signature line or body.
        let mut bytes = env.to_signed_bytes();
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        prop_assert!(receive(&bytes, &key).is_err());

        // And in the three parts as they are stored.
        let (header, signature, body) = env.into_parts();
        let total = (header.len() + 64 + body.len()) * 8;
        let i = bit.index(total);
        let (mut h, mut s, mut b) = (header, signature, body);
        let byte = i / 8;
        if byte < h.len() {
            h[byte] ^= 1 << (i % 8);
        } else if byte < h.len() + 64 {
            s[byte - h.len()] ^= 1 << (i % 8);
        } else {
            b[byte - h.len() - 64] ^= 1 << (i % 8);
        }
        prop_assert!(Envelope::from_parts(h, s, b).open(&key).is_err());
    }

    #[test]
    fn any_truncation_is_rejected(env in sealed(), cut in any::<prop::sample::Index>()) {
        let key = us_key().public();
        let bytes = env.to_signed_bytes();
        let at = cut.index(bytes.len());
        prop_assert!(receive(&bytes[..at], &key).is_err());

        let (header, signature, body) = env.into_parts();
        let h_at = cut.index(header.len());
        prop_assert!(Envelope::from_parts(header[..h_at].to_vec(), signature, body.clone()).open(&key).is_err());
        if !body.is_empty() {
            let b_at = cut.index(body.len());
            prop_assert!(Envelope::from_parts(header, signature, body[..b_at].to_vec()).open(&key).is_err());
        }
    }

    #[test]
    fn another_senders_key_is_rejected(env in sealed(), seed in any::<[u8; 32]>()) {
        let other = NodeKey::from_seed(seed).public();
        prop_assume!(other != us_key().public());
        prop_assert!(matches!(env.open(&other), Err(ExchangeError::EnvelopeSignatureInvalid)));
    }

    #[test]
    fn receipt_bodies_round_trip(
        entries in prop::collection::vec((any::<u128>(), 1..=u64::MAX, any::<[u8; 32]>()), 0..5),
        next_seq in 1..=u64::MAX,
    ) {
        let body = ReceiptBody {
            accepted: entries
                .into_iter()
                .map(|(id, seq, h)| ReceiptEntry { id: Uuid::from_u128(id), seq, envelope_sha256: h })
                .collect(),
            next_seq,
        };
        prop_assert_eq!(ReceiptBody::from_bytes(&body.to_bytes()).unwrap(), body);
    }
}

// --- the fuzz target over envelope parsing and verification ---------------------------------

/// One edit of a valid input: flip, overwrite, insert or delete a byte.
fn mutate(mut bytes: Vec<u8>, edits: &[(u8, prop::sample::Index, u8)]) -> Vec<u8> {
    for (kind, at, value) in edits {
        match kind % 4 {
            0 if !bytes.is_empty() => {
                let i = at.index(bytes.len());
                bytes[i] ^= value | 1;
            }
            1 if !bytes.is_empty() => {
                let i = at.index(bytes.len());
                bytes[i] = *value;
            }
            2 => {
                let i = at.index(bytes.len() + 1);
                bytes.insert(i, *value);
            }
            _ if !bytes.is_empty() => {
                let i = at.index(bytes.len());
                bytes.remove(i);
            }
            _ => {}
        }
    }
    bytes
}

/// Runs every decoder and verifier over `input`; they must return, never panic. Whatever the
/// header parser accepts must be canonical: formatting it again gives the same bytes.
fn feed_everything(input: &[u8]) {
    if let Ok(h) = EnvelopeHeader::parse(input) {
        assert_eq!(
            h.to_text().as_bytes(),
            input,
            "a non-canonical header was accepted"
        );
    }
    let key = us_key().public();
    if let Ok(env) = Envelope::from_signed_bytes(input, MAX_BODY) {
        assert_eq!(env.to_signed_bytes(), input);
        let _ = env.unverified_header();
        let _ = env.envelope_hash();
        if let Ok(opened) = env.open(&key) {
            let _ = opened.receipt();
        }
    }
    if let Ok(env) = Envelope::from_transport_json(input, MAX_BODY) {
        let _ = env.open(&key);
    }
    if let Ok(batch) = decode_batch(input, MAX_BODY, 8) {
        for env in batch {
            let _ = env.open(&key);
        }
    }
    let _ = serde_json::from_slice::<Envelope>(input);
    let _ = ReceiptBody::from_bytes(input);
    let text = String::from_utf8_lossy(input);
    let _ = PeerCard::parse_and_verify(&text);
    let _ = NodeKey::from_file_text(&text);
    let _ = NodePublicKey::parse(&text);
    let _ = Endpoint::parse(&text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Fuzz target: arbitrary bytes.
    #[test]
    fn fuzz_envelope_parsing_and_verification_never_panics(
        input in prop::collection::vec(any::<u8>(), 0..1200)
    ) {
        feed_everything(&input);
    }

    /// Fuzz target: valid inputs (signed bytes, transport JSON, batch, receipt, card) with a
    /// few random edits, which reach far deeper into the parsers than random bytes.
    #[test]
    fn fuzz_mutated_valid_inputs_never_panic(
        which in 0u8..6,
        edits in prop::collection::vec((any::<u8>(), any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let env = example_envelope();
        let valid = match which {
            0 => env.header_bytes().to_vec(),
            1 => env.to_signed_bytes(),
            2 => env.to_transport_json().into_bytes(),
            3 => encode_batch(&[env.clone(), example_receipt(&env)]).into_bytes(),
            4 => example_receipt(&env).body().to_vec(),
            _ => example_card().to_text().into_bytes(),
        };
        let mutated = mutate(valid.clone(), &edits);
        feed_everything(&mutated);
        if mutated != valid {
            // A changed envelope never opens under the sender's key.
            if let Ok(e) = Envelope::from_signed_bytes(&mutated, MAX_BODY) {
                prop_assert!(e.open(&us_key().public()).is_err());
            }
            if let Ok(e) = Envelope::from_transport_json(&mutated, MAX_BODY) {
                // Only if the JSON still decodes to different parts: white space edits do not.
                if e != env {
                    prop_assert!(e.open(&us_key().public()).is_err());
                }
            }
            if let Ok(card) = PeerCard::parse_and_verify(&String::from_utf8_lossy(&mutated)) {
                prop_assert_eq!(card, example_card());
            }
        }
    }
}

// --- peer cards ---------------------------------------------------------------------------

#[test]
fn a_card_round_trips() {
    let card = example_card();
    let text = card.to_text();
    let parsed = PeerCard::parse_and_verify(&text).unwrap();
    assert_eq!(parsed, card);
    assert_eq!(parsed.to_text(), text);
    assert_eq!(parsed.signing_key(), &us_key().public());
    assert_eq!(parsed.key_fingerprint(), us_key().public().fingerprint());
}

#[test]
fn an_altered_card_field_is_rejected() {
    let text = example_card().to_text();
    let other_fp = CertFingerprint::of_der(b"another certificate").to_string();
    let fp = CertFingerprint::of_der(b"example certificate").to_string();
    for (from, to) in [
        ("party US", "party MX"),
        (":8443", ":8444"),
        ("puente.us.example", "puente.mx.example"),
        (fp.as_str(), other_fp.as_str()),
        ("2026-11-20T09:00:00.000000Z", "2026-11-20T09:00:00.000001Z"),
    ] {
        assert!(text.contains(from), "{from}");
        let altered = text.replacen(from, to, 1);
        assert!(
            matches!(
                PeerCard::parse_and_verify(&altered),
                Err(ExchangeError::CardSignatureInvalid)
            ),
            "{from} -> {to}"
        );
    }
    for (from, to, what) in [
        ("puente-peer-card/v1", "puente-peer-card/v2", "version"),
        ("party US\n", "party US\r\n", "cr"),
        ("endpoint https", "endpoint http", "scheme"),
        ("\nsignature ", "\n\nsignature ", "blank line"),
    ] {
        assert!(
            PeerCard::parse_and_verify(&text.replacen(from, to, 1)).is_err(),
            "{what}"
        );
    }
    assert!(matches!(
        PeerCard::parse_and_verify(&format!("{text}x")),
        Err(ExchangeError::CardTrailingData)
    ));
}

#[test]
fn a_card_signed_by_another_key_is_rejected() {
    let card = example_card();
    let text = card.to_text();
    // The MX key put in place of the US key: the US signature does not verify under it.
    let swapped = text.replacen(
        &us_key().public().to_string(),
        &mx_key().public().to_string(),
        1,
    );
    assert!(matches!(
        PeerCard::parse_and_verify(&swapped),
        Err(ExchangeError::CardSignatureInvalid)
    ));
    // The MX key's signature on a card carrying the US key.
    let by_mx = PeerCard::issue(
        &mx_key(),
        PartyCode::US,
        card.endpoint().clone(),
        *card.tls_cert_sha256(),
        card.issued(),
    )
    .unwrap()
    .to_text();
    let sig_line = |t: &str| t.lines().last().unwrap().to_owned();
    let forged = text.replacen(&sig_line(&text), &sig_line(&by_mx), 1);
    assert!(matches!(
        PeerCard::parse_and_verify(&forged),
        Err(ExchangeError::CardSignatureInvalid)
    ));
}
