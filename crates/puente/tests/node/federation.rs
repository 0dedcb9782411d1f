//! Two real nodes, US and MX, each its own `puente serve` process with its own directory,
//! database and keys, talking over mutual TLS on loopback: referrals and requests for
//! information go both ways through their whole life cycle, and what each node holds agrees.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestNode, both_backends, fictional_referral, liaison_token};

both_backends!(
    referrals_go_both_ways_through_their_whole_life,
    a_request_for_information_is_answered,
    steps_and_releases_are_refused_with_the_rule_or_reason,
    an_agency_user_works_only_what_its_own_party_assigned_to_it,
);

/// The crossing is decided in the domain, whatever the store; SQLite suffices.
#[tokio::test]
async fn a_withdrawal_that_crosses_the_outcome_leaves_both_nodes_agreeing() {
    let (mut us, mut mx) = TestNode::pair(crate::helpers::Backend::Sqlite).await;
    let (us_t, mx_t) = (liaison_token(&us).await, liaison_token(&mx).await);
    let (_, path) = refer((&us, &us_t), (&mx, &mx_t), "MX", "Rifles heading south").await;
    take(&mx, &mx_t, &path, "acknowledge", json!({})).await;
    eventually(&us, &us_t, &path, "the acknowledgement reaches US", |v| {
        v["state"] == "acknowledged"
    })
    .await;

    // Each side takes its step while the other is down, so neither has seen the other's.
    us.kill().await;
    let v = take(&mx, &mx_t, &path, "outcome",
        json!({"kind": "acted", "results": [{"kind": "seizure", "value": 12, "unit": "rifles", "what": "rifles seized"}]})).await;
    assert_eq!(v["state"], "closed");
    mx.kill().await;
    us.restart().await;
    let v = take(
        &us,
        &us_t,
        &path,
        "withdraw",
        json!({"reason": {"lang": "en", "text": "The information proved wrong"}}),
    )
    .await;
    assert_eq!(v["state"], "withdrawn");
    mx.restart().await;

    // Both steps arrive; the outcome stands on both nodes and the withdrawal is on record.
    let at_us = eventually(&us, &us_t, &path, "the outcome reaches US", |v| {
        v["state"] == "closed"
    })
    .await;
    let at_mx = eventually(&mx, &mx_t, &path, "the withdrawal reaches MX", |v| {
        v["history"].as_array().is_some_and(|h| h.len() == 3)
    })
    .await;
    for field in [
        "state",
        "closure",
        "closed_at",
        "acknowledged_at",
        "withdrawal_crossed",
    ] {
        assert_eq!(
            at_us[field], at_mx[field],
            "{field} differs between the nodes"
        );
    }
    assert_eq!(
        (
            at_us["closure"].as_str(),
            at_us["withdrawal_crossed"].as_bool()
        ),
        (Some("acted"), Some(true))
    );
    let mut us_steps = steps(&at_us);
    let mut mx_steps = steps(&at_mx);
    // Each node records the two crossing steps in the order they reached it.
    assert_eq!(us_steps[1].0, "referral.withdraw", "{at_us}");
    assert_eq!(mx_steps[1].0, "referral.outcome", "{at_mx}");
    us_steps.sort();
    mx_steps.sort();
    assert_eq!(us_steps, mx_steps);
    // Neither direction is left blocked.
    for (node, token) in [(&us, &us_t), (&mx, &mx_t)] {
        let peers = eventually(node, token, "/api/v1/peers", "the outbox drains", |v| {
            v[0]["backlog"] == 0
        })
        .await;
        assert!(peers[0]["last_error"].is_null(), "{peers}");
    }
}

pub(crate) async fn call(
    node: &TestNode,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let url = format!("{}{path}", node.url);
    let client = reqwest::Client::new();
    let req = match method {
        "GET" => client.get(url),
        _ => client.post(url),
    }
    .bearer_auth(token);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, v)
}

/// Waits until `check` holds for the answer to `GET path`, or fails after 30 s.
pub(crate) async fn eventually(
    node: &TestNode,
    token: &str,
    path: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (s, v) = call(node, token, "GET", path, None).await;
        if s == StatusCode::OK && check(&v) {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{what}: never happened; last answer {s}: {v}\nlog:\n{}",
                node.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `from` sends a referral to `to`'s party and it reaches `to`: what `from` answered, and the
/// referral's path (the same on both nodes).
pub(crate) async fn refer(
    (from, from_t): (&TestNode, &str),
    (to, to_t): (&TestNode, &str),
    party: &str,
    summary: &str,
) -> (Value, String) {
    let (s, sent) = call(
        from,
        from_t,
        "POST",
        "/api/v1/referrals",
        Some(referral(party, summary)),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let path = format!("/api/v1/referrals/{}", sent["id"].as_str().unwrap());
    eventually(
        to,
        to_t,
        &path,
        &format!("{summary:?} reaches {party}"),
        |v| v["state"] == "sent",
    )
    .await;
    (sent, path)
}

/// Takes `step` on the item at `path` and expects it accepted; the item as it now stands.
pub(crate) async fn take(
    node: &TestNode,
    token: &str,
    path: &str,
    step: &str,
    body: Value,
) -> Value {
    let (s, v) = call(node, token, "POST", &format!("{path}/{step}"), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{step}: {v}");
    v
}

pub(crate) fn referral(to: &str, summary: &str) -> Value {
    let mut r = fictional_referral(summary);
    r["to"] = json!(to);
    r
}

fn steps(v: &Value) -> Vec<(String, String)> {
    v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_owned(),
                s["by"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn referrals_go_both_ways_through_their_whole_life(backend: crate::helpers::Backend) {
    let (us, mx) = TestNode::pair(backend).await;
    let (us_t, mx_t) = (liaison_token(&us).await, liaison_token(&mx).await);

    // US → MX: sent, acknowledged, assigned, acted on.
    let (s, sent) = call(
        &us,
        &us_t,
        "POST",
        "/api/v1/referrals",
        Some(referral("MX", "Rifles heading south")),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    assert_eq!(
        (sent["state"].as_str(), sent["direction"].as_str()),
        (Some("sent"), Some("outbound"))
    );
    let id = sent["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/referrals/{id}");
    let inbox = eventually(
        &mx,
        &mx_t,
        "/api/v1/referrals?direction=inbound",
        "the referral reaches MX",
        |v| v["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    let got = &inbox["items"][0];
    assert_eq!(
        (
            got["id"].as_str(),
            got["from"].as_str(),
            got["state"].as_str()
        ),
        (Some(id.as_str()), Some("US"), Some("sent"))
    );
    assert_eq!(
        got["content"], sent["content"],
        "both nodes hold the same signed content"
    );
    // Clocks run from the sending: a flash referral has 15 minutes to be acknowledged.
    assert_eq!(got["clocks"]["acknowledge"]["state"], "running", "{got}");
    assert!(got["clocks"]["acknowledge"]["seconds"].as_i64().unwrap() <= 15 * 60);

    for (step, body) in [
        ("acknowledge", json!({})),
        ("assign", json!({"agency": "SSPC"})),
        (
            "outcome",
            json!({"kind": "acted", "results": [{"kind": "seizure", "value": 12, "unit": "rifles", "what": "rifles seized"}]}),
        ),
    ] {
        take(&mx, &mx_t, &path, step, body).await;
    }
    let closed = eventually(&us, &us_t, &path, "the outcome reaches US", |v| {
        v["state"] == "closed"
    })
    .await;
    assert_eq!(closed["closure"], "acted");
    assert_eq!(closed["agency"], "SSPC");
    assert_eq!(
        steps(&closed),
        [
            ("referral.acknowledge".to_owned(), "MX".to_owned()),
            ("referral.assign".to_owned(), "MX".to_owned()),
            ("referral.outcome".to_owned(), "MX".to_owned()),
        ]
    );
    let (_, at_mx) = call(&mx, &mx_t, "GET", &path, None).await;
    for field in [
        "state",
        "closure",
        "agency",
        "sent_at",
        "acknowledged_at",
        "closed_at",
        "content",
        "history",
    ] {
        assert_eq!(
            at_mx[field], closed[field],
            "{field} differs between the nodes"
        );
    }

    // MX → US: acknowledged, then declined with a reason.
    let (_, back_path) = refer(
        (&mx, &mx_t),
        (&us, &us_t),
        "US",
        "Drug shipment heading north",
    )
    .await;
    take(&us, &us_t, &back_path, "acknowledge", json!({})).await;
    take(
        &us,
        &us_t,
        &back_path,
        "outcome",
        json!({"kind": "declined", "reason": {"lang": "en", "text": "Outside our jurisdiction"}}),
    )
    .await;
    eventually(&mx, &mx_t, &back_path, "the decline reaches MX", |v| {
        v["closure"] == "declined"
    })
    .await;

    // Both sides agree on the figures, each from its own point of view.
    let figures = eventually(
        &us,
        &us_t,
        "/api/v1/reciprocity?peer=MX",
        "reciprocity",
        |_| true,
    )
    .await;
    let r = &figures["referrals"];
    assert_eq!(
        (
            r["outbound"]["items"].as_u64(),
            r["outbound"]["outcomes"]["acted"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            r["inbound"]["items"].as_u64(),
            r["inbound"]["outcomes"]["declined"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(r["inbound"]["acknowledged"].as_u64(), Some(1));
    let (_, mx_figures) = call(&mx, &mx_t, "GET", "/api/v1/reciprocity?peer=US", None).await;
    assert_eq!(
        mx_figures["referrals"]["outbound"]["items"],
        r["inbound"]["items"]
    );
    assert_eq!(
        mx_figures["referrals"]["inbound"]["outcomes"],
        r["outbound"]["outcomes"]
    );

    // Nothing is left to deliver, and each side saw the other.
    let peers = eventually(&us, &us_t, "/api/v1/peers", "the outbox drains", |v| {
        v[0]["backlog"] == 0
    })
    .await;
    assert_eq!(peers[0]["party"], "MX");
    assert!(peers[0]["last_contact_at"].is_string(), "{peers}");

    // Every read and write of exchange data is in each node's audit trail, and it verifies.
    for node in [&us, &mx] {
        let (code, out) = node.audit_verify().await;
        assert_eq!(code, 0, "{out}");
    }
}

async fn a_request_for_information_is_answered(backend: crate::helpers::Backend) {
    let (us, mx) = TestNode::pair(backend).await;
    let (us_t, mx_t) = (liaison_token(&us).await, liaison_token(&mx).await);
    let ask = json!({
        "to": "US",
        "kind": "firearm-trace",
        "urgency": "priority",
        "lang": "es",
        "question": "¿Origen de esta arma asegurada en Sonora?",
        "subject": {"type": "firearm", "serial": "FX-0001"},
        "handling": {"tlp": "amber", "may_pass_on": false, "evidence_use": false,
                     "purpose": "Trace", "legal_basis": "Art. 4", "retention_days": 30}
    });
    let (s, asked) = call(&mx, &mx_t, "POST", "/api/v1/requests", Some(ask)).await;
    assert_eq!(s, StatusCode::CREATED, "{asked}");
    let path = format!("/api/v1/requests/{}", asked["id"].as_str().unwrap());
    eventually(&us, &us_t, &path, "the request reaches US", |v| {
        v["state"] == "asked"
    })
    .await;
    let answer = json!({"kind": "found", "text": {"lang": "en", "text": "Sold in Phoenix, AZ, in 2024."}, "entities": []});
    let (s, v) = call(&us, &us_t, "POST", &format!("{path}/answer"), Some(answer)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let answered = eventually(&mx, &mx_t, &path, "the answer reaches MX", |v| {
        v["state"] == "answered"
    })
    .await;
    assert_eq!(answered["closure"], "found");
    assert_eq!(
        answered["history"][0]["body"]["answer"]["text"]["text"],
        "Sold in Phoenix, AZ, in 2024."
    );
}

async fn steps_and_releases_are_refused_with_the_rule_or_reason(backend: crate::helpers::Backend) {
    let (us, mx) = TestNode::pair(backend).await;
    let (us_t, mx_t) = (liaison_token(&us).await, liaison_token(&mx).await);

    // TLP:CLEAR may be published, so a referral naming a person may not be released under it.
    let mut clear = referral("MX", "Wanted person located");
    clear["handling"]["tlp"] = json!("clear");
    clear["entities"] = json!([{"type": "person", "name": "Juan Pérez (fictional)"}]);
    let (s, p) = call(&us, &us_t, "POST", "/api/v1/referrals", Some(clear)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("no-personal-data-under-tlp-clear"),
        "{p}"
    );

    // A party does not acknowledge its own referral; the recipient does not do it twice.
    let (_, sent) = call(
        &us,
        &us_t,
        "POST",
        "/api/v1/referrals",
        Some(referral("MX", "Tunnel found")),
    )
    .await;
    let path = format!("/api/v1/referrals/{}", sent["id"].as_str().unwrap());
    let (s, p) = call(
        &us,
        &us_t,
        "POST",
        &format!("{path}/acknowledge"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("step-refused")),
        "{p}"
    );
    eventually(&mx, &mx_t, &path, "the referral reaches MX", |v| {
        v["state"] == "sent"
    })
    .await;
    let (s, _) = call(
        &mx,
        &mx_t,
        "POST",
        &format!("{path}/acknowledge"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, p) = call(
        &mx,
        &mx_t,
        "POST",
        &format!("{path}/acknowledge"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("step-refused")),
        "{p}"
    );
    // An outcome without results is named field by field, in Spanish when asked.
    let resp = reqwest::Client::new()
        .post(format!("{}{path}/outcome", mx.url))
        .bearer_auth(&mx_t)
        .header("accept-language", "es")
        .json(&json!({"kind": "acted", "results": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["errors"][0]["pointer"], "/results", "{p}");

    // A referral to a party that is not a peer names the field.
    let (s, p) = call(
        &us,
        &us_t,
        "POST",
        "/api/v1/referrals",
        Some(referral("CA", "x")),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(
        (
            p["errors"][0]["pointer"].as_str(),
            p["errors"][0]["code"].as_str()
        ),
        (Some("/to"), Some("unknown-peer"))
    );

    // Analysts read the exchange but do not send; administrators do not read intelligence.
    us.add_user("ana", "analyst").await;
    let ana = us.token("ana").await;
    let (s, _) = call(&us, &ana, "GET", "/api/v1/referrals", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &us,
        &ana,
        "POST",
        "/api/v1/referrals",
        Some(referral("MX", "x")),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let admin = us.token("admin").await;
    let (s, _) = call(&us, &admin, "GET", "/api/v1/referrals", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(&us, &admin, "GET", "/api/v1/peers", None).await;
    assert_eq!(s, StatusCode::OK);
}

async fn an_agency_user_works_only_what_its_own_party_assigned_to_it(
    backend: crate::helpers::Backend,
) {
    let (us, mx) = TestNode::pair(backend).await;
    let (us_t, mx_t) = (liaison_token(&us).await, liaison_token(&mx).await);
    // Both nodes have an agency user of an agency named "CBP" (see `TestNode::add_user`).
    mx.add_user("field", "agency-user").await;
    let mx_field = mx.token("field").await;
    us.add_user("field", "agency-user").await;
    let us_field = us.token("field").await;

    let (_, path) = refer((&us, &us_t), (&mx, &mx_t), "MX", "Assigned").await;
    let listed = |v: &Value| v["items"].as_array().map_or(0, Vec::len);
    let (s, v) = call(&mx, &mx_field, "GET", "/api/v1/referrals", None).await;
    assert_eq!(
        (s, listed(&v)),
        (StatusCode::OK, 0),
        "not assigned yet: {v}"
    );
    let (s, _) = call(
        &mx,
        &mx_field,
        "POST",
        &format!("{path}/acknowledge"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (step, body) in [
        ("acknowledge", json!({})),
        ("assign", json!({"agency": "CBP"})),
    ] {
        take(&mx, &mx_t, &path, step, body).await;
    }
    // Assigned to its agency: the agency user sees it and reports the outcome.
    let (_, v) = call(&mx, &mx_field, "GET", "/api/v1/referrals", None).await;
    assert_eq!(listed(&v), 1, "{v}");
    let outcome = json!({"kind": "no-trace"});
    let (s, v) = call(
        &mx,
        &mx_field,
        "POST",
        &format!("{path}/outcome"),
        Some(outcome),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let closed = eventually(&us, &us_t, &path, "the outcome reaches US", |v| {
        v["state"] == "closed"
    })
    .await;
    assert_eq!(closed["agency"], "CBP");
    // At US the agency was named by MX: US's own "CBP" users get nothing from it.
    let (s, v) = call(&us, &us_field, "GET", "/api/v1/referrals", None).await;
    assert_eq!((s, listed(&v)), (StatusCode::OK, 0), "{v}");
    let (s, _) = call(&us, &us_field, "GET", &path, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
