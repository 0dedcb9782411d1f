//! The peer card: the signed file two parties swap to recognise each other. It names a party's
//! node (party code, HTTPS endpoint), its Ed25519 signing key, the SHA-256 fingerprint of its
//! TLS certificate, and when it was issued, and is signed by that same signing key.
//!
//! The self-signature proves **possession** of the key, not **identity**: anyone can issue a
//! card claiming any party. Before adding a peer, its administrator must compare the signing
//! key's fingerprint (`NodePublicKey::fingerprint`, 8 groups of 4 hex digits) with the other
//! party's administrator out of band, for example by reading it over the phone.
//!
//! The text format (specified in `docs/exchange.md`) is line-based like the envelope header, so
//! an administrator can read it before adding it:
//!
//! ```text
//! puente-peer-card/v1
//! party US
//! endpoint https://puente.example.gov:8443
//! signing-key ed25519:<base64>
//! tls-cert-sha256 <64 lowercase hex>
//! issued 2026-11-25T13:00:00.000000Z
//! signature <base64 of the Ed25519 signature over every line above, LFs included>
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use puente_domain::PartyCode;
use time::OffsetDateTime;

use crate::envelope::{canonical_time, format_time, parse_time};
use crate::error::ExchangeError;
use crate::keys::{NodeKey, NodePublicKey};
use crate::tls::CertFingerprint;

/// The first line of every peer card (without its LF).
pub const CARD_VERSION: &str = "puente-peer-card/v1";
/// The longest card accepted, in bytes. A maximal valid card is under 600 bytes.
pub const MAX_CARD_LEN: usize = 2048;
/// The signed fields, in the order the card must list them.
const FIELDS: [&str; 5] = [
    "party",
    "endpoint",
    "signing-key",
    "tls-cert-sha256",
    "issued",
];

/// Where a node listens for its peers: `https://host:port`, nothing else (no path, query, user
/// information or default port), with the host in lowercase (a DNS name, an IPv4 address, or a
/// bracketed IPv6 address in its canonical form) so that the text has one form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Without brackets for IPv6.
    host: String,
    port: u16,
}

impl Endpoint {
    pub fn parse(s: &str) -> Result<Self, ExchangeError> {
        let err = |reason| ExchangeError::BadEndpoint { reason };
        let rest = s
            .strip_prefix("https://")
            .ok_or(err("it does not start with https://"))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or(err("it has no explicit :port"))?;
        if port.is_empty()
            || port.starts_with('0')
            || port.len() > 5
            || !port.bytes().all(|c| c.is_ascii_digit())
        {
            return Err(err(
                "the port is not a number from 1 to 65535 without leading zeros",
            ));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| err("the port is not a number from 1 to 65535"))?;
        let host = if let Some(v6) = host.strip_prefix('[') {
            let v6 = v6
                .strip_suffix(']')
                .ok_or(err("the IPv6 address has no closing ]"))?;
            let addr: Ipv6Addr = v6.parse().map_err(|_| err("the IPv6 address is invalid"))?;
            if addr.to_string() != v6 {
                return Err(err("the IPv6 address is not in canonical form"));
            }
            v6
        } else if host.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
            let addr: Ipv4Addr = host
                .parse()
                .map_err(|_| err("the IPv4 address is invalid"))?;
            if addr.to_string() != host {
                return Err(err("the IPv4 address is not in canonical form"));
            }
            host
        } else {
            check_dns_name(host).map_err(err)?;
            host
        };
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// The host as a TLS server name or address: a DNS name, or an IP address without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Lowercase LDH labels of 1–63 characters, not starting or ending with `-`, 253 characters at
/// most, no trailing dot.
fn check_dns_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() || host.len() > 253 {
        return Err("the host name is empty or longer than 253 characters");
    }
    for label in host.split('.') {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err("the host is not a lowercase DNS name");
        }
    }
    Ok(())
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "https://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "https://{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

/// A peer card whose self-signature has been checked (or that this node just issued).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PeerCard {
    party: PartyCode,
    endpoint: Endpoint,
    signing_key: NodePublicKey,
    tls_cert_sha256: CertFingerprint,
    issued: OffsetDateTime,
    signature: [u8; 64],
}

impl PeerCard {
    /// This node's card, signed with its key. `issued` is stored in UTC, truncated to whole
    /// microseconds; it must fall within the years 0000–9999.
    pub fn issue(
        key: &NodeKey,
        party: PartyCode,
        endpoint: Endpoint,
        tls_cert_sha256: CertFingerprint,
        issued: OffsetDateTime,
    ) -> Result<PeerCard, ExchangeError> {
        let issued = canonical_time(issued).ok_or(ExchangeError::Unsealable {
            reason: "the issue time is outside the years 0000 to 9999",
        })?;
        let mut card = PeerCard {
            party,
            endpoint,
            signing_key: key.public(),
            tls_cert_sha256,
            issued,
            signature: [0; 64],
        };
        card.signature = key.sign(card.signed_text().as_bytes());
        Ok(card)
    }

    pub fn party(&self) -> PartyCode {
        self.party
    }
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
    pub fn signing_key(&self) -> &NodePublicKey {
        &self.signing_key
    }
    pub fn tls_cert_sha256(&self) -> &CertFingerprint {
        &self.tls_cert_sha256
    }
    /// In UTC, whole microseconds.
    pub fn issued(&self) -> OffsetDateTime {
        self.issued
    }
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// The signing key's short fingerprint, for the administrators to compare out of band.
    pub fn key_fingerprint(&self) -> String {
        self.signing_key.fingerprint()
    }

    /// The lines the signature covers: the version line and the five fields, each with its LF.
    fn signed_text(&self) -> String {
        format!(
            "{CARD_VERSION}\nparty {}\nendpoint {}\nsigning-key {}\ntls-cert-sha256 {}\nissued {}\n",
            self.party,
            self.endpoint,
            self.signing_key,
            self.tls_cert_sha256,
            format_time(self.issued),
        )
    }

    /// The card file's text: the signed lines, then `signature <base64>` and a final LF.
    pub fn to_text(&self) -> String {
        format!(
            "{}signature {}\n",
            self.signed_text(),
            B64.encode(self.signature)
        )
    }

    /// Parses a card file strictly (the exact form `to_text` writes) and verifies its
    /// self-signature with the key it carries. Success proves possession of that key only:
    /// compare `key_fingerprint()` with the other party out of band before trusting it.
    pub fn parse_and_verify(text: &str) -> Result<PeerCard, ExchangeError> {
        if text.len() > MAX_CARD_LEN {
            return Err(ExchangeError::CardTooLarge {
                len: text.len(),
                max: MAX_CARD_LEN,
            });
        }
        let mut rest = text;
        let mut next_line = |field: &'static str| -> Result<&str, ExchangeError> {
            let (line, after) = rest
                .split_once('\n')
                .ok_or(ExchangeError::CardLine { field })?;
            rest = after;
            Ok(line)
        };
        if next_line("version").map_err(|_| ExchangeError::CardVersionLine)? != CARD_VERSION {
            return Err(ExchangeError::CardVersionLine);
        }
        let mut values = [""; 5];
        for (i, field) in FIELDS.iter().enumerate() {
            values[i] = next_line(field)?
                .strip_prefix(field)
                .and_then(|v| v.strip_prefix(' '))
                .ok_or(ExchangeError::CardLine { field })?;
        }
        let signature = next_line("signature")?
            .strip_prefix("signature ")
            .ok_or(ExchangeError::CardLine { field: "signature" })?;
        if !rest.is_empty() {
            return Err(ExchangeError::CardTrailingData);
        }
        let [party, endpoint, signing_key, tls, issued] = values;
        let signature = {
            let bytes = B64.decode(signature).map_err(|_| ExchangeError::Base64 {
                field: "card signature",
            })?;
            <[u8; 64]>::try_from(bytes)
                .map_err(|b: Vec<u8>| ExchangeError::SignatureLength { len: b.len() })?
        };
        let card = PeerCard {
            party: PartyCode::parse(party).map_err(|_| ExchangeError::CardParty)?,
            endpoint: Endpoint::parse(endpoint)?,
            signing_key: NodePublicKey::parse(signing_key)?,
            tls_cert_sha256: CertFingerprint::parse(tls)
                .map_err(|_| ExchangeError::BadTlsFingerprint)?,
            issued: parse_time(issued).ok_or(ExchangeError::BadTime {
                field: "card issue",
            })?,
            signature,
        };
        // Every field has one text form, so re-writing the parsed card reproduces the input
        // exactly; a mismatch would mean a parser bug, so fail closed.
        let signed = card.signed_text();
        if card.to_text() != text {
            return Err(ExchangeError::CardLine { field: "any" });
        }
        card.signing_key
            .verify(signed.as_bytes(), &card.signature)
            .map_err(|_| ExchangeError::CardSignatureInvalid)?;
        Ok(card)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_have_one_form() {
        for ok in [
            "https://puente.example.gov:8443",
            "https://127.0.0.1:443",
            "https://[::1]:8443",
            "https://localhost:1",
        ] {
            assert_eq!(Endpoint::parse(ok).unwrap().to_string(), ok);
        }
        for bad in [
            "http://puente.example.gov:8443",
            "https://puente.example.gov",
            "https://puente.example.gov:8443/",
            "https://Puente.example.gov:8443",
            "https://puente.example.gov.:8443",
            "https://user@puente.example.gov:8443",
            "https://puente.example.gov:08443",
            "https://puente.example.gov:0",
            "https://puente.example.gov:65536",
            "https://[0:0::1]:8443",
            "https://127.000.0.1:443",
            "https://-bad.example:443",
            "https://:443",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
