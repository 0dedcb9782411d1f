//! Mutual TLS between nodes, against real servers on 127.0.0.1: a pinned client reaches the
//! handler and is told apart by its certificate; a wrong pin, a missing client certificate or
//! a certificate without its key never reach a handler; only TLS 1.3 is spoken; strangers
//! speaking plain HTTP or nothing at all do not stop the server; identities survive PEM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use puente_domain::PartyCode;
use puente_exchange::tls::{
    CertFingerprint, NodeTls, PeerCertificate, PinnedServerCertificate, Timeouts, TlsError,
    client_config, reqwest_client, serve_mtls, server_config,
};
use rustls::ClientConfig;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tower::ServiceExt;

/// A running node-like server whose one route echoes the caller's certificate fingerprint and
/// address, counting how often it ran.
struct Server {
    addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/whoami", self.addr.port())
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn app(calls: Arc<AtomicUsize>) -> Router {
    Router::new().route(
        "/whoami",
        get(
            move |peer: PeerCertificate, ConnectInfo(addr): ConnectInfo<SocketAddr>| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { format!("{} {}", peer.fingerprint, addr.ip()) }
            },
        ),
    )
}

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a panic here is a failed test"
)]
async fn start(tls: &NodeTls) -> Server {
    let calls = Arc::new(AtomicUsize::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_mtls(
        listener,
        server_config(tls).unwrap(),
        app(calls.clone()),
        async move {
            let _ = stopped.await;
        },
    ));
    Server {
        addr,
        calls,
        stop: Some(stop),
        task,
    }
}

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a panic here is a failed test"
)]
fn node(party: PartyCode) -> NodeTls {
    NodeTls::generate(party).unwrap()
}

fn quick() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        request: Duration::from_secs(10),
    }
}

/// A client that answers the certificate request with `cert` but signs with `key`: someone
/// replaying a peer's public certificate without holding its key.
#[derive(Debug)]
struct Impostor(Arc<CertifiedKey>);

impl ResolvesClientCert for Impostor {
    fn resolve(&self, _: &[&[u8]], _: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn a_pinned_client_reaches_the_handler_which_sees_its_fingerprint() {
    let (us, mx) = (node(PartyCode::US), node(PartyCode::MX));
    let server = start(&us).await;
    let client = reqwest_client(&mx, us.fingerprint(), quick()).unwrap();

    let response = client.get(server.url()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    assert_eq!(body, format!("{} 127.0.0.1", mx.fingerprint()));
    assert_eq!(server.calls(), 1);

    // A second client, another identity: told apart by its certificate alone.
    let other = node(PartyCode::MX);
    let body = reqwest_client(&other, us.fingerprint(), quick())
        .unwrap()
        .get(server.url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, format!("{} 127.0.0.1", other.fingerprint()));
    assert_ne!(other.fingerprint(), mx.fingerprint());
    assert_eq!(server.calls(), 2);
}

#[tokio::test]
async fn a_wrong_pin_fails_before_any_handler_runs() {
    let (us, mx) = (node(PartyCode::US), node(PartyCode::MX));
    let server = start(&us).await;
    // Pinning the client's own certificate instead of the server's: a valid-looking, wrong pin.
    let client = reqwest_client(&mx, mx.fingerprint(), quick()).unwrap();

    let err = client.get(server.url()).send().await.unwrap_err();
    assert!(
        err.is_connect(),
        "expected a TLS failure while connecting: {err:?}"
    );
    assert_eq!(server.calls(), 0);
}

#[tokio::test]
async fn the_client_refuses_plain_http() {
    let (us, mx) = (node(PartyCode::US), node(PartyCode::MX));
    let server = start(&us).await;
    let client = reqwest_client(&mx, us.fingerprint(), quick()).unwrap();

    let url = format!("http://127.0.0.1:{}/whoami", server.addr.port());
    assert!(client.get(url).send().await.is_err());
    assert_eq!(server.calls(), 0);
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused_in_the_handshake() {
    let us = node(PartyCode::US);
    let server = start(&us).await;
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedServerCertificate::new(
                us.fingerprint(),
            )))
            .with_no_client_auth();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    assert!(client.get(server.url()).send().await.is_err());
    assert_eq!(server.calls(), 0);
}

#[tokio::test]
async fn a_certificate_replayed_without_its_key_is_refused() {
    let (us, mx, thief) = (
        node(PartyCode::US),
        node(PartyCode::MX),
        node(PartyCode::MX),
    );
    let server = start(&us).await;
    let thief_key = PrivateKeyDer::from_pem_slice(thief.to_pem_files().key.as_bytes()).unwrap();
    let signing_key = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(thief_key)
        .unwrap();
    // MX's public certificate, but the thief's signature in CertificateVerify.
    let stolen = CertifiedKey::new(vec![mx.certificate_der().clone()], signing_key);
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedServerCertificate::new(
                us.fingerprint(),
            )))
            .with_client_cert_resolver(Arc::new(Impostor(Arc::new(stolen))));
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    assert!(client.get(server.url()).send().await.is_err());
    assert_eq!(server.calls(), 0);
}

#[tokio::test]
async fn only_tls_1_3_is_negotiated() {
    let (us, mx) = (node(PartyCode::US), node(PartyCode::MX));
    let server = start(&us).await;
    let connector = TlsConnector::from(client_config(&mx, us.fingerprint()).unwrap());
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();

    let (_, connection) = tls.get_ref();
    assert_eq!(
        connection.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(connection.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        connection.peer_certificates().map(|c| c.len()),
        Some(1),
        "the server presents its one self-signed certificate"
    );

    // The raw connection is a working HTTP/1.1 channel to the handler.
    tls.write_all(b"GET /whoami HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(&mx.fingerprint().to_string()));
}

#[tokio::test]
async fn plain_http_and_silent_clients_do_not_reach_the_handler_nor_stop_the_server() {
    let (us, mx) = (node(PartyCode::US), node(PartyCode::MX));
    let server = start(&us).await;

    // Plain HTTP on the TLS port: the server drops it (after at most a TLS alert).
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET /whoami HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server should close a non-TLS connection");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "no HTTP answer over plain text"
    );

    // A client that connects and says nothing holds only its own task.
    let _silent = TcpStream::connect(server.addr).await.unwrap();

    let body = reqwest_client(&mx, us.fingerprint(), quick())
        .unwrap()
        .get(server.url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, format!("{} 127.0.0.1", mx.fingerprint()));
    assert_eq!(
        server.calls(),
        1,
        "only the good client reached the handler"
    );
}

#[tokio::test]
async fn shutdown_stops_accepting_and_the_serve_future_ends() {
    let (us, mx) = (node(PartyCode::US), node(PartyCode::MX));
    let mut server = start(&us).await;
    let client = reqwest_client(&mx, us.fingerprint(), quick()).unwrap();
    assert!(client.get(server.url()).send().await.is_ok());

    // The client keeps its connection alive in its pool; shutdown must still finish promptly.
    let _ = server.stop.take().map(|stop| stop.send(()));
    tokio::time::timeout(Duration::from_secs(5), &mut server.task)
        .await
        .expect("serve_mtls should end soon after shutdown")
        .unwrap();
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test]
async fn the_extractor_answers_401_without_a_client_certificate() {
    // The same router served without serve_mtls has no PeerCertificate to hand out.
    let calls = Arc::new(AtomicUsize::new(0));
    let response = app(calls.clone())
        .layer(axum::Extension(ConnectInfo(SocketAddr::from((
            [127, 0, 0, 1],
            1,
        )))))
        .oneshot(Request::get("/whoami").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn pem_round_trip_keeps_the_identity_and_debug_never_shows_the_key() {
    let us = node(PartyCode::US);
    let pem = us.to_pem_files();
    assert!(pem.cert.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(pem.key.starts_with("-----BEGIN PRIVATE KEY-----\n"));

    let loaded = NodeTls::from_pem(&pem.cert, &pem.key).unwrap();
    assert_eq!(loaded.fingerprint(), us.fingerprint());
    assert_eq!(loaded.certificate_der(), us.certificate_der());
    assert_eq!(loaded.to_pem_files().key, pem.key);
    assert_eq!(
        us.fingerprint(),
        CertFingerprint::of_der(us.certificate_der())
    );

    // Every line of the key's base64 body, so no fragment leaks either.
    let secret_lines: Vec<&str> = pem
        .key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for shown in [
        format!("{us:?}"),
        format!("{us:#?}"),
        format!("{loaded:?}"),
        format!("{pem:?}"),
        format!("{pem:#?}"),
    ] {
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        for line in &secret_lines {
            assert!(!shown.contains(line), "key material in Debug: {shown}");
        }
        assert!(shown.contains("redacted"), "{shown}");
    }
    assert!(format!("{us:?}").contains(&us.fingerprint().to_string()));
}

#[test]
fn loading_refuses_a_key_that_is_not_the_certificates_and_never_quotes_it() {
    let (us, mx) = (node(PartyCode::US), node(PartyCode::MX));
    let (us_pem, mx_pem) = (us.to_pem_files(), mx.to_pem_files());

    let err = NodeTls::from_pem(&us_pem.cert, &mx_pem.key).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch), "{err:?}");

    let mangled = mx_pem.key.replace('A', "!");
    let err = NodeTls::from_pem(&us_pem.cert, &mangled).unwrap_err();
    assert!(
        matches!(err, TlsError::KeyPem | TlsError::KeyMismatch),
        "{err:?}"
    );

    assert!(matches!(
        NodeTls::from_pem("", &us_pem.key).unwrap_err(),
        TlsError::CertificatePem
    ));
    // Well-formed PEM around bytes that are no certificate.
    let bogus =
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        NodeTls::from_pem(bogus, &us_pem.key).unwrap_err(),
        TlsError::CertificatePem
    ));
    let two = format!("{}{}", us_pem.cert, mx_pem.cert);
    assert!(matches!(
        NodeTls::from_pem(&two, &us_pem.key).unwrap_err(),
        TlsError::CertificatePem
    ));

    let secret_lines: Vec<&str> = mx_pem
        .key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for err in [
        NodeTls::from_pem(&us_pem.cert, &mx_pem.key).unwrap_err(),
        NodeTls::from_pem(&us_pem.cert, &mangled).unwrap_err(),
    ] {
        let shown = format!("{err} {err:?}");
        for line in &secret_lines {
            assert!(!shown.contains(line), "key material in an error: {shown}");
        }
    }
}

#[test]
fn fingerprints_have_one_spelling() {
    let fp = node(PartyCode::US).fingerprint();
    let text = fp.to_string();
    assert_eq!(text.len(), 64);
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    );
    assert_eq!(CertFingerprint::parse(&text).unwrap(), fp);
    assert_eq!(text.parse::<CertFingerprint>().unwrap(), fp);

    for bad in [
        text.to_uppercase(),
        text[..63].to_owned(),
        format!("{text}0"),
        format!("{}g", &text[..63]),
        String::new(),
    ] {
        assert!(CertFingerprint::parse(&bad).is_err(), "{bad}");
    }

    let json = serde_json::to_string(&fp).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    assert_eq!(serde_json::from_str::<CertFingerprint>(&json).unwrap(), fp);
    assert!(serde_json::from_str::<CertFingerprint>("\"abc\"").is_err());
}
