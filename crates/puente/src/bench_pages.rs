//! `puente bench pages`: how fast one node serves its web application's pages, and how heavy
//! each page is, with the API benchmark's data loaded.
//!
//! The node is prepared as `bench api` prepares it (the same fictional commitments and actions,
//! bulk-loaded through `Store::import`), served by the real binary as a child process, and each
//! page is fetched one request at a time over loopback by a signed-in user of the role that
//! uses it. The latency measured is the whole request over loopback, so it bounds the server's
//! time from above. The weight is the page's HTML plus the assets it loads (stylesheet and
//! htmx), uncompressed, as a first visit fetches them.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use puente_domain::{PartyCode, Role};
use serde_json::{Value, json};

use crate::bench::{BenchDir, Fixture, Server, load, ms, percentile, settle};
use crate::cli::{BenchApiArgs, BenchPagesArgs};
use crate::init::init_node;
use crate::user::create_user;

/// Goals (see `BENCHMARKS.md`).
const GOAL_P99_MS: f64 = 20.0;
const GOAL_WEIGHT_KB: f64 = 150.0;
const WARMUP: u32 = 10;

/// A signed-in browser, reduced to its session cookie.
struct Session {
    base: String,
    cookie: String,
    http: reqwest::Client,
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

impl Session {
    async fn sign_in(base: &str, name: &str, password: &str) -> Result<Session> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let page = http.get(format!("{base}/login")).send().await?;
        let login_cookie =
            set_cookie(&page, "puente_login_csrf").ok_or_else(|| anyhow!("no login cookie"))?;
        let html = page.text().await?;
        let marker = r#"name="csrf" value=""#;
        let at = html
            .find(marker)
            .ok_or_else(|| anyhow!("no CSRF field on the login page"))?;
        let rest = &html[at + marker.len()..];
        let csrf = &rest[..rest.find('"').unwrap_or(0)];
        let r = http
            .post(format!("{base}/login"))
            .header(reqwest::header::COOKIE, login_cookie)
            .form(&[("csrf", csrf), ("name", name), ("password", password)])
            .send()
            .await?;
        let cookie = set_cookie(&r, "puente_session")
            .ok_or_else(|| anyhow!("{name} could not sign in: {}", r.status()))?;
        Ok(Session {
            base: base.to_owned(),
            cookie,
            http,
        })
    }

    async fn get(&self, path: &str) -> Result<(reqwest::StatusCode, Vec<u8>)> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await?;
        let status = r.status();
        Ok((status, r.bytes().await?.to_vec()))
    }

    async fn post_json(&self, path: &str, body: Value) -> Result<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .json(&body)
            .send()
            .await?;
        ensure!(r.status().is_success(), "POST {path}: {}", r.status());
        Ok(r.json().await?)
    }
}

struct Row {
    page: String,
    who: &'static str,
    p50: Duration,
    p99: Duration,
    max: Duration,
    html: usize,
}

pub async fn pages(args: BenchPagesArgs) -> Result<()> {
    ensure!(args.requests >= 1, "--requests must be at least 1");
    let dir = BenchDir::new(args.dir.clone())?;
    let party = PartyCode::US;
    eprintln!("bench: initialising a node in {}", dir.path.display());
    let init = init_node(&dir.path, party, args.database.as_deref()).await?;
    let backend = init.store.backend();
    let mut passwords = Vec::new();
    for (name, role, agency) in [
        ("officer", Role::ProgramOfficer, None),
        ("liaison", Role::LiaisonOfficer, None),
        ("agency", Role::AgencyUser, Some("CBP")),
        ("auditor", Role::Auditor, None),
    ] {
        let password = puente_web::password::generate();
        create_user(&init.store, party, name, role, agency, &password).await?;
        passwords.push((name, password));
    }
    let api_args = BenchApiArgs {
        commitments: args.commitments,
        actions: args.actions,
        rate: 1,
        seconds: 1,
        warmup: 0,
        batch: args.batch,
        only: vec![],
        database: args.database.clone(),
        dir: None,
    };
    let fixture = Fixture::new(&init.store).await?;
    let loaded = load(&init.store, &fixture, &api_args).await?;
    init.store
        .after_bulk_load()
        .await
        .context("housekeeping after the load")?;
    drop(init);

    let mut server = Server::start(&dir.path)?;
    settle().await;
    let base = format!("http://{}", server.addr);
    let result = measure(&base, &passwords, &loaded.ids, args.requests).await;
    server.stop();
    let (rows, assets) = result?;

    println!(
        "## puente bench pages — {} commitments, {} actions, {backend}\n",
        loaded.ids.len(),
        loaded.n_actions
    );
    println!(
        "{} requests per page, one at a time, after {WARMUP} unmeasured; latency over loopback \
         (an upper bound of the server's time). Weight: the HTML plus the assets a first visit \
         loads ({:.1} KB: stylesheet and htmx), uncompressed.\n",
        args.requests,
        assets as f64 / 1024.0
    );
    println!(
        "| page | as | p50 ms | p99 ms | max ms | HTML KB | with assets KB | p99 < {GOAL_P99_MS} ms | weight < {GOAL_WEIGHT_KB} KB |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---|---|");
    for r in &rows {
        let total = (r.html + assets) as f64 / 1024.0;
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {} | {} |",
            r.page,
            r.who,
            ms(r.p50),
            ms(r.p99),
            ms(r.max),
            r.html as f64 / 1024.0,
            total,
            if ms(r.p99) < GOAL_P99_MS {
                "yes"
            } else {
                "**no**"
            },
            if total < GOAL_WEIGHT_KB {
                "yes"
            } else {
                "**no**"
            },
        );
    }
    Ok(())
}

async fn measure(
    base: &str,
    passwords: &[(&'static str, String)],
    ids: &[uuid::Uuid],
    requests: u32,
) -> Result<(Vec<Row>, usize)> {
    let password = |name: &str| {
        passwords
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    };
    let officer = Session::sign_in(base, "officer", &password("officer")).await?;
    let today = time::OffsetDateTime::now_utc().date();
    let meeting = officer
        .post_json(
            "/api/v1/meetings",
            json!({"date": (today + time::Duration::days(7)).to_string(), "place": "Ciudad de México"}),
        )
        .await?;
    let meeting = meeting["id"].as_str().unwrap_or_default().to_owned();
    let (_, indicators) = officer.get("/api/v1/indicators?limit=1").await?;
    let indicators: Value = serde_json::from_slice(&indicators)?;
    let indicator = indicators["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let commitment = ids
        .get(ids.len() / 2)
        .map(ToString::to_string)
        .unwrap_or_default();

    let mut assets = 0;
    for a in ["/assets/puente-1.css", "/assets/htmx-2.0.11.min.js"] {
        assets += officer.get(a).await?.1.len();
    }

    let plan: Vec<(&'static str, String)> = vec![
        ("officer", "/home".into()),
        ("officer", "/commitments".into()),
        (
            "officer",
            "/commitments?area=border-security&status=at-risk".into(),
        ),
        ("officer", format!("/commitments/{commitment}")),
        ("officer", format!("/indicators/{indicator}")),
        ("officer", "/meetings".into()),
        ("officer", format!("/meetings/{meeting}")),
        ("officer", "/report".into()),
        ("officer", "/reciprocity".into()),
        ("liaison", "/home".into()),
        ("liaison", "/referrals".into()),
        ("liaison", "/referrals/new".into()),
        ("agency", "/home".into()),
        ("auditor", "/home".into()),
        ("auditor", "/audit".into()),
        ("auditor", "/exchange-log".into()),
    ];
    let mut sessions: Vec<(&str, Session)> = vec![("officer", officer)];
    let mut rows = Vec::new();
    for (who, path) in plan {
        if !sessions.iter().any(|(n, _)| *n == who) {
            sessions.push((who, Session::sign_in(base, who, &password(who)).await?));
        }
        let s = sessions
            .iter()
            .find(|(n, _)| *n == who)
            .map(|(_, s)| s)
            .ok_or_else(|| anyhow!("no session for {who}"))?;
        eprintln!("bench: {path} as {who}");
        let mut html = 0;
        for _ in 0..WARMUP {
            let (status, body) = s.get(&path).await?;
            ensure!(status.is_success(), "{path} as {who}: {status}");
            html = body.len();
        }
        let mut times = Vec::with_capacity(requests as usize);
        let deadline = Instant::now() + Duration::from_secs(120);
        for _ in 0..requests {
            let started = Instant::now();
            let (status, _) = s.get(&path).await?;
            times.push(started.elapsed());
            ensure!(status.is_success(), "{path} as {who}: {status}");
            if Instant::now() > deadline {
                break;
            }
        }
        times.sort();
        rows.push(Row {
            page: path
                .replace(&commitment, "{id}")
                .replace(&indicator, "{id}")
                .replace(&meeting, "{id}"),
            who,
            p50: percentile(&times, 50.0),
            p99: percentile(&times, 99.0),
            max: times.last().copied().unwrap_or_default(),
            html,
        });
    }
    Ok((rows, assets))
}
