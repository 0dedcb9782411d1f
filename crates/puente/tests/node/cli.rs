//! The command line as an operator meets it: init's refusals, users and tokens, the audit chain
//! check before and after someone tampers with the database, and the node identity and peer
//! cards two parties swap. Each runs on both backends.

use puente_exchange::card::PeerCard;
use puente_exchange::keys::NodeKey;
use puente_exchange::tls::NodeTls;

use crate::helpers::{Backend, PgDatabase, TestNode, both_backends, puente};

both_backends!(
    init_refuses_a_bad_party_code,
    init_refuses_an_initialised_node,
    admin_password_is_printed_once_and_works,
    user_add_prints_a_password_and_refuses_duplicates,
    tokens_are_created_for_existing_users_listed_and_revoked,
    audit_verify_finds_a_tampered_entry,
    init_creates_the_node_identity_and_federation_table,
    peer_export_prints_a_card_that_verifies,
    two_nodes_add_each_others_cards,
    own_and_tampered_cards_are_refused,
);

async fn init_refuses_a_bad_party_code(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let dir_s = dir.to_string_lossy().into_owned();
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await),
    };
    for bad in ["XX", "us", "USA", ""] {
        let mut args = vec!["init", "--party", bad, "--dir", &dir_s];
        if let Some(pg) = &pg {
            args.extend(["--database", &pg.url]);
        }
        let out = puente(&args, None).await;
        assert_eq!(out.code, 2, "party {bad:?} accepted: {out:?}");
        assert!(
            out.stderr.contains("not a party code"),
            "{bad:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("ISO 3166-1 alpha-2"), "{}", out.stderr);
        assert!(
            !dir.exists(),
            "a refused init left {} behind",
            dir.display()
        );
    }
}

async fn init_refuses_an_initialised_node(backend: Backend) {
    let node = TestNode::init(backend).await;
    let config_before = std::fs::read_to_string(node.dir.join("puente.toml")).unwrap();

    let again = node.cli(&["init", "--party", "MX"]).await;
    assert_eq!(again.code, 2, "{again:?}");
    assert!(
        again.stderr.contains("already holds a node"),
        "{}",
        again.stderr
    );
    assert!(
        !again.stdout.contains("password"),
        "a refused init printed {}",
        again.stdout
    );
    let config_after = std::fs::read_to_string(node.dir.join("puente.toml")).unwrap();
    assert_eq!(config_before, config_after);

    // A directory holding anything else is refused too.
    let other = node.tmp().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep me").unwrap();
    let other_s = other.to_string_lossy().into_owned();
    let out = puente(&["init", "--party", "US", "--dir", &other_s], None).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);

    // On PostgreSQL the database itself already belongs to a node, whatever the directory.
    if let Some(db) = &node.database {
        let fresh = node.tmp().join("fresh").to_string_lossy().into_owned();
        let out = puente(
            &["init", "--party", "US", "--dir", &fresh, "--database", db],
            None,
        )
        .await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr.contains("already holds a node of party US"),
            "{}",
            out.stderr
        );
    }
}

async fn admin_password_is_printed_once_and_works(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    let init = &node.init_output;
    assert_eq!(
        init.stdout.matches(&node.admin_password).count(),
        1,
        "{}",
        init.stdout
    );
    assert!(
        node.admin_password.len() >= 16,
        "weak password {:?}",
        node.admin_password
    );
    assert!(
        !init.stderr.contains(&node.admin_password),
        "password in the logs"
    );
    let config = std::fs::read_to_string(node.dir.join("puente.toml")).unwrap();
    assert!(!config.contains(&node.admin_password));

    let wrong = node.login("admin", "not-the-password").await;
    assert_eq!(wrong.status(), 401);
    let ok = node.login("admin", &node.admin_password).await;
    assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap_or_default());
    let me: serde_json::Value = node
        .client
        .get(format!("{}/api/v1/me", node.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "admin");
    assert_eq!(me["role"], "administrator");
    assert_eq!(me["party"], "US");
    assert!(
        !node.log().contains(&node.admin_password),
        "password in the server log"
    );
}

async fn user_add_prints_a_password_and_refuses_duplicates(backend: Backend) {
    let node = TestNode::init(backend).await;
    let password = node.add_user("officer", "program-officer").await;
    assert_eq!(password.len(), 20);

    let dup = node
        .cli(&["user", "add", "officer", "--role", "analyst"])
        .await;
    assert_eq!(dup.code, 2, "{dup:?}");
    assert!(dup.stderr.contains("already exists"), "{}", dup.stderr);

    let bad_role = node.cli(&["user", "add", "eve", "--role", "root"]).await;
    assert_eq!(bad_role.code, 2);
    assert!(
        bad_role.stderr.contains("unknown role"),
        "{}",
        bad_role.stderr
    );

    let no_agency = node
        .cli(&["user", "add", "customs", "--role", "agency-user"])
        .await;
    assert_eq!(no_agency.code, 2);
    assert!(
        no_agency.stderr.contains("--agency"),
        "{}",
        no_agency.stderr
    );

    let chosen = "correct horse battery staple";
    let out = node
        .cli_with_stdin(
            &[
                "user",
                "add",
                "liaison",
                "--role",
                "liaison-officer",
                "--password-stdin",
            ],
            Some(&format!("{chosen}\n")),
        )
        .await;
    out.assert_success();
    assert!(!out.stdout.contains(chosen), "a chosen password was echoed");

    let short = node
        .cli_with_stdin(
            &[
                "user",
                "add",
                "analyst",
                "--role",
                "analyst",
                "--password-stdin",
            ],
            Some("short\n"),
        )
        .await;
    assert_eq!(short.code, 2);
    assert!(short.stderr.contains("at least 12"), "{}", short.stderr);
}

async fn tokens_are_created_for_existing_users_listed_and_revoked(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    let missing = node.cli(&["token", "create", "--user", "nobody"]).await;
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(
        missing.stderr.contains("no user named \"nobody\""),
        "{}",
        missing.stderr
    );
    assert!(missing.line_value("token:").is_none());

    let token = node.token("admin").await;
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/me", node.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let bad = reqwest::Client::new()
        .get(format!("{}/api/v1/me", node.url))
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(
        !node.log().contains(&token),
        "token secret in the server log"
    );

    // The list names each token and never a secret.
    let second = node.token("admin").await;
    let listed = node.cli(&["token", "list", "--user", "admin"]).await;
    listed.assert_success();
    let ids: Vec<&str> = listed
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(ids.len(), 2, "{}", listed.stdout);
    assert!(!listed.stdout.contains("pnt_"), "{}", listed.stdout);
    // Revoking each stops the token: a running node remembers a token's user for at most a
    // second (`puente_store::credentials`), so the command's change reaches it within that.
    // Revoking again names the mistake.
    for id in &ids {
        node.cli(&["token", "revoke", id]).await.assert_success();
    }
    for revoked in [&token, &second] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            let status = reqwest::Client::new()
                .get(format!("{}/api/v1/me", node.url))
                .bearer_auth(revoked)
                .send()
                .await
                .unwrap()
                .status();
            if status == 401 {
                break;
            }
            assert_eq!(status, 200);
            assert!(
                std::time::Instant::now() < deadline,
                "a revoked token still works after 3 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let again = node.cli(&["token", "revoke", ids[0]]).await;
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("no token"), "{}", again.stderr);
    let none = node.cli(&["token", "list"]).await;
    assert_eq!(none.stdout.trim(), "no tokens", "{none:?}");
}

async fn audit_verify_finds_a_tampered_entry(backend: Backend) {
    let node = TestNode::init(backend).await;
    let (code, stdout) = node.audit_verify().await;
    assert_eq!(code, 0, "{stdout}");
    let n: u64 = stdout
        .trim()
        .strip_prefix("audit chain ok: ")
        .and_then(|s| s.strip_suffix(" entries"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {stdout:?}"));
    // The node's identity, the administrator, four indicators and five measurements.
    assert!(n >= 11, "only {n} audit entries after init");

    let sql = "UPDATE audit SET actor = 'mallory' WHERE seq = 2";
    assert_eq!(node.execute_sql(sql).await, 1);

    let (code, stdout) = node.audit_verify().await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with("audit chain broken at entry 2: "),
        "{stdout}"
    );
}

/// The node's signing key and TLS identity, read from its files as the node reads them.
fn identity(node: &TestNode) -> (NodeKey, NodeTls) {
    let key = NodeKey::from_file_text(&std::fs::read_to_string(node.dir.join("node.key")).unwrap())
        .unwrap();
    let tls = NodeTls::from_pem(
        &std::fs::read_to_string(node.dir.join("tls.crt")).unwrap(),
        &std::fs::read_to_string(node.dir.join("tls.key")).unwrap(),
    )
    .unwrap();
    (key, tls)
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn init_creates_the_node_identity_and_federation_table(backend: Backend) {
    let node = TestNode::init(backend).await;
    for file in ["node.key", "tls.crt", "tls.key"] {
        assert!(node.dir.join(file).is_file(), "init did not create {file}");
    }
    #[cfg(unix)]
    for secret in ["node.key", "tls.key"] {
        assert_eq!(mode(&node.dir.join(secret)), 0o600, "{secret}");
    }
    let (key, _) = identity(&node);
    let seed = std::fs::read_to_string(node.dir.join("node.key")).unwrap();
    let seed = seed.lines().nth(1).unwrap();
    let tls_key = std::fs::read_to_string(node.dir.join("tls.key")).unwrap();
    let tls_key_body = tls_key.lines().nth(1).unwrap();
    let init = &node.init_output;
    for secret in [seed, tls_key_body] {
        assert!(
            !init.stdout.contains(secret) && !init.stderr.contains(secret),
            "init printed a secret"
        );
    }
    assert!(
        init.stdout.contains(&key.public().fingerprint()),
        "{}",
        init.stdout
    );

    let config = std::fs::read_to_string(node.dir.join("puente.toml")).unwrap();
    for line in [
        "[federation]",
        "listen = \"127.0.0.1:7401\"",
        "endpoint = \"https://127.0.0.1:7401\"",
        "max_body_bytes = 262144",
        "max_batch = 256",
        "max_age_secs = 2592000",
        "max_skew_secs = 300",
        "[federation.clocks]",
        "flash = { acknowledge_secs = 900, act_secs = 21600 }",
        "routine = { acknowledge_secs = 86400, act_secs = 1209600 }",
    ] {
        assert!(
            config.lines().any(|l| l == line),
            "no {line:?} in:\n{config}"
        );
    }

    // Another address and endpoint at init; an unreachable address needs an explicit endpoint.
    let other = node.tmp().join("other").to_string_lossy().into_owned();
    let out = puente(
        &[
            "init",
            "--party",
            "MX",
            "--dir",
            &other,
            "--federation-listen",
            "0.0.0.0:7401",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--endpoint"), "{}", out.stderr);
    assert!(!node.tmp().join("other").exists());
    let out = puente(
        &[
            "init",
            "--party",
            "MX",
            "--dir",
            &other,
            "--federation-listen",
            "0.0.0.0:7401",
            "--endpoint",
            "https://puente.sre.example:8443",
        ],
        None,
    )
    .await;
    out.assert_success();
    let config = std::fs::read_to_string(node.tmp().join("other/puente.toml")).unwrap();
    assert!(config.contains("listen = \"0.0.0.0:7401\""), "{config}");
    assert!(
        config.contains("endpoint = \"https://puente.sre.example:8443\""),
        "{config}"
    );
    let card = puente(&["peer", "export", "--dir", &other], None).await;
    card.assert_success();
    let card = PeerCard::parse_and_verify(&card.stdout).unwrap();
    assert_eq!(
        card.endpoint().to_string(),
        "https://puente.sre.example:8443"
    );
}

async fn peer_export_prints_a_card_that_verifies(backend: Backend) {
    let node = TestNode::init(backend).await;
    let (key, tls) = identity(&node);
    let text = node.peer_card("https://127.0.0.1:9443").await;
    let card = PeerCard::parse_and_verify(&text).unwrap();
    assert_eq!(
        card.to_text(),
        text,
        "stdout holds the card and nothing else"
    );
    assert_eq!(card.party().as_str(), "US");
    assert_eq!(card.endpoint().to_string(), "https://127.0.0.1:9443");
    assert_eq!(card.signing_key(), &key.public());
    assert_eq!(card.tls_cert_sha256(), &tls.fingerprint());

    // Without the override, the endpoint is the config's.
    let out = node.cli(&["peer", "export"]).await;
    out.assert_success();
    let card = PeerCard::parse_and_verify(&out.stdout).unwrap();
    assert_eq!(card.endpoint().to_string(), "https://127.0.0.1:7401");

    for bad in [
        "http://127.0.0.1:9443",
        "https://127.0.0.1",
        "https://0.0.0.0:9443",
    ] {
        let out = node.cli(&["peer", "export", "--endpoint", bad]).await;
        assert_eq!(out.code, 2, "{bad}: {out:?}");
        assert!(out.stdout.is_empty(), "{bad}: {}", out.stdout);
    }
    // A node whose key file others can read refuses to use it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = node.dir.join("node.key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = node.cli(&["peer", "export"]).await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr.contains("node.key") && out.stderr.contains("chmod 600"),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
}

async fn two_nodes_add_each_others_cards(backend: Backend) {
    let us = TestNode::init_party(backend, "US").await;
    let mx = TestNode::init_party(backend, "MX").await;
    let us_card = us.peer_card("https://127.0.0.1:17401").await;
    let mx_card = mx.peer_card("https://127.0.0.1:27401").await;
    let (mx_key, mx_tls) = identity(&mx);

    let added = us.add_peer(&mx_card).await;
    added.assert_success();
    for expected in [
        "peer card of party MX".to_owned(),
        "https://127.0.0.1:27401".to_owned(),
        mx_key.public().fingerprint(),
        mx_tls.fingerprint().to_string(),
        "peer MX added".to_owned(),
    ] {
        assert!(
            added.stdout.contains(&expected),
            "{expected}:\n{}",
            added.stdout
        );
    }
    mx.add_peer(&us_card).await.assert_success();

    let listed = us.cli(&["peer", "list"]).await;
    listed.assert_success();
    assert!(
        listed.stdout.starts_with("MX  https://127.0.0.1:27401\n"),
        "{}",
        listed.stdout
    );
    assert!(listed.stdout.contains(&mx_key.public().fingerprint()));
    assert_eq!(listed.line_value("  backlog"), Some("0 undelivered"));
    assert_eq!(listed.line_value("  last contact"), Some("never"));
    assert_eq!(listed.line_value("  last error"), Some("none"));
    let listed = mx.cli(&["peer", "list"]).await;
    listed.assert_success();
    assert!(
        listed.stdout.starts_with("US  https://127.0.0.1:17401\n"),
        "{}",
        listed.stdout
    );

    // The same card again changes nothing; a new card (read from stdin) replaces the old one.
    let again = us.add_peer(&mx_card).await;
    again.assert_success();
    assert!(again.stdout.contains("nothing changed"), "{}", again.stdout);
    let moved = mx.peer_card("https://127.0.0.1:27402").await;
    let replaced = us.cli_with_stdin(&["peer", "add", "-"], Some(&moved)).await;
    replaced.assert_success();
    assert!(
        replaced.stdout.contains("peer MX updated"),
        "{}",
        replaced.stdout
    );
    let listed = us.cli(&["peer", "list"]).await;
    assert!(
        listed.stdout.starts_with("MX  https://127.0.0.1:27402\n"),
        "{}",
        listed.stdout
    );
    assert_eq!(
        listed.stdout.matches("MX  ").count(),
        1,
        "{}",
        listed.stdout
    );
    let (code, out) = us.audit_verify().await;
    assert_eq!(code, 0, "{out}");
}

async fn own_and_tampered_cards_are_refused(backend: Backend) {
    let us = TestNode::init_party(backend, "US").await;
    let mx = TestNode::init_party(backend, "MX").await;

    let own = us
        .add_peer(&us.peer_card("https://127.0.0.1:17401").await)
        .await;
    assert_eq!(own.code, 2, "{own:?}");
    assert!(own.stderr.contains("own party"), "{}", own.stderr);

    let card = mx.peer_card("https://127.0.0.1:27401").await;
    let signature_at = card.find("signature ").unwrap() + "signature ".len();
    let flip = |text: &str, at: usize| {
        let mut bytes = text.as_bytes().to_vec();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    for tampered in [
        card.replace("https://127.0.0.1:27401", "https://127.0.0.1:27402"),
        flip(&card, signature_at),
        card.replace("party MX", "party GT"),
    ] {
        assert_ne!(tampered, card);
        let out = us.add_peer(&tampered).await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr.contains("is not a valid peer card"),
            "{}",
            out.stderr
        );
        assert!(!out.stdout.contains("added"), "{}", out.stdout);
    }
    let missing = us.cli(&["peer", "add", "/nonexistent/mx.card"]).await;
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(
        missing.stderr.contains("/nonexistent/mx.card"),
        "{}",
        missing.stderr
    );

    let listed = us.cli(&["peer", "list"]).await;
    listed.assert_success();
    assert!(listed.stdout.starts_with("no peers"), "{}", listed.stdout);
}
