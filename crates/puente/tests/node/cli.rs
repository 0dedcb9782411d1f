//! The command line as an operator meets it: init's refusals, users and tokens, and the audit
//! chain check before and after someone tampers with the database. Each runs on both backends.

use sqlx::Connection;

use crate::helpers::{Backend, PgDatabase, TestNode, both_backends, puente};

both_backends!(
    init_refuses_a_bad_party_code,
    init_refuses_an_initialised_node,
    admin_password_is_printed_once_and_works,
    user_add_prints_a_password_and_refuses_duplicates,
    tokens_are_created_for_existing_users_listed_and_revoked,
    audit_verify_finds_a_tampered_entry,
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
    // Revoking each stops the token at once; revoking again names the mistake.
    for id in &ids {
        node.cli(&["token", "revoke", id]).await.assert_success();
    }
    let revoked = reqwest::Client::new()
        .get(format!("{}/api/v1/me", node.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
    let revoked = reqwest::Client::new()
        .get(format!("{}/api/v1/me", node.url))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
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
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&node.database_url())
                .await
                .unwrap();
            let done = sqlx::query(sql).execute(&mut conn).await.unwrap();
            assert_eq!(done.rows_affected(), 1);
            conn.close().await.unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&node.database_url())
                .await
                .unwrap();
            let done = sqlx::query(sql).execute(&mut conn).await.unwrap();
            assert_eq!(done.rows_affected(), 1);
            conn.close().await.unwrap();
        }
    }

    let (code, stdout) = node.audit_verify().await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with("audit chain broken at entry 2: "),
        "{stdout}"
    );
}
