//! The web application over plain HTTP, against a real node: signing in and out, the security
//! headers and cookie flags, CSRF refusals, what each role is shown, and both languages.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};

use crate::helpers::{Backend, TestNode};

/// A browser-like client: keeps cookies, does not follow redirects (the tests check them).
pub fn browser_client(lang: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_str(lang).unwrap(),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find(r#"name="csrf" value=""#)
        .expect("the page has a CSRF field");
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Signs in through the login form; the client then holds the session.
pub async fn sign_in(node: &TestNode, client: &reqwest::Client, name: &str, password: &str) {
    let page = client
        .get(format!("{}/login", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let token = csrf_of(&page.text().await.unwrap());
    let r = client
        .post(format!("{}/login", node.url))
        .form(&[
            ("csrf", token.as_str()),
            ("name", name),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {name}");
    assert_eq!(r.headers()[LOCATION], "/home");
}

async fn get(node: &TestNode, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = client
        .get(format!("{}{path}", node.url))
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn pages_need_a_session_and_carry_the_security_headers() {
    let node = TestNode::spawn(Backend::Sqlite).await;
    let client = browser_client("en");
    // Nothing is readable without signing in: every page sends to the login page.
    for path in ["/home", "/commitments", "/referrals", "/audit", "/report"] {
        let r = client
            .get(format!("{}{path}", node.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()[LOCATION], "/login", "{path}");
    }
    // A browser opening the node's address lands in the web application.
    let r = client
        .get(&node.url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/home");

    let r = client
        .get(format!("{}/login", node.url))
        .send()
        .await
        .unwrap();
    let h = r.headers();
    let csp = h[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let html = r.text().await.unwrap();
    // No inline script or style anywhere on the page.
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "{html}"
    );

    // A wrong password: the form again, with the error, keeping the name typed.
    let token = csrf_of(&html);
    let r = client
        .post(format!("{}/login", node.url))
        .form(&[
            ("csrf", token.as_str()),
            ("name", "admin"),
            ("password", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"value="admin""#) && html.contains("role=\"alert\""));

    // Signing in sets a session cookie that scripts cannot read and other sites cannot send.
    let token = csrf_of(&html);
    let r = client
        .post(format!("{}/login", node.url))
        .form(&[
            ("csrf", token.as_str()),
            ("name", "admin"),
            ("password", node.admin_password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("puente_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let (s, html) = get(&node, &client, "/home").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("admin") && html.contains("<main"));

    // The assets come from the node itself, cached for long.
    let r = client
        .get(format!("{}/assets/htmx-2.0.11.min.js", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );

    // Signing out ends the session on the node, not only in the browser.
    let token = csrf_of(&html);
    let r = client
        .post(format!("{}/logout", node.url))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (s, _) = get(&node, &client, "/home").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let node = TestNode::spawn(Backend::Sqlite).await;
    let client = browser_client("en");
    sign_in(&node, &client, "admin", &node.admin_password).await;
    let (_, home) = get(&node, &client, "/home").await;
    for form in [vec![], vec![("csrf", "0123456789abcdef0123456789abcdef")]] {
        let r = client
            .post(format!("{}/logout", node.url))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    // The session survived both attempts.
    let (s, _) = get(&node, &client, "/home").await;
    assert_eq!(s, StatusCode::OK);
    // The login form is protected too (a double-submit cookie): a bare post is refused.
    let other = browser_client("en");
    let r = other
        .post(format!("{}/login", node.url))
        .form(&[
            ("name", "admin"),
            ("password", node.admin_password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(home.contains(r#"name="csrf""#));
}

#[tokio::test]
async fn each_role_is_shown_only_what_it_may_open() {
    let node = TestNode::spawn(Backend::Sqlite).await;
    let roles = [
        ("officer", "program-officer"),
        ("liaison", "liaison-officer"),
        ("agency", "agency-user"),
        ("auditor", "auditor"),
    ];
    for (name, role) in roles {
        let password = node.add_user(name, role).await;
        let client = browser_client("en");
        sign_in(&node, &client, name, &password).await;
        let (s, home) = get(&node, &client, "/home").await;
        assert_eq!(s, StatusCode::OK, "{name}: {home}");
        let nav = &home[home.find("<nav class=\"main\"").unwrap()..];
        let nav = &nav[..nav.find("</nav>").unwrap()];
        let shows = |href: &str| nav.contains(&format!("href=\"{href}\""));
        match role {
            "program-officer" => {
                assert!(shows("/commitments") && shows("/meetings") && shows("/report"));
                assert!(home.contains("Commitments by measure area and status"));
                assert!(!shows("/audit"));
            }
            "liaison-officer" => {
                assert!(shows("/referrals") && shows("/requests"));
                let (_, list) = get(&node, &client, "/referrals").await;
                assert!(list.contains("href=\"/referrals/new\""), "{list}");
                assert!(home.contains("Received") && home.contains("Sent"));
                assert!(!shows("/audit"));
            }
            "agency-user" => {
                assert!(home.contains("What is assigned to CBP"));
                assert!(!shows("/audit") && !shows("/reciprocity") && !shows("/meetings"));
            }
            "auditor" => {
                assert!(shows("/audit") && shows("/exchange-log") && shows("/referrals"));
                // Read only: the referrals page offers no compose button, and the form is refused.
                let (_, list) = get(&node, &client, "/referrals").await;
                assert!(!list.contains("href=\"/referrals/new\""), "{list}");
                let (s, _) = get(&node, &client, "/referrals/new").await;
                assert_eq!(s, StatusCode::FORBIDDEN);
            }
            _ => unreachable!(),
        }
        // What the navigation leaves out is refused if opened directly, with a page.
        for (path, allowed) in [
            ("/audit", shows("/audit")),
            ("/meetings", shows("/meetings")),
        ] {
            let (s, html) = get(&node, &client, path).await;
            if allowed {
                assert_eq!(s, StatusCode::OK, "{name} {path}");
            } else {
                assert_eq!(s, StatusCode::FORBIDDEN, "{name} {path}: {html}");
                assert!(html.contains("<html"));
            }
        }
    }
}

#[tokio::test]
async fn pages_come_in_english_or_spanish() {
    let node = TestNode::spawn(Backend::Sqlite).await;
    // Accept-Language decides when nothing else does.
    let es = browser_client("es-MX,es;q=0.9");
    let (_, html) = get(&node, &es, "/login").await;
    assert!(html.contains(r#"<html lang="es">"#) && html.contains("Iniciar sesión"));
    sign_in(&node, &es, "admin", &node.admin_password).await;
    let (_, html) = get(&node, &es, "/home").await;
    assert!(
        html.contains("Compromisos por área de medidas y estado"),
        "{html}"
    );
    // The switch wins over Accept-Language, and is remembered.
    let (_, html) = get(&node, &es, "/home?lang=en").await;
    assert!(html.contains(r#"<html lang="en">"#) && html.contains("Commitments by measure area"));
    let (_, html) = get(&node, &es, "/commitments").await;
    assert!(html.contains(r#"<html lang="en">"#));
    let (_, html) = get(&node, &es, "/commitments?lang=es").await;
    assert!(html.contains(r#"<html lang="es">"#) && html.contains("Buscar"));
}

/// `text` with every UUID replaced by `<id>` (record ids are random).
fn without_ids(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let candidate = b.get(i..i + 36).filter(|c| {
            c.iter().enumerate().all(|(k, ch)| match k {
                8 | 13 | 18 | 23 => *ch == b'-',
                _ => ch.is_ascii_hexdigit(),
            })
        });
        if candidate.is_some() {
            out.push_str("<id>");
            i += 36;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The `<main>` element of a page: what the snapshot keeps (the header holds the session's CSRF
/// token).
fn main_of(html: &str) -> String {
    let start = html.find("<main").unwrap();
    let end = html.find("</main>").unwrap() + "</main>".len();
    without_ids(&html[start..end]).replace("><", ">\n<")
}

#[tokio::test]
async fn the_progress_report_renders_the_same_in_both_languages() {
    let node = TestNode::spawn(Backend::Sqlite).await;
    let password = node.add_user("officer", "program-officer").await;
    let token = node.token("officer").await;
    let post = |path: &'static str, body: serde_json::Value| {
        let (url, token) = (format!("{}{path}", node.url), token.clone());
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    // Fixed dates, all in the past: the report of 2025-Q3 cannot change with the day it runs.
    let ind = post(
        "/api/v1/indicators",
        serde_json::json!({
            "code": "TUNNELS-SEALED", "area": "border-security",
            "name": {"en": "Tunnels sealed", "es": "Túneles sellados"}, "unit": "count",
            "direction": "higher-is-better", "baseline": {"value": 1, "period": "2024"},
            "targets": [{"period": "2025Q4", "value": 6}],
        }),
    )
    .await;
    let iid = ind["id"].as_str().unwrap().to_owned();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/indicators/{iid}/measurements", node.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"period": "2025Q3", "value": 3, "source": "CBP"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let c = post(
        "/api/v1/commitments",
        serde_json::json!({
            "area": "border-security",
            "title": {"en": "Seal clandestine tunnels", "es": "Sellar túneles clandestinos"},
            "description": {"en": "Detect and seal cross-border tunnels.",
                            "es": "Detectar y sellar túneles transfronterizos."},
            "owners": ["US"], "agency": "CBP", "start": "2025-01-15", "due": "2025-10-31",
            "indicators": [iid],
        }),
    )
    .await;
    post(
        "/api/v1/actions",
        serde_json::json!({
            "commitment": c["id"], "date": "2025-08-14", "agency": "CBP",
            "description": {"en": "Sealed a tunnel near Otay Mesa", "es": "Se selló un túnel cerca de Otay Mesa"},
            "outputs": [{"value": 1, "unit": "tunnels", "what": "tunnels sealed"}],
        }),
    )
    .await;
    let client = browser_client("en");
    sign_in(&node, &client, "officer", &password).await;
    let (s, en) = get(&node, &client, "/report?period=2025-Q3&lang=en").await;
    assert_eq!(s, StatusCode::OK);
    insta::assert_snapshot!("progress_report_en", main_of(&en));
    let (_, es) = get(&node, &client, "/report?period=2025-Q3&lang=es").await;
    insta::assert_snapshot!("progress_report_es", main_of(&es));
}

/// The audit trail as the administrator reads it through the API.
async fn audit_trail(node: &TestNode, token: &str) -> Vec<serde_json::Value> {
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/audit?limit=1000", node.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_page_view_writes_what_it_read_to_the_audit_trail_before_it_is_sent() {
    let node = TestNode::spawn(Backend::Sqlite).await;
    let password = node.add_user("liaison", "liaison-officer").await;
    let admin = node.token("admin").await;
    let client = browser_client("en");
    sign_in(&node, &client, "liaison", &password).await;
    let before = audit_trail(&node, &admin).await.len();
    let (s, _) = get(&node, &client, "/home").await;
    assert_eq!(s, StatusCode::OK);
    // Written together with one commit, in the order the page read them, and before the answer.
    let after = audit_trail(&node, &admin).await;
    let actions: Vec<&str> = after[before..]
        .iter()
        .filter(|e| e["actor"] == "liaison")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "referral.list",
            "referral.list",
            "request.list",
            "request.list"
        ],
        "{after:?}"
    );
    assert_eq!(node.audit_verify().await.0, 0);
}
