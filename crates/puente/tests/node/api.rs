//! The JSON API of one node, driven over HTTP against the real binary on both stores:
//! the 401/403 matrix, every validation rule in both languages, versions, ownership, joint
//! commitments, derived status, agenda building, login and its rate limit, and the OpenAPI
//! document.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::helpers::{Backend, TestNode, both_backends};

const ROLES: [&str; 6] = [
    "administrator",
    "program-officer",
    "liaison-officer",
    "analyst",
    "agency-user",
    "auditor",
];

/// A token-holding client of a node.
struct Api<'a> {
    node: &'a TestNode,
    token: Option<String>,
    lang: Option<&'static str>,
}

impl<'a> Api<'a> {
    fn new(node: &'a TestNode, token: &str) -> Self {
        Self {
            node,
            token: Some(token.to_owned()),
            lang: None,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{}{path}", self.node.url));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(l) = self.lang {
            req = req.header("accept-language", l);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
}

fn day(offset: i64) -> String {
    (OffsetDateTime::now_utc().date() + Duration::days(offset)).to_string()
}

fn commitment(owners: &[&str], start: i64, due: i64) -> Value {
    json!({
        "area": "border-security",
        "title": {"en": "Seal clandestine tunnels", "es": "Sellar túneles clandestinos"},
        "description": {"en": "Detect and seal cross-border tunnels.", "es": "Detectar y sellar túneles transfronterizos."},
        "owners": owners,
        "agency": "CBP",
        "start": day(start),
        "due": day(due),
    })
}

fn action(commitment: &str, completes: bool) -> Value {
    json!({
        "commitment": commitment,
        "date": day(0),
        "agency": "CBP",
        "description": {"en": "Tunnel sealed near Nogales", "es": "Túnel sellado cerca de Nogales"},
        "outputs": [{"value": 1, "unit": "tunnel", "what": "tunnels sealed"}],
        "evidence": ["case 2025-0042"],
        "completes": completes,
    })
}

/// Tokens for a user of every role, in the order of `ROLES`.
async fn role_tokens(node: &TestNode) -> Vec<String> {
    let mut tokens = vec![node.token("admin").await];
    for (i, role) in ROLES.iter().enumerate().skip(1) {
        node.add_user(&format!("user{i}"), role).await;
        tokens.push(node.token(&format!("user{i}")).await);
    }
    tokens
}

async fn auth_matrix(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    let tokens = role_tokens(&node).await;
    let officer = Api::new(&node, &tokens[1]);
    // A commitment of another agency (agency users see only their own), and a meeting.
    let mut other = commitment(&["US"], -10, 100);
    other["agency"] = json!("DEA");
    let (s, c) = officer.post("/api/v1/commitments", other).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_str().unwrap().to_owned();
    let (s, m) = officer
        .post(
            "/api/v1/meetings",
            json!({"date": day(0), "place": "Mexico City"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let mid = m["id"].as_str().unwrap().to_owned();

    // Expected status per role, in the order of ROLES: the specification of the default policy.
    type Row = (&'static str, String, fn(usize) -> Option<Value>, [u16; 6]);
    let rows: Vec<Row> = vec![
        (
            "GET",
            "/api/v1/me".into(),
            |_| None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/program".into(),
            |_| None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/commitments".into(),
            |_| None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            format!("/api/v1/commitments/{cid}"),
            |_| None,
            [200, 200, 200, 200, 403, 200],
        ),
        (
            "POST",
            "/api/v1/commitments".into(),
            |_| Some(commitment(&["US"], 0, 10)),
            [403, 201, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/actions".into(),
            |_| None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/indicators".into(),
            |_| None,
            [200, 200, 200, 200, 403, 200],
        ),
        (
            "POST",
            "/api/v1/indicators".into(),
            |i| {
                Some(json!({
                    "code": format!("TEST-{i}"), "name": {"en": "Test", "es": "Prueba"}, "unit": "count",
                    "direction": "higher-is-better", "baseline": {"value": 0, "period": "2024"},
                }))
            },
            [403, 201, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/meetings".into(),
            |_| None,
            [200, 200, 200, 200, 403, 200],
        ),
        (
            "GET",
            format!("/api/v1/meetings/{mid}/agenda"),
            |_| None,
            [200, 200, 200, 200, 403, 200],
        ),
        (
            "POST",
            "/api/v1/meetings".into(),
            |_| Some(json!({"date": day(1), "place": "Washington"})),
            [403, 201, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/audit".into(),
            |_| None,
            [200, 403, 403, 403, 403, 200],
        ),
        (
            "GET",
            "/api/v1/users".into(),
            |_| None,
            [200, 403, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/users".into(),
            |i| Some(json!({"name": format!("new{i}"), "role": "analyst"})),
            [201, 403, 403, 403, 403, 403],
        ),
    ];
    for (method, path, body, expected) in &rows {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        // No credentials, and a wrong token: 401 everywhere.
        for token in [None, Some("pnt_not-a-real-token".to_owned())] {
            let api = Api {
                node: &node,
                token,
                lang: None,
            };
            let (s, p) = api.call(method.clone(), path, body(0)).await;
            assert_eq!(
                s,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without valid credentials: {p}"
            );
            assert_eq!(p["code"], "unauthenticated");
        }
        for (i, role) in ROLES.iter().enumerate() {
            let api = Api::new(&node, &tokens[i]);
            let (s, p) = api.call(method.clone(), path, body(i)).await;
            assert_eq!(s.as_u16(), expected[i], "{role}: {method} {path}: {p}");
            if s == StatusCode::FORBIDDEN {
                assert_eq!(p["code"], "forbidden");
                assert!(
                    p["detail"].as_str().unwrap().contains("default-deny"),
                    "{p}"
                );
            }
        }
    }
    // Denied writes are in the audit trail.
    let (_, audit) = Api::new(&node, &tokens[0])
        .get("/api/v1/audit?limit=1000")
        .await;
    let denied = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "commitment.create.denied")
        .count();
    assert_eq!(denied, 5);
}

/// Posts `body` and returns the (pointer, code) pairs of the problem, checking its shape.
async fn problems(api: &Api<'_>, body: Value) -> Vec<(String, String)> {
    let (s, p) = api.post("/api/v1/commitments", body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["status"], 422);
    assert_eq!(p["code"], "validation");
    assert_eq!(p["type"], "/problems/validation");
    assert!(p["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["detail"].as_str().is_some_and(|d| !d.is_empty()));
            (
                e["pointer"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn validation_rules(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    node.add_user("officer", "program-officer").await;
    let token = node.token("officer").await;
    let api = Api::new(&node, &token);
    let (_, before) = Api::new(&node, &node.token("admin").await)
        .get("/api/v1/audit?limit=1000")
        .await;
    let n_audit = before["items"].as_array().unwrap().len();

    let good = commitment(&["US"], 0, 30);
    let case = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (
            case(&|b| b["start"] = json!(3)),
            vec![("/start", "wrong-type")],
        ),
        (
            case(&|b| {
                b.as_object_mut().unwrap().remove("agency");
            }),
            vec![("/agency", "missing")],
        ),
        (
            case(&|b| b["area"] = json!("piracy")),
            vec![("/area", "unknown-area")],
        ),
        (
            case(&|b| b["owners"] = json!(["XX"])),
            vec![("/owners/0", "unknown-party")],
        ),
        (
            case(&|b| {
                b["start"] = json!(day(10));
                b["due"] = json!(day(5));
            }),
            vec![("/due", "due-before-start")],
        ),
        (
            case(&|b| b["title"] = json!({"en": "Only English"})),
            vec![("/title/es", "missing-language")],
        ),
        (
            case(&|b| b["title"]["fr"] = json!("Tunnels")),
            vec![("/title/fr", "unknown-language")],
        ),
        (
            case(&|b| b["title"]["en"] = json!("x".repeat(201))),
            vec![("/title/en", "too-long")],
        ),
        (
            case(&|b| b["colour"] = json!("red")),
            vec![("/colour", "unknown-field")],
        ),
        (
            case(&|b| b["start"] = json!("03/09/2025")),
            vec![("/start", "invalid-format")],
        ),
        // Everything at once: every field is named, not just the first.
        (
            case(&|b| {
                b["start"] = json!(3);
                b["area"] = json!("piracy");
                b["title"] = json!({"en": "x"});
                b["colour"] = json!(1);
            }),
            vec![
                ("/area", "unknown-area"),
                ("/title/es", "missing-language"),
                ("/start", "wrong-type"),
                ("/colour", "unknown-field"),
            ],
        ),
    ];
    for (body, expected) in cases {
        let mut got = problems(&api, body.clone()).await;
        let mut want: Vec<(String, String)> = expected
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "body {body}");
    }

    // The same problem in Spanish for es and es-MX, in English otherwise.
    let body = case(&|b| b["title"] = json!({"en": "Only English"}));
    for (lang, title, detail) in [
        ("es", "Datos no válidos", "Falta el texto en español."),
        (
            "es-MX,es;q=0.9",
            "Datos no válidos",
            "Falta el texto en español.",
        ),
        ("en-US", "Invalid input", "The Spanish text is missing."),
        ("fr", "Invalid input", "The Spanish text is missing."),
    ] {
        let api = Api {
            node: &node,
            token: Some(token.clone()),
            lang: Some(lang),
        };
        let (_, p) = api.post("/api/v1/commitments", body.clone()).await;
        assert_eq!(p["title"], title, "{lang}");
        assert_eq!(p["errors"][0]["detail"], detail, "{lang}");
    }

    // Bodies that are not JSON objects.
    let raw = |ct: &'static str, body: &'static str| {
        let (url, token) = (format!("{}/api/v1/commitments", node.url), token.clone());
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            let s = r.status();
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            let p: Value = r.json().await.unwrap();
            (s, ct, p["code"].as_str().unwrap().to_owned())
        }
    };
    assert_eq!(
        raw("application/json", "{\"area\": ").await,
        (
            StatusCode::BAD_REQUEST,
            "application/problem+json".into(),
            "malformed-json".into()
        )
    );
    assert_eq!(
        raw("text/plain", "{}").await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        problems(&api, json!([1, 2])).await,
        vec![("/".to_owned(), "wrong-type".to_owned())]
    );

    // A body over the node's limit (1 MiB by default) is refused whole.
    let mut huge = good.clone();
    huge["description"]["en"] = json!("x".repeat(1_100_000));
    let (s, p) = api.post("/api/v1/commitments", huge).await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload-too-large"))
    );

    // Bad query parameters name the parameter.
    let (s, p) = api
        .get("/api/v1/commitments?status=late&limit=0&colour=red")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let mut names: Vec<_> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["/colour", "/limit", "/status"]);
    // Newest first is one page: an unknown order and a cursor with it are named.
    for (query, bad) in [
        ("order=newest", "/order"),
        ("order=latest&cursor=AAAAAAAAAAAAAAAAAAAAAA", "/cursor"),
    ] {
        let (s, p) = api.get(&format!("/api/v1/actions?{query}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {p}");
        assert_eq!(p["errors"][0]["pointer"], bad, "{query}: {p}");
    }
    let (s, p) = api.get("/api/v1/actions?order=latest&limit=5").await;
    assert_eq!(
        (s, &p["next_cursor"]),
        (StatusCode::OK, &json!(null)),
        "{p}"
    );

    // Nothing half-written stayed behind.
    let (_, list) = api.get("/api/v1/commitments").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let (_, after) = Api::new(&node, &node.token("admin").await)
        .get("/api/v1/audit?limit=1000")
        .await;
    let writes = after["items"].as_array().unwrap()[n_audit..]
        .iter()
        .filter(|e| e["action"] != "token.create")
        .count();
    assert_eq!(writes, 0, "{after}");
}

async fn versions_ownership_and_joint(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    node.add_user("officer", "program-officer").await;
    let api = Api::new(&node, &node.token("officer").await);

    let (s, c) = api
        .post("/api/v1/commitments", commitment(&["US"], 0, 30))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(
        (c["version"].as_i64(), c["origin"].as_str()),
        (Some(1), Some("US"))
    );
    let path = format!("/api/v1/commitments/{}", c["id"].as_str().unwrap());
    let mut changed = commitment(&["US"], 0, 60);
    changed["version"] = json!(1);
    let (s, c2) = api.put(&path, changed.clone()).await;
    assert_eq!(s, StatusCode::OK, "{c2}");
    assert_eq!(
        (c2["version"].as_i64(), c2["due"].as_str()),
        (Some(2), Some(day(60).as_str()))
    );
    // A stale version is refused and changes nothing.
    let (s, p) = api.put(&path, changed.clone()).await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("version-conflict"))
    );
    assert_eq!(api.get(&path).await.1["version"], 2);
    // Updates must carry a version; owners cannot change.
    changed.as_object_mut().unwrap().remove("version");
    let (s, p) = api.put(&path, changed).await;
    assert_eq!(
        (s, p["errors"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/version"))
    );
    let mut to_joint = commitment(&["US", "MX"], 0, 60);
    to_joint["version"] = json!(2);
    let (s, p) = api.put(&path, to_joint).await;
    assert_eq!(
        (s, p["errors"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("immutable"))
    );

    // A party records only what it owns: the policy rule that denied is named.
    let (s, p) = api
        .post("/api/v1/commitments", commitment(&["MX"], 0, 30))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("own-records-only"),
        "{p}"
    );

    // A joint commitment can be recorded but not changed by one party alone.
    let (s, j) = api
        .post("/api/v1/commitments", commitment(&["US", "MX"], 0, 30))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{j}");
    assert_eq!(
        (j["joint"].as_bool(), j["owners"].clone()),
        (Some(true), json!(["MX", "US"]))
    );
    let mut change = commitment(&["US", "MX"], 0, 90);
    change["version"] = json!(1);
    let (s, p) = api
        .put(
            &format!("/api/v1/commitments/{}", j["id"].as_str().unwrap()),
            change,
        )
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("joint-change"))
    );
    let spanish = Api {
        node: &node,
        token: api.token.clone(),
        lang: Some("es"),
    };
    let mut change = commitment(&["US", "MX"], 0, 90);
    change["version"] = json!(1);
    let (_, p) = spanish
        .put(
            &format!("/api/v1/commitments/{}", j["id"].as_str().unwrap()),
            change,
        )
        .await;
    assert_eq!(p["title"], "Compromiso conjunto");

    // Unknown ids are 404 problems, unknown routes too.
    let (s, p) = api
        .get("/api/v1/commitments/0190d0a0-0000-7000-8000-000000000000")
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not-found"))
    );
    assert_eq!(
        api.get("/api/v1/nothing-here").await.0,
        StatusCode::NOT_FOUND
    );
}

async fn status_is_derived(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    node.add_user("officer", "program-officer").await;
    let api = Api::new(&node, &node.token("officer").await);
    let create = |body: Value| {
        let api = &api;
        async move {
            let (s, c) = api.post("/api/v1/commitments", body).await;
            assert_eq!(s, StatusCode::CREATED, "{c}");
            c
        }
    };
    let future = create(commitment(&["US"], 10, 100)).await;
    let idle = create(commitment(&["US"], -100, 100)).await;
    let late = create(commitment(&["US"], -100, -1)).await;
    assert_eq!(future["status"], "not-started");
    assert_eq!(
        idle["status"], "at-risk",
        "half the window gone and no action"
    );
    assert_eq!(late["status"], "overdue");

    // An action puts the idle one on track; a completing action makes the late one done.
    let id = |c: &Value| c["id"].as_str().unwrap().to_owned();
    let (s, a) = api.post("/api/v1/actions", action(&id(&idle), false)).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(
        api.get(&format!("/api/v1/commitments/{}", id(&idle)))
            .await
            .1["status"],
        "on-track"
    );
    api.post("/api/v1/actions", action(&id(&late), true)).await;
    assert_eq!(
        api.get(&format!("/api/v1/commitments/{}", id(&late)))
            .await
            .1["status"],
        "done"
    );

    // The status filter agrees.
    for (status, expected) in [
        ("not-started", &future),
        ("on-track", &idle),
        ("done", &late),
    ] {
        let (_, page) = api
            .get(&format!("/api/v1/commitments?status={status}"))
            .await;
        let ids: Vec<_> = page["items"].as_array().unwrap().iter().map(id).collect();
        assert_eq!(ids, [id(expected)], "{status}");
    }
    let (_, page) = api.get("/api/v1/commitments?status=overdue").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);

    // An indicator served by a commitment drives it to done when its target is met.
    let (s, ind) = api
        .post(
            "/api/v1/indicators",
            json!({
                "code": "TUNNELS-SEALED", "area": "border-security",
                "name": {"en": "Tunnels sealed", "es": "Túneles sellados"}, "unit": "count",
                "direction": "higher-is-better", "baseline": {"value": 0, "period": "2024"},
                "targets": [{"period": "2026", "value": 10}],
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ind}");
    let mut served = commitment(&["US"], -10, 300);
    served["indicators"] = json!([ind["id"]]);
    let served = create(served).await;
    api.post("/api/v1/actions", action(&id(&served), false))
        .await;
    let m = |v: f64| json!({"period": "2025Q4", "value": v, "source": "CBP monthly report"});
    let mpath = format!("/api/v1/indicators/{}/measurements", id(&ind));
    let (s, first) = api.post(&mpath, m(4.0)).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let (_, i) = api.get(&format!("/api/v1/indicators/{}", id(&ind))).await;
    assert_eq!(i["progress"], 0.4);
    // One measurement per period and party.
    let (s, p) = api.post(&mpath, m(5.0)).await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate"))
    );
    let mut fix = m(10.0);
    fix["version"] = json!(1);
    let (s, _) = api.put(&format!("{mpath}/{}", id(&first)), fix).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        api.get(&format!("/api/v1/commitments/{}", id(&served)))
            .await
            .1["status"],
        "done"
    );
}

async fn agenda_is_built(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    node.add_user("officer", "program-officer").await;
    let api = Api::new(&node, &node.token("officer").await);
    let id = |c: &Value| c["id"].as_str().unwrap().to_owned();
    let mut ids = vec![];
    // overdue; at risk; due since the last meeting and done; due later and on track.
    for (start, due, act, completes) in [
        (-100, -5, false, false),
        (-100, 100, false, false),
        (-60, -10, true, true),
        (-10, 200, true, false),
    ] {
        let (_, c) = api
            .post("/api/v1/commitments", commitment(&["US"], start, due))
            .await;
        if act {
            api.post("/api/v1/actions", action(&id(&c), completes))
                .await;
        }
        ids.push(id(&c));
    }
    let (s, previous) = api
        .post("/api/v1/meetings", json!({
            "date": day(-30), "place": "Washington, D.C.",
            "attendees": ["US Department of State", "SRE"],
            "decisions": [{"en": "Report on tunnels monthly", "es": "Informar mensualmente sobre túneles"}],
            "follow_ups": [{"title": {"en": "Share tunnel map", "es": "Compartir mapa de túneles"}, "owner": "MX", "due": day(-2)}],
        }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{previous}");
    let (_, meeting) = api
        .post(
            "/api/v1/meetings",
            json!({"date": day(0), "place": "Mexico City"}),
        )
        .await;
    let (s, agenda) = api
        .get(&format!("/api/v1/meetings/{}/agenda", id(&meeting)))
        .await;
    assert_eq!(s, StatusCode::OK, "{agenda}");
    assert_eq!(agenda["since"], day(-30));
    let got: Vec<(String, String, String)> = agenda["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["reason"].as_str().unwrap().into(),
                i["kind"].as_str().unwrap().into(),
                id(i),
            )
        })
        .collect();
    let follow_up = id(&previous["follow_ups"][0]);
    assert_eq!(
        got,
        [
            ("overdue".into(), "commitment".into(), ids[0].clone()),
            ("overdue".into(), "follow-up".into(), follow_up),
            ("at-risk".into(), "commitment".into(), ids[1].clone()),
            ("due".into(), "commitment".into(), ids[2].clone()),
        ]
    );
}

async fn login_sessions_and_rate_limit(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    let resp = node.login("admin", &node.admin_password).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["puente_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let me: Value = node
        .client
        .get(format!("{}/api/v1/me", node.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["name"].as_str(), me["party"].as_str()),
        (Some("admin"), Some("US"))
    );
    let out = node
        .client
        .post(format!("{}/api/v1/logout", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = reqwest::Client::new()
        .get(format!("{}/api/v1/me", node.url))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the session ended at logout"
    );

    for _ in 0..5 {
        assert_eq!(
            node.login("admin", "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let blocked = node.login("admin", &node.admin_password).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key("retry-after"));
    // Hammering on is refused too, but audited once per window, not once per request.
    for _ in 0..3 {
        let again = node.login("admin", "wrong password").await;
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let (_, audit) = Api::new(&node, &node.token("admin").await)
        .get("/api/v1/audit?limit=1000")
        .await;
    let count = |a: &str| {
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == a)
            .count()
    };
    assert_eq!(
        (
            count("login.success"),
            count("logout"),
            count("login.failure"),
            count("login.throttled")
        ),
        (1, 1, 5, 1)
    );
    // Nothing in the API changes or removes an audit entry.
    let admin = Api::new(&node, &node.token("admin").await);
    for method in [Method::PUT, Method::DELETE, Method::PATCH, Method::POST] {
        let (s, p) = admin
            .call(method.clone(), "/api/v1/audit", Some(json!({"seq": 1})))
            .await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("method-not-allowed")),
            "{method}"
        );
    }
    let text = audit.to_string();
    assert!(
        !text.contains("wrong password") && !text.contains(&node.admin_password),
        "no secret in the trail"
    );
}

async fn health_and_openapi(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    let api = Api {
        node: &node,
        token: None,
        lang: None,
    };
    let (s, h) = api.get("/healthz").await;
    assert_eq!(
        (s, h["status"].as_str(), h["party"].as_str()),
        (StatusCode::OK, Some("ok"), Some("US"))
    );
    let (s, doc) = api.get("/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/api/v1/commitments",
        "/api/v1/commitments/{id}",
        "/api/v1/actions",
        "/api/v1/indicators/{id}/measurements",
        "/api/v1/meetings/{id}/agenda",
        "/api/v1/audit",
        "/api/v1/users",
        "/api/v1/me",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

async fn shipped_program_and_figures(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    let api = Api::new(&node, &node.token("admin").await);
    let (_, areas) = api.get("/api/v1/program").await;
    let codes: Vec<_> = areas
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    for c in [
        "counter-cartels",
        "border-security",
        "illicit-finance",
        "fuel-theft",
        "drugs-and-arms",
        "migration",
        "public-health",
    ] {
        assert!(codes.contains(&c), "{c} missing: {codes:?}");
    }
    let spanish = areas
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "fuel-theft")
        .unwrap();
    assert!(!spanish["name"]["es"].as_str().unwrap().is_empty());
    let (_, inds) = api.get("/api/v1/indicators").await;
    let text = inds.to_string();
    for v in ["-93", "-32", "-50", "55", "59"] {
        assert!(text.contains(v), "figure {v} missing from the indicators");
    }
    // Each figure is a measurement whose source is the joint press conference.
    for ind in inds["items"].as_array().unwrap() {
        let (_, ms) = api
            .get(&format!(
                "/api/v1/indicators/{}/measurements",
                ind["id"].as_str().unwrap()
            ))
            .await;
        for m in ms.as_array().unwrap() {
            assert!(m["source"].as_str().unwrap().contains("2025-09-03"), "{m}");
        }
    }
}

both_backends!(
    auth_matrix,
    validation_rules,
    versions_ownership_and_joint,
    status_is_derived,
    agenda_is_built,
    login_sessions_and_rate_limit,
    health_and_openapi,
    shipped_program_and_figures,
);

async fn own_settings_and_language(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    let password = node.add_user("ana", "analyst").await;
    let api = Api::new(&node, &node.token("ana").await);
    // Without a setting, Accept-Language (absent here) decides: English.
    let (s, p) = api.get("/api/v1/commitments?status=late").await;
    assert_eq!(
        (s, p["title"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Invalid query parameters"))
    );
    let (s, me) = api.put("/api/v1/me", json!({"lang": "es"})).await;
    assert_eq!(
        (s, me["lang"].as_str()),
        (StatusCode::OK, Some("es")),
        "{me}"
    );
    // The user's setting wins over the header.
    let english = Api {
        node: &node,
        token: api.token.clone(),
        lang: Some("en-US"),
    };
    let (_, p) = english.get("/api/v1/commitments?status=late").await;
    assert_eq!(p["title"], "Parámetros de consulta no válidos");
    // A password change needs the current password.
    let (s, p) = api
        .put(
            "/api/v1/me",
            json!({"lang": "es", "password": "a much longer secret"}),
        )
        .await;
    assert_eq!(
        (s, p["errors"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/current_password"))
    );
    let change =
        json!({"lang": "es", "password": "a much longer secret", "current_password": password});
    assert_eq!(api.put("/api/v1/me", change).await.0, StatusCode::OK);
    assert_eq!(
        node.login("ana", &password).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        node.login("ana", "a much longer secret").await.status(),
        StatusCode::OK
    );
    // Security headers on every answer.
    let r = reqwest::get(format!("{}/healthz", node.url)).await.unwrap();
    for (h, v) in [
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(r.headers()[h], v);
    }
}

both_backends!(own_settings_and_language);

async fn hostile_input_is_refused_cleanly(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    node.add_user("officer", "program-officer").await;
    let api = Api::new(&node, &node.token("officer").await);
    let base = commitment(&["US"], 0, 30);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = base.clone();
        f(&mut b);
        b
    };
    // Control characters, impossible years and absurd numbers: 422 on both stores, never 500.
    for (body, pointer, code) in [
        (
            with(&|b| b["title"]["en"] = json!("nul\u{0}byte")),
            "/title/en",
            "invalid-format",
        ),
        (
            with(&|b| b["start"] = json!("-0001-01-01")),
            "/start",
            "invalid-format",
        ),
        (
            with(&|b| b["due"] = json!("99999-01-01")),
            "/due",
            "invalid-format",
        ),
    ] {
        let got = problems(&api, body).await;
        assert_eq!(got, [(pointer.to_owned(), code.to_owned())]);
    }
    let (s, p) = api
        .get("/api/v1/commitments?agency=a%00b&party=US&party=MX")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    let mut ptrs: Vec<_> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_owned())
        .collect();
    ptrs.sort();
    assert_eq!(ptrs, ["/agency", "/party"]);
    // A path the framework cannot decode is a problem document too.
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/commitments/%FF", node.url))
        .bearer_auth(api.token.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // An indicator's measurements are all of one kind of period.
    let (_, ind) = api
        .post("/api/v1/indicators", json!({
            "code": "SEIZURES", "name": {"en": "Seizures", "es": "Aseguramientos"}, "unit": "kg",
            "direction": "higher-is-better", "baseline": {"value": 100, "period": "2024"},
            "targets": [{"period": "2026", "value": 200}],
        }))
        .await;
    let mpath = format!(
        "/api/v1/indicators/{}/measurements",
        ind["id"].as_str().unwrap()
    );
    let m = |period: &str| json!({"period": period, "value": 150, "source": "test"});
    assert_eq!(api.post(&mpath, m("2025")).await.0, StatusCode::CREATED);
    let (s, p) = api.post(&mpath, m("2025-12")).await;
    assert_eq!(
        (s, p["errors"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/period"))
    );
}

async fn joint_commitments_and_dates_of_actions(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    node.add_user("officer", "program-officer").await;
    let api = Api::new(&node, &node.token("officer").await);
    let (_, joint) = api
        .post("/api/v1/commitments", commitment(&["US", "MX"], -10, 30))
        .await;
    let jid = joint["id"].as_str().unwrap().to_owned();
    // Each party records its own actions on a joint commitment…
    let (s, a) = api.post("/api/v1/actions", action(&jid, false)).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    // …but cannot declare it fulfilled alone, neither at once nor by a later change.
    let (s, p) = api.post("/api/v1/actions", action(&jid, true)).await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("joint-change"))
    );
    let mut change = action(&jid, true);
    change["version"] = json!(1);
    let (s, _) = api
        .put(
            &format!("/api/v1/actions/{}", a["id"].as_str().unwrap()),
            change,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_ne!(
        api.get(&format!("/api/v1/commitments/{jid}")).await.1["status"],
        "done"
    );
    // An action is something done: not dated in the future.
    let (_, own) = api
        .post("/api/v1/commitments", commitment(&["US"], -10, 30))
        .await;
    let mut later = action(own["id"].as_str().unwrap(), false);
    later["date"] = json!(day(3));
    assert_eq!(
        problems_at(&api, "/api/v1/actions", later).await,
        [("/date".to_owned(), "out-of-range".to_owned())]
    );
}

async fn problems_at(api: &Api<'_>, path: &str, body: Value) -> Vec<(String, String)> {
    let (s, p) = api.post(path, body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn user_management_rules(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    let admin = Api::new(&node, &node.token("admin").await);
    // Names follow one rule everywhere; an agency user needs an agency.
    assert_eq!(
        problems_at(
            &admin,
            "/api/v1/users",
            json!({"name": "Admin", "role": "analyst"})
        )
        .await,
        [("/name".to_owned(), "invalid-format".to_owned())]
    );
    assert_eq!(
        problems_at(
            &admin,
            "/api/v1/users",
            json!({"name": "cbp2", "role": "agency-user"})
        )
        .await,
        [("/agency".to_owned(), "missing".to_owned())]
    );
    let (s, u) = admin
        .post(
            "/api/v1/users",
            json!({"name": "ana", "role": "analyst", "lang": "es"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert!(
        u["password"].as_str().is_some_and(|p| p.len() >= 20),
        "a generated password, shown once"
    );
    let upath = format!("/api/v1/users/{}", u["id"].as_str().unwrap());
    // Ana's token works, and the node remembers what it names for a moment...
    let ana = Api::new(&node, &node.token("ana").await);
    assert_eq!(ana.get("/api/v1/me").await.0, StatusCode::OK);
    // Disabling keeps everything else; a later change of one field does not re-enable.
    let (_, d) = admin
        .put(&upath, json!({"disabled": true, "version": 1}))
        .await;
    // ...but a change made through the node takes effect at once.
    assert_eq!(ana.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (
            d["disabled"].as_bool(),
            d["role"].as_str(),
            d["lang"].as_str()
        ),
        (Some(true), Some("analyst"), Some("es"))
    );
    let (_, d) = admin.put(&upath, json!({"lang": "en", "version": 2})).await;
    assert_eq!(
        (d["disabled"].as_bool(), d["lang"].as_str()),
        (Some(true), Some("en")),
        "{d}"
    );
    // An administrator cannot demote or disable themself.
    let (_, me) = admin.get("/api/v1/me").await;
    let (_, self_) = admin
        .get(&format!("/api/v1/users/{}", me["id"].as_str().unwrap()))
        .await;
    let (s, p) = admin
        .put(
            &format!("/api/v1/users/{}", me["id"].as_str().unwrap()),
            json!({"role": "analyst", "disabled": true, "version": self_["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let mut ptrs: Vec<_> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_owned())
        .collect();
    ptrs.sort();
    assert_eq!(ptrs, ["/disabled", "/role"]);
}

async fn agency_users_see_only_their_agency(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    node.add_user("officer", "program-officer").await;
    node.add_user("cbp", "agency-user").await; // agency CBP
    let officer = Api::new(&node, &node.token("officer").await);
    let agency = Api::new(&node, &node.token("cbp").await);
    let mut ids = vec![];
    for a in ["CBP", "DEA", "CBP"] {
        let mut c = commitment(&["US"], -10, 30);
        c["agency"] = json!(a);
        let (_, c) = officer.post("/api/v1/commitments", c).await;
        let mut act = action(c["id"].as_str().unwrap(), false);
        act["agency"] = json!(a);
        officer.post("/api/v1/actions", act).await;
        ids.push((a, c["id"].as_str().unwrap().to_owned()));
    }
    let (_, list) = agency.get("/api/v1/commitments").await;
    let seen: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["agency"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ["CBP", "CBP"]);
    // Asking for another agency changes nothing.
    let (_, list) = agency.get("/api/v1/commitments?agency=DEA").await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["agency"] == "CBP")
    );
    let (_, acts) = agency.get("/api/v1/actions").await;
    let seen: Vec<_> = acts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agency"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ["CBP", "CBP"]);
    let dea = &ids[1].1;
    assert_eq!(
        agency.get(&format!("/api/v1/commitments/{dea}")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        agency
            .get(&format!("/api/v1/commitments/{}", ids[0].1))
            .await
            .0,
        StatusCode::OK
    );
}

async fn parallel_guesses_are_throttled(backend: Backend) {
    let node = TestNode::spawn(backend).await;
    let mut guesses = vec![];
    for n in 0..30 {
        let (url, client) = (node.url.clone(), reqwest::Client::new());
        guesses.push(tokio::spawn(async move {
            client
                .post(format!("{url}/api/v1/login"))
                .json(&json!({"name": "admin", "password": format!("guess {n}")}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut statuses = vec![];
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let wrong = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (wrong, throttled),
        (5, 25),
        "only the first five guesses were checked"
    );
}

both_backends!(
    hostile_input_is_refused_cleanly,
    joint_commitments_and_dates_of_actions,
    user_management_rules,
    agency_users_see_only_their_agency,
    parallel_guesses_are_throttled,
);
