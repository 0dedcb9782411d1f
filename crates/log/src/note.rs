//! C2SP signed notes (<https://c2sp.org/signed-note>): a text, a blank line, and signature lines
//! `— <key name> <base64(key id || signature)>`; verifier keys `<name>+<hex id>+<base64(type ||
//! public key)>`; Ed25519 signatures (type 0x01) and timestamped Ed25519 cosignatures (type
//! 0x04, <https://c2sp.org/tlog-cosignature>).
//!
//! A node signs its checkpoints with its node key as type 0x01 and cosigns its peers'
//! checkpoints with the same key as type 0x04. The two never sign the same bytes: a cosignature
//! signs `cosignature/v1\ntime <t>\n` followed by the checkpoint, an envelope header starts
//! `puente-envelope-v1`, and a checkpoint starts with its origin, `puente/…`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::LogError;

/// Signature type of a plain Ed25519 note signature.
pub const ALG_ED25519: u8 = 0x01;
/// Signature type of a timestamped Ed25519 cosignature (cosignature/v1).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The em dash and space that open a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// Most signature lines read from a note (the spec asks verifiers for at least 16).
const MAX_SIGNATURES: usize = 100;

/// Something that signs with an Ed25519 key.
pub trait Signer {
    fn public_key(&self) -> [u8; 32];
    fn sign_bytes(&self, message: &[u8]) -> [u8; 64];
}

impl Signer for SigningKey {
    fn public_key(&self) -> [u8; 32] {
        self.verifying_key().to_bytes()
    }
    fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.sign(message).to_bytes()
    }
}

/// Key names are non-empty and hold no Unicode space and no `+`.
pub fn check_key_name(name: &str) -> Result<(), LogError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(LogError::VerifierKey {
            reason: "a key name must be non-empty, without spaces or '+'",
        });
    }
    Ok(())
}

/// `SHA-256(name || 0x0A || type || public key)[..4]`.
pub fn key_id(name: &str, alg: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A key that signs notes (type 0x01) or cosigns checkpoints (type 0x04), with its name.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    alg: u8,
    key: VerifyingKey,
}

impl VerifierKey {
    fn new(name: &str, alg: u8, public: &[u8; 32]) -> Result<Self, LogError> {
        check_key_name(name)?;
        let key = VerifyingKey::from_bytes(public).map_err(|_| LogError::VerifierKey {
            reason: "the public key is not a valid Ed25519 point",
        })?;
        Ok(Self {
            name: name.to_owned(),
            alg,
            key,
        })
    }

    /// An Ed25519 note signer's key.
    pub fn ed25519(name: &str, public: &[u8; 32]) -> Result<Self, LogError> {
        Self::new(name, ALG_ED25519, public)
    }

    /// A cosigner's key.
    pub fn cosigner(name: &str, public: &[u8; 32]) -> Result<Self, LogError> {
        Self::new(name, ALG_COSIGNATURE_V1, public)
    }

    /// Reads `<name>+<8 hex digits>+<base64(type || key)>`, checking that the id is the key's.
    pub fn parse(text: &str) -> Result<Self, LogError> {
        let bad = |reason| LogError::VerifierKey { reason };
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("it is not name+id+key"));
        };
        let raw = B64.decode(key).map_err(|_| bad("the key is not base64"))?;
        let (alg, public): (u8, [u8; 32]) = match raw.split_first() {
            Some((alg, rest)) if rest.len() == 32 => {
                let mut p = [0u8; 32];
                p.copy_from_slice(rest);
                (*alg, p)
            }
            _ => return Err(bad("the key is not a type byte and 32 bytes")),
        };
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(bad("only Ed25519 keys (types 0x01 and 0x04) are known"));
        }
        let key = Self::new(name, alg, &public)?;
        if id != hex::encode(key.id()) {
            return Err(bad("the key id does not match the key"));
        }
        Ok(key)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn alg(&self) -> u8 {
        self.alg
    }
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
    pub fn id(&self) -> [u8; 4] {
        key_id(&self.name, self.alg, self.key.as_bytes())
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id()),
            B64.encode(raw)
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

/// One signature line: the key's name, its id, and what follows the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub id: [u8; 4],
    pub bytes: Vec<u8>,
}

impl NoteSignature {
    /// The line, with its final newline.
    pub fn to_line(&self) -> String {
        let mut raw = self.id.to_vec();
        raw.extend_from_slice(&self.bytes);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(raw))
    }

    /// A cosignature's time (seconds since the Unix epoch), if this is one in shape.
    pub fn cosignature_time(&self) -> Option<u64> {
        let ts: [u8; 8] = self.bytes.get(..8)?.try_into().ok()?;
        (self.bytes.len() == 72).then(|| u64::from_be_bytes(ts))
    }
}

/// A signature that verified, under which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub name: String,
    pub alg: u8,
    /// For a cosignature, the time it carries.
    pub time: Option<u64>,
}

/// A signed note: its text (ending in a newline) and its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// A note of `text` with no signatures yet.
    pub fn new(text: impl Into<String>) -> Result<Self, LogError> {
        let text = text.into();
        check_text(&text)?;
        Ok(Self {
            text,
            signatures: Vec::new(),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line (a signer's or cosigner's, made for this text).
    pub fn push(&mut self, signature: NoteSignature) {
        self.signatures.push(signature);
    }

    /// Signs the text with an Ed25519 key named `name` and adds the line.
    pub fn sign(&mut self, name: &str, signer: &dyn Signer) -> Result<(), LogError> {
        check_key_name(name)?;
        let id = key_id(name, ALG_ED25519, &signer.public_key());
        self.signatures.push(NoteSignature {
            name: name.to_owned(),
            id,
            bytes: signer.sign_bytes(self.text.as_bytes()).to_vec(),
        });
        Ok(())
    }

    /// The whole note: text, blank line, signature lines.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out
    }

    /// Reads a signed note. The text is everything before the last blank line; each line after
    /// it must be a signature line, and there must be one at least.
    pub fn parse(note: &str) -> Result<Self, LogError> {
        let bad = |reason| LogError::Note { reason };
        if note.chars().any(|c| c < ' ' && c != '\n') {
            return Err(bad("it holds a control character"));
        }
        let split = note.rfind("\n\n").ok_or(bad("it has no blank line"))?;
        let text = &note[..=split];
        let sigs = &note[split + 2..];
        check_text(text)?;
        let sigs = sigs
            .strip_suffix('\n')
            .ok_or(bad("it does not end with a newline"))?;
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(bad("it has too many signatures"));
            }
            let rest = line.strip_prefix(SIG_PREFIX).ok_or(bad(
                "a signature line does not start with an em dash and a space",
            ))?;
            let (name, sig) = rest
                .split_once(' ')
                .ok_or(bad("a signature line has no key name"))?;
            check_key_name(name).map_err(|_| bad("a signature line has a bad key name"))?;
            let raw = B64
                .decode(sig)
                .map_err(|_| bad("a signature is not base64"))?;
            if raw.len() < 5 {
                return Err(bad("a signature is too short"));
            }
            let (id, bytes) = raw.split_at(4);
            signatures.push(NoteSignature {
                name: name.to_owned(),
                id: [id[0], id[1], id[2], id[3]],
                bytes: bytes.to_vec(),
            });
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Verifies the signatures of the known `keys` (by name and id). Unknown signatures are
    /// ignored; a known one that fails fails the whole note; at least one must verify.
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<Verified>, LogError> {
        let mut verified = Vec::new();
        for s in &self.signatures {
            let Some(key) = keys.iter().find(|k| k.name == s.name && k.id() == s.id) else {
                continue;
            };
            let ok = match key.alg {
                ALG_ED25519 => verify_ed25519(key, self.text.as_bytes(), &s.bytes),
                ALG_COSIGNATURE_V1 => s.cosignature_time().is_some_and(|t| {
                    verify_ed25519(key, &cosigned_message(&self.text, t), &s.bytes[8..])
                }),
                _ => false,
            };
            if !ok {
                return Err(LogError::BadSignature {
                    name: s.name.clone(),
                });
            }
            verified.push(Verified {
                name: s.name.clone(),
                alg: key.alg,
                time: (key.alg == ALG_COSIGNATURE_V1)
                    .then(|| s.cosignature_time())
                    .flatten(),
            });
        }
        if verified.is_empty() {
            return Err(LogError::NoKnownSignature);
        }
        Ok(verified)
    }
}

fn check_text(text: &str) -> Result<(), LogError> {
    let bad = |reason| LogError::Note { reason };
    if !text.ends_with('\n') {
        return Err(bad("its text does not end with a newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(bad("its text holds a control character"));
    }
    Ok(())
}

fn verify_ed25519(key: &VerifierKey, message: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(sig) else {
        return false;
    };
    key.key
        .verify_strict(message, &Signature::from_bytes(&sig))
        .is_ok()
}

/// What a cosignature signs: `cosignature/v1\ntime <t>\n` and the checkpoint's text.
pub fn cosigned_message(checkpoint_text: &str, time: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{checkpoint_text}").into_bytes()
}

/// A cosignature of `checkpoint_text` at `time` (seconds since the Unix epoch) by the key
/// named `name`: the line to add to the checkpoint's note.
pub fn cosign(
    checkpoint_text: &str,
    name: &str,
    signer: &dyn Signer,
    time: u64,
) -> Result<NoteSignature, LogError> {
    check_key_name(name)?;
    let id = key_id(name, ALG_COSIGNATURE_V1, &signer.public_key());
    let sig = signer.sign_bytes(&cosigned_message(checkpoint_text, time));
    let mut bytes = time.to_be_bytes().to_vec();
    bytes.extend_from_slice(&sig);
    Ok(NoteSignature {
        name: name.to_owned(),
        id,
        bytes,
    })
}
