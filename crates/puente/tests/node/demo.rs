//! `puente demo` as a newcomer runs it: two nodes, US and MX, in one process, a token for every
//! role of each in `demo.json`, fictional referrals and requests in every state in both
//! directions that both nodes agree on, and a clean stop on SIGTERM. SQLite only: the demo needs
//! nothing installed.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::PUENTE;

/// A debug build on a busy machine: two inits, a dozen password hashes and the exchange.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

const REFERRAL_STATES: [&str; 7] = [
    "sent",
    "acknowledged",
    "assigned",
    "closed/acted",
    "closed/no-trace",
    "closed/declined",
    "withdrawn",
];
const REQUEST_STATES: [&str; 3] = ["asked", "answered/found", "answered/not-found"];

async fn get(url: &str, token: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "GET {url}: {status}: {v}");
    v
}

/// An item's state as the demo's script names it: `state` or `state/closure`.
fn ends(item: &Value) -> String {
    let state = item["state"].as_str().unwrap();
    match item["closure"].as_str() {
        Some(c) if c != state => format!("{state}/{c}"),
        _ => state.to_owned(),
    }
}

/// id → (direction, state, agency, acknowledged_at, closed_at) of every item of `kind`
/// (`referrals`, `requests`) the node's liaison officer sees.
async fn items(
    node: &Value,
    kind: &str,
) -> BTreeMap<String, (String, String, Value, Value, Value)> {
    let url = node["url"].as_str().unwrap();
    let token = node["tokens"]["liaison-officer"].as_str().unwrap();
    let page = get(&format!("{url}/api/v1/{kind}?limit=200"), token).await;
    assert!(page["next_cursor"].is_null(), "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                (
                    i["direction"].as_str().unwrap().to_owned(),
                    ends(i),
                    i["agency"].clone(),
                    i["acknowledged_at"].clone(),
                    i["closed_at"].clone(),
                ),
            )
        })
        .collect()
}

fn states<'a>(
    items: &'a BTreeMap<String, (String, String, Value, Value, Value)>,
    direction: &str,
) -> BTreeSet<&'a str> {
    items
        .values()
        .filter(|i| i.0 == direction)
        .map(|i| i.1.as_str())
        .collect()
}

#[tokio::test]
async fn demo_runs_two_peered_nodes_with_every_state_and_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let log_path = tmp.path().join("demo.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(PUENTE)
        .args(["demo", "--dir", &dir.to_string_lossy()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("start puente demo");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let printed = tokio::time::timeout(READY_TIMEOUT, async {
        let mut printed = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("Ctrl-C") {
                return Some(printed);
            }
        }
        None
    })
    .await;
    let Ok(Some(printed)) = printed else {
        child.kill().await.ok();
        panic!(
            "puente demo never said it was ready; log:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    };
    // Keep reading stdout so the demo never writes into a closed pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let demo_json = dir.join("demo.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&demo_json).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "demo.json holds tokens");
    }
    let demo: Value = serde_json::from_str(&std::fs::read_to_string(&demo_json).unwrap()).unwrap();
    let nodes = demo["nodes"].as_object().unwrap();
    assert_eq!(
        nodes.keys().map(String::as_str).collect::<Vec<_>>(),
        ["MX", "US"]
    );
    for party in ["US", "MX"] {
        assert!(dir.join(party).join("puente.toml").exists(), "{party}");
    }
    for (party, node) in nodes {
        let url = node["url"].as_str().unwrap();
        assert!(
            printed.contains(url),
            "the printout names {url}:\n{printed}"
        );
        let federation = node["federation"].as_str().unwrap();
        assert!(federation.starts_with("https://127.0.0.1:"), "{federation}");
        assert!(printed.contains(federation), "{printed}");
        let tokens = node["tokens"].as_object().unwrap();
        let roles: BTreeSet<&str> = tokens.keys().map(String::as_str).collect();
        assert_eq!(
            roles,
            BTreeSet::from([
                "administrator",
                "program-officer",
                "liaison-officer",
                "analyst",
                "agency-user",
                "auditor",
            ]),
            "{party}"
        );
        for (role, token) in tokens {
            let me = get(&format!("{url}/api/v1/me"), token.as_str().unwrap()).await;
            assert_eq!(me["role"], role.as_str(), "{party}: {me}");
            assert_eq!(me["party"], party.as_str(), "{me}");
        }
        // Each node has its party's program data.
        let officer = node["tokens"]["program-officer"].as_str().unwrap();
        let commitments = get(&format!("{url}/api/v1/commitments"), officer).await;
        assert!(
            commitments["items"].as_array().unwrap().len() >= 8,
            "{party}: {commitments}"
        );
    }

    // Both nodes' liaison officers see every state both ways, and agree on each shared item.
    let (us, mx) = (&demo["nodes"]["US"], &demo["nodes"]["MX"]);
    for (kind, want) in [
        ("referrals", &REFERRAL_STATES[..]),
        ("requests", &REQUEST_STATES[..]),
    ] {
        let want: BTreeSet<&str> = want.iter().copied().collect();
        let at_us = items(us, kind).await;
        let at_mx = items(mx, kind).await;
        for (who, view) in [("US", &at_us), ("MX", &at_mx)] {
            for direction in ["outbound", "inbound"] {
                assert_eq!(states(view, direction), want, "{kind} {direction} at {who}");
            }
        }
        assert_eq!(
            at_us.keys().collect::<Vec<_>>(),
            at_mx.keys().collect::<Vec<_>>(),
            "both nodes hold the same {kind}"
        );
        for (id, u) in &at_us {
            let m = &at_mx[id];
            let flipped = if u.0 == "outbound" {
                "inbound"
            } else {
                "outbound"
            };
            assert_eq!(m.0, flipped, "{id}");
            assert_eq!(
                (&u.1, &u.2, &u.3, &u.4),
                (&m.1, &m.2, &m.3, &m.4),
                "{kind} {id} differs between the nodes"
            );
        }
    }

    // Nothing is left to deliver either way (the last receipts may still be on their way).
    for node in [us, mx] {
        let token = node["tokens"]["liaison-officer"].as_str().unwrap();
        let url = format!("{}/api/v1/peers", node["url"].as_str().unwrap());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let peers = get(&url, token).await;
            if peers[0]["backlog"] == 0 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{peers}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // SIGTERM stops both nodes, and the demo exits 0.
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the demo did not stop within 10 s of SIGTERM")
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "log:\n{}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    // A demo directory is kept with --dir, and never reused.
    assert!(demo_json.exists());
    let again = crate::helpers::puente(&["demo", "--dir", &dir.to_string_lossy()], None).await;
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}
