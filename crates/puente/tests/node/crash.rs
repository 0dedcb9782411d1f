//! A node killed with SIGKILL in the middle of a stream of concurrent writes restarts with every
//! acknowledged write present, whole, and no partial one: on both stores.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestNode, both_backends};

const WRITERS: usize = 6;

async fn killed_mid_stream_loses_nothing(backend: Backend) {
    let mut node = TestNode::spawn(backend).await;
    node.add_user("officer", "program-officer").await;
    let token = node.token("officer").await;
    let url = node.url.clone();
    // Ids the node acknowledged (201), with the title it acknowledged.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut writers = vec![];
    for w in 0..WRITERS {
        let (url, token, acked) = (url.clone(), token.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for n in 0u64.. {
                let title = format!("Commitment {w}-{n}");
                let body = json!({
                    "area": "fuel-theft",
                    "title": {"en": title, "es": format!("Compromiso {w}-{n}")},
                    "description": {"en": "Crash test", "es": "Prueba de caída"},
                    "owners": ["US"], "agency": "DHS",
                    "start": "2025-09-03", "due": "2026-09-03",
                });
                let resp = client
                    .post(format!("{url}/api/v1/commitments"))
                    .bearer_auth(&token)
                    .json(&body)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        // The body may be cut off by the kill: then the write is not known acked.
                        let Ok(v) = r.json::<Value>().await else {
                            return None;
                        };
                        let id = v["id"].as_str().unwrap_or_default().to_owned();
                        acked.lock().unwrap().push((id, title));
                    }
                    // Any other answer is a defect, not the crash.
                    Ok(r) => return Some(r.status()),
                    // The node died under us: stop this writer.
                    Err(_) => return None,
                }
            }
            None
        }));
    }
    // Let the stream run, then kill the node without warning.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 200 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.kill().await;
    for w in writers {
        assert_eq!(
            w.await.unwrap(),
            None,
            "a writer got an error answer before the kill"
        );
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 200,
        "the stream ran ({} writes acknowledged)",
        acked.len()
    );

    node.restart().await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            client
                .get(path)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    // Every acknowledged write is there, whole.
    let mut stored = vec![];
    let mut cursor = String::new();
    loop {
        let page = get(format!("{}/api/v1/commitments?limit=200{cursor}", node.url)).await;
        stored.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    for (id, title) in &acked {
        let c = stored.iter().find(|c| c["id"] == id.as_str());
        let c = c.unwrap_or_else(|| panic!("acknowledged commitment {id} lost"));
        assert_eq!(c["title"]["en"], title.as_str());
        assert_eq!(c["description"]["es"], "Prueba de caída");
    }
    // At most the writes in flight at the kill went through unacknowledged, and each stored
    // commitment has exactly one audit entry: nothing partial, nothing doubled.
    assert!(
        stored.len() <= acked.len() + WRITERS,
        "{} stored, {} acked",
        stored.len(),
        acked.len()
    );
    let admin = node.token("admin").await;
    let mut entries = vec![];
    let mut after = String::new();
    loop {
        let page = client
            .get(format!("{}/api/v1/audit?limit=1000{after}", node.url))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        entries.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_after"].as_i64() {
            Some(a) => after = format!("&after={a}"),
            None => break,
        }
    }
    for c in &stored {
        let n = entries
            .iter()
            .filter(|e| e["action"] == "commitment.create" && e["target"] == c["id"])
            .count();
        assert_eq!(n, 1, "audit entries for {}", c["id"]);
    }
    let (code, out) = node.audit_verify().await;
    assert_eq!(code, 0, "{out}");
}

both_backends!(killed_mid_stream_loses_nothing);
