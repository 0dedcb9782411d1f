//! Starts real nodes for the tests: the `puente` binary itself, initialised in a fresh temporary
//! directory, on SQLite or on a fresh PostgreSQL database, served on a free port.
//!
//! Nothing is mocked: a test talks HTTP to the same process an operator runs, and changes its
//! state only through the binary's commands, its API, or (to simulate tampering) its database.

// Each test module uses the part of the harness it needs; not every helper is used by every
// module set, and an unused helper is not a defect.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sqlx::Connection;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// The binary under test, built by cargo for this test run.
pub const PUENTE: &str = env!("CARGO_BIN_EXE_puente");

/// How long a node may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend: `both_backends!(name);` next to `async fn name(Backend)`
/// makes the tests `name::sqlite` and `name::postgres`.
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )+};
}
pub(crate) use both_backends;

/// What a command printed, and how it ended.
#[derive(Debug)]
pub struct CliOutput {
    /// The exit code; -1 if the process was killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// The rest of the first stdout line starting with `prefix`.
    pub fn line_value(&self, prefix: &str) -> Option<&str> {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "command failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `puente ARGS`, feeding `stdin` if given.
pub async fn puente(args: &[&str], stdin: Option<&str>) -> CliOutput {
    let mut cmd = Command::new(PUENTE);
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("start puente");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
        drop(pipe);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("puente did not finish within 120 s")
        .expect("wait for puente");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The PostgreSQL server the tests use: `PUENTE_TEST_DATABASE_URL`, or the local default.
pub fn pg_admin_url() -> String {
    std::env::var("PUENTE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

async fn pg_admin_connection() -> sqlx::PgConnection {
    let url = pg_admin_url();
    match sqlx::PgConnection::connect(&url).await {
        Ok(c) => c,
        // A fresh cluster has no `test` database; `postgres` always exists.
        Err(first) => sqlx::PgConnection::connect(&with_database(&url, "postgres"))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot reach PostgreSQL at {url} ({first}) nor its `postgres` database ({e}); \
                     run ./scripts/test, or set PUENTE_TEST_DATABASE_URL"
                )
            }),
    }
}

/// A fresh, empty PostgreSQL database, dropped (with any connection still open to it) when
/// this guard is.
pub struct PgDatabase {
    /// The URL of the database, for `--database` and for tampering with it directly.
    pub url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let name = format!("puente_t_{}", uuid::Uuid::now_v7().simple());
        let mut conn = pg_admin_connection().await;
        // Concurrent CREATE DATABASE calls can collide on the template ("source database is
        // being accessed by other users"): retry a few times.
        let sql = format!("CREATE DATABASE \"{name}\"");
        let mut attempt = 0;
        while let Err(e) = sqlx::query(&sql).execute(&mut conn).await {
            attempt += 1;
            assert!(attempt < 20, "CREATE DATABASE {name}: {e}");
            tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
        }
        conn.close().await.ok();
        PgDatabase {
            url: with_database(&pg_admin_url(), &name),
            name,
        }
    }
}

impl Drop for PgDatabase {
    /// Runs on a plain thread with its own runtime: `Drop` cannot await, and it runs inside the
    /// test's runtime.
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let url = pg_admin_url();
                let conn = match sqlx::PgConnection::connect(&url).await {
                    Ok(c) => Ok(c),
                    Err(_) => sqlx::PgConnection::connect(&with_database(&url, "postgres")).await,
                };
                if let Ok(mut conn) = conn {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    sqlx::query(&sql).execute(&mut conn).await.ok();
                    conn.close().await.ok();
                }
            });
        });
        handle.join().ok();
    }
}

/// One node: its directory, its database, and (once started) its `serve` process.
pub struct TestNode {
    pub backend: Backend,
    _tmp: TempDir,
    /// The node's directory (inside the temporary directory, created by `init`).
    pub dir: PathBuf,
    /// The `--database` URL passed to every command (PostgreSQL only).
    pub database: Option<String>,
    /// Dropped with the node, after `Drop` has killed the server.
    pg: Option<PgDatabase>,
    /// As printed once by `init`.
    pub admin_password: String,
    /// What `init` printed.
    pub init_output: CliOutput,
    /// `http://127.0.0.1:PORT`, once started.
    pub url: String,
    pub addr: Option<SocketAddr>,
    /// `https://127.0.0.1:PORT` of the federation listener, once started; kept across restarts
    /// (peers pinned it in their copy of this node's card).
    pub federation_url: String,
    pub federation_addr: Option<SocketAddr>,
    /// Keeps cookies, so a login holds for later requests.
    pub client: reqwest::Client,
    child: Option<Child>,
}

impl TestNode {
    /// A node of party US, initialised and serving.
    pub async fn spawn(backend: Backend) -> TestNode {
        let mut node = TestNode::init(backend).await;
        node.start().await;
        node
    }

    /// A node of party US, initialised but not serving.
    pub async fn init(backend: Backend) -> TestNode {
        TestNode::init_party(backend, "US").await
    }

    pub async fn init_party(backend: Backend, party: &str) -> TestNode {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let dir = tmp.path().join("node");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await),
        };
        let database = pg.as_ref().map(|d| d.url.clone());
        let mut node = TestNode {
            backend,
            _tmp: tmp,
            dir,
            database,
            pg,
            admin_password: String::new(),
            init_output: CliOutput {
                code: -1,
                stdout: String::new(),
                stderr: String::new(),
            },
            url: String::new(),
            addr: None,
            federation_url: String::new(),
            federation_addr: None,
            client: reqwest::Client::builder()
                .cookie_store(true)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            child: None,
        };
        let out = node.cli(&["init", "--party", party]).await;
        out.assert_success();
        node.admin_password = out
            .line_value("password:")
            .expect("init prints the admin password")
            .to_owned();
        node.init_output = out;
        node
    }

    /// The temporary directory the node's directory sits in (for more nodes or files beside it).
    pub fn tmp(&self) -> &Path {
        self._tmp.path()
    }

    /// The node's SQLite file (SQLite backend).
    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.join("puente.db")
    }

    /// A URL sqlx can open to reach this node's database directly.
    pub fn database_url(&self) -> String {
        match &self.database {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.sqlite_path().display()),
        }
    }

    /// Runs `puente ARGS --dir DIR [--database URL]`.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        self.cli_with_stdin(args, None).await
    }

    pub async fn cli_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        let dir = self.dir.to_string_lossy().into_owned();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--dir", &dir]);
        if let Some(db) = &self.database {
            all.extend(["--database", db]);
        }
        puente(&all, stdin).await
    }

    /// Starts `puente serve` on a free port and waits until it answers `/healthz`.
    pub async fn start(&mut self) {
        let federation = self
            .federation_addr
            .map_or_else(|| "127.0.0.1:0".to_owned(), |a| a.to_string());
        self.start_on("127.0.0.1:0", &federation).await;
    }

    async fn start_on(&mut self, listen: &str, federation: &str) {
        assert!(self.child.is_none(), "node already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open serve log");
        let dir = self.dir.to_string_lossy().into_owned();
        let mut cmd = Command::new(PUENTE);
        cmd.args([
            "serve",
            "--dir",
            &dir,
            "--listen",
            listen,
            "--federation-listen",
            federation,
        ]);
        if let Some(db) = &self.database {
            cmd.args(["--database", db]);
        }
        cmd.env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start puente serve");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        // Two lines: the API's address, then the federation listener's.
        let found = tokio::time::timeout(START_TIMEOUT, async {
            let mut api = None;
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("listening on ") {
                    api = Some(url.trim().to_owned());
                }
                if let Some(url) = line.strip_prefix("federation on ") {
                    return api.map(|a| (a, url.trim().to_owned()));
                }
            }
            None
        })
        .await;
        let (url, federation_url) = match found {
            Ok(Some(urls)) => urls,
            _ => {
                child.kill().await.ok();
                panic!(
                    "puente serve did not announce its address; log:\n{}",
                    self.log()
                );
            }
        };
        // Keep reading stdout so the server never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.addr = url.strip_prefix("http://").and_then(|a| a.parse().ok());
        self.url = url;
        self.federation_addr = federation_url
            .strip_prefix("https://")
            .and_then(|a| a.parse().ok());
        self.federation_url = federation_url;
        self.child = Some(child);
        self.wait_healthy().await;
    }

    async fn wait_healthy(&mut self) {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(r) = self
                .client
                .get(format!("{}/healthz", self.url))
                .send()
                .await
            {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("puente serve exited with {status}; log:\n{}", self.log());
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!("puente serve never answered /healthz; log:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the server with SIGKILL (no chance to clean up) and waits for it to die.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill puente serve");
        }
    }

    /// Kills the server and starts it again on the same address (another free port if that one
    /// was taken meanwhile), so the client's cookies still apply.
    pub async fn restart(&mut self) {
        self.kill().await;
        let same = self.addr.map(|a| a.to_string());
        let federation = self
            .federation_addr
            .map_or_else(|| "127.0.0.1:0".to_owned(), |a| a.to_string());
        match same {
            Some(addr) => {
                let ok = std::net::TcpListener::bind(&addr).is_ok();
                self.start_on(if ok { &addr } else { "127.0.0.1:0" }, &federation)
                    .await;
            }
            None => self.start().await,
        }
    }

    /// `puente user add NAME --role ROLE`; returns the printed password.
    pub async fn add_user(&self, name: &str, role: &str) -> String {
        let mut args = vec!["user", "add", name, "--role", role];
        if role == "agency-user" {
            args.extend(["--agency", "CBP"]);
        }
        let out = self.cli(&args).await;
        out.assert_success();
        out.line_value("password:")
            .expect("user add prints the password")
            .to_owned()
    }

    /// `puente token create --user NAME`; returns the printed secret.
    pub async fn token(&self, name: &str) -> String {
        let out = self.cli(&["token", "create", "--user", name]).await;
        out.assert_success();
        out.line_value("token:")
            .expect("token create prints the token")
            .to_owned()
    }

    /// Runs raw SQL on the node's database, bypassing the node (to tamper with what it stored);
    /// how many rows it changed.
    pub async fn execute_sql(&self, sql: &str) -> u64 {
        use sqlx::Connection as _;
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.database_url())
                    .await
                    .unwrap();
                let n = sqlx::query(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                n.rows_affected()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.database_url())
                    .await
                    .unwrap();
                let n = sqlx::query(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                n.rows_affected()
            }
        }
    }

    /// `puente audit verify`: its exit code and stdout.
    pub async fn audit_verify(&self) -> (i32, String) {
        let out = self.cli(&["audit", "verify"]).await;
        (out.code, out.stdout)
    }

    /// Two serving nodes, US and MX, each with its own directory, database and keys, registered
    /// as each other's peer with the cards they export for their running federation listeners.
    pub async fn pair(backend: Backend) -> (TestNode, TestNode) {
        let mut us = TestNode::init_party(backend, "US").await;
        let mut mx = TestNode::init_party(backend, "MX").await;
        us.start().await;
        mx.start().await;
        let us_card = us.peer_card(&us.federation_url.clone()).await;
        let mx_card = mx.peer_card(&mx.federation_url.clone()).await;
        us.add_peer(&mx_card).await.assert_success();
        mx.add_peer(&us_card).await.assert_success();
        (us, mx)
    }

    /// `puente peer export --endpoint ENDPOINT`: this node's card, exactly the file it would send.
    pub async fn peer_card(&self, endpoint: &str) -> String {
        let out = self.cli(&["peer", "export", "--endpoint", endpoint]).await;
        out.assert_success();
        out.stdout
    }

    /// `puente peer add FILE`, with `card` written to a new file beside the node directory.
    pub async fn add_peer(&self, card: &str) -> CliOutput {
        let path = self
            .tmp()
            .join(format!("{}.card", uuid::Uuid::now_v7().simple()));
        std::fs::write(&path, card).expect("write the peer card file");
        self.cli(&["peer", "add", &path.to_string_lossy()]).await
    }

    /// Logs in as `name` on the shared client (the session cookie stays in the client).
    pub async fn login(&self, name: &str, password: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/login", self.url))
            .json(&serde_json::json!({ "name": name, "password": password }))
            .send()
            .await
            .expect("login request")
    }

    fn log_path(&self) -> PathBuf {
        self.tmp().join("serve.log")
    }

    /// Everything the node's `serve` processes wrote to stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        // Stop the server before the database guard drops its database.
        if let Some(child) = &mut self.child {
            child.start_kill().ok();
        }
    }
}

/// A liaison officer's API token on `node` (adding the user `liaison`).
pub async fn liaison_token(node: &TestNode) -> String {
    node.add_user("liaison", "liaison-officer").await;
    node.token("liaison").await
}

/// A valid fictional referral as a liaison officer composes it (flash, TLP:AMBER, a vehicle and
/// a firearm), told apart from others by its summary; the API also wants `"to"`.
pub fn fictional_referral(summary: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "arms-trafficking",
        "urgency": "flash",
        "lang": "en",
        "summary": summary,
        "details": "Fictional test data.",
        "locations": [{"lat": 31.78, "lon": -106.68, "place": "Santa Teresa"}],
        "entities": [
            {"type": "vehicle", "plate": "ABC-123-X", "make": "Ford", "colour": "white"},
            {"type": "firearm", "make": "Colt", "model": "M4", "calibre": "5.56", "serial": "FX-0001"}
        ],
        "evaluation": {"reliability": "B", "credibility": "2"},
        "handling": {"tlp": "amber", "may_pass_on": false, "evidence_use": true,
                     "purpose": "Interdiction of an arms shipment",
                     "legal_basis": "Bilateral agreement, art. 4", "retention_days": 365}
    })
}
