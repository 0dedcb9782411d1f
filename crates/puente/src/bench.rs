//! `puente bench api`: how fast one node answers its API with a program's worth of records.
//!
//! This module owns the benchmark end to end: a fresh node (SQLite by default, or a given
//! PostgreSQL database), fictional commitments and actions bulk-loaded through
//! [`Store::import`], the real server started as a child process (`puente serve`), an open-loop
//! load generator, and the markdown report on stdout (progress goes to stderr).
//!
//! The generator is open loop: request `i` of a scenario is due at `start + i / rate` whether or
//! not earlier ones have answered, and its latency is measured from that scheduled instant. A
//! closed loop (send, wait, send) would slow down when the server stalls and so hide the stall
//! from its percentiles (coordinated omission); here a stall shows up in every request due
//! during it. Every loop is bounded (requests = rate × seconds), traffic goes only to the child
//! on 127.0.0.1, and the child and the temporary directory are removed on every exit path.
//!
//! Speed goals live here and in `BENCHMARKS.md`, never in timed unit tests.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use puente_domain::{
    ActionDraft, AreaCode, CommitmentDraft, LocalizedText, Output, Owners, PartyCode, RecordMeta,
    Role, Status,
};
use puente_store::{IndicatorFilter, Page, Store, WriteCtx};
use serde_json::json;
use time::{Date, Duration as Days, OffsetDateTime};
use uuid::Uuid;

use crate::cli::{BenchApiArgs, Scenario};
use crate::data::{self, PROGRAM_TOML};
use crate::init::init_node;
use crate::node::now;
use crate::token::create_token;
use crate::user::create_user;

/// Who the audit trail names for the bench's bulk load.
const BENCH_ACTOR: &str = "bench";
/// The program officer whose token drives the load.
const BENCH_USER: &str = "bench-officer";
/// Upper bounds that keep a mistyped flag from running for hours.
const MAX_RATE: u32 = 10_000;
const MAX_SECONDS: u32 = 3_600;
/// A request not answered by then counts as an error (with this latency).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the child may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The machine counts as quiet once it is busy (CPU or waiting on the disk) less than this
/// share of the time over a second; the bench waits at most `SETTLE_MAX` for that.
const QUIET_SHARE: f64 = 0.10;
const SETTLE_MAX: Duration = Duration::from_secs(180);
/// The goals of the issue, checked in the report.
const GOAL_LIST_P99_MS: f64 = 10.0;
const GOAL_CREATE_MS: f64 = 5.0;
const GOAL_RSS_MB: f64 = 150.0;

const US_AGENCIES: &[&str] = &["CBP", "DEA", "FBI", "ATF", "HSI", "FinCEN", "DOJ"];
const MX_AGENCIES: &[&str] = &["SEMAR", "SEDENA", "FGR", "UIF", "SSPC", "ANAM", "Pemex"];

pub async fn api(args: BenchApiArgs) -> Result<()> {
    ensure!(args.commitments >= 1, "--commitments must be at least 1");
    ensure!(args.batch >= 1, "--batch must be at least 1");
    ensure!(
        (1..=MAX_RATE).contains(&args.rate),
        "--rate must be 1–{MAX_RATE} requests per second"
    );
    ensure!(
        (1..=MAX_SECONDS).contains(&args.seconds) && args.warmup <= MAX_SECONDS,
        "--seconds must be 1–{MAX_SECONDS}, --warmup at most {MAX_SECONDS}"
    );
    let scenarios: Vec<Scenario> = if args.only.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.only.clone()
    };

    let dir = BenchDir::new(args.dir.clone())?;
    let party = PartyCode::US;
    eprintln!("bench: initialising a node in {}", dir.path.display());
    let init = init_node(&dir.path, party, args.database.as_deref()).await?;
    let backend = init.store.backend();
    let database = init.database.redacted();

    let password = puente_web::password::generate();
    let officer = create_user(
        &init.store,
        party,
        BENCH_USER,
        Role::ProgramOfficer,
        None,
        &password,
    )
    .await?;
    let token = create_token(&init.store, &officer, "bench").await?;

    let fixture = Fixture::new(&init.store).await?;
    let mut loaded = load(&init.store, &fixture, &args).await?;
    // What an operator does after a bulk load (see `Store::after_bulk_load`); timed apart.
    let started = Instant::now();
    init.store
        .after_bulk_load()
        .await
        .context("housekeeping after the load")?;
    loaded.housekeeping = started.elapsed();
    // The server is a separate process; nothing of this one's pools should linger beside it.
    drop(init);

    let mut server = Server::start(&dir.path)?;
    let settled = settle().await;
    let outcome = drive(&server, &token, &fixture, &loaded, &args, &scenarios).await;
    let rss = server.peak_rss_kib();
    server.stop();
    let results = outcome?;

    print_report(&Report {
        backend,
        database,
        args: &args,
        loaded: &loaded,
        results: &results,
        peak_rss_kib: rss,
        settled,
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The node's directory and the server child

/// The node's directory: the one given, kept afterwards, or a fresh temporary one, removed
/// when this value drops (on success and on every error path).
pub(crate) struct BenchDir {
    pub(crate) path: PathBuf,
    remove: bool,
}

impl BenchDir {
    pub(crate) fn new(given: Option<PathBuf>) -> Result<BenchDir> {
        Ok(match given {
            Some(path) => BenchDir {
                path,
                remove: false,
            },
            None => BenchDir {
                path: std::env::temp_dir()
                    .join(format!("puente-bench-{}", Uuid::now_v7().simple())),
                remove: true,
            },
        })
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        if self.remove {
            if let Err(e) = std::fs::remove_dir_all(&self.path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    eprintln!("bench: could not remove {}: {e}", self.path.display());
                }
            }
        }
    }
}

/// `puente serve` on the bench node, as a child process; killed when this value drops.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    /// `https://…` of its federation listener.
    pub(crate) federation: String,
}

impl Server {
    /// Starts this same binary as `serve --dir DIR --listen 127.0.0.1:0 --federation-listen
    /// 127.0.0.1:0` and reads the addresses it announces. Its log goes to `DIR/serve.log`.
    pub(crate) fn start(dir: &Path) -> Result<Server> {
        Server::start_on(dir, "127.0.0.1:0")
    }

    /// As [`Server::start`], with the federation listener on `federation` (a restarted node
    /// keeps the address its peers' cards name). The log is appended to.
    pub(crate) fn start_on(dir: &Path, federation: &str) -> Result<Server> {
        let exe = std::env::current_exe().context("finding the puente binary")?;
        let log_path = dir.join("serve.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut child = Command::new(exe)
            .arg("serve")
            .arg("--dir")
            .arg(dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--federation-listen")
            .arg(federation)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting `puente serve`")?;
        let stdout = child.stdout.take();
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            federation: String::new(),
        };
        let stdout = stdout.context("the server's stdout")?;
        // A blocking read on a thread, so a server that never answers can be given up on: killing
        // it closes the pipe and ends the read.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Two lines: the API's address, then the federation listener's. The rest of the
            // output is read and dropped, so the server never writes into a closed pipe.
            let mut reader = BufReader::new(stdout);
            let mut api = String::new();
            let mut federation = String::new();
            let got = reader
                .read_line(&mut api)
                .and_then(|_| reader.read_line(&mut federation))
                .map(|_| (api, federation));
            let _ = tx.send(got);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let (line, federation) = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(lines)) => lines,
            Ok(Err(e)) => return Err(e).context("reading the server's address"),
            Err(_) => bail!(
                "the server did not announce its address within {}s; see {}",
                START_TIMEOUT.as_secs(),
                log_path.display()
            ),
        };
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .with_context(|| {
                format!(
                    "the server printed {:?}, not its address; see {}",
                    line.trim(),
                    log_path.display()
                )
            })?;
        ensure!(
            addr.ip().is_loopback(),
            "the server listens on {addr}, not on loopback"
        );
        server.addr = addr;
        server.federation = federation
            .trim()
            .strip_prefix("federation on ")
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "the server printed {:?}, not its federation address; see {}",
                    federation.trim(),
                    log_path.display()
                )
            })?;
        Ok(server)
    }

    /// The child's peak resident set (`VmHWM`) in KiB, if the kernel reports it.
    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// CPU time the child has used so far (user and system, all its threads).
    pub(crate) fn cpu_time(&self) -> Option<Duration> {
        process_cpu_time(&format!("/proc/{}/stat", self.child.id()))
    }

    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A process's CPU time (utime + stime) from its `/proc/PID/stat`, at the kernel's 100 ticks a
/// second. The command name (field 2) may hold spaces, so fields are counted after its `)`.
pub(crate) fn process_cpu_time(stat_path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Busy and total time of all CPUs so far, from `/proc/stat`, in clock ticks. Busy includes
/// waiting on the disk (iowait) and excludes time stolen by a hypervisor.
fn cpu_times() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = fields[..] else {
        return None;
    };
    let busy = user + nice + system + iowait + irq + softirq;
    Some((busy, busy + idle + steal))
}

/// Waits until the machine is quiet, so the measurement does not start in the wake of the bulk
/// load: the loader's last connections closing, the new server copying the WAL into the
/// database file, the kernel writing back. How long it took, or `None` if it was not quiet
/// within `SETTLE_MAX` (or `/proc/stat` is unreadable), which the report says.
pub(crate) async fn settle() -> Option<Duration> {
    let started = Instant::now();
    let mut last = cpu_times()?;
    while started.elapsed() < SETTLE_MAX {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = cpu_times()?;
        let (busy, total) = (now.0.saturating_sub(last.0), now.1.saturating_sub(last.1));
        last = now;
        if total > 0 && (busy as f64) < QUIET_SHARE * total as f64 {
            return Some(started.elapsed());
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Fictional records

/// A small deterministic generator (SplitMix64), so every run loads the same shape of data
/// without a dependency for it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` ≥ 1; bias is negligible for the small `n` used here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn days(&mut self, from: i64, to: i64) -> i64 {
        from + i64::try_from(self.below(u64::try_from(to - from + 1).unwrap_or(1))).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> Option<&'a T> {
        xs.get(usize::try_from(self.below(xs.len() as u64)).unwrap_or(0))
    }
}

/// What the generated records refer to: the program's areas and the node's indicators.
pub(crate) struct Fixture {
    areas: Vec<AreaCode>,
    indicators: HashMap<String, Vec<Uuid>>,
    today: Date,
}

impl Fixture {
    pub(crate) async fn new(store: &Arc<dyn Store>) -> Result<Fixture> {
        let program = data::parse_program(PROGRAM_TOML).context("the shipped program")?;
        let areas: Vec<AreaCode> = program.areas().iter().map(|a| a.code.clone()).collect();
        ensure!(!areas.is_empty(), "the program has no areas");
        let mut indicators: HashMap<String, Vec<Uuid>> = HashMap::new();
        let mut after = None;
        loop {
            let page = store
                .list_indicators(&IndicatorFilter::default(), Page { after, limit: 200 })
                .await
                .context("listing the node's indicators")?;
            for i in &page.items {
                if let Some(area) = &i.body.area {
                    indicators
                        .entry(area.as_str().to_owned())
                        .or_default()
                        .push(i.meta.id);
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        Ok(Fixture {
            areas,
            indicators,
            today: OffsetDateTime::now_utc().date(),
        })
    }

    fn day(&self, offset: i64) -> Date {
        self.today
            .checked_add(Days::days(offset))
            .unwrap_or(self.today)
    }
}

/// The shape of a generated commitment, chosen so every status occurs on the day of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Starts in the future; no actions.
    NotStarted,
    /// Due in the past, never completed.
    Overdue,
    /// An action completed it.
    Done,
    /// Running for more than a quarter of its window with no action yet.
    Stalled,
    /// Running with actions (on track, or at risk when its indicator lags).
    Active,
}

impl Kind {
    fn draw(rng: &mut Rng) -> Kind {
        match rng.below(10) {
            0 => Kind::NotStarted,
            1 => Kind::Overdue,
            2 => Kind::Done,
            3 | 4 => Kind::Stalled,
            _ => Kind::Active,
        }
    }

    fn has_actions(self) -> bool {
        matches!(self, Kind::Overdue | Kind::Done | Kind::Active)
    }
}

/// Every commitment's kind and number of actions, drawn up front so the actions add up to
/// exactly the number asked for.
fn plan(n_commitments: usize, n_actions: u64, rng: &mut Rng) -> Vec<(Kind, u64)> {
    let mut kinds: Vec<Kind> = (0..n_commitments).map(|_| Kind::draw(rng)).collect();
    if n_actions > 0 && !kinds.iter().any(|k| k.has_actions()) {
        if let Some(k) = kinds.first_mut() {
            *k = Kind::Active;
        }
    }
    let takers = kinds.iter().filter(|k| k.has_actions()).count() as u64;
    let each = n_actions.checked_div(takers).unwrap_or(0);
    let extra = n_actions.checked_rem(takers).unwrap_or(0);
    let mut given = 0;
    kinds
        .into_iter()
        .map(|k| {
            if !k.has_actions() {
                return (k, 0);
            }
            let n = each + u64::from(given < extra);
            given += 1;
            (k, n)
        })
        .collect()
}

fn text(en: &str, es: &str) -> LocalizedText {
    LocalizedText::from_pair(en, es)
}

/// A generated commitment and its actions, each with its record meta.
type Generated = (
    (RecordMeta, CommitmentDraft),
    Vec<(RecordMeta, ActionDraft)>,
);

/// One generated commitment (number `i`) and its actions.
fn generate(
    fixture: &Fixture,
    rng: &mut Rng,
    i: usize,
    kind: Kind,
    n_actions: u64,
    at: OffsetDateTime,
) -> Result<Generated> {
    let area = fixture
        .areas
        .get(i % fixture.areas.len())
        .context("an area")?
        .clone();
    let (owners, origin) = match rng.below(3) {
        0 => (Owners::One(PartyCode::US), PartyCode::US),
        1 => (Owners::One(PartyCode::MX), PartyCode::MX),
        _ => (
            Owners::Joint(PartyCode::MX, PartyCode::US),
            if rng.below(2) == 0 {
                PartyCode::US
            } else {
                PartyCode::MX
            },
        ),
    };
    let agencies = if origin == PartyCode::US {
        US_AGENCIES
    } else {
        MX_AGENCIES
    };
    let agency = *rng.pick(agencies).context("an agency")?;
    // Offsets from today, in days.
    let (start, due) = match kind {
        Kind::NotStarted => {
            let s = rng.days(1, 180);
            (s, s + rng.days(90, 720))
        }
        Kind::Overdue => (rng.days(-720, -400), rng.days(-300, -1)),
        Kind::Done => {
            let s = rng.days(-600, -100);
            (s, s + rng.days(60, 600))
        }
        Kind::Stalled => {
            // Elapsed x days of x + y: at least a quarter when y ≤ 3x − 3.
            let x = rng.days(60, 365);
            (-x, rng.days(1, 3 * x - 3))
        }
        Kind::Active => (rng.days(-365, -30), rng.days(30, 720)),
    };
    let (start, due) = (fixture.day(start), fixture.day(due));
    let served = match fixture.indicators.get(area.as_str()) {
        Some(ids) if kind == Kind::Active && rng.below(4) == 0 => {
            rng.pick(ids).copied().into_iter().collect()
        }
        _ => Vec::new(),
    };
    let title = text(
        &format!("Fictional commitment {i}: joint work on {}", area.as_str()),
        &format!(
            "Compromiso ficticio {i}: trabajo conjunto en {}",
            area.as_str()
        ),
    );
    let description = text(
        "A fictional commitment generated by `puente bench`: each party acts within its own \
         territory and its own law, and reports what it did as actions.",
        "Un compromiso ficticio generado por `puente bench`: cada parte actúa dentro de su propio \
         territorio y conforme a su propia ley, e informa lo que hizo como acciones.",
    );
    let body = CommitmentDraft::new(area, title, description, owners, agency, start, due, served)
        .with_context(|| format!("generated commitment {i}"))?;
    let meta = RecordMeta::new(Uuid::now_v7(), origin, at);
    let last_day = due.min(fixture.today);
    let span = (last_day - start).whole_days().max(0);
    let mut actions = Vec::new();
    for k in 0..n_actions {
        let date = start
            .checked_add(Days::days(rng.days(0, span)))
            .unwrap_or(start);
        let value = 1.0 + rng.below(500) as f64;
        let draft = ActionDraft::new(
            meta.id,
            date,
            agency,
            text(
                "Fictional action: inspections and investigations carried out.",
                "Acción ficticia: inspecciones e investigaciones realizadas.",
            ),
            vec![
                Output::new("/outputs/0", value, "cases", "cases opened")
                    .with_context(|| format!("generated output of commitment {i}"))?,
            ],
            vec![format!("BENCH-{i}-{k}")],
            kind == Kind::Done && k + 1 == n_actions,
        )
        .with_context(|| format!("generated action {k} of commitment {i}"))?;
        let who = match owners {
            Owners::Joint(a, b) => {
                if rng.below(2) == 0 {
                    a
                } else {
                    b
                }
            }
            Owners::One(p) => p,
        };
        actions.push((RecordMeta::new(Uuid::now_v7(), who, at), draft));
    }
    Ok(((meta, body), actions))
}

/// What the load produced.
pub(crate) struct Loaded {
    /// Every commitment's id, for requests by id.
    pub(crate) ids: Vec<Uuid>,
    pub(crate) n_actions: u64,
    transactions: u64,
    pub(crate) elapsed: Duration,
    /// The time `Store::after_bulk_load` took.
    housekeeping: Duration,
}

pub(crate) async fn load(
    store: &Arc<dyn Store>,
    fixture: &Fixture,
    args: &BenchApiArgs,
) -> Result<Loaded> {
    let n = usize::try_from(args.commitments).context("--commitments")?;
    let batch = usize::try_from(args.batch).context("--batch")?;
    let mut rng = Rng(0x7075_656e_7465);
    let plan = plan(n, args.actions, &mut rng);
    let mut ids = Vec::with_capacity(n);
    let mut n_actions = 0u64;
    let mut transactions = 0u64;
    let started = Instant::now();
    let mut last_report = started;
    eprintln!(
        "bench: loading {} commitments and {} actions, {} commitments per transaction",
        args.commitments, args.actions, args.batch
    );
    for (b, chunk) in plan.chunks(batch).enumerate() {
        let at = now();
        let mut commitments = Vec::with_capacity(chunk.len());
        let mut actions = Vec::new();
        for (j, (kind, k)) in chunk.iter().enumerate() {
            let i = b * batch + j;
            let (c, acts) = generate(fixture, &mut rng, i, *kind, *k, at)?;
            ids.push(c.0.id);
            commitments.push(c);
            actions.extend(acts);
        }
        let ctx = WriteCtx {
            actor: BENCH_ACTOR.to_owned(),
            ip: None,
            now: at,
        };
        let summary = store
            .import(&ctx, &commitments, &actions)
            .await
            .with_context(|| format!("importing batch {b}"))?;
        n_actions += summary.actions;
        transactions += 1;
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            let rows = ids.len() as f64 + n_actions as f64;
            eprintln!(
                "bench: {} commitments, {n_actions} actions loaded ({:.0} rows/s)",
                ids.len(),
                rows / started.elapsed().as_secs_f64()
            );
        }
    }
    let elapsed = started.elapsed();
    eprintln!("bench: loaded in {:.1}s", elapsed.as_secs_f64());
    Ok(Loaded {
        ids,
        n_actions,
        transactions,
        elapsed,
        housekeeping: Duration::ZERO,
    })
}

// ---------------------------------------------------------------------------------------------
// The load generator

/// One measured scenario.
struct Measured {
    scenario: Scenario,
    requests: usize,
    errors: usize,
    /// Requests completed per second, from the first scheduled send to the last answer.
    achieved: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// How late the generator itself sent requests (p99): timer granularity and CPU shared
    /// with the server. Included in the latencies, shown so it can be told apart.
    lag_p99: Duration,
}

/// Everything a request needs, cheap to clone into each request's task.
#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    base: String,
    token: Arc<str>,
}

/// The statuses found on the node (first page of each), to show the data covers them.
struct Results {
    measured: Vec<Measured>,
    statuses: Vec<(Status, bool)>,
}

async fn drive(
    server: &Server,
    token: &str,
    fixture: &Fixture,
    loaded: &Loaded,
    args: &BenchApiArgs,
    scenarios: &[Scenario],
) -> Result<Results> {
    // No proxy: the bench must talk to its own child on loopback, whatever the environment says.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("building the HTTP client")?;
    let target = Target {
        client,
        base: format!("http://{}/api/v1", server.addr),
        token: Arc::from(token),
    };
    let mut statuses = Vec::new();
    for status in Status::ALL {
        let url = format!("{}/commitments?status={status}&limit=1", target.base);
        let page: serde_json::Value = target
            .client
            .get(&url)
            .bearer_auth(&*target.token)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("GET {url}"))?
            .json()
            .await
            .context("reading a commitment page")?;
        let found = page["items"].as_array().is_some_and(|a| !a.is_empty());
        statuses.push((status, found));
    }

    let mut rng = Rng(0x0062_656e_6368);
    let mut measured = Vec::new();
    for &scenario in scenarios {
        eprintln!(
            "bench: {} — {}s warm-up, then {} requests/s for {}s",
            scenario.name(),
            args.warmup,
            args.rate,
            args.seconds
        );
        if args.warmup > 0 {
            run(
                &target,
                scenario,
                fixture,
                loaded,
                &mut rng,
                args.rate,
                args.warmup,
            )
            .await?;
        }
        measured.push(
            run(
                &target,
                scenario,
                fixture,
                loaded,
                &mut rng,
                args.rate,
                args.seconds,
            )
            .await?,
        );
    }
    Ok(Results { measured, statuses })
}

/// The next request of a scenario.
fn request(
    t: &Target,
    scenario: Scenario,
    fixture: &Fixture,
    loaded: &Loaded,
    rng: &mut Rng,
    i: u64,
) -> Result<reqwest::RequestBuilder> {
    let id = *rng.pick(&loaded.ids).context("a commitment id")?;
    let b = match scenario {
        Scenario::List => {
            let n_areas = fixture.areas.len() as u64;
            let area = fixture
                .areas
                .get(usize::try_from(i % n_areas).unwrap_or(0))
                .context("an area")?;
            let party = if (i / n_areas) % 2 == 0 { "US" } else { "MX" };
            let mut url = format!(
                "{}/commitments?area={}&party={party}&limit=50",
                t.base,
                area.as_str()
            );
            // Two pages in three start at a random depth: a cursor is the id it follows.
            if i % 3 != 0 {
                url.push_str(&format!(
                    "&cursor={}",
                    URL_SAFE_NO_PAD.encode(id.as_bytes())
                ));
            }
            t.client.get(url)
        }
        Scenario::ListStatus => {
            let mut url = format!("{}/commitments?status=at-risk&limit=50", t.base);
            if i % 3 != 0 {
                url.push_str(&format!(
                    "&cursor={}",
                    URL_SAFE_NO_PAD.encode(id.as_bytes())
                ));
            }
            t.client.get(url)
        }
        Scenario::Get => t.client.get(format!("{}/commitments/{id}", t.base)),
        Scenario::ListActions => t.client.get(format!("{}/actions?commitment={id}", t.base)),
        Scenario::Create => {
            let area = rng.pick(&fixture.areas).context("an area")?;
            let start = fixture.day(rng.days(-60, 60));
            let due = start
                .checked_add(Days::days(rng.days(30, 400)))
                .unwrap_or(start);
            let owners = if rng.below(2) == 0 {
                json!(["US"])
            } else {
                json!(["US", "MX"])
            };
            let body = json!({
                "area": area.as_str(),
                "title": {
                    "en": format!("Bench commitment created over the API, #{i}"),
                    "es": format!("Compromiso de prueba creado por la API, #{i}"),
                },
                "description": {
                    "en": "Created by `puente bench api` to measure the latency of a write.",
                    "es": "Creado por `puente bench api` para medir la latencia de una escritura.",
                },
                "owners": owners,
                "agency": rng.pick(US_AGENCIES).context("an agency")?,
                "start": start.to_string(),
                "due": due.to_string(),
            });
            t.client.post(format!("{}/commitments", t.base)).json(&body)
        }
    };
    Ok(b.bearer_auth(&*t.token))
}

/// Offers `rate` requests per second for `seconds` seconds, open loop (see the module doc).
async fn run(
    t: &Target,
    scenario: Scenario,
    fixture: &Fixture,
    loaded: &Loaded,
    rng: &mut Rng,
    rate: u32,
    seconds: u32,
) -> Result<Measured> {
    let n = u64::from(rate) * u64::from(seconds);
    let interval = Duration::from_secs(1) / rate;
    // Every request is built before the clock starts, so building them costs no send time.
    let requests = (0..n)
        .map(|i| request(t, scenario, fixture, loaded, rng, i))
        .collect::<Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Handle::current();
    let start = Instant::now() + Duration::from_millis(20);
    // The pacing runs on a thread of its own with the OS's sleep, which wakes within tens of
    // microseconds of the due time; tokio's timer rounds up to whole milliseconds, which would
    // add up to a millisecond of the generator's own lateness to every latency.
    let tasks = tokio::task::spawn_blocking(move || {
        let mut tasks = Vec::with_capacity(requests.len());
        let mut due = start;
        for req in requests {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            tasks.push(runtime.spawn(send(req, due)));
            due += interval;
        }
        tasks
    })
    .await
    .map_err(|e| anyhow!("the pacing thread failed: {e}"))?;
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut lags = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    let mut last = start;
    for task in tasks {
        let (latency, lag, ok, done) = task
            .await
            .map_err(|e| anyhow!("a request task failed: {e}"))?;

        latencies.push(latency);
        lags.push(lag);
        errors += usize::from(!ok);
        last = last.max(done);
    }
    latencies.sort_unstable();
    lags.sort_unstable();
    let span = last.saturating_duration_since(start).as_secs_f64();
    Ok(Measured {
        scenario,
        requests: latencies.len(),
        errors,
        achieved: if span > 0.0 {
            latencies.len() as f64 / span
        } else {
            0.0
        },
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        max: latencies.last().copied().unwrap_or_default(),
        lag_p99: percentile(&lags, 99.0),
    })
}

/// Sends one request due at `due`: its latency from `due` to the last byte of the answer, how late
/// it was sent, whether it succeeded, and when it finished.
async fn send(req: reqwest::RequestBuilder, due: Instant) -> (Duration, Duration, bool, Instant) {
    let lag = Instant::now().saturating_duration_since(due);
    let ok = match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            // The whole body counts: a page is not served until it has arrived.
            resp.bytes().await.is_ok() && status.is_success()
        }
        Err(_) => false,
    };
    let done = Instant::now();
    (done.saturating_duration_since(due), lag, ok, done)
}

/// The nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// The report

struct Report<'a> {
    backend: &'static str,
    database: String,
    args: &'a BenchApiArgs,
    loaded: &'a Loaded,
    results: &'a Results,
    peak_rss_kib: Option<u64>,
    settled: Option<Duration>,
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn print_report(r: &Report<'_>) {
    let a = r.args;
    let rows = r.loaded.ids.len() as f64 + r.loaded.n_actions as f64;
    let secs = r.loaded.elapsed.as_secs_f64();
    println!(
        "## puente bench api — {} ({}), {} commitments, {} actions\n",
        r.backend,
        r.database,
        r.loaded.ids.len(),
        r.loaded.n_actions
    );
    println!(
        "Load: {rows:.0} records in {secs:.1} s ({:.0} records/s), {} transactions of {} \
         commitments with their actions, through `Store::import`.\n",
        if secs > 0.0 { rows / secs } else { 0.0 },
        r.loaded.transactions,
        a.batch
    );
    let housekeeping = match r.backend {
        "postgres" => "VACUUM (ANALYZE)",
        _ => "nothing to do",
    };
    println!(
        "Then `Store::after_bulk_load` ({housekeeping}): {:.1} s.\n",
        r.loaded.housekeeping.as_secs_f64()
    );
    let statuses: Vec<String> = r
        .results
        .statuses
        .iter()
        .map(|(s, found)| format!("{s} {}", if *found { "yes" } else { "NONE" }))
        .collect();
    println!("Statuses present: {}.\n", statuses.join(", "));
    match r.settled {
        Some(d) => println!(
            "The server started; the machine was quiet (under {:.0}% busy) {:.0} s later.\n",
            QUIET_SHARE * 100.0,
            d.as_secs_f64()
        ),
        None => println!(
            "The server started; the machine was NOT quiet within {} s: other work may have \
             disturbed the measurement.\n",
            SETTLE_MAX.as_secs()
        ),
    }
    println!(
        "Offered load: {} requests/s per scenario for {} s after a {} s warm-up, open loop; \
         latency from each request's scheduled send time to its last body byte.\n",
        a.rate, a.seconds, a.warmup
    );
    println!(
        "| scenario | requests | achieved req/s | p50 ms | p99 ms | max ms | errors | send lag p99 ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for m in &r.results.measured {
        println!(
            "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {:.2} |",
            m.scenario.name(),
            m.requests,
            m.achieved,
            ms(m.p50),
            ms(m.p99),
            ms(m.max),
            m.errors,
            ms(m.lag_p99)
        );
    }
    let rss_mb = r.peak_rss_kib.map(|k| k as f64 / 1024.0);
    match rss_mb {
        Some(mb) => println!("\nServer peak RSS (VmHWM): {mb:.1} MiB\n"),
        None => println!("\nServer peak RSS: not available\n"),
    }
    println!("Goals:");
    for m in &r.results.measured {
        match m.scenario {
            Scenario::List | Scenario::ListStatus => println!(
                "- {}: p99 {:.2} ms < {GOAL_LIST_P99_MS} ms, {} errors — {}",
                m.scenario.name(),
                ms(m.p99),
                m.errors,
                met(ms(m.p99) < GOAL_LIST_P99_MS && m.errors == 0)
            ),
            Scenario::Create => println!(
                "- create: p50 {:.2} ms, p99 {:.2} ms < {GOAL_CREATE_MS} ms, {} errors — {}",
                ms(m.p50),
                ms(m.p99),
                m.errors,
                met(ms(m.p99) < GOAL_CREATE_MS && m.errors == 0)
            ),
            Scenario::Get | Scenario::ListActions => {}
        }
    }
    if let Some(mb) = rss_mb {
        println!(
            "- peak RSS {mb:.1} MiB < {GOAL_RSS_MB} MB — {}",
            met(mb * 1024.0 * 1024.0 < GOAL_RSS_MB * 1_000_000.0)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_gives_exactly_the_actions_asked_for() {
        let mut rng = Rng(1);
        let p = plan(1_000, 10_003, &mut rng);
        assert_eq!(p.iter().map(|x| x.1).sum::<u64>(), 10_003);
        assert!(p.iter().all(|(k, n)| k.has_actions() || *n == 0));
        for kind in [
            Kind::NotStarted,
            Kind::Overdue,
            Kind::Done,
            Kind::Stalled,
            Kind::Active,
        ] {
            assert!(p.iter().any(|x| x.0 == kind), "{kind:?} never drawn");
        }
        let one = plan(1, 5, &mut Rng(3));
        assert_eq!(one[0].1, 5);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
