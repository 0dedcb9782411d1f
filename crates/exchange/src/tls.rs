//! Mutual TLS between nodes: each node's self-signed TLS identity ([`NodeTls`]) and its
//! fingerprint ([`CertFingerprint`]), the rustls server and client configurations that pin
//! certificates instead of trusting a CA, an HTTPS client for one pinned peer, and
//! [`serve_mtls`], which serves an axum router over mutual TLS and hands every handler the
//! caller's [`PeerCertificate`].
//!
//! Trust comes from the peer card two parties swap out of band, which names each node's
//! certificate fingerprint; there is no CA and no hostname check. So certificates are long-lived
//! and their dates are not checked: rotating one means swapping a new card, not renewing with
//! an authority.
//!
//! Only TLS 1.3 is offered and only the ring provider is used, chosen explicitly so the
//! process-wide default provider (and any feature unification that pulls in another) never
//! decides what these connections accept.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use puente_domain::PartyCode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig,
    SignatureScheme,
};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// How long a connection may take to finish the TLS handshake; a client that connects and
/// stays silent would otherwise hold a task forever.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's headers once the connection is up (the
/// same protection as [`HANDSHAKE_TIMEOUT`], one layer higher).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long in-flight connections may keep running after shutdown is requested.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long a generated certificate claims to be valid. Nothing in puente checks the dates
/// (pinning replaces CA validation), but other tools inspecting the certificate do, so it
/// carries honest, long dates rather than none.
const VALIDITY_DAYS: i64 = 3653;

/// Why a TLS identity, configuration or client could not be made. No variant ever carries
/// private-key material: key errors say what was wrong, never what the key held.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not generate the TLS certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the certificate PEM does not hold exactly one readable certificate")]
    CertificatePem,
    #[error("the private key PEM is not a readable ECDSA, Ed25519 or RSA private key")]
    KeyPem,
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    #[error("rustls rejected the TLS configuration: {0}")]
    Config(#[source] rustls::Error),
    #[error("a certificate fingerprint is 64 lower-case hexadecimal characters")]
    InvalidFingerprint,
    #[error("could not build the HTTPS client: {0}")]
    Client(#[from] reqwest::Error),
}

// ---------------------------------------------------------------------------------------------
// Fingerprints
// ---------------------------------------------------------------------------------------------

/// SHA-256 of a certificate's DER encoding: what a peer card pins. Shown and parsed as 64
/// lower-case hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertFingerprint([u8; 32]);

impl CertFingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Accepts exactly 64 lower-case hex characters; upper case is refused so that one
    /// fingerprint has one spelling (cards and logs are compared as text by people).
    pub fn parse(s: &str) -> Result<Self, TlsError> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(TlsError::InvalidFingerprint);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| TlsError::InvalidFingerprint)?;
        Ok(Self(out))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertFingerprint({self})")
    }
}

impl FromStr for CertFingerprint {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// As text, so peer cards and configuration files carry the same spelling people compare.
impl serde::Serialize for CertFingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CertFingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// The node's TLS identity
// ---------------------------------------------------------------------------------------------

/// A node's TLS identity: one self-signed certificate and its private key. `Debug` shows the
/// fingerprint only.
pub struct NodeTls {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    fingerprint: CertFingerprint,
}

/// A [`NodeTls`] as PEM text, ready to be written to two files (`cert` may be public; `key` must
/// be readable by the node alone). `Debug` leaves the key out.
pub struct PemFiles {
    pub cert: String,
    pub key: String,
}

impl fmt::Debug for PemFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemFiles")
            .field("cert", &self.cert)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl NodeTls {
    /// A fresh identity for `party`: an ECDSA P-256 key (verified by every TLS stack, unlike
    /// Ed25519 certificates) and a self-signed certificate naming the party, `localhost` and
    /// `127.0.0.1`, valid for ten years from now.
    pub fn generate(party: PartyCode) -> Result<Self, TlsError> {
        let code = party.as_str().to_ascii_lowercase();
        let mut params = rcgen::CertificateParams::new(vec![
            format!("{code}.puente.node"),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])?;
        let mut name = rcgen::DistinguishedName::new();
        name.push(
            rcgen::DnType::CommonName,
            format!("puente node {}", party.as_str()),
        );
        name.push(rcgen::DnType::OrganizationName, "puente");
        name.push(rcgen::DnType::CountryName, party.as_str());
        params.distinguished_name = name;
        // A day of slack before now, so a peer whose clock runs behind still sees sane dates.
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(VALIDITY_DAYS);
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        // Every node is both a server and a client of its peers.
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = params.self_signed(&key_pair)?;
        let cert = cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
        Ok(Self {
            fingerprint: CertFingerprint::of_der(&cert),
            cert,
            key,
        })
    }

    /// Loads an identity from PEM text: exactly one certificate, and a private key (PKCS#8,
    /// SEC1 or PKCS#1) that must be the one the certificate names.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        let mut certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes());
        let cert = match (certs.next(), certs.next()) {
            (Some(Ok(cert)), None) => cert,
            _ => return Err(TlsError::CertificatePem),
        };
        // The PEM error is dropped on purpose: its text could quote the key file.
        let key =
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| TlsError::KeyPem)?;
        let signing_key = provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|_| TlsError::KeyPem)?;
        // Strict: an undeterminable match is refused too, as a node's identity must be certain.
        match CertifiedKey::new(vec![cert.clone()], signing_key).keys_match() {
            Ok(()) => {}
            Err(rustls::Error::InvalidCertificate(_)) => return Err(TlsError::CertificatePem),
            Err(_) => return Err(TlsError::KeyMismatch),
        }
        Ok(Self {
            fingerprint: CertFingerprint::of_der(&cert),
            cert,
            key,
        })
    }

    /// The certificate and key as PEM text.
    pub fn to_pem_files(&self) -> PemFiles {
        let (label, key) = match &self.key {
            PrivateKeyDer::Pkcs1(k) => ("RSA PRIVATE KEY", k.secret_pkcs1_der()),
            PrivateKeyDer::Sec1(k) => ("EC PRIVATE KEY", k.secret_sec1_der()),
            PrivateKeyDer::Pkcs8(k) => ("PRIVATE KEY", k.secret_pkcs8_der()),
            // Only the three above are ever loaded or generated; the enum is non-exhaustive.
            _ => ("PRIVATE KEY", self.key.secret_der()),
        };
        PemFiles {
            cert: pem_encode("CERTIFICATE", &self.cert),
            key: pem_encode(label, key),
        }
    }

    /// SHA-256 of the certificate's DER: what this node's peer card publishes.
    pub fn fingerprint(&self) -> CertFingerprint {
        self.fingerprint
    }

    /// The certificate, DER-encoded.
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }
}

impl Clone for NodeTls {
    fn clone(&self) -> Self {
        Self {
            cert: self.cert.clone(),
            key: self.key.clone_key(),
            fingerprint: self.fingerprint,
        }
    }
}

impl fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeTls")
            .field("fingerprint", &self.fingerprint)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    // Base64 output is ASCII, so splitting the bytes keeps every line valid UTF-8.
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

// ---------------------------------------------------------------------------------------------
// rustls configurations
// ---------------------------------------------------------------------------------------------

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn signature_algorithms() -> WebPkiSupportedAlgorithms {
    provider().signature_verification_algorithms
}

/// The server side of node-to-node TLS: TLS 1.3 only, ring, and a client certificate required.
///
/// Any client certificate whose handshake signature verifies is accepted (see
/// [`AnyClientCertificate`]); whether its fingerprint belongs to a registered peer is decided
/// per request from the [`PeerCertificate`] that [`serve_mtls`] attaches.
pub fn server_config(tls: &NodeTls) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsError::Config)?
        .with_client_cert_verifier(Arc::new(AnyClientCertificate::new()))
        .with_single_cert(vec![tls.cert.clone()], tls.key.clone_key())
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The client side of node-to-node TLS towards one peer: TLS 1.3 only, ring, our certificate
/// as client authentication, and the peer accepted only if its certificate is `pinned`.
pub fn client_config(
    tls: &NodeTls,
    pinned: CertFingerprint,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsError::Config)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServerCertificate::new(pinned)))
        .with_client_auth_cert(vec![tls.cert.clone()], tls.key.clone_key())
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Timeouts of a [`reqwest_client`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect plus TLS handshake.
    pub connect: Duration,
    /// A whole request, from sending to the end of the response body.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

/// An HTTPS client that talks to the one peer whose certificate is `pinned`, presenting our
/// certificate. No proxy (a proxy from the environment could see the traffic's shape and would
/// be one more party to trust), HTTPS only, and no redirects (a peer answers for itself).
pub fn reqwest_client(
    tls: &NodeTls,
    pinned: CertFingerprint,
    timeouts: Timeouts,
) -> Result<reqwest::Client, TlsError> {
    // reqwest takes the configuration by value, so the shared one is copied.
    let config = ClientConfig::clone(&*client_config(tls, pinned)?);
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .no_proxy()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .build()?)
}

/// Accepts any client certificate that the client proves it holds the key of.
///
/// It deliberately checks no chain, name or dates: peers present self-signed certificates, and
/// which ones are welcome changes while the node runs (a peer card is imported, a peer is
/// retired). Deciding that in the handshake would mean rebuilding the server configuration on
/// every change, and a refused peer would see only an opaque handshake failure. Instead the
/// handshake proves possession of the key, and the application compares the certificate's
/// fingerprint with its registered peers, answering a clear HTTP error ("certificate not
/// pinned for any peer") when none matches.
#[derive(Debug)]
pub struct AnyClientCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCertificate {
    pub fn new() -> Self {
        Self {
            algorithms: signature_algorithms(),
        }
    }
}

impl Default for AnyClientCertificate {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No CA to name: the client sends its one certificate.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Parsing only, so garbage is refused with a precise error; trust is the application's.
        rustls::server::ParsedCertificate::try_from(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Unreachable with a TLS 1.3-only configuration; refused rather than trusted if not.
        Err(rustls::Error::General("TLS 1.2 is not accepted".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Accepts a server iff its end-entity certificate's SHA-256 is the pinned fingerprint, and
/// its handshake signature verifies with that certificate's key.
///
/// The server name is ignored: the pin names the exact certificate, which is stronger than any
/// name check, and nodes are reached by whatever address their operators publish.
#[derive(Debug)]
pub struct PinnedServerCertificate {
    pinned: CertFingerprint,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedServerCertificate {
    pub fn new(pinned: CertFingerprint) -> Self {
        Self {
            pinned,
            algorithms: signature_algorithms(),
        }
    }
}

impl ServerCertVerifier for PinnedServerCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = CertFingerprint::of_der(end_entity);
        if presented == self.pinned {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::debug!(pinned = %self.pinned, %presented, "server certificate is not the pinned one");
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Unreachable with a TLS 1.3-only configuration; refused rather than trusted if not.
        Err(rustls::Error::General("TLS 1.2 is not accepted".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------------
// Serving over mutual TLS
// ---------------------------------------------------------------------------------------------

/// The certificate the caller presented on this connection (its key possession proven in the
/// handshake, its trust not yet decided). As an extractor it answers 401 when absent, which
/// happens only when a router is served without [`serve_mtls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCertificate {
    pub fingerprint: CertFingerprint,
}

/// The rejection of [`PeerCertificate`]: 401, as the caller is unauthenticated.
#[derive(Debug, Clone, Copy)]
pub struct MissingPeerCertificate;

impl IntoResponse for MissingPeerCertificate {
    fn into_response(self) -> Response {
        (
            StatusCode::UNAUTHORIZED,
            "no client certificate on this connection",
        )
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PeerCertificate {
    type Rejection = MissingPeerCertificate;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<PeerCertificate>()
            .copied()
            .ok_or(MissingPeerCertificate)
    }
}

/// Serves `app` over mutual TLS on `listener` until `shutdown` completes.
///
/// Each connection runs in its own task; a failed or silent handshake ends that connection
/// only (logged at debug, as strangers probing a public port are routine). Every request
/// carries a [`PeerCertificate`] and a `ConnectInfo<SocketAddr>` in its extensions. On
/// shutdown the listener closes at once, open connections finish their current request, and
/// whatever is still running after [`SHUTDOWN_GRACE`] is cut.
pub async fn serve_mtls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            // Reap finished connections so the set does not grow with the node's uptime.
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined {
                    tracing::warn!(error = %e, "a connection task failed");
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((tcp, addr)) => {
                    connections.spawn(serve_connection(
                        acceptor.clone(),
                        tcp,
                        addr,
                        app.clone(),
                        stop_rx.clone(),
                    ));
                }
                Err(e) => {
                    // Usually out of file descriptors: pause instead of spinning on the error.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    // Receivers outlive this only inside connection tasks, so a send error means none are left.
    let _ = stop_tx.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "connections still open after the shutdown grace period; closing them"
        );
        connections.shutdown().await;
    }
}

async fn serve_connection(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    addr: SocketAddr,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    // A receipt goes back as soon as it is sealed, not after the peer's next acknowledgement
    // (Nagle's algorithm).
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(%addr, error = %e, "could not set TCP_NODELAY");
    }
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(%addr, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%addr, "TLS handshake timed out");
            return;
        }
    };
    // The server configuration requires a client certificate, so this is always present; a
    // connection without one is closed rather than served anonymously.
    let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) else {
        tracing::debug!(%addr, "TLS connection without a client certificate");
        return;
    };
    let peer = PeerCertificate {
        fingerprint: CertFingerprint::of_der(cert),
    };
    let service = app.map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(peer);
        req.extensions_mut().insert(ConnectInfo(addr));
        req
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        // The watch guard is dropped inside the block: it is not `Send` across the await.
        () = async { drop(stop.wait_for(|stopping| *stopping).await) } => {
            // Finish the request in progress, then close; the caller bounds how long.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%addr, error = %e, "connection ended with an error");
    }
}
