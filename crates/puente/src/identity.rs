//! The node's own identity on disk: its Ed25519 signing key (`node.key`) and its self-signed TLS
//! certificate and key (`tls.crt`, `tls.key`) in the node directory. Created once by `init`,
//! never overwritten, and loaded by whatever signs envelopes or speaks mutual TLS to peers.
//!
//! The two secret files must be readable by the node's user only: a key file that group or
//! others may read or write is refused (as ssh refuses such a key), since anyone who could read
//! it could sign as this government's node. Nothing here ever prints or logs their contents.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use puente_domain::PartyCode;
use puente_exchange::card::{Endpoint, PeerCard};
use puente_exchange::keys::NodeKey;
use puente_exchange::tls::NodeTls;
use rand::rngs::OsRng;
use time::OffsetDateTime;

use crate::config::{NodeDir, write_new_file, write_private};

/// The node's Ed25519 signing key (secret).
pub const KEY_FILE: &str = "node.key";
/// The node's self-signed TLS certificate (public: its fingerprint is on the peer card).
pub const TLS_CERT_FILE: &str = "tls.crt";
/// The TLS certificate's private key (secret).
pub const TLS_KEY_FILE: &str = "tls.key";

/// What a node proves itself with: the key that signs its envelopes and peer card, and the TLS
/// identity it presents to peers. `Debug` shows public parts only.
#[derive(Debug)]
pub struct NodeIdentity {
    pub key: NodeKey,
    pub tls: NodeTls,
}

impl NodeIdentity {
    /// A fresh identity for `party`, in memory only.
    pub fn generate(party: PartyCode) -> Result<NodeIdentity> {
        Ok(NodeIdentity {
            key: NodeKey::generate(&mut OsRng),
            tls: NodeTls::generate(party).context("generating the node's TLS certificate")?,
        })
    }

    /// Generates an identity for `party` and writes it into `dir` (which must exist).
    pub fn create(dir: &Path, party: PartyCode) -> Result<NodeIdentity> {
        let identity = NodeIdentity::generate(party)?;
        identity.write_new(dir)?;
        Ok(identity)
    }

    /// Writes the three files into `dir`; each must not exist yet (`create_new`), so an
    /// identity is never replaced by accident. The secret files get mode 0600.
    pub fn write_new(&self, dir: &Path) -> Result<()> {
        write_private(&dir.join(KEY_FILE), &self.key.to_file_text())?;
        let pem = self.tls.to_pem_files();
        write_new_file(&dir.join(TLS_CERT_FILE), &pem.cert)?;
        write_private(&dir.join(TLS_KEY_FILE), &pem.key)?;
        Ok(())
    }

    /// Loads the identity of the node in `node.dir`; every error names its file.
    pub fn load(node: &NodeDir) -> Result<NodeIdentity> {
        NodeIdentity::load_from(&node.dir)
    }

    pub fn load_from(dir: &Path) -> Result<NodeIdentity> {
        let key_path = dir.join(KEY_FILE);
        let key = NodeKey::from_file_text(&read_secret(&key_path, "the node key")?)
            .with_context(|| format!("reading the node key {}", key_path.display()))?;
        let cert_path = dir.join(TLS_CERT_FILE);
        let cert = read_file(&cert_path, "the node's TLS certificate")?;
        let tls_key_path = dir.join(TLS_KEY_FILE);
        let tls_key = read_secret(&tls_key_path, "the TLS key")?;
        let tls = NodeTls::from_pem(&cert, &tls_key).with_context(|| {
            format!(
                "loading the TLS identity from {} and {}",
                cert_path.display(),
                tls_key_path.display()
            )
        })?;
        Ok(NodeIdentity { key, tls })
    }

    /// This node's peer card, signed now, advertising `endpoint`.
    pub fn card(
        &self,
        party: PartyCode,
        endpoint: Endpoint,
        now: OffsetDateTime,
    ) -> Result<PeerCard> {
        PeerCard::issue(&self.key, party, endpoint, self.tls.fingerprint(), now)
            .context("issuing the peer card")
    }
}

fn read_file(path: &Path, what: &str) -> Result<String> {
    if !path.exists() {
        bail!(
            "{} does not exist: {what} is created by `puente init`; restore it from the \
             node's backup",
            path.display()
        );
    }
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Reads a secret file after checking only its owner may read or write it. The read error
/// (if any) names the file, never its contents.
fn read_secret(path: &Path, what: &str) -> Result<String> {
    check_private(path)?;
    read_file(path, what)
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::metadata(path) else {
        // Missing or unreadable: `read_file` says which, naming the file.
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{} is accessible to group or others (mode {mode:04o}); it holds a secret key. \
             Run `chmod 600 {}` (and check who may have read it)",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_identity_loads_back_and_is_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let created = NodeIdentity::create(tmp.path(), PartyCode::MX).unwrap();
        let loaded = NodeIdentity::load_from(tmp.path()).unwrap();
        assert_eq!(loaded.key.public(), created.key.public());
        assert_eq!(loaded.tls.fingerprint(), created.tls.fingerprint());
        let key_text = fs::read_to_string(tmp.path().join(KEY_FILE)).unwrap();
        let err = NodeIdentity::create(tmp.path(), PartyCode::MX).unwrap_err();
        assert!(format!("{err:#}").contains(KEY_FILE), "{err:#}");
        assert_eq!(
            fs::read_to_string(tmp.path().join(KEY_FILE)).unwrap(),
            key_text
        );
        // Debug never shows the secret seed.
        let seed = key_text.lines().nth(1).unwrap();
        assert!(!format!("{loaded:?}").contains(seed));
    }

    #[cfg(unix)]
    #[test]
    fn secrets_readable_by_others_are_refused_naming_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        NodeIdentity::create(tmp.path(), PartyCode::US).unwrap();
        for file in [KEY_FILE, TLS_KEY_FILE] {
            let path = tmp.path().join(file);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
            let err = format!("{:#}", NodeIdentity::load_from(tmp.path()).unwrap_err());
            assert!(err.contains(file) && err.contains("chmod 600"), "{err}");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        fs::remove_file(tmp.path().join(TLS_CERT_FILE)).unwrap();
        let err = format!("{:#}", NodeIdentity::load_from(tmp.path()).unwrap_err());
        assert!(
            err.contains(TLS_CERT_FILE) && err.contains("does not exist"),
            "{err}"
        );
        fs::write(tmp.path().join(KEY_FILE), "not a key").unwrap();
        let err = format!("{:#}", NodeIdentity::load_from(tmp.path()).unwrap_err());
        assert!(err.contains(KEY_FILE), "{err}");
    }
}
