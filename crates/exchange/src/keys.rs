//! The node's signing identity: its Ed25519 key (`NodeKey`), the public half peers hold
//! (`NodePublicKey`), their text forms, key ids as C2SP signed notes define them, and the short
//! fingerprint administrators read to each other over the phone.
//!
//! Formats (specified in `docs/exchange.md`):
//! - key file: the line `puente-node-key-v1`, then the standard base64 (with padding) of the
//!   32-byte Ed25519 seed, each line ending in LF (the final LF may be absent);
//! - public key: `ed25519:` followed by the standard base64 of the 32-byte key;
//! - key id: `SHA-256(key name || 0x0A || 0x01 || public key)[..4]`, exactly as in C2SP
//!   signed-note, so the exchange log's checkpoints can be signed notes with the same keys;
//! - fingerprint: the first 16 bytes of `SHA-256(public key)` as 8 groups of 4 hex digits.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use puente_domain::PartyCode;
use rand::{CryptoRng, RngCore};
use sha2::{Digest as _, Sha256};

use crate::error::ExchangeError;

/// First line of a node key file.
pub const KEY_FILE_VERSION: &str = "puente-node-key-v1";
/// Prefix of a public key's text form.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";
/// The C2SP signed-note signature type identifier of Ed25519.
const SIGNED_NOTE_ED25519: u8 = 0x01;

/// The node's Ed25519 signing key. Its `Debug` shows only the public half.
pub struct NodeKey {
    // `SigningKey` zeroizes itself on drop (the `zeroize` feature), so the secret does not
    // linger in freed memory.
    key: SigningKey,
}

impl NodeKey {
    /// A fresh key from a cryptographic random number generator (`rand::rngs::OsRng`).
    pub fn generate(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        Self {
            key: SigningKey::generate(rng),
        }
    }

    /// The key whose RFC 8032 secret (seed) is `seed`. For key files and known-answer tests.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The key file's text: `puente-node-key-v1\n<base64 seed>\n`. It holds the secret: write it
    /// with owner-only permissions.
    pub fn to_file_text(&self) -> String {
        format!("{KEY_FILE_VERSION}\n{}\n", B64.encode(self.key.as_bytes()))
    }

    /// Reads a key file's text. Nothing else is accepted: no other first line, no CR, no space,
    /// no extra line; only the final LF is optional (editors differ on it).
    pub fn from_file_text(text: &str) -> Result<Self, ExchangeError> {
        let err = |reason| ExchangeError::KeyFile { reason };
        if text.contains('\r') {
            return Err(err(
                "it contains a carriage return (lines end with LF only)",
            ));
        }
        let Some((first, rest)) = text.split_once('\n') else {
            return Err(err("it has no second line"));
        };
        if first != KEY_FILE_VERSION {
            return Err(err("the first line is not puente-node-key-v1"));
        }
        let seed_text = rest.strip_suffix('\n').unwrap_or(rest);
        if seed_text.contains('\n') {
            return Err(err("it has more than two lines"));
        }
        let mut seed = [0u8; 32];
        // The decoded length is checked by decode_slice: anything but 32 bytes fails or is short.
        match B64.decode_slice(seed_text, &mut seed) {
            Ok(32) => Ok(Self::from_seed(seed)),
            Ok(_) | Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                Err(err("the second line is not the base64 of exactly 32 bytes"))
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => {
                Err(err("the second line is not canonical standard base64"))
            }
        }
    }

    /// The public half, which peers hold.
    pub fn public(&self) -> NodePublicKey {
        NodePublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// The Ed25519 signature (RFC 8032, pure) of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// The node key signs the log's checkpoints (type 0x01) and cosigns its peers' (type 0x04):
/// see `puente_log::note` on why these never sign the same bytes as an envelope header.
impl puente_log::Signer for NodeKey {
    fn public_key(&self) -> [u8; 32] {
        self.public().to_bytes()
    }
    fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.sign(message)
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// A node's Ed25519 public key, as a peer holds it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodePublicKey {
    key: VerifyingKey,
}

impl NodePublicKey {
    /// The key from its 32-byte encoding. Refuses encodings that are not a curve point, not in
    /// canonical form, or of small order (such keys would let forged signatures verify).
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, ExchangeError> {
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|_| ExchangeError::PublicKeyInvalid {
                reason: "not a point on the curve",
            })?;
        // A non-canonical encoding names the same point as another; refusing it gives each key
        // one text form and one key id.
        if key.to_edwards().compress().to_bytes() != bytes {
            return Err(ExchangeError::PublicKeyInvalid {
                reason: "not in canonical form",
            });
        }
        if key.is_weak() {
            return Err(ExchangeError::PublicKeyInvalid {
                reason: "of small order",
            });
        }
        Ok(Self { key })
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Parses `ed25519:<standard base64 of 32 bytes>`.
    pub fn parse(text: &str) -> Result<Self, ExchangeError> {
        let err = |reason| ExchangeError::PublicKeyText { reason };
        let b64 = text
            .strip_prefix(PUBLIC_KEY_PREFIX)
            .ok_or(err("it does not start with ed25519:"))?;
        let mut bytes = [0u8; 32];
        match B64.decode_slice(b64, &mut bytes) {
            Ok(32) => Self::from_bytes(bytes),
            Ok(_) | Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                Err(err("it is not the base64 of exactly 32 bytes"))
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => {
                Err(err("it is not canonical standard base64"))
            }
        }
    }

    /// Verifies an Ed25519 signature with the strict rules (`verify_strict`: no small-order
    /// keys or `R`, canonical `s`), so one message has no second, malleated valid signature.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), ExchangeError> {
        let signature = Signature::from_bytes(signature);
        self.key
            .verify_strict(message, &signature)
            .map_err(|_| ExchangeError::SignatureInvalid)
    }

    /// The C2SP signed-note key id under key name `name`:
    /// `SHA-256(name || 0x0A || 0x01 || public key)[..4]`.
    pub fn key_id(&self, name: &str) -> Result<[u8; 4], ExchangeError> {
        check_key_name(name)?;
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([b'\n', SIGNED_NOTE_ED25519]);
        h.update(self.key.as_bytes());
        let digest = h.finalize();
        Ok([digest[0], digest[1], digest[2], digest[3]])
    }

    /// The C2SP signed-note verifier key: `name+<key id hex>+<base64(0x01 || public key)>`.
    pub fn verifier_key(&self, name: &str) -> Result<String, ExchangeError> {
        let id = self.key_id(name)?;
        let mut typed = Vec::with_capacity(33);
        typed.push(SIGNED_NOTE_ED25519);
        typed.extend_from_slice(self.key.as_bytes());
        Ok(format!("{name}+{}+{}", hex::encode(id), B64.encode(typed)))
    }

    /// A short fingerprint for comparing keys out of band (read over the phone): the first 16
    /// bytes of `SHA-256(public key)` as 8 space-separated groups of 4 lowercase hex digits.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.key.as_bytes());
        let hex = hex::encode(&digest[..16]);
        let groups: Vec<&str> = (0..8).filter_map(|i| hex.get(i * 4..i * 4 + 4)).collect();
        groups.join(" ")
    }
}

/// The signed-note key name of `party`'s node key: `puente/<party code>` (for example
/// `puente/US`). Key ids of node keys are computed under this name.
pub fn node_key_name(party: PartyCode) -> String {
    format!("puente/{party}")
}

/// C2SP signed-note key names are non-empty UTF-8 with neither Unicode white space nor `+`.
fn check_key_name(name: &str) -> Result<(), ExchangeError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        Err(ExchangeError::KeyName)
    } else {
        Ok(())
    }
}

impl fmt::Display for NodePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_KEY_PREFIX}{}", B64.encode(self.key.as_bytes()))
    }
}

impl fmt::Debug for NodePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodePublicKey({self})")
    }
}

impl FromStr for NodePublicKey {
    type Err = ExchangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trips_and_rejects_variants() {
        let key = NodeKey::from_seed([7; 32]);
        let text = key.to_file_text();
        let back = NodeKey::from_file_text(&text).unwrap();
        assert_eq!(back.public(), key.public());
        // Without the final LF it is still accepted.
        assert!(NodeKey::from_file_text(text.trim_end_matches('\n')).is_ok());
        for bad in [
            String::new(),
            text.replace('\n', "\r\n"),
            text.replace("v1", "v2"),
            format!("{text}\n"),
            format!("{text}extra\n"),
            format!("{KEY_FILE_VERSION}\n{}\n", B64.encode([7u8; 31])),
            format!("{KEY_FILE_VERSION}\n{}\n", B64.encode([7u8; 33])),
            format!("{KEY_FILE_VERSION}\n {}\n", B64.encode([7u8; 32])),
        ] {
            assert!(
                matches!(
                    NodeKey::from_file_text(&bad),
                    Err(ExchangeError::KeyFile { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let key = NodeKey::from_seed([9; 32]);
        let seed_b64 = B64.encode([9u8; 32]);
        let debug = format!("{key:?}");
        assert!(!debug.contains(&seed_b64));
        assert!(!debug.contains(&hex::encode([9u8; 32])));
        assert!(debug.contains("ed25519:"));
    }

    #[test]
    fn public_key_text_round_trips_and_rejects_weak_keys() {
        let public = NodeKey::from_seed([3; 32]).public();
        assert_eq!(NodePublicKey::parse(&public.to_string()).unwrap(), public);
        assert!(NodePublicKey::parse("ed25519:").is_err());
        assert!(NodePublicKey::parse(&public.to_string().replace("ed25519:", "Ed25519:")).is_err());
        // The identity point (small order) is refused.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            NodePublicKey::from_bytes(identity),
            Err(ExchangeError::PublicKeyInvalid { .. })
        ));
    }

    #[test]
    fn key_names_follow_signed_note_rules() {
        let public = NodeKey::from_seed([3; 32]).public();
        assert!(public.key_id("puente/US").is_ok());
        for bad in ["", "a b", "a+b", "a\nb"] {
            assert!(public.key_id(bad).is_err());
        }
        let vkey = public.verifier_key("puente/US").unwrap();
        let id = hex::encode(public.key_id("puente/US").unwrap());
        assert!(vkey.starts_with(&format!("puente/US+{id}+")));
    }

    #[test]
    fn fingerprint_is_eight_groups() {
        let fp = NodeKey::from_seed([3; 32]).public().fingerprint();
        assert_eq!(fp.len(), 8 * 4 + 7);
        assert_eq!(fp.split(' ').count(), 8);
    }
}
