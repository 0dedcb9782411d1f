//! The signed envelope every message between nodes travels in, and the receipt that answers it.
//!
//! No JSON canonicalisation anywhere: the sender signs an exact text **header** (fixed lines in
//! a fixed order, specified in `docs/exchange.md`), and the header commits to the **body**, which
//! travels as exact bytes, by its SHA-256. Parsing accepts only the canonical form, so
//! `parse(format(h)) == h` and `format(parse(b)) == b` for every accepted `b`: a header has one
//! byte form, and the exchange log can hash what was signed.
//!
//! What is signed: the header bytes themselves. Their first line, `puente-envelope/v1`, is the
//! domain separator: no other object a puente node signs begins with it (peer cards begin with
//! `puente-peer-card/v1`).
//!
//! This module checks what the bytes alone can prove (format, body hash, signature). What needs
//! the receiver's context is split out: `check_recipient` and `check_freshness` are pure helpers
//! here; sequence numbers and de-duplication belong to the store.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use puente_domain::PartyCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use uuid::Uuid;

use crate::error::ExchangeError;
use crate::keys::{NodeKey, NodePublicKey};

/// The first line of every envelope header (without its LF).
pub const ENVELOPE_VERSION: &str = "puente-envelope/v1";
/// The longest header accepted, in bytes. A maximal valid header is under 300 bytes.
pub const MAX_HEADER_LEN: usize = 1024;
/// The field names, in the order the header must list them.
const FIELDS: [&str; 7] = [
    "sender",
    "recipient",
    "id",
    "seq",
    "time",
    "type",
    "body-sha256",
];
/// `signature ` + 88 base64 characters + LF, in the whole-envelope serialisation.
const SIGNATURE_LINE_LEN: usize = 10 + 88 + 1;
/// Slack allowed around the base64 payload of a transport JSON object (keys, quotes, the
/// escaped header, white space); bounds the input before it is parsed.
const TRANSPORT_OVERHEAD: usize = 16 * 1024;

/// A message type token, `[a-z][a-z0-9.-]{0,63}`. The crate does not know the list of types;
/// callers do (`referral`, `rfi`, …), except `receipt`, which this module defines.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct MessageType(String);

impl MessageType {
    /// The type of receipts.
    pub const RECEIPT: &'static str = "receipt";

    pub fn parse(s: &str) -> Result<Self, ExchangeError> {
        let b = s.as_bytes();
        let ok = (1..=64).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b[1..]
                .iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ExchangeError::BadMessageType)
        }
    }

    /// The `receipt` type.
    pub fn receipt() -> Self {
        Self(Self::RECEIPT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the sender decides about an envelope; `seal` adds the body hash and the signature.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EnvelopeDraft {
    pub sender: PartyCode,
    pub recipient: PartyCode,
    /// The message id (the sender's UUIDv7, normally).
    pub id: Uuid,
    /// Position in the ordered stream sender → recipient, from 1.
    pub seq: u64,
    /// Converted to UTC and truncated to whole microseconds when sealed.
    pub time: OffsetDateTime,
    pub message_type: MessageType,
}

/// A parsed envelope header. Only `parse` and `new` make one, so its fields are always in the
/// range the text form can express and `to_text` is its one byte form.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EnvelopeHeader {
    sender: PartyCode,
    recipient: PartyCode,
    id: Uuid,
    seq: u64,
    time: OffsetDateTime,
    message_type: MessageType,
    body_sha256: [u8; 32],
}

impl EnvelopeHeader {
    /// The header for `draft` and a body whose SHA-256 is `body_sha256`. Fails if `seq` is 0 or
    /// the time, once in UTC and truncated to microseconds, is outside the years 0000–9999.
    pub fn new(draft: EnvelopeDraft, body_sha256: [u8; 32]) -> Result<Self, ExchangeError> {
        if draft.seq == 0 {
            return Err(ExchangeError::Unsealable {
                reason: "seq is 0 (sequences start at 1)",
            });
        }
        let time = canonical_time(draft.time).ok_or(ExchangeError::Unsealable {
            reason: "the time is outside the years 0000 to 9999",
        })?;
        Ok(Self {
            sender: draft.sender,
            recipient: draft.recipient,
            id: draft.id,
            seq: draft.seq,
            time,
            message_type: draft.message_type,
            body_sha256,
        })
    }

    pub fn sender(&self) -> PartyCode {
        self.sender
    }
    pub fn recipient(&self) -> PartyCode {
        self.recipient
    }
    pub fn id(&self) -> Uuid {
        self.id
    }
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// In UTC, whole microseconds.
    pub fn time(&self) -> OffsetDateTime {
        self.time
    }
    pub fn message_type(&self) -> &MessageType {
        &self.message_type
    }
    pub fn body_sha256(&self) -> &[u8; 32] {
        &self.body_sha256
    }

    /// The header's one text form (the bytes that are signed).
    pub fn to_text(&self) -> String {
        format!(
            "{ENVELOPE_VERSION}\nsender {}\nrecipient {}\nid {}\nseq {}\ntime {}\ntype {}\nbody-sha256 {}\n",
            self.sender,
            self.recipient,
            self.id.hyphenated(),
            self.seq,
            format_time(self.time),
            self.message_type,
            hex::encode(self.body_sha256),
        )
    }

    /// Parses exactly one header and nothing after it.
    pub fn parse(bytes: &[u8]) -> Result<Self, ExchangeError> {
        if bytes.len() > MAX_HEADER_LEN {
            return Err(ExchangeError::HeaderTooLarge {
                len: bytes.len(),
                max: MAX_HEADER_LEN,
            });
        }
        let (header, len) = Self::parse_prefix(bytes)?;
        if len != bytes.len() {
            return Err(ExchangeError::TrailingData);
        }
        Ok(header)
    }

    /// Parses the header at the start of `bytes`; returns it and its length in bytes. Looks at
    /// no more than `MAX_HEADER_LEN` bytes.
    fn parse_prefix(bytes: &[u8]) -> Result<(Self, usize), ExchangeError> {
        let window = &bytes[..bytes.len().min(MAX_HEADER_LEN)];
        let truncated = bytes.len() > MAX_HEADER_LEN;
        let mut lines = Lines {
            window,
            pos: 0,
            truncated,
        };

        let version = lines.next(ENVELOPE_VERSION).map_err(|e| match e {
            ExchangeError::HeaderTooLarge { .. } => e,
            _ => ExchangeError::VersionLine,
        })?;
        if version != ENVELOPE_VERSION {
            return Err(ExchangeError::VersionLine);
        }

        let mut values = [""; 7];
        for (i, field) in FIELDS.iter().enumerate() {
            let line = lines.next(field)?;
            values[i] = line
                .strip_prefix(field)
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or(ExchangeError::MisplacedField { field, line: i + 2 })?;
        }
        let [sender, recipient, id, seq, time, message_type, body_sha256] = values;
        let header = Self {
            sender: PartyCode::parse(sender)
                .map_err(|_| ExchangeError::BadParty { field: "sender" })?,
            recipient: PartyCode::parse(recipient)
                .map_err(|_| ExchangeError::BadParty { field: "recipient" })?,
            id: parse_uuid(id).ok_or(ExchangeError::BadId)?,
            seq: parse_seq(seq)?,
            time: parse_time(time).ok_or(ExchangeError::BadTime { field: "envelope" })?,
            message_type: MessageType::parse(message_type)?,
            body_sha256: parse_hex32(body_sha256).ok_or(ExchangeError::BadBodyHash)?,
        };
        Ok((header, lines.pos))
    }
}

/// Walks LF-terminated lines through a bounded window of the input.
struct Lines<'a> {
    window: &'a [u8],
    pos: usize,
    /// Whether the input goes on past the window (so a missing LF means "too large").
    truncated: bool,
}

impl<'a> Lines<'a> {
    /// The next line without its LF.
    fn next(&mut self, field: &'static str) -> Result<&'a str, ExchangeError> {
        let rest = &self.window[self.pos..];
        if rest.is_empty() && !self.truncated {
            return Err(ExchangeError::MissingField { field });
        }
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Err(if self.truncated {
                ExchangeError::HeaderTooLarge {
                    len: MAX_HEADER_LEN + 1,
                    max: MAX_HEADER_LEN,
                }
            } else {
                ExchangeError::UnterminatedLine { field }
            });
        };
        let line = &rest[..end];
        if line.contains(&b'\r') {
            return Err(ExchangeError::HeaderCarriageReturn);
        }
        let line = std::str::from_utf8(line).map_err(|_| ExchangeError::HeaderNotUtf8)?;
        self.pos += end + 1;
        Ok(line)
    }
}

/// An envelope as it travels: exact header bytes, signature, exact body bytes. Nothing about it
/// is trusted until `open` returns a `VerifiedEnvelope`.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    header: Vec<u8>,
    signature: [u8; 64],
    body: Vec<u8>,
}

impl Envelope {
    /// Hashes the body, writes the header, and signs the header with the node key.
    pub fn seal(
        key: &NodeKey,
        draft: EnvelopeDraft,
        body: Vec<u8>,
    ) -> Result<Envelope, ExchangeError> {
        Ok(Self::seal_with_header(key, draft, body)?.0)
    }

    /// Like `seal`, also giving back the header it wrote, so a sender need not parse it again.
    pub fn seal_with_header(
        key: &NodeKey,
        draft: EnvelopeDraft,
        body: Vec<u8>,
    ) -> Result<(Envelope, EnvelopeHeader), ExchangeError> {
        let parsed = EnvelopeHeader::new(draft, Sha256::digest(&body).into())?;
        let header = parsed.to_text().into_bytes();
        let signature = key.sign(&header);
        Ok((
            Envelope {
                header,
                signature,
                body,
            },
            parsed,
        ))
    }

    /// An envelope from its three parts as stored or received, unchecked.
    pub fn from_parts(header: Vec<u8>, signature: [u8; 64], body: Vec<u8>) -> Envelope {
        Envelope {
            header,
            signature,
            body,
        }
    }

    pub fn header_bytes(&self) -> &[u8] {
        &self.header
    }
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    pub fn into_parts(self) -> (Vec<u8>, [u8; 64], Vec<u8>) {
        (self.header, self.signature, self.body)
    }

    /// The header, parsed but **not authenticated**: only to learn which sender's key to open
    /// the envelope with.
    pub fn unverified_header(&self) -> Result<EnvelopeHeader, ExchangeError> {
        EnvelopeHeader::parse(&self.header)
    }

    /// Checks the header's format, the signature under the sender's key, and the body's hash.
    /// Recipient, freshness and sequence are the caller's to check (`check_recipient`,
    /// `check_freshness`, the store).
    pub fn open(self, sender_key: &NodePublicKey) -> Result<VerifiedEnvelope, ExchangeError> {
        let header = EnvelopeHeader::parse(&self.header)?;
        sender_key
            .verify(&self.header, &self.signature)
            .map_err(|_| ExchangeError::EnvelopeSignatureInvalid)?;
        if Sha256::digest(&self.body).as_slice() != header.body_sha256 {
            return Err(ExchangeError::BodyHashMismatch);
        }
        Ok(VerifiedEnvelope {
            header,
            envelope: self,
        })
    }

    /// The whole envelope as one byte string: the header bytes, then the line
    /// `signature <standard base64 of the 64-byte signature>` + LF, then the body bytes.
    /// This is what the exchange log records and `envelope_hash` hashes.
    pub fn to_signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header.len() + SIGNATURE_LINE_LEN + self.body.len());
        out.extend_from_slice(&self.header);
        out.extend_from_slice(self.signature_line().as_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// Reads the whole-envelope serialisation. The header must parse (its end is found by its
    /// grammar); the body is everything after the signature line and at most `max_body` bytes.
    pub fn from_signed_bytes(bytes: &[u8], max_body: usize) -> Result<Envelope, ExchangeError> {
        let max = MAX_HEADER_LEN
            .saturating_add(SIGNATURE_LINE_LEN)
            .saturating_add(max_body);
        if bytes.len() > max {
            return Err(ExchangeError::InputTooLarge {
                len: bytes.len(),
                max,
            });
        }
        let (_, header_len) = EnvelopeHeader::parse_prefix(bytes)?;
        let (header, rest) = bytes.split_at(header_len);
        let signature = rest
            .get(..SIGNATURE_LINE_LEN)
            .and_then(|line| line.strip_prefix(b"signature "))
            .and_then(|line| line.strip_suffix(b"\n"))
            .and_then(decode_signature)
            .ok_or(ExchangeError::SignatureLine)?;
        let body = &rest[SIGNATURE_LINE_LEN..];
        if body.len() > max_body {
            return Err(ExchangeError::BodyTooLarge {
                len: body.len(),
                max: max_body,
            });
        }
        Ok(Envelope {
            header: header.to_vec(),
            signature,
            body: body.to_vec(),
        })
    }

    /// SHA-256 of `to_signed_bytes()`: the envelope's identity in the exchange log and receipts.
    pub fn envelope_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(&self.header);
        h.update(self.signature_line().as_bytes());
        h.update(&self.body);
        h.finalize().into()
    }

    fn signature_line(&self) -> String {
        format!("signature {}\n", B64.encode(self.signature))
    }

    /// The transport form: `{"header":…,"signature":…,"body":…}` (signature and body in
    /// standard base64 with padding).
    pub fn to_transport_json(&self) -> String {
        // Serialising three strings cannot fail; the fallback keeps the lint against panics.
        serde_json::to_string(&self.to_wire()).unwrap_or_default()
    }

    /// Reads one transport object, refusing a body over `max_body` bytes before decoding it.
    pub fn from_transport_json(json: &[u8], max_body: usize) -> Result<Envelope, ExchangeError> {
        let max = transport_max_len(max_body);
        if json.len() > max {
            return Err(ExchangeError::InputTooLarge {
                len: json.len(),
                max,
            });
        }
        let wire: WireEnvelope =
            serde_json::from_slice(json).map_err(ExchangeError::TransportJson)?;
        wire.decode(max_body)
    }

    fn to_wire(&self) -> WireEnvelope {
        WireEnvelope {
            // A header that is not UTF-8 never parses; lossy conversion only affects those.
            header: String::from_utf8_lossy(&self.header).into_owned(),
            signature: B64.encode(self.signature),
            body: B64.encode(&self.body),
        }
    }
}

impl fmt::Debug for Envelope {
    // The body may carry personal data: show its size, not its content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("header", &String::from_utf8_lossy(&self.header))
            .field("signature", &B64.encode(self.signature))
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Serialize for Envelope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(s)
    }
}

/// Deserialising checks the header size and the base64 but sets no body limit: bound the input
/// (the HTTP body limit) or use `from_transport_json` / `decode_batch`.
impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        WireEnvelope::deserialize(d)?
            .decode(usize::MAX)
            .map_err(serde::de::Error::custom)
    }
}

/// The transport JSON object, field for field.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope {
    header: String,
    signature: String,
    body: String,
}

impl WireEnvelope {
    /// Size checks first, then base64 decoding.
    fn decode(self, max_body: usize) -> Result<Envelope, ExchangeError> {
        if self.header.len() > MAX_HEADER_LEN {
            return Err(ExchangeError::HeaderTooLarge {
                len: self.header.len(),
                max: MAX_HEADER_LEN,
            });
        }
        if self.body.len() > base64::encoded_len(max_body, true).unwrap_or(usize::MAX) {
            return Err(ExchangeError::BodyTooLarge {
                len: self.body.len() / 4 * 3,
                max: max_body,
            });
        }
        let signature = B64
            .decode(&self.signature)
            .map_err(|_| ExchangeError::Base64 { field: "signature" })?;
        let signature: [u8; 64] = signature
            .try_into()
            .map_err(|s: Vec<u8>| ExchangeError::SignatureLength { len: s.len() })?;
        let body = B64
            .decode(&self.body)
            .map_err(|_| ExchangeError::Base64 { field: "body" })?;
        // Padding can make the base64 bound a byte or two loose.
        if body.len() > max_body {
            return Err(ExchangeError::BodyTooLarge {
                len: body.len(),
                max: max_body,
            });
        }
        Ok(Envelope {
            header: self.header.into_bytes(),
            signature,
            body,
        })
    }
}

/// The longest transport JSON object accepted for a body limit of `max_body` bytes.
pub fn transport_max_len(max_body: usize) -> usize {
    base64::encoded_len(max_body, true)
        .unwrap_or(usize::MAX)
        .saturating_add(TRANSPORT_OVERHEAD)
}

/// A batch in transport form: a JSON array of transport objects.
pub fn encode_batch(envelopes: &[Envelope]) -> String {
    let wire: Vec<WireEnvelope> = envelopes.iter().map(Envelope::to_wire).collect();
    serde_json::to_string(&wire).unwrap_or_default()
}

/// Reads a batch of at most `max_count` envelopes with bodies of at most `max_body` bytes.
pub fn decode_batch(
    json: &[u8],
    max_body: usize,
    max_count: usize,
) -> Result<Vec<Envelope>, ExchangeError> {
    let max = transport_max_len(max_body)
        .saturating_mul(max_count)
        .saturating_add(2);
    if json.len() > max {
        return Err(ExchangeError::InputTooLarge {
            len: json.len(),
            max,
        });
    }
    let wire: Vec<WireEnvelope> =
        serde_json::from_slice(json).map_err(ExchangeError::TransportJson)?;
    if wire.len() > max_count {
        return Err(ExchangeError::BatchTooLarge {
            count: wire.len(),
            max: max_count,
        });
    }
    wire.into_iter().map(|w| w.decode(max_body)).collect()
}

/// An envelope whose format, body hash and signature under its sender's key have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    header: EnvelopeHeader,
    envelope: Envelope,
}

impl VerifiedEnvelope {
    pub fn header(&self) -> &EnvelopeHeader {
        &self.header
    }
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
    pub fn body(&self) -> &[u8] {
        &self.envelope.body
    }
    pub fn envelope_hash(&self) -> [u8; 32] {
        self.envelope.envelope_hash()
    }
    pub fn into_envelope(self) -> Envelope {
        self.envelope
    }

    /// The receipt this envelope carries, if it is of type `receipt`.
    pub fn receipt(&self) -> Result<ReceiptBody, ExchangeError> {
        if self.header.message_type.as_str() != MessageType::RECEIPT {
            return Err(ExchangeError::NotAReceipt);
        }
        ReceiptBody::from_bytes(&self.envelope.body)
    }
}

/// Refuses an envelope addressed to another party than `me`.
pub fn check_recipient(header: &EnvelopeHeader, me: PartyCode) -> Result<(), ExchangeError> {
    if header.recipient == me {
        Ok(())
    } else {
        Err(ExchangeError::WrongRecipient {
            recipient: header.recipient,
            me,
        })
    }
}

/// Refuses an envelope dated more than `max_skew` after `now`, or more than `max_age` before.
pub fn check_freshness(
    header: &EnvelopeHeader,
    now: OffsetDateTime,
    max_age: Duration,
    max_skew: Duration,
) -> Result<(), ExchangeError> {
    let age = now - header.time;
    if -age > max_skew {
        return Err(ExchangeError::FromTheFuture {
            ahead_ms: (-age).whole_milliseconds(),
        });
    }
    if age > max_age {
        return Err(ExchangeError::TooOld {
            age_ms: age.whole_milliseconds(),
        });
    }
    Ok(())
}

/// The body of a `receipt` envelope: which envelopes the receiver accepted, and the seq it
/// expects next from the sender. Its byte form is exactly what `to_bytes` writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptBody {
    pub accepted: Vec<ReceiptEntry>,
    /// The next seq the receiver expects in the stream being acknowledged (≥ 1).
    pub next_seq: u64,
}

/// One accepted envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptEntry {
    pub id: Uuid,
    /// ≥ 1.
    pub seq: u64,
    /// `envelope_hash()` of the accepted envelope.
    pub envelope_sha256: [u8; 32],
}

impl ReceiptBody {
    /// Compact JSON, keys in this order, no white space:
    /// `{"accepted":[{"id":"<uuid>","seq":N,"envelope_sha256":"<hex>"},…],"next_seq":N}`.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Written by hand: every value is a number, a UUID or hex, so nothing needs escaping,
        // and the exact bytes are this code's, not a serialiser's.
        let entries: Vec<String> = self
            .accepted
            .iter()
            .map(|e| {
                format!(
                    r#"{{"id":"{}","seq":{},"envelope_sha256":"{}"}}"#,
                    e.id.hyphenated(),
                    e.seq,
                    hex::encode(e.envelope_sha256)
                )
            })
            .collect();
        format!(
            r#"{{"accepted":[{}],"next_seq":{}}}"#,
            entries.join(","),
            self.next_seq
        )
        .into_bytes()
    }

    /// Reads a receipt body: the right shape with no unknown field, valid values, and exactly
    /// the bytes `to_bytes` would write.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ExchangeError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct WireReceipt {
            accepted: Vec<WireEntry>,
            next_seq: u64,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct WireEntry {
            id: String,
            seq: u64,
            envelope_sha256: String,
        }
        let wire: WireReceipt =
            serde_json::from_slice(bytes).map_err(ExchangeError::ReceiptJson)?;
        let field = |field| ExchangeError::ReceiptField { field };
        if wire.next_seq == 0 {
            return Err(field("next_seq"));
        }
        let accepted = wire
            .accepted
            .into_iter()
            .map(|e| {
                Ok(ReceiptEntry {
                    id: parse_uuid(&e.id).ok_or(field("accepted/id"))?,
                    seq: if e.seq == 0 {
                        return Err(field("accepted/seq"));
                    } else {
                        e.seq
                    },
                    envelope_sha256: parse_hex32(&e.envelope_sha256)
                        .ok_or(field("accepted/envelope_sha256"))?,
                })
            })
            .collect::<Result<Vec<_>, ExchangeError>>()?;
        let receipt = ReceiptBody {
            accepted,
            next_seq: wire.next_seq,
        };
        if receipt.to_bytes() != bytes {
            return Err(ExchangeError::ReceiptNotCanonical);
        }
        Ok(receipt)
    }
}

// --- canonical field forms, shared with the peer card -----------------------------------------

/// `t` in UTC truncated to whole microseconds, if its year is within 0000–9999.
pub(crate) fn canonical_time(t: OffsetDateTime) -> Option<OffsetDateTime> {
    let t = t.checked_to_offset(UtcOffset::UTC)?;
    let t = t.replace_nanosecond(t.microsecond() * 1000).ok()?;
    (0..=9999).contains(&t.year()).then_some(t)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, for a time already in canonical form.
pub(crate) fn format_time(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The inverse of `format_time`: exactly 27 characters naming a real UTC instant (no leap
/// second, no 30 February).
pub(crate) fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 27 {
        return None;
    }
    let punctuation = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ];
    for (i, c) in b.iter().enumerate() {
        let ok = match punctuation.iter().find(|(p, _)| *p == i) {
            Some((_, expected)) => c == expected,
            None => c.is_ascii_digit(),
        };
        if !ok {
            return None;
        }
    }
    let num = |from: usize, to: usize| -> u32 {
        b[from..to]
            .iter()
            .fold(0, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let year = i32::try_from(num(0, 4)).ok()?;
    let month = Month::try_from(u8::try_from(num(5, 7)).ok()?).ok()?;
    let day = u8::try_from(num(8, 10)).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_micro(
        u8::try_from(num(11, 13)).ok()?,
        u8::try_from(num(14, 16)).ok()?,
        u8::try_from(num(17, 19)).ok()?,
        num(20, 26),
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// A UUID in its lowercase hyphenated form, and only that form.
pub(crate) fn parse_uuid(s: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(s).ok()?;
    let mut buf = Uuid::encode_buffer();
    (id.hyphenated().encode_lower(&mut buf) == s).then_some(id)
}

/// 64 lowercase hex digits.
pub(crate) fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// A decimal u64 ≥ 1 without leading zeros.
fn parse_seq(s: &str) -> Result<u64, ExchangeError> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ExchangeError::SeqNotDecimal);
    }
    if s == "0" {
        return Err(ExchangeError::SeqZero);
    }
    if s.starts_with('0') {
        return Err(ExchangeError::SeqLeadingZero);
    }
    s.parse().map_err(|_| ExchangeError::SeqOverflow)
}

/// A signature from the 88 characters of its standard base64.
fn decode_signature(b64: &[u8]) -> Option<[u8; 64]> {
    let mut out = [0u8; 64];
    // 88 characters with `==` decode to 64 bytes; decode_slice refuses anything longer.
    (B64.decode_slice(b64, &mut out).ok()? == 64).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_text() -> String {
        "puente-envelope/v1\nsender US\nrecipient MX\nid 01936b2e-1d4c-7a3e-9f00-5c1e2d3b4a59\n\
         seq 42\ntime 2026-11-25T13:00:00.123456Z\ntype referral\nbody-sha256 \
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            .to_owned()
    }

    #[test]
    fn the_example_header_round_trips() {
        let text = header_text();
        let header = EnvelopeHeader::parse(text.as_bytes()).unwrap();
        assert_eq!(header.to_text(), text);
        assert_eq!(header.seq(), 42);
        assert_eq!(header.sender(), PartyCode::US);
    }

    #[test]
    fn each_defect_has_its_own_error() {
        let text = header_text();
        let case = |from: &str, to: &str| {
            assert!(text.contains(from), "{from}");
            EnvelopeHeader::parse(text.replacen(from, to, 1).as_bytes()).unwrap_err()
        };
        use ExchangeError as E;
        assert!(matches!(case("/v1", "/v2"), E::VersionLine));
        assert!(matches!(
            case("seq 42\n", ""),
            E::MisplacedField {
                field: "seq",
                line: 5
            }
        ));
        assert!(matches!(
            case("sender US", "sender  US"),
            E::BadParty { field: "sender" }
        ));
        assert!(matches!(
            case("recipient MX", "recipient mx"),
            E::BadParty { field: "recipient" }
        ));
        assert!(matches!(case("01936b2e", "01936B2E"), E::BadId));
        assert!(matches!(case("seq 42", "seq 0"), E::SeqZero));
        assert!(matches!(case("seq 42", "seq 042"), E::SeqLeadingZero));
        assert!(matches!(case("seq 42", "seq +42"), E::SeqNotDecimal));
        assert!(matches!(
            case("seq 42", "seq 18446744073709551616"),
            E::SeqOverflow
        ));
        assert!(matches!(case(".123456Z", ".123Z"), E::BadTime { .. }));
        assert!(matches!(
            case("2026-11-25", "2026-02-30"),
            E::BadTime { .. }
        ));
        assert!(matches!(case("13:00:00", "13:00:60"), E::BadTime { .. }));
        assert!(matches!(
            case("type referral", "type Referral"),
            E::BadMessageType
        ));
        assert!(matches!(case("e3b0c442", "E3B0C442"), E::BadBodyHash));
        assert!(matches!(
            case("sender US\n", "sender US\r\n"),
            E::HeaderCarriageReturn
        ));
        assert!(matches!(case("b855\n", "b855\nx"), E::TrailingData));
        assert!(matches!(
            case("b855\n", "b855"),
            E::UnterminatedLine {
                field: "body-sha256"
            }
        ));
        assert!(matches!(
            EnvelopeHeader::parse(b"puente-envelope/v1\nsender US\n"),
            Err(E::MissingField { field: "recipient" })
        ));
        assert!(matches!(
            EnvelopeHeader::parse(&[b'x'; MAX_HEADER_LEN + 1]),
            Err(E::HeaderTooLarge { .. })
        ));
    }

    #[test]
    fn times_are_canonicalised_when_sealed() {
        let t = time::macros::datetime!(2026-11-25 08:00:00.123456789 -5);
        let c = canonical_time(t).unwrap();
        assert_eq!(format_time(c), "2026-11-25T13:00:00.123456Z");
        assert_eq!(parse_time(&format_time(c)), Some(c));
    }

    #[test]
    fn receipts_round_trip_and_are_strict() {
        let r = ReceiptBody {
            accepted: vec![ReceiptEntry {
                id: Uuid::from_u128(1),
                seq: 7,
                envelope_sha256: [0xab; 32],
            }],
            next_seq: 8,
        };
        let bytes = r.to_bytes();
        assert_eq!(ReceiptBody::from_bytes(&bytes).unwrap(), r);
        let text = String::from_utf8(bytes).unwrap();
        let bad = |s: String| ReceiptBody::from_bytes(s.as_bytes()).unwrap_err();
        assert!(matches!(
            bad(text.replace("}],", "}], ")),
            ExchangeError::ReceiptNotCanonical
        ));
        assert!(matches!(
            bad(text.replace("\"next_seq\"", "\"extra\":1,\"next_seq\"")),
            ExchangeError::ReceiptJson(_)
        ));
        assert!(matches!(
            bad(text.replace("\"seq\":7", "\"seq\":0")),
            ExchangeError::ReceiptField { .. }
        ));
        assert!(matches!(
            bad(text.replace("abab", "ABAB")),
            ExchangeError::ReceiptField { .. }
        ));
    }
}
