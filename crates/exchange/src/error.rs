//! The crate's one error type: every way a key file, public key, envelope, receipt or peer card
//! can be refused, each as its own variant so that a caller (and a log) can tell exactly what was
//! wrong.
//!
//! Messages name the field and the rule, never secret material, and never echo arbitrary input
//! back (a peer's bytes could be anything, including text meant for a log reader); the
//! serde_json errors kept as sources may quote a field name or value, and stay out of `Display`.

use puente_domain::PartyCode;

/// Everything this crate refuses. Variants are added as the exchange grows (mutual TLS,
/// delivery), hence `#[non_exhaustive]`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    // --- keys ------------------------------------------------------------------------------
    /// The node key file is not `puente-node-key-v1` followed by a base64 32-byte seed.
    #[error("the node key file is not in the puente-node-key-v1 format: {reason}")]
    KeyFile { reason: &'static str },
    /// A public key's text is not `ed25519:` followed by a base64 32-byte key.
    #[error("the public key is not in the form ed25519:<base64 of 32 bytes>: {reason}")]
    PublicKeyText { reason: &'static str },
    /// The 32 bytes are not an acceptable Ed25519 public key (not a curve point, or of small order).
    #[error("the public key is not a valid Ed25519 public key: {reason}")]
    PublicKeyInvalid { reason: &'static str },
    /// A signed-note key name is empty, contains white space or `+`.
    #[error("a key name must be non-empty and contain neither white space nor '+'")]
    KeyName,
    /// A signature does not verify under the given public key.
    #[error("the signature does not verify under the given public key")]
    SignatureInvalid,

    // --- envelope: sizes -------------------------------------------------------------------
    /// The envelope header is longer than the 1 KiB limit.
    #[error("the envelope header is {len} bytes, more than the limit of {max}")]
    HeaderTooLarge { len: usize, max: usize },
    /// The envelope body is longer than the receiving node's limit.
    #[error("the envelope body is {len} bytes, more than the limit of {max}")]
    BodyTooLarge { len: usize, max: usize },
    /// The whole encoded input is longer than any acceptable one could be.
    #[error("the encoded input is {len} bytes, more than the limit of {max}")]
    InputTooLarge { len: usize, max: usize },
    /// A batch holds more envelopes than the receiving node accepts at once.
    #[error("the batch holds {count} envelopes, more than the limit of {max}")]
    BatchTooLarge { count: usize, max: usize },

    // --- envelope: header grammar ----------------------------------------------------------
    /// The header is not UTF-8.
    #[error("the envelope header is not UTF-8")]
    HeaderNotUtf8,
    /// The header contains a carriage return; lines end with LF alone.
    #[error("the envelope header contains a carriage return (lines end with LF only)")]
    HeaderCarriageReturn,
    /// The first line is not exactly `puente-envelope/v1`.
    #[error("the envelope header does not start with the line puente-envelope/v1")]
    VersionLine,
    /// The header ends before this field's line.
    #[error("the envelope header ends before the {field} line")]
    MissingField { field: &'static str },
    /// The line where this field belongs holds something else.
    #[error("line {line} of the envelope header must be the {field} field")]
    MisplacedField { field: &'static str, line: usize },
    /// The last line is not terminated by LF.
    #[error("the {field} line of the envelope header is not terminated by LF")]
    UnterminatedLine { field: &'static str },
    /// Bytes follow the last header line.
    #[error("the envelope header has data after its last line")]
    TrailingData,
    /// `sender` or `recipient` is not an assigned ISO 3166-1 alpha-2 code.
    #[error("the envelope {field} is not an ISO 3166-1 alpha-2 party code")]
    BadParty { field: &'static str },
    /// `id` is not a lowercase hyphenated UUID.
    #[error("the envelope id is not a lowercase hyphenated UUID")]
    BadId,
    /// `seq` is not made of decimal digits.
    #[error("the envelope seq is not a decimal number")]
    SeqNotDecimal,
    /// `seq` is 0; sequences start at 1.
    #[error("the envelope seq is 0 (sequences start at 1)")]
    SeqZero,
    /// `seq` has a leading zero.
    #[error("the envelope seq has a leading zero")]
    SeqLeadingZero,
    /// `seq` does not fit in 64 bits.
    #[error("the envelope seq does not fit in 64 bits")]
    SeqOverflow,
    /// A time is not `YYYY-MM-DDTHH:MM:SS.ffffffZ` naming a real UTC instant.
    #[error("the {field} time is not of the form YYYY-MM-DDTHH:MM:SS.ffffffZ")]
    BadTime { field: &'static str },
    /// `type` is not a token `[a-z][a-z0-9.-]{0,63}`.
    #[error("the envelope type is not a token of the form [a-z][a-z0-9.-]{{0,63}}")]
    BadMessageType,
    /// `body-sha256` is not 64 lowercase hex digits.
    #[error("the envelope body-sha256 is not 64 lowercase hexadecimal digits")]
    BadBodyHash,

    // --- envelope: verification ------------------------------------------------------------
    /// The body's SHA-256 is not the one the header commits to.
    #[error("the envelope body does not match the header's body-sha256")]
    BodyHashMismatch,
    /// The envelope's signature does not verify under the sender's key.
    #[error("the envelope signature does not verify under the sender's key")]
    EnvelopeSignatureInvalid,
    /// A draft handed to `seal` cannot be written in the header's canonical form.
    #[error("the envelope cannot be sealed: {reason}")]
    Unsealable { reason: &'static str },

    // --- envelope: the receiver's context --------------------------------------------------
    /// The envelope is addressed to another party.
    #[error("the envelope is addressed to {recipient}, not to this node ({me})")]
    WrongRecipient { recipient: PartyCode, me: PartyCode },
    /// The envelope's time is further in the future than the allowed clock skew.
    #[error("the envelope time is {ahead_ms} ms in the future, more than the allowed skew")]
    FromTheFuture { ahead_ms: i128 },
    /// The envelope's time is older than the maximum age.
    #[error("the envelope is {age_ms} ms old, older than the maximum age")]
    TooOld { age_ms: i128 },

    // --- envelope: encodings ---------------------------------------------------------------
    /// The transport JSON is malformed, lacks a field or has an unknown one. The message gives
    /// the position only; serde_json's own message (the source) may quote the input.
    #[error(
        "the envelope transport JSON is malformed, lacks a member or has an unknown one (line {}, column {})",
        .0.line(),
        .0.column()
    )]
    TransportJson(#[source] serde_json::Error),
    /// A transport field is not canonical standard base64 (with padding).
    #[error("the transport {field} is not canonical standard base64")]
    Base64 { field: &'static str },
    /// The signature is not exactly 64 bytes.
    #[error("the signature is {len} bytes, not 64")]
    SignatureLength { len: usize },
    /// The whole-envelope serialisation lacks its `signature <base64>` line after the header.
    #[error("the envelope's signature line is missing or malformed")]
    SignatureLine,

    // --- receipts --------------------------------------------------------------------------
    /// The envelope is not of type `receipt`.
    #[error("the envelope is not a receipt")]
    NotAReceipt,
    /// The receipt body is not the JSON this crate writes.
    #[error(
        "the receipt body is malformed, lacks a member or has an unknown one (line {}, column {})",
        .0.line(),
        .0.column()
    )]
    ReceiptJson(#[source] serde_json::Error),
    /// The receipt body is valid JSON of the right shape but not in its one canonical form.
    #[error("the receipt body is not in canonical form")]
    ReceiptNotCanonical,
    /// A field of the receipt body breaks a rule (seq 0, a hash that is not 64 lowercase hex, …).
    #[error("the receipt body field {field} is invalid")]
    ReceiptField { field: &'static str },

    // --- peer cards ------------------------------------------------------------------------
    /// The peer card is longer than its limit.
    #[error("the peer card is {len} bytes, more than the limit of {max}")]
    CardTooLarge { len: usize, max: usize },
    /// The first line is not exactly `puente-peer-card/v1`.
    #[error("the peer card does not start with the line puente-peer-card/v1")]
    CardVersionLine,
    /// A peer card line is missing, misplaced, unterminated, or followed by other data.
    #[error("the peer card's {field} line is missing, misplaced or not terminated by LF")]
    CardLine { field: &'static str },
    /// Data follows the peer card's signature line.
    #[error("the peer card has data after its signature line")]
    CardTrailingData,
    /// The peer card's party is not an assigned ISO 3166-1 alpha-2 code.
    #[error("the peer card party is not an ISO 3166-1 alpha-2 party code")]
    CardParty,
    /// The endpoint is not `https://host:port` (lowercase host, explicit port, nothing else).
    #[error("the endpoint is not of the form https://host:port: {reason}")]
    BadEndpoint { reason: &'static str },
    /// The TLS certificate fingerprint is not 64 lowercase hex digits.
    #[error("the TLS certificate fingerprint is not 64 lowercase hexadecimal digits")]
    BadTlsFingerprint,
    /// The peer card's self-signature does not verify under the key it carries.
    #[error("the peer card's self-signature does not verify under the key it carries")]
    CardSignatureInvalid,

    // --- running the exchange ----------------------------------------------------------------
    /// Only referrals and requests start an item.
    #[error("a {message_type} message does not start an item")]
    NotAnItem { message_type: &'static str },
    /// No peer of this party is registered.
    #[error("no peer {party} is registered")]
    UnknownPeer { party: PartyCode },
    /// An envelope or receipt names another sender than the peer on the connection.
    #[error("the envelope says it is from {sender}, but came from peer {peer}")]
    WrongSender { sender: PartyCode, peer: PartyCode },
    /// Delivering a batch failed; the outbox keeps it for the next attempt.
    #[error("delivery failed: {reason}")]
    Delivery { reason: String },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Store(#[from] puente_store::StoreError),
    /// The exchange log: a format, a signature or a proof that does not hold.
    #[error(transparent)]
    Log(#[from] puente_log::LogError),
    /// The exchange log: no such log, leaf or checkpoint (yet).
    #[error("{what}")]
    NotInLog { what: String },
    /// Cosigning with a peer failed; the next round tries again.
    #[error("cosigning with the peer failed: {reason}")]
    Cosign { reason: String },
}
